/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_query.c: read-only RPC procedures about one domain
 * (XML, info, state, flags, metadata, vCPU counts) and the answers for
 * features hyve does not have (managed save, snapshots, security labels).
 * They are listed in hyved_domain_procs (hyved_remote_domain.c).
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"

/* Declares `obj` for the domain in args->dom, returning FALSE when it is gone. */
#define HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, wire, error) \
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup((server), (wire), (error)); \
    if (!obj) \
        return FALSE

gboolean
hyved_remote_domain_get_xml_desc(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_get_xml_desc_args *args = argsp;
    remote_domain_get_xml_desc_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_DOMAIN_XML_FLAGS_ALL, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    /* as libvirt's virDomainGetXMLDesc */
    if ((args->flags & HYVED_DOMAIN_XML_SECURE) && hyved_client_is_readonly(client)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_DENIED,
                       "virDomainGetXMLDesc with secure flag");
        return FALSE;
    }
    ret->xml = hyve_domain_obj_get_xml(obj, args->flags, error);
    return ret->xml != NULL;
}

gboolean
hyved_remote_domain_get_info(HyvedServer *server, HyvedClient *client,
                             const HyvedHeader *hdr, void *argsp, void *retp,
                             GError **error)
{
    remote_domain_get_info_args *args = argsp;
    remote_domain_get_info_ret *ret = retp;
    HyveDomainInfo info = { 0 };

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    hyve_domain_obj_get_info(obj, &info);
    ret->state = (u_char) info.state;
    ret->maxMem = info.max_mem_kib;
    ret->memory = info.memory_kib;
    ret->nrVirtCpu = (u_short) MIN(info.nr_vcpus, G_MAXUINT16);
    ret->cpuTime = info.cpu_time_ns;
    return TRUE;
}

gboolean
hyved_remote_domain_get_state(HyvedServer *server, HyvedClient *client,
                              const HyvedHeader *hdr, void *argsp, void *retp,
                              GError **error)
{
    remote_domain_get_state_args *args = argsp;
    remote_domain_get_state_ret *ret = retp;
    HyveDomainInfo info = { 0 };

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    hyve_domain_obj_get_info(obj, &info);
    ret->state = (int) info.state;
    ret->reason = info.reason;
    return TRUE;
}

gboolean
hyved_remote_domain_get_os_type(HyvedServer *server, HyvedClient *client,
                                const HyvedHeader *hdr, void *argsp, void *retp,
                                GError **error)
{
    remote_domain_get_os_type_args *args = argsp;
    remote_domain_get_os_type_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->type = hyve_domain_obj_get_os_type(obj);
    if (!ret->type)
        ret->type = g_strdup("hvm");
    return TRUE;
}

gboolean
hyved_remote_domain_get_max_memory(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_get_max_memory_args *args = argsp;
    remote_domain_get_max_memory_ret *ret = retp;
    HyveDomainInfo info = { 0 };

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    hyve_domain_obj_get_info(obj, &info);
    ret->memory = info.max_mem_kib;
    return TRUE;
}

gboolean
hyved_remote_domain_is_active(HyvedServer *server, HyvedClient *client,
                              const HyvedHeader *hdr, void *argsp, void *retp,
                              GError **error)
{
    remote_domain_is_active_args *args = argsp;
    remote_domain_is_active_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->active = hyve_domain_obj_is_active(obj) ? 1 : 0;
    return TRUE;
}

gboolean
hyved_remote_domain_is_persistent(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_is_persistent_args *args = argsp;
    remote_domain_is_persistent_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->persistent = hyve_domain_obj_is_persistent(obj) ? 1 : 0;
    return TRUE;
}

gboolean
hyved_remote_domain_is_updated(HyvedServer *server, HyvedClient *client,
                               const HyvedHeader *hdr, void *argsp, void *retp,
                               GError **error)
{
    remote_domain_is_updated_args *args = argsp;
    remote_domain_is_updated_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->updated = hyve_domain_obj_is_updated(obj) ? 1 : 0;
    return TRUE;
}

gboolean
hyved_remote_domain_get_autostart(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_get_autostart_args *args = argsp;
    remote_domain_get_autostart_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->autostart = hyve_domain_obj_get_autostart(obj) ? 1 : 0;
    return TRUE;
}

gboolean
hyved_remote_domain_get_metadata(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_get_metadata_args *args = argsp;
    remote_domain_get_metadata_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags,
                                HYVED_DOMAIN_AFFECT_LIVE | HYVED_DOMAIN_AFFECT_CONFIG, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->metadata = hyve_domain_obj_get_metadata(obj, args->type,
                                                 hyved_opt_string(args->uri),
                                                 args->flags, error);
    return ret->metadata != NULL;
}

/* hyve has no managed save: every domain answers "no image". */
gboolean
hyved_remote_domain_has_managed_save_image(HyvedServer *server, HyvedClient *client,
                                           const HyvedHeader *hdr, void *argsp, void *retp,
                                           GError **error)
{
    remote_domain_has_managed_save_image_args *args = argsp;
    remote_domain_has_managed_save_image_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->result = 0;
    return TRUE;
}

/* hyve has no snapshots: the count is 0 and the list empty, for any filter. */
gboolean
hyved_remote_domain_snapshot_num(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_snapshot_num_args *args = argsp;
    remote_domain_snapshot_num_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_SNAPSHOT_LIST_FLAGS_ALL, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->num = 0;
    return TRUE;
}

