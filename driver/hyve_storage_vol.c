/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_vol.c: the volume operations of hyve_storage.h (list, lookup,
 * create, clone, delete, wipe, resize, info, XML, path), volume marks and
 * acquire/release for transfers, and the domain side's helpers (who uses a
 * path, resolving <disk type='volume'>).
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

static void
vol_ident_set(HyveVolIdent *out, const HyvePoolDef *pool, const HyveVolDef *vol)
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

static void
pool_insert_vol_locked(HyvePoolObj *pool, HyveVolObj *vol)
{
    guint i;

    if (!pool->vols)
        pool->vols = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_obj_free);
    for (i = 0; i < pool->vols->len; i++) {
        HyveVolObj *v = g_ptr_array_index(pool->vols, i);

        if (strcmp(vol->def->name, v->def->name) < 0)
            break;
    }
    g_ptr_array_insert(pool->vols, i, vol);
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

static gboolean
vol_check_raw(const HyveVolDef *def, const char *what, GError **error)
{
    if (vol_is_raw(def))
        return TRUE;
    VOL_ERR(HYVE_ERR_CONFIG_UNSUPPORTED, "%s a volume of format '%s' is not supported by hyve "
            "(supported: raw)", what, def->format);
    return FALSE;
}

/* pool->lock held: the active pool's volume @name. */
static HyveVolObj *
vol_get_locked(HyvePoolObj *pool, const char *name, GError **error)
{
    HyveVolObj *vol;

    if (!hyve_pool_obj_check_locked(pool, TRUE, error))
        return NULL;
    vol = hyve_pool_obj_find_vol_locked(pool, name);
    if (!vol)
        VOL_ERR(HYVE_ERR_NO_STORAGE_VOL, "no storage vol with matching name '%s'", name);
    return vol;
}

/* A volume that nothing else works on (delete, resize, wipe). */
static gboolean
vol_check_idle(HyveVolObj *vol, GError **error)
{
    if (vol->building) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still being allocated.",
                vol->def->name);
        return FALSE;
    }
    if (vol->in_use) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is in use by a transfer",
                vol->def->name);
        return FALSE;
    }
    return TRUE;
}

char *
hyve_storage_path_user(HyveStorage *st, const char *path)
{
    if (!st->vol_user || !path)
        return NULL;
    return st->vol_user(path, st->vol_user_data);
}

static gboolean
vol_check_user(HyveStorage *st, const char *name, const char *path, GError **error)
{
    g_autofree char *user = hyve_storage_path_user(st, path);

    if (user) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "storage volume '%s' is in use by domain '%s'",
                name, user);
        return FALSE;
    }
    return TRUE;
}

/* Marks a volume busy for a private operation (pool->lock held); undone
 * by vol_unmark. */
static void
vol_mark_locked(HyvePoolObj *pool, HyveVolObj *vol)
{
    vol->in_use++;
    pool->async_jobs++;
}

static void
vol_unmark(HyvePoolObj *pool, const char *name, const HyveVolDef *fresh)
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

        vol_ident_set(id, pool->def, vol->def);
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
    vol = vol_get_locked(pool, name, error);
    if (vol)
        vol_ident_set(out, pool->def, vol->def);
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
                    vol_ident_set(out, pool->def, def);
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

/* ---- create and clone --------------------------------------------------- */

/* libvirt lets a clone's XML leave out <capacity> (the source's is used);
 * the volume parser requires it, so it is added here. */
static char *
vol_xml_with_capacity(const char *xml, guint64 capacity)
{
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "volume.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    g_autofree char *value = NULL;
    xmlNodePtr root, cur;
    xmlChar *buf = NULL;
    char *ret = NULL;
    int len = 0;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || !xmlStrEqual(root->name, BAD_CAST "volume"))
        goto out;
    for (cur = root->children; cur; cur = cur->next) {
        if (cur->type == XML_ELEMENT_NODE && xmlStrEqual(cur->name, BAD_CAST "capacity"))
            goto out;
    }
    value = g_strdup_printf("%" G_GUINT64_FORMAT, capacity);
    cur = xmlNewChild(root, NULL, BAD_CAST "capacity", BAD_CAST value);
    xmlNewProp(cur, BAD_CAST "unit", BAD_CAST "bytes");
    xmlDocDumpMemory(doc, &buf, &len);
    if (buf)
        ret = g_strndup((const char *)buf, len);
    xmlFree(buf);
