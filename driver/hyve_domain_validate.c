/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_validate.c: what hyve can run.
 *
 * Documents reaching here are valid libvirt domain XML (domain.rng passed).
 * Two checks turn "valid but hyve cannot run it" into CONFIG_UNSUPPORTED
 * with a message naming the offending element and what IS supported:
 *   - hyve_domain_xml_check_supported(): a whitelist of elements and
 *     attributes, one table row per element path;
 *   - hyve_domain_def_validate(): values (domain type, bus, formats,
 *     topology, addresses) on the parsed definition.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_def.h"

typedef struct {
    const char *path;       /* element path from the root, '/'-separated */
    const char *attrs;      /* allowed attributes, space separated ("" = none) */
    const char *children;   /* allowed child elements ("" = none, NULL = keep verbatim) */
} HyveXmlRule;

#define ADDR_ATTRS "type domain bus slot function"

static const HyveXmlRule rules[] = {
    { "domain", "type id",
      "name uuid title description metadata memory currentMemory vcpu cpu os "
      "features clock on_poweroff on_reboot on_crash devices" },
    { "domain/name", "", "" },
    { "domain/uuid", "", "" },
    { "domain/title", "", "" },
    { "domain/description", "", "" },
    { "domain/metadata", "", NULL },
    { "domain/memory", "unit", "" },
    { "domain/currentMemory", "unit", "" },
    { "domain/vcpu", "placement current", "" },
    { "domain/cpu", "", "topology" },
    { "domain/cpu/topology", "sockets dies cores threads", "" },
    { "domain/os", "", "type kernel initrd cmdline boot" },
    { "domain/os/type", "arch machine", "" },
    { "domain/os/kernel", "", "" },
    { "domain/os/initrd", "", "" },
    { "domain/os/cmdline", "", "" },
    { "domain/os/boot", "dev", "" },
    { "domain/features", "", "acpi apic" },
    { "domain/features/acpi", "", "" },
    { "domain/features/apic", "", "" },
    { "domain/clock", "offset", "" },
    { "domain/on_poweroff", "", "" },
    { "domain/on_reboot", "", "" },
    { "domain/on_crash", "", "" },
    { "domain/devices", "",
      "emulator disk controller interface serial console rng memballoon" },
    { "domain/devices/emulator", "", "" },
    { "domain/devices/disk", "type device", "driver source target readonly serial address" },
    { "domain/devices/disk/driver", "name type", "" },
    { "domain/devices/disk/source", "file dev pool volume", "" },
    { "domain/devices/disk/target", "dev bus", "" },
    { "domain/devices/disk/readonly", "", "" },
    { "domain/devices/disk/serial", "", "" },
    { "domain/devices/disk/address", ADDR_ATTRS, "" },
    { "domain/devices/controller", "type index model", "" },
    { "domain/devices/interface", "type", "mac source target model address" },
    { "domain/devices/interface/mac", "address", "" },
    { "domain/devices/interface/source", "network bridge", "" },
    { "domain/devices/interface/target", "dev", "" },
    { "domain/devices/interface/model", "type", "" },
    { "domain/devices/interface/address", ADDR_ATTRS, "" },
    { "domain/devices/serial", "type", "source target" },
    { "domain/devices/serial/source", "path mode", "clipboard" },
    { "domain/devices/serial/source/clipboard", "copypaste", "" },
    { "domain/devices/serial/target", "port", "" },
    { "domain/devices/console", "type", "source target" },
    { "domain/devices/console/source", "path mode", "clipboard" },
    { "domain/devices/console/source/clipboard", "copypaste", "" },
    { "domain/devices/console/target", "type port", "" },
    { "domain/devices/rng", "model", "backend address" },
    { "domain/devices/rng/backend", "model", "" },
    { "domain/devices/rng/address", ADDR_ATTRS, "" },
    { "domain/devices/memballoon", "model", "" },
};

static const HyveXmlRule *
rule_find(const char *path)
{
    for (gsize i = 0; i < G_N_ELEMENTS(rules); i++) {
        if (g_str_equal(rules[i].path, path))
            return &rules[i];
    }
    return NULL;
}

static gboolean
word_in(const char *list, const char *word)
{
    g_auto(GStrv) words = g_strsplit(list, " ", -1);

    return g_strv_contains((const char *const *)words, word);
}

