/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_capabilities.c: what hyve offers on this host, as libvirt's
 * capabilities XML: host facts (UUID, CPU, pages, NUMA topology) and one
 * x86_64 hvm guest. What a domain may contain is described in
 * hyve_domain_capabilities.c.
 *
 * The element order follows libvirt 9.0's capability.rng (tests/unit/host
 * validates the output against the installed schema).
 */
#include "hyve-config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hyve_host_priv.h"

/* The file's text without surrounding white space, or NULL. */
static char *
hyve_caps_read(const char *path)
{
    char *data = hyve_host_read(path, NULL);

    return data ? g_strstrip(data) : NULL;
}

static gboolean
hyve_caps_read_uint(const char *path, guint64 *value)
{
    g_autofree char *data = hyve_caps_read(path);
    char *end = NULL;

    if (!data || !g_ascii_isdigit(*data))
        return FALSE;
    *value = g_ascii_strtoull(data, &end, 10);
    return *end == '\0';
}

/* Is @cpu inside the cpulist text "0-3,8"? */
static gboolean
hyve_caps_cpulist_has(const char *list, guint cpu)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        char *end = NULL;
        guint64 lo = g_ascii_strtoull(parts[i], &end, 10);
        guint64 hi = *end == '-' ? g_ascii_strtoull(end + 1, NULL, 10) : lo;

        if (end != parts[i] && cpu >= lo && cpu <= hi)
            return TRUE;
    }
    return FALSE;
}

/* The host UUID: SMBIOS product_uuid when it is a real one, else the
 * systemd machine-id (32 hex digits) written as a UUID. */
static char *
hyve_caps_host_uuid(void)
{
    g_autofree char *dmi = hyve_caps_read("/sys/class/dmi/id/product_uuid");
    g_autofree char *mid = NULL;

    if (dmi && g_uuid_string_is_valid(dmi) &&
        strspn(dmi, "0-") != strlen(dmi) && strspn(dmi, "fF-") != strlen(dmi))
        return g_ascii_strdown(dmi, -1);

    mid = hyve_caps_read("/etc/machine-id");
    if (mid && strlen(mid) == 32 && strspn(mid, "0123456789abcdefABCDEF") == 32) {
        g_autofree char *low = g_ascii_strdown(mid, -1);
        return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s",
                               low, low + 8, low + 12, low + 16, low + 20);
    }
    return NULL;
}

/* First value of "key : value" in /proc/cpuinfo, or NULL. */
static char *
hyve_caps_cpuinfo(const char *cpuinfo, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(cpuinfo ? cpuinfo : "", "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');

        if (!colon || !*lines[i])
            return NULL;  /* end of the first processor block */
        *colon = '\0';
        if (strcmp(g_strstrip(lines[i]), key) == 0)
            return g_strdup(g_strstrip(colon + 1));
    }
    return NULL;
}

static int
hyve_caps_cmp_u64(gconstpointer a, gconstpointer b)
{
    guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

    return x < y ? -1 : x > y;
}

static void
hyve_caps_format_pages(GString *xml)
{
    g_autofree char *dir = hyve_host_path("/sys/kernel/mm/hugepages");
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint64));
    const char *name;

    g_string_append_printf(xml, "      <pages unit='KiB' size='%ld'/>\n", sysconf(_SC_PAGESIZE) / 1024);
    while (d && (name = g_dir_read_name(d))) {
        guint64 kib;
        if (sscanf(name, "hugepages-%" G_GUINT64_FORMAT "kB", &kib) == 1)
            g_array_append_val(sizes, kib);
    }
    g_array_sort(sizes, hyve_caps_cmp_u64);
    for (guint i = 0; i < sizes->len; i++)
        g_string_append_printf(xml, "      <pages unit='KiB' size='%" G_GUINT64_FORMAT "'/>\n",
                               g_array_index(sizes, guint64, i));
}

