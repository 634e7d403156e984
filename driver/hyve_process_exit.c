/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_exit.c: a runner that exited on its own (the guest powered
 * off, reset, triple-faulted, the runner failed or was killed): its exit
 * status -> lifecycle events, and the domain's on_poweroff / on_reboot /
 * on_crash action (include/hyve/runner-exit.h; table in
 * notes/issue4.md). Runs on a pool thread of the watcher with the domain's
 * job held; an exit the holder of the job already handled (destroy, reset)
 * is recognised by the run serial and ignored. Also a runner that ended
 * while no driver watched it (reattach), and the log tail of a failed start.
 */
#include "hyve-config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyve/runner-exit.h"
#include "hyve_driver_priv.h"
#include "hyve_process.h"

#define HYVE_LOG_TAIL_BYTES 4096

/* What the exit handler needs to know about the run and the definition. */
typedef struct {
    gboolean host_powerdown;
    gboolean reboot_pending;
    HyveLifecycleAction on_poweroff, on_reboot, on_crash;
} HyveExitContext;

static void
handle_end(HyveDriver *drv, HyveDomainObj *obj, HyveRunnerEnd end, const HyveExitContext *c)
{
    HyveEventSpec shutdown[] = {
        { HYVE_DOMAIN_EVENT_SHUTDOWN, HYVE_EVENT_SHUTDOWN_FINISHED },
        { HYVE_DOMAIN_EVENT_SHUTDOWN,
          c->host_powerdown ? HYVE_EVENT_SHUTDOWN_HOST : HYVE_EVENT_SHUTDOWN_GUEST },
    };
    static const HyveEventSpec crashed[] = {
        { HYVE_DOMAIN_EVENT_CRASHED, HYVE_EVENT_CRASHED_PANICKED },
    };
    const char *name = hyve_runner_exit_to_string(end.status);
    g_autofree char *why = end.signal ? g_strdup_printf("killed by signal %d", end.signal) :
        g_strdup_printf("exit status %d%s%s%s", end.status, name ? " (" : "",
                        name ? name : "", name ? ")" : "");

    switch (end.status) {
    case HYVE_RUNNER_EXIT_POWEROFF:
    case HYVE_RUNNER_EXIT_HALT:
        if (c->reboot_pending && c->on_reboot == HYVE_LIFECYCLE_RESTART) {
            hyve_domain_restart(drv, obj, HYVE_START_REBOOT, FALSE, NULL, 0, why, NULL);
        } else if (c->on_poweroff == HYVE_LIFECYCLE_RESTART) {
            hyve_domain_restart(drv, obj, HYVE_START_RESTART, FALSE, shutdown,
                                G_N_ELEMENTS(shutdown), why, NULL);
        } else {
            hyve_domain_run_stop(drv, obj, shutdown, G_N_ELEMENTS(shutdown),
                                 HYVE_REASON_SHUTOFF_SHUTDOWN, HYVE_EVENT_STOPPED_SHUTDOWN,
                                 FALSE, why);
        }
        return;
    case HYVE_RUNNER_EXIT_REBOOT:
        if (c->on_reboot == HYVE_LIFECYCLE_RESTART) {
            hyve_domain_restart(drv, obj, HYVE_START_REBOOT, FALSE, NULL, 0, why, NULL);
        } else {
            shutdown[1].detail = HYVE_EVENT_SHUTDOWN_GUEST;
            hyve_domain_run_stop(drv, obj, shutdown, G_N_ELEMENTS(shutdown),
                                 HYVE_REASON_SHUTOFF_SHUTDOWN, HYVE_EVENT_STOPPED_SHUTDOWN,
                                 FALSE, why);
        }
        return;
    case HYVE_RUNNER_EXIT_TRIPLEFAULT:
        if (c->on_crash == HYVE_LIFECYCLE_RESTART)
            hyve_domain_restart(drv, obj, HYVE_START_REBOOT, FALSE, NULL, 0, why, NULL);
        else
            hyve_domain_run_stop(drv, obj, crashed, G_N_ELEMENTS(crashed),
                                 HYVE_REASON_SHUTOFF_CRASHED, HYVE_EVENT_STOPPED_CRASHED,
                                 FALSE, why);
        return;
    case HYVE_RUNNER_EXIT_ERROR:
        hyve_domain_run_stop(drv, obj, NULL, 0, HYVE_REASON_SHUTOFF_FAILED,
                             HYVE_EVENT_STOPPED_FAILED, FALSE, why);
        return;
    default:
        /* killed, vanished without an exit file, or an unknown status */
        hyve_domain_run_stop(drv, obj, NULL, 0, HYVE_REASON_SHUTOFF_CRASHED,
                             HYVE_EVENT_STOPPED_FAILED, FALSE, why);
        return;
    }
}

