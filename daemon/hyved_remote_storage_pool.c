/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_storage_pool.c: RPC procedures on storage pools
 * (libvirt-rpc.md §7.4) and the storage pool capabilities; event
 * registration stays in hyved_remote_event.c. Each handler: wire identity
 * (pools by UUID, as libvirt) -> storage driver call (it checks flags and
 * reports libvirt's errors) -> ret.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"
#include "hyve_storage.h"

/* libvirt VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE / _ACTIVE */
#define HYVED_LIST_POOLS_INACTIVE (1u << 0)
#define HYVED_LIST_POOLS_ACTIVE   (1u << 1)

static HyveStorage *
pool_storage(HyvedServer *server)
{
    return hyve_driver_get_storage(hyved_server_get_driver(server));
}

static HyvePoolObj *
pool_lookup(HyvedServer *server, const remote_nonnull_storage_pool *pool, GError **error)
{
    return hyve_storage_pool_lookup_by_uuid(pool_storage(server), (const guint8 *) pool->uuid,
                                            error);
}

static void
pool_to_wire(HyvePoolObj *obj, remote_nonnull_storage_pool *pool)
{
    HyvePoolIdent ident = { 0 };

    hyve_pool_obj_get_ident(obj, &ident);
    pool->name = ident.name ? g_steal_pointer(&ident.name) : g_strdup("");
    memcpy(pool->uuid, ident.uuid, sizeof(pool->uuid));
    hyve_pool_ident_clear(&ident);
}

/* Handler body for the procedures whose ret is just {pool}. */
#define POOL_RET(ret_pool, expr) \
    do { \
        g_autoptr(HyvePoolObj) obj_ = (expr); \
        if (!obj_) \
            return FALSE; \
        pool_to_wire(obj_, (ret_pool)); \
        return TRUE; \
    } while (0)

#define POOL_HANDLER(fn) \
    static gboolean fn(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr, \
                       void *argsp, void *retp, GError **error)

/* ---- lists -------------------------------------------------------------- */

POOL_HANDLER(connect_list_all_storage_pools)
{
    remote_connect_list_all_storage_pools_args *args = argsp;
    remote_connect_list_all_storage_pools_ret *ret = retp;
    g_autoptr(GPtrArray) pools = hyve_storage_list_pools(pool_storage(server), args->flags,
                                                         error);

    if (!pools)
        return FALSE;
    if (pools->len > REMOTE_STORAGE_POOL_LIST_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "Too many storage pools '%u' for limit '%d'", pools->len,
                       REMOTE_STORAGE_POOL_LIST_MAX);
        return FALSE;
    }
    if (args->need_results && pools->len > 0) {
        ret->pools.pools_val = g_new0(remote_nonnull_storage_pool, pools->len);
        for (guint i = 0; i < pools->len; i++)
            pool_to_wire(pools->pdata[i], &ret->pools.pools_val[i]);
        ret->pools.pools_len = pools->len;
    }
    ret->ret = pools->len;
    return TRUE;
}

/* The names of the first @maxnames pools matching @flags. */
static gboolean
list_pool_names(HyvedServer *server, guint flags, int maxnames, remote_nonnull_string **val,
                u_int *len, GError **error)
{
    g_autoptr(GPtrArray) pools = NULL;
    guint n;

    if (!hyved_check_list_max(maxnames, REMOTE_STORAGE_POOL_LIST_MAX, "maxnames",
                              "REMOTE_STORAGE_POOL_LIST_MAX", error))
        return FALSE;
    pools = hyve_storage_list_pools(pool_storage(server), flags, error);
    if (!pools)
        return FALSE;
    n = MIN(pools->len, (guint) maxnames);
    if (n == 0)
        return TRUE;
    *val = g_new0(remote_nonnull_string, n);
    for (guint i = 0; i < n; i++) {
        HyvePoolIdent ident = { 0 };

        hyve_pool_obj_get_ident(pools->pdata[i], &ident);
        (*val)[i] = ident.name ? g_steal_pointer(&ident.name) : g_strdup("");
        hyve_pool_ident_clear(&ident);
    }
    *len = n;
    return TRUE;
}

