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
 * The other side, the defaults virt-install 4.1 picks for a bhyve:// URI
 * that hyve cannot run, is refused in hyve_domain_hints.c.
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
