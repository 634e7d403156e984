/*
 * hvr_kernel.h: the decompressed-kernel cache (boot.kernel_cache).
 *
 * Design note: a bzImage spends seconds of every boot running its own
 * decompressor inside the guest.  With a cache directory the runner
 * decompresses the payload (xz or gzip) once, during setup, keeps the result
 * (the kernel's vmlinux ELF) in DIR/<key> and later boots its PT_LOAD
 * segments directly at their physical addresses (64-bit entry e_entry, zero
 * page in RSI, same BSP state).  The key and the file's header record the
 * kernel file's fstat (dev, ino, size, mtime and ctime in ns), so a changed
 * kernel never gets a stale vmlinux.  Everything read back is hostile input:
 * the ELF parser checks every segment against guest RAM; any failure is one
 * log line and the normal bzImage boot (a bad cache file is removed).
 * hvr_elf_parse() and hvr_kernel_decompress() are pure (unit and fuzz tests).
 * Thread-safety: no shared state; setup only (before the sandbox).
 */
#ifndef HVR_KERNEL_H
#define HVR_KERNEL_H

#include <glib.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hvr_loader.h"
#include "hvr_mem.h"

#define HVR_KERNEL_MAX_LOADS    16
/* segments start here or above: the zero page, command line, page tables,
 * ACPI tables and the entry trampoline all lie below */
#define HVR_KERNEL_MIN_PADDR    0x200000ULL
/* no decompressed kernel is bigger than this (nor than guest RAM) */
#define HVR_KERNEL_MAX_ELF      (512ULL << 20)
/* BSP RIP is HVR_BOOT_KERNEL + 0x200; a vmlinux boot puts a jump to
 * e_entry there */
#define HVR_KERNEL_TRAMPOLINE   (HVR_BOOT_KERNEL + 0x200)

typedef struct {
    uint64_t paddr;
    uint64_t offset;
    uint64_t filesz;
    uint64_t memsz;
} HvrElfLoad;

typedef struct {
    uint64_t entry;
    uint64_t end;           /* highest paddr + memsz */
    uint64_t file_end;      /* bytes of the file the segments need */
    unsigned n;
    HvrElfLoad load[HVR_KERNEL_MAX_LOADS];
} HvrElf;

typedef struct {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    uint64_t mtime_ns;
    uint64_t ctime_ns;
} HvrKernelId;

typedef enum {
    HVR_KERNEL_BZIMAGE,     /* cache not used: boot the bzImage */
    HVR_KERNEL_CACHE_MISS,  /* decompressed now, stored, segments loaded */
    HVR_KERNEL_CACHE_HIT,   /* segments loaded from the cache file */
} HvrKernelBoot;

/* Validate an ELF64 x86-64 executable: @hdr holds its first @hdr_len bytes
 * (ELF header and program headers), @file_len is its whole length; every
 * PT_LOAD must lie in [HVR_KERNEL_MIN_PADDR, @ram_top). */
gboolean hvr_elf_parse(const uint8_t *hdr, size_t hdr_len, uint64_t file_len,
                       uint64_t ram_top, HvrElf *elf, GError **error);

/* Decompress the bzImage's payload (xz or gzip) into a new buffer; refuses
 * an output larger than @limit or than the size the image declares. */
uint8_t *hvr_kernel_decompress(const uint8_t *kdata, size_t klen, const HvrBzImage *bz,
                               uint64_t limit, size_t *out_len, GError **error);

void hvr_kernel_id_from_stat(const struct stat *st, HvrKernelId *id);
/* The cache file name of a kernel ("vmlinux-" + 64 hex digits). */
char *hvr_kernel_cache_name(const HvrKernelId *id);

/* Load the kernel's vmlinux into guest RAM through the cache in @dir
 * (filling it on a miss); HVR_KERNEL_BZIMAGE, after one log line, when the
 * cache cannot be used.  @elf gets the entry point and extent. */
HvrKernelBoot hvr_kernel_cache_load(HvrMem *mem, const char *dir, const char *kernel,
                                    const struct stat *kst, const uint8_t *kdata,
                                    size_t klen, const HvrBzImage *bz, HvrElf *elf);

#endif
