/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_reattach.c: running domains across drivers and definitions
 * with the real bhyve-runner: reattach after the driver is freed (runners
 * alive, paused, killed meanwhile, transient), runners that are not our
 * children, transient domains and create, redefine/undefine while running,
 * autostart order, racing operations from several threads.
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
#include "test_domain_process.h"

/* The driver goes away (runners keep running), a new one reattaches. */
START_TEST(test_reattach)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) b = define_guest("b", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) c = define_guest("c", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *tx = guest_xml("t", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) t = NULL;
    HyveDomainObj *o;
    pid_t pa, pb, pc, pt;

    start_ok(a, 0);
    start_ok(b, 0);
    start_ok(c, HYVE_DOMAIN_START_PAUSED);
    t = hyve_driver_create_xml(drv, tx, 0, &err);
    ck_assert_msg(t, "create: %s", err ? err->message : "");
    ck_assert_msg(hyve_driver_domain_shutdown(drv, b, 0, &err), "shutdown b");
    pa = runner_pid(a);
    pb = runner_pid(b);
    pc = runner_pid(c);
    pt = runner_pid(t);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&b, hyve_domain_obj_unref);
    g_clear_pointer(&c, hyve_domain_obj_unref);
    g_clear_pointer(&t, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    ck_assert_msg(kill(pa, 0) == 0 && kill(pb, 0) == 0 && kill(pc, 0) == 0 && kill(pt, 0) == 0,
                  "runners survive the driver");
    /* b dies while no driver watches */
    ck_assert(kill(pb, SIGKILL) == 0);
    g_usleep(100000);
    clear_events();
    drv = open_driver();

    o = hyve_driver_lookup_by_name(drv, "a", &err);
    ck_assert(o);
    assert_state(o, HYVE_DOMAIN_STATE_RUNNING, 1, "a reattached");
    ck_assert_int_eq(o->id, 1);
    ck_assert_int_eq(runner_pid(o), pa);
    xml = hyve_domain_obj_get_xml(o, 0, NULL);
    ck_assert_msg(strstr(xml, "<source path='/dev/pts/"), "a: consoles known again:\n%s", xml);
    hyve_domain_obj_unref(o);

    o = hyve_driver_lookup_by_name(drv, "b", &err);
    assert_state(o, HYVE_DOMAIN_STATE_SHUTOFF, 3, "b died meanwhile");
    ck_assert_int_eq(o->id, -1);
    hyve_domain_obj_unref(o);
    ck_assert(!run_file_exists("b", "xml") && !run_file_exists("b", "conf"));

    o = hyve_driver_lookup_by_name(drv, "c", &err);
    assert_state(o, HYVE_DOMAIN_STATE_PAUSED, 1, "c paused");
    ck_assert(hyve_driver_domain_resume(drv, o, &err));
    hyve_domain_obj_unref(o);

    t = hyve_driver_lookup_by_name(drv, "t", &err);
    ck_assert_msg(t && !hyve_domain_obj_is_persistent(t), "transient t back");
    ck_assert_int_eq(t->id, 4);
    hyve_driver_flush_events(drv);
    assert_events("b:5/5@-1 c:4/0@3", "after reattach");

    /* new ids continue after the reattached ones; a reattached runner is watched */
    o = hyve_driver_lookup_by_name(drv, "b", &err);
    start_ok(o, 0);
    ck_assert_int_eq(o->id, 5);
    hyve_domain_obj_unref(o);
    clear_events();
    ck_assert(kill(pt, SIGKILL) == 0);
    for (int i = 0; i < 500 && hyve_driver_num_domains(drv, TRUE) == 4; i++)
        g_usleep(20000);
    assert_events("t:5/5@-1", "reattached t killed");
    o = hyve_driver_lookup_by_name(drv, "t", NULL);
    ck_assert_msg(!o, "transient t gone");

    for (const char *const *n = (const char *const[]){ "a", "b", "c", NULL }; *n; n++) {
        o = hyve_driver_lookup_by_name(drv, *n, NULL);
        ck_assert_msg(hyve_driver_domain_destroy(drv, o, 0, &err), "destroy %s: %s", *n,
                      err ? err->message : "");
        hyve_domain_obj_unref(o);
    }
    ck_assert(pid_gone(pa) && pid_gone(pc));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

START_TEST(test_transient)
{
    g_autofree char *xml = guest_xml("tr", ACT_SPIN, NULL);
    g_autofree char *xml2 = NULL;
    g_autoptr(HyveDomainObj) obj = NULL, p = NULL, again = NULL;
    g_autoptr(GError) err = NULL;
    GError *e = NULL;

    clear_events();
    obj = hyve_driver_create_xml(drv, xml, 0, &err);
    ck_assert_msg(obj, "create: %s", err ? err->message : "");
    ck_assert(!hyve_domain_obj_is_persistent(obj));
    /* same name, no uuid given: another domain (as libvirt) */
    again = hyve_driver_create_xml(drv, xml, 0, &e);
    ck_assert_msg(!again && e && e->code == 9 &&
                  strstr(e->message, "domain 'tr' already exists with uuid "),
                  "create again: %s", e ? e->message : "");
    g_clear_error(&e);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    assert_events("tr:2/0@1 tr:5/1@-1", "transient");
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "tr", NULL), "transient vanished");
    ck_assert_msg(!run_file_exists("tr", "xml"), "no status file");

    /* create of an inactive persistent domain runs the new definition;
     * the persistent one comes back at stop */
    p = define_guest("p", ACT_SPIN, NULL);
    xml2 = guest_xml("p", ACT_SPIN, "<description>live one</description>");
    {
        g_autofree char *uuid = NULL;
        char s[HYVE_UUID_STRING_LEN];
        g_autoptr(HyveDomainObj) c = NULL;
        g_autofree char *live = NULL, *inactive = NULL;

        hyve_uuid_format(p->uuid, s);
        uuid = g_strdup_printf("<name>p</name><uuid>%s</uuid>", s);
        {
            g_auto(GStrv) parts = g_strsplit(xml2, "<name>p</name>", 2);
            g_free(xml2);
            xml2 = g_strjoinv(uuid, parts);
        }
        c = hyve_driver_create_xml(drv, xml2, 0, &err);
        ck_assert_msg(c == p, "create runs the persistent domain: %s", err ? err->message : "");
        ck_assert(hyve_domain_obj_is_persistent(p));
        live = hyve_domain_obj_get_xml(p, 0, NULL);
        inactive = hyve_domain_obj_get_xml(p, HYVE_DOMAIN_XML_INACTIVE, NULL);
        ck_assert_msg(strstr(live, "live one") && !strstr(inactive, "live one"),
                      "live vs persistent definition");
        ck_assert(!hyve_domain_obj_is_updated(p));
        ck_assert(hyve_driver_domain_destroy(drv, p, 0, &err));
        g_free(live);
        live = hyve_domain_obj_get_xml(p, 0, NULL);
        ck_assert_msg(!strstr(live, "live one"), "persistent definition back");
    }
}
END_TEST

