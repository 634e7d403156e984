/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_parse.c: libvirt <domain> XML -> HyveDomainDef.
 *
 * Runs the whole pipeline described in hyve_domain_def.h. By the time the
 * struct is filled the document passed domain.rng and the whitelist, so
 * this file only reads values and rejects values hyve cannot run.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <libxml/tree.h>
#include "hyve_domain_parse_priv.h"

#define HYVE_DOMAIN_DOC_NAME "(domain_definition)"

xmlNodePtr
hyve_xml_child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, name))
            return c;
    }
    return NULL;
}

char *
hyve_xml_attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = node ? xmlGetNoNsProp(node, (const xmlChar *)name) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

char *
hyve_xml_text(xmlNodePtr node)
{
    xmlChar *v = node ? xmlNodeGetContent(node) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

char *
hyve_xml_child_text(xmlNodePtr node, const char *name)
{
    return hyve_xml_text(hyve_xml_child(node, name));
}

gboolean
hyve_domain_unsupported(GError **error, const char *what, const char *value, const char *supported)
{
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                   "%s '%s' is not supported; hyve supports %s", what, value, supported);
    return FALSE;
}

gboolean
hyve_parse_uint(const char *s, guint64 max, guint64 *out)
{
    guint64 v;

    if (!s || !*s)
        return FALSE;
    if (!g_ascii_string_to_unsigned(s, 10, 0, max, &v, NULL))
        return FALSE;
    *out = v;
    return TRUE;
}

/* decimal, 0x hex or 0 octal, as libvirt reads address attributes */
gboolean
hyve_parse_addr_uint(const char *s, guint64 *out)
{
    char *end = NULL;
    guint64 v;

    if (!s || !*s || *s == '-')
        return FALSE;
    errno = 0;
    v = g_ascii_strtoull(s, &end, 0);
    if (errno || !end || *end || v > G_MAXUINT32)
        return FALSE;
    *out = v;
    return TRUE;
}

/* value in @unit -> KiB, rounded up. Units as libvirt reads them, case
 * insensitive: b/byte/bytes; k, KiB = 1024; KB = 1000; same for M G T P E. */
guint64
hyve_domain_parse_scaled(const char *value, const char *unit, gboolean *ok, const char **bad)
{
    static const char powers[] = "kmgtpe";
    guint64 scale = 1024, v;

    *ok = FALSE;
    *bad = NULL;
    if (unit && *unit) {
        const char *p;
        guint64 base;

        if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "byte") == 0 ||
            g_ascii_strcasecmp(unit, "bytes") == 0) {
            scale = 1;
        } else {
            if (!unit[1] || g_ascii_strcasecmp(unit + 1, "iB") == 0)
                base = 1024;
            else if (g_ascii_tolower(unit[1]) == 'b' && !unit[2])
                base = 1000;
            else
                base = 0;
            p = base ? strchr(powers, g_ascii_tolower(unit[0])) : NULL;
            if (!p || !*p) {
                *bad = "unit";
                return 0;
            }
            scale = 1;
            for (const char *q = powers; q <= p; q++)
                scale *= base;
        }
    }
    if (!hyve_parse_uint(value, G_MAXUINT64, &v) || v > G_MAXUINT64 / scale) {
        *bad = "value";
        return 0;
    }
    v *= scale;
    *ok = TRUE;
    return v / 1024 + (v % 1024 ? 1 : 0);
}

static gboolean
parse_memory(xmlNodePtr node, const char *name, guint64 *out, GError **error)
{
    g_autofree char *value = NULL, *unit = NULL;
    const char *bad;
    gboolean ok;

    if (!node)
        return TRUE;
    value = hyve_xml_text(node);
    unit = hyve_xml_attr(node, "unit");
    *out = hyve_domain_parse_scaled(g_strstrip(value), unit, &ok, &bad);
    if (!ok) {
        if (bad && g_str_equal(bad, "unit"))
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "unknown unit '%s' in element <%s>", unit, name);
        else
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "invalid value '%s' for element <%s>", value, name);
        return FALSE;
    }
    return TRUE;
}

