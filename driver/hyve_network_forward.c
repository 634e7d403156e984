/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_forward.c: <forward> (mode, dev, <interface>, <nat>) of a
 * network definition and the whole-definition rules of libvirt's
 * networkValidate (per forward mode; DHCP on one <ip> per family), with
 * libvirt's messages; the modes hyve cannot do are CONFIG_UNSUPPORTED.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include "hyve_network_priv.h"
#include "hyve_network_def_priv.h"
#include "hyve_domain_parse_priv.h"

#define FWD_ERR(code, ...) hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_##code, __VA_ARGS__)

static const char *const forward_names[HYVE_NET_FORWARD_LAST] = {
    "none", "nat", "route", "open", "bridge",
};

const char *
hyve_net_forward_mode_to_string(HyveNetForwardMode mode)
{
    if ((int)mode < 0 || mode >= HYVE_NET_FORWARD_LAST)
        return NULL;
    return forward_names[mode];
}

/* A network device name: 1..15 bytes of [A-Za-z0-9_.-] (plus one "%d"
 * template when @template), not "." or "..": it ends up in /proc paths,
 * nft rules and dnsmasq's configuration. */
gboolean
hyve_net_device_name_ok(const char *s, gboolean template)
{
    const char *t = template ? strstr(s, "%d") : NULL;
    gsize len = strlen(s);

    if (len == 0 || len >= 16 || g_str_equal(s, ".") || g_str_equal(s, ".."))
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (t && p == t) {
            p++;
            continue;
        }
        if (!g_ascii_isalnum(*p) && !strchr("_.-", *p))
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_nat(HyveNetworkDef *def, xmlNodePtr nat, GError **error)
{
    xmlNodePtr addr = hyve_xml_child(nat, "address");
    xmlNodePtr port = hyve_xml_child(nat, "port");
    HyveTristate v6;
    guint64 s, e;

    if (def->forward != HYVE_NET_FORWARD_NAT) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "The <nat> element can only be used when <forward> 'mode' is 'nat' in "
                       "network %s", def->name);
        return FALSE;
    }
    if (!hyve_net_parse_tristate(nat, "ipv6", &v6, error))
        return FALSE;
    if (v6 == HYVE_TRISTATE_YES) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "IPv6 NAT (<nat ipv6='yes'>) is not supported by hyve");
        return FALSE;
    }
    if (addr) {
        const char *which[2] = { "start", "end" };
        char **dst[2] = { &def->nat_addr_start, &def->nat_addr_end };
        guint8 a[2][16];

        for (int i = 0; i < 2; i++) {
            g_autofree char *v = hyve_xml_attr(addr, which[i]);

            if (!v) {
                hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                               "missing '%s' attribute in <address> element in <nat> in "
                               "<forward> in network %s", which[i], def->name);
                return FALSE;
            }
            if (!hyve_net_addr_parse(v, AF_INET, dst[i], a[i])) {
                hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                               "Bad ipv4 %s address '%s' in <nat> in <forward> in network "
                               "'%s'", which[i], v, def->name);
                return FALSE;
            }
        }
        if (memcmp(a[0], a[1], 4) > 0) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                           "range %s - %s is reversed", def->nat_addr_start, def->nat_addr_end);
            return FALSE;
        }
    }
    if (port) {
        g_autofree char *ps = hyve_xml_attr(port, "start");
        g_autofree char *pe = hyve_xml_attr(port, "end");

        if (!ps || !g_ascii_string_to_unsigned(ps, 10, 0, 65535, &s, NULL)) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_DETAIL,
                           "Missing or invalid 'start' attribute in <port> in <nat> in "
                           "<forward> in network %s", def->name);
            return FALSE;
        }
        if (!pe || !g_ascii_string_to_unsigned(pe, 10, 0, 65535, &e, NULL) || e < s) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_DETAIL,
                           "Missing or invalid 'end' attribute in <port> in <nat> in "
                           "<forward> in network %s", def->name);
            return FALSE;
        }
        def->nat_port_start = (guint)s;
        def->nat_port_end = (guint)e;
    }
    return TRUE;
}

