/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_xml.c: storage pool and volume definitions (XML in and out),
 * libvirt's scaled sizes, and the pure parts of the LVM backend. One test
 * program (storage-xml) in four files sharing test_storage_xml.h: this one
 * (golden cases, sizes, defaults, main), test_storage_xml_fail.c
 * (refusals), test_storage_lvm.c (LVM parsers, real LVM) and
 * test_storage_lvm_fake.c (LVM commands against fake tools).
 *
 * Golden cases: storage/pool/<case>.xml and storage/vol/<case>.xml are
 * parsed with schema validation, formatted and compared with
 * <case>.out.xml; every output validates against the installed
 * storagepool.rng / storagevol.rng (libxml2 directly), parses again to
 * the same text, and a copy of the definition formats the same.
 * Volume cases named logical-* are parsed for a logical pool, the others
 * for a dir pool. HYVE_REGENERATE=1 rewrites the .out.xml files.
 *
 * LVM: the vgs/lvs parsers; every backend operation against fake LVM
 * tools (the exact commands, errors with their stderr); and, only where
 * HYVE_LVM_TEST_DEVICE names a disposable block device (the lab), the
 * whole cycle with the real tools.
 */

#include "test_storage_xml.h"

#define STORAGE_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/storage"

typedef struct {
    const char *kind;             /* "pool" or "vol" */
    const char *name;
} GoldenCase;

static const GoldenCase golden[] = {
    { "pool", "dir-minimal" },
    { "pool", "dir-full" },
    { "pool", "dir-escaping" },
    { "pool", "logical-full" },
    { "pool", "logical-noname" },
    { "pool", "logical-nosource" },
    { "vol", "minimal" },
    { "vol", "sparse" },
    { "vol", "full" },
    { "vol", "escaping" },
    { "vol", "logical-lv" },
    { "vol", "logical-plain" },
};

void
write_or_die(const char *path, const char *data)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_file_set_contents(path, data, -1, &err), "cannot write %s: %s", path,
                  err ? err->message : "");
}

/* Parses and formats @xml as a @kind case; NULL with *err on failure. */
static char *
parse_format(const char *kind, const char *name, const char *xml, gboolean validate,
             GError **err)
{
    if (g_str_equal(kind, "pool")) {
        g_autoptr(HyvePoolDef) def = hyve_pool_def_parse(xml, validate,
                                                         HYVE_LIBVIRT_SCHEMA_DIR, err);
        g_autoptr(HyvePoolDef) copy = NULL;
        g_autofree char *a = NULL, *b = NULL;

        if (!def)
            return NULL;
        copy = hyve_pool_def_copy(def);
        a = hyve_pool_def_format(def);
        b = hyve_pool_def_format(copy);
        ck_assert_msg(g_str_equal(a, b), "%s: the copy formats differently:\n%s", name, b);
        return g_steal_pointer(&a);
    } else {
        HyvePoolType pt = g_str_has_prefix(name, "logical-") ? HYVE_POOL_TYPE_LOGICAL :
                          HYVE_POOL_TYPE_DIR;
        g_autoptr(HyveVolDef) def = hyve_vol_def_parse(xml, pt, validate,
                                                       HYVE_LIBVIRT_SCHEMA_DIR, err);
        g_autoptr(HyveVolDef) copy = NULL;
        g_autofree char *a = NULL, *b = NULL;

        if (!def)
            return NULL;
        copy = hyve_vol_def_copy(def);
        a = hyve_vol_def_format(def, pt);
        b = hyve_vol_def_format(copy, pt);
        ck_assert_msg(g_str_equal(a, b), "%s: the copy formats differently:\n%s", name, b);
        return g_steal_pointer(&a);
    }
}

START_TEST(test_golden)
{
    const GoldenCase *c = &golden[_i];
    const char *rng = g_str_equal(c->kind, "pool") ? "storagepool.rng" : "storagevol.rng";
    g_autofree char *in_path = g_strdup_printf(STORAGE_DIR "/%s/%s.xml", c->kind, c->name);
    g_autofree char *out_path = g_strdup_printf(STORAGE_DIR "/%s/%s.out.xml", c->kind, c->name);
    g_autofree char *input = test_read_file(in_path);
    g_autofree char *got = NULL, *want = NULL, *again = NULL, *errors = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_msg(input, "%s: cannot read %s", c->name, in_path);
    ck_assert_msg(test_schema_validate_file(input, rng, &errors),
                  "%s: input does not validate against %s: %s", c->name, rng, errors);
    g_clear_pointer(&errors, g_free);
    got = parse_format(c->kind, c->name, input, TRUE, &err);
    ck_assert_msg(got, "%s: rejected: %s", c->name, err ? err->message : "");
    if (test_regenerate())
        write_or_die(out_path, got);
    want = test_read_file(out_path);
    ck_assert_msg(want, "%s: cannot read %s", c->name, out_path);
    ck_assert_msg(g_str_equal(got, want), "%s: output differs from %s:\n%s", c->name, out_path,
                  got);
    ck_assert_msg(test_schema_validate_file(got, rng, &errors),
                  "%s: output does not validate against %s: %s", c->name, rng, errors);
    again = parse_format(c->kind, c->name, got, TRUE, &err);
    ck_assert_msg(again, "%s: output does not parse again: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(g_str_equal(again, got), "%s: round trip changed the XML:\n%s", c->name,
                  again);
}
END_TEST

