/* test_host_sandbox.c: sandbox=true with the real binary on this host's
 * /dev/kvm and the synthetic kernels of test_host_util.c, checked from
 * outside through /proc/PID: every thread with NoNewPrivs 1, Seccomp 2, no
 * capability (bounding set included), the ids of sandbox.uid/gid (the
 * system user hyve-runner when the test runs as root), its own mount
 * namespace whose only mount is an empty read-only tmpfs root; the control
 * socket still serves status/pause/resume/stats/consoles/poweroff and the
 * exit file gets the right line for every way a guest ends; as root, the
 * filter read back from the live runner is the exported one.  As root it
 * also runs the runner as hyve-runner (group kvm) without uid keys: the
 * unprivileged path (user namespace), the refusal of a uid switch without
 * root and of sandbox.uid/gid 0 by any runner.
 * Skipped (77) without KVM. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_host_util.h"
#include "test_sandbox_proc.h"

static uid_t sbx_uid = (uid_t)-1;     /* hyve-runner, when root */
static gid_t sbx_gid = (gid_t)-1;
static gid_t kvm_gid = (gid_t)-1;

static void
find_ids(void)
{
    struct passwd *pw = getuid() == 0 ? getpwnam("hyve-runner") : NULL;
    struct group *gr = getgrnam("kvm");

    if (pw) {
        sbx_uid = pw->pw_uid;
        sbx_gid = pw->pw_gid;
    }
    if (gr)
        kvm_gid = gr->gr_gid;
}

static char *
sandbox_extra(const char *dir, gboolean ids)
{
    g_autofree char *idl = ids && sbx_uid != (uid_t)-1
        ? g_strdup_printf("sandbox.gid=%u\nsandbox.uid=%u\n", (unsigned)sbx_gid, (unsigned)sbx_uid)
        : g_strdup("");

    return g_strdup_printf("cpus=2\nexit.file=%s/vm.exit\nsandbox=true\n%s", dir, idl);
}

static void
check_exit(const char *tc, const char *dir, const char *want)
{
    g_autofree char *path = g_build_filename(dir, "vm.exit", NULL);
    g_autofree char *got = NULL;

    ck_assert_msg(g_file_get_contents(path, &got, NULL, NULL), "%s: no exit file", tc);
    ck_assert_msg(g_str_equal(got, want), "%s: exit file '%s', expected '%s'", tc, got, want);
}

/* @want is in the runner's stderr, and no sanitizer report or sandbox
 * violation (meaningful in -Db_sanitize builds: their runtimes run inside
 * the sandbox too). */
static void
check_stderr(const char *tc, Run *r, const char *want)
{
    static const char *const bad[] = { "Sanitizer", "runtime error:", "forbidden system call" };
    g_autofree char *t = NULL;
    guint i;

    ck_assert_msg(g_file_get_contents(r->err, &t, NULL, NULL) && strstr(t, want),
                  "%s: no '%s' in the runner's stderr:\n%s", tc, want, t ? t : "");
    for (i = 0; i < G_N_ELEMENTS(bad); i++)
        ck_assert_msg(!strstr(t, bad[i]), "%s: '%s' in the runner's stderr:\n%s", tc, bad[i], t);
}

