/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_list.c: the driver's domain objects through hyve_driver.h,
 * on a real config directory in a temp dir: define / redefine / undefine,
 * persistence and reload, atomic writes, autostart links, uniqueness
 * rules, lookups, list filters, metadata, events, concurrent defines.
 */
#include "test_driver_common.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture ----------------------------------------------------------- */

typedef struct {
    int event;
    int detail;
    int id;
    char *name;
    char *nsuri;
} SeenEvent;

static char *tmpdir;
static char *config_dir;
static HyveDriver *drv;
static GMutex events_lock;
static GPtrArray *events;       /* SeenEvent*, guarded by events_lock */

static void
seen_event_free(SeenEvent *e)
{
    g_free(e->name);
    g_free(e->nsuri);
    g_free(e);
}

static void
sink(const HyveDomainEvent *ev, gpointer data)
{
    SeenEvent *e = g_new0(SeenEvent, 1);

    e->id = ev->id;
    e->event = ev->event;
    e->detail = ev->detail;
    e->name = g_strdup(ev->name);
    e->nsuri = g_strdup(ev->nsuri);
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, e);
    g_mutex_unlock(&events_lock);
}

static HyveDriver *
open_driver(void)
{
    HyveDriverConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    HyveDriver *d;

    cfg.privileged = FALSE;
    cfg.config_dir = g_strdup(config_dir);
    cfg.state_dir = g_build_filename(tmpdir, "run", "bhyve", NULL);
    cfg.schema_dir = g_strdup(HYVE_LIBVIRT_SCHEMA_DIR);
    cfg.uri = g_strdup("bhyve:///session");
    d = hyve_driver_new(&cfg, &err);
    hyve_driver_config_clear(&cfg);
    ck_assert_msg(d, "hyve_driver_new: %s", err ? err->message : "");
    hyve_driver_set_event_sink(d, sink, NULL);
    return d;
}

static void
rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *e;

    if (dir) {
        while ((e = g_dir_read_name(dir))) {
            g_autofree char *p = g_build_filename(path, e, NULL);
            struct stat st;

            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                chmod(p, 0700);
                rm_rf(p);
            } else {
                unlink(p);
            }
        }
    }
    rmdir(path);
}

static void
setup(void)
{
    tmpdir = g_dir_make_tmp("hyve-driver-XXXXXX", NULL);
    ck_assert(tmpdir);
    config_dir = g_build_filename(tmpdir, "etc", "bhyve", NULL);
    events = g_ptr_array_new_with_free_func((GDestroyNotify)seen_event_free);
    drv = open_driver();
}

