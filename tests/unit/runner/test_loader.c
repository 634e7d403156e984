/* test_loader.c: bzImage header checks, e820 map and zero page built from a
 * synthetic bzImage, initial BSP state. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>

#include "hvr_error.h"
#include "hvr_loader.h"

#include "test_common.h"

#define IMG_LEN (1024 + 8192)

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v); wr16(p + 2, v >> 16); }

/* A synthetic bzImage: setup_sects 1, protocol 2.15, 64-bit entry. */
static void
make_image(uint8_t *img)
{
    memset(img, 0, IMG_LEN);
    img[0x1EF] = 0xFF;                  /* sentinel, must not be copied */
    img[0x1F1] = 1;
    wr16(img + 0x1FE, 0xAA55);
    img[0x200] = 0xEB;
    img[0x201] = 0x6A;
    memcpy(img + 0x202, "HdrS", 4);
    wr16(img + 0x206, 0x020F);
    img[0x211] = 0x01;
    wr32(img + 0x214, 0x100000);
    wr32(img + 0x22C, 0x7FFFFFFF);
    wr32(img + 0x230, 0x200000);
    wr16(img + 0x236, 0x7F);
    wr32(img + 0x238, 2047);
    wr32(img + 0x260, 0x3F98000);
    img[0x26B] = 0x5A;                  /* last header byte, must be copied */
    img[0x26C] = 0xA5;                  /* past the header, must not be */
}

typedef void (*Mutator)(uint8_t *img, size_t *len);
static void m_flag(uint8_t *i, size_t *l) { wr16(i + 0x1FE, 0x1234); }
static void m_hdrs(uint8_t *i, size_t *l) { memcpy(i + 0x202, "HdrX", 4); }
static void m_old(uint8_t *i, size_t *l) { wr16(i + 0x206, 0x020B); }
static void m_xlf(uint8_t *i, size_t *l) { wr16(i + 0x236, 0x7E); }
static void m_high(uint8_t *i, size_t *l) { i[0x211] = 0; }
static void m_trunc(uint8_t *i, size_t *l) { *l = 1024 + 0x100; }
static void m_short(uint8_t *i, size_t *l) { *l = 0x200; }

static const struct {
    const char *name;
    Mutator mut;
    const char *message;
} bad_images[] = {
    { "boot-flag", m_flag, "not a Linux bzImage (no boot flag 0xAA55 / \"HdrS\" header)" },
    { "hdrs", m_hdrs, "not a Linux bzImage (no boot flag 0xAA55 / \"HdrS\" header)" },
    { "short", m_short, "not a Linux bzImage (no boot flag 0xAA55 / \"HdrS\" header)" },
    { "old-protocol", m_old, "boot protocol 2.11 is too old (need 2.12 for the 64-bit entry)" },
    { "no-64bit", m_xlf, "kernel has no 64-bit entry point (XLF_KERNEL_64/LOADED_HIGH unset)" },
    { "not-high", m_high, "kernel has no 64-bit entry point (XLF_KERNEL_64/LOADED_HIGH unset)" },
    { "truncated", m_trunc, "truncated bzImage (setup 1024 bytes, file 1280 bytes)" },
};

START_TEST(test_bad_image)
{
    static uint8_t img[IMG_LEN];
    size_t len = IMG_LEN;
    g_autoptr(GError) err = NULL;
    HvrBzImage bz;

    make_image(img);
    bad_images[_i].mut(img, &len);
    ck_assert_msg(!hvr_bzimage_parse(img, len, &bz, &err), "%s: accepted", bad_images[_i].name);
    ck_assert_msg(g_str_equal(err->message, bad_images[_i].message), "%s: message '%s'",
                  bad_images[_i].name, err->message);
}
END_TEST

static const struct {
    const char *name;
    uint64_t lowmem, highmem;
    unsigned n;
} maps[] = {
    { "256M", 256ULL << 20, 0, 4 },
    { "3G", 3ULL << 30, 0, 4 },
    { "8G", 3ULL << 30, 5ULL << 30, 5 },
};

