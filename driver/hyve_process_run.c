/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_run.c: the per-domain job, and publishing / retiring a
 * domain's run: the state, id, definitions and events that go with a
 * runner starting and stopping. Events are queued under the domain list
 * lock right after the change they report (hyve_driver_priv.h) and
 * delivered before the caller's operation returns.
 */
#include "hyve-config.h"

#include <signal.h>

#include "hyve_driver_priv.h"
#include "hyve_netdev.h"
#include "hyve_process.h"
#include "hyve_storage.h"

#define HYVE_JOB_WAIT_US (30 * G_USEC_PER_SEC)

gboolean
hyve_domain_job_begin(HyveDomainObj *obj, gboolean wait_forever, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + HYVE_JOB_WAIT_US;

    g_mutex_lock(&obj->lock);
    while (obj->job_active) {
        if (wait_forever) {
            g_cond_wait(&obj->job_cond, &obj->lock);
        } else if (!g_cond_wait_until(&obj->job_cond, &obj->lock, deadline) &&
                   obj->job_active) {
            g_mutex_unlock(&obj->lock);
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_TIMEOUT,
                           "cannot acquire state change lock");
            return FALSE;
        }
    }
    if (!hyve_driver_check_removed_locked(obj, error)) {
        g_mutex_unlock(&obj->lock);
        return FALSE;
    }
    obj->job_active = TRUE;
    g_mutex_unlock(&obj->lock);
    return TRUE;
}

void
hyve_domain_job_end(HyveDomainObj *obj)
{
    g_mutex_lock(&obj->lock);
    obj->job_active = FALSE;
    g_cond_broadcast(&obj->job_cond);
    g_mutex_unlock(&obj->lock);
}

static void
queue_lifecycle(HyveDriver *drv, HyveDomainObj *obj, int dom_id, int event, int detail)
{
    hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, obj->name, obj->uuid, dom_id,
                            event, detail, NULL);
}

/* With list->lock held: a new id, positive and not in use (next_id wraps
 * from INT_MAX back to 1). */
static int
alloc_id_locked(HyveDomainList *list)
{
    for (guint tries = 0;; tries++) {
        int id = list->next_id > 0 ? list->next_id : 1;
        g_autoptr(HyveDomainObj) user = NULL;

        list->next_id = id == G_MAXINT ? 1 : id + 1;
        user = hyve_domain_list_find_id_locked(list, id);
        if (!user || tries > g_hash_table_size(list->by_uuid))
            return id;
    }
}

/* Every <disk type='volume'> of the live definition gets its volume's path
 * (d->path; the runner configuration reads it, the XML keeps the volume
 * form). A pool or volume that is missing or inactive fails the start with
 * the storage error. */
static gboolean
resolve_volume_disks(HyveDriver *drv, HyveDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        HyveDiskDef *d = g_ptr_array_index(def->disks, i);
        char *path;

        if (d->type != HYVE_DISK_TYPE_VOLUME)
            continue;
        if (!(path = hyve_storage_resolve_volume(hyve_driver_get_storage(drv), d->pool,
                                                 d->volume, error)))
            return FALSE;
        g_free(d->path);
        d->path = path;
    }
    return TRUE;
}

/* Marks @obj as starting on the disks of @def (a copy goes to
 * obj->start_def; NULL: obj->def; a mark already there, set by
 * hyve_domain_restart, stays).
 * The storage's vol-user check (volume_user, hyve_driver.c) counts these
 * disks as used until the start publishes obj->run or failed
 * (start_unmark).
 *
 * Why the mark must be set before the volume disks are resolved: volume
 * delete and resize --shrink first mark the volume 'building' (under the
 * pool lock), then ask for its users; resolving refuses a 'building'
 * volume. With the mark set first, either the start resolves before the
 * volume is marked, and then the mark is already visible when the delete
 * asks for users (the delete is refused), or the volume is marked first and
 * the start's resolve fails. No order lets both go ahead. */
static gboolean
start_mark(HyveDomainObj *obj, const HyveDomainDef *def, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    if (!obj->start_def)
        obj->start_def = hyve_domain_def_copy(def ? def : obj->def, error);
    return obj->start_def != NULL;
}

