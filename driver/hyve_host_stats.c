/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host_stats.c: the host's memory and CPU statistics and its online
 * CPU map (virNodeGetFreeMemory, virNodeGetMemoryStats,
 * virNodeGetCPUStats, virNodeGetCPUMap).
 *
 * Argument errors use libvirt's wording for the same call (libvirt 9.0
 * virhostmem.c / virhostcpu.c report from VIR_FROM_NONE), so clients see
 * identical codes and messages.
 */
#include "hyve-config.h"

#include <string.h>
#include <unistd.h>

#include "hyve_host_priv.h"

static void
hyve_host_stat_add(GArray *stats, const char *field, guint64 value)
{
    HyveNodeStat stat = { 0 };

    g_strlcpy(stat.field, field, sizeof(stat.field));
    stat.value = value;
    g_array_append_val(stats, stat);
}

guint64
hyve_host_free_memory(GError **error)
{
    g_autofree char *meminfo = hyve_host_read("/proc/meminfo", error);
    guint64 kib = 0;

    if (!meminfo)
        return 0;
    if (!hyve_host_meminfo_value(meminfo, "MemFree", &kib)) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INTERNAL_ERROR,
                       "no MemFree line in /proc/meminfo");
        return 0;
    }
    return kib * 1024;
}

GArray *
hyve_host_memory_stats(int cell, guint flags, GError **error)
{
    static const struct { const char *key; const char *field; } fields[] = {
        { "MemTotal", "total" }, { "MemFree", "free" },
        { "Buffers", "buffers" }, { "Cached", "cached" },
    };
    g_autoptr(GArray) stats = g_array_new(FALSE, TRUE, sizeof(HyveNodeStat));
    g_autoptr(GArray) nodes = hyve_host_read_cpulist("/sys/devices/system/node/possible");
    g_autofree char *path = NULL;
    g_autofree char *meminfo = NULL;
    guint nfields = G_N_ELEMENTS(fields);

    if (flags != 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virHostMemGetStats", flags);
        return NULL;
    }
    /* Without NUMA the whole host is cell 0. */
    if (cell == 0 && (!nodes || nodes->len == 0))
        cell = -1;
    if (cell != -1) {
        int max_node = 0;

        for (guint i = 0; nodes && i < nodes->len; i++)
            max_node = MAX(max_node, (int)g_array_index(nodes, guint, i));
        if (cell < -1 || cell > max_node) {
            hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INVALID_ARG,
                           "cellNum in virHostMemGetStats must be less than or equal to %d",
                           max_node);
            return NULL;
        }
        path = g_strdup_printf("/sys/devices/system/node/node%d/meminfo", cell);
        nfields = 2;   /* per cell: total and free only, as libvirt */
    } else {
        path = g_strdup("/proc/meminfo");
    }

    if (!(meminfo = hyve_host_read(path, error)))
        return NULL;
    for (guint i = 0; i < nfields; i++) {
        guint64 kib;
        if (hyve_host_meminfo_value(meminfo, fields[i].key, &kib))
            hyve_host_stat_add(stats, fields[i].field, kib);
    }
    if (stats->len == 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INTERNAL_ERROR,
                       "no available memory line found");
        return NULL;
    }
    return g_steal_pointer(&stats);
}

GArray *
hyve_host_cpu_stats(int cpu, guint flags, GError **error)
{
    g_autofree char *stat = NULL;
    g_autofree char *want = NULL;
    g_auto(GStrv) lines = NULL;
    long hz = sysconf(_SC_CLK_TCK);
    guint64 tick_ns = 1000000000ull / (guint64)(hz > 0 ? hz : 100);

    if (flags != 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virHostCPUGetStats", flags);
        return NULL;
    }
    if (!(stat = hyve_host_read("/proc/stat", error)))
        return NULL;

    want = cpu == -1 ? g_strdup("cpu ") : g_strdup_printf("cpu%d ", cpu);
    lines = g_strsplit(stat, "\n", -1);
    for (guint i = 0; cpu >= -1 && lines[i]; i++) {
        /* cpu  user nice system idle iowait irq softirq ... (clock ticks) */
        guint64 v[7] = { 0 };
        GArray *stats;
        char *p;

        if (!g_str_has_prefix(lines[i], want))
            continue;
        p = lines[i] + strlen(want);
        for (guint k = 0; k < G_N_ELEMENTS(v); k++)
            v[k] = g_ascii_strtoull(p, &p, 10);

        stats = g_array_new(FALSE, TRUE, sizeof(HyveNodeStat));
        hyve_host_stat_add(stats, "kernel", (v[2] + v[5] + v[6]) * tick_ns);
        hyve_host_stat_add(stats, "user", (v[0] + v[1]) * tick_ns);
        hyve_host_stat_add(stats, "idle", v[3] * tick_ns);
        hyve_host_stat_add(stats, "iowait", v[4] * tick_ns);
        return stats;
    }
    hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INVALID_ARG,
                   "Invalid cpuNum in virHostCPUGetStatsLinux");
    return NULL;
}

int
hyve_host_cpu_map(guint8 **cpumap, guint *online, guint flags, GError **error)
{
    g_autoptr(GArray) on = NULL;
    g_autoptr(GArray) present = NULL;
    g_autofree guint8 *map = NULL;
    guint size = 0;

    if (flags != 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virHostCPUGetMap", flags);
        return -1;
    }
    on = hyve_host_online_cpus();
    present = hyve_host_read_cpulist("/sys/devices/system/cpu/present");
    for (guint i = 0; present && i < present->len; i++)
        size = MAX(size, g_array_index(present, guint, i) + 1);
    for (guint i = 0; i < on->len; i++)
        size = MAX(size, g_array_index(on, guint, i) + 1);

    map = g_new0(guint8, size);
    for (guint i = 0; i < on->len; i++)
        map[g_array_index(on, guint, i)] = 1;
    if (online)
        *online = on->len;
    if (cpumap)
        *cpumap = g_steal_pointer(&map);
    return (int)size;
}
