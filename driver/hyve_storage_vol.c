/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_vol.c: volume identities and objects, the checks and marks
 * every volume operation shares (hyve_vol_* in hyve_storage_priv.h), the
 * read-only volume operations of hyve_storage.h (list, lookups by name, key
 * and path, info, XML, path), acquire/release for transfers, and the domain
 * side's helpers (who uses a path, resolving <disk type='volume'>). The
 * operations that change storage (create, clone, delete, wipe, resize) are
 * in hyve_storage_vol_ops.c.
 *
 * Every operation follows hyve_storage_priv.h's rule: checks and marks
 * under pool->lock, backend work and data copies with no lock held, then
 * the lock again to publish the result and clear the mark.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hyve_storage_priv.h"

#define VOL_ERR(code, ...) hyve_error_set(error, HYVE_FROM_STORAGE, (code), __VA_ARGS__)

/* ---- identities and objects --------------------------------------------- */

void
hyve_vol_ident_clear(HyveVolIdent *ident)
{
    if (!ident)
        return;
    g_clear_pointer(&ident->pool, g_free);
    g_clear_pointer(&ident->name, g_free);
    g_clear_pointer(&ident->key, g_free);
}

void
hyve_vol_ident_free(HyveVolIdent *ident)
{
    hyve_vol_ident_clear(ident);
    g_free(ident);
}

void
hyve_vol_ident_set(HyveVolIdent *out, const HyvePoolDef *pool, const HyveVolDef *vol)
{
    if (!out)
        return;
    out->pool = g_strdup(pool->name);
    out->name = g_strdup(vol->name);
    out->key = g_strdup(vol->key);
}

void
hyve_vol_obj_free(HyveVolObj *vol)
{
    if (!vol)
        return;
    hyve_vol_def_free(vol->def);
    g_free(vol);
}

HyveVolObj *
hyve_pool_obj_find_vol_locked(HyvePoolObj *pool, const char *name)
{
    for (guint i = 0; pool->vols && i < pool->vols->len; i++) {
        HyveVolObj *vol = g_ptr_array_index(pool->vols, i);

        if (g_strcmp0(vol->def->name, name) == 0)
            return vol;
    }
    return NULL;
}

/* Sizes and what the backend re-read; names and paths stay. */
static void
vol_def_update(HyveVolDef *dst, const HyveVolDef *src)
{
    dst->capacity = src->capacity;
    dst->allocation = src->allocation;
    dst->physical = src->physical;
    dst->perms = src->perms;
    if (src->format && g_strcmp0(dst->format, src->format) != 0) {
        g_free(dst->format);
        dst->format = g_strdup(src->format);
    }
}

/* Volumes of other formats (found in a pool, never created) are listed
 * and can be transferred as files, but not cloned or resized. */
static gboolean
vol_is_raw(const HyveVolDef *def)
{
    return !def->format || g_str_equal(def->format, "raw");
}

gboolean
hyve_vol_check_raw(const HyveVolDef *def, const char *what, GError **error)
{
    if (vol_is_raw(def))
        return TRUE;
    VOL_ERR(HYVE_ERR_CONFIG_UNSUPPORTED, "%s a volume of format '%s' is not supported by hyve "
            "(supported: raw)", what, def->format);
    return FALSE;
}

/* pool->lock held: the active pool's volume @name. */
HyveVolObj *
hyve_vol_get_locked(HyvePoolObj *pool, const char *name, GError **error)
{
    HyveVolObj *vol;

    if (!hyve_pool_obj_check_locked(pool, TRUE, error))
        return NULL;
    vol = hyve_pool_obj_find_vol_locked(pool, name);
    if (!vol)
        VOL_ERR(HYVE_ERR_NO_STORAGE_VOL, "no storage vol with matching name '%s'", name);
    return vol;
}

gboolean
hyve_vol_check_ready_locked(const HyveVolObj *vol, gboolean need_idle, GError **error)
{
    if (vol->building && vol->deleting)
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is being deleted.", vol->def->name);
    else if (vol->building)
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still being allocated.",
                vol->def->name);
    else if (need_idle && vol->in_use)
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still in use.", vol->def->name);
    else
        return TRUE;
    return FALSE;
}

