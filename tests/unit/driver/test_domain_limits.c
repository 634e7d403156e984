/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_limits.c: documents over the element/attribute bounds are
 * refused before libxml2 parses or validates them (define and set-metadata
 * alike), documents just under them still define, and RelaxNG validation
 * against the one cached schema gives the right answer from many threads
 * at once. Also the bounds of hyve_domain_def_check_limits: vcpus, memory,
 * and the size of the formatted XML (dumpxml must fit a remote string).
 */
#include "test_driver_fixture.h"

#define HEAD "<domain type='bhyve'><name>lim</name><memory unit='KiB'>131072</memory>" \
             "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"

typedef enum { SHAPE_ATTRS, SHAPE_CHILDREN, SHAPE_SPREAD } Shape;

typedef struct {
    const char *name;
    Shape shape;
    guint n;              /* attributes on <x:a> / children of <x:a> / elements of 63 attributes */
    const char *error;    /* NULL: must define; else a substring of the XML_ERROR */
} LimitCase;

static const LimitCase limit_cases[] = {
    /* <x:a> also carries xmlns:x, one attribute more */
    { "63 attributes", SHAPE_ATTRS, 63, NULL },
    { "64 attributes", SHAPE_ATTRS, 64, "an element has 65 attributes, more than the limit of 64" },
    { "100k attributes", SHAPE_ATTRS, 100000, "more than the limit of 64" },
    { "9000 children", SHAPE_CHILDREN, 9000, NULL },
    { "10000 children", SHAPE_CHILDREN, 10000, "more than the limit of 10000 elements" },
    { "100k children", SHAPE_CHILDREN, 100000, "more than the limit of 10000 elements" },
    { "1500 x 63 attributes", SHAPE_SPREAD, 1500, NULL },
    { "1600 x 63 attributes", SHAPE_SPREAD, 1600, "more than the limit of 100000 attributes" },
};

/* The <x:a> element of @c, in namespace urn:x (declared on it). */
static char *
limit_element(const LimitCase *c)
{
    GString *s = g_string_new("<x:a xmlns:x='urn:x'");

    if (c->shape == SHAPE_ATTRS)
        for (guint i = 0; i < c->n; i++)
            g_string_append_printf(s, " a%u='v'", i);
    g_string_append(s, ">");
    for (guint i = 0; c->shape != SHAPE_ATTRS && i < c->n; i++) {
        g_string_append(s, "<x:b");
        for (guint j = 0; c->shape == SHAPE_SPREAD && j < 63; j++)
            g_string_append_printf(s, " a%u='v'", j);
        g_string_append(s, "/>");
    }
    g_string_append(s, "</x:a>");
    return g_string_free(s, FALSE);
}

static void
check_result(const LimitCase *c, const char *what, gboolean ok, const GError *err, gint64 us)
{
    if (!c->error) {
        ck_assert_msg(ok, "%s (%s): %s", c->name, what, err ? err->message : "");
    } else {
        ck_assert_msg(!ok, "%s (%s): accepted", c->name, what);
        ck_assert_msg(err->code == HYVE_ERR_XML_ERROR && strstr(err->message, c->error),
                      "%s (%s): got %d '%s', want XML_ERROR '%s'", c->name, what,
                      err->code, err->message, c->error);
        /* refused before parsing: no quadratic work */
        ck_assert_msg(us < G_USEC_PER_SEC, "%s (%s): refusal took %" G_GINT64_FORMAT " us",
                      c->name, what, us);
    }
}

START_TEST(test_limits)
{
    const LimitCase *c = &limit_cases[_i];
    g_autofree char *el = limit_element(c);
    g_autofree char *xml = g_strconcat(HEAD "<metadata>", el, "</metadata></domain>", NULL);
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(HyveDomainObj) small = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_build_filename(config_dir, "lim.xml", NULL);
    gint64 t0 = g_get_monotonic_time();
    gboolean ok;

    obj = hyve_driver_define_xml(drv, xml, 0, &err);
    check_result(c, "define", obj != NULL, err, g_get_monotonic_time() - t0);
    ck_assert_msg(g_file_test(path, G_FILE_TEST_EXISTS) == !c->error,
                  "%s: config file iff defined", c->name);
    if (obj) {
        /* what was saved loads again */
        reopen();
        g_clear_pointer(&obj, hyve_domain_obj_unref);
        ck_assert_msg((obj = hyve_driver_lookup_by_name(drv, "lim", NULL)),
                      "%s: reloaded", c->name);
        g_clear_pointer(&obj, hyve_domain_obj_unref);
        ck_assert(hyve_driver_undefine(drv, (obj = hyve_driver_lookup_by_name(drv, "lim", NULL)),
                                       0, NULL));
    }

    /* the same element through set-metadata */
    g_clear_error(&err);
    small = define_ok("lim", NULL, 65536);
    t0 = g_get_monotonic_time();
    ok = hyve_driver_set_metadata(drv, small, 2, el, "x", "urn:x", 0, &err);
    check_result(c, "set-metadata", ok, err, g_get_monotonic_time() - t0);
}
END_TEST

