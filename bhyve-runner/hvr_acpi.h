/*
 * hvr_acpi.h: ACPI tables built by the runner (legacy fixed-hardware model).
 *
 * Design note: RSDP, XSDT, FADT (rev 6, fixed power button, reset register
 * 0xCF9 = 6, SMI_CMD 0), FACS, MADT (one LAPIC per vCPU, IOAPIC, IRQ0->GSI2
 * and level IRQ9 overrides, LINT1 NMI) and a DSDT with \_S5 {5,5,0,0} and
 * the PCI root bridge \_SB.PCI0 whose _CRS covers HVR_PCI_MMIO_BASE..LIMIT.
 * Layout inside the table area at HVR_ACPI_BASE (0xE0000) is fixed by the
 * offsets below.  hvr_acpi_build() is a pure function over a buffer; the
 * machine copies the result into guest RAM before the first vCPU runs.
 * Thread-safety: no shared state; the tables are written once, before the
 * guest runs, and never changed afterwards.
 */
#ifndef HVR_ACPI_H
#define HVR_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define HVR_ACPI_BASE       0xE0000
#define HVR_ACPI_SIZE       0x1000
#define HVR_ACPI_RSDP_OFF   0x000
#define HVR_ACPI_XSDT_OFF   0x040
#define HVR_ACPI_FADT_OFF   0x100
#define HVR_ACPI_FACS_OFF   0x240
#define HVR_ACPI_MADT_OFF   0x280
#define HVR_ACPI_DSDT_OFF   0x800

#define HVR_PM1_EVT_PORT    0x600   /* status word, enable word */
#define HVR_PM1_CNT_PORT    0x604
#define HVR_RESET_PORT      0xCF9
#define HVR_SCI_IRQ         9

#define HVR_PCI_MMIO_BASE   0xC0000000ULL
#define HVR_PCI_MMIO_LIMIT  0xFEBFFFFFULL

/* Build all tables for @ncpus (1..64) into @buf (HVR_ACPI_SIZE bytes) as if
 * placed at guest-physical @base. */
void hvr_acpi_build(uint8_t *buf, uint64_t base, int ncpus);

/* Table at @off inside @buf (used by tests): returns its length. */
uint32_t hvr_acpi_table_length(const uint8_t *buf, size_t off);

#endif
