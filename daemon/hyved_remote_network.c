/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_network.c: RPC procedures on virtual networks
 * (libvirt-rpc.md §7.5); event registration stays in hyved_remote_event.c.
 * Each handler: wire identity (networks by UUID, as libvirt) -> network
 * driver call (it checks flags and reports libvirt's errors) -> ret.
 *
 * Not supported: NETWORK_UPDATE (NO_SUPPORT naming virNetworkUpdate, after
 * the read-only check, as libvirt with a driver lacking the call). The
 * network port procedures (404-410) have no entry: the dispatcher answers
 * "unknown procedure: N", which libvirt's client reports as NO_SUPPORT
 * (virsh net-port-list: "this function is not supported by the connection
 * driver: unknown procedure: 404").
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"
#include "hyve_network.h"

/* libvirt VIR_CONNECT_LIST_NETWORKS_INACTIVE / _ACTIVE */
#define HYVED_LIST_NETWORKS_INACTIVE (1u << 0)
#define HYVED_LIST_NETWORKS_ACTIVE   (1u << 1)

/* The network driver; NO_SUPPORT when the daemon runs without one. */
static HyveNetworks *
net_driver(HyvedServer *server, GError **error)
{
    HyveDriver *drv = hyved_server_get_driver(server);
    HyveNetworks *nets = drv ? hyve_driver_get_networks(drv) : NULL;

    if (!nets)
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_SUPPORT, "%s",
                       "no network driver");
    return nets;
}

static HyveNetObj *
net_lookup(HyvedServer *server, const remote_nonnull_network *net, GError **error)
{
    HyveNetworks *nets = net_driver(server, error);

    return nets ? hyve_networks_lookup_by_uuid(nets, (const guint8 *) net->uuid, error) : NULL;
}

static void
net_to_wire(HyveNetObj *obj, remote_nonnull_network *net)
{
    HyveNetIdent ident = { 0 };

    hyve_net_obj_get_ident(obj, &ident);
    net->name = ident.name ? g_steal_pointer(&ident.name) : g_strdup("");
    memcpy(net->uuid, ident.uuid, sizeof(net->uuid));
    hyve_net_ident_clear(&ident);
}

#define NET_HANDLER(fn) \
    static gboolean fn(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr, \
                       void *argsp, void *retp, GError **error)

/* Handler body for the procedures whose ret is just {net}: @expr may use
 * nets (the network driver). */
#define NET_RET(ret_net, expr) \
    do { \
        HyveNetworks *nets = net_driver(server, error); \
        g_autoptr(HyveNetObj) obj_ = NULL; \
        if (!nets) \
            return FALSE; \
        if (!(obj_ = (expr))) \
            return FALSE; \
        net_to_wire(obj_, (ret_net)); \
        return TRUE; \
    } while (0)

/* Handler body: look the network up, then @call (a gboolean expression
 * using nets and obj). */
#define NET_DO(wire_net, call) \
    do { \
        HyveNetworks *nets = net_driver(server, error); \
        g_autoptr(HyveNetObj) obj = NULL; \
        if (!nets) \
            return FALSE; \
        if (!(obj = hyve_networks_lookup_by_uuid(nets, (const guint8 *) (wire_net)->uuid, \
                                                 error))) \
            return FALSE; \
        return (call); \
    } while (0)

/* ---- lists -------------------------------------------------------------- */

NET_HANDLER(connect_list_all_networks)
{
    remote_connect_list_all_networks_args *args = argsp;
    remote_connect_list_all_networks_ret *ret = retp;
    HyveNetworks *nets = net_driver(server, error);
    g_autoptr(GPtrArray) list = NULL;

    if (!nets || !(list = hyve_networks_list(nets, args->flags, error)))
        return FALSE;
    if (list->len > REMOTE_NETWORK_LIST_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "Too many networks '%u' for limit '%d'", list->len,
                       REMOTE_NETWORK_LIST_MAX);
        return FALSE;
    }
    /* need_results == 0: the client only wants the count */
    if (args->need_results && list->len > 0) {
        ret->nets.nets_val = g_new0(remote_nonnull_network, list->len);
        for (guint i = 0; i < list->len; i++)
            net_to_wire(list->pdata[i], &ret->nets.nets_val[i]);
        ret->nets.nets_len = list->len;
    }
    ret->ret = list->len;
    return TRUE;
}