gboolean
hyve_domain_parse_pci_addr(xmlNodePtr node, HyvePciAddr *addr, GError **error)
{
    static const char *const names[] = { "domain", "bus", "slot", "function" };
    guint *fields[] = { &addr->domain, &addr->bus, &addr->slot, &addr->function };
    g_autofree char *type = NULL;

    if (!node)
        return TRUE;
    type = hyve_xml_attr(node, "type");
    if (!type || !g_str_equal(type, "pci"))
        return hyve_domain_unsupported(error, "device address type", type ? type : "", "'pci' only");
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *v = hyve_xml_attr(node, names[i]);
        guint64 n = 0;

        if (v && !hyve_parse_addr_uint(v, &n)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "Cannot parse <address> '%s' attribute", names[i]);
            return FALSE;
        }
        *fields[i] = (guint)n;
    }
    addr->set = TRUE;
    return TRUE;
}

static gboolean
parse_lifecycle(xmlNodePtr root, const char *name, HyveLifecycleAction *out, GError **error)
{
    g_autofree char *v = hyve_xml_child_text(root, name);
    int a;

    if (!v)
        return TRUE;
    if ((a = hyve_lifecycle_action_from_string(v)) < 0) {
        g_autofree char *what = g_strdup_printf("%s action", name);
        return hyve_domain_unsupported(error, what, v, "'destroy' and 'restart'");
    }
    *out = a;
    return TRUE;
}

static gboolean
parse_os(HyveDomainDef *def, xmlNodePtr os, GError **error)
{
    xmlNodePtr type = hyve_xml_child(os, "type");

    if (!type) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "an os <type> must be specified");
        return FALSE;
    }
    def->os_type = g_strstrip(hyve_xml_text(type));
    def->arch = hyve_xml_attr(type, "arch");
    def->machine = hyve_xml_attr(type, "machine");
    def->kernel = hyve_xml_child_text(os, "kernel");
    def->initrd = hyve_xml_child_text(os, "initrd");
    def->cmdline = hyve_xml_child_text(os, "cmdline");
    for (xmlNodePtr c = os->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, "boot"))
            g_ptr_array_add(def->boot_devs, hyve_xml_attr(c, "dev"));
    }
    if (!g_str_equal(def->os_type, "hvm"))
        return hyve_domain_unsupported(error, "OS type", def->os_type, "'hvm' only");
    if (def->arch && !g_str_equal(def->arch, "x86_64"))
        return hyve_domain_unsupported(error, "architecture", def->arch, "'x86_64' only");
    if (def->machine && !g_str_equal(def->machine, "pc"))
        return hyve_domain_unsupported(error, "machine type", def->machine, "'pc' only");
    return TRUE;
}

static gboolean
parse_cpu(HyveDomainDef *def, xmlNodePtr root, GError **error)
{
    xmlNodePtr vcpu = hyve_xml_child(root, "vcpu"), topo;
    guint64 n;

    if (vcpu) {
        g_autofree char *v = hyve_xml_text(vcpu), *placement = hyve_xml_attr(vcpu, "placement");
        g_autofree char *cur = hyve_xml_attr(vcpu, "current");

        if (!hyve_parse_uint(g_strstrip(v), G_MAXUINT16, &n) || n == 0) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "maximum vcpus count must be an integer");
            return FALSE;
        }
        def->vcpus = (guint)n;
        if (cur) {
            if (!hyve_parse_uint(cur, G_MAXUINT16, &n) || n == 0) {
                hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                               "current vcpus count must be an integer");
                return FALSE;
            }
            def->vcpus_current = (guint)n;
        }
        if (placement && !g_str_equal(placement, "static"))
            return hyve_domain_unsupported(error, "vcpu placement", placement, "'static' only");
    }
    topo = hyve_xml_child(hyve_xml_child(root, "cpu"), "topology");
    if (topo) {
        static const char *const names[] = { "sockets", "dies", "cores", "threads" };
        guint *fields[] = { &def->sockets, &def->dies, &def->cores, &def->threads };

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
            g_autofree char *v = hyve_xml_attr(topo, names[i]);

            *fields[i] = 1;
            if (v) {
                if (!hyve_parse_uint(v, G_MAXUINT16, &n) || n == 0) {
                    hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                                   "Invalid '%s' value in CPU topology", names[i]);
                    return FALSE;
                }
                *fields[i] = (guint)n;
            }
        }
        def->has_topology = TRUE;
    }
    return TRUE;
}

