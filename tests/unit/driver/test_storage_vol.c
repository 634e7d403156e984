/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol.c: volumes of a dir pool in a temporary directory,
 * through the public storage API: create (sparse and allocated), clone
 * (holes kept), resize rules, delete, wipe, lookups, 50 volumes created
 * from 4 threads, name clashes, impossible sizes (nothing left behind, ENOSPC
 * on a 16 MiB tmpfs in a private mount namespace when root), refusals while
 * a (stand-in) running domain or a transfer uses a volume, refresh of files
 * made outside, REFRESH event after a transfer, resolve_volume.
 *
 * One test program (storage-vol) in four files sharing test_storage_vol.h:
 * this one (fixture, helpers, the suite), test_storage_vol_create.c
 * (create, clone), test_storage_vol_ops.c (resize, delete, wipe, lookups,
 * concurrency) and test_storage_vol_pool.c (files made outside, transfer
 * marks, resolve, the dir backend, volumes being built).
 */

#include "test_storage_vol.h"

char *tmp;
char *pool_dir;
HyveStorage *st;
HyvePoolObj *pool;
GPtrArray *events;               /* "ID EVENT NAME" */
static char *busy_path;                 /* the stand-in domain 'vm1' uses it */
G_LOCK_DEFINE_STATIC(busy);

static char *
fake_vol_user(const char *path, gpointer data)
{
    char *ret = NULL;

    (void)data;
    G_LOCK(busy);
    if (busy_path && strcmp(path, busy_path) == 0)
        ret = g_strdup("vm1");
    G_UNLOCK(busy);
    return ret;
}

void
set_busy(const char *path)
{
    G_LOCK(busy);
    g_free(busy_path);
    busy_path = g_strdup(path);
    G_UNLOCK(busy);
}

static void
event_sink(const HyvePoolEvent *ev, gpointer data)
{
    (void)data;
    g_ptr_array_add(events, g_strdup_printf("%d %d %s", ev->id, ev->event, ev->name));
}

HyveStorage *
storage_new(const char *root)
{
    g_autofree char *cfg_dir = g_build_filename(root, "config", NULL);
    g_autofree char *state_dir = g_build_filename(root, "state", NULL);
    HyveStorageConfig cfg = {
        .privileged = TRUE,
        .config_dir = cfg_dir,
        .state_dir = state_dir,
        .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR,
        .default_pool_path = NULL,
    };
    g_autoptr(GError) err = NULL;
    HyveStorage *s = hyve_storage_new(&cfg, &err);

    ck_assert_msg(s, "hyve_storage_new: %s", err ? err->message : "?");
    return s;
}

HyvePoolObj *
pool_new(HyveStorage *s, const char *name, const char *dir)
{
    g_autofree char *xml = g_strdup_printf("<pool type='dir'><name>%s</name><target><path>%s"
                                           "</path></target></pool>", name, dir);
    g_autoptr(GError) err = NULL;
    HyvePoolObj *p = hyve_storage_pool_define_xml(s, xml, 0, &err);

    ck_assert_msg(p, "pool define %s: %s", name, err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_build(s, p, 0, &err), "pool build %s: %s", name,
                  err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_start(s, p, 0, &err), "pool start %s: %s", name,
                  err ? err->message : "?");
    return p;
}

void
setup(void)
{
    tmp = test_tmpdir_new("hyve-vol-XXXXXX");
    pool_dir = g_build_filename(tmp, "pool", NULL);
    events = g_ptr_array_new_with_free_func(g_free);
    st = storage_new(tmp);
    hyve_storage_set_vol_user_func(st, fake_vol_user, NULL);
    pool = pool_new(st, "p", pool_dir);
    hyve_storage_set_event_sink(st, event_sink, NULL);
}

