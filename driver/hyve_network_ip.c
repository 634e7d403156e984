/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_ip.c: the <ip> (addresses, DHCP ranges, static hosts,
 * leases, tftp/bootp) and <dns> parts of a network definition, and the
 * whole-definition rules of libvirt's networkValidate, with libvirt's
 * messages (virNetworkIPDefParseXML, virNetworkDHCPDefParseXML,
 * virNetworkDNSDefParseXML, virSocketAddrGetRange).
 */
#include "hyve-config.h"

#include <string.h>
#include <arpa/inet.h>
#include <libxml/tree.h>
#include "hyve_network_priv.h"
#include "hyve_network_def_priv.h"
#include "hyve_domain_def.h"
#include "hyve_domain_parse_priv.h"

#define NET_ERR(code, ...) hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_##code, __VA_ARGS__)

int
hyve_net_addr_parse(const char *s, int family, char **norm, guint8 *bytes)
{
    guint8 buf[16] = { 0 };
    char out[INET6_ADDRSTRLEN];
    int f = 0;

    if (!s)
        return 0;
    if ((family == AF_UNSPEC || family == AF_INET) && inet_pton(AF_INET, s, buf) == 1)
        f = AF_INET;
    else if ((family == AF_UNSPEC || family == AF_INET6) && inet_pton(AF_INET6, s, buf) == 1)
        f = AF_INET6;
    if (!f)
        return 0;
    if (norm)
        *norm = g_strdup(inet_ntop(f, buf, out, sizeof(out)));
    if (bytes)
        memcpy(bytes, buf, 16);
    return f;
}

/* Bytes of @s, known to be an address of @ip's family. */
static void
addr_bytes(const char *s, int family, guint8 out[16])
{
    memset(out, 0, 16);
    inet_pton(family, s, out);
}

static gboolean
in_subnet(const HyveNetIpDef *ip, const guint8 a[16])
{
    guint8 net[16], other[16];
    HyveNetIpDef tmp = *ip;
    char str[INET6_ADDRSTRLEN];

    hyve_net_ip_subnet(ip, net);
    tmp.address = (char *)inet_ntop(ip->family, a, str, sizeof(str));
    hyve_net_ip_subnet(&tmp, other);
    return memcmp(net, other, 16) == 0;
}

/* libvirt's checks on a DHCP range (virSocketAddrGetRange). */
static gboolean
check_range(const HyveNetIpDef *ip, const HyveNetDhcpRange *r, GError **error)
{
    g_autofree char *sub = hyve_net_ip_subnet_string(ip);
    guint len = ip->family == AF_INET ? 4 : 16;
    guint8 s[16], e[16], net[16];

    addr_bytes(r->start, ip->family, s);
    addr_bytes(r->end, ip->family, e);
    if (!in_subnet(ip, s) || !in_subnet(ip, e)) {
        NET_ERR(INTERNAL_ERROR, "range %s - %s is not entirely within network %s", r->start,
                r->end, sub);
        return FALSE;
    }
    hyve_net_ip_subnet(ip, net);
    if (ip->family == AF_INET) {
        guint32 host_mask = ip->prefix >= 32 ? 0 : (G_MAXUINT32 >> ip->prefix);
        guint32 ev = (guint32)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];

        if (memcmp(s, net, 4) == 0 && ip->prefix < 31) {
            NET_ERR(INTERNAL_ERROR, "start of range %s - %s in network %s is the network "
                    "address", r->start, r->end, sub);
            return FALSE;
        }
        if (host_mask && (ev & host_mask) == host_mask && ip->prefix < 31) {
            NET_ERR(INTERNAL_ERROR, "end of range %s - %s in network %s is the broadcast "
                    "address", r->start, r->end, sub);
            return FALSE;
        }
    }
    if (memcmp(s, e, len) > 0) {
        NET_ERR(INTERNAL_ERROR, ip->family == AF_INET ? "range %s - %s is reversed" :
                "range %s - %s start larger than end", r->start, r->end);
        return FALSE;
    }
    if (memcmp(s, e, len - 2) != 0) {
        NET_ERR(INTERNAL_ERROR, "range %s - %s is too large (> 65535)", r->start, r->end);
        return FALSE;
    }
    return TRUE;
}

