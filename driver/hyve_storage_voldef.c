/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_voldef.c: storage volume definitions <-> libvirt's volume
 * XML (storagevol.rng), and libvirt's scaled integers for sizes.
 *
 * Parsing follows libvirt's virStorageVolDefParseXML for the elements hyve
 * models (same messages) and refuses what hyve cannot create (formats
 * other than raw, backing stores, encryption); formatting follows
 * virStorageVolDefFormat.
 */
#include "hyve-config.h"

#include <string.h>
#include <libxml/tree.h>
#include "hyve_storage_priv.h"
#include "hyve_storage_xml_priv.h"
#include "hyve_domain_def.h"
#include "hyve_domain_parse_priv.h"


/* Digits only, no sign, at most G_MAXUINT64. Not g_ascii_string_to_unsigned:
 * it reads errno after g_ascii_strtoull, whose first call in a process
 * initialises a C locale under g_once, and a thread that waits for that
 * once can come back with errno set (EAGAIN from the futex): a valid number
 * was then refused now and then when several threads parsed at once. */
static gboolean
parse_decimal(const char *p, guint64 *out)
{
    guint64 v = 0;

    if (!p || !g_ascii_isdigit(*p))
        return FALSE;
    for (; g_ascii_isdigit(*p); p++) {
        guint d = *p - '0';

        if (v > (G_MAXUINT64 - d) / 10)
            return FALSE;
        v = v * 10 + d;
    }
    if (*p)
        return FALSE;
    *out = v;
    return TRUE;
}

/* libvirt's virScaleInteger: b/byte/bytes; K/KiB/M/MiB/... (1024, any case);
 * KB/MB/... (1000); at most LLONG_MAX bytes (off_t is signed). */
gboolean
hyve_storage_parse_size(const char *value, const char *unit, guint64 *out, GError **error)
{
    guint64 v, scale = 1;
    const char *p = value;

    while (p && g_ascii_isspace(*p))
        p++;
    if (!parse_decimal(p, &v)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "malformed capacity element");
        return FALSE;
    }
    if (!unit)
        unit = "";
    if (*unit && g_ascii_strcasecmp(unit, "b") != 0 && g_ascii_strcasecmp(unit, "byte") != 0 &&
        g_ascii_strcasecmp(unit, "bytes") != 0) {
        static const char prefixes[] = "kmgtpe";
        const char *pos = strchr(prefixes, g_ascii_tolower(unit[0]));
        guint64 base;

        if (!unit[1] || g_ascii_strcasecmp(unit + 1, "iB") == 0)
            base = 1024;
        else if (g_ascii_tolower(unit[1]) == 'b' && !unit[2])
            base = 1000;
        else
            pos = NULL;
        if (!pos || !unit[0]) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                           "unknown suffix '%s'", unit);
            return FALSE;
        }
        for (const char *q = prefixes; q <= pos; q++)
            scale *= base;
    }
    if (v && v > (guint64)G_MAXINT64 / scale) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OVERFLOW,
                       "value too large: %" G_GUINT64_FORMAT "%s", v, unit);
        return FALSE;
    }
    *out = v * scale;
    return TRUE;
}

void
hyve_vol_def_free(HyveVolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->key);
    g_free(def->target_path);
    g_free(def->format);
    g_free(def);
}

HyveVolDef *
hyve_vol_def_copy(const HyveVolDef *def)
{
    HyveVolDef *c = g_new0(HyveVolDef, 1);

    *c = *def;
    c->name = g_strdup(def->name);
    c->key = g_strdup(def->key);
    c->target_path = g_strdup(def->target_path);
    c->format = g_strdup(def->format);
    return c;
}

static char *
text_of(xmlNodePtr node)
{
    char *s = hyve_xml_text(node);

    if (s && !*g_strstrip(s))
        g_clear_pointer(&s, g_free);
    return s;
}

static const char *const vol_type_names[] = { "file", "block", "dir" };

static gboolean
parse_vol_type(HyveVolDef *def, xmlNodePtr root, GError **error)
{
    g_autofree char *type = hyve_xml_attr(root, "type");

    def->type = HYVE_VOL_TYPE_FILE;
    if (!type)
        return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(vol_type_names); i++) {
        if (g_str_equal(type, vol_type_names[i])) {
            def->type = (HyveVolType)i;
            return TRUE;
        }
    }
    if (g_str_equal(type, "network") || g_str_equal(type, "netdir") || g_str_equal(type, "ploop"))
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage volume type '%s' is not supported by hyve "
                       "(supported: file, block)", type);
    else
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "unknown volume type '%s'", type);
    return FALSE;
}

/* libvirt's virStorageFileFormat names (none excluded). */
static const char *const file_formats[] = {
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
    "cow", "qcow", "qcow2", "qed", "vmdk", "luks", NULL,
};

