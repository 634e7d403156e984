/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_xml.c: storage pool and volume definitions (XML in and out),
 * libvirt's scaled sizes, and the pure parts of the LVM backend.
 *
 * Golden cases: storage/pool/<case>.xml and storage/vol/<case>.xml are
 * parsed with schema validation, formatted and compared with
 * <case>.out.xml; every output validates against the installed
 * storagepool.rng / storagevol.rng (libxml2 directly), parses again to
 * the same text, and a copy of the definition formats the same.
 * Volume cases named logical-* are parsed for a logical pool, the others
 * for a dir pool. HYVE_REGENERATE=1 rewrites the .out.xml files.
 */
#include <string.h>
#include "test_driver_common.h"
#include "hyve_storage_def.h"

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

static void
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

/* ---- refusals: exact code, domain and message -------------------------- */

typedef struct {
    const char *name;
    const char *kind;             /* "pool", "vol" (dir pool), "lvol" (logical pool) */
    gboolean validate;
    const char *xml;
    int code;
    const char *message;          /* @SCHEMA_DIR@ for the schema directory */
} FailCase;

#define DIRPOOL(body) "<pool type='dir'><name>p</name>" body "</pool>"
#define VOL(body) "<volume><name>v</name>" body "</volume>"

static const FailCase failures[] = {
    { "malformed", "pool", FALSE, "<pool type='dir'><name>p</name>", HYVE_ERR_XML_ERROR,
      "XML error: (storage_pool_definition):1: Premature end of data in tag pool line 1" },
    { "malformed-vol", "vol", FALSE, "<volume><name>v</nam></volume>", HYVE_ERR_XML_ERROR,
      "XML error: (storage_volume_definition):1: Opening and ending tag mismatch: "
      "name line 1 and nam" },
    { "empty", "pool", FALSE, "", HYVE_ERR_XML_ERROR,
      "XML error: (storage_pool_definition): empty document" },
    { "entity", "vol", FALSE, "<!DOCTYPE v [<!ENTITY x 'y'>]><volume/>", HYVE_ERR_XML_ERROR,
      "XML error: (storage_volume_definition): document type declarations and entities "
      "are not allowed" },
    { "root-pool", "pool", FALSE, "<volume><name>v</name></volume>", HYVE_ERR_XML_ERROR,
      "XML error: unexpected root element <volume>, expecting <pool>" },
    { "root-vol", "vol", FALSE, DIRPOOL(""), HYVE_ERR_XML_ERROR,
      "XML error: unexpected root element <pool>, expecting <volume>" },
    { "schema-pool", "pool", TRUE,
      "<pool type='dir'><name>p</name><target><path>/x</path></target><bogus/></pool>",
      HYVE_ERR_XML_INVALID_SCHEMA,
      "XML document failed to validate against schema: Unable to validate doc against "
      "@SCHEMA_DIR@/storagepool.rng\nElement pool has extra content: bogus" },
    { "schema-vol", "vol", TRUE, VOL("<capacity>1</capacity>"), HYVE_ERR_XML_INVALID_SCHEMA,
      "XML document failed to validate against schema: Unable to validate doc against "
      "@SCHEMA_DIR@/storagevol.rng\nExpecting an element target, got nothing\n"
      "Invalid sequence in interleave\nElement volume failed to validate content" },
    { "no-type", "pool", FALSE, "<pool><name>p</name></pool>", HYVE_ERR_XML_ERROR,
      "XML error: Missing required attribute 'type' in element 'pool'" },
    { "bad-type", "pool", FALSE, "<pool type='tape'><name>p</name></pool>", HYVE_ERR_XML_ERROR,
      "XML error: Invalid value for attribute 'type' in element 'pool': 'tape'." },
    { "type-netfs", "pool", TRUE,
      "<pool type='netfs'><name>p</name><source><host name='nfs.example.org'/>"
      "<dir path='/export'/></source><target><path>/mnt</path></target></pool>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage pool type 'netfs' is "
      "not supported by hyve (supported: dir, logical)" },
    { "type-iscsi", "pool", FALSE, "<pool type='iscsi'><name>p</name></pool>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage pool type 'iscsi' is "
      "not supported by hyve (supported: dir, logical)" },
    { "pool-missing-name", "pool", FALSE,
      "<pool type='dir'><target><path>/x</path></target></pool>", HYVE_ERR_XML_ERROR,
      "XML error: missing pool source name element" },
    { "pool-empty-name", "pool", FALSE,
      "<pool type='dir'><name> </name><target><path>/x</path></target></pool>",
      HYVE_ERR_XML_ERROR, "XML error: missing pool source name element" },
    { "logical-no-name", "pool", FALSE, "<pool type='logical'><source/></pool>",
      HYVE_ERR_XML_ERROR, "XML error: missing pool source name element" },
    { "pool-name-slash", "pool", FALSE,
      "<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>",
      HYVE_ERR_XML_ERROR, "XML error: name a/b cannot contain '/'" },
    { "pool-uuid", "pool", FALSE,
      "<pool type='dir'><name>p</name><uuid>1234</uuid><target><path>/x</path></target></pool>",
      HYVE_ERR_XML_ERROR, "XML error: malformed uuid element" },
    { "dir-no-target", "pool", FALSE, DIRPOOL("<target/>"), HYVE_ERR_XML_ERROR,
      "XML error: missing storage pool target path" },
    { "pool-mode", "pool", FALSE,
      DIRPOOL("<target><path>/x</path><permissions><mode>0789</mode></permissions></target>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed octal mode" },
    { "pool-mode-big", "pool", FALSE,
      DIRPOOL("<target><path>/x</path><permissions><mode>01777</mode></permissions></target>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed octal mode" },
    { "pool-owner", "pool", FALSE,
      DIRPOOL("<target><path>/x</path><permissions><owner>root</owner></permissions></target>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed owner element" },
    { "pool-group", "pool", FALSE,
      DIRPOOL("<target><path>/x</path><permissions><group>-2</group></permissions></target>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed group element" },
    { "logical-device", "pool", FALSE,
      "<pool type='logical'><name>p</name><source><device/></source></pool>",
      HYVE_ERR_XML_ERROR, "XML error: missing storage pool source device path" },
    { "logical-format", "pool", FALSE,
      "<pool type='logical'><name>p</name><source><format type='gpt'/></source></pool>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unknown pool format type gpt" },
    { "logical-format-unknown", "pool", TRUE,
      "<pool type='logical'><name>p</name><source><format type='unknown'/></source>"
      "<target/></pool>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage pool format 'unknown' "
      "is not supported by hyve (supported: lvm2)" },
    { "vol-no-name", "vol", FALSE, "<volume><capacity>1</capacity></volume>",
      HYVE_ERR_XML_ERROR, "XML error: missing volume name element" },
    { "vol-name-slash", "vol", FALSE,
      "<volume><name>../etc/passwd</name><capacity>1</capacity></volume>", HYVE_ERR_XML_ERROR,
      "XML error: volume name '../etc/passwd' cannot contain '/'" },
    { "vol-name-dotdot", "vol", FALSE, "<volume><name>..</name><capacity>1</capacity></volume>",
      HYVE_ERR_XML_ERROR, "XML error: volume name '..' is not allowed" },
    { "vol-no-capacity", "vol", FALSE, VOL("<allocation>0</allocation>"), HYVE_ERR_XML_ERROR,
      "XML error: missing capacity element" },
    { "vol-capacity-text", "vol", FALSE, VOL("<capacity>lots</capacity>"), HYVE_ERR_XML_ERROR,
      "XML error: malformed capacity element" },
    { "vol-capacity-negative", "vol", FALSE, VOL("<capacity>-1</capacity>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed capacity element" },
    { "vol-capacity-fraction", "vol", FALSE, VOL("<capacity unit='G'>1.5</capacity>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed capacity element" },
    { "vol-capacity-empty", "vol", FALSE, VOL("<capacity/>"), HYVE_ERR_XML_ERROR,
      "XML error: malformed capacity element" },
    { "vol-capacity-u64", "vol", FALSE, VOL("<capacity>18446744073709551616</capacity>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed capacity element" },
    { "vol-allocation-text", "vol", FALSE,
      VOL("<capacity>1</capacity><allocation>x</allocation>"), HYVE_ERR_XML_ERROR,
      "XML error: malformed capacity element" },
    { "vol-unit", "vol", FALSE, VOL("<capacity unit='furlongs'>1</capacity>"),
      HYVE_ERR_INVALID_ARG, "invalid argument: unknown suffix 'furlongs'" },
    { "vol-unit-x", "vol", FALSE, VOL("<capacity unit='X'>1</capacity>"),
      HYVE_ERR_INVALID_ARG, "invalid argument: unknown suffix 'X'" },
    { "vol-overflow", "vol", FALSE, VOL("<capacity unit='EiB'>8</capacity>"),
      HYVE_ERR_OVERFLOW, "numerical overflow: value too large: 8EiB" },
    { "vol-overflow-bytes", "vol", FALSE, VOL("<capacity>9223372036854775808</capacity>"),
      HYVE_ERR_OVERFLOW, "numerical overflow: value too large: 9223372036854775808" },
    { "vol-overflow-allocation", "vol", FALSE,
      VOL("<capacity>1</capacity><allocation unit='PB'>9224</allocation>"),
      HYVE_ERR_OVERFLOW, "numerical overflow: value too large: 9224PB" },
    { "vol-qcow2", "vol", TRUE,
      VOL("<capacity>1</capacity><target><format type='qcow2'/></target>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage volume format 'qcow2' "
      "is not supported by hyve (supported: raw)" },
    { "vol-format-unknown", "vol", FALSE,
      VOL("<capacity>1</capacity><target><format type='floppy'/></target>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unknown volume format type "
      "floppy" },
    { "lvol-qcow2", "lvol", FALSE,
      VOL("<capacity>1</capacity><target><format type='qcow2'/></target>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage volume format 'qcow2' "
      "is not supported by hyve (supported: raw)" },
    { "vol-type-network", "vol", TRUE,
      "<volume type='network'><name>v</name><capacity>1</capacity><target/></volume>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: storage volume type 'network' "
      "is not supported by hyve (supported: file, block)" },
    { "vol-type-bogus", "vol", FALSE,
      "<volume type='tape'><name>v</name><capacity>1</capacity></volume>",
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unknown volume type 'tape'" },
    { "vol-backing", "vol", TRUE,
      VOL("<capacity>1</capacity><target/><backingStore><path>/b.img</path></backingStore>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: volumes with a <backingStore> "
      "are not supported by hyve" },
    { "vol-encryption", "vol", TRUE,
      VOL("<capacity>1</capacity><target><encryption format='luks'/></target>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: volume <encryption> is not "
      "supported by hyve" },
    { "vol-mode", "vol", FALSE,
      VOL("<capacity>1</capacity><target><permissions><mode>rw</mode></permissions></target>"),
      HYVE_ERR_XML_ERROR, "XML error: malformed octal mode" },
};

START_TEST(test_failure)
{
    const FailCase *c = &failures[_i];
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL, *want = NULL, *out = NULL;
    g_auto(GStrv) parts = NULL;

    if (g_str_equal(c->kind, "pool")) {
        g_autoptr(HyvePoolDef) def = hyve_pool_def_parse(c->xml, c->validate,
                                                         HYVE_LIBVIRT_SCHEMA_DIR, &err);
        if (def)
            out = hyve_pool_def_format(def);
    } else {
        HyvePoolType pt = g_str_equal(c->kind, "lvol") ? HYVE_POOL_TYPE_LOGICAL :
                          HYVE_POOL_TYPE_DIR;
        g_autoptr(HyveVolDef) def = hyve_vol_def_parse(c->xml, pt, c->validate,
                                                       HYVE_LIBVIRT_SCHEMA_DIR, &err);
        if (def)
            out = hyve_vol_def_format(def, pt);
    }
    ck_assert_msg(!out, "%s: accepted, formatted as:\n%s", c->name, out);
    ck_assert_msg(err, "%s: failure without a GError", c->name);
    got = test_error_line(err);
    parts = g_strsplit(got, HYVE_LIBVIRT_SCHEMA_DIR, -1);
    g_free(got);
    got = g_strjoinv("@SCHEMA_DIR@", parts);
    want = g_strdup_printf("%d %d %s", c->code, HYVE_FROM_STORAGE, c->message);
    ck_assert_msg(g_str_equal(got, want), "%s:\n  got:  %s\n  want: %s", c->name, got, want);
    /* CONFIG_UNSUPPORTED is for valid libvirt XML hyve cannot do */
    if (c->code == HYVE_ERR_CONFIG_UNSUPPORTED && c->validate) {
        g_autofree char *errors = NULL;
        const char *rng = g_str_equal(c->kind, "pool") ? "storagepool.rng" : "storagevol.rng";

        ck_assert_msg(test_schema_validate_file(c->xml, rng, &errors),
                      "%s: input is not valid libvirt XML: %s", c->name, errors);
    }
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

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_golden, 0, G_N_ELEMENTS(golden));
    tcase_add_loop_test(tc, test_failure, 0, G_N_ELEMENTS(failures));
    tcase_add_loop_test(tc, test_size, 0, G_N_ELEMENTS(sizes));
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
