/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_dns.c: the <dns> part of a network definition (libvirt's
 * virNetworkDNSDefParseXML checks and messages) and new/free/copy of
 * HyveNetworkDef.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include "hyve_network_priv.h"
#include "hyve_network_def_priv.h"
#include "hyve_domain_parse_priv.h"

#define DNS_ERR(code, ...) hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_##code, __VA_ARGS__)

/* characters libvirt allows in SRV service and protocol names */
#define SRV_PROTOCOL_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/"
#define SRV_SERVICE_CHARS SRV_PROTOCOL_CHARS "_*"

static gboolean
parse_forwarder(const HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetDnsForwarder *f = g_new0(HyveNetDnsForwarder, 1);
    g_autofree char *addr = hyve_xml_attr(node, "addr");

    g_ptr_array_add(def->dns.forwarders, f);
    f->domain = hyve_xml_attr(node, "domain");
    if (addr && !hyve_net_addr_parse(addr, AF_UNSPEC, &f->addr, NULL)) {
        DNS_ERR(XML_ERROR, "Invalid forwarder IP address '%s' in network '%s'", addr,
                def->name);
        return FALSE;
    }
    if (!f->addr && !f->domain) {
        DNS_ERR(XML_ERROR, "Invalid forwarder element, must contain at least one of addr or "
                "domain");
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_txt(const HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetDnsTxt *t = g_new0(HyveNetDnsTxt, 1);

    g_ptr_array_add(def->dns.txts, t);
    if (!(t->name = hyve_xml_attr(node, "name"))) {
        DNS_ERR(XML_DETAIL, "missing required name attribute in DNS TXT record of network %s",
                def->name);
        return FALSE;
    }
    if (strpbrk(t->name, " ,")) {
        DNS_ERR(XML_DETAIL, "prohibited character in DNS TXT record name '%s' of network %s",
                t->name, def->name);
        return FALSE;
    }
    if (!(t->value = hyve_xml_attr(node, "value"))) {
        DNS_ERR(XML_DETAIL, "missing required value attribute in DNS TXT record named '%s' of "
                "network %s", t->name, def->name);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_srv_number(const HyveNetworkDef *def, HyveNetDnsSrv *s, xmlNodePtr node,
                 const char *attr, guint *out, GError **error)
{
    g_autofree char *v = hyve_xml_attr(node, attr);
    guint64 n;

    if (!v)
        return TRUE;
    if (!s->target) {
        DNS_ERR(XML_DETAIL, "DNS SRV %s attribute not permitted without target for service "
                "'%s' in network '%s'", attr, s->service, def->name);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(v, 10, g_str_equal(attr, "port") ? 1 : 0, 65535, &n,
                                    NULL)) {
        DNS_ERR(XML_DETAIL, "invalid DNS SRV %s attribute for service '%s' in network '%s'",
                attr, s->service, def->name);
        return FALSE;
    }
    *out = (guint)n;
    return TRUE;
}

static gboolean
parse_srv(const HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetDnsSrv *s = g_new0(HyveNetDnsSrv, 1);

    g_ptr_array_add(def->dns.srvs, s);
    if (!(s->service = hyve_xml_attr(node, "service"))) {
        DNS_ERR(XML_DETAIL, "missing required service attribute in DNS SRV record of network "
                "'%s'", def->name);
        return FALSE;
    }
    if (strlen(s->service) > 255 ||
        strspn(s->service, SRV_SERVICE_CHARS) < strlen(s->service)) {
        DNS_ERR(XML_DETAIL, "invalid character in service attribute '%s' in DNS SRV record of "
                "network '%s'", s->service, def->name);
        return FALSE;
    }
    if (!(s->protocol = hyve_xml_attr(node, "protocol"))) {
        DNS_ERR(XML_DETAIL, "missing required protocol attribute in DNS SRV record '%s' of "
                "network '%s'", s->service, def->name);
        return FALSE;
    }
    if (strspn(s->protocol, SRV_PROTOCOL_CHARS) < strlen(s->protocol)) {
        DNS_ERR(XML_DETAIL, "invalid character in protocol attribute '%s' in DNS SRV record "
                "of network '%s'", s->protocol, def->name);
        return FALSE;
    }
    s->domain = hyve_xml_attr(node, "domain");
    s->target = hyve_xml_attr(node, "target");
    return parse_srv_number(def, s, node, "port", &s->port, error) &&
           parse_srv_number(def, s, node, "priority", &s->priority, error) &&
           parse_srv_number(def, s, node, "weight", &s->weight, error);
}

static gboolean
parse_dns_host(const HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetDnsHost *h = g_new0(HyveNetDnsHost, 1);
    g_autofree char *ip = hyve_xml_attr(node, "ip");

    h->hostnames = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(def->dns.hosts, h);
    for (xmlNodePtr c = node->children; c; c = c->next) {
        char *name;

        if (c->type != XML_ELEMENT_NODE || !g_str_equal((const char *)c->name, "hostname"))
            continue;
        name = hyve_xml_text(c);
        name = g_strstrip(name ? name : g_strdup(""));
        g_ptr_array_add(h->hostnames, name);
        if (!*name || strpbrk(name, "\n\r")) {
            DNS_ERR(XML_DETAIL, "Missing hostname in network '%s' DNS HOST record", def->name);
            return FALSE;
        }
    }
    if (h->hostnames->len == 0) {
        DNS_ERR(XML_DETAIL, "Missing hostname in network '%s' DNS HOST record", def->name);
        return FALSE;
    }
    if (!ip) {
        DNS_ERR(XML_DETAIL, "Missing IP address in network '%s' DNS HOST record", def->name);
        return FALSE;
    }
    if (!hyve_net_addr_parse(ip, AF_UNSPEC, &h->ip, NULL)) {
        DNS_ERR(XML_DETAIL, "Invalid IP address in network '%s' DNS HOST record", def->name);
        return FALSE;
    }
    return TRUE;
}

gboolean
hyve_net_parse_dns(HyveNetworkDef *def, xmlNodePtr node, GError **error)
{
    HyveNetDnsDef *dns = &def->dns;

    if (!node)
        return TRUE;
    if (!hyve_net_parse_tristate(node, "enable", &dns->enable, error) ||
        !hyve_net_parse_tristate(node, "forwardPlainNames", &dns->forward_plain_names, error))
        return FALSE;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        const char *n = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if ((g_str_equal(n, "forwarder") && !parse_forwarder(def, c, error)) ||
            (g_str_equal(n, "txt") && !parse_txt(def, c, error)) ||
            (g_str_equal(n, "srv") && !parse_srv(def, c, error)) ||
            (g_str_equal(n, "host") && !parse_dns_host(def, c, error)))
            return FALSE;
    }
    if (dns->enable == HYVE_TRISTATE_NO &&
        (dns->forwarders->len || dns->txts->len || dns->srvs->len || dns->hosts->len)) {
        DNS_ERR(XML_ERROR, "Extra data in disabled network '%s'", def->name);
        return FALSE;
    }
    return TRUE;
}

/* ---- new / free / copy ----------------------------------------------------- */

void
hyve_net_dhcp_range_free(gpointer p)
{
    HyveNetDhcpRange *r = p;

    g_free(r->start);
    g_free(r->end);
    g_free(r);
}

void
hyve_net_dhcp_host_free(gpointer p)
{
    HyveNetDhcpHost *h = p;

    g_free(h->mac);
    g_free(h->id);
    g_free(h->name);
    g_free(h->ip);
    g_free(h);
}

static void
ip_free(gpointer p)
{
    HyveNetIpDef *ip = p;

    g_free(ip->address);
    g_free(ip->localptr);
    g_ptr_array_unref(ip->ranges);
    g_ptr_array_unref(ip->hosts);
    g_free(ip->tftp_root);
    g_free(ip->bootp_file);
    g_free(ip->bootp_server);
    g_free(ip);
}

static void
forwarder_free(gpointer p)
{
    HyveNetDnsForwarder *f = p;

    g_free(f->addr);
    g_free(f->domain);
    g_free(f);
}

static void
txt_free(gpointer p)
{
    HyveNetDnsTxt *t = p;

    g_free(t->name);
    g_free(t->value);
    g_free(t);
}

static void
srv_free(gpointer p)
{
    HyveNetDnsSrv *s = p;

    g_free(s->service);
    g_free(s->protocol);
    g_free(s->domain);
    g_free(s->target);
    g_free(s);
}

static void
dns_host_free(gpointer p)
{
    HyveNetDnsHost *h = p;

    g_free(h->ip);
    g_ptr_array_unref(h->hostnames);
    g_free(h);
}

HyveNetworkDef *
hyve_net_def_new(void)
{
    HyveNetworkDef *def = g_new0(HyveNetworkDef, 1);

    def->dns.forwarders = g_ptr_array_new_with_free_func(forwarder_free);
    def->dns.txts = g_ptr_array_new_with_free_func(txt_free);
    def->dns.srvs = g_ptr_array_new_with_free_func(srv_free);
    def->dns.hosts = g_ptr_array_new_with_free_func(dns_host_free);
    def->ips = g_ptr_array_new_with_free_func(ip_free);
    def->dnsmasq_options = g_ptr_array_new_with_free_func(g_free);
    return def;
}

void
hyve_net_def_free(HyveNetworkDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->bridge);
    g_free(def->forward_dev);
    g_free(def->nat_addr_start);
    g_free(def->nat_addr_end);
    g_free(def->domain_name);
    g_ptr_array_unref(def->dns.forwarders);
    g_ptr_array_unref(def->dns.txts);
    g_ptr_array_unref(def->dns.srvs);
    g_ptr_array_unref(def->dns.hosts);
    g_ptr_array_unref(def->ips);
    g_ptr_array_unref(def->dnsmasq_options);
    g_free(def->metadata);
    g_free(def);
}

static gpointer
range_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDhcpRange *r = p;
    HyveNetDhcpRange *c = g_memdup2(r, sizeof(*r));

    c->start = g_strdup(r->start);
    c->end = g_strdup(r->end);
    return c;
}

static gpointer
host_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDhcpHost *h = p;
    HyveNetDhcpHost *c = g_memdup2(h, sizeof(*h));

    c->mac = g_strdup(h->mac);
    c->id = g_strdup(h->id);
    c->name = g_strdup(h->name);
    c->ip = g_strdup(h->ip);
    return c;
}

