/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_untracked.c: a live bhyve-runner is never left untracked,
 * with the real runner: status file corrupt or missing at reattach (the
 * runner named by the pid file is killed), a status file that cannot be
 * saved fails the start, a start never takes over the files of a live
 * runner of the same domain (another driver's).
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
#include "test_domain_process.h"

/* What happens to the status file while no driver runs. */
static const struct {
    const char *what;
    gboolean remove;            /* else truncated */
} damage[] = {
    { "truncated status file", FALSE },
    { "no status file (daemon killed during the start)", TRUE },
};

START_TEST(test_unreadable_status)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autofree char *status = g_strdup_printf("%s/run/a.xml", tmpdir);
    g_autofree char *text = NULL;
    gsize len = 0;
    pid_t pid;

    start_ok(a, 0);
    pid = runner_pid(a);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    if (damage[_i].remove) {
        ck_assert(unlink(status) == 0);
    } else {
        ck_assert(g_file_get_contents(status, &text, &len, NULL));
        ck_assert(g_file_set_contents(status, text, (gssize)len / 2, NULL));
    }
    ck_assert_msg(kill(pid, 0) == 0, "%s: runner alive", damage[_i].what);
    drv = open_driver();
    ck_assert_msg(pid_gone(pid), "%s: untracked runner killed", damage[_i].what);
    ck_assert_uint_eq(live_runners(), 0);
    a = hyve_driver_lookup_by_name(drv, "a", NULL);
    ck_assert(a);
    ck_assert_msg(!hyve_domain_obj_is_active(a), "%s: a inactive", damage[_i].what);
    for (const char *const *e = (const char *const[]){ "pid", "conf", "xml", "ctl", NULL }; *e;
         e++)
        ck_assert_msg(!run_file_exists("a", *e), "%s: a.%s removed", damage[_i].what, *e);
    /* and it starts again */
    start_ok(a, 0);
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
}
END_TEST

/* A status file that cannot be written (here its temporary file's name
 * is taken by a directory): the start fails and no runner is left. */
START_TEST(test_status_save_fails)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autofree char *blocker = g_strdup_printf("%s/run/a.xml.new", tmpdir);
    g_autoptr(GError) err = NULL;

    ck_assert(g_mkdir_with_parents(blocker, 0700) == 0);
    clear_events();
    ck_assert_msg(!hyve_driver_domain_start(drv, a, 0, &err), "start fails");
    ck_assert_msg(err && strstr(err->message, "a.xml.new"), "error names the file: %s",
                  err ? err->message : "");
    assert_state(a, HYVE_DOMAIN_STATE_SHUTOFF, HYVE_REASON_SHUTOFF_FAILED, "save failed");
    ck_assert_uint_eq(live_runners(), 0);
    ck_assert_msg(!run_file_exists("a", "pid") && !run_file_exists("a", "conf"),
                  "run files removed");
    ck_assert(rmdir(blocker) == 0);
    start_ok(a, 0);
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
}
END_TEST

/* Two drivers on the same directories: the second one's start of a domain
 * the first runs is refused and leaves the runner and its files alone. */
START_TEST(test_start_refused_live_runner)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autoptr(HyveDomainObj) a2 = NULL;
    g_autoptr(GError) err = NULL;
    HyveDriver *other = open_driver();
    g_autofree char *reply = NULL;
    g_autofree char *ctl = g_strdup_printf("%s/run/a.ctl", tmpdir);
    pid_t pid;

    a2 = hyve_driver_lookup_by_name(other, "a", NULL);
    ck_assert(a2);
    start_ok(a, 0);
    pid = runner_pid(a);
    ck_assert_msg(!hyve_driver_domain_start(other, a2, 0, &err), "second start refused");
    ck_assert_msg(err && err->code == HYVE_ERR_OPERATION_FAILED && strstr(err->message,
                  "is still running"), "error: %s", err ? err->message : "");
    ck_assert_uint_eq(live_runners(), 1);
    ck_assert_msg(kill(pid, 0) == 0, "first runner alive");
    reply = hyve_runner_control(ctl, "a", "status", 5000, NULL);
    ck_assert_msg(reply && g_str_equal(reply, "running"), "its control socket answers: %s",
                  reply ? reply : "(nothing)");
    g_clear_pointer(&a2, hyve_domain_obj_unref);
    hyve_driver_free(other);
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* The runner paused or resumed behind the daemon's back (its control
 * socket): a reattach takes the runner's state, not the status file's. */
static const struct {
    guint start_flags;
    const char *request;
    int state, reason;
} behind[] = {
    { 0, "pause", HYVE_DOMAIN_STATE_PAUSED, HYVE_REASON_PAUSED_USER },
    { HYVE_DOMAIN_START_PAUSED, "resume", HYVE_DOMAIN_STATE_RUNNING,
      HYVE_REASON_RUNNING_UNPAUSED },
};

