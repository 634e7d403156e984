/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool.c: dir pools in a temporary directory through the
 * public storage API (hyve_storage.h): define/build/start/destroy/delete/
 * undefine, transient pools, autostart, every list filter, lookups, info
 * numbers against statvfs, event order, persistence across
 * hyve_storage_free + hyve_storage_new (active pools stay active, transient
 * ones survive, a pool whose directory vanished comes back inactive), the
 * default pool on the first start only, bad config files skipped, the
 * refusals with libvirt's codes and messages, refresh keeping volume marks,
 * and the driver wiring (storage made by hyve_driver_new, volume disks
 * resolved when a domain starts).
 *
 * One test program (storage-pool) in four files sharing
 * test_storage_pool.h: this one (fixture, helpers, lifecycle, main),
 * test_storage_pool_refusal.c (refusals, listing and lookups),
 * test_storage_pool_persist.c (persistence, volume marks, concurrency)
 * and test_storage_pool_driver.c (the driver's side).
 */

#include "test_storage_pool.h"
#include "test_driver_common.h"

char *tmp;
char *cfg_dir, *state_dir, *pools_dir;
HyveStorage *st;
GPtrArray *events;               /* "ID EVENT NAME" */
GMutex events_lock;

static void
sink(const HyvePoolEvent *ev, gpointer data)
{
    (void)data;
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, g_strdup_printf("%d %d %s", ev->id, ev->event, ev->name));
    g_mutex_unlock(&events_lock);
}

/* The events seen since the last call, joined with ','. */
char *
take_events(void)
{
    char *s;

    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, NULL);
    s = g_strjoinv(",", (char **)events->pdata);
    g_ptr_array_set_size(events, 0);
    g_mutex_unlock(&events_lock);
    return s;
}

HyveStorage *
open_storage(const char *default_path)
{
    HyveStorageConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    HyveStorage *s;

    cfg.config_dir = cfg_dir;
    cfg.state_dir = state_dir;
    cfg.schema_dir = HYVE_LIBVIRT_SCHEMA_DIR;
    cfg.default_pool_path = default_path;
    s = hyve_storage_new(&cfg, &err);
    ck_assert_msg(s, "hyve_storage_new: %s", err ? err->message : "");
    hyve_storage_set_event_sink(s, sink, NULL);
    return s;
}

void
reopen(void)
{
    hyve_storage_free(st);
    st = open_storage(NULL);
}

void
setup(void)
{
    tmp = test_tmpdir_new("hyve-pool-XXXXXX");
    cfg_dir = g_build_filename(tmp, "etc", NULL);
    state_dir = g_build_filename(tmp, "run", NULL);
    pools_dir = g_build_filename(tmp, "pools", NULL);
    events = g_ptr_array_new_with_free_func(g_free);
    st = open_storage(NULL);
}

