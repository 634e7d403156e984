/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_domain_parse_priv.h: helpers shared by the hyve_domain_parse*.c files. */
#pragma once

#include <libxml/tree.h>
#include "hyve_domain_def.h"

/* First element child called @name, or NULL (NULL-safe). */
xmlNodePtr hyve_xml_child(xmlNodePtr node, const char *name);
/* g_malloc'ed copies, NULL when absent (NULL-safe). */
char *hyve_xml_attr(xmlNodePtr node, const char *name);
char *hyve_xml_text(xmlNodePtr node);
char *hyve_xml_child_text(xmlNodePtr node, const char *name);
/* CONFIG_UNSUPPORTED "<what> '<value>' is not supported; hyve supports <supported>" */
gboolean hyve_domain_unsupported(GError **error, const char *what, const char *value,
                                 const char *supported);
gboolean hyve_parse_uint(const char *s, guint64 max, guint64 *out);
gboolean hyve_parse_addr_uint(const char *s, guint64 *out);
gboolean hyve_domain_parse_pci_addr(xmlNodePtr node, HyvePciAddr *addr, GError **error);
gboolean hyve_domain_parse_devices(HyveDomainDef *def, xmlNodePtr devs, GError **error);
/* libvirt's guess of a disk's bus from its target name (sda -> scsi) */
const char *hyve_domain_disk_bus_from_target(const char *dev);