static void
teardown(void)
{
    hyve_driver_free(drv);
    drv = NULL;
    rm_rf(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    g_clear_pointer(&config_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

static void
reopen(void)
{
    hyve_driver_free(drv);
    drv = open_driver();
}

static char *
dom_xml(const char *name, const char *uuid, guint mem_kib)
{
    return g_strdup_printf(
        "<domain type='bhyve'><name>%s</name>%s%s%s<memory>%u</memory>"
        "<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>",
        name, uuid ? "<uuid>" : "", uuid ? uuid : "", uuid ? "</uuid>" : "", mem_kib);
}

static HyveDomainObj *
define_ok(const char *name, const char *uuid, guint mem)
{
    g_autofree char *xml = dom_xml(name, uuid, mem);
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj = hyve_driver_define_xml(drv, xml, 0, &err);

    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "");
    return obj;
}

static void
assert_error(const GError *err, const char *ctx, const char *want)
{
    g_autofree char *got = NULL;

    ck_assert_msg(err, "%s: expected error '%s', got success", ctx, want);
    got = test_error_line(err);
    ck_assert_msg(g_str_equal(got, want), "%s:\n  got:  %s\n  want: %s", ctx, got, want);
}

static guint
count_events(int event, int detail)
{
    guint n = 0;

    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++) {
        SeenEvent *e = g_ptr_array_index(events, i);

        if (e->id == HYVE_DOMAIN_EVENT_ID_LIFECYCLE && e->event == event && e->detail == detail)
            n++;
    }
    g_mutex_unlock(&events_lock);
    return n;
}

#define UUID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define UUID_B "bbbbbbbb-0000-4000-8000-000000000002"

/* ---- persistence ------------------------------------------------------- */

START_TEST(test_define_reload_undefine)
{
    g_autoptr(HyveDomainObj) obj = define_ok("alpha", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "alpha.xml", NULL);
    g_autofree char *xml1 = NULL, *xml2 = NULL, *file = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) again = NULL, upd = NULL, reload = NULL;
    HyveDomainInfo info;
    struct stat st;

    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 0) == 1, "one DEFINED/ADDED event");
    ck_assert_msg(stat(config_dir, &st) == 0 && (st.st_mode & 0777) == 0700,
                  "config dir mode %o", st.st_mode & 0777);
    ck_assert_msg(g_file_test(path, G_FILE_TEST_IS_REGULAR), "config file %s written", path);
    file = test_read_file(path);
    ck_assert_msg(strstr(file, "<name>alpha</name>") && strstr(file, UUID_A), "file content");
    xml1 = hyve_domain_obj_get_xml(obj, 0, &err);
    ck_assert_msg(xml1, "get_xml: %s", err ? err->message : "");
    ck_assert_msg(hyve_domain_obj_is_persistent(obj) && !hyve_domain_obj_is_active(obj),
                  "persistent and inactive");
    hyve_domain_obj_get_info(obj, &info);
    ck_assert_msg(info.state == HYVE_DOMAIN_STATE_SHUTOFF && info.max_mem_kib == 65536 &&
                  info.nr_vcpus == 1, "info state %d mem %" G_GUINT64_FORMAT, info.state,
                  info.max_mem_kib);

    /* reload from disk: same XML */
    reopen();
    again = hyve_driver_lookup_by_name(drv, "alpha", &err);
    ck_assert_msg(again, "reloaded lookup: %s", err ? err->message : "");
    xml2 = hyve_domain_obj_get_xml(again, HYVE_DOMAIN_XML_INACTIVE, &err);
    ck_assert_msg(g_str_equal(xml1, xml2), "reloaded XML differs:\n%s\n---\n%s", xml1, xml2);

    /* redefine same name + uuid: update */
    upd = define_ok("alpha", UUID_A, 131072);
    ck_assert_msg(upd == again, "redefine returns the same object");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 1) == 1, "one DEFINED/UPDATED event");
    g_free(file);
    file = test_read_file(path);
    ck_assert_msg(strstr(file, "<memory unit='KiB'>131072</memory>"), "file updated:\n%s", file);
    reopen();
    reload = hyve_driver_lookup_by_name(drv, "alpha", NULL);
    ck_assert(reload);
    hyve_domain_obj_get_info(reload, &info);
    ck_assert_msg(info.max_mem_kib == 131072, "update survives reload");

    /* undefine */
    ck_assert_msg(hyve_driver_undefine(drv, reload, 0, &err), "undefine: %s",
                  err ? err->message : "");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_UNDEFINED, 0) == 1, "UNDEFINED/REMOVED event");
    ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "config file removed");
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "alpha", &err), "gone after undefine");
    assert_error(err, "lookup after undefine",
                 "42 57 Domain not found: no domain with matching name 'alpha'");
    g_clear_error(&err);
    ck_assert_msg(!hyve_driver_undefine(drv, reload, 0, &err), "second undefine fails");
    assert_error(err, "undefine stale object",
                 "42 57 Domain not found: no domain with matching uuid '" UUID_A "' (alpha)");
    reopen();
    ck_assert_msg(hyve_driver_num_domains(drv, FALSE) == 0, "nothing after reload");
}
END_TEST

