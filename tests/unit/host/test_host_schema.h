/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_host_schema.h: RelaxNG validation of generated XML against the
 * libvirt schemas where the host XML needs more than one schema file
 * (tests/unit/common validates against one), and XPath lookups.
 */
#pragma once

#include <glib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "test_common.h"

/* Host sysinfo uses the domain schema's <sysinfo type='smbios'>. */
static gboolean
schema_validate_sysinfo(const char *xml, char **errors)
{
    return test_schema_validate_define(xml, "domaincommon.rng", "sysinfo", errors);
}

/*
 * libvirt's capability.rng (9.0 and later) does not list 'bhyve' among
 * <guest><arch><domain type=...>, although libvirt's own bhyve driver
 * emits it and virt-install needs it. So: (1) the document with that one
 * attribute set to 'test' must validate against the untouched schema, and
 * (2) the real document must validate against the schema whose type
 * choice gained exactly one value, 'bhyve'.
 */
static gboolean
schema_validate_caps(const char *xml, char **errors)
{
    g_autofree char *pristine_errors = NULL;
    g_autofree char *as_test = NULL;
    g_auto(GStrv) parts = g_strsplit(xml, "<domain type='bhyve'/>", -1);
    xmlDocPtr schema = test_schema_load("capability.rng");
    xmlXPathContextPtr ctx = xmlXPathNewContext(schema);
    xmlXPathObjectPtr found;
    guint patched = 0;

    if (g_strv_length(parts) != 2) {
        *errors = g_strdup("expected exactly one <domain type='bhyve'/>");
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(schema);
        return FALSE;
    }
    as_test = g_strjoinv("<domain type='test'/>", parts);
    if (!test_schema_validate_file(as_test, "capability.rng", &pristine_errors)) {
        *errors = g_strdup_printf("against the unmodified schema: %s", pristine_errors);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(schema);
        return FALSE;
    }

    xmlXPathRegisterNs(ctx, BAD_CAST "r", BAD_CAST "http://relaxng.org/ns/structure/1.0");
    found = xmlXPathEvalExpression(BAD_CAST "//r:define[@name='domain']/r:element[@name='domain']"
                                   "/r:attribute[@name='type']/r:choice", ctx);
    if (found && found->nodesetval && found->nodesetval->nodeNr == 1) {
        xmlNodePtr choice = found->nodesetval->nodeTab[0];
        xmlNewChild(choice, choice->ns, BAD_CAST "value", BAD_CAST "bhyve");
        patched++;
    }
    xmlXPathFreeObject(found);
    xmlXPathFreeContext(ctx);
    if (patched != 1) {
        *errors = g_strdup("capability.rng: domain type choice not found");
        xmlFreeDoc(schema);
        return FALSE;
    }
    return test_schema_validate_doc(schema, xml, errors);
}

/* string() of an XPath expression over @xml; owned by the test process. */
static const char *
xpath_string(const char *xml, const char *expr)
{
    static GPtrArray *keep;
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL, XML_PARSE_NONET);
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr res;
    char *out;

    ck_assert_msg(doc, "not well formed: %s", xml);
    ctx = xmlXPathNewContext(doc);
    res = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    ck_assert_msg(res && res->type == XPATH_STRING, "xpath %s", expr);
    out = g_strdup((const char *)res->stringval);
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    if (!keep)
        keep = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(keep, out);
    return out;
}