static void
hyve_caps_format_cpu(GString *xml, const HyveNodeInfo *info)
{
    g_autofree char *cpuinfo = hyve_caps_read("/proc/cpuinfo");
    g_autofree char *vendor = hyve_caps_cpuinfo(cpuinfo, "vendor_id");
    g_autofree char *model = hyve_caps_cpuinfo(cpuinfo, "model name");
    g_autofree char *family = hyve_caps_cpuinfo(cpuinfo, "cpu family");
    g_autofree char *fmodel = hyve_caps_cpuinfo(cpuinfo, "model");
    g_autofree char *stepping = hyve_caps_cpuinfo(cpuinfo, "stepping");
    g_autofree char *microcode = hyve_caps_cpuinfo(cpuinfo, "microcode");
    g_autofree char *addr = hyve_caps_cpuinfo(cpuinfo, "address sizes");
    guint64 ucode = microcode ? g_ascii_strtoull(microcode, NULL, 0) : 0;
    guint64 fam = family ? g_ascii_strtoull(family, NULL, 10) : 0;
    guint phys_bits = addr ? (guint)g_ascii_strtoull(addr, NULL, 10) : 0;

    g_string_append_printf(xml, "    <cpu>\n      <arch>%s</arch>\n", info->model);
    if (model && *model) {
        g_autofree char *esc = g_markup_escape_text(model, -1);
        g_string_append_printf(xml, "      <model>%s</model>\n", esc);
    }
    if (vendor && *vendor) {
        g_autofree char *esc = g_markup_escape_text(vendor, -1);
        const char *name = g_str_equal(vendor, "GenuineIntel") ? "Intel" :
                           g_str_equal(vendor, "AuthenticAMD") ? "AMD" : esc;
        g_string_append_printf(xml, "      <vendor>%s</vendor>\n", name);
    }
    if (ucode > 0)
        g_string_append_printf(xml, "      <microcode version='%" G_GUINT64_FORMAT "'/>\n", ucode);
    if (fam > 0 && fmodel && stepping)
        g_string_append_printf(xml, "      <signature family='%" G_GUINT64_FORMAT "' model='%u' stepping='%u'/>\n",
                               fam, (guint)g_ascii_strtoull(fmodel, NULL, 10),
                               (guint)g_ascii_strtoull(stepping, NULL, 10));
    g_string_append_printf(xml, "      <topology sockets='%d' dies='1' cores='%d' threads='%d'/>\n",
                           info->nodes * info->sockets, info->cores, info->threads);
    if (phys_bits > 0)
        g_string_append_printf(xml, "      <maxphysaddr mode='emulate' bits='%u'/>\n", phys_bits);
    hyve_caps_format_pages(xml);
    g_string_append(xml, "    </cpu>\n");
}

static void
hyve_caps_format_cell_cpus(GString *xml, const char *cpulist, const guint8 *map, int ncpus)
{
    g_autoptr(GString) cpus = g_string_new(NULL);
    guint n = 0;

    for (int cpu = 0; cpu < ncpus; cpu++) {
        g_autofree char *dir = NULL, *p = NULL, *sib = NULL;
        guint64 pkg = 0, die = 0, core = (guint64)cpu;

        if (!map[cpu] || (cpulist && !hyve_caps_cpulist_has(cpulist, (guint)cpu)))
            continue;
        dir = g_strdup_printf("/sys/devices/system/cpu/cpu%d/topology/", cpu);
        p = g_strconcat(dir, "physical_package_id", NULL);
        hyve_caps_read_uint(p, &pkg);
        g_free(p);
        p = g_strconcat(dir, "die_id", NULL);
        hyve_caps_read_uint(p, &die);
        g_free(p);
        p = g_strconcat(dir, "core_id", NULL);
        hyve_caps_read_uint(p, &core);
        g_free(p);
        p = g_strconcat(dir, "thread_siblings_list", NULL);
        sib = hyve_caps_read(p);
        if (!sib || !*sib || strspn(sib, "0123456789,-") != strlen(sib)) {
            g_free(sib);
            sib = g_strdup_printf("%d", cpu);
        }
        g_string_append_printf(cpus, "            <cpu id='%d' socket_id='%" G_GUINT64_FORMAT
                               "' die_id='%" G_GUINT64_FORMAT "' core_id='%" G_GUINT64_FORMAT
                               "' siblings='%s'/>\n", cpu, pkg, die, core, sib);
        n++;
    }
    g_string_append_printf(xml, "          <cpus num='%u'>\n%s          </cpus>\n", n, cpus->str);
}

/* <topology><cells>: one cell per NUMA node (sysfs), or one cell holding
 * all memory and CPUs on a kernel without NUMA. */
