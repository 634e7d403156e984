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
 */
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

static char *tmp;
static char *cfg_dir, *state_dir, *pools_dir;
static HyveStorage *st;
static GPtrArray *events;               /* "ID EVENT NAME" */
static GMutex events_lock;

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "66666666-7777-8888-9999-aaaaaaaaaaaa"

static void
sink(const HyvePoolEvent *ev, gpointer data)
{
    (void)data;
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, g_strdup_printf("%d %d %s", ev->id, ev->event, ev->name));
    g_mutex_unlock(&events_lock);
}

/* The events seen since the last call, joined with ','. */
static char *
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

static HyveStorage *
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

static void
reopen(void)
{
    hyve_storage_free(st);
    st = open_storage(NULL);
}

static void
setup(void)
{
    tmp = test_tmpdir_new("hyve-pool-XXXXXX");
    cfg_dir = g_build_filename(tmp, "etc", NULL);
    state_dir = g_build_filename(tmp, "run", NULL);
    pools_dir = g_build_filename(tmp, "pools", NULL);
    events = g_ptr_array_new_with_free_func(g_free);
    st = open_storage(NULL);
}

static void
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

static char *
pool_path(const char *dir)
{
    return g_build_filename(pools_dir, dir, NULL);
}

/* A dir pool named @name on <pools>/@dir, with @uuid when not NULL. */
static char *
pool_xml(const char *name, const char *uuid, const char *dir)
{
    g_autofree char *path = pool_path(dir);
    g_autofree char *u = uuid ? g_strdup_printf("<uuid>%s</uuid>", uuid) : g_strdup("");

    return g_strdup_printf("<pool type='dir'><name>%s</name>%s<target><path>%s</path>"
                           "</target></pool>", name, u, path);
}

static HyvePoolObj *
define(const char *name, const char *uuid, const char *dir)
{
    g_autofree char *xml = pool_xml(name, uuid, dir);
    g_autoptr(GError) err = NULL;
    HyvePoolObj *p = hyve_storage_pool_define_xml(st, xml, 0, &err);

    ck_assert_msg(p, "define %s: %s", name, err ? err->message : "");
    return p;
}