out:
    xmlFreeDoc(doc);
    return ret;
}

typedef struct {
    const char *path;             /* clone source, NULL for a new volume */
    guint64 capacity;
} VolSource;

static gboolean
vol_create(HyveStorage *st, HyvePoolObj *pool, const char *xml, guint flags,
           const VolSource *src, HyveVolIdent *out, GError **error)
{
    g_autoptr(HyvePoolDef) pdef = NULL;
    g_autoptr(HyveVolDef) vdef = NULL;
    g_autofree char *fixed_xml = NULL;
    const HyveStorageBackend *backend;
    HyveVolObj *obj;
    gboolean ok;

    if (flags & HYVE_VOL_CREATE_PREALLOC_METADATA) {
        VOL_ERR(HYVE_ERR_CONFIG_UNSUPPORTED, "%s",
                "metadata preallocation is not supported for raw volumes");
        return FALSE;
    }
    /* Reflinks only matter for clones (ignored otherwise, as libvirt). */
    if (src && (flags & HYVE_VOL_CREATE_REFLINK)) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "%s", "reflink copies are not supported by hyve");
        return FALSE;
    }

    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, TRUE, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    pdef = hyve_pool_def_copy(pool->def);
    backend = pool->backend;
    g_mutex_unlock(&pool->lock);

    if (!backend || !backend->vol_prepare || !backend->vol_create) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "storage pool '%s' does not support volume creation",
                pdef->name);
        return FALSE;
    }
    if (src)
        fixed_xml = vol_xml_with_capacity(xml, src->capacity);
    vdef = hyve_vol_def_parse(fixed_xml ? fixed_xml : xml, pdef->type,
                              (flags & HYVE_VOL_CREATE_VALIDATE) != 0, st->schema_dir, error);
    if (!vdef)
        return FALSE;
    if (vdef->allocation > vdef->capacity)
        vdef->allocation = vdef->capacity;
    /* A clone stays sparse unless it is asked to be fully allocated. */
    if (src && (!vdef->has_allocation || vdef->allocation < vdef->capacity))
        vdef->allocation = 0;
    if (!backend->vol_prepare(pdef, vdef, error))
        return FALSE;

    g_mutex_lock(&pool->lock);
    if (!hyve_pool_obj_check_locked(pool, TRUE, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    if (g_strcmp0(pool->def->target_path, pdef->target_path) != 0 ||
        g_strcmp0(pool->def->source_name, pdef->source_name) != 0) {
        /* restarted with another definition while the XML was parsed */
        VOL_ERR(HYVE_ERR_OPERATION_FAILED, "storage pool '%s' changed meanwhile, try again",
                pdef->name);
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    for (guint i = 0; pool->vols && i < pool->vols->len; i++) {
        HyveVolDef *have = ((HyveVolObj *)g_ptr_array_index(pool->vols, i))->def;

        if (g_strcmp0(have->name, vdef->name) == 0 || g_strcmp0(have->key, vdef->key) == 0) {
            VOL_ERR(HYVE_ERR_STORAGE_VOL_EXIST, "'%s'", vdef->name);
            g_mutex_unlock(&pool->lock);
            return FALSE;
        }
    }
    obj = g_new0(HyveVolObj, 1);
    obj->def = hyve_vol_def_copy(vdef);
    obj->building = 1;
    pool_insert_vol_locked(pool, obj);
    pool->async_jobs++;
    g_mutex_unlock(&pool->lock);

    ok = backend->vol_create(pdef, vdef, error);
    if (ok && src) {
        ok = hyve_storage_copy_sparse(src->path, vdef->target_path,
                                      MIN(src->capacity, vdef->capacity), error);
        if (!ok && backend->vol_delete)
            backend->vol_delete(pdef, vdef, 0, NULL);
        if (ok && backend->vol_refresh)
            backend->vol_refresh(pdef, vdef, NULL);
    }

    g_mutex_lock(&pool->lock);
    obj = hyve_pool_obj_find_vol_locked(pool, vdef->name);
    if (ok) {
        if (!obj) {
            /* A refresh meanwhile did not see it yet. */
            obj = g_new0(HyveVolObj, 1);
            obj->def = hyve_vol_def_copy(vdef);
            pool_insert_vol_locked(pool, obj);
        } else {
            hyve_vol_def_free(obj->def);
            obj->def = hyve_vol_def_copy(vdef);
            if (obj->building)
                obj->building--;
        }
        vol_ident_set(out, pool->def, vdef);
    } else if (obj) {
        g_ptr_array_remove(pool->vols, obj);
    }
    if (pool->async_jobs)
        pool->async_jobs--;
    g_mutex_unlock(&pool->lock);
    return ok;
}

gboolean
hyve_storage_vol_create_xml(HyveStorage *st, HyvePoolObj *pool, const char *xml, guint flags,
                            HyveVolIdent *out, GError **error)
{
    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_CREATE_PREALLOC_METADATA |
                             HYVE_VOL_CREATE_REFLINK | HYVE_VOL_CREATE_VALIDATE, FALSE);
    return vol_create(st, pool, xml, flags, NULL, out, error);
}

gboolean
hyve_storage_vol_create_xml_from(HyveStorage *st, HyvePoolObj *pool, const char *xml,
                                 HyvePoolObj *src_pool, const char *src_name, guint flags,
                                 HyveVolIdent *out, GError **error)
{
    g_autofree char *src_path = NULL;
    VolSource src;
    HyveVolObj *vol;
    gboolean ok;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_CREATE_PREALLOC_METADATA |
                             HYVE_VOL_CREATE_REFLINK | HYVE_VOL_CREATE_VALIDATE, FALSE);
    g_mutex_lock(&src_pool->lock);
    vol = vol_get_locked(src_pool, src_name, error);
    if (vol && vol->building) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still being allocated.", src_name);
        vol = NULL;
    }
    if (vol && !vol_check_raw(vol->def, "cloning", error))
        vol = NULL;
    if (vol) {
        vol_mark_locked(src_pool, vol);
        src_path = g_strdup(vol->def->target_path);
        src.capacity = vol->def->capacity;
    }
    g_mutex_unlock(&src_pool->lock);
    if (!vol)
        return FALSE;

    src.path = src_path;
    ok = vol_create(st, pool, xml, flags, &src, out, error);
    vol_unmark(src_pool, src_name, NULL);
    return ok;
}

