/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_xml.c: golden tests of the domain definition pipeline.
 *
 * For every case in cases[]: xml/<case>.xml is parsed with defaults filled
 * (hyve_domain_def_parse_string) and either
 *   - formatted and compared with xml/<case>.out.xml, which must validate
 *     against libvirt's domain.rng and must reformat to itself, or
 *   - expected to fail exactly as xml/<case>.err says:
 *     "<code> <domain> <message>" (message may span lines; the schema
 *     directory is written @SCHEMA_DIR@).
 * HYVE_REGENERATE=1 rewrites the .out.xml / .err files from the results.
 * Inputs of successful cases are validated against domain.rng too.
 */
#include "test_driver_common.h"

typedef struct {
    const char *name;
    gboolean fails;
} XmlCase;

static const XmlCase cases[] = {
    { "minimal", FALSE },
    { "full", FALSE },
    { "console-only", FALSE },
    { "serial-file-unix", FALSE },
    { "pci-addresses", FALSE },
    { "memory-units", FALSE },
    { "disk-kinds", FALSE },
    { "vcpu-current", FALSE },
    { "metadata", FALSE },
    { "escaping", FALSE },
    { "console-and-serials", FALSE },
    { "serial-clipboard", FALSE },      /* virt-manager's <clipboard>: ignored */
    /* What virt-install 4.1.0 --print-xml generates for a bhyve URI, with
     * the emulator, paths, name and uuid made fixed:
     *   virtinst-import: --import --boot kernel=,initrd=,kernel_args=
     *     --disk size=1,bus=virtio --network network=default,model=virtio
     *     --console pty --graphics none (runs)
     *   err-virtinst-defaults: the same with its own defaults for disk bus,
     *     NIC model, console, graphics (one refusal naming all the options)
     *   err-virtinst-cdrom: the install XML of --cdrom ISO
     *   err-virtinst-uefi: a UEFI loader, as --boot uefi/loader= give */
    { "virtinst-import", FALSE },
    { "err-virtinst-defaults", TRUE },
    { "err-virtinst-cdrom", TRUE },
    { "err-virtinst-uefi", TRUE },
    { "err-virtinst-many", TRUE },      /* one item per kind, 8 names, the rest counted */
    /* each client default alone: its XML fix, then the virt-install option */
    { "err-serial-nmdm", TRUE },
    { "err-os-firmware-efi", TRUE },
    { "err-nvram-alone", TRUE },
    { "err-boot-network", TRUE },
    { "err-disk-lun", TRUE },           /* not install media: device='disk' */
    { "err-disk-floppy", TRUE },
    { "err-kvm-sata", TRUE },           /* the domain type error, no hints */
    { "err-malformed", TRUE },
    { "err-schema", TRUE },
    { "err-entity", TRUE },
    { "err-type-kvm", TRUE },
    { "err-arch", TRUE },
    { "err-qcow2", TRUE },
    { "err-bus-sata", TRUE },
    { "err-bus-from-target", TRUE },
    { "err-topology", TRUE },
    { "err-element-graphics", TRUE },
    { "err-attribute-cache", TRUE },
    { "err-pci-duplicate", TRUE },
    { "err-pci-slot0", TRUE },
    { "err-controller-usb", TRUE },
    { "err-nic-e1000", TRUE },
    { "err-no-memory", TRUE },
    { "err-emulator", TRUE },
    { "err-boot-cdrom", TRUE },
    { "err-lifecycle-preserve", TRUE },
    { "err-disk-target-dup", TRUE },
    { "err-mac-multicast", TRUE },
    { "err-vcpu-current", TRUE },
    { "err-namespaced-element", TRUE },
    { "err-no-os", TRUE },
};

static const HyveDomainParseOptions opts = {
    .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR,
    .emulator = TEST_EMULATOR,
    .alt_emulator = NULL,
};

