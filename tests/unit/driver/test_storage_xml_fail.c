/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_xml_fail.c (storage-xml, with test_storage_xml.c): pool and
 * volume definitions hyve refuses, each with the exact error code, domain
 * and message (one data-driven table, run in the "xml" test case).
 */

#include "test_storage_xml.h"

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

void
storage_xml_add_failure_test(TCase *tc)
{
    tcase_add_loop_test(tc, test_failure, 0, G_N_ELEMENTS(failures));
}
