/*
 * fuzz_loader.c: the bzImage loader (hvr_loader_load: header parse, kernel
 * and initrd placement, command line, zero page with e820, page tables)
 * with fuzzed machine parameters.
 *
 * Input: byte 0 = guest RAM (32 + (b & 31) MiB), byte 1 = kernel padding
 * (bit 7 set: the kernel file is extended with zeros to (b & 63) MiB, or
 * with bit 6 also set to RAM - 1 MiB + ((b & 63) - 32) * 64 KiB, the sizes
 * around what fits above the 1 MiB load address),
 * bytes 2-3 = initrd size in KiB (0 = none), byte 4 = command line length,
 * then the command line, then the kernel file's first bytes.  Kernel and
 * initrd are memfds opened through /proc/self/fd (no files on disk); guest
 * RAM is an anonymous mapping between two PROT_NONE guard pages, so a write
 * outside it faults.  After a successful load: the e820 map in the zero page
 * covers exactly the RAM the machine has, the command line is in place and
 * NUL-terminated within the kernel's limit, the kernel's protected-mode part
 * is at 1 MiB, and the initrd (if any) lies inside low RAM above the kernel.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_runner.h"
#include "hvr_acpi.h"
#include "hvr_loader.h"

#define PAGE 4096

static uint32_t ld32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static int
memfd_with(const char *name, const uint8_t *data, size_t len, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    fuzz_check(fd >= 0, "memfd_create");
    fuzz_check(write(fd, data, len) == (ssize_t)len, "memfd write");
    if (size > len)
        fuzz_check(ftruncate(fd, size) == 0, "memfd truncate");
    return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size, 0 };
    uint64_t ram_size = (32 + (fuzz_u8(&in) & 31)) << 20;
    uint8_t pad = fuzz_u8(&in);
    uint64_t initrd_size = (uint64_t)fuzz_u16(&in) << 10;
    uint8_t clen = fuzz_u8(&in);
    g_autofree char *cmdline = NULL;
    g_autofree char *kpath = NULL;
    g_autofree char *ipath = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HvrMem) mem = NULL;
    uint8_t *map, *ram, *zp;
    int kfd, ifd = -1;
    gboolean ok;
    unsigned i, n;
    uint64_t ram_seen = 0, pad_size = 0;

    if (size > 1 << 16 || size < in.pos + clen)
        return 0;
    cmdline = g_strndup((const char *)data + in.pos, clen);
    in.pos += clen;
    if (pad & 0x80)         /* absolute, or around what fits above 1 MiB */
        pad_size = pad & 0x40 ? ram_size - HVR_BOOT_KERNEL + ((int64_t)(pad & 0x3F) - 32) * 0x10000
                              : (uint64_t)(pad & 0x3F) << 20;
    kfd = memfd_with("hyve-fuzz-kernel", data + in.pos, size - in.pos, pad_size);
    kpath = g_strdup_printf("/proc/self/fd/%d", kfd);
    if (initrd_size) {
        ifd = memfd_with("hyve-fuzz-initrd", (const uint8_t *)"initrd", 6, initrd_size);
        ipath = g_strdup_printf("/proc/self/fd/%d", ifd);
    }

    map = mmap(NULL, ram_size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    fuzz_check(map != MAP_FAILED, "mmap");
    ram = map + PAGE;
    fuzz_check(mprotect(ram, ram_size, PROT_READ | PROT_WRITE) == 0, "mprotect");
    mem = hvr_mem_new_from(ram, ram_size);

    ok = hvr_loader_load(mem, kpath, ipath, cmdline, HVR_ACPI_BASE, &err);
    if (g_getenv("FUZZ_RUNNER_VERBOSE"))
        fprintf(stderr, "load: %s\n", ok ? "ok" : err->message);
    fuzz_check(ok == (err == NULL), "result %d, error %s", ok, err ? err->message : "none");
    if (ok) {
        zp = ram + HVR_BOOT_ZERO_PAGE;
        n = zp[0x1E8];
        fuzz_check(n >= 1 && n <= HVR_E820_MAX, "e820 entries %u", n);
        for (i = 0; i < n; i++) {
            const uint8_t *e = zp + 0x2D0 + 20 * i;
            uint64_t a = ld64(e), l = ld64(e + 8);

            if (ld32(e + 16) != 1)
                continue;
            fuzz_check(a + l <= mem->lowmem, "e820 RAM 0x%" G_GINT64_MODIFIER "x+0x%"
                       G_GINT64_MODIFIER "x beyond %" G_GUINT64_FORMAT " bytes of RAM", a, l, ram_size);
            ram_seen += l;
        }
        fuzz_check(ram_seen <= ram_size && ram_seen + 0x100000 >= ram_size, "e820 RAM total");
        fuzz_check(ld64(zp + 0x070) == HVR_ACPI_BASE, "RSDP pointer");
        fuzz_check(!strcmp((char *)ram + HVR_BOOT_CMDLINE, cmdline), "command line");
        fuzz_check(strlen(cmdline) <= ld32(zp + 0x238), "command line beyond cmdline_size");
        if (initrd_size) {
            uint64_t ia = ld32(zp + 0x218) | (uint64_t)ld32(zp + 0x0C0) << 32;

            fuzz_check(ia >= HVR_BOOT_KERNEL && ia + initrd_size <= mem->lowmem,
                       "initrd at 0x%" G_GINT64_MODIFIER "x", ia);
            fuzz_check(!memcmp(ram + ia, "initrd", 6), "initrd contents");
        }
    } else {
        fuzz_check(err->message && *err->message, "empty error");
    }
    mem = (hvr_mem_free(mem), NULL);
    munmap(map, ram_size + 2 * PAGE);
    close(kfd);
    if (ifd >= 0)
        close(ifd);
    return 0;
}