START_TEST(test_autostart)
{
    g_autoptr(HyveDomainObj) obj = define_ok("auto", UUID_A, 65536);
    g_autofree char *link = g_build_filename(config_dir, "autostart", "auto.xml", NULL);
    g_autofree char *target = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) re = NULL;

    ck_assert(!hyve_domain_obj_get_autostart(obj));
    ck_assert_msg(hyve_driver_set_autostart(drv, obj, TRUE, &err), "autostart on: %s",
                  err ? err->message : "");
    target = g_file_read_link(link, NULL);
    ck_assert_msg(target && g_str_equal(target, "../auto.xml"), "link target %s",
                  target ? target : "(none)");
    ck_assert_msg(g_file_test(link, G_FILE_TEST_IS_REGULAR), "link resolves to the config");
    reopen();
    re = hyve_driver_lookup_by_name(drv, "auto", NULL);
    ck_assert_msg(re && hyve_domain_obj_get_autostart(re), "autostart survives reload");
    ck_assert(hyve_driver_set_autostart(drv, re, FALSE, NULL));
    ck_assert_msg(!g_file_test(link, G_FILE_TEST_EXISTS), "link removed on autostart off");
    ck_assert(hyve_driver_set_autostart(drv, re, TRUE, NULL));
    ck_assert(hyve_driver_undefine(drv, re, 0, NULL));
    ck_assert_msg(!g_file_test(link, G_FILE_TEST_EXISTS) &&
                  !g_file_test(link, G_FILE_TEST_IS_SYMLINK), "undefine removes the link");
    ck_assert_msg(!hyve_driver_set_autostart(drv, re, TRUE, &err), "autostart on removed");
    assert_error(err, "autostart undefined",
                 "55 57 Requested operation is not valid: cannot set autostart for transient domain");
}
END_TEST

START_TEST(test_atomic_write_failure)
{
    g_autoptr(HyveDomainObj) obj = define_ok("atom", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "atom.xml", NULL);
    g_autofree char *tmp = g_strdup_printf("%s.new", path);
    g_autofree char *before = test_read_file(path);
    g_autofree char *xml = dom_xml("atom", UUID_A, 262144);
    g_autofree char *after = NULL, *live = NULL;
    g_autoptr(GError) err = NULL;
    HyveDomainObj *res;
    guint updates = count_events(HYVE_DOMAIN_EVENT_DEFINED, 1);

    /* something that is not a file sits where the temp file goes */
    ck_assert(g_mkdir(tmp, 0700) == 0);
    res = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(!res, "define must fail when the temp file cannot be created");
    ck_assert_msg(err && err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, tmp) &&
                  strstr(err->message, g_strerror(EISDIR)),
                  "system error with path and errno text: %s", err ? err->message : "");
    after = test_read_file(path);
    ck_assert_msg(after && g_str_equal(before, after), "old file intact");
    live = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strstr(live, "<memory unit='KiB'>65536</memory>"), "old definition kept");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 1) == updates, "no event on failure");
    rmdir(tmp);

    /* a read-only directory (only meaningful when not root) */
    if (geteuid() != 0) {
        g_clear_error(&err);
        ck_assert(chmod(config_dir, 0500) == 0);
        res = hyve_driver_define_xml(drv, xml, 0, &err);
        chmod(config_dir, 0700);
        ck_assert_msg(!res && err && err->code == HYVE_ERR_SYSTEM_ERROR, "read-only dir fails");
        g_free(after);
        after = test_read_file(path);
        ck_assert_msg(g_str_equal(before, after), "old file intact (read-only dir)");
    }
    /* and once the obstacle is gone the update works */
    res = hyve_driver_define_xml(drv, xml, 0, NULL);
    ck_assert_msg(res, "define works again");
    hyve_domain_obj_unref(res);
    ck_assert_msg(!g_file_test(tmp, G_FILE_TEST_EXISTS), "no temp file left behind");
}
END_TEST

START_TEST(test_undefine_failure)
{
    g_autoptr(HyveDomainObj) obj = define_ok("stuck", UUID_A, 65536);
    g_autofree char *path = g_build_filename(config_dir, "stuck.xml", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) still = NULL;

    /* a config "file" that cannot be unlinked */
    ck_assert(unlink(path) == 0 && g_mkdir(path, 0700) == 0);
    ck_assert_msg(!hyve_driver_undefine(drv, obj, 0, &err), "undefine must fail");
    ck_assert_msg(err->code == HYVE_ERR_SYSTEM_ERROR && strstr(err->message, path),
                  "system error naming the file: %s", err->message);
    still = hyve_driver_lookup_by_name(drv, "stuck", NULL);
    ck_assert_msg(still == obj && hyve_domain_obj_is_persistent(obj), "domain kept");
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_UNDEFINED, 0) == 0, "no event on failure");
    rmdir(path);
}
END_TEST

