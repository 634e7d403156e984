/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_def.c: storage pool definitions <-> libvirt's pool XML
 * (storagepool.rng), with the pieces the volume XML
 * (hyve_storage_voldef.c) shares: reading a document (errors re-reported
 * from STORAGE), <permissions>, escaping.
 *
 * Parsing follows libvirt's virStoragePoolDefParseXML for the elements
 * hyve models (same messages); formatting follows virStoragePoolDefFormat
 * (element order, 2-space indentation), so the output validates.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include "hyve_storage_priv.h"
#include "hyve_storage_xml_priv.h"
#include "hyve_domain_def.h"
#include "hyve_domain_parse_priv.h"


static const char *const pool_type_names[HYVE_POOL_TYPE_LAST] = {
    "dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath",
    "rbd", "sheepdog", "gluster", "zfs", "vstorage",
};

const char *
hyve_pool_type_to_string(HyvePoolType type)
{
    if ((int)type < 0 || type >= HYVE_POOL_TYPE_LAST)
        return NULL;
    return pool_type_names[type];
}

int
hyve_pool_type_from_string(const char *s)
{
    for (int i = 0; s && i < HYVE_POOL_TYPE_LAST; i++) {
        if (g_str_equal(s, pool_type_names[i]))
            return i;
    }
    return -1;
}

/* ---- shared helpers ------------------------------------------------------ */

/* A GError of hyve_xml_* (domain XML) again from STORAGE, same code and text. */
static void
storage_restamp(GError **error, GError *err)
{
    g_set_error_literal(error, hyve_error_quark(HYVE_FROM_STORAGE), err->code, err->message);
    g_error_free(err);
}

xmlDocPtr
hyve_storage_xml_read(const char *xml, const char *what, const char *root_name, const char *rng,
                      gboolean validate, const char *schema_dir, GError **error)
{
    GError *err = NULL;
    xmlDocPtr doc = hyve_xml_parse_string(xml, what, &err);
    xmlNodePtr root;

    if (!doc) {
        storage_restamp(error, err);
        return NULL;
    }
    if (validate && !hyve_xml_validate(doc, schema_dir, rng, &err)) {
        storage_restamp(error, err);
        xmlFreeDoc(doc);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!g_str_equal((const char *)root->name, root_name)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "unexpected root element <%s>, expecting <%s>",
                       (const char *)root->name, root_name);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* Text of @node with surrounding blanks removed; NULL when absent or empty
 * (as libvirt's XPath string(), which gives "" → NULL). */
static char *
text_of(xmlNodePtr node)
{
    char *s = hyve_xml_text(node);

    if (s && !*g_strstrip(s))
        g_clear_pointer(&s, g_free);
    return s;
}

static gboolean
perm_id_parse(xmlNodePtr node, gint64 *out, const char *what, GError **error)
{
    g_autofree char *s = text_of(node);
    gint64 v;

    *out = -1;
    if (!node)
        return TRUE;
    /* a uid_t/gid_t, or -1 (libvirt once wrote -1 for "unset") */
    if (!s || !g_ascii_string_to_signed(s, 10, -1, G_MAXUINT32, &v, NULL)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR, "malformed %s element", what);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

gboolean
hyve_storage_perms_parse(xmlNodePtr node, HyveStoragePerms *perms, GError **error)
{
    g_autofree char *mode = NULL;
    guint64 m;

    perms->mode = -1;
    perms->uid = -1;
    perms->gid = -1;
    if (!node)
        return TRUE;
    mode = text_of(hyve_xml_child(node, "mode"));
    if (mode) {
        if (!g_ascii_string_to_unsigned(mode, 8, 0, 0777, &m, NULL)) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR, "malformed octal mode");
            return FALSE;
        }
        perms->mode = (int)m;
    }
    /* <label> is accepted and ignored (no security drivers) */
    return perm_id_parse(hyve_xml_child(node, "owner"), &perms->uid, "owner", error) &&
           perm_id_parse(hyve_xml_child(node, "group"), &perms->gid, "group", error);
}

void
hyve_storage_perms_format(GString *buf, int indent, const HyveStoragePerms *perms)
{
    if (perms->mode < 0 && perms->uid < 0 && perms->gid < 0)
        return;
    g_string_append_printf(buf, "%*s<permissions>\n", indent, "");
    if (perms->mode >= 0)
        g_string_append_printf(buf, "%*s<mode>0%o</mode>\n", indent + 2, "", perms->mode);
    if (perms->uid >= 0)
        g_string_append_printf(buf, "%*s<owner>%" G_GINT64_FORMAT "</owner>\n", indent + 2, "",
                               perms->uid);
    if (perms->gid >= 0)
        g_string_append_printf(buf, "%*s<group>%" G_GINT64_FORMAT "</group>\n", indent + 2, "",
                               perms->gid);
    g_string_append_printf(buf, "%*s</permissions>\n", indent, "");
}

/* "//a//b/" -> "/a/b": repeated slashes squashed, a trailing slash dropped
 * (libvirt cleans target paths the same way before using or comparing them). */
char *
hyve_storage_sanitize_path(const char *path)
{
    GString *out = g_string_sized_new(strlen(path));

    for (const char *p = path; *p; p++) {
        if (*p == '/' && out->len && out->str[out->len - 1] == '/')
            continue;
        g_string_append_c(out, *p);
    }
    if (out->len > 1 && out->str[out->len - 1] == '/')
        g_string_truncate(out, out->len - 1);
    return g_string_free(out, FALSE);
}

/* ---- pool definitions ---------------------------------------------------- */

void
hyve_pool_def_free(HyvePoolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->source_name);
    g_strfreev(def->source_devices);
    g_free(def->source_format);
    g_free(def->target_path);
    g_free(def);
}

