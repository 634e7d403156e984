/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_runner_exec.c: hyve_process_exec_runner (driver/hyve_process_sandbox.c),
 * the fork that holds the runner until the daemon placed it (machined's
 * scope or its cgroup) and then executes it. A stand-in runner (this
 * program, run as "-c CONFIG") records what it got: its arguments,
 * descriptors, directory, session and signal state. Checked: the placement runs while the child
 * still is the daemon's image (held); the runner gets /dev/null, the log
 * on 1 and 2, the taps on 3, 4 and nothing else; while held, the child
 * already dropped every other descriptor of the daemon; a daemon that
 * gives up (closes its end without the go byte) makes the held child exit
 * 127 without executing; a placement that fails or a runner that cannot be
 * executed fails the start with the reason and leaves no child behind.
 */
#include "hyve-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hyve_driver.h"
#include "hyve_process.h"
#include "test_common.h"

static char *tmp;
static const char *self_argv0;    /* the cmdline of a child not yet executed */

/* The stand-in runner: this program run as "-c CONFIG" writes what it got
 * to CONFIG.seen: its arguments, pid, directory, session, blocked and
 * ignored signals, then one "fd N TARGET" line per open descriptor. */
static void G_GNUC_NORETURN
stand_in(const char *config)
{
    g_autofree char *out = g_strconcat(config, ".seen", NULL);
    g_autofree char *cwd = g_file_read_link("/proc/self/cwd", NULL);
    g_autofree char *status = NULL;
    g_autoptr(GString) seen = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    GDir *dir;
    const char *name;

    g_string_append_printf(seen, "args -c %s\npid %d\ncwd %s\nsid %d\n", config, (int)getpid(),
                           cwd, (int)getsid(0));
    g_file_get_contents("/proc/self/status", &status, NULL, NULL);
    lines = g_strsplit(status ? status : "", "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (g_str_has_prefix(lines[i], "SigBlk:") || g_str_has_prefix(lines[i], "SigIgn:"))
            g_string_append_printf(seen, "%s\n", lines[i]);
    /* GDir's own descriptor (a /proc directory) is left out */
    dir = g_dir_open("/proc/self/fd", 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename("/proc/self/fd", name, NULL);
        g_autofree char *target = g_file_read_link(path, NULL);

        if (target && !g_str_has_prefix(target, "/proc/"))
            g_string_append_printf(seen, "fd %s %s\n", name, target);
    }
    if (dir)
        g_dir_close(dir);
    /* _exit: the status is the stand-in's, not that of a sanitizer's
     * leak check of this test program at exit */
    _exit(g_file_set_contents(out, seen->str, -1, NULL) ? 0 : 1);
}

typedef struct {
    const char *name;
    gboolean runner_exists;
    gboolean place_ok;
    gboolean give_up;           /* place() closes the daemon's go pipe end itself */
    const char *error;          /* NULL: the start succeeds */
} ExecCase;

static const ExecCase cases[] = {
    { "placed and executed", TRUE, TRUE, FALSE, NULL },
    { "placement fails", TRUE, FALSE, FALSE, "placement refused" },
    { "runner missing", FALSE, TRUE, FALSE, "No such file or directory" },
    { "daemon gives up", TRUE, FALSE, TRUE, "placement refused" },
};

typedef struct {
    gboolean ok;
    gboolean give_up;
    int test_w[2];              /* the test's own tap pipe write ends */
    pid_t pid;
    char *cmdline;              /* /proc/<pid>/cmdline while placed (NUL-separated) */
    char *held_fds;             /* the held child's descriptors from 3 up */
    guint n_held;
    int gave_up_status;         /* give_up: the child's exit code (-1: none) */
} PlaceSeen;

/* The held child's descriptors from 3 up ("N TARGET;" each), and their count. */
static char *
held_fds(pid_t pid, guint *n)
{
    g_autofree char *dirpath = g_strdup_printf("/proc/%d/fd", (int)pid);
    GString *out = g_string_new(NULL);
    GDir *dir = g_dir_open(dirpath, 0, NULL);
    const char *name;

    *n = 0;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(dirpath, name, NULL);
        g_autofree char *target = g_file_read_link(path, NULL);

        if (atoi(name) < 3)
            continue;
        g_string_append_printf(out, "%s %s; ", name, target ? target : "?");
        (*n)++;
    }
    if (dir)
        g_dir_close(dir);
    return g_string_free(out, FALSE);
}

/* Closes the daemon's end of @pid's go pipe (a write-only pipe of ours
 * with the inode of one of the child's pipes that is not a test tap). */
