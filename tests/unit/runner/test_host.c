/* test_host.c: run the real bhyve-runner on this host's /dev/kvm (any KVM,
 * even an emulated one) with tiny synthetic bzImages whose 64-bit entry
 * code writes a line to COM1 and then powers off, resets, triple-faults or
 * halts; check exit statuses, serial output and the control socket.
 * Skipped (77) when /dev/kvm cannot be used here. */
#include <check.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>

#include "test_host_util.h"


static const struct {
    const char *name;
    const char *action;     /* code after the message */
    int status;
} exits[] = {
    { "acpi-s5", "66BA040666B8003466EF", 1 },      /* outw 0x3400 -> PM1a_CNT */
    { "i8042-reset", "B0FEE664", 0 },              /* outb 0xFE -> 0x64 */
    { "cf9-reset", "66BAF90CB006EE", 0 },          /* outb 6 -> 0xCF9 */
    { "triple-fault", "0F0B", 3 },                 /* ud2 with an empty IDT */
    { "halt", "", 2 },                             /* hlt with interrupts disabled */
};

START_TEST(test_exit)
{
    g_auto(Run) r = { 0 };
    g_autofree char *out = NULL;
    int st;

    run_start(&r, exits[_i].name, exits[_i].action, "");
    st = run_wait(&r, 60);
    ck_assert_msg(st == exits[_i].status, "%s: exit %d, expected %d", exits[_i].name, st,
                  exits[_i].status);
    ck_assert_msg(g_file_get_contents(r.com1, &out, NULL, NULL) && g_str_equal(out, MSG),
                  "%s: serial output '%s'", exits[_i].name, out ? out : "(none)");
}
END_TEST

START_TEST(test_control)
{
    g_auto(Run) r = { 0 };
    static const struct { const char *req, *reply; } steps[] = {
        { "status", "ok running" },
        { "pause", "ok" },
        { "status", "ok paused" },
        { "pause", "error 55 domain is not running" },
        { "resume", "ok" },
        { "resume", "error 55 domain is not paused" },
        { "status", "ok running" },
        { "frobnicate", "error 84 unknown request 'frobnicate'" },
        { "powerdown", "ok pending" },      /* the test kernel never enables PWRBTN_EN */
    };
    g_autofree char *stats = NULL;
    unsigned i;

    run_start(&r, "control", "", "cpus=2\n");   /* spins with interrupts off */
    ck_assert_msg(wait_output(&r, "HYVE-TEST", 60), "control: no serial output");
    for (i = 0; i < G_N_ELEMENTS(steps); i++) {
        g_autofree char *rep = request(&r, steps[i].req);

        ck_assert_msg(g_str_equal(rep, steps[i].reply), "control step %u '%s': '%s', expected '%s'",
                      i, steps[i].req, rep, steps[i].reply);
    }
    {
        g_autofree char *cons = request(&r, "consoles");
        g_autofree char *want = g_strdup_printf("ok com1=%s", r.com1);

        ck_assert_msg(g_str_equal(cons, want), "consoles: '%s', expected '%s'", cons, want);
    }
    kill(r.pid, SIGTERM);           /* SIGTERM = power button, the VM keeps running */
    g_usleep(300000);
    stats = request(&r, "stats");
    ck_assert_msg(g_str_has_prefix(stats, "ok uptime_ms="), "stats: '%s'", stats);
    ck_assert_msg(strstr(stats, " vcpu0.exits_io=") && strstr(stats, " vcpu1.time_ns="),
                  "stats without per-vCPU counters: '%s'", stats);
    ck_assert_msg(strstr(stats, " pm.power_button_presses=2"), "SIGTERM did not press: '%s'", stats);
    ck_assert_msg(strstr(stats, " com1.tx_bytes=38"), "com1 counter: '%s'", stats);
    g_free(request(&r, "poweroff"));
    ck_assert_int_eq(run_wait(&r, 30), 1);
    ck_assert_msg(!g_file_test(r.ctl, G_FILE_TEST_EXISTS), "control socket left behind");
}
END_TEST

/* A guest that echoes every byte received on COM1: checks the unix socket
 * backend in both directions and UART receive (LSR.DR, RBR). */
START_TEST(test_unix_echo)
{
    g_auto(Run) r = { 0 };
    g_autofree char *sock = g_build_filename(tmpdir, "echo.sock", NULL);
    g_autofree char *extra = NULL;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char buf[64] = { 0 };
    size_t got = 0;
    int fd, i;

    extra = g_strdup_printf("com2.backend=unix:%s\n", sock);
    /* after the message: poll COM2 LSR.DR, read RBR, write it back, loop */
    run_start(&r, "echo", "66BAFD02" "EC" "A801" "74FB" "66BAF802" "EC" "EE" "EBEF", extra);
    ck_assert_msg(wait_output(&r, "HYVE-TEST", 60), "echo: no COM1 output");
    g_strlcpy(sun.sun_path, sock, sizeof(sun.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect %s", sock);
    g_usleep(200000);
    ck_assert(write(fd, "ping-42", 7) == 7);
    for (i = 0; i < 100 && got < 7; i++) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);

        if (n > 0)
            got += n;
        else
            g_usleep(50000);
    }
    close(fd);
    ck_assert_msg(g_str_equal(buf, "ping-42"), "echo: got '%s'", buf);
    g_free(request(&r, "poweroff"));
    ck_assert_int_eq(run_wait(&r, 30), 1);
}
END_TEST

/* COM2 on a pty: the runner logs the pty path; bytes written to the slave
 * come back through the echo guest. */