/* The names of the first @maxnames networks matching @flags. */
static gboolean
list_net_names(HyvedServer *server, guint flags, int maxnames, remote_nonnull_string **val,
               u_int *len, GError **error)
{
    HyveNetworks *nets;
    g_autoptr(GPtrArray) list = NULL;
    guint n;

    if (!hyved_check_list_max(maxnames, REMOTE_NETWORK_LIST_MAX, "maxnames",
                              "REMOTE_NETWORK_LIST_MAX", error))
        return FALSE;
    if (!(nets = net_driver(server, error)) || !(list = hyve_networks_list(nets, flags, error)))
        return FALSE;
    n = MIN(list->len, (guint) maxnames);
    if (n == 0)
        return TRUE;
    *val = g_new0(remote_nonnull_string, n);
    for (guint i = 0; i < n; i++) {
        HyveNetIdent ident = { 0 };

        hyve_net_obj_get_ident(list->pdata[i], &ident);
        (*val)[i] = ident.name ? g_steal_pointer(&ident.name) : g_strdup("");
        hyve_net_ident_clear(&ident);
    }
    *len = n;
    return TRUE;
}

NET_HANDLER(connect_list_networks)
{
    remote_connect_list_networks_args *args = argsp;
    remote_connect_list_networks_ret *ret = retp;

    return list_net_names(server, HYVED_LIST_NETWORKS_ACTIVE, args->maxnames,
                          &ret->names.names_val, &ret->names.names_len, error);
}

NET_HANDLER(connect_list_defined_networks)
{
    remote_connect_list_defined_networks_args *args = argsp;
    remote_connect_list_defined_networks_ret *ret = retp;

    return list_net_names(server, HYVED_LIST_NETWORKS_INACTIVE, args->maxnames,
                          &ret->names.names_val, &ret->names.names_len, error);
}

NET_HANDLER(connect_num_of_networks)
{
    remote_connect_num_of_networks_ret *ret = retp;
    HyveNetworks *nets = net_driver(server, error);

    if (!nets)
        return FALSE;
    ret->num = hyve_networks_num(nets, TRUE);
    return TRUE;
}

NET_HANDLER(connect_num_of_defined_networks)
{
    remote_connect_num_of_defined_networks_ret *ret = retp;
    HyveNetworks *nets = net_driver(server, error);

    if (!nets)
        return FALSE;
    ret->num = hyve_networks_num(nets, FALSE);
    return TRUE;
}

/* ---- lookups ------------------------------------------------------------ */

NET_HANDLER(network_lookup_by_name)
{
    remote_network_lookup_by_name_args *args = argsp;
    remote_network_lookup_by_name_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_lookup_by_name(nets, args->name, error));
}

NET_HANDLER(network_lookup_by_uuid)
{
    remote_network_lookup_by_uuid_args *args = argsp;
    remote_network_lookup_by_uuid_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_lookup_by_uuid(nets, (const guint8 *) args->uuid, error));
}

/* ---- changes ------------------------------------------------------------ */

NET_HANDLER(network_define_xml)
{
    remote_network_define_xml_args *args = argsp;
    remote_network_define_xml_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_define_xml(nets, args->xml, 0, error));
}

NET_HANDLER(network_define_xml_flags)
{
    remote_network_define_xml_flags_args *args = argsp;
    remote_network_define_xml_flags_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_define_xml(nets, args->xml, args->flags, error));
}

NET_HANDLER(network_create_xml)
{
    remote_network_create_xml_args *args = argsp;
    remote_network_create_xml_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_create_xml(nets, args->xml, 0, error));
}