#define POOL_NAMES(fn, lower, flags) \
    POOL_HANDLER(fn) \
    { \
        remote_##lower##_args *args = argsp; \
        remote_##lower##_ret *ret = retp; \
        return list_pool_names(server, (flags), args->maxnames, &ret->names.names_val, \
                               &ret->names.names_len, error); \
    }

POOL_NAMES(connect_list_storage_pools, connect_list_storage_pools, HYVED_LIST_POOLS_ACTIVE)
POOL_NAMES(connect_list_defined_storage_pools, connect_list_defined_storage_pools,
           HYVED_LIST_POOLS_INACTIVE)

POOL_HANDLER(connect_num_of_storage_pools)
{
    remote_connect_num_of_storage_pools_ret *ret = retp;

    ret->num = hyve_storage_num_pools(pool_storage(server), TRUE);
    return TRUE;
}

POOL_HANDLER(connect_num_of_defined_storage_pools)
{
    remote_connect_num_of_defined_storage_pools_ret *ret = retp;

    ret->num = hyve_storage_num_pools(pool_storage(server), FALSE);
    return TRUE;
}

POOL_HANDLER(connect_find_storage_pool_sources)
{
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_SUPPORT, "%s",
                   "virConnectFindStoragePoolSources");
    return FALSE;
}

/* libvirt's pool types (virStoragePoolType order); hyve has dir and logical. */
static const char *const pool_types[] = {
    "dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath",
    "rbd", "sheepdog", "gluster", "zfs", "vstorage",
};

/* A supported pool type with one options element (one format). */
static void
caps_pool(GString *xml, const char *type, const char *elem, const char *def,
          const char *enum_name, const char *value)
{
    g_string_append_printf(xml, "  <pool type='%s' supported='yes'>\n    <%s>\n"
                           "      <defaultFormat type='%s'/>\n      <enum name='%s'>\n"
                           "        <value>%s</value>\n      </enum>\n    </%s>\n  </pool>\n",
                           type, elem, def, enum_name, value, elem);
}

POOL_HANDLER(connect_get_storage_pool_capabilities)
{
    remote_connect_get_storage_pool_capabilities_args *args = argsp;
    remote_connect_get_storage_pool_capabilities_ret *ret = retp;
    GString *xml;

    if (args->flags != 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", args->flags,
                       "storageConnectGetStoragePoolCapabilities");
        return FALSE;
    }
    xml = g_string_new("<storagepoolCapabilities>\n");
    for (gsize i = 0; i < G_N_ELEMENTS(pool_types); i++) {
        const char *type = pool_types[i];

        if (g_str_equal(type, "dir")) {
            caps_pool(xml, type, "volOptions", "raw", "targetFormatType", "raw");
        } else if (g_str_equal(type, "logical")) {
            caps_pool(xml, type, "poolOptions", "lvm2", "sourceFormatType", "lvm2");
        } else {
            g_string_append_printf(xml, "  <pool type='%s' supported='no'/>\n", type);
        }
    }
    g_string_append(xml, "</storagepoolCapabilities>\n");
    ret->capabilities = g_string_free(xml, FALSE);
    return TRUE;
}

/* ---- lookups ------------------------------------------------------------ */

POOL_HANDLER(storage_pool_lookup_by_name)
{
    remote_storage_pool_lookup_by_name_args *args = argsp;
    remote_storage_pool_lookup_by_name_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_lookup_by_name(pool_storage(server), args->name,
                                                          error));
}

POOL_HANDLER(storage_pool_lookup_by_uuid)
{
    remote_storage_pool_lookup_by_uuid_args *args = argsp;
    remote_storage_pool_lookup_by_uuid_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_lookup_by_uuid(pool_storage(server),
                                                          (const guint8 *) args->uuid, error));
}

/* The pool the volume identity names (by pool name, as libvirt). */
POOL_HANDLER(storage_pool_lookup_by_volume)
{
    remote_storage_pool_lookup_by_volume_args *args = argsp;
    remote_storage_pool_lookup_by_volume_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_lookup_by_name(pool_storage(server),
                                                          args->vol.pool, error));
}

