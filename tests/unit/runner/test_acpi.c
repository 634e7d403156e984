/* test_acpi.c: ACPI table bytes (checksums, key fields) and a decode of every
 * generated table with `iasl -d` (acpica-tools). */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>

#include "hvr_acpi.h"

#include "test_common.h"

static const int cpu_counts[] = { 1, 2, 8, 64 };

static uint8_t
sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    while (n--)
        s += *p++;
    return s;
}

static uint32_t
rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

START_TEST(test_bytes)
{
    static uint8_t buf[HVR_ACPI_SIZE];
    int n = cpu_counts[_i], i, lapics = 0;
    const uint8_t *fadt = buf + HVR_ACPI_FADT_OFF, *madt = buf + HVR_ACPI_MADT_OFF;
    const uint8_t *e;
    const size_t offs[] = { HVR_ACPI_XSDT_OFF, HVR_ACPI_FADT_OFF, HVR_ACPI_MADT_OFF, HVR_ACPI_DSDT_OFF };

    hvr_acpi_build(buf, HVR_ACPI_BASE, n);
    ck_assert_msg(memcmp(buf, "RSD PTR ", 8) == 0, "cpus=%d: RSDP signature", n);
    ck_assert_msg(sum(buf, 20) == 0 && sum(buf, 36) == 0, "cpus=%d: RSDP checksums", n);
    for (i = 0; i < 4; i++) {
        uint32_t len = hvr_acpi_table_length(buf, offs[i]);

        ck_assert_msg(len >= 36 && offs[i] + len <= HVR_ACPI_SIZE, "cpus=%d: table %d length %u", n, i, len);
        ck_assert_msg(sum(buf + offs[i], len) == 0, "cpus=%d: table %.4s checksum", n, buf + offs[i]);
    }
    ck_assert_msg(hvr_acpi_table_length(buf, HVR_ACPI_MADT_OFF) + HVR_ACPI_MADT_OFF <= HVR_ACPI_DSDT_OFF,
                  "cpus=%d: MADT overlaps DSDT", n);
    ck_assert_msg((HVR_ACPI_BASE + HVR_ACPI_FACS_OFF) % 64 == 0, "FACS alignment");
    /* FADT: fixed power button (flag bit 4 clear), reset reg supported, MSI allowed */
    ck_assert_msg(!(rd32(fadt + 112) & (1u << 4)), "cpus=%d: PWR_BUTTON flag set", n);
    ck_assert_msg(rd32(fadt + 112) & (1u << 10), "cpus=%d: RESET_REG_SUP clear", n);
    ck_assert_msg(!((fadt[109] | fadt[110] << 8) & (1u << 3)), "cpus=%d: MSI disabled in IAPC_BOOT_ARCH", n);
    ck_assert_msg(rd32(fadt + 56) == HVR_PM1_EVT_PORT && rd32(fadt + 64) == HVR_PM1_CNT_PORT,
                  "cpus=%d: PM1 ports", n);
    ck_assert_msg(fadt[46] == HVR_SCI_IRQ && rd32(fadt + 48) == 0, "cpus=%d: SCI/SMI_CMD", n);
    ck_assert_msg(fadt[116] == 1 && rd32(fadt + 120) == HVR_RESET_PORT && fadt[128] == 6,
                  "cpus=%d: reset register", n);
    ck_assert_msg(rd32(fadt + 140) == HVR_ACPI_BASE + HVR_ACPI_DSDT_OFF, "cpus=%d: X_DSDT", n);
    /* MADT: one enabled LAPIC per vCPU with id = index */
    for (e = madt + 44; e < madt + rd32(madt + 4); e += e[1]) {
        ck_assert_msg(e[1] >= 2, "cpus=%d: zero-length MADT entry", n);
        if (e[0] == 0) {
            ck_assert_msg(e[3] == lapics && (rd32(e + 4) & 1), "cpus=%d: LAPIC %d", n, lapics);
            lapics++;
        }
    }
    ck_assert_msg(lapics == n, "cpus=%d: %d LAPIC entries", n, lapics);
}
END_TEST

