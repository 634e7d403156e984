/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_def.c: libvirt's network XML (network.rng) -> HyveNetworkDef,
 * with the checks of libvirt's virNetworkDefParseXML and networkValidate
 * (same messages where libvirt has one), the parts hyve cannot do refused
 * with CONFIG_UNSUPPORTED, and the defaults that need the other networks
 * (bridge name, MAC: hyve_net_def_assign_bridge). <forward> and the
 * per-mode checks: hyve_network_forward.c; <ip>: hyve_network_ip.c; <dns>
 * and new/free/copy: hyve_network_dns.c; formatting and subnet
 * arithmetic: hyve_network_format.c.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include "hyve_network_priv.h"
#include "hyve_network_def_priv.h"
#include "hyve_domain_def.h"
#include "hyve_domain_parse_priv.h"

/* ---- small parsing helpers (shared by the network XML files) ------------- */

gboolean
hyve_net_unsupported_element(xmlNodePtr root, const char *const *names, GError **error)
{
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || c->ns)
            continue;
        for (gsize i = 0; names[i]; i++) {
            if (g_str_equal((const char *)c->name, names[i])) {
                hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                               "network element <%s> is not supported by hyve", names[i]);
                return FALSE;
            }
        }
    }
    return TRUE;
}

gboolean
hyve_net_parse_tristate(xmlNodePtr node, const char *attr, HyveTristate *out, GError **error)
{
    g_autofree char *v = hyve_xml_attr(node, attr);

    *out = HYVE_TRISTATE_ABSENT;
    if (!v)
        return TRUE;
    if (g_str_equal(v, "yes") || g_str_equal(v, "on")) {
        *out = HYVE_TRISTATE_YES;
    } else if (g_str_equal(v, "no") || g_str_equal(v, "off")) {
        *out = HYVE_TRISTATE_NO;
    } else {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "Invalid value for attribute '%s' in element '%s': '%s'.", attr,
                       (const char *)node->name, v);
        return FALSE;
    }
    return TRUE;
}

/* Refuses control characters anywhere in attribute values (outside
 * <metadata>): what hyve writes from them (dnsmasq's configuration,
 * nft scripts) is line-oriented. */
static gboolean
check_control_chars(xmlNodePtr node, GError **error)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE ||
            (g_str_equal((const char *)node->name, "metadata") && !node->ns))
            continue;
        for (xmlAttrPtr a = node->properties; a; a = a->next) {
            g_autofree char *v = hyve_xml_attr(node, (const char *)a->name);

            for (const char *p = v; p && *p; p++) {
                if ((guchar)*p < 0x20) {
                    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                                   "control character in attribute '%s' of element <%s>",
                                   (const char *)a->name, (const char *)node->name);
                    return FALSE;
                }
            }
        }
        if (!check_control_chars(node->children, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- <bridge>, <mac>, <mtu> ------------------------------------------------- */

static gboolean
parse_bridge(HyveNetworkDef *def, xmlNodePtr root, GError **error)
{
    xmlNodePtr br = hyve_xml_child(root, "bridge");
    g_autofree char *zone = hyve_xml_attr(br, "zone");
    g_autofree char *mtm = hyve_xml_attr(br, "macTableManager");
    g_autofree char *delay = hyve_xml_attr(br, "delay");
    g_autofree char *mac = hyve_xml_attr(hyve_xml_child(root, "mac"), "address");
    g_autofree char *mtu = hyve_xml_attr(hyve_xml_child(root, "mtu"), "size");
    guint64 v;

    def->bridge = hyve_xml_attr(br, "name");
    if (def->bridge && !hyve_net_device_name_ok(def->bridge, TRUE)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "invalid bridge name '%s' in network '%s'", def->bridge, def->name);
        return FALSE;
    }
    if (zone) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "firewalld zones (<bridge zone='%s'>) are not supported by hyve", zone);
        return FALSE;
    }
    if (mtm && !g_str_equal(mtm, "kernel")) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "<bridge macTableManager='%s'> is not supported by hyve", mtm);
        return FALSE;
    }
    if (!hyve_net_parse_tristate(br, "stp", &def->stp, error))
        return FALSE;
    if (delay) {
        if (!g_ascii_string_to_unsigned(delay, 10, 0, G_MAXUINT32, &v, NULL)) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Invalid delay value in network '%s'", def->name);
            return FALSE;
        }
        def->delay = (guint)v;
    }
    if (mac) {
        if (!hyve_mac_parse(mac, def->mac)) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Invalid bridge mac address '%s' in network '%s'", mac, def->name);
            return FALSE;
        }
        if (def->mac[0] & 1) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Invalid multicast bridge mac address '%s' in network '%s'", mac,
                           def->name);
            return FALSE;
        }
        def->mac_set = TRUE;
    }
    if (mtu) {
        if (!g_ascii_string_to_unsigned(mtu, 10, 0, G_MAXUINT32, &v, NULL)) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Invalid mtu size '%s' in network '%s'", mtu, def->name);
            return FALSE;
        }
        def->mtu = (guint)v;
    }
    return TRUE;
}

