/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool_driver.c (storage-pool, with test_storage_pool.c): the
 * driver's side of storage: the storage made by hyve_driver_new, volume
 * disks of a domain resolved to their paths when it starts, and the
 * vol-user function that keeps a volume a running domain uses from being
 * deleted.
 */

#include "test_storage_pool.h"

/* ---- the driver's side ---------------------------------------------------- */

#define DOMAIN_XML \
    "<domain type='bhyve'><name>vm1</name><memory unit='MiB'>64</memory>" \
    "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os><devices>" \
    "<disk type='volume' device='disk'><source pool='%s' volume='%s'/>" \
    "<target dev='vda'/></disk></devices></domain>"

typedef struct {
    const char *pool, *volume;
    int code;
    const char *message;
} VolDiskCase;

static const VolDiskCase vol_disk_cases[] = {
    { "nope", "v.img", HYVE_ERR_NO_STORAGE_POOL,
      "Storage pool not found: no storage pool with matching name 'nope'" },
    { "off", "v.img", HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: storage pool 'off' containing volume 'v.img' is "
      "not active" },
    { "on", "missing.img", HYVE_ERR_NO_STORAGE_VOL,
      "Storage volume not found: no storage vol with matching name 'missing.img'" },
};

/* hyve_driver_new makes the storage (default pool included); a domain
 * whose volume disk does not resolve fails to start with the storage
 * error, and stays shut off. */
