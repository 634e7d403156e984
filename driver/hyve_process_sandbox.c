/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_sandbox.c: what the daemon does for a least-privilege
 * runner (issue 7): the ids of the runner user for sandbox.uid/gid, the
 * domain's cgroup (hyve_cgroup.h), and the exec of the runner itself
 * (own session, clean signal state, into its cgroup before exec, taps
 * inherited as 3, 4, ...).
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
#include <sys/stat.h>
#include <unistd.h>

#include "hyve_cgroup.h"
#include "hyve_driver_priv.h"
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

static void
write_str(const char *s)
{
    if (write(2, s, strlen(s)) < 0)
        return;
}

/* In the child, before exec (async-signal-safe calls only): its own
 * session, the descriptor limit the daemon started with, the signal state of a process started from a shell (the
 * spawning thread may block signals; the daemon ignores SIGPIPE), and its
 * cgroup ("0" moves the writer), so that all it ever uses is accounted. */
static void
child_setup(gpointer data)
{
    const char *procs = data;
    sigset_t none;

    setsid();
    hyve_rlimit_child_restore();
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (procs) {
        int fd = open(procs, O_WRONLY | O_CLOEXEC);

        if (fd < 0 || write(fd, "0", 1) != 1) {
            write_str("bhyve-runner not started: cannot enter its cgroup (");
            write_str(procs);
            write_str(")\n");
            _exit(127);
        }
        close(fd);
    }
}

gboolean
hyve_process_exec_runner(HyveDriver *drv, HyveDomainRun *run, GArray *taps, int logfd,
                         const char *cgroup, GError **error)
{
    const char *argv[] = { hyve_driver_get_config(drv)->runner_path, "-c", run->paths.config,
                           NULL };
    g_autofree int *targets = g_new0(int, taps->len + 1);
    g_autofree char *procs = cgroup ? g_build_filename(cgroup, "cgroup.procs", NULL) : NULL;
    g_autoptr(GError) local = NULL;
    GPid pid = 0;

    for (guint i = 0; i < taps->len; i++)
        targets[i] = 3 + (int)i;
    if (!argv[0]) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "no bhyve-runner configured");
        return FALSE;
    }
    if (!g_spawn_async_with_pipes_and_fds("/", argv, NULL,
                                          G_SPAWN_DO_NOT_REAP_CHILD |
                                          G_SPAWN_STDIN_FROM_DEV_NULL,
                                          child_setup, procs, -1, logfd, logfd,
                                          (const int *)taps->data, targets, taps->len,
                                          &pid, NULL, NULL, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "cannot start %s: %s", argv[0], local->message);
        return FALSE;
    }
    run->pid = pid;
    run->is_child = TRUE;
    run->pidfd = hyve_pidfd_open(pid);
    if (run->pidfd < 0)
        g_warning("pidfd_open(%d): %s", (int)pid, g_strerror(errno));
    hyve_proc_stat(pid, &run->start_time, NULL, NULL, NULL);
    return TRUE;
}
