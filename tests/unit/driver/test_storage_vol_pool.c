/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol_pool.c (storage-vol, with test_storage_vol.c): volumes
 * and their pool: files made outside found by refresh, the REFRESH event
 * and marks after a transfer, resolving <disk type='volume'>, the dir
 * backend through pool operations, and a volume being built refusing
 * every other operation.
 */

#include "test_storage_vol.h"

/* ---- files made outside, events, resolve ---------------------------------------- */

START_TEST(test_refresh_outside)
{
    g_autofree char *plain = vol_path("outside.img");
    g_autofree char *qcow = vol_path("disk.qcow2");
    g_autofree char *hidden = vol_path(".hidden");
    g_autofree char *sub = vol_path("subdir");
    g_autofree char *listed = NULL;
    g_autofree char *xml = NULL;
    /* qcow2 header: magic, version 3, ..., virtual size 1 GiB at 24 */
    static const guint8 qhead[32] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3,
                                      [24] = 0, 0, 0, 0, 0x40, 0, 0, 0 };
    HyveVolInfo info;

    ck_assert(g_file_set_contents(plain, "12345", 5, NULL));
    ck_assert(g_file_set_contents(qcow, (const char *)qhead, sizeof(qhead), NULL));
    ck_assert(g_file_set_contents(hidden, "x", 1, NULL));
    ck_assert(g_mkdir(sub, 0700) == 0);
    ck_assert(hyve_storage_pool_refresh(st, pool, 0, NULL));
    listed = list_names();
    ck_assert_str_eq(listed, "disk.qcow2,outside.img");
    ck_assert(hyve_storage_vol_get_info(st, pool, "outside.img", 0, &info, NULL));
    ck_assert(info.capacity == 5);
    ck_assert(hyve_storage_vol_get_info(st, pool, "disk.qcow2", 0, &info, NULL));
    ck_assert_msg(info.capacity == 1ull << 30, "qcow2 capacity %" G_GUINT64_FORMAT,
                  info.capacity);
    xml = hyve_storage_vol_get_xml(st, pool, "disk.qcow2", 0, NULL);
    ck_assert_msg(xml && strstr(xml, "qcow2"), "qcow2 xml: %s", xml);
    /* listed and transferable as a file (32 bytes), not cloned or resized */
    g_autofree char *qpath = NULL;
    guint64 qsize = 0;
    g_autoptr(GError) err = NULL;
    ck_assert(hyve_storage_vol_acquire(st, pool, "disk.qcow2", HYVE_VOL_USE_READ, &qpath, &qsize,
                                       NULL));
    ck_assert_msg(qsize == sizeof(qhead), "qcow2 transfer size %" G_GUINT64_FORMAT, qsize);
    hyve_storage_vol_release(st, pool, "disk.qcow2", FALSE);
    ck_assert(!hyve_storage_vol_resize(st, pool, "disk.qcow2", 2ull << 30, 0, &err));
    assert_error(err, "resize qcow2", 67, "resizing a volume of format 'qcow2' is not supported");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name></volume>",
                                                pool, "disk.qcow2", 0, NULL, &err));
    assert_error(err, "clone qcow2", 67, "cloning a volume of format 'qcow2' is not supported");
    ck_assert(stat_ok(qcow).st_size == sizeof(qhead));

    /* get_info re-reads the file (as libvirt refreshes a volume first). */
    ck_assert(g_file_set_contents(plain, "1234567890", 10, NULL));
    ck_assert(hyve_storage_vol_get_info(st, pool, "outside.img", 0, &info, NULL));
    ck_assert_msg(info.capacity == 10, "capacity after a write %" G_GUINT64_FORMAT,
                  info.capacity);
}
END_TEST

