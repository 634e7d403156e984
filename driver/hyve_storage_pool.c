/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_pool.c: the pool operations of hyve_storage.h that bring a
 * pool in (define, create, start) and the helpers they share with
 * hyve_storage_pool_ops.c (build, delete, destroy, undefine, refresh,
 * autostart): the inactive check, running a backend build, and the
 * hyve_storage_pool_ops mutex.
 *
 * Pool-level state changes are serialised by one mutex
 * (hyve_storage_pool_ops), held across the whole operation, backend
 * included; st->lock and pool->lock are only held to read or publish state
 * (no lock of the list or the pool while a backend builds, starts, stops or
 * deletes). Volume operations do not take hyve_storage_pool_ops: they check
 * pool->active and mark pool->async_jobs under pool->lock, which destroy
 * checks and clears `active` under.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_storage_priv.h"

GMutex hyve_storage_pool_ops;

static const char *
pool_name_locked(HyvePoolObj *pool)
{
    return pool->def->name;
}

gboolean
hyve_pool_obj_check_inactive_locked(HyvePoolObj *pool, const char *what, GError **error)
{
    if (!hyve_pool_obj_check_locked(pool, FALSE, error))
        return FALSE;
    if (pool->active) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "storage pool '%s' is %s", pool_name_locked(pool), what);
        return FALSE;
    }
    return TRUE;
}

static const HyveStorageBackend *
backend_for_def(const HyvePoolDef *def, GError **error)
{
    const HyveStorageBackend *backend = hyve_storage_backend_for(def->type);

    if (!backend)
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage pool type '%s' is not supported by hyve (supported: dir, "
                       "logical)", hyve_pool_type_to_string(def->type));
    return backend;
}

/* Parsed and checked by the backend (which fills its defaults). */
static HyvePoolDef *
parse_def(HyveStorage *st, const char *xml, gboolean validate,
          const HyveStorageBackend **backend, GError **error)
{
    g_autoptr(HyvePoolDef) def = hyve_pool_def_parse(xml, validate, st->schema_dir, error);

    if (!def || !(*backend = backend_for_def(def, error)))
        return NULL;
    if ((*backend)->check_def && !(*backend)->check_def(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* With st->lock held: libvirt's duplicate rules. *existing: the pool with
 * the same name and uuid (new reference), if any. @live: for create (an
 * active one is refused). */
static gboolean
check_duplicate_locked(HyveStorage *st, const HyvePoolDef *def,
                       const HyveStorageBackend *backend, gboolean live,
                       HyvePoolObj **existing, GError **error)
{
    g_autoptr(HyvePoolObj) obj = NULL;
    char s[HYVE_UUID_STRING_LEN];

    *existing = NULL;
    if ((obj = hyve_storage_find_uuid_locked(st, def->uuid))) {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

        if (!g_str_equal(obj->def->name, def->name)) {
            hyve_uuid_format(obj->def->uuid, s);
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                           "pool '%s' is already defined with uuid %s", obj->def->name, s);
            return FALSE;
        }
        if (live && obj->active) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                           "pool is already active as '%s'", obj->def->name);
            return FALSE;
        }
    } else if ((obj = hyve_storage_find_name_locked(st, def->name))) {
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

        hyve_uuid_format(obj->def->uuid, s);
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "pool '%s' already exists with uuid %s", def->name, s);
        return FALSE;
    }
    /* no two pools on the same storage (directory, volume group) */
    for (guint i = 0; i < st->pools->len; i++) {
        HyvePoolObj *other = g_ptr_array_index(st->pools, i);
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&other->lock);
        const HyvePoolDef *defs[2] = { other->def, other->new_def };

        if (g_str_equal(other->def->name, def->name))
            continue;
        for (guint j = 0; j < 2; j++) {
            const HyveStorageBackend *b = defs[j] ? hyve_storage_backend_for(defs[j]->type)
                                                  : NULL;

            if (b == backend && b->same_source && b->same_source(defs[j], def)) {
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                               "Storage source conflict with pool: '%s'", other->def->name);
                return FALSE;
            }
        }
    }
    *existing = g_steal_pointer(&obj);
    return TRUE;
}

HyvePoolObj *
hyve_storage_pool_define_xml(HyveStorage *st, const char *xml, guint flags, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def;
    HyvePoolObj *pool = NULL;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_POOL_DEFINE_VALIDATE, NULL);
    if (!(def = parse_def(st, xml, flags & HYVE_POOL_DEFINE_VALIDATE, &backend, error)))
        return NULL;
    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&st->lock);
    if (!check_duplicate_locked(st, def, backend, FALSE, &pool, error) ||
        !hyve_storage_save_config(st, def, error)) {
        hyve_pool_def_free(def);
        g_clear_pointer(&pool, hyve_pool_obj_unref);
        goto out;
    }
    if (pool) {
        g_mutex_lock(&pool->lock);
        if (pool->active) {
            /* the live definition stays until the pool stops */
            hyve_pool_def_free(pool->new_def);
            pool->new_def = def;
        } else {
            hyve_pool_def_free(pool->def);
            pool->def = def;
            pool->backend = backend;
        }
        pool->persistent = TRUE;
        g_mutex_unlock(&pool->lock);
    } else {
        g_autofree char *link = g_strdup_printf("%s/%s.xml", st->autostart_dir, def->name);

        pool = hyve_pool_obj_new(st, def, backend);
        pool->persistent = TRUE;
        pool->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
        hyve_storage_add_locked(st, pool);
    }
    hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, def, HYVE_POOL_EVENT_DEFINED);
