/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_lifecycle.c: the running-domain entry points of
 * hyve_driver.h: flags -> job -> state check -> act (runner control, spawn,
 * wait) with no lock held -> state change + events -> end job. The
 * bookkeeping lives in hyve_process_run.c, the runner side in
 * hyve_process.c; console and autostart are in hyve_process_console.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "hyve_driver_priv.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

#define DESTROY_POWEROFF_MS 5000
#define DESTROY_GRACEFUL_MS 10000
#define DESTROY_KILL_MS 10000
#define RESET_EXIT_MS 10000

static gboolean
not_running(GError **error)
{
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID, "domain is not running");
    return FALSE;
}

/* Begins the job of an active domain; returns its run (stable while the
 * job is held) and copies of what talking to it needs. */
static HyveDomainRun *
begin_active(HyveDomainObj *obj, HyveDomainState *state, GError **error)
{
    HyveDomainRun *run;

    if (!hyve_domain_job_begin(obj, FALSE, error))
        return NULL;
    g_mutex_lock(&obj->lock);
    run = obj->id > 0 ? obj->run : NULL;
    if (state)
        *state = obj->state;
    g_mutex_unlock(&obj->lock);
    if (!run) {
        hyve_domain_job_end(obj);
        not_running(error);
    }
    return run;
}

static gboolean
start_job(HyveDriver *drv, HyveDomainObj *obj, HyveDomainDef *live, guint flags, GError **error)
{
    g_autoptr(HyveDomainDef) def = live;
    gboolean active;

    g_mutex_lock(&obj->lock);
    active = obj->id > 0;
    g_mutex_unlock(&obj->lock);
    if (active) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain is already running");
        return FALSE;
    }
    return hyve_domain_run_start(drv, obj, g_steal_pointer(&def), HYVE_START_BOOT,
                                 (flags & HYVE_DOMAIN_START_PAUSED) != 0, error);
}

gboolean
hyve_driver_domain_start(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    gboolean ok;

    CHECK_FLAGS(flags, HYVE_DOMAIN_START_PAUSED, FALSE);
    if (!hyve_domain_job_begin(obj, FALSE, error))
        return FALSE;
    ok = start_job(drv, obj, NULL, flags, error);
    hyve_domain_job_end(obj);
    return ok;
}

/* With the list locked: the domain @def names, if any, after the same
 * checks as define (name and uuid must agree). */
static gboolean
find_for_create_locked(HyveDomainList *list, const HyveDomainDef *def, HyveDomainObj **out,
                       GError **error)
{
    g_autoptr(HyveDomainObj) obj = NULL;
    char s[HYVE_UUID_STRING_LEN];

    if ((obj = hyve_domain_list_find_uuid_locked(list, def->uuid))) {
        if (!g_str_equal(obj->name, def->name)) {
            hyve_uuid_format(obj->uuid, s);
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_FAILED,
                           "domain '%s' is already defined with uuid %s", obj->name, s);
            return FALSE;
        }
    } else if ((obj = hyve_domain_list_find_name_locked(list, def->name))) {
        hyve_uuid_format(obj->uuid, s);
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_FAILED,
                       "domain '%s' already exists with uuid %s", def->name, s);
        return FALSE;
    }
    *out = g_steal_pointer(&obj);
    return TRUE;
}