START_TEST(test_broken_files_skipped)
{
    g_autoptr(HyveDomainObj) obj = define_ok("good", UUID_A, 65536);
    g_autofree char *bad = g_build_filename(config_dir, "bad.xml", NULL);
    g_autofree char *wrong = g_build_filename(config_dir, "wrong.xml", NULL);
    g_autofree char *other = dom_xml("notwrong", UUID_B, 65536);
    g_autoptr(GPtrArray) all = NULL;

    ck_assert(g_file_set_contents(bad, "<domain type='bhyve'><name>bad", -1, NULL));
    ck_assert(g_file_set_contents(wrong, other, -1, NULL));
    reopen();
    all = hyve_driver_list_domains(drv, 0, NULL);
    ck_assert_msg(all->len == 1, "only the good domain loads, got %u", all->len);
    ck_assert_msg(g_file_test(bad, G_FILE_TEST_EXISTS) && g_file_test(wrong, G_FILE_TEST_EXISTS),
                  "broken files are never deleted");
}
END_TEST

/* ---- uniqueness rules ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *uuid;
    const char *want;       /* NULL: success */
} UniqCase;

static const UniqCase uniq_cases[] = {
    { "first", UUID_A, NULL },
    { "first", UUID_B,
      "9 20 operation failed: domain 'first' already exists with uuid " UUID_A },
    { "second", UUID_A,
      "9 20 operation failed: domain 'first' is already defined with uuid " UUID_A },
    { "second", UUID_B, NULL },
};

START_TEST(test_uniqueness)
{
    g_autoptr(HyveDomainObj) base = define_ok("first", UUID_A, 65536);
    const UniqCase *c = &uniq_cases[_i];
    g_autofree char *xml = dom_xml(c->name, c->uuid, 65536);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) obj = hyve_driver_define_xml(drv, xml, 0, &err);
    g_autofree char *ctx = g_strdup_printf("uniqueness case %d (%s %s)", _i, c->name, c->uuid);

    if (c->want) {
        ck_assert_msg(!obj, "%s: accepted", ctx);
        assert_error(err, ctx, c->want);
        ck_assert_msg(hyve_driver_num_domains(drv, FALSE) == 1, "%s: list unchanged", ctx);
    } else {
        ck_assert_msg(obj, "%s: %s", ctx, err ? err->message : "");
    }
}
END_TEST

/* ---- lookups and flags ----------------------------------------------------- */

