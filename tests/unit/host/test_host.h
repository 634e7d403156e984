/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_host.h: the test cases the host test program collects. */
#pragma once

#include <check.h>

/* test_host_error.c */
void test_host_add_error_tcases(Suite *s);
