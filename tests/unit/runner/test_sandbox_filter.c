/* test_sandbox_filter.c: the runner's seccomp filter, as BPF exported by
 * hvr_sandbox_filter_export() and run here by a classic-BPF interpreter on
 * seccomp_data built for each case (syscall number, arch, arguments), and
 * the real hvr_sandbox_enter() in a forked child where opening a file
 * answers ENOENT and fcntl's flag commands work, and that then makes a
 * forbidden call (among them fcntl F_SETOWN/F_SETSIG/O_ASYNC, a growing
 * fallocate): the SIGSYS handler names it on stderr, writes the exit file
 * and exits 4.  No KVM needed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvr_config.h"
#include "hvr_sandbox.h"

#define TEST_PID 4242       /* the runner the exported filter is for */

static struct sock_filter *prog;
static size_t prog_len;

static void
load_prog(void)
{
    g_autoptr(GError) err = NULL;
    char path[] = "/tmp/hvr-bpf-XXXXXX";
    int fd = mkstemp(path);
    g_autofree char *data = NULL;
    gsize len;
    guint n = 0;

    ck_assert(fd >= 0);
    unlink(path);
    ck_assert_msg(hvr_sandbox_filter_export(fd, TRUE, TEST_PID, &n, &err), "export: %s",
                  err ? err->message : "");
    ck_assert_msg(n >= 40 && n < 120, "%u system calls allowed", n);
    len = lseek(fd, 0, SEEK_END);
    ck_assert(len > 0 && len % sizeof(struct sock_filter) == 0);
    data = g_malloc(len);
    ck_assert(pread(fd, data, len, 0) == (ssize_t)len);
    close(fd);
    prog = (struct sock_filter *)g_steal_pointer(&data);
    prog_len = len / sizeof(struct sock_filter);
}

/* Classic BPF as the kernel runs it for seccomp (loads from seccomp_data). */
static uint32_t
run_bpf(const struct seccomp_data *d)
{
    uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };
    size_t pc = 0;
    int steps = 0;

    while (pc < prog_len && steps++ < 100000) {
        const struct sock_filter *f = &prog[pc++];
        uint32_t src = BPF_SRC(f->code) == BPF_X ? X : f->k;

        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
            if (BPF_MODE(f->code) == BPF_ABS) {
                ck_assert_msg(f->k % 4 == 0 && f->k + 4 <= sizeof(*d), "bad load %u", f->k);
                memcpy(&A, (const char *)d + f->k, 4);
            } else if (BPF_MODE(f->code) == BPF_IMM) {
                A = f->k;
            } else if (BPF_MODE(f->code) == BPF_MEM) {
                A = M[f->k];
            } else {
                ck_abort_msg("unhandled BPF_LD mode 0x%x", f->code);
            }
            break;
        case BPF_LDX:
            X = BPF_MODE(f->code) == BPF_MEM ? M[f->k] : f->k;
            break;
        case BPF_ST: M[f->k] = A; break;
        case BPF_STX: M[f->k] = X; break;
        case BPF_ALU:
            switch (BPF_OP(f->code)) {
            case BPF_AND: A &= src; break;
            case BPF_OR: A |= src; break;
            case BPF_ADD: A += src; break;
            case BPF_SUB: A -= src; break;
            case BPF_LSH: A <<= src; break;
            case BPF_RSH: A >>= src; break;
            case BPF_NEG: A = -A; break;
            default: ck_abort_msg("unhandled ALU op 0x%x", f->code);
            }
            break;
        case BPF_JMP: {
            gboolean t;

            switch (BPF_OP(f->code)) {
            case BPF_JA: pc += f->k; continue;
            case BPF_JEQ: t = A == src; break;
            case BPF_JGT: t = A > src; break;
            case BPF_JGE: t = A >= src; break;
            case BPF_JSET: t = (A & src) != 0; break;
            default: ck_abort_msg("unhandled JMP op 0x%x", f->code); t = FALSE;
            }
            pc += t ? f->jt : f->jf;
            break;
        }
        case BPF_RET:
            return BPF_RVAL(f->code) == BPF_A ? A : f->k;
        case BPF_MISC:
            if (BPF_MISCOP(f->code) == BPF_TAX)
                X = A;
            else
                A = X;
            break;
        default:
            ck_abort_msg("unhandled BPF class 0x%x", f->code);
        }
    }
    ck_abort_msg("BPF program fell off its end");
    return 0;
}