gboolean
hyve_net_parse_forward(HyveNetworkDef *def, xmlNodePtr root, GError **error)
{
    static const char *const refused[] = { "pf", "address", "driver", NULL };
    xmlNodePtr fwd = hyve_xml_child(root, "forward");
    g_autofree char *mode = hyve_xml_attr(fwd, "mode");
    xmlNodePtr nat;
    int n_if = 0;

    def->forward = HYVE_NET_FORWARD_NONE;
    if (!fwd)
        return TRUE;
    def->forward = HYVE_NET_FORWARD_NAT;
    if (mode) {
        int m = -1;

        for (int i = HYVE_NET_FORWARD_NAT; i < HYVE_NET_FORWARD_LAST; i++) {
            if (g_str_equal(mode, forward_names[i]))
                m = i;
        }
        if (m < 0 && (g_str_equal(mode, "passthrough") || g_str_equal(mode, "private") ||
                      g_str_equal(mode, "vepa") || g_str_equal(mode, "hostdev"))) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "unsupported forward mode '%s' in network '%s' (hyve supports nat, "
                           "route, open, bridge and none)", mode, def->name);
            return FALSE;
        }
        if (m < 0) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "unknown forwarding type '%s'", mode);
            return FALSE;
        }
        def->forward = m;
    }
    if (!hyve_net_unsupported_element(fwd, refused, error))
        return FALSE;
    def->forward_dev = hyve_xml_attr(fwd, "dev");
    for (xmlNodePtr c = fwd->children; c; c = c->next) {
        g_autofree char *dev = NULL;

        if (c->type != XML_ELEMENT_NODE || !g_str_equal((const char *)c->name, "interface"))
            continue;
        if (!(dev = hyve_xml_attr(c, "dev"))) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Missing required dev attribute in <forward> <interface> element "
                           "of network %s", def->name);
            return FALSE;
        }
        if (++n_if > 1) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "a pool of <forward> interfaces is not supported by hyve "
                           "(network '%s')", def->name);
            return FALSE;
        }
        if (def->forward_dev && !g_str_equal(def->forward_dev, dev)) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "<forward dev='%s'> must match first <interface dev='%s'/> in "
                           "network %s", def->forward_dev, dev, def->name);
            return FALSE;
        }
        if (!def->forward_dev)
            def->forward_dev = g_steal_pointer(&dev);
    }
    if (def->forward_dev && !hyve_net_device_name_ok(def->forward_dev, FALSE)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "invalid forward device name '%s' in network '%s'", def->forward_dev,
                       def->name);
        return FALSE;
    }
    if ((nat = hyve_xml_child(fwd, "nat")) && !parse_nat(def, nat, error))
        return FALSE;
    return TRUE;
}

/* ---- whole-definition rules (networkValidate) ------------------------------ */

gboolean
hyve_net_def_check(const HyveNetworkDef *def, GError **error)
{
    const char *mode = hyve_net_forward_mode_to_string(def->forward);
    const char *bad = NULL;
    gboolean v4 = FALSE, v6 = FALSE;

    if (def->forward == HYVE_NET_FORWARD_BRIDGE) {
        if (!def->bridge) {
            FWD_ERR(CONFIG_UNSUPPORTED, "network '%s' with forward mode='bridge' needs a "
                    "<bridge name=...> (hyve has no macvtap)", def->name);
            return FALSE;
        }
        if (strstr(def->bridge, "%d")) {
            FWD_ERR(XML_ERROR, "invalid bridge name '%s' in network '%s'", def->bridge,
                    def->name);
            return FALSE;
        }
        if (def->mac_set)
            bad = "mac";
        else if (def->ips->len)
            bad = "ip";
        else if (def->dns.txts->len || def->dns.hosts->len || def->dns.srvs->len)
            bad = "dns";
        else if (def->domain_name)
            bad = "domain";
        if (bad) {
            FWD_ERR(CONFIG_UNSUPPORTED, "Unsupported <%s> element in network %s with forward "
                    "mode='%s'", bad, def->name, mode);
            return FALSE;
        }
    }
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        gboolean *seen = ip->family == AF_INET ? &v4 : &v6;

        if (!ip->ranges->len && !ip->hosts->len)
            continue;
        if (*seen) {
            FWD_ERR(CONFIG_UNSUPPORTED, "Multiple IPv%c dhcp sections found -- dhcp is "
                    "supported only for a single IPv%c address on each network",
                    ip->family == AF_INET ? '4' : '6', ip->family == AF_INET ? '4' : '6');
            return FALSE;
        }
        *seen = TRUE;
    }
    return TRUE;
}
