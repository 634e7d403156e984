/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_vol_ops.c (storage-vol, with test_storage_vol.c): the
 * resize rules, volume delete and wipe with their refusals while a
 * (stand-in) running domain or a transfer uses the volume, lookups by
 * name, key and path, and 50 volumes created from 4 threads with name
 * clashes.
 */

#include "test_storage_vol.h"

/* ---- resize ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    guint64 capacity;             /* argument */
    guint flags;
    gboolean busy;                /* the stand-in domain uses it */
    int code;                     /* 0 = succeeds */
    const char *text;
    guint64 want;                 /* size afterwards (start: 2 MiB, 1 MiB allocated) */
    guint64 min_alloc;
} ResizeCase;

#define RS_ALLOC HYVE_VOL_RESIZE_ALLOCATE
#define RS_DELTA HYVE_VOL_RESIZE_DELTA
#define RS_SHRINK HYVE_VOL_RESIZE_SHRINK

static const ResizeCase resize_cases[] = {
    { "grow", 4 * MiB, 0, FALSE, 0, NULL, 4 * MiB, MiB },
    { "grow delta", MiB, RS_DELTA, FALSE, 0, NULL, 3 * MiB, MiB },
    { "grow allocate", 6 * MiB, RS_ALLOC, FALSE, 0, NULL, 6 * MiB, 5 * MiB },
    { "grow while used", 3 * MiB, 0, TRUE, 0, NULL, 3 * MiB, MiB },
    { "same size", 2 * MiB, 0, FALSE, 0, NULL, 2 * MiB, MiB },
    { "shrink without flag", MiB, 0, FALSE, 8,
      "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
      2 * MiB, MiB },
    { "shrink", MiB, RS_SHRINK, FALSE, 0, NULL, MiB, 0 },
    { "shrink delta", 512 * 1024, RS_SHRINK | RS_DELTA, FALSE, 0, NULL, 1536 * 1024, MiB },
    /* libvirt: never below the allocated 1 MiB (checked before the flag) */
    { "shrink below allocation", 512 * 1024, RS_SHRINK, FALSE, 8,
      "can't shrink capacity below existing allocation", 2 * MiB, MiB },
    { "shrink below allocation without flag", 512 * 1024, 0, FALSE, 8,
      "can't shrink capacity below existing allocation", 2 * MiB, MiB },
    { "shrink delta below allocation", 1536 * 1024, RS_SHRINK | RS_DELTA, FALSE, 8,
      "can't shrink capacity below existing allocation", 2 * MiB, MiB },
    { "shrink delta below 0", 8 * MiB, RS_SHRINK | RS_DELTA, FALSE, 8,
      "can't shrink capacity below existing allocation", 2 * MiB, MiB },
    { "shrink while used", MiB, RS_SHRINK, TRUE, 55,
      "storage volume 'r' is in use by domain 'vm1'", 2 * MiB, MiB },
    { "allocate past free space", 1ull << 60, RS_ALLOC, FALSE, 9,
      "Not enough space left in storage pool", 2 * MiB, MiB },
    { "bad flag", MiB, 8, FALSE, 8, "unsupported flags (0x8) in function "
      "hyve_storage_vol_resize", 2 * MiB, MiB },
};

START_TEST(test_resize)
{
    const ResizeCase *c = &resize_cases[_i];
    g_autofree char *path = vol_path("r");
    g_autoptr(GError) err = NULL;
    HyveVolInfo info;
    struct stat sb;
    gboolean ok;

    create_ok("r", 2 * MiB, MiB);
    if (c->busy)
        set_busy(path);
    ok = hyve_storage_vol_resize(st, pool, "r", c->capacity, c->flags, &err);
    if (c->code) {
        ck_assert_msg(!ok, "%s: succeeded", c->name);
        assert_error(err, c->name, c->code, c->text);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
    }
    sb = stat_ok(path);
    ck_assert_msg((guint64)sb.st_size == c->want, "%s: size %lld", c->name,
                  (long long)sb.st_size);
    ck_assert_msg((guint64)sb.st_blocks * 512 >= c->min_alloc, "%s: allocated %lld", c->name,
                  (long long)sb.st_blocks * 512);
    ck_assert(hyve_storage_vol_get_info(st, pool, "r", 0, &info, NULL));
    ck_assert_msg(info.capacity == c->want, "%s: info capacity %" G_GUINT64_FORMAT, c->name,
                  info.capacity);
}
END_TEST

/* ---- delete, wipe, refusals ------------------------------------------------- */

typedef enum { BUSY_NONE, BUSY_DOMAIN, BUSY_TRANSFER } BusyKind;

typedef struct {
    const char *name;
    const char *vol;              /* volume deleted */
    guint flags;
    BusyKind busy;
    int code;
    const char *text;
} DeleteCase;

