/* test_host_util.c: helpers of the runner-host tests (see the header). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm.h"
#include "test_host_util.h"

const char *runner;
char *tmpdir;



/* x86-64 code at the 64-bit entry (load address + 0x200). */
GByteArray *
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


void
run_clear(Run *r)
{
    g_clear_pointer(&r->dir, g_free);
    g_clear_pointer(&r->conf, g_free);
    g_clear_pointer(&r->com1, g_free);
    g_clear_pointer(&r->ctl, g_free);
    g_clear_pointer(&r->err, g_free);
}

GSpawnChildSetupFunc run_child_setup;

/* In the child: stderr to DIR.stderr, then the test's own setup. */
static void
run_child(gpointer data)
{
    Run *r = data;
    int fd = open(r->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd >= 0)
        dup2(fd, STDERR_FILENO);
    if (run_child_setup)
        run_child_setup(r);
}

void
run_start(Run *r, const char *name, const char *action, const char *extra)
{
    /* guests that must stay up spin; the others end in cli; hlt */
    run_start_full(r, name, action, extra[0] != 0, extra);
}

void
run_start_full(Run *r, const char *name, const char *action, gboolean spin, const char *extra)
{
    g_autoptr(GByteArray) k = test_kernel_end(action, spin);
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
    r->err = g_strconcat(r->dir, ".stderr", NULL);
    ck_assert_msg(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL, run_child, r,
                                &r->pid, &err), "%s: spawn: %s", name,
                  err ? err->message : "");
}

/* Exit status, or -1 after @secs seconds (the child is then killed). */
int
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

gboolean
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

char *
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
int
host_test_main(int argc, char **argv, const char *suite, TCase *tc)
{
    enum vmm_probe_result pr = vmm_probe(NULL);
    Suite *s = suite_create(suite);
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
