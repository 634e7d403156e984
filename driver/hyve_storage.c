/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage.c: the storage driver's core (hyve_storage_priv.h): the
 * HyveStorage object's lifetime (new/free), the pool list (find, add,
 * remove, list filters, counts) and its lookups by name, UUID and target
 * path, and the event queue. Pool objects are in hyve_storage_pool_obj.c,
 * config/state files and start-up loading in hyve_storage_files.c.
 *
 * Events are queued under the lock that serialises the change they report
 * and delivered by hyve_storage_flush_events() with no lock held, one
 * flusher at a time, in queue order (as the domain side does).
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "hyve_domain_obj.h"
#include "hyve_storage_priv.h"

/* ---- events --------------------------------------------------------------- */

static void
pool_event_free(HyvePoolEvent *ev)
{
    g_free(ev->name);
    g_free(ev);
}

void
hyve_storage_queue_event(HyveStorage *st, HyvePoolEventId id, const HyvePoolDef *def, int event)
{
    HyvePoolEvent *ev = g_new0(HyvePoolEvent, 1);

    ev->id = id;
    ev->name = g_strdup(def->name);
    memcpy(ev->uuid, def->uuid, HYVE_UUID_LEN);
    ev->event = event;
    g_mutex_lock(&st->event_lock);
    g_queue_push_tail(&st->pending, ev);
    g_mutex_unlock(&st->event_lock);
}

void
hyve_storage_flush_events(HyveStorage *st)
{
    g_mutex_lock(&st->flush_lock);
    for (;;) {
        HyvePoolEventSink sink;
        gpointer data;
        HyvePoolEvent *ev;

        g_mutex_lock(&st->event_lock);
        ev = g_queue_pop_head(&st->pending);
        sink = st->sink;
        data = st->sink_data;
        g_mutex_unlock(&st->event_lock);
        if (!ev)
            break;
        if (sink)
            sink(ev, data);
        pool_event_free(ev);
    }
    g_mutex_unlock(&st->flush_lock);
}

/* Takes flush_lock too: a flusher (a transfer thread's REFRESH, say) calls
 * the sink it copied with only flush_lock held, so once this returns the
 * old sink is not running and will not be called again (its data may be
 * freed). Must not be called from inside a sink. */
void
hyve_storage_set_event_sink(HyveStorage *st, HyvePoolEventSink sink, gpointer user_data)
{
    g_mutex_lock(&st->flush_lock);
    g_mutex_lock(&st->event_lock);
    st->sink = sink;
    st->sink_data = user_data;
    g_mutex_unlock(&st->event_lock);
    g_mutex_unlock(&st->flush_lock);
}

void
hyve_storage_set_vol_user_func(HyveStorage *st, HyveVolUserFunc func, gpointer user_data)
{
    st->vol_user = func;
    st->vol_user_data = user_data;
}

/* ---- the list ------------------------------------------------------------- */

static gboolean
pool_has_name(HyvePoolObj *pool, const char *name)
{
    gboolean match;

    g_mutex_lock(&pool->lock);
    match = g_str_equal(pool->def->name, name);
    g_mutex_unlock(&pool->lock);
    return match;
}

HyvePoolObj *
hyve_storage_find_name_locked(HyveStorage *st, const char *name)
{
    for (guint i = 0; i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);

        if (pool_has_name(pool, name))
            return hyve_pool_obj_ref(pool);
    }
    return NULL;
}

HyvePoolObj *
hyve_storage_find_uuid_locked(HyveStorage *st, const guint8 uuid[HYVE_UUID_LEN])
{
    for (guint i = 0; i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);
        gboolean match;

        g_mutex_lock(&pool->lock);
        match = memcmp(pool->def->uuid, uuid, HYVE_UUID_LEN) == 0;
        g_mutex_unlock(&pool->lock);
        if (match)
            return hyve_pool_obj_ref(pool);
    }
    return NULL;
}

void
hyve_storage_add_locked(HyveStorage *st, HyvePoolObj *pool)
{
    guint i;
    g_autofree char *name = NULL;

    g_mutex_lock(&pool->lock);
    name = g_strdup(pool->def->name);
    pool->removed = FALSE;
    g_mutex_unlock(&pool->lock);
    for (i = 0; i < st->pools->len; i++) {
        HyvePoolObj *p = g_ptr_array_index(st->pools, i);
        int cmp;

        g_mutex_lock(&p->lock);
        cmp = strcmp(p->def->name, name);
        g_mutex_unlock(&p->lock);
        if (cmp > 0)
            break;
    }
    g_ptr_array_insert(st->pools, (gint)i, hyve_pool_obj_ref(pool));
}