HyvePoolDef *
hyve_pool_def_copy(const HyvePoolDef *def)
{
    HyvePoolDef *c = g_new0(HyvePoolDef, 1);

    *c = *def;
    c->name = g_strdup(def->name);
    c->source_name = g_strdup(def->source_name);
    c->source_devices = g_strdupv(def->source_devices);
    c->source_format = g_strdup(def->source_format);
    c->target_path = g_strdup(def->target_path);
    return c;
}

static gboolean
parse_type(HyvePoolDef *def, xmlNodePtr root, GError **error)
{
    g_autofree char *type = hyve_xml_attr(root, "type");
    int t;

    if (!type) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "Missing required attribute 'type' in element 'pool'");
        return FALSE;
    }
    if ((t = hyve_pool_type_from_string(type)) < 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "Invalid value for attribute 'type' in element 'pool': '%s'.", type);
        return FALSE;
    }
    if (t != HYVE_POOL_TYPE_DIR && t != HYVE_POOL_TYPE_LOGICAL) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage pool type '%s' is not supported by hyve (supported: dir, logical)",
                       type);
        return FALSE;
    }
    def->type = t;
    return TRUE;
}

/* <source> of a logical pool: devices, VG name, format. A dir pool has no
 * source (libvirt ignores what is there). */
static gboolean
parse_logical_source(HyvePoolDef *def, xmlNodePtr source, GError **error)
{
    g_autoptr(GPtrArray) devs = g_ptr_array_new_with_free_func(g_free);
    xmlNodePtr fmt = hyve_xml_child(source, "format");

    for (xmlNodePtr c = source ? source->children : NULL; c; c = c->next) {
        char *path;

        if (c->type != XML_ELEMENT_NODE || !g_str_equal((const char *)c->name, "device"))
            continue;
        if (!(path = hyve_xml_attr(c, "path"))) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                           "missing storage pool source device path");
            return FALSE;
        }
        g_ptr_array_add(devs, path);
    }
    g_ptr_array_add(devs, NULL);
    def->source_devices = (char **)g_ptr_array_free(g_steal_pointer(&devs), FALSE);
    def->source_name = text_of(hyve_xml_child(source, "name"));
    if (fmt) {
        g_autofree char *type = hyve_xml_attr(fmt, "type");

        if (type && !g_str_equal(type, "lvm2")) {
            if (g_str_equal(type, "unknown"))
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                               "storage pool format '%s' is not supported by hyve "
                               "(supported: lvm2)", type);
            else
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                               "unknown pool format type %s", type);
            return FALSE;
        }
        def->source_format = g_steal_pointer(&type);
    }
    return TRUE;
}