void
teardown(void)
{
    g_clear_pointer(&pool, hyve_pool_obj_unref);
    g_clear_pointer(&st, hyve_storage_free);
    test_tree_remove(tmp);
    g_clear_pointer(&tmp, g_free);
    g_clear_pointer(&pool_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
    set_busy(NULL);
}

/* ---- helpers ------------------------------------------------------------- */

void
assert_error(const GError *err, const char *what, int code, const char *text)
{
    ck_assert_msg(err, "%s: no error (expected %d '%s')", what, code, text);
    ck_assert_msg(err->domain == hyve_error_quark(HYVE_FROM_STORAGE),
                  "%s: error domain %s: %s", what, g_quark_to_string(err->domain), err->message);
    ck_assert_msg(err->code == code && strstr(err->message, text),
                  "%s: got %d '%s', expected %d '%s'", what, err->code, err->message, code,
                  text);
}

char *
vol_xml(const char *name, guint64 capacity, guint64 allocation)
{
    return g_strdup_printf("<volume><name>%s</name><capacity unit='bytes'>%" G_GUINT64_FORMAT
                           "</capacity><allocation unit='bytes'>%" G_GUINT64_FORMAT
                           "</allocation></volume>", name, capacity, allocation);
}

void
create_ok(const char *name, guint64 capacity, guint64 allocation)
{
    g_autofree char *xml = vol_xml(name, capacity, allocation);
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };

    ck_assert_msg(hyve_storage_vol_create_xml(st, pool, xml, 0, &id, &err),
                  "create %s: %s", name, err ? err->message : "?");
    ck_assert_str_eq(id.name, name);
    ck_assert_str_eq(id.pool, "p");
    hyve_vol_ident_clear(&id);
}

char *
vol_path(const char *name)
{
    return g_build_filename(pool_dir, name, NULL);
}

struct stat
stat_ok(const char *path)
{
    struct stat sb;

    ck_assert_msg(stat(path, &sb) == 0, "stat %s: %s", path, g_strerror(errno));
    return sb;
}

static gint
cmp_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in @dir, sorted, joined by ','. */
char *
dir_names(const char *dir)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;

    ck_assert(d);
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_str_ptr);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

char *
list_names(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) vols = hyve_storage_pool_list_volumes(st, pool, 0, &err);
    g_autoptr(GPtrArray) names = g_ptr_array_new();

    ck_assert_msg(vols, "list volumes: %s", err ? err->message : "?");
    for (guint i = 0; i < vols->len; i++)
        g_ptr_array_add(names, ((HyveVolIdent *)g_ptr_array_index(vols, i))->name);
    g_ptr_array_sort(names, cmp_str_ptr);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

/* Offset of the first non-zero byte of @buf, or -1. */
gssize
first_nonzero(const char *buf, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        if (buf[i])
            return i;
    }
    return -1;
}

void
write_at(const char *path, off_t off, char byte, size_t len)
{
    g_autofree char *buf = g_malloc(len);
    int fd = open(path, O_WRONLY);

    memset(buf, byte, len);
    ck_assert_msg(fd >= 0, "open %s", path);
    ck_assert(pwrite(fd, buf, len, off) == (ssize_t)len);
    ck_assert(fsync(fd) == 0);
    close(fd);
}

void
storage_vol_add_tests(Suite *s, const StorageVolTest *tests, guint n)
{
    for (guint i = 0; i < n; i++) {
        TCase *tc = tcase_create(tests[i].name);

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_loop_test(tc, tests[i].test, 0, tests[i].n);
        suite_add_tcase(s, tc);
    }
}

/* ---- regressions (review of the volume side) ----------------------------- */

/* Data written since the last refresh counts as allocated: a shrink below
 * it is refused (libvirt's text), the file keeps its size. */
START_TEST(test_shrink_written)
{
    g_autofree char *path = vol_path("w");
    g_autoptr(GError) err = NULL;

    create_ok("w", 4 * MiB, 0);
    write_at(path, 0, 'x', 2 * MiB);
    ck_assert(!hyve_storage_vol_resize(st, pool, "w", MiB, HYVE_VOL_RESIZE_SHRINK, &err));
    assert_error(err, "shrink below written data", 8,
                 "can't shrink capacity below existing allocation");
    ck_assert_int_eq(stat_ok(path).st_size, 4 * MiB);
    g_clear_error(&err);
    ck_assert_msg(hyve_storage_vol_resize(st, pool, "w", 3 * MiB, HYVE_VOL_RESIZE_SHRINK, &err),
                  "shrink above the data: %s", err ? err->message : "?");
    ck_assert_int_eq(stat_ok(path).st_size, 3 * MiB);
}
END_TEST

/* A FIFO put where a volume's file was: every operation that opens it is
 * refused at once naming the path (SIGALRM ends the test if one blocks). */
static const char *const fifo_ops[] = { "upload", "download", "wipe", "resize", "clone" };