void
hyve_storage_remove_locked(HyveStorage *st, HyvePoolObj *pool)
{
    g_mutex_lock(&pool->lock);
    pool->removed = TRUE;
    g_mutex_unlock(&pool->lock);
    g_ptr_array_remove(st->pools, pool);    /* drops the list's reference */
}

/* Looks up with st->lock held, reports NO_STORAGE_POOL. */
HyvePoolObj *
hyve_storage_pool_lookup_by_name(HyveStorage *st, const char *name, GError **error)
{
    HyvePoolObj *pool;

    g_mutex_lock(&st->lock);
    pool = hyve_storage_find_name_locked(st, name);
    g_mutex_unlock(&st->lock);
    if (!pool)
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_STORAGE_POOL,
                       "no storage pool with matching name '%s'", name);
    return pool;
}

HyvePoolObj *
hyve_storage_pool_lookup_by_uuid(HyveStorage *st, const guint8 uuid[HYVE_UUID_LEN],
                                 GError **error)
{
    HyvePoolObj *pool;

    g_mutex_lock(&st->lock);
    pool = hyve_storage_find_uuid_locked(st, uuid);
    g_mutex_unlock(&st->lock);
    if (!pool) {
        char s[HYVE_UUID_STRING_LEN];

        hyve_uuid_format(uuid, s);
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_STORAGE_POOL,
                       "no storage pool with matching uuid '%s'", s);
    }
    return pool;
}

HyvePoolObj *
hyve_storage_pool_lookup_by_target_path(HyveStorage *st, const char *path, GError **error)
{
    g_autofree char *clean = hyve_storage_sanitize_path(path);
    HyvePoolObj *found = NULL;

    g_mutex_lock(&st->lock);
    for (guint i = 0; !found && i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);

        g_mutex_lock(&pool->lock);
        if (pool->active && pool->def->target_path) {
            g_autofree char *target = hyve_storage_sanitize_path(pool->def->target_path);

            if (g_str_equal(target, clean))
                found = hyve_pool_obj_ref(pool);
        }
        g_mutex_unlock(&pool->lock);
    }
    g_mutex_unlock(&st->lock);
    if (!found)
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_STORAGE_POOL,
                       "no storage pool with matching target path '%s'", path);
    return found;
}

/* libvirt's VIR_CONNECT_LIST_STORAGE_POOLS_<TYPE> bit of each HyvePoolType. */
static const guint type_flag[HYVE_POOL_TYPE_LAST] = {
    [HYVE_POOL_TYPE_DIR] = 1u << 6,       [HYVE_POOL_TYPE_FS] = 1u << 7,
    [HYVE_POOL_TYPE_NETFS] = 1u << 8,     [HYVE_POOL_TYPE_LOGICAL] = 1u << 9,
    [HYVE_POOL_TYPE_DISK] = 1u << 10,     [HYVE_POOL_TYPE_ISCSI] = 1u << 11,
    [HYVE_POOL_TYPE_SCSI] = 1u << 12,     [HYVE_POOL_TYPE_MPATH] = 1u << 13,
    [HYVE_POOL_TYPE_RBD] = 1u << 14,      [HYVE_POOL_TYPE_SHEEPDOG] = 1u << 15,
    [HYVE_POOL_TYPE_GLUSTER] = 1u << 16,  [HYVE_POOL_TYPE_ZFS] = 1u << 17,
    [HYVE_POOL_TYPE_VSTORAGE] = 1u << 18, [HYVE_POOL_TYPE_ISCSI_DIRECT] = 1u << 19,
};
#define LIST_ACTIVE_GROUP 0x3u
#define LIST_PERSIST_GROUP 0xcu
#define LIST_AUTOSTART_GROUP 0x30u
#define LIST_TYPE_GROUP 0xfffc0u

/* One group of two filter bits: no bit set = any; else the one matching. */
static gboolean
group_match(guint flags, guint group, gboolean first_bit_matches)
{
    guint bits = flags & group;
    guint low = group & -group;

    if (!bits)
        return TRUE;
    return (bits & low) ? (first_bit_matches || (bits & ~low) != 0) : !first_bit_matches;
}

