/* test_kernel.c: the decompressed-kernel cache (hvr_kernel*.c): hostile ELF
 * files, xz/gzip payloads and bombs, and the cache directory end to end
 * through hvr_loader_load_cached() with a synthetic bzImage whose payload
 * is a small vmlinux compressed by the real liblzma / zlib. */
#include <check.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <lzma.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hvr_error.h"
#include "hvr_kernel.h"
#include "hvr_loader.h"

#include "test_common.h"

#define RAM        (64ULL << 20)
#define ELF_LEN    0x3000
#define PADDR      0x1000000ULL
#define MEMSZ      0x5000ULL

static void wr16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, v); wr32(p + 4, v >> 32); }
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A vmlinux: PT_LOAD R+X at 16 MiB (file 0x1000..0x2FFF, memsz 0x5000),
 * a PT_NOTE, entry at 16 MiB + 0x40; code bytes 0xCC, last byte 0x5A. */
static void
make_elf(uint8_t *e)
{
    uint8_t *ph;

    memset(e, 0, ELF_LEN);
    memcpy(e, "\177ELF", 4);
    e[4] = 2; e[5] = 1; e[6] = 1;
    wr16(e + 0x10, 2);
    wr16(e + 0x12, 62);
    wr64(e + 0x18, PADDR + 0x40);
    wr64(e + 0x20, 64);
    wr16(e + 0x36, 56);
    wr16(e + 0x38, 2);
    ph = e + 64;
    wr32(ph, 1);
    wr32(ph + 4, 5);
    wr64(ph + 8, 0x1000);
    wr64(ph + 16, 0xFFFFFFFF81000000ULL);
    wr64(ph + 24, PADDR);
    wr64(ph + 32, 0x2000);
    wr64(ph + 40, MEMSZ);
    ph += 56;
    wr32(ph, 4);
    wr64(ph + 8, 0x1000);
    wr64(ph + 32, 0x10);
    memset(e + 0x1000, 0xCC, 0x2000);
    e[ELF_LEN - 1] = 0x5A;
}

typedef void (*ElfMut)(uint8_t *e, uint64_t *len, uint64_t *ram);
static void e_magic(uint8_t *e, uint64_t *l, uint64_t *r) { e[1] = 'X'; }
static void e_class(uint8_t *e, uint64_t *l, uint64_t *r) { e[4] = 1; }
static void e_type(uint8_t *e, uint64_t *l, uint64_t *r) { wr16(e + 0x10, 3); }
static void e_mach(uint8_t *e, uint64_t *l, uint64_t *r) { wr16(e + 0x12, 3); }
static void e_phent(uint8_t *e, uint64_t *l, uint64_t *r) { wr16(e + 0x36, 32); }
static void e_phoff(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 0x20, ~0ULL - 8); }
static void e_phnum(uint8_t *e, uint64_t *l, uint64_t *r) { wr16(e + 0x38, 0); }
static void e_noload(uint8_t *e, uint64_t *l, uint64_t *r) { wr32(e + 64, 4); }
static void e_filesz(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 32, MEMSZ + 1); }
static void e_offset(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 8, ~0ULL - 0x100); }
static void e_past(uint8_t *e, uint64_t *l, uint64_t *r) { *l = 0x2FFF; }
static void e_low(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 24, 0x100000); }
static void e_zp(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 24, 0x7000); }
static void e_high(uint8_t *e, uint64_t *l, uint64_t *r) { *r = PADDR + MEMSZ - 1; }
static void e_wrap(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 24, ~0ULL - 0x1000); }
static void e_huge(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 64 + 40, ~0ULL); }
static void e_entry(uint8_t *e, uint64_t *l, uint64_t *r) { wr64(e + 0x18, PADDR + 0x2000); }
static void e_nox(uint8_t *e, uint64_t *l, uint64_t *r) { wr32(e + 64 + 4, 6); }
static void e_big(uint8_t *e, uint64_t *l, uint64_t *r) { *l = (512ULL << 20) + 1; }