START_TEST(test_fifo_volume)
{
    g_autofree char *path = vol_path("f");
    g_autofree char *want = g_strdup_printf("'%s' is not a regular file or a block device",
                                            path);
    g_autoptr(GError) err = NULL;
    gboolean ok = TRUE;

    create_ok("f", MiB, 0);
    ck_assert(unlink(path) == 0 && mkfifo(path, 0600) == 0);
    alarm(20);
    switch (_i) {
    case 0: ok = hyve_storage_vol_upload(st, pool, "f", 0, 0, 0, &err) >= 0; break;
    case 1: ok = hyve_storage_vol_download(st, pool, "f", 0, 0, 0, &err) >= 0; break;
    case 2: ok = hyve_storage_vol_wipe(st, pool, "f", 0, 0, &err); break;
    case 3: ok = hyve_storage_vol_resize(st, pool, "f", 2 * MiB, 0, &err); break;
    case 4: ok = hyve_storage_vol_create_xml_from(st, pool, "<volume><name>c</name></volume>",
                                                  pool, "f", 0, NULL, &err); break;
    }
    alarm(0);
    ck_assert_msg(!ok, "%s of a FIFO: accepted", fifo_ops[_i]);
    assert_error(err, fifo_ops[_i], 55, want);
    g_autofree char *clone = vol_path("c");
    ck_assert_msg(!g_file_test(clone, G_FILE_TEST_EXISTS), "clone left behind");
    /* the volume is free again */
    g_clear_error(&err);
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "f", 0, &err), "%s: delete: %s",
                  fifo_ops[_i], err ? err->message : "?");
}
END_TEST

/* Pool build on an existing directory keeps its mode (unless
 * <permissions> give one); missing parents are made 0755, the pool's own
 * directory 0711 (libvirt's defaults). */
static const struct {
    const char *name;
    const char *target;           /* under tmp */
    int before;                   /* existing dir's mode, -1: none */
    const char *perms;
    int after;
} build_cases[] = {
    { "existing 1777", "x", 01777, "", 01777 },
    { "existing 0750 kept", "x", 0750, "", 0750 },
    { "existing, mode given", "x", 01777, "<permissions><mode>0750</mode></permissions>", 0750 },
    { "new, with parents", "a/b/c", -1, "", 0711 },
    { "new, mode given", "a/b/c", -1, "<permissions><mode>0700</mode></permissions>", 0700 },
};

START_TEST(test_build_modes)
{
    g_autofree char *dir = g_build_filename(tmp, build_cases[_i].target, NULL);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolObj) p = NULL;
    mode_t old = umask(022);

    if (build_cases[_i].before >= 0) {
        ck_assert(mkdir(dir, 0700) == 0 && chmod(dir, build_cases[_i].before) == 0);
    }
    xml = g_strdup_printf("<pool type='dir'><name>b</name><target><path>%s</path>%s</target>"
                          "</pool>", dir, build_cases[_i].perms);
    p = hyve_storage_pool_define_xml(st, xml, 0, &err);
    ck_assert_msg(p, "%s: define: %s", build_cases[_i].name, err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_build(st, p, 0, &err), "%s: build: %s",
                  build_cases[_i].name, err ? err->message : "?");
    umask(old);
    ck_assert_msg((stat_ok(dir).st_mode & 07777) == (guint)build_cases[_i].after,
                  "%s: mode %o", build_cases[_i].name, stat_ok(dir).st_mode & 07777);
    if (build_cases[_i].before < 0) {
        g_autofree char *a = g_build_filename(tmp, "a", NULL);
        g_autofree char *ab = g_build_filename(tmp, "a", "b", NULL);

        ck_assert_msg((stat_ok(a).st_mode & 07777) == 0755 &&
                      (stat_ok(ab).st_mode & 07777) == 0755, "%s: parents %o %o",
                      build_cases[_i].name, stat_ok(a).st_mode & 07777,
                      stat_ok(ab).st_mode & 07777);
    }
    ck_assert(hyve_storage_pool_undefine(st, p, NULL));
}
END_TEST

static Suite *
storage_vol_suite(void)
{
    Suite *s = suite_create("storage-vol");
    const StorageVolTest regressions[] = {
        { "shrink-written", test_shrink_written, 1 },
        { "fifo-volume", test_fifo_volume, G_N_ELEMENTS(fifo_ops) },
        { "build-modes", test_build_modes, G_N_ELEMENTS(build_cases) },
    };

    storage_vol_add_create_tests(s);
    storage_vol_add_ops_tests(s);
    storage_vol_add_pool_tests(s);
    storage_vol_add_tests(s, regressions, G_N_ELEMENTS(regressions));
    return s;
}

int
main(void)
{
    return test_suite_run(storage_vol_suite());
}