static void
check_validates(const char *name, const char *what, const char *xml)
{
    g_autofree char *errors = NULL;

    ck_assert_msg(test_schema_validate_file(xml, "domain.rng", &errors),
                  "%s: %s does not validate against domain.rng: %s", name, what, errors);
}

static void
write_or_die(const char *path, const char *data)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_file_set_contents(path, data, -1, &err), "cannot write %s: %s", path,
                  err ? err->message : "");
}

START_TEST(test_case)
{
    const XmlCase *c = &cases[_i];
    g_autofree char *in_path = g_strdup_printf(TEST_XML_DIR "/%s.xml", c->name);
    g_autofree char *out_path = g_strdup_printf(TEST_XML_DIR "/%s.out.xml", c->name);
    g_autofree char *err_path = g_strdup_printf(TEST_XML_DIR "/%s.err", c->name);
    g_autofree char *input = test_read_file(in_path);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainDef) def = NULL;

    ck_assert_msg(input, "%s: cannot read %s", c->name, in_path);
    def = hyve_domain_def_parse_string(input, &opts, &err);

    if (c->fails) {
        g_autofree char *got = NULL, *want = NULL;

        ck_assert_msg(!def, "%s: expected a failure, the definition was accepted", c->name);
        ck_assert_msg(err, "%s: failure without a GError", c->name);
        got = test_error_line(err);
        {
            /* goldens do not depend on where the schemas are installed */
            g_auto(GStrv) parts = g_strsplit(got, HYVE_LIBVIRT_SCHEMA_DIR, -1);

            g_free(got);
            got = g_strjoinv("@SCHEMA_DIR@", parts);
        }
        if (test_regenerate()) {
            g_autofree char *data = g_strdup_printf("%s\n", got);
            write_or_die(err_path, data);
        }
        want = test_read_file(err_path);
        ck_assert_msg(want, "%s: cannot read %s", c->name, err_path);
        g_strchomp(want);
        ck_assert_msg(g_str_equal(got, want), "%s: error\n  got:  %s\n  want: %s",
                      c->name, got, want);
        ck_assert_msg(!g_file_test(out_path, G_FILE_TEST_EXISTS),
                      "%s: failing case must not have %s", c->name, out_path);
        /* Valid-but-unsupported inputs must really be valid libvirt XML. */
        if (err->code == HYVE_ERR_CONFIG_UNSUPPORTED ||
            err->domain == hyve_error_quark(HYVE_FROM_DOMAIN))
            check_validates(c->name, in_path, input);
    } else {
        g_autofree char *got = NULL, *want = NULL, *again = NULL;
        g_autoptr(HyveDomainDef) def2 = NULL;

        ck_assert_msg(def, "%s: definition rejected: %s", c->name, err ? err->message : "");
        check_validates(c->name, in_path, input);
        got = hyve_domain_def_format(def, -1, 0);
        if (test_regenerate())
            write_or_die(out_path, got);
        want = test_read_file(out_path);
        ck_assert_msg(want, "%s: cannot read %s", c->name, out_path);
        ck_assert_msg(g_str_equal(got, want), "%s: output differs from %s:\n%s", c->name,
                      out_path, got);
        check_validates(c->name, out_path, got);

        /* round trip: the output parses to the same output */
        def2 = hyve_domain_def_parse_string(got, &opts, &err);
        ck_assert_msg(def2, "%s: output does not parse again: %s", c->name,
                      err ? err->message : "");
        again = hyve_domain_def_format(def2, -1, HYVE_DOMAIN_XML_INACTIVE);
        ck_assert_msg(g_str_equal(again, got), "%s: round trip changed the XML:\n%s",
                      c->name, again);
        ck_assert_msg(!g_file_test(err_path, G_FILE_TEST_EXISTS),
                      "%s: passing case must not have %s", c->name, err_path);
    }
}
END_TEST

/* Scaling of every libvirt unit name to KiB (rounded up). */
typedef struct {
    const char *value, *unit;
    guint64 kib;
    gboolean ok;
} UnitCase;

