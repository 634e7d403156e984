/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_lvm.c (storage-xml, with test_storage_xml.c): the pure parts
 * of the LVM backend (vgs/lvs parsers, LVM's name rule, pool definition
 * checks) and, only where HYVE_LVM_TEST_DEVICE names a disposable block
 * device (the lab), the whole cycle with the real LVM tools. The backend's
 * commands against fake tools are in test_storage_lvm_fake.c.
 */

#include "test_storage_xml.h"

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

void
storage_lvm_add_parser_tests(TCase *tc)
{
    tcase_add_test(tc, test_lvm_parse_vgs);
    tcase_add_test(tc, test_lvm_parse_lvs);
    tcase_add_loop_test(tc, test_lvm_names, 0, G_N_ELEMENTS(lvm_names));
    tcase_add_test(tc, test_lvm_check_def);
}

void
storage_lvm_add_real_test(TCase *tc)
{
    tcase_add_test(tc, test_lvm_real);
}
