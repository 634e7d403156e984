/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_format.c: HyveNetworkDef -> libvirt's network XML (the
 * element order and forms of virNetworkDefFormatBuf, 2-space indentation,
 * so the output validates against network.rng and parses back to the same
 * text) and the subnet arithmetic the host side uses.
 */
#include "hyve-config.h"

#include <string.h>
#include <arpa/inet.h>
#include "hyve_network_priv.h"
#include "hyve_network_def_priv.h"
#include "hyve_domain_def.h"

/* ---- subnets --------------------------------------------------------------- */

/* Masks @bytes (len 4 or 16) to its first @prefix bits. */
static void
mask_bytes(guint8 *bytes, guint len, guint prefix)
{
    for (guint i = 0; i < len; i++) {
        guint bits = prefix > i * 8 ? prefix - i * 8 : 0;

        if (bits < 8)
            bytes[i] &= (guint8)(0xff00 >> bits);
    }
}

void
hyve_net_ip_subnet(const HyveNetIpDef *ip, guint8 out[16])
{
    memset(out, 0, 16);
    inet_pton(ip->family, ip->address, out);
    mask_bytes(out, ip->family == AF_INET ? 4 : 16, ip->prefix);
}

char *
hyve_net_ip_subnet_string(const HyveNetIpDef *ip)
{
    guint8 net[16];
    char str[INET6_ADDRSTRLEN];

    hyve_net_ip_subnet(ip, net);
    return g_strdup_printf("%s/%u", inet_ntop(ip->family, net, str, sizeof(str)), ip->prefix);
}

gboolean
hyve_net_ip_overlap(const HyveNetIpDef *a, const HyveNetIpDef *b)
{
    guint8 x[16] = { 0 }, y[16] = { 0 };
    guint len = a->family == AF_INET ? 4 : 16;
    guint prefix = MIN(a->prefix, b->prefix);

    if (a->family != b->family)
        return FALSE;
    inet_pton(a->family, a->address, x);
    inet_pton(b->family, b->address, y);
    mask_bytes(x, len, prefix);
    mask_bytes(y, len, prefix);
    return memcmp(x, y, len) == 0;
}

const HyveNetIpDef *
hyve_net_def_first_ip(const HyveNetworkDef *def, int family)
{
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        if (ip->family == family)
            return ip;
    }
    return NULL;
}

gboolean
hyve_net_def_has_own_bridge(const HyveNetworkDef *def)
{
    return def->forward == HYVE_NET_FORWARD_NONE || def->forward == HYVE_NET_FORWARD_NAT ||
           def->forward == HYVE_NET_FORWARD_ROUTE || def->forward == HYVE_NET_FORWARD_OPEN;
}

/* ---- format ------------------------------------------------------------------ */

static const char *
tristate(HyveTristate t)
{
    return t == HYVE_TRISTATE_YES ? "yes" : "no";
}

/* " name='value'" (escaped), nothing when @value is NULL */
static void
attr(GString *buf, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(buf, " %s='", name);
    hyve_xml_escape(buf, value);
    g_string_append_c(buf, '\'');
}

/* closes an element whose only possible child is <lease> */
static void
lease_close(GString *buf, int indent, const char *tag, guint64 secs, gboolean infinite)
{
    if (!secs && !infinite) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    if (infinite)
        g_string_append_printf(buf, "%*s<lease expiry='0'/>\n", indent + 2, "");
    else if (secs % 3600 == 0)
        g_string_append_printf(buf, "%*s<lease expiry='%" G_GUINT64_FORMAT "' unit='hours'/>\n",
                               indent + 2, "", secs / 3600);
    else if (secs % 60 == 0)
        g_string_append_printf(buf, "%*s<lease expiry='%" G_GUINT64_FORMAT
                               "' unit='minutes'/>\n", indent + 2, "", secs / 60);
    else
        g_string_append_printf(buf, "%*s<lease expiry='%" G_GUINT64_FORMAT
                               "' unit='seconds'/>\n", indent + 2, "", secs);
    g_string_append_printf(buf, "%*s</%s>\n", indent, "", tag);
}