static gpointer
ip_copy(gconstpointer p, gpointer unused)
{
    const HyveNetIpDef *ip = p;
    HyveNetIpDef *c = g_memdup2(ip, sizeof(*ip));

    c->address = g_strdup(ip->address);
    c->localptr = g_strdup(ip->localptr);
    c->ranges = g_ptr_array_copy(ip->ranges, range_copy, NULL);
    c->hosts = g_ptr_array_copy(ip->hosts, host_copy, NULL);
    c->tftp_root = g_strdup(ip->tftp_root);
    c->bootp_file = g_strdup(ip->bootp_file);
    c->bootp_server = g_strdup(ip->bootp_server);
    return c;
}

static gpointer
forwarder_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDnsForwarder *f = p;
    HyveNetDnsForwarder *c = g_new0(HyveNetDnsForwarder, 1);

    c->addr = g_strdup(f->addr);
    c->domain = g_strdup(f->domain);
    return c;
}

static gpointer
txt_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDnsTxt *t = p;
    HyveNetDnsTxt *c = g_new0(HyveNetDnsTxt, 1);

    c->name = g_strdup(t->name);
    c->value = g_strdup(t->value);
    return c;
}

static gpointer
srv_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDnsSrv *s = p;
    HyveNetDnsSrv *c = g_memdup2(s, sizeof(*s));

    c->service = g_strdup(s->service);
    c->protocol = g_strdup(s->protocol);
    c->domain = g_strdup(s->domain);
    c->target = g_strdup(s->target);
    return c;
}

