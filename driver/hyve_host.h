/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host.h: facts about the host and what hyve offers on it:
 * node info, capabilities XML, domain capabilities XML, sysinfo, stats.
 * Read from the real host (sysfs, /proc, uname, cpuid); no driver state.
 * Implemented in hyve_host.c (node info, versions), hyve_host_stats.c,
 * hyve_host_sysinfo.c, hyve_capabilities.c and hyve_domain_capabilities.c.
 * hyve_driver.c wraps these as the hyve_driver_* host functions.
 *
 * Everything hyve can run (and so everything domcapabilities lists) is
 * described once in hyve_domain_capabilities.c; the domain-definition
 * checks in hyve_domain_*.c reject what is outside it with
 * CONFIG_UNSUPPORTED.
 */
#pragma once

#include <glib.h>
#include "hyve_driver.h"

G_BEGIN_DECLS

/* Path the capabilities report as <emulator> (the installed runner). */
#define HYVE_EMULATOR_PATH HYVE_SBINDIR "/bhyve-runner"

gboolean hyve_host_node_info(HyveNodeInfo *info, GError **error);
char *hyve_host_capabilities_xml(gboolean privileged, GError **error);
char *hyve_host_domain_capabilities_xml(const char *emulator, const char *arch,
                                        const char *machine, const char *virttype,
                                        guint flags, GError **error);
char *hyve_host_sysinfo_xml(guint flags, GError **error);
char *hyve_host_hostname(GError **error);
int hyve_host_max_vcpus(const char *type, GError **error);
guint64 hyve_host_version(void);
guint64 hyve_host_free_memory(GError **error);
GArray *hyve_host_memory_stats(int cell, guint flags, GError **error);
GArray *hyve_host_cpu_stats(int cpu, guint flags, GError **error);
int hyve_host_cpu_map(guint8 **cpumap, guint *online, guint flags, GError **error);

G_END_DECLS