START_TEST(test_zero_page)
{
    static uint8_t img[IMG_LEN], zp[4096];
    HvrE820Entry e820[HVR_E820_MAX];
    g_autoptr(GError) err = NULL;
    HvrBzImage bz;
    unsigned n, i;
    const char *name = maps[_i].name;

    make_image(img);
    ck_assert_msg(hvr_bzimage_parse(img, IMG_LEN, &bz, &err), "%s: %s", name, err ? err->message : "");
    ck_assert_msg(bz.setup_size == 1024 && bz.hdr_end == 0x26C && bz.init_size == 0x3F98000,
                  "%s: parsed header", name);
    n = hvr_e820_build(maps[_i].lowmem, maps[_i].highmem, e820);
    ck_assert_msg(n == maps[_i].n, "%s: %u e820 entries", name, n);
    hvr_zero_page_build(zp, img, &bz, 0x20000, 0x1FF00000, 0xFF000, 0xE0000, e820, n);

    ck_assert_msg(memcmp(zp + 0x1F1, img + 0x1F1, 9) == 0 && memcmp(zp + 0x1FC, img + 0x1FC, 0x14) == 0,
                  "%s: header start not copied", name);
    ck_assert_msg(zp[0x1FA] == 0xFF && zp[0x1FB] == 0xFF, "%s: vid_mode", name);
    ck_assert_msg(zp[0x1EF] == 0, "%s: sentinel copied", name);
    ck_assert_msg(zp[0x26B] == 0x5A && zp[0x26C] == 0, "%s: header end", name);
    ck_assert_msg(rd32(zp + 0x202) == 0x53726448, "%s: HdrS", name);
    ck_assert_msg(rd32(zp + 0x230) == 0x200000 && rd32(zp + 0x260) == 0x3F98000,
                  "%s: kernel_alignment/init_size for the 64-bit entry", name);
    ck_assert_msg(zp[0x210] == 0xFF, "%s: type_of_loader", name);
    ck_assert_msg(rd32(zp + 0x228) == 0x20000, "%s: cmd_line_ptr", name);
    ck_assert_msg(rd32(zp + 0x218) == 0x1FF00000 && rd32(zp + 0x21C) == 0xFF000, "%s: ramdisk", name);
    ck_assert_msg(rd64(zp + 0x070) == 0xE0000, "%s: acpi_rsdp_addr", name);
    ck_assert_msg(zp[0x1E8] == n, "%s: e820_entries", name);
    for (i = 0; i < n; i++) {
        const uint8_t *e = zp + 0x2D0 + 20 * i;

        ck_assert_msg(rd64(e) == e820[i].addr && rd64(e + 8) == e820[i].size &&
                      rd32(e + 16) == e820[i].type, "%s: e820[%u]", name, i);
        if (i > 0)
            ck_assert_msg(e820[i].addr >= e820[i - 1].addr + e820[i - 1].size,
                          "%s: e820[%u] overlaps", name, i);
    }
    ck_assert_msg(e820[0].addr == 0 && e820[0].size == 0x9FC00 && e820[0].type == 1, "%s: low RAM", name);
    ck_assert_msg(e820[2].addr == 0xE0000 && e820[2].type == 2, "%s: ACPI area reserved", name);
    ck_assert_msg(e820[3].addr == 0x100000 && e820[3].addr + e820[3].size == maps[_i].lowmem &&
                  e820[3].type == 1, "%s: RAM above 1 MiB", name);
    if (maps[_i].highmem)
        ck_assert_msg(e820[4].addr == 0x100000000ULL && e820[4].size == maps[_i].highmem,
                      "%s: high RAM", name);
}
END_TEST

