/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_defaults.c: what libvirt's bhyve driver fills in on define,
 * so the formatted definition is complete and stable:
 *   uuid (random v4), currentMemory = memory, vcpu 1 / current = max,
 *   arch x86_64, boot dev hd, clock utc, lifecycle actions, the pci-root
 *   controller, <emulator>, interface model virtio + 52:54:00 MACs,
 *   serial ports, PCI slots 1.. in device order (disks, interfaces, rngs).
 *
 * Machine type: none is added (libvirt's bhyve driver formats none either);
 * 'pc' is accepted and kept when given.
 *
 * It also holds the other side: the defaults virt-install 4.1 picks for a
 * bhyve:// URI that hyve cannot run (hyve_domain_xml_check_client_defaults):
 * SATA disks, e1000 NICs, an nmdm console, graphics + video + a USB
 * tablet, a UEFI loader, CD-ROMs. They are refused together, in one
 * message naming every virt-install option that avoids them.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_parse_priv.h"

static gboolean
mac_in_use(const HyveDomainDef *def, const guint8 mac[HYVE_MAC_LEN])
{
    for (guint i = 0; i < def->nets->len; i++) {
        const HyveNetDef *n = g_ptr_array_index(def->nets, i);

        if (n->mac_set && memcmp(n->mac, mac, HYVE_MAC_LEN) == 0)
            return TRUE;
    }
    return FALSE;
}

static void
fill_macs(HyveDomainDef *def)
{
    for (guint i = 0; i < def->nets->len; i++) {
        HyveNetDef *n = g_ptr_array_index(def->nets, i);
        guint8 mac[HYVE_MAC_LEN] = { 0x52, 0x54, 0x00 };

        if (n->mac_set)
            continue;
        do {
            guint32 r = g_random_int();

            mac[3] = (r >> 16) & 0xff;
            mac[4] = (r >> 8) & 0xff;
            mac[5] = r & 0xff;
        } while (mac_in_use(def, mac));
        memcpy(n->mac, mac, HYVE_MAC_LEN);
        n->mac_set = TRUE;
    }
}

static void
mark(guint32 *used, const HyvePciAddr *a)
{
    if (a->set)
        *used |= 1u << a->slot;
}

static gboolean
assign(guint32 *used, HyvePciAddr *a, GError **error)
{
    if (a->set)
        return TRUE;
    for (guint slot = 1; slot < 32; slot++) {
        if (!(*used & (1u << slot))) {
            *used |= 1u << slot;
            a->set = TRUE;
            a->domain = a->bus = a->function = 0;
            a->slot = slot;
            return TRUE;
        }
    }
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                   "no free PCI slot left: hyve supports at most 31 PCI devices");
    return FALSE;
}

static gboolean
fill_pci_addresses(HyveDomainDef *def, GError **error)
{
    guint32 used = 1;   /* slot 0 is the host bridge */
    guint i;

    for (i = 0; i < def->disks->len; i++)
        mark(&used, &((HyveDiskDef *)g_ptr_array_index(def->disks, i))->addr);
    for (i = 0; i < def->nets->len; i++)
        mark(&used, &((HyveNetDef *)g_ptr_array_index(def->nets, i))->addr);
    for (i = 0; i < def->rngs->len; i++)
        mark(&used, &((HyveRngDef *)g_ptr_array_index(def->rngs, i))->addr);

    for (i = 0; i < def->disks->len; i++) {
        if (!assign(&used, &((HyveDiskDef *)g_ptr_array_index(def->disks, i))->addr, error))
            return FALSE;
    }
    for (i = 0; i < def->nets->len; i++) {
        if (!assign(&used, &((HyveNetDef *)g_ptr_array_index(def->nets, i))->addr, error))
            return FALSE;
    }
    for (i = 0; i < def->rngs->len; i++) {
        if (!assign(&used, &((HyveRngDef *)g_ptr_array_index(def->rngs, i))->addr, error))
            return FALSE;
    }
    return TRUE;
}