START_TEST(test_lookups_and_flags)
{
    g_autoptr(HyveDomainObj) obj = define_ok("look", UUID_A, 65536);
    g_autoptr(HyveDomainObj) by_uuid = NULL;
    g_autoptr(GError) err = NULL;
    guint8 uuid[HYVE_UUID_LEN];
    HyveDomainIdent ident = { 0 };
    g_autofree char *os = hyve_domain_obj_get_os_type(obj);
    g_autofree char *xml = dom_xml("flags", NULL, 65536);

    ck_assert(hyve_uuid_parse(UUID_A, uuid));
    by_uuid = hyve_driver_lookup_by_uuid(drv, uuid, &err);
    ck_assert_msg(by_uuid == obj, "lookup by uuid");
    hyve_domain_obj_get_ident(obj, &ident);
    ck_assert_msg(g_str_equal(ident.name, "look") && ident.id == -1 &&
                  memcmp(ident.uuid, uuid, HYVE_UUID_LEN) == 0, "ident");
    hyve_domain_ident_clear(&ident);
    ck_assert_msg(g_str_equal(os, "hvm"), "os type");

    uuid[15] ^= 0xff;
    ck_assert(!hyve_driver_lookup_by_uuid(drv, uuid, &err));
    assert_error(err, "uuid miss",
                 "42 57 Domain not found: no domain with matching uuid "
                 "'aaaaaaaa-0000-4000-8000-0000000000fe'");
    g_clear_error(&err);
    ck_assert(!hyve_driver_lookup_by_id(drv, 1, &err));
    assert_error(err, "id miss", "42 57 Domain not found: no domain with matching id 1");
    g_clear_error(&err);
    ck_assert(!hyve_domain_obj_get_xml(obj, 4, &err));
    assert_error(err, "xml flags",
                 "8 57 invalid argument: unsupported flags (0x4) in function hyve_domain_obj_get_xml");
    g_clear_error(&err);
    ck_assert(!hyve_driver_define_xml(drv, xml, 2, &err));
    assert_error(err, "define flags",
                 "8 57 invalid argument: unsupported flags (0x2) in function hyve_driver_define_xml");
    g_clear_error(&err);
    ck_assert(!hyve_driver_undefine(drv, obj, 0x80, &err));
    assert_error(err, "undefine flags",
                 "8 57 invalid argument: unsupported flags (0x80) in function hyve_driver_undefine");
    g_clear_error(&err);
    ck_assert(!hyve_driver_list_domains(drv, 0x10000, &err));
    assert_error(err, "list flags",
                 "8 57 invalid argument: unsupported flags (0x10000) in function hyve_driver_list_domains");
    g_clear_error(&err);
    /* VALIDATE is accepted; the schema is checked either way */
    {
        g_autoptr(HyveDomainObj) v = hyve_driver_define_xml(drv, xml, HYVE_DOMAIN_DEFINE_VALIDATE, &err);
        ck_assert_msg(v, "define with VALIDATE: %s", err ? err->message : "");
    }
    ck_assert(!hyve_driver_define_xml(drv, "<domain type='bhyve'><name>x</name><nope/></domain>",
                                      0, &err));
    ck_assert_msg(err->code == HYVE_ERR_XML_INVALID_SCHEMA, "schema checked without VALIDATE");
    ck_assert_msg(!g_file_test(config_dir, G_FILE_TEST_IS_DIR) ||
                  !g_file_test(HYVE_SOURCE_ROOT "/x.xml", G_FILE_TEST_EXISTS), "no file for x");
}
END_TEST

/* ---- list filters ---------------------------------------------------------- */

typedef struct {
    guint flags;
    const char *want;   /* names, comma separated, sorted */
} FilterCase;

/* a: autostart, inactive; b: inactive; r: "running" (id 7); p: "paused" (id 8) */
static const FilterCase filter_cases[] = {
    { 0, "a,b,p,r" },
    { 1, "p,r" },                       /* ACTIVE */
    { 2, "a,b" },                       /* INACTIVE */
    { 1 | 2, "a,b,p,r" },
    { 4, "a,b,p,r" },                   /* PERSISTENT */
    { 8, "" },                          /* TRANSIENT */
    { 16, "r" },                        /* RUNNING */
    { 32, "p" },                        /* PAUSED */
    { 64, "a,b" },                      /* SHUTOFF */
    { 128, "" },                        /* OTHER */
    { 16 | 32, "p,r" },
    { 1 | 16, "r" },
    { 2 | 16, "" },
    { 256, "" },                        /* MANAGEDSAVE */
    { 512, "a,b,p,r" },                 /* NO_MANAGEDSAVE */
    { 1024, "a" },                      /* AUTOSTART */
    { 2048, "b,p,r" },                  /* NO_AUTOSTART */
    { 1024 | 2048, "a,b,p,r" },
    { 1024 | 2, "a" },
    { 1024 | 1, "" },
    { 2048 | 1 | 64, "" },
    { 4096, "" },                       /* HAS_SNAPSHOT */
    { 8192, "a,b,p,r" },                /* NO_SNAPSHOT */
    { 16384, "" },                      /* HAS_CHECKPOINT */
    { 32768, "a,b,p,r" },               /* NO_CHECKPOINT */
    { 2 | 4 | 64 | 512 | 2048 | 8192 | 32768, "b" },
};

static void
fake_active(HyveDomainObj *obj, int id, HyveDomainState state)
{
    g_mutex_lock(&obj->lock);
    obj->id = id;
    obj->state = state;
    g_mutex_unlock(&obj->lock);
}

