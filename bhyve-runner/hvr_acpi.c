/* hvr_acpi.c: RSDP/XSDT/FADT/FACS/MADT/DSDT bytes. */
#include <string.h>

#include "hvr_acpi.h"

static void wr8(uint8_t *p, uint8_t v) { p[0] = v; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, v); wr32(p + 4, v >> 32); }

static uint8_t
hvr_acpi_sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;

    while (len--)
        s += *p++;
    return s;
}

static void
hvr_acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    wr32(t + 4, len);
    wr8(t + 8, rev);
    memcpy(t + 10, "HYVE  ", 6);
    memcpy(t + 16, "HYVEVMM ", 8);
    wr32(t + 24, 1);
    memcpy(t + 28, "HYVE", 4);
    wr32(t + 32, 1);
}

static void
hvr_acpi_finish(uint8_t *t)
{
    uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;

    t[9] = 0;
    t[9] = (uint8_t)-hvr_acpi_sum(t, len);
}

static void
hvr_acpi_gas(uint8_t *g, uint8_t space, uint8_t width, uint8_t access, uint64_t addr)
{
    g[0] = space;
    g[1] = width;
    g[2] = 0;
    g[3] = access;
    wr64(g + 4, addr);
}

/* Compiled by iasl from:
 *   Name(_S5, Package(){5, 5, 0, 0})
 *   Scope(_SB) { Device(PCI0) { _HID PNP0A03, _UID 0, _CRS {
 *     WordBusNumber 0-0, IO 0xCF8/8, WordIO 0-0xCF7, WordIO 0xD00-0xFFFF,
 *     DWordMemory 0xC0000000-0xFEBFFFFF } } }   (vmm-boot.md section 3.8) */
static const uint8_t hvr_dsdt_body[] = {
    0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00,
    0x10, 0x4C, 0x07, 0x5F, 0x53, 0x42, 0x5F,
    0x5B, 0x82, 0x44, 0x07, 0x50, 0x43, 0x49, 0x30,
    0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0, 0x0A, 0x03,
    0x08, 0x5F, 0x55, 0x49, 0x44, 0x00,
    0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x48, 0x05, 0x0A, 0x54,
    0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08,
    0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C,
    0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3,
    0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0,
    0xFF, 0xFF, 0xBF, 0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x3E,
    0x79, 0x00,
};

static void
hvr_acpi_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
    hvr_acpi_header(t, "FACP", 276, 6);
    wr32(t + 40, (uint32_t)dsdt);
    wr16(t + 46, HVR_SCI_IRQ);
    wr32(t + 48, 0);                        /* SMI_CMD: always in ACPI mode */
    wr32(t + 56, HVR_PM1_EVT_PORT);
    wr32(t + 64, HVR_PM1_CNT_PORT);
    wr8(t + 88, 4);                         /* PM1_EVT_LEN */
    wr8(t + 89, 2);                         /* PM1_CNT_LEN */
    wr16(t + 109, 0x0034);                  /* no VGA, ASPM, no CMOS RTC; no 8042 */
    wr32(t + 112, 0x00001421);              /* WBINVD|SLP_BUTTON|RESET_REG_SUP|HEADLESS */
    hvr_acpi_gas(t + 116, 1, 8, 1, HVR_RESET_PORT);
    wr8(t + 128, 6);                        /* RESET_VALUE */
    wr8(t + 131, 4);                        /* minor version */
    wr64(t + 132, facs);
    wr64(t + 140, dsdt);
    hvr_acpi_gas(t + 148, 1, 32, 2, HVR_PM1_EVT_PORT);
    hvr_acpi_gas(t + 172, 1, 16, 2, HVR_PM1_CNT_PORT);
    memcpy(t + 268, "HYVEKVM ", 8);
    hvr_acpi_finish(t);
}

static uint32_t
hvr_acpi_madt(uint8_t *t, int ncpus)
{
    uint8_t *e = t + 44;
    int i;

    for (i = 0; i < ncpus; i++, e += 8) {
        e[0] = 0; e[1] = 8; e[2] = i; e[3] = i;
        wr32(e + 4, 1);
    }
    e[0] = 1; e[1] = 12; e[2] = 0; e[3] = 0;        /* IOAPIC id 0 */
    wr32(e + 4, 0xFEC00000);
    wr32(e + 8, 0);
    e += 12;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 0;        /* IRQ0 -> GSI2 */
    wr32(e + 4, 2);
    wr16(e + 8, 0);
    e += 10;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = HVR_SCI_IRQ; /* SCI: level, high */
    wr32(e + 4, HVR_SCI_IRQ);
    wr16(e + 8, 0x000D);
    e += 10;
    e[0] = 4; e[1] = 6; e[2] = 0xFF;                /* NMI on LINT1, all CPUs */
    wr16(e + 3, 0);
    e[5] = 1;
    e += 6;
    hvr_acpi_header(t, "APIC", (uint32_t)(e - t), 5);
    wr32(t + 36, 0xFEE00000);
    wr32(t + 40, 1);                                /* PCAT_COMPAT */
    hvr_acpi_finish(t);
    return (uint32_t)(e - t);
}

void
hvr_acpi_build(uint8_t *buf, uint64_t base, int ncpus)
{
    uint8_t *rsdp = buf + HVR_ACPI_RSDP_OFF;
    uint8_t *xsdt = buf + HVR_ACPI_XSDT_OFF;
    uint8_t *facs = buf + HVR_ACPI_FACS_OFF;
    uint8_t *dsdt = buf + HVR_ACPI_DSDT_OFF;

    memset(buf, 0, HVR_ACPI_SIZE);

    hvr_acpi_header(dsdt, "DSDT", 36 + sizeof(hvr_dsdt_body), 2);
    memcpy(dsdt + 36, hvr_dsdt_body, sizeof(hvr_dsdt_body));
    hvr_acpi_finish(dsdt);

    memcpy(facs, "FACS", 4);
    wr32(facs + 4, 64);
    wr8(facs + 32, 2);

    hvr_acpi_fadt(buf + HVR_ACPI_FADT_OFF, base + HVR_ACPI_FACS_OFF,
                  base + HVR_ACPI_DSDT_OFF);
    hvr_acpi_madt(buf + HVR_ACPI_MADT_OFF, ncpus);

    hvr_acpi_header(xsdt, "XSDT", 36 + 16, 1);
    wr64(xsdt + 36, base + HVR_ACPI_FADT_OFF);
    wr64(xsdt + 44, base + HVR_ACPI_MADT_OFF);
    hvr_acpi_finish(xsdt);

    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "HYVE  ", 6);
    wr8(rsdp + 15, 2);
    wr32(rsdp + 16, 0);
    wr32(rsdp + 20, 36);
    wr64(rsdp + 24, base + HVR_ACPI_XSDT_OFF);
    rsdp[8] = (uint8_t)-hvr_acpi_sum(rsdp, 20);
    rsdp[32] = (uint8_t)-hvr_acpi_sum(rsdp, 36);
}

uint32_t
hvr_acpi_table_length(const uint8_t *buf, size_t off)
{
    const uint8_t *t = buf + off;

    return t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
}