static const DeleteCase delete_cases[] = {
    { "delete", "d", 0, BUSY_NONE, 0, NULL },
    { "unknown", "nosuch", 0, BUSY_NONE, 50, "no storage vol with matching name 'nosuch'" },
    { "used by a domain", "d", 0, BUSY_DOMAIN, 55, "storage volume 'd' is in use by domain 'vm1'" },
    { "used by a transfer", "d", 0, BUSY_TRANSFER, 55, "volume 'd' is still in use." },
    { "zeroed", "d", 1, BUSY_NONE, 3, "zeroing" },
    { "bad flag", "d", 4, BUSY_NONE, 8, "unsupported flags (0x4)" },
};

START_TEST(test_delete)
{
    const DeleteCase *c = &delete_cases[_i];
    g_autofree char *path = vol_path("d");
    g_autofree char *tpath = NULL;
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };
    guint64 cap = 0;
    gboolean ok;

    create_ok("d", MiB, 0);
    if (c->busy == BUSY_DOMAIN)
        set_busy(path);
    if (c->busy == BUSY_TRANSFER)
        ck_assert(hyve_storage_vol_acquire(st, pool, "d", HYVE_VOL_USE_READ, &tpath, &cap, NULL));
    ok = hyve_storage_vol_delete(st, pool, c->vol, c->flags, &err);
    if (c->code) {
        ck_assert_msg(!ok, "%s: deleted", c->name);
        assert_error(err, c->name, c->code, c->text);
        ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "%s: file gone", c->name);
        ck_assert_msg(hyve_storage_vol_lookup_by_name(st, pool, "d", &id, NULL),
                      "%s: not listed", c->name);
        hyve_vol_ident_clear(&id);
    } else {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
        ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: file left", c->name);
        ck_assert(!hyve_storage_vol_lookup_by_name(st, pool, "d", &id, &err));
        assert_error(err, c->name, 50, "no storage vol with matching name 'd'");
        ck_assert_int_eq(hyve_storage_pool_num_volumes(st, pool, NULL), 0);
    }
    if (c->busy == BUSY_TRANSFER) {
        ck_assert_str_eq(tpath, path);
        ck_assert(cap == MiB);
        hyve_storage_vol_release(st, pool, "d", FALSE);
        g_clear_error(&err);
        ck_assert_msg(hyve_storage_vol_delete(st, pool, "d", 0, &err), "%s: after release: %s",
                      c->name, err ? err->message : "?");
    }
}
END_TEST

START_TEST(test_wipe)
{
    g_autofree char *path = vol_path("w");
    g_autofree char *data = NULL;
    g_autoptr(GError) err = NULL;
    gsize len;
    struct stat sb;

    create_ok("w", 8 * MiB, 0);
    write_at(path, MiB, 'x', 64 * 1024);
    write_at(path, 8 * MiB - 4096, 'y', 4096);
    ck_assert(stat_ok(path).st_blocks > 0);
    ck_assert_msg(hyve_storage_vol_wipe(st, pool, "w", 0, 0, &err), "wipe: %s",
                  err ? err->message : "?");
    sb = stat_ok(path);
    ck_assert_msg(sb.st_size == (off_t)(8 * MiB) && sb.st_blocks == 0,
                  "wipe: size %lld blocks %lld", (long long)sb.st_size, (long long)sb.st_blocks);
    ck_assert(g_file_get_contents(path, &data, &len, NULL));
    ck_assert_msg(first_nonzero(data, len) < 0, "wipe: byte %zd is not 0",
                  first_nonzero(data, len));

    /* An allocated volume keeps its size and reads zeros too. */
    g_autofree char *path2 = vol_path("w2");
    g_autofree char *data2 = NULL;
    create_ok("w2", MiB, MiB);
    write_at(path2, 4096, 'z', 4096);
    ck_assert(hyve_storage_vol_wipe(st, pool, "w2", 0, 0, NULL));
    ck_assert(g_file_get_contents(path2, &data2, &len, NULL));
    ck_assert(len == MiB);
    ck_assert_msg(first_nonzero(data2, len) < 0, "wipe allocated: byte %zd is not 0",
                  first_nonzero(data2, len));

    ck_assert(!hyve_storage_vol_wipe(st, pool, "w", 1, 0, &err));
    assert_error(err, "wipe nnsa", 3, "wiping algorithm 1 is not supported");
    g_clear_error(&err);
    ck_assert(!hyve_storage_vol_wipe(st, pool, "nosuch", 0, 0, &err));
    assert_error(err, "wipe unknown", 50, "no storage vol with matching name 'nosuch'");
}
END_TEST

/* ---- lookups ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    gboolean by_key;
    const char *arg;              /* @P = pool dir, @T = tmp dir */
    const char *found;            /* volume name, NULL = not found */
    const char *text;
} LookupCase;

static const LookupCase lookup_cases[] = {
    { "key", TRUE, "@P/a", "a", NULL },
    { "key other", TRUE, "@P/b", "b", NULL },
    { "key unknown", TRUE, "@P/c", NULL, "no storage vol with matching key '@P/c'" },
    { "key not normalized", TRUE, "@P//a", NULL, "no storage vol with matching key" },
    { "path", FALSE, "@P/a", "a", NULL },
    { "path double slash", FALSE, "@P//b", "b", NULL },
    { "path dot", FALSE, "@P/./a", "a", NULL },
    { "path through symlink", FALSE, "@T/link/a", "a", NULL },
    { "path unknown", FALSE, "@P/zz", NULL, "no storage vol with matching path '@P/zz'" },
    { "path directory", FALSE, "@P", NULL, "no storage vol with matching path" },
};

