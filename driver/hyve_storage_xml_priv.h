/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_storage_xml_priv.h: XML helpers shared by hyve_storage_def.c (pools,
 * where they live) and hyve_storage_voldef.c (volumes). */
#pragma once

#include <libxml/tree.h>
#include "hyve_storage_def.h"

G_BEGIN_DECLS

/* Parses @xml (optionally validated against <schema_dir>/@rng), checks the
 * root element is @root_name; errors from STORAGE naming @what. */
xmlDocPtr hyve_storage_xml_read(const char *xml, const char *what, const char *root_name,
                                const char *rng, gboolean validate, const char *schema_dir,
                                GError **error);
gboolean hyve_storage_perms_parse(xmlNodePtr node, HyveStoragePerms *perms, GError **error);
void hyve_storage_perms_format(GString *buf, int indent, const HyveStoragePerms *perms);

G_END_DECLS
