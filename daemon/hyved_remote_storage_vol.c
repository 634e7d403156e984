/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_storage_vol.c: RPC procedures on storage volumes
 * (libvirt-rpc.md §7.4): list, look up, create (also as a clone), delete,
 * wipe, resize, info, XML, path, upload and download (streams), and the
 * hyved_storage_vol_procs table.
 *
 * A volume's wire identity is {pool, name, key}: the pool is found by name
 * and the volume by name in it, as libvirt does. Flags are checked by the
 * storage driver, which reports libvirt's errors.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"
#include "hyved_server.h"
#include "hyve_storage.h"

static HyveStorage *
vol_storage(HyvedServer *server)
{
    return hyve_driver_get_storage(hyved_server_get_driver(server));
}

/* The pool of a volume identity (by name). */
static HyvePoolObj *
vol_pool(HyvedServer *server, const remote_nonnull_storage_vol *vol, GError **error)
{
    return hyve_storage_pool_lookup_by_name(vol_storage(server), vol->pool, error);
}

static void
vol_to_wire(HyveVolIdent *ident, remote_nonnull_storage_vol *vol)
{
    vol->pool = ident->pool ? g_steal_pointer(&ident->pool) : g_strdup("");
    vol->name = ident->name ? g_steal_pointer(&ident->name) : g_strdup("");
    vol->key = ident->key ? g_steal_pointer(&ident->key) : g_strdup("");
}

/* Handler body for procedures that return {vol}: @call fills ident. */
#define VOL_RET(ret_vol, call) \
    do { \
        HyveVolIdent ident_ = { 0 }; \
        gboolean ok_ = (call); \
        if (ok_) \
            vol_to_wire(&ident_, (ret_vol)); \
        hyve_vol_ident_clear(&ident_); \
        return ok_; \
    } while (0)

/* Handler body on the volume @wire_vol: looks its pool up, then evaluates
 * @call (may use st, pool, name). */
#define VOL_DO(wire_vol, call) \
    do { \
        HyveStorage *st = vol_storage(server); \
        g_autoptr(HyvePoolObj) pool = vol_pool(server, (wire_vol), error); \
        const char *name = (wire_vol)->name; \
        (void) st; \
        (void) name; \
        if (!pool) \
            return FALSE; \
        return (call); \
    } while (0)

#define VOL_HANDLER(fn) \
    static gboolean fn(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr, \
                       void *argsp, void *retp, GError **error)

/* ---- lists and lookups ---------------------------------------------------- */

static HyvePoolObj *
pool_by_uuid(HyvedServer *server, const remote_nonnull_storage_pool *pool, GError **error)
{
    return hyve_storage_pool_lookup_by_uuid(vol_storage(server), (const guint8 *) pool->uuid,
                                            error);
}

VOL_HANDLER(storage_pool_list_all_volumes)
{
    remote_storage_pool_list_all_volumes_args *args = argsp;
    remote_storage_pool_list_all_volumes_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = pool_by_uuid(server, &args->pool, error);
    g_autoptr(GPtrArray) vols = NULL;

    if (!pool)
        return FALSE;
    vols = hyve_storage_pool_list_volumes(vol_storage(server), pool, args->flags, error);
    if (!vols)
        return FALSE;
    if (vols->len > REMOTE_STORAGE_VOL_LIST_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "Too many storage volumes '%u' for limit '%d'", vols->len,
                       REMOTE_STORAGE_VOL_LIST_MAX);
        return FALSE;
    }
    if (args->need_results && vols->len > 0) {
        ret->vols.vols_val = g_new0(remote_nonnull_storage_vol, vols->len);
        for (guint i = 0; i < vols->len; i++)
            vol_to_wire(vols->pdata[i], &ret->vols.vols_val[i]);
        ret->vols.vols_len = vols->len;
    }
    ret->ret = vols->len;
    return TRUE;
}

VOL_HANDLER(storage_pool_list_volumes)
{
    remote_storage_pool_list_volumes_args *args = argsp;
    remote_storage_pool_list_volumes_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = NULL;
    g_autoptr(GPtrArray) vols = NULL;
    guint n;

    if (!hyved_check_list_max(args->maxnames, REMOTE_STORAGE_VOL_LIST_MAX, "maxnames",
                              "REMOTE_STORAGE_VOL_LIST_MAX", error))
        return FALSE;
    pool = pool_by_uuid(server, &args->pool, error);
    if (!pool)
        return FALSE;
    vols = hyve_storage_pool_list_volumes(vol_storage(server), pool, 0, error);
    if (!vols)
        return FALSE;
    n = MIN(vols->len, (guint) args->maxnames);
    if (n == 0)
        return TRUE;
    ret->names.names_val = g_new0(remote_nonnull_string, n);
    for (guint i = 0; i < n; i++) {
        HyveVolIdent *ident = vols->pdata[i];

        ret->names.names_val[i] = ident->name ? g_steal_pointer(&ident->name) : g_strdup("");
    }
    ret->names.names_len = n;
    return TRUE;
}