static char *
supported_list(const char *list)
{
    g_auto(GStrv) words = g_strsplit(list, " ", -1);

    if (!*list)
        return g_strdup("none");
    return g_strjoinv(", ", words);
}

static char *
node_label(xmlNodePtr node)
{
    if (node->ns && node->ns->prefix)
        return g_strdup_printf("%s:%s", (const char *)node->ns->prefix,
                               (const char *)node->name);
    return g_strdup((const char *)node->name);
}

static gboolean
check_node(xmlNodePtr node, const char *path, GError **error)
{
    const HyveXmlRule *rule = rule_find(path);
    const char *leaf = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

    if (!rule)
        return TRUE;    /* parent already rejected it */

    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->ns || !word_in(rule->attrs, (const char *)a->name)) {
            g_autofree char *sup = supported_list(rule->attrs);
            g_autofree char *an = a->ns && a->ns->prefix ?
                g_strdup_printf("%s:%s", a->ns->prefix, a->name) : g_strdup((const char *)a->name);

            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "attribute '%s' of <%s> is not supported by hyve (supported: %s)",
                           an, leaf, sup);
            return FALSE;
        }
    }
    if (!rule->children)
        return TRUE;    /* kept verbatim */

    for (xmlNodePtr c = node->children; c; c = c->next) {
        g_autofree char *child_path = NULL;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns || !word_in(rule->children, (const char *)c->name)) {
            g_autofree char *sup = supported_list(rule->children);
            g_autofree char *label = node_label(c);

            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "element <%s> in <%s> is not supported by hyve (supported: %s)",
                           label, leaf, sup);
            return FALSE;
        }
        child_path = g_strdup_printf("%s/%s", path, (const char *)c->name);
        if (!check_node(c, child_path, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
hyve_domain_xml_check_supported(xmlNodePtr root, GError **error)
{
    xmlChar *type;

    if (!root || !g_str_equal((const char *)root->name, "domain")) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "expected root element <domain>");
        return FALSE;
    }
    type = xmlGetNoNsProp(root, (const xmlChar *)"type");
    if (!type || !g_str_equal((const char *)type, "bhyve")) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "domain type '%s' is not supported; hyve runs domains of type "
                       "'bhyve' only", type ? (const char *)type : "");
        xmlFree(type);
        return FALSE;
    }
    xmlFree(type);
    return check_node(root, "domain", error);
}

/* ---- value checks -------------------------------------------------------- */

static gboolean
check_pci_addr(const HyvePciAddr *addr, const char *what, GError **error)
{
    if (!addr->set)
        return TRUE;
    if (addr->domain != 0 || addr->bus != 0 || addr->function != 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "PCI address %04x:%02x:%02x.%x of %s is not supported: "
                       "hyve places devices on domain 0, bus 0, function 0",
                       addr->domain, addr->bus, addr->slot, addr->function, what);
        return FALSE;
    }
    if (addr->slot == 0 || addr->slot > 31) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "PCI slot %u of %s is not supported: slot 0 is the host bridge, "
                       "devices use slots 1 to 31", addr->slot, what);
        return FALSE;
    }
    return TRUE;
}

static gboolean
claim_slot(guint32 *used, const HyvePciAddr *addr, GError **error)
{
    if (!addr->set)
        return TRUE;
    if (*used & (1u << addr->slot)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "Attempted double use of PCI Address %04x:%02x:%02x.%x",
                       addr->domain, addr->bus, addr->slot, addr->function);
        return FALSE;
    }
    *used |= 1u << addr->slot;
    return TRUE;
}

static gboolean
validate_disks(const HyveDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const HyveDiskDef *d = g_ptr_array_index(def->disks, i);
        g_autofree char *what = g_strdup_printf("disk '%s'", d->target_dev);

        if (d->bus && !g_str_equal(d->bus, "virtio")) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "disk bus '%s' of disk '%s' is not supported; hyve supports "
                           "bus 'virtio' only", d->bus, d->target_dev);
            return FALSE;
        }
        if (d->driver_type && !g_str_equal(d->driver_type, "raw")) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "disk format '%s' of disk '%s' is not supported; hyve supports "
                           "format 'raw' only", d->driver_type, d->target_dev);
            return FALSE;
        }
        if (!check_pci_addr(&d->addr, what, error))
            return FALSE;
        for (guint j = 0; j < i; j++) {
            const HyveDiskDef *o = g_ptr_array_index(def->disks, j);

            if (g_str_equal(o->target_dev, d->target_dev)) {
                hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                               "target '%s' duplicated for disk sources '%s' and '%s'",
                               d->target_dev, o->path ? o->path : "",
                               d->path ? d->path : "");
                return FALSE;
            }
        }
    }
    return TRUE;
}