char *
hyve_storage_path_user(HyveStorage *st, const char *path)
{
    if (!st->vol_user || !path)
        return NULL;
    return st->vol_user(path, st->vol_user_data);
}

/* Marks a volume busy for a private operation (pool->lock held); undone
 * by hyve_vol_unmark. */
void
hyve_vol_mark_locked(HyvePoolObj *pool, HyveVolObj *vol)
{
    vol->in_use++;
    pool->async_jobs++;
}

void
hyve_vol_unmark(HyvePoolObj *pool, const char *name, const HyveVolDef *fresh)
{
    g_mutex_lock(&pool->lock);
    HyveVolObj *vol = hyve_pool_obj_find_vol_locked(pool, name);
    if (vol) {
        if (vol->in_use)
            vol->in_use--;
        if (fresh)
            vol_def_update(vol->def, fresh);
    }
    if (pool->async_jobs)
        pool->async_jobs--;
    g_mutex_unlock(&pool->lock);
}

/* ---- listing and lookups ------------------------------------------------ */

GPtrArray *
hyve_storage_pool_list_volumes(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error)
{
    GPtrArray *ret;

    (void)st;
    HYVE_STORAGE_CHECK_FLAGS(flags, 0, NULL);
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, TRUE, error)) {
        g_mutex_unlock(&pool->lock);
        return NULL;
    }
    ret = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_ident_free);
    for (guint i = 0; pool->vols && i < pool->vols->len; i++) {
        HyveVolObj *vol = g_ptr_array_index(pool->vols, i);
        HyveVolIdent *id = g_new0(HyveVolIdent, 1);

        hyve_vol_ident_set(id, pool->def, vol->def);
        g_ptr_array_add(ret, id);
    }
    g_mutex_unlock(&pool->lock);
    return ret;
}

int
hyve_storage_pool_num_volumes(HyveStorage *st, HyvePoolObj *pool, GError **error)
{
    int n;

    (void)st;
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, TRUE, error))
        n = -1;
    else
        n = pool->vols ? (int)pool->vols->len : 0;
    g_mutex_unlock(&pool->lock);
    return n;
}

gboolean
hyve_storage_vol_lookup_by_name(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                HyveVolIdent *out, GError **error)
{
    HyveVolObj *vol;

    (void)st;
    g_mutex_lock(&pool->lock);
    vol = hyve_vol_get_locked(pool, name, error);
    if (vol)
        hyve_vol_ident_set(out, pool->def, vol->def);
    g_mutex_unlock(&pool->lock);
    return vol != NULL;
}

static GPtrArray *
storage_pools_snapshot(HyveStorage *st)
{
    GPtrArray *pools = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_pool_obj_unref);

    g_mutex_lock(&st->lock);
    for (guint i = 0; st->pools && i < st->pools->len; i++)
        g_ptr_array_add(pools, hyve_pool_obj_ref(g_ptr_array_index(st->pools, i)));
    g_mutex_unlock(&st->lock);
    return pools;
}

/* The first volume of an active pool whose key (@by_key) or path equals
 * one of @wanted (NULL-terminated). */
static gboolean
vol_lookup_any(HyveStorage *st, const char *const *wanted, gboolean by_key, HyveVolIdent *out)
{
    g_autoptr(GPtrArray) pools = storage_pools_snapshot(st);

    for (guint i = 0; i < pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(pools, i);
        gboolean found = FALSE;

        g_mutex_lock(&pool->lock);
        for (guint j = 0; pool->active && !pool->removed && pool->vols &&
             j < pool->vols->len && !found; j++) {
            HyveVolDef *def = ((HyveVolObj *)g_ptr_array_index(pool->vols, j))->def;
            const char *have = by_key ? def->key : def->target_path;

            for (guint k = 0; wanted[k] && !found; k++) {
                if (g_strcmp0(have, wanted[k]) == 0) {
                    hyve_vol_ident_set(out, pool->def, def);
                    found = TRUE;
                }
            }
        }
        g_mutex_unlock(&pool->lock);
        if (found)
            return TRUE;
    }
    return FALSE;
}

