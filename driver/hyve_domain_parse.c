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
#include "hyve_domain_def.h"

#define HYVE_DOMAIN_DOC_NAME "(domain_definition)"

static xmlNodePtr
child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, name))
            return c;
    }
    return NULL;
}

static char *
attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = node ? xmlGetNoNsProp(node, (const xmlChar *)name) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

static char *
text(xmlNodePtr node)
{
    xmlChar *v = node ? xmlNodeGetContent(node) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

static char *
child_text(xmlNodePtr node, const char *name)
{
    return text(child(node, name));
}

static gboolean
unsupported(GError **error, const char *what, const char *value, const char *supported)
{
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                   "%s '%s' is not supported; hyve supports %s", what, value, supported);
    return FALSE;
}

static gboolean
parse_uint(const char *s, guint64 max, guint64 *out)
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
static gboolean
parse_addr_uint(const char *s, guint64 *out)
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
    if (!parse_uint(value, G_MAXUINT64, &v) || v > G_MAXUINT64 / scale) {
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
    value = text(node);
    unit = attr(node, "unit");
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

static gboolean
parse_pci_addr(xmlNodePtr node, HyvePciAddr *addr, GError **error)
{
    static const char *const names[] = { "domain", "bus", "slot", "function" };
    guint *fields[] = { &addr->domain, &addr->bus, &addr->slot, &addr->function };
    g_autofree char *type = NULL;

    if (!node)
        return TRUE;
    type = attr(node, "type");
    if (!type || !g_str_equal(type, "pci"))
        return unsupported(error, "device address type", type ? type : "", "'pci' only");
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *v = attr(node, names[i]);
        guint64 n = 0;

        if (v && !parse_addr_uint(v, &n)) {
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
    g_autofree char *v = child_text(root, name);
    int a;

    if (!v)
        return TRUE;
    if ((a = hyve_lifecycle_action_from_string(v)) < 0) {
        g_autofree char *what = g_strdup_printf("%s action", name);
        return unsupported(error, what, v, "'destroy' and 'restart'");
    }
    *out = a;
    return TRUE;
}

static gboolean
parse_os(HyveDomainDef *def, xmlNodePtr os, GError **error)
{
    xmlNodePtr type = child(os, "type");

    def->os_type = g_strstrip(text(type));
    def->arch = attr(type, "arch");
    def->machine = attr(type, "machine");
    def->kernel = child_text(os, "kernel");
    def->initrd = child_text(os, "initrd");
    def->cmdline = child_text(os, "cmdline");
    for (xmlNodePtr c = os->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, "boot"))
            g_ptr_array_add(def->boot_devs, attr(c, "dev"));
    }
    if (!g_str_equal(def->os_type, "hvm"))
        return unsupported(error, "OS type", def->os_type, "'hvm' only");
    if (def->arch && !g_str_equal(def->arch, "x86_64"))
        return unsupported(error, "architecture", def->arch, "'x86_64' only");
    if (def->machine && !g_str_equal(def->machine, "pc"))
        return unsupported(error, "machine type", def->machine, "'pc' only");
    return TRUE;
}

