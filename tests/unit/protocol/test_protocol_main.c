/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Check runner for the daemon/protocol unit tests. */
#include "test_common.h"
#include "test_protocol.h"

int
main(void)
{
    Suite *s = suite_create("protocol");

    suite_add_tcase(s, test_protocol_kat_tcase());
    suite_add_tcase(s, test_protocol_packet_tcase());
    suite_add_tcase(s, test_protocol_messages_tcase());
    suite_add_tcase(s, test_protocol_interop_tcase());
    return test_suite_run(s);
}
