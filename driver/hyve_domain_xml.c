/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_xml.c: the two libxml2 steps every document from a client
 * goes through: a safe parse (no network, no DTD, no entity expansion)
 * and validation against libvirt's installed RelaxNG schema.
 *
 * Schemas are compiled once per path and kept for the life of the
 * process (compiling domain.rng takes ~100 ms). A compiled xmlRelaxNG is
 * only read while validating and each validation uses its own
 * xmlRelaxNGValidCtxt, so validations run concurrently; schema_lock only
 * guards the cache (test_domain_xml_limits.c validates from threads).
 *
 * libxml2's parser (duplicate-attribute check) and its RelaxNG validator
 * are quadratic in the attributes of one element and in the children of
 * one element, so a document is measured before it is parsed: more than
 * HYVE_XML_MAX_ELEMENTS elements, HYVE_XML_MAX_ELEMENT_ATTRS attributes on
 * one element or HYVE_XML_MAX_ATTRS attributes in all is an XML_ERROR.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include "hyve_domain_def.h"

static GMutex schema_lock;          /* guards schema_cache */
static GHashTable *schema_cache;    /* path -> xmlRelaxNGPtr; guarded by schema_lock */

static void
hyve_xml_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

static char *
strip_message(const char *msg)
{
    char *s = g_strdup(msg ? msg : "unknown error");

    return g_strchomp(s);
}

/* Skips from @p (inside markup opened by @open) past @close; NULL if absent. */
static const char *
skip_past(const char *p, const char *close)
{
    const char *e = strstr(p, close);

    return e ? e + strlen(close) : NULL;
}

/* Counts the elements and attributes of @xml lexically. Exact for a
 * well-formed document (comments, PIs and CDATA skipped, '=' outside quotes
 * in a start tag is one attribute); a malformed one is refused by the
 * parser afterwards whatever the counts. */
gboolean
hyve_xml_check_limits(const char *xml, const char *what, GError **error)
{
    guint64 elements = 0, attrs = 0;
    const char *p = xml;

    while (p && (p = strchr(p, '<'))) {
        guint64 here = 0;
        char quote = 0;

        if (g_str_has_prefix(p, "<!--")) {
            p = skip_past(p + 4, "-->");
            continue;
        }
        if (g_str_has_prefix(p, "<![CDATA[")) {
            p = skip_past(p + 9, "]]>");
            continue;
        }
        if (p[1] == '?' || p[1] == '!' || p[1] == '/') {
            p = skip_past(p + 1, p[1] == '?' ? "?>" : ">");
            continue;
        }
        elements++;
        for (p++; *p && (quote || *p != '>'); p++) {
            if (quote && *p == quote)
                quote = 0;
            else if (!quote && (*p == '\'' || *p == '"'))
                quote = *p;
            else if (!quote && *p == '=')
                here++;
        }
        attrs += here;
        if (here > HYVE_XML_MAX_ELEMENT_ATTRS) {
            hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                           "%s: an element has %" G_GUINT64_FORMAT " attributes, more than "
                           "the limit of %u", what, here, HYVE_XML_MAX_ELEMENT_ATTRS);
            return FALSE;
        }
        if (elements > HYVE_XML_MAX_ELEMENTS) {
            hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                           "%s: more than the limit of %u elements", what,
                           HYVE_XML_MAX_ELEMENTS);
            return FALSE;
        }
        if (attrs > HYVE_XML_MAX_ATTRS) {
            hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                           "%s: more than the limit of %u attributes", what,
                           HYVE_XML_MAX_ATTRS);
            return FALSE;
        }
    }
    return TRUE;
}