void
teardown(void)
{
    hyve_storage_free(st);
    st = NULL;
    test_tree_remove(tmp);
    g_clear_pointer(&tmp, g_free);
    g_clear_pointer(&cfg_dir, g_free);
    g_clear_pointer(&state_dir, g_free);
    g_clear_pointer(&pools_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

char *
pool_path(const char *dir)
{
    return g_build_filename(pools_dir, dir, NULL);
}

/* A dir pool named @name on <pools>/@dir, with @uuid when not NULL. */
char *
pool_xml(const char *name, const char *uuid, const char *dir)
{
    g_autofree char *path = pool_path(dir);
    g_autofree char *u = uuid ? g_strdup_printf("<uuid>%s</uuid>", uuid) : g_strdup("");

    return g_strdup_printf("<pool type='dir'><name>%s</name>%s<target><path>%s</path>"
                           "</target></pool>", name, u, path);
}

HyvePoolObj *
define(const char *name, const char *uuid, const char *dir)
{
    g_autofree char *xml = pool_xml(name, uuid, dir);
    g_autoptr(GError) err = NULL;
    HyvePoolObj *p = hyve_storage_pool_define_xml(st, xml, 0, &err);

    ck_assert_msg(p, "define %s: %s", name, err ? err->message : "");
    return p;
}

HyvePoolObj *
define_started(const char *name, const char *uuid, const char *dir)
{
    HyvePoolObj *p = define(name, uuid, dir);

    OK(hyve_storage_pool_build(st, p, 0, error));
    OK(hyve_storage_pool_start(st, p, 0, error));
    return p;
}

HyvePoolObj *
lookup(const char *name)
{
    return hyve_storage_pool_lookup_by_name(st, name, NULL);
}

void
check_error(const char *what, const GError *err, int code, const char *message)
{
    test_check_error_from(what, err, HYVE_FROM_STORAGE, "STORAGE", code, message);
}

char *
list_names(guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) l = hyve_storage_list_pools(st, flags, &err);
    g_autoptr(GString) s = g_string_new(NULL);

    ck_assert_msg(l, "list 0x%x: %s", flags, err ? err->message : "");
    for (guint i = 0; i < l->len; i++) {
        HyvePoolIdent id = { 0 };

        hyve_pool_obj_get_ident(g_ptr_array_index(l, i), &id);
        g_string_append_printf(s, "%s%s", i ? "," : "", id.name);
        hyve_pool_ident_clear(&id);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- lifecycle ------------------------------------------------------------ */

START_TEST(test_lifecycle)
{
    g_autoptr(HyvePoolObj) p = define("p1", UUID_A, "p1");
    g_autofree char *dir = pool_path("p1");
    g_autofree char *conf = g_build_filename(cfg_dir, "storage", "p1.xml", NULL);
    g_autofree char *state = g_build_filename(state_dir, "storage", "p1.xml", NULL);
    g_autofree char *ev = NULL;
    g_autoptr(GError) err = NULL;
    HyvePoolInfo info;
    struct statvfs vfs;
    struct stat sb;

    ck_assert(g_file_test(conf, G_FILE_TEST_IS_REGULAR));
    ck_assert(!hyve_pool_obj_is_active(p) && hyve_pool_obj_is_persistent(p));
    ck_assert(!hyve_pool_obj_get_autostart(p));
    /* no directory yet: start fails, nothing changes */
    ck_assert(!hyve_storage_pool_start(st, p, 0, &err));
    ck_assert_msg(err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, dir),
                  "start without directory: %s", err->message);
    ck_assert(!hyve_pool_obj_is_active(p));
    OK(hyve_storage_pool_build(st, p, 0, error));
    ck_assert(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 0777, 0711);
    OK(hyve_storage_pool_start(st, p, 0, error));
    ck_assert(hyve_pool_obj_is_active(p));
    ck_assert(g_file_test(state, G_FILE_TEST_IS_REGULAR));

    hyve_pool_obj_get_info(p, &info);
    ck_assert(statvfs(dir, &vfs) == 0);
    ck_assert_int_eq(info.state, 2);
    ck_assert_uint_eq(info.capacity, (guint64)vfs.f_blocks * vfs.f_frsize);
    /* other engineers' builds share this file system: within 1 GiB */
    ck_assert_msg(llabs((long long)info.available - (long long)(vfs.f_bavail * vfs.f_frsize))
                  < (1ll << 30), "available %" G_GUINT64_FORMAT, info.available);
    ck_assert_msg(llabs((long long)info.allocation -
                        (long long)((vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize)) < (1ll << 30),
                  "allocation %" G_GUINT64_FORMAT, info.allocation);
    ck_assert(info.allocation > 0 && info.available > 0);

    OK(hyve_storage_pool_refresh(st, p, 0, error));
    OK(hyve_storage_pool_destroy(st, p, error));
    ck_assert(!hyve_pool_obj_is_active(p));
    ck_assert(!g_file_test(state, G_FILE_TEST_EXISTS));
    hyve_pool_obj_get_info(p, &info);
    ck_assert(info.state == 0 && info.capacity == 0 && info.allocation == 0 &&
              info.available == 0);
    OK(hyve_storage_pool_delete(st, p, 0, error));
    ck_assert(!g_file_test(dir, G_FILE_TEST_EXISTS));
    OK(hyve_storage_pool_undefine(st, p, error));
    ck_assert(!g_file_test(conf, G_FILE_TEST_EXISTS));
    ck_assert(!lookup("p1"));

    /* in state-change order: DEFINED, CREATED, STARTED, REFRESH, STOPPED,
     * DELETED, UNDEFINED (a failed start sends nothing) */
    ev = take_events();
    ck_assert_str_eq(ev, "0 0 p1,0 4 p1,0 2 p1,1 0 p1,0 3 p1,0 5 p1,0 1 p1");

    /* the object outlives its undefine: operations say it is gone */
    g_clear_error(&err);
    ck_assert(!hyve_storage_pool_start(st, p, 0, &err));
    check_error("start after undefine", err, HYVE_ERR_NO_STORAGE_POOL,
                "Storage pool not found: no storage pool with matching uuid '" UUID_A "' (p1)");
}
END_TEST

START_TEST(test_transient)
{
    g_autofree char *xml = pool_xml("t1", NULL, "t1");
    g_autofree char *dir = pool_path("t1");
    g_autofree char *ev = NULL;
    g_autoptr(HyvePoolObj) t = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) all = NULL;

    /* no directory, no build flag: refused, not listed */
    ck_assert(!hyve_storage_pool_create_xml(st, xml, 0, &err));
    ck_assert_msg(err->code == HYVE_ERR_SYSTEM_ERROR, "%s", err->message);
    ck_assert(!lookup("t1"));
    g_clear_error(&err);
    ck_assert(!hyve_storage_pool_create_xml(st, xml, HYVE_POOL_CREATE_WITH_BUILD_OVERWRITE |
                                            HYVE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE, &err));
    check_error("create with both overwrite flags", err, HYVE_ERR_INVALID_ARG,
                "invalid argument: Flags 'VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE' and "
                "'VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE' are mutually exclusive");

    t = hyve_storage_pool_create_xml(st, xml, HYVE_POOL_CREATE_WITH_BUILD, &err);
    ck_assert_msg(t, "create_xml: %s", err ? err->message : "");
    ck_assert(g_file_test(dir, G_FILE_TEST_IS_DIR));
    ck_assert(hyve_pool_obj_is_active(t) && !hyve_pool_obj_is_persistent(t));
    all = hyve_storage_list_pools(st, 8 /* TRANSIENT */, NULL);
    ck_assert_int_eq(all->len, 1);
    OK(hyve_storage_pool_destroy(st, t, error));
    ck_assert(!lookup("t1"));
    /* STARTED, STOPPED; no UNDEFINED for a vanishing transient pool, no
     * CREATED for a build done by create */
    ev = take_events();
    ck_assert_str_eq(ev, "0 2 t1,0 3 t1");
    ck_assert(g_file_test(dir, G_FILE_TEST_IS_DIR));
}
END_TEST

/* An active pool redefined keeps its live definition until it stops. */
START_TEST(test_redefine_active)
{
    g_autoptr(HyvePoolObj) p = define_started("p1", UUID_A, "one");
    g_autoptr(HyvePoolObj) again = NULL;
    g_autofree char *xml2 = pool_xml("p1", UUID_A, "two");
    g_autofree char *two = pool_path("two"), *live = NULL, *inactive = NULL, *after = NULL;
    g_autoptr(GError) err = NULL;

    again = hyve_storage_pool_define_xml(st, xml2, 0, &err);
    ck_assert_msg(again == p, "redefine: %s", err ? err->message : "another object");
    live = hyve_pool_obj_get_xml(p, 0, NULL);
    inactive = hyve_pool_obj_get_xml(p, 1, NULL);
    ck_assert_msg(!strstr(live, two) && strstr(inactive, two), "live:\n%s\ninactive:\n%s",
                  live, inactive);
    OK(hyve_storage_pool_destroy(st, p, error));
    after = hyve_pool_obj_get_xml(p, 0, NULL);
    ck_assert_msg(strstr(after, two), "after destroy:\n%s", after);
    g_clear_error(&err);
    ck_assert(!hyve_pool_obj_get_xml(p, 2, &err));
    check_error("get_xml flags", err, HYVE_ERR_INVALID_ARG,
                "invalid argument: unsupported flags (0x2) in function hyve_pool_obj_get_xml");
}
END_TEST

/* create_xml of a defined, inactive pool (same name and uuid) starts it
 * with the given definition, which lives until it stops; define of a
 * running transient pool makes it persistent. */
START_TEST(test_create_over_defined)
{
    g_autoptr(HyvePoolObj) p = define("p1", UUID_A, "conf");
    g_autoptr(HyvePoolObj) c = NULL, t = NULL, t2 = NULL;
    g_autofree char *live_xml = pool_xml("p1", UUID_A, "live");
    g_autofree char *t_xml = pool_xml("t1", UUID_B, "t1");
    g_autofree char *conf = pool_path("conf"), *live = pool_path("live");
    g_autofree char *x1 = NULL, *x2 = NULL, *x3 = NULL;
    g_autoptr(GError) err = NULL;

    c = hyve_storage_pool_create_xml(st, live_xml, HYVE_POOL_CREATE_WITH_BUILD, &err);
    ck_assert_msg(c == p, "create over a defined pool: %s", err ? err->message : "new object");
    ck_assert(hyve_pool_obj_is_active(p) && hyve_pool_obj_is_persistent(p));
    x1 = hyve_pool_obj_get_xml(p, 0, NULL);
    x2 = hyve_pool_obj_get_xml(p, 1, NULL);
    ck_assert_msg(strstr(x1, live) && strstr(x2, conf), "live:\n%s\ninactive:\n%s", x1, x2);
    OK(hyve_storage_pool_destroy(st, p, error));
    ck_assert(hyve_pool_obj_is_persistent(p) && lookup("p1") == p);
    hyve_pool_obj_unref(p);     /* the lookup's */
    x3 = hyve_pool_obj_get_xml(p, 0, NULL);
    ck_assert_msg(strstr(x3, conf), "after destroy:\n%s", x3);

    t = hyve_storage_pool_create_xml(st, t_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(t && !hyve_pool_obj_is_persistent(t));
    t2 = hyve_storage_pool_define_xml(st, t_xml, 0, &err);
    ck_assert_msg(t2 == t, "define over a transient pool: %s", err ? err->message : "");
    ck_assert(hyve_pool_obj_is_persistent(t) && hyve_pool_obj_is_active(t));
    OK(hyve_storage_pool_destroy(st, t, error));
    ck_assert(hyve_pool_obj_is_persistent(t) && !hyve_pool_obj_is_active(t));
    OK(hyve_storage_pool_undefine(st, t, error));
}
END_TEST

static Suite *
pool_suite(void)
{
    Suite *s = suite_create("storage-pool");
    TCase *tc = tcase_create("pools");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_transient);
    tcase_add_test(tc, test_redefine_active);
    tcase_add_test(tc, test_create_over_defined);
    storage_pool_add_refusal_tests(tc);
    storage_pool_add_persist_tests(tc);
    storage_pool_add_driver_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return test_suite_run(pool_suite());
}
