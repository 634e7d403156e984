/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage.c: the storage driver's core (hyve_storage_priv.h): pool
 * objects, the pool list and its lookups, the event queue, the files of
 * pools (config, autostart links, state) and refreshing a pool's volumes.
 * Start-up (loading, restart, default pool, autostart) is in
 * hyve_storage_pool.c next to the operations it uses.
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

void
hyve_storage_set_event_sink(HyveStorage *st, HyvePoolEventSink sink, gpointer user_data)
{
    g_mutex_lock(&st->event_lock);
    st->sink = sink;
    st->sink_data = user_data;
    g_mutex_unlock(&st->event_lock);
}

void
hyve_storage_set_vol_user_func(HyveStorage *st, HyveVolUserFunc func, gpointer user_data)
{
    st->vol_user = func;
    st->vol_user_data = user_data;
}

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

/* "//a//b/" -> "/a/b" (as libvirt cleans paths before comparing). */
static char *
sanitize_path(const char *path)
{
    GString *s = g_string_new(NULL);

    for (const char *p = path; *p; p++) {
        if (*p == '/' && s->len > 0 && s->str[s->len - 1] == '/')
            continue;
        g_string_append_c(s, *p);
    }
    while (s->len > 1 && s->str[s->len - 1] == '/')
        g_string_truncate(s, s->len - 1);
    return g_string_free(s, FALSE);
}