#define ALLOW SECCOMP_RET_ALLOW
#define TRAP SECCOMP_RET_TRAP
#define ENOSYS_ (SECCOMP_RET_ERRNO | ENOSYS)
#define ENOENT_ (SECCOMP_RET_ERRNO | ENOENT)
#define KILL 0xFFFFFFFFu    /* any KILL (thread or process) */

static const struct {
    const char *what;
    long nr;
    uint32_t arch;
    uint64_t a[3];
    uint32_t want;
    int sanitize;   /* sanitizer build: 0 same, 1 answers an errno, 2 allows */
} cases[] = {
    { "read", __NR_read, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "pwritev", __NR_pwritev, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "fdatasync", __NR_fdatasync, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "fallocate punch hole", __NR_fallocate, AUDIT_ARCH_X86_64,
      { 5, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE }, ALLOW, 0 },
    { "fallocate grow", __NR_fallocate, AUDIT_ARCH_X86_64, { 5, 0 }, TRAP, 0 },
    { "fallocate collapse", __NR_fallocate, AUDIT_ARCH_X86_64,
      { 5, FALLOC_FL_COLLAPSE_RANGE }, TRAP, 0 },
    { "fcntl F_GETFL", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_GETFL }, ALLOW, 0 },
    { "fcntl F_SETFL nonblock", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETFL, O_NONBLOCK | O_RDWR },
      ALLOW, 0 },
    { "fcntl F_SETFL async", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETFL, O_NONBLOCK | O_ASYNC },
      TRAP, 0 },
    { "fcntl F_SETFD", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETFD, FD_CLOEXEC }, ALLOW, 0 },
    { "fcntl F_DUPFD_CLOEXEC", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_DUPFD_CLOEXEC }, ALLOW, 0 },
    { "fcntl F_SETOWN", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETOWN, 1 }, TRAP, 0 },
    { "fcntl F_SETSIG", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETSIG, SIGKILL }, TRAP, 0 },
    { "fcntl F_SETOWN_EX", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETOWN_EX }, TRAP, 0 },
    { "fcntl F_SETLEASE", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_SETLEASE }, TRAP, 0 },
    { "fcntl F_NOTIFY", __NR_fcntl, AUDIT_ARCH_X86_64, { 5, F_NOTIFY }, TRAP, 0 },
    { "getpeername", __NR_getpeername, AUDIT_ARCH_X86_64, { 2 }, ALLOW, 0 },
    { "accept4", __NR_accept4, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "futex", __NR_futex, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "tgkill own thread", __NR_tgkill, AUDIT_ARCH_X86_64, { TEST_PID, 4243, SIGUSR1 }, ALLOW, 0 },
    { "tgkill other process", __NR_tgkill, AUDIT_ARCH_X86_64, { 4000, 4000, SIGKILL }, TRAP, 0 },
    { "tkill", __NR_tkill, AUDIT_ARCH_X86_64, { 4000, SIGKILL }, TRAP, 0 },
    { "exit_group", __NR_exit_group, AUDIT_ARCH_X86_64, { 0 }, ALLOW, 0 },
    { "ioctl KVM_RUN", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, KVM_RUN }, ALLOW, 0 },
    { "ioctl KVM_IRQFD", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, KVM_IRQFD }, ALLOW, 0 },
    { "ioctl BLKDISCARD", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, BLKDISCARD }, ALLOW, 0 },
    { "ioctl TIOCSTI", __NR_ioctl, AUDIT_ARCH_X86_64, { 0, TIOCSTI }, TRAP, 0 },
    { "ioctl TUNSETIFF", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, 0x400454ca }, TRAP, 0 },
    { "ioctl TUNSETOFFLOAD", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, 0x400454d0 }, ALLOW, 0 },
    { "ioctl TUNSETTXFILTER", __NR_ioctl, AUDIT_ARCH_X86_64, { 5, 0x400454d1 }, TRAP, 0 },
    { "clone thread", __NR_clone, AUDIT_ARCH_X86_64,
      { CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM }, ALLOW, 0 },
    { "clone fork", __NR_clone, AUDIT_ARCH_X86_64, { SIGCHLD }, TRAP, 1 },
    { "clone3", __NR_clone3, AUDIT_ARCH_X86_64, { 0 }, ENOSYS_, 0 },
    { "mmap rw", __NR_mmap, AUDIT_ARCH_X86_64, { 0, 4096, PROT_READ | PROT_WRITE }, ALLOW, 0 },
    { "mmap exec", __NR_mmap, AUDIT_ARCH_X86_64, { 0, 4096, PROT_READ | PROT_EXEC }, TRAP, 0 },
    { "mprotect exec", __NR_mprotect, AUDIT_ARCH_X86_64, { 0, 4096, PROT_EXEC }, TRAP, 0 },
    { "prctl PR_SET_NAME", __NR_prctl, AUDIT_ARCH_X86_64, { PR_SET_NAME }, ALLOW, 0 },
    { "prctl PR_SET_SECUREBITS", __NR_prctl, AUDIT_ARCH_X86_64, { PR_SET_SECUREBITS }, TRAP, 2 },
    { "execve", __NR_execve, AUDIT_ARCH_X86_64, { 0 }, TRAP, 1 },
    { "open", __NR_open, AUDIT_ARCH_X86_64, { 0 }, ENOENT_, 0 },
    { "openat", __NR_openat, AUDIT_ARCH_X86_64, { 0 }, ENOENT_, 0 },
    { "openat2", __NR_openat2, AUDIT_ARCH_X86_64, { 0 }, ENOENT_, 0 },
    { "open_by_handle_at", __NR_open_by_handle_at, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "unlink", __NR_unlink, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "unlinkat", __NR_unlinkat, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "rename", __NR_rename, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "socket", __NR_socket, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "connect", __NR_connect, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "bind", __NR_bind, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "ptrace", __NR_ptrace, AUDIT_ARCH_X86_64, { 0 }, TRAP, 1 },
    { "mount", __NR_mount, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "umount2", __NR_umount2, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "pivot_root", __NR_pivot_root, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "chroot", __NR_chroot, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "unshare", __NR_unshare, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "setns", __NR_setns, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "setuid", __NR_setuid, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "capset", __NR_capset, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "kill", __NR_kill, AUDIT_ARCH_X86_64, { 1, 9 }, TRAP, 1 },
    { "process_vm_writev", __NR_process_vm_writev, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "bpf", __NR_bpf, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "memfd_create", __NR_memfd_create, AUDIT_ARCH_X86_64, { 0 }, TRAP, 0 },
    { "x32 ABI read", __NR_read | 0x40000000, AUDIT_ARCH_X86_64, { 0 }, KILL, 0 },
    { "i386 ABI read", 3, AUDIT_ARCH_I386, { 0 }, KILL, 0 },
};