START_TEST(test_transfer_marks)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    guint64 cap = 0;
    guint before = events->len;

    create_ok("t", MiB, 0);
    ck_assert(hyve_storage_vol_acquire(st, pool, "t", HYVE_VOL_USE_WRITE, &path, &cap, NULL));
    ck_assert(cap == MiB);
    /* a second writer, wipe, resize, delete and pool destroy are refused */
    ck_assert(!hyve_storage_vol_acquire(st, pool, "t", HYVE_VOL_USE_WRITE, NULL, NULL, &err));
    assert_error(err, "second writer", 55, "volume 't' is still in use.");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_resize(st, pool, "t", 2 * MiB, 0, &err));
    assert_error(err, "resize during transfer", 55, "volume 't' is still in use.");
    g_clear_error(&err);
    ck_assert(!hyve_storage_pool_destroy(st, pool, &err));
    assert_error(err, "destroy during transfer", 55, "pool 'p' has asynchronous jobs running.");
    g_clear_error(&err);
    write_at(path, 2 * MiB - 1, 'e', 1);
    g_autofree char *ext = vol_path("ext.img");
    ck_assert(g_file_set_contents(ext, "x", 1, NULL));
    hyve_storage_vol_release(st, pool, "t", TRUE);
    /* the whole pool was rescanned, as libvirt does after an upload */
    g_autofree char *listed = list_names();
    ck_assert_str_eq(listed, "ext.img,t");
    ck_assert_msg(events->len == before + 1, "%u events after release", events->len - before);
    ck_assert_str_eq(g_ptr_array_index(events, before), "1 0 p");
    HyveVolInfo info;
    ck_assert(hyve_storage_vol_get_info(st, pool, "t", 0, &info, NULL));
    ck_assert(info.capacity == 2 * MiB);
    ck_assert(hyve_storage_vol_resize(st, pool, "t", 3 * MiB, 0, NULL));
    ck_assert(hyve_storage_pool_destroy(st, pool, NULL));
    ck_assert(!hyve_storage_pool_list_volumes(st, pool, 0, &err));
    assert_error(err, "list inactive", 55, "storage pool 'p' is not active");
}
END_TEST

typedef struct {
    const char *name;
    const char *pool;
    const char *vol;
    int code;
    const char *text;
} ResolveCase;

static const ResolveCase resolve_cases[] = {
    { "ok", "p", "r", 0, NULL },
    { "unknown pool", "nopool", "r", 49, "no storage pool with matching name 'nopool'" },
    { "unknown volume", "p", "x", 50, "no storage vol with matching name 'x'" },
    { "inactive pool", "q", "r", 55, "storage pool 'q' containing volume 'r' is not active" },
};

START_TEST(test_resolve)
{
    const ResolveCase *c = &resolve_cases[_i];
    g_autofree char *qdir = g_build_filename(tmp, "q", NULL);
    g_autofree char *qxml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s"
                                            "</path></target></pool>", qdir);
    g_autoptr(HyvePoolObj) q = hyve_storage_pool_define_xml(st, qxml, 0, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;

    ck_assert(q);
    create_ok("r", 4096, 0);
    path = hyve_storage_resolve_volume(st, c->pool, c->vol, &err);
    if (c->code) {
        ck_assert_msg(!path, "%s: resolved to %s", c->name, path);
        assert_error(err, c->name, c->code, c->text);
    } else {
        g_autofree char *want = vol_path("r");

        ck_assert_msg(g_strcmp0(path, want) == 0, "%s: %s", c->name, path);
    }
}
END_TEST

/* ---- the dir backend through pool operations --------------------------------- */

typedef enum { DB_START_MISSING, DB_BUILD_MODE, DB_BUILD_DEFAULT_MODE, DB_BUILD_OVER_FILE,
               DB_DELETE_NONEMPTY, DB_DELETE, DB_RELATIVE, DB_SAME_DIR, DB_SIZES } DirOp;

typedef struct {
    const char *name;
    DirOp op;
    int code;
    const char *text;             /* @D = the pool's directory */
} DirCase;

static const DirCase dir_cases[] = {
    { "start without directory", DB_START_MISSING, 38,
      "cannot open directory '@D': No such file or directory" },
    { "build with mode", DB_BUILD_MODE, 0, NULL },
    { "build default mode", DB_BUILD_DEFAULT_MODE, 0, NULL },
    { "build over a file", DB_BUILD_OVER_FILE, 38, "cannot create path '@D'" },
    { "delete non-empty", DB_DELETE_NONEMPTY, 9,
      "failed to remove pool '@D': Directory not empty" },
    { "delete", DB_DELETE, 0, NULL },
    { "relative target", DB_RELATIVE, 27, "absolute" },
    { "same directory", DB_SAME_DIR, 9, "Storage source conflict with pool: 'p'" },
    { "sizes", DB_SIZES, 0, NULL },
};

