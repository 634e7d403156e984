/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>

TCase *test_protocol_messages_tcase(void);
TCase *test_protocol_packet_tcase(void);
TCase *test_protocol_kat_tcase(void);
TCase *test_protocol_interop_tcase(void);