static gboolean
parse_cpu(HyveDomainDef *def, xmlNodePtr root, GError **error)
{
    xmlNodePtr vcpu = child(root, "vcpu"), topo;
    guint64 n;

    if (vcpu) {
        g_autofree char *v = text(vcpu), *placement = attr(vcpu, "placement");
        g_autofree char *cur = attr(vcpu, "current");

        if (!parse_uint(g_strstrip(v), G_MAXUINT16, &n) || n == 0) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "maximum vcpus count must be an integer");
            return FALSE;
        }
        def->vcpus = (guint)n;
        if (cur) {
            if (!parse_uint(cur, G_MAXUINT16, &n) || n == 0) {
                hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                               "current vcpus count must be an integer");
                return FALSE;
            }
            def->vcpus_current = (guint)n;
        }
        if (placement && !g_str_equal(placement, "static"))
            return unsupported(error, "vcpu placement", placement, "'static' only");
    }
    topo = child(child(root, "cpu"), "topology");
    if (topo) {
        static const char *const names[] = { "sockets", "dies", "cores", "threads" };
        guint *fields[] = { &def->sockets, &def->dies, &def->cores, &def->threads };

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
            g_autofree char *v = attr(topo, names[i]);

            *fields[i] = 1;
            if (v) {
                if (!parse_uint(v, G_MAXUINT16, &n) || n == 0) {
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

/* libvirt's bus guess from the target name */
static const char *
bus_from_target(const char *dev)
{
    if (g_str_has_prefix(dev, "vd"))
        return "virtio";
    if (g_str_has_prefix(dev, "sd"))
        return "scsi";
    if (g_str_has_prefix(dev, "xvd"))
        return "xen";
    if (g_str_has_prefix(dev, "ub"))
        return "usb";
    if (g_str_has_prefix(dev, "fd"))
        return "fdc";
    return "ide";
}

static gboolean
parse_disk(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autoptr(GError) unused = NULL;
    g_autofree char *type = attr(node, "type"), *device = attr(node, "device");
    xmlNodePtr src = child(node, "source"), target = child(node, "target");
    xmlNodePtr drv = child(node, "driver");
    HyveDiskDef *d;
    int t;

    if ((t = hyve_disk_type_from_string(type ? type : "file")) < 0)
        return unsupported(error, "disk type", type, "'file', 'block' and 'volume'");
    if (device && !g_str_equal(device, "disk"))
        return unsupported(error, "disk device", device, "device 'disk' only");

    d = g_new0(HyveDiskDef, 1);
    g_ptr_array_add(def->disks, d);
    d->type = t;
    if (t == HYVE_DISK_TYPE_FILE)
        d->path = attr(src, "file");
    else if (t == HYVE_DISK_TYPE_BLOCK)
        d->path = attr(src, "dev");
    d->pool = t == HYVE_DISK_TYPE_VOLUME ? attr(src, "pool") : NULL;
    d->volume = t == HYVE_DISK_TYPE_VOLUME ? attr(src, "volume") : NULL;
    if (t == HYVE_DISK_TYPE_VOLUME && (!d->pool || !d->volume)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "missing 'pool' or 'volume' in volume disk source");
        return FALSE;
    }
    if (!d->path && t != HYVE_DISK_TYPE_VOLUME) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "disks without a source are not supported; give <source %s=...>",
                       t == HYVE_DISK_TYPE_FILE ? "file" : "dev");
        return FALSE;
    }
    d->target_dev = attr(target, "dev");
    d->bus = attr(target, "bus");
    if (!d->bus)
        d->bus = g_strdup(bus_from_target(d->target_dev));
    d->driver_name = attr(drv, "name");
    d->driver_type = attr(drv, "type");
    d->readonly = child(node, "readonly") != NULL;
    d->serial = child_text(node, "serial");
    return parse_pci_addr(child(node, "address"), &d->addr, error);
}

static gboolean
parse_controller(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autofree char *type = attr(node, "type"), *model = attr(node, "model");
    g_autofree char *index = attr(node, "index");

    if (!g_str_equal(type, "pci") || !model || !g_str_equal(model, "pci-root") ||
        (index && !g_str_equal(index, "0"))) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "controller type '%s'%s%s%s index '%s' is not supported; hyve supports "
                       "only <controller type='pci' index='0' model='pci-root'/>",
                       type, model ? " model '" : "", model ? model : "", model ? "'" : "",
                       index ? index : "0");
        return FALSE;
    }
    def->pci_root = TRUE;
    return TRUE;
}