START_TEST(test_list_filters)
{
    const FilterCase *c = &filter_cases[_i];
    g_autoptr(HyveDomainObj) a = define_ok("a", NULL, 65536);
    g_autoptr(HyveDomainObj) b = define_ok("b", NULL, 65536);
    g_autoptr(HyveDomainObj) r = define_ok("r", NULL, 65536);
    g_autoptr(HyveDomainObj) p = define_ok("p", NULL, 65536);
    g_autoptr(GPtrArray) got = NULL;
    g_autoptr(GString) names = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    ck_assert(hyve_driver_set_autostart(drv, a, TRUE, NULL));
    fake_active(r, 7, HYVE_DOMAIN_STATE_RUNNING);
    fake_active(p, 8, HYVE_DOMAIN_STATE_PAUSED);
    got = hyve_driver_list_domains(drv, c->flags, &err);
    ck_assert_msg(got, "filter 0x%x: %s", c->flags, err ? err->message : "");
    for (guint i = 0; i < got->len; i++) {
        HyveDomainIdent id = { 0 };

        hyve_domain_obj_get_ident(g_ptr_array_index(got, i), &id);
        g_string_append_printf(names, "%s%s", i ? "," : "", id.name);
        hyve_domain_ident_clear(&id);
    }
    ck_assert_msg(g_str_equal(names->str, c->want), "filter 0x%x: got '%s' want '%s'",
                  c->flags, names->str, c->want);
    if (_i == 0) {
        g_autoptr(HyveDomainObj) byid = hyve_driver_lookup_by_id(drv, 7, NULL);

        ck_assert_msg(byid == r, "lookup by id finds the active domain");
        ck_assert_msg(hyve_driver_num_domains(drv, TRUE) == 2 &&
                      hyve_driver_num_domains(drv, FALSE) == 2, "num_domains");
    }
    fake_active(r, -1, HYVE_DOMAIN_STATE_SHUTOFF);
    fake_active(p, -1, HYVE_DOMAIN_STATE_SHUTOFF);
}
END_TEST

START_TEST(test_active_xml)
{
    g_autoptr(HyveDomainObj) obj = define_ok("act", UUID_A, 65536);
    g_autofree char *live = NULL, *inactive = NULL;
    g_autoptr(GError) err = NULL;
    xmlDocPtr doc;

    fake_active(obj, 3, HYVE_DOMAIN_STATE_RUNNING);
    live = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_SECURE, NULL);
    inactive = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_SECURE | HYVE_DOMAIN_XML_INACTIVE,
                                       NULL);
    ck_assert_msg(g_str_has_prefix(live, "<domain type='bhyve' id='3'>\n"), "live: %s", live);
    ck_assert_msg(g_str_has_prefix(inactive, "<domain type='bhyve'>\n"), "inactive: %s",
                  inactive);
    doc = hyve_xml_parse_string(live, "live", &err);
    ck_assert_msg(doc && hyve_xml_validate(doc, HYVE_LIBVIRT_SCHEMA_DIR, "domain.rng", &err),
                  "live XML validates: %s", err ? err->message : "");
    xmlFreeDoc(doc);
    ck_assert_msg(hyve_domain_obj_is_active(obj) && !hyve_domain_obj_is_updated(obj),
                  "active, not updated");
    /* redefining a running domain keeps the live definition, stores the next one */
    hyve_domain_obj_unref(define_ok("act", UUID_A, 131072));
    ck_assert_msg(hyve_domain_obj_is_updated(obj), "updated after redefine while running");
    g_free(live);
    g_free(inactive);
    live = hyve_domain_obj_get_xml(obj, 0, NULL);
    inactive = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_INACTIVE, NULL);
    ck_assert_msg(strstr(live, ">65536</memory>") && strstr(inactive, ">131072</memory>"),
                  "live keeps old memory, inactive shows the new one");
    fake_active(obj, -1, HYVE_DOMAIN_STATE_SHUTOFF);
}
END_TEST

/* ---- metadata ---------------------------------------------------------------- */

#define NS "http://example.org/hyve-test/1"

