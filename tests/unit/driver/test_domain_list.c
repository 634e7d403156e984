/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_list.c: the domain list through hyve_driver.h: libvirt's
 * uniqueness rules, lookups and flag checks, VIR_CONNECT_LIST_DOMAINS_*
 * filters, live vs inactive XML, concurrent defines from several threads.
 */
#include "test_driver_fixture.h"

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
    g_autofree char *errors = NULL;

    fake_active(obj, 3, HYVE_DOMAIN_STATE_RUNNING);
    live = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_SECURE, NULL);
    inactive = hyve_domain_obj_get_xml(obj, HYVE_DOMAIN_XML_SECURE | HYVE_DOMAIN_XML_INACTIVE,
                                       NULL);
    ck_assert_msg(g_str_has_prefix(live, "<domain type='bhyve' id='3'>\n"), "live: %s", live);
    ck_assert_msg(g_str_has_prefix(inactive, "<domain type='bhyve'>\n"), "inactive: %s",
                  inactive);
    ck_assert_msg(test_schema_validate_file(live, "domain.rng", &errors),
                  "live XML validates: %s", errors);
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

static gint stop_readers;

/* Lists, formats and looks up domains while others define and undefine. */
static gpointer
read_loop(gpointer data)
{
    guint rounds = 0;

    while (!g_atomic_int_get(&stop_readers) || rounds == 0) {
        g_autoptr(GPtrArray) all = hyve_driver_list_domains(drv, 0, NULL);

        if (!all)
            return GINT_TO_POINTER(1);
        for (guint i = 0; i < all->len; i++) {
            HyveDomainObj *obj = g_ptr_array_index(all, i);
            g_autofree char *xml = hyve_domain_obj_get_xml(obj, 0, NULL);
            HyveDomainIdent id = { 0 };
            HyveDomainObj *again;

            if (!xml || !g_str_has_prefix(xml, "<domain type='bhyve'>"))
                return GINT_TO_POINTER(2);
            hyve_domain_obj_get_ident(obj, &id);
            /* it may have been undefined meanwhile: only a hit must match;
             * "churn" is undefined and defined again as a new object */
            again = hyve_driver_lookup_by_uuid(drv, id.uuid, NULL);
            if (again && again != obj && !g_str_equal(id.name, "churn"))
                return GINT_TO_POINTER(3);
            if (again)
                hyve_domain_obj_unref(again);
            hyve_domain_ident_clear(&id);
        }
        rounds++;
    }
    return NULL;
}

/* Defines and undefines one domain over and over. */
static gpointer
churn_loop(gpointer data)
{
    for (int i = 0; i < 20; i++) {
        g_autofree char *xml = dom_xml("churn", "dddddddd-0000-4000-8000-000000000004", 65536);
        HyveDomainObj *obj = hyve_driver_define_xml(drv, xml, 0, NULL);

        if (!obj)
            return GINT_TO_POINTER(1);
        if (!hyve_driver_undefine(drv, obj, 0, NULL)) {
            hyve_domain_obj_unref(obj);
            return GINT_TO_POINTER(2);
        }
        hyve_domain_obj_unref(obj);
    }
    return NULL;
}

START_TEST(test_concurrent_define)
{
    GThread *threads[N_THREADS], *readers[2], *churn;
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GDir) dir = NULL;
    guint files = 0;
    const char *e;

    g_atomic_int_set(&stop_readers, 0);
    for (int r = 0; r < 2; r++)
        readers[r] = g_thread_new("reader", read_loop, NULL);
    churn = g_thread_new("churn", churn_loop, NULL);
    for (int t = 0; t < N_THREADS; t++)
        threads[t] = g_thread_new("definer", define_many, GINT_TO_POINTER(t));
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_msg(g_thread_join(threads[t]) == NULL, "definer %d failed", t);
    ck_assert_msg(g_thread_join(churn) == NULL, "define/undefine churn failed");
    g_atomic_int_set(&stop_readers, 1);
    for (int r = 0; r < 2; r++)
        ck_assert_msg(g_thread_join(readers[r]) == NULL, "reader %d saw an inconsistency", r);
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_UNDEFINED, 0) == 20, "20 UNDEFINED events");

    all = hyve_driver_list_domains(drv, 0, NULL);
    ck_assert_msg(all->len == N_THREADS * PER_THREAD + 2, "domains: %u", all->len);
    ck_assert_msg(count_events(HYVE_DOMAIN_EVENT_DEFINED, 0) == N_THREADS * PER_THREAD + 2 + 20,
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
    TCase *tc = driver_tcase_new(s);

    tcase_add_loop_test(tc, test_uniqueness, 0, G_N_ELEMENTS(uniq_cases));
    tcase_add_test(tc, test_lookups_and_flags);
    tcase_add_loop_test(tc, test_list_filters, 0, G_N_ELEMENTS(filter_cases));
    tcase_add_test(tc, test_active_xml);
    tcase_add_test(tc, test_concurrent_define);
    return test_suite_run(s);
}
