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

#include "vmm.h"

static const char *runner;
static char *tmpdir;

static const char MSG[] = "HYVE-TEST: hello from the test kernel\n";

static GByteArray *test_kernel_end(const char *action_hex, gboolean spin);

/* x86-64 code at the 64-bit entry (load address + 0x200). */
static GByteArray *
test_kernel_end(const char *action_hex, gboolean spin)
{
    GByteArray *img = g_byte_array_sized_new(8192);
    static const uint8_t prologue[] = {
        0x66, 0xBA, 0xF8, 0x03,                         /* mov dx, 0x3f8 */
        0x48, 0x8D, 0x35, 0, 0, 0, 0,                   /* lea rsi, [rip+msg] */
        0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, /* lodsb; test; jz; out; jmp */
    };
    static const uint8_t hltloop[] = { 0xF4, 0xEB, 0xFD };     /* 1: hlt; jmp 1b */
    static const uint8_t spinloop[] = { 0xF3, 0x90, 0xEB, 0xFC }; /* 1: pause; jmp 1b */
    uint8_t code[256];
    size_t n = 0, act = strlen(action_hex) / 2, i;
    int32_t disp;
    uint8_t setup[1024] = { 0 };
    uint8_t pad[0x200] = { 0 };

    memcpy(code, prologue, sizeof(prologue));
    n = sizeof(prologue);
    for (i = 0; i < act; i++) {
        char h[3] = { action_hex[2 * i], action_hex[2 * i + 1], 0 };
        code[n++] = (uint8_t)strtoul(h, NULL, 16);
    }
    if (spin) {
        memcpy(code + n, spinloop, sizeof(spinloop));
        n += sizeof(spinloop);
    } else {
        memcpy(code + n, hltloop, sizeof(hltloop));
        n += sizeof(hltloop);
    }
    disp = (int32_t)(n - 11);
    memcpy(code + 7, &disp, 4);
    memcpy(code + n, MSG, sizeof(MSG));
    n += sizeof(MSG);

    setup[0x1F1] = 1;
    setup[0x1FE] = 0x55; setup[0x1FF] = 0xAA;
    setup[0x200] = 0xEB; setup[0x201] = 0x6A;
    memcpy(setup + 0x202, "HdrS", 4);
    setup[0x206] = 0x0F; setup[0x207] = 0x02;
    setup[0x211] = 1;
    setup[0x22C] = 0xFF; setup[0x22D] = 0xFF; setup[0x22E] = 0xFF; setup[0x22F] = 0x7F;
    setup[0x232] = 0x20;                                /* kernel_alignment 2 MiB */
    setup[0x236] = 1;                                   /* XLF_KERNEL_64 */
    setup[0x238] = 0xFF; setup[0x239] = 0x07;
    setup[0x262] = 0x10;                                /* init_size 1 MiB */
    g_byte_array_append(img, setup, sizeof(setup));
    g_byte_array_append(img, pad, sizeof(pad));
    g_byte_array_append(img, code, n);
    g_byte_array_set_size(img, 1024 + 4096);
    return img;
}

typedef struct {
    GPid pid;
    char *dir;
    char *conf;
    char *com1;
    char *ctl;
} Run;

static void
run_start(Run *r, const char *name, const char *action, const char *extra)
{
    /* guests that must stay up spin; the others end in cli; hlt */
    g_autoptr(GByteArray) k = test_kernel_end(action, extra[0] != 0);
    g_autofree char *kpath = NULL, *text = NULL;
    g_autoptr(GError) err = NULL;
    const char *argv[] = { runner, "-c", NULL, NULL };

    r->dir = g_build_filename(tmpdir, name, NULL);
    g_mkdir_with_parents(r->dir, 0700);
    kpath = g_build_filename(r->dir, "bzImage", NULL);
    r->com1 = g_build_filename(r->dir, "com1.log", NULL);
    r->ctl = g_build_filename(r->dir, "ctl", NULL);
    r->conf = g_build_filename(r->dir, "vm.conf", NULL);
    ck_assert(g_file_set_contents(kpath, (char *)k->data, k->len, NULL));
    text = g_strdup_printf("boot.kernel=%s\ncom1.backend=file:%s\ncontrol.socket=%s\n"
                           "memory.size=64M\nname=%s\n%s", kpath, r->com1, r->ctl, name, extra);
    ck_assert(g_file_set_contents(r->conf, text, -1, NULL));
    argv[2] = r->conf;
    ck_assert_msg(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &r->pid, &err), "%s: spawn: %s", name,
                  err ? err->message : "");
}

/* Exit status, or -1 after @secs seconds (the child is then killed). */
static int
run_wait(Run *r, int secs)
{
    int status, i;

    for (i = 0; i < secs * 20; i++) {
        pid_t p = waitpid(r->pid, &status, WNOHANG);

        if (p == r->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        g_usleep(50000);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &status, 0);
    return -1;
}

static gboolean
wait_output(Run *r, const char *what, int secs)
{
    int i;

    for (i = 0; i < secs * 20; i++) {
        g_autofree char *t = NULL;

        if (g_file_get_contents(r->com1, &t, NULL, NULL) && strstr(t, what))
            return TRUE;
        g_usleep(50000);
    }
    return FALSE;
}

static char *
request(Run *r, const char *line)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char buf[4096];
    size_t got = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), i;

    g_strlcpy(sun.sun_path, r->ctl, sizeof(sun.sun_path));
    for (i = 0; i < 100 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0; i++)
        g_usleep(50000);
    ck_assert_msg(i < 100, "cannot connect to %s", r->ctl);
    ck_assert(write(fd, line, strlen(line)) == (ssize_t)strlen(line) && write(fd, "\n", 1) == 1);
    while (got < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

        if (n <= 0)
            break;
        got += n;
        if (buf[got - 1] == '\n')
            break;
    }
    close(fd);
    buf[got] = 0;
    g_strchomp(buf);
    return g_strdup(buf);
}

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
    Run r = { 0 };
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
    Run r = { 0 };
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
    Run r = { 0 };
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
    Run r = { 0 }, h = { 0 };
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
    enum vmm_probe_result pr = vmm_probe(NULL);
    Suite *s = suite_create("runner-host");
    TCase *tc = tcase_create("host");
    SRunner *sr;
    int failed;
    g_autofree char *rm = NULL;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-bhyve-runner\n", argv[0]);
        return 2;
    }
    runner = argv[1];
    if (pr == VMM_PROBE_NO_DEVICE || pr == VMM_PROBE_NO_PERMISSION) {
        fprintf(stderr, "SKIP: %s\n", vmm_probe_result_string(pr));
        return 77;
    }
    tmpdir = g_dir_make_tmp("hyve-host-XXXXXX", NULL);
    tcase_add_loop_test(tc, test_exit, 0, G_N_ELEMENTS(exits));
    tcase_add_test(tc, test_control);
    tcase_add_test(tc, test_unix_echo);
    tcase_add_test(tc, test_pty_echo);
    tcase_add_test(tc, test_fd_config);
    tcase_add_test(tc, test_memory_options);
    tcase_add_test(tc, test_bad_config);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    rm = g_strdup_printf("rm -rf '%s'", tmpdir);
    (void)!system(rm);
    return failed ? 1 : 0;
}
