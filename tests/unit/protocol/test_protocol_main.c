/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Check runner for the daemon/protocol unit tests. */
#include <stdlib.h>
#include <check.h>

#include "test_protocol.h"

int
main(void)
{
    Suite *s = suite_create("protocol");
    SRunner *sr;
    int failed;

    suite_add_tcase(s, test_protocol_kat_tcase());
    suite_add_tcase(s, test_protocol_packet_tcase());
    suite_add_tcase(s, test_protocol_messages_tcase());
    suite_add_tcase(s, test_protocol_interop_tcase());
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