/* ---- vcpus and memory at define -------------------------------------------- */

typedef struct {
    const char *name;
    const char *vcpu;
    const char *memory;     /* KiB */
    const char *error;      /* NULL: defines; else CONFIG_UNSUPPORTED containing this */
} BoundCase;

static const BoundCase bound_cases[] = {
    { "255 vcpus", "255", "131072", NULL },
    { "256 vcpus", "256", "131072", "256 vcpus is more than the limit of 255" },
    { "4096 vcpus", "4096", "131072", "4096 vcpus is more than the limit of 255" },
    { "1 TiB", "1", "1073741824", NULL },
    { "1 TiB + 1 KiB", "1", "1073741825",
      "memory size 1073741825 KiB is more than the limit of 1073741824 KiB" },
    { "16 EiB", "1", "17179869184000", "is more than the limit of 1073741824 KiB" },
};

START_TEST(test_bounds)
{
    const BoundCase *c = &bound_cases[_i];
    g_autofree char *xml = g_strdup_printf(
        "<domain type='bhyve'><name>b</name><memory unit='KiB'>%s</memory><vcpu>%s</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os></domain>", c->memory, c->vcpu);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainObj) obj = hyve_driver_define_xml(drv, xml, 0, &err);

    if (!c->error) {
        ck_assert_msg(obj, "%s: %s", c->name, err ? err->message : "");
        return;
    }
    ck_assert_msg(!obj, "%s: accepted", c->name);
    ck_assert_msg(err->code == HYVE_ERR_CONFIG_UNSUPPORTED && strstr(err->message, c->error),
                  "%s: got %d '%s', want CONFIG_UNSUPPORTED '%s'", c->name, err->code,
                  err->message, c->error);
}
END_TEST

/* ---- formatted size ---------------------------------------------------------- */