static gboolean
parse_domain(HyveDomainDef *def, xmlNodePtr root, GError **error)
{
    g_autofree char *uuid = NULL, *offset = NULL;
    xmlNodePtr meta, features, clock;

    def->name = hyve_xml_child_text(root, "name");
    if (!def->name || !*def->name) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR, "domain name must not be empty");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "name %s cannot contain '/'", def->name);
        return FALSE;
    }
    if ((uuid = hyve_xml_child_text(root, "uuid"))) {
        if (!hyve_uuid_parse(uuid, def->uuid)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INTERNAL_ERROR,
                           "malformed uuid element");
            return FALSE;
        }
        def->uuid_set = TRUE;
    }
    def->title = hyve_xml_child_text(root, "title");
    def->description = hyve_xml_child_text(root, "description");
    if ((meta = hyve_xml_child(root, "metadata"))) {
        xmlNodePtr mroot;

        def->metadata = xmlNewDoc((const xmlChar *)"1.0");
        mroot = xmlNewDocNode(def->metadata, NULL, (const xmlChar *)"metadata", NULL);
        xmlDocSetRootElement(def->metadata, mroot);
        for (xmlNodePtr c = meta->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE)
                xmlAddChild(mroot, xmlDocCopyNode(c, def->metadata, 1));
        }
    }
    if (!parse_memory(hyve_xml_child(root, "memory"), "memory", &def->memory_kib, error) ||
        !parse_memory(hyve_xml_child(root, "currentMemory"), "currentMemory",
                      &def->current_memory_kib, error))
        return FALSE;
    if (!parse_cpu(def, root, error) || !parse_os(def, hyve_xml_child(root, "os"), error))
        return FALSE;
    if ((features = hyve_xml_child(root, "features"))) {
        def->acpi = hyve_xml_child(features, "acpi") != NULL;
        def->apic = hyve_xml_child(features, "apic") != NULL;
    }
    if ((clock = hyve_xml_child(root, "clock")) && (offset = hyve_xml_attr(clock, "offset"))) {
        int c = hyve_clock_offset_from_string(offset);

        if (c < 0)
            return hyve_domain_unsupported(error, "clock offset", offset, "'utc' and 'localtime'");
        def->clock = c;
    }
    if (!parse_lifecycle(root, "on_poweroff", &def->on_poweroff, error) ||
        !parse_lifecycle(root, "on_reboot", &def->on_reboot, error) ||
        !parse_lifecycle(root, "on_crash", &def->on_crash, error))
        return FALSE;
    return hyve_domain_parse_devices(def, hyve_xml_child(root, "devices"), error);
}

HyveDomainDef *
hyve_domain_def_parse_string(const char *xml, const HyveDomainParseOptions *opts,
                             GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(HyveDomainDef) def = NULL;
    xmlNodePtr root;

    if (!(doc = hyve_xml_parse_string(xml, HYVE_DOMAIN_DOC_NAME, error)))
        return NULL;
    if (!hyve_xml_validate(doc, opts->schema_dir, "domain.rng", error))
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!hyve_domain_xml_check_client_defaults(root, error) ||
        !hyve_domain_xml_check_supported(root, error))
        return NULL;

    def = hyve_domain_def_new();
    if (!parse_domain(def, root, error))
        return NULL;
    if (!hyve_domain_def_validate(def, opts, error))
        return NULL;
    if (!hyve_domain_def_fill_defaults(def, opts, error))
        return NULL;
    if (!hyve_domain_def_check_limits(def, error))
        return NULL;
    return g_steal_pointer(&def);
}