static const struct {
    const char *name;
    ElfMut mut;
    const char *message;
} bad_elves[] = {
    { "magic", e_magic, "bad vmlinux: no ELF header" },
    { "elf32", e_class, "bad vmlinux: not a little-endian ELF64 file" },
    { "et-dyn", e_type, "bad vmlinux: not an x86-64 executable (ET_EXEC, EM_X86_64)" },
    { "i386", e_mach, "bad vmlinux: not an x86-64 executable (ET_EXEC, EM_X86_64)" },
    { "phentsize", e_phent, "bad vmlinux: program headers missing or out of bounds" },
    { "phoff-wrap", e_phoff, "bad vmlinux: program headers missing or out of bounds" },
    { "no-phdrs", e_phnum, "bad vmlinux: program headers missing or out of bounds" },
    { "no-load", e_noload, "bad vmlinux: no PT_LOAD segment" },
    { "filesz>memsz", e_filesz, "bad vmlinux: segment file size exceeds its memory size" },
    { "offset-wrap", e_offset, "bad vmlinux: segment data past the end of the file" },
    { "data-past-eof", e_past, "bad vmlinux: segment data past the end of the file" },
    { "below-2mib", e_low, "bad vmlinux: segment outside guest RAM" },
    { "on-zero-page", e_zp, "bad vmlinux: segment outside guest RAM" },
    { "past-ram", e_high, "bad vmlinux: segment outside guest RAM" },
    { "paddr-wrap", e_wrap, "bad vmlinux: segment outside guest RAM" },
    { "memsz-huge", e_huge, "bad vmlinux: segment outside guest RAM" },
    { "entry-in-bss", e_entry, "bad vmlinux: entry point outside the loaded executable segments" },
    { "entry-not-x", e_nox, "bad vmlinux: entry point outside the loaded executable segments" },
    { "over-512mib", e_big, "bad vmlinux: larger than 512 MiB" },
};

START_TEST(test_bad_elf)
{
    static uint8_t e[ELF_LEN];
    uint64_t len = ELF_LEN, ram = RAM;
    g_autoptr(GError) err = NULL;
    HvrElf elf;

    make_elf(e);
    ck_assert_msg(hvr_elf_parse(e, ELF_LEN, ELF_LEN, RAM, &elf, NULL), "%s: base refused",
                  bad_elves[_i].name);
    bad_elves[_i].mut(e, &len, &ram);
    ck_assert_msg(!hvr_elf_parse(e, MIN(len, ELF_LEN), len, ram, &elf, &err), "%s: accepted",
                  bad_elves[_i].name);
    ck_assert_msg(g_str_equal(err->message, bad_elves[_i].message), "%s: message '%s'",
                  bad_elves[_i].name, err->message);
}
END_TEST

START_TEST(test_good_elf)
{
    static uint8_t e[ELF_LEN];
    HvrElf elf;

    make_elf(e);
    ck_assert(hvr_elf_parse(e, ELF_LEN, ELF_LEN, RAM, &elf, NULL));
    ck_assert_uint_eq(elf.n, 1);
    ck_assert_uint_eq(elf.entry, PADDR + 0x40);
    ck_assert_uint_eq(elf.end, PADDR + MEMSZ);
    ck_assert_uint_eq(elf.file_end, ELF_LEN);
}
END_TEST

/* Payload compressors: the real libraries, as the kernel build uses them. */
static size_t
compress_xz(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t pos = 0;

    ck_assert(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap) ==
              LZMA_OK);
    wr32(out + pos, len);               /* the build appends the size */
    return pos + 4;
}

static size_t
compress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream z = { 0 };

    ck_assert(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = len;
    z.next_out = out;
    z.avail_out = cap;
    ck_assert(deflate(&z, Z_FINISH) == Z_STREAM_END);
    deflateEnd(&z);
    return z.total_out;                 /* the gzip trailer ends with ISIZE */
}

