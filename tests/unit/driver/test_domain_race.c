/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_race.c: an object undefined while another thread still holds
 * it (set-metadata, set-autostart, undefine on it are NO_DOMAIN and write
 * nothing; it is no longer persistent), the define/undefine/set-metadata
 * race that used to bring an undefined domain's config file back, and the
 * order of lifecycle events under concurrent define/undefine of one name.
 */
#include "test_driver_fixture.h"

#define NO_DOMAIN_A "42 57 Domain not found: no domain with matching uuid '" UUID_A "' (gone)"

typedef enum { OP_META_CONFIG, OP_META_CURRENT, OP_AUTOSTART, OP_UNDEFINE } StaleOp;

typedef struct {
    const char *name;
    StaleOp op;
} StaleCase;

static const StaleCase stale_cases[] = {
    { "set-metadata config", OP_META_CONFIG },
    { "set-metadata current", OP_META_CURRENT },
    { "set-autostart", OP_AUTOSTART },
    { "undefine", OP_UNDEFINE },
};

START_TEST(test_stale_object)
{
    const StaleCase *c = &stale_cases[_i];
    g_autoptr(HyveDomainObj) obj = define_ok("gone", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "gone.xml", NULL);
    g_autoptr(GError) err = NULL;
    gboolean ok = FALSE;
    guint before;

    ck_assert(hyve_driver_undefine(drv, obj, 0, NULL));
    ck_assert_msg(!hyve_domain_obj_is_persistent(obj), "%s: undefined object still persistent",
                  c->name);
    before = events->len;
    switch (c->op) {
    case OP_META_CONFIG:
        ok = hyve_driver_set_metadata(drv, obj, 0, "x", NULL, NULL, 2, &err);
        break;
    case OP_META_CURRENT:
        ok = hyve_driver_set_metadata(drv, obj, 1, "x", NULL, NULL, 0, &err);
        break;
    case OP_AUTOSTART:
        ok = hyve_driver_set_autostart(drv, obj, TRUE, &err);
        break;
    case OP_UNDEFINE:
        ok = hyve_driver_undefine(drv, obj, 0, &err);
        break;
    }
    ck_assert_msg(!ok, "%s on an undefined object succeeded", c->name);
    assert_error(err, c->name, NO_DOMAIN_A);
    ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: config file came back", c->name);
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "gone", NULL), "%s: domain came back", c->name);
    ck_assert_msg(events->len == before, "%s: an event for a failed call", c->name);
}
END_TEST

/* ---- define/undefine vs set-metadata on the same domain --------------------- */

static volatile gint stop_flag;

static gpointer
meta_thread(gpointer data)
{
    while (!g_atomic_int_get(&stop_flag)) {
        g_autoptr(HyveDomainObj) obj = hyve_driver_lookup_by_uuid(drv, data, NULL);

        for (guint i = 0; obj && i < 20; i++)
            hyve_driver_set_metadata(drv, obj, 0, "x", NULL, NULL, 2, NULL);
        g_thread_yield();
    }
    return NULL;
}

START_TEST(test_ghost_race)
{
    g_autofree char *xml = dom_xml("racemeta", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "racemeta.xml", NULL);
    guint8 uuid[HYVE_UUID_LEN];
    GThread *threads[3];
    guint ghosts = 0, cycles = 0;
    /* 2 s, or longer until 20 cycles ran (slow builds: ASan, valgrind, a
     * busy machine), at most 60 s */
    gint64 start = g_get_monotonic_time();
    gint64 end = start + 2 * G_USEC_PER_SEC, limit = start + 60 * G_USEC_PER_SEC;

    ck_assert(hyve_uuid_parse(UUID_A, uuid));
    g_atomic_int_set(&stop_flag, 0);
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("meta", meta_thread, uuid);
    while (g_get_monotonic_time() < end ||
           (cycles < 20 && g_get_monotonic_time() < limit)) {
        g_autoptr(HyveDomainObj) obj = hyve_driver_define_xml(drv, xml, 0, NULL);

        ck_assert(obj);
        ck_assert(hyve_driver_undefine(drv, obj, 0, NULL));
        /* only this thread defines: once undefine returned, nothing may
         * write the file again (give a stale set-metadata time to) */
        g_usleep(500);
        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            ghosts++;
            g_unlink(path);
        }
        cycles++;
    }
    g_atomic_int_set(&stop_flag, 1);
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        g_thread_join(threads[i]);
    ck_assert_msg(ghosts == 0, "config file back after undefine in %u of %u cycles",
                  ghosts, cycles);
    ck_assert_msg(cycles > 10, "only %u cycles", cycles);
}
END_TEST

/* ---- event order ----------------------------------------------------------- */

#define EV_THREADS 4
#define EV_OPS 150

static gpointer
define_undefine_thread(gpointer data)
{
    g_autofree char *xml = dom_xml("evorder", UUID_A, 65536);

    for (guint i = 0; i < EV_OPS; i++) {
        if ((i + GPOINTER_TO_UINT(data)) % 2) {
            g_autoptr(HyveDomainObj) obj = hyve_driver_define_xml(drv, xml, 0, NULL);
        } else {
            g_autoptr(HyveDomainObj) obj = hyve_driver_lookup_by_name(drv, "evorder", NULL);

            if (obj)
                hyve_driver_undefine(drv, obj, 0, NULL);
        }
    }
    return NULL;
}

START_TEST(test_event_order)
{
    GThread *threads[EV_THREADS];
    gboolean exists = FALSE;
    guint n = 0;

    for (guint i = 0; i < EV_THREADS; i++)
        threads[i] = g_thread_new("evorder", define_undefine_thread, GUINT_TO_POINTER(i));
    for (guint i = 0; i < EV_THREADS; i++)
        g_thread_join(threads[i]);

    /* replaying the events must be a valid sequence of states */
    for (guint i = 0; i < events->len; i++) {
        SeenEvent *e = g_ptr_array_index(events, i);

        if (e->id != HYVE_DOMAIN_EVENT_ID_LIFECYCLE)
            continue;
        n++;
        if (e->event == HYVE_DOMAIN_EVENT_DEFINED) {
            ck_assert_msg(exists == (e->detail == 1),
                          "event %u: DEFINED/%s while the domain %s", i,
                          e->detail ? "UPDATED" : "ADDED", exists ? "existed" : "was absent");
            exists = TRUE;
        } else {
            ck_assert_msg(e->event == HYVE_DOMAIN_EVENT_UNDEFINED && exists,
                          "event %u: UNDEFINED while the domain was absent", i);
            exists = FALSE;
        }
    }
    ck_assert_msg(n > EV_THREADS * EV_OPS / 4, "only %u events", n);
    {
        g_autoptr(HyveDomainObj) obj = hyve_driver_lookup_by_name(drv, "evorder", NULL);

        ck_assert_msg((obj != NULL) == exists, "last event says %s, the list says %s",
                      exists ? "defined" : "undefined", obj ? "defined" : "undefined");
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-race");
    TCase *tc = driver_tcase_new(s);

    tcase_add_loop_test(tc, test_stale_object, 0, G_N_ELEMENTS(stale_cases));
    tcase_add_test(tc, test_ghost_race);
    tcase_add_test(tc, test_event_order);
    return test_suite_run(s);
}
