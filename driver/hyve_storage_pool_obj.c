/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_pool_obj.c: the pool object (HyvePoolObj of
 * hyve_storage_priv.h) on its own: creation and references, identity,
 * info/XML/flag getters, the "still listed / active" check, refreshing its
 * volume list from the backend (keeping the marks of volumes still there)
 * and its return to inactive when it stops. Nothing here takes st->lock;
 * the *_locked functions expect pool->lock (and, for stopped, st->lock).
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_storage_priv.h"

/* ---- pool objects --------------------------------------------------------- */

HyvePoolObj *
hyve_pool_obj_new(HyveStorage *st, HyvePoolDef *def, const HyveStorageBackend *backend)
{
    HyvePoolObj *pool = g_new0(HyvePoolObj, 1);

    pool->refs = 1;
    pool->st = st;
    g_mutex_init(&pool->lock);
    pool->def = def;
    pool->backend = backend;
    pool->vols = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_obj_free);
    return pool;
}

HyvePoolObj *
hyve_pool_obj_ref(HyvePoolObj *pool)
{
    g_atomic_int_inc(&pool->refs);
    return pool;
}

void
hyve_pool_obj_unref(HyvePoolObj *pool)
{
    if (!pool || !g_atomic_int_dec_and_test(&pool->refs))
        return;
    hyve_pool_def_free(pool->def);
    hyve_pool_def_free(pool->new_def);
    g_ptr_array_unref(pool->vols);
    g_mutex_clear(&pool->lock);
    g_free(pool);
}

void
hyve_pool_ident_clear(HyvePoolIdent *ident)
{
    g_clear_pointer(&ident->name, g_free);
}

void
hyve_pool_obj_get_ident(HyvePoolObj *pool, HyvePoolIdent *ident)
{
    g_mutex_lock(&pool->lock);
    ident->name = g_strdup(pool->def->name);
    memcpy(ident->uuid, pool->def->uuid, HYVE_UUID_LEN);
    g_mutex_unlock(&pool->lock);
}

gboolean
hyve_pool_obj_check_locked(HyvePoolObj *pool, gboolean need_active, GError **error)
{
    if (pool->removed) {
        char s[HYVE_UUID_STRING_LEN];

        hyve_uuid_format(pool->def->uuid, s);
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_STORAGE_POOL,
                       "no storage pool with matching uuid '%s' (%s)", s, pool->def->name);
        return FALSE;
    }
    if (need_active && !pool->active) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "storage pool '%s' is not active", pool->def->name);
        return FALSE;
    }
    return TRUE;
}

void
hyve_pool_obj_get_info(HyvePoolObj *pool, HyvePoolInfo *info)
{
    memset(info, 0, sizeof(*info));
    g_mutex_lock(&pool->lock);
    if (pool->active) {
        info->state = 2;
        info->capacity = pool->def->capacity;
        info->allocation = pool->def->allocation;
        info->available = pool->def->available;
    }
    g_mutex_unlock(&pool->lock);
}

char *
hyve_pool_obj_get_xml(HyvePoolObj *pool, guint flags, GError **error)
{
    char *xml;

    HYVE_STORAGE_CHECK_FLAGS(flags, 1u, NULL);
    g_mutex_lock(&pool->lock);
    xml = hyve_pool_def_format((flags & 1u) && pool->new_def ? pool->new_def : pool->def);
    g_mutex_unlock(&pool->lock);
    return xml;
}

#define POOL_FLAG_GETTER(fn, field) \
    gboolean fn(HyvePoolObj *pool) \
    { \
        gboolean v; \
        g_mutex_lock(&pool->lock); \
        v = pool->field; \
        g_mutex_unlock(&pool->lock); \
        return v; \
    }
POOL_FLAG_GETTER(hyve_pool_obj_is_active, active)
POOL_FLAG_GETTER(hyve_pool_obj_is_persistent, persistent)
POOL_FLAG_GETTER(hyve_pool_obj_get_autostart, autostart)

/* ---- volumes of a pool ---------------------------------------------------- */

static gint
vol_obj_cmp(gconstpointer a, gconstpointer b)
{
    const HyveVolObj *va = *(HyveVolObj *const *)a, *vb = *(HyveVolObj *const *)b;

    return strcmp(va->def->name, vb->def->name);
}

gboolean
hyve_pool_obj_refresh_locked(HyvePoolObj *pool, GError **error)
{
    g_autoptr(GPtrArray) found = NULL;
    GPtrArray *vols;

    if (!pool->backend->refresh) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT,
                       "storage pool '%s' cannot be refreshed", pool->def->name);
        return FALSE;
    }
    if (!(found = pool->backend->refresh(pool->def, error)))
        return FALSE;
    g_ptr_array_set_free_func(found, NULL);     /* the defs move to the new objects */
    vols = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_obj_free);
    for (guint i = 0; i < found->len; i++) {
        HyveVolObj *vol = g_new0(HyveVolObj, 1);
        HyveVolObj *old;

        vol->def = g_ptr_array_index(found, i);
        if ((old = hyve_pool_obj_find_vol_locked(pool, vol->def->name))) {
            vol->building = old->building;
            vol->in_use = old->in_use;
        }
        g_ptr_array_add(vols, vol);
    }
    /* volumes being built that the backend does not list (yet) stay */
    for (guint i = pool->vols->len; i-- > 0;) {
        HyveVolObj *old = g_ptr_array_index(pool->vols, i);
        gboolean listed = FALSE;

        if (!old->building)
            continue;
        for (guint j = 0; j < found->len && !listed; j++)
            listed = g_str_equal(((HyveVolDef *)g_ptr_array_index(found, j))->name,
                                 old->def->name);
        if (!listed)
            g_ptr_array_add(vols, g_ptr_array_steal_index(pool->vols, i));
    }
    g_ptr_array_sort(vols, vol_obj_cmp);
    g_ptr_array_unref(pool->vols);
    pool->vols = vols;
    return TRUE;
}

/* ---- lifetime ------------------------------------------------------------- */

void
hyve_pool_obj_stopped_locked(HyvePoolObj *pool)
{
    HyveStorage *st = pool->st;

    pool->active = FALSE;
    g_ptr_array_set_size(pool->vols, 0);
    if (pool->new_def) {
        hyve_pool_def_free(pool->def);
        pool->def = g_steal_pointer(&pool->new_def);
        pool->backend = hyve_storage_backend_for(pool->def->type);
    }
    pool->def->capacity = pool->def->allocation = pool->def->available = 0;
    hyve_storage_remove_state(st, pool->def->name);
    if (!pool->persistent && !pool->removed) {
        pool->removed = TRUE;
        g_ptr_array_remove(st->pools, pool);
    }
}