static void
format_forward(GString *buf, const HyveNetworkDef *def, gboolean live)
{
    guint pstart = def->nat_port_start, pend = def->nat_port_end;
    gboolean nat = def->forward == HYVE_NET_FORWARD_NAT;

    if (def->forward == HYVE_NET_FORWARD_NONE)
        return;
    if (nat && live && !pstart && !pend) {
        pstart = 1024;
        pend = 65535;
    }
    g_string_append(buf, "  <forward");
    attr(buf, "dev", def->forward_dev);
    g_string_append_printf(buf, " mode='%s'", hyve_net_forward_mode_to_string(def->forward));
    if (!def->forward_dev && !(nat && (def->nat_addr_start || pstart || pend))) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    if (nat && (def->nat_addr_start || pstart || pend)) {
        g_string_append(buf, "    <nat>\n");
        if (def->nat_addr_start)
            g_string_append_printf(buf, "      <address start='%s' end='%s'/>\n",
                                   def->nat_addr_start, def->nat_addr_end);
        if (pstart || pend)
            g_string_append_printf(buf, "      <port start='%u' end='%u'/>\n", pstart, pend);
        g_string_append(buf, "    </nat>\n");
    }
    if (def->forward_dev) {
        g_string_append(buf, "    <interface");
        attr(buf, "dev", def->forward_dev);
        g_string_append(buf, "/>\n");
    }
    g_string_append(buf, "  </forward>\n");
}

static void
format_dns(GString *buf, const HyveNetDnsDef *dns)
{
    gboolean children = dns->forwarders->len || dns->txts->len || dns->srvs->len ||
                        dns->hosts->len;

    if (!children && !dns->enable && !dns->forward_plain_names)
        return;
    g_string_append(buf, "  <dns");
    if (dns->enable)
        g_string_append_printf(buf, " enable='%s'", tristate(dns->enable));
    if (dns->forward_plain_names)
        g_string_append_printf(buf, " forwardPlainNames='%s'",
                               tristate(dns->forward_plain_names));
    if (!children) {
        g_string_append(buf, "/>\n");
        return;
    }
    g_string_append(buf, ">\n");
    for (guint i = 0; i < dns->forwarders->len; i++) {
        const HyveNetDnsForwarder *f = g_ptr_array_index(dns->forwarders, i);

        g_string_append(buf, "    <forwarder");
        attr(buf, "domain", f->domain);
        attr(buf, "addr", f->addr);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; i < dns->txts->len; i++) {
        const HyveNetDnsTxt *t = g_ptr_array_index(dns->txts, i);

        g_string_append(buf, "    <txt");
        attr(buf, "name", t->name);
        attr(buf, "value", t->value);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; i < dns->srvs->len; i++) {
        const HyveNetDnsSrv *s = g_ptr_array_index(dns->srvs, i);

        g_string_append(buf, "    <srv");
        attr(buf, "service", s->service);
        attr(buf, "protocol", s->protocol);
        attr(buf, "domain", s->domain);
        attr(buf, "target", s->target);
        if (s->port)
            g_string_append_printf(buf, " port='%u'", s->port);
        if (s->priority)
            g_string_append_printf(buf, " priority='%u'", s->priority);
        if (s->weight)
            g_string_append_printf(buf, " weight='%u'", s->weight);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; i < dns->hosts->len; i++) {
        const HyveNetDnsHost *h = g_ptr_array_index(dns->hosts, i);

        g_string_append_printf(buf, "    <host ip='%s'>\n", h->ip);
        for (guint j = 0; j < h->hostnames->len; j++)
            hyve_xml_text_element(buf, 6, "hostname", g_ptr_array_index(h->hostnames, j));
        g_string_append(buf, "    </host>\n");
    }
    g_string_append(buf, "  </dns>\n");
}