static gboolean
validate_nets(const HyveDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->nets->len; i++) {
        const HyveNetDef *n = g_ptr_array_index(def->nets, i);
        g_autofree char *what = g_strdup_printf("interface %u", i);

        if (n->model && !g_str_equal(n->model, "virtio")) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "interface model '%s' is not supported; hyve supports "
                           "model 'virtio' only", n->model);
            return FALSE;
        }
        if (n->mac_set && (n->mac[0] & 1)) {
            char mac[18];

            hyve_mac_format(n->mac, mac);
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                           "expected unicast mac address, found multicast '%s'", mac);
            return FALSE;
        }
        for (guint j = 0; j < i && n->mac_set; j++) {
            const HyveNetDef *o = g_ptr_array_index(def->nets, j);

            if (o->mac_set && memcmp(o->mac, n->mac, HYVE_MAC_LEN) == 0) {
                char mac[18];

                hyve_mac_format(n->mac, mac);
                hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                               "MAC address '%s' is used by more than one interface", mac);
                return FALSE;
            }
        }
        if (!check_pci_addr(&n->addr, what, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
hyve_domain_def_validate(const HyveDomainDef *def, const HyveDomainParseOptions *opts,
                         GError **error)
{
    guint32 used = 1;   /* slot 0: host bridge */

    if (def->memory_kib == 0) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "Memory size must be specified via <memory> or in the "
                       "<numa> configuration");
        return FALSE;
    }

    if (def->has_topology) {
        guint64 n = (guint64)def->sockets * def->dies * def->cores * def->threads;

        if (n != def->vcpus) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "CPU topology doesn't match maximum vcpu count");
            return FALSE;
        }
    }
    if (def->vcpus_current > def->vcpus) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "maximum vcpus count must not be less than current vcpus count");
        return FALSE;
    }
    if (def->emulator && !g_str_equal(def->emulator, opts->emulator) &&
        !(opts->alt_emulator && g_str_equal(def->emulator, opts->alt_emulator))) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "emulator '%s' is not supported; hyve runs domains with '%s'",
                       def->emulator, opts->emulator);
        return FALSE;
    }
    for (guint i = 0; i < def->boot_devs->len; i++) {
        const char *dev = g_ptr_array_index(def->boot_devs, i);

        if (!g_str_equal(dev, "hd")) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "boot device '%s' is not supported; hyve boots from 'hd' "
                           "or a direct <kernel>", dev);
            return FALSE;
        }
    }
    if (!validate_disks(def, error) || !validate_nets(def, error))
        return FALSE;
    for (guint i = 0; i < def->rngs->len; i++) {
        const HyveRngDef *r = g_ptr_array_index(def->rngs, i);

        if (!check_pci_addr(&r->addr, "rng", error))
            return FALSE;
    }
    for (guint i = 0; i < def->serials->len; i++) {
        const HyveChrDef *c = g_ptr_array_index(def->serials, i);

        for (guint j = 0; j < i && c->port >= 0; j++) {
            const HyveChrDef *o = g_ptr_array_index(def->serials, j);

            if (o->port == c->port) {
                hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                               "serial port %d is used by more than one <serial>", c->port);
                return FALSE;
            }
        }
    }

    /* Given addresses must not collide. */
    for (guint i = 0; i < def->disks->len; i++) {
        if (!claim_slot(&used, &((HyveDiskDef *)g_ptr_array_index(def->disks, i))->addr, error))
            return FALSE;
    }
    for (guint i = 0; i < def->nets->len; i++) {
        if (!claim_slot(&used, &((HyveNetDef *)g_ptr_array_index(def->nets, i))->addr, error))
            return FALSE;
    }
    for (guint i = 0; i < def->rngs->len; i++) {
        if (!claim_slot(&used, &((HyveRngDef *)g_ptr_array_index(def->rngs, i))->addr, error))
            return FALSE;
    }
    return TRUE;
}