/* <lease expiry='N' unit='seconds|minutes|hours'/> (default minutes). */
static gboolean
parse_lease(xmlNodePtr parent, guint64 *secs, gboolean *infinite, GError **error)
{
    xmlNodePtr lease = hyve_xml_child(parent, "lease");
    g_autofree char *expiry = hyve_xml_attr(lease, "expiry");
    g_autofree char *unit = hyve_xml_attr(lease, "unit");
    guint64 n, mult = 60;

    *secs = 0;
    *infinite = FALSE;
    if (!expiry)
        return TRUE;
    if (!g_ascii_string_to_unsigned(expiry, 10, 0, G_MAXUINT64, &n, NULL)) {
        NET_ERR(XML_ERROR, "Invalid value for attribute 'expiry' in element 'lease': '%s'.",
                expiry);
        return FALSE;
    }
    if (unit && g_str_equal(unit, "seconds")) {
        mult = 1;
    } else if (unit && g_str_equal(unit, "hours")) {
        mult = 3600;
    } else if (unit && !g_str_equal(unit, "minutes")) {
        NET_ERR(XML_ERROR, "Invalid value for attribute 'unit' in element 'lease': '%s'.",
                unit);
        return FALSE;
    }
    if (n == 0) {
        *infinite = TRUE;
        return TRUE;
    }
    if (n > G_MAXUINT32 / mult) {     /* dnsmasq takes a 32-bit number of seconds */
        NET_ERR(XML_ERROR, "Invalid value for attribute 'expiry' in element 'lease': '%s'.",
                expiry);
        return FALSE;
    }
    if (n * mult < 120) {
        NET_ERR(CONFIG_UNSUPPORTED, "The minimum lease time should be greater than 2 minutes");
        return FALSE;
    }
    *secs = n * mult;
    return TRUE;
}

static gboolean
parse_range(const HyveNetworkDef *def, HyveNetIpDef *ip, xmlNodePtr node, GError **error)
{
    g_autofree char *start = hyve_xml_attr(node, "start");
    g_autofree char *end = hyve_xml_attr(node, "end");
    HyveNetDhcpRange *r = g_new0(HyveNetDhcpRange, 1);

    g_ptr_array_add(ip->ranges, r);
    if (!start || !end) {
        NET_ERR(XML_ERROR, "Missing '%s' attribute in dhcp range for network '%s'",
                start ? "end" : "start", def->name);
        return FALSE;
    }
    if (hyve_net_addr_parse(start, AF_UNSPEC, &r->start, NULL) != ip->family ||
        hyve_net_addr_parse(end, AF_UNSPEC, &r->end, NULL) != ip->family) {
        NET_ERR(XML_ERROR, "Invalid dhcp range '%s' to '%s' in network '%s'", start, end,
                def->name);
        return FALSE;
    }
    return check_range(ip, r, error) &&
           parse_lease(node, &r->lease_secs, &r->lease_infinite, error);
}

