/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool_refusal.c (storage-pool, with test_storage_pool.c):
 * every refused pool operation with libvirt's code and message and no
 * event (one data-driven table on a fixed fixture), every list filter,
 * lookups by name, UUID and target path, and autostart links.
 */

#include "test_storage_pool.h"

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

void
storage_pool_add_refusal_tests(TCase *tc)
{
    tcase_add_loop_test(tc, test_refusal, 0, G_N_ELEMENTS(refusals));
    tcase_add_loop_test(tc, test_list, 0, G_N_ELEMENTS(list_cases));
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_autostart_links);
}