gboolean
hyve_storage_vol_lookup_by_key(HyveStorage *st, const char *key, HyveVolIdent *out,
                               GError **error)
{
    const char *wanted[] = { key, NULL };

    if (key && vol_lookup_any(st, wanted, TRUE, out))
        return TRUE;
    VOL_ERR(HYVE_ERR_NO_STORAGE_VOL, "no storage vol with matching key '%s'", key ? key : "");
    return FALSE;
}

/* "/a//b/./c/" -> "/a/b/c" */
static char *
vol_clean_path(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    GString *out = g_string_new(NULL);

    for (guint i = 0; parts[i]; i++) {
        if (!*parts[i] || strcmp(parts[i], ".") == 0)
            continue;
        g_string_append_printf(out, "/%s", parts[i]);
    }
    if (!out->len)
        g_string_append_c(out, '/');
    if (!g_path_is_absolute(path))
        g_string_erase(out, 0, 1);
    return g_string_free(out, FALSE);
}

gboolean
hyve_storage_vol_lookup_by_path(HyveStorage *st, const char *path, HyveVolIdent *out,
                                GError **error)
{
    g_autofree char *clean = NULL;
    g_autofree char *real = NULL;
    char *rp;

    if (path) {
        clean = vol_clean_path(path);
        rp = realpath(path, NULL);
        if (rp) {
            real = g_strdup(rp);
            free(rp);
        }
        const char *wanted[] = { path, clean, real, NULL };
        if (vol_lookup_any(st, wanted, FALSE, out))
            return TRUE;
    }
    VOL_ERR(HYVE_ERR_NO_STORAGE_VOL, "no storage vol with matching path '%s'", path ? path : "");
    return FALSE;
}

/* Re-reads a volume's sizes (no lock held); FALSE when it cannot. */
gboolean
hyve_vol_refresh_copy(HyvePoolObj *pool, const char *name, HyveVolDef **vdef_out)
{
    g_autoptr(HyvePoolDef) pdef = NULL;
    g_autoptr(HyveVolDef) vdef = NULL;
    const HyveStorageBackend *backend;
    HyveVolObj *vol;

    g_mutex_lock(&pool->lock);
    vol = pool->active ? hyve_pool_obj_find_vol_locked(pool, name) : NULL;
    if (!vol || vol->building) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    pdef = hyve_pool_def_copy(pool->def);
    vdef = hyve_vol_def_copy(vol->def);
    backend = pool->backend;
    g_mutex_unlock(&pool->lock);
    if (!backend || !backend->vol_refresh || !backend->vol_refresh(pdef, vdef, NULL))
        return FALSE;
    *vdef_out = g_steal_pointer(&vdef);
    return TRUE;
}

/* ---- info, XML, path ---------------------------------------------------- */

/* A copy of the volume's definition, re-read from storage first (as
 * libvirt refreshes a volume before answering about it). */
static HyveVolDef *
vol_snapshot(HyvePoolObj *pool, const char *name, HyvePoolType *type, GError **error)
{
    g_autoptr(HyveVolDef) fresh = NULL;
    HyveVolDef *ret = NULL;
    HyveVolObj *vol;

    hyve_vol_refresh_copy(pool, name, &fresh);
    g_mutex_lock(&pool->lock);
    vol = hyve_vol_get_locked(pool, name, error);
    if (vol) {
        if (fresh && !vol->building && g_strcmp0(fresh->key, vol->def->key) == 0)
            vol_def_update(vol->def, fresh);
        ret = hyve_vol_def_copy(vol->def);
        if (type)
            *type = pool->def->type;
    }
    g_mutex_unlock(&pool->lock);
    return ret;
}

gboolean
hyve_storage_vol_get_info(HyveStorage *st, HyvePoolObj *pool, const char *name, guint flags,
                          HyveVolInfo *info, GError **error)
{
    g_autoptr(HyveVolDef) def = NULL;

    (void)st;
    HYVE_STORAGE_CHECK_FLAGS(flags, 1u, FALSE);
    def = vol_snapshot(pool, name, NULL, error);
    if (!def)
        return FALSE;
    info->type = def->type;
    info->capacity = def->capacity;
    info->allocation = (flags & 1u) ? def->physical : def->allocation;
    info->physical = def->physical;
    return TRUE;
}