START_TEST(test_sandbox_running)
{
    g_auto(Run) r = { 0 };
    g_autofree char *dir = g_build_filename(tmpdir, "sbx-run", NULL);
    g_autofree char *extra = sandbox_extra(dir, TRUE);
    static const struct { const char *req, *reply; } steps[] = {
        { "status", "ok running" },
        { "pause", "ok" },
        { "status", "ok paused" },
        { "resume", "ok" },
        { "status", "ok running" },
    };
    uid_t uid = sbx_uid != (uid_t)-1 ? sbx_uid : getuid();
    gid_t gid = sbx_uid != (uid_t)-1 ? sbx_gid : getgid();
    g_autofree char *stats = NULL, *cons = NULL, *off = NULL, *devs = NULL;
    g_autofree char *disk = g_build_filename(dir, "disk.img", NULL);
    g_autofree char *com2 = g_build_filename(dir, "com2.sock", NULL);
    const char *pts;
    guint i, threads;

    /* devices whose I/O threads start inside the sandbox; consoles on a
     * unix socket (accept inside) and a pty */
    ck_assert(g_mkdir_with_parents(dir, 0700) == 0);
    ck_assert(g_file_set_contents(disk, "", 0, NULL) && truncate(disk, 1 << 20) == 0);
    devs = g_strdup_printf("%scom2.backend=unix:%s\npci.0.2.0.device=virtio-blk\n"
                           "pci.0.2.0.path=%s\npci.0.3.0.device=virtio-console\n"
                           "pci.0.3.0.backend=pty\npci.0.4.0.device=virtio-rng\n",
                           extra, com2, disk);
    run_start_full(&r, "sbx-run", "", TRUE, devs);
    ck_assert_msg(wait_output(&r, MSG, 60), "sbx-run: no guest output");
    check_stderr("sbx-run", &r, "sandbox: entered (empty root");
    /* setgroups(0) with the uid switch */
    threads = check_threads("sbx-run", r.pid, uid, gid, sbx_uid != (uid_t)-1 ? "" : NULL,
                            getuid() == 0);
    ck_assert_msg(threads >= 6, "sbx-run: %u threads (main, 2 vCPUs, 3 device threads)",
                  threads);
    check_empty_root("sbx-run", r.pid);
    if (getuid() == 0)
        check_live_filter("sbx-run", r.pid);
    for (i = 0; i < G_N_ELEMENTS(steps); i++) {
        g_autofree char *rep = request(&r, steps[i].req);

        ck_assert_msg(g_str_equal(rep, steps[i].reply), "sbx-run: %s -> '%s', expected '%s'",
                      steps[i].req, rep, steps[i].reply);
    }
    stats = request(&r, "stats");
    ck_assert_msg(g_str_has_prefix(stats, "ok uptime_ms="), "sbx-run: stats '%s'", stats);
    cons = request(&r, "consoles");
    ck_assert_msg(g_str_has_prefix(cons, "ok com1=") && strstr(cons, com2) &&
                  (pts = strstr(cons, "/dev/pts/")), "sbx-run: consoles '%s'", cons);
    /* console clients come and go: accept, input, hang-up inside the sandbox */
    for (i = 0; i < 2; i++) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        g_strlcpy(sun.sun_path, com2, sizeof(sun.sun_path));
        ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
                      "sbx-run: connect %s: %s", com2, g_strerror(errno));
        ck_assert(write(fd, "input\n", 6) == 6);
        g_usleep(200000);
        close(fd);
    }
    {
        g_autofree char *path = g_strndup(pts, strcspn(pts, " "));
        int fd = open(path, O_RDWR | O_NOCTTY);

        ck_assert_msg(fd >= 0, "sbx-run: open %s: %s", path, g_strerror(errno));
        ck_assert(write(fd, "x", 1) == 1);
        g_usleep(200000);
        close(fd);
    }
    /* signals still reach the main loop (GLib's worker thread, started
     * inside the sandbox): SIGTERM presses the power button */
    ck_assert(kill(r.pid, SIGTERM) == 0);
    for (i = 0; i < 100; i++) {
        g_autofree char *t = NULL;

        if (g_file_get_contents(r.err, &t, NULL, NULL) && strstr(t, "SIGTERM: pressing"))
            break;
        g_usleep(50000);
    }
    check_stderr("sbx-run", &r, "SIGTERM: pressing the power button");
    /* threads created after pause/resume are confined too */
    check_threads("sbx-run", r.pid, uid, gid, sbx_uid != (uid_t)-1 ? "" : NULL, getuid() == 0);
    off = request(&r, "poweroff");
    ck_assert_msg(g_str_equal(off, "ok"), "sbx-run: poweroff '%s'", off);
    ck_assert_int_eq(run_wait(&r, 60), 1);
    check_exit("sbx-run", dir, "status=1 reason=poweroff\n");
    check_stderr("sbx-run", &r, "exiting with status 1");
}
END_TEST

/* Every way a guest ends, inside the sandbox (same kernels as runner-host-exit). */
static const struct {
    const char *name;
    const char *action;
    int status;
    const char *line;
} exits[] = {
    { "sbx-poweroff", "66BA040666B8003466EF", 1, "status=1 reason=poweroff\n" },
    { "sbx-reboot", "66BAF90CB006EE", 0, "status=0 reason=reboot\n" },
    { "sbx-triple-fault", "0F0B", 3, "status=3 reason=triple-fault\n" },
    { "sbx-halt", "", 2, "status=2 reason=halt\n" },
};

START_TEST(test_sandbox_exits)
{
    g_auto(Run) r = { 0 };
    g_autofree char *dir = g_build_filename(tmpdir, exits[_i].name, NULL);
    g_autofree char *extra = sandbox_extra(dir, TRUE);
    int st;

    run_start_full(&r, exits[_i].name, exits[_i].action, FALSE, extra);
    st = run_wait(&r, 60);
    ck_assert_msg(st == exits[_i].status, "%s: exit %d, expected %d", exits[_i].name, st,
                  exits[_i].status);
    check_stderr(exits[_i].name, &r, "sandbox: entered");
    check_exit(exits[_i].name, dir, exits[_i].line);
}
END_TEST

/* In the child: become hyve-runner with the kvm group (root tests only). */
static void
become_runner_user(gpointer data)
{
    (void)data;
    if (setgroups(1, &kvm_gid) < 0 || setresgid(sbx_gid, sbx_gid, sbx_gid) < 0 ||
        setresuid(sbx_uid, sbx_uid, sbx_uid) < 0)
        _exit(120);
}

