/*
 * fuzz_platform.c: the guest-facing platform registers and the tables built
 * from machine parameters.
 *
 * Machine parameters from the first input bytes: vCPUs (1..64) for the ACPI
 * tables (hvr_acpi_build into an exactly-sized heap buffer: checksums,
 * lengths, table placement, one LAPIC per vCPU, pointers) and a memory size
 * for the e820 map (sorted, disjoint, RAM only where hvr_mem maps RAM, no RAM
 * in the PCI window or the ACPI area).
 *
 * Then a program of port and MMIO accesses dispatched through the real buses
 * of a KVM-less machine (fuzz_runner.h) holding the PCI bus (0xCF8-0xCFF,
 * 0xCF9 reset), the ACPI PM device (PM1 event/control at 0x600/0x604, i8042
 * at 0x60/0x64) and two virtio-rng devices in slots 3 and 4 (their BAR0 on
 * the MMIO bus: common config, ISR, device config, doorbells, MSI-X table,
 * PBA), plus power-button presses.  Checked after every access: read-only
 * config space (ids, class, capability chain) unchanged, BARs inside the
 * window and never overlapping, the bus still reaches each device at its
 * BAR, PM1 enable bits limited to the implemented ones, SCI_EN reads set,
 * and the only exit requests are reboot (0xCF9, i8042) and poweroff (S5).
 */
#include <string.h>

#include "fuzz_runner.h"
#include "hvr_acpi.h"
#include "hvr_devices.h"
#include "hvr_loader.h"
#include "hvr_pci.h"
#include "hvr_pm.h"
#include "hvr_virtio_pci.h"
#include "hyve/runner-exit.h"

static uint8_t
sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    while (n--)
        s += *p++;
    return s;
}

static uint32_t ld32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static void
fuzz_acpi(int ncpus, uint64_t base)
{
    uint8_t *buf = g_malloc(HVR_ACPI_SIZE);     /* exact size: ASan sees overruns */
    static const struct { size_t off; const char *sig; } tables[] = {
        { HVR_ACPI_XSDT_OFF, "XSDT" }, { HVR_ACPI_FADT_OFF, "FACP" },
        { HVR_ACPI_MADT_OFF, "APIC" }, { HVR_ACPI_DSDT_OFF, "DSDT" },
    };
    size_t next_off[G_N_ELEMENTS(tables)] = {
        HVR_ACPI_FADT_OFF, HVR_ACPI_FACS_OFF, HVR_ACPI_DSDT_OFF, HVR_ACPI_SIZE,
    };
    const uint8_t *madt = buf + HVR_ACPI_MADT_OFF, *e;
    uint64_t seen_ids = 0;
    unsigned i, lapics = 0;

    memset(buf, 0x5A, HVR_ACPI_SIZE);
    hvr_acpi_build(buf, base, ncpus);
    fuzz_check(!memcmp(buf, "RSD PTR ", 8), "RSDP signature");
    fuzz_check(sum8(buf, 20) == 0, "RSDP checksum (ncpus %d)", ncpus);
    fuzz_check(sum8(buf, 36) == 0, "RSDP extended checksum (ncpus %d)", ncpus);
    fuzz_check(ld64(buf + 24) == base + HVR_ACPI_XSDT_OFF, "RSDP XSDT pointer");
    for (i = 0; i < G_N_ELEMENTS(tables); i++) {
        const uint8_t *t = buf + tables[i].off;
        uint32_t len = hvr_acpi_table_length(buf, tables[i].off);

        fuzz_check(!memcmp(t, tables[i].sig, 4), "%s signature", tables[i].sig);
        fuzz_check(len >= 36 && tables[i].off + len <= next_off[i],
                   "%s length %u overlaps the next table (ncpus %d)", tables[i].sig, len, ncpus);
        fuzz_check(sum8(t, len) == 0, "%s checksum (ncpus %d)", tables[i].sig, ncpus);
    }
    fuzz_check(ld64(buf + HVR_ACPI_XSDT_OFF + 36) == base + HVR_ACPI_FADT_OFF, "XSDT -> FADT");
    fuzz_check(ld64(buf + HVR_ACPI_XSDT_OFF + 44) == base + HVR_ACPI_MADT_OFF, "XSDT -> MADT");
    fuzz_check(ld64(buf + HVR_ACPI_FADT_OFF + 140) == base + HVR_ACPI_DSDT_OFF, "FADT X_DSDT");
    fuzz_check(ld64(buf + HVR_ACPI_FADT_OFF + 132) == base + HVR_ACPI_FACS_OFF, "FADT X_FACS");
    fuzz_check(!memcmp(buf + HVR_ACPI_FACS_OFF, "FACS", 4) && ld32(buf + HVR_ACPI_FACS_OFF + 4) == 64,
               "FACS");
    for (e = madt + 44; e < madt + hvr_acpi_table_length(buf, HVR_ACPI_MADT_OFF); e += e[1]) {
        fuzz_check(e[1] >= 2, "MADT entry of length %u", e[1]);
        if (e[0] == 0) {
            fuzz_check(e[3] < 64 && !(seen_ids & (1ULL << e[3])), "MADT APIC id %u twice", e[3]);
            seen_ids |= 1ULL << e[3];
            lapics++;
        }
    }
    fuzz_check(e == madt + hvr_acpi_table_length(buf, HVR_ACPI_MADT_OFF), "MADT entries overrun");
    fuzz_check(lapics == (unsigned)ncpus, "MADT has %u LAPICs for %d vCPUs", lapics, ncpus);
    g_free(buf);
}