static void
start_unmark(HyveDomainObj *obj)
{
    g_mutex_lock(&obj->lock);
    g_clear_pointer(&obj->start_def, hyve_domain_def_free);
    g_mutex_unlock(&obj->lock);
}

gboolean
hyve_domain_run_start(HyveDriver *drv, HyveDomainObj *obj, HyveDomainDef *live,
                      HyveStartKind kind, gboolean paused, GError **error)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    g_autoptr(HyveDomainDef) def = live;
    HyveDomainRun *run;
    int id;

    if (!def) {
        g_mutex_lock(&obj->lock);
        def = hyve_domain_def_copy(obj->def, error);
        g_mutex_unlock(&obj->lock);
        if (!def) {
            start_unmark(obj);          /* hyve_domain_restart's */
            return FALSE;
        }
    }
    hyve_process_def_clear_live(def);
    if (!start_mark(obj, def, error))
        return FALSE;
    /* the id is known before the runner starts (its machine name,
     * hyve_machined.h); a failed start leaves a gap in the ids, as in
     * libvirt. A reboot or restart keeps the domain's id. */
    g_mutex_lock(&list->lock);
    if (kind == HYVE_START_BOOT) {
        id = alloc_id_locked(list);
    } else {
        g_mutex_lock(&obj->lock);
        id = obj->id;
        g_mutex_unlock(&obj->lock);
    }
    g_mutex_unlock(&list->lock);
    if (!resolve_volume_disks(drv, def, error) ||
        !(run = hyve_process_spawn(drv, def, id, paused, error))) {
        start_unmark(obj);
        return FALSE;
    }

    g_mutex_lock(&list->lock);
    g_mutex_lock(&obj->lock);
    if (kind == HYVE_START_BOOT) {
        obj->id = id;
        /* the persistent definition waits in new_def while the domain runs */
        hyve_domain_def_free(obj->new_def);
        obj->new_def = NULL;
        if (obj->persistent)
            obj->new_def = obj->def;
        else
            hyve_domain_def_free(obj->def);
    } else {
        hyve_domain_def_free(obj->def);
    }
    obj->def = g_steal_pointer(&def);
    obj->run = run;
    /* from here on the live definition (obj->def) says which disks it uses */
    g_clear_pointer(&obj->start_def, hyve_domain_def_free);
    obj->state = HYVE_DOMAIN_STATE_RUNNING;
    obj->reason = HYVE_REASON_RUNNING_BOOTED;
    if (kind == HYVE_START_REBOOT)
        hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_REBOOT, obj->name, obj->uuid, id,
                                0, 0, NULL);
    else
        queue_lifecycle(drv, obj, id, HYVE_DOMAIN_EVENT_STARTED, HYVE_EVENT_STARTED_BOOTED);
    if (paused) {
        /* a reset of a paused domain leaves it paused, with no new event */
        obj->state = HYVE_DOMAIN_STATE_PAUSED;
        obj->reason = HYVE_REASON_PAUSED_USER;
        if (kind != HYVE_START_REBOOT)
            queue_lifecycle(drv, obj, id, HYVE_DOMAIN_EVENT_SUSPENDED,
                            HYVE_EVENT_SUSPENDED_PAUSED);
    }
    g_mutex_unlock(&obj->lock);
    g_mutex_unlock(&list->lock);

    hyve_process_log_line(run->paths.log, "domain %s running as pid %d, id %d", obj->name,
                          (int)run->pid, id);
    hyve_process_watch(hyve_driver_get_process_mgr(drv), obj, run);
    if (!hyve_process_status_save_checked(obj, error)) {
        /* a runner the daemon could not find again after a restart must not
         * run: the start fails (as libvirt's) */
        g_warning("domain %s: status file not saved, killing bhyve-runner %d", obj->name,
                  (int)run->pid);
        kill(run->pid, SIGKILL);
        hyve_process_wait_exit(run, 10000);
        hyve_process_reap(run);
        /* a restart ends the domain itself (hyve_domain_restart) */
        hyve_domain_run_stop(drv, obj, NULL, 0, HYVE_REASON_SHUTOFF_FAILED,
                             HYVE_EVENT_STOPPED_FAILED, kind != HYVE_START_BOOT,
                             "status file not saved");
        return FALSE;
    }
    hyve_driver_flush_events(drv);
    return TRUE;
}