/* ---- delete, wipe, resize ----------------------------------------------- */

gboolean
hyve_storage_vol_delete(HyveStorage *st, HyvePoolObj *pool, const char *name, guint flags,
                        GError **error)
{
    g_autoptr(HyvePoolDef) pdef = NULL;
    g_autoptr(HyveVolDef) vdef = NULL;
    const HyveStorageBackend *backend;
    HyveVolObj *vol;
    gboolean ok;

    HYVE_STORAGE_CHECK_FLAGS(flags, 3u, FALSE);
    if (flags) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "%s", (flags & 1u) ?
                "deleting a volume with zeroing is not supported by hyve" :
                "deleting a volume with snapshots is not supported by hyve");
        return FALSE;
    }
    g_mutex_lock(&pool->lock);
    vol = vol_get_locked(pool, name, error);
    if (!vol || !vol_check_idle(vol, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    /* Being deleted: listed, usable by nothing else meanwhile. */
    vol->building++;
    pool->async_jobs++;
    pdef = hyve_pool_def_copy(pool->def);
    vdef = hyve_vol_def_copy(vol->def);
    backend = pool->backend;
    g_mutex_unlock(&pool->lock);

    ok = vol_check_user(st, name, vdef->target_path, error);
    if (ok && (!backend || !backend->vol_delete)) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "storage pool '%s' does not support volume deletion",
                pdef->name);
        ok = FALSE;
    }
    if (ok)
        ok = backend->vol_delete(pdef, vdef, 0, error);

    g_mutex_lock(&pool->lock);
    vol = hyve_pool_obj_find_vol_locked(pool, name);
    if (vol && ok)
        g_ptr_array_remove(pool->vols, vol);
    else if (vol && vol->building)
        vol->building--;
    if (pool->async_jobs)
        pool->async_jobs--;
    g_mutex_unlock(&pool->lock);
    return ok;
}

/* Re-reads a volume's sizes (no lock held); FALSE when it cannot. */
static gboolean
vol_refresh_copy(HyvePoolObj *pool, const char *name, HyveVolDef **vdef_out)
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

