/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_sandbox.c: what the daemon does for a least-privilege
 * runner (issue 7): the ids of the runner user for sandbox.uid/gid, the
 * domain's cgroup (hyve_cgroup.h), and the fork and exec of the runner
 * (own session, clean signal state, held after fork until the daemon
 * placed it in machined's scope or its cgroup, taps inherited as 3, 4, ...).
 *
 * The runner opens everything it needs as the daemon's user, then confines
 * itself (bhyve-runner.conf(5), sandbox=). The daemon needs nothing from
 * it that the new uid could hide: as root it reads /proc/<pid>/{stat,
 * cmdline,status,task}, holds a pidfd and signals it; the control socket,
 * the exit file and the ptys were created by the runner before it dropped
 * its privileges, so they stay root's and the daemon opens them as before.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve_cgroup.h"
#include "hyve_driver_priv.h"
#include "hyve_machined.h"
#include "hyve_process.h"

gboolean
hyve_process_runner_ids(const char *user, guint32 *uid, guint32 *gid, GError **error)
{
    struct passwd pw, *res = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    g_autofree char *buf = NULL;
    int rc;

    size = size > 0 ? size : 16384;
    for (;;) {
        buf = g_malloc(size);
        rc = getpwnam_r(user, &pw, buf, size, &res);
        if (rc != ERANGE || size >= 1 << 20)
            break;
        size *= 2;
        g_clear_pointer(&buf, g_free);
    }
    if (rc != 0 && rc != ENOENT && rc != ESRCH)
        return hyve_error_set_errno(error, HYVE_FROM_BHYVE, rc,
                                    "cannot look up runner user '%s'", user);
    if (!res) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "runner user '%s' does not exist (runner_user in virtbhyved.conf)",
                       user);
        return FALSE;
    }
    *uid = (guint32)pw.pw_uid;
    *gid = (guint32)pw.pw_gid;
    return TRUE;
}

gboolean
hyve_process_sandbox_fill(HyveRunnerInput *in, const char *user, uid_t euid, GError **error)
{
    static gsize told;

    in->sandbox = TRUE;
    in->sandbox_ids = FALSE;
    if (!user || !*user)
        return TRUE;
    if (euid != 0) {
        /* only root can switch users (a developer's non-root --system daemon) */
        if (g_once_init_enter(&told)) {
            g_message("runner_user '%s' ignored: the daemon does not run as root, its "
                      "runners keep its user", user);
            g_once_init_leave(&told, 1);
        }
        return TRUE;
    }
    in->sandbox_ids = TRUE;
    if (!hyve_process_runner_ids(user, &in->sandbox_uid, &in->sandbox_gid, error))
        return FALSE;
    /* the runner refuses sandbox.uid/gid 0 too: say why here */
    if (in->sandbox_uid == 0 || in->sandbox_gid == 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "runner user '%s' has uid %u gid %u: runners must not run as root "
                       "(runner_user = \"\" in virtbhyved.conf keeps the daemon's user)",
                       user, in->sandbox_uid, in->sandbox_gid);
        return FALSE;
    }
    return TRUE;
}

/* <cache_dir>/kernel, 0700 and the daemon's: the runners' decompressed
 * kernels (boot.kernel_cache, read and written by the runner before its
 * sandbox, as the daemon's uid).  NULL, after one message, when it cannot be
 * made: the runners then boot their bzImage as before. */
static const char *
hyve_process_kernel_cache(const char *cache_dir)
{
    static gsize told;
    g_autofree char *dir = NULL;
    struct stat st;
    int fd = -1;
    gboolean ok;

    if (!cache_dir)
        return NULL;
    errno = 0;
    dir = g_build_filename(cache_dir, "kernel", NULL);
    /* checked and fixed through one descriptor: a symlink swapped in after
     * the mkdir is refused, never followed by the chmod */
    ok = (g_mkdir_with_parents(dir, 0700) == 0 || errno == EEXIST) &&
         (fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
         fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
         (!(st.st_mode & 077) || fchmod(fd, 0700) == 0);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        if (g_once_init_enter(&told)) {
            g_message("kernel cache %s unusable (%s): runners boot without it", dir,
                      g_strerror(errno ? errno : EPERM));
            g_once_init_leave(&told, 1);
        }
        return NULL;
    }
    /* one string per directory for the daemon's lifetime */
    return g_intern_string(dir);
}

gboolean
hyve_process_sandbox_input(HyveDriver *drv, HyveRunnerInput *in, GError **error)
{
    if (!hyve_driver_get_config(drv)->no_kernel_cache)
        in->kernel_cache = hyve_process_kernel_cache(hyve_driver_get_config(drv)->cache_dir);
    return hyve_process_sandbox_fill(in, hyve_driver_get_config(drv)->runner_user, geteuid(),
                                     error);
}

char *
hyve_process_cgroup_path(const HyveRunnerPaths *paths)
{
    const char *root = hyve_cgroup_root();
    g_autofree char *dir = NULL, *base = NULL;

    if (!root || !paths->config || !g_str_has_suffix(paths->config, ".conf"))
        return NULL;
    dir = g_path_get_dirname(paths->config);
    base = g_path_get_basename(paths->config);
    base[strlen(base) - strlen(".conf")] = '\0';
    return hyve_cgroup_vm_path(root, dir, base);
}