VOL_HANDLER(storage_pool_num_of_volumes)
{
    remote_storage_pool_num_of_volumes_args *args = argsp;
    remote_storage_pool_num_of_volumes_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = pool_by_uuid(server, &args->pool, error);

    if (!pool)
        return FALSE;
    ret->num = hyve_storage_pool_num_volumes(vol_storage(server), pool, error);
    return ret->num >= 0;
}

VOL_HANDLER(storage_vol_lookup_by_name)
{
    remote_storage_vol_lookup_by_name_args *args = argsp;
    remote_storage_vol_lookup_by_name_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = pool_by_uuid(server, &args->pool, error);

    if (!pool)
        return FALSE;
    VOL_RET(&ret->vol, hyve_storage_vol_lookup_by_name(vol_storage(server), pool, args->name,
                                                       &ident_, error));
}

VOL_HANDLER(storage_vol_lookup_by_key)
{
    remote_storage_vol_lookup_by_key_args *args = argsp;
    remote_storage_vol_lookup_by_key_ret *ret = retp;

    VOL_RET(&ret->vol, hyve_storage_vol_lookup_by_key(vol_storage(server), args->key, &ident_,
                                                      error));
}

VOL_HANDLER(storage_vol_lookup_by_path)
{
    remote_storage_vol_lookup_by_path_args *args = argsp;
    remote_storage_vol_lookup_by_path_ret *ret = retp;

    VOL_RET(&ret->vol, hyve_storage_vol_lookup_by_path(vol_storage(server), args->path, &ident_,
                                                       error));
}

/* ---- create, delete, change --------------------------------------------------- */

VOL_HANDLER(storage_vol_create_xml)
{
    remote_storage_vol_create_xml_args *args = argsp;
    remote_storage_vol_create_xml_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = pool_by_uuid(server, &args->pool, error);

    if (!pool)
        return FALSE;
    VOL_RET(&ret->vol, hyve_storage_vol_create_xml(vol_storage(server), pool, args->xml,
                                                   args->flags, &ident_, error));
}

VOL_HANDLER(storage_vol_create_xml_from)
{
    remote_storage_vol_create_xml_from_args *args = argsp;
    remote_storage_vol_create_xml_from_ret *ret = retp;
    g_autoptr(HyvePoolObj) pool = pool_by_uuid(server, &args->pool, error);
    g_autoptr(HyvePoolObj) src_pool = NULL;

    if (!pool)
        return FALSE;
    src_pool = vol_pool(server, &args->clonevol, error);
    if (!src_pool)
        return FALSE;
    VOL_RET(&ret->vol, hyve_storage_vol_create_xml_from(vol_storage(server), pool, args->xml,
                                                        src_pool, args->clonevol.name,
                                                        args->flags, &ident_, error));
}

VOL_HANDLER(storage_vol_delete)
{
    remote_storage_vol_delete_args *args = argsp;

    VOL_DO(&args->vol, hyve_storage_vol_delete(st, pool, name, args->flags, error));
}

VOL_HANDLER(storage_vol_wipe)
{
    remote_storage_vol_wipe_args *args = argsp;

    VOL_DO(&args->vol, hyve_storage_vol_wipe(st, pool, name, 0, args->flags, error));
}

VOL_HANDLER(storage_vol_wipe_pattern)
{
    remote_storage_vol_wipe_pattern_args *args = argsp;

    VOL_DO(&args->vol, hyve_storage_vol_wipe(st, pool, name, args->algorithm, args->flags,
                                             error));
}

VOL_HANDLER(storage_vol_resize)
{
    remote_storage_vol_resize_args *args = argsp;

    VOL_DO(&args->vol, hyve_storage_vol_resize(st, pool, name, args->capacity, args->flags,
                                               error));
}

/* ---- queries -------------------------------------------------------------- */

static gboolean
vol_info(HyvedServer *server, const remote_nonnull_storage_vol *vol, guint flags,
         char *type, guint64 *capacity, guint64 *allocation, GError **error)
{
    g_autoptr(HyvePoolObj) pool = vol_pool(server, vol, error);
    HyveVolInfo info = { 0 };

    if (!pool ||
        !hyve_storage_vol_get_info(vol_storage(server), pool, vol->name, flags, &info, error))
        return FALSE;
    *type = (char) info.type;
    *capacity = info.capacity;
    *allocation = info.allocation;
    return TRUE;
}