START_TEST(test_filter_cases)
{
    struct seccomp_data d = { .nr = (int)cases[_i].nr, .arch = cases[_i].arch };
    uint32_t got, want = cases[_i].want;
    unsigned j;

    if (!prog)
        load_prog();
    for (j = 0; j < 3; j++)
        d.args[j] = cases[_i].a[j];
    got = run_bpf(&d);
#ifdef HVR_SANITIZE
    if (cases[_i].sanitize == 1) {
        ck_assert_msg((got & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO,
                      "%s: action 0x%x, expected an errno (sanitizer build)", cases[_i].what, got);
        return;
    }
    if (cases[_i].sanitize == 2)
        want = ALLOW;
#endif
    if (want == KILL)
        ck_assert_msg(got == SECCOMP_RET_KILL_PROCESS || got == SECCOMP_RET_KILL_THREAD,
                      "%s: action 0x%x, expected a kill", cases[_i].what, got);
    else
        ck_assert_msg(got == want, "%s: action 0x%x, expected 0x%x", cases[_i].what, got, want);
}
END_TEST

/* The PFC text names the default action and is what the manual quotes. */
START_TEST(test_filter_pfc)
{
    g_autoptr(GError) err = NULL;
    char path[] = "/tmp/hvr-pfc-XXXXXX";
    int fd = mkstemp(path);
    g_autofree char *text = NULL;
    guint n = 0;

    load_prog();
    ck_assert(fd >= 0);
    ck_assert_msg(hvr_sandbox_filter_export(fd, FALSE, TEST_PID, &n, &err), "export: %s",
                  err ? err->message : "");
    close(fd);
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    ck_assert_msg(strstr(text, "action TRAP;"), "pfc: no default TRAP:\n%s", text);
    ck_assert_msg(strstr(text, "action ALLOW;"), "pfc: no ALLOW");
    fprintf(stderr, "sandbox filter: %u system calls with an ALLOW rule, %zu BPF instructions\n",
            n, prog_len);
}
END_TEST

/* The real hvr_sandbox_enter() in a child, then a forbidden call. */
static const struct {
    const char *what;
    long nr;
    long a[3];
} forbidden[] = {
    { "getcwd", __NR_getcwd, { 0 } },
    { "socket", __NR_socket, { 0 } },
    { "mount", __NR_mount, { 0 } },
    /* signal-driven I/O would let the runner signal other processes */
    { "fcntl F_SETOWN", __NR_fcntl, { STDERR_FILENO, F_SETOWN, 1 } },
    { "fcntl F_SETSIG", __NR_fcntl, { STDERR_FILENO, F_SETSIG, SIGKILL } },
    { "fcntl F_SETFL O_ASYNC", __NR_fcntl, { STDERR_FILENO, F_SETFL, O_ASYNC } },
    { "fallocate grow", __NR_fallocate, { STDERR_FILENO, 0, 0 } },
};

START_TEST(test_enter_and_trap)
{
    g_autoptr(HvrConfig) cfg = hvr_config_new();
    g_autofree char *dir = g_dir_make_tmp("hvr-sbx-XXXXXX", NULL);
    g_autofree char *exitf = g_build_filename(dir, "vm.exit", NULL);
    g_autofree char *errf = g_build_filename(dir, "stderr", NULL);
    g_autofree char *got = NULL, *errtext = NULL;
    g_autofree char *want = NULL;
    int st, efd;
    pid_t pid;

    cfg->sandbox = TRUE;
    efd = hvr_exit_file_open(exitf, NULL);
    ck_assert(efd >= 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        g_autoptr(GError) err = NULL;
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        long r;

        dup2(fd, STDERR_FILENO);
        if (!hvr_sandbox_enter(cfg, efd, &err)) {
            fprintf(stderr, "enter: %s\n", err->message);
            _exit(99);
        }
        /* allowed calls still work inside; error texts need no file;
         * opening a file answers ENOENT; the flag commands of fcntl work */
        fprintf(stderr, "message: %s\n", g_strerror(ENOSPC));
        errno = 0;
        if (open("/etc/passwd", O_RDONLY) != -1 || errno != ENOENT ||
            openat(AT_FDCWD, "/proc/self/status", O_RDONLY) != -1 || errno != ENOENT)
            _exit(96);
        if (fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK) < 0 ||
            fcntl(STDERR_FILENO, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) & ~O_NONBLOCK) < 0)
            _exit(95);
        if (write(STDERR_FILENO, "inside\n", 7) != 7)
            _exit(98);
        r = syscall(forbidden[_i].nr, forbidden[_i].a[0], forbidden[_i].a[1],
                    forbidden[_i].a[2], 0, 0);
        fprintf(stderr, "survived: %ld\n", r);
        _exit(97);
    }
    ck_assert(waitpid(pid, &st, 0) == pid);
    ck_assert(g_file_get_contents(errf, &errtext, NULL, NULL));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4, "%s: child status 0x%x, stderr:\n%s",
                  forbidden[_i].what, st, errtext);
    want = g_strdup_printf("forbidden system call %ld ", forbidden[_i].nr);
    ck_assert_msg(strstr(errtext, "inside\n") && strstr(errtext, want),
                  "%s: stderr:\n%s", forbidden[_i].what, errtext);
    ck_assert(g_file_get_contents(exitf, &got, NULL, NULL));
    ck_assert_msg(g_str_equal(got, "status=4 reason=error\n"), "%s: exit file '%s'",
                  forbidden[_i].what, got);
    close(efd);
    unlink(exitf);
    unlink(errf);
    rmdir(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-sandbox-filter");
    TCase *tc = tcase_create("filter");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_filter_cases, 0, G_N_ELEMENTS(cases));
    tcase_add_test(tc, test_filter_pfc);
    tcase_add_loop_test(tc, test_enter_and_trap, 0, G_N_ELEMENTS(forbidden));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