/* ---- <metadata>, <dnsmasq:options> ------------------------------------------ */

void
hyve_net_parse_dnsmasq_options(HyveNetworkDef *def, xmlNodePtr root)
{
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->ns || !c->ns->href ||
            !g_str_equal((const char *)c->ns->href, HYVE_NET_DNSMASQ_NS) ||
            !g_str_equal((const char *)c->name, "options"))
            continue;
        for (xmlNodePtr o = c->children; o; o = o->next) {
            char *v;

            if (o->type == XML_ELEMENT_NODE && g_str_equal((const char *)o->name, "option") &&
                (v = hyve_xml_attr(o, "value")))
                g_ptr_array_add(def->dnsmasq_options, v);
        }
    }
}

void
hyve_net_parse_metadata(HyveNetworkDef *def, xmlNodePtr root)
{
    xmlNodePtr meta = hyve_xml_child(root, "metadata");
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr mroot;
    xmlBufferPtr xb;
    int saved;

    if (!meta || !xmlFirstElementChild(meta))
        return;
    /* copied into a document of its own so that namespaces declared on
     * <network> are declared again where they are used */
    doc = xmlNewDoc((const xmlChar *)"1.0");
    mroot = xmlNewDocNode(doc, NULL, (const xmlChar *)"metadata", NULL);
    xmlDocSetRootElement(doc, mroot);
    for (xmlNodePtr c = meta->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            xmlAddChild(mroot, xmlDocCopyNode(c, doc, 1));
    }
    xb = xmlBufferCreate();
    saved = xmlIndentTreeOutput;
    xmlIndentTreeOutput = 1;
    xmlNodeDump(xb, doc, mroot, 1, 1);
    xmlIndentTreeOutput = saved;
    def->metadata = g_strdup((const char *)xmlBufferContent(xb));
    xmlBufferFree(xb);
}

/* ---- the document ---------------------------------------------------------- */