void
hyve_domain_run_stop(HyveDriver *drv, HyveDomainObj *obj, const HyveEventSpec *pre,
                     guint n_pre, int reason, int stopped_detail, gboolean keep,
                     const char *why)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    HyveDomainRun *run;
    GPtrArray *ports;
    gboolean remove = FALSE;

    g_mutex_lock(&obj->lock);
    run = obj->run;
    g_mutex_unlock(&obj->lock);
    if (run) {
        hyve_process_unwatch(hyve_driver_get_process_mgr(drv), run);
        g_mutex_lock(&obj->lock);
        run->stopping = TRUE;           /* no status save from here on */
        g_mutex_unlock(&obj->lock);
        hyve_process_cleanup(run, why);
    }

    g_mutex_lock(&list->lock);
    g_mutex_lock(&obj->lock);
    for (guint i = 0; i < n_pre; i++)
        queue_lifecycle(drv, obj, obj->id, pre[i].event, pre[i].detail);
    obj->run = NULL;
    /* the network ports of the run that ended (its live definition), once:
     * a restart's copy of it takes new ones */
    ports = hyve_netdev_take_ports(obj->def);
    if (!keep) {
        obj->id = -1;
        obj->state = HYVE_DOMAIN_STATE_SHUTOFF;
        obj->reason = reason;
        if (obj->new_def) {
            hyve_domain_def_free(obj->def);
            obj->def = g_steal_pointer(&obj->new_def);
        }
        hyve_process_def_clear_live(obj->def);
        queue_lifecycle(drv, obj, -1, HYVE_DOMAIN_EVENT_STOPPED, stopped_detail);
        remove = !obj->persistent && !obj->removed;
    }
    g_mutex_unlock(&obj->lock);
    /* a transient domain vanishes (no UNDEFINED event, as libvirt) */
    if (remove)
        hyve_domain_list_remove_locked(list, obj);
    g_mutex_unlock(&list->lock);
    hyve_netdev_release_ports(hyve_driver_get_networks(drv), ports);
    hyve_domain_run_free(run);
    hyve_driver_flush_events(drv);
}

/* Drops the old run and starts the domain again with the same id. */
gboolean
hyve_domain_restart(HyveDriver *drv, HyveDomainObj *obj, HyveStartKind kind, gboolean paused,
                    const HyveEventSpec *pre, guint n_pre, const char *why, GError **error)
{
    g_autoptr(GError) err = NULL;
    gboolean updated, autostarted;

    g_mutex_lock(&obj->lock);
    updated = obj->run->updated;
    autostarted = obj->run->autostarted;
    g_mutex_unlock(&obj->lock);
    /* the domain keeps counting as a user of its disks while it has no run
     * (hyve_domain_run_start clears the mark) */
    if (!start_mark(obj, NULL, &err)) {
        g_warning("domain %s: %s", obj->name, err->message);
        g_clear_error(&err);
    }
    hyve_domain_run_stop(drv, obj, pre, n_pre, 0, 0, TRUE, why);
    if (hyve_domain_run_start(drv, obj, NULL, kind, paused, &err)) {
        g_mutex_lock(&obj->lock);
        if (obj->run) {
            obj->run->updated = updated;
            obj->run->autostarted = autostarted;
        }
        g_mutex_unlock(&obj->lock);
        if (updated || autostarted)
            hyve_process_status_save(obj);
        return TRUE;
    }
    g_warning("cannot restart domain %s: %s", obj->name, err->message);
    hyve_domain_run_stop(drv, obj, NULL, 0, HYVE_REASON_SHUTOFF_FAILED,
                         HYVE_EVENT_STOPPED_FAILED, FALSE, NULL);
    if (error)
        g_propagate_error(error, g_steal_pointer(&err));
    return FALSE;
}
