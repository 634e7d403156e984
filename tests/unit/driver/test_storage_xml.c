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
 *
 * LVM: the vgs/lvs parsers; every backend operation against fake LVM
 * tools (the exact commands, errors with their stderr); and, only where
 * HYVE_LVM_TEST_DEVICE names a disposable block device (the lab), the
 * whole cycle with the real tools.
 */
#include <string.h>
#include <unistd.h>
#include "test_driver_common.h"
#include "hyve_storage_priv.h"

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
      "<pool type='dir'><target><path>/x</path></target></pool>", HYVE_ERR_NO_NAME,
      "missing name information in (storage_pool_definition)" },
    { "pool-empty-name", "pool", FALSE,
      "<pool type='dir'><name> </name><target><path>/x</path></target></pool>",
      HYVE_ERR_NO_NAME, "missing name information in (storage_pool_definition)" },
    { "logical-no-name", "pool", FALSE, "<pool type='logical'><source/></pool>",
      HYVE_ERR_NO_NAME, "missing name information in (storage_pool_definition)" },
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
      HYVE_ERR_NO_NAME, "missing name information in (storage_volume_definition)" },
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

/* ---- LVM backend: pure parsers ------------------------------------------ */


START_TEST(test_lvm_parse_vgs)
{
    g_autoptr(GError) err = NULL;
    guint64 size = 0, avail = 0;

    ck_assert_msg(hyve_lvm_parse_vgs("  other#8#4\n  hyvevg#264241152#255852544\n", "hyvevg",
                                     &size, &avail, &err), "vgs: %s", err ? err->message : "");
    ck_assert_msg(size == 264241152ULL && avail == 255852544ULL, "vgs: sizes");
    ck_assert_msg(!hyve_lvm_parse_vgs("  other#8#4\n", "hyvevg", &size, &avail, &err), "vgs");
    ck_assert_str_eq(err->message, "operation failed: cannot find logical volume group name "
                     "'hyvevg'");
    ck_assert_int_eq(err->code, HYVE_ERR_OPERATION_FAILED);
    g_clear_error(&err);
    ck_assert_msg(!hyve_lvm_parse_vgs("", "hyvevg", &size, &avail, &err), "vgs: empty");
    g_clear_error(&err);
    ck_assert_msg(!hyve_lvm_parse_vgs("  hyvevg#12.5#1\n", "hyvevg", &size, &avail, &err),
                  "vgs: fraction");
    ck_assert_str_eq(err->message, "internal error: cannot parse vgs output: 'hyvevg#12.5#1'");
    g_clear_error(&err);
    ck_assert_msg(!hyve_lvm_parse_vgs("  hyvevg#4#8\n", "hyvevg", &size, &avail, &err),
                  "vgs: free > size");
    g_clear_error(&err);
    ck_assert_msg(!hyve_lvm_parse_vgs("  hyvevg#4\n", "hyvevg", &size, &avail, &err),
                  "vgs: two fields");
}
END_TEST

START_TEST(test_lvm_parse_lvs)
{
    const char *out =
        "  zeta#8388608#-wi-a-----\n"
        "  thin#104857600#twi-a-tz--\n"
        "  [hidden]#4194304#ewi-------\n"
        "  alpha#4194304#-wi-------\n"
        "\n";
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) vols = hyve_lvm_parse_lvs(out, "/dev/vg", &err);
    HyveVolDef *a, *z;

    ck_assert_msg(vols, "lvs: %s", err ? err->message : "");
    ck_assert_int_eq(vols->len, 2);
    a = vols->pdata[0];
    z = vols->pdata[1];
    ck_assert_str_eq(a->name, "alpha");
    ck_assert_str_eq(z->name, "zeta");
    ck_assert_str_eq(a->target_path, "/dev/vg/alpha");
    ck_assert_str_eq(a->key, "/dev/vg/alpha");
    ck_assert_str_eq(a->format, "raw");
    ck_assert_int_eq(a->type, HYVE_VOL_TYPE_BLOCK);
    ck_assert_msg(a->capacity == 4194304 && a->allocation == 4194304 && a->physical == 4194304,
                  "lvs: alpha sizes");
    ck_assert_msg(z->capacity == 8388608 && z->allocation == 8388608, "lvs: zeta sizes");
    g_clear_pointer(&vols, g_ptr_array_unref);
    vols = hyve_lvm_parse_lvs("", "/dev/vg", &err);
    ck_assert_msg(vols && vols->len == 0, "lvs: empty VG");
    g_clear_pointer(&vols, g_ptr_array_unref);
    vols = hyve_lvm_parse_lvs("  a#-1#-wi-a-----\n", "/dev/vg", &err);
    ck_assert_msg(!vols && err, "lvs: negative size accepted");
    ck_assert_str_eq(err->message, "internal error: cannot parse lvs output: 'a#-1#-wi-a-----'");
    g_clear_error(&err);
    vols = hyve_lvm_parse_lvs("  a#1\n", "/dev/vg", &err);
    ck_assert_msg(!vols && err, "lvs: two fields accepted");
}
END_TEST

