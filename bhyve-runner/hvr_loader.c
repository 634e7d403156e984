/* hvr_loader.c: bzImage, zero page, e820, page tables, GDT, BSP state. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_kernel.h"
#include "hvr_loader.h"
#include "hvr_machine.h"

static uint16_t rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, v); wr32(p + 4, v >> 32); }

gboolean
hvr_bzimage_parse(const uint8_t *d, size_t len, HvrBzImage *bz, GError **error)
{
    memset(bz, 0, sizeof(*bz));
    if (len < 0x270 || rd16(d + 0x1FE) != 0xAA55 || rd32(d + 0x202) != 0x53726448) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "not a Linux bzImage (no boot flag 0xAA55 / \"HdrS\" header)");
        return FALSE;
    }
    bz->version = rd16(d + 0x206);
    if (bz->version < 0x020C) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "boot protocol %u.%02u is too old (need 2.12 for the 64-bit entry)",
                    bz->version >> 8, bz->version & 0xFF);
        return FALSE;
    }
    bz->setup_sects = d[0x1F1] ? d[0x1F1] : 4;
    bz->loadflags = d[0x211];
    bz->xloadflags = rd16(d + 0x236);
    bz->initrd_addr_max = rd32(d + 0x22C);
    bz->kernel_alignment = rd32(d + 0x230);
    bz->cmdline_size = rd32(d + 0x238);
    bz->init_size = rd32(d + 0x260);
    bz->setup_size = ((size_t)bz->setup_sects + 1) * 512;
    /* a 2.12 header reaches at least 0x268 (init_size, handover_offset):
     * copy that much into the zero page even when the jump byte at 0x201
     * says less, so every field read above is what the kernel sees */
    bz->hdr_end = MAX(0x202 + d[0x201], 0x268);
    if (!(bz->xloadflags & 1) || !(bz->loadflags & 1)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "kernel has no 64-bit entry point (XLF_KERNEL_64/LOADED_HIGH unset)");
        return FALSE;
    }
    if (bz->setup_size + 0x200 >= len || bz->hdr_end > 0x290) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "truncated bzImage (setup %zu bytes, file %zu bytes)",
                    bz->setup_size, len);
        return FALSE;
    }
    return TRUE;
}

unsigned
hvr_e820_build(uint64_t lowmem, uint64_t highmem, HvrE820Entry out[HVR_E820_MAX])
{
    unsigned n = 0;

    out[n++] = (HvrE820Entry){ 0, 0x9FC00, 1 };
    out[n++] = (HvrE820Entry){ 0x9FC00, 0x400, 2 };
    out[n++] = (HvrE820Entry){ 0xE0000, 0x20000, 2 };
    out[n++] = (HvrE820Entry){ 0x100000, lowmem - 0x100000, 1 };
    if (highmem)
        out[n++] = (HvrE820Entry){ HVR_HIGHMEM_BASE, highmem, 1 };
    return n;
}

void
hvr_zero_page_build(uint8_t zp[4096], const uint8_t *kernel, const HvrBzImage *bz,
                    uint64_t cmdline_addr, uint64_t initrd_addr, uint64_t initrd_size,
                    uint64_t rsdp, const HvrE820Entry *e820, unsigned n)
{
    unsigned i;

    memset(zp, 0, 4096);
    memcpy(zp + 0x1F1, kernel + 0x1F1, bz->hdr_end - 0x1F1);
    wr64(zp + 0x070, rsdp);
    zp[0x210] = 0xFF;                           /* type_of_loader */
    wr16(zp + 0x1FA, 0xFFFF);                   /* vid_mode normal */
    wr32(zp + 0x218, (uint32_t)initrd_addr);
    wr32(zp + 0x21C, (uint32_t)initrd_size);
    wr32(zp + 0x0C0, (uint32_t)(initrd_addr >> 32));
    wr32(zp + 0x0C4, (uint32_t)(initrd_size >> 32));
    wr32(zp + 0x228, (uint32_t)cmdline_addr);
    wr32(zp + 0x0C8, (uint32_t)(cmdline_addr >> 32));
    wr32(zp + 0x23C, 0);                        /* hardware_subarch PC */
    zp[0x1E8] = n;
    for (i = 0; i < n; i++) {
        uint8_t *e = zp + 0x2D0 + 20 * i;

        wr64(e, e820[i].addr);
        wr64(e + 8, e820[i].size);
        wr32(e + 16, e820[i].type);
    }
}

