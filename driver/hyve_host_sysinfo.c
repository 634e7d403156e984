/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host_sysinfo.c: the host's SMBIOS data as libvirt's
 * <sysinfo type='smbios'> XML (virConnectGetSysinfo), read from
 * /sys/class/dmi/id.
 */
#include "hyve-config.h"

#include "hyve_host_priv.h"

/* SMBIOS sections the domain schema's <sysinfo type='smbios'> accepts,
 * each entry from one /sys/class/dmi/id attribute. */
typedef struct {
    const char *entry;
    const char *file;
} HyveDmiEntry;

static const HyveDmiEntry hyve_dmi_bios[] = {
    { "vendor", "bios_vendor" }, { "version", "bios_version" },
    { "date", "bios_date" }, { "release", "bios_release" }, { NULL, NULL },
};
static const HyveDmiEntry hyve_dmi_system[] = {
    { "manufacturer", "sys_vendor" }, { "product", "product_name" },
    { "version", "product_version" }, { "serial", "product_serial" },
    { "uuid", "product_uuid" }, { "sku", "product_sku" },
    { "family", "product_family" }, { NULL, NULL },
};
static const HyveDmiEntry hyve_dmi_board[] = {
    { "manufacturer", "board_vendor" }, { "product", "board_name" },
    { "version", "board_version" }, { "serial", "board_serial" },
    { "asset", "board_asset_tag" }, { NULL, NULL },
};
static const HyveDmiEntry hyve_dmi_chassis[] = {
    { "manufacturer", "chassis_vendor" }, { "version", "chassis_version" },
    { "serial", "chassis_serial" }, { "asset", "chassis_asset_tag" }, { NULL, NULL },
};

static void
hyve_host_sysinfo_section(GString *xml, const char *name, const HyveDmiEntry *entries)
{
    gboolean opened = FALSE;

    for (guint i = 0; entries[i].entry; i++) {
        g_autofree char *path = g_strconcat("/sys/class/dmi/id/", entries[i].file, NULL);
        g_autofree char *value = hyve_host_read(path, NULL);
        g_autofree char *escaped = NULL;

        if (!value || !*g_strstrip(value) || !g_utf8_validate(value, -1, NULL))
            continue;
        if (!opened) {
            g_string_append_printf(xml, "  <%s>\n", name);
            opened = TRUE;
        }
        escaped = g_markup_escape_text(value, -1);
        g_string_append_printf(xml, "    <entry name='%s'>%s</entry>\n",
                               entries[i].entry, escaped);
    }
    if (opened)
        g_string_append_printf(xml, "  </%s>\n", name);
}

char *
hyve_host_sysinfo_xml(guint flags, GError **error)
{
    GString *xml;

    if (flags != 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function bhyveConnectGetSysinfo", flags);
        return NULL;
    }
    xml = g_string_new("<sysinfo type='smbios'>\n");
    hyve_host_sysinfo_section(xml, "bios", hyve_dmi_bios);
    hyve_host_sysinfo_section(xml, "system", hyve_dmi_system);
    hyve_host_sysinfo_section(xml, "baseBoard", hyve_dmi_board);
    hyve_host_sysinfo_section(xml, "chassis", hyve_dmi_chassis);
    g_string_append(xml, "</sysinfo>\n");
    return g_string_free(xml, FALSE);
}
