/* hvr_kernel_elf.c: vmlinux ELF checks and bzImage payload decompression. */
#include <lzma.h>
#include <string.h>
#include <zlib.h>

#include "hvr_error.h"
#include "hvr_kernel.h"

#define ELF_EHDR_SIZE   64
#define ELF_PHDR_SIZE   56
#define ELF_MAX_PHDRS   64
#define PT_LOAD_TYPE    1
#define PF_X_FLAG       1

static uint16_t ld16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t ld32(const uint8_t *p) { return ld16(p) | (uint32_t)ld16(p + 2) << 16; }
static uint64_t ld64(const uint8_t *p) { return ld32(p) | (uint64_t)ld32(p + 4) << 32; }

static gboolean
elf_fail(GError **error, const char *what)
{
    g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED, "bad vmlinux: %s", what);
    return FALSE;
}

/* One PT_LOAD: file range inside the file, memory range inside
 * [HVR_KERNEL_MIN_PADDR, ram_top), no wrap-around anywhere. */
static gboolean
elf_check_load(const HvrElfLoad *l, uint64_t file_len, uint64_t ram_top, GError **error)
{
    if (l->filesz > l->memsz)
        return elf_fail(error, "segment file size exceeds its memory size");
    if (l->offset > file_len || l->filesz > file_len - l->offset)
        return elf_fail(error, "segment data past the end of the file");
    if (l->paddr < HVR_KERNEL_MIN_PADDR || l->memsz > ram_top ||
        l->paddr > ram_top - l->memsz)
        return elf_fail(error, "segment outside guest RAM");
    return TRUE;
}

gboolean
hvr_elf_parse(const uint8_t *h, size_t hdr_len, uint64_t file_len, uint64_t ram_top,
              HvrElf *elf, GError **error)
{
    uint64_t phoff;
    unsigned phnum, i;
    gboolean entry_ok = FALSE;

    memset(elf, 0, sizeof(*elf));
    if (hdr_len > file_len)
        hdr_len = file_len;
    if (hdr_len < ELF_EHDR_SIZE || memcmp(h, "\177ELF", 4) != 0)
        return elf_fail(error, "no ELF header");
    if (h[4] != 2 || h[5] != 1 || h[6] != 1)
        return elf_fail(error, "not a little-endian ELF64 file");
    if (ld16(h + 0x10) != 2 || ld16(h + 0x12) != 62)
        return elf_fail(error, "not an x86-64 executable (ET_EXEC, EM_X86_64)");
    if (file_len > HVR_KERNEL_MAX_ELF)
        return elf_fail(error, "larger than 512 MiB");
    elf->entry = ld64(h + 0x18);
    phoff = ld64(h + 0x20);
    phnum = ld16(h + 0x38);
    if (ld16(h + 0x36) != ELF_PHDR_SIZE || phnum == 0 || phnum > ELF_MAX_PHDRS ||
        phoff > hdr_len || (uint64_t)phnum * ELF_PHDR_SIZE > hdr_len - phoff)
        return elf_fail(error, "program headers missing or out of bounds");
    elf->file_end = phoff + (uint64_t)phnum * ELF_PHDR_SIZE;
    for (i = 0; i < phnum; i++) {
        const uint8_t *p = h + phoff + (uint64_t)i * ELF_PHDR_SIZE;
        HvrElfLoad l;

        if (ld32(p) != PT_LOAD_TYPE)
            continue;
        if (elf->n == HVR_KERNEL_MAX_LOADS)
            return elf_fail(error, "more than 16 PT_LOAD segments");
        l = (HvrElfLoad){ ld64(p + 24), ld64(p + 8), ld64(p + 32), ld64(p + 40) };
        if (!elf_check_load(&l, file_len, ram_top, error))
            return FALSE;
        elf->load[elf->n++] = l;
        elf->end = MAX(elf->end, l.paddr + l.memsz);
        elf->file_end = MAX(elf->file_end, l.offset + l.filesz);
        if ((ld32(p + 4) & PF_X_FLAG) && elf->entry >= l.paddr &&
            elf->entry - l.paddr < l.filesz)
            entry_ok = TRUE;
    }
    if (elf->n == 0)
        return elf_fail(error, "no PT_LOAD segment");
    if (!entry_ok)
        return elf_fail(error, "entry point outside the loaded executable segments");
    return TRUE;
}