static const struct {
    const char *name;
    gboolean ok;
} lvm_names[] = {
    { "vg0", TRUE }, { "my_vg.1+x-y", TRUE }, { "-vg", FALSE }, { "--help", FALSE },
    { "a b", FALSE }, { "a/b", FALSE }, { ".", FALSE }, { "..", FALSE }, { "", FALSE },
    { "ä", FALSE }, { "a;rm", FALSE }, { ".hidden", TRUE },
};

START_TEST(test_lvm_names)
{
    ck_assert_msg(hyve_lvm_name_valid(lvm_names[_i].name) == lvm_names[_i].ok,
                  "name '%s': valid=%d", lvm_names[_i].name, !lvm_names[_i].ok);
}
END_TEST

START_TEST(test_lvm_check_def)
{
    const HyveStorageBackend *be = &hyve_storage_backend_logical;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolDef) a = hyve_pool_def_parse(
        "<pool type='logical'><name>pool</name><source><device path='/dev/a'/></source></pool>",
        FALSE, NULL, &err);
    g_autoptr(HyvePoolDef) b = NULL;

    ck_assert_msg(a, "%s", err ? err->message : "");
    ck_assert_int_eq(be->type, HYVE_POOL_TYPE_LOGICAL);
    g_clear_pointer(&a->source_name, g_free);
    g_clear_pointer(&a->target_path, g_free);
    ck_assert_msg(be->check_def(a, &err), "check_def: %s", err ? err->message : "");
    ck_assert_str_eq(a->source_name, "pool");
    ck_assert_str_eq(a->target_path, "/dev/pool");
    b = hyve_pool_def_copy(a);
    g_free(b->name);
    b->name = g_strdup("other");
    ck_assert_msg(be->same_source(a, b), "same VG not the same source");
    g_free(b->source_name);
    b->source_name = g_strdup("vg2");
    ck_assert_msg(be->same_source(a, b), "shared device not the same source");
    g_strfreev(b->source_devices);
    b->source_devices = g_strsplit("/dev/b", ",", -1);
    ck_assert_msg(!be->same_source(a, b), "different VG and devices: same source");
    g_free(b->source_name);
    b->source_name = g_strdup("-vg");
    ck_assert_msg(!be->check_def(b, &err), "check_def accepted VG '-vg'");
    ck_assert_str_eq(err->message, "unsupported configuration: invalid volume group name '-vg'");
    g_clear_error(&err);
    g_free(b->source_name);
    b->source_name = g_strdup("vg2");
    b->source_format = g_strdup("unknown");
    ck_assert_msg(!be->check_def(b, &err), "check_def accepted format 'unknown'");
    ck_assert_int_eq(err->code, HYVE_ERR_CONFIG_UNSUPPORTED);
}
END_TEST

/* ---- LVM backend: commands, against fake tools -------------------------- *
 * Every LVM tool (and blkid) is a script in a temporary directory put first
 * in PATH: it logs "tool [arg] [arg]..." to <dir>/log, prints <dir>/tool.out
 * and <dir>/tool.err, exits with <dir>/tool.rc. "@C" in expected logs
 * stands for the --config argument LVM gets when there is no udev. */

