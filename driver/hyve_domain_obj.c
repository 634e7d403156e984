/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_obj.c: HyveDomainObj (reference counted, one mutex each),
 * its read accessors from hyve_driver.h, and the domain list keyed by
 * name and UUID.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_process.h"

HyveDomainObj *
hyve_domain_obj_new(HyveDomainDef *def)
{
    HyveDomainObj *obj = g_new0(HyveDomainObj, 1);

    obj->refs = 1;
    g_mutex_init(&obj->lock);
    g_cond_init(&obj->job_cond);
    obj->name = g_strdup(def->name);
    memcpy(obj->uuid, def->uuid, HYVE_UUID_LEN);
    obj->def = def;
    obj->id = -1;
    obj->state = HYVE_DOMAIN_STATE_SHUTOFF;
    obj->reason = 0;
    return obj;
}

void
hyve_domain_obj_set_persistent_def_locked(HyveDomainObj *obj, HyveDomainDef *def)
{
    if (obj->id > 0) {
        hyve_domain_def_free(obj->new_def);
        obj->new_def = def;
        if (obj->run)
            obj->run->updated = TRUE;
    } else {
        hyve_domain_def_free(obj->def);
        obj->def = def;
    }
}

HyveDomainObj *
hyve_domain_obj_ref(HyveDomainObj *obj)
{
    g_atomic_int_inc(&obj->refs);
    return obj;
}

void
hyve_domain_obj_unref(HyveDomainObj *obj)
{
    if (!obj || !g_atomic_int_dec_and_test(&obj->refs))
        return;
    hyve_domain_def_free(obj->def);
    hyve_domain_def_free(obj->new_def);
    hyve_domain_def_free(obj->start_def);
    hyve_domain_run_free(obj->run);
    g_cond_clear(&obj->job_cond);
    g_mutex_clear(&obj->lock);
    g_free(obj->name);
    g_free(obj);
}

void
hyve_domain_ident_clear(HyveDomainIdent *ident)
{
    g_clear_pointer(&ident->name, g_free);
}

void
hyve_domain_obj_get_ident(HyveDomainObj *obj, HyveDomainIdent *ident)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    ident->name = g_strdup(obj->name);
    memcpy(ident->uuid, obj->uuid, HYVE_UUID_LEN);
    ident->id = obj->id;
}

void
hyve_domain_obj_get_info(HyveDomainObj *obj, HyveDomainInfo *info)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    memset(info, 0, sizeof(*info));
    info->state = obj->state;
    info->reason = obj->reason;
    info->max_mem_kib = obj->def->memory_kib;
    info->memory_kib = obj->def->current_memory_kib;
    info->nr_vcpus = obj->def->vcpus_current;
    info->cpu_time_ns = 0;
    if (obj->run && obj->id > 0) {
        guint64 start = 0, cpu = 0;

        /* the runner's user+system time, if it still is that process */
        if (hyve_proc_stat(obj->run->pid, &start, NULL, &cpu, NULL) &&
            start == obj->run->start_time)
            info->cpu_time_ns = cpu;
    }
}

char *
hyve_domain_obj_get_os_type(HyveDomainObj *obj)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    return g_strdup(obj->def->os_type);
}

gboolean
hyve_domain_obj_is_active(HyveDomainObj *obj)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    return obj->id > 0;
}

gboolean
hyve_domain_obj_is_persistent(HyveDomainObj *obj)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    return obj->persistent;
}

gboolean
hyve_domain_obj_is_updated(HyveDomainObj *obj)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    /* redefined while running (new_def alone is the persistent definition
     * every running persistent domain keeps aside while it has a runner) */
    if (obj->id <= 0)
        return FALSE;
    return obj->run ? obj->run->updated : obj->new_def != NULL;
}

gboolean
hyve_domain_obj_get_autostart(HyveDomainObj *obj)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);

    return obj->autostart;
}

char *
hyve_domain_obj_get_xml(HyveDomainObj *obj, guint flags, GError **error)
{
    const guint supported = HYVE_DOMAIN_XML_SECURE | HYVE_DOMAIN_XML_INACTIVE |
                            HYVE_DOMAIN_XML_MIGRATABLE;
    g_autoptr(GMutexLocker) locker = NULL;
    const HyveDomainDef *def;

    if (flags & ~supported) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", flags & ~supported, __func__);
        return NULL;
    }
    locker = g_mutex_locker_new(&obj->lock);
    def = obj->def;
    if ((flags & HYVE_DOMAIN_XML_INACTIVE) && obj->new_def)
        def = obj->new_def;
    return hyve_domain_def_format(def, obj->id, flags);
}

/* ---- the list ------------------------------------------------------------ */

HyveDomainList *
hyve_domain_list_new(void)
{
    HyveDomainList *list = g_new0(HyveDomainList, 1);

    g_mutex_init(&list->lock);
    list->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)hyve_domain_obj_unref);
    list->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)hyve_domain_obj_unref);
    list->next_id = 1;
    return list;
}

void
hyve_domain_list_free(HyveDomainList *list)
{
    if (!list)
        return;
    g_hash_table_unref(list->by_name);
    g_hash_table_unref(list->by_uuid);
    g_mutex_clear(&list->lock);
    g_free(list);
}

HyveDomainObj *
hyve_domain_list_find_uuid_locked(HyveDomainList *list, const guint8 uuid[HYVE_UUID_LEN])
{
    char key[HYVE_UUID_STRING_LEN];
    HyveDomainObj *obj;

    hyve_uuid_format(uuid, key);
    obj = g_hash_table_lookup(list->by_uuid, key);
    return obj ? hyve_domain_obj_ref(obj) : NULL;
}

