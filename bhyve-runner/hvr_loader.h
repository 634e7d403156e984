/*
 * hvr_loader.h: Linux x86 64-bit boot protocol loader.
 *
 * Design note: loads the protected-mode part of a bzImage at 1 MiB, the
 * initrd at the top of low RAM, the command line at 0x20000, builds the zero
 * page (boot_params) at 0x7000 with the kernel's setup header and an e820 map,
 * identity page tables for 0..4 GiB (PML4 0x9000, PDPT 0xA000, PDs
 * 0xB000-0xEFFF) and a GDT at 0x500 with __BOOT_CS 0x10 / __BOOT_DS 0x18, and
 * gives the BSP's initial long-mode register state (vmm-boot.md section 1).
 * The pure builders (parse, e820, zero page) work on buffers so they can be
 * unit tested.  Thread-safety: no shared state; call before vCPUs run.
 */
#ifndef HVR_LOADER_H
#define HVR_LOADER_H

#include <glib.h>
#include <linux/kvm.h>
#include <stdint.h>

#include "hvr_mem.h"

#define HVR_BOOT_GDT        0x500
#define HVR_BOOT_ZERO_PAGE  0x7000
#define HVR_BOOT_STACK      0x8FF0
#define HVR_BOOT_PML4       0x9000
#define HVR_BOOT_PDPT       0xA000
#define HVR_BOOT_PD         0xB000
#define HVR_BOOT_CMDLINE    0x20000
#define HVR_BOOT_KERNEL     0x100000
#define HVR_BOOT_ACPI       0xE0000
#define HVR_E820_MAX        8

typedef struct {
    uint8_t setup_sects;
    uint16_t version;
    uint8_t loadflags;
    uint16_t xloadflags;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    uint32_t kernel_alignment;
    uint32_t init_size;
    size_t setup_size;      /* (setup_sects + 1) * 512 */
    size_t hdr_end;         /* 0x202 + byte at 0x201 */
} HvrBzImage;

typedef struct {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} HvrE820Entry;

gboolean hvr_bzimage_parse(const uint8_t *data, size_t len, HvrBzImage *out,
                           GError **error);
unsigned hvr_e820_build(uint64_t lowmem, uint64_t highmem,
                        HvrE820Entry out[HVR_E820_MAX]);
void hvr_zero_page_build(uint8_t zp[4096], const uint8_t *kernel,
                         const HvrBzImage *bz, uint64_t cmdline_addr,
                         uint64_t initrd_addr, uint64_t initrd_size,
                         uint64_t rsdp, const HvrE820Entry *e820, unsigned n);

/* Load kernel, initrd and command line into guest RAM, build the zero page,
 * GDT and page tables.  @rsdp is the ACPI RSDP address. */
gboolean hvr_loader_load(HvrMem *mem, const char *kernel, const char *initrd,
                         const char *cmdline, uint64_t rsdp, GError **error);
/* The same with the decompressed-kernel cache in @cache_dir (NULL: none,
 * hvr_kernel.h); *@how (may be NULL) gets the HvrKernelBoot path taken.
 * hvr_loader_load() is this without a cache. */
gboolean hvr_loader_load_cached(HvrMem *mem, const char *kernel, const char *initrd,
                                const char *cmdline, uint64_t rsdp, const char *cache_dir,
                                int *how, GError **error);

/* Initial BSP state; @sregs must hold KVM_GET_SREGS output on entry. */
void hvr_loader_bsp_state(struct kvm_regs *regs, struct kvm_sregs *sregs,
                          struct kvm_fpu *fpu);

#endif