static void
hvr_loader_tables(HvrMem *mem)
{
    uint8_t *gdt = hvr_mem_gpa(mem, HVR_BOOT_GDT, 32);
    uint8_t *pml4 = hvr_mem_gpa(mem, HVR_BOOT_PML4, 4096);
    uint8_t *pdpt = hvr_mem_gpa(mem, HVR_BOOT_PDPT, 4096);
    uint8_t *pd = hvr_mem_gpa(mem, HVR_BOOT_PD, 4 * 4096);
    unsigned i;

    memset(gdt, 0, 32);
    wr64(gdt + 0x10, 0x00AF9B000000FFFFULL);    /* __BOOT_CS: 64-bit code */
    wr64(gdt + 0x18, 0x00CF93000000FFFFULL);    /* __BOOT_DS: data */
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    wr64(pml4, HVR_BOOT_PDPT | 3);
    for (i = 0; i < 4; i++)
        wr64(pdpt + 8 * i, (HVR_BOOT_PD + i * 0x1000) | 3);
    for (i = 0; i < 4 * 512; i++)
        wr64(pd + 8 * i, ((uint64_t)i << 21) | 0x83);
}

/* Read the whole kernel file and fstat the same descriptor (the cache key). */
static uint8_t *
hvr_loader_read_kernel(const char *path, struct stat *st, gsize *len, gboolean *changed,
                       GError **error)
{
    struct stat again;
    g_autofree uint8_t *data = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);    /* a FIFO must not block */
    int err = fd < 0 || fstat(fd, st) < 0 ? errno : S_ISREG(st->st_mode) ? 0 : EINVAL;
    gsize done = 0;

    if (err) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPEN_FAILED, "cannot read kernel: %s: %s",
                    path, g_strerror(err));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    data = g_try_malloc((gsize)st->st_size + 1);
    while (data && done < (gsize)st->st_size) {
        ssize_t r = read(fd, data + done, st->st_size - done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += r;
    }
    /* a kernel rewritten while it was read must not be cached under the
     * key of its first version: @changed turns the cache off for this boot */
    if (fstat(fd, &again) < 0 || again.st_size != st->st_size ||
        again.st_mtim.tv_sec != st->st_mtim.tv_sec ||
        again.st_mtim.tv_nsec != st->st_mtim.tv_nsec ||
        again.st_ctim.tv_sec != st->st_ctim.tv_sec ||
        again.st_ctim.tv_nsec != st->st_ctim.tv_nsec)
        *changed = TRUE;
    close(fd);
    if (!data || done != (gsize)st->st_size) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED, "cannot read kernel: %s: %s",
                    path, data ? "short read" : "out of memory");
        return NULL;
    }
    *len = done;
    return g_steal_pointer(&data);
}

/* vmlinux boot: RIP stays HVR_BOOT_KERNEL + 0x200 (hvr_loader_bsp_state);
 * put "mov $entry, %rax; jmp *%rax" there. */
static void
hvr_loader_trampoline(HvrMem *mem, uint64_t entry)
{
    uint8_t *t = hvr_mem_gpa(mem, HVR_KERNEL_TRAMPOLINE, 12);

    t[0] = 0x48;
    t[1] = 0xB8;
    wr64(t + 2, entry);
    t[10] = 0xFF;
    t[11] = 0xE0;
}

gboolean
hvr_loader_load(HvrMem *mem, const char *kernel, const char *initrd,
                const char *cmdline, uint64_t rsdp, GError **error)
{
    return hvr_loader_load_cached(mem, kernel, initrd, cmdline, rsdp, NULL,
                                  NULL, error);
}

