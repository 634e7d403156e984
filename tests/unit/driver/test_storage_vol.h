/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol.h: what the files of the storage-vol test program
 * (test_storage_vol.c, test_storage_vol_create.c, test_storage_vol_ops.c,
 * test_storage_vol_pool.c) share: the fixture's state and helpers (defined
 * in test_storage_vol.c) and the functions that add each file's test cases
 * (one test case per test, each with the fixture, in the order the suite
 * calls them, so the run order stays the same).
 */
#pragma once

#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib/gstdio.h>

#include "test_common.h"
#include "hyve_storage_priv.h"

/* The case tables hold printf formats. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

#define MiB (1024ull * 1024)

/* The fixture (setup/teardown): a temporary directory, the storage with
 * one active dir pool on pool_dir, and the events it delivered
 * ("ID EVENT NAME"). */
extern char *tmp;
extern char *pool_dir;
extern HyveStorage *st;
extern HyvePoolObj *pool;
extern GPtrArray *events;

/* Helpers of test_storage_vol.c; set_busy: the path the stand-in domain
 * 'vm1' uses (NULL: none). */
void set_busy(const char *path);
HyveStorage *storage_new(const char *root);
HyvePoolObj *pool_new(HyveStorage *s, const char *name, const char *dir);
void setup(void);
void teardown(void);
void assert_error(const GError *err, const char *what, int code, const char *text);
char *vol_xml(const char *name, guint64 capacity, guint64 allocation);
void create_ok(const char *name, guint64 capacity, guint64 allocation);
char *vol_path(const char *name);
struct stat stat_ok(const char *path);
char *dir_names(const char *dir);
char *list_names(void);
gssize first_nonzero(const char *buf, gsize len);
void write_at(const char *path, off_t off, char byte, size_t len);

/* One test case per entry: @name, the fixture, @test looped @n times. */
typedef struct {
    const char *name;
    const TTest *test;
    int n;
} StorageVolTest;
void storage_vol_add_tests(Suite *s, const StorageVolTest *tests, guint n);

void storage_vol_add_create_tests(Suite *s);
void storage_vol_add_ops_tests(Suite *s);
void storage_vol_add_pool_tests(Suite *s);
