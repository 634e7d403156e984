/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_network.c: RPC procedures on virtual networks
 * (libvirt-rpc.md §7.5); event registration stays in hyved_remote_event.c.
 * Each handler: wire identity (networks by UUID, as libvirt) -> network
 * driver call (it checks flags and reports libvirt's errors) -> ret.
 *
 * Not supported: NETWORK_UPDATE (NO_SUPPORT naming virNetworkUpdate, after
 * the read-only check, as libvirt with a driver lacking the call), and the
 * network port procedures (404-410) likewise, naming their API (virsh 9.0
 * prints an "unknown procedure: 404" reply as it is, so they have entries).
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

/* CONNECT_LIST_(DEFINED_)NETWORKS: args {maxnames}, ret {names<>} */
#define NET_NAMES(fn, lower, flags) \
    NET_HANDLER(fn) \
    { \
        remote_##lower##_args *args = argsp; \
        remote_##lower##_ret *ret = retp; \
        return list_net_names(server, (flags), args->maxnames, &ret->names.names_val, \
                              &ret->names.names_len, error); \
    }

NET_NAMES(connect_list_networks, connect_list_networks, HYVED_LIST_NETWORKS_ACTIVE)
NET_NAMES(connect_list_defined_networks, connect_list_defined_networks,
          HYVED_LIST_NETWORKS_INACTIVE)

/* CONNECT_NUM_OF_(DEFINED_)NETWORKS: ret {int num} */
#define NET_NUM(fn, active) \
    NET_HANDLER(fn) \
    { \
        HyveNetworks *nets = net_driver(server, error); \
        if (!nets) \
            return FALSE; \
        ((remote_connect_num_of_networks_ret *) retp)->num = hyve_networks_num(nets, active); \
        return TRUE; \
    }

NET_NUM(connect_num_of_networks, TRUE)
NET_NUM(connect_num_of_defined_networks, FALSE)

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

/* The port procedures' args, kept as raw words (hyve has no ports API and
 * the protocol file no port structs): decoding takes every word of the
 * payload, encoding gives them back (the dispatcher's canonical check). */
typedef struct {
    u_int len;
    u_int *words;
} HyvedPortArgs;

static bool_t
xdr_port_args(XDR *xdrs, void *obj)
{
    HyvedPortArgs *a = obj;
    u_int word;

    switch (xdrs->x_op) {
    case XDR_DECODE:
        while (xdr_u_int(xdrs, &word)) {
            a->words = g_renew(u_int, a->words, a->len + 1);
            a->words[a->len++] = word;
        }
        return TRUE;
    case XDR_ENCODE:
        for (u_int i = 0; i < a->len; i++)
            if (!xdr_u_int(xdrs, &a->words[i]))
                return FALSE;
        return TRUE;
    default:
        g_clear_pointer(&a->words, g_free);
        a->len = 0;
        return TRUE;
    }
}

NET_HANDLER(network_port_proc)
{
    static const char *const apis[] = {
        "virNetworkListAllPorts", "virNetworkPortLookupByUUID", "virNetworkPortCreateXML",
        "virNetworkPortGetParameters", "virNetworkPortSetParameters",
        "virNetworkPortGetXMLDesc", "virNetworkPortDelete",
    };

    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_SUPPORT, "%s",
                   apis[hdr->proc - REMOTE_PROC_NETWORK_LIST_ALL_PORTS]);
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

/* Optional wire string from a possibly NULL C string (taken). */
static remote_string
opt_string(char *s)
{
    return s ? g_memdup2(&s, sizeof(s)) : NULL;
}

static void
lease_to_wire(HyveNetLease *l, remote_network_dhcp_lease *w)
{
    w->iface = l->iface ? g_steal_pointer(&l->iface) : g_strdup("");
    w->expirytime = l->expirytime;
    w->type = l->type;
    w->mac = opt_string(g_steal_pointer(&l->mac));
    w->iaid = opt_string(g_steal_pointer(&l->iaid));
    w->ipaddr = l->ipaddr ? g_steal_pointer(&l->ipaddr) : g_strdup("");
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
#define PORT(NAME, pflags, api) \
    { REMOTE_PROC_##NAME, #NAME, (xdrproc_t) xdr_port_args, sizeof(HyvedPortArgs), \
      (xdrproc_t) (void (*)(void)) xdr_void, 0, network_port_proc, (pflags), (api) }

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
    PORT(NETWORK_LIST_ALL_PORTS, 0, NULL),
    PORT(NETWORK_PORT_LOOKUP_BY_UUID, 0, NULL),
    PORT(NETWORK_PORT_CREATE_XML, HYVED_PROC_WRITE, "virNetworkPortCreateXML"),
    PORT(NETWORK_PORT_GET_PARAMETERS, 0, NULL),
    PORT(NETWORK_PORT_SET_PARAMETERS, HYVED_PROC_WRITE, "virNetworkPortSetParameters"),
    PORT(NETWORK_PORT_GET_XML_DESC, 0, NULL),
    PORT(NETWORK_PORT_DELETE, HYVED_PROC_WRITE, "virNetworkPortDelete"),
};
const size_t hyved_network_nprocs = G_N_ELEMENTS(hyved_network_procs);
