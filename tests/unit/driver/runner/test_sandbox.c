/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sandbox.c: the daemon side of the least-privilege runner (issue 7):
 * the runner user's ids (hyve_process_runner_ids) and the sandbox keys a
 * runner gets (hyve_process_sandbox_fill), the checks of the pty paths a
 * runner reports (hyve_process_pty.h). The cgroups: test_cgroup.c; the
 * real runner: tests/integration/test_sandbox.py.
 */
#include "hyve_error.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve_process.h"
#include "hyve_process_pty.h"
#include "../test_driver_common.h"

/* ---- runner ids ------------------------------------------------------------ */

START_TEST(test_ids_root)
{
    g_autoptr(GError) err = NULL;
    guint32 uid = 77, gid = 77;

    ck_assert_msg(hyve_process_runner_ids("root", &uid, &gid, &err), "root: %s",
                  err ? err->message : "");
    ck_assert_msg(uid == 0 && gid == 0, "root: uid %u gid %u", uid, gid);
}
END_TEST

START_TEST(test_ids_missing)
{
    g_autoptr(GError) err = NULL;
    guint32 uid = 77, gid = 77;

    ck_assert(!hyve_process_runner_ids("hyve-no-such-user", &uid, &gid, &err));
    test_check_error_from("missing user", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_INTERNAL_ERROR,
                          "internal error: runner user 'hyve-no-such-user' does not exist "
                          "(runner_user in virtbhyved.conf)");
    ck_assert_msg(uid == 77 && gid == 77, "missing user: ids changed to %u/%u", uid, gid);
}
END_TEST

/* hyve-runner (tools/install-deps creates it): its ids as getent says. */
START_TEST(test_ids_runner_user)
{
    const char *argv[] = { "getent", "passwd", "hyve-runner", NULL };
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) f = NULL;
    guint32 uid = 0, gid = 0;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                      NULL, &status, NULL) || status != 0) {
        ck_assert(!hyve_process_runner_ids("hyve-runner", &uid, &gid, &err));
        return;
    }
    f = g_strsplit(out, ":", -1);
    ck_assert_msg(g_strv_length(f) >= 4, "getent output '%s'", out);
    ck_assert_msg(hyve_process_runner_ids("hyve-runner", &uid, &gid, &err), "%s",
                  err ? err->message : "");
    ck_assert_uint_eq(uid, g_ascii_strtoull(f[2], NULL, 10));
    ck_assert_uint_eq(gid, g_ascii_strtoull(f[3], NULL, 10));
    ck_assert_uint_ne(uid, 0);
}
END_TEST

/* sandbox=true always; ids only for a root daemon with a runner_user. */
static const struct {
    const char *user;
    uid_t euid;
    gboolean ok, ids;
} fill_cases[] = {
    { NULL, 0, TRUE, FALSE },
    { "", 0, TRUE, FALSE },
    { "root", 0, FALSE, TRUE },    /* uid 0: refused, as the runner would */
    { "root", 1000, TRUE, FALSE },
    { "hyve-no-such-user", 1000, TRUE, FALSE },
    { "hyve-no-such-user", 0, FALSE, TRUE },
};

START_TEST(test_fill)
{
    HyveRunnerInput in = { .sandbox_uid = 77, .sandbox_gid = 77 };
    g_autoptr(GError) err = NULL;
    gboolean ok = hyve_process_sandbox_fill(&in, fill_cases[_i].user, fill_cases[_i].euid, &err);

    ck_assert_msg(ok == fill_cases[_i].ok, "case %d (%s, euid %u): %s", _i,
                  fill_cases[_i].user ? fill_cases[_i].user : "NULL",
                  (unsigned)fill_cases[_i].euid, err ? err->message : "succeeded");
    ck_assert_msg(in.sandbox, "case %d: sandbox not set", _i);
    ck_assert_msg(in.sandbox_ids == fill_cases[_i].ids, "case %d: sandbox_ids %d", _i,
                  in.sandbox_ids);
    if (!ok && in.sandbox_ids && fill_cases[_i].user && g_str_equal(fill_cases[_i].user, "root"))
        test_check_error_from("root", err, HYVE_FROM_BHYVE, "BHYVE", HYVE_ERR_INTERNAL_ERROR,
                              "internal error: runner user 'root' has uid 0 gid 0: runners "
                              "must not run as root (runner_user = \"\" in virtbhyved.conf "
                              "keeps the daemon's user)");
}
END_TEST

/* ---- pty paths reported by a runner ------------------------------------------ */