/* define while running -> updated, applied at stop; undefine while running
 * -> transient, vanishes at stop. */
START_TEST(test_redefine_undefine_running)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) o2 = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL;
    char s[HYVE_UUID_STRING_LEN];

    start_ok(obj, 0);
    ck_assert(!hyve_domain_obj_is_updated(obj));
    hyve_uuid_format(obj->uuid, s);
    xml = g_strdup_printf("<domain type='bhyve'><name>vm1</name><uuid>%s</uuid>"
                          "<memory unit='MiB'>96</memory><os><type>hvm</type>"
                          "<kernel>/nonexistent</kernel></os></domain>", s);
    o2 = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(o2 == obj, "redefine: %s", err ? err->message : "");
    ck_assert(hyve_domain_obj_is_updated(obj));
    /* still updated after a reattach */
    g_clear_pointer(&o2, hyve_domain_obj_unref);
    g_clear_pointer(&obj, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    drv = open_driver();
    obj = hyve_driver_lookup_by_name(drv, "vm1", &err);
    ck_assert_msg(obj && hyve_domain_obj_is_active(obj) && hyve_domain_obj_is_updated(obj),
                  "updated after a reattach");
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert(!hyve_domain_obj_is_updated(obj));
    g_free(xml);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strstr(xml, "<kernel>/nonexistent</kernel>"), "new definition:\n%s", xml);

    /* a start that fails leaves it SHUTOFF with no event */
    clear_events();
    {
        GError *e = NULL;
        gboolean ok = hyve_driver_domain_start(drv, obj, 0, &e);

        ck_assert_msg(!ok && e, "start with a missing kernel fails");
        g_clear_error(&e);
    }
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "failed start");
    assert_events("", "failed start");
    ck_assert_uint_eq(live_runners(), 0);

    g_clear_pointer(&obj, hyve_domain_obj_unref);
    obj = define_guest("vm2", ACT_SPIN, NULL);
    start_ok(obj, 0);
    ck_assert(hyve_driver_undefine(drv, obj, 0, &err));
    ck_assert(!hyve_domain_obj_is_persistent(obj) && hyve_domain_obj_is_active(obj));
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "vm2", NULL), "undefined domain vanished");
}
END_TEST

