/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_host_schema.h: RelaxNG validation of generated XML against the
 * libvirt schemas installed in HYVE_LIBVIRT_SCHEMA_DIR, and XPath lookups.
 */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

static void
schema_collect_error(void *data, xmlErrorPtr error)
{
    GString *out = data;

    g_string_append_printf(out, "line %d: %s", error->line, error->message ? error->message : "?\n");
}

/* Validate @xml against the schema document @schema (consumed). */
static gboolean
schema_validate_doc(xmlDocPtr schema, const char *xml, char **errors)
{
    g_autoptr(GString) out = g_string_new(NULL);
    xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewDocParserCtxt(schema);
    xmlRelaxNGPtr rng = NULL;
    xmlRelaxNGValidCtxtPtr vctx = NULL;
    xmlDocPtr doc = NULL;
    int rc = -1;

    xmlRelaxNGSetParserStructuredErrors(pctx, schema_collect_error, out);
    if (!(rng = xmlRelaxNGParse(pctx))) {
        g_string_prepend(out, "schema did not parse\n");
        goto done;
    }
    if (!(doc = xmlReadMemory(xml, (int)strlen(xml), "generated.xml", NULL, XML_PARSE_NONET))) {
        g_string_append(out, "XML is not well formed\n");
        goto done;
    }
    vctx = xmlRelaxNGNewValidCtxt(rng);
    xmlRelaxNGSetValidStructuredErrors(vctx, schema_collect_error, out);
    rc = xmlRelaxNGValidateDoc(vctx, doc);

 done:
    if (vctx)
        xmlRelaxNGFreeValidCtxt(vctx);
    if (rng)
        xmlRelaxNGFree(rng);
    xmlRelaxNGFreeParserCtxt(pctx);
    xmlFreeDoc(doc);
    xmlFreeDoc(schema);
    *errors = g_strdup(out->str);
    return rc == 0;
}

static xmlDocPtr
schema_load(const char *name)
{
    g_autofree char *path = g_build_filename(HYVE_LIBVIRT_SCHEMA_DIR, name, NULL);
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);

    ck_assert_msg(doc, "cannot read schema %s", path);
    return doc;
}

/* Validate against one installed schema file, unchanged. */
static gboolean
schema_validate_file(const char *xml, const char *rng, char **errors)
{
    return schema_validate_doc(schema_load(rng), xml, errors);
}

/* A grammar written next to the installed schemas (so its includes
 * resolve) that starts at one of their defines. */
static gboolean
schema_validate_define(const char *xml, const char *file, const char *define, char **errors)
{
    g_autofree char *url = g_build_filename(HYVE_LIBVIRT_SCHEMA_DIR, "hyve-unit-test.rng", NULL);
    g_autofree char *grammar = g_strdup_printf(
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0'"
        " datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'>"
        "<include href='%s'/><start><ref name='%s'/></start></grammar>", file, define);
    xmlDocPtr schema = xmlReadMemory(grammar, (int)strlen(grammar), url, NULL, XML_PARSE_NONET);

    return schema_validate_doc(schema, xml, errors);
}

/* Host sysinfo uses the domain schema's <sysinfo type='smbios'>. */
static gboolean
schema_validate_sysinfo(const char *xml, char **errors)
{
    return schema_validate_define(xml, "domaincommon.rng", "sysinfo", errors);
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
    xmlDocPtr schema = schema_load("capability.rng");
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
    if (!schema_validate_file(as_test, "capability.rng", &pristine_errors)) {
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
    return schema_validate_doc(schema, xml, errors);
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