#define OK(call) \
    do { \
        g_autoptr(GError) ok_err = NULL; \
        GError **error = &ok_err; \
        ck_assert_msg((call), "%s: %s", #call, ok_err ? ok_err->message : "(no error)"); \
    } while (0)

static HyvePoolObj *
define_started(const char *name, const char *uuid, const char *dir)
{
    HyvePoolObj *p = define(name, uuid, dir);

    OK(hyve_storage_pool_build(st, p, 0, error));
    OK(hyve_storage_pool_start(st, p, 0, error));
    return p;
}

static HyvePoolObj *
lookup(const char *name)
{
    return hyve_storage_pool_lookup_by_name(st, name, NULL);
}

static void
check_error(const char *what, const GError *err, int code, const char *message)
{
    ck_assert_msg(err, "%s: no error", what);
    ck_assert_msg(err->domain == hyve_error_quark(HYVE_FROM_STORAGE),
                  "%s: error domain %s, not STORAGE (%s)", what,
                  g_quark_to_string(err->domain), err->message);
    ck_assert_msg(err->code == code && g_str_equal(err->message, message),
                  "%s: got %d '%s', want %d '%s'", what, err->code, err->message, code,
                  message);
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

/* ---- refusals (data-driven) ----------------------------------------------- *
 * Fixture: p1 (UUID_A, <pools>/p1) active, p2 (UUID_B, <pools>/p2) inactive,
 * t1 transient active on <pools>/t1. */

typedef gboolean (*RefusalOp)(GError **error);

static gboolean
op_start_active(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p1");

    return hyve_storage_pool_start(st, p, 0, e);
}

static gboolean
op_build_active(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p1");

    return hyve_storage_pool_build(st, p, 0, e);
}

static gboolean
op_delete_active(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p1");

    return hyve_storage_pool_delete(st, p, 0, e);
}

static gboolean
op_undefine_active(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p1");

    return hyve_storage_pool_undefine(st, p, e);
}

static gboolean
op_destroy_inactive(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_destroy(st, p, e);
}

static gboolean
op_refresh_inactive(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_refresh(st, p, 0, e);
}

static gboolean
op_undefine_transient(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("t1");

    return hyve_storage_pool_undefine(st, p, e);
}

static gboolean
op_autostart_transient(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("t1");

    return hyve_storage_pool_set_autostart(st, p, TRUE, e);
}

static gboolean
op_build_both_overwrite(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_build(st, p, HYVE_POOL_BUILD_OVERWRITE |
                                   HYVE_POOL_BUILD_NO_OVERWRITE, e);
}

static gboolean
op_build_repair(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_build(st, p, HYVE_POOL_BUILD_REPAIR, e);
}

static gboolean
op_build_bad_flag(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_build(st, p, 16, e);
}

static gboolean
op_delete_zeroed(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p2");

    return hyve_storage_pool_delete(st, p, 1, e);
}

static gboolean
op_refresh_flags(GError **e)
{
    g_autoptr(HyvePoolObj) p = lookup("p1");

    return hyve_storage_pool_refresh(st, p, 1, e);
}

static gboolean
op_list_bad_flag(GError **e)
{
    g_autoptr(GPtrArray) l = hyve_storage_list_pools(st, 1u << 20, e);

    return l != NULL;
}

static gboolean
define_ret(const char *name, const char *uuid, const char *dir, guint flags, GError **e)
{
    g_autofree char *xml = pool_xml(name, uuid, dir);
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_define_xml(st, xml, flags, e);

    return p != NULL;
}

static gboolean
op_define_name_other_uuid(GError **e)
{
    return define_ret("p1", "99999999-9999-9999-9999-999999999999", "elsewhere", 0, e);
}

static gboolean
op_define_uuid_other_name(GError **e)
{
    return define_ret("p9", UUID_A, "elsewhere", 0, e);
}

static gboolean
op_define_same_target(GError **e)
{
    return define_ret("p9", NULL, "p1", 0, e);
}

static gboolean
op_define_same_target_inactive(GError **e)
{
    return define_ret("p9", NULL, "p2/", 0, e);
}

static gboolean
op_define_fs_type(GError **e)
{
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_define_xml(
        st, "<pool type='fs'><name>f</name><source><device path='/dev/sdz'/></source>"
        "<target><path>/mnt/f</path></target></pool>", 0, e);

    return p != NULL;
}

static gboolean
op_define_bad_flag(GError **e)
{
    return define_ret("p9", NULL, "p9", 2, e);
}

static gboolean
op_create_active(GError **e)
{
    g_autofree char *xml = pool_xml("p1", UUID_A, "p1");
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_create_xml(st, xml, 0, e);

    return p != NULL;
}

static gboolean
op_create_transient_conflict(GError **e)
{
    g_autofree char *xml = pool_xml("t2", NULL, "t1");
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_create_xml(st, xml, 0, e);

    return p != NULL;
}

static gboolean
op_lookup_name(GError **e)
{
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_lookup_by_name(st, "nope", e);

    return p != NULL;
}

static gboolean
op_lookup_uuid(GError **e)
{
    guint8 u[HYVE_UUID_LEN];
    g_autoptr(HyvePoolObj) p = NULL;

    hyve_uuid_parse("01234567-89ab-cdef-0123-456789abcdef", u);
    p = hyve_storage_pool_lookup_by_uuid(st, u, e);
    return p != NULL;
}

static gboolean
op_lookup_path_inactive(GError **e)
{
    g_autofree char *path = pool_path("p2");
    g_autoptr(HyvePoolObj) p = hyve_storage_pool_lookup_by_target_path(st, path, e);

    return p != NULL;
}

typedef struct {
    const char *name;
    RefusalOp op;
    int code;
    const char *message;        /* "%s" = <pools> */
} Refusal;

static const Refusal refusals[] = {
    { "start active", op_start_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p1' is already active" },
    { "build active", op_build_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p1' is already active" },
    { "delete active", op_delete_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p1' is still active" },
    { "undefine active", op_undefine_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p1' is still active" },
    { "destroy inactive", op_destroy_inactive, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p2' is not active" },
    { "refresh inactive", op_refresh_inactive, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'p2' is not active" },
    { "undefine transient", op_undefine_transient, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 't1' is not persistent" },
    { "autostart transient", op_autostart_transient, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: cannot set autostart for transient pool" },
    { "build overwrite+no_overwrite", op_build_both_overwrite, HYVE_ERR_INVALID_ARG,
      "invalid argument: Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
      "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive" },
    { "build repair", op_build_repair, HYVE_ERR_NO_SUPPORT,
      "this function is not supported by the connection driver: pool build with repair "
      "is not supported" },
    { "build unknown flag", op_build_bad_flag, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x10) in function hyve_storage_pool_build" },
    { "delete zeroed", op_delete_zeroed, HYVE_ERR_NO_SUPPORT,
      "this function is not supported by the connection driver: pool deletion with zeroing "
      "(VIR_STORAGE_POOL_DELETE_ZEROED) is not supported" },
    { "refresh flags", op_refresh_flags, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x1) in function hyve_storage_pool_refresh" },
    { "list unknown flag", op_list_bad_flag, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x100000) in function hyve_storage_list_pools" },
    { "define name taken", op_define_name_other_uuid, HYVE_ERR_OPERATION_FAILED,
      "operation failed: pool 'p1' already exists with uuid " UUID_A },
    { "define uuid taken", op_define_uuid_other_name, HYVE_ERR_OPERATION_FAILED,
      "operation failed: pool 'p1' is already defined with uuid " UUID_A },
    { "define on an active pool's target", op_define_same_target, HYVE_ERR_OPERATION_FAILED,
      "operation failed: Storage source conflict with pool: 'p1'" },
    { "define on an inactive pool's target", op_define_same_target_inactive,
      HYVE_ERR_OPERATION_FAILED, "operation failed: Storage source conflict with pool: 'p2'" },
    { "define fs pool", op_define_fs_type, HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: storage pool type 'fs' is not supported by hyve "
      "(supported: dir, logical)" },
    { "define unknown flag", op_define_bad_flag, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function hyve_storage_pool_define_xml" },
    { "create an active pool", op_create_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: pool is already active as 'p1'" },
    { "create on a transient pool's target", op_create_transient_conflict,
      HYVE_ERR_OPERATION_FAILED, "operation failed: Storage source conflict with pool: 't1'" },
    { "lookup name", op_lookup_name, HYVE_ERR_NO_STORAGE_POOL,
      "Storage pool not found: no storage pool with matching name 'nope'" },
    { "lookup uuid", op_lookup_uuid, HYVE_ERR_NO_STORAGE_POOL,
      "Storage pool not found: no storage pool with matching uuid "
      "'01234567-89ab-cdef-0123-456789abcdef'" },
    { "lookup target of an inactive pool", op_lookup_path_inactive, HYVE_ERR_NO_STORAGE_POOL,
      "Storage pool not found: no storage pool with matching target path '%s/p2'" },
};

static void
refusal_fixture(void)
{
    g_autoptr(HyvePoolObj) p1 = define_started("p1", UUID_A, "p1");
    g_autoptr(HyvePoolObj) p2 = define("p2", UUID_B, "p2");
    g_autofree char *xml = pool_xml("t1", NULL, "t1");
    g_autoptr(HyvePoolObj) t1 = hyve_storage_pool_create_xml(st, xml,
                                                             HYVE_POOL_CREATE_WITH_BUILD, NULL);

    ck_assert(t1);
}

static char *
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

START_TEST(test_refusal)
{
    const Refusal *c = &refusals[_i];
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL, *before = NULL, *after = NULL;

    refusal_fixture();
    before = list_names(0);
    g_free(take_events());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    msg = g_strdup_printf(c->message, pools_dir);
#pragma GCC diagnostic pop
    ck_assert_msg(!c->op(&err), "%s: succeeded", c->name);
    check_error(c->name, err, c->code, msg);
    /* nothing changed, nothing was announced */
    after = list_names(0);
    ck_assert_msg(g_str_equal(before, after), "%s: pools %s -> %s", c->name, before, after);
    g_free(msg);
    msg = take_events();
    ck_assert_msg(!*msg, "%s: events %s", c->name, msg);
}
END_TEST

/* ---- listing and lookups -------------------------------------------------- */

typedef struct {
    guint flags;
    const char *names;
} ListCase;

/* a: active persistent autostart; b: inactive persistent; c: active
 * persistent; t: transient (active) */
static const ListCase list_cases[] = {
    { 0, "a,b,c,t" },
    { 1 /* INACTIVE */, "b" },
    { 2 /* ACTIVE */, "a,c,t" },
    { 3, "a,b,c,t" },
    { 4 /* PERSISTENT */, "a,b,c" },
    { 8 /* TRANSIENT */, "t" },
    { 16 /* AUTOSTART */, "a" },
    { 32 /* NO_AUTOSTART */, "b,c,t" },
    { 2 | 4 | 32, "c" },
    { 1 | 16, "" },
    { 64 /* DIR */, "a,b,c,t" },
    { 512 /* LOGICAL */, "" },
    { 128 | 256 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768 | 65536 | 131072 | 262144 | 524288,
      "" },
    { 64 | 512, "a,b,c,t" },
    { 64 | 8, "t" },
    { 0xfffff, "a,b,c,t" },
};

static void
list_fixture(void)
{
    g_autoptr(HyvePoolObj) a = define_started("a", NULL, "a");
    g_autoptr(HyvePoolObj) b = define("b", NULL, "b");
    g_autoptr(HyvePoolObj) c = define_started("c", NULL, "c");
    g_autofree char *xml = pool_xml("t", NULL, "t");
    g_autoptr(HyvePoolObj) t = hyve_storage_pool_create_xml(st, xml,
                                                            HYVE_POOL_CREATE_WITH_BUILD, NULL);

    ck_assert(t);
    OK(hyve_storage_pool_set_autostart(st, a, TRUE, error));
}

START_TEST(test_list)
{
    const ListCase *c = &list_cases[_i];
    g_autofree char *got = NULL;

    list_fixture();
    got = list_names(c->flags);
    ck_assert_msg(g_str_equal(got, c->names), "flags 0x%x: got '%s', want '%s'", c->flags,
                  got, c->names);
    ck_assert_int_eq(hyve_storage_num_pools(st, TRUE), 3);
    ck_assert_int_eq(hyve_storage_num_pools(st, FALSE), 1);
}
END_TEST

START_TEST(test_lookups)
{
    g_autoptr(HyvePoolObj) p = define_started("p1", UUID_A, "p1");
    g_autoptr(HyvePoolObj) by_uuid = NULL, by_path = NULL, by_path2 = NULL;
    g_autofree char *path = pool_path("p1");
    g_autofree char *messy = g_strdup_printf("%s//p1/", pools_dir);
    guint8 u[HYVE_UUID_LEN];
    HyvePoolIdent id = { 0 };

    hyve_uuid_parse(UUID_A, u);
    by_uuid = hyve_storage_pool_lookup_by_uuid(st, u, NULL);
    by_path = hyve_storage_pool_lookup_by_target_path(st, path, NULL);
    by_path2 = hyve_storage_pool_lookup_by_target_path(st, messy, NULL);
    ck_assert(by_uuid == p && by_path == p && by_path2 == p);
    hyve_pool_obj_get_ident(p, &id);
    ck_assert_str_eq(id.name, "p1");
    ck_assert(memcmp(id.uuid, u, HYVE_UUID_LEN) == 0);
    hyve_pool_ident_clear(&id);
    ck_assert(!id.name);
}
END_TEST

START_TEST(test_autostart_links)
{
    g_autoptr(HyvePoolObj) p = define("p1", NULL, "p1");
    g_autofree char *link = g_build_filename(cfg_dir, "storage", "autostart", "p1.xml", NULL);
    g_autofree char *target = NULL;

    OK(hyve_storage_pool_set_autostart(st, p, TRUE, error));
    ck_assert(hyve_pool_obj_get_autostart(p));
    target = g_file_read_link(link, NULL);
    ck_assert_str_eq(target, "../p1.xml");
    OK(hyve_storage_pool_set_autostart(st, p, FALSE, error));
    ck_assert(!hyve_pool_obj_get_autostart(p));
    ck_assert(!g_file_test(link, G_FILE_TEST_EXISTS));
    OK(hyve_storage_pool_set_autostart(st, p, TRUE, error));
    OK(hyve_storage_pool_undefine(st, p, error));
    ck_assert(!g_file_test(link, G_FILE_TEST_EXISTS));
}
END_TEST

/* ---- persistence ---------------------------------------------------------- */

START_TEST(test_restart)
{
    g_autoptr(HyvePoolObj) a = define_started("a", NULL, "a");
    g_autoptr(HyvePoolObj) b = define_started("b", NULL, "b");
    g_autoptr(HyvePoolObj) c = define("c", NULL, "c");
    g_autoptr(HyvePoolObj) d = define_started("d", NULL, "d");
    g_autoptr(HyvePoolObj) e = define("e", NULL, "e");
    g_autofree char *xml = pool_xml("t", UUID_B, "t");
    g_autoptr(HyvePoolObj) t = hyve_storage_pool_create_xml(st, xml,
                                                            HYVE_POOL_CREATE_WITH_BUILD, NULL);
    g_autofree char *ddir = pool_path("d"), *ev = NULL;
    g_autofree char *state = g_build_filename(state_dir, "storage", "d.xml", NULL);
    g_autoptr(HyvePoolObj) t2 = NULL, d2 = NULL;
    guint8 u[HYVE_UUID_LEN];

    ck_assert(t);
    OK(hyve_storage_pool_set_autostart(st, a, TRUE, error));
    OK(hyve_storage_pool_set_autostart(st, e, TRUE, error));
    OK(hyve_storage_pool_build(st, e, 0, error));
    ck_assert(g_rmdir(ddir) == 0);      /* d's storage vanishes while the daemon is away */
    g_free(take_events());
    reopen();

    {
        g_autofree char *active = list_names(2), *inactive = list_names(1);
        g_autofree char *autostart = list_names(16), *transient = list_names(8);

        ck_assert_str_eq(active, "a,b,e,t");
        ck_assert_str_eq(inactive, "c,d");
        ck_assert_str_eq(autostart, "a,e");
        ck_assert_str_eq(transient, "t");
    }
    hyve_uuid_parse(UUID_B, u);
    t2 = hyve_storage_pool_lookup_by_uuid(st, u, NULL);
    ck_assert(t2 && t2 != t && !hyve_pool_obj_is_persistent(t2));
    d2 = lookup("d");
    ck_assert(!g_file_test(state, G_FILE_TEST_EXISTS));
    ck_assert(hyve_pool_obj_is_persistent(d2));
    /* the old objects are no longer the storage's */
    {
        g_autoptr(GError) err = NULL;

        ck_assert(!hyve_storage_pool_refresh(st, a, 0, &err));
        ck_assert_int_eq(err->code, HYVE_ERR_NO_STORAGE_POOL);
    }
    /* nobody listened during the start-up */
    ev = take_events();
    ck_assert_str_eq(ev, "");

    /* the transient pool stays transient: it vanishes at destroy */
    OK(hyve_storage_pool_destroy(st, t2, error));
    reopen();
    ck_assert(!lookup("t"));
}
END_TEST

START_TEST(test_default_pool)
{
    g_autofree char *dir = g_build_filename(tmp, "images", "default", NULL);
    g_autofree char *path = NULL;
    g_autoptr(HyvePoolObj) p = NULL;
    g_autoptr(GError) err = NULL;
    struct stat sb;

    /* setup() already started once: no default pool then, nor now */
    hyve_storage_free(st);
    st = open_storage(dir);
    ck_assert(!lookup("default"));
    hyve_storage_free(st);

    test_tree_remove(cfg_dir);
    st = open_storage(dir);
    p = lookup("default");
    ck_assert(p);
    ck_assert(hyve_pool_obj_is_active(p) && hyve_pool_obj_is_persistent(p) &&
              hyve_pool_obj_get_autostart(p));
    ck_assert(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 0777, 0711);
    path = hyve_pool_obj_get_xml(p, 0, &err);
    ck_assert_msg(path && strstr(path, "<mode>0711</mode>") && strstr(path, dir), "%s", path);

    /* undefined by the user: not made again */
    OK(hyve_storage_pool_destroy(st, p, error));
    OK(hyve_storage_pool_undefine(st, p, error));
    hyve_storage_free(st);
    st = open_storage(dir);
    ck_assert(!lookup("default"));
}
END_TEST

START_TEST(test_bad_config_skipped)
{
    g_autoptr(HyvePoolObj) good = define("good", NULL, "good");
    g_autofree char *bad = g_build_filename(cfg_dir, "storage", "bad.xml", NULL);
    g_autofree char *wrong = g_build_filename(cfg_dir, "storage", "wrong.xml", NULL);
    g_autofree char *fs = g_build_filename(cfg_dir, "storage", "f.xml", NULL);
    g_autofree char *other = pool_xml("other", NULL, "other");
    g_autofree char *names = NULL;

    ck_assert(g_file_set_contents(bad, "<pool type='dir'><name>bad</name", -1, NULL));
    ck_assert(g_file_set_contents(wrong, other, -1, NULL));
    ck_assert(g_file_set_contents(fs, "<pool type='fs'><name>f</name><source><device "
                                  "path='/dev/sdz'/></source><target><path>/mnt/f</path>"
                                  "</target></pool>", -1, NULL));
    reopen();
    names = list_names(0);
    ck_assert_str_eq(names, "good");
    /* never deleted */
    ck_assert(g_file_test(bad, G_FILE_TEST_EXISTS) && g_file_test(wrong, G_FILE_TEST_EXISTS) &&
              g_file_test(fs, G_FILE_TEST_EXISTS));
}
END_TEST

/* A storage directory that cannot be made fails hyve_storage_new. */
START_TEST(test_new_fails)
{
    HyveStorageConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *file = g_build_filename(tmp, "a-file", NULL);
    g_autofree char *want = g_build_filename(file, "storage", NULL);

    ck_assert(g_file_set_contents(file, "", 0, NULL));
    cfg.config_dir = cfg_dir;
    cfg.state_dir = file;
    ck_assert(!hyve_storage_new(&cfg, &err));
    ck_assert_msg(err && err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, want),
                  "%s", err ? err->message : "no error");
    g_clear_error(&err);
    cfg.config_dir = NULL;
    ck_assert(!hyve_storage_new(&cfg, &err));
    ck_assert_int_eq(err->code, HYVE_ERR_INTERNAL_ERROR);
}
END_TEST

/* ---- volumes and marks ---------------------------------------------------- */

START_TEST(test_refresh_keeps_marks)
{
    g_autoptr(HyvePoolObj) p = define_started("p1", UUID_A, "p1");
    g_autofree char *file = g_build_filename(pools_dir, "p1", "disk.img", NULL);
    g_autoptr(GError) err = NULL;
    HyveVolObj *ghost, *v;

    ck_assert(g_file_set_contents(file, "data", -1, NULL));
    OK(hyve_storage_pool_refresh(st, p, 0, error));
    ck_assert_int_eq(hyve_storage_pool_num_volumes(st, p, NULL), 1);

    /* a volume being built that is not on disk yet, one in use */
    g_mutex_lock(&p->lock);
    ghost = g_new0(HyveVolObj, 1);
    ghost->def = g_new0(HyveVolDef, 1);
    ghost->def->name = g_strdup("aaa-building");
    ghost->building = 1;
    g_ptr_array_insert(p->vols, 0, ghost);
    v = hyve_pool_obj_find_vol_locked(p, "disk.img");
    v->in_use = 2;
    p->async_jobs = 1;
    g_mutex_unlock(&p->lock);

    OK(hyve_storage_pool_refresh(st, p, 0, error));
    ck_assert(!hyve_storage_pool_destroy(st, p, &err));
    check_error("destroy with a job", err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: pool 'p1' has asynchronous jobs running.");
    ck_assert(hyve_pool_obj_is_active(p));

    g_mutex_lock(&p->lock);
    ck_assert_int_eq(p->vols->len, 2);
    ghost = hyve_pool_obj_find_vol_locked(p, "aaa-building");
    v = hyve_pool_obj_find_vol_locked(p, "disk.img");
    ck_assert(ghost && ghost->building == 1);
    ck_assert(v && v->in_use == 2 && v->def->capacity == 4);
    ck_assert(g_ptr_array_index(p->vols, 0) == ghost);     /* sorted by name */
    /* the build finished without the file: gone at the next refresh */
    ghost->building = 0;
    v->in_use = 0;
    p->async_jobs = 0;
    g_mutex_unlock(&p->lock);
    OK(hyve_storage_pool_refresh(st, p, 0, error));
    ck_assert_int_eq(hyve_storage_pool_num_volumes(st, p, NULL), 1);
    OK(hyve_storage_pool_destroy(st, p, error));
}
END_TEST

/* A pool whose directory vanished stops at refresh (as libvirt). */
START_TEST(test_refresh_lost_dir)
{
    g_autoptr(HyvePoolObj) p = define_started("p1", UUID_A, "p1");
    g_autofree char *dir = pool_path("p1"), *ev = NULL;
    g_autoptr(GError) err = NULL;

    g_free(take_events());
    ck_assert(g_rmdir(dir) == 0);
    ck_assert(!hyve_storage_pool_refresh(st, p, 0, &err));
    ck_assert_int_eq(err->code, HYVE_ERR_SYSTEM_ERROR);
    ck_assert(!hyve_pool_obj_is_active(p));
    ev = take_events();
    ck_assert_str_eq(ev, "0 3 p1");
}
END_TEST

/* ---- concurrency ---------------------------------------------------------- */

#define RACE_ROUNDS 25

/* One thread's pool through its whole life, RACE_ROUNDS times. */
static gpointer
race_worker(gpointer data)
{
    guint n = GPOINTER_TO_UINT(data);
    g_autofree char *name = g_strdup_printf("race%u", n);
    g_autofree char *xml = pool_xml(name, NULL, name);
    gpointer failed = NULL;

    for (guint r = 0; r < RACE_ROUNDS && !failed; r++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(HyvePoolObj) p = hyve_storage_pool_define_xml(st, xml, 0, &err);
        HyvePoolInfo info;

        if (!p || !hyve_storage_pool_build(st, p, 0, &err) ||
            !hyve_storage_pool_start(st, p, 0, &err) ||
            !hyve_storage_pool_refresh(st, p, 0, &err) ||
            !hyve_storage_pool_set_autostart(st, p, r % 2, &err))
            failed = g_strdup_printf("%s round %u: %s", name, r, err ? err->message : "?");
        if (!failed)
            hyve_pool_obj_get_info(p, &info);
        if (!failed && info.state != 2)
            failed = g_strdup_printf("%s round %u: not running", name, r);
        if (!failed && (!hyve_storage_pool_destroy(st, p, &err) ||
                        !hyve_storage_pool_delete(st, p, 0, &err) ||
                        !hyve_storage_pool_undefine(st, p, &err)))
            failed = g_strdup_printf("%s round %u: %s", name, r, err ? err->message : "?");
    }
    return failed;
}

/* Readers of the list and the pools meanwhile. */
static gint race_done;

static gpointer
race_reader(gpointer data)
{
    (void)data;
    while (!g_atomic_int_get(&race_done)) {
        g_autoptr(GPtrArray) l = hyve_storage_list_pools(st, 2, NULL);

        for (guint i = 0; i < l->len; i++) {
            g_autofree char *x = hyve_pool_obj_get_xml(g_ptr_array_index(l, i), 0, NULL);
            HyvePoolInfo info;

            hyve_pool_obj_get_info(g_ptr_array_index(l, i), &info);
            (void)x;
        }
        (void)hyve_storage_num_pools(st, FALSE);
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    GThread *workers[4], *reader;
    g_autofree char *left = NULL;

    reader = g_thread_new("reader", race_reader, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(workers); i++)
        workers[i] = g_thread_new("worker", race_worker, GUINT_TO_POINTER(i));
    for (guint i = 0; i < G_N_ELEMENTS(workers); i++) {
        g_autofree char *failed = g_thread_join(workers[i]);

        ck_assert_msg(!failed, "%s", failed);
    }
    g_atomic_int_set(&race_done, 1);
    g_thread_join(reader);
    left = list_names(0);
    ck_assert_str_eq(left, "");
}
END_TEST

/* ---- the driver's side ---------------------------------------------------- */

#define DOMAIN_XML \
    "<domain type='bhyve'><name>vm1</name><memory unit='MiB'>64</memory>" \
    "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os><devices>" \
    "<disk type='volume' device='disk'><source pool='%s' volume='%s'/>" \
    "<target dev='vda'/></disk></devices></domain>"

typedef struct {
    const char *pool, *volume;
    int code;
    const char *message;
} VolDiskCase;

static const VolDiskCase vol_disk_cases[] = {
    { "nope", "v.img", HYVE_ERR_NO_STORAGE_POOL,
      "Storage pool not found: no storage pool with matching name 'nope'" },
    { "off", "v.img", HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'off' containing volume 'v.img' is "
      "not active" },
    { "on", "missing.img", HYVE_ERR_NO_STORAGE_VOL,
      "Storage volume not found: no storage vol with matching name 'missing.img'" },
};

/* hyve_driver_new makes the storage (default pool included); a domain
 * whose volume disk does not resolve fails to start with the storage
 * error, and stays shut off. */
START_TEST(test_driver_volume_disk)
{
    const VolDiskCase *c = &vol_disk_cases[_i];
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) def_pool = NULL, off = NULL, on = NULL;
    g_autofree char *xml = NULL, *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *off_xml = pool_xml("off", NULL, "off");
    HyveStorage *dst;
    HyveDriver *drv;

    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.log_dir = g_build_filename(tmp, "drv", "log", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup("/bin/false");
    cfg.uri = g_strdup("bhyve:///session");
    cfg.default_pool_path = g_build_filename(tmp, "drv", "images", NULL);
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    ck_assert(dst);
    def_pool = hyve_storage_pool_lookup_by_name(dst, "default", NULL);
    ck_assert(def_pool && hyve_pool_obj_is_active(def_pool));

    off = hyve_storage_pool_define_xml(dst, off_xml, 0, NULL);
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(off && on);
    xml = g_strdup_printf(DOMAIN_XML, c->pool, c->volume);
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");
    ck_assert(!hyve_driver_domain_start(drv, dom, 0, &err));
    check_error(c->pool, err, c->code, c->message);
    ck_assert(!hyve_domain_obj_is_active(dom));

    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&def_pool, hyve_pool_obj_unref);
    g_clear_pointer(&off, hyve_pool_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

/* A volume disk that resolves reaches the runner configuration as the
 * volume's path (the "runner" here is a script that keeps its
 * configuration and fails). */
START_TEST(test_driver_volume_disk_resolved)
{
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *seen = g_build_filename(tmp, "seen.conf", NULL);
    g_autofree char *script = g_build_filename(tmp, "fake-runner", NULL);
    g_autofree char *body = g_strdup_printf("#!/bin/sh\ncp \"$2\" '%s'\nexit 64\n", seen);
    g_autofree char *xml = g_strdup_printf(DOMAIN_XML, "on", "v.img");
    g_autofree char *conf = NULL, *want = NULL, *dumped = NULL;
    HyveVolIdent vol = { 0 };
    HyveStorage *dst;
    HyveDriver *drv;

    ck_assert(g_file_set_contents(script, body, -1, NULL) && chmod(script, 0755) == 0);
    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.log_dir = g_build_filename(tmp, "drv", "log", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup(script);
    cfg.uri = g_strdup("bhyve:///session");
    g_mkdir_with_parents(cfg.log_dir, 0700);
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    ck_assert(!hyve_storage_pool_lookup_by_name(dst, "default", NULL));    /* no path given */
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(on);
    ck_assert_msg(hyve_storage_vol_create_xml(dst, on, "<volume><name>v.img</name>"
                                              "<capacity>1048576</capacity></volume>", 0,
                                              &vol, &err), "vol create: %s",
                  err ? err->message : "");
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");
    ck_assert(!hyve_driver_domain_start(drv, dom, 0, &err));
    ck_assert_msg(err->domain != hyve_error_quark(HYVE_FROM_STORAGE),
                  "start stopped at the volume: %s", err->message);
    ck_assert_msg(g_file_get_contents(seen, &conf, NULL, NULL), "the runner never ran: %s",
                  err->message);
    want = g_strdup_printf("=%s\n", vol.key);
    ck_assert_msg(strstr(conf, want) && strstr(conf, "virtio-blk"),
                  "configuration without %s:\n%s", vol.key, conf);
    /* the definition keeps the volume form */
    dumped = hyve_domain_obj_get_xml(dom, 0, NULL);
    ck_assert_msg(strstr(dumped, "<source pool='on' volume='v.img'/>"), "%s", dumped);

    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

/* The driver's vol-user function: a running domain (a stand-in run on a
 * real domain object) whose volume disk carries the resolved path in its
 * live definition (@path_known: set at start) or not (reattached after a
 * daemon restart: resolved again) blocks the volume's deletion; a domain
 * that is not running does not. */
START_TEST(test_driver_vol_user)
{
    gboolean path_known = _i == 1;
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *xml = g_strdup_printf(DOMAIN_XML, "on", "v.img");
    HyveDomainRun *fake_run = g_new0(HyveDomainRun, 1);
    HyveVolIdent vol = { 0 };
    HyveDiskDef *disk;
    HyveStorage *dst;
    HyveDriver *drv;

    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.uri = g_strdup("bhyve:///session");
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(on);
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>v.img</name><capacity>"
                                          "4096</capacity></volume>", 0, &vol, NULL));
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>free.img</name><capacity>"
                                          "4096</capacity></volume>", 0, NULL, NULL));
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");

    /* defined, not running: not a user */
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>x.img</name><capacity>"
                                          "4096</capacity></volume>", 0, NULL, NULL));
    g_mutex_lock(&dom->lock);
    disk = g_ptr_array_index(dom->def->disks, 0);
    g_free(disk->volume);
    disk->volume = g_strdup("x.img");
    g_mutex_unlock(&dom->lock);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "x.img", 0, &err), "delete x.img: %s",
                  err ? err->message : "");

    g_mutex_lock(&dom->lock);
    disk = g_ptr_array_index(dom->def->disks, 0);
    g_free(disk->volume);
    disk->volume = g_strdup("v.img");
    if (path_known)
        disk->path = g_strdup(vol.key);
    dom->id = 7;
    dom->state = HYVE_DOMAIN_STATE_RUNNING;
    dom->run = fake_run;
    g_mutex_unlock(&dom->lock);

    ck_assert(!hyve_storage_vol_delete(dst, on, "v.img", 0, &err));
    check_error("delete of a volume in use", err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage volume 'v.img' is in use by "
                "domain 'vm1'");
    g_clear_error(&err);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "free.img", 0, &err), "free.img: %s",
                  err ? err->message : "");

    g_mutex_lock(&dom->lock);
    dom->run = NULL;
    dom->id = -1;
    dom->state = HYVE_DOMAIN_STATE_SHUTOFF;
    g_mutex_unlock(&dom->lock);
    g_free(fake_run);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "v.img", 0, &err), "after stop: %s",
                  err ? err->message : "");

    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
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
    tcase_add_loop_test(tc, test_refusal, 0, G_N_ELEMENTS(refusals));
    tcase_add_loop_test(tc, test_list, 0, G_N_ELEMENTS(list_cases));
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_autostart_links);
    tcase_add_test(tc, test_restart);
    tcase_add_test(tc, test_default_pool);
    tcase_add_test(tc, test_bad_config_skipped);
    tcase_add_test(tc, test_new_fails);
    tcase_add_test(tc, test_refresh_keeps_marks);
    tcase_add_test(tc, test_refresh_lost_dir);
    tcase_add_test(tc, test_concurrent);
    tcase_add_loop_test(tc, test_driver_volume_disk, 0, G_N_ELEMENTS(vol_disk_cases));
    tcase_add_test(tc, test_driver_volume_disk_resolved);
    tcase_add_loop_test(tc, test_driver_vol_user, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return test_suite_run(pool_suite());
}