START_TEST(test_pty_echo)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *kpath = NULL, *conf = NULL, *text = NULL;
    g_autoptr(GByteArray) k = test_kernel_end("66BAFD02" "EC" "A801" "74FB" "66BAF802" "EC" "EE" "EBEF", TRUE);
    g_autofree char *dir = g_build_filename(tmpdir, "pty", NULL);
    const char *argv[] = { runner, "-c", NULL, NULL };
    char line[256] = { 0 }, buf[64] = { 0 }, *p;
    struct termios tio;
    size_t got = 0;
    int errfd = -1, fd, i, status;
    FILE *ef;
    GPid pid;

    g_mkdir_with_parents(dir, 0700);
    kpath = g_build_filename(dir, "bzImage", NULL);
    conf = g_build_filename(dir, "vm.conf", NULL);
    ck_assert(g_file_set_contents(kpath, (char *)k->data, k->len, NULL));
    text = g_strdup_printf("boot.kernel=%s\ncom2.backend=pty\nmemory.size=64M\nname=pty\n", kpath);
    ck_assert(g_file_set_contents(conf, text, -1, NULL));
    argv[2] = conf;
    ck_assert_msg(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                           G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid,
                                           NULL, NULL, &errfd, &err), "spawn: %s", err ? err->message : "");
    ef = fdopen(errfd, "r");
    while (fgets(line, sizeof(line), ef) && !strstr(line, "com2: /dev/pts/"))
        ;
    p = strstr(line, "/dev/pts/");
    ck_assert_msg(p, "no pty path logged: '%s'", line);
    g_strchomp(p);
    ck_assert_msg(g_str_has_prefix(p, "/dev/pts/"), "pty path '%s'", p);
    fd = open(p, O_RDWR | O_NOCTTY);
    ck_assert_msg(fd >= 0, "open %s", p);
    tcgetattr(fd, &tio);
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
    ck_assert(write(fd, "pty-7", 5) == 5);
    for (i = 0; i < 200 && got < 5; i++) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (n > 0)
            got += n;
    }
    close(fd);
    kill(pid, SIGINT);                  /* SIGINT: forced poweroff */
    waitpid(pid, &status, 0);
    fclose(ef);
    ck_assert_msg(g_str_equal(buf, "pty-7"), "pty echo got '%s'", buf);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "SIGINT exit %d", status);
}
END_TEST

/* -f N: configuration from an inherited descriptor (what the driver uses),
 * checked with -n. */
static int
run_fd_config(const char *text, char **err_out)
{
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) err = NULL;
    int fds[2];

    ck_assert(pipe(fds) == 0);
    ck_assert(write(fds[1], text, strlen(text)) == (ssize_t)strlen(text));
    close(fds[1]);
    g_subprocess_launcher_take_fd(l, fds[0], 5);
    p = g_subprocess_launcher_spawn(l, &err, runner, "-n", "-f", "5", NULL);
    ck_assert_msg(p, "spawn: %s", err ? err->message : "");
    ck_assert(g_subprocess_communicate_utf8(p, NULL, NULL, NULL, err_out, NULL));
    return g_subprocess_get_exit_status(p);
}

START_TEST(test_fd_config)
{
    g_autofree char *e1 = NULL, *e2 = NULL;

    ck_assert_int_eq(run_fd_config("boot.kernel=/k\nname=fd\n", &e1), 0);
    ck_assert_int_eq(run_fd_config("boot.kernel=/k\nname=fd\ncpus=0\n", &e2), 4);
    ck_assert_msg(strstr(e2, "fd 5: line 3: key 'cpus'"), "stderr: %s", e2);
}
END_TEST

/* memory.mergeable works; memory.hugepages without a huge page pool fails
 * cleanly at start (exit 4), never with SIGBUS later. */
START_TEST(test_memory_options)
{
    g_auto(Run) r = { 0 };
    g_auto(Run) h = { 0 };
    g_autofree char *pool = NULL;

    run_start(&r, "mergeable", "66BA040666B8003466EF", "memory.mergeable=true\n");
    ck_assert_int_eq(run_wait(&r, 60), 1);
    if (g_file_get_contents("/proc/sys/vm/nr_hugepages", &pool, NULL, NULL) &&
        g_ascii_strtoull(pool, NULL, 10) == 0) {
        run_start(&h, "hugepages", "66BA040666B8003466EF", "memory.hugepages=true\n");
        ck_assert_int_eq(run_wait(&h, 60), 4);
    }
}
END_TEST

START_TEST(test_bad_config)
{
    g_autofree char *path = g_build_filename(tmpdir, "bad.conf", NULL);
    g_autofree char *err = NULL;
    const char *argv[] = { runner, "-c", path, NULL };
    int status;

    ck_assert(g_file_set_contents(path, "name=x\nboot.kernel=/k\nmemory.size=lots\n", -1, NULL));
    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL, &err, &status, NULL));
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 4, "bad config exit %d", status);
    ck_assert_msg(strstr(err, "line 3: key 'memory.size'"), "stderr: %s", err);
}
END_TEST

int
main(int argc, char **argv)
{
    TCase *tc = tcase_create("host");

    tcase_add_loop_test(tc, test_exit, 0, G_N_ELEMENTS(exits));
    tcase_add_test(tc, test_control);
    tcase_add_test(tc, test_unix_echo);
    tcase_add_test(tc, test_pty_echo);
    tcase_add_test(tc, test_fd_config);
    tcase_add_test(tc, test_memory_options);
    tcase_add_test(tc, test_bad_config);
    return host_test_main(argc, argv, "runner-host", tc);
}