NET_HANDLER(network_create_xml_flags)
{
    remote_network_create_xml_flags_args *args = argsp;
    remote_network_create_xml_flags_ret *ret = retp;

    NET_RET(&ret->net, hyve_networks_create_xml(nets, args->xml, args->flags, error));
}

NET_HANDLER(network_create)
{
    remote_network_create_args *args = argsp;

    NET_DO(&args->net, hyve_networks_start(nets, obj, error));
}

NET_HANDLER(network_destroy)
{
    remote_network_destroy_args *args = argsp;

    NET_DO(&args->net, hyve_networks_destroy(nets, obj, error));
}

NET_HANDLER(network_undefine)
{
    remote_network_undefine_args *args = argsp;

    NET_DO(&args->net, hyve_networks_undefine(nets, obj, error));
}

NET_HANDLER(network_set_autostart)
{
    remote_network_set_autostart_args *args = argsp;

    NET_DO(&args->net, hyve_networks_set_autostart(nets, obj, args->autostart != 0, error));
}

NET_HANDLER(network_update)
{
    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_SUPPORT, "%s", "virNetworkUpdate");
    return FALSE;
}

/* ---- queries ------------------------------------------------------------ */

NET_HANDLER(network_get_xml_desc)
{
    remote_network_get_xml_desc_args *args = argsp;
    remote_network_get_xml_desc_ret *ret = retp;
    g_autoptr(HyveNetObj) obj = net_lookup(server, &args->net, error);

    if (!obj)
        return FALSE;
    ret->xml = hyve_net_obj_get_xml(obj, args->flags, error);
    return ret->xml != NULL;
}

NET_HANDLER(network_get_bridge_name)
{
    remote_network_get_bridge_name_args *args = argsp;
    remote_network_get_bridge_name_ret *ret = retp;
    g_autoptr(HyveNetObj) obj = net_lookup(server, &args->net, error);

    if (!obj)
        return FALSE;
    ret->name = hyve_net_obj_get_bridge_name(obj, error);
    return ret->name != NULL;
}

/* Handler body for the yes/no queries: *@out = @pred(net). */
#define NET_BOOL(wire_net, out, pred) \
    do { \
        g_autoptr(HyveNetObj) obj_ = net_lookup(server, (wire_net), error); \
        if (!obj_) \
            return FALSE; \
        *(out) = pred(obj_) ? 1 : 0; \
        return TRUE; \
    } while (0)

NET_HANDLER(network_get_autostart)
{
    remote_network_get_autostart_args *args = argsp;

    NET_BOOL(&args->net, &((remote_network_get_autostart_ret *) retp)->autostart,
             hyve_net_obj_get_autostart);
}

NET_HANDLER(network_is_active)
{
    remote_network_is_active_args *args = argsp;

    NET_BOOL(&args->net, &((remote_network_is_active_ret *) retp)->active,
             hyve_net_obj_is_active);
}

NET_HANDLER(network_is_persistent)
{
    remote_network_is_persistent_args *args = argsp;

    NET_BOOL(&args->net, &((remote_network_is_persistent_ret *) retp)->persistent,
             hyve_net_obj_is_persistent);
}

/* Optional wire string from a possibly NULL C string. */
static remote_string
opt_string(char *s)
{
    remote_string out;

    if (!s)
        return NULL;
    out = g_new(char *, 1);
    *out = s;
    return out;
}

static void
lease_to_wire(HyveNetLease *l, remote_network_dhcp_lease *w)
{
    w->iface = g_steal_pointer(&l->iface);
    if (!w->iface)
        w->iface = g_strdup("");
    w->expirytime = l->expirytime;
    w->type = l->type;
    w->mac = opt_string(g_steal_pointer(&l->mac));
    w->iaid = opt_string(g_steal_pointer(&l->iaid));
    w->ipaddr = g_steal_pointer(&l->ipaddr);
    if (!w->ipaddr)
        w->ipaddr = g_strdup("");
    w->prefix = l->prefix;
    w->hostname = opt_string(g_steal_pointer(&l->hostname));
    w->clientid = opt_string(g_steal_pointer(&l->clientid));
}