static gboolean
parse_pool(HyvePoolDef *def, xmlNodePtr root, GError **error)
{
    xmlNodePtr target = hyve_xml_child(root, "target");
    g_autofree char *uuid = NULL;

    if (!parse_type(def, root, error))
        return FALSE;
    if (def->type == HYVE_POOL_TYPE_LOGICAL &&
        !parse_logical_source(def, hyve_xml_child(root, "source"), error))
        return FALSE;
    if (def->type == HYVE_POOL_TYPE_DIR)
        def->source_devices = g_new0(char *, 1);

    def->name = text_of(hyve_xml_child(root, "name"));
    if (!def->name && def->type == HYVE_POOL_TYPE_LOGICAL)
        def->name = g_strdup(def->source_name);
    if (!def->name) {
        /* hyve_storage_def.h: NO_NAME (libvirt: XML_ERROR "missing pool
         * source name element") */
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_NAME,
                       "(storage_pool_definition)");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "name %s cannot contain '/'", def->name);
        return FALSE;
    }

    uuid = text_of(hyve_xml_child(root, "uuid"));
    if (!uuid) {
        hyve_uuid_generate(def->uuid);
    } else if (!hyve_uuid_parse(uuid, def->uuid)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR, "malformed uuid element");
        return FALSE;
    }

    if (def->type == HYVE_POOL_TYPE_LOGICAL) {
        if (!def->source_name)
            def->source_name = g_strdup(def->name);
        /* as libvirt: the VG's directory, whatever <target><path> says */
        def->target_path = g_strdup_printf("/dev/%s", def->source_name);
    } else {
        g_autofree char *path = text_of(hyve_xml_child(target, "path"));

        if (!path) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                           "missing storage pool target path");
            return FALSE;
        }
        for (const char *p = path; *p; p++) {
            if ((guchar) *p < 0x20 || *p == 0x7f) {
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                               "storage pool target path contains a control character");
                return FALSE;
            }
        }
        /* blanks the squashing uncovers ("/a/ /" -> "/a/ ") go too, so that
         * the stored definition reads back as the same path (found by
         * tests/fuzz fuzz-pool-xml) */
        def->target_path = hyve_storage_sanitize_path(path);
        for (;;) {
            g_autofree char *again = hyve_storage_sanitize_path(g_strchomp(def->target_path));

            if (g_str_equal(again, def->target_path))
                break;
            g_free(def->target_path);
            def->target_path = g_steal_pointer(&again);
        }
        if (!*def->target_path) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                           "missing storage pool target path");
            return FALSE;
        }
    }
    return hyve_storage_perms_parse(hyve_xml_child(target, "permissions"), &def->perms, error);
}

HyvePoolDef *
hyve_pool_def_parse(const char *xml, gboolean validate, const char *schema_dir, GError **error)
{
    g_autoptr(xmlDoc) doc = hyve_storage_xml_read(xml, "(storage_pool_definition)", "pool",
                                                  "storagepool.rng", validate, schema_dir,
                                                  error);
    g_autoptr(HyvePoolDef) def = NULL;

    if (!doc)
        return NULL;
    def = g_new0(HyvePoolDef, 1);
    if (!parse_pool(def, xmlDocGetRootElement(doc), error))
        return NULL;
    return g_steal_pointer(&def);
}

char *
hyve_pool_def_format(const HyvePoolDef *def)
{
    GString *buf = g_string_new(NULL);
    char uuid[HYVE_UUID_STRING_LEN];

    g_string_append_printf(buf, "<pool type='%s'>\n", hyve_pool_type_to_string(def->type));
    hyve_xml_text_element(buf, 2, "name", def->name);
    hyve_uuid_format(def->uuid, uuid);
    g_string_append_printf(buf, "  <uuid>%s</uuid>\n", uuid);
    g_string_append_printf(buf, "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n"
                           "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n"
                           "  <available unit='bytes'>%" G_GUINT64_FORMAT "</available>\n",
                           def->capacity, def->allocation, def->available);
    g_string_append(buf, "  <source>\n");
    if (def->type == HYVE_POOL_TYPE_LOGICAL) {
        for (gsize i = 0; def->source_devices && def->source_devices[i]; i++) {
            g_string_append(buf, "    <device path='");
            hyve_xml_escape(buf, def->source_devices[i]);
            g_string_append(buf, "'/>\n");
        }
        hyve_xml_text_element(buf, 4, "name", def->source_name);
        g_string_append_printf(buf, "    <format type='%s'/>\n",
                               def->source_format ? def->source_format : "lvm2");
    }
    g_string_append(buf, "  </source>\n");
    g_string_append(buf, "  <target>\n");
    hyve_xml_text_element(buf, 4, "path", def->target_path);
    hyve_storage_perms_format(buf, 4, &def->perms);
    g_string_append(buf, "  </target>\n");
    g_string_append(buf, "</pool>\n");
    return g_string_free(buf, FALSE);
}