START_TEST(test_reattach_real_state)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autofree char *ctl = g_strdup_printf("%s/run/a.ctl", tmpdir);
    g_autofree char *reply = NULL;
    g_autoptr(GError) err = NULL;
    pid_t pid;

    start_ok(a, behind[_i].start_flags);
    pid = runner_pid(a);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    reply = hyve_runner_control(ctl, "a", behind[_i].request, 5000, &err);
    ck_assert_msg(reply, "case %d: %s: %s", _i, behind[_i].request, err ? err->message : "");
    drv = open_driver();
    a = hyve_driver_lookup_by_name(drv, "a", NULL);
    ck_assert(a && runner_pid(a) == pid);
    assert_state(a, behind[_i].state, behind[_i].reason, behind[_i].request);
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
}
END_TEST

/* A runner that does not answer at reattach (its control socket moved
 * away) stays tracked; its pty paths come from the status file, or, when
 * the file has none, from the runner at the first console open. */
START_TEST(test_reattach_silent_runner)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autofree char *ctl = g_strdup_printf("%s/run/a.ctl", tmpdir);
    g_autofree char *hidden = g_strdup_printf("%s/run/a.ctl.hidden", tmpdir);
    g_autofree char *status = g_strdup_printf("%s/run/a.xml", tmpdir);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    gboolean in_file = _i == 0;
    pid_t pid;
    int fd;

    start_ok(a, 0);
    pid = runner_pid(a);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    if (!in_file) {
        g_autofree char *text = NULL, *out = NULL;
        g_autoptr(GRegex) re = g_regex_new("  <pty [^>]*/>\n", 0, 0, NULL);

        ck_assert(g_file_get_contents(status, &text, NULL, NULL));
        ck_assert_msg(strstr(text, "<pty serial='0' path='/dev/pts/"), "pty saved:\n%s", text);
        out = g_regex_replace_literal(re, text, -1, 0, "", 0, NULL);
        ck_assert(g_file_set_contents(status, out, -1, NULL));
    }
    ck_assert(rename(ctl, hidden) == 0);
    drv = open_driver();
    ck_assert(rename(hidden, ctl) == 0);
    a = hyve_driver_lookup_by_name(drv, "a", NULL);
    ck_assert_msg(a && hyve_domain_obj_is_active(a) && runner_pid(a) == pid,
                  "case %d: silent runner tracked", _i);
    xml = hyve_domain_obj_get_xml(a, 0, NULL);
    ck_assert_msg((strstr(xml, "<source path='/dev/pts/") != NULL) == in_file,
                  "case %d: pty path %s the status file:\n%s", _i, in_file ? "from" : "not in",
                  xml);
    fd = hyve_driver_domain_open_console(drv, a, NULL, &err);
    ck_assert_msg(fd >= 0, "case %d: console: %s", _i, err ? err->message : "");
    close(fd);
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
}
END_TEST

/* A copy of a's status file under another name (with a wrong pid) never
 * touches a's runner or files. */
START_TEST(test_stray_status_copy)
{
    g_autoptr(HyveDomainObj) a = define_guest("a", ACT_SPIN, NULL);
    g_autofree char *status = g_strdup_printf("%s/run/a.xml", tmpdir);
    g_autofree char *copy = g_strdup_printf("%s/run/.a-copy.xml", tmpdir);
    g_autofree char *text = NULL, *out = NULL;
    g_autoptr(GRegex) re = g_regex_new(" pid='[0-9]+'", 0, 0, NULL);
    pid_t pid;

    start_ok(a, 0);
    pid = runner_pid(a);
    g_clear_pointer(&a, hyve_domain_obj_unref);
    g_clear_pointer(&drv, hyve_driver_free);
    ck_assert(g_file_get_contents(status, &text, NULL, NULL));
    out = g_regex_replace_literal(re, text, -1, 0, " pid='1'", 0, NULL);
    ck_assert(g_file_set_contents(copy, out, -1, NULL));
    drv = open_driver();
    a = hyve_driver_lookup_by_name(drv, "a", NULL);
    ck_assert_msg(a && hyve_domain_obj_is_active(a) && runner_pid(a) == pid, "a reattached");
    ck_assert_msg(run_file_exists("a", "xml") && run_file_exists("a", "conf") &&
                  run_file_exists("a", "pid"), "a's files stay");
    ck_assert(hyve_driver_domain_destroy(drv, a, 0, NULL));
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s = suite_create("domain-untracked");
    TCase *tc = process_tcase_new(s);

    tcase_add_loop_test(tc, test_unreadable_status, 0, G_N_ELEMENTS(damage));
    tcase_add_test(tc, test_status_save_fails);
    tcase_add_test(tc, test_start_refused_live_runner);
    tcase_add_loop_test(tc, test_reattach_real_state, 0, G_N_ELEMENTS(behind));
    tcase_add_loop_test(tc, test_reattach_silent_runner, 0, 2);
    tcase_add_test(tc, test_stray_status_copy);
    return process_test_main(argc, argv, s);
}