/* ---- hyve_storage_parse_size ------------------------------------------- */

typedef struct {
    const char *value, *unit;
    guint64 bytes;
    int code;                     /* 0: accepted */
} SizeCase;

static const SizeCase sizes[] = {
    { "0", NULL, 0, 0 }, { "1", NULL, 1, 0 }, { "123", "", 123, 0 },
    { "1", "b", 1, 0 }, { "1", "B", 1, 0 }, { "7", "byte", 7, 0 }, { "7", "Bytes", 7, 0 },
    { "1", "KB", 1000, 0 }, { "1", "kb", 1000, 0 }, { "1", "K", 1024, 0 }, { "1", "k", 1024, 0 },
    { "1", "KiB", 1024, 0 }, { "1", "kib", 1024, 0 }, { "3", "MB", 3000000, 0 },
    { "3", "M", 3145728, 0 }, { "3", "MiB", 3145728, 0 }, { "2", "GB", 2000000000ULL, 0 },
    { "2", "G", 2147483648ULL, 0 }, { "2", "GiB", 2147483648ULL, 0 },
    { "1", "TB", 1000000000000ULL, 0 }, { "1", "T", 1099511627776ULL, 0 },
    { "1", "TiB", 1099511627776ULL, 0 }, { "1", "PB", 1000000000000000ULL, 0 },
    { "1", "P", 1125899906842624ULL, 0 }, { "1", "PiB", 1125899906842624ULL, 0 },
    { "1", "EB", 1000000000000000000ULL, 0 }, { "7", "E", 7ULL << 60, 0 },
    { "7", "EiB", 7ULL << 60, 0 }, { "9223372036854775807", "bytes", G_MAXINT64, 0 },
    { "0", "EiB", 0, 0 }, { " 42", NULL, 42, 0 },
    { "8", "EiB", 0, HYVE_ERR_OVERFLOW }, { "10", "EB", 0, HYVE_ERR_OVERFLOW },
    { "8388608", "TiB", 0, HYVE_ERR_OVERFLOW }, { "9223372036854775808", NULL, 0,
                                                   HYVE_ERR_OVERFLOW },
    { "1", "Z", 0, HYVE_ERR_INVALID_ARG }, { "1", "ZiB", 0, HYVE_ERR_INVALID_ARG },
    { "1", "KIB", 1024, 0 }, { "1", "Kb", 1000, 0 }, { "1", "KiBB", 0, HYVE_ERR_INVALID_ARG },
    { "1", "sectors", 0, HYVE_ERR_INVALID_ARG }, { "1", "iB", 0, HYVE_ERR_INVALID_ARG },
    { "-5", NULL, 0, HYVE_ERR_XML_ERROR }, { "+5", NULL, 0, HYVE_ERR_XML_ERROR },
    { "5 ", NULL, 0, HYVE_ERR_XML_ERROR }, { "0x10", NULL, 0, HYVE_ERR_XML_ERROR },
    { "", NULL, 0, HYVE_ERR_XML_ERROR }, { NULL, NULL, 0, HYVE_ERR_XML_ERROR },
};

START_TEST(test_size)
{
    const SizeCase *c = &sizes[_i];
    g_autoptr(GError) err = NULL;
    guint64 v = 12345;
    gboolean ok = hyve_storage_parse_size(c->value, c->unit, &v, &err);

    if (c->code == 0) {
        ck_assert_msg(ok, "size %d ('%s' %s): %s", _i, c->value, c->unit ? c->unit : "-",
                      err ? err->message : "");
        ck_assert_msg(v == c->bytes, "size %d ('%s' %s): %" G_GUINT64_FORMAT ", want %"
                      G_GUINT64_FORMAT, _i, c->value, c->unit ? c->unit : "-", v, c->bytes);
    } else {
        ck_assert_msg(!ok, "size %d ('%s' %s): accepted as %" G_GUINT64_FORMAT, _i,
                      c->value ? c->value : "(null)", c->unit ? c->unit : "-", v);
        ck_assert_msg(err && err->code == c->code &&
                      err->domain == hyve_error_quark(HYVE_FROM_STORAGE),
                      "size %d: error %d (%s), want %d", _i, err ? err->code : 0,
                      err ? err->message : "", c->code);
        ck_assert_msg(v == 12345, "size %d: output written on failure", _i);
    }
}
END_TEST

/* ---- defaults and generated values ------------------------------------- */