static gpointer
str_copy(gconstpointer p, gpointer unused)
{
    return g_strdup(p);
}

static gpointer
dns_host_copy(gconstpointer p, gpointer unused)
{
    const HyveNetDnsHost *h = p;
    HyveNetDnsHost *c = g_new0(HyveNetDnsHost, 1);

    c->ip = g_strdup(h->ip);
    c->hostnames = g_ptr_array_copy(h->hostnames, str_copy, NULL);
    return c;
}

HyveNetworkDef *
hyve_net_def_copy(const HyveNetworkDef *def)
{
    HyveNetworkDef *c = g_memdup2(def, sizeof(*def));

    c->name = g_strdup(def->name);
    c->bridge = g_strdup(def->bridge);
    c->forward_dev = g_strdup(def->forward_dev);
    c->nat_addr_start = g_strdup(def->nat_addr_start);
    c->nat_addr_end = g_strdup(def->nat_addr_end);
    c->domain_name = g_strdup(def->domain_name);
    c->dns.forwarders = g_ptr_array_copy(def->dns.forwarders, forwarder_copy, NULL);
    c->dns.txts = g_ptr_array_copy(def->dns.txts, txt_copy, NULL);
    c->dns.srvs = g_ptr_array_copy(def->dns.srvs, srv_copy, NULL);
    c->dns.hosts = g_ptr_array_copy(def->dns.hosts, dns_host_copy, NULL);
    c->ips = g_ptr_array_copy(def->ips, ip_copy, NULL);
    c->dnsmasq_options = g_ptr_array_copy(def->dnsmasq_options, str_copy, NULL);
    c->metadata = g_strdup(def->metadata);
    return c;
}
