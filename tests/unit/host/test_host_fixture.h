/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_host_fixture.h: a fake /proc + /sys tree for the host unit tests
 * (the driver reads below $HYVE_HOST_ROOT when it is set).
 *
 * The tree describes 2 NUMA nodes x 1 socket x 2 cores x 2 threads = 8
 * CPUs, known /proc/stat ticks and meminfo values, and SMBIOS data.
 */
#pragma once

#include <stdarg.h>
#include <glib.h>

#include "test_common.h"

/* Values the fake tree holds, so tests can name what they expect. */
#define FX_MEM_TOTAL_KIB 8388608u
#define FX_MEM_FREE_KIB 4194304u
#define FX_MEM_BUFFERS_KIB 1024u
#define FX_MEM_CACHED_KIB 2048u
#define FX_NODE1_TOTAL_KIB 4194304u
#define FX_NODE1_FREE_KIB 1000u
#define FX_CPUS 8
#define FX_MHZ 2100
#define FX_PRODUCT_UUID "4C4C4544-0042-3510-8052-B4C04F4B4E31"

/* cpuN: user nice system idle iowait irq softirq (ticks) = base + N */
static const guint64 fx_ticks[7] = { 100, 20, 30, 400, 5, 6, 7 };

static void
fx_write(const char *root, const char *path, const char *text)
{
    g_autofree char *full = g_build_filename(root, path, NULL);
    g_autofree char *dir = g_path_get_dirname(full);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(full, text, -1, NULL));
}

/* @root/@dir/@name holds the formatted text. */
static void G_GNUC_PRINTF(4, 5)
fx_write_attr(const char *root, const char *dir, const char *name, const char *fmt, ...)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, fmt);
    text = g_strdup_vprintf(fmt, args);
    va_end(args);
    fx_write(root, path, text);
}

static char *
fx_create(void)
{
    g_autoptr(GString) stat = g_string_new(NULL);
    g_autoptr(GString) cpuinfo = g_string_new(NULL);
    char *root = test_tmpdir_new("hyve-host-XXXXXX");

    fx_write(root, "proc/meminfo",
             "MemTotal:        8388608 kB\n"
             "MemFree:         4194304 kB\n"
             "MemAvailable:    5000000 kB\n"
             "Buffers:            1024 kB\n"
             "Cached:             2048 kB\n"
             "SwapCached:            0 kB\n");

    /* the aggregate "cpu" line is the per-CPU base values times 8 */
    g_string_append(stat, "cpu ");
    for (int k = 0; k < 7; k++)
        g_string_append_printf(stat, " %" G_GUINT64_FORMAT, fx_ticks[k] * FX_CPUS);
    g_string_append(stat, " 0 0 0\n");
    for (int cpu = 0; cpu < FX_CPUS; cpu++) {
        g_string_append_printf(stat, "cpu%d", cpu);
        for (int k = 0; k < 7; k++)
            g_string_append_printf(stat, " %" G_GUINT64_FORMAT, fx_ticks[k] + (guint64)cpu);
        g_string_append(stat, " 0 0 0\n");
    }
    g_string_append(stat, "intr 1 2 3\nctxt 42\n");
    fx_write(root, "proc/stat", stat->str);

    for (int cpu = 0; cpu < FX_CPUS; cpu++) {
        g_autofree char *dir = g_strdup_printf("sys/devices/system/cpu/cpu%d/topology", cpu);
        int first = cpu & ~1;

        g_string_append_printf(cpuinfo,
                               "processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
                               "model\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold <6130>\n"
                               "stepping\t: 4\nmicrocode\t: 0x2006906\ncpu MHz\t\t: 2100.000\n"
                               "address sizes\t: 46 bits physical, 48 bits virtual\n\n", cpu);
        fx_write_attr(root, dir, "physical_package_id", "%d\n", cpu / 4);
        fx_write_attr(root, dir, "core_id", "%d\n", (cpu % 4) / 2);
        fx_write_attr(root, dir, "die_id", "0\n");
        fx_write_attr(root, dir, "thread_siblings_list", "%d-%d\n", first, first + 1);
    }
    fx_write(root, "proc/cpuinfo", cpuinfo->str);
    fx_write(root, "sys/devices/system/cpu/online", "0-7\n");
    fx_write(root, "sys/devices/system/cpu/present", "0-7\n");

    fx_write(root, "sys/devices/system/node/possible", "0-1\n");
    fx_write(root, "sys/devices/system/node/node0/cpulist", "0-3\n");
    fx_write(root, "sys/devices/system/node/node1/cpulist", "4-7\n");
    fx_write(root, "sys/devices/system/node/node0/distance", "10 21\n");
    fx_write(root, "sys/devices/system/node/node1/distance", "21 10\n");
    fx_write(root, "sys/devices/system/node/node0/meminfo",
             "Node 0 MemTotal:       4194304 kB\nNode 0 MemFree:        2000 kB\n"
             "Node 0 MemUsed:        4192304 kB\n");
    fx_write(root, "sys/devices/system/node/node1/meminfo",
             "Node 1 MemTotal:       4194304 kB\nNode 1 MemFree:        1000 kB\n"
             "Node 1 MemUsed:        4193304 kB\n");
    fx_write(root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");

    fx_write(root, "sys/class/dmi/id/bios_vendor", "SeaBIOS\n");
    fx_write(root, "sys/class/dmi/id/bios_version", "1.16.2-debian-1.16.2-1\n");
    fx_write(root, "sys/class/dmi/id/bios_date", "04/01/2014\n");
    fx_write(root, "sys/class/dmi/id/sys_vendor", "QEMU & <Friends>\n");
    fx_write(root, "sys/class/dmi/id/product_name", "Standard PC (i440FX + PIIX, 1996)\n");
    fx_write(root, "sys/class/dmi/id/product_uuid", FX_PRODUCT_UUID "\n");
    fx_write(root, "sys/class/dmi/id/product_serial", "\n");
    fx_write(root, "sys/class/dmi/id/board_vendor", "Hyve Boards\n");
    fx_write(root, "sys/class/dmi/id/chassis_vendor", "QEMU\n");
    return root;
}