static char *
expand(const char *in)
{
    g_autoptr(GString) s = g_string_new(in);

    g_string_replace(s, "@P", pool_dir, 0);
    g_string_replace(s, "@T", tmp, 0);
    return g_strdup(s->str);
}

START_TEST(test_lookup)
{
    const LookupCase *c = &lookup_cases[_i];
    g_autofree char *link = g_build_filename(tmp, "link", NULL);
    g_autofree char *arg = expand(c->arg);
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };
    gboolean ok;

    create_ok("a", 4096, 0);
    create_ok("b", 4096, 0);
    ck_assert(symlink(pool_dir, link) == 0);
    if (c->by_key)
        ok = hyve_storage_vol_lookup_by_key(st, arg, &id, &err);
    else
        ok = hyve_storage_vol_lookup_by_path(st, arg, &id, &err);
    if (c->found) {
        g_autofree char *key = vol_path(c->found);

        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "?");
        ck_assert_msg(g_strcmp0(id.name, c->found) == 0 && g_strcmp0(id.pool, "p") == 0 &&
                      g_strcmp0(id.key, key) == 0, "%s: found %s/%s", c->name, id.pool,
                      id.name);
    } else {
        g_autofree char *text = expand(c->text);

        ck_assert_msg(!ok, "%s: found %s", c->name, id.name);
        assert_error(err, c->name, 50, text);
    }
    hyve_vol_ident_clear(&id);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------- */

typedef struct {
    guint thread;
    gboolean same_names;          /* every thread tries the same names */
    guint ok, exist, other;
    char *first_error;
} CreatorData;

#define N_THREADS 4
#define N_VOLS 50

static gpointer
creator(gpointer data)
{
    CreatorData *d = data;

    for (guint i = d->thread; i < N_VOLS; i += N_THREADS) {
        g_autofree char *name = g_strdup_printf("v%02u", d->same_names ? i / N_THREADS : i);
        g_autofree char *xml = vol_xml(name, MiB, (i % 3) ? 0 : 64 * 1024);
        g_autoptr(GError) err = NULL;

        if (hyve_storage_vol_create_xml(st, pool, xml, 0, NULL, &err))
            d->ok++;
        else if (err->code == 90)
            d->exist++;
        else {
            d->other++;
            if (!d->first_error)
                d->first_error = g_strdup(err->message);
        }
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    gboolean same = _i == 1;
    const char *what = same ? "same names" : "distinct names";
    CreatorData data[N_THREADS] = { 0 };
    GThread *threads[N_THREADS];
    guint ok = 0, exist = 0, want = same ? (N_VOLS + N_THREADS - 1) / N_THREADS : N_VOLS;
    g_autoptr(GString) names = g_string_new(NULL);
    g_autofree char *on_disk = NULL;
    g_autofree char *listed = NULL;

    for (guint t = 0; t < N_THREADS; t++) {
        data[t].thread = t;
        data[t].same_names = same;
        threads[t] = g_thread_new("creator", creator, &data[t]);
    }
    for (guint t = 0; t < N_THREADS; t++) {
        g_thread_join(threads[t]);
        ck_assert_msg(data[t].other == 0, "%s: thread %u: %s", what, t, data[t].first_error);
        ok += data[t].ok;
        exist += data[t].exist;
        g_free(data[t].first_error);
    }
    ck_assert_msg(ok == want && ok + exist == N_VOLS, "%s: %u created, %u clashes", what, ok,
                  exist);
    for (guint i = 0; i < want; i++)
        g_string_append_printf(names, "%sv%02u", i ? "," : "", i);
    on_disk = dir_names(pool_dir);
    listed = list_names();
    ck_assert_msg(strcmp(on_disk, names->str) == 0, "%s: on disk %s", what, on_disk);
    ck_assert_msg(strcmp(listed, names->str) == 0, "%s: listed %s", what, listed);
    /* A refresh finds exactly the same. */
    ck_assert(hyve_storage_pool_refresh(st, pool, 0, NULL));
    g_free(listed);
    listed = list_names();
    ck_assert_msg(strcmp(listed, names->str) == 0, "%s: after refresh %s", what, listed);
}
END_TEST

void
storage_vol_add_ops_tests(Suite *s)
{
    const StorageVolTest tests[] = {
        { "resize", test_resize, G_N_ELEMENTS(resize_cases) },
        { "delete", test_delete, G_N_ELEMENTS(delete_cases) },
        { "wipe", test_wipe, 1 },
        { "lookup", test_lookup, G_N_ELEMENTS(lookup_cases) },
        { "concurrent", test_concurrent, 2 },
    };

    storage_vol_add_tests(s, tests, G_N_ELEMENTS(tests));
}
