/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_process.c: the state machine of one running domain with the
 * real bhyve-runner: start/destroy, a guest that powers off or resets on
 * its own with the on_* actions, a killed runner, wrong-state errors, the
 * power button (pending, then the guest powers off: shutdown, reboot,
 * on_poweroff=restart, across a reattach), pause/resume, reset.
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
#include "test_domain_process.h"

START_TEST(test_start_destroy)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = NULL, *xml2 = NULL;
    char buf[256] = { 0 };
    gsize got = 0;
    HyveDomainInfo info;
    pid_t pid;
    int fd;

    clear_events();
    start_ok(obj, 0);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "started");
    assert_events("vm1:2/0@1", "start");
    ck_assert_int_eq(obj->id, 1);
    ck_assert(hyve_domain_obj_is_active(obj));
    ck_assert(!hyve_domain_obj_is_updated(obj));
    pid = runner_pid(obj);
    ck_assert_msg(pid > 0 && kill(pid, 0) == 0, "runner %d alive", pid);
    ck_assert(run_file_exists("vm1", "conf") && run_file_exists("vm1", "pid") &&
              run_file_exists("vm1", "xml") && run_file_exists("vm1", "ctl"));

    xml = hyve_domain_obj_get_xml(obj, 0, &err);
    ck_assert_msg(strstr(xml, "<domain type='bhyve' id='1'>") &&
                  strstr(xml, "<source path='/dev/pts/") && strstr(xml, "tty='/dev/pts/"),
                  "live XML:\n%s", xml);
    xml2 = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_INACTIVE, &err);
    ck_assert_msg(!strstr(xml2, "/dev/pts/") && !strstr(xml2, "id='1'"), "inactive XML:\n%s",
                  xml2);

    /* the guest's line on the console pty */
    fd = hyve_driver_domain_open_console(drv, obj, NULL, &err);
    ck_assert_msg(fd >= 0, "open console: %s", err ? err->message : "");
    for (int i = 0; i < 500 && !strstr(buf, "HYVE-GUEST up"); i++) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (n > 0)
            got += n;
        else
            g_usleep(20000);
    }
    close(fd);
    ck_assert_msg(strstr(buf, "HYVE-GUEST up"), "console read '%s'", buf);

    /* the spinning guest uses CPU time */
    for (int i = 0; i < 100; i++) {
        hyve_domain_obj_get_info(obj, &info);
        if (info.cpu_time_ns > 0)
            break;
        g_usleep(20000);
    }
    ck_assert_msg(info.cpu_time_ns > 0, "cpu time %" G_GUINT64_FORMAT, info.cpu_time_ns);

    clear_events();
    ck_assert_msg(hyve_driver_domain_destroy(drv, obj, 0, &err), "destroy: %s",
                  err ? err->message : "");
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "destroyed");
    assert_events("vm1:5/1@-1", "destroy");
    ck_assert_int_eq(obj->id, -1);
    ck_assert_msg(pid_gone(pid), "runner %d still there", pid);
    ck_assert(!run_file_exists("vm1", "conf") && !run_file_exists("vm1", "pid") &&
              !run_file_exists("vm1", "xml") && !run_file_exists("vm1", "ctl"));
    g_clear_pointer(&xml, g_free);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(!strstr(xml, "/dev/pts/") && !strstr(xml, " id="), "stopped XML:\n%s", xml);
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* A guest that ends on its own, and what the driver makes of it. */
static const struct {
    const char *name;
    const char *action;
    const char *extra;
    int state, reason;          /* final, when @loops is FALSE */
    const char *events;         /* exact (or the prefix when @loops) */
    gboolean loops;             /* restarts forever: destroyed by the test */
} exits[] = {
    { "poweroff", ACT_POWEROFF, NULL, 5, 1, "x:2/0@1 x:6/0@1 x:6/1@1 x:5/0@-1", FALSE },
    { "reset-destroy", ACT_RESET, "<on_reboot>destroy</on_reboot>", 5, 1,
      "x:2/0@1 x:6/0@1 x:6/1@1 x:5/0@-1", FALSE },
    { "poweroff-restart", ACT_POWEROFF, "<on_poweroff>restart</on_poweroff>", 0, 0,
      "x:2/0@1 x:6/0@1 x:6/1@1 x:2/0@1 x:6/0@1 x:6/1@1 x:2/0@1", TRUE },
    { "reset-restart", ACT_RESET, NULL, 0, 0, "x:2/0@1 x:REBOOT@1 x:REBOOT@1", TRUE },
};

