/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host.c: facts about the host read from /proc and sysfs: node info,
 * memory and CPU statistics, the online CPU map, hostname, hypervisor
 * version, vCPU limit and SMBIOS sysinfo.
 *
 * Argument errors use libvirt's wording for the same call (libvirt 9.0
 * virhostmem.c / virhostcpu.c report from VIR_FROM_NONE, the bhyve driver
 * from VIR_FROM_BHYVE), so clients see identical codes and messages.
 *
 * Every path is read below $HYVE_HOST_ROOT when that is set (the unit
 * tests point it at a fake /proc + /sys tree); unset means the real host.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hyve_host.h"

/* xAPIC IDs are 8 bits and 0xFF is the broadcast ID: the MADT the runner
 * builds can describe at most 255 processors. */
#define HYVE_HOST_VCPU_LIMIT 255

static char *
hyve_host_path(const char *path)
{
    const char *root = g_getenv("HYVE_HOST_ROOT");

    return g_strconcat(root ? root : "", path, NULL);
}

/* Whole file, or NULL (errno-style reason in @error when asked). */
static char *
hyve_host_read(const char *path, GError **error)
{
    g_autofree char *full = hyve_host_path(path);
    g_autoptr(GError) local = NULL;
    char *data = NULL;

    if (!g_file_get_contents(full, &data, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_SYSTEM_ERROR, "%s", local->message);
        return NULL;
    }
    return data;
}

static gboolean
hyve_host_read_int(const char *path, gint64 *value)
{
    g_autofree char *data = hyve_host_read(path, NULL);
    char *end = NULL;

    if (!data)
        return FALSE;
    *value = g_ascii_strtoll(g_strstrip(data), &end, 10);
    return end != data && *end == '\0';
}

/* "0-3,8,10-11" -> sorted unique CPU numbers; NULL when malformed. */
static GArray *
hyve_host_parse_cpulist(const char *text)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        char *item = g_strstrip(parts[i]);
        char *end = NULL;
        guint64 lo, hi;

        if (!*item)
            continue;
        if (!g_ascii_isdigit(*item))
            return NULL;
        lo = g_ascii_strtoull(item, &end, 10);
        hi = lo;
        if (*end == '-') {
            const char *rest = end + 1;
            if (!g_ascii_isdigit(*rest))
                return NULL;
            hi = g_ascii_strtoull(rest, &end, 10);
        }
        if (*end != '\0' || hi < lo || hi > 65535)
            return NULL;
        for (guint64 c = lo; c <= hi; c++) {
            guint v = (guint)c;
            g_array_append_val(cpus, v);
        }
    }
    return g_steal_pointer(&cpus);
}

static GArray *
hyve_host_read_cpulist(const char *path)
{
    g_autofree char *data = hyve_host_read(path, NULL);

    return data ? hyve_host_parse_cpulist(data) : NULL;
}

/* Value in kB of @key ("MemTotal") in a meminfo file, also the per-node
 * form "Node 0 MemTotal:  123 kB". */
static gboolean
hyve_host_meminfo_value(const char *meminfo, const char *key, guint64 *kib)
{
    g_auto(GStrv) lines = g_strsplit(meminfo, "\n", -1);
    size_t keylen = strlen(key);

    for (guint i = 0; lines[i]; i++) {
        const char *line = lines[i];

        if (g_str_has_prefix(line, "Node ")) {
            line = strchr(line + 5, ' ');
            if (!line)
                continue;
            line++;
        }
        if (strncmp(line, key, keylen) == 0 && line[keylen] == ':') {
            *kib = g_ascii_strtoull(line + keylen + 1, NULL, 10);
            return TRUE;
        }
    }
    return FALSE;
}

static void
hyve_host_stat_add(GArray *stats, const char *field, guint64 value)
{
    HyveNodeStat stat = { 0 };

    g_strlcpy(stat.field, field, sizeof(stat.field));
    stat.value = value;
    g_array_append_val(stats, stat);
}

static GArray *
hyve_host_online_cpus(void)
{
    GArray *online = hyve_host_read_cpulist("/sys/devices/system/cpu/online");
    long n;

    if (online && online->len > 0)
        return online;
    if (online)
        g_array_unref(online);
    /* No sysfs: assume CPUs 0..n-1. */
    n = sysconf(_SC_NPROCESSORS_ONLN);
    online = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < (guint)MAX(n, 1); i++)
        g_array_append_val(online, i);
    return online;
}

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
