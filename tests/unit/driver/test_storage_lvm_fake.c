/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_lvm_fake.c (storage-xml, with test_storage_xml.c): every
 * operation of the logical backend run against fake LVM tools (scripts
 * first in PATH): the exact commands it runs, and failing commands'
 * stderr in its errors (the "lvm-commands" test case).
 */

#include "test_storage_xml.h"

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

void
storage_lvm_add_fake_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
    tcase_add_test(tc, test_lvm_build);
    tcase_add_test(tc, test_lvm_pool_ops);
    tcase_add_test(tc, test_lvm_vol_ops);
}
