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

int
main(void)
{
    Suite *s = suite_create("domain-metadata");
    TCase *tc = driver_tcase_new(s);

    tcase_add_test(tc, test_metadata);
    return test_suite_run(s);
}
