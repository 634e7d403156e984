/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_fixes.c: regressions of running domains with the real
 * bhyve-runner: undefine/define racing a start or a create (slow runner
 * wrapper), reboot with on_reboot destroy, shutdown mode sets, ids read
 * back from status files, status files of names starting with '.'.
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
#include "test_domain_process.h"

#define UUID1 "<uuid>6d1c2a1e-5a43-4f0e-9f57-0a1b2c3d4e5f</uuid>"

/* Reopens the driver with a wrapper runner: sleeps @secs, then runs the
 * real runner (@fail: exits 4, an error, instead). */
static void
reopen_with_slow_runner(const char *secs, gboolean fail)
{
    g_autofree char *wrapper = g_build_filename(tmpdir, "slow-runner", NULL);
    g_autofree char *text = fail ?
        g_strdup_printf("#!/bin/sh\nsleep %s\necho wrapper gives up\nexit 4\n", secs) :
        g_strdup_printf("#!/bin/sh\nsleep %s\nexec '%s' \"$@\"\n", secs, runner_path);
    const char *saved = runner_path;

    ck_assert(g_file_set_contents(wrapper, text, -1, NULL));
    ck_assert(chmod(wrapper, 0755) == 0);
    g_clear_pointer(&drv, hyve_driver_free);
    runner_path = wrapper;
    drv = open_driver();
    runner_path = saved;
}

static gpointer
start_thread(gpointer data)
{
    g_autoptr(GError) err = NULL;
    gboolean ok = hyve_driver_domain_start(drv, data, 0, &err);

    if (!ok)
        g_printerr("start: %s\n", err ? err->message : "");
    return GINT_TO_POINTER(ok);
}

typedef struct {
    const char *xml;
    HyveDomainObj *obj;
    char *error;
} CreateCall;

static gpointer
create_thread(gpointer data)
{
    CreateCall *c = data;
    g_autoptr(GError) err = NULL;

    c->obj = hyve_driver_create_xml(drv, c->xml, 0, &err);
    c->error = err ? g_strdup(err->message) : NULL;
    return NULL;
}

static guint
n_listed(guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) l = hyve_driver_list_domains(drv, flags, &err);

    ck_assert(l);
    return l->len;
}

/* virsh start & undefine: the undefine waits for the start, the domain
 * runs on as a transient one; no runner is ever left untracked. */
START_TEST(test_undefine_during_start)
{
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;
    GThread *t;

    reopen_with_slow_runner("1", FALSE);
    obj = define_guest("u", ACT_SPIN, NULL);
    t = g_thread_new("start", start_thread, obj);
    g_usleep(400000);
    ck_assert_msg(hyve_driver_undefine(drv, obj, 0, &err), "undefine: %s",
                  err ? err->message : "");
    ck_assert_msg(g_thread_join(t), "the start succeeds");
    ck_assert_msg(hyve_domain_obj_is_active(obj) && !hyve_domain_obj_is_persistent(obj),
                  "running on, transient");
    ck_assert_uint_eq(live_runners(), 1);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "u", NULL), "gone after destroy");
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* A create failing while a define of the same domain runs: the defined
 * domain stays; while the create is under way the new transient domain is
 * not listed. */
START_TEST(test_define_during_failing_create)
{
    g_autofree char *xml = NULL;
    g_autoptr(HyveDomainObj) d = NULL, o = NULL;
    g_autoptr(GError) err = NULL;
    CreateCall c = { 0 };
    GThread *t;

    reopen_with_slow_runner("1", TRUE);
    xml = guest_xml("cf", ACT_SPIN, UUID1);
    c.xml = xml;
    t = g_thread_new("create", create_thread, &c);
    g_usleep(400000);
    ck_assert_uint_eq(n_listed(0), 0);
    d = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(d, "define: %s", err ? err->message : "");
    g_thread_join(t);
    ck_assert_msg(!c.obj && c.error && strstr(c.error, "wrapper gives up"), "create fails: %s",
                  c.error ? c.error : "(succeeded)");
    g_free(c.error);
    o = hyve_driver_lookup_by_name(drv, "cf", &err);
    ck_assert_msg(o, "the defined domain stays: %s", err ? err->message : "");
    ck_assert(hyve_domain_obj_is_persistent(o) && !hyve_domain_obj_is_active(o));
    ck_assert_uint_eq(n_listed(0), 1);
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* virsh reboot with <on_reboot>destroy</on_reboot> is a shutdown. */
START_TEST(test_reboot_on_reboot_destroy)
{
    g_autoptr(HyveDomainObj) obj = define_guest("rd", ACT_SPIN,
                                                "<on_reboot>destroy</on_reboot>");
    g_autoptr(GError) err = NULL;
    pid_t pid;

    start_ok(obj, 0);
    pid = runner_pid(obj);
    clear_events();
    ck_assert_msg(hyve_driver_domain_reboot(drv, obj, 0, &err), "reboot: %s",
                  err ? err->message : "");
    guest_powers_off(obj);
    wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, HYVE_REASON_SHUTOFF_SHUTDOWN, 10, "rd");
    ck_assert_msg(pid_gone(pid), "runner gone");
    ck_assert_uint_eq(live_runners(), 0);
    assert_events("rd:6/0@1 rd:6/2@1 rd:5/0@-1", "reboot -> shutdown");
}
END_TEST

/* Mode sets: with the power button they use it; without, NO_SUPPORT. */
static const struct {
    guint flags;
    gboolean ok;
} modes[] = {
    { HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT, TRUE },
    { HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | HYVE_DOMAIN_SHUTDOWN_SIGNAL, TRUE },
    { 0x1f, TRUE },
    { HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT | HYVE_DOMAIN_SHUTDOWN_INITCTL, FALSE },
    { HYVE_DOMAIN_SHUTDOWN_PARAVIRT, FALSE },
};