gboolean
hyve_storage_vol_wipe(HyveStorage *st, HyvePoolObj *pool, const char *name, guint algorithm,
                      guint flags, GError **error)
{
    g_autofree char *path = NULL;
    g_autoptr(HyveVolDef) fresh = NULL;
    guint64 capacity = 0;
    gboolean ok;

    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    if (algorithm != 0) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "wiping algorithm %u is not supported", algorithm);
        return FALSE;
    }
    if (!hyve_storage_vol_acquire(st, pool, name, HYVE_VOL_USE_WRITE, &path, &capacity, error))
        return FALSE;
    ok = hyve_storage_wipe_path(path, capacity, error);
    /* New allocation (holes punched); no pool event, as libvirt. */
    vol_refresh_copy(pool, name, &fresh);
    vol_unmark(pool, name, fresh);
    return ok;
}

gboolean
hyve_storage_vol_resize(HyveStorage *st, HyvePoolObj *pool, const char *name,
                        guint64 capacity, guint flags, GError **error)
{
    g_autoptr(HyvePoolDef) pdef = NULL;
    g_autoptr(HyveVolDef) vdef = NULL;
    const HyveStorageBackend *backend;
    HyveVolObj *vol;
    guint64 want, have;
    gboolean ok = TRUE;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_RESIZE_ALLOCATE | HYVE_VOL_RESIZE_DELTA |
                             HYVE_VOL_RESIZE_SHRINK, FALSE);
    g_mutex_lock(&pool->lock);
    vol = vol_get_locked(pool, name, error);
    if (!vol || !vol_check_idle(vol, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    if (!vol_check_raw(vol->def, "resizing", error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    have = vol->def->capacity;
    if (!(flags & HYVE_VOL_RESIZE_DELTA)) {
        want = capacity;
    } else if (flags & HYVE_VOL_RESIZE_SHRINK) {
        want = have - MIN(capacity, have);
    } else if (capacity > G_MAXUINT64 - have) {
        VOL_ERR(HYVE_ERR_OVERFLOW, "value too large: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT,
                have, capacity);
        ok = FALSE;
    } else {
        want = have + capacity;
    }
    if (ok && want < have && !(flags & HYVE_VOL_RESIZE_SHRINK)) {
        VOL_ERR(HYVE_ERR_INVALID_ARG, "%s", "Can't shrink capacity below current capacity "
                "unless shrink flag explicitly specified");
        ok = FALSE;
    }
    if (ok && (flags & HYVE_VOL_RESIZE_ALLOCATE) && want > vol->def->allocation &&
        want - vol->def->allocation > pool->def->available) {
        VOL_ERR(HYVE_ERR_INVALID_ARG, "%s", "Not enough space left in storage pool");
        ok = FALSE;
    }
    backend = pool->backend;
    if (ok && (!backend || !backend->vol_resize)) {
        VOL_ERR(HYVE_ERR_NO_SUPPORT, "storage pool '%s' does not support changing the size "
                "of a volume", pool->def->name);
        ok = FALSE;
    }
    if (!ok) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    vol_mark_locked(pool, vol);
    pdef = hyve_pool_def_copy(pool->def);
    vdef = hyve_vol_def_copy(vol->def);
    g_mutex_unlock(&pool->lock);

    if (want < have)
        ok = vol_check_user(st, name, vdef->target_path, error);
    if (ok)
        ok = backend->vol_resize(pdef, vdef, want, flags & ~HYVE_VOL_RESIZE_DELTA, error);
    if (ok && backend->vol_refresh)
        backend->vol_refresh(pdef, vdef, NULL);
    vol_unmark(pool, name, ok ? vdef : NULL);
    return ok;
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

    vol_refresh_copy(pool, name, &fresh);
    g_mutex_lock(&pool->lock);
    vol = vol_get_locked(pool, name, error);
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
    vol = vol_get_locked(pool, name, error);
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
    vol = vol_get_locked(pool, name, error);
    if (vol && vol->building) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still being allocated.", name);
    } else if (vol && use == HYVE_VOL_USE_WRITE && vol->in_use) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is in use by a transfer", name);
    } else if (vol) {
        vol_mark_locked(pool, vol);
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
        vol_refresh_copy(pool, name, &fresh);
    vol_unmark(pool, name, fresh);
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
    } else if (vol->building) {
        VOL_ERR(HYVE_ERR_OPERATION_INVALID, "volume '%s' is still being allocated.", volume);
    } else {
        path = g_strdup(vol->def->target_path);
    }
    g_mutex_unlock(&pool->lock);
    return path;
}