static gboolean
parse_interface(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autofree char *type = attr(node, "type"), *mac = NULL;
    xmlNodePtr src = child(node, "source");
    HyveNetDef *n;
    int t;

    if ((t = hyve_net_type_from_string(type)) < 0)
        return unsupported(error, "interface type", type, "'network' and 'bridge'");
    n = g_new0(HyveNetDef, 1);
    g_ptr_array_add(def->nets, n);
    n->type = t;
    n->source = attr(src, t == HYVE_NET_TYPE_NETWORK ? "network" : "bridge");
    if (!n->source) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "No <source> '%s' attribute specified with <interface type='%s'/>",
                       t == HYVE_NET_TYPE_NETWORK ? "network" : "bridge", type);
        return FALSE;
    }
    mac = attr(child(node, "mac"), "address");
    if (mac) {
        if (!hyve_mac_parse(mac, n->mac)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "unable to parse mac address '%s'", mac);
            return FALSE;
        }
        n->mac_set = TRUE;
    }
    n->target_dev = attr(child(node, "target"), "dev");
    n->model = attr(child(node, "model"), "type");
    return parse_pci_addr(child(node, "address"), &n->addr, error);
}

static HyveChrDef *
parse_chr(xmlNodePtr node, GError **error)
{
    g_autofree char *type = attr(node, "type"), *port = NULL;
    xmlNodePtr src = child(node, "source");
    g_autoptr(GError) unused = NULL;
    HyveChrDef *c;
    guint64 n;
    int t;

    if ((t = hyve_chr_type_from_string(type)) < 0) {
        g_autofree char *what = g_strdup_printf("%s type", (const char *)node->name);
        unsupported(error, what, type, "'pty', 'file' and 'unix'");
        return NULL;
    }
    c = g_new0(HyveChrDef, 1);
    c->type = t;
    c->port = -1;
    if (t != HYVE_CHR_TYPE_PTY) {
        c->path = attr(src, "path");
        if (!c->path) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "Missing source path attribute for char device");
            hyve_chr_def_free(c);
            return NULL;
        }
    }
    if (t == HYVE_CHR_TYPE_UNIX)
        c->mode = attr(src, "mode");
    port = attr(child(node, "target"), "port");
    if (port) {
        if (!parse_uint(port, 65535, &n)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "Invalid port number: %s", port);
            hyve_chr_def_free(c);
            return NULL;
        }
        c->port = (int)n;
    }
    return c;
}

static gboolean
parse_console(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autofree char *ttype = attr(child(node, "target"), "type");
    HyveChrDef *c;

    if (ttype && !g_str_equal(ttype, "serial"))
        return unsupported(error, "console target type", ttype, "'serial' only");
    if (def->console) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "only one <console> is supported; it is an alias of serial port 0");
        return FALSE;
    }
    if (!(c = parse_chr(node, error)))
        return FALSE;
    def->console = TRUE;
    /* As libvirt: a console without any serial becomes serial 0; with
     * serials it just shows the first one. */
    if (def->serials->len == 0) {
        c->port = 0;
        g_ptr_array_add(def->serials, c);
        def->console = 2;   /* serial made from the console: a later <serial> replaces it */
    } else {
        hyve_chr_def_free(c);
    }
    return TRUE;
}