START_TEST(test_autostart)
{
    g_autoptr(HyveDomainObj) b = define_guest("b", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) c = define_guest("c", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;

    ck_assert(hyve_driver_set_autostart(drv, b, TRUE, &err));
    ck_assert(hyve_driver_set_autostart(drv, a, TRUE, &err));
    clear_events();
    hyve_driver_autostart(drv);
    assert_events("a:2/0@1 b:2/0@2", "autostart in name order");
    ck_assert(!hyve_domain_obj_is_active(c));
    hyve_driver_autostart(drv);                 /* running ones are left alone */
    assert_events("a:2/0@1 b:2/0@2", "second autostart");
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, &err));
    ck_assert(hyve_driver_domain_destroy(drv, b, 0, &err));
}
END_TEST


/* A runner that is not our child (started by a driver in another process,
 * like a daemon before its restart): its end comes from the exit file, or
 * there is none because it was killed. */
static const struct {
    const char *name;
    gboolean kill;
    const char *events;
    int reason;
} foreign[] = {
    { "poweroff", FALSE, "f:6/0@1 f:6/1@1 f:5/0@-1", 1 },
    { "killed", TRUE, "f:5/5@-1", 3 },
};

static const char *self_path;

START_TEST(test_foreign_runner)
{
    g_autoptr(HyveDomainObj) obj = define_guest("f", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    const char *argv[] = { self_path, "--start-in", tmpdir, runner_path, "f", NULL };
    g_autofree char *out = NULL;
    int status = -1;
    pid_t pid, ppid = 0;

    g_clear_pointer(&obj, hyve_domain_obj_unref);
    hyve_driver_free(drv);
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, &err) && status == 0,
                  "%s: starting in another process: %s (status %d) %s", foreign[_i].name,
                  err ? err->message : "", status, out ? out : "");
    drv = open_driver();
    obj = hyve_driver_lookup_by_name(drv, "f", &err);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, foreign[_i].name);
    pid = runner_pid(obj);
    ck_assert(hyve_proc_stat(pid, NULL, &ppid, NULL, NULL));
    ck_assert_msg(ppid != getpid(), "%s: runner %d is not our child", foreign[_i].name, pid);
    clear_events();
    if (foreign[_i].kill)
        ck_assert(kill(pid, SIGKILL) == 0);
    else
        guest_powers_off(obj);
    wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, foreign[_i].reason, 20, foreign[_i].name);
    assert_events(foreign[_i].events, foreign[_i].name);
    ck_assert(pid_gone(pid));
}
END_TEST

/* --start-in DIR RUNNER NAME: start a domain with a driver of this process
 * and leave it running. */
static int
start_in(char **argv)
{
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj;

    tmpdir = argv[2];
    runner_path = argv[3];
    events = g_ptr_array_new_with_free_func(g_free);
    if (!(drv = open_driver_or_null(&err))) {
        g_print("driver: %s\n", err->message);
        return 1;
    }
    obj = hyve_driver_lookup_by_name(drv, argv[4], &err);
    if (!obj || !hyve_driver_domain_start(drv, obj, 0, &err)) {
        g_print("start %s: %s\n", argv[4], err->message);
        return 1;
    }
    hyve_domain_obj_unref(obj);
    hyve_driver_free(drv);
    return 0;
}


/* Several threads race start/destroy/shutdown/suspend/resume/reset on one
 * domain: every call succeeds or fails with "not valid in this state",
 * the events alternate consistently, and at the end the domain is either
 * SHUTOFF with no runner or active with exactly one. */