HyveDomainObj *
hyve_driver_create_xml(HyveDriver *drv, const char *xml, guint flags, GError **error)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    g_autoptr(HyveDomainDef) def = NULL;
    g_autoptr(HyveDomainObj) obj = NULL;
    gboolean fresh = FALSE, ok;

    CHECK_FLAGS(flags, HYVE_DOMAIN_START_PAUSED | HYVE_DOMAIN_START_VALIDATE, NULL);
    if (!(def = hyve_domain_def_parse_string(xml, hyve_driver_get_parse_options(drv), error)))
        return NULL;

    g_mutex_lock(&list->lock);
    if (!find_for_create_locked(list, def, &obj, error)) {
        g_mutex_unlock(&list->lock);
        return NULL;
    }
    if (!obj) {
        /* a new transient domain, its job already ours */
        obj = hyve_domain_obj_new(g_steal_pointer(&def));
        obj->persistent = FALSE;
        obj->job_active = TRUE;
        hyve_domain_list_add_locked(list, obj);
        fresh = TRUE;
    }
    g_mutex_unlock(&list->lock);

    if (!fresh && !hyve_domain_job_begin(obj, FALSE, error))
        return NULL;
    if (!fresh && hyve_domain_obj_is_active(obj)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain '%s' is already active", obj->name);
        ok = FALSE;
    } else {
        /* an inactive persistent domain runs @def; its own waits in new_def */
        ok = start_job(drv, obj, g_steal_pointer(&def), flags, error);
    }
    if (!ok && fresh) {
        gboolean drop;

        /* never drop a domain that became persistent meanwhile */
        g_mutex_lock(&list->lock);
        g_mutex_lock(&obj->lock);
        drop = !obj->persistent && obj->id <= 0 && !obj->removed;
        g_mutex_unlock(&obj->lock);
        if (drop)
            hyve_domain_list_remove_locked(list, obj);
        g_mutex_unlock(&list->lock);
    }
    hyve_domain_job_end(obj);
    return ok ? g_steal_pointer(&obj) : NULL;
}

gboolean
hyve_driver_domain_destroy(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    gboolean graceful = (flags & HYVE_DOMAIN_DESTROY_GRACEFUL) != 0;
    HyveDomainRun *run;

    CHECK_FLAGS(flags, HYVE_DOMAIN_DESTROY_GRACEFUL, FALSE);
    if (!(run = begin_active(obj, NULL, error)))
        return FALSE;
    g_free(hyve_runner_control(run->paths.control, obj->name, "poweroff", 2000, NULL));
    if (!hyve_process_wait_exit(run, graceful ? DESTROY_GRACEFUL_MS : DESTROY_POWEROFF_MS)) {
        if (graceful) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "failed to terminate process %d: bhyve-runner of domain %s did not "
                           "power off in %d s", (int)run->pid, obj->name,
                           DESTROY_GRACEFUL_MS / 1000);
            hyve_domain_job_end(obj);
            return FALSE;
        }
        kill(run->pid, SIGKILL);
        if (!hyve_process_wait_exit(run, DESTROY_KILL_MS)) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "failed to kill process %d of domain %s", (int)run->pid, obj->name);
            hyve_domain_job_end(obj);
            return FALSE;
        }
    }
    hyve_process_reap(run);
    hyve_domain_run_stop(drv, obj, NULL, 0, HYVE_REASON_SHUTOFF_DESTROYED,
                         HYVE_EVENT_STOPPED_DESTROYED, FALSE, "destroyed");
    hyve_domain_job_end(obj);
    return TRUE;
}

/* Shutdown/reboot modes: only the ACPI power button. */
static gboolean
check_power_mode(guint flags, const char *what, const char *func, GError **error)
{
    static const struct {
        guint flag;
        const char *name;
    } modes[] = {
        { HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT, "agent" },
        { HYVE_DOMAIN_SHUTDOWN_INITCTL, "initctl" },
        { HYVE_DOMAIN_SHUTDOWN_SIGNAL, "signal" },
        { HYVE_DOMAIN_SHUTDOWN_PARAVIRT, "paravirt" },
    };

    if (flags & ~0x1fu) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", flags & ~0x1fu, func);
        return FALSE;
    }
    /* a set of modes that includes the power button uses it (as libvirt
     * falls back to ACPI when the others are unavailable) */
    if (flags & HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        return TRUE;
    for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (flags & modes[i].flag) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_SUPPORT,
                           "%s mode '%s' is not supported: bhyve domains only have the "
                           "ACPI power button (mode 'acpi')", what, modes[i].name);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