static void
fuzz_e820(uint64_t size)
{
    HvrE820Entry e[HVR_E820_MAX];
    uint64_t lowmem = MIN(size, HVR_LOWMEM_LIMIT), highmem = size - lowmem, ram = 0;
    unsigned n = hvr_e820_build(lowmem, highmem, e), i;

    fuzz_check(n >= 1 && n <= HVR_E820_MAX, "e820: %u entries", n);
    for (i = 0; i < n; i++) {
        fuzz_check(e[i].size > 0, "e820[%u] empty", i);
        fuzz_check(e[i].addr + e[i].size > e[i].addr, "e820[%u] wraps", i);
        if (i)
            fuzz_check(e[i].addr >= e[i - 1].addr + e[i - 1].size, "e820[%u] overlaps or unsorted", i);
        if (e[i].type != 1)
            continue;
        ram += e[i].size;
        fuzz_check((e[i].addr + e[i].size <= lowmem) ||
                   (e[i].addr >= HVR_HIGHMEM_BASE && e[i].addr + e[i].size <= HVR_HIGHMEM_BASE + highmem),
                   "e820[%u] RAM 0x%" G_GINT64_MODIFIER "x+0x%" G_GINT64_MODIFIER "x not backed (size %"
                   G_GUINT64_FORMAT ")", i, e[i].addr, e[i].size, size);
        fuzz_check(e[i].addr + e[i].size <= HVR_ACPI_BASE || e[i].addr >= HVR_ACPI_BASE + 0x20000,
                   "e820[%u] RAM over the ACPI tables", i);
        fuzz_check(e[i].addr + e[i].size <= HVR_PCI_MMIO_BASE || e[i].addr > HVR_PCI_MMIO_LIMIT,
                   "e820[%u] RAM in the PCI window", i);
    }
    fuzz_check(ram <= size && ram >= size - 0x100000, "e820 RAM %" G_GUINT64_FORMAT " for %"
               G_GUINT64_FORMAT, ram, size);
}

static uint64_t
pio(HvrMachine *m, uint16_t port, unsigned size, bool write, uint64_t v)
{
    hvr_iobus_access(m->pio, port, size, write, &v);
    return v;
}

static uint32_t
cfg_read(HvrMachine *m, unsigned slot, unsigned reg, unsigned size)
{
    pio(m, 0xCF8, 4, true, 0x80000000u | slot << 11 | (reg & 0xFC));
    return (uint32_t)pio(m, 0xCFC + (reg & 3), size, false, 0);
}

typedef struct {
    HvrVirtioDev *dev[2];
    uint8_t ro[2][256];         /* snapshot of the read-only bytes */
} Plat;

