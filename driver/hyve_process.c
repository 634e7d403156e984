/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process.c: one bhyve-runner process: spawn it (log as stdout/stderr,
 * sandboxed, in its cgroup: hyve_process_sandbox.c), wait until its control
 * socket says it runs, learn its ptys, reap it, remove its files and cgroup.
 * Nothing here takes a driver or domain lock: callers hold the domain's job.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve/runner-exit.h"
#include "hyve_cgroup.h"
#include "hyve_machined.h"
#include "hyve_driver_priv.h"
#include "hyve_netdev.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

#define HYVE_RUNNER_START_TIMEOUT_MS 30000

static guint64 run_serial;      /* atomic counter for HyveDomainRun.serial */

guint64
hyve_process_next_serial(void)
{
    return __atomic_add_fetch(&run_serial, 1, __ATOMIC_SEQ_CST);
}

void
hyve_domain_run_free(HyveDomainRun *run)
{
    if (!run)
        return;
    if (run->watch) {
        g_source_destroy(run->watch);
        g_source_unref(run->watch);
    }
    if (run->pidfd >= 0)
        close(run->pidfd);
    hyve_runner_paths_clear(&run->paths);
    g_free(run->machine);
    g_free(run);
}

int
hyve_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

char **
hyve_proc_stat_fields(const char *path)
{
    g_autofree char *text = NULL;
    const char *rp;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(rp = strrchr(text, ')')))
        return NULL;
    return g_strsplit_set(g_strstrip((char *)rp + 1), " ", -1);
}

guint64
hyve_proc_ticks_to_ns(guint64 ticks)
{
    long hz = sysconf(_SC_CLK_TCK);

    return ticks * (G_GUINT64_CONSTANT(1000000000) / (guint64)(hz > 0 ? hz : 100));
}

gboolean
hyve_proc_stat(pid_t pid, guint64 *start_time, pid_t *ppid, guint64 *cpu_ns, char *state)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_auto(GStrv) f = hyve_proc_stat_fields(path);

    /* f[0] is field 3 */
    if (!f || g_strv_length(f) < 20)
        return FALSE;
    if (state)
        *state = f[0][0];
    if (ppid)
        *ppid = (pid_t)g_ascii_strtoll(f[1], NULL, 10);
    if (cpu_ns)
        *cpu_ns = hyve_proc_ticks_to_ns(g_ascii_strtoull(f[11], NULL, 10) +
                                        g_ascii_strtoull(f[12], NULL, 10));
    if (start_time)
        *start_time = g_ascii_strtoull(f[19], NULL, 10);
    return TRUE;
}

void
hyve_process_log_line(const char *log_path, const char *fmt, ...)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    g_autofree char *msg = NULL, *line = NULL;
    va_list ap;
    int fd;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    stamp[23] = '\0';               /* milliseconds */
    line = g_strdup_printf("%s+0000: %s\n", stamp, msg);
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (write(fd, line, strlen(line)) < 0)
        g_debug("cannot write log %s: %s", log_path, g_strerror(errno));
    close(fd);
}

/* Without a pidfd (kernel < 5.3, valgrind, a seccomp filter refusing
 * pidfd_open): the runner is gone once /proc no longer shows it, shows a
 * zombie (a child of ours not yet reaped), or shows another process that
 * got its pid. */
static gboolean
gone_without_pidfd(const HyveDomainRun *run)
{
    guint64 start = 0;
    char state = '?';

    if (!hyve_proc_stat(run->pid, &start, NULL, NULL, &state))
        return TRUE;
    if (run->start_time && start != run->start_time)
        return TRUE;
    return state == 'Z' || state == 'X';
}

gboolean
hyve_process_wait_exit(HyveDomainRun *run, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    if (run->pidfd < 0) {
        while (!gone_without_pidfd(run)) {
            if (timeout_ms >= 0 && g_get_monotonic_time() >= deadline)
                return FALSE;
            g_usleep(10 * 1000);
        }
        return TRUE;
    }
    for (;;) {
        struct pollfd pfd = { .fd = run->pidfd, .events = POLLIN };
        gint64 left = timeout_ms < 0 ? -1 : (deadline - g_get_monotonic_time()) / 1000;
        int rc = poll(&pfd, 1, left < 0 && timeout_ms >= 0 ? 0 : (int)MIN(left, G_MAXINT));

        if (rc > 0)
            return TRUE;
        if (rc == 0 || (rc < 0 && errno != EINTR))
            return FALSE;
    }
}

/* "status=N reason=WORD" -> N, -1 when absent or unreadable. */
static int
read_exit_file(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GHashTable) pairs = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    g_strstrip(text);
    pairs = hyve_runner_parse_pairs(text);
    return (int)hyve_runner_pairs_get(pairs, "status", -1);
}

