/* hvr_pci.c: bus 0, type-1 config access, host bridge, BAR sizing/moves. */
#include <string.h>

#include "hvr_acpi.h"
#include "hvr_error.h"
#include "hvr_pci.h"
#include "hyve/runner-exit.h"

struct _HvrPci {
    HvrMachine *m;              /* NULL when detached */
    GMutex lock;                /* guards addr, devs[*]->cfg, next_mmio */
    uint32_t addr;              /* CONFIG_ADDRESS latch */
    HvrPciDev *devs[32];
    HvrPciDev hostbridge;
    uint64_t next_mmio;
};

void
hvr_pci_dev_init(HvrPciDev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
                 uint8_t revision, uint16_t subvendor, uint16_t subdevice)
{
    memset(d->cfg, 0, sizeof(d->cfg));
    memset(d->wmask, 0, sizeof(d->wmask));
    hvr_pci_set16(d->cfg + 0x00, vendor);
    hvr_pci_set16(d->cfg + 0x02, device);
    d->cfg[0x08] = revision;
    d->cfg[0x09] = class_code & 0xFF;
    d->cfg[0x0A] = (class_code >> 8) & 0xFF;
    d->cfg[0x0B] = (class_code >> 16) & 0xFF;
    hvr_pci_set16(d->cfg + 0x2C, subvendor);
    hvr_pci_set16(d->cfg + 0x2E, subdevice);
    /* command: I/O, memory, bus master, INTx disable */
    hvr_pci_set16(d->wmask + 0x04, 0x0407);
    d->wmask[0x3C] = 0xFF;      /* interrupt line */
    d->next_cap = 0x40;
}

uint8_t
hvr_pci_dev_add_cap(HvrPciDev *d, uint8_t id, uint8_t len)
{
    uint8_t off = d->next_cap;

    d->cfg[off] = id;
    d->cfg[off + 1] = 0;
    if (d->last_cap)
        d->cfg[d->last_cap + 1] = off;
    else
        d->cfg[0x34] = off;
    d->cfg[0x06] |= 0x10;       /* status: capabilities list */
    d->last_cap = off;
    d->next_cap = (uint8_t)((off + len + 3) & ~3);
    return off;
}

gboolean
hvr_pci_dev_add_bar(HvrPci *pci, HvrPciDev *d, int bar, uint64_t size,
                    HvrIoHandler fn, void *opaque, GError **error)
{
    uint64_t addr;

    g_mutex_lock(&pci->lock);
    addr = (pci->next_mmio + size - 1) & ~(size - 1);
    pci->next_mmio = addr + size;
    g_mutex_unlock(&pci->lock);
    if (addr + size - 1 > HVR_PCI_MMIO_LIMIT) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "PCI memory window exhausted");
        return FALSE;
    }
    d->bar[bar].size = size;
    d->bar[bar].addr = addr;
    hvr_pci_set32(d->cfg + 0x10 + 4 * bar, (uint32_t)addr);   /* 32-bit memory */
    if (pci->m) {
        d->bar[bar].range_id = hvr_iobus_add(pci->m->mmio, addr, size, fn, opaque);
        if (!d->bar[bar].range_id) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_INTERNAL,
                        "cannot map BAR%d at 0x%" G_GINT64_MODIFIER "x", bar, addr);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
hvr_pci_register(HvrPci *pci, HvrPciDev *d, int slot, GError **error)
{
    g_mutex_lock(&pci->lock);
    if (slot < 0 || slot >= 32 || pci->devs[slot]) {
        g_mutex_unlock(&pci->lock);
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "PCI slot %d is not available", slot);
        return FALSE;
    }
    d->slot = slot;
    pci->devs[slot] = d;
    g_mutex_unlock(&pci->lock);
    return TRUE;
}

static void
hvr_pci_bar_write_locked(HvrPci *pci, HvrPciDev *d, int bar, uint32_t v)
{
    uint64_t size = d->bar[bar].size;
    uint64_t old = d->bar[bar].addr;
    uint64_t addr = v & ~(uint32_t)(size - 1) & 0xFFFFFFF0u;

    hvr_pci_set32(d->cfg + 0x10 + 4 * bar, (uint32_t)addr);
    if (addr == old || addr < HVR_PCI_MMIO_BASE || addr + size - 1 > HVR_PCI_MMIO_LIMIT)
        return;     /* sizing probe or outside the window: keep the mapping */
    if (pci->m && !hvr_iobus_move(pci->m->mmio, d->bar[bar].range_id, addr))
        return;     /* overlaps another BAR: refuse silently */
    d->bar[bar].addr = addr;
    if (d->bar_moved)
        d->bar_moved(d->opaque, bar, old, addr);
}

