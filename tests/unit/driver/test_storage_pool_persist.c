/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool_persist.c (storage-pool, with test_storage_pool.c):
 * pools across hyve_storage_free + hyve_storage_new (active ones stay
 * active, transient ones survive, a lost directory comes back inactive),
 * the default pool on the first start only, bad config files skipped,
 * hyve_storage_new failures, refresh keeping volume marks, and concurrent
 * define/start/destroy/undefine against readers.
 */

#include "test_storage_pool.h"

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

typedef struct {
    const char *name;
    gboolean named;             /* the header comment names it (else: its UUID) */
} CommentNameCase;

static const CommentNameCase comment_name_cases[] = {
    { "a--b", FALSE },
    { "a---", FALSE },
    { "-x", FALSE },
    { "a b", FALSE },
    { "a$b", FALSE },
    { "a-b", TRUE },
    { "pool.1_x", TRUE },
};

/* A pool's config file stays well-formed whatever its name ("--" may not
 * appear in an XML comment): the header comment names the pool only when
 * the name is safe there and on a shell command line, else by UUID; the
 * pool survives a restart, still active and autostarted. */
START_TEST(test_comment_safe_name)
{
    const CommentNameCase *c = &comment_name_cases[_i];
    g_autoptr(HyvePoolObj) p = define_started(c->name, UUID_A, "p");
    g_autofree char *file_name = g_strdup_printf("%s.xml", c->name);
    g_autofree char *path = g_build_filename(cfg_dir, "storage", file_name, NULL);
    g_autofree char *want = g_strdup_printf(" pool-edit %s\n", c->named ? c->name : UUID_A);
    g_autofree char *file = NULL, *names = NULL;
    g_autoptr(HyvePoolObj) again = NULL;

    ck_assert(p);
    OK(hyve_storage_pool_set_autostart(st, p, TRUE, error));
    ck_assert_msg(g_file_get_contents(path, &file, NULL, NULL), "'%s': no %s", c->name, path);
    reopen();
    again = lookup(c->name);
    ck_assert_msg(again, "'%s' lost at restart", c->name);
    ck_assert_msg(hyve_pool_obj_is_persistent(again) && hyve_pool_obj_is_active(again),
                  "'%s': not persistent and active after the restart", c->name);
    names = list_names(16);
    ck_assert_msg(g_str_equal(names, c->name), "'%s': autostart list '%s'", c->name, names);
    /* the file was read before the restart */
    ck_assert_msg(strstr(file, want), "'%s': no '%s' in\n%s", c->name, want, file);
}
END_TEST

void
storage_pool_add_persist_tests(TCase *tc)
{
    tcase_add_test(tc, test_restart);
    tcase_add_test(tc, test_default_pool);
    tcase_add_test(tc, test_bad_config_skipped);
    tcase_add_test(tc, test_new_fails);
    tcase_add_test(tc, test_refresh_keeps_marks);
    tcase_add_test(tc, test_refresh_lost_dir);
    tcase_add_test(tc, test_concurrent);
    tcase_add_loop_test(tc, test_comment_safe_name, 0, G_N_ELEMENTS(comment_name_cases));
}
