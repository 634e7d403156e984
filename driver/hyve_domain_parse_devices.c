/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_parse_devices.c: <devices> children -> HyveDomainDef:
 * disks, the pci-root controller, interfaces, serials and the console
 * (an alias of serial 0, as in libvirt), rng, memballoon.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <libxml/tree.h>
#include "hyve_domain_parse_priv.h"

/* libvirt's bus guess from the target name */
const char *
hyve_domain_disk_bus_from_target(const char *dev)
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
    g_autofree char *type = hyve_xml_attr(node, "type"), *device = hyve_xml_attr(node, "device");
    xmlNodePtr src = hyve_xml_child(node, "source"), target = hyve_xml_child(node, "target");
    xmlNodePtr drv = hyve_xml_child(node, "driver");
    HyveDiskDef *d;
    int t;

    if ((t = hyve_disk_type_from_string(type ? type : "file")) < 0)
        return hyve_domain_unsupported(error, "disk type", type, "'file', 'block' and 'volume'");
    if (device && !g_str_equal(device, "disk"))
        return hyve_domain_unsupported(error, "disk device", device, "device 'disk' only");

    d = g_new0(HyveDiskDef, 1);
    g_ptr_array_add(def->disks, d);
    d->type = t;
    if (t == HYVE_DISK_TYPE_FILE)
        d->path = hyve_xml_attr(src, "file");
    else if (t == HYVE_DISK_TYPE_BLOCK)
        d->path = hyve_xml_attr(src, "dev");
    d->pool = t == HYVE_DISK_TYPE_VOLUME ? hyve_xml_attr(src, "pool") : NULL;
    d->volume = t == HYVE_DISK_TYPE_VOLUME ? hyve_xml_attr(src, "volume") : NULL;
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
    d->target_dev = hyve_xml_attr(target, "dev");
    if (!d->target_dev) {
        /* domain.rng requires it; checked here too, as everything below
         * relies on it (found by tests/fuzz fuzz-domain-xml) */
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "missing target information for device %s",
                       d->path ? d->path : (d->volume ? d->volume : ""));
        return FALSE;
    }
    d->bus = hyve_xml_attr(target, "bus");
    if (!d->bus)
        d->bus = g_strdup(hyve_domain_disk_bus_from_target(d->target_dev));
    d->driver_name = hyve_xml_attr(drv, "name");
    d->driver_type = hyve_xml_attr(drv, "type");
    d->readonly = hyve_xml_child(node, "readonly") != NULL;
    d->serial = hyve_xml_child_text(node, "serial");
    return hyve_domain_parse_pci_addr(hyve_xml_child(node, "address"), &d->addr, error);
}

static gboolean
parse_controller(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autofree char *type = hyve_xml_attr(node, "type"), *model = hyve_xml_attr(node, "model");
    g_autofree char *index = hyve_xml_attr(node, "index");

    if (g_strcmp0(type, "pci") != 0 || g_strcmp0(model, "pci-root") != 0 ||
        (index && !g_str_equal(index, "0"))) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "controller type '%s'%s%s%s index '%s' is not supported; hyve supports "
                       "only <controller type='pci' index='0' model='pci-root'/>",
                       type ? type : "", model ? " model '" : "", model ? model : "", model ? "'" : "",
                       index ? index : "0");
        return FALSE;
    }
    def->pci_root = TRUE;
    return TRUE;
}

static gboolean
parse_interface(HyveDomainDef *def, xmlNodePtr node, GError **error)
{
    g_autofree char *type = hyve_xml_attr(node, "type"), *mac = NULL;
    xmlNodePtr src = hyve_xml_child(node, "source");
    HyveNetDef *n;
    int t;

    if ((t = hyve_net_type_from_string(type)) < 0)
        return hyve_domain_unsupported(error, "interface type", type, "'network' and 'bridge'");
    n = g_new0(HyveNetDef, 1);
    g_ptr_array_add(def->nets, n);
    n->type = t;
    n->source = hyve_xml_attr(src, t == HYVE_NET_TYPE_NETWORK ? "network" : "bridge");
    if (!n->source) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "No <source> '%s' attribute specified with <interface type='%s'/>",
                       t == HYVE_NET_TYPE_NETWORK ? "network" : "bridge", type);
        return FALSE;
    }
    mac = hyve_xml_attr(hyve_xml_child(node, "mac"), "address");
    if (mac) {
        if (!hyve_mac_parse(mac, n->mac)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "unable to parse mac address '%s'", mac);
            return FALSE;
        }
        n->mac_set = TRUE;
    }
    n->target_dev = hyve_xml_attr(hyve_xml_child(node, "target"), "dev");
    n->model = hyve_xml_attr(hyve_xml_child(node, "model"), "type");
    return hyve_domain_parse_pci_addr(hyve_xml_child(node, "address"), &n->addr, error);
}

