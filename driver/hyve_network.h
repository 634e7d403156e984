/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network.h: the network driver's public API (libvirt's virNetwork*),
 * as the daemon's RPC handlers and the domain side see it.
 *
 * One HyveNetworks per HyveDriver (hyve_driver_get_networks). Networks are
 * reference-counted objects (HyveNetObj, g_autoptr works). Everything is
 * thread-safe. Failures set a GError built with hyve_error_set() (which
 * prefixes the code's libvirt text, e.g. "Network not found: "), domain
 * HYVE_FROM_NETWORK, libvirt's codes and messages:
 *   NO_NETWORK 43        "no network with matching name '%s'" /
 *                        "no network with matching uuid '%s' (%s)"
 *   OPERATION_INVALID 55 "network is already active" (start),
 *                        "network '%s' is not active" (destroy, leases of
 *                        nothing, port on an inactive network),
 *                        "can't undefine transient network",
 *                        "cannot set autostart for transient network",
 *                        "network is already active as '%s'" (create_xml
 *                        over an active network of the same name/uuid)
 *   OPERATION_FAILED 9   "network '%s' is already defined with uuid %s" /
 *                        "network '%s' already exists with uuid %s"
 *   INTERNAL_ERROR 1     "bridge name '%s' already in use." (define/create:
 *                        another network's definition has that bridge),
 *                        "network '%s' does not have a bridge name.",
 *                        "Network is already in use by interface %s"
 *                        (start: a host route with the same subnet, or an
 *                        active hyve network whose subnet overlaps)
 *   CONFIG_UNSUPPORTED 67 "unsupported forward mode '%s' in network '%s'
 *                        (hyve supports nat, route, open, bridge and none)",
 *                        and libvirt's per-mode refusals ("Unsupported <ip>
 *                        element in network %s with forward mode='%s'")
 *   XML_ERROR 27         malformed XML / bad addresses, with the reason
 *   INVALID_MAC 44       "invalid MAC address: %s" (lease MAC filter)
 *   SYSTEM_ERROR 38      host failures, with the errno text
 *                        ("error creating bridge interface virbr0: File exists")
 * Unsupported flag bits: INVALID_ARG "unsupported flags (0x%x) in function %s".
 *
 * Files (all written atomically with hyve_file_write_atomic):
 *   <config_dir>/networks/NAME.xml             persistent definitions
 *   <config_dir>/networks/autostart/NAME.xml   autostart symlinks (-> ../NAME.xml)
 *   <state_dir>/network/NAME.xml               status of an active network
 *                                              (transient ones too): live def
 *                                              + dnsmasq pid, so a restarted
 *                                              daemon keeps it and its dnsmasq
 *   <state_dir>/network/NAME.{conf,hostsfile,addnhosts,pid,leases}  dnsmasq's
 *                                              (hyve_network_priv.h)
 */
#pragma once

#include <glib.h>
#include "hyve_error.h"

G_BEGIN_DECLS

#ifndef HYVE_UUID_LEN
#define HYVE_UUID_LEN 16
#endif

typedef struct _HyveNetworks HyveNetworks;
typedef struct _HyveNetObj HyveNetObj;

/* ---- configuration ----------------------------------------------------- */

typedef struct {
    gboolean privileged;
    const char *config_dir;     /* the driver's config dir; networks in <it>/networks */
    const char *state_dir;      /* the driver's state dir; live networks in <it>/network */
    const char *schema_dir;     /* libvirt RelaxNG schemas (network.rng) */
    gboolean define_default;    /* on the first start (no <config_dir>/networks yet)
                                 * define the 'default' network (HYVE_NETWORK_DEFAULT_XML),
                                 * not started, not autostarted: nothing on the host is
                                 * touched until the user starts it */
} HyveNetworkConfig;

/* libvirt's src/network/default.xml: NAT on virbr0, 192.168.122.0/24, DHCP .2-.254. */
#define HYVE_NETWORK_DEFAULT_XML \
    "<network>\n" \
    "  <name>default</name>\n" \
    "  <bridge name='virbr0'/>\n" \
    "  <forward/>\n" \
    "  <ip address='192.168.122.1' netmask='255.255.255.0'>\n" \
    "    <dhcp>\n" \
    "      <range start='192.168.122.2' end='192.168.122.254'/>\n" \
    "    </dhcp>\n" \
    "  </ip>\n" \
    "</network>\n"

/* ---- events (libvirt virNetworkEventID / virNetworkEventLifecycleType) -- */

typedef enum {
    HYVE_NET_EVENT_DEFINED = 0,
    HYVE_NET_EVENT_UNDEFINED = 1,
    HYVE_NET_EVENT_STARTED = 2,
    HYVE_NET_EVENT_STOPPED = 3,
} HyveNetLifecycleEvent;

typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
    int event;                  /* HyveNetLifecycleEvent */
    int detail;                 /* always 0 */
} HyveNetEvent;

/* Same contract as HyvePoolEventSink: no network lock held, one call at a
 * time, in state-change order; must not call back into state changes.
 * Event order as libvirt: define -> DEFINED; undefine -> UNDEFINED (an active
 * network stays running, now transient); start and create_xml -> STARTED
 * (create_xml sends no DEFINED); destroy -> STOPPED (a transient network then
 * vanishes without UNDEFINED). Autostart at hyve_networks_new sends nothing. */
typedef void (*HyveNetEventSink)(const HyveNetEvent *event, gpointer user_data);

/* ---- lifetime (called by hyve_driver.c / the daemon) ------------------- */

/* Makes <config_dir>/networks and <state_dir>/network, loads every
 * definition (a bad file is logged and skipped, never deleted), picks up
 * networks whose status file exists (bridge still there: active, dnsmasq
 * restarted if it died, firewall table reloaded; bridge gone: inactive, a
 * transient one forgotten), defines 'default' on the first start when
 * cfg->define_default, then starts autostart networks (failures logged). */
HyveNetworks *hyve_networks_new(const HyveNetworkConfig *cfg, GError **error);
/* Frees the objects; touches nothing on the host (bridges, dnsmasq and
 * rules stay for the next daemon). */
void hyve_networks_free(HyveNetworks *nets);
/* Clean daemon shutdown (SIGTERM), before hyve_networks_free: every active
 * TRANSIENT network is torn down (dnsmasq, firewall table, bridge, status
 * file) and forgotten, as the issue asks; persistent active networks keep
 * running for the next daemon. No events (clients are going away). */
void hyve_networks_shutdown(HyveNetworks *nets);
void hyve_networks_set_event_sink(HyveNetworks *nets, HyveNetEventSink sink, gpointer user_data);

/* ---- objects ------------------------------------------------------------ */

HyveNetObj *hyve_net_obj_ref(HyveNetObj *net);
void hyve_net_obj_unref(HyveNetObj *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveNetObj, hyve_net_obj_unref)

typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
} HyveNetIdent;
void hyve_net_ident_clear(HyveNetIdent *ident);
void hyve_net_obj_get_ident(HyveNetObj *net, HyveNetIdent *ident);