void
hyve_process_cgroup_remove(const HyveRunnerPaths *paths)
{
    g_autofree char *cg = hyve_process_cgroup_path(paths);

    if (cg)
        hyve_cgroup_remove(hyve_cgroup_root(), cg);
}

/* hyve_cgroup.h: the runner's threads */
static guint64
cgroup_pids_max(const HyveDomainDef *def)
{
    return hyve_cgroup_pids_max(def->vcpus, def->disks->len,
                                def->nets->len + def->serials->len + def->rngs->len);
}

gboolean
hyve_process_place_runner(pid_t pid, gpointer data, GError **error)
{
    HyveRunnerPlacement *p = data;
    const HyveDriverConfig *cfg = hyve_driver_get_config(p->drv);
    guint64 pids_max = cgroup_pids_max(p->def);
    guint64 memory_max = hyve_cgroup_memory_max(p->def->memory_kib);
    g_autofree char *cgroup = NULL;

    if (hyve_machined_wanted(cfg->privileged, cfg->state_dir, g_getenv("HYVE_MACHINED"))) {
        g_autofree char *machine = hyve_machined_name(p->id, p->def->name);
        g_autoptr(GError) local = NULL;

        if (hyve_machined_register(machine, p->def->uuid, pid, pids_max, memory_max, &local)) {
            hyve_process_log_line(p->run->paths.log, "registered as machine %s", machine);
            p->run->machine = g_steal_pointer(&machine);
            return TRUE;
        }
        hyve_machined_warn_once(machine, local);
    }
    if (!(cgroup = hyve_process_cgroup_path(&p->run->paths)))
        return TRUE;
    if (!hyve_cgroup_create(hyve_cgroup_root(), cgroup, error))
        return FALSE;
    p->cgroup = g_strdup(cgroup);
    return hyve_cgroup_set_limits(cgroup, pids_max, memory_max, error) &&
           hyve_process_cgroup_enter(cgroup, pid, error);
}

gboolean
hyve_process_cgroup_enter(const char *cgroup, pid_t pid, GError **error)
{
    g_autofree char *procs = g_build_filename(cgroup, "cgroup.procs", NULL);
    g_autofree char *text = g_strdup_printf("%d", (int)pid);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    gboolean ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

    if (!ok)
        hyve_error_set_errno(error, HYVE_FROM_BHYVE, errno,
                             "cannot move bhyve-runner %d into its cgroup '%s'", (int)pid,
                             cgroup);
    if (fd >= 0)
        close(fd);
    return ok;
}

/* What the forked child needs, all prepared before fork(). */
typedef struct {
    const char *const *argv;
    const int *taps;
    guint n_taps;
    int *moved;                 /* n_taps + 3 slots */
    int logfd, nullfd, go_r, go_w, err_r, err_w;
    pid_t daemon;               /* getpid() before fork() */
    int *keep;                  /* go_r, err_w, nullfd, logfd, the taps: n_taps + 4 slots */
    guint n_keep;
} ChildArgs;

/* Closes @from..@to (inclusive): close_range, else a close() loop
 * (kernels before 5.9). Async-signal-safe. */
static void
child_close_range(unsigned from, unsigned to)
{
    struct rlimit rl;

    if (from > to || syscall(SYS_close_range, from, to, 0) == 0)
        return;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        to >= rl.rlim_cur)
        to = rl.rlim_cur - 1;
    for (unsigned fd = from; fd <= to && fd < (1U << 20); fd++)
        close((int)fd);
}

/* Closes every descriptor from 3 up except @keep[@n] (any order). */
static void
child_close_except(const int *keep, guint n)
{
    unsigned fd = 3;

    for (;;) {
        unsigned next = ~0U;

        for (guint i = 0; i < n; i++)
            if (keep[i] >= 0 && (unsigned)keep[i] >= fd && (unsigned)keep[i] < next)
                next = (unsigned)keep[i];
        if (next == ~0U) {
            child_close_range(fd, ~0U);
            return;
        }
        if (next > fd)
            child_close_range(fd, next - 1);
        fd = next + 1;
    }
}