press_power_button(HyveDomainObj *obj, gboolean reboot, GError **error)
{
    HyveDomainState state;
    HyveDomainRun *run;
    g_autofree char *reply = NULL;

    if (!(run = begin_active(obj, &state, error)))
        return FALSE;
    if (!reboot && state != HYVE_DOMAIN_STATE_RUNNING) {
        hyve_domain_job_end(obj);
        return not_running(error);
    }
    g_mutex_lock(&obj->lock);
    if (reboot && obj->def->on_reboot != HYVE_LIFECYCLE_RESTART) {
        /* as libvirt's QEMU driver: the reboot is a shutdown then */
        g_message("domain %s: on_reboot setting overridden, shutting down", obj->name);
        reboot = FALSE;
    }
    g_mutex_unlock(&obj->lock);
    reply = hyve_runner_control(run->paths.control, obj->name, "powerdown",
                                HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
    if (reply) {
        g_mutex_lock(&obj->lock);
        run->host_powerdown = TRUE;
        if (reboot)
            run->reboot_pending = TRUE;
        g_mutex_unlock(&obj->lock);
        hyve_process_status_save(obj);
    }
    hyve_domain_job_end(obj);
    return reply != NULL;
}

gboolean
hyve_driver_domain_shutdown(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    (void)drv;
    if (!check_power_mode(flags, "shutdown", __func__, error))
        return FALSE;
    return press_power_button(obj, FALSE, error);
}

gboolean
hyve_driver_domain_reboot(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    (void)drv;
    if (!check_power_mode(flags, "reboot", __func__, error))
        return FALSE;
    return press_power_button(obj, TRUE, error);
}

gboolean
hyve_driver_domain_reset(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    g_autofree char *reply = NULL;
    HyveDomainState state;
    HyveDomainRun *run;
    gboolean ok;

    CHECK_FLAGS(flags, 0, FALSE);
    if (!(run = begin_active(obj, &state, error)))
        return FALSE;
    reply = hyve_runner_control(run->paths.control, obj->name, "reset",
                                HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
    if (!reply) {
        hyve_domain_job_end(obj);
        return FALSE;
    }
    if (!hyve_process_wait_exit(run, RESET_EXIT_MS)) {
        kill(run->pid, SIGKILL);
        hyve_process_wait_exit(run, DESTROY_KILL_MS);
    }
    hyve_process_reap(run);
    /* as QEMU's system_reset: a paused domain stays paused */
    ok = hyve_domain_restart(drv, obj, HYVE_START_REBOOT, state == HYVE_DOMAIN_STATE_PAUSED,
                             NULL, 0, "reset", error);
    hyve_domain_job_end(obj);
    return ok;
}

/* pause/resume: @request to the runner, then the new state and its event. */
static gboolean
pause_or_resume(HyveDriver *drv, HyveDomainObj *obj, gboolean pause, GError **error)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    g_autofree char *reply = NULL;
    HyveDomainState state;
    HyveDomainRun *run;

    if (!(run = begin_active(obj, &state, error)))
        return FALSE;
    if ((pause && state == HYVE_DOMAIN_STATE_PAUSED) ||
        (!pause && state == HYVE_DOMAIN_STATE_RUNNING)) {
        hyve_domain_job_end(obj);
        return TRUE;            /* as libvirt: nothing to do, no event */
    }
    reply = hyve_runner_control(run->paths.control, obj->name, pause ? "pause" : "resume",
                                HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
    if (reply) {
        g_mutex_lock(&list->lock);
        g_mutex_lock(&obj->lock);
        obj->state = pause ? HYVE_DOMAIN_STATE_PAUSED : HYVE_DOMAIN_STATE_RUNNING;
        obj->reason = pause ? HYVE_REASON_PAUSED_USER : HYVE_REASON_RUNNING_UNPAUSED;
        hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, obj->name, obj->uuid,
                                obj->id,
                                pause ? HYVE_DOMAIN_EVENT_SUSPENDED : HYVE_DOMAIN_EVENT_RESUMED,
                                pause ? HYVE_EVENT_SUSPENDED_PAUSED : HYVE_EVENT_RESUMED_UNPAUSED,
                                NULL);
        g_mutex_unlock(&obj->lock);
        g_mutex_unlock(&list->lock);
        hyve_process_status_save(obj);
        hyve_driver_flush_events(drv);
    }
    hyve_domain_job_end(obj);
    return reply != NULL;
}

gboolean
hyve_driver_domain_suspend(HyveDriver *drv, HyveDomainObj *obj, GError **error)
{
    return pause_or_resume(drv, obj, TRUE, error);
}

gboolean
hyve_driver_domain_resume(HyveDriver *drv, HyveDomainObj *obj, GError **error)
{
    return pause_or_resume(drv, obj, FALSE, error);
}