void
hyve_domain_handle_exit(HyveDriver *drv, HyveDomainObj *obj, guint64 serial)
{
    HyveExitContext c;
    HyveDomainRun *run;
    HyveRunnerEnd end;

    if (!hyve_domain_job_begin(obj, TRUE, NULL))
        return;                 /* undefined meanwhile */
    g_mutex_lock(&obj->lock);
    run = obj->run;
    if (!run || run->serial != serial) {
        g_mutex_unlock(&obj->lock);
        hyve_domain_job_end(obj);
        return;                 /* already handled by whoever held the job */
    }
    c.host_powerdown = run->host_powerdown;
    c.reboot_pending = run->reboot_pending;
    c.on_poweroff = obj->def->on_poweroff;
    c.on_reboot = obj->def->on_reboot;
    c.on_crash = obj->def->on_crash;
    g_mutex_unlock(&obj->lock);

    /* the job keeps run alive and unchanged from here on */
    end = hyve_process_reap(run);
    handle_end(drv, obj, end, &c);
    hyve_domain_job_end(obj);
}

/* A runner that ended while no driver watched it: how it ended. */
static HyveRunnerEnd
dead_runner_end(pid_t pid, guint64 start_time, const HyveRunnerPaths *paths)
{
    HyveDomainRun tmp = { .pid = pid, .pidfd = -1, .paths = *paths };
    guint64 start = 0;
    pid_t ppid = 0;
    char state = 0;

    /* our own zombie child (a driver of this process spawned it): reap it */
    tmp.is_child = pid > 0 && hyve_proc_stat(pid, &start, &ppid, NULL, &state) &&
                   start == start_time && ppid == getpid() && state == 'Z';
    return hyve_process_reap(&tmp);
}

void
hyve_process_end_unwatched(HyveDriver *drv, const HyveDomainDef *def, pid_t pid,
                           guint64 start_time, HyveRunnerPaths *paths)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    HyveRunnerEnd end = dead_runner_end(pid, start_time, paths);
    g_autoptr(HyveDomainObj) obj = NULL;
    int reason = HYVE_REASON_SHUTOFF_CRASHED, detail = HYVE_EVENT_STOPPED_FAILED;

    switch (end.status) {
    case HYVE_RUNNER_EXIT_REBOOT:
    case HYVE_RUNNER_EXIT_POWEROFF:
    case HYVE_RUNNER_EXIT_HALT:
        reason = HYVE_REASON_SHUTOFF_SHUTDOWN;
        detail = HYVE_EVENT_STOPPED_SHUTDOWN;
        break;
    case HYVE_RUNNER_EXIT_TRIPLEFAULT:
        detail = HYVE_EVENT_STOPPED_CRASHED;
        break;
    case HYVE_RUNNER_EXIT_ERROR:
        reason = HYVE_REASON_SHUTOFF_FAILED;
        break;
    default:
        break;
    }
    g_message("domain %s: bhyve-runner %d ended while the daemon was away (status %d)",
              def->name, (int)pid, end.status);
    g_mutex_lock(&list->lock);
    if ((obj = hyve_domain_list_find_uuid_locked(list, def->uuid))) {
        g_mutex_lock(&obj->lock);
        obj->state = HYVE_DOMAIN_STATE_SHUTOFF;
        obj->reason = reason;
        g_mutex_unlock(&obj->lock);
    }
    hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, def->name, def->uuid,
                            -1, HYVE_DOMAIN_EVENT_STOPPED, detail, NULL);
    g_mutex_unlock(&list->lock);
    {
        HyveDomainRun tmp = { .pid = pid, .pidfd = -1, .paths = *paths };

        hyve_process_cleanup(&tmp, "runner ended while the daemon was not running");
    }
}

/* The last lines the runner wrote since @offset, for an error message:
 * only the last HYVE_LOG_TAIL_BYTES are read (the log only grows). */
char *
hyve_process_log_tail(const char *log_path, off_t offset)
{
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    g_autofree char *buf = NULL;
    struct stat sb;
    off_t from;
    ssize_t n;
    char *out;

    if (fd < 0)
        return g_strdup("(no output)");
    if (fstat(fd, &sb) < 0 || offset < 0 || sb.st_size <= offset) {
        close(fd);
        return g_strdup("(no output)");
    }
    from = MAX(offset, sb.st_size - (off_t)HYVE_LOG_TAIL_BYTES);
    buf = g_malloc0((gsize)(sb.st_size - from) + 1);
    n = pread(fd, buf, (size_t)(sb.st_size - from), from);
    close(fd);
    if (n <= 0)
        return g_strdup("(no output)");
    buf[n] = '\0';
    out = g_strstrip(g_strdup(buf));
    return *out ? out : (g_free(out), g_strdup("(no output)"));
}