static void
fuzz_platform_check(HvrMachine *m, Plat *p)
{
    unsigned i, r;
    uint64_t v = 0;

    for (i = 0; i < 2; i++) {
        HvrPciDev *d = &p->dev[i]->pci;

        for (r = 0; r < 256; r++)
            if (!d->wmask[r] && !(r >= 0x10 && r < 0x28))
                fuzz_check(d->cfg[r] == p->ro[i][r], "slot %d: read-only config byte 0x%x changed "
                           "0x%02x -> 0x%02x", d->slot, r, p->ro[i][r], d->cfg[r]);
        fuzz_check(d->bar[0].addr >= HVR_PCI_MMIO_BASE &&
                   d->bar[0].addr + d->bar[0].size - 1 <= HVR_PCI_MMIO_LIMIT &&
                   !(d->bar[0].addr & (d->bar[0].size - 1)),
                   "slot %d: BAR0 at 0x%" G_GINT64_MODIFIER "x", d->slot, d->bar[0].addr);
        /* the MMIO bus reaches this device at its BAR: num_queues */
        v = 0;
        fuzz_check(hvr_iobus_access(m->mmio, d->bar[0].addr + 18, 2, false, &v) && v == 1,
                   "slot %d: BAR0 0x%" G_GINT64_MODIFIER "x not mapped (read %" G_GINT64_MODIFIER "x)",
                   d->slot, d->bar[0].addr, v);
    }
    fuzz_check(p->dev[0]->pci.bar[0].addr + 0x8000 <= p->dev[1]->pci.bar[0].addr ||
               p->dev[1]->pci.bar[0].addr + 0x8000 <= p->dev[0]->pci.bar[0].addr,
               "BARs overlap");
    fuzz_check((pio(m, HVR_PM1_EVT_PORT + 2, 2, false, 0) & ~0x0721u) == 0, "PM1 enable bits");
    fuzz_check(pio(m, HVR_PM1_CNT_PORT, 2, false, 0) & HVR_PM1_SCI_EN, "SCI_EN clear");
    g_mutex_lock(&m->lock);
    fuzz_check(m->exit_status == -1 || m->exit_status == HYVE_RUNNER_EXIT_REBOOT ||
               m->exit_status == HYVE_RUNNER_EXIT_POWEROFF, "exit status %d", m->exit_status);
    g_mutex_unlock(&m->lock);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t ports[] = {
        0xCF8, 0xCF9, 0xCFA, 0xCFB, 0xCFC, 0xCFD, 0xCFE, 0xCFF,
        0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x60, 0x64,
    };
    static const unsigned sz[4] = { 1, 2, 4, 8 };
    FuzzIn in = { data, size, 0 };
    FuzzMachine *fm;
    HvrMachine *m;
    Plat p;
    HvrPciSlotConfig sc = { .model = HVR_PCI_VIRTIO_RNG, .fd = -1 };
    unsigned i, steps = 0;

    if (size > 4096)
        return 0;
    /* machine parameters */
    fuzz_acpi(1 + fuzz_u8(&in) % 64, HVR_ACPI_BASE + 16 * (uint64_t)(fuzz_u8(&in) & 0x1F) * 0x100);
    fuzz_e820((32 + (fuzz_u32(&in) % ((1u << 20) - 31))) * (1ULL << 20));

    fm = fuzz_machine_new(0x10000, true);
    m = &fm->m;
    for (i = 0; i < 2; i++) {
        HvrDevice *hd;

        fuzz_check(hvr_virtio_rng_create(m, 3 + i, &sc, NULL), "virtio-rng create");
        hd = g_ptr_array_index(m->devices, m->devices->len - 1);
        hd->stop(hd->opaque);
        p.dev[i] = hd->opaque;
        memcpy(p.ro[i], p.dev[i]->pci.cfg, 256);
    }
    fuzz_check(cfg_read(m, 3, 0, 4) == 0x10441AF4, "virtio-rng ids");

    while (fuzz_more(&in) && steps++ < 512) {
        uint8_t op = fuzz_u8(&in);
        bool write = op & 0x80;
        unsigned s = sz[(op >> 5) & 3];

        switch (op & 7) {
        case 0: case 1: case 2: {       /* platform ports (4-byte max on ports) */
            uint16_t port = ports[fuzz_u8(&in) & 15];

            pio(m, port, MIN(s, 4), write, fuzz_u32(&in));
            break;
        }
        case 3:                          /* any port */
            pio(m, fuzz_u16(&in), MIN(s, 4), write, fuzz_u32(&in));
            break;
        case 4: {                        /* config cycle in one go */
            uint8_t slot = fuzz_u8(&in), reg = fuzz_u8(&in);

            pio(m, 0xCF8, 4, true, 0x80000000u | (slot & 0x1F) << 11 | (reg & 0xFC) |
                                   (slot & 0x20 ? 0x100 : 0));
            pio(m, 0xCFC + (reg & 3), MIN(s, 4), write, fuzz_u32(&in));
            break;
        }
        case 5: case 6: {                /* MMIO near the BARs, or anywhere */
            uint64_t a = (op & 7) == 5 ? HVR_PCI_MMIO_BASE + (fuzz_u32(&in) & 0x1FFFF)
                                       : fuzz_u32(&in);
            uint64_t v = fuzz_u64(&in);

            hvr_iobus_access(m->mmio, a, s, write, &v);
            break;
        }
        case 7:
            hvr_pm_power_button(m->pm);
            break;
        }
        fuzz_platform_check(m, &p);
    }
    fuzz_machine_free(fm);
    return 0;
}
