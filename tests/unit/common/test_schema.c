/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_schema.c: RelaxNG validation of generated XML against the libvirt
 * schemas installed in HYVE_LIBVIRT_SCHEMA_DIR, with libxml2 directly.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "test_common.h"

static void
test_schema_collect_error(void *data, xmlErrorPtr error)
{
    GString *out = data;

    g_string_append_printf(out, "line %d: %s", error->line, error->message ? error->message : "?\n");
}

gboolean
test_schema_validate_doc(xmlDocPtr schema, const char *xml, char **errors)
{
    g_autoptr(GString) out = g_string_new(NULL);
    xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewDocParserCtxt(schema);
    xmlRelaxNGPtr rng = NULL;
    xmlRelaxNGValidCtxtPtr vctx = NULL;
    xmlDocPtr doc = NULL;
    int rc = -1;

    xmlRelaxNGSetParserStructuredErrors(pctx, test_schema_collect_error, out);
    if (!(rng = xmlRelaxNGParse(pctx))) {
        g_string_prepend(out, "schema did not parse\n");
        goto done;
    }
    if (!(doc = xmlReadMemory(xml, (int)strlen(xml), "generated.xml", NULL, XML_PARSE_NONET))) {
        g_string_append(out, "XML is not well formed\n");
        goto done;
    }
    vctx = xmlRelaxNGNewValidCtxt(rng);
    xmlRelaxNGSetValidStructuredErrors(vctx, test_schema_collect_error, out);
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

xmlDocPtr
test_schema_load(const char *name)
{
    g_autofree char *path = g_build_filename(HYVE_LIBVIRT_SCHEMA_DIR, name, NULL);
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);

    ck_assert_msg(doc, "cannot read schema %s", path);
    return doc;
}

gboolean
test_schema_validate_file(const char *xml, const char *rng, char **errors)
{
    return test_schema_validate_doc(test_schema_load(rng), xml, errors);
}

gboolean
test_schema_validate_define(const char *xml, const char *file, const char *define, char **errors)
{
    g_autofree char *url = g_build_filename(HYVE_LIBVIRT_SCHEMA_DIR, "hyve-unit-test.rng", NULL);
    g_autofree char *grammar = g_strdup_printf(
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0'"
        " datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'>"
        "<include href='%s'/><start><ref name='%s'/></start></grammar>", file, define);
    xmlDocPtr schema = xmlReadMemory(grammar, (int)strlen(grammar), url, NULL, XML_PARSE_NONET);

    return test_schema_validate_doc(schema, xml, errors);
}