gboolean
hvr_loader_load_cached(HvrMem *mem, const char *kernel, const char *initrd,
                       const char *cmdline, uint64_t rsdp, const char *cache_dir,
                       int *how, GError **error)
{
    g_autofree uint8_t *kdata = NULL;
    g_autofree uint8_t *idata = NULL;
    gsize klen = 0, ilen = 0;
    HvrE820Entry e820[HVR_E820_MAX];
    uint64_t initrd_addr = 0, kend, pm_len;
    HvrKernelBoot boot = HVR_KERNEL_BZIMAGE;
    gboolean changed = FALSE;
    struct stat kst;
    HvrBzImage bz;
    HvrElf elf;
    unsigned n;
    uint8_t *dst;

    if (!(kdata = hvr_loader_read_kernel(kernel, &kst, &klen, &changed, error)))
        return FALSE;
    if (changed && cache_dir) {
        hvr_log("kernel: %s changed while it was read; booting it without the cache", kernel);
        cache_dir = NULL;
    }
    if (!hvr_bzimage_parse(kdata, klen, &bz, error)) {
        g_prefix_error(error, "%s: ", kernel);
        return FALSE;
    }
    pm_len = klen - bz.setup_size;
    kend = HVR_BOOT_KERNEL + MAX(pm_len, (uint64_t)bz.init_size);
    /* the same minimum for both paths: the vmlinux's own extent (74 MiB for
     * Debian's 6.1) is only ~5 MiB below 16 MiB + init_size */
    if (0x1000000ULL + bz.init_size + (16ULL << 20) > mem->lowmem) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "guest memory too small for this kernel (needs more than %u MiB)",
                    (unsigned)((0x1000000ULL + bz.init_size) >> 20) + 16);
        return FALSE;
    }
    if (cache_dir)
        boot = hvr_kernel_cache_load(mem, cache_dir, kernel, &kst, kdata, klen, &bz, &elf);
    if (how)
        *how = boot;
    if (boot != HVR_KERNEL_BZIMAGE) {
        hvr_loader_trampoline(mem, elf.entry);
        kend = MAX(kend, elf.end);
    } else if (!(dst = hvr_mem_gpa(mem, HVR_BOOT_KERNEL, pm_len))) {
        /* init_size fits (above), but the file itself may be bigger than RAM */
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "kernel %s (%zu bytes) does not fit in guest memory", kernel, klen);
        return FALSE;
    } else {
        memcpy(dst, kdata + bz.setup_size, pm_len);
    }

    if (initrd) {
        uint64_t top = MIN(mem->lowmem, (uint64_t)bz.initrd_addr_max + 1);

        if (!g_file_get_contents(initrd, (char **)&idata, &ilen, error)) {
            g_prefix_error(error, "cannot read initrd: ");
            return FALSE;
        }
        initrd_addr = (top - ilen) & ~0xFFFULL;
        if (ilen >= top || initrd_addr < MAX(kend, 0x1000000ULL + bz.init_size)) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                        "initrd %s (%zu bytes) does not fit in guest memory", initrd, ilen);
            return FALSE;
        }
        memcpy(hvr_mem_gpa(mem, initrd_addr, ilen), idata, ilen);
    }
    cmdline = cmdline ? cmdline : "";
    if (strlen(cmdline) > bz.cmdline_size) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "command line longer than the kernel's limit of %u bytes", bz.cmdline_size);
        return FALSE;
    }
    dst = hvr_mem_gpa(mem, HVR_BOOT_CMDLINE, strlen(cmdline) + 1);
    memcpy(dst, cmdline, strlen(cmdline) + 1);

    n = hvr_e820_build(mem->lowmem, mem->highmem, e820);
    hvr_zero_page_build(hvr_mem_gpa(mem, HVR_BOOT_ZERO_PAGE, 4096), kdata, &bz,
                        HVR_BOOT_CMDLINE, initrd_addr, ilen, rsdp, e820, n);
    hvr_loader_tables(mem);
    return TRUE;
}

void
hvr_loader_bsp_state(struct kvm_regs *regs, struct kvm_sregs *sregs,
                     struct kvm_fpu *fpu)
{
    struct kvm_segment cs = {
        .base = 0, .limit = 0xFFFFFFFF, .selector = 0x10, .type = 11,
        .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
    };
    struct kvm_segment ds = {
        .base = 0, .limit = 0xFFFFFFFF, .selector = 0x18, .type = 3,
        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
    };

    sregs->cs = cs;
    sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = ds;
    sregs->gdt.base = HVR_BOOT_GDT;
    sregs->gdt.limit = 31;
    sregs->idt.base = 0;
    sregs->idt.limit = 0;
    sregs->cr0 = 0x80000011;
    sregs->cr3 = HVR_BOOT_PML4;
    sregs->cr4 = 0x20;
    sregs->efer = 0x500;

    memset(regs, 0, sizeof(*regs));
    regs->rip = HVR_BOOT_KERNEL + 0x200;
    regs->rsi = HVR_BOOT_ZERO_PAGE;
    regs->rflags = 0x2;
    regs->rsp = regs->rbp = HVR_BOOT_STACK;

    memset(fpu, 0, sizeof(*fpu));
    fpu->fcw = 0x37F;
    fpu->mxcsr = 0x1F80;
}
