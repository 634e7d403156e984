/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_priv.h: what driver/hyve_network*.c share.
 *
 *   hyve_network.c           HyveNetworks: new/free/shutdown, list, lookups,
 *                            events, objects (refs, getters)          [core]
 *   hyve_network_files.c     config/status files, autostart links, loading
 *                            and recovery at start, default network   [core]
 *   hyve_network_ops.c       define/create/undefine/start/destroy/autostart,
 *                            the start and stop sequences with unwinding,
 *                            ports, leases API                        [core]
 *   hyve_network_def.c       XML parse + checks; hyve_network_format.c
 *                            format + subnet helpers                  [xml]
 *   hyve_network_bridge.c    bridge device, addresses, STP, MTU, sysctls,
 *                            route collision                          [host]
 *   hyve_network_firewall.c  nftables table per network (nft -f)      [host]
 *   hyve_network_dnsmasq.c   dnsmasq config files, spawn, pid, stop   [dnsmasq]
 *   hyve_network_leases.c    dnsmasq lease file parser                [dnsmasq]
 *
 * Locking: nets->lock (the list) before net->lock, never the other way.
 * Host work (bridge, nft, dnsmasq) runs under net->lock only (not the list
 * lock): a second start/destroy of the same network waits, others go on.
 * Start sequence (hyve_network_ops.c): route collision check -> bridge
 * (create, MAC, MTU, STP, IPv6 sysctls, addresses, up, forwarding) ->
 * firewall table (not for open) -> dnsmasq (when it has an <ip> and DHCP or
 * DNS) -> status file. Any failure undoes the steps already done, in
 * reverse. Stop: dnsmasq, firewall, bridge, status file. Forward mode
 * bridge: nothing on the host (the bridge is the user's).
 */
#pragma once

#include <sys/types.h>
#include "hyve_network.h"
#include "hyve_network_def.h"

G_BEGIN_DECLS

/* Refuses flag bits outside @supported (libvirt's INVALID_ARG text) from
 * domain NETWORK; in a function with GError **error. */
#define HYVE_NETWORK_CHECK_FLAGS(flags, supported, ret) \
    do { \
        if ((flags) & ~(guint)(supported)) { \
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INVALID_ARG, \
                           "unsupported flags (0x%x) in function %s", \
                           (guint)((flags) & ~(guint)(supported)), G_STRFUNC); \
            return ret; \
        } \
    } while (0)

/* ---- objects (hyve_network.c) ------------------------------------------ */

struct _HyveNetObj {
    gint refs;
    GMutex lock;
    HyveNetworks *owner;        /* not a reference; NULL once removed from the list */
    HyveNetworkDef *def;        /* live definition when active, else the persistent one */
    HyveNetworkDef *newdef;     /* persistent definition waiting for the active one to stop */
    gboolean active;
    gboolean persistent;
    gboolean autostart;
    pid_t dnsmasq_pid;          /* 0 = none */
    guint connections;          /* ports in use (domains' NICs), mirrored in def->connections */
    gboolean removed;           /* taken out of the list (undefined + inactive) */
};

struct _HyveNetworks {
    GMutex lock;                /* the list */
    GHashTable *by_name;        /* name -> HyveNetObj* (reference) */
    gboolean privileged;
    char *config_dir;           /* <config_dir>/networks */
    char *autostart_dir;        /* <config_dir>/networks/autostart */
    char *state_dir;            /* <state_dir>/network (status + dnsmasq files) */
    char *schema_dir;
    GMutex event_lock;          /* serialises sink calls, in state-change order */
    HyveNetEventSink sink;
    gpointer sink_data;
};

/* Queue/emit an event (hyve_network.c). Called with no network lock held. */
void hyve_networks_emit(HyveNetworks *nets, HyveNetObj *net, HyveNetLifecycleEvent event);

/* ---- host side: bridge (hyve_network_bridge.c) --------------------------- */

/* Brings up the network's own bridge: create def->bridge (SYSTEM_ERROR
 * "error creating bridge interface %s: %s" with the errno text, EEXIST
 * included) with def->mac, MTU, STP (def->stp, default on) and forward
 * delay, IPv6 sysctls of the bridge (disable_ipv6=1 when no IPv6 <ip>,
 * accept_ra=0, autoconf=0; via /proc/sys/net/ipv6/conf/BR/ which is
 * per network namespace, never /sys), every <ip> address (IPv4 and IPv6),
 * link up, then IP forwarding (/proc/sys/net/ipv4/ip_forward and, with an
 * IPv6 <ip>, /proc/sys/net/ipv6/conf/all/forwarding = 1) unless forward is
 * none; forwarding is never reset. On failure the bridge is deleted again.
 * Only for hyve_net_def_has_own_bridge() networks. */
