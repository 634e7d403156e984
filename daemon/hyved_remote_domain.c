/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain.c: RPC procedures that define, find, list and change
 * domains (libvirt-rpc.md §7.2), and the hyved_domain_procs table, which
 * also lists the read-only queries of hyved_remote_domain_query.c.
 *
 * Each handler: check flags -> decode the wire identity (by UUID) ->
 * driver call -> fill ret.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"

static gboolean
hyved_remote_domain_define_xml(HyvedServer *server, HyvedClient *client,
                               const HyvedHeader *hdr, void *argsp, void *retp,
                               GError **error)
{
    remote_domain_define_xml_args *args = argsp;
    remote_domain_define_xml_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    obj = hyve_driver_define_xml(hyved_server_get_driver(server), args->xml, 0, error);
    if (!obj)
        return FALSE;
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

static gboolean
hyved_remote_domain_define_xml_flags(HyvedServer *server, HyvedClient *client,
                                     const HyvedHeader *hdr, void *argsp, void *retp,
                                     GError **error)
{
    remote_domain_define_xml_flags_args *args = argsp;
    remote_domain_define_xml_flags_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    if (!hyved_check_flags_here(args->flags, HYVE_DOMAIN_DEFINE_VALIDATE, error))
        return FALSE;
    obj = hyve_driver_define_xml(hyved_server_get_driver(server), args->xml, args->flags,
                                 error);
    if (!obj)
        return FALSE;
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

static gboolean
hyved_remote_domain_undefine(HyvedServer *server, HyvedClient *client,
                             const HyvedHeader *hdr, void *argsp, void *retp,
                             GError **error)
{
    remote_domain_undefine_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, &args->dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_undefine(hyved_server_get_driver(server), obj, 0, error);
}

static gboolean
hyved_remote_domain_undefine_flags(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_undefine_flags_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = NULL;

    /* Known libvirt bits pass; the driver refuses those it cannot honour. */
    if (!hyved_check_flags_here(args->flags, HYVED_DOMAIN_UNDEFINE_FLAGS_ALL, error))
        return FALSE;
    obj = hyved_domain_lookup(server, &args->dom, error);
    if (!obj)
        return FALSE;
    return hyve_driver_undefine(hyved_server_get_driver(server), obj, args->flags, error);
}

static gboolean
hyved_remote_domain_lookup_by_name(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_lookup_by_name_args *args = argsp;
    remote_domain_lookup_by_name_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    obj = hyve_driver_lookup_by_name(hyved_server_get_driver(server), args->name, error);
    if (!obj)
        return FALSE;
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

static gboolean
hyved_remote_domain_lookup_by_uuid(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_lookup_by_uuid_args *args = argsp;
    remote_domain_lookup_by_uuid_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    obj = hyve_driver_lookup_by_uuid(hyved_server_get_driver(server),
                                     (const guint8 *) args->uuid, error);
    if (!obj)
        return FALSE;
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

static gboolean
hyved_remote_domain_lookup_by_id(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_lookup_by_id_args *args = argsp;
    remote_domain_lookup_by_id_ret *ret = retp;
    g_autoptr(HyveDomainObj) obj = NULL;

    obj = hyve_driver_lookup_by_id(hyved_server_get_driver(server), args->id, error);
    if (!obj)
        return FALSE;
    /* Only running domains have an id; an inactive one never matches. */
    if (!hyve_domain_obj_is_active(obj)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN,
                       "no domain with matching id %d", args->id);
        return FALSE;
    }
    hyved_domain_to_wire(obj, &ret->dom);
    return TRUE;
}

static gboolean
hyved_remote_connect_list_all_domains(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *argsp, void *retp,
                                      GError **error)
{
    remote_connect_list_all_domains_args *args = argsp;
    remote_connect_list_all_domains_ret *ret = retp;
    g_autoptr(GPtrArray) objs = NULL;

    if (!hyved_check_flags_here(args->flags, HYVED_LIST_DOMAINS_FLAGS_ALL, error))
        return FALSE;
    objs = hyve_driver_list_domains(hyved_server_get_driver(server), args->flags, error);
    if (!objs)
        return FALSE;
    if (objs->len > REMOTE_DOMAIN_LIST_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "Too many domains '%u' for limit '%d'", objs->len,
                       REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    /* need_results == 0: the client only wants the count. */
    if (args->need_results)
        hyved_domain_list_to_wire(objs, &ret->domains.domains_val, &ret->domains.domains_len);
    ret->ret = objs->len;
    return TRUE;
}

static gboolean
hyved_remote_connect_num_of_domains(HyvedServer *server, HyvedClient *client,
                                    const HyvedHeader *hdr, void *args, void *retp,
                                    GError **error)
{
    remote_connect_num_of_domains_ret *ret = retp;

    ret->num = hyve_driver_num_domains(hyved_server_get_driver(server), TRUE);
    return TRUE;
}

static gboolean
hyved_remote_connect_num_of_defined_domains(HyvedServer *server, HyvedClient *client,
                                            const HyvedHeader *hdr, void *args, void *retp,
                                            GError **error)
{
    remote_connect_num_of_defined_domains_ret *ret = retp;

    ret->num = hyve_driver_num_domains(hyved_server_get_driver(server), FALSE);
    return TRUE;
}

/* The pre-0.9.13 list procedures: the domains matching FLAGS, of which the
 * caller wants only the first *n (at most MAX, which names the argument
 * WHAT in the error). Returns NULL on error. */
static GPtrArray *
hyved_list_domains_upto(HyvedServer *server, guint flags, int max, const char *what,
                        guint *n, GError **error)
{
    GPtrArray *objs;

    if (!hyved_check_list_max(max, REMOTE_DOMAIN_LIST_MAX, what,
                              "REMOTE_DOMAIN_LIST_MAX", error))
        return NULL;
    objs = hyve_driver_list_domains(hyved_server_get_driver(server), flags, error);
    if (!objs)
        return NULL;
    *n = MIN(objs->len, (guint) max);
    return objs;
}

/* Ids of running domains, at most maxids of them. */
static gboolean
hyved_remote_connect_list_domains(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_connect_list_domains_args *args = argsp;
    remote_connect_list_domains_ret *ret = retp;
    g_autoptr(GPtrArray) objs = NULL;
    guint n;

    objs = hyved_list_domains_upto(server, HYVED_LIST_DOMAINS_ACTIVE, args->maxids,
                                   "maxids", &n, error);
    if (!objs)
        return FALSE;
    if (n == 0)
        return TRUE;
    ret->ids.ids_val = g_new0(int, n);
    for (guint i = 0; i < n; i++) {
        HyveDomainIdent ident = { 0 };

        hyve_domain_obj_get_ident(g_ptr_array_index(objs, i), &ident);
        ret->ids.ids_val[i] = ident.id;
        hyve_domain_ident_clear(&ident);
    }
    ret->ids.ids_len = n;
    return TRUE;
}

/* Names of inactive domains, at most maxnames of them. */
static gboolean
hyved_remote_connect_list_defined_domains(HyvedServer *server, HyvedClient *client,
                                          const HyvedHeader *hdr, void *argsp, void *retp,
                                          GError **error)
{
    remote_connect_list_defined_domains_args *args = argsp;
    remote_connect_list_defined_domains_ret *ret = retp;
    g_autoptr(GPtrArray) objs = NULL;
    guint n;

    objs = hyved_list_domains_upto(server, HYVED_LIST_DOMAINS_INACTIVE, args->maxnames,
                                   "maxnames", &n, error);
    if (!objs)
        return FALSE;
    if (n == 0)
        return TRUE;
    ret->names.names_val = g_new0(remote_nonnull_string, n);
    for (guint i = 0; i < n; i++) {
        HyveDomainIdent ident = { 0 };

        hyve_domain_obj_get_ident(g_ptr_array_index(objs, i), &ident);
        ret->names.names_val[i] = ident.name ? g_steal_pointer(&ident.name) : g_strdup("");
        hyve_domain_ident_clear(&ident);
    }
    ret->names.names_len = n;
    return TRUE;
}

static gboolean
hyved_remote_domain_set_autostart(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_set_autostart_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup(server, &args->dom, error);

    if (!obj)
        return FALSE;
    return hyve_driver_set_autostart(hyved_server_get_driver(server), obj,
                                     args->autostart != 0, error);
}

static gboolean
hyved_remote_domain_set_metadata(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_set_metadata_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = NULL;

    if (!hyved_check_flags_here(args->flags,
                                HYVED_DOMAIN_AFFECT_LIVE | HYVED_DOMAIN_AFFECT_CONFIG, error))
        return FALSE;
    obj = hyved_domain_lookup(server, &args->dom, error);
    if (!obj)
        return FALSE;
    return hyve_driver_set_metadata(hyved_server_get_driver(server), obj, args->type,
                                    hyved_opt_string(args->metadata),
                                    hyved_opt_string(args->key),
                                    hyved_opt_string(args->uri), args->flags, error);
}

/* reads that never block (no runner, job or disk; short locks): I/O thread */
#define INLINE HYVED_PROC_INLINE

const HyvedProcedure hyved_domain_procs[] = {
    /* define, find, list, change */
    HYVED_PROC_WRITE_AR(DOMAIN_DEFINE_XML, domain_define_xml,
                        hyved_remote_domain_define_xml, "virDomainDefineXML"),
    HYVED_PROC_WRITE_AR(DOMAIN_DEFINE_XML_FLAGS, domain_define_xml_flags,
                        hyved_remote_domain_define_xml_flags, "virDomainDefineXMLFlags"),
    HYVED_PROC_WRITE_A(DOMAIN_UNDEFINE, domain_undefine,
                       hyved_remote_domain_undefine, "virDomainUndefine"),
    HYVED_PROC_WRITE_A(DOMAIN_UNDEFINE_FLAGS, domain_undefine_flags,
                       hyved_remote_domain_undefine_flags, "virDomainUndefineFlags"),
    HYVED_PROC_AR(DOMAIN_LOOKUP_BY_NAME, domain_lookup_by_name,
                  hyved_remote_domain_lookup_by_name, INLINE),
    HYVED_PROC_AR(DOMAIN_LOOKUP_BY_UUID, domain_lookup_by_uuid,
                  hyved_remote_domain_lookup_by_uuid, INLINE),
    HYVED_PROC_AR(DOMAIN_LOOKUP_BY_ID, domain_lookup_by_id,
                  hyved_remote_domain_lookup_by_id, INLINE),
    HYVED_PROC_AR(CONNECT_LIST_ALL_DOMAINS, connect_list_all_domains,
                  hyved_remote_connect_list_all_domains, INLINE),
    HYVED_PROC_R(CONNECT_NUM_OF_DOMAINS, connect_num_of_domains,
                 hyved_remote_connect_num_of_domains, INLINE),
    HYVED_PROC_AR(CONNECT_LIST_DOMAINS, connect_list_domains,
                  hyved_remote_connect_list_domains, INLINE),
    HYVED_PROC_R(CONNECT_NUM_OF_DEFINED_DOMAINS, connect_num_of_defined_domains,
                 hyved_remote_connect_num_of_defined_domains, INLINE),
    HYVED_PROC_AR(CONNECT_LIST_DEFINED_DOMAINS, connect_list_defined_domains,
                  hyved_remote_connect_list_defined_domains, INLINE),
    HYVED_PROC_WRITE_A(DOMAIN_SET_AUTOSTART, domain_set_autostart,
                       hyved_remote_domain_set_autostart, "virDomainSetAutostart"),
    HYVED_PROC_WRITE_A(DOMAIN_SET_METADATA, domain_set_metadata,
                       hyved_remote_domain_set_metadata, "virDomainSetMetadata"),

    /* read-only queries (hyved_remote_domain_query.c) */
    HYVED_PROC_AR(DOMAIN_GET_XML_DESC, domain_get_xml_desc,
                  hyved_remote_domain_get_xml_desc, INLINE),
    HYVED_PROC_AR(DOMAIN_GET_INFO, domain_get_info, hyved_remote_domain_get_info, INLINE),
    HYVED_PROC_AR(DOMAIN_INTERFACE_ADDRESSES, domain_interface_addresses,
                  hyved_remote_domain_interface_addresses, 0),
    HYVED_PROC_AR(DOMAIN_GET_STATE, domain_get_state, hyved_remote_domain_get_state, INLINE),
    HYVED_PROC_AR(DOMAIN_GET_OS_TYPE, domain_get_os_type,
                  hyved_remote_domain_get_os_type, INLINE),
    HYVED_PROC_AR(DOMAIN_GET_MAX_MEMORY, domain_get_max_memory,
                  hyved_remote_domain_get_max_memory, INLINE),
    HYVED_PROC_AR(DOMAIN_IS_ACTIVE, domain_is_active, hyved_remote_domain_is_active, INLINE),
    HYVED_PROC_AR(DOMAIN_IS_PERSISTENT, domain_is_persistent,
                  hyved_remote_domain_is_persistent, INLINE),
    HYVED_PROC_AR(DOMAIN_IS_UPDATED, domain_is_updated, hyved_remote_domain_is_updated, INLINE),
    HYVED_PROC_AR(DOMAIN_GET_AUTOSTART, domain_get_autostart,
                  hyved_remote_domain_get_autostart, INLINE),
    HYVED_PROC_AR(DOMAIN_GET_METADATA, domain_get_metadata,
                  hyved_remote_domain_get_metadata, INLINE),
    HYVED_PROC_AR(DOMAIN_HAS_MANAGED_SAVE_IMAGE, domain_has_managed_save_image,
                  hyved_remote_domain_has_managed_save_image, 0),
    HYVED_PROC_AR(DOMAIN_SNAPSHOT_NUM, domain_snapshot_num,
                  hyved_remote_domain_snapshot_num, 0),
    HYVED_PROC_AR(DOMAIN_LIST_ALL_SNAPSHOTS, domain_list_all_snapshots,
                  hyved_remote_domain_list_all_snapshots, 0),
    HYVED_PROC_AR(DOMAIN_GET_SECURITY_LABEL, domain_get_security_label,
                  hyved_remote_domain_get_security_label, 0),
    HYVED_PROC_AR(DOMAIN_GET_VCPUS_FLAGS, domain_get_vcpus_flags,
                  hyved_remote_domain_get_vcpus_flags, 0),
    HYVED_PROC_AR(DOMAIN_GET_MAX_VCPUS, domain_get_max_vcpus,
                  hyved_remote_domain_get_max_vcpus, 0),
};
const size_t hyved_domain_nprocs = G_N_ELEMENTS(hyved_domain_procs);
