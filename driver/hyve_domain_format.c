/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_format.c: HyveDomainDef -> libvirt's canonical domain XML
 * (element order and 2-space indentation of virDomainDefFormat), so
 * `virsh dumpxml` output looks like any libvirt driver's and validates
 * against domain.rng.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include "hyve_domain_def.h"

static void G_GNUC_PRINTF(3, 4)
line(GString *buf, int indent, const char *fmt, ...)
{
    va_list ap;

    g_string_append_printf(buf, "%*s", indent, "");
    va_start(ap, fmt);
    g_string_append_vprintf(buf, fmt, ap);
    va_end(ap);
    g_string_append_c(buf, '\n');
}

/* <tag attr='escaped'/> */
static void
attr_element(GString *buf, int indent, const char *tag, const char *attrname,
             const char *value)
{
    if (!value)
        return;
    g_string_append_printf(buf, "%*s<%s %s='", indent, "", tag, attrname);
    hyve_xml_escape(buf, value);
    g_string_append(buf, "'/>\n");
}

static void
format_pci_addr(GString *buf, int indent, const HyvePciAddr *a)
{
    if (!a->set)
        return;
    line(buf, indent,
         "<address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>",
         a->domain, a->bus, a->slot, a->function);
}

static void
format_metadata(GString *buf, const HyveDomainDef *def)
{
    xmlNodePtr root = def->metadata ? xmlDocGetRootElement(def->metadata) : NULL;
    xmlBufferPtr xb;
    int saved;

    if (!root || !xmlFirstElementChild(root))
        return;
    xb = xmlBufferCreate();
    saved = xmlIndentTreeOutput;
    xmlIndentTreeOutput = 1;
    /* level 1: libxml indents children by 2 spaces per level but writes no
     * leading indentation before the element itself. */
    xmlNodeDump(xb, def->metadata, root, 1, 1);
    xmlIndentTreeOutput = saved;
    g_string_append_printf(buf, "  %s\n", (const char *)xmlBufferContent(xb));
    xmlBufferFree(xb);
}

static void
format_disk(GString *buf, const HyveDiskDef *d)
{
    line(buf, 4, "<disk type='%s' device='disk'>", hyve_disk_type_to_string(d->type));
    if (d->driver_name || d->driver_type) {
        g_string_append(buf, "      <driver");
        if (d->driver_name) {
            g_string_append(buf, " name='");
            hyve_xml_escape(buf, d->driver_name);
            g_string_append_c(buf, '\'');
        }
        if (d->driver_type) {
            g_string_append(buf, " type='");
            hyve_xml_escape(buf, d->driver_type);
            g_string_append_c(buf, '\'');
        }
        g_string_append(buf, "/>\n");
    }
    switch (d->type) {
    case HYVE_DISK_TYPE_FILE:
        attr_element(buf, 6, "source", "file", d->path);
        break;
    case HYVE_DISK_TYPE_BLOCK:
        attr_element(buf, 6, "source", "dev", d->path);
        break;
    case HYVE_DISK_TYPE_VOLUME:
        g_string_append(buf, "      <source pool='");
        hyve_xml_escape(buf, d->pool);
        g_string_append(buf, "' volume='");
        hyve_xml_escape(buf, d->volume);
        g_string_append(buf, "'/>\n");
        break;
    case HYVE_DISK_TYPE_LAST:
        break;
    }
    g_string_append(buf, "      <target dev='");
    hyve_xml_escape(buf, d->target_dev);
    g_string_append(buf, "' bus='");
    hyve_xml_escape(buf, d->bus);
    g_string_append(buf, "'/>\n");
    if (d->readonly)
        line(buf, 6, "<readonly/>");
    hyve_xml_text_element(buf, 6, "serial", d->serial);
    format_pci_addr(buf, 6, &d->addr);
    line(buf, 4, "</disk>");
}

static void
format_net(GString *buf, const HyveNetDef *n, gboolean live)
{
    char mac[18];

    hyve_mac_format(n->mac, mac);
    line(buf, 4, "<interface type='%s'>", hyve_net_type_to_string(n->type));
    line(buf, 6, "<mac address='%s'/>", mac);
    if (n->type == HYVE_NET_TYPE_NETWORK && live && n->bridge && n->source) {
        /* a running domain's NIC shows the bridge its network gave it */
        g_string_append(buf, "      <source network='");
        hyve_xml_escape(buf, n->source);
        g_string_append(buf, "' bridge='");
        hyve_xml_escape(buf, n->bridge);
        g_string_append(buf, "'/>\n");
    } else {
        attr_element(buf, 6, "source", n->type == HYVE_NET_TYPE_NETWORK ? "network" : "bridge",
                     n->source);
    }
    attr_element(buf, 6, "target", "dev", n->target_dev);
    attr_element(buf, 6, "model", "type", n->model);
    format_pci_addr(buf, 6, &n->addr);
    line(buf, 4, "</interface>");
}