static const char *const fake_tools[] = {
    "blkid", "pvcreate", "pvremove", "vgcreate", "vgchange", "vgremove", "vgs", "lvs",
    "lvcreate", "lvremove", "lvresize", NULL,
};

static char *fake_dir;

static void
fake_setup(void)
{
    g_autofree char *script = NULL, *path = NULL;

    fake_dir = test_tmpdir_new("hyve-lvm-XXXXXX");
    script = g_build_filename(fake_dir, "fake-tool", NULL);
    write_or_die(script,
                 "#!/bin/sh\n"
                 "n=${0##*/}; d=${0%/*}\n"
                 "{ printf '%s' \"$n\"; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; }"
                 " >>\"$d/log\"\n"
                 "[ -f \"$d/$n.out\" ] && cat \"$d/$n.out\"\n"
                 "[ -f \"$d/$n.err\" ] && cat \"$d/$n.err\" >&2\n"
                 "[ -f \"$d/$n.rc\" ] && exit \"$(cat \"$d/$n.rc\")\"\n"
                 "exit 0\n");
    ck_assert_int_eq(g_chmod(script, 0755), 0);
    for (gsize i = 0; fake_tools[i]; i++) {
        g_autofree char *link = g_build_filename(fake_dir, fake_tools[i], NULL);

        ck_assert_int_eq(symlink("fake-tool", link), 0);
    }
    path = g_strdup_printf("%s:%s", fake_dir, g_getenv("PATH"));
    g_setenv("PATH", path, TRUE);
}

static void
fake_teardown(void)
{
    test_tree_remove(fake_dir);
    g_clear_pointer(&fake_dir, g_free);
}

static void
fake_set(const char *tool, const char *suffix, const char *data)
{
    g_autofree char *p = g_strdup_printf("%s/%s.%s", fake_dir, tool, suffix);

    if (data)
        write_or_die(p, data);
    else
        g_unlink(p);
}

/* Compares and clears the log. */
static void
fake_expect(const char *what, const char *want)
{
    g_autofree char *p = g_build_filename(fake_dir, "log", NULL);
    g_autofree char *got = test_read_file(p);
    gboolean udev = g_file_test("/run/udev/control", G_FILE_TEST_EXISTS);
    g_auto(GStrv) parts = g_strsplit(want, "@C", -1);
    g_autofree char *expected = g_strjoinv(udev ? "" :
                                           " [--config] [activation{udev_sync=0 udev_rules=0}]",
                                           parts);

    ck_assert_msg(g_str_equal(got ? got : "", expected), "%s: commands\n--- got:\n%s--- want:\n%s",
                  what, got ? got : "", expected);
    g_unlink(p);
}

static HyvePoolDef *
fake_pool(void)
{
    g_autoptr(GError) err = NULL;
    HyvePoolDef *def = hyve_pool_def_parse(
        "<pool type='logical'><name>p</name><source><device path='/dev/a'/>"
        "<device path='/dev/b'/><name>vg</name></source></pool>", FALSE, NULL, &err);

    ck_assert_msg(def && hyve_storage_backend_logical.check_def(def, &err), "fake pool: %s",
                  err ? err->message : "");
    return def;
}

