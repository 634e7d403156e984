/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_pool_driver.c (storage-pool, with test_storage_pool.c): the
 * driver's side of storage: the storage made by hyve_driver_new, volume
 * disks of a domain resolved to their paths when it starts, and the
 * vol-user function that keeps a volume a running or starting domain uses
 * (by any path to its file) from being deleted or shrunk, and removing an
 * event sink while a flusher is inside it.
 */

#include "test_storage_pool.h"
#include "hyve_driver_priv.h"

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

/* A driver whose runner is @runner and whose pool "on" (built, started)
 * has the volume v.img of 1 MiB (its path in @vol). */
static HyveDriver *
driver_with_volume(HyveDriverConfig *cfg, const char *runner, HyvePoolObj **on,
                   HyveVolIdent *vol)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    HyveStorage *dst;
    HyveDriver *drv;

    cfg->config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg->state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg->log_dir = g_build_filename(tmp, "drv", "log", NULL);
    cfg->schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg->runner_path = g_strdup(runner);
    cfg->uri = g_strdup("bhyve:///session");
    g_mkdir_with_parents(cfg->log_dir, 0700);
    drv = hyve_driver_new(cfg, &err);
    ck_assert_msg(drv, "hyve_driver_new: %s", err ? err->message : "");
    dst = hyve_driver_get_storage(drv);
    *on = hyve_storage_pool_create_xml(dst, on_xml, HYVE_POOL_CREATE_WITH_BUILD, &err);
    ck_assert_msg(*on, "pool: %s", err ? err->message : "");
    ck_assert_msg(hyve_storage_vol_create_xml(dst, *on, "<volume><name>v.img</name>"
                                              "<capacity>1048576</capacity><allocation>0"
                                              "</allocation></volume>", 0, vol, &err), "vol create: %s",
                  err ? err->message : "");
    return drv;
}

typedef struct {
    HyveDriver *drv;
    HyveDomainObj *dom;
    GError *err;
    gboolean ok;
} StartJob;

static gpointer
start_thread(gpointer data)
{
    StartJob *job = data;

    job->ok = hyve_driver_domain_start(job->drv, job->dom, 0, &job->err);
    return NULL;
}

