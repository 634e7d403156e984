/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_pool_ops.c: the pool operations of hyve_storage.h on a pool
 * that already exists: build, delete (of the storage), destroy (stop),
 * undefine, refresh and autostart. Like define/create/start in
 * hyve_storage_pool.c they hold hyve_storage_pool_ops for the whole
 * operation, backend included, and take st->lock and pool->lock only to
 * read or publish state; destroy, delete and undefine refuse while volume
 * work is marked (pool->async_jobs).
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_storage_priv.h"

/* The definition of an inactive pool, for a backend (hyve_storage_pool_ops
 * held). */
static HyvePoolDef *
inactive_def(HyvePoolObj *pool, const char *what, const HyveStorageBackend **backend,
             GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&pool->lock);

    if (!hyve_pool_obj_check_inactive_locked(pool, what, error))
        return NULL;
    *backend = pool->backend;
    return hyve_pool_def_copy(pool->def);
}

gboolean
hyve_storage_pool_build(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    gboolean ok = FALSE;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_POOL_BUILD_REPAIR | HYVE_POOL_BUILD_RESIZE |
                             HYVE_POOL_BUILD_NO_OVERWRITE | HYVE_POOL_BUILD_OVERWRITE, FALSE);
    if (flags & (HYVE_POOL_BUILD_REPAIR | HYVE_POOL_BUILD_RESIZE)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT,
                       "pool build with %s is not supported",
                       (flags & HYVE_POOL_BUILD_REPAIR) ? "repair" : "resize");
        return FALSE;
    }
    if ((flags & HYVE_POOL_BUILD_OVERWRITE) && (flags & HYVE_POOL_BUILD_NO_OVERWRITE)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                       "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive");
        return FALSE;
    }
    g_mutex_lock(&hyve_storage_pool_ops);
    if ((def = inactive_def(pool, "already active", &backend, error)) &&
        (ok = hyve_storage_pool_run_build(backend, def, flags, error)))
        hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def,
                                 HYVE_POOL_EVENT_CREATED);
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}

gboolean
hyve_storage_pool_delete(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    gboolean ok = FALSE;

    HYVE_STORAGE_CHECK_FLAGS(flags, 1u, FALSE);
    if (flags) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT,
                       "pool deletion with zeroing (VIR_STORAGE_POOL_DELETE_ZEROED) is not "
                       "supported");
        return FALSE;
    }
    g_mutex_lock(&hyve_storage_pool_ops);
    if ((def = inactive_def(pool, "still active", &backend, error))) {
        if (!backend->delete_pool)
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT,
                           "pool '%s' cannot be deleted", def->name);
        else if ((ok = backend->delete_pool(def, flags, error)))
            hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def,
                                     HYVE_POOL_EVENT_DELETED);
    }
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}

gboolean
hyve_storage_pool_destroy(HyveStorage *st, HyvePoolObj *pool, GError **error)
{
    g_autoptr(HyvePoolDef) def = NULL;
    const HyveStorageBackend *backend = NULL;
    gboolean ok = TRUE;

    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, TRUE, error)) {
        ok = FALSE;
    } else if (pool->async_jobs > 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "pool '%s' has asynchronous jobs running.", pool->def->name);
        ok = FALSE;
    } else {
        /* volume operations refuse from here on */
        pool->active = FALSE;
        def = hyve_pool_def_copy(pool->def);
        backend = pool->backend;
    }
    g_mutex_unlock(&pool->lock);
    if (ok && backend->stop && !backend->stop(def, error)) {
        g_mutex_lock(&pool->lock);
        pool->active = TRUE;
        g_mutex_unlock(&pool->lock);
        ok = FALSE;
    }
    if (ok) {
        g_mutex_lock(&st->lock);
        g_mutex_lock(&pool->lock);
        hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def,
                                 HYVE_POOL_EVENT_STOPPED);
        hyve_pool_obj_stopped_locked(pool);     /* a transient pool vanishes */
        g_mutex_unlock(&pool->lock);
        g_mutex_unlock(&st->lock);
    }
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}

gboolean
hyve_storage_pool_undefine(HyveStorage *st, HyvePoolObj *pool, GError **error)
{
    g_autoptr(HyvePoolDef) def = NULL;
    gboolean ok = FALSE;

    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&st->lock);
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, FALSE, error)) {
        /* reported */
    } else if (!pool->persistent) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "storage pool '%s' is not persistent", pool->def->name);
    } else if (pool->active) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "storage pool '%s' is still active", pool->def->name);
    } else if (hyve_storage_delete_config(st, pool->def->name, error)) {
        def = hyve_pool_def_copy(pool->def);
        pool->persistent = FALSE;
        pool->autostart = FALSE;
        pool->removed = TRUE;
        g_ptr_array_remove(st->pools, pool);
        hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def,
                                 HYVE_POOL_EVENT_UNDEFINED);
        ok = TRUE;
    }
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&st->lock);
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}

/* A refresh that fails stops the pool (as libvirt: its storage is gone). */
gboolean
hyve_storage_pool_refresh(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error)
{
    gboolean ok = FALSE;

    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&st->lock);
    g_mutex_lock(&pool->lock);
    if (hyve_pool_obj_check_locked(pool, TRUE, error)) {
        if ((ok = hyve_pool_obj_refresh_locked(pool, error))) {
            hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_REFRESH, pool->def, 0);
        } else if (pool->async_jobs == 0) {
            g_autoptr(HyvePoolDef) def = hyve_pool_def_copy(pool->def);

            g_warning("storage: pool %s stopped: refresh failed", def->name);
            hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def,
                                     HYVE_POOL_EVENT_STOPPED);
            hyve_pool_obj_stopped_locked(pool);
        }
    }
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&st->lock);
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}

gboolean
hyve_storage_pool_set_autostart(HyveStorage *st, HyvePoolObj *pool, gboolean autostart,
                                GError **error)
{
    gboolean ok = FALSE;

    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, FALSE, error)) {
        /* reported */
    } else if (!pool->persistent) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "cannot set autostart for transient pool");
    } else if (hyve_storage_set_autostart_link(st, pool->def->name, autostart, error)) {
        pool->autostart = autostart != FALSE;
        ok = TRUE;
    }
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&hyve_storage_pool_ops);
    return ok;
}