START_TEST(test_dir_backend)
{
    const DirCase *c = &dir_cases[_i];
    g_autofree char *dir = g_build_filename(tmp, "q", "sub", NULL);
    g_autofree char *xml = NULL;
    g_autoptr(HyvePoolObj) q = NULL;
    g_autoptr(GError) err = NULL;
    gboolean ok = TRUE;
    struct stat sb;

    if (c->op == DB_BUILD_MODE)
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s/</path>"
                              "<permissions><mode>0750</mode></permissions></target></pool>",
                              dir);
    else if (c->op == DB_RELATIVE)
        xml = g_strdup("<pool type='dir'><name>q</name><target><path>rel/dir</path>"
                       "</target></pool>");
    else if (c->op == DB_SAME_DIR)
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s//</path>"
                              "</target></pool>", pool_dir);
    else
        xml = g_strdup_printf("<pool type='dir'><name>q</name><target><path>%s</path>"
                              "</target></pool>", dir);
    q = hyve_storage_pool_define_xml(st, xml, 0, &err);
    if (c->op == DB_RELATIVE || c->op == DB_SAME_DIR) {
        ck_assert_msg(!q, "%s: defined", c->name);
        ok = FALSE;
        goto check;
    }
    ck_assert_msg(q, "%s: define: %s", c->name, err ? err->message : "?");
    switch (c->op) {
    case DB_START_MISSING:
        ok = hyve_storage_pool_start(st, q, 0, &err);
        break;
    case DB_BUILD_MODE:
    case DB_BUILD_DEFAULT_MODE:
        ok = hyve_storage_pool_build(st, q, 0, &err) && stat(dir, &sb) == 0;
        if (ok)
            ck_assert_msg((sb.st_mode & 07777) == (c->op == DB_BUILD_MODE ? 0750 : 0711),
                          "%s: mode %o", c->name, sb.st_mode & 07777);
        break;
    case DB_BUILD_OVER_FILE: {
        g_autofree char *parent = g_path_get_dirname(dir);

        ck_assert(g_mkdir(parent, 0700) == 0);
        ck_assert(g_file_set_contents(dir, "", 0, NULL));
        ok = hyve_storage_pool_build(st, q, 0, &err);
        break;
    }
    case DB_DELETE_NONEMPTY:
    case DB_DELETE: {
        g_autofree char *f = g_build_filename(dir, "f", NULL);

        ck_assert(hyve_storage_pool_build(st, q, 0, NULL));
        if (c->op == DB_DELETE_NONEMPTY)
            ck_assert(g_file_set_contents(f, "", 0, NULL));
        ok = hyve_storage_pool_delete(st, q, 0, &err);
        ck_assert_msg(g_file_test(dir, G_FILE_TEST_IS_DIR) == (c->op == DB_DELETE_NONEMPTY),
                      "%s: directory %s", c->name, dir);
        break;
    }
    case DB_SIZES: {
        HyvePoolInfo info;

        ck_assert(hyve_storage_pool_build(st, q, 0, NULL));
        ok = hyve_storage_pool_start(st, q, 0, &err);
        hyve_pool_obj_get_info(q, &info);
        ck_assert_msg(info.state == 2 && info.capacity > 0 && info.available > 0 &&
                      info.available <= info.capacity && info.allocation <= info.capacity,
                      "%s: %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
                      c->name, info.capacity, info.allocation, info.available);
        break;
    }
    default:
        break;
    }
check:
    if (c->code) {
        g_autoptr(GString) text = g_string_new(c->text);

        g_string_replace(text, "@D", dir, 0);
        ck_assert_msg(!ok, "%s: succeeded", c->name);
        assert_error(err, c->name, c->code, text->str);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
    }
}
END_TEST

/* ---- a volume being built refuses other operations ------------------------------ */