START_TEST(test_lvm_build)
{
    const HyveStorageBackend *be = &hyve_storage_backend_logical;
    g_autoptr(HyvePoolDef) def = fake_pool();
    g_autoptr(GError) err = NULL;

    fake_set("blkid", "rc", "2");
    ck_assert_msg(be->build(def, 0, &err), "build: %s", err ? err->message : "");
    fake_expect("build",
                "blkid [-p] [-o] [value] [-s] [TYPE] [-s] [PTTYPE] [/dev/a]\n"
                "blkid [-p] [-o] [value] [-s] [TYPE] [-s] [PTTYPE] [/dev/b]\n"
                "pvcreate@C [/dev/a]\npvcreate@C [/dev/b]\nvgcreate@C [vg] [/dev/a] [/dev/b]\n");

    fake_set("blkid", "rc", "0");
    fake_set("blkid", "out", "LVM2_member\n");
    ck_assert_msg(!be->build(def, HYVE_POOL_BUILD_NO_OVERWRITE, &err), "built over a PV");
    ck_assert_int_eq(err->code, HYVE_ERR_STORAGE_POOL_BUILT);
    ck_assert_str_eq(err->message, "Storage pool already built: Device '/dev/a' already "
                     "formatted using 'LVM2_member'");
    g_clear_error(&err);
    fake_expect("build over a PV", "blkid [-p] [-o] [value] [-s] [TYPE] [-s] [PTTYPE] [/dev/a]\n");

    fake_set("blkid", "out", "dos\n");
    ck_assert_msg(!be->build(def, 0, &err), "built over a partition table");
    ck_assert_str_eq(err->message, "Requested operation is not valid: Format of device '/dev/a' "
                     "does not match the expected format 'LVM2_member', forced overwrite is "
                     "necessary");
    g_clear_error(&err);
    fake_expect("build over a partition table",
                "blkid [-p] [-o] [value] [-s] [TYPE] [-s] [PTTYPE] [/dev/a]\n");

    /* OVERWRITE: no probe, pvcreate -ff -y; a failing vgcreate undoes the PVs */
    fake_set("vgcreate", "rc", "5");
    fake_set("vgcreate", "err", "  Device /dev/b excluded by a filter.\n");
    ck_assert_msg(!be->build(def, HYVE_POOL_BUILD_OVERWRITE, &err), "vgcreate failure ignored");
    ck_assert_int_eq(err->code, HYVE_ERR_INTERNAL_ERROR);
    {
        g_autofree char *want = g_strdup_printf(
            "internal error: Child process (vgcreate%s vg /dev/a /dev/b) unexpected exit "
            "status 5:   Device /dev/b excluded by a filter.",
            g_file_test("/run/udev/control", G_FILE_TEST_EXISTS) ? "" :
            " --config activation{udev_sync=0 udev_rules=0}");

        ck_assert_str_eq(err->message, want);
    }
    g_clear_error(&err);
    fake_expect("build, vgcreate fails",
                "pvcreate@C [-ff] [-y] [/dev/a]\npvcreate@C [-ff] [-y] [/dev/b]\n"
                "vgcreate@C [vg] [/dev/a] [/dev/b]\n"
                "pvremove@C [-y] [/dev/a]\npvremove@C [-y] [/dev/b]\n");

    fake_set("pvcreate", "rc", "3");
    ck_assert_msg(!be->build(def, HYVE_POOL_BUILD_OVERWRITE, &err), "pvcreate failure ignored");
    g_clear_error(&err);
    fake_expect("build, pvcreate fails", "pvcreate@C [-ff] [-y] [/dev/a]\n");

    ck_assert_msg(!be->build(def, HYVE_POOL_BUILD_REPAIR, &err), "REPAIR accepted");
    ck_assert_int_eq(err->code, HYVE_ERR_INVALID_ARG);
    g_clear_error(&err);
    g_strfreev(def->source_devices);
    def->source_devices = g_new0(char *, 1);
    ck_assert_msg(!be->build(def, 0, &err), "built with no devices");
    fake_expect("refused builds", "");
}
END_TEST

