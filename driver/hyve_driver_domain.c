/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_domain.c: per-domain entry points that change a persistent
 * definition: autostart, metadata and undefine (libvirt semantics, METADATA_CHANGE
 * event queued under the list lock, delivered after the locks are dropped).
 * An object undefined meanwhile (obj->removed) is NO_DOMAIN and nothing
 * is written.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_driver_priv.h"
#include "hyve_process.h"

#define AFFECT_LIVE 1u
#define AFFECT_CONFIG 2u

gboolean
hyve_driver_set_autostart(HyveDriver *drv, HyveDomainObj *obj, gboolean autostart,
                          GError **error)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    gboolean ok = TRUE;

    hyve_driver_config_lock(drv);
    g_mutex_lock(&list->lock);
    g_mutex_lock(&obj->lock);
    if (!hyve_driver_check_removed_locked(obj, error)) {
        ok = FALSE;
    } else if (!obj->persistent) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "cannot set autostart for transient domain");
        ok = FALSE;
    } else if (obj->autostart != !!autostart) {
        ok = hyve_domain_autostart_set(hyve_driver_get_config(drv)->config_dir, obj->name,
                                       autostart, error);
        if (ok)
            obj->autostart = !!autostart;
    }
    g_mutex_unlock(&obj->lock);
    g_mutex_unlock(&list->lock);
    hyve_driver_config_unlock(drv);
    return ok;
}

/* Resolves AFFECT_* like libvirt for the object's state. Caller holds obj->lock.
 * Returns the definition to read, or NULL with @error set. */
static HyveDomainDef *
pick_def_locked(HyveDomainObj *obj, guint flags, gboolean for_write, GError **error)
{
    gboolean active = obj->id > 0;

    if ((flags & AFFECT_LIVE) && (flags & AFFECT_CONFIG) && !for_write) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                       "are mutually exclusive");
        return NULL;
    }
    if ((flags & AFFECT_LIVE) && !active) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_INVALID,
                       "domain is not running");
        return NULL;
    }
    if ((flags & AFFECT_CONFIG) && !obj->persistent) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_INVALID,
                       "transient domains do not have any persistent config");
        return NULL;
    }
    if ((flags & AFFECT_CONFIG) && obj->new_def)
        return obj->new_def;
    return obj->def;
}

char *
hyve_domain_obj_get_metadata(HyveDomainObj *obj, int type, const char *uri, guint flags,
                             GError **error)
{
    g_autoptr(GMutexLocker) locker = NULL;
    HyveDomainDef *def;

    if (flags & ~(AFFECT_LIVE | AFFECT_CONFIG)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s",
                       flags & ~(AFFECT_LIVE | AFFECT_CONFIG), __func__);
        return NULL;
    }
    locker = g_mutex_locker_new(&obj->lock);
    if (!(def = pick_def_locked(obj, flags, FALSE, error)))
        return NULL;
    return hyve_domain_def_get_metadata(def, type, uri, error);
}

/* With the domain list and @obj locked: sets the metadata on copies of the
 * definitions @flags pick (saving the persistent one first), then swaps
 * them in; a failure leaves the object as it was. */
static gboolean
hyve_driver_set_metadata_locked(HyveDriver *drv, HyveDomainObj *obj, int type,
                                const char *metadata, const char *key, const char *uri,
                                guint flags, GError **error)
{
    g_autoptr(HyveDomainDef) live = NULL, persistent = NULL;
    gboolean active = obj->id > 0;
    gboolean do_live, do_config;

    if (!hyve_driver_check_removed_locked(obj, error) ||
        !pick_def_locked(obj, flags, TRUE, error))
        return FALSE;
    /* AFFECT_CURRENT: live when running, config otherwise */
    do_live = (flags & AFFECT_LIVE) || (flags == 0 && active);
    do_config = (flags & AFFECT_CONFIG) || (flags == 0 && !active);
    if (do_config && !obj->persistent && !active) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_INVALID,
                       "transient domains do not have any persistent config");
        return FALSE;
    }

    if (do_live) {
        if (!(live = hyve_domain_def_copy(obj->def, error)) ||
            !hyve_domain_def_set_metadata(live, type, metadata, key, uri, error) ||
            !hyve_domain_def_check_limits(live, error))
            return FALSE;
    }
    if (do_config) {
        HyveDomainDef *src = active && obj->new_def ? obj->new_def : obj->def;

        if (!(persistent = hyve_domain_def_copy(src, error)) ||
            !hyve_domain_def_set_metadata(persistent, type, metadata, key, uri, error) ||
            !hyve_domain_def_check_limits(persistent, error))
            return FALSE;
        if (!hyve_domain_config_save(hyve_driver_get_config(drv)->config_dir, persistent, error))
            return FALSE;
    }
    if (live) {
        hyve_domain_def_free(obj->def);
        obj->def = g_steal_pointer(&live);
    }
    if (persistent)
        hyve_domain_obj_set_persistent_def_locked(obj, g_steal_pointer(&persistent));
    return TRUE;
}