static HyveChrDef *
parse_chr(xmlNodePtr node, GError **error)
{
    g_autofree char *type = hyve_xml_attr(node, "type"), *port = NULL;
    xmlNodePtr src = hyve_xml_child(node, "source");
    g_autoptr(GError) unused = NULL;
    HyveChrDef *c;
    guint64 n;
    int t;

    if ((t = hyve_chr_type_from_string(type)) < 0) {
        g_autofree char *what = g_strdup_printf("%s type", (const char *)node->name);
        hyve_domain_unsupported(error, what, type, "'pty', 'file' and 'unix'");
        return NULL;
    }
    c = g_new0(HyveChrDef, 1);
    c->type = t;
    c->port = -1;
    if (t != HYVE_CHR_TYPE_PTY) {
        c->path = hyve_xml_attr(src, "path");
        if (!c->path) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "Missing source path attribute for char device");
            hyve_chr_def_free(c);
            return NULL;
        }
    }
    if (t == HYVE_CHR_TYPE_UNIX)
        c->mode = hyve_xml_attr(src, "mode");
    port = hyve_xml_attr(hyve_xml_child(node, "target"), "port");
    if (port) {
        if (!hyve_parse_uint(port, 65535, &n)) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "Invalid port number: %s", port);
            hyve_chr_def_free(c);
            return NULL;
        }
        c->port = (int)n;
    }
    return c;
}

/* Parses a <console>; *out keeps the first one. */
static gboolean
parse_console(xmlNodePtr node, HyveChrDef **out, GError **error)
{
    g_autofree char *ttype = hyve_xml_attr(hyve_xml_child(node, "target"), "type");

    if (ttype && !g_str_equal(ttype, "serial"))
        return hyve_domain_unsupported(error, "console target type", ttype, "'serial' only");
    if (*out) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "only one <console> is supported; it is an alias of serial port 0");
        return FALSE;
    }
    return (*out = parse_chr(node, error)) != NULL;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveChrDef, hyve_chr_def_free)

gboolean
hyve_domain_parse_devices(HyveDomainDef *def, xmlNodePtr devs, GError **error)
{
    g_autoptr(HyveChrDef) console = NULL;

    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        const char *n = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (g_str_equal(n, "emulator")) {
            def->emulator = g_strstrip(hyve_xml_text(c));
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
            g_ptr_array_add(def->serials, chr);
        } else if (g_str_equal(n, "console")) {
            if (!parse_console(c, &console, error))
                return FALSE;
        } else if (g_str_equal(n, "rng")) {
            g_autofree char *model = hyve_xml_attr(c, "model");
            xmlNodePtr be = hyve_xml_child(c, "backend");
            g_autofree char *bmodel = hyve_xml_attr(be, "model");
            HyveRngDef *r;

            if (g_strcmp0(model, "virtio") != 0)
                return hyve_domain_unsupported(error, "rng model", model ? model : "",
                                               "'virtio' only");
            if (!bmodel || !g_str_equal(bmodel, "random"))
                return hyve_domain_unsupported(error, "rng backend", bmodel ? bmodel : "", "'random' only");
            r = g_new0(HyveRngDef, 1);
            g_ptr_array_add(def->rngs, r);
            r->backend_path = g_strstrip(hyve_xml_text(be));
            if (!*r->backend_path)
                g_clear_pointer(&r->backend_path, g_free);
            if (r->backend_path && !g_str_equal(r->backend_path, "/dev/urandom") &&
                !g_str_equal(r->backend_path, "/dev/random"))
                return hyve_domain_unsupported(error, "rng backend path", r->backend_path,
                                   "'/dev/urandom' and '/dev/random'");
            if (!hyve_domain_parse_pci_addr(hyve_xml_child(c, "address"), &r->addr, error))
                return FALSE;
        } else if (g_str_equal(n, "memballoon")) {
            g_autofree char *model = hyve_xml_attr(c, "model");

            if (g_strcmp0(model, "none") != 0)
                return hyve_domain_unsupported(error, "memballoon model", model ? model : "",
                                               "'none' only");
            def->memballoon_none = TRUE;
        }
    }
    /* As libvirt: the console is an alias of serial 0; a console without
     * any <serial> becomes serial 0. */
    if (console) {
        def->console = TRUE;
        if (def->serials->len == 0) {
            console->port = 0;
            g_ptr_array_add(def->serials, g_steal_pointer(&console));
        }
    }
    return TRUE;
}

