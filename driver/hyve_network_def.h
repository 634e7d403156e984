/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_def.h: a network definition (libvirt's network XML, the part
 * hyve supports) and its parser/formatter (hyve_network_def.c parse +
 * validate, hyve_network_format.c format). Internal to driver/.
 *
 * Addresses are kept as the text the user wrote, normalised by
 * inet_pton/inet_ntop (so "192.168.122.001" is refused and "::0001" becomes
 * "::1"); the parser has checked them, so consumers may inet_pton them
 * without error handling.
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>
#include "hyve_network.h"

G_BEGIN_DECLS

typedef enum {
    HYVE_NET_FORWARD_NONE,      /* no <forward>: isolated */
    HYVE_NET_FORWARD_NAT,       /* <forward/> or mode='nat' */
    HYVE_NET_FORWARD_ROUTE,
    HYVE_NET_FORWARD_OPEN,
    HYVE_NET_FORWARD_BRIDGE,    /* an existing host bridge: <bridge name=> only */
    HYVE_NET_FORWARD_LAST
} HyveNetForwardMode;
const char *hyve_net_forward_mode_to_string(HyveNetForwardMode mode);   /* "none", "nat", ... */

typedef enum {                  /* on/off attributes that may be absent */
    HYVE_TRISTATE_ABSENT = 0,
    HYVE_TRISTATE_YES,
    HYVE_TRISTATE_NO,
} HyveTristate;

typedef struct {
    char *start;
    char *end;
    guint64 lease_secs;         /* <lease expiry='N' unit='seconds|minutes|hours'/>,
                                 * in seconds; 0 = absent (dnsmasq default 1 h) */
    gboolean lease_infinite;    /* <lease expiry='0'/> */
} HyveNetDhcpRange;

typedef struct {
    char *mac;                  /* v4: "52:54:00:.." lower case, or NULL */
    char *id;                   /* v6: DUID, or NULL */
    char *name;                 /* or NULL */
    char *ip;                   /* or NULL (name-only hosts) */
    guint64 lease_secs;
    gboolean lease_infinite;
} HyveNetDhcpHost;

typedef struct {
    int family;                 /* AF_INET or AF_INET6 (family='ipv6' or a ':' in address) */
    char *address;              /* the host (bridge) address */
    guint prefix;               /* from prefix= or netmask= (v4) */
    gboolean netmask_form;      /* written as netmask= (formatted back the same way) */
    char *localptr;             /* localPtr attribute "yes"/"no", or NULL */
    GPtrArray *ranges;          /* HyveNetDhcpRange* (never NULL) */
    GPtrArray *hosts;           /* HyveNetDhcpHost* (never NULL) */
    gboolean dhcp;              /* a <dhcp> element was present */
    char *tftp_root;            /* <tftp root=> or NULL */
    char *bootp_file;           /* <dhcp><bootp file= server=/> or NULL */
    char *bootp_server;
} HyveNetIpDef;

typedef struct {
    char *addr;                 /* <forwarder addr=>, or NULL */
    char *domain;               /* <forwarder domain=>, or NULL */
} HyveNetDnsForwarder;

typedef struct {
    char *name;
    char *value;
} HyveNetDnsTxt;

typedef struct {
    char *service, *protocol, *domain, *target;   /* domain/target may be NULL */
    guint port, priority, weight;                 /* 0 = absent */
} HyveNetDnsSrv;

typedef struct {
    char *ip;
    GPtrArray *hostnames;       /* char* (never NULL, >= 1 entry) */
} HyveNetDnsHost;

typedef struct {
    HyveTristate enable;                /* <dns enable=> */
    HyveTristate forward_plain_names;   /* <dns forwardPlainNames=> */
    GPtrArray *forwarders;              /* HyveNetDnsForwarder* (never NULL) */
    GPtrArray *txts;                    /* HyveNetDnsTxt* */
    GPtrArray *srvs;                    /* HyveNetDnsSrv* */
    GPtrArray *hosts;                   /* HyveNetDnsHost* */
} HyveNetDnsDef;

typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];         /* generated when absent */
    guint connections;                  /* live XML only (ports in use) */
    HyveTristate ipv6;                  /* <network ipv6=> */

    char *bridge;                       /* after hyve_net_def_assign_bridge always set
                                         * (except forward mode bridge without name:
                                         * refused by the parser) */
    HyveTristate stp;                   /* default on (formatted stp='on') */
    guint delay;                        /* forward delay, seconds (default 0) */
    guint mtu;                          /* 0 = absent */
    guint8 mac[6];
    gboolean mac_set;                   /* generated 52:54:00:xx:xx:xx at define
                                         * for modes with an own bridge */

    HyveNetForwardMode forward;
    char *forward_dev;                  /* <forward dev=> or NULL */
    guint nat_port_start, nat_port_end; /* <nat><port>; 0/0 = absent (live nat: 1024-65535) */
    char *nat_addr_start, *nat_addr_end;/* <nat><address>; NULL = absent */

    char *domain_name;                  /* <domain name=> or NULL */
    HyveTristate domain_local_only;     /* <domain localOnly=> */
    HyveNetDnsDef dns;
    GPtrArray *ips;                     /* HyveNetIpDef* (never NULL), document order */
    GPtrArray *dnsmasq_options;         /* char*: <dnsmasq:options><dnsmasq:option value=> */
    char *metadata;                     /* <metadata> subtree as XML text, or NULL */
} HyveNetworkDef;

HyveNetworkDef *hyve_net_def_new(void);
void hyve_net_def_free(HyveNetworkDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveNetworkDef, hyve_net_def_free)
HyveNetworkDef *hyve_net_def_copy(const HyveNetworkDef *def);

/* Parses and checks a network definition. With @validate the text is first
 * checked against @schema_dir/network.rng (XML_INVALID_SCHEMA 92 "XML
 * document failed to validate against schema: ...", as storage does).
 * Always: well-formed XML (XML_ERROR), name present (NO_NAME "missing name
 * for network", as the storage parser does for pools), no '/' in the name
 * (XML_ERROR), well-formed addresses, prefix <= 32/128, ranges inside the
 * subnet with start <= end, static hosts inside the subnet, at most one IPv4
 * and one IPv6 <ip> with <dhcp> (libvirt's CONFIG_UNSUPPORTED text), forward
 * modes other than none/nat/route/open/bridge refused with
 * CONFIG_UNSUPPORTED, and the per-mode rules of libvirt's networkValidate
 * (mode bridge: a bridge name is required and no <ip>/<mac>/<dns>/<domain>).
 * portgroup, bandwidth, vlan, virtualport, port isolated: CONFIG_UNSUPPORTED
 * naming the element.
 * Fills in: UUID when absent; forward 'nat' for <forward/>. Does NOT pick
 * the bridge name or MAC (hyve_net_def_assign_bridge, which needs the
 * other networks). */
HyveNetworkDef *hyve_net_def_parse_string(const char *xml, const char *schema_dir,
                                          gboolean validate, GError **error);

/* Picks defaults that depend on other networks: a missing bridge name, or
 * one containing "%d", becomes the first virbrN (N = 0..255) that
 * @in_use(name, @data) says is free (the caller's callback checks the other
 * definitions and host devices); none free: INTERNAL_ERROR "Bridge
 * generation exceeded max id 256". Generates the MAC when !mac_set and the
 * mode has an own bridge. */
typedef gboolean (*HyveNetBridgeInUseFunc)(const char *bridge, gpointer data);
gboolean hyve_net_def_assign_bridge(HyveNetworkDef *def, HyveNetBridgeInUseFunc in_use,
                                    gpointer data, GError **error);

/* Formats the definition as libvirt does (network.rng-valid; golden files
 * tests/unit/driver/network/). @live: include connections='N' (when > 0)
 * and, for nat without a port range, <nat><port start='1024'
 * end='65535'/></nat>. */
char *hyve_net_def_format(const HyveNetworkDef *def, gboolean live);

/* Helpers for the host side. */
/* The subnet of @ip as network address bytes (4 or 16) masked by prefix. */
void hyve_net_ip_subnet(const HyveNetIpDef *ip, guint8 out[16]);
/* "192.168.122.0/24" (g_free). */
char *hyve_net_ip_subnet_string(const HyveNetIpDef *ip);
/* TRUE when the two subnets (same family) overlap. */
gboolean hyve_net_ip_overlap(const HyveNetIpDef *a, const HyveNetIpDef *b);
/* First <ip> of @family, or NULL. */
const HyveNetIpDef *hyve_net_def_first_ip(const HyveNetworkDef *def, int family);
/* TRUE for modes where hyve makes the bridge (none, nat, route, open). */
gboolean hyve_net_def_has_own_bridge(const HyveNetworkDef *def);

G_END_DECLS