POOL_HANDLER(storage_pool_lookup_by_target_path)
{
    remote_storage_pool_lookup_by_target_path_args *args = argsp;
    remote_storage_pool_lookup_by_target_path_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_lookup_by_target_path(pool_storage(server),
                                                                 args->path, error));
}

/* ---- changes ------------------------------------------------------------ */

POOL_HANDLER(storage_pool_define_xml)
{
    remote_storage_pool_define_xml_args *args = argsp;
    remote_storage_pool_define_xml_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_define_xml(pool_storage(server), args->xml,
                                                      args->flags, error));
}

POOL_HANDLER(storage_pool_create_xml)
{
    remote_storage_pool_create_xml_args *args = argsp;
    remote_storage_pool_create_xml_ret *ret = retp;

    POOL_RET(&ret->pool, hyve_storage_pool_create_xml(pool_storage(server), args->xml,
                                                      args->flags, error));
}

/* Handler body: look the pool up, then @call (a gboolean expression using
 * st and obj). */
#define POOL_DO(wire_pool, call) \
    do { \
        HyveStorage *st = pool_storage(server); \
        g_autoptr(HyvePoolObj) obj = pool_lookup(server, (wire_pool), error); \
        (void) st; \
        if (!obj) \
            return FALSE; \
        return (call); \
    } while (0)

POOL_HANDLER(storage_pool_create)
{
    remote_storage_pool_create_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_start(st, obj, args->flags, error));
}

POOL_HANDLER(storage_pool_build)
{
    remote_storage_pool_build_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_build(st, obj, args->flags, error));
}

POOL_HANDLER(storage_pool_destroy)
{
    remote_storage_pool_destroy_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_destroy(st, obj, error));
}

POOL_HANDLER(storage_pool_delete)
{
    remote_storage_pool_delete_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_delete(st, obj, args->flags, error));
}

POOL_HANDLER(storage_pool_undefine)
{
    remote_storage_pool_undefine_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_undefine(st, obj, error));
}

POOL_HANDLER(storage_pool_refresh)
{
    remote_storage_pool_refresh_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_refresh(st, obj, args->flags, error));
}

POOL_HANDLER(storage_pool_set_autostart)
{
    remote_storage_pool_set_autostart_args *args = argsp;

    POOL_DO(&args->pool, hyve_storage_pool_set_autostart(st, obj, args->autostart != 0, error));
}

/* ---- queries ------------------------------------------------------------ */

POOL_HANDLER(storage_pool_get_info)
{
    remote_storage_pool_get_info_args *args = argsp;
    remote_storage_pool_get_info_ret *ret = retp;
    g_autoptr(HyvePoolObj) obj = pool_lookup(server, &args->pool, error);
    HyvePoolInfo info = { 0 };

    if (!obj)
        return FALSE;
    hyve_pool_obj_get_info(obj, &info);
    ret->state = (u_char) info.state;
    ret->capacity = info.capacity;
    ret->allocation = info.allocation;
    ret->available = info.available;
    return TRUE;
}

POOL_HANDLER(storage_pool_get_xml_desc)
{
    remote_storage_pool_get_xml_desc_args *args = argsp;
    remote_storage_pool_get_xml_desc_ret *ret = retp;
    g_autoptr(HyvePoolObj) obj = pool_lookup(server, &args->pool, error);

    if (!obj)
        return FALSE;
    ret->xml = hyve_pool_obj_get_xml(obj, args->flags, error);
    return ret->xml != NULL;
}

/* Handler body for the yes/no queries: *@out = @pred(pool). */
#define POOL_BOOL(wire_pool, out, pred) \
    do { \
        g_autoptr(HyvePoolObj) obj_ = pool_lookup(server, (wire_pool), error); \
        if (!obj_) \
            return FALSE; \
        *(out) = pred(obj_) ? 1 : 0; \
        return TRUE; \
    } while (0)