START_TEST(test_metadata)
{
    g_autoptr(HyveDomainObj) obj = define_ok("meta", UUID_A, 65536);
    g_autoptr(HyveDomainObj) re = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *title = NULL, *el = NULL, *el2 = NULL, *xml = NULL;
    guint changes = 0;

    ck_assert(!hyve_domain_obj_get_metadata(obj, 1, NULL, 0, &err));
    assert_error(err, "absent title",
                 "80 20 metadata not found: Requested metadata element is not present");
    g_clear_error(&err);

    ck_assert(hyve_driver_set_metadata(drv, obj, 1, "My title", NULL, NULL, 0, &err));
    ck_assert(hyve_driver_set_metadata(drv, obj, 0, "Desc\nwith lines", NULL, NULL, 2, &err));
    ck_assert_msg(hyve_driver_set_metadata(drv, obj, 2, "<cfg a='1'><item>x</item></cfg>",
                                           "ht", NS, 0, &err), "set element: %s",
                  err ? err->message : "");
    title = hyve_domain_obj_get_metadata(obj, 1, NULL, 0, &err);
    ck_assert_msg(title && g_str_equal(title, "My title"), "title %s", title);
    el = hyve_domain_obj_get_metadata(obj, 2, NS, 2, &err);
    ck_assert_msg(el && g_str_equal(el, "<cfg a=\"1\">\n  <item>x</item>\n</cfg>"),
                  "element: %s", el ? el : err->message);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strstr(xml, "<ht:cfg xmlns:ht=\"" NS "\" a=\"1\">"), "element in XML:\n%s", xml);

    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++) {
        SeenEvent *e = g_ptr_array_index(events, i);

        if (e->id == HYVE_DOMAIN_EVENT_ID_METADATA_CHANGE)
            changes++;
        if (e->id == HYVE_DOMAIN_EVENT_ID_METADATA_CHANGE && e->detail == 2)
            ck_assert_msg(e->nsuri && g_str_equal(e->nsuri, NS), "event carries the uri");
    }
    g_mutex_unlock(&events_lock);
    ck_assert_msg(changes == 3, "3 METADATA_CHANGE events, got %u", changes);

    /* persisted */
    reopen();
    re = hyve_driver_lookup_by_name(drv, "meta", NULL);
    el2 = hyve_domain_obj_get_metadata(re, 2, NS, 0, &err);
    ck_assert_msg(el2 && g_str_equal(el, el2), "element after reload: %s", el2);
    g_free(title);
    title = hyve_domain_obj_get_metadata(re, 0, NULL, 0, NULL);
    ck_assert_msg(title && g_str_equal(title, "Desc\nwith lines"), "description after reload");

    /* replace then remove the element; "" removes the title */
    ck_assert(hyve_driver_set_metadata(drv, re, 2, "<other/>", "ht", NS, 0, NULL));
    g_free(el2);
    el2 = hyve_domain_obj_get_metadata(re, 2, NS, 0, NULL);
    ck_assert_msg(el2 && g_str_equal(el2, "<other/>"), "replaced element: %s", el2);
    ck_assert(hyve_driver_set_metadata(drv, re, 2, NULL, NULL, NS, 0, NULL));
    ck_assert(!hyve_domain_obj_get_metadata(re, 2, NS, 0, &err));
    assert_error(err, "removed element",
                 "80 20 metadata not found: Requested metadata element is not present");
    g_clear_error(&err);
    ck_assert(hyve_driver_set_metadata(drv, re, 1, "", NULL, NULL, 0, NULL));
    ck_assert(!hyve_domain_obj_get_metadata(re, 1, NULL, 0, NULL));

    /* errors */
    ck_assert(!hyve_driver_set_metadata(drv, re, 1, "x", NULL, NULL, 1, &err));
    assert_error(err, "live on inactive",
                 "55 20 Requested operation is not valid: domain is not running");
    g_clear_error(&err);
    ck_assert(!hyve_domain_obj_get_metadata(re, 1, NULL, 3, &err));
    assert_error(err, "live+config get",
                 "8 20 invalid argument: Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                 "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive");
    g_clear_error(&err);
    ck_assert(!hyve_driver_set_metadata(drv, re, 2, "<a/>", "1bad", NS, 0, &err));
    assert_error(err, "bad key",
                 "27 20 XML error: failed to validate prefix for a new XML namespace");
    g_clear_error(&err);
    ck_assert(!hyve_driver_set_metadata(drv, re, 2, "<a>", "k", NS, 0, &err));
    ck_assert_msg(err->code == HYVE_ERR_XML_ERROR, "malformed metadata: %s", err->message);
    g_clear_error(&err);
    ck_assert(!hyve_driver_set_metadata(drv, re, 7, "x", NULL, NULL, 0, &err));
    assert_error(err, "bad type", "8 20 invalid argument: unknown metadata type '7'");
    g_clear_error(&err);
    ck_assert(!hyve_driver_set_metadata(drv, re, 1, "a\nb", NULL, NULL, 0, &err));
    ck_assert_msg(err->code == HYVE_ERR_INVALID_ARG, "title newline");
    g_clear_error(&err);
    ck_assert(!hyve_domain_obj_get_metadata(re, 2, NULL, 0, &err));
    ck_assert_msg(err->code == HYVE_ERR_INVALID_ARG, "element without uri");
}
END_TEST