static gboolean
pool_matches_locked(HyvePoolObj *pool, guint flags)
{
    /* INACTIVE 1 / ACTIVE 2, PERSISTENT 4 / TRANSIENT 8, AUTOSTART 16 / NO 32 */
    if (!group_match(flags & LIST_ACTIVE_GROUP, LIST_ACTIVE_GROUP, !pool->active) ||
        !group_match(flags & LIST_PERSIST_GROUP, LIST_PERSIST_GROUP, pool->persistent) ||
        !group_match(flags & LIST_AUTOSTART_GROUP, LIST_AUTOSTART_GROUP, pool->autostart))
        return FALSE;
    if (flags & LIST_TYPE_GROUP)
        return (guint)pool->def->type < HYVE_POOL_TYPE_LAST &&
               (flags & type_flag[pool->def->type]) != 0;
    return TRUE;
}

GPtrArray *
hyve_storage_list_pools(HyveStorage *st, guint flags, GError **error)
{
    GPtrArray *out;

    HYVE_STORAGE_CHECK_FLAGS(flags, LIST_ACTIVE_GROUP | LIST_PERSIST_GROUP |
                             LIST_AUTOSTART_GROUP | LIST_TYPE_GROUP, NULL);
    out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_pool_obj_unref);
    g_mutex_lock(&st->lock);
    for (guint i = 0; i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);
        gboolean match;

        g_mutex_lock(&pool->lock);
        match = pool_matches_locked(pool, flags);
        g_mutex_unlock(&pool->lock);
        if (match)
            g_ptr_array_add(out, hyve_pool_obj_ref(pool));
    }
    g_mutex_unlock(&st->lock);
    return out;
}

int
hyve_storage_num_pools(HyveStorage *st, gboolean active)
{
    g_autoptr(GPtrArray) list = hyve_storage_list_pools(st, active ? 2u : 1u, NULL);

    return list ? (int)list->len : 0;
}

/* ---- lifetime ------------------------------------------------------------- */

HyveStorage *
hyve_storage_new(const HyveStorageConfig *cfg, GError **error)
{
    HyveStorage *st;
    gboolean first_start;

    if (!cfg->config_dir) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                       "storage configuration has no config_dir");
        return NULL;
    }
    st = g_new0(HyveStorage, 1);
    st->config_dir = g_build_filename(cfg->config_dir, "storage", NULL);
    st->autostart_dir = g_build_filename(st->config_dir, "autostart", NULL);
    st->state_dir = cfg->state_dir ? g_build_filename(cfg->state_dir, "storage", NULL) : NULL;
    st->schema_dir = g_strdup(cfg->schema_dir ? cfg->schema_dir : HYVE_LIBVIRT_SCHEMA_DIR);
    st->default_pool_path = g_strdup(cfg->default_pool_path);
    st->privileged = cfg->privileged;
    g_mutex_init(&st->lock);
    g_mutex_init(&st->event_lock);
    g_mutex_init(&st->flush_lock);
    g_queue_init(&st->pending);
    st->pools = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_pool_obj_unref);

    first_start = !g_file_test(st->config_dir, G_FILE_TEST_IS_DIR);
    for (guint i = 0; i < 2; i++) {
        const char *dir = i ? st->state_dir : st->config_dir;

        if (dir && g_mkdir_with_parents(dir, 0700) < 0) {
            hyve_storage_sys_error(error, errno, "cannot create directory '%s'", dir);
            hyve_storage_free(st);
            return NULL;
        }
    }
    hyve_storage_load(st, first_start);
    hyve_storage_flush_events(st);
    return st;
}

void
hyve_storage_free(HyveStorage *st)
{
    if (!st)
        return;
    hyve_storage_transfers_stop(st);    /* their threads use st until they end */
    /* pools stay as they are: a new HyveStorage finds active ones by their
     * state files; objects still referenced elsewhere outlive the list */
    for (guint i = 0; i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);

        g_mutex_lock(&pool->lock);
        pool->removed = TRUE;
        g_mutex_unlock(&pool->lock);
    }
    g_ptr_array_unref(st->pools);
    g_queue_clear_full(&st->pending, (GDestroyNotify)pool_event_free);
    g_mutex_clear(&st->lock);
    g_mutex_clear(&st->event_lock);
    g_mutex_clear(&st->flush_lock);
    g_free(st->config_dir);
    g_free(st->autostart_dir);
    g_free(st->state_dir);
    g_free(st->schema_dir);
    g_free(st->default_pool_path);
    g_free(st);
}