static const struct {
    const char *path;
    gboolean ok;
} pty_cases[] = {
    { "/dev/pts/0", TRUE },
    { "/dev/pts/123456789", TRUE },
    { "/dev/pts/1234567890", FALSE },
    { "/dev/pts/", FALSE },
    { "/dev/pts/ptmx", FALSE },
    { "/dev/pts/1/", FALSE },
    { "/dev/pts/-1", FALSE },
    { "/dev/pts/+1", FALSE },
    { "/dev/pts/1 ", FALSE },
    { "/dev/pts/../../etc/shadow", FALSE },
    { "/dev/pts/0/../../../etc/shadow", FALSE },
    { "/dev//pts/0", FALSE },
    { "/dev/tty0", FALSE },
    { "/dev/sda", FALSE },
    { "/etc/shadow", FALSE },
    { "dev/pts/0", FALSE },
    { "", FALSE },
};

START_TEST(test_pty_path)
{
    const char *p = pty_cases[_i].path;
    g_autoptr(GError) err = NULL;
    g_autofree char *want = NULL;

    ck_assert_msg(hyve_process_pty_path_ok(p) == pty_cases[_i].ok, "pty case '%s': %d", p,
                  !pty_cases[_i].ok);
    if (pty_cases[_i].ok)
        return;
    /* never opened: refused before */
    ck_assert_msg(hyve_process_pty_open(p, getpid(), "d1", &err) < 0, "pty case '%s' opened",
                  p);
    want = g_strdup_printf("internal error: runner reported an invalid console path '%s' for "
                           "domain d1 (not /dev/pts/N)", p);
    test_check_error_from(p, err, HYVE_FROM_BHYVE, "BHYVE", HYVE_ERR_INTERNAL_ERROR, want);
}
END_TEST

/* A real pty whose master the given process holds opens; the same pty
 * named for a process that holds no master (a child that closed it), a
 * pts number nobody holds or a wrong pid are refused before any open. */
START_TEST(test_pty_open)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *want = NULL;
    int master = posix_openpt(O_RDWR | O_NOCTTY), fd, sync[2];
    char name[64], c;
    pid_t child;

    ck_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    ck_assert(ptsname_r(master, name, sizeof(name)) == 0);
    ck_assert_msg(hyve_process_pty_path_ok(name), "ptsname %s", name);
    ck_assert(hyve_process_pty_held_by(getpid(), g_ascii_strtoull(name + 9, NULL, 10)));
    fd = hyve_process_pty_open(name, getpid(), "d1", &err);
    ck_assert_msg(fd >= 0, "open %s: %s", name, err ? err->message : "");
    ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);

    /* a child that holds no pty master (it closed the inherited one) */
    ck_assert(pipe(sync) == 0);
    child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        close(master);
        close(sync[1]);
        (void)!read(sync[0], &c, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(sync[0]);
    /* wait until the child closed the master */
    for (int i = 0; i < 500 && hyve_process_pty_held_by(child, g_ascii_strtoull(name + 9, NULL,
                                                                                  10)); i++)
        g_usleep(10000);
    fd = hyve_process_pty_open(name, child, "d1", &err);
    close(sync[1]);
    waitpid(child, NULL, 0);
    ck_assert_msg(fd < 0, "a pty the child does not hold opened");
    want = g_strdup_printf("internal error: runner reported an invalid console path '%s' for "
                           "domain d1 (the runner does not hold its master)", name);
    test_check_error_from("child holds nothing", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_INTERNAL_ERROR, want);
    g_clear_error(&err);

    /* the child is gone: no such process */
    fd = hyve_process_pty_open(name, child, "d1", &err);
    ck_assert_msg(fd < 0, "a pty of a dead pid opened");
    test_check_error_from("dead pid", err, HYVE_FROM_BHYVE, "BHYVE", HYVE_ERR_INTERNAL_ERROR,
                          want);
    g_clear_error(&err);
    close(master);

    /* the master is closed now: nobody holds it */
    fd = hyve_process_pty_open(name, getpid(), "d1", &err);
    ck_assert_msg(fd < 0, "a pty whose master is closed opened");
    test_check_error_from("closed master", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_INTERNAL_ERROR, want);
    g_clear_error(&err);
    fd = hyve_process_pty_open("/dev/pts/999999999", getpid(), "d1", &err);
    ck_assert_msg(fd < 0, "a missing pts opened");
    test_check_error_from("missing pts", err, HYVE_FROM_BHYVE, "BHYVE", HYVE_ERR_INTERNAL_ERROR,
                          "internal error: runner reported an invalid console path "
                          "'/dev/pts/999999999' for domain d1 (the runner does not hold its "
                          "master)");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("driver-sandbox");
    TCase *tc = tcase_create("sandbox");

    tcase_add_test(tc, test_ids_root);
    tcase_add_test(tc, test_ids_missing);
    tcase_add_test(tc, test_ids_runner_user);
    tcase_add_loop_test(tc, test_fill, 0, G_N_ELEMENTS(fill_cases));
    tcase_add_loop_test(tc, test_pty_path, 0, G_N_ELEMENTS(pty_cases));
    tcase_add_test(tc, test_pty_open);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