gboolean
hyve_driver_set_metadata(HyveDriver *drv, HyveDomainObj *obj, int type, const char *metadata,
                         const char *key, const char *uri, guint flags, GError **error)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    gboolean ok;
    int dom_id;

    if (flags & ~(AFFECT_LIVE | AFFECT_CONFIG)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s",
                       flags & ~(AFFECT_LIVE | AFFECT_CONFIG), __func__);
        return FALSE;
    }
    hyve_driver_config_lock(drv);
    g_mutex_lock(&list->lock);
    g_mutex_lock(&obj->lock);
    ok = hyve_driver_set_metadata_locked(drv, obj, type, metadata, key, uri, flags, error);
    dom_id = obj->id;
    g_mutex_unlock(&obj->lock);
    if (ok)
        hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_METADATA_CHANGE, obj->name, obj->uuid,
                                dom_id, 0, type, type == 2 ? uri : NULL);
    g_mutex_unlock(&list->lock);
    hyve_driver_config_unlock(drv);
    if (ok && dom_id > 0)
        hyve_process_status_save(obj);     /* the live definition changed */
    hyve_driver_flush_events(drv);
    return ok;
}

/* ---- undefine (moved from hyve_driver.c) --------------------------------- */

/* libvirt virDomainUndefineFlagsValues: none of these objects exist in
 * hyve (no managed save, snapshots, checkpoints, nvram, tpm), so each is a
 * no-op; the keep/remove pairs stay mutually exclusive as in libvirt. */
#define UNDEFINE_MANAGED_SAVE 1u
#define UNDEFINE_SNAPSHOTS_METADATA 2u
#define UNDEFINE_NVRAM 4u
#define UNDEFINE_KEEP_NVRAM 8u
#define UNDEFINE_CHECKPOINTS_METADATA 16u
#define UNDEFINE_TPM 32u
#define UNDEFINE_KEEP_TPM 64u

/* Pairs of libvirt flags that exclude each other. */
static gboolean
hyve_driver_undefine_check_exclusive(guint flags, GError **error)
{
    if ((flags & UNDEFINE_NVRAM) && (flags & UNDEFINE_KEEP_NVRAM)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_UNDEFINE_NVRAM' and 'VIR_DOMAIN_UNDEFINE_KEEP_NVRAM' "
                       "are mutually exclusive");
        return FALSE;
    }
    if ((flags & UNDEFINE_TPM) && (flags & UNDEFINE_KEEP_TPM)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_DOMAIN_UNDEFINE_TPM' and 'VIR_DOMAIN_UNDEFINE_KEEP_TPM' "
                       "are mutually exclusive");
        return FALSE;
    }
    return TRUE;
}

/* With the domain list locked: deletes the config file; a running domain
 * becomes transient and keeps running, an inactive one leaves the list.
 * *dom_id: the id for the event. */
static gboolean
hyve_driver_undefine_locked(HyveDriver *drv, HyveDomainObj *obj, int *dom_id, GError **error)
{
    gboolean present, persistent;

    g_mutex_lock(&obj->lock);
    present = hyve_driver_check_removed_locked(obj, error);
    persistent = obj->persistent;
    *dom_id = obj->id;
    g_mutex_unlock(&obj->lock);
    if (!present)
        return FALSE;
    if (!persistent) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "cannot undefine transient domain");
        return FALSE;
    }
    if (!hyve_domain_config_delete(hyve_driver_get_config(drv)->config_dir, obj->name, error)) {
        /* the link may be gone even though the file stayed */
        g_mutex_lock(&obj->lock);
        obj->autostart = hyve_domain_autostart_get(hyve_driver_get_config(drv)->config_dir,
                                                   obj->name);
        g_mutex_unlock(&obj->lock);
        return FALSE;
    }
    g_mutex_lock(&obj->lock);
    obj->autostart = FALSE;
    obj->persistent = FALSE;
    if (obj->id > 0) {
        /* a running domain becomes transient and keeps running */
        g_clear_pointer(&obj->new_def, hyve_domain_def_free);
        g_mutex_unlock(&obj->lock);
    } else {
        g_mutex_unlock(&obj->lock);
        hyve_domain_list_remove_locked(hyve_driver_get_domains(drv), obj);
    }
    return TRUE;
}

gboolean
hyve_driver_undefine(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error)
{
    gboolean ok;
    int dom_id = -1;

    CHECK_FLAGS(flags, 0x7f, FALSE);
    if (!hyve_driver_undefine_check_exclusive(flags, error))
        return FALSE;

    /* The job: a start in progress (id not yet set) finishes first, so its
     * runner is either published (the domain becomes transient and keeps
     * running) or gone (the domain leaves the list). */
    if (!hyve_domain_job_begin(obj, FALSE, error))
        return FALSE;
    hyve_driver_config_lock(drv);
    g_mutex_lock(&hyve_driver_get_domains(drv)->lock);
    ok = hyve_driver_undefine_locked(drv, obj, &dom_id, error);
    if (ok)
        hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, obj->name, obj->uuid,
                                dom_id, HYVE_DOMAIN_EVENT_UNDEFINED, 0 /* REMOVED */, NULL);
    g_mutex_unlock(&hyve_driver_get_domains(drv)->lock);
    hyve_driver_config_unlock(drv);
    hyve_domain_job_end(obj);
    hyve_driver_flush_events(drv);
    return ok;
}