gboolean hyve_net_bridge_start(const HyveNetworkDef *def, GError **error);
/* Link down + delete; a bridge already gone is not an error. */
gboolean hyve_net_bridge_stop(const HyveNetworkDef *def, GError **error);
/* TRUE when a network device named @name exists (if_nametoindex). */
gboolean hyve_net_device_exists(const char *name);
/* Start-time subnet check: a route in /proc/net/route (or
 * /proc/net/ipv6_route) with exactly the subnet of one of def's <ip>
 * (libvirt's networkCheckRouteCollision) -> INTERNAL_ERROR "Network is
 * already in use by interface %s". */
gboolean hyve_net_route_collision_check(const HyveNetworkDef *def, GError **error);

/* ---- host side: firewall (hyve_network_firewall.c) ------------------------ */

/* nftables: one table per network, "table inet hyve_<name>" (names with
 * characters outside [A-Za-z0-9_-] use the bridge name instead), holding
 * libvirt's rules for the mode (nat: masquerade + forward rules; route;
 * none: isolation; open: no table at all). Rules match interface NAMES
 * (iifname/oifname) so they can load before the bridge exists. */
char *hyve_net_firewall_table_name(const HyveNetworkDef *def);
/* The whole `nft -f` script that (re)places the table atomically: an
 * empty "table inet X {}" + "delete table inet X" + the table. Golden
 * texts in tests/unit/driver/network/nft/. NULL for open / bridge mode. */
char *hyve_net_firewall_script(const HyveNetworkDef *def);
/* Runs `nft -f -` (argv, no shell; nft from PATH, else /usr/sbin/nft) with
 * the script; failure -> INTERNAL_ERROR with nft's stderr. Nothing to do
 * for open/bridge. */
gboolean hyve_net_firewall_add(const HyveNetworkDef *def, GError **error);
/* Removes the table (no error if it is absent). */
gboolean hyve_net_firewall_remove(const HyveNetworkDef *def, GError **error);

/* ---- dnsmasq (hyve_network_dnsmasq.c, hyve_network_leases.c) -------------- */

/* Files of network @name in @dir (= nets->state_dir): "<dir>/<name>.<ext>"
 * for ext conf, hostsfile, addnhosts, pid, leases. g_free. */
char *hyve_dnsmasq_file(const char *dir, const char *name, const char *ext);
/* TRUE when the network needs a dnsmasq: it has an own bridge, an <ip>,
 * and DHCP (a <dhcp> with ranges or hosts) or DNS (dns enable != no). */
gboolean hyve_dnsmasq_needed(const HyveNetworkDef *def);
/* The config text (libvirt's networkDnsmasqConfContents order; golden
 * texts in tests/unit/driver/network/dnsmasq/). Uses the file names of
 * hyve_dnsmasq_file(dir, def->name, ...). */
char *hyve_dnsmasq_conf_text(const HyveNetworkDef *def, const char *dir);
/* Writes conf/hostsfile/addnhosts, runs `dnsmasq --conf-file=...
 * --dhcp-leasefile=<dir>/<name>.leases` (dnsmasq from PATH, else
 * /usr/sbin/dnsmasq; argv, no shell), which daemonizes; waits for it and
 * reads the pid file. Failure: INTERNAL_ERROR with dnsmasq's stderr. */
gboolean hyve_dnsmasq_start(const HyveNetworkDef *def, const char *dir, pid_t *pid,
                            GError **error);
/* TRUE when @pid is alive and is a dnsmasq (/proc/PID/exe basename
 * "dnsmasq", or its cmdline names our conf file). */
gboolean hyve_dnsmasq_alive(pid_t pid, const HyveNetworkDef *def, const char *dir);
/* SIGTERM, wait up to ~2 s, then SIGKILL; removes the pid file. 0 is a no-op. */
void hyve_dnsmasq_stop(pid_t pid, const char *dir, const char *name);
/* Removes conf/hostsfile/addnhosts/pid/leases (when the network object goes
 * away, as libvirt's networkRemoveInactive). */
void hyve_dnsmasq_remove_files(const char *dir, const char *name);

/* Parses dnsmasq's lease file text (v4 lines "EXPIRY MAC IP HOST|* CLID|*",
 * "duid ..." then v6 lines "EXPIRY IAID IP6 HOST|* DUID"). Skips expired
 * (0 < expiry < @now) and malformed lines; keeps only @mac (lower-cased
 * compare) when not NULL. @iface, prefixes from @def's first <ip> of each
 * family. GPtrArray of HyveNetLease* (free func set). */
GPtrArray *hyve_dnsmasq_leases_parse(const char *text, const HyveNetworkDef *def,
                                     const char *mac, gint64 now);
/* Reads the lease file (missing -> empty array) and parses it; re-reads when
 * the file changed during the read (dnsmasq rewrites it in place). */
GPtrArray *hyve_dnsmasq_leases_read(const char *dir, const HyveNetworkDef *def,
                                    const char *mac, GError **error);

G_END_DECLS