START_TEST(test_bsp_state)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;

    memset(&sregs, 0xAA, sizeof(sregs));
    hvr_loader_bsp_state(&regs, &sregs, &fpu);
    ck_assert_uint_eq(regs.rip, 0x100200);
    ck_assert_uint_eq(regs.rsi, 0x7000);
    ck_assert_uint_eq(regs.rflags, 2);
    ck_assert_uint_eq(sregs.cr0, 0x80000011);
    ck_assert_uint_eq(sregs.cr3, 0x9000);
    ck_assert_uint_eq(sregs.cr4, 0x20);
    ck_assert_uint_eq(sregs.efer, 0x500);
    ck_assert_uint_eq(sregs.cs.selector, 0x10);
    ck_assert(sregs.cs.l == 1 && sregs.cs.db == 0);
    ck_assert_uint_eq(sregs.ds.selector, 0x18);
    ck_assert_uint_eq(sregs.ss.selector, 0x18);
    ck_assert_uint_eq(sregs.gdt.base, 0x500);
    ck_assert_uint_eq(sregs.gdt.limit, 31);
    ck_assert_uint_eq(fpu.fcw, 0x37F);
    ck_assert_uint_eq(fpu.mxcsr, 0x1F80);
}
END_TEST

/* Full load into a 128 MiB RAM view: kernel bytes at 1 MiB, page tables,
 * GDT, cmdline, initrd placement below the top of RAM. */
START_TEST(test_load)
{
    const uint64_t ram = 128ULL << 20;
    g_autofree uint8_t *host = g_malloc0(ram);
    g_autoptr(HvrMem) mem = hvr_mem_new_from(host, ram);
    g_autofree char *dir = g_dir_make_tmp("hyve-loader-XXXXXX", NULL);
    g_autofree char *kpath = g_build_filename(dir, "bzImage", NULL);
    g_autofree char *ipath = g_build_filename(dir, "initrd", NULL);
    static uint8_t img[IMG_LEN];
    g_autoptr(GError) err = NULL;
    uint8_t *zp = host + 0x7000;
    uint32_t ird;

    make_image(img);
    wr32(img + 0x260, 0x100000);        /* small init_size for 128 MiB */
    memset(img + 1024, 0xC3, IMG_LEN - 1024);
    ck_assert(g_file_set_contents(kpath, (char *)img, IMG_LEN, NULL));
    ck_assert(g_file_set_contents(ipath, "INITRD-DATA", 11, NULL));
    ck_assert_msg(hvr_loader_load(mem, kpath, ipath, "console=ttyS0", 0xE0000, &err),
                  "load: %s", err ? err->message : "");
    ck_assert_msg(host[0x100000] == 0xC3 && host[0x100000 + 8191] == 0xC3 && host[0x100000 + 8192] == 0,
                  "protected-mode code at 1 MiB");
    ck_assert_str_eq((char *)host + 0x20000, "console=ttyS0");
    ird = rd32(zp + 0x218);
    ck_assert_msg(ird % 4096 == 0 && ird + 11 <= ram && ird >= ram - 8192, "initrd at 0x%x", ird);
    ck_assert_msg(memcmp(host + ird, "INITRD-DATA", 11) == 0, "initrd bytes");
    ck_assert_msg(rd64(host + 0x9000) == (0xA000 | 3), "PML4[0]");
    ck_assert_msg(rd64(host + 0xA000 + 8 * 3) == (0xE000 | 3), "PDPT[3]");
    ck_assert_msg(rd64(host + 0xB000 + 8 * 1) == ((1ULL << 21) | 0x83), "PD 2 MiB page 1");
    ck_assert_msg(rd64(host + 0x500 + 0x10) == 0x00AF9B000000FFFFULL, "GDT code");
    ck_assert_msg(rd64(host + 0x500 + 0x18) == 0x00CF93000000FFFFULL, "GDT data");
    g_remove(kpath);
    g_remove(ipath);
    g_rmdir(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-loader");
    TCase *tc = tcase_create("loader");

    tcase_add_loop_test(tc, test_bad_image, 0, G_N_ELEMENTS(bad_images));
    tcase_add_loop_test(tc, test_zero_page, 0, G_N_ELEMENTS(maps));
    tcase_add_test(tc, test_bsp_state);
    tcase_add_test(tc, test_load);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