START_TEST(test_power_modes)
{
    g_autoptr(HyveDomainObj) obj = define_guest("pm", ACT_SPIN, NULL);

    start_ok(obj, 0);
    for (int reboot = 0; reboot < 2; reboot++) {
        g_autoptr(GError) err = NULL;
        gboolean ok = reboot ? hyve_driver_domain_reboot(drv, obj, modes[_i].flags, &err) :
                               hyve_driver_domain_shutdown(drv, obj, modes[_i].flags, &err);

        ck_assert_msg(ok == modes[_i].ok, "case %d (0x%x) reboot=%d: %s", _i, modes[_i].flags,
                      reboot, err ? err->message : "ok");
        if (!ok)
            ck_assert_msg(err->code == HYVE_ERR_NO_SUPPORT, "case %d: code %d", _i, err->code);
    }
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "pm");
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, NULL));
}
END_TEST

/* Replaces the id attribute of a status file. */
static void
status_set_id(const char *name, const char *id)
{
    g_autofree char *path = g_strdup_printf("%s/run/%s.xml", tmpdir, name);
    g_autofree char *text = NULL, *out = NULL;
    g_autoptr(GRegex) re = g_regex_new(" id='[0-9]+'", 0, 0, NULL);
    g_autofree char *rep = g_strdup_printf(" id='%s'", id);

    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    out = g_regex_replace_literal(re, text, -1, 0, rep, 0, NULL);
    ck_assert(g_file_set_contents(path, out, -1, NULL));
}

/* Ids read back from status files: INT_MAX (the next start wraps to a
 * positive id), out of range, duplicates -> a fresh id; the runner of a
 * domain whose name starts with '.' is reattached too. */
static const struct {
    const char *a_id, *b_id;
} ids[] = {
    { "2147483647", NULL },
    { "4294967297", NULL },
    { "0", NULL },
    { "7", "7" },
};

START_TEST(test_status_ids)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) b = define_guest(".b", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) c = define_guest("c", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    pid_t pa, pb;
    int ida, idb, idc;

    start_ok(a, 0);
    start_ok(b, 0);
    pa = runner_pid(a);
    pb = runner_pid(b);
    status_set_id("a", ids[_i].a_id);
    if (ids[_i].b_id)
        status_set_id(".b", ids[_i].b_id);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&b, hyve_domain_obj_unref);
    g_clear_pointer(&c, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    drv = open_driver();

    a = hyve_driver_lookup_by_name(drv, "a", NULL);
    b = hyve_driver_lookup_by_name(drv, ".b", NULL);
    c = hyve_driver_lookup_by_name(drv, "c", NULL);
    ck_assert(a && b && c);
    ck_assert_msg(hyve_domain_obj_is_active(a) && runner_pid(a) == pa, "case %d: a", _i);
    ck_assert_msg(hyve_domain_obj_is_active(b) && runner_pid(b) == pb, "case %d: .b", _i);
    start_ok(c, 0);
    ida = a->id;
    idb = b->id;
    idc = c->id;
    ck_assert_msg(ida > 0 && idb > 0 && idc > 0 && ida != idb && ida != idc && idb != idc,
                  "case %d: ids %d %d %d", _i, ida, idb, idc);
    if (_i == 0)
        ck_assert_msg(ida == G_MAXINT, "case %d: id %d kept", _i, ida);
    for (HyveDomainObj **o = (HyveDomainObj *[]){ a, b, c, NULL }; *o; o++)
        ck_assert_msg(hyve_driver_domain_destroy(drv, *o, 0, &err), "case %d: destroy %s: %s",
                      _i, (*o)->name, err ? err->message : "");
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* Peak resident memory of this process, in KiB. */
static long
vm_hwm_kib(void)
{
    g_autofree char *text = NULL;
    const char *p;

    ck_assert(g_file_get_contents("/proc/self/status", &text, NULL, NULL));
    p = strstr(text, "VmHWM:");
    ck_assert(p);
    return atol(p + 6);
}

/* A failed start reports the tail of what the runner wrote, read from the
 * end of the log: a huge log (sparse, 300 MiB) is never read whole. */
START_TEST(test_log_tail)
{
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *log = g_strdup_printf("%s/log/lt.log", tmpdir);
    long before;
    int fd;

    reopen_with_slow_runner("0", TRUE);
    obj = define_guest("lt", ACT_SPIN, NULL);
    fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert(fd >= 0 && ftruncate(fd, 300L << 20) == 0);
    close(fd);
    before = vm_hwm_kib();
    ck_assert_msg(!hyve_driver_domain_start(drv, obj, 0, &err), "start fails");
    ck_assert_msg(strstr(err->message, "wrapper gives up") && strlen(err->message) < 8192,
                  "the log tail: %.200s", err->message);
    ck_assert_msg(vm_hwm_kib() - before < 100 * 1024, "peak memory grew by %ld KiB",
                  vm_hwm_kib() - before);
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s = suite_create("domain-fixes");
    TCase *tc = process_tcase_new(s);

    tcase_add_test(tc, test_undefine_during_start);
    tcase_add_test(tc, test_define_during_failing_create);
    tcase_add_test(tc, test_reboot_on_reboot_destroy);
    tcase_add_loop_test(tc, test_power_modes, 0, G_N_ELEMENTS(modes));
    tcase_add_loop_test(tc, test_status_ids, 0, G_N_ELEMENTS(ids));
    tcase_add_test(tc, test_log_tail);
    return process_test_main(argc, argv, s);
}
