/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool.h: what the files of the storage-pool test program
 * (test_storage_pool.c, test_storage_pool_refusal.c,
 * test_storage_pool_persist.c, test_storage_pool_driver.c) share: the
 * fixture's state and helpers (defined in test_storage_pool.c) and the
 * functions that add each file's tests to the "pools" test case (in the
 * order main() calls them, so the run order stays the same).
 */
#pragma once

#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <glib/gstdio.h>

#include "test_common.h"
#include "hyve_domain_obj.h"
#include "hyve_process.h"
#include "hyve_storage_priv.h"

/* The fixture (setup/teardown): a temporary directory with the storage's
 * config and state dirs and the pools' directories; the open storage; the
 * events it delivered ("ID EVENT NAME"). */
extern char *tmp;
extern char *cfg_dir, *state_dir, *pools_dir;
extern HyveStorage *st;
extern GPtrArray *events;
extern GMutex events_lock;

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "66666666-7777-8888-9999-aaaaaaaaaaaa"

#define OK(call) \
    do { \
        g_autoptr(GError) ok_err = NULL; \
        GError **error = &ok_err; \
        ck_assert_msg((call), "%s: %s", #call, ok_err ? ok_err->message : "(no error)"); \
    } while (0)

/* Helpers of test_storage_pool.c. */
char *take_events(void);
HyveStorage *open_storage(const char *default_path);
void reopen(void);
void setup(void);
void teardown(void);
char *pool_path(const char *dir);
char *pool_xml(const char *name, const char *uuid, const char *dir);
HyvePoolObj *define(const char *name, const char *uuid, const char *dir);
HyvePoolObj *define_started(const char *name, const char *uuid, const char *dir);
HyvePoolObj *lookup(const char *name);
void check_error(const char *what, const GError *err, int code, const char *message);
char *list_names(guint flags);

void storage_pool_add_refusal_tests(TCase *tc);
void storage_pool_add_persist_tests(TCase *tc);
void storage_pool_add_driver_tests(TCase *tc);
