/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_vol_ops.c: the volume operations of hyve_storage.h that
 * change storage: create (from XML), clone (create from another volume,
 * data copied sparse), delete, wipe and resize. Each follows the rule of
 * hyve_storage_priv.h: checks and a mark (vol->building / vol->in_use,
 * pool->async_jobs) under pool->lock, the backend or the data copy with no
 * lock held, then the lock again to publish the result and clear the mark.
 * The shared checks and marks are in hyve_storage_vol.c.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "hyve_storage_priv.h"

#define VOL_ERR(code, ...) hyve_error_set(error, HYVE_FROM_STORAGE, (code), __VA_ARGS__)

/* ---- checks used only here ---------------------------------------------- */

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

/* A volume that nothing else works on (delete, resize). */
static gboolean
vol_check_idle(HyveVolObj *vol, GError **error)
{
    return hyve_vol_check_ready_locked(vol, TRUE, error);
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
    /* As libvirt: a clone is never smaller than its source. */
    if (src && vdef->capacity < src->capacity)
        vdef->capacity = src->capacity;
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
        ok = hyve_storage_copy_sparse(src->path, vdef->target_path, src->capacity, error);
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
        hyve_vol_ident_set(out, pool->def, vdef);
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
    vol = hyve_vol_get_locked(src_pool, src_name, error);
    if (vol && !hyve_vol_check_ready_locked(vol, FALSE, error))
        vol = NULL;
    if (vol && !hyve_vol_check_raw(vol->def, "cloning", error))
        vol = NULL;
    if (vol) {
        hyve_vol_mark_locked(src_pool, vol);
        src_path = g_strdup(vol->def->target_path);
        src.capacity = vol->def->capacity;
    }
    g_mutex_unlock(&src_pool->lock);
    if (!vol)
        return FALSE;

    src.path = src_path;
    ok = vol_create(st, pool, xml, flags, &src, out, error);
    hyve_vol_unmark(src_pool, src_name, NULL);
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
    vol = hyve_vol_get_locked(pool, name, error);
    if (!vol || !vol_check_idle(vol, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    /* Being deleted: listed, usable by nothing else meanwhile. */
    vol->building++;
    vol->deleting = TRUE;
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
    else if (vol && vol->building) {
        vol->building--;
        vol->deleting = FALSE;
    }
    if (pool->async_jobs)
        pool->async_jobs--;
    g_mutex_unlock(&pool->lock);
    return ok;
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
    /* New allocation (a sparse file's holes punched); no pool event, as libvirt. */
    hyve_vol_refresh_copy(pool, name, &fresh);
    hyve_vol_unmark(pool, name, fresh);
    return ok;
}

gboolean
hyve_storage_vol_resize(HyveStorage *st, HyvePoolObj *pool, const char *name,
                        guint64 capacity, guint flags, GError **error)
{
    g_autoptr(HyvePoolDef) pdef = NULL;
    g_autoptr(HyveVolDef) vdef = NULL;
    g_autoptr(HyveVolDef) fresh = NULL;
    const HyveStorageBackend *backend;
    HyveVolObj *vol;
    guint64 want, have, alloc;
    gboolean ok = TRUE;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_RESIZE_ALLOCATE | HYVE_VOL_RESIZE_DELTA |
                             HYVE_VOL_RESIZE_SHRINK, FALSE);
    /* The sizes as they are now (data written since the last refresh). */
    hyve_vol_refresh_copy(pool, name, &fresh);
    g_mutex_lock(&pool->lock);
    vol = hyve_vol_get_locked(pool, name, error);
    if (!vol || !vol_check_idle(vol, error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    if (!hyve_vol_check_raw(vol->def, "resizing", error)) {
        g_mutex_unlock(&pool->lock);
        return FALSE;
    }
    if (fresh && g_strcmp0(fresh->key, vol->def->key) == 0) {
        have = fresh->capacity;
        alloc = fresh->allocation;
    } else {
        have = vol->def->capacity;
        alloc = vol->def->allocation;
    }
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
    /* As libvirt, checked first: a file never shrinks below its allocated
     * bytes (its data would be cut). Not for block volumes: hyve's LVs are
     * always fully allocated (where libvirt's sparse ones would be thin),
     * so shrinking one with SHRINK stays possible. */
    if (ok && want < have && want < alloc && vol->def->type == HYVE_VOL_TYPE_FILE) {
        VOL_ERR(HYVE_ERR_INVALID_ARG, "%s", "can't shrink capacity below existing allocation");
        ok = FALSE;
    }
    if (ok && want < have && !(flags & HYVE_VOL_RESIZE_SHRINK)) {
        VOL_ERR(HYVE_ERR_INVALID_ARG, "%s", "Can't shrink capacity below current capacity "
                "unless shrink flag explicitly specified");
        ok = FALSE;
    }
    if (ok && (flags & HYVE_VOL_RESIZE_ALLOCATE) && want > alloc &&
        want - alloc > pool->def->available) {
        VOL_ERR(HYVE_ERR_OPERATION_FAILED, "%s", "Not enough space left in storage pool");
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
    if (want == have && !(flags & HYVE_VOL_RESIZE_ALLOCATE)) {
        /* nothing to change: no busy mark, so this never makes a transfer
         * that starts meanwhile fail with "still in use" */
        g_mutex_unlock(&pool->lock);
        return TRUE;
    }
    hyve_vol_mark_locked(pool, vol);
    pdef = hyve_pool_def_copy(pool->def);
    vdef = hyve_vol_def_copy(vol->def);
    g_mutex_unlock(&pool->lock);

    if (want < have)
        ok = vol_check_user(st, name, vdef->target_path, error);
    if (ok)
        ok = backend->vol_resize(pdef, vdef, want, flags & ~HYVE_VOL_RESIZE_DELTA, error);
    if (ok && backend->vol_refresh)
        backend->vol_refresh(pdef, vdef, NULL);
    hyve_vol_unmark(pool, name, ok ? vdef : NULL);
    return ok;
}