/* bzImage: 1 setup sector + 512 bytes of decompressor stub + payload. */
static size_t
make_bzimage(uint8_t *img, size_t cap, const uint8_t *elf, size_t elf_len, gboolean gz)
{
    size_t plen;

    memset(img, 0, 1024 + 512);
    img[0x1F1] = 1;
    wr16(img + 0x1FE, 0xAA55);
    img[0x201] = 0x6A;
    memcpy(img + 0x202, "HdrS", 4);
    wr16(img + 0x206, 0x020F);
    img[0x211] = 0x01;
    wr32(img + 0x22C, 0x7FFFFFFF);
    wr16(img + 0x236, 0x7F);
    wr32(img + 0x238, 2047);
    wr32(img + 0x260, 0x100000);
    memset(img + 1024, 0xC3, 512);
    plen = (gz ? compress_gzip : compress_xz)(elf, elf_len, img + 1536, cap - 1536);
    wr32(img + 0x248, 512);             /* payload_offset from the pm part */
    wr32(img + 0x24C, plen);
    return 1536 + plen;
}

typedef struct {
    const char *name;
    gboolean gzip;
    uint32_t declared;      /* 0: the true size */
    uint64_t limit;
    const char *message;    /* NULL: decompresses to the ELF */
} Payload;

static const Payload payloads[] = {
    { "xz", FALSE, 0, RAM, NULL },
    { "gzip", TRUE, 0, RAM, NULL },
    { "xz-bomb-limit", FALSE, 0, ELF_LEN - 1, "payload declares 12288 bytes (limit 12287)" },
    { "xz-bomb-512mib", FALSE, 0xFFFFFFFF, ~0ULL,
      "payload declares 4294967295 bytes (limit 536870912)" },
    { "xz-understated", FALSE, ELF_LEN / 2, RAM, "xz payload larger than the size it declares" },
    { "gzip-understated", TRUE, ELF_LEN / 2, RAM, "gzip payload larger than the size it declares" },
    { "xz-overstated", FALSE, ELF_LEN * 2, RAM, "payload decompressed to 12288 bytes, declared 24576" },
};

START_TEST(test_payload)
{
    const Payload *p = &payloads[_i];
    static uint8_t e[ELF_LEN], img[65536];
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *out = NULL;
    size_t len, olen = 0;
    HvrBzImage bz;

    make_elf(e);
    len = make_bzimage(img, sizeof(img), e, ELF_LEN, p->gzip);
    if (p->declared)
        wr32(img + len - 4, p->declared);
    ck_assert(hvr_bzimage_parse(img, len, &bz, NULL));
    out = hvr_kernel_decompress(img, len, &bz, p->limit, &olen, &err);
    if (!p->message) {
        ck_assert_msg(out && olen == ELF_LEN && memcmp(out, e, ELF_LEN) == 0, "%s: %s",
                      p->name, err ? err->message : "wrong bytes");
        return;
    }
    ck_assert_msg(!out, "%s: accepted", p->name);
    ck_assert_msg(g_str_equal(err->message, p->message), "%s: message '%s'", p->name,
                  err->message);
}
END_TEST

/* ---- the cache directory, end to end ---- */

typedef struct {
    char *dir;
    char *cache;
    char *kpath;
    uint8_t *host;
    HvrMem *mem;
} Fix;

static void
fix_init(Fix *f, gboolean gz)
{
    static uint8_t e[ELF_LEN], img[65536];
    size_t len;

    f->dir = g_dir_make_tmp("hyve-kcache-XXXXXX", NULL);
    f->cache = g_build_filename(f->dir, "kernel", NULL);
    f->kpath = g_build_filename(f->dir, "bzImage", NULL);
    ck_assert(g_mkdir(f->cache, 0700) == 0);
    make_elf(e);
    len = make_bzimage(img, sizeof(img), e, ELF_LEN, gz);
    ck_assert(g_file_set_contents(f->kpath, (char *)img, len, NULL));
    f->host = g_malloc0(RAM);
    f->mem = hvr_mem_new_from(f->host, RAM);
}

static void
fix_clear(Fix *f)
{
    g_autoptr(GDir) d = g_dir_open(f->cache, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->cache, n, NULL);

        g_remove(p);
    }
    g_rmdir(f->cache);
    g_remove(f->cache);
    g_remove(f->kpath);
    g_rmdir(f->dir);
    hvr_mem_free(f->mem);
    g_free(f->host);
    g_free(f->dir);
    g_free(f->cache);
    g_free(f->kpath);
}