START_TEST(test_guest_exit)
{
    g_autoptr(HyveDomainObj) obj = define_guest("x", exits[_i].action, exits[_i].extra);
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL;

    clear_events();
    start_ok(obj, 0);
    if (!exits[_i].loops) {
        wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, exits[_i].reason, 30, exits[_i].name);
        got = events_str();
        ck_assert_msg(g_str_equal(got, exits[_i].events), "%s: events\n  got:  %s\n  want: %s",
                      exits[_i].name, got, exits[_i].events);
        ck_assert_msg(!run_file_exists("x", "xml") && !run_file_exists("x", "pid"),
                      "%s: run files left", exits[_i].name);
    } else {
        for (int i = 0; i < 1500; i++) {
            g_free(got);
            got = events_str();
            if (g_str_has_prefix(got, exits[_i].events))
                break;
            g_usleep(20000);
        }
        ck_assert_msg(g_str_has_prefix(got, exits[_i].events),
                      "%s: events\n  got:  %s\n  want: %s...", exits[_i].name, got,
                      exits[_i].events);
        ck_assert_int_eq(obj->id, 1);
        ck_assert_msg(hyve_driver_domain_destroy(drv, obj, 0, &err), "%s: destroy: %s",
                      exits[_i].name, err ? err->message : "");
        assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, exits[_i].name);
    }
    ck_assert_msg(live_runners() == 0, "%s: runners left", exits[_i].name);
}
END_TEST

START_TEST(test_runner_killed)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    pid_t pid;

    start_ok(obj, 0);
    clear_events();
    pid = runner_pid(obj);
    ck_assert(kill(pid, SIGKILL) == 0);
    wait_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 3, 20, "killed");
    assert_events("vm1:5/5@-1", "killed");
    ck_assert(pid_gone(pid));
    ck_assert(!run_file_exists("vm1", "xml"));
}
END_TEST



/* Operations on the wrong state, unsupported flags and modes. */
START_TEST(test_wrong_state)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    GError *err = NULL;

#define TRY(call, ctx, code, msg) \
    do { gboolean ok_ = (call); assert_fails(ok_, err, ctx, code, msg); g_clear_error(&err); } while (0)
    TRY(hyve_driver_domain_destroy(drv, obj, 0, &err), "destroy inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_shutdown(drv, obj, 0, &err), "shutdown inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_reboot(drv, obj, 0, &err), "reboot inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_reset(drv, obj, 0, &err), "reset inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_suspend(drv, obj, &err), "suspend inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_resume(drv, obj, &err), "resume inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_open_console(drv, obj, NULL, &err) >= 0, "console inactive", 55,
        "domain is not running");
    TRY(hyve_driver_domain_start(drv, obj, HYVE_DOMAIN_START_AUTODESTROY, &err), "autodestroy",
        8, "unsupported flags (0x2) in function hyve_driver_domain_start");
    TRY(hyve_driver_domain_destroy(drv, obj, 4, &err), "destroy flags", 8,
        "unsupported flags (0x4) in function hyve_driver_domain_destroy");
    TRY(hyve_driver_domain_shutdown(drv, obj, HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT, &err),
        "agent mode", 3, "shutdown mode 'agent' is not supported: bhyve domains only have the "
        "ACPI power button (mode 'acpi')");
    TRY(hyve_driver_domain_reboot(drv, obj, HYVE_DOMAIN_SHUTDOWN_INITCTL, &err),
        "initctl mode", 3, "reboot mode 'initctl' is not supported: bhyve domains only have "
        "the ACPI power button (mode 'acpi')");

    start_ok(obj, 0);
    TRY(hyve_driver_domain_start(drv, obj, 0, &err), "start running", 55,
        "domain is already running");
    /* resume of a running domain: nothing to do, no event (libvirt) */
    clear_events();
    ck_assert_msg(hyve_driver_domain_resume(drv, obj, &err), "resume running: %s",
                  err ? err->message : "");
    assert_events("", "resume running");
    assert_state(obj, 1, 1, "resume running");
    TRY(hyve_driver_domain_open_console(drv, obj, "serial1", &err) >= 0, "console serial1", 1,
        "cannot find character device serial1");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    TRY(hyve_driver_domain_shutdown(drv, obj, 0, &err), "shutdown paused", 55,
        "domain is not running");
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
#undef TRY
}
END_TEST

