/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_xml.h: what the two files of the network-xml test program
 * (test_network_xml.c: golden cases, live XML, bridge assignment, subnet
 * helpers, main; test_network_xml_fail.c: refusals) share.
 */
#pragma once

#include <string.h>
#include "test_driver_common.h"
#include "hyve_network_def.h"

/* test_network_xml_fail.c: the refusal table (loop test) into @tc. */
void network_xml_add_failure_test(TCase *tc);