NET_HANDLER(network_get_dhcp_leases)
{
    remote_network_get_dhcp_leases_args *args = argsp;
    remote_network_get_dhcp_leases_ret *ret = retp;
    g_autoptr(HyveNetObj) obj = NULL;
    g_autoptr(GPtrArray) leases = NULL;

    /* libvirt's networkGetDHCPLeases accepts no flags */
    if (args->flags != 0) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", args->flags,
                       "networkGetDHCPLeases");
        return FALSE;
    }
    if (!(obj = net_lookup(server, &args->net, error)))
        return FALSE;
    leases = hyve_net_obj_get_dhcp_leases(obj, hyved_opt_string(args->mac), error);
    if (!leases)
        return FALSE;
    if (leases->len > REMOTE_NETWORK_DHCP_LEASES_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "Number of leases is %u, which exceeds max limit: %d", leases->len,
                       REMOTE_NETWORK_DHCP_LEASES_MAX);
        return FALSE;
    }
    if (args->need_results && leases->len > 0) {
        ret->leases.leases_val = g_new0(remote_network_dhcp_lease, leases->len);
        for (guint i = 0; i < leases->len; i++)
            lease_to_wire(leases->pdata[i], &ret->leases.leases_val[i]);
        ret->leases.leases_len = leases->len;
    }
    ret->ret = leases->len;
    return TRUE;
}

#define P(NAME, lower) HYVED_PROC_AR(NAME, lower, lower, 0)
#define P_R(NAME, lower) HYVED_PROC_R(NAME, lower, lower, 0)
#define W(NAME, lower, api) HYVED_PROC_WRITE_AR(NAME, lower, lower, api)
#define W_A(NAME, lower, api) HYVED_PROC_WRITE_A(NAME, lower, lower, api)

const HyvedProcedure hyved_network_procs[] = {
    P(CONNECT_LIST_ALL_NETWORKS, connect_list_all_networks),
    P(CONNECT_LIST_NETWORKS, connect_list_networks),
    P(CONNECT_LIST_DEFINED_NETWORKS, connect_list_defined_networks),
    P_R(CONNECT_NUM_OF_NETWORKS, connect_num_of_networks),
    P_R(CONNECT_NUM_OF_DEFINED_NETWORKS, connect_num_of_defined_networks),
    P(NETWORK_LOOKUP_BY_NAME, network_lookup_by_name),
    P(NETWORK_LOOKUP_BY_UUID, network_lookup_by_uuid),
    W(NETWORK_DEFINE_XML, network_define_xml, "virNetworkDefineXML"),
    W(NETWORK_DEFINE_XML_FLAGS, network_define_xml_flags, "virNetworkDefineXMLFlags"),
    W(NETWORK_CREATE_XML, network_create_xml, "virNetworkCreateXML"),
    W(NETWORK_CREATE_XML_FLAGS, network_create_xml_flags, "virNetworkCreateXMLFlags"),
    W_A(NETWORK_CREATE, network_create, "virNetworkCreate"),
    W_A(NETWORK_DESTROY, network_destroy, "virNetworkDestroy"),
    W_A(NETWORK_UNDEFINE, network_undefine, "virNetworkUndefine"),
    W_A(NETWORK_SET_AUTOSTART, network_set_autostart, "virNetworkSetAutostart"),
    W_A(NETWORK_UPDATE, network_update, "virNetworkUpdate"),
    P(NETWORK_GET_XML_DESC, network_get_xml_desc),
    P(NETWORK_GET_BRIDGE_NAME, network_get_bridge_name),
    P(NETWORK_GET_AUTOSTART, network_get_autostart),
    P(NETWORK_IS_ACTIVE, network_is_active),
    P(NETWORK_IS_PERSISTENT, network_is_persistent),
    P(NETWORK_GET_DHCP_LEASES, network_get_dhcp_leases),
};
const size_t hyved_network_nprocs = G_N_ELEMENTS(hyved_network_procs);