/* @live: a running domain's XML: a pty shows the device it got. */
static void
format_chr(GString *buf, const char *tag, const HyveChrDef *c, gboolean console, gboolean live)
{
    gboolean pty_path = live && c->type == HYVE_CHR_TYPE_PTY && c->path;

    if (console && pty_path) {
        g_string_append_printf(buf, "    <%s type='pty' tty='", tag);
        hyve_xml_escape(buf, c->path);
        g_string_append(buf, "'>\n");
    } else {
        line(buf, 4, "<%s type='%s'>", tag, hyve_chr_type_to_string(c->type));
    }
    if (pty_path) {
        attr_element(buf, 6, "source", "path", c->path);
    } else if (c->type == HYVE_CHR_TYPE_FILE) {
        attr_element(buf, 6, "source", "path", c->path);
    } else if (c->type == HYVE_CHR_TYPE_UNIX) {
        g_string_append(buf, "      <source");
        if (c->mode) {
            g_string_append(buf, " mode='");
            hyve_xml_escape(buf, c->mode);
            g_string_append_c(buf, '\'');
        }
        g_string_append(buf, " path='");
        hyve_xml_escape(buf, c->path);
        g_string_append(buf, "'/>\n");
    }
    if (console)
        line(buf, 6, "<target type='serial' port='%d'/>", c->port);
    else
        line(buf, 6, "<target port='%d'/>", c->port);
    line(buf, 4, "</%s>", tag);
}

static void
format_os_and_features(GString *buf, const HyveDomainDef *def)
{
    line(buf, 2, "<os>");
    g_string_append_printf(buf, "    <type arch='%s'", def->arch);
    if (def->machine) {
        g_string_append(buf, " machine='");
        hyve_xml_escape(buf, def->machine);
        g_string_append_c(buf, '\'');
    }
    g_string_append_printf(buf, ">%s</type>\n", def->os_type);
    hyve_xml_text_element(buf, 4, "kernel", def->kernel);
    hyve_xml_text_element(buf, 4, "initrd", def->initrd);
    hyve_xml_text_element(buf, 4, "cmdline", def->cmdline);
    for (guint i = 0; i < def->boot_devs->len; i++)
        attr_element(buf, 4, "boot", "dev", g_ptr_array_index(def->boot_devs, i));
    line(buf, 2, "</os>");
    if (def->acpi || def->apic) {
        line(buf, 2, "<features>");
        if (def->acpi)
            line(buf, 4, "<acpi/>");
        if (def->apic)
            line(buf, 4, "<apic/>");
        line(buf, 2, "</features>");
    }
    if (def->has_topology) {
        line(buf, 2, "<cpu>");
        line(buf, 4, "<topology sockets='%u' dies='%u' cores='%u' threads='%u'/>",
             def->sockets, def->dies, def->cores, def->threads);
        line(buf, 2, "</cpu>");
    }
}

char *
hyve_domain_def_format(const HyveDomainDef *def, int id, guint flags)
{
    GString *buf = g_string_new(NULL);
    char uuid[HYVE_UUID_STRING_LEN];
    gboolean live = id > 0 && !(flags & HYVE_DOMAIN_XML_INACTIVE);

    if (live)
        line(buf, 0, "<domain type='bhyve' id='%d'>", id);
    else
        line(buf, 0, "<domain type='bhyve'>");
    hyve_xml_text_element(buf, 2, "name", def->name);
    hyve_uuid_format(def->uuid, uuid);
    line(buf, 2, "<uuid>%s</uuid>", uuid);
    hyve_xml_text_element(buf, 2, "title", def->title);
    hyve_xml_text_element(buf, 2, "description", def->description);
    format_metadata(buf, def);
    line(buf, 2, "<memory unit='KiB'>%" G_GUINT64_FORMAT "</memory>", def->memory_kib);
    line(buf, 2, "<currentMemory unit='KiB'>%" G_GUINT64_FORMAT "</currentMemory>",
         def->current_memory_kib);
    if (def->vcpus_current != def->vcpus)
        line(buf, 2, "<vcpu placement='static' current='%u'>%u</vcpu>",
             def->vcpus_current, def->vcpus);
    else
        line(buf, 2, "<vcpu placement='static'>%u</vcpu>", def->vcpus);
    format_os_and_features(buf, def);
    line(buf, 2, "<clock offset='%s'/>", hyve_clock_offset_to_string(def->clock));
    line(buf, 2, "<on_poweroff>%s</on_poweroff>", hyve_lifecycle_action_to_string(def->on_poweroff));
    line(buf, 2, "<on_reboot>%s</on_reboot>", hyve_lifecycle_action_to_string(def->on_reboot));
    line(buf, 2, "<on_crash>%s</on_crash>", hyve_lifecycle_action_to_string(def->on_crash));

    line(buf, 2, "<devices>");
    hyve_xml_text_element(buf, 4, "emulator", def->emulator);
    for (guint i = 0; i < def->disks->len; i++)
        format_disk(buf, g_ptr_array_index(def->disks, i));
    if (def->pci_root)
        line(buf, 4, "<controller type='pci' index='0' model='pci-root'/>");
    for (guint i = 0; i < def->nets->len; i++)
        format_net(buf, g_ptr_array_index(def->nets, i), live);
    for (guint i = 0; i < def->serials->len; i++)
        format_chr(buf, "serial", g_ptr_array_index(def->serials, i), FALSE, live);
    if (def->console && def->serials->len > 0)
        format_chr(buf, "console", g_ptr_array_index(def->serials, 0), TRUE, live);
    if (def->memballoon_none)
        line(buf, 4, "<memballoon model='none'/>");
    for (guint i = 0; i < def->rngs->len; i++) {
        const HyveRngDef *r = g_ptr_array_index(def->rngs, i);

        line(buf, 4, "<rng model='virtio'>");
        g_string_append(buf, "      <backend model='random'>");
        hyve_xml_escape(buf, r->backend_path);
        g_string_append(buf, "</backend>\n");
        format_pci_addr(buf, 6, &r->addr);
        line(buf, 4, "</rng>");
    }
    line(buf, 2, "</devices>");
    line(buf, 0, "</domain>");
    return g_string_free(buf, FALSE);
}