xmlDocPtr
hyve_xml_parse_string(const char *xml, const char *what, GError **error)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;

    hyve_xml_init();
    if (!xml || !*xml) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                       "%s: empty document", what);
        return NULL;
    }
    /* Refuse DTDs before libxml2 ever reads them (entity expansion bombs,
     * external entities); the check after parsing covers anything else. */
    if (strstr(xml, "<!DOCTYPE") || strstr(xml, "<!ENTITY")) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                       "%s: document type declarations and entities are not allowed", what);
        return NULL;
    }
    if (!hyve_xml_check_limits(xml, what, error))
        return NULL;
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_NO_MEMORY, "cannot create XML parser");
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)strlen(xml), what, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS |
                            XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOCDATA);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = strip_message(err ? err->message : NULL);

        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR, "%s:%d: %s",
                       what, err ? err->line : 0, msg);
        if (doc)
            xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);

    /* No DTD at all: that rules out entity declarations and expansion. */
    if (doc->intSubset || doc->extSubset) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                       "%s: document type declarations and entities are not allowed", what);
        xmlFreeDoc(doc);
        return NULL;
    }
    if (!xmlDocGetRootElement(doc)) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_ERROR,
                       "%s: missing root element", what);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static void
collect_error(void *data, xmlErrorPtr err)
{
    GString *buf = data;

    if (err && err->message)
        g_string_append(buf, err->message);
}

/* Caller holds schema_lock. */
static xmlRelaxNGPtr
schema_get_locked(const char *path, GError **error)
{
    xmlRelaxNGParserCtxtPtr pctxt;
    xmlRelaxNGPtr rng;
    g_autoptr(GString) errs = g_string_new(NULL);

    if (!schema_cache)
        schema_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    rng = g_hash_table_lookup(schema_cache, path);
    if (rng)
        return rng;

    pctxt = xmlRelaxNGNewParserCtxt(path);
    if (!pctxt) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_INTERNAL_ERROR,
                       "Unable to create RNG parser for %s", path);
        return NULL;
    }
    xmlRelaxNGSetParserStructuredErrors(pctxt, collect_error, errs);
    rng = xmlRelaxNGParse(pctxt);
    xmlRelaxNGFreeParserCtxt(pctxt);
    if (!rng) {
        g_strchomp(errs->str);
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_INTERNAL_ERROR,
                       "Unable to parse RNG %s: %s", path, errs->str);
        return NULL;
    }
    g_hash_table_insert(schema_cache, g_strdup(path), rng);
    return rng;
}

gboolean
hyve_xml_validate(xmlDocPtr doc, const char *schema_dir, const char *rng_file,
                  GError **error)
{
    g_autofree char *path = g_build_filename(schema_dir ? schema_dir : HYVE_LIBVIRT_SCHEMA_DIR,
                                             rng_file, NULL);
    g_autoptr(GString) errs = g_string_new(NULL);
    xmlRelaxNGValidCtxtPtr vctxt;
    xmlRelaxNGPtr rng;
    int rc;

    hyve_xml_init();
    g_mutex_lock(&schema_lock);
    rng = schema_get_locked(path, error);
    g_mutex_unlock(&schema_lock);
    if (!rng)
        return FALSE;
    /* cached schemas are never freed nor changed: validate unlocked */
    vctxt = xmlRelaxNGNewValidCtxt(rng);
    if (!vctxt) {
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_NO_MEMORY,
                       "Unable to create RNG validation context %s", path);
        return FALSE;
    }
    xmlRelaxNGSetValidStructuredErrors(vctxt, collect_error, errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    if (rc != 0) {
        g_strchomp(errs->str);
        hyve_error_set(error, HYVE_FROM_XML, HYVE_ERR_XML_INVALID_SCHEMA,
                       "Unable to validate doc against %s\n%s", path, errs->str);
        return FALSE;
    }
    return TRUE;
}

/* libvirt's virBufferEscapeString set: & < > ' " */
void
hyve_xml_escape(GString *buf, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': g_string_append(buf, "&amp;"); break;
        case '<': g_string_append(buf, "&lt;"); break;
        case '>': g_string_append(buf, "&gt;"); break;
        case '\'': g_string_append(buf, "&apos;"); break;
        case '"': g_string_append(buf, "&quot;"); break;
        default: g_string_append_c(buf, *s);
        }
    }
}

void
hyve_xml_text_element(GString *buf, int indent, const char *tag, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(buf, "%*s<%s>", indent, "", tag);
    hyve_xml_escape(buf, value);
    g_string_append_printf(buf, "</%s>\n", tag);
}
