/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_common.h: helpers shared by the daemon, driver, host and protocol
 * unit tests (tests/unit/common, a static library):
 *   test_suite.c   run a Check suite, the exit status meson expects;
 *   test_tmpdir.c  temporary directory trees, created and removed;
 *   test_schema.c  RelaxNG validation against libvirt's installed schemas
 *                  (libxml2 directly, independent of the driver's code).
 * Failures are Check assertions, so they name the test that hit them.
 */
#pragma once

#include <check.h>
#include <glib.h>
#include <libxml/tree.h>

/* ---- test_suite.c ------------------------------------------------------ */
/* Runs every test of @s (consumed) in CK_NORMAL mode; returns
 * EXIT_SUCCESS when all passed, EXIT_FAILURE otherwise. */
int test_suite_run(Suite *s);

/* ---- test_tmpdir.c ----------------------------------------------------- */
/* g_dir_make_tmp(@tmpl), asserted; g_free the result. */
char *test_tmpdir_new(const char *tmpl);
/* Removes @path and everything below it (symlinks are not followed;
 * read-only directories are made writable first); asserts it is gone. */
void test_tree_remove(const char *path);

/* ---- test_schema.c ----------------------------------------------------- */
/* Reads <HYVE_LIBVIRT_SCHEMA_DIR>/@name, asserted; xmlFreeDoc the result. */
xmlDocPtr test_schema_load(const char *name);
/* Validates @xml against the schema document @schema (consumed). On
 * failure *errors says why (always set; g_free). */
gboolean test_schema_validate_doc(xmlDocPtr schema, const char *xml, char **errors);
/* Validates against one installed schema file, unchanged. */
gboolean test_schema_validate_file(const char *xml, const char *rng, char **errors);
/* Validates against a grammar that starts at @define of the installed
 * schema @file (written next to it, so its includes resolve). */
gboolean test_schema_validate_define(const char *xml, const char *file, const char *define,
                                     char **errors);