static void
format_ip(GString *buf, const HyveNetIpDef *ip)
{
    g_string_append(buf, "  <ip");
    if (ip->family == AF_INET6)
        g_string_append(buf, " family='ipv6'");
    g_string_append_printf(buf, " address='%s'", ip->address);
    if (ip->netmask_form) {
        guint8 m[4] = { 0xff, 0xff, 0xff, 0xff };
        char str[INET_ADDRSTRLEN];

        mask_bytes(m, 4, ip->prefix);
        g_string_append_printf(buf, " netmask='%s'", inet_ntop(AF_INET, m, str, sizeof(str)));
    } else if (ip->prefix > 0) {
        g_string_append_printf(buf, " prefix='%u'", ip->prefix);
    }
    attr(buf, "localPtr", ip->localptr);
    g_string_append(buf, ">\n");
    if (ip->tftp_root) {
        g_string_append(buf, "    <tftp");
        attr(buf, "root", ip->tftp_root);
        g_string_append(buf, "/>\n");
    }
    if (ip->ranges->len || ip->hosts->len || ip->bootp_file) {
        g_string_append(buf, "    <dhcp>\n");
        for (guint i = 0; i < ip->ranges->len; i++) {
            const HyveNetDhcpRange *r = g_ptr_array_index(ip->ranges, i);

            g_string_append_printf(buf, "      <range start='%s' end='%s'", r->start, r->end);
            lease_close(buf, 6, "range", r->lease_secs, r->lease_infinite);
        }
        for (guint i = 0; i < ip->hosts->len; i++) {
            const HyveNetDhcpHost *h = g_ptr_array_index(ip->hosts, i);

            g_string_append(buf, "      <host");
            attr(buf, "mac", h->mac);
            attr(buf, "id", h->id);
            attr(buf, "name", h->name);
            attr(buf, "ip", h->ip);
            lease_close(buf, 6, "host", h->lease_secs, h->lease_infinite);
        }
        if (ip->bootp_file) {
            g_string_append(buf, "      <bootp");
            attr(buf, "file", ip->bootp_file);
            attr(buf, "server", ip->bootp_server);
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "    </dhcp>\n");
    }
    g_string_append(buf, "  </ip>\n");
}

char *
hyve_net_def_format(const HyveNetworkDef *def, gboolean live)
{
    GString *buf = g_string_new("<network");
    char uuid[HYVE_UUID_STRING_LEN], mac[18];

    if (def->dnsmasq_options->len)
        g_string_append(buf, " xmlns:dnsmasq='" HYVE_NET_DNSMASQ_NS "'");
    if (live && def->connections > 0)
        g_string_append_printf(buf, " connections='%u'", def->connections);
    if (def->ipv6 == HYVE_TRISTATE_YES)
        g_string_append(buf, " ipv6='yes'");
    g_string_append(buf, ">\n");
    hyve_xml_text_element(buf, 2, "name", def->name);
    hyve_uuid_format(def->uuid, uuid);
    g_string_append_printf(buf, "  <uuid>%s</uuid>\n", uuid);
    if (def->metadata)
        g_string_append_printf(buf, "  %s\n", def->metadata);
    format_forward(buf, def, live);
    if (hyve_net_def_has_own_bridge(def) || def->bridge) {
        g_string_append(buf, "  <bridge");
        attr(buf, "name", def->bridge);
        if (hyve_net_def_has_own_bridge(def))
            g_string_append_printf(buf, " stp='%s' delay='%u'",
                                   def->stp == HYVE_TRISTATE_NO ? "off" : "on", def->delay);
        g_string_append(buf, "/>\n");
    }
    if (def->mtu)
        g_string_append_printf(buf, "  <mtu size='%u'/>\n", def->mtu);
    if (def->mac_set) {
        hyve_mac_format(def->mac, mac);
        g_string_append_printf(buf, "  <mac address='%s'/>\n", mac);
    }
    if (def->domain_name) {
        g_string_append(buf, "  <domain");
        attr(buf, "name", def->domain_name);
        if (def->domain_local_only)
            g_string_append_printf(buf, " localOnly='%s'", tristate(def->domain_local_only));
        g_string_append(buf, "/>\n");
    }
    format_dns(buf, &def->dns);
    for (guint i = 0; i < def->ips->len; i++)
        format_ip(buf, g_ptr_array_index(def->ips, i));
    if (def->dnsmasq_options->len) {
        g_string_append(buf, "  <dnsmasq:options>\n");
        for (guint i = 0; i < def->dnsmasq_options->len; i++) {
            g_string_append(buf, "    <dnsmasq:option");
            attr(buf, "value", g_ptr_array_index(def->dnsmasq_options, i));
            g_string_append(buf, "/>\n");
        }
        g_string_append(buf, "  </dnsmasq:options>\n");
    }
    g_string_append(buf, "</network>\n");
    return g_string_free(buf, FALSE);
}