static void G_GNUC_NORETURN
child_fail(int err_w)
{
    int e = errno;

    if (write(err_w, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

/* In the child (async-signal-safe calls only): its own session in "/",
 * the descriptor limit the daemon started with, the signal state of a
 * process started from a shell (the spawning thread may block signals;
 * the daemon ignores SIGPIPE); then it waits until the daemon placed it
 * (go byte; EOF = the daemon gave up), arranges its descriptors and
 * executes. A failure before exec -> errno on @err_w. */
static void G_GNUC_NORETURN
child_exec(const ChildArgs *a)
{
    int base = 3 + (int)a->n_taps + 3, err_w;
    sigset_t none;
    char go = 0;
    ssize_t n;

    /* first of all drop what the daemon holds open (the daemon's ends
     * of our pipes, other starts' pipes, client sockets): EOF on go_r
     * must mean the daemon gave up, and held children must not keep each
     * other waiting; die with the daemon while held */
    child_close_except(a->keep, a->n_keep);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != a->daemon)
        _exit(127);
    setsid();
    hyve_rlimit_child_restore();
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    while ((n = read(a->go_r, &go, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1 || go != 'g')
        _exit(127);
    /* the runner outlives the daemon (and the thread that forked it) */
    if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
        child_fail(a->err_w);
    if (chdir("/") < 0)
        child_fail(a->err_w);
    /* every source above every target first, then onto the targets */
    if ((err_w = fcntl(a->err_w, F_DUPFD_CLOEXEC, base)) < 0 ||
        (a->moved[0] = fcntl(a->nullfd, F_DUPFD_CLOEXEC, base)) < 0 ||
        (a->moved[1] = fcntl(a->logfd, F_DUPFD_CLOEXEC, base)) < 0)
        child_fail(a->err_w);
    for (guint i = 0; i < a->n_taps; i++)
        if ((a->moved[3 + i] = fcntl(a->taps[i], F_DUPFD_CLOEXEC, base)) < 0)
            child_fail(err_w);
    if (dup2(a->moved[0], 0) < 0 || dup2(a->moved[1], 1) < 0 || dup2(a->moved[1], 2) < 0)
        child_fail(err_w);
    for (guint i = 0; i < a->n_taps; i++)
        if (dup2(a->moved[3 + i], 3 + (int)i) < 0)
            child_fail(err_w);
    /* nothing else reaches the runner; err_w closes at exec */
    child_close_range(3 + a->n_taps, (unsigned)err_w - 1);
    child_close_range((unsigned)err_w + 1, ~0U);
    execv(a->argv[0], (char *const *)a->argv);
    child_fail(err_w);
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

gboolean
hyve_process_exec_runner(HyveDriver *drv, HyveDomainRun *run, GArray *taps, int logfd,
                         HyveRunnerPlaceFunc place, gpointer place_data, GError **error)
{
    const char *argv[] = { hyve_driver_get_config(drv)->runner_path, "-c", run->paths.config,
                           NULL };
    g_autofree int *moved = g_new0(int, taps->len + 3);
    g_autofree int *keep = g_new0(int, taps->len + 4);
    ChildArgs a = { argv, (const int *)taps->data, taps->len, moved, logfd, -1, -1, -1, -1, -1 };
    int go[2] = { -1, -1 }, err[2] = { -1, -1 }, child_errno = 0, exec_errno = 0, status;
    ssize_t n;
    pid_t pid;

    if (!argv[0]) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "no bhyve-runner configured");
        return FALSE;
    }
    a.nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (a.nullfd < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        hyve_error_set_errno(error, HYVE_FROM_BHYVE, errno, "cannot start %s", argv[0]);
        goto fail;
    }
    a.go_r = go[0];
    a.go_w = go[1];
    a.err_r = err[0];
    a.err_w = err[1];
    a.daemon = getpid();
    a.keep = keep;
    a.keep[a.n_keep++] = a.go_r;
    a.keep[a.n_keep++] = a.err_w;
    a.keep[a.n_keep++] = a.nullfd;
    a.keep[a.n_keep++] = a.logfd;
    for (guint i = 0; i < a.n_taps; i++)
        a.keep[a.n_keep++] = a.taps[i];
    pid = fork();
    if (pid < 0) {
        hyve_error_set_errno(error, HYVE_FROM_BHYVE, errno, "cannot start %s", argv[0]);
        goto fail;
    }
    if (pid == 0)
        child_exec(&a);
    close_fd(&go[0]);
    close_fd(&err[1]);
    close_fd(&a.nullfd);
    run->pid = pid;
    run->is_child = TRUE;
    run->pidfd = hyve_pidfd_open(pid);
    if (run->pidfd < 0)
        g_warning("pidfd_open(%d): %s", (int)pid, g_strerror(errno));
    if (!place || place(pid, place_data, error)) {
        if (write(go[1], "g", 1) != 1)
            child_errno = errno;
    } else {
        child_errno = -1;       /* reported by @place */
        kill(pid, SIGKILL);
    }
    close_fd(&go[1]);           /* EOF: a child still waiting exits */
    /* exec closes err_w: EOF; a failure before it sends its errno */
    while ((n = read(err[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
        ;
    close_fd(&err[0]);
    if (child_errno == 0 && n == (ssize_t)sizeof(exec_errno))
        child_errno = exec_errno ? exec_errno : EIO;
    if (child_errno != 0) {
        if (child_errno > 0)
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "cannot start %s: %s", argv[0], g_strerror(child_errno));
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        close_fd(&run->pidfd);
        run->pid = 0;
        return FALSE;
    }
    hyve_proc_stat(pid, &run->start_time, NULL, NULL, NULL);
    return TRUE;

 fail:
    close_fd(&a.nullfd);
    close_fd(&go[0]);
    close_fd(&go[1]);
    close_fd(&err[0]);
    close_fd(&err[1]);
    return FALSE;
}