static const UnitCase unit_cases[] = {
    { "1024", NULL, 1024, TRUE }, { "1", "b", 1, TRUE }, { "1025", "bytes", 2, TRUE },
    { "1", "KB", 1, TRUE }, { "2048", "KB", 2000, TRUE }, { "4", "k", 4, TRUE },
    { "4", "KiB", 4, TRUE }, { "1", "MB", 977, TRUE }, { "1", "M", 1024, TRUE },
    { "3", "MiB", 3072, TRUE }, { "1", "GB", 976563, TRUE }, { "2", "G", 2097152, TRUE },
    { "2", "GiB", 2097152, TRUE }, { "1", "TiB", 1073741824ULL, TRUE },
    { "1", "T", 1073741824ULL, TRUE }, { "1", "TB", 976562500ULL, TRUE },
    { "1", "PiB", 1099511627776ULL, TRUE }, { "1", "EiB", 1125899906842624ULL, TRUE },
    { "16", "EiB", 0, FALSE }, { "1", "furlong", 0, FALSE }, { "-1", "KiB", 0, FALSE },
    { "1.5", "GiB", 0, FALSE }, { "", "KiB", 0, FALSE },
};

START_TEST(test_units)
{
    const UnitCase *c = &unit_cases[_i];
    const char *bad = NULL;
    gboolean ok;
    guint64 v = hyve_domain_parse_scaled(c->value, c->unit, &ok, &bad);

    ck_assert_msg(ok == c->ok, "unit case %d ('%s' %s): ok=%d want %d", _i, c->value,
                  c->unit ? c->unit : "(none)", ok, c->ok);
    if (ok)
        ck_assert_msg(v == c->kib, "unit case %d ('%s' %s): %" G_GUINT64_FORMAT
                      " KiB, want %" G_GUINT64_FORMAT, _i, c->value,
                      c->unit ? c->unit : "(none)", v, c->kib);
}
END_TEST

/* Generated values: random v4 UUID and distinct 52:54:00 MACs. */
START_TEST(test_generated)
{
    const char *xml =
        "<domain type='bhyve'><name>gen</name><memory>65536</memory>"
        "<os><type>hvm</type></os><devices>"
        "<interface type='network'><source network='default'/></interface>"
        "<interface type='bridge'><source bridge='br0'/></interface>"
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>"
        "</devices></domain>";
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainDef) a = hyve_domain_def_parse_string(xml, &opts, &err);
    g_autoptr(HyveDomainDef) b = hyve_domain_def_parse_string(xml, &opts, &err);
    HyveNetDef *n0, *n1, *n2;

    ck_assert_msg(a && b, "generated: %s", err ? err->message : "");
    ck_assert_msg(memcmp(a->uuid, b->uuid, HYVE_UUID_LEN) != 0, "generated: same uuid twice");
    ck_assert_msg((a->uuid[6] >> 4) == 4 && (a->uuid[8] & 0xc0) == 0x80,
                  "generated: uuid is not version 4");
    n0 = g_ptr_array_index(a->nets, 0);
    n1 = g_ptr_array_index(a->nets, 1);
    n2 = g_ptr_array_index(a->nets, 2);
    ck_assert_msg(n0->mac[0] == 0x52 && n0->mac[1] == 0x54 && n0->mac[2] == 0x00,
                  "generated: mac prefix");
    ck_assert_msg(memcmp(n0->mac, n1->mac, 6) != 0 && memcmp(n0->mac, n2->mac, 6) != 0 &&
                  memcmp(n1->mac, n2->mac, 6) != 0, "generated: macs not unique");
    ck_assert_msg(n2->mac[5] == 1, "generated: given mac changed");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-xml");
    TCase *tc = tcase_create("golden");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_case, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_units, 0, G_N_ELEMENTS(unit_cases));
    tcase_add_test(tc, test_generated);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