static char *
repeat(char ch, gsize n)
{
    char *s = g_malloc(n + 1);

    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

START_TEST(test_formatted_size)
{
    g_autoptr(HyveDomainObj) obj = define_ok("big", UUID_A, 65536);
    g_autoptr(GError) err = NULL;
    /* under 4 MiB as given, over it once '<' is written as "&lt;" */
    g_autofree char *lt = repeat('<', 1200 * 1024);
    g_autofree char *fits = repeat('d', 3 * 1024 * 1024);
    g_autofree char *gt = repeat('>', 1100 * 1024);
    g_autofree char *xml = NULL, *desc = NULL, *defxml = NULL;

    ck_assert_msg(hyve_driver_set_metadata(drv, obj, 0, fits, NULL, NULL, 0, &err),
                  "3 MiB description: %s", err ? err->message : "");
    ck_assert_msg(!hyve_driver_set_metadata(drv, obj, 0, lt, NULL, NULL, 0, &err),
                  "4.8 MiB formatted description accepted");
    ck_assert_msg(err->code == HYVE_ERR_XML_ERROR &&
                  strstr(err->message, "more than the limit of 4128768"),
                  "size error: %d %s", err->code, err->message);
    g_clear_error(&err);
    /* nothing changed, dumpxml still fits a remote string */
    desc = hyve_domain_obj_get_metadata(obj, 0, NULL, 0, NULL);
    ck_assert_msg(desc && g_str_equal(desc, fits), "description changed by a refused call");
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg(strlen(xml) <= HYVE_DOMAIN_XML_MAX, "dumpxml %zu bytes", strlen(xml));

    /* define: the same with '>' in the text (legal unescaped, written "&gt;") */
    defxml = g_strconcat("<domain type='bhyve'><name>big2</name><description>", gt,
                         "</description><memory>65536</memory><os><type>hvm</type></os>"
                         "</domain>", NULL);
    ck_assert_msg(!hyve_driver_define_xml(drv, defxml, 0, &err), "4.4 MiB define accepted");
    ck_assert_msg(err->code == HYVE_ERR_XML_ERROR &&
                  strstr(err->message, "more than the limit of 4128768"),
                  "define size error: %d %s", err->code, err->message);
}
END_TEST

/* Elements added by many set-metadata calls count together: what is saved
 * must load again. */
START_TEST(test_metadata_accumulates)
{
    g_autoptr(HyveDomainObj) obj = define_ok("acc", UUID_A, 65536);
    g_autoptr(HyveDomainObj) re = NULL;
    g_autoptr(GString) el = g_string_new("<a>");
    g_autoptr(GError) err = NULL;
    guint stored = 0;

    for (guint i = 0; i < 3000; i++)
        g_string_append(el, "<b/>");
    g_string_append(el, "</a>");
    for (guint i = 0; i < 5; i++) {
        g_autofree char *uri = g_strdup_printf("urn:acc:%u", i);

        if (!hyve_driver_set_metadata(drv, obj, 2, el->str, "k", uri, 0, &err))
            break;
        stored++;
    }
    ck_assert_msg(stored == 3, "%u elements of 3001 stored, want 3", stored);
    ck_assert_msg(err && err->code == HYVE_ERR_XML_ERROR &&
                  strstr(err->message, "more than the limit of 10000 elements"),
                  "4th: %s", err ? err->message : "accepted");
    reopen();
    re = hyve_driver_lookup_by_name(drv, "acc", NULL);
    ck_assert_msg(re, "definition with 9003 metadata elements loads again");
}
END_TEST

/* ---- concurrent validation ----------------------------------------------- */

#define THREADS 6
#define ROUNDS 12

static gpointer
validate_thread(gpointer data)
{
    guint seed = GPOINTER_TO_UINT(data);
    guint wrong = 0;

    for (guint r = 0; r < ROUNDS; r++) {
        gboolean valid = ((r + seed) % 2) == 0;
        /* a valid document gets big enough that validations overlap */
        g_autoptr(GString) s = g_string_new(HEAD "<metadata><x:a xmlns:x='urn:x'>");
        g_autoptr(xmlDoc) doc = NULL;
        g_autoptr(GError) err = NULL;
        gboolean ok;

        for (guint i = 0; i < 2000; i++)
            g_string_append(s, "<x:b/>");
        g_string_append(s, "</x:a></metadata>");
        g_string_append(s, valid ? "</domain>" : "<bogus/></domain>");
        doc = hyve_xml_parse_string(s->str, "(thread)", &err);
        if (!doc)
            return GUINT_TO_POINTER(1000);
        ok = hyve_xml_validate(doc, HYVE_LIBVIRT_SCHEMA_DIR, "domain.rng", &err);
        if (ok != valid || (!ok && (err->code != HYVE_ERR_XML_INVALID_SCHEMA ||
                                    !strstr(err->message, "bogus"))))
            wrong++;
    }
    return GUINT_TO_POINTER(wrong);
}

START_TEST(test_concurrent_validation)
{
    GThread *threads[THREADS];
    guint wrong = 0;

    for (guint i = 0; i < THREADS; i++)
        threads[i] = g_thread_new("validate", validate_thread, GUINT_TO_POINTER(i));
    for (guint i = 0; i < THREADS; i++)
        wrong += GPOINTER_TO_UINT(g_thread_join(threads[i]));
    ck_assert_msg(wrong == 0, "%u of %u concurrent validations gave the wrong answer",
                  wrong, THREADS * ROUNDS);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-limits");
    TCase *tc = driver_tcase_new(s);

    tcase_add_loop_test(tc, test_limits, 0, G_N_ELEMENTS(limit_cases));
    tcase_add_loop_test(tc, test_bounds, 0, G_N_ELEMENTS(bound_cases));
    tcase_add_test(tc, test_formatted_size);
    tcase_add_test(tc, test_metadata_accumulates);
    tcase_add_test(tc, test_concurrent_validation);
    return test_suite_run(s);
}