static gboolean
close_go_pipe(pid_t pid, const int *test_w)
{
    for (int fd = 3; fd < 1024; fd++) {
        g_autofree char *mine = g_strdup_printf("/proc/self/fd/%d", fd);
        g_autofree char *target = g_file_read_link(mine, NULL);
        int fl = fcntl(fd, F_GETFL);

        if (!target || fl < 0 || (fl & O_ACCMODE) != O_WRONLY || fd == test_w[0] ||
            fd == test_w[1] || !g_str_has_prefix(target, "pipe:"))
            continue;
        for (int cfd = 3; cfd < 64; cfd++) {
            g_autofree char *theirs = g_strdup_printf("/proc/%d/fd/%d", (int)pid, cfd);
            g_autofree char *ct = g_file_read_link(theirs, NULL);

            if (ct && g_str_equal(ct, target)) {
                close(fd);
                return TRUE;
            }
        }
    }
    return FALSE;
}

static gboolean
place(pid_t pid, gpointer data, GError **error)
{
    PlaceSeen *seen = data;
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    gsize len = 0;

    seen->pid = pid;
    /* give an exec that did not wait for us the time to happen */
    g_usleep(100000);
    g_file_get_contents(path, &seen->cmdline, &len, NULL);
    /* held: go_r, err_w, /dev/null, the log and the two taps, nothing
     * else of ours (the fd without O_CLOEXEC, the tap write ends) */
    for (int i = 0; i < 500; i++) {
        g_free(seen->held_fds);
        seen->held_fds = held_fds(pid, &seen->n_held);
        if (seen->n_held == 6)
            break;
        g_usleep(10000);
    }
    seen->gave_up_status = -1;
    if (seen->give_up && close_go_pipe(pid, seen->test_w)) {
        siginfo_t info = { 0 };

        for (int i = 0; i < 500 && info.si_pid == 0; i++) {
            if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
                break;
            if (info.si_pid == 0)
                g_usleep(10000);
        }
        if (info.si_pid == pid && info.si_code == CLD_EXITED)
            seen->gave_up_status = info.si_status;
    }
    if (!seen->ok)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "placement refused");
    return seen->ok;
}

static guint64
inode_of(int fd)
{
    struct stat st;

    ck_assert_int_eq(fstat(fd, &st), 0);
    return st.st_ino;
}

static void
check_seen(const char *what, const HyveDomainRun *run, const char *log, guint64 tap0,
           guint64 tap1)
{
    g_autofree char *seen_path = g_strconcat(run->paths.config, ".seen", NULL);
    g_autofree char *text = NULL, *want_args = NULL, *want_pid = NULL, *want_sid = NULL;
    g_autofree char *pipe0 = g_strdup_printf("pipe:[%" G_GUINT64_FORMAT "]", tap0);
    g_autofree char *pipe1 = g_strdup_printf("pipe:[%" G_GUINT64_FORMAT "]", tap1);
    g_auto(GStrv) lines = NULL;
    guint fds = 0;

    ck_assert_msg(g_file_get_contents(seen_path, &text, NULL, NULL), "%s: runner did not run",
                  what);
    lines = g_strsplit(text, "\n", -1);
    want_args = g_strdup_printf("args -c %s", run->paths.config);
    want_pid = g_strdup_printf("pid %d", (int)run->pid);
    want_sid = g_strdup_printf("sid %d", (int)run->pid);
    ck_assert_msg(g_strv_contains((const char *const *)lines, want_args), "%s: %s", what, text);
    ck_assert_msg(g_strv_contains((const char *const *)lines, want_pid), "%s: %s", what, text);
    ck_assert_msg(g_strv_contains((const char *const *)lines, "cwd /"), "%s: cwd: %s", what,
                  text);
    ck_assert_msg(g_strv_contains((const char *const *)lines, want_sid),
                  "%s: not its own session: %s", what, text);
    ck_assert_msg(g_strv_contains((const char *const *)lines, "SigBlk:\t0000000000000000"),
                  "%s: signals blocked: %s", what, text);
    for (guint i = 0; lines[i]; i++) {
        guint64 ign;

        if (g_str_has_prefix(lines[i], "SigIgn:\t")) {
            ign = g_ascii_strtoull(lines[i] + 8, NULL, 16);
            ck_assert_msg(!(ign & (G_GUINT64_CONSTANT(1) << (SIGPIPE - 1))),
                          "%s: SIGPIPE still ignored: %s", what, text);
        }
    }
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;
        const char *want = NULL;

        if (!g_str_has_prefix(lines[i], "fd "))
            continue;
        f = g_strsplit(lines[i], " ", 3);
        switch (atoi(f[1])) {
        case 0: want = "/dev/null"; break;
        case 1: case 2: want = log; break;
        case 3: want = pipe0; break;
        case 4: want = pipe1; break;
        default: want = NULL;
        }
        ck_assert_msg(want && g_strv_length(f) == 3 && g_str_equal(f[2], want),
                      "%s: unexpected descriptor '%s' (all: %s)", what, lines[i], text);
        fds++;
    }
    ck_assert_msg(fds == 5, "%s: %u descriptors of 0-4: %s", what, fds, text);
}

