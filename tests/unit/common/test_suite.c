/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_suite.c: running a Check suite for meson's test(). */
#include "hyve-config.h"

#include <stdlib.h>

#include "test_common.h"

int
test_suite_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