static void
fill_serial_ports(HyveDomainDef *def)
{
    for (guint i = 0; i < def->serials->len; i++) {
        HyveChrDef *c = g_ptr_array_index(def->serials, i);
        int port = 0;

        if (c->port >= 0)
            continue;
        /* lowest port no other serial uses */
        for (gboolean clash = TRUE; clash; ) {
            clash = FALSE;
            for (guint j = 0; j < def->serials->len; j++) {
                const HyveChrDef *o = g_ptr_array_index(def->serials, j);

                if (o != c && o->port == port) {
                    clash = TRUE;
                    port++;
                    break;
                }
            }
        }
        c->port = port;
    }
}

gboolean
hyve_domain_def_fill_defaults(HyveDomainDef *def, const HyveDomainParseOptions *opts,
                              GError **error)
{
    if (!def->uuid_set) {
        hyve_uuid_generate(def->uuid);
        def->uuid_set = TRUE;
    }
    if (def->current_memory_kib == 0 || def->current_memory_kib > def->memory_kib)
        def->current_memory_kib = def->memory_kib;
    if (def->vcpus == 0)
        def->vcpus = 1;
    if (def->vcpus_current == 0)
        def->vcpus_current = def->vcpus;
    if (!def->arch)
        def->arch = g_strdup("x86_64");
    if (def->boot_devs->len == 0)
        g_ptr_array_add(def->boot_devs, g_strdup("hd"));
    if (!def->emulator)
        def->emulator = g_strdup(opts->emulator);
    def->pci_root = TRUE;
    for (guint i = 0; i < def->disks->len; i++) {
        HyveDiskDef *d = g_ptr_array_index(def->disks, i);

        if (!d->bus)
            d->bus = g_strdup("virtio");
    }
    for (guint i = 0; i < def->nets->len; i++) {
        HyveNetDef *n = g_ptr_array_index(def->nets, i);

        if (!n->model)
            n->model = g_strdup("virtio");
    }
    for (guint i = 0; i < def->rngs->len; i++) {
        HyveRngDef *r = g_ptr_array_index(def->rngs, i);

        if (!r->backend_path)
            r->backend_path = g_strdup("/dev/urandom");
    }
    fill_macs(def);
    fill_serial_ports(def);
    if (def->serials->len > 0)
        def->console = TRUE;     /* libvirt shows serial 0 as the console too */
    return fill_pci_addresses(def, error);
}

/* ---- client defaults hyve cannot run ------------------------------------ */

/* At most this many items are spelled out (a definition may have
 * thousands of disks); the others are counted. */
#define HINT_ITEMS_MAX 8

typedef struct {
    GString *items;     /* "disk bus 'sata' of disk 'sda' (supported: virtio); ..." */
    GString *options;   /* "--disk ...,bus=virtio --graphics none ..." */
    guint n_items;
} ClientHints;