START_TEST(test_driver_volume_disk)
{
    const VolDiskCase *c = &vol_disk_cases[_i];
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) def_pool = NULL, off = NULL, on = NULL;
    g_autofree char *xml = NULL, *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *off_xml = pool_xml("off", NULL, "off");
    HyveStorage *dst;
    HyveDriver *drv;

    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.log_dir = g_build_filename(tmp, "drv", "log", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup("/bin/false");
    cfg.uri = g_strdup("bhyve:///session");
    cfg.default_pool_path = g_build_filename(tmp, "drv", "images", NULL);
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    ck_assert(dst);
    def_pool = hyve_storage_pool_lookup_by_name(dst, "default", NULL);
    ck_assert(def_pool && hyve_pool_obj_is_active(def_pool));

    off = hyve_storage_pool_define_xml(dst, off_xml, 0, NULL);
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(off && on);
    xml = g_strdup_printf(DOMAIN_XML, c->pool, c->volume);
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");
    ck_assert(!hyve_driver_domain_start(drv, dom, 0, &err));
    check_error(c->pool, err, c->code, c->message);
    ck_assert(!hyve_domain_obj_is_active(dom));

    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&def_pool, hyve_pool_obj_unref);
    g_clear_pointer(&off, hyve_pool_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

/* A volume disk that resolves reaches the runner configuration as the
 * volume's path (the "runner" here is a script that keeps its
 * configuration and fails). */
START_TEST(test_driver_volume_disk_resolved)
{
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *seen = g_build_filename(tmp, "seen.conf", NULL);
    g_autofree char *script = g_build_filename(tmp, "fake-runner", NULL);
    g_autofree char *body = g_strdup_printf("#!/bin/sh\ncp \"$2\" '%s'\nexit 64\n", seen);
    g_autofree char *xml = g_strdup_printf(DOMAIN_XML, "on", "v.img");
    g_autofree char *conf = NULL, *want = NULL, *dumped = NULL;
    HyveVolIdent vol = { 0 };
    HyveStorage *dst;
    HyveDriver *drv;

    ck_assert(g_file_set_contents(script, body, -1, NULL) && chmod(script, 0755) == 0);
    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.log_dir = g_build_filename(tmp, "drv", "log", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.runner_path = g_strdup(script);
    cfg.uri = g_strdup("bhyve:///session");
    g_mkdir_with_parents(cfg.log_dir, 0700);
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    ck_assert(!hyve_storage_pool_lookup_by_name(dst, "default", NULL));    /* no path given */
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(on);
    ck_assert_msg(hyve_storage_vol_create_xml(dst, on, "<volume><name>v.img</name>"
                                              "<capacity>1048576</capacity></volume>", 0,
                                              &vol, &err), "vol create: %s",
                  err ? err->message : "");
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");
    ck_assert(!hyve_driver_domain_start(drv, dom, 0, &err));
    ck_assert_msg(err->domain != hyve_error_quark(HYVE_FROM_STORAGE),
                  "start stopped at the volume: %s", err->message);
    ck_assert_msg(g_file_get_contents(seen, &conf, NULL, NULL), "the runner never ran: %s",
                  err->message);
    want = g_strdup_printf("=%s\n", vol.key);
    ck_assert_msg(strstr(conf, want) && strstr(conf, "virtio-blk"),
                  "configuration without %s:\n%s", vol.key, conf);
    /* the definition keeps the volume form */
    dumped = hyve_domain_obj_get_xml(dom, 0, NULL);
    ck_assert_msg(strstr(dumped, "<source pool='on' volume='v.img'/>"), "%s", dumped);

    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

/* The driver's vol-user function: a running domain (a stand-in run on a
 * real domain object) whose volume disk carries the resolved path in its
 * live definition (@path_known: set at start) or not (reattached after a
 * daemon restart: resolved again) blocks the volume's deletion; a domain
 * that is not running does not. */
START_TEST(test_driver_vol_user)
{
    gboolean path_known = _i == 1;
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    g_autofree char *xml = g_strdup_printf(DOMAIN_XML, "on", "v.img");
    HyveDomainRun *fake_run = g_new0(HyveDomainRun, 1);
    HyveVolIdent vol = { 0 };
    HyveDiskDef *disk;
    HyveStorage *dst;
    HyveDriver *drv;

    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.uri = g_strdup("bhyve:///session");
    drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, NULL);
    ck_assert(on);
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>v.img</name><capacity>"
                                          "4096</capacity></volume>", 0, &vol, NULL));
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>free.img</name><capacity>"
                                          "4096</capacity></volume>", 0, NULL, NULL));
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "define: %s", err ? err->message : "");

    /* defined, not running: not a user */
    ck_assert(hyve_storage_vol_create_xml(dst, on, "<volume><name>x.img</name><capacity>"
                                          "4096</capacity></volume>", 0, NULL, NULL));
    g_mutex_lock(&dom->lock);
    disk = g_ptr_array_index(dom->def->disks, 0);
    g_free(disk->volume);
    disk->volume = g_strdup("x.img");
    g_mutex_unlock(&dom->lock);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "x.img", 0, &err), "delete x.img: %s",
                  err ? err->message : "");

    g_mutex_lock(&dom->lock);
    disk = g_ptr_array_index(dom->def->disks, 0);
    g_free(disk->volume);
    disk->volume = g_strdup("v.img");
    if (path_known)
        disk->path = g_strdup(vol.key);
    dom->id = 7;
    dom->state = HYVE_DOMAIN_STATE_RUNNING;
    dom->run = fake_run;
    g_mutex_unlock(&dom->lock);

    ck_assert(!hyve_storage_vol_delete(dst, on, "v.img", 0, &err));
    check_error("delete of a volume in use", err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage volume 'v.img' is in use by "
                "domain 'vm1'");
    g_clear_error(&err);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "free.img", 0, &err), "free.img: %s",
                  err ? err->message : "");

    g_mutex_lock(&dom->lock);
    dom->run = NULL;
    dom->id = -1;
    dom->state = HYVE_DOMAIN_STATE_SHUTOFF;
    g_mutex_unlock(&dom->lock);
    g_free(fake_run);
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "v.img", 0, &err), "after stop: %s",
                  err ? err->message : "");

    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

void
storage_pool_add_driver_tests(TCase *tc)
{
    tcase_add_loop_test(tc, test_driver_volume_disk, 0, G_N_ELEMENTS(vol_disk_cases));
    tcase_add_test(tc, test_driver_volume_disk_resolved);
    tcase_add_loop_test(tc, test_driver_vol_user, 0, 2);
}