static gboolean
decompress_xz(const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len, GError **error)
{
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r;

    /* the kernel's xz dictionary is at most 32 MiB: 128 MiB of decoder
     * memory is plenty and bounds a hostile header */
    if (lzma_stream_decoder(&s, 128ULL << 20, 0) != LZMA_OK) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot start the xz decoder");
        return FALSE;
    }
    s.next_in = in;
    s.avail_in = in_len;
    s.next_out = out;
    s.avail_out = *out_len;
    r = lzma_code(&s, LZMA_FINISH);
    *out_len = s.total_out;
    lzma_end(&s);
    if (r != LZMA_STREAM_END) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    r == LZMA_BUF_ERROR || r == LZMA_OK
                        ? "xz payload larger than the size it declares"
                        : "corrupt xz payload (liblzma error %d)", (int)r);
        return FALSE;
    }
    return TRUE;
}

static gboolean
decompress_gzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len, GError **error)
{
    z_stream z = { 0 };
    int r;

    if (in_len > G_MAXUINT || *out_len > G_MAXUINT ||
        inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot start the gzip decoder");
        return FALSE;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = in_len;
    z.next_out = out;
    z.avail_out = *out_len;
    r = inflate(&z, Z_FINISH);
    *out_len = z.total_out;
    inflateEnd(&z);
    if (r != Z_STREAM_END) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    r == Z_BUF_ERROR ? "gzip payload larger than the size it declares"
                                     : "corrupt gzip payload (zlib error %d)", r);
        return FALSE;
    }
    return TRUE;
}

uint8_t *
hvr_kernel_decompress(const uint8_t *kdata, size_t klen, const HvrBzImage *bz,
                      uint64_t limit, size_t *out_len, GError **error)
{
    g_autofree uint8_t *out = NULL;
    const uint8_t *p;
    uint64_t off, plen, size;
    gboolean ok;

    /* payload_offset/payload_length: boot protocol 2.08 */
    off = bz->setup_size + (uint64_t)ld32(kdata + 0x248);
    plen = ld32(kdata + 0x24C);
    if (bz->version < 0x0208 || plen < 16 || off > klen || plen > klen - off) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "no compressed payload in the bzImage");
        return NULL;
    }
    p = kdata + off;
    /* the payload ends with the decompressed size as a 32-bit little-endian
     * number (xz: appended by the build; gzip: the trailer's ISIZE): the
     * output buffer gets exactly that, the decoder cannot write more */
    size = ld32(p + plen - 4);
    if (size > MIN(limit, HVR_KERNEL_MAX_ELF) || size < ELF_EHDR_SIZE) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "payload declares %" G_GUINT64_FORMAT " bytes (limit %" G_GUINT64_FORMAT ")",
                    size, (guint64)MIN(limit, HVR_KERNEL_MAX_ELF));
        return NULL;
    }
    out = g_try_malloc(size);
    if (!out) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "out of memory");
        return NULL;
    }
    *out_len = size;
    if (memcmp(p, "\xFD" "7zXZ\0", 6) == 0)
        ok = decompress_xz(p, plen - 4, out, out_len, error);
    else if (p[0] == 0x1F && p[1] == 0x8B)
        ok = decompress_gzip(p, plen, out, out_len, error);
    else {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "payload is neither xz nor gzip");
        return NULL;
    }
    if (ok && *out_len != size) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "payload decompressed to %zu bytes, declared %" G_GUINT64_FORMAT,
                    *out_len, size);
        return NULL;
    }
    return ok ? g_steal_pointer(&out) : NULL;
}