POOL_HANDLER(storage_pool_get_autostart)
{
    remote_storage_pool_get_autostart_args *args = argsp;

    POOL_BOOL(&args->pool, &((remote_storage_pool_get_autostart_ret *) retp)->autostart,
              hyve_pool_obj_get_autostart);
}

POOL_HANDLER(storage_pool_is_active)
{
    remote_storage_pool_is_active_args *args = argsp;

    POOL_BOOL(&args->pool, &((remote_storage_pool_is_active_ret *) retp)->active,
              hyve_pool_obj_is_active);
}

POOL_HANDLER(storage_pool_is_persistent)
{
    remote_storage_pool_is_persistent_args *args = argsp;

    POOL_BOOL(&args->pool, &((remote_storage_pool_is_persistent_ret *) retp)->persistent,
              hyve_pool_obj_is_persistent);
}

#define P(NAME, lower) HYVED_PROC_AR(NAME, lower, lower, 0)
#define P_R(NAME, lower) HYVED_PROC_R(NAME, lower, lower, 0)
#define W(NAME, lower, api) HYVED_PROC_WRITE_AR(NAME, lower, lower, api)
#define W_A(NAME, lower, api) HYVED_PROC_WRITE_A(NAME, lower, lower, api)

const HyvedProcedure hyved_storage_pool_procs[] = {
    P(CONNECT_LIST_ALL_STORAGE_POOLS, connect_list_all_storage_pools),
    P(CONNECT_LIST_STORAGE_POOLS, connect_list_storage_pools),
    P(CONNECT_LIST_DEFINED_STORAGE_POOLS, connect_list_defined_storage_pools),
    P_R(CONNECT_NUM_OF_STORAGE_POOLS, connect_num_of_storage_pools),
    P_R(CONNECT_NUM_OF_DEFINED_STORAGE_POOLS, connect_num_of_defined_storage_pools),
    W(CONNECT_FIND_STORAGE_POOL_SOURCES, connect_find_storage_pool_sources,
      "virConnectFindStoragePoolSources"),
    P(CONNECT_GET_STORAGE_POOL_CAPABILITIES, connect_get_storage_pool_capabilities),
    P(STORAGE_POOL_LOOKUP_BY_NAME, storage_pool_lookup_by_name),
    P(STORAGE_POOL_LOOKUP_BY_UUID, storage_pool_lookup_by_uuid),
    P(STORAGE_POOL_LOOKUP_BY_VOLUME, storage_pool_lookup_by_volume),
    P(STORAGE_POOL_LOOKUP_BY_TARGET_PATH, storage_pool_lookup_by_target_path),
    W(STORAGE_POOL_DEFINE_XML, storage_pool_define_xml, "virStoragePoolDefineXML"),
    W(STORAGE_POOL_CREATE_XML, storage_pool_create_xml, "virStoragePoolCreateXML"),
    W_A(STORAGE_POOL_CREATE, storage_pool_create, "virStoragePoolCreate"),
    W_A(STORAGE_POOL_BUILD, storage_pool_build, "virStoragePoolBuild"),
    W_A(STORAGE_POOL_DESTROY, storage_pool_destroy, "virStoragePoolDestroy"),
    W_A(STORAGE_POOL_DELETE, storage_pool_delete, "virStoragePoolDelete"),
    W_A(STORAGE_POOL_UNDEFINE, storage_pool_undefine, "virStoragePoolUndefine"),
    W_A(STORAGE_POOL_REFRESH, storage_pool_refresh, "virStoragePoolRefresh"),
    W_A(STORAGE_POOL_SET_AUTOSTART, storage_pool_set_autostart, "virStoragePoolSetAutostart"),
    P(STORAGE_POOL_GET_INFO, storage_pool_get_info),
    P(STORAGE_POOL_GET_XML_DESC, storage_pool_get_xml_desc),
    P(STORAGE_POOL_GET_AUTOSTART, storage_pool_get_autostart),
    P(STORAGE_POOL_IS_ACTIVE, storage_pool_is_active),
    P(STORAGE_POOL_IS_PERSISTENT, storage_pool_is_persistent),
};
const size_t hyved_storage_pool_nprocs = G_N_ELEMENTS(hyved_storage_pool_procs);