START_TEST(test_lvm_pool_ops)
{
    const HyveStorageBackend *be = &hyve_storage_backend_logical;
    g_autoptr(HyvePoolDef) def = fake_pool();
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) vols = NULL;

    ck_assert_msg(be->start(def, &err) && be->stop(def, &err), "start/stop: %s",
                  err ? err->message : "");
    fake_expect("start/stop", "vgchange@C [-aly] [vg]\nvgchange@C [-aln] [vg]\n");

    fake_set("vgs", "out", "  vg#1069547520#1052770304\n");
    fake_set("lvs", "out", "  lv1#8388608#-wi-a-----\n  lv0#8388608#-wi-a-----\n");
    vols = be->refresh(def, &err);
    ck_assert_msg(vols, "refresh: %s", err ? err->message : "");
    ck_assert_msg(def->capacity == 1069547520ULL && def->available == 1052770304ULL &&
                  def->allocation == 16777216ULL, "refresh: pool sizes");
    ck_assert_int_eq(vols->len, 2);
    ck_assert_str_eq(((HyveVolDef *)vols->pdata[0])->target_path, "/dev/vg/lv0");
    fake_expect("refresh",
                "vgs@C [--noheadings] [--units] [b] [--nosuffix] [--separator] [#] [-o] "
                "[vg_name,vg_size,vg_free] [vg]\n"
                "lvs@C [--noheadings] [--units] [b] [--nosuffix] [--separator] [#] [-o] "
                "[lv_name,lv_size,lv_attr] [vg]\n");

    fake_set("vgs", "rc", "5");
    fake_set("vgs", "err", "  Volume group \"vg\" not found\n");
    ck_assert_msg(!be->refresh(def, &err), "refresh without VG");
    ck_assert_msg(g_str_has_suffix(err->message, "unexpected exit status 5:   Volume group "
                                   "\"vg\" not found"), "refresh: %s", err->message);
    g_clear_error(&err);
    fake_expect("refresh without VG",
                "vgs@C [--noheadings] [--units] [b] [--nosuffix] [--separator] [#] [-o] "
                "[vg_name,vg_size,vg_free] [vg]\n");

    ck_assert_msg(be->delete_pool(def, 0, &err), "delete: %s", err ? err->message : "");
    fake_expect("delete", "vgremove@C [-f] [vg]\npvremove@C [-y] [/dev/a]\n"
                "pvremove@C [-y] [/dev/b]\n");
    ck_assert_msg(!be->delete_pool(def, 1, &err), "delete ZEROED accepted");
}
END_TEST

START_TEST(test_lvm_vol_ops)
{
    const HyveStorageBackend *be = &hyve_storage_backend_logical;
    g_autoptr(HyvePoolDef) def = fake_pool();
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveVolDef) vol = hyve_vol_def_parse(
        "<volume><name>lv0</name><capacity>5000000</capacity><allocation>0</allocation>"
        "</volume>", HYVE_POOL_TYPE_LOGICAL, FALSE, NULL, &err);
    const char *lvs_one = "lvs@C [--noheadings] [--units] [b] [--nosuffix] [--separator] [#] "
                          "[-o] [lv_name,lv_size,lv_attr] [vg/lv0]\n";
    g_autofree char *want = NULL;

    ck_assert_msg(vol && be->vol_prepare(def, vol, &err), "prepare: %s",
                  err ? err->message : "");
    ck_assert_str_eq(vol->target_path, "/dev/vg/lv0");
    ck_assert_str_eq(vol->key, "/dev/vg/lv0");
    ck_assert_int_eq(vol->type, HYVE_VOL_TYPE_BLOCK);

    /* whole sectors for LVM, which rounds up to its extent size: the
     * sizes come from lvs */
    fake_set("lvs", "out", "  lv0#8388608#-wi-a-----\n");
    ck_assert_msg(be->vol_create(def, vol, &err), "create: %s", err ? err->message : "");
    ck_assert_msg(vol->capacity == 8388608 && vol->allocation == 8388608, "create: sizes");
    want = g_strconcat("lvcreate@C [--yes] [-n] [lv0] [-L] [5000192b] [vg]\n", lvs_one, NULL);
    fake_expect("create", want);

    /* sizes unreadable after lvcreate: the LV is removed again */
    fake_set("lvs", "rc", "5");
    ck_assert_msg(!be->vol_create(def, vol, &err), "create with failing lvs");
    g_clear_error(&err);
    g_free(want);
    want = g_strconcat("lvcreate@C [--yes] [-n] [lv0] [-L] [8388608b] [vg]\n", lvs_one,
                       "lvremove@C [-f] [vg/lv0]\n", NULL);
    fake_expect("create, lvs fails", want);
    fake_set("lvs", "rc", NULL);

    fake_set("lvs", "out", "  lv0#16777216#-wi-a-----\n");
    ck_assert_msg(be->vol_resize(def, vol, 16777216, 0, &err), "grow: %s",
                  err ? err->message : "");
    ck_assert_msg(vol->capacity == 16777216, "grow: capacity");
    g_free(want);
    want = g_strconcat("lvresize@C [-L] [16777216b] [vg/lv0]\n", lvs_one, NULL);
    fake_expect("grow", want);
    fake_set("lvs", "out", "  lv0#4194304#-wi-a-----\n");
    ck_assert_msg(be->vol_resize(def, vol, 4194303, HYVE_VOL_RESIZE_SHRINK, &err), "shrink: %s",
                  err ? err->message : "");
    ck_assert_msg(vol->capacity == 4194304 && vol->allocation == 4194304, "shrink: sizes");
    g_free(want);
    want = g_strconcat("lvresize@C [-f] [-L] [4194304b] [vg/lv0]\n", lvs_one, NULL);
    fake_expect("shrink", want);

    ck_assert_msg(be->vol_delete(def, vol, 0, &err), "delete: %s", err ? err->message : "");
    fake_expect("delete", "lvremove@C [-f] [vg/lv0]\n");

    g_free(vol->name);
    vol->name = g_strdup("-rf");
    ck_assert_msg(!be->vol_prepare(def, vol, &err), "prepare accepted '-rf'");
    ck_assert_str_eq(err->message, "unsupported configuration: invalid logical volume name "
                     "'-rf'");
}
END_TEST