static gboolean
parse_network(HyveNetworkDef *def, xmlNodePtr root, GError **error)
{
    static const char *const refused[] = {
        "portgroup", "bandwidth", "vlan", "virtualport", "port", "route", NULL,
    };
    g_autofree char *uuid = NULL, *ipv6 = NULL, *trust = NULL;
    xmlNodePtr dom;

    if (!check_control_chars(root, error))
        return FALSE;
    def->name = hyve_xml_child_text(root, "name");
    if (def->name && !*g_strstrip(def->name))
        g_clear_pointer(&def->name, g_free);
    if (!def->name) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NAME, "(network_definition)");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "name %s cannot contain '/'", def->name);
        return FALSE;
    }
    if (strpbrk(def->name, "\n\r")) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "network name cannot contain a line break");
        return FALSE;
    }
    /* the name goes into dnsmasq's config as part of file paths, where
     * blanks, '#', '"' and '\\' would be parsed (libvirt lets them by) */
    if (strpbrk(def->name, " \t\v\f#\"\\")) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "network name '%s' cannot contain blanks, '#', '\"' or '\\'",
                       def->name);
        return FALSE;
    }
    uuid = hyve_xml_child_text(root, "uuid");
    if (uuid && !*g_strstrip(uuid))
        g_clear_pointer(&uuid, g_free);
    if (!uuid) {
        hyve_uuid_generate(def->uuid);
    } else if (!hyve_uuid_parse(uuid, def->uuid)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "malformed uuid element");
        return FALSE;
    }
    if ((ipv6 = hyve_xml_attr(root, "ipv6"))) {
        if (!g_str_equal(ipv6, "yes") && !g_str_equal(ipv6, "no")) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "Invalid ipv6 setting '%s' in network '%s'", ipv6, def->name);
            return FALSE;
        }
        def->ipv6 = g_str_equal(ipv6, "yes") ? HYVE_TRISTATE_YES : HYVE_TRISTATE_NO;
    }
    if ((trust = hyve_xml_attr(root, "trustGuestRxFilters")) && g_str_equal(trust, "yes")) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "trustGuestRxFilters is not supported by hyve");
        return FALSE;
    }
    if (!hyve_net_unsupported_element(root, refused, error))
        return FALSE;
    dom = hyve_xml_child(root, "domain");
    def->domain_name = hyve_xml_attr(dom, "name");
    if (!hyve_net_parse_tristate(dom, "localOnly", &def->domain_local_only, error))
        return FALSE;
    if (!parse_bridge(def, root, error) || !hyve_net_parse_forward(def, root, error) ||
        !hyve_net_parse_dns(def, hyve_xml_child(root, "dns"), error))
        return FALSE;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !c->ns && g_str_equal((const char *)c->name, "ip") &&
            !hyve_net_parse_ip(def, c, error))
            return FALSE;
    }
    hyve_net_parse_dnsmasq_options(def, root);
    hyve_net_parse_metadata(def, root);
    return hyve_net_def_check(def, error);
}

static void
restamp(GError **error, GError *err)
{
    g_set_error_literal(error, hyve_error_quark(HYVE_FROM_NETWORK), err->code, err->message);
    g_error_free(err);
}

HyveNetworkDef *
hyve_net_def_parse_string(const char *xml, const char *schema_dir, gboolean validate,
                          GError **error)
{
    GError *err = NULL;
    g_autoptr(xmlDoc) doc = hyve_xml_parse_string(xml, "(network_definition)", &err);
    g_autoptr(HyveNetworkDef) def = NULL;
    xmlNodePtr root;

    if (!doc) {
        restamp(error, err);
        return NULL;
    }
    if (validate && !hyve_xml_validate(doc, schema_dir, "network.rng", &err)) {
        restamp(error, err);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!g_str_equal((const char *)root->name, "network") || root->ns) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                       "unexpected root element <%s>, expecting <network>",
                       (const char *)root->name);
        return NULL;
    }
    def = hyve_net_def_new();
    if (!parse_network(def, root, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* ---- defaults that depend on the other networks ---------------------------- */

/* @tmpl with its first "%d" replaced by @id. */
static char *
expand_template(const char *tmpl, int id)
{
    const char *p = strstr(tmpl, "%d");

    return g_strdup_printf("%.*s%d%s", (int)(p - tmpl), tmpl, id, p + 2);
}

gboolean
hyve_net_def_assign_bridge(HyveNetworkDef *def, HyveNetBridgeInUseFunc in_use, gpointer data,
                           GError **error)
{
    if (!hyve_net_def_has_own_bridge(def))
        return TRUE;
    if (!def->bridge || strstr(def->bridge, "%d")) {
        g_autofree char *given = g_steal_pointer(&def->bridge);
        const char *tmpl = given ? given : "virbr%d";

        for (int id = 0; id < HYVE_NET_MAX_BRIDGE_ID && !def->bridge; id++) {
            g_autofree char *name = expand_template(tmpl, id);

            if (strlen(name) >= 16)
                break;
            if (!in_use || !in_use(name, data))
                def->bridge = g_steal_pointer(&name);
        }
        if (!def->bridge) {
            def->bridge = g_steal_pointer(&given);
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                           "Bridge generation exceeded max id %d", HYVE_NET_MAX_BRIDGE_ID);
            return FALSE;
        }
    }
    if (!def->mac_set) {
        guint32 r = g_random_int();

        def->mac[0] = 0x52;
        def->mac[1] = 0x54;
        def->mac[2] = 0x00;
        def->mac[3] = (guint8)(r >> 16);
        def->mac[4] = (guint8)(r >> 8);
        def->mac[5] = (guint8)r;
        def->mac_set = TRUE;
    }
    return TRUE;
}