static void
prepare_user_dir(const char *name, char **dir)
{
    *dir = g_build_filename(tmpdir, name, NULL);
    ck_assert(chmod(tmpdir, 0711) == 0);
    ck_assert(g_mkdir_with_parents(*dir, 0700) == 0);
    ck_assert(chown(*dir, sbx_uid, sbx_gid) == 0);
}

START_TEST(test_sandbox_unprivileged)
{
    g_auto(Run) r = { 0 };
    g_autofree char *dir = NULL, *extra = NULL, *off = NULL, *t = NULL;

    if (sbx_uid == (uid_t)-1 || kvm_gid == (gid_t)-1) {
        fprintf(stderr, "unprivileged: skipped (needs root, user hyve-runner, group kvm)\n");
        return;
    }
    prepare_user_dir("sbx-user", &dir);
    extra = sandbox_extra(dir, FALSE);
    run_child_setup = become_runner_user;
    run_start_full(&r, "sbx-user", "", TRUE, extra);
    run_child_setup = NULL;
    ck_assert_msg(wait_output(&r, MSG, 60), "sbx-user: no guest output");
    ck_assert(g_file_get_contents(r.err, &t, NULL, NULL));
    if (strstr(t, "sandbox: no user namespace")) {
        /* the kernel refused: host root kept, the rest still applies */
        check_stderr("sbx-user", &r, "sandbox: entered (host root");
    } else {
        check_stderr("sbx-user", &r, "sandbox: entered (empty root");
        check_empty_root("sbx-user", r.pid);
    }
    /* ids as seen from here: the runner's own; an unprivileged process
     * cannot drop its supplementary groups (kvm) */
    {
        g_autofree char *g = g_strdup_printf("%u", (unsigned)kvm_gid);

        check_threads("sbx-user", r.pid, sbx_uid, sbx_gid, g, TRUE);
    }
    off = request(&r, "poweroff");
    ck_assert_msg(g_str_equal(off, "ok"), "sbx-user: poweroff '%s'", off);
    ck_assert_int_eq(run_wait(&r, 60), 1);
    check_exit("sbx-user", dir, "status=1 reason=poweroff\n");
    check_stderr("sbx-user", &r, "exiting with status 1");
}
END_TEST

/* A runner that is not root cannot switch ids; nobody may "switch" to
 * uid or gid 0: configuration errors, exit 4. */
static const struct {
    const char *name, *keys, *want;
    gboolean as_user;
} refused[] = {
    { "sbx-uid1-user", "sandbox.uid=1\n", "sandbox.uid/sandbox.gid need a runner started as root",
      TRUE },
    { "sbx-uid0-user", "sandbox.uid=0\n", "sandbox.uid/sandbox.gid must not be 0", TRUE },
    { "sbx-uid0", "sandbox.uid=0\n", "sandbox.uid/sandbox.gid must not be 0", FALSE },
    { "sbx-gid0", "sandbox.uid=1\nsandbox.gid=0\n", "sandbox.uid/sandbox.gid must not be 0",
      FALSE },
};

START_TEST(test_sandbox_uid_refused)
{
    g_auto(Run) r = { 0 };
    g_autofree char *dir = NULL, *extra = NULL;

    if (refused[_i].as_user && (sbx_uid == (uid_t)-1 || kvm_gid == (gid_t)-1)) {
        fprintf(stderr, "%s: skipped (needs root, user hyve-runner, group kvm)\n",
                refused[_i].name);
        return;
    }
    if (refused[_i].as_user) {
        prepare_user_dir(refused[_i].name, &dir);
    } else {
        dir = g_build_filename(tmpdir, refused[_i].name, NULL);
        ck_assert(g_mkdir_with_parents(dir, 0700) == 0);
    }
    extra = g_strdup_printf("exit.file=%s/vm.exit\nsandbox=true\n%s", dir, refused[_i].keys);
    run_child_setup = refused[_i].as_user ? become_runner_user : NULL;
    run_start_full(&r, refused[_i].name, "", FALSE, extra);
    run_child_setup = NULL;
    ck_assert_msg(run_wait(&r, 30) == 4, "%s: exit status", refused[_i].name);
    check_stderr(refused[_i].name, &r, refused[_i].want);
    check_exit(refused[_i].name, dir, "status=4 reason=error\n");
}
END_TEST

int
main(int argc, char **argv)
{
    TCase *tc = tcase_create("sandbox");

    find_ids();
    tcase_add_test(tc, test_sandbox_running);
    tcase_add_loop_test(tc, test_sandbox_exits, 0, G_N_ELEMENTS(exits));
    tcase_add_test(tc, test_sandbox_unprivileged);
    tcase_add_loop_test(tc, test_sandbox_uid_refused, 0, G_N_ELEMENTS(refused));
    return host_test_main(argc, argv, "runner-host-sandbox", tc);
}
