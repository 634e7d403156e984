/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_metadata.c: <title>, <description> and namespaced
 * <metadata> children of a definition, with libvirt's
 * virDomainGetMetadata / virDomainSetMetadata semantics:
 *   - DESCRIPTION/TITLE: NULL or "" removes; uri/key must be NULL;
 *   - ELEMENT: uri required; setting needs a key (the namespace prefix),
 *     replaces every child in that namespace; NULL removes them;
 *   - reading something absent is NO_DOMAIN_METADATA.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include "hyve_domain_def.h"

enum { META_DESCRIPTION = 0, META_TITLE = 1, META_ELEMENT = 2 };

static xmlNodePtr
find_ns_child(xmlNodePtr root, const char *uri)
{
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
            g_str_equal((const char *)c->ns->href, uri))
            return c;
    }
    return NULL;
}

/* Drops @uri's namespace from @node and its subtree (the copy handed out
 * carries no prefix, as libvirt's). */
static void
strip_ns(xmlNodePtr node, const char *uri)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        if (node->ns && node->ns->href && g_str_equal((const char *)node->ns->href, uri))
            xmlSetNs(node, NULL);
        strip_ns(node->children, uri);
    }
}

/* libvirt rewrites the element set and its whole subtree into (key, uri). */
static void
set_ns(xmlNodePtr node, xmlNsPtr ns)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        xmlSetNs(node, ns);
        set_ns(node->children, ns);
    }
}

/* TRUE if an element below @node binds @key to something other than @uri
 * (it would shadow the namespace the subtree is rewritten into). */
static gboolean
key_rebound(xmlNodePtr node, const char *key, const char *uri)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        for (xmlNsPtr ns = node->nsDef; ns; ns = ns->next) {
            if (ns->prefix && g_str_equal((const char *)ns->prefix, key) &&
                !(ns->href && g_str_equal((const char *)ns->href, uri)))
                return TRUE;
        }
        if (key_rebound(node->children, key, uri))
            return TRUE;
    }
    return FALSE;
}

/* libvirt's rules for the namespace of a new element: @key a valid NCName
 * not starting with "xml" (reserved), @uri an absolute URI that can be
 * written inside an attribute without escaping. INVALID_ARG otherwise. */
static gboolean
check_key_uri(const char *key, const char *uri, GError **error)
{
    xmlURIPtr parsed;
    gboolean absolute;

    if (!key || !*key) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "key in %s must not be NULL", "virDomainSetMetadata");
        return FALSE;
    }
    if (xmlValidateNCName((const xmlChar *)key, 0) != 0) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "failed to validate prefix for a new XML namespace");
        return FALSE;
    }
    if (g_ascii_strncasecmp(key, "xml", 3) == 0) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "namespace prefix '%s' is reserved (names starting with 'xml')", key);
        return FALSE;
    }
    parsed = *uri && !strpbrk(uri, "'\"<>&\\ \t\r\n") ? xmlParseURI(uri) : NULL;
    absolute = parsed && parsed->scheme && *parsed->scheme;
    xmlFreeURI(parsed);
    if (!absolute) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "namespace uri '%s' is not an absolute URI (without quotes, "
                       "'<', '>', '&' or white space)", uri);
        return FALSE;
    }
    return TRUE;
}

/* Parses @metadata and moves it and its subtree into (key, uri).
 * Returns the parsed document or NULL with @error set. */
static xmlDocPtr
element_in_ns(const char *metadata, const char *key, const char *uri, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;
    xmlNsPtr ns = NULL;

    if (!check_key_uri(key, uri, error))
        return NULL;
    if (!(doc = hyve_xml_parse_string(metadata, "(metadata_xml)", error)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    for (xmlNsPtr d = root->nsDef; d; d = d->next) {
        if (d->prefix && g_str_equal((const char *)d->prefix, key))
            ns = d;
    }
    if (ns && !(ns->href && g_str_equal((const char *)ns->href, uri))) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "the metadata element binds prefix '%s' to '%s', not to '%s'",
                       key, (const char *)ns->href, uri);
        return NULL;
    }
    if (key_rebound(root->children, key, uri)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "an element inside the metadata binds prefix '%s' to another "
                       "namespace than '%s'", key, uri);
        return NULL;
    }
    if (!ns && !(ns = xmlNewNs(root, (const xmlChar *)uri, (const xmlChar *)key))) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "failed to create a new XML namespace");
        return NULL;
    }
    set_ns(root, ns);
    return g_steal_pointer(&doc);
}