static char *
iasl_decode(const char *dir, const char *name, const uint8_t *t)
{
    g_autofree char *dat = g_strdup_printf("%s/%s.dat", dir, name);
    g_autofree char *dsl = g_strdup_printf("%s/%s.dsl", dir, name);
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    const char *argv[] = { "iasl", "-d", dat, NULL };
    char *text = NULL;
    int status;

    ck_assert(g_file_set_contents(dat, (const char *)t, rd32(t + 4), NULL));
    ck_assert_msg(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, NULL, &status, &err), "iasl: %s", err ? err->message : "");
    ck_assert_msg(g_spawn_check_wait_status(status, NULL), "iasl -d %s failed: %s", name, out);
    ck_assert_msg(g_file_get_contents(dsl, &text, NULL, NULL), "no %s.dsl", name);
    ck_assert_msg(!strstr(text, "Incorrect checksum") && !strstr(text, "**** Unknown"),
                  "%s: iasl reports a problem:\n%s", name, text);
    return text;
}

START_TEST(test_iasl)
{
    static uint8_t buf[HVR_ACPI_SIZE];
    g_autofree char *dir = g_dir_make_tmp("hyve-acpi-XXXXXX", NULL);
    g_autofree char *dsdt = NULL, *fadt = NULL, *madt = NULL, *xsdt = NULL, *facs = NULL;
    g_autofree char *rm = NULL;
    g_autofree char *iasl = g_find_program_in_path("iasl");

    if (!iasl) {
        fprintf(stderr, "iasl not installed (acpica-tools): decode test not run\n");
        ck_abort_msg("iasl missing: install acpica-tools");
    }
    hvr_acpi_build(buf, HVR_ACPI_BASE, 2);
    dsdt = iasl_decode(dir, "dsdt", buf + HVR_ACPI_DSDT_OFF);
    fadt = iasl_decode(dir, "fadt", buf + HVR_ACPI_FADT_OFF);
    madt = iasl_decode(dir, "madt", buf + HVR_ACPI_MADT_OFF);
    xsdt = iasl_decode(dir, "xsdt", buf + HVR_ACPI_XSDT_OFF);
    facs = iasl_decode(dir, "facs", buf + HVR_ACPI_FACS_OFF);

    ck_assert_msg(strstr(dsdt, "Name (_S5, Package (0x04)"), "DSDT without _S5:\n%s", dsdt);
    ck_assert_msg(strstr(dsdt, "Device (PCI0)") && strstr(dsdt, "EisaId (\"PNP0A03\")"),
                  "DSDT without PCI root bridge:\n%s", dsdt);
    ck_assert_msg(strstr(dsdt, "0xC0000000") && strstr(dsdt, "0xFEBFFFFF"),
                  "DSDT without the BAR window:\n%s", dsdt);
    ck_assert_msg(strstr(fadt, "Power Button (V1) : 0"), "FADT power button flag:\n%s", fadt);
    ck_assert_msg(strstr(fadt, "Reset Register Supported (V2) : 1"), "FADT reset flag");
    ck_assert_msg(strstr(fadt, "PM1A Event Block Address : 00000600"), "FADT PM1a event block");
    ck_assert_msg(strstr(fadt, "PM1A Control Block Address : 00000604"), "FADT PM1a control block");
    ck_assert_msg(strstr(fadt, "SCI Interrupt : 0009"), "FADT SCI");
    ck_assert_msg(strstr(madt, "Local Apic ID : 01") && strstr(madt, "Interrupt Source Override"),
                  "MADT content:\n%s", madt);
    ck_assert_msg(strstr(xsdt, "ACPI Table Address   0 : 00000000000E0100"), "XSDT -> FADT:\n%s", xsdt);
    ck_assert_msg(strstr(facs, "\"FACS\""), "FACS signature");
    rm = g_strdup_printf("rm -rf '%s'", dir);
    (void)!system(rm);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-acpi");
    TCase *tc = tcase_create("acpi");

    tcase_add_loop_test(tc, test_bytes, 0, G_N_ELEMENTS(cpu_counts));
    tcase_add_test(tc, test_iasl);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