static void
hint_add(ClientHints *h, const char *option, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
hint_add(ClientHints *h, const char *option, const char *fmt, ...)
{
    va_list ap;

    if (h->n_items++ < HINT_ITEMS_MAX) {
        if (h->items->len)
            g_string_append(h->items, "; ");
        va_start(ap, fmt);
        g_string_append_vprintf(h->items, fmt, ap);
        va_end(ap);
    }
    if (strstr(h->options->str, option))
        return;
    if (h->options->len)
        g_string_append_c(h->options, ' ');
    g_string_append(h->options, option);
}

#define OPT_KERNEL "--import --boot kernel=PATH,initrd=PATH,kernel_args=ARGS"

static void
hint_disk(ClientHints *h, xmlNodePtr disk)
{
    g_autofree char *device = hyve_xml_attr(disk, "device");
    xmlNodePtr target = hyve_xml_child(disk, "target");
    g_autofree char *dev = hyve_xml_attr(target, "dev");
    g_autofree char *bus = hyve_xml_attr(target, "bus");

    if (device && !g_str_equal(device, "disk"))
        hint_add(h, OPT_KERNEL, "disk device '%s' (supported: disk; hyve boots a kernel, "
                 "not install media)", device);
    else if (bus && !g_str_equal(bus, "virtio"))
        hint_add(h, "--disk ...,bus=virtio", "disk bus '%s' of disk '%s' (supported: virtio)",
                 bus, dev ? dev : "");
}

static void
hint_devices(ClientHints *h, xmlNodePtr devs)
{
    g_autoptr(GString) display = g_string_new(NULL);

    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        const char *n = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE || c->ns)
            continue;
        if (g_str_equal(n, "disk")) {
            hint_disk(h, c);
        } else if (g_str_equal(n, "interface")) {
            g_autofree char *model = hyve_xml_attr(hyve_xml_child(c, "model"), "type");

            if (model && !g_str_equal(model, "virtio"))
                hint_add(h, "--network ...,model=virtio",
                         "interface model '%s' (supported: virtio)", model);
        } else if (g_str_equal(n, "console") || g_str_equal(n, "serial")) {
            g_autofree char *type = hyve_xml_attr(c, "type");

            if (g_strcmp0(type, "nmdm") == 0)
                hint_add(h, "--console pty", "%s type 'nmdm' (a FreeBSD null-modem; "
                         "supported: pty, file, unix)", n);
        } else if (g_str_equal(n, "graphics") || g_str_equal(n, "video") ||
                   g_str_equal(n, "input")) {
            g_autofree char *tag = g_strdup_printf("<%s>", n);

            if (!strstr(display->str, tag))
                g_string_append_printf(display, "%s%s", display->len ? ", " : "", tag);
        }
    }
    if (display->len)
        hint_add(h, "--graphics none", "%s (hyve guests have no display, only serial "
                 "consoles)", display->str);
}

gboolean
hyve_domain_xml_check_client_defaults(xmlNodePtr root, GError **error)
{
    ClientHints h = { g_string_new(NULL), g_string_new(NULL), 0 };
    xmlNodePtr os = hyve_xml_child(root, "os");
    g_autofree char *firmware = hyve_xml_attr(os, "firmware");
    g_autofree char *type = hyve_xml_attr(root, "type");
    gboolean ok;

    /* other documents: hyve_domain_xml_check_supported() names the problem */
    if (!root || !g_str_equal((const char *)root->name, "domain") ||
        g_strcmp0(type, "bhyve") != 0) {
        g_string_free(h.items, TRUE);
        g_string_free(h.options, TRUE);
        return TRUE;
    }
    if (firmware || hyve_xml_child(os, "loader") || hyve_xml_child(os, "nvram"))
        hint_add(&h, OPT_KERNEL, "firmware (<loader>, <nvram>, firmware=): hyve has none, it "
                 "boots a Linux kernel directly");
    for (xmlNodePtr b = os ? os->children : NULL; b; b = b->next) {
        g_autofree char *dev = NULL;

        if (b->type != XML_ELEMENT_NODE || b->ns || !g_str_equal((const char *)b->name, "boot"))
            continue;
        dev = hyve_xml_attr(b, "dev");
        if (dev && !g_str_equal(dev, "hd"))
            hint_add(&h, OPT_KERNEL, "boot device '%s' (supported: hd, or a direct <kernel>)",
                     dev);
    }
    hint_devices(&h, hyve_xml_child(root, "devices"));
    ok = h.n_items == 0;
    if (h.n_items > HINT_ITEMS_MAX)
        g_string_append_printf(h.items, "; and %u more", h.n_items - HINT_ITEMS_MAX);
    if (!ok)
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "not supported by hyve: %s. With virt-install, pass: %s",
                       h.items->str, h.options->str);
    g_string_free(h.items, TRUE);
    g_string_free(h.options, TRUE);
    return ok;
}