START_TEST(test_defaults)
{
    const char *pool = "<pool type='dir'><name>p</name><target><path>/x</path></target></pool>";
    const char *lpool = "<pool type='logical'><name>vg</name></pool>";
    /* what `virsh vol-create-as p v 1G` sends: no <target> (not schema-valid) */
    const char *vol = "<volume><name>v</name><capacity>1073741824</capacity></volume>";
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolDef) a = hyve_pool_def_parse(pool, FALSE, NULL, &err);
    g_autoptr(HyvePoolDef) b = hyve_pool_def_parse(pool, FALSE, NULL, &err);
    g_autoptr(HyvePoolDef) l = hyve_pool_def_parse(lpool, FALSE, NULL, &err);
    g_autoptr(HyveVolDef) v = hyve_vol_def_parse(vol, HYVE_POOL_TYPE_DIR, FALSE, NULL, &err);
    g_autoptr(HyveVolDef) lv = NULL;

    ck_assert_msg(a && b && l && v, "defaults: %s", err ? err->message : "");
    ck_assert_msg(memcmp(a->uuid, b->uuid, HYVE_UUID_LEN) != 0, "defaults: same uuid twice");
    ck_assert_msg((a->uuid[6] >> 4) == 4 && (a->uuid[8] & 0xc0) == 0x80,
                  "defaults: generated uuid is not version 4");
    ck_assert_int_eq(a->type, HYVE_POOL_TYPE_DIR);
    ck_assert_msg(a->source_devices && !a->source_devices[0], "dir: devices not empty");
    ck_assert_msg(a->perms.mode == -1 && a->perms.uid == -1 && a->perms.gid == -1,
                  "dir: permissions not unset");
    ck_assert_int_eq(l->type, HYVE_POOL_TYPE_LOGICAL);
    ck_assert_str_eq(l->source_name, "vg");
    ck_assert_str_eq(l->target_path, "/dev/vg");
    ck_assert_msg(l->source_format == NULL, "logical: format set");
    ck_assert_msg(l->source_devices && !l->source_devices[0], "logical: devices not empty");
    ck_assert_str_eq(v->name, "v");
    ck_assert_str_eq(v->format, "raw");
    ck_assert_int_eq(v->type, HYVE_VOL_TYPE_FILE);
    ck_assert_msg(v->capacity == 1073741824ULL && v->allocation == v->capacity &&
                  !v->has_allocation, "vol: allocation defaults to capacity");
    ck_assert_msg(!v->key && !v->target_path, "vol: key/path set");
    /* with the VALIDATE flag the same volume is refused by the schema */
    lv = hyve_vol_def_parse(vol, HYVE_POOL_TYPE_LOGICAL, TRUE, HYVE_LIBVIRT_SCHEMA_DIR, &err);
    ck_assert_msg(!lv && err && err->code == HYVE_ERR_XML_INVALID_SCHEMA,
                  "vol: schema validation did not refuse a volume without <target>");
    /* a dir pool's <source> content is ignored, as libvirt */
    g_clear_error(&err);
    g_clear_pointer(&a, hyve_pool_def_free);
    a = hyve_pool_def_parse("<pool type='dir'><name>p</name><source><device path='/dev/sda'/>"
                            "<name>x</name><format type='lvm2'/></source>"
                            "<target><path>/x</path></target></pool>", FALSE, NULL, &err);
    ck_assert_msg(a && !a->source_devices[0] && !a->source_name && !a->source_format,
                  "dir: source kept: %s", err ? err->message : "");
    ck_assert_str_eq(hyve_pool_type_to_string(HYVE_POOL_TYPE_ISCSI_DIRECT), "iscsi-direct");
    ck_assert_int_eq(hyve_pool_type_from_string("vstorage"), HYVE_POOL_TYPE_VSTORAGE);
    ck_assert_int_eq(hyve_pool_type_from_string("Dir"), -1);
    ck_assert_msg(hyve_pool_type_to_string(HYVE_POOL_TYPE_LAST) == NULL, "type LAST named");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("storage-xml");
    TCase *tc = tcase_create("xml");
    TCase *lvm = tcase_create("lvm");
    TCase *fake = tcase_create("lvm-commands");
    TCase *real = tcase_create("lvm-real");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_golden, 0, G_N_ELEMENTS(golden));
    storage_xml_add_failure_test(tc);
    tcase_add_loop_test(tc, test_size, 0, G_N_ELEMENTS(sizes));
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    storage_lvm_add_parser_tests(lvm);
    suite_add_tcase(s, lvm);
    tcase_set_timeout(lvm, 60);
    tcase_set_timeout(fake, 60);
    storage_lvm_add_fake_tests(fake);
    suite_add_tcase(s, fake);
    tcase_set_timeout(real, 120);
    storage_lvm_add_real_test(real);
    suite_add_tcase(s, real);
    return test_suite_run(s);
}