HyveRunnerEnd
hyve_process_reap(HyveDomainRun *run)
{
    HyveRunnerEnd end = { .status = -1, .signal = 0 };

    if (run->is_child) {
        int st = 0;
        pid_t r;

        do
            r = waitpid(run->pid, &st, 0);
        while (r < 0 && errno == EINTR);
        if (r == run->pid) {
            if (WIFEXITED(st))
                end.status = WEXITSTATUS(st);
            else if (WIFSIGNALED(st))
                end.signal = WTERMSIG(st);
            return end;
        }
    }
    end.status = read_exit_file(run->paths.exit_status);
    return end;
}

/* The listening sockets of `unix:` serial backends: a sandboxed runner
 * cannot unlink them. Only what the daemon's own configuration file names
 * (root's, written before the start), and only sockets. */
/* Removes the socket @path as root without following a link in its last
 * component or in the last component of its directory (a directory that
 * another user may write cannot redirect the unlink to another file). */
static void
remove_socket(const char *path)
{
    g_autofree char *dir = NULL, *base = NULL;
    struct stat st;
    int dfd;

    if (!g_path_is_absolute(path))
        return;
    dir = g_path_get_dirname(path);
    base = g_path_get_basename(path);
    if (g_str_equal(base, "/") || g_str_equal(base, ".") || g_str_equal(base, ".."))
        return;
    dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
        unlinkat(dfd, base, 0) < 0)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
    close(dfd);
}

static void
remove_serial_sockets(const char *config)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!config || !g_file_get_contents(config, &text, NULL, NULL))
        return;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i], *path;

        if (!g_str_has_prefix(l, "com") || !(path = strstr(l, ".backend=unix:")) ||
            path != l + 4)
            continue;
        path += strlen(".backend=unix:");
        remove_socket(path);
    }
}

void
hyve_process_cleanup(HyveDomainRun *run, const char *why)
{
    const char *files[] = { run->paths.config, run->paths.control, run->paths.pidfile,
                            run->paths.exit_status };

    remove_serial_sockets(run->paths.config);

    for (guint i = 0; i < G_N_ELEMENTS(files); i++)
        if (files[i] && unlink(files[i]) < 0 && errno != ENOENT)
            g_warning("cannot remove %s: %s", files[i], g_strerror(errno));
    hyve_process_status_remove(run->paths.status);
    hyve_process_cgroup_remove(&run->paths);
    /* its scope is empty now: a restart under the same name need not wait */
    if (run->machine) {
        hyve_process_log_line(run->paths.log, "terminating machine %s", run->machine);
        hyve_machined_terminate(run->machine);
    }
    if (why)
        hyve_process_log_line(run->paths.log, "stopped (%s)", why);
    if (run->pidfd >= 0) {
        close(run->pidfd);
        run->pidfd = -1;
    }
}

void
hyve_process_def_clear_live(HyveDomainDef *def)
{
    for (guint i = 0; i < def->serials->len; i++) {
        HyveChrDef *c = g_ptr_array_index(def->serials, i);

        if (c->type == HYVE_CHR_TYPE_PTY)
            g_clear_pointer(&c->path, g_free);
    }
    /* The runner has no balloon: the guest gets all of <memory>, so the
     * live <currentMemory> (dominfo "Used memory") says so, as libvirt
     * does for a domain without a balloon device. */
    def->current_memory_kib = def->memory_kib;
}

/* Polls the control socket until the runner runs (or is paused). */
static gboolean
wait_running(HyveDomainRun *run, const char *name, gboolean paused, off_t log_offset,
             GError **error)
{
    gint64 deadline = g_get_monotonic_time() + HYVE_RUNNER_START_TIMEOUT_MS * 1000;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *reply = NULL;

        if (hyve_process_wait_exit(run, 0)) {
            g_autofree char *tail = NULL;
            HyveRunnerEnd end;
            siginfo_t si = { 0 };

            /* a guest that powered off, reset or crashed right away did run:
             * the start succeeded and the exit handler takes it from here */
            if (waitid(P_PID, run->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid == run->pid && si.si_code == CLD_EXITED &&
                si.si_status >= HYVE_RUNNER_EXIT_REBOOT &&
                si.si_status <= HYVE_RUNNER_EXIT_TRIPLEFAULT)
                return TRUE;
            tail = hyve_process_log_tail(run->paths.log, log_offset);
            end = hyve_process_reap(run);

            run->pid = 0;
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "bhyve-runner of domain %s exited while starting (status %d%s%s): %s",
                           name, end.signal ? 128 + end.signal : end.status,
                           end.signal ? ", signal " : "",
                           end.signal ? g_strsignal(end.signal) : "", tail);
            return FALSE;
        }
        reply = hyve_runner_control(run->paths.control, name, "status", 1000, NULL);
        if (reply && (g_str_equal(reply, "running") || (paused && g_str_equal(reply, "paused"))))
            return TRUE;
        hyve_process_wait_exit(run, 20);
    }
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                   "bhyve-runner of domain %s did not come up in %d s", name,
                   HYVE_RUNNER_START_TIMEOUT_MS / 1000);
    return FALSE;
}

