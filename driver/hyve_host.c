/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host.c: facts about the host itself: node info (memory, CPUs,
 * clock, NUMA/socket/core/thread topology), hostname, hypervisor version
 * and vCPU limit. Statistics are in hyve_host_stats.c, SMBIOS sysinfo in
 * hyve_host_sysinfo.c, file access in hyve_host_sysfs.c.
 *
 * Argument errors use libvirt's wording for the same call (the bhyve
 * driver reports from VIR_FROM_BHYVE), so clients see identical codes and
 * messages.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hyve_host_priv.h"

/* xAPIC IDs are 8 bits and 0xFF is the broadcast ID: the MADT the runner
 * builds can describe at most 255 processors. */
#define HYVE_HOST_VCPU_LIMIT 255

static gboolean
hyve_host_cpu_is_in(GArray *cpus, guint cpu)
{
    for (guint i = 0; i < cpus->len; i++) {
        if (g_array_index(cpus, guint, i) == cpu)
            return TRUE;
    }
    return FALSE;
}

static int
hyve_host_mhz(void)
{
    g_autofree char *cpuinfo = hyve_host_read("/proc/cpuinfo", NULL);
    gint64 khz = 0;

    if (cpuinfo) {
        g_auto(GStrv) lines = g_strsplit(cpuinfo, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
            const char *colon = strchr(lines[i], ':');
            if (g_str_has_prefix(lines[i], "cpu MHz") && colon)
                return (int)g_ascii_strtoull(colon + 1, NULL, 10);
        }
    }
    if (hyve_host_read_int("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", &khz))
        return (int)(khz / 1000);
    return 0;
}

/*
 * Topology as libvirt's nodeinfo describes it: NUMA nodes holding online
 * CPUs, sockets per node, cores per socket, threads per core; a host whose
 * numbers do not multiply to the CPU count is reported as flat
 * (1 node, 1 socket, N cores, 1 thread), as libvirt does.
 */
static void
hyve_host_topology(HyveNodeInfo *info, GArray *online)
{
    g_autoptr(GArray) nodes = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) possible = hyve_host_read_cpulist("/sys/devices/system/node/possible");
    int nnodes = 0, sockets = 1, cores = 1, threads = 1;

    if (possible)
        g_array_append_vals(nodes, possible->data, possible->len);
    else
        g_array_append_vals(nodes, &(guint){ 0 }, 1);

    for (guint n = 0; n < nodes->len; n++) {
        guint node = g_array_index(nodes, guint, n);
        g_autofree char *path = g_strdup_printf("/sys/devices/system/node/node%u/cpulist", node);
        g_autoptr(GArray) cpus = possible ? hyve_host_read_cpulist(path) : g_array_ref(online);
        g_autoptr(GHashTable) pkgs = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_autoptr(GHashTable) pkg_cores = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                                g_free, NULL);
        gboolean any = FALSE;

        if (!cpus)
            continue;
        for (guint i = 0; i < cpus->len; i++) {
            guint cpu = g_array_index(cpus, guint, i);
            g_autofree char *dir = g_strdup_printf("/sys/devices/system/cpu/cpu%u/topology", cpu);
            g_autofree char *pkg_path = g_strconcat(dir, "/physical_package_id", NULL);
            g_autofree char *core_path = g_strconcat(dir, "/core_id", NULL);
            g_autofree char *sib_path = g_strconcat(dir, "/thread_siblings_list", NULL);
            g_autoptr(GArray) sibs = NULL;
            gint64 pkg = 0, core = cpu;
            guint nsib = 0;

            if (!hyve_host_cpu_is_in(online, cpu))
                continue;
            any = TRUE;
            hyve_host_read_int(pkg_path, &pkg);
            hyve_host_read_int(core_path, &core);
            g_hash_table_add(pkgs, GINT_TO_POINTER((int)pkg));
            g_hash_table_add(pkg_cores, g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                                        pkg, core));
            if ((sibs = hyve_host_read_cpulist(sib_path))) {
                for (guint s = 0; s < sibs->len; s++)
                    nsib += hyve_host_cpu_is_in(online, g_array_index(sibs, guint, s));
            }
            threads = MAX(threads, (int)MAX(nsib, 1));
        }
        if (!any)
            continue;
        nnodes++;
        sockets = MAX(sockets, (int)g_hash_table_size(pkgs));
        cores = MAX(cores, (int)(g_hash_table_size(pkg_cores) / g_hash_table_size(pkgs)));
    }

    info->nodes = MAX(nnodes, 1);
    info->sockets = sockets;
    info->cores = cores;
    info->threads = threads;
    if ((guint)(info->nodes * sockets * cores * threads) != online->len) {
        info->nodes = 1;
        info->sockets = 1;
        info->cores = (int)online->len;
        info->threads = 1;
    }
}

gboolean
hyve_host_node_info(HyveNodeInfo *info, GError **error)
{
    g_autofree char *meminfo = NULL;
    g_autoptr(GArray) online = NULL;
    struct utsname uts;

    memset(info, 0, sizeof(*info));
    if (uname(&uts) < 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot get host architecture: %s", g_strerror(errno));
        return FALSE;
    }
    g_strlcpy(info->model, uts.machine, sizeof(info->model));

    if (!(meminfo = hyve_host_read("/proc/meminfo", error)))
        return FALSE;
    if (!hyve_host_meminfo_value(meminfo, "MemTotal", &info->memory_kib)) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_INTERNAL_ERROR,
                       "no MemTotal line in /proc/meminfo");
        return FALSE;
    }

    online = hyve_host_online_cpus();
    info->cpus = (int)online->len;
    info->mhz = hyve_host_mhz();
    hyve_host_topology(info, online);
    return TRUE;
}

char *
hyve_host_hostname(GError **error)
{
    struct utsname uts;

    if (uname(&uts) < 0) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_SYSTEM_ERROR,
                       "failed to determine host name: %s", g_strerror(errno));
        return NULL;
    }
    if (uts.nodename[0] == '\0')
        return g_strdup(g_get_host_name());
    return g_strdup(uts.nodename);
}

int
hyve_host_max_vcpus(const char *type, GError **error)
{
    g_autoptr(GArray) online = NULL;

    if (type && g_ascii_strcasecmp(type, "bhyve") != 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unknown type '%s'", type);
        return -1;
    }
    /* KVM's recommended vCPU count (KVM_CAP_NR_VCPUS) is the number of
     * online host CPUs; the MADT caps it at 255. */
    online = hyve_host_online_cpus();
    return (int)MIN(online->len, HYVE_HOST_VCPU_LIMIT);
}

/* "6.1.0-56-amd64" -> 6001000 (major * 1000000 + minor * 1000 + micro, as
 * libvirt's bhyve driver reports the FreeBSD release); 0 when unparsable. */
guint64
hyve_host_version(void)
{
    struct utsname uts;
    guint64 part[3] = { 0 };
    const char *p;

    if (uname(&uts) < 0)
        return 0;
    p = uts.release;
    for (guint i = 0; i < 3; i++) {
        char *end = NULL;

        if (!g_ascii_isdigit(*p))
            break;
        part[i] = g_ascii_strtoull(p, &end, 10);
        if (part[i] > (i == 0 ? 4294u : 999u))
            return 0;
        p = end;
        if (*p != '.')
            break;
        p++;
    }
    if (!g_ascii_isdigit(uts.release[0]))
        return 0;
    return part[0] * 1000000 + part[1] * 1000 + part[2];
}
