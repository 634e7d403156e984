/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_exit.c: a runner that exited on its own (the guest powered
 * off, reset, triple-faulted, the runner failed or was killed): its exit
 * status -> lifecycle events, and the domain's on_poweroff / on_reboot /
 * on_crash action (include/hyve/runner-exit.h; table in
 * notes/issue4.md). Runs on a pool thread of the watcher with the domain's
 * job held; an exit the holder of the job already handled (destroy, reset)
 * is recognised by the run serial and ignored.
 */
#include "hyve-config.h"

#include "hyve/runner-exit.h"
#include "hyve_driver_priv.h"
#include "hyve_process.h"

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