/* ---- LVM backend for real ----------------------------------------------- *
 * Only where HYVE_LVM_TEST_DEVICE names an empty block device this test may
 * destroy (the lab: a loop device, with dm_mod loaded); skipped otherwise. */
START_TEST(test_lvm_real)
{
    const HyveStorageBackend *be = &hyve_storage_backend_logical;
    const char *dev = g_getenv("HYVE_LVM_TEST_DEVICE");
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    g_autoptr(HyveVolDef) vol = NULL;
    g_autoptr(GPtrArray) vols = NULL;
    g_autofree char *xml = NULL;
    guint64 total;

    if (!dev || !*dev) {
        fprintf(stderr, "test_lvm_real: skipped (HYVE_LVM_TEST_DEVICE not set)\n");
        return;
    }
    xml = g_strdup_printf("<pool type='logical'><name>hyvetestvg</name><source>"
                          "<device path='%s'/></source></pool>", dev);
    def = hyve_pool_def_parse(xml, FALSE, NULL, &err);
    ck_assert_msg(def && be->check_def(def, &err), "pool: %s", err ? err->message : "");
    ck_assert_msg(be->build(def, HYVE_POOL_BUILD_NO_OVERWRITE, &err), "build: %s",
                  err ? err->message : "");
    ck_assert_msg(!be->build(def, HYVE_POOL_BUILD_NO_OVERWRITE, &err), "built twice");
    fprintf(stderr, "real: second build: %s\n", err->message);
    ck_assert_int_eq(err->code, HYVE_ERR_STORAGE_POOL_BUILT);
    g_clear_error(&err);
    ck_assert_msg(be->start(def, &err), "start: %s", err ? err->message : "");
    vols = be->refresh(def, &err);
    ck_assert_msg(vols && vols->len == 0, "refresh: %s", err ? err->message : "");
    total = def->capacity;
    fprintf(stderr, "real: VG capacity %" G_GUINT64_FORMAT " available %" G_GUINT64_FORMAT "\n",
            def->capacity, def->available);
    ck_assert_msg(total > 128 * 1024 * 1024 && def->available == total && def->allocation == 0,
                  "fresh VG sizes");
    g_clear_pointer(&vols, g_ptr_array_unref);

    vol = hyve_vol_def_parse("<volume><name>lv0</name><capacity unit='MB'>5</capacity>"
                             "</volume>", HYVE_POOL_TYPE_LOGICAL, TRUE, NULL, &err);
    ck_assert_msg(!vol, "schema accepted a volume without target");
    g_clear_error(&err);
    vol = hyve_vol_def_parse("<volume><name>lv0</name><capacity unit='MB'>5</capacity>"
                             "</volume>", HYVE_POOL_TYPE_LOGICAL, FALSE, NULL, &err);
    ck_assert_msg(vol && be->vol_prepare(def, vol, &err) && be->vol_create(def, vol, &err),
                  "create: %s", err ? err->message : "");
    fprintf(stderr, "real: lv0 capacity %" G_GUINT64_FORMAT " path %s mode %o\n",
            vol->capacity, vol->target_path, vol->perms.mode);
    ck_assert_msg(vol->capacity == 8 * 1024 * 1024, "5 MB rounded up to two 4 MiB extents");
    ck_assert_msg(g_file_test("/dev/hyvetestvg/lv0", G_FILE_TEST_EXISTS), "no device node");
    vols = be->refresh(def, &err);
    ck_assert_msg(vols && vols->len == 1, "refresh after create: %s", err ? err->message : "");
    ck_assert_msg(def->allocation == 8 * 1024 * 1024 && def->available == total - def->allocation,
                  "pool sizes after create");
    g_clear_pointer(&vols, g_ptr_array_unref);
    ck_assert_msg(!be->vol_create(def, vol, &err), "created lv0 twice");
    fprintf(stderr, "real: second create: %s\n", err->message);
    g_clear_error(&err);
    ck_assert_msg(be->vol_resize(def, vol, 16 * 1024 * 1024, 0, &err), "grow: %s",
                  err ? err->message : "");
    ck_assert_msg(vol->capacity == 16 * 1024 * 1024, "grow: capacity");
    ck_assert_msg(be->vol_resize(def, vol, 4 * 1024 * 1024, HYVE_VOL_RESIZE_SHRINK, &err),
                  "shrink: %s", err ? err->message : "");
    ck_assert_msg(vol->capacity == 4 * 1024 * 1024, "shrink: capacity");
    vol->capacity = total * 2;
    g_free(vol->name);
    vol->name = g_strdup("toobig");
    ck_assert_msg(be->vol_prepare(def, vol, &err) && !be->vol_create(def, vol, &err),
                  "created an LV larger than the VG");
    fprintf(stderr, "real: too big: %s\n", err->message);
    g_clear_error(&err);
    vols = be->refresh(def, &err);
    ck_assert_msg(vols && vols->len == 1, "failed create left something behind");
    g_clear_pointer(&vols, g_ptr_array_unref);
    g_free(vol->name);
    vol->name = g_strdup("lv0");
    ck_assert_msg(be->vol_delete(def, vol, 0, &err), "delete: %s", err ? err->message : "");
    ck_assert_msg(!g_file_test("/dev/hyvetestvg/lv0", G_FILE_TEST_EXISTS), "node left");
    ck_assert_msg(be->stop(def, &err), "stop: %s", err ? err->message : "");
    ck_assert_msg(be->delete_pool(def, 0, &err), "delete pool: %s", err ? err->message : "");
    ck_assert_msg(!be->start(def, &err), "started a deleted VG");
    fprintf(stderr, "real: start after delete: %s\n", err->message);
    g_clear_error(&err);
    /* the device is empty again: a plain build works */
    ck_assert_msg(be->build(def, 0, &err) && be->delete_pool(def, 0, &err),
                  "rebuild: %s", err ? err->message : "");
    fprintf(stderr, "real: all LVM steps passed on %s\n", dev);
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
    tcase_add_loop_test(tc, test_failure, 0, G_N_ELEMENTS(failures));
    tcase_add_loop_test(tc, test_size, 0, G_N_ELEMENTS(sizes));
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    tcase_add_test(lvm, test_lvm_parse_vgs);
    tcase_add_test(lvm, test_lvm_parse_lvs);
    tcase_add_loop_test(lvm, test_lvm_names, 0, G_N_ELEMENTS(lvm_names));
    tcase_add_test(lvm, test_lvm_check_def);
    suite_add_tcase(s, lvm);
    tcase_set_timeout(lvm, 60);
    tcase_set_timeout(fake, 60);
    tcase_add_checked_fixture(fake, fake_setup, fake_teardown);
    tcase_add_test(fake, test_lvm_build);
    tcase_add_test(fake, test_lvm_pool_ops);
    tcase_add_test(fake, test_lvm_vol_ops);
    suite_add_tcase(s, fake);
    tcase_set_timeout(real, 120);
    tcase_add_test(real, test_lvm_real);
    suite_add_tcase(s, real);
    return test_suite_run(s);
}