static int
boot(Fix *f, const char *cache)
{
    g_autoptr(GError) err = NULL;
    int how = -1;

    memset(f->host, 0, RAM);
    ck_assert_msg(hvr_loader_load_cached(f->mem, f->kpath, NULL, "console=ttyS0", 0xE0000,
                                         cache, &how, &err), "load: %s",
                  err ? err->message : "");
    if (how == HVR_KERNEL_BZIMAGE) {
        ck_assert_msg(f->host[0x100000] == 0xC3, "bzImage at 1 MiB");
    } else {
        /* segment in place, zero-filled tail, jump to e_entry at 1 MiB + 0x200 */
        ck_assert_msg(f->host[PADDR] == 0xCC && f->host[PADDR + 0x1FFF] == 0x5A &&
                      f->host[PADDR + 0x2000] == 0, "segment at 16 MiB");
        ck_assert_msg(f->host[0x100200] == 0x48 && f->host[0x100201] == 0xB8 &&
                      rd64(f->host + 0x100202) == PADDR + 0x40 &&
                      f->host[0x10020A] == 0xFF && f->host[0x10020B] == 0xE0, "trampoline");
    }
    ck_assert_str_eq((char *)f->host + 0x20000, "console=ttyS0");
    ck_assert_msg(memcmp(f->host + 0x7000 + 0x202, "HdrS", 4) == 0, "zero page header");
    return how;
}

static char *
only_file(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n = d ? g_dir_read_name(d) : NULL;
    char *p = n ? g_build_filename(dir, n, NULL) : NULL;

    ck_assert_msg(!d || !g_dir_read_name(d), "one file in the cache");
    return p;
}

START_TEST(test_cache_miss_then_hit)
{
    Fix f;
    g_autofree char *file = NULL;

    fix_init(&f, _i == 1);
    ck_assert_int_eq(boot(&f, NULL), HVR_KERNEL_BZIMAGE);
    ck_assert_int_eq(boot(&f, f.cache), HVR_KERNEL_CACHE_MISS);
    file = only_file(f.cache);
    ck_assert_msg(file && g_str_has_prefix(strrchr(file, '/'), "/vmlinux-"), "cache file");
    ck_assert_int_eq(boot(&f, f.cache), HVR_KERNEL_CACHE_HIT);
    fix_clear(&f);
}
END_TEST

/* A changed kernel file (same name, new contents or times) is a miss. */
START_TEST(test_cache_invalidation)
{
    Fix f;
    g_autofree char *first = NULL, *second = NULL;
    struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };

    fix_init(&f, FALSE);
    ck_assert_int_eq(boot(&f, f.cache), HVR_KERNEL_CACHE_MISS);
    first = only_file(f.cache);
    ck_assert(utimensat(AT_FDCWD, f.kpath, ts, 0) == 0);
    ck_assert_int_eq(boot(&f, f.cache), HVR_KERNEL_CACHE_MISS);
    ck_assert(g_remove(first) == 0);
    second = only_file(f.cache);
    ck_assert_msg(second && !g_str_equal(first, second), "new key after mtime change");
    ck_assert_int_eq(boot(&f, f.cache), HVR_KERNEL_CACHE_HIT);
    fix_clear(&f);
}
END_TEST

