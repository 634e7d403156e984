/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_metadata.c: title, description and namespaced metadata
 * get/set with libvirt's semantics and errors, METADATA_CHANGE events,
 * persistence of metadata.
 */
#include "test_driver_fixture.h"

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
                 "8 20 invalid argument: failed to validate prefix for a new XML namespace");
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

/* ---- namespace of a new element --------------------------------------------- */

typedef struct {
    const char *name;
    const char *element;
    const char *key;
    const char *uri;
    const char *error;      /* NULL: stored under uri; else INVALID_ARG with this text */
} NsCase;

static const NsCase ns_cases[] = {
    { "plain", "<e a='1'><f/></e>", "k", NS, NULL },
    { "other prefix rewritten", "<p:e xmlns:p='urn:other'><p:f/></p:e>", "k", NS, NULL },
    { "default namespace rewritten", "<e xmlns='urn:dflt'><f/></e>", "k", NS, NULL },
    { "same binding kept", "<k:e xmlns:k='" NS "'/>", "k", NS, NULL },
    { "urn uri", "<e/>", "k", "urn:example:x", NULL },
    { "key rebound on element", "<k:e xmlns:k='urn:other'/>", "k", NS,
      "binds prefix 'k' to 'urn:other'" },
    { "key rebound below", "<e><k:f xmlns:k='urn:other'/></e>", "k", NS,
      "binds prefix 'k' to another namespace" },
    { "key xml", "<e/>", "xml", NS, "is reserved" },
    { "key XMLns", "<e/>", "XMLns", NS, "is reserved" },
    { "key xmlfoo", "<e/>", "xmlfoo", NS, "is reserved" },
    { "key with colon", "<e/>", "a:b", NS, "failed to validate prefix" },
    { "key digit", "<e/>", "1a", NS, "failed to validate prefix" },
    { "empty key", "<e/>", "", NS, "key in virDomainSetMetadata must not be NULL" },
    { "empty uri", "<e/>", "k", "", "is not an absolute URI" },
    { "relative uri", "<e/>", "k", "rel/path", "is not an absolute URI" },
    { "uri with quote", "<e/>", "k", "http://x/'a", "is not an absolute URI" },
    { "uri with dquote", "<e/>", "k", "http://x/\"a", "is not an absolute URI" },
    { "uri with ampersand", "<e/>", "k", "http://x/?a&b", "is not an absolute URI" },
    { "uri with space", "<e/>", "k", "http://x/ a", "is not an absolute URI" },
};

START_TEST(test_metadata_ns)
{
    const NsCase *c = &ns_cases[_i];
    g_autoptr(HyveDomainObj) obj = define_ok("ns", UUID_A, 65536);
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL, *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    gboolean ok = hyve_driver_set_metadata(drv, obj, 2, c->element, c->key, c->uri, 0, &err);

    if (c->error) {
        ck_assert_msg(!ok, "%s: accepted", c->name);
        ck_assert_msg(err->code == HYVE_ERR_INVALID_ARG && strstr(err->message, c->error),
                      "%s: got %d '%s', want INVALID_ARG '%s'", c->name, err->code,
                      err->message, c->error);
        ck_assert_msg(!hyve_domain_obj_get_metadata(obj, 2, c->uri, 0, NULL),
                      "%s: nothing stored", c->name);
        return;
    }
    ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "");
    got = hyve_domain_obj_get_metadata(obj, 2, c->uri, 0, &err);
    ck_assert_msg(got && g_str_has_prefix(got, "<e"), "%s: get under the uri: %s", c->name,
                  got ? got : err->message);
    /* nothing left in another namespace */
    ck_assert_msg(!hyve_domain_obj_get_metadata(obj, 2, "urn:other", 0, NULL) &&
                  !hyve_domain_obj_get_metadata(obj, 2, "urn:dflt", 0, NULL),
                  "%s: element also under its old namespace", c->name);
    xml = hyve_domain_obj_get_xml(obj, 0, NULL);
    ck_assert_msg((doc = hyve_xml_parse_string(xml, "(formatted)", &err)),
                  "%s: formatted XML not well-formed: %s\n%s", c->name, err->message, xml);
    ck_assert_msg(hyve_xml_validate(doc, HYVE_LIBVIRT_SCHEMA_DIR, "domain.rng", &err),
                  "%s: formatted XML invalid: %s\n%s", c->name, err->message, xml);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("domain-metadata");
    TCase *tc = driver_tcase_new(s);

    tcase_add_test(tc, test_metadata);
    tcase_add_loop_test(tc, test_metadata_ns, 0, G_N_ELEMENTS(ns_cases));
    return test_suite_run(s);
}