START_TEST(test_exec)
{
    const ExecCase *c = &cases[_i];
    g_autofree char *dir = g_build_filename(tmp, c->name, NULL);
    g_autofree char *script = g_build_filename(dir, "runner", NULL);
    g_autofree char *log = g_build_filename(dir, "t1.log", NULL);
    g_autoptr(HyveDomainRun) run = g_new0(HyveDomainRun, 1);
    g_autoptr(GArray) taps = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GError) err = NULL;
    HyveDriverConfig cfg = { 0 };
    PlaceSeen seen = { c->place_ok, c->give_up, { -1, -1 }, 0, NULL, NULL, 0, -1 };
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    int p0[2], p1[2], logfd, leak, status;
    HyveDriver *drv;
    gboolean ok;

    ck_assert_int_eq(g_mkdir_with_parents(dir, 0700), 0);
    if (c->runner_exists)
        ck_assert_int_eq(symlink(self, script), 0);
    cfg.config_dir = g_build_filename(dir, "etc", NULL);
    cfg.state_dir = g_strdup(dir);
    cfg.log_dir = g_strdup(dir);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup(script);
    cfg.uri = g_strdup("bhyve:///session");
    cfg.default_pool_path = g_build_filename(dir, "images", NULL);
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "%s: hyve_driver_new: %s", c->name, err ? err->message : "");

    run->pidfd = -1;
    hyve_runner_paths_init(&run->paths, dir, dir, "t1");
    /* two taps (pipes here), at numbers above the targets, and a
     * descriptor without O_CLOEXEC the runner must not inherit */
    ck_assert_int_eq(pipe(p0), 0);
    ck_assert_int_eq(pipe(p1), 0);
    {
        int t0 = fcntl(p0[0], F_DUPFD_CLOEXEC, 40), t1 = fcntl(p1[0], F_DUPFD_CLOEXEC, 41);

        g_array_append_val(taps, t0);
        g_array_append_val(taps, t1);
    }
    leak = open("/dev/zero", O_RDONLY);
    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ck_assert(leak >= 0 && logfd >= 0);
    seen.test_w[0] = p0[1];
    seen.test_w[1] = p1[1];

    ok = hyve_process_exec_runner(drv, run, taps, logfd, place, &seen, &err);

    if (!c->error) {
        ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "");
        ck_assert_int_eq(seen.pid, run->pid);
        ck_assert_msg(seen.cmdline && g_str_equal(seen.cmdline, self_argv0),
                      "%s: the runner executed before it was placed (%s)", c->name,
                      seen.cmdline);
        ck_assert_msg(run->is_child && run->pidfd >= 0 && run->start_time > 0, "%s", c->name);
        ck_assert_int_eq(waitpid(run->pid, &status, 0), run->pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d", c->name,
                      status);
        check_seen(c->name, run, log, inode_of(p0[0]), inode_of(p1[0]));
    } else {
        ck_assert_msg(!ok, "%s: started", c->name);
        ck_assert_msg(err && strstr(err->message, c->error), "%s: error '%s'", c->name,
                      err ? err->message : "none");
        ck_assert_msg(run->pid == 0 && run->pidfd == -1, "%s: pid %d", c->name, (int)run->pid);
        /* the child was reaped: none left */
        ck_assert_msg(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD,
                      "%s: a child is left", c->name);
        ck_assert_msg(seen.pid > 0, "%s: placement not asked", c->name);
    }
    if (c->runner_exists) {
        ck_assert_msg(seen.n_held == 6, "%s: the held child has %u descriptors from 3 up: %s",
                      c->name, seen.n_held, seen.held_fds);
        ck_assert_msg(!strstr(seen.held_fds, "/dev/zero"),
                      "%s: the held child kept the daemon's descriptor: %s", c->name,
                      seen.held_fds);
    }
    if (c->give_up) {
        g_autofree char *seen_path = g_strconcat(run->paths.config, ".seen", NULL);

        ck_assert_msg(seen.gave_up_status == 127,
                      "%s: the held child did not exit 127 on EOF (%d)", c->name,
                      seen.gave_up_status);
        ck_assert_msg(!g_file_test(seen_path, G_FILE_TEST_EXISTS), "%s: the runner executed",
                      c->name);
    }
    for (guint i = 0; i < taps->len; i++)
        close(g_array_index(taps, int, i));
    close(p0[0]), close(p0[1]), close(p1[0]), close(p1[1]);
    close(leak);
    close(logfd);
    g_free(seen.cmdline);
    g_free(seen.held_fds);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

static void
setup(void)
{
    tmp = test_tmpdir_new("hyve-runner-exec-XXXXXX");
}

static void
teardown(void)
{
    test_tree_remove(tmp);
    g_clear_pointer(&tmp, g_free);
}

int
main(int argc, char **argv)
{
    Suite *s;
    TCase *tc = tcase_create("exec");
    int rc;

    if (argc == 3 && g_str_equal(argv[1], "-c"))
        stand_in(argv[2]);
    self_argv0 = argv[0];
    s = suite_create("runner-exec");
    signal(SIGPIPE, SIG_IGN);   /* as the daemon: the runner must not inherit it */
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_exec, 0, G_N_ELEMENTS(cases));
    suite_add_tcase(s, tc);
    rc = test_suite_run(s);
    return rc;
}