HyvePoolObj *
hyve_storage_pool_lookup_by_target_path(HyveStorage *st, const char *path, GError **error)
{
    g_autofree char *clean = sanitize_path(path);
    HyvePoolObj *found = NULL;

    g_mutex_lock(&st->lock);
    for (guint i = 0; !found && i < st->pools->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(st->pools, i);

        g_mutex_lock(&pool->lock);
        if (pool->active && pool->def->target_path) {
            g_autofree char *target = sanitize_path(pool->def->target_path);

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

/* ---- files ---------------------------------------------------------------- */

static char *
def_file(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, file, NULL);
}

static gboolean G_GNUC_PRINTF(3, 4)
sys_error(GError **error, int err, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR, "%s: %s", msg,
                   g_strerror(err));
    return FALSE;
}

gboolean
hyve_storage_save_config(HyveStorage *st, const HyvePoolDef *def, GError **error)
{
    g_autoptr(HyvePoolDef) copy = hyve_pool_def_copy(def);
    g_autofree char *path = def_file(st->config_dir, def->name);
    g_autofree char *xml = NULL, *data = NULL;

    copy->capacity = copy->allocation = copy->available = 0;
    xml = hyve_pool_def_format(copy);
    if (g_mkdir_with_parents(st->config_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create config directory '%s'", st->config_dir);
    data = g_strdup_printf(
        "<!--\n"
        "WARNING: THIS FILE IS WRITTEN BY HYVE (virtbhyved). EDITS ARE OVERWRITTEN.\n"
        "Change this configuration with:\n"
        "  virsh pool-edit %s\n"
        "or another application using the libvirt API.\n"
        "-->\n\n%s", def->name, xml);
    return hyve_file_write_atomic(path, data, error);
}

gboolean
hyve_storage_save_state(HyveStorage *st, const HyvePoolDef *def, GError **error)
{
    g_autofree char *path = NULL, *xml = NULL;

    if (!st->state_dir)
        return TRUE;
    path = def_file(st->state_dir, def->name);
    xml = hyve_pool_def_format(def);
    if (g_mkdir_with_parents(st->state_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create state directory '%s'", st->state_dir);
    return hyve_file_write_atomic(path, xml, error);
}

void
hyve_storage_remove_state(HyveStorage *st, const char *name)
{
    g_autofree char *path = NULL;

    if (!st->state_dir)
        return;
    path = def_file(st->state_dir, name);
    if (unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove state file '%s': %s", path, g_strerror(errno));
}

gboolean
hyve_storage_set_autostart_link(HyveStorage *st, const char *name, gboolean on, GError **error)
{
    g_autofree char *link = def_file(st->autostart_dir, name);
    g_autofree char *target = g_strdup_printf("../%s.xml", name);

    if (!on) {
        if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR)
            return sys_error(error, errno, "Failed to delete symlink '%s'", link);
        return TRUE;
    }
    if (g_mkdir_with_parents(st->autostart_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create autostart directory '%s'",
                         st->autostart_dir);
    if (symlink(target, link) < 0 && errno != EEXIST)
        return sys_error(error, errno, "Failed to create symlink '%s' to '%s'", link, target);
    return TRUE;
}

gboolean
hyve_storage_delete_config(HyveStorage *st, const char *name, GError **error)
{
    g_autofree char *path = def_file(st->config_dir, name);

    if (!hyve_storage_set_autostart_link(st, name, FALSE, error))
        return FALSE;
    if (unlink(path) < 0 && errno != ENOENT)
        return sys_error(error, errno, "cannot remove config %s", path);
    return TRUE;
}

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

/* ---- start-up ------------------------------------------------------------- */

/* <dir>/<file>: a pool definition whose name matches the file name and
 * whose type hyve supports. */
static HyvePoolDef *
read_def(const char *dir, const char *file, const HyveStorageBackend **backend, GError **error)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *xml = NULL, *expect = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &xml, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED, "%s",
                       local->message);
        return NULL;
    }
    if (!(def = hyve_pool_def_parse(xml, FALSE, NULL, error)))
        return NULL;
    expect = g_strdup_printf("%s.xml", def->name);
    if (!g_str_equal(expect, file)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "Storage pool config filename '%s' does not match pool name '%s'",
                       path, def->name);
        return NULL;
    }
    if (!(*backend = hyve_storage_backend_for(def->type))) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage pool type '%s' is not supported by hyve (supported: dir, "
                       "logical)", hyve_pool_type_to_string(def->type));
        return NULL;
    }
    if ((*backend)->check_def && !(*backend)->check_def(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

static gboolean
load_config(HyveStorage *st, const char *file, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def = read_def(st->config_dir, file, &backend, error);
    g_autoptr(HyvePoolObj) dup = NULL, pool = NULL;
    g_autofree char *link = NULL;

    if (!def)
        return FALSE;
    g_mutex_lock(&st->lock);
    if ((dup = hyve_storage_find_uuid_locked(st, def->uuid)) ||
        (dup = hyve_storage_find_name_locked(st, def->name))) {
        g_mutex_unlock(&st->lock);
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "pool '%s' is defined twice (same name or uuid)", def->name);
        hyve_pool_def_free(def);
        return FALSE;
    }
    link = def_file(st->autostart_dir, def->name);
    pool = hyve_pool_obj_new(st, def, backend);
    pool->persistent = TRUE;
    pool->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
    hyve_storage_add_locked(st, pool);
    g_mutex_unlock(&st->lock);
    return TRUE;
}

/* A pool that was active when the previous daemon stopped: its live
 * definition becomes current again, the backend starts (idempotent) and
 * the pool is refreshed; on failure it is inactive (transient: gone). */
static gboolean
load_state(HyveStorage *st, const char *file, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def = read_def(st->state_dir, file, &backend, error);
    g_autoptr(HyvePoolDef) copy = NULL;
    g_autoptr(HyvePoolObj) pool = NULL;
    gboolean ok;

    if (!def)
        return FALSE;
    copy = hyve_pool_def_copy(def);
    g_mutex_lock(&st->lock);
    if ((pool = hyve_storage_find_name_locked(st, def->name))) {
        g_mutex_lock(&pool->lock);
        if (memcmp(pool->def->uuid, def->uuid, HYVE_UUID_LEN) != 0) {
            g_mutex_unlock(&pool->lock);
            g_mutex_unlock(&st->lock);
            hyve_pool_def_free(def);
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                           "the state file has another uuid than the pool's config");
            return FALSE;
        }
        pool->new_def = pool->def;
        pool->def = def;
        pool->backend = backend;
        g_mutex_unlock(&pool->lock);
    } else {
        pool = hyve_pool_obj_new(st, def, backend);
        hyve_storage_add_locked(st, pool);
    }
    g_mutex_unlock(&st->lock);

    ok = !backend->start || backend->start(copy, error);
    g_mutex_lock(&st->lock);
    g_mutex_lock(&pool->lock);
    pool->active = TRUE;
    ok = ok && hyve_pool_obj_refresh_locked(pool, error);
    if (ok)
        ok = hyve_storage_save_state(st, pool->def, error);
    if (!ok)
        hyve_pool_obj_stopped_locked(pool);
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Every *.xml of @dir through @load; failures are logged, files kept. */
static void
load_dir(HyveStorage *st, const char *dir,
         gboolean (*load)(HyveStorage *, const char *, GError **), const char *what)
{
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    const char *file;

    while (d && (file = g_dir_read_name(d))) {
        g_autoptr(GError) err = NULL;

        if (g_str_has_suffix(file, ".xml") && !load(st, file, &err))
            g_warning("storage: %s %s/%s: %s", what, dir, file, err->message);
    }
}

static void
make_default_pool(HyveStorage *st)
{
    g_autofree char *path = g_markup_escape_text(st->default_pool_path, -1);
    g_autofree char *xml = g_strdup_printf(
        "<pool type='dir'>\n  <name>default</name>\n  <target>\n    <path>%s</path>\n"
        "    <permissions>\n      <mode>0711</mode>\n    </permissions>\n  </target>\n"
        "</pool>\n", path);
    g_autoptr(HyvePoolObj) pool = NULL;
    g_autoptr(GError) err = NULL;

    if (!(pool = hyve_storage_pool_define_xml(st, xml, 0, &err)) ||
        !hyve_storage_pool_set_autostart(st, pool, TRUE, &err) ||
        !hyve_storage_pool_build(st, pool, 0, &err) ||
        !hyve_storage_pool_start(st, pool, 0, &err))
        g_warning("storage: default pool at %s: %s", st->default_pool_path, err->message);
}

static void
autostart_pools(HyveStorage *st)
{
    g_autoptr(GPtrArray) list = hyve_storage_list_pools(st, 1u | 16u, NULL);

    for (guint i = 0; list && i < list->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(list, i);
        g_autoptr(GError) err = NULL;

        if (!hyve_storage_pool_start(st, pool, 0, &err))
            g_warning("storage: autostart: %s", err->message);
    }
}

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
            sys_error(error, errno, "cannot create directory '%s'", dir);
            hyve_storage_free(st);
            return NULL;
        }
    }
    load_dir(st, st->config_dir, load_config, "pool config skipped:");
    load_dir(st, st->state_dir, load_state, "pool not kept active:");
    if (first_start && st->default_pool_path)
        make_default_pool(st);
    autostart_pools(st);
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
