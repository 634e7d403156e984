/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_limits.c: documents over the element/attribute bounds are
 * refused before libxml2 parses or validates them (define and set-metadata
 * alike), documents just under them still define, and RelaxNG validation
 * against the one cached schema gives the right answer from many threads
 * at once.
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
    tcase_add_test(tc, test_concurrent_validation);
    return test_suite_run(s);
}