/* ---- concurrency ------------------------------------------------------------ */

#define N_THREADS 6
#define PER_THREAD 8

static gpointer
define_many(gpointer data)
{
    int t = GPOINTER_TO_INT(data);

    for (int i = 0; i < PER_THREAD; i++) {
        g_autofree char *name = g_strdup_printf("t%d-d%d", t, i);
        g_autofree char *xml = dom_xml(name, NULL, 65536);
        g_autofree char *shared = dom_xml("shared", UUID_A, 65536 + 1024 * i);
        g_autofree char *clash = NULL;
        g_autofree char *uuid = g_strdup_printf("cccccccc-0000-4000-8000-%012d", t);
        HyveDomainObj *obj;

        obj = hyve_driver_define_xml(drv, xml, 0, NULL);
        if (!obj)
            return GINT_TO_POINTER(1);
        hyve_domain_obj_unref(obj);
        /* everyone updates the same domain */
        obj = hyve_driver_define_xml(drv, shared, 0, NULL);
        if (!obj)
            return GINT_TO_POINTER(2);
        hyve_domain_obj_unref(obj);
        /* and races for one name with different uuids */
        clash = dom_xml("clash", uuid, 65536);
        obj = hyve_driver_define_xml(drv, clash, 0, NULL);
        if (obj)
            hyve_domain_obj_unref(obj);
    }
    return NULL;
}

START_TEST(test_concurrent_define)
{
    GThread *threads[N_THREADS];
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GDir) dir = NULL;
    guint files = 0;
    const char *e;

    for (int t = 0; t < N_THREADS; t++)
        threads[t] = g_thread_new("definer", define_many, GINT_TO_POINTER(t));
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_msg(g_thread_join(threads[t]) == NULL, "thread %d failed", t);

    all = hyve_driver_list_domains(drv, 0, NULL);
    ck_assert_msg(all->len == N_THREADS * PER_THREAD + 2, "domains: %u", all->len);
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 0) == N_THREADS * PER_THREAD + 2,
                  "ADDED events: %u", count_events(HYVE_DOMAIN_EVENT_DEFINED, 0));
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 1) >= N_THREADS * PER_THREAD - 1,
                  "UPDATED events");
    dir = g_dir_open(config_dir, 0, NULL);
    while ((e = g_dir_read_name(dir)))
        if (g_str_has_suffix(e, ".xml"))
            files++;
    ck_assert_msg(files == N_THREADS * PER_THREAD + 2, "config files: %u", files);
    reopen();
    ck_assert_msg(hyve_driver_num_domains(drv, FALSE) == N_THREADS * PER_THREAD + 2,
                  "all reload");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-list");
    TCase *tc = tcase_create("driver");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_define_reload_undefine);
    tcase_add_test(tc, test_autostart);
    tcase_add_test(tc, test_atomic_write_failure);
    tcase_add_test(tc, test_undefine_failure);
    tcase_add_test(tc, test_broken_files_skipped);
    tcase_add_loop_test(tc, test_uniqueness, 0, G_N_ELEMENTS(uniq_cases));
    tcase_add_test(tc, test_lookups_and_flags);
    tcase_add_loop_test(tc, test_list_filters, 0, G_N_ELEMENTS(filter_cases));
    tcase_add_test(tc, test_active_xml);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_concurrent_define);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