static gboolean
wait_for_file(const char *path, guint ms)
{
    for (guint i = 0; i < ms / 10; i++) {
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return TRUE;
        g_usleep(10 * 1000);
    }
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* A domain counts as the user of its volume while it starts, not only once
 * it runs: the runner here signals that it was spawned, then waits (the
 * window between resolving the volume and publishing the run); delete and
 * shrink of the volume are refused meanwhile. Once the start failed (the
 * runner exits 64) the volume is free again. Case 0: a volume disk; case
 * 1: a file disk on the volume's path. */
START_TEST(test_driver_vol_user_starting)
{
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *mark = g_build_filename(tmp, "spawned", NULL);
    g_autofree char *go = g_build_filename(tmp, "go", NULL);
    g_autofree char *script = g_build_filename(tmp, "waiting-runner", NULL);
    g_autofree char *body = g_strdup_printf("#!/bin/sh\n: > '%s'\nn=0\n"
                                            "while [ ! -e '%s' ] && [ $n -lt 2000 ]; do "
                                            "sleep 0.01; n=$((n+1)); done\nexit 64\n",
                                            mark, go);
    g_autofree char *xml = NULL;
    const char *what = _i == 0 ? "volume disk" : "file disk";
    HyveVolIdent vol = { 0 };
    StartJob job = { 0 };
    GThread *thread;
    HyveStorage *dst;

    ck_assert(g_file_set_contents(script, body, -1, NULL) && chmod(script, 0755) == 0);
    job.drv = driver_with_volume(&cfg, script, &on, &vol);
    dst = hyve_driver_get_storage(job.drv);
    xml = _i == 0 ? g_strdup_printf(DOMAIN_XML, "on", "v.img") :
        g_strdup_printf("<domain type='bhyve'><name>vm1</name><memory unit='MiB'>64</memory>"
                        "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel>"
                        "</os><devices><disk type='file' device='disk'><source file='%s'/>"
                        "<target dev='vda'/></disk></devices></domain>", vol.key);
    job.dom = hyve_driver_define_xml(job.drv, xml, 0, &err);
    ck_assert_msg(job.dom, "%s: define: %s", what, err ? err->message : "");

    thread = g_thread_new("start", start_thread, &job);
    ck_assert_msg(wait_for_file(mark, 20000), "%s: the runner never ran", what);
    ck_assert_msg(!hyve_storage_vol_delete(dst, on, "v.img", 0, &err),
                  "%s: volume deleted while the domain starts on it", what);
    check_error(what, err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage volume 'v.img' is in use by "
                "domain 'vm1'");
    g_clear_error(&err);
    ck_assert_msg(!hyve_storage_vol_resize(dst, on, "v.img", 4096, HYVE_VOL_RESIZE_SHRINK,
                                           &err),
                  "%s: volume shrunk while the domain starts on it", what);
    check_error(what, err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: storage volume 'v.img' is in use by "
                "domain 'vm1'");
    g_clear_error(&err);
    ck_assert_msg(g_file_test(vol.key, G_FILE_TEST_EXISTS), "%s: %s is gone", what, vol.key);

    ck_assert(g_file_set_contents(go, "", 0, NULL));
    g_thread_join(thread);
    ck_assert_msg(!job.ok, "%s: the start succeeded", what);
    ck_assert_msg(job.err && strstr(job.err->message, "exited while starting"),
                  "%s: start: %s", what, job.err ? job.err->message : "(no error)");
    ck_assert(!hyve_domain_obj_is_active(job.dom));
    /* the start failed: not a user any more */
    ck_assert_msg(hyve_storage_vol_delete(dst, on, "v.img", 0, &err), "%s: after the failed "
                  "start: %s", what, err ? err->message : "");

    g_clear_error(&job.err);
    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&job.dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(job.drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

typedef struct {
    const char *what;
    const char *tail;           /* after the pool's directory */
    gboolean in_use;
} FileDiskCase;

static const FileDiskCase file_disk_cases[] = {
    { "same path", "/v.img", TRUE },
    { "double slash", "//v.img", TRUE },
    { "dot component", "/./v.img", TRUE },
    { "symlinked directory", "-link/v.img", TRUE },
    { "hard link", "-other/hard.img", TRUE },
    { "another file of the same name", "-other/v.img", FALSE },
    { "a missing file", "-other/missing.img", FALSE },
};

/* A running domain whose <disk type='file'> names the volume's file by
 * another path blocks its deletion: files are compared by inode. */
START_TEST(test_driver_vol_user_file_disk)
{
    const FileDiskCase *c = &file_disk_cases[_i];
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) dom = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *dir = pool_path("on");
    g_autofree char *linked = g_strdup_printf("%s-link", dir);
    g_autofree char *other = g_strdup_printf("%s-other", dir);
    g_autofree char *other_v = g_build_filename(other, "v.img", NULL);
    g_autofree char *hard = g_build_filename(other, "hard.img", NULL);
    g_autofree char *source = NULL, *xml = NULL;
    HyveDomainRun *fake_run = g_new0(HyveDomainRun, 1);
    HyveVolIdent vol = { 0 };
    gboolean deleted;
    HyveStorage *dst;
    HyveDriver *drv;

    source = g_strconcat(dir, c->tail, NULL);
    xml = g_strdup_printf("<domain type='bhyve'><name>vm1</name><memory unit='MiB'>64</memory>"
                          "<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel>"
                          "</os><devices><disk type='file' device='disk'><source file='%s'/>"
                          "<target dev='vda'/></disk></devices></domain>", source);
    drv = driver_with_volume(&cfg, "/bin/false", &on, &vol);
    dst = hyve_driver_get_storage(drv);
    ck_assert_msg(symlink(dir, linked) == 0, "%s: symlink: %s", c->what, g_strerror(errno));
    ck_assert(g_mkdir_with_parents(other, 0700) == 0);
    ck_assert(g_file_set_contents(other_v, "x", 1, NULL));
    ck_assert_msg(link(vol.key, hard) == 0, "%s: link: %s", c->what, g_strerror(errno));
    dom = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(dom, "%s: define: %s", c->what, err ? err->message : "");
    g_mutex_lock(&dom->lock);
    dom->id = 7;
    dom->state = HYVE_DOMAIN_STATE_RUNNING;
    dom->run = fake_run;
    g_mutex_unlock(&dom->lock);

    deleted = hyve_storage_vol_delete(dst, on, "v.img", 0, &err);
    if (c->in_use) {
        ck_assert_msg(!deleted, "%s: deleted while a domain runs on %s", c->what, source);
        check_error(c->what, err, HYVE_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: storage volume 'v.img' is in use "
                    "by domain 'vm1'");
    } else {
        ck_assert_msg(deleted, "%s: %s", c->what, err ? err->message : "");
    }

    g_mutex_lock(&dom->lock);
    dom->run = NULL;
    dom->id = -1;
    dom->state = HYVE_DOMAIN_STATE_SHUTOFF;
    g_mutex_unlock(&dom->lock);
    g_free(fake_run);
    hyve_vol_ident_clear(&vol);
    g_clear_pointer(&dom, hyve_domain_obj_unref);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(drv);
    hyve_driver_config_clear(&cfg);
}
END_TEST

/* ---- event sinks ----------------------------------------------------------- */

/* A sink that, once called, waits until the test releases it. */
typedef struct {
    GMutex lock;
    GCond cond;
    guint calls;
    gboolean released;
    gint setter_returned;       /* atomic */
    gboolean domain;            /* case 1: the domain side; 0: storage */
    HyveDriver *drv;
    HyvePoolDef *pool_def;
} SinkGate;

static void
gate_enter(SinkGate *g)
{
    g_mutex_lock(&g->lock);
    g->calls++;
    g_cond_broadcast(&g->cond);
    while (!g->released)
        g_cond_wait(&g->cond, &g->lock);
    g_mutex_unlock(&g->lock);
}

static void
gate_pool_sink(const HyvePoolEvent *event, gpointer data)
{
    (void)event;
    gate_enter(data);
}

static void
gate_domain_sink(const HyveDomainEvent *event, gpointer data)
{
    (void)event;
    gate_enter(data);
}

static void
gate_queue_and_flush(SinkGate *g)
{
    static const guint8 uuid[HYVE_UUID_LEN] = { 1 };

    if (g->domain) {
        hyve_driver_queue_event(g->drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, "vm", uuid, -1,
                                HYVE_DOMAIN_EVENT_DEFINED, 0, NULL);
        hyve_driver_flush_events(g->drv);
    } else {
        hyve_storage_queue_event(hyve_driver_get_storage(g->drv), HYVE_POOL_EVENT_ID_REFRESH,
                                 g->pool_def, 0);
        hyve_storage_flush_events(hyve_driver_get_storage(g->drv));
    }
}

static gpointer
gate_flusher(gpointer data)
{
    gate_queue_and_flush(data);
    return NULL;
}

static gpointer
gate_setter(gpointer data)
{
    SinkGate *g = data;

    if (g->domain)
        hyve_driver_set_event_sink(g->drv, NULL, NULL);
    else
        hyve_storage_set_event_sink(hyve_driver_get_storage(g->drv), NULL, NULL);
    g_atomic_int_set(&g->setter_returned, 1);
    return NULL;
}

/* Removing a sink (the daemon does before it frees the server the sink's
 * data points to) waits for a flusher that is inside the old sink, and
 * the old sink is not called afterwards. Case 0: pool events (a transfer
 * thread's REFRESH, say); case 1: domain events. */
START_TEST(test_sink_removal_waits)
{
    const char *what = _i ? "domain sink" : "pool sink";
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyvePoolObj) on = NULL;
    g_autofree char *on_xml = pool_xml("on", NULL, "on");
    SinkGate g = { .domain = _i == 1 };
    GThread *flusher, *setter;
    gint64 deadline;

    g_mutex_init(&g.lock);
    g_cond_init(&g.cond);
    cfg.config_dir = g_build_filename(tmp, "drv", "etc", NULL);
    cfg.state_dir = g_build_filename(tmp, "drv", "run", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.uri = g_strdup("bhyve:///session");
    g.drv = hyve_driver_new(&cfg, &err);
    ck_assert_msg(g.drv, "hyve_driver_new: %s", err ? err->message : "");
    on = hyve_storage_pool_create_xml(hyve_driver_get_storage(g.drv), on_xml,
                                      HYVE_POOL_CREATE_WITH_BUILD, &err);
    ck_assert_msg(on, "pool: %s", err ? err->message : "");
    g.pool_def = hyve_pool_def_copy(on->def);
    if (g.domain)
        hyve_driver_set_event_sink(g.drv, gate_domain_sink, &g);
    else
        hyve_storage_set_event_sink(hyve_driver_get_storage(g.drv), gate_pool_sink, &g);

    flusher = g_thread_new("flusher", gate_flusher, &g);
    deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    g_mutex_lock(&g.lock);
    while (g.calls == 0 && g_cond_wait_until(&g.cond, &g.lock, deadline))
        ;
    g_mutex_unlock(&g.lock);
    ck_assert_msg(g.calls == 1, "%s: never called", what);

    setter = g_thread_new("setter", gate_setter, &g);
    g_usleep(300 * 1000);
    ck_assert_msg(!g_atomic_int_get(&g.setter_returned),
                  "%s: removed while a flusher is still inside it", what);
    g_mutex_lock(&g.lock);
    g.released = TRUE;
    g_cond_broadcast(&g.cond);
    g_mutex_unlock(&g.lock);
    g_thread_join(flusher);
    g_thread_join(setter);
    ck_assert(g_atomic_int_get(&g.setter_returned));
    gate_queue_and_flush(&g);
    ck_assert_msg(g.calls == 1, "%s: called %u times, after its removal too", what, g.calls);

    hyve_pool_def_free(g.pool_def);
    g_clear_pointer(&on, hyve_pool_obj_unref);
    hyve_driver_free(g.drv);
    hyve_driver_config_clear(&cfg);
    g_cond_clear(&g.cond);
    g_mutex_clear(&g.lock);
}
END_TEST

void
storage_pool_add_driver_tests(TCase *tc)
{
    tcase_add_loop_test(tc, test_driver_volume_disk, 0, G_N_ELEMENTS(vol_disk_cases));
    tcase_add_test(tc, test_driver_volume_disk_resolved);
    tcase_add_loop_test(tc, test_driver_vol_user, 0, 2);
    tcase_add_loop_test(tc, test_driver_vol_user_starting, 0, 2);
    tcase_add_loop_test(tc, test_driver_vol_user_file_disk, 0, G_N_ELEMENTS(file_disk_cases));
    tcase_add_loop_test(tc, test_sink_removal_waits, 0, 2);
}