typedef struct {
    HyveDomainObj *obj;
    guint seed;
    GString *unexpected;        /* guarded by events_lock */
} Racer;

static gpointer
racer(gpointer data)
{
    Racer *r = data;
    g_autoptr(GRand) rnd = g_rand_new_with_seed(r->seed);

    for (int i = 0; i < 12; i++) {
        GError *e = NULL;
        int op = g_rand_int_range(rnd, 0, 6);

        switch (op) {
        case 0: hyve_driver_domain_start(drv, r->obj, 0, &e); break;
        case 1: hyve_driver_domain_destroy(drv, r->obj, 0, &e); break;
        case 2: hyve_driver_domain_shutdown(drv, r->obj, 0, &e); break;
        case 3: hyve_driver_domain_suspend(drv, r->obj, &e); break;
        case 4: hyve_driver_domain_resume(drv, r->obj, &e); break;
        default: hyve_driver_domain_reset(drv, r->obj, 0, &e); break;
        }
        if (e && e->code != 55) {
            g_mutex_lock(&events_lock);
            g_string_append_printf(r->unexpected, "op %d: %d %s\n", op, e->code, e->message);
            g_mutex_unlock(&events_lock);
        }
        g_clear_error(&e);
    }
    return NULL;
}

START_TEST(test_race)
{
    g_autoptr(HyveDomainObj) obj = define_guest("race", ACT_SPIN, NULL);
    g_autoptr(GString) unexpected = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    Racer r[4];
    GThread *t[4];
    gboolean running = FALSE, active;
    HyveDomainInfo info;

    clear_events();
    for (guint i = 0; i < G_N_ELEMENTS(t); i++) {
        r[i] = (Racer){ .obj = obj, .seed = 1000 * _i + i, .unexpected = unexpected };
        t[i] = g_thread_new("racer", racer, &r[i]);
    }
    for (guint i = 0; i < G_N_ELEMENTS(t); i++)
        g_thread_join(t[i]);
    ck_assert_msg(unexpected->len == 0, "round %d: unexpected errors:\n%s", _i,
                  unexpected->str);

    hyve_domain_obj_get_info(obj, &info);
    g_mutex_lock(&obj->lock);
    active = obj->id > 0;
    ck_assert_msg(active ? (obj->run && obj->run->pid > 0 && kill(obj->run->pid, 0) == 0 &&
                            (info.state == HYVE_DOMAIN_STATE_RUNNING ||
                             info.state == HYVE_DOMAIN_STATE_PAUSED))
                         : (!obj->run && info.state == HYVE_DOMAIN_STATE_SHUTOFF),
                  "round %d: inconsistent: id %d state %d run %p", _i, obj->id, info.state,
                  (void *)obj->run);
    g_mutex_unlock(&obj->lock);
    ck_assert_msg(live_runners() == (active ? 1u : 0u), "round %d: %u runners, active %d", _i,
                  live_runners(), active);

    /* the events tell one consistent story */
    hyve_driver_flush_events(drv);
    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++) {
        const char *e = g_ptr_array_index(events, i);

        if (g_str_has_prefix(e, "race:2/"))
            ck_assert_msg(!running, "round %d: event %u %s while running", _i, i, e);
        else
            ck_assert_msg(running, "round %d: event %u %s while stopped", _i, i, e);
        running = !g_str_has_prefix(e, "race:5/") && (running || g_str_has_prefix(e, "race:2/"));
    }
    g_mutex_unlock(&events_lock);
    ck_assert_msg(running == active, "round %d: events end %s, domain %s", _i,
                  running ? "running" : "stopped", active ? "active" : "inactive");
    if (active)
        ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST


int
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;

    self_path = g_canonicalize_filename(argv[0], NULL);
    if (argc == 5 && g_str_equal(argv[1], "--start-in"))
        return start_in(argv);
    s = suite_create("domain-reattach");
    tc = process_tcase_new(s);
    tcase_add_test(tc, test_reattach);
    tcase_add_loop_test(tc, test_foreign_runner, 0, G_N_ELEMENTS(foreign));
    tcase_add_test(tc, test_transient);
    tcase_add_test(tc, test_redefine_undefine_running);
    tcase_add_test(tc, test_autostart);
    tcase_add_loop_test(tc, test_race, 0, 3);
    return process_test_main(argc, argv, s);
}