gboolean hyve_net_obj_is_active(HyveNetObj *net);
gboolean hyve_net_obj_is_persistent(HyveNetObj *net);
gboolean hyve_net_obj_get_autostart(HyveNetObj *net);

/* ---- lists and lookups --------------------------------------------------- */

/* libvirt VIR_CONNECT_LIST_NETWORKS_*: INACTIVE 1, ACTIVE 2, PERSISTENT 4,
 * TRANSIENT 8, AUTOSTART 16, NO_AUTOSTART 32; 0 = all. GPtrArray of
 * HyveNetObj references (free func set), sorted by name. */
#define HYVE_LIST_NETWORKS_ALL_FLAGS 0x3fu
GPtrArray *hyve_networks_list(HyveNetworks *nets, guint flags, GError **error);
int hyve_networks_num(HyveNetworks *nets, gboolean active);

HyveNetObj *hyve_networks_lookup_by_name(HyveNetworks *nets, const char *name, GError **error);
HyveNetObj *hyve_networks_lookup_by_uuid(HyveNetworks *nets, const guint8 uuid[HYVE_UUID_LEN],
                                         GError **error);

/* ---- lifecycle ------------------------------------------------------------ */

/* virNetworkDefineXML(Flags): flags VALIDATE 1 (against network.rng; hyve's
 * own rules are always checked). A missing UUID/MAC is generated, a missing
 * or "%d" bridge name gets the first free virbrN. Redefining an existing
 * network replaces its persistent definition (an active one keeps the live
 * one until it stops). DEFINED event. New reference. */