char *
hyve_storage_vol_get_xml(HyveStorage *st, HyvePoolObj *pool, const char *name, guint flags,
                         GError **error)
{
    g_autoptr(HyveVolDef) def = NULL;
    HyvePoolType type = HYVE_POOL_TYPE_DIR;

    (void)st;
    HYVE_STORAGE_CHECK_FLAGS(flags, 0, NULL);
    def = vol_snapshot(pool, name, &type, error);
    return def ? hyve_vol_def_format(def, type) : NULL;
}

char *
hyve_storage_vol_get_path(HyveStorage *st, HyvePoolObj *pool, const char *name, GError **error)
{
    HyveVolObj *vol;
    char *path = NULL;

    (void)st;
    g_mutex_lock(&pool->lock);
    vol = hyve_vol_get_locked(pool, name, error);
    if (vol)
        path = g_strdup(vol->def->target_path);
    g_mutex_unlock(&pool->lock);
    return path;
}

/* ---- transfers ---------------------------------------------------------- */

gboolean
hyve_storage_vol_acquire(HyveStorage *st, HyvePoolObj *pool, const char *name, HyveVolUse use,
                         char **path, guint64 *capacity, GError **error)
{
    HyveVolObj *vol;
    gboolean ok = FALSE;

    (void)st;
    g_mutex_lock(&pool->lock);
    vol = hyve_vol_get_locked(pool, name, error);
    if (vol && hyve_vol_check_ready_locked(vol, use == HYVE_VOL_USE_WRITE, error)) {
        hyve_vol_mark_locked(pool, vol);
        if (path)
            *path = g_strdup(vol->def->target_path);
        /* a file of another format travels as it is */
        if (capacity)
            *capacity = vol_is_raw(vol->def) ? vol->def->capacity : vol->def->physical;
        ok = TRUE;
    }
    g_mutex_unlock(&pool->lock);
    return ok;
}

void
hyve_storage_vol_release(HyveStorage *st, HyvePoolObj *pool, const char *name, gboolean refresh)
{
    g_autoptr(HyveVolDef) fresh = NULL;
    g_autoptr(GError) err = NULL;

    if (refresh)
        hyve_vol_refresh_copy(pool, name, &fresh);
    hyve_vol_unmark(pool, name, fresh);
    if (!refresh)
        return;
    /* As libvirt after an upload: the whole pool is rescanned (its sizes
     * changed too), then REFRESH. */
    g_mutex_lock(&pool->lock);
    if (pool->active && !pool->removed) {
        if (!hyve_pool_obj_refresh_locked(pool, &err))
            g_warning("storage: refreshing pool %s after a transfer: %s", pool->def->name,
                      err->message);
        hyve_storage_queue_event(st, HYVE_POOL_EVENT_ID_REFRESH, pool->def, 0);
    }
    g_mutex_unlock(&pool->lock);
    hyve_storage_flush_events(st);
}

/* ---- for the domain side ------------------------------------------------ */

char *
hyve_storage_resolve_volume(HyveStorage *st, const char *pool_name, const char *volume,
                            GError **error)
{
    g_autoptr(HyvePoolObj) pool = hyve_storage_pool_lookup_by_name(st, pool_name, error);
    HyveVolObj *vol;
    char *path = NULL;

    if (!pool)
        return NULL;
    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, FALSE, error)) {
        /* undefined meanwhile: reported */
    } else if (!pool->active) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "storage pool '%s' containing volume '%s' is not "
                "active", pool_name, volume);
    } else if (!(vol = hyve_pool_obj_find_vol_locked(pool, volume))) {
        VOL_ERR(HYVE_ERR_NO_STORAGE_VOL, "no storage vol with matching name '%s'", volume);
    } else if (hyve_vol_check_ready_locked(vol, FALSE, error)) {
        path = g_strdup(vol->def->target_path);
    }
    g_mutex_unlock(&pool->lock);
    return path;
}
