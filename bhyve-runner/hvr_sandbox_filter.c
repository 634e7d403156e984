/* hvr_sandbox_filter.c: the seccomp allow-list of a running VM and the
 * SIGSYS handler that reports a violation (design note in hvr_sandbox.h,
 * policy in bhyve-runner.conf(5) SANDBOX).
 *
 * Every rule names why it is there.  Nothing that takes a path is allowed
 * except newfstatat (glibc's fstat(); the root is empty anyway); open,
 * openat and openat2 answer ENOENT (a C library or GLib that reads a file
 * lazily gets "no such file", as it would in the empty root, instead of
 * killing the VM); no socket, connect, bind, execve, fork, ptrace, mount,
 * kill of other processes.  ioctl is limited to KVM's ioctl type,
 * BLKDISCARD, TCGETS and TUNSETOFFLOAD (a value argument: the tap's
 * offloads follow what the virtio-net driver accepted); fcntl to the descriptor-flag commands (never
 * F_SETOWN/F_SETSIG/O_ASYNC, which would let the runner signal other
 * processes of its uid); fallocate to punching holes; tgkill to our own
 * threads; clone to new threads (clone3, whose flags a filter cannot see,
 * answers ENOSYS so glibc falls back to clone); mmap/mprotect never get
 * PROT_EXEC.  The filter is synchronised to every thread (TSYNC), though
 * the runner is single-threaded when it loads it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_sandbox.h"
#include "hyve/runner-exit.h"

/* System calls allowed without argument checks. */
static const char *const hvr_allow[] = {
    /* I/O on descriptors opened during setup: disks (pread/pwrite and the
     * vectored forms, flush, discard), taps, consoles, eventfds, the exit
     * file, stderr */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
    "preadv2", "pwritev2", "lseek", "fsync", "fdatasync", "close",
    "fstat", "newfstatat",
    /* main loop, device I/O threads, GLib wakeups */
    "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl", "eventfd2", "pipe2",
    /* control socket and unix: console backends (already bound and listening) */
    "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockopt",
    /* GLib's first g_warning() asks whether stderr is journald's socket */
    "getpeername",
    /* threads, locks, memory */
    "futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
    "munmap", "madvise", "mremap", "brk",
    /* signals: vCPU kicks (tgkill to our own threads), GLib unix signals */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
    "restart_syscall", "getpid", "gettid",
    /* time */
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
    /* virtio-rng */
    "getrandom",
    /* identity (GLib, logging) */
    "getuid", "geteuid", "getgid", "getegid",
    "exit", "exit_group",
};

#ifdef HVR_SANITIZE
/* ASan/UBSan/LSan runtimes: allowed, or answered with an error they handle. */
static const char *const hvr_allow_sanitize[] = {
    "getppid", "sched_getparam", "prctl", "uname", "mlock", "munlock",
    "getrlimit", "prlimit64",
};
static const char *const hvr_enoent_sanitize[] = {
    "readlink", "readlinkat", "stat", "lstat", "access", "faccessat",
    "getdents64",
};
static const char *const hvr_eperm_sanitize[] = {
    "execve", "execveat", "fork", "vfork", "ptrace", "wait4", "kill",
};
#endif

static int hvr_filter_exit_fd = -1;

/* Async-signal-safe: only write, pwrite, fdatasync, _exit. */
static void
hvr_sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
    static const char line[] = "status=4 reason=error\n";
    static const char suffix[] = " (see scmp_sys_resolver), exiting\n";
    char msg[96] = "bhyve-runner: sandbox: forbidden system call ";
    char num[16];
    size_t len = strlen(msg), n = 0;
    int nr = si->si_syscall;
    unsigned v = nr < 0 ? 0 : (unsigned)nr;

    G_STATIC_ASSERT(HYVE_RUNNER_EXIT_ERROR == 4);
    (void)sig;
    (void)uctx;
    do
        num[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof(num));
    while (n)
        msg[len++] = num[--n];
    memcpy(msg + len, suffix, sizeof(suffix) - 1);
    len += sizeof(suffix) - 1;
    if (write(STDERR_FILENO, msg, len) < 0) {
        /* nothing else to tell */
    }
    if (hvr_filter_exit_fd >= 0 &&
        pwrite(hvr_filter_exit_fd, line, sizeof(line) - 1, 0) == (ssize_t)sizeof(line) - 1)
        fdatasync(hvr_filter_exit_fd);
    _exit(HYVE_RUNNER_EXIT_ERROR);
}

/* Opening a file by path: "no such file" (see the top). */
static const char *const hvr_enoent[] = { "open", "openat", "openat2" };

/* fcntl commands on descriptors (GLib: g_unix_set_fd_nonblocking, close-on-exec
 * fallbacks; the runner: O_NONBLOCK on taps); F_SETFL only without O_ASYNC. */
static const int hvr_fcntl_cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_DUPFD_CLOEXEC };

/* System calls with an ALLOW rule in the filter being built (for the
 * export's count); only touched by hvr_filter_build()'s caller. */
static GHashTable *hvr_filter_allowed;

