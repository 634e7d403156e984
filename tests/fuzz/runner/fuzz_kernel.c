/*
 * fuzz_kernel.c: the decompressed-kernel cache's hostile-input paths
 * (hvr_kernel*.c): a cache file whose vmlinux part is the fuzz input, read
 * back through hvr_loader_load_cached(), and a bzImage payload decompressed
 * with a bound.
 *
 * Input: byte 0 = mode and guest RAM: bit 7 clear = cache file, set =
 * payload; RAM is 40 + (b & 63) MiB.  Cache mode: the rest is the vmlinux
 * stored after a header that matches the kernel (a fixed synthetic bzImage
 * in a private temp dir), so the ELF parser and segment loader see it; guest
 * RAM lies between PROT_NONE guard pages.  After a cache boot, every PT_LOAD
 * the parser accepted lies in [2 MiB, RAM), its file bytes are in guest RAM
 * and the entry jump is in place; a refused file is removed.  Payload mode:
 * the rest is the payload (xz or gzip, its last 4 bytes the declared size),
 * decompressed with a limit of RAM: the output never exceeds it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_runner.h"
#include "hvr_kernel.h"
#include "hvr_loader.h"

#define PAGE 4096
#define SETUP 1024

static void st16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void st32(uint8_t *p, uint32_t v) { st16(p, v); st16(p + 2, v >> 16); }
static void st64(uint8_t *p, uint64_t v) { st32(p, v); st32(p + 4, v >> 32); }
static uint64_t ld64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* setup sector + 512 bytes of "decompressor"; payload appended by caller */
static void
bz_header(uint8_t *img, uint32_t plen)
{
    memset(img, 0, SETUP + 512);
    img[0x1F1] = 1;
    st16(img + 0x1FE, 0xAA55);
    img[0x201] = 0x6A;
    memcpy(img + 0x202, "HdrS", 4);
    st16(img + 0x206, 0x020F);
    img[0x211] = 0x01;
    st32(img + 0x22C, 0x7FFFFFFF);
    st16(img + 0x236, 0x7F);
    st32(img + 0x238, 2047);
    st32(img + 0x248, 512);
    st32(img + 0x24C, plen);
    st32(img + 0x260, 0x100000);
    memset(img + SETUP, 0xC3, 512);
}

static void
fuzz_payload(const uint8_t *data, size_t size, uint64_t ram_size)
{
    g_autofree uint8_t *img = g_malloc(SETUP + 512 + size);
    g_autofree uint8_t *out = NULL;
    g_autoptr(GError) err = NULL;
    size_t olen = 0;
    HvrBzImage bz;

    if (size == 0)          /* a bzImage has at least one payload byte */
        return;
    bz_header(img, size);
    memcpy(img + SETUP + 512, data, size);
    fuzz_check(hvr_bzimage_parse(img, SETUP + 512 + size, &bz, NULL), "bzImage header");
    out = hvr_kernel_decompress(img, SETUP + 512 + size, &bz, ram_size, &olen, &err);
    fuzz_check(!out == !!err, "result and error disagree");
    if (out)
        fuzz_check(olen <= ram_size && size >= 4 &&
                   olen == (data[size - 4] | data[size - 3] << 8 | data[size - 2] << 16 |
                            (uint32_t)data[size - 1] << 24), "output of %zu bytes", olen);
}

static void
fuzz_cache(const uint8_t *data, size_t size, uint64_t ram_size)
{
    static char *dir, *cache, *kpath;
    g_autofree char *name = NULL, *file = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HvrMem) mem = NULL;
    uint8_t img[SETUP + 512 + 16], hdr[64] = "HYVEVMLX";
    struct stat st;
    HvrKernelId id;
    HvrElf elf;
    uint8_t *map, *ram;
    int how = -1, fd;
    unsigned i;

    if (!dir) {
        dir = g_build_filename(fuzz_tmpdir(), "hyve-fuzz-kernel-XXXXXX", NULL);
        fuzz_check(g_mkdtemp(dir) != NULL, "mkdtemp");
        cache = g_build_filename(dir, "cache", NULL);
        kpath = g_build_filename(dir, "bzImage", NULL);
        fuzz_check(mkdir(cache, 0700) == 0, "mkdir");
        bz_header(img, 16);
        memset(img + SETUP + 512, 0, 16);
        fuzz_check(g_file_set_contents(kpath, (char *)img, sizeof(img), NULL), "kernel");
    }
    fuzz_check(stat(kpath, &st) == 0, "stat");
    hvr_kernel_id_from_stat(&st, &id);
    name = hvr_kernel_cache_name(&id);
    file = g_build_filename(cache, name, NULL);
    /* the header the runner writes (hvr_kernel_cache.c) */
    hdr[8] = 1;
    st64(hdr + 16, id.dev);
    st64(hdr + 24, id.ino);
    st64(hdr + 32, id.size);
    st64(hdr + 40, id.mtime_ns);
    st64(hdr + 48, id.ctime_ns);
    st64(hdr + 56, size);
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fuzz_check(fd >= 0 && write(fd, hdr, 64) == 64 &&
               write(fd, data, size) == (ssize_t)size && close(fd) == 0, "cache file");

    map = mmap(NULL, ram_size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    fuzz_check(map != MAP_FAILED, "mmap");
    ram = map + PAGE;
    fuzz_check(mprotect(ram, ram_size, PROT_READ | PROT_WRITE) == 0, "mprotect");
    mem = hvr_mem_new_from(ram, ram_size);
    fuzz_check(hvr_loader_load_cached(mem, kpath, NULL, "", 0xE0000, cache, &how, &err),
               "load: %s", err ? err->message : "");
    if (how == HVR_KERNEL_CACHE_HIT) {
        fuzz_check(hvr_elf_parse(data, size, size, mem->lowmem, &elf, NULL), "parse again");
        for (i = 0; i < elf.n; i++) {
            const HvrElfLoad *l = &elf.load[i];

            fuzz_check(l->paddr >= HVR_KERNEL_MIN_PADDR && l->paddr + l->memsz <= ram_size &&
                       l->offset + l->filesz <= size, "segment %u", i);
        }
        /* the last segment's bytes are in RAM (earlier ones may overlap) */
        if (elf.n) {
            const HvrElfLoad *l = &elf.load[elf.n - 1];

            fuzz_check(!memcmp(ram + l->paddr, data + l->offset, l->filesz), "segment bytes");
        }
        fuzz_check(ld64(ram + HVR_KERNEL_TRAMPOLINE + 2) == elf.entry, "entry jump");
        unlink(file);
    } else {
        fuzz_check(how == HVR_KERNEL_BZIMAGE, "path %d", how);
        fuzz_check(access(file, F_OK) != 0, "refused cache file kept");
    }
    mem = (hvr_mem_free(mem), NULL);
    munmap(map, ram_size + 2 * PAGE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t b;

    if (size < 1 || size > 1 << 20)
        return 0;
    b = data[0];
    if (b & 0x80)
        fuzz_payload(data + 1, size - 1, (40ULL + (b & 63)) << 20);
    else
        fuzz_cache(data + 1, size - 1, (40ULL + (b & 63)) << 20);
    return 0;
}
