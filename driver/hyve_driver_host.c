/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_host.c: the host half of hyve_driver.h, thin wrappers of
 * hyve_host_* (hyve_host*.c and hyve_*capabilities.c do the work).
 */
#include "hyve-config.h"

#include "hyve_driver_priv.h"
#include "hyve_host.h"

gboolean
hyve_driver_node_get_info(HyveDriver *drv, HyveNodeInfo *info, GError **error)
{
    return hyve_host_node_info(info, error);
}

char *
hyve_driver_get_capabilities(HyveDriver *drv, GError **error)
{
    return hyve_host_capabilities_xml(hyve_driver_get_config(drv)->privileged, error);
}

char *
hyve_driver_get_domain_capabilities(HyveDriver *drv, const char *emulator, const char *arch,
                                    const char *machine, const char *virttype, guint flags,
                                    GError **error)
{
    return hyve_host_domain_capabilities_xml(emulator, arch, machine, virttype, flags, error);
}

char *
hyve_driver_get_sysinfo(HyveDriver *drv, guint flags, GError **error)
{
    return hyve_host_sysinfo_xml(flags, error);
}

char *
hyve_driver_get_hostname(HyveDriver *drv, GError **error)
{
    return hyve_host_hostname(error);
}

int
hyve_driver_get_max_vcpus(HyveDriver *drv, const char *type, GError **error)
{
    return hyve_host_max_vcpus(type, error);
}

guint64
hyve_driver_get_version(HyveDriver *drv)
{
    return hyve_host_version();
}

guint64
hyve_driver_node_get_free_memory(HyveDriver *drv, GError **error)
{
    return hyve_host_free_memory(error);
}

GArray *
hyve_driver_node_get_memory_stats(HyveDriver *drv, int cell, guint flags, GError **error)
{
    return hyve_host_memory_stats(cell, flags, error);
}

GArray *
hyve_driver_node_get_cpu_stats(HyveDriver *drv, int cpu, guint flags, GError **error)
{
    return hyve_host_cpu_stats(cpu, flags, error);
}

int
hyve_driver_node_get_cpu_map(HyveDriver *drv, guint8 **cpumap, guint *online, guint flags,
                             GError **error)
{
    return hyve_host_cpu_map(cpumap, online, flags, error);
}