/* The power button of a guest that never enables it stays pending: the
 * domain keeps running; destroy ends it. */
START_TEST(test_shutdown_pending)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;

    start_ok(obj, 0);
    clear_events();
    ck_assert_msg(hyve_driver_domain_shutdown(drv, obj, HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
                                              &err), "shutdown: %s", err ? err->message : "");
    ck_assert_msg(hyve_driver_domain_reboot(drv, obj, 0, &err), "reboot: %s",
                  err ? err->message : "");
    g_usleep(300000);
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "after the button");
    assert_events("", "button pressed");
    ck_assert(hyve_driver_domain_destroy(drv, obj, HYVE_DOMAIN_DESTROY_GRACEFUL, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_SHUTOFF, 2, "destroyed");
    assert_events("vm1:5/1@-1", "graceful destroy");
}
END_TEST

START_TEST(test_pause_resume)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *status = NULL, *path = g_strdup_printf("%s/run/vm1.xml", tmpdir);

    clear_events();
    start_ok(obj, HYVE_DOMAIN_START_PAUSED);
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "started paused");
    ck_assert(g_file_get_contents(path, &status, NULL, NULL));
    ck_assert_msg(g_str_has_prefix(status, "<domstatus state='3' reason='1' pid='"),
                  "status file: %s", status);
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 5, "resumed");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "suspended");
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));      /* no-op */
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    assert_events("vm1:2/0@1 vm1:3/0@1 vm1:4/0@1 vm1:3/0@1 vm1:4/0@1", "pause/resume");
    g_free(status);
    ck_assert(g_file_get_contents(path, &status, NULL, NULL));
    ck_assert_msg(g_str_has_prefix(status, "<domstatus state='1' reason='5' pid='"),
                  "status file: %s", status);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
}
END_TEST

START_TEST(test_reset)
{
    g_autoptr(HyveDomainObj) obj = define_guest("vm1", ACT_SPIN, NULL);
    g_autoptr(GError) err = NULL;
    pid_t pid1, pid2;

    start_ok(obj, 0);
    pid1 = runner_pid(obj);
    clear_events();
    ck_assert_msg(hyve_driver_domain_reset(drv, obj, 0, &err), "reset: %s",
                  err ? err->message : "");
    pid2 = runner_pid(obj);
    ck_assert_msg(pid2 > 0 && pid2 != pid1, "new runner %d (was %d)", pid2, pid1);
    ck_assert(pid_gone(pid1));
    assert_state(obj, HYVE_DOMAIN_STATE_RUNNING, 1, "reset");
    ck_assert_int_eq(obj->id, 1);
    assert_events("vm1:REBOOT@1", "reset");

    /* a paused domain stays paused through a reset */
    ck_assert(hyve_driver_domain_suspend(drv, obj, &err));
    clear_events();
    ck_assert_msg(hyve_driver_domain_reset(drv, obj, 0, &err), "reset paused: %s",
                  err ? err->message : "");
    assert_state(obj, HYVE_DOMAIN_STATE_PAUSED, 1, "reset while paused");
    assert_events("vm1:REBOOT@1", "reset paused");
    ck_assert(pid_gone(pid2));
    pid2 = runner_pid(obj);
    ck_assert(hyve_driver_domain_resume(drv, obj, &err));
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert(pid_gone(pid2));
}
END_TEST