static int
hvr_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
         const struct scmp_arg_cmp *cmp)
{
    int nr = seccomp_syscall_resolve_name(name);

    if (nr == __NR_SCMP_ERROR)
        return 0;   /* not a system call on this architecture */
    if (action == SCMP_ACT_ALLOW && hvr_filter_allowed)
        g_hash_table_add(hvr_filter_allowed, GINT_TO_POINTER(nr + 1));
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static int
hvr_rules(scmp_filter_ctx ctx, const char *const *names, guint n, uint32_t action)
{
    guint i;
    int r;

    for (i = 0; i < n; i++)
        if ((r = hvr_rule(ctx, action, names[i], 0, NULL)) < 0)
            return r;
    return 0;
}

static scmp_filter_ctx
hvr_filter_build(pid_t pid, GError **error)
{
    /* signals to our own threads only (vCPU kicks, raise()), never to
     * another runner running as the same user */
    const struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    const struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    const struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    const struct scmp_arg_cmp kvm = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8);
    const struct scmp_arg_cmp discard = SCMP_A1(SCMP_CMP_EQ, BLKDISCARD);
    const struct scmp_arg_cmp tcgets = SCMP_A1(SCMP_CMP_EQ, TCGETS);
    const struct scmp_arg_cmp tunoffload = SCMP_A1(SCMP_CMP_EQ, TUNSETOFFLOAD);
    const struct scmp_arg_cmp setname = SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME);
    const struct scmp_arg_cmp getname = SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME);
    /* virtio-blk discard on a file: the only fallocate mode the runner uses */
    const struct scmp_arg_cmp punch = SCMP_A1(SCMP_CMP_EQ,
                                              FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
    const struct scmp_arg_cmp setfl[] = { SCMP_A1(SCMP_CMP_EQ, F_SETFL),
                                          SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0) };
    guint i;
    int r;

    if (!ctx) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: seccomp_init failed");
        return NULL;
    }
    if ((r = hvr_rules(ctx, hvr_allow, G_N_ELEMENTS(hvr_allow), SCMP_ACT_ALLOW)) < 0 ||
        /* new threads only (device I/O, vCPUs, GLib worker) */
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &self)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0 ||
        /* memory: thread stacks, malloc arenas; never executable */
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, &noexec)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &noexec)) < 0 ||
        /* KVM_RUN, register/LAPIC/MSR access, IRQ lines, MSI, irqfd, ioeventfd,
         * GSI routing; discard on block devices; isatty(); tap offloads */
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &kvm)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &discard)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &tcgets)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &tunoffload)) < 0 ||
        /* thread names (GLib) */
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &setname)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &getname)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "fallocate", 1, &punch)) < 0 ||
        (r = hvr_rule(ctx, SCMP_ACT_ALLOW, "fcntl", 2, setfl)) < 0 ||
        (r = hvr_rules(ctx, hvr_enoent, G_N_ELEMENTS(hvr_enoent), SCMP_ACT_ERRNO(ENOENT))) < 0)
        goto fail;
    for (i = 0; i < G_N_ELEMENTS(hvr_fcntl_cmds); i++) {
        const struct scmp_arg_cmp cmd = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)hvr_fcntl_cmds[i]);

        if ((r = hvr_rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &cmd)) < 0)
            goto fail;
    }
    /* every thread, should one ever exist before the filter is loaded */
    if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
        goto fail;
#ifdef HVR_SANITIZE
    /* the ASan symbolizer and LSan fork or clone helpers: refuse */
    const struct scmp_arg_cmp process = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);

    if ((r = hvr_rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &process)) < 0 ||
        (r = hvr_rules(ctx, hvr_allow_sanitize, G_N_ELEMENTS(hvr_allow_sanitize),
                       SCMP_ACT_ALLOW)) < 0 ||
        (r = hvr_rules(ctx, hvr_enoent_sanitize, G_N_ELEMENTS(hvr_enoent_sanitize),
                       SCMP_ACT_ERRNO(ENOENT))) < 0 ||
        (r = hvr_rules(ctx, hvr_eperm_sanitize, G_N_ELEMENTS(hvr_eperm_sanitize),
                       SCMP_ACT_ERRNO(EPERM))) < 0)
        goto fail;
#endif
    return ctx;

fail:
    g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: cannot build the seccomp filter: %s",
                g_strerror(-r));
    seccomp_release(ctx);
    return NULL;
}

gboolean
hvr_sandbox_filter_export(int fd, gboolean bpf, pid_t pid, guint *n_allowed, GError **error)
{
    g_autoptr(GHashTable) allowed = g_hash_table_new(NULL, NULL);
    scmp_filter_ctx ctx;
    int r;

    hvr_filter_allowed = allowed;
    ctx = hvr_filter_build(pid > 0 ? pid : getpid(), error);
    hvr_filter_allowed = NULL;
    if (!ctx)
        return FALSE;
    r = bpf ? seccomp_export_bpf(ctx, fd) : seccomp_export_pfc(ctx, fd);
    seccomp_release(ctx);
    if (r < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: cannot export the filter: %s",
                    g_strerror(-r));
        return FALSE;
    }
    if (n_allowed)
        *n_allowed = g_hash_table_size(allowed);
    return TRUE;
}

gboolean
hvr_sandbox_filter_load(int exit_fd, GError **error)
{
    struct sigaction sa;
    scmp_filter_ctx ctx = hvr_filter_build(getpid(), error);
    int r;

    if (!ctx)
        return FALSE;
    hvr_filter_exit_fd = exit_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = hvr_sandbox_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        seccomp_release(ctx);
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: cannot handle SIGSYS: %s",
                    g_strerror(errno));
        return FALSE;
    }
    r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "sandbox: cannot load the seccomp filter: %s",
                    g_strerror(-r));
        return FALSE;
    }
    return TRUE;
}