VOL_HANDLER(storage_vol_get_info)
{
    remote_storage_vol_get_info_args *args = argsp;
    remote_storage_vol_get_info_ret *ret = retp;

    return vol_info(server, &args->vol, 0, &ret->type, &ret->capacity, &ret->allocation, error);
}

VOL_HANDLER(storage_vol_get_info_flags)
{
    remote_storage_vol_get_info_flags_args *args = argsp;
    remote_storage_vol_get_info_flags_ret *ret = retp;

    return vol_info(server, &args->vol, args->flags, &ret->type, &ret->capacity,
                    &ret->allocation, error);
}

VOL_HANDLER(storage_vol_get_xml_desc)
{
    remote_storage_vol_get_xml_desc_args *args = argsp;
    remote_storage_vol_get_xml_desc_ret *ret = retp;

    VOL_DO(&args->vol, (ret->xml = hyve_storage_vol_get_xml(st, pool, name, args->flags,
                                                            error)) != NULL);
}

VOL_HANDLER(storage_vol_get_path)
{
    remote_storage_vol_get_path_args *args = argsp;
    remote_storage_vol_get_path_ret *ret = retp;

    VOL_DO(&args->vol, (ret->name = hyve_storage_vol_get_path(st, pool, name, error)) != NULL);
}

/* ---- upload / download ------------------------------------------------------ */

/* The transfer thread's socket becomes the call's framed stream; it starts
 * once this reply is queued. */
static gboolean
vol_open_stream(HyvedClient *client, const HyvedHeader *hdr, int fd, GError **error)
{
    if (fd < 0)
        return FALSE;
    return hyved_client_add_framed_stream(client, hdr, fd, error);
}

VOL_HANDLER(storage_vol_upload)
{
    remote_storage_vol_upload_args *args = argsp;

    if (!hyved_client_check_stream_room(client, error))
        return FALSE;
    VOL_DO(&args->vol, vol_open_stream(client, hdr,
                                       hyve_storage_vol_upload(st, pool, name, args->offset,
                                                               args->length, args->flags,
                                                               error), error));
}

VOL_HANDLER(storage_vol_download)
{
    remote_storage_vol_download_args *args = argsp;

    if (!hyved_client_check_stream_room(client, error))
        return FALSE;
    VOL_DO(&args->vol, vol_open_stream(client, hdr,
                                       hyve_storage_vol_download(st, pool, name, args->offset,
                                                                 args->length, args->flags,
                                                                 error), error));
}

#define P(NAME, lower) HYVED_PROC_AR(NAME, lower, lower, 0)
#define W(NAME, lower, api) HYVED_PROC_WRITE_AR(NAME, lower, lower, api)
#define W_A(NAME, lower, api) HYVED_PROC_WRITE_A(NAME, lower, lower, api)

const HyvedProcedure hyved_storage_vol_procs[] = {
    P(STORAGE_POOL_LIST_ALL_VOLUMES, storage_pool_list_all_volumes),
    P(STORAGE_POOL_LIST_VOLUMES, storage_pool_list_volumes),
    P(STORAGE_POOL_NUM_OF_VOLUMES, storage_pool_num_of_volumes),
    P(STORAGE_VOL_LOOKUP_BY_NAME, storage_vol_lookup_by_name),
    P(STORAGE_VOL_LOOKUP_BY_KEY, storage_vol_lookup_by_key),
    P(STORAGE_VOL_LOOKUP_BY_PATH, storage_vol_lookup_by_path),
    W(STORAGE_VOL_CREATE_XML, storage_vol_create_xml, "virStorageVolCreateXML"),
    W(STORAGE_VOL_CREATE_XML_FROM, storage_vol_create_xml_from, "virStorageVolCreateXMLFrom"),
    W_A(STORAGE_VOL_DELETE, storage_vol_delete, "virStorageVolDelete"),
    W_A(STORAGE_VOL_WIPE, storage_vol_wipe, "virStorageVolWipe"),
    W_A(STORAGE_VOL_WIPE_PATTERN, storage_vol_wipe_pattern, "virStorageVolWipePattern"),
    W_A(STORAGE_VOL_RESIZE, storage_vol_resize, "virStorageVolResize"),
    P(STORAGE_VOL_GET_INFO, storage_vol_get_info),
    P(STORAGE_VOL_GET_INFO_FLAGS, storage_vol_get_info_flags),
    P(STORAGE_VOL_GET_XML_DESC, storage_vol_get_xml_desc),
    P(STORAGE_VOL_GET_PATH, storage_vol_get_path),
    W_A(STORAGE_VOL_UPLOAD, storage_vol_upload, "virStorageVolUpload"),
    W_A(STORAGE_VOL_DOWNLOAD, storage_vol_download, "virStorageVolDownload"),
};
const size_t hyved_storage_vol_nprocs = G_N_ELEMENTS(hyved_storage_vol_procs);