gboolean
hyved_remote_domain_list_all_snapshots(HyvedServer *server, HyvedClient *client,
                                       const HyvedHeader *hdr, void *argsp, void *retp,
                                       GError **error)
{
    remote_domain_list_all_snapshots_args *args = argsp;
    remote_domain_list_all_snapshots_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_SNAPSHOT_LIST_FLAGS_ALL, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    /* need_results or not, there is nothing to send but the count. */
    ret->snapshots.snapshots_len = 0;
    ret->snapshots.snapshots_val = NULL;
    ret->ret = 0;
    return TRUE;
}

/* No security driver: an empty label (length 1, the NUL included, as
 * libvirt sends it) that is not enforcing. */
gboolean
hyved_remote_domain_get_security_label(HyvedServer *server, HyvedClient *client,
                                       const HyvedHeader *hdr, void *argsp, void *retp,
                                       GError **error)
{
    remote_domain_get_security_label_args *args = argsp;
    remote_domain_get_security_label_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->label.label_val = g_malloc0(1);
    ret->label.label_len = 1;
    ret->enforcing = 0;
    return TRUE;
}

gboolean
hyved_remote_domain_get_vcpus_flags(HyvedServer *server, HyvedClient *client,
                                    const HyvedHeader *hdr, void *argsp, void *retp,
                                    GError **error)
{
    remote_domain_get_vcpus_flags_args *args = argsp;
    remote_domain_get_vcpus_flags_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags,
                                HYVED_DOMAIN_AFFECT_LIVE | HYVED_DOMAIN_AFFECT_CONFIG |
                                HYVED_DOMAIN_VCPU_MAXIMUM | HYVED_DOMAIN_VCPU_GUEST, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->num = hyved_domain_get_vcpus(obj, args->flags, error);
    return ret->num >= 0;
}

/* Maximum vCPUs of the domain: the live definition when running, the
 * persistent one otherwise. */
gboolean
hyved_remote_domain_get_max_vcpus(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_get_max_vcpus_args *args = argsp;
    remote_domain_get_max_vcpus_ret *ret = retp;

    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ret->num = hyved_domain_get_vcpus(obj, HYVED_DOMAIN_VCPU_MAXIMUM, error);
    return ret->num >= 0;
}

/* virDomainInterfaceAddresses (issue 6): lease and arp sources; the agent
 * source is refused on a read-only connection first, as libvirt's public
 * API does. Listed in hyved_domain_procs (hyved_remote_domain.c). */

gboolean
hyved_remote_domain_interface_addresses(HyvedServer *server, HyvedClient *client,
                                        const HyvedHeader *hdr, void *argsp, void *retp,
                                        GError **error)
{
    remote_domain_interface_addresses_args *args = argsp;
    remote_domain_interface_addresses_ret *ret = retp;
    g_autoptr(GPtrArray) ifaces = NULL;
    remote_domain_interface *wire;

    if (args->source == 1 && hyved_client_is_readonly(client)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_DENIED,
                       "read only access prevents virDomainInterfaceAddresses");
        return FALSE;
    }
    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    HYVED_LOOKUP_DOMAIN_OR_FAIL(obj, server, &args->dom, error);
    ifaces = hyve_driver_domain_interface_addresses(hyved_server_get_driver(server), obj,
                                                    args->source, args->flags, error);
    if (!ifaces)
        return FALSE;
    if (ifaces->len > REMOTE_DOMAIN_INTERFACE_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "Number of interfaces, %u exceeds the max limit: %d", ifaces->len,
                       REMOTE_DOMAIN_INTERFACE_MAX);
        return FALSE;
    }
    for (guint i = 0; i < ifaces->len; i++) {
        const HyveDomainIface *iface = g_ptr_array_index(ifaces, i);

        if (iface->addrs->len > REMOTE_DOMAIN_IP_ADDR_MAX) {
            hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                           "Number of interfaces, %u exceeds the max limit: %d",
                           iface->addrs->len, REMOTE_DOMAIN_IP_ADDR_MAX);
            return FALSE;
        }
    }
    if (ifaces->len == 0)
        return TRUE;
    wire = g_new0(remote_domain_interface, ifaces->len);
    ret->ifaces.ifaces_val = wire;
    ret->ifaces.ifaces_len = ifaces->len;
    for (guint i = 0; i < ifaces->len; i++) {
        const HyveDomainIface *iface = g_ptr_array_index(ifaces, i);

        wire[i].name = g_strdup(iface->name);
        if (iface->hwaddr) {
            wire[i].hwaddr = g_new0(char *, 1);
            *wire[i].hwaddr = g_strdup(iface->hwaddr);
        }
        if (iface->addrs->len == 0)
            continue;
        wire[i].addrs.addrs_len = iface->addrs->len;
        wire[i].addrs.addrs_val = g_new0(remote_domain_ip_addr, iface->addrs->len);
        for (guint j = 0; j < iface->addrs->len; j++) {
            const HyveDomainIpAddr *a = &g_array_index(iface->addrs, HyveDomainIpAddr, j);

            wire[i].addrs.addrs_val[j].type = a->type;
            wire[i].addrs.addrs_val[j].addr = g_strdup(a->addr);
            wire[i].addrs.addrs_val[j].prefix = a->prefix;
        }
    }
    return TRUE;
}