HyveDomainObj *
hyve_domain_list_find_name_locked(HyveDomainList *list, const char *name)
{
    HyveDomainObj *obj = g_hash_table_lookup(list->by_name, name);

    return obj ? hyve_domain_obj_ref(obj) : NULL;
}

void
hyve_domain_list_add_locked(HyveDomainList *list, HyveDomainObj *obj)
{
    char key[HYVE_UUID_STRING_LEN];

    hyve_uuid_format(obj->uuid, key);
    g_hash_table_insert(list->by_name, g_strdup(obj->name), hyve_domain_obj_ref(obj));
    g_hash_table_insert(list->by_uuid, g_strdup(key), hyve_domain_obj_ref(obj));
}

void
hyve_domain_list_remove_locked(HyveDomainList *list, HyveDomainObj *obj)
{
    char key[HYVE_UUID_STRING_LEN];

    hyve_uuid_format(obj->uuid, key);
    g_mutex_lock(&obj->lock);
    obj->removed = TRUE;
    g_mutex_unlock(&obj->lock);
    g_hash_table_remove(list->by_uuid, key);
    g_hash_table_remove(list->by_name, obj->name);
}

HyveDomainObj *
hyve_domain_list_find_id(HyveDomainList *list, int id)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&list->lock);

    return hyve_domain_list_find_id_locked(list, id);
}

HyveDomainObj *
hyve_domain_list_find_id_locked(HyveDomainList *list, int id)
{
    GHashTableIter it;
    gpointer value;

    if (id <= 0)
        return NULL;
    g_hash_table_iter_init(&it, list->by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        HyveDomainObj *obj = value;
        gboolean match;

        g_mutex_lock(&obj->lock);
        match = obj->id == id;
        g_mutex_unlock(&obj->lock);
        if (match)
            return hyve_domain_obj_ref(obj);
    }
    return NULL;
}

/* libvirt flag values (VIR_CONNECT_LIST_DOMAINS_*) */
enum {
    F_ACTIVE = 1 << 0, F_INACTIVE = 1 << 1,
    F_PERSISTENT = 1 << 2, F_TRANSIENT = 1 << 3,
    F_RUNNING = 1 << 4, F_PAUSED = 1 << 5, F_SHUTOFF = 1 << 6, F_OTHER = 1 << 7,
    F_MANAGEDSAVE = 1 << 8, F_NO_MANAGEDSAVE = 1 << 9,
    F_AUTOSTART = 1 << 10, F_NO_AUTOSTART = 1 << 11,
    F_HAS_SNAPSHOT = 1 << 12, F_NO_SNAPSHOT = 1 << 13,
    F_HAS_CHECKPOINT = 1 << 14, F_NO_CHECKPOINT = 1 << 15,
};

/* Within a group the bits are alternatives; groups must all match. */
static gboolean
group_ok(guint flags, guint group, guint matching)
{
    return !(flags & group) || (flags & group & matching);
}

static gboolean
obj_matches_locked(HyveDomainObj *obj, guint flags)
{
    gboolean active = obj->id > 0;
    guint m = 0;

    /* a transient domain exists only while it runs: one being created
     * (its runner not yet running) or just stopped is not listed */
    if (!active && !obj->persistent)
        return FALSE;
    m |= active ? F_ACTIVE : F_INACTIVE;
    m |= obj->persistent ? F_PERSISTENT : F_TRANSIENT;
    switch (obj->state) {
    case HYVE_DOMAIN_STATE_RUNNING: m |= F_RUNNING; break;
    case HYVE_DOMAIN_STATE_PAUSED: m |= F_PAUSED; break;
    case HYVE_DOMAIN_STATE_SHUTOFF: m |= F_SHUTOFF; break;
    default: m |= F_OTHER; break;
    }
    m |= F_NO_MANAGEDSAVE;                              /* hyve has no managed save */
    m |= obj->autostart ? F_AUTOSTART : F_NO_AUTOSTART;
    m |= F_NO_SNAPSHOT | F_NO_CHECKPOINT;               /* nor snapshots/checkpoints */

    return group_ok(flags, F_ACTIVE | F_INACTIVE, m) &&
           group_ok(flags, F_PERSISTENT | F_TRANSIENT, m) &&
           group_ok(flags, F_RUNNING | F_PAUSED | F_SHUTOFF | F_OTHER, m) &&
           group_ok(flags, F_MANAGEDSAVE | F_NO_MANAGEDSAVE, m) &&
           group_ok(flags, F_AUTOSTART | F_NO_AUTOSTART, m) &&
           group_ok(flags, F_HAS_SNAPSHOT | F_NO_SNAPSHOT, m) &&
           group_ok(flags, F_HAS_CHECKPOINT | F_NO_CHECKPOINT, m);
}

static gint
cmp_by_name(gconstpointer a, gconstpointer b)
{
    const HyveDomainObj *x = *(HyveDomainObj *const *)a;
    const HyveDomainObj *y = *(HyveDomainObj *const *)b;

    return strcmp(x->name, y->name);
}

GPtrArray *
hyve_domain_list_export(HyveDomainList *list, guint flags)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&list->lock);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_domain_obj_unref);
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, list->by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        HyveDomainObj *obj = value;
        gboolean match;

        g_mutex_lock(&obj->lock);
        match = obj_matches_locked(obj, flags);
        g_mutex_unlock(&obj->lock);
        if (match)
            g_ptr_array_add(out, hyve_domain_obj_ref(obj));
    }
    g_ptr_array_sort(out, cmp_by_name);
    return out;
}