static void
kill_and_reap(HyveDomainRun *run)
{
    if (run->pid <= 0)
        return;
    kill(run->pid, SIGKILL);
    hyve_process_wait_exit(run, 10000);
    hyve_process_reap(run);
    run->pid = 0;
}

static HyveDomainRun *
spawn(HyveDriver *drv, HyveDomainDef *def, int id, gboolean paused, GError **error)
{
    const HyveDriverConfig *cfg = hyve_driver_get_config(drv);
    g_autoptr(HyveDomainRun) run = g_new0(HyveDomainRun, 1);
    g_autoptr(GArray) taps = NULL;
    g_autofree char *text = NULL, *pidtext = NULL;
    g_autoptr(GError) local = NULL;
    HyveRunnerPlacement place = { drv, def, NULL, id, NULL };
    HyveRunnerInput in = { 0 };
    gboolean ok;
    off_t offset;
    int logfd;

    run->pidfd = -1;
    run->serial = hyve_process_next_serial();
    hyve_runner_paths_init(&run->paths, cfg->state_dir,
                           cfg->log_dir ? cfg->log_dir : cfg->state_dir, def->name);
    /* Never take the files of a live runner of this domain that nobody
     * tracks: refused (killing it is left to an administrator, or to the
     * next daemon start, which kills runners it cannot reattach). */
    {
        pid_t other = hyve_process_pidfile_runner(cfg->runner_path, &run->paths);

        if (other > 0) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "bhyve-runner %d of domain %s (%s) is still running: not starting "
                           "a second one", (int)other, def->name, run->paths.config);
            return NULL;
        }
    }
    unlink(run->paths.exit_status);
    unlink(run->paths.control);
    /* The configuration first: a definition the runner cannot run is
     * refused before anything changes on the host. The taps are then
     * dup2()ed onto 3, 4, ... in the child, the numbers a NULL net_fds
     * gives. */
    in.paths = &run->paths;
    if (!hyve_process_sandbox_input(drv, &in, error) ||
        !(text = hyve_runner_config_format(def, &in, error)))
        return NULL;
    if (!(taps = hyve_netdev_open_all(hyve_driver_get_networks(drv), def, error)))
        return NULL;
    if (text && paused) {
        char *t = g_strconcat(text, "boot.paused=true\n", NULL);

        g_free(text);
        text = t;
    }
    ok = text && hyve_file_write_atomic(run->paths.config, text, error);
    logfd = -1;
    if (ok) {
        hyve_process_log_line(run->paths.log, "starting up: %s -c %s", cfg->runner_path,
                              run->paths.config);
        logfd = open(run->paths.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (logfd < 0) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                           "cannot open log file '%s': %s", run->paths.log, g_strerror(errno));
            ok = FALSE;
        }
    }
    offset = logfd >= 0 ? lseek(logfd, 0, SEEK_END) : 0;
    place.run = run;
    ok = ok && hyve_process_exec_runner(drv, run, taps, logfd, hyve_process_place_runner, &place,
                                     error);
    for (guint i = 0; i < taps->len; i++)
        close(g_array_index(taps, int, i));
    if (logfd >= 0)
        close(logfd);
    if (!ok) {
        unlink(run->paths.config);
        if (place.cgroup)
            hyve_cgroup_remove(hyve_cgroup_root(), place.cgroup);
        g_free(place.cgroup);
        if (run->machine)
            hyve_machined_terminate(run->machine);
        return NULL;
    }
    g_clear_pointer(&place.cgroup, g_free);
    pidtext = g_strdup_printf("%d\n", (int)run->pid);
    if (!hyve_file_write_atomic(run->paths.pidfile, pidtext, &local)) {
        g_warning("%s", local->message);
        g_clear_error(&local);
    }

    if (!wait_running(run, def->name, paused, offset, error)) {
        kill_and_reap(run);
        hyve_process_cleanup(run, "start failed");
        return NULL;
    }
    /* a runner whose guest ends right away closes its socket as it exits */
    if (!hyve_process_query_consoles(run, def->name, def, &local) &&
        !hyve_process_wait_exit(run, 2000)) {
        g_propagate_error(error, g_steal_pointer(&local));
        kill_and_reap(run);
        hyve_process_cleanup(run, "start failed");
        return NULL;
    }
    return g_steal_pointer(&run);
}

HyveDomainRun *
hyve_process_spawn(HyveDriver *drv, HyveDomainDef *def, int id, gboolean paused,
                   GError **error)
{
    HyveDomainRun *run = spawn(drv, def, id, paused, error);

    /* the network ports of a start that failed (taken by
     * hyve_netdev_open_all; the taps went with the runner) */
    if (!run)
        hyve_netdev_release_def(hyve_driver_get_networks(drv), def);
    return run;
}