static gboolean
check_type(int type, GError **error)
{
    if (type < META_DESCRIPTION || type > META_ELEMENT) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "unknown metadata type '%d'", type);
        return FALSE;
    }
    return TRUE;
}

char *
hyve_domain_def_get_metadata(const HyveDomainDef *def, int type, const char *uri,
                             GError **error)
{
    char *ret = NULL;

    if (!check_type(type, error))
        return NULL;
    if (type != META_ELEMENT && uri) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "uri in %s must be NULL", "virDomainGetMetadata");
        return NULL;
    }
    if (type == META_ELEMENT && !uri) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "uri in %s must not be NULL", "virDomainGetMetadata");
        return NULL;
    }
    switch (type) {
    case META_DESCRIPTION:
        ret = g_strdup(def->description);
        break;
    case META_TITLE:
        ret = g_strdup(def->title);
        break;
    case META_ELEMENT: {
        xmlNodePtr node = def->metadata ?
            find_ns_child(xmlDocGetRootElement(def->metadata), uri) : NULL;
        xmlNodePtr copy;
        xmlBufferPtr xb;

        if (!node)
            break;
        copy = xmlDocCopyNode(node, def->metadata, 1);
        strip_ns(copy, uri);
        for (xmlNsPtr *link = &copy->nsDef; *link; ) {
            xmlNsPtr ns = *link;

            if (ns->href && g_str_equal((const char *)ns->href, uri)) {
                *link = ns->next;
                ns->next = NULL;
                xmlFreeNs(ns);
            } else {
                link = &ns->next;
            }
        }
        xb = xmlBufferCreate();
        xmlNodeDump(xb, def->metadata, copy, 0, 1);
        ret = g_strdup((const char *)xmlBufferContent(xb));
        xmlBufferFree(xb);
        xmlFreeNode(copy);
        break;
    }
    }
    if (!ret)
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_NO_DOMAIN_METADATA,
                       "Requested metadata element is not present");
    return ret;
}

static gboolean
set_element(HyveDomainDef *def, const char *metadata, const char *key, const char *uri,
            GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root, old, newnode = NULL;

    if (metadata && !(doc = element_in_ns(metadata, key, uri, error)))
        return FALSE;
    if (!def->metadata) {
        def->metadata = xmlNewDoc((const xmlChar *)"1.0");
        xmlDocSetRootElement(def->metadata,
                             xmlNewDocNode(def->metadata, NULL, (const xmlChar *)"metadata", NULL));
    }
    root = xmlDocGetRootElement(def->metadata);
    if (doc)
        newnode = xmlDocCopyNode(xmlDocGetRootElement(doc), def->metadata, 1);
    while ((old = find_ns_child(root, uri))) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    if (newnode)
        xmlAddChild(root, newnode);
    return TRUE;
}

gboolean
hyve_domain_def_set_metadata(HyveDomainDef *def, int type, const char *metadata,
                             const char *key, const char *uri, GError **error)
{
    if (!check_type(type, error))
        return FALSE;
    if (type != META_ELEMENT && (uri || key)) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                       "%s in %s must be NULL", uri ? "uri" : "key", "virDomainSetMetadata");
        return FALSE;
    }
    switch (type) {
    case META_TITLE:
        if (metadata && strchr(metadata, '\n')) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                           "metadata title can't contain newlines");
            return FALSE;
        }
        g_clear_pointer(&def->title, g_free);
        if (metadata && *metadata)
            def->title = g_strdup(metadata);
        return TRUE;
    case META_DESCRIPTION:
        g_clear_pointer(&def->description, g_free);
        if (metadata && *metadata)
            def->description = g_strdup(metadata);
        return TRUE;
    default:
        if (!uri) {
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG,
                           "uri in %s must not be NULL", "virDomainSetMetadata");
            return FALSE;
        }
        return set_element(def, metadata, key, uri, error);
    }
}