static void
hvr_pci_cfg_write_locked(HvrPci *pci, HvrPciDev *d, unsigned reg, unsigned size, uint32_t v)
{
    unsigned i;

    if (reg >= 0x10 && reg < 0x28 && (reg & 3) == 0 && size == 4) {
        int bar = (reg - 0x10) / 4;

        if (d->bar[bar].size)
            hvr_pci_bar_write_locked(pci, d, bar, v);
        return;
    }
    for (i = 0; i < size && reg + i < 256; i++) {
        uint8_t m = d->wmask[reg + i];
        uint8_t b = (v >> (8 * i)) & 0xFF;

        d->cfg[reg + i] = (d->cfg[reg + i] & ~m) | (b & m);
    }
    if (d->cfg_written)
        d->cfg_written(d->opaque, reg, size);
}

static uint32_t
hvr_pci_cfg_read_locked(HvrPciDev *d, unsigned reg, unsigned size)
{
    uint32_t v = 0;
    unsigned i;

    if (reg >= 0x10 && reg < 0x28 && d->bar[(reg - 0x10) / 4].size == 0)
        return 0;   /* unimplemented BAR reads 0 (also after sizing) */
    for (i = 0; i < size && reg + i < 256; i++)
        v |= (uint32_t)d->cfg[reg + i] << (8 * i);
    if (reg >= 0x10 && reg < 0x28 && (reg & 3) == 0 && size == 4) {
        int bar = (reg - 0x10) / 4;
        uint32_t cur = hvr_pci_get32(d->cfg + reg);

        /* After a sizing write the BAR reads ~(size-1) (low bits = type). */
        v = cur & ~(uint32_t)(d->bar[bar].size - 1) & 0xFFFFFFF0u;
    }
    return v;
}

void
hvr_pci_port_access(HvrPci *pci, unsigned off, unsigned size, bool write, uint64_t *val)
{
    g_mutex_lock(&pci->lock);
    if (off < 4) {
        if (off == 1 && size == 1) {            /* 0xCF9 reset control */
            gboolean reset = write && (*val & 0x04);

            if (!write)
                *val = 0;
            g_mutex_unlock(&pci->lock);
            if (reset && pci->m)
                hvr_machine_request_exit(pci->m, HYVE_RUNNER_EXIT_REBOOT,
                                         "reset register 0xCF9");
            return;
        }
        if (size == 4 && off == 0) {
            if (write)
                pci->addr = (uint32_t)*val & 0x80FFFFFCu;
            else
                *val = pci->addr;
        } else if (!write) {
            *val = 0xFF;
        }
        g_mutex_unlock(&pci->lock);
        return;
    }
    {
        uint32_t a = pci->addr;
        unsigned bus = (a >> 16) & 0xFF, slot = (a >> 11) & 0x1F, fn = (a >> 8) & 7;
        unsigned reg = (a & 0xFC) + (off - 4);
        HvrPciDev *d = (a & 0x80000000u) && bus == 0 && fn == 0 ? pci->devs[slot] : NULL;

        if (!d) {
            if (!write)
                *val = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
        } else if (write) {
            hvr_pci_cfg_write_locked(pci, d, reg, size, (uint32_t)*val);
        } else {
            *val = hvr_pci_cfg_read_locked(d, reg, size);
        }
    }
    g_mutex_unlock(&pci->lock);
}

static void
hvr_pci_pio(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    hvr_pci_port_access(opaque, (unsigned)off, size, write, val);
}

HvrPci *
hvr_pci_new_detached(void)
{
    HvrPci *pci = g_new0(HvrPci, 1);

    g_mutex_init(&pci->lock);
    pci->next_mmio = HVR_PCI_MMIO_BASE;
    /* 00:00.0 host bridge (i440FX ids), no BARs */
    hvr_pci_dev_init(&pci->hostbridge, 0x8086, 0x1237, 0x060000, 2, 0, 0);
    hvr_pci_set16(pci->hostbridge.wmask + 0x04, 0x0006);
    pci->hostbridge.slot = 0;
    pci->devs[0] = &pci->hostbridge;
    return pci;
}

HvrPci *
hvr_pci_new(HvrMachine *m)
{
    HvrPci *pci = hvr_pci_new_detached();

    pci->m = m;
    hvr_iobus_add(m->pio, 0xCF8, 8, hvr_pci_pio, pci);
    return pci;
}

void
hvr_pci_free(HvrPci *pci)
{
    if (!pci)
        return;
    g_mutex_clear(&pci->lock);
    g_free(pci);
}