static gboolean
parse_vol_format(HyveVolDef *def, xmlNodePtr target, HyvePoolType pool_type, GError **error)
{
    g_autofree char *format = hyve_xml_attr(hyve_xml_child(target, "format"), "type");

    def->format = g_strdup("raw");
    if (!format || g_str_equal(format, "raw"))
        return TRUE;
    /* logical pools have no volume formats: libvirt ignores <format> there */
    if (pool_type == HYVE_POOL_TYPE_LOGICAL && g_str_equal(format, "none"))
        return TRUE;
    if (pool_type != HYVE_POOL_TYPE_LOGICAL &&
        !g_strv_contains((const char *const *)file_formats, format)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "unknown volume format type %s", format);
        return FALSE;
    }
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                   "storage volume format '%s' is not supported by hyve (supported: raw)",
                   format);
    return FALSE;
}

static gboolean
parse_size_element(xmlNodePtr node, guint64 *out, GError **error)
{
    g_autofree char *value = hyve_xml_text(node);
    g_autofree char *unit = hyve_xml_attr(node, "unit");

    return hyve_storage_parse_size(value, unit, out, error);
}

static gboolean
parse_vol(HyveVolDef *def, xmlNodePtr root, HyvePoolType pool_type, GError **error)
{
    xmlNodePtr target = hyve_xml_child(root, "target");
    xmlNodePtr node;

    def->name = text_of(hyve_xml_child(root, "name"));
    if (!def->name) {
        /* hyve_storage_def.h: NO_NAME (libvirt: XML_ERROR "missing volume
         * name element") */
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_NAME,
                       "(storage_volume_definition)");
        return FALSE;
    }
    if (strchr(def->name, '/')) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "volume name '%s' cannot contain '/'", def->name);
        return FALSE;
    }
    if (g_str_equal(def->name, ".") || g_str_equal(def->name, "..")) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "volume name '%s' is not allowed", def->name);
        return FALSE;
    }
    def->key = text_of(hyve_xml_child(root, "key"));
    if (!parse_vol_type(def, root, error))
        return FALSE;
    if (hyve_xml_child(root, "backingStore")) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "volumes with a <backingStore> are not supported by hyve");
        return FALSE;
    }
    if (hyve_xml_child(target, "encryption")) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "volume <encryption> is not supported by hyve");
        return FALSE;
    }

    if (!(node = hyve_xml_child(root, "capacity"))) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR, "missing capacity element");
        return FALSE;
    }
    if (!parse_size_element(node, &def->capacity, error))
        return FALSE;
    if ((node = hyve_xml_child(root, "allocation"))) {
        if (!parse_size_element(node, &def->allocation, error))
            return FALSE;
        def->has_allocation = TRUE;
    } else {
        def->allocation = def->capacity;   /* as libvirt: fully allocated */
    }
    /* output only in libvirt; read back so our own XML round-trips */
    if ((node = hyve_xml_child(root, "physical")) &&
        !parse_size_element(node, &def->physical, error))
        return FALSE;

    def->target_path = text_of(hyve_xml_child(target, "path"));
    if (!parse_vol_format(def, target, pool_type, error))
        return FALSE;
    return hyve_storage_perms_parse(hyve_xml_child(target, "permissions"), &def->perms, error);
}

HyveVolDef *
hyve_vol_def_parse(const char *xml, HyvePoolType pool_type, gboolean validate,
                   const char *schema_dir, GError **error)
{
    g_autoptr(xmlDoc) doc = hyve_storage_xml_read(xml, "(storage_volume_definition)", "volume",
                                                  "storagevol.rng", validate, schema_dir,
                                                  error);
    g_autoptr(HyveVolDef) def = NULL;

    if (!doc)
        return NULL;
    def = g_new0(HyveVolDef, 1);
    if (!parse_vol(def, xmlDocGetRootElement(doc), pool_type, error))
        return NULL;
    return g_steal_pointer(&def);
}

char *
hyve_vol_def_format(const HyveVolDef *def, HyvePoolType pool_type)
{
    GString *buf = g_string_new(NULL);
    const char *type = (guint)def->type < G_N_ELEMENTS(vol_type_names) ?
                       vol_type_names[def->type] : "file";

    g_string_append_printf(buf, "<volume type='%s'>\n", type);
    hyve_xml_text_element(buf, 2, "name", def->name);
    hyve_xml_text_element(buf, 2, "key", def->key);
    g_string_append_printf(buf, "  <capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>\n"
                           "  <allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>\n",
                           def->capacity, def->allocation);
    if (def->physical)
        g_string_append_printf(buf, "  <physical unit='bytes'>%" G_GUINT64_FORMAT
                               "</physical>\n", def->physical);
    g_string_append(buf, "  <target>\n");
    hyve_xml_text_element(buf, 4, "path", def->target_path);
    if (pool_type != HYVE_POOL_TYPE_LOGICAL) {
        g_string_append(buf, "    <format type='");
        hyve_xml_escape(buf, def->format ? def->format : "raw");
        g_string_append(buf, "'/>\n");
    }
    hyve_storage_perms_format(buf, 4, &def->perms);
    g_string_append(buf, "  </target>\n");
    g_string_append(buf, "</volume>\n");
    return g_string_free(buf, FALSE);
}