/* What the runner must not trust or cannot use: each boots the bzImage. */
typedef void (*CacheMut)(Fix *f, char **cache);
static void c_missing(Fix *f, char **c) { g_rmdir(f->cache); }
static void c_world(Fix *f, char **c) { g_chmod(f->cache, 0777); }
static void c_symlink(Fix *f, char **c)
{
    *c = g_build_filename(f->dir, "link", NULL);
    ck_assert(symlink(f->cache, *c) == 0);
}
static void c_notdir(Fix *f, char **c) { *c = g_strdup(f->kpath); }
/* a header that names another kernel: removed, then rebuilt */
static void c_stale(Fix *f, char **c)
{
    g_autofree char *file = (boot(f, f->cache), only_file(f->cache));
    int fd = open(file, O_WRONLY);

    ck_assert(fd >= 0 && pwrite(fd, "\x01", 1, 24) == 1 && close(fd) == 0);
}
static void c_truncated(Fix *f, char **c)
{
    g_autofree char *file = (boot(f, f->cache), only_file(f->cache));

    ck_assert(truncate(file, 64 + 100) == 0);
}
static void c_file_mode(Fix *f, char **c)
{
    g_autofree char *file = (boot(f, f->cache), only_file(f->cache));

    ck_assert(g_chmod(file, 0666) == 0);
}
/* the header matches but a segment was made to point outside RAM */
static void c_bad_elf(Fix *f, char **c)
{
    g_autofree char *file = (boot(f, f->cache), only_file(f->cache));
    uint8_t v[8];
    int fd = open(file, O_WRONLY);

    wr64(v, 0x7000);
    ck_assert(fd >= 0 && pwrite(fd, v, 8, 64 + 64 + 24) == 8 && close(fd) == 0);
}

static const struct {
    const char *name;
    CacheMut mut;
    gboolean rebuilt;   /* the bad file is gone: the next boot is a miss */
} bad_caches[] = {
    { "missing-dir", c_missing, FALSE },
    { "world-writable-dir", c_world, FALSE },
    { "symlink-dir", c_symlink, FALSE },
    { "not-a-dir", c_notdir, FALSE },
    { "stale-header", c_stale, TRUE },
    { "truncated", c_truncated, TRUE },
    { "writable-file", c_file_mode, TRUE },
    { "hostile-elf", c_bad_elf, TRUE },
};

START_TEST(test_cache_fallback)
{
    Fix f;
    g_autofree char *cache = NULL;

    fix_init(&f, FALSE);
    bad_caches[_i].mut(&f, &cache);
    ck_assert_msg(boot(&f, cache ? cache : f.cache) == HVR_KERNEL_BZIMAGE, "%s: cache used",
                  bad_caches[_i].name);
    if (bad_caches[_i].rebuilt)
        ck_assert_msg(boot(&f, f.cache) == HVR_KERNEL_CACHE_MISS, "%s: not rebuilt",
                      bad_caches[_i].name);
    if (cache && g_str_has_suffix(cache, "/link"))
        g_remove(cache);
    g_chmod(f.cache, 0700);
    fix_clear(&f);
}
END_TEST

/* The kernel file is opened once, fstat'ed (the cache key) and read. */
static const struct {
    const char *path;
    const char *message;
} bad_kernels[] = {
    { "/nonexistent/bzImage", "cannot read kernel: /nonexistent/bzImage: No such file or directory" },
    { "/", "cannot read kernel: /: Invalid argument" },
};

START_TEST(test_bad_kernel_file)
{
    g_autofree uint8_t *host = g_malloc0(RAM);
    g_autoptr(HvrMem) mem = hvr_mem_new_from(host, RAM);
    g_autoptr(GError) err = NULL;

    ck_assert_msg(!hvr_loader_load_cached(mem, bad_kernels[_i].path, NULL, NULL, 0xE0000,
                                          "/tmp", NULL, &err), "%s: loaded", bad_kernels[_i].path);
    ck_assert_msg(g_str_equal(err->message, bad_kernels[_i].message), "%s: message '%s'",
                  bad_kernels[_i].path, err->message);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-kernel");
    TCase *tc = tcase_create("kernel");

    tcase_add_loop_test(tc, test_bad_elf, 0, G_N_ELEMENTS(bad_elves));
    tcase_add_test(tc, test_good_elf);
    tcase_add_loop_test(tc, test_payload, 0, G_N_ELEMENTS(payloads));
    tcase_add_loop_test(tc, test_cache_miss_then_hit, 0, 2);
    tcase_add_test(tc, test_cache_invalidation);
    tcase_add_loop_test(tc, test_cache_fallback, 0, G_N_ELEMENTS(bad_caches));
    tcase_add_loop_test(tc, test_bad_kernel_file, 0, G_N_ELEMENTS(bad_kernels));
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