static gboolean
parse_host(const HyveNetworkDef *def, HyveNetIpDef *ip, xmlNodePtr node, GError **error)
{
    HyveNetDhcpHost *h = g_new0(HyveNetDhcpHost, 1);
    g_autofree char *ipstr = hyve_xml_attr(node, "ip");
    guint8 mac[6], a[16];

    g_ptr_array_add(ip->hosts, h);
    h->mac = hyve_xml_attr(node, "mac");
    h->id = hyve_xml_attr(node, "id");
    h->name = hyve_xml_attr(node, "name");
    if (h->mac) {
        char norm[18];

        if (ip->family == AF_INET6) {
            NET_ERR(XML_ERROR, "Invalid to specify MAC address '%s' in network '%s' IPv6 "
                    "static host definition", h->mac, def->name);
            return FALSE;
        }
        if (!hyve_mac_parse(h->mac, mac)) {
            NET_ERR(XML_ERROR, "Cannot parse MAC address '%s' in network '%s'", h->mac,
                    def->name);
            return FALSE;
        }
        if (mac[0] & 1) {
            NET_ERR(XML_ERROR, "expected unicast mac address, found multicast '%s' in "
                    "network '%s'", h->mac, def->name);
            return FALSE;
        }
        hyve_mac_format(mac, norm);
        g_free(h->mac);
        h->mac = g_strdup(norm);
    }
    if (h->id && h->id[strspn(h->id, "0123456789abcdefABCDEF:")]) {
        NET_ERR(XML_ERROR, "Invalid character '%c' in id '%s' of network '%s'",
                h->id[strspn(h->id, "0123456789abcdefABCDEF:")], h->id, def->name);
        return FALSE;
    }
    if (h->name && !g_ascii_isalnum(h->name[0])) {
        NET_ERR(XML_ERROR, "Cannot use host name '%s' in network '%s'", h->name, def->name);
        return FALSE;
    }
    if (ipstr && !hyve_net_addr_parse(ipstr, AF_UNSPEC, &h->ip, a)) {
        NET_ERR(XML_ERROR, "Invalid IP address in static host definition for network '%s'",
                def->name);
        return FALSE;
    }
    if (ip->family == AF_INET6 ? !(h->id || h->name) : !(h->mac || h->name)) {
        NET_ERR(XML_ERROR, "Static host definition in IPv%c network '%s' must have %s or name "
                "attribute", ip->family == AF_INET6 ? '6' : '4', def->name,
                ip->family == AF_INET6 ? "id" : "mac");
        return FALSE;
    }
    if (!h->ip) {
        NET_ERR(XML_ERROR, "Missing IP address in static host definition for network '%s'",
                def->name);
        return FALSE;
    }
    if (hyve_net_addr_parse(h->ip, ip->family, NULL, NULL) != ip->family || !in_subnet(ip, a)) {
        g_autofree char *sub = hyve_net_ip_subnet_string(ip);

        NET_ERR(XML_ERROR, "static host address %s is not within network %s in network '%s'",
                h->ip, sub, def->name);
        return FALSE;
    }
    return parse_lease(node, &h->lease_secs, &h->lease_infinite, error);
}

static gboolean
parse_dhcp(const HyveNetworkDef *def, HyveNetIpDef *ip, xmlNodePtr dhcp, GError **error)
{
    xmlNodePtr bootp = hyve_xml_child(dhcp, "bootp");

    ip->dhcp = TRUE;
    for (xmlNodePtr c = dhcp->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal((const char *)c->name, "range") && !parse_range(def, ip, c, error))
            return FALSE;
        if (g_str_equal((const char *)c->name, "host") && !parse_host(def, ip, c, error))
            return FALSE;
    }
    if (bootp && ip->family == AF_INET) {
        g_autofree char *server = hyve_xml_attr(bootp, "server");

        if (!(ip->bootp_file = hyve_xml_attr(bootp, "file"))) {
            NET_ERR(XML_ERROR, "Missing required attribute 'file' in element 'bootp'");
            return FALSE;
        }
        if (server && !hyve_net_addr_parse(server, AF_UNSPEC, &ip->bootp_server, NULL)) {
            NET_ERR(XML_ERROR, "Invalid bootp server address '%s' in network '%s'", server,
                    def->name);
            return FALSE;
        }
    }
    return TRUE;
}

/* Prefix of an <ip> without netmask= or prefix= (libvirt's
 * virNetworkIPDefPrefix: the address class for IPv4, 64 for IPv6). */
static int
natural_prefix(const HyveNetIpDef *ip, const guint8 a[16])
{
    if (ip->family == AF_INET6)
        return 64;
    if ((a[0] & 0x80) == 0)
        return 8;
    if ((a[0] & 0xc0) == 0x80)
        return 16;
    if ((a[0] & 0xe0) == 0xc0)
        return 24;
    return -1;
}

/* netmask= to a prefix; -1 for a mask with holes. */
static int
mask_prefix(const guint8 m[4])
{
    guint32 v = (guint32)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3];
    int n = 0;

    while (n < 32 && (v & (0x80000000u >> n)))
        n++;
    return (n < 32 && (v << n)) ? -1 : n;
}