static gboolean
parse_devices(HyveDomainDef *def, xmlNodePtr devs, GError **error)
{
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        const char *n = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal(n, "emulator")) {
            def->emulator = g_strstrip(text(c));
        } else if (g_str_equal(n, "disk")) {
            if (!parse_disk(def, c, error))
                return FALSE;
        } else if (g_str_equal(n, "controller")) {
            if (!parse_controller(def, c, error))
                return FALSE;
        } else if (g_str_equal(n, "interface")) {
            if (!parse_interface(def, c, error))
                return FALSE;
        } else if (g_str_equal(n, "serial")) {
            HyveChrDef *chr = parse_chr(c, error);

            if (!chr)
                return FALSE;
            if (def->console == 2) {    /* drop the serial made from a console */
                g_ptr_array_set_size(def->serials, 0);
                def->console = TRUE;
            }
            g_ptr_array_add(def->serials, chr);
        } else if (g_str_equal(n, "console")) {
            if (!parse_console(def, c, error))
                return FALSE;
        } else if (g_str_equal(n, "rng")) {
            g_autofree char *model = attr(c, "model");
            xmlNodePtr be = child(c, "backend");
            g_autofree char *bmodel = attr(be, "model");
            HyveRngDef *r;

            if (!g_str_equal(model, "virtio"))
                return unsupported(error, "rng model", model, "'virtio' only");
            if (!bmodel || !g_str_equal(bmodel, "random"))
                return unsupported(error, "rng backend", bmodel ? bmodel : "", "'random' only");
            r = g_new0(HyveRngDef, 1);
            g_ptr_array_add(def->rngs, r);
            r->backend_path = g_strstrip(text(be));
            if (!*r->backend_path)
                g_clear_pointer(&r->backend_path, g_free);
            if (r->backend_path && !g_str_equal(r->backend_path, "/dev/urandom") &&
                !g_str_equal(r->backend_path, "/dev/random"))
                return unsupported(error, "rng backend path", r->backend_path,
                                   "'/dev/urandom' and '/dev/random'");
            if (!parse_pci_addr(child(c, "address"), &r->addr, error))
                return FALSE;
        } else if (g_str_equal(n, "memballoon")) {
            g_autofree char *model = attr(c, "model");

            if (!g_str_equal(model, "none"))
                return unsupported(error, "memballoon model", model, "'none' only");
            def->memballoon_none = TRUE;
        }
    }
    if (def->console == 2)
        def->console = TRUE;
    return TRUE;
}

static gboolean
parse_domain(HyveDomainDef *def, xmlNodePtr root, GError **error)
{
    g_autofree char *uuid = NULL, *offset = NULL;
    xmlNodePtr meta, features, clock;

    def->name = child_text(root, "name");
    if (!def->name || !*def->name) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR, "domain name must not be empty");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "name %s cannot contain '/'", def->name);
        return FALSE;
    }
    if ((uuid = child_text(root, "uuid"))) {
        if (!hyve_uuid_parse(uuid, def->uuid)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INTERNAL_ERROR,
                           "malformed uuid element");
            return FALSE;
        }
        def->uuid_set = TRUE;
    }
    def->title = child_text(root, "title");
    def->description = child_text(root, "description");
    if ((meta = child(root, "metadata"))) {
        xmlNodePtr mroot;

        def->metadata = xmlNewDoc((const xmlChar *)"1.0");
        mroot = xmlNewDocNode(def->metadata, NULL, (const xmlChar *)"metadata", NULL);
        xmlDocSetRootElement(def->metadata, mroot);
        for (xmlNodePtr c = meta->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE)
                xmlAddChild(mroot, xmlDocCopyNode(c, def->metadata, 1));
        }
    }
    if (!parse_memory(child(root, "memory"), "memory", &def->memory_kib, error) ||
        !parse_memory(child(root, "currentMemory"), "currentMemory",
                      &def->current_memory_kib, error))
        return FALSE;
    if (!parse_cpu(def, root, error) || !parse_os(def, child(root, "os"), error))
        return FALSE;
    if ((features = child(root, "features"))) {
        def->acpi = child(features, "acpi") != NULL;
        def->apic = child(features, "apic") != NULL;
    }
    if ((clock = child(root, "clock")) && (offset = attr(clock, "offset"))) {
        int c = hyve_clock_offset_from_string(offset);

        if (c < 0)
            return unsupported(error, "clock offset", offset, "'utc' and 'localtime'");
        def->clock = c;
    }
    if (!parse_lifecycle(root, "on_poweroff", &def->on_poweroff, error) ||
        !parse_lifecycle(root, "on_reboot", &def->on_reboot, error) ||
        !parse_lifecycle(root, "on_crash", &def->on_crash, error))
        return FALSE;
    return parse_devices(def, child(root, "devices"), error);
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
    if (!hyve_domain_xml_check_supported(root, error))
        return NULL;

    def = hyve_domain_def_new();
    if (!parse_domain(def, root, error))
        return NULL;
    if (!hyve_domain_def_validate(def, opts, error))
        return NULL;
    if (!hyve_domain_def_fill_defaults(def, opts, error))
        return NULL;
    return g_steal_pointer(&def);
}