static const struct {
    const char *name;
    gboolean reboot;            /* virsh reboot instead of shutdown */
    gboolean reattach;          /* the driver is replaced in between */
    const char *extra;
    const char *events;
    int state, reason;
} buttons[] = {
    { "shutdown", FALSE, FALSE, NULL, "b:6/0@1 b:6/2@1 b:5/0@-1", 5, 1 },
    { "shutdown-reattached", FALSE, TRUE, NULL, "b:6/0@1 b:6/2@1 b:5/0@-1", 5, 1 },
    { "reboot", TRUE, FALSE, NULL, "b:REBOOT@1", 1, 1 },
    { "reboot-reattached", TRUE, TRUE, NULL, "b:REBOOT@1", 1, 1 },
    { "shutdown-restart", FALSE, FALSE, "<on_poweroff>restart</on_poweroff>",
      "b:6/0@1 b:6/2@1 b:2/0@1", 1, 1 },
};

START_TEST(test_power_button)
{
    g_autoptr(HyveDomainObj) obj = define_guest("b", ACT_SPIN, buttons[_i].extra);
    g_autoptr(GError) err = NULL;
    const char *name = buttons[_i].name;
    pid_t pid;

    start_ok(obj, 0);
    pid = runner_pid(obj);
    if (buttons[_i].reboot)
        ck_assert_msg(hyve_driver_domain_reboot(drv, obj, 0, &err), "%s: %s", name,
                      err ? err->message : "");
    else
        ck_assert_msg(hyve_driver_domain_shutdown(drv, obj, 0, &err), "%s: %s", name,
                      err ? err->message : "");
    if (buttons[_i].reattach) {
        g_clear_pointer(&obj, hyve_domain_obj_unref);
        hyve_driver_free(drv);
        drv = open_driver();
        obj = hyve_driver_lookup_by_name(drv, "b", &err);
        ck_assert_msg(runner_pid(obj) == pid, "%s: reattached", name);
    }
    clear_events();
    guest_powers_off(obj);
    ck_assert_msg(pid_gone(pid), "%s: old runner gone", name);
    wait_state(obj, buttons[_i].state, buttons[_i].reason, 20, name);
    /* a restart: until the new runner is published */
    for (int i = 0; i < 500 && hyve_domain_obj_is_active(obj) &&
         (runner_pid(obj) == pid || runner_pid(obj) == 0); i++)
        g_usleep(20000);
    hyve_driver_flush_events(drv);
    {
        g_autofree char *got = events_str();

        ck_assert_msg(g_str_equal(got, buttons[_i].events), "%s: events\n  got:  %s\n  want: %s",
                      name, got, buttons[_i].events);
    }
    if (hyve_domain_obj_is_active(obj)) {
        ck_assert_int_eq(obj->id, 1);
        ck_assert_msg(runner_pid(obj) != pid, "%s: a new runner", name);
        /* the next power-off is the guest's own again */
        clear_events();
        guest_powers_off(obj);
        if (buttons[_i].extra) {
            for (int i = 0; i < 250; i++) {
                g_autofree char *now = events_str();

                if (g_str_has_suffix(now, "b:2/0@1"))
                    break;
                g_usleep(20000);
            }
            assert_events("b:6/0@1 b:6/1@1 b:2/0@1", name);
            ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
        } else {
            wait_state(obj, 5, 1, 20, name);
            assert_events("b:6/0@1 b:6/1@1 b:5/0@-1", name);
        }
    }
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST


int
main(int argc, char **argv)
{
    Suite *s = suite_create("domain-process");
    TCase *tc = process_tcase_new(s);

    tcase_add_test(tc, test_start_destroy);
    tcase_add_loop_test(tc, test_guest_exit, 0, G_N_ELEMENTS(exits));
    tcase_add_test(tc, test_runner_killed);
    tcase_add_test(tc, test_wrong_state);
    tcase_add_test(tc, test_shutdown_pending);
    tcase_add_test(tc, test_pause_resume);
    tcase_add_test(tc, test_reset);
    tcase_add_loop_test(tc, test_power_button, 0, G_N_ELEMENTS(buttons));
    return process_test_main(argc, argv, s);
}