gboolean
hyve_net_parse_ip(HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetIpDef *ip = g_new0(HyveNetIpDef, 1);
    g_autofree char *family = hyve_xml_attr(node, "family");
    g_autofree char *address = hyve_xml_attr(node, "address");
    g_autofree char *netmask = hyve_xml_attr(node, "netmask");
    g_autofree char *prefix = hyve_xml_attr(node, "prefix");
    xmlNodePtr dhcp = hyve_xml_child(node, "dhcp"), tftp = hyve_xml_child(node, "tftp");
    HyveTristate localptr;
    guint8 a[16], m[16];
    guint64 p = 0;
    int natural;

    ip->ranges = g_ptr_array_new_with_free_func(hyve_net_dhcp_range_free);
    ip->hosts = g_ptr_array_new_with_free_func(hyve_net_dhcp_host_free);
    g_ptr_array_add(def->ips, ip);
    if (!address) {
        NET_ERR(XML_ERROR, "Missing required address attribute in network '%s'", def->name);
        return FALSE;
    }
    if (!(ip->family = hyve_net_addr_parse(address, AF_UNSPEC, &ip->address, a))) {
        NET_ERR(XML_ERROR, "Invalid address '%s' in network '%s'", address, def->name);
        return FALSE;
    }
    if (netmask && hyve_net_addr_parse(netmask, AF_UNSPEC, NULL, m) == 0) {
        NET_ERR(XML_ERROR, "Invalid netmask '%s' in network '%s'", netmask, def->name);
        return FALSE;
    }
    if (prefix && !g_ascii_string_to_unsigned(prefix, 10, 0, G_MAXUINT32, &p, NULL)) {
        NET_ERR(XML_ERROR, "Invalid value for attribute 'prefix' in element 'ip': '%s'.",
                prefix);
        return FALSE;
    }
    if (!hyve_net_parse_tristate(node, "localPtr", &localptr, error))
        return FALSE;
    if (localptr)
        ip->localptr = g_strdup(localptr == HYVE_TRISTATE_YES ? "yes" : "no");
    if (!family || g_str_equal(family, "ipv4")) {
        if (ip->family != AF_INET) {
            NET_ERR(CONFIG_UNSUPPORTED, "%s family specified for non-IPv4 address '%s' in "
                    "network '%s'", family ? "ipv4" : "no", address, def->name);
            return FALSE;
        }
        if (netmask) {
            if (!hyve_net_addr_parse(netmask, AF_INET, NULL, NULL) || mask_prefix(m) < 0) {
                NET_ERR(CONFIG_UNSUPPORTED, "Invalid netmask '%s' for address '%s' in network "
                        "'%s' (both must be IPv4)", netmask, address, def->name);
                return FALSE;
            }
            if (prefix) {
                NET_ERR(CONFIG_UNSUPPORTED, "Network '%s' IP address cannot have both a "
                        "prefix and a netmask", def->name);
                return FALSE;
            }
            p = mask_prefix(m);
            ip->netmask_form = TRUE;
        } else if (p > 32) {
            NET_ERR(CONFIG_UNSUPPORTED, "Invalid IPv4 prefix '%" G_GUINT64_FORMAT "' in "
                    "network '%s'", p, def->name);
            return FALSE;
        }
    } else if (g_str_equal(family, "ipv6")) {
        if (ip->family != AF_INET6) {
            NET_ERR(CONFIG_UNSUPPORTED, "Family 'ipv6' specified for non-IPv6 address '%s' in "
                    "network '%s'", address, def->name);
            return FALSE;
        }
        if (netmask) {
            NET_ERR(CONFIG_UNSUPPORTED, "netmask not allowed for IPv6 address '%s' in network "
                    "'%s'", address, def->name);
            return FALSE;
        }
        if (p > 128) {
            NET_ERR(CONFIG_UNSUPPORTED, "Invalid IPv6 prefix '%" G_GUINT64_FORMAT "' in "
                    "network '%s'", p, def->name);
            return FALSE;
        }
    } else {
        NET_ERR(XML_ERROR, "Unrecognized family '%s' in network '%s'", family, def->name);
        return FALSE;
    }
    natural = natural_prefix(ip, a);
    if (!netmask && p == 0 && natural < 0) {
        NET_ERR(XML_ERROR, "no netmask or prefix for address '%s' in network '%s'", address,
                def->name);
        return FALSE;
    }
    ip->prefix = (netmask || p) ? (guint)p : (guint)natural;
    if (dhcp && !parse_dhcp(def, ip, dhcp, error))
        return FALSE;
    if (tftp) {
        if (ip->family != AF_INET) {
            NET_ERR(CONFIG_UNSUPPORTED, "Unsupported <tftp> element in an IPv6 element in "
                    "network '%s'", def->name);
            return FALSE;
        }
        ip->tftp_root = hyve_xml_attr(tftp, "root");
    }
    return TRUE;
}
