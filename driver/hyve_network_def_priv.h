/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_network_def_priv.h: what the network XML files share
 * (hyve_network_def.c: the document, bridge, metadata, helpers;
 * hyve_network_forward.c: <forward>, the per-mode checks;
 * hyve_network_ip.c: <ip>; hyve_network_dns.c: <dns>, new/free/copy;
 * hyve_network_format.c: format, subnets). */
#pragma once

#include <libxml/tree.h>
#include "hyve_network_def.h"

G_BEGIN_DECLS

#define HYVE_NET_DNSMASQ_NS "http://libvirt.org/schemas/network/dnsmasq/1.0"
#define HYVE_NET_MAX_BRIDGE_ID 256

/* Parses @s as an address of @family (AF_UNSPEC: either) with inet_pton:
 * *@norm (g_free) the inet_ntop form, @bytes (16, may be NULL) the
 * address, returns the family or 0 when @s is not an address. */
int hyve_net_addr_parse(const char *s, int family, char **norm, guint8 *bytes);
/* yes/no (on/off) attribute @attr of @node (NULL-safe) into @out;
 * XML_ERROR for another value. */
gboolean hyve_net_parse_tristate(xmlNodePtr node, const char *attr, HyveTristate *out,
                                 GError **error);
/* CONFIG_UNSUPPORTED when @root has an element child (no namespace) named
 * in the NULL-terminated @names. */
gboolean hyve_net_unsupported_element(xmlNodePtr root, const char *const *names,
                                      GError **error);
/* <dnsmasq:options> and <metadata> of the root element @root. */
void hyve_net_parse_dnsmasq_options(HyveNetworkDef *def, xmlNodePtr root);
void hyve_net_parse_metadata(HyveNetworkDef *def, xmlNodePtr root);
/* A network device name: 1..15 bytes of [A-Za-z0-9_.-] (plus one "%d"
 * template when @template), not "." or "..". */
gboolean hyve_net_device_name_ok(const char *s, gboolean template);
/* <forward> of the root element (none: isolated). */
gboolean hyve_net_parse_forward(HyveNetworkDef *def, xmlNodePtr root, GError **error);
/* One <ip> element, appended to def->ips. */
gboolean hyve_net_parse_ip(HyveNetworkDef *def, xmlNodePtr node, GError **error);
/* <dns> (NULL: nothing). */
gboolean hyve_net_parse_dns(HyveNetworkDef *def, xmlNodePtr node, GError **error);
/* The whole-definition rules of libvirt's networkValidate (per mode,
 * DHCP on one <ip> per family). */
gboolean hyve_net_def_check(const HyveNetworkDef *def, GError **error);
/* Free functions of the ranges/hosts arrays of an <ip>. */
void hyve_net_dhcp_range_free(gpointer p);
void hyve_net_dhcp_host_free(gpointer p);

G_END_DECLS