static void
hyve_caps_format_topology(GString *xml, const HyveNodeInfo *info)
{
    g_autofree char *possible = hyve_caps_read("/sys/devices/system/node/possible");
    g_autofree guint8 *map = NULL;
    int ncpus = hyve_host_cpu_map(&map, NULL, 0, NULL);
    g_autoptr(GString) cells = g_string_new(NULL);
    guint ncells = 0;

    for (guint node = 0; node < 1024; node++) {
        g_autofree char *dir = g_strdup_printf("/sys/devices/system/node/node%u/", node);
        g_autofree char *p = g_strconcat(dir, "meminfo", NULL);
        g_autofree char *meminfo = NULL, *cpulist = NULL, *dist = NULL;
        const char *total;
        guint64 kib = info->memory_kib;

        if (possible && !hyve_caps_cpulist_has(possible, node))
            continue;
        if (!possible && node > 0)
            break;
        meminfo = hyve_caps_read(p);
        if (possible && !meminfo)
            continue;   /* possible but absent (offline) node */
        if (meminfo && (total = strstr(meminfo, "MemTotal:")))
            kib = g_ascii_strtoull(total + strlen("MemTotal:"), NULL, 10);
        g_free(p);
        p = g_strconcat(dir, "cpulist", NULL);
        cpulist = possible ? hyve_caps_read(p) : NULL;

        g_string_append_printf(cells, "        <cell id='%u'>\n"
                               "          <memory unit='KiB'>%" G_GUINT64_FORMAT "</memory>\n",
                               node, kib);
        g_free(p);
        p = g_strconcat(dir, "distance", NULL);
        if (possible && (dist = hyve_caps_read(p))) {
            g_auto(GStrv) vals = g_strsplit_set(dist, " \t", -1);
            guint sib = 0;

            g_string_append(cells, "          <distances>\n");
            for (guint i = 0; vals[i]; i++) {
                if (!*vals[i])
                    continue;
                while (possible && !hyve_caps_cpulist_has(possible, sib))
                    sib++;
                g_string_append_printf(cells, "            <sibling id='%u' value='%s'/>\n",
                                       sib++, vals[i]);
            }
            g_string_append(cells, "          </distances>\n");
        }
        if (ncpus > 0)
            hyve_caps_format_cell_cpus(cells, cpulist, map, ncpus);
        g_string_append(cells, "        </cell>\n");
        ncells++;
    }
    if (ncells > 0)
        g_string_append_printf(xml, "    <topology>\n      <cells num='%u'>\n%s      </cells>\n"
                               "    </topology>\n", ncells, cells->str);
}

char *
hyve_host_capabilities_xml(gboolean privileged, GError **error)
{
    HyveNodeInfo info;
    g_autoptr(GString) xml = g_string_new("<capabilities>\n\n  <host>\n");
    g_autofree char *uuid = hyve_caps_host_uuid();

    /* The same description serves system and session daemons: hyve uses
     * no security driver in either (privileged only changes paths). */
    (void)privileged;
    if (!hyve_host_node_info(&info, error))
        return NULL;

    if (uuid)
        g_string_append_printf(xml, "    <uuid>%s</uuid>\n", uuid);
    hyve_caps_format_cpu(xml, &info);
    g_string_append(xml, "    <power_management/>\n");
    g_string_append(xml, "    <iommu support='no'/>\n");
    hyve_caps_format_topology(xml, &info);
    g_string_append(xml,
                    "    <secmodel>\n"
                    "      <model>none</model>\n"
                    "      <doi>0</doi>\n"
                    "    </secmodel>\n"
                    "  </host>\n\n"
                    "  <guest>\n"
                    "    <os_type>hvm</os_type>\n"
                    "    <arch name='" HYVE_CAPS_ARCH "'>\n"
                    "      <wordsize>64</wordsize>\n"
                    "      <emulator>" HYVE_EMULATOR_PATH "</emulator>\n"
                    "      <domain type='" HYVE_CAPS_VIRTTYPE "'/>\n"
                    "    </arch>\n"
                    "    <features>\n"
                    "      <acpi default='on' toggle='no'/>\n"
                    "      <apic default='on' toggle='no'/>\n"
                    "    </features>\n"
                    "  </guest>\n\n"
                    "</capabilities>\n");
    return g_string_free(g_steal_pointer(&xml), FALSE);
}