out:
    g_mutex_unlock(&st->lock);
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return pool;
}

gboolean
hyve_storage_pool_run_build(const HyveStorageBackend *backend, const HyvePoolDef *def,
                            guint flags, GError **error)
{
    if (!backend->build) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT,
                       "storage pool '%s' of type '%s' cannot be built", def->name,
                       hyve_pool_type_to_string(def->type));
        return FALSE;
    }
    return backend->build(def, flags, error);
}

/* create flags -> build flags; FALSE when no build was asked for. */
static gboolean
create_build_flags(guint flags, guint *build_flags, GError **error)
{
    if ((flags & HYVE_POOL_CREATE_WITH_BUILD_OVERWRITE) &&
        (flags & HYVE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "Flags 'VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE' and "
                       "'VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE' are mutually "
                       "exclusive");
        return FALSE;
    }
    *build_flags = 0;
    if (flags & HYVE_POOL_CREATE_WITH_BUILD_OVERWRITE)
        *build_flags = HYVE_POOL_BUILD_OVERWRITE;
    else if (flags & HYVE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)
        *build_flags = HYVE_POOL_BUILD_NO_OVERWRITE;
    return TRUE;
}

#define CREATE_FLAGS (HYVE_POOL_CREATE_WITH_BUILD | HYVE_POOL_CREATE_WITH_BUILD_OVERWRITE | \
                      HYVE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE)

/* With hyve_storage_pool_ops held and no other lock: builds (create
 * @flags) and starts @pool; @live (taken), when given, becomes its live definition (the
 * config waits in new_def). STARTED event queued. */
static gboolean
start_op(HyveStorage *st, HyvePoolObj *pool, HyvePoolDef *live_in, guint flags, GError **error)
{
    g_autoptr(HyvePoolDef) live = live_in;
    g_autoptr(HyvePoolDef) copy = NULL;
    const HyveStorageBackend *backend;
    guint build_flags = 0;
    gboolean ok;

    if (!create_build_flags(flags, &build_flags, error))
        return FALSE;
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_inactive_locked(pool, "already active", error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    copy = hyve_pool_def_copy(live ? live : pool->def);
    backend = pool->backend;
    g_mutex_unlock(&pool->lock);
    if (live && !(backend = backend_for_def(live, error)))
        return FALSE;

    if ((flags & CREATE_FLAGS) && !hyve_storage_pool_run_build(backend, copy, build_flags, error))
        return FALSE;
    if (backend->start && !backend->start(copy, error))
        return FALSE;

    g_mutex_lock(&st->lock);
    g_mutex_lock(&pool->lock);
    if (live) {
        if (pool->persistent) {
            hyve_pool_def_free(pool->new_def);
            pool->new_def = pool->def;
        } else {
            hyve_pool_def_free(pool->def);
        }
        pool->def = g_steal_pointer(&live);
        pool->backend = backend;
    }
    pool->active = TRUE;
    ok = hyve_pool_obj_refresh_locked(pool, error) &&
         hyve_storage_save_state(st, pool->def, error);
    if (ok)
        hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_LIFECYCLE, pool->def,
                                 HYVE_POOL_EVENT_STARTED);
    else
        hyve_pool_obj_stopped_locked(pool);
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&st->lock);
    if (!ok && backend->stop)
        backend->stop(copy, NULL);
    return ok;
}

HyvePoolObj *
hyve_storage_pool_create_xml(HyveStorage *st, const char *xml, guint flags, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def;
    HyvePoolObj *pool = NULL;
    gboolean created = FALSE;
    guint build_flags;

    HYVE_STORAGE_CHECK_FLAGS(flags, CREATE_FLAGS, NULL);
    if (!create_build_flags(flags, &build_flags, error) ||
        !(def = parse_def(st, xml, FALSE, &backend, error)))
        return NULL;
    g_mutex_lock(&hyve_storage_pool_ops);
    g_mutex_lock(&st->lock);
    if (!check_duplicate_locked(st, def, backend, TRUE, &pool, error)) {
        g_mutex_unlock(&st->lock);
        hyve_pool_def_free(def);
        goto out;
    }
    if (!pool) {
        /* transient: listed (inactive) while it starts */
        pool = hyve_pool_obj_new(st, def, backend);
        hyve_storage_add_locked(st, pool);
        created = TRUE;
        def = NULL;
    }
    g_mutex_unlock(&st->lock);
    if (!start_op(st, pool, def, flags, error)) {
        g_mutex_lock(&st->lock);
        g_mutex_lock(&pool->lock);
        if (created && !pool->removed) {
            pool->removed = TRUE;
            g_ptr_array_remove(st->pools, pool);
        }
        g_mutex_unlock(&pool->lock);
        g_mutex_unlock(&st->lock);
        g_clear_pointer(&pool, hyve_pool_obj_unref);
    }
out:
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return pool;
}

gboolean
hyve_storage_pool_start(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error)
{
    gboolean ok;

    HYVE_STORAGE_CHECK_FLAGS(flags, CREATE_FLAGS, FALSE);
    g_mutex_lock(&hyve_storage_pool_ops);
    ok = start_op(st, pool, NULL, flags, error);
    g_mutex_unlock(&hyve_storage_pool_ops);
    hyve_storage_flush_events(st);
    return ok;
}
