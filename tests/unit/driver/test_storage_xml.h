/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_xml.h: what the files of the storage-xml test program
 * (test_storage_xml.c, test_storage_xml_fail.c, test_storage_lvm.c,
 * test_storage_lvm_fake.c) share: includes, a file writer, and the
 * functions that add each file's tests to main()'s test cases (in the
 * order main() calls them, so the run order stays the same).
 */
#pragma once

#include <string.h>
#include <unistd.h>
#include "test_driver_common.h"
#include "hyve_storage_priv.h"

/* Writes @data to @path or fails the test. */
void write_or_die(const char *path, const char *data);

/* test_storage_xml_fail.c: the refusal table (loop test) into "xml". */
void storage_xml_add_failure_test(TCase *tc);
/* test_storage_lvm.c: parsers, names, check_def into "lvm"; the real-LVM
 * test into "lvm-real". */
void storage_lvm_add_parser_tests(TCase *tc);
void storage_lvm_add_real_test(TCase *tc);
/* test_storage_lvm_fake.c: fixture and command tests into "lvm-commands". */
void storage_lvm_add_fake_tests(TCase *tc);