#define HYVE_NET_DEFINE_VALIDATE (1u << 0)
HyveNetObj *hyve_networks_define_xml(HyveNetworks *nets, const char *xml, guint flags,
                                     GError **error);
/* virNetworkCreateXML(Flags): a transient network, started at once
 * (STARTED). Flags VALIDATE 1. */
HyveNetObj *hyve_networks_create_xml(HyveNetworks *nets, const char *xml, guint flags,
                                     GError **error);
gboolean hyve_networks_undefine(HyveNetworks *nets, HyveNetObj *net, GError **error);
/* virNetworkCreate: start a defined network (STARTED). */
gboolean hyve_networks_start(HyveNetworks *nets, HyveNetObj *net, GError **error);
/* virNetworkDestroy (STOPPED). Domains with ports on it keep running (their
 * taps lose the bridge), as libvirt. */
gboolean hyve_networks_destroy(HyveNetworks *nets, HyveNetObj *net, GError **error);
gboolean hyve_networks_set_autostart(HyveNetworks *nets, HyveNetObj *net, gboolean autostart,
                                     GError **error);

/* virNetworkGetXMLDesc: flags INACTIVE 1 (the persistent definition). The
 * live XML of an active network has connections='N' when N > 0 and, for
 * nat, <nat><port start='1024' end='65535'/></nat> (as libvirt). */
#define HYVE_NET_XML_INACTIVE (1u << 0)
char *hyve_net_obj_get_xml(HyveNetObj *net, guint flags, GError **error);
/* virNetworkGetBridgeName (g_free). */
char *hyve_net_obj_get_bridge_name(HyveNetObj *net, GError **error);

/* virNetworkUpdate: NO_SUPPORT "this function is not supported by the
 * connection driver: virNetworkUpdate" (hyve has no live update yet). */

/* ---- DHCP leases ---------------------------------------------------------- */

typedef struct {
    char *iface;                /* the network's bridge */
    gint64 expirytime;          /* epoch seconds; 0 = infinite */
    int type;                   /* 0 IPv4, 1 IPv6 (libvirt virIPAddrType) */
    char *mac;                  /* "52:54:00:..", lower case; NULL for some v6 leases */
    char *iaid;                 /* v6 only, else NULL */
    char *ipaddr;
    guint prefix;               /* prefix of the network's first <ip> of that family */
    char *hostname;             /* NULL when dnsmasq wrote '*' */
    char *clientid;             /* NULL when dnsmasq wrote '*' */
} HyveNetLease;
void hyve_net_lease_free(HyveNetLease *lease);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveNetLease, hyve_net_lease_free)

/* virNetworkGetDHCPLeases: the unexpired leases of dnsmasq's lease file
 * (none when the file does not exist yet), only those of @mac when it is
 * not NULL (INVALID_MAC for a malformed one). Works on inactive networks
 * too (libvirt reads the file whatever the state). GPtrArray of
 * HyveNetLease* (free func set), in file order. */
GPtrArray *hyve_net_obj_get_dhcp_leases(HyveNetObj *net, const char *mac, GError **error);

/* ---- ports: the domain side's view ---------------------------------------- */

/* Resolves <interface type='network'><source network='@network'/> for a
 * domain that is starting (or being reattached by a restarted daemon with
 * @reattach TRUE: an inactive network is then not an error and NULL with no
 * error is returned). Returns the bridge a tap must join (g_free): the
 * network's own bridge, or the host bridge of forward mode='bridge'.
 * Counts the port (connections='N' in the live XML). Errors: NO_NETWORK,
 * OPERATION_INVALID "network '%s' is not active". */
char *hyve_networks_port_acquire(HyveNetworks *nets, const char *network, gboolean reattach,
                                 GError **error);
/* The domain stopped: drops the port count (never below 0; an unknown or
 * inactive network is ignored). */
void hyve_networks_port_release(HyveNetworks *nets, const char *network);

/* Leases for one guest MAC on network @network (by name), for
 * DOMAIN_INTERFACE_ADDRESSES with source LEASE. NO_NETWORK when the network
 * is gone. */
GPtrArray *hyve_networks_leases_for_mac(HyveNetworks *nets, const char *network,
                                        const guint8 mac[6], GError **error);

G_END_DECLS