typedef enum { BO_DELETE, BO_RESIZE, BO_WIPE, BO_ACQUIRE, BO_CLONE_FROM, BO_RESOLVE,
               BO_INFO, BO_LIST } BuildingOp;

static const struct {
    const char *name;
    BuildingOp op;
    gboolean refused;
} building_cases[] = {
    { "delete", BO_DELETE, TRUE },
    { "resize", BO_RESIZE, TRUE },
    { "wipe", BO_WIPE, TRUE },
    { "download", BO_ACQUIRE, TRUE },
    { "clone from", BO_CLONE_FROM, TRUE },
    { "resolve", BO_RESOLVE, TRUE },
    { "info", BO_INFO, FALSE },
    { "list", BO_LIST, FALSE },
};

/* @deleting: the mark a delete sets (building + deleting). */
static void
set_building(const char *name, guint value, gboolean deleting)
{
    g_mutex_lock(&pool->lock);
    HyveVolObj *vol = hyve_pool_obj_find_vol_locked(pool, name);
    ck_assert(vol);
    vol->building = value;
    vol->deleting = deleting;
    g_mutex_unlock(&pool->lock);
}

/* Loop: each case for a volume being built, then for one being deleted. */
START_TEST(test_building)
{
    const guint n = G_N_ELEMENTS(building_cases);
    const gboolean deleting = _i >= (int)n;
    const guint k = _i % n;
    g_autofree char *what = g_strdup_printf("%s (%s)", building_cases[k].name,
                                            deleting ? "being deleted" : "being built");
    g_autofree char *path = vol_path("b");
    g_autofree char *got = NULL;
    g_autoptr(GError) err = NULL;
    gboolean ok = FALSE;
    HyveVolInfo info;

    create_ok("b", MiB, 0);
    set_building("b", 1, deleting);
    switch (building_cases[k].op) {
    case BO_DELETE:
        ok = hyve_storage_vol_delete(st, pool, "b", 0, &err);
        break;
    case BO_RESIZE:
        ok = hyve_storage_vol_resize(st, pool, "b", 2 * MiB, 0, &err);
        break;
    case BO_WIPE:
        ok = hyve_storage_vol_wipe(st, pool, "b", 0, 0, &err);
        break;
    case BO_ACQUIRE:
        ok = hyve_storage_vol_acquire(st, pool, "b", HYVE_VOL_USE_READ, NULL, NULL, &err);
        break;
    case BO_CLONE_FROM:
        ok = hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name></volume>", pool,
                                              "b", 0, NULL, &err);
        break;
    case BO_RESOLVE:
        got = hyve_storage_resolve_volume(st, "p", "b", &err);
        ok = got != NULL;
        break;
    case BO_INFO:
        ok = hyve_storage_vol_get_info(st, pool, "b", 0, &info, &err) && info.capacity == MiB;
        break;
    case BO_LIST:
        got = list_names();
        ok = strcmp(got, "b") == 0;
        break;
    }
    if (building_cases[k].refused) {
        ck_assert_msg(!ok, "%s: allowed", what);
        assert_error(err, what, 55, deleting ? "volume 'b' is being deleted." :
                     "volume 'b' is still being allocated.");
    } else {
        ck_assert_msg(ok, "%s: %s", what, err ? err->message : "refused");
    }
    set_building("b", 0, FALSE);
    g_clear_error(&err);
    ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "%s: file gone", what);
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "b", 0, &err), "%s: delete afterwards: %s",
                  what, err ? err->message : "?");
}
END_TEST

void
storage_vol_add_pool_tests(Suite *s)
{
    const StorageVolTest tests[] = {
        { "refresh-outside", test_refresh_outside, 1 },
        { "transfer-marks", test_transfer_marks, 1 },
        { "resolve", test_resolve, G_N_ELEMENTS(resolve_cases) },
        { "dir-backend", test_dir_backend, G_N_ELEMENTS(dir_cases) },
        { "building", test_building, 2 * G_N_ELEMENTS(building_cases) },
    };

    storage_vol_add_tests(s, tests, G_N_ELEMENTS(tests));
}
