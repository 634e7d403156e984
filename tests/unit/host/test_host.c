/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_host.c: unit tests for the host side of the driver, hyve_host*.c and
 * hyve_*capabilities.c: node facts of the real host and of a fake sysfs
 * tree, and capabilities / domain capabilities / sysinfo XML validated with
 * libxml2's RelaxNG against libvirt's installed schemas. The error wording
 * of hyve_error.c is tested in test_host_error.c.
 */
#include "hyve-config.h"

#include <check.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hyve_host.h"
#include "test_host.h"
#include "test_host_fixture.h"
#include "test_host_schema.h"

/* ---- argument errors (under the fake tree: max node 1, 8 CPUs) ------- */

typedef enum {
    CALL_MAX_VCPUS, CALL_MEMORY_STATS, CALL_CPU_STATS, CALL_CPU_MAP, CALL_SYSINFO, CALL_DOMCAPS,
} CallKind;

typedef struct {
    const char *name;
    CallKind call;
    int num;                  /* cell / cpu */
    guint flags;
    const char *emulator, *arch, *machine, *virttype;   /* also max_vcpus type */
    HyveErrorFrom from;
    HyveErrorCode code;
    const char *message;      /* "%s" is replaced by HYVE_EMULATOR_PATH */
} BadArgCase;

#define EMU HYVE_EMULATOR_PATH
static const BadArgCase bad_cases[] = {
    { "maxvcpus-kvm", CALL_MAX_VCPUS, 0, 0, NULL, NULL, NULL, "kvm",
      HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, "invalid argument: unknown type 'kvm'" },
    { "maxvcpus-empty", CALL_MAX_VCPUS, 0, 0, NULL, NULL, NULL, "",
      HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, "invalid argument: unknown type ''" },
    { "memstats-cell2", CALL_MEMORY_STATS, 2, 0, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: cellNum in virHostMemGetStats must be less than or equal to 1" },
    { "memstats-cell-2", CALL_MEMORY_STATS, -2, 0, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: cellNum in virHostMemGetStats must be less than or equal to 1" },
    { "memstats-flags", CALL_MEMORY_STATS, -1, 1, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x1) in function virHostMemGetStats" },
    { "cpustats-cpu8", CALL_CPU_STATS, 8, 0, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG, "invalid argument: Invalid cpuNum in virHostCPUGetStatsLinux" },
    { "cpustats-cpu-2", CALL_CPU_STATS, -2, 0, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG, "invalid argument: Invalid cpuNum in virHostCPUGetStatsLinux" },
    { "cpustats-flags", CALL_CPU_STATS, -1, 4, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x4) in function virHostCPUGetStats" },
    { "cpumap-flags", CALL_CPU_MAP, 0, 0x10, NULL, NULL, NULL, NULL, HYVE_FROM_NONE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x10) in function virHostCPUGetMap" },
    { "sysinfo-flags", CALL_SYSINFO, 0, 1, NULL, NULL, NULL, NULL, HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x1) in function bhyveConnectGetSysinfo" },
    { "domcaps-flags", CALL_DOMCAPS, 0, 2, NULL, NULL, NULL, NULL, HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function bhyveConnectGetDomainCapabilities" },
    { "domcaps-virttype-kvm", CALL_DOMCAPS, 0, 0, NULL, NULL, NULL, "kvm", HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG, "invalid argument: unknown virttype: kvm" },
    { "domcaps-virttype-bogus", CALL_DOMCAPS, 0, 0, NULL, "x86_64", NULL, "bhyve2",
      HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, "invalid argument: unknown virttype: bhyve2" },
    { "domcaps-arch-unknown", CALL_DOMCAPS, 0, 0, NULL, "z80", NULL, NULL, HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG, "invalid argument: unknown architecture: z80" },
    { "domcaps-arch-case", CALL_DOMCAPS, 0, 0, NULL, "X86_64", NULL, "bhyve", HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG, "invalid argument: unknown architecture: X86_64" },
    { "domcaps-arch-aarch64", CALL_DOMCAPS, 0, 0, NULL, "aarch64", NULL, NULL, HYVE_FROM_BHYVE,
      HYVE_ERR_NO_SUPPORT,
      "this function is not supported by the connection driver: unsupported architecture: aarch64" },
    { "domcaps-arch-i686", CALL_DOMCAPS, 0, 0, NULL, "i686", NULL, "bhyve", HYVE_FROM_BHYVE,
      HYVE_ERR_NO_SUPPORT,
      "this function is not supported by the connection driver: unsupported architecture: i686" },
    { "domcaps-emulator", CALL_DOMCAPS, 0, 0, "/usr/sbin/bhyve", "x86_64", NULL, "bhyve",
      HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: emulator '/usr/sbin/bhyve' is not supported, use '%s'" },
    { "domcaps-machine", CALL_DOMCAPS, 0, 0, EMU, "x86_64", "q35", "bhyve", HYVE_FROM_BHYVE,
      HYVE_ERR_INVALID_ARG,
      "invalid argument: the machine 'q35' is not supported by emulator '%s'" },
};

START_TEST(test_bad_args)
{
    const BadArgCase *c = &bad_cases[_i];
    g_autoptr(GError) err = NULL;
    g_autofree char *want = NULL;
    gboolean failed = FALSE;
    HyveErrorFrom from = (HyveErrorFrom)-1;
    const char *hole = strstr(c->message, "%s");

    switch (c->call) {
    case CALL_MAX_VCPUS:
        failed = hyve_host_max_vcpus(c->virttype, &err) < 0;
        break;
    case CALL_MEMORY_STATS: {
        g_autoptr(GArray) a = hyve_host_memory_stats(c->num, c->flags, &err);
        failed = a == NULL;
        break;
    }
    case CALL_CPU_STATS: {
        g_autoptr(GArray) a = hyve_host_cpu_stats(c->num, c->flags, &err);
        failed = a == NULL;
        break;
    }
    case CALL_CPU_MAP: {
        g_autofree guint8 *map = NULL;
        guint online = 0;
        failed = hyve_host_cpu_map(&map, &online, c->flags, &err) < 0;
        break;
    }
    case CALL_SYSINFO: {
        g_autofree char *x = hyve_host_sysinfo_xml(c->flags, &err);
        failed = x == NULL;
        break;
    }
    case CALL_DOMCAPS: {
        g_autofree char *x = hyve_host_domain_capabilities_xml(c->emulator, c->arch, c->machine,
                                                               c->virttype, c->flags, &err);
        failed = x == NULL;
        break;
    }
    }
    want = hole ? g_strdup_printf("%.*s%s%s", (int)(hole - c->message), c->message,
                                  HYVE_EMULATOR_PATH, hole + 2)
                : g_strdup(c->message);
    ck_assert_msg(failed && err, "%s: call did not fail", c->name);
    ck_assert_msg(err->code == (int)c->code, "%s: code %d, want %d", c->name, err->code, c->code);
    ck_assert_msg(hyve_error_from_quark(err->domain, &from) && from == c->from,
                  "%s: domain %d, want %d", c->name, from, c->from);
    ck_assert_msg(g_str_equal(err->message, want), "%s: message '%s', want '%s'",
                  c->name, err->message, want);
}
END_TEST

/* ---- the real host ------------------------------------------------------ */

static guint64
meminfo_kib(const char *key)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint64 v = 0;

    ck_assert(g_file_get_contents("/proc/meminfo", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char name[64];
        unsigned long long val;
        if (sscanf(lines[i], "%63[^:]: %llu kB", name, &val) == 2 && g_str_equal(name, key))
            v = val;
    }
    return v;
}

START_TEST(test_real_node_info)
{
    HyveNodeInfo info;
    g_autoptr(GError) err = NULL;
    struct utsname uts;
    long online = sysconf(_SC_NPROCESSORS_ONLN);

    g_unsetenv("HYVE_HOST_ROOT");
    ck_assert_msg(hyve_host_node_info(&info, &err), "node info: %s", err ? err->message : "");
    ck_assert_int_eq(uname(&uts), 0);
    ck_assert_str_eq(info.model, uts.machine);
    ck_assert_int_eq(info.cpus, online);
    ck_assert_uint_eq(info.memory_kib, meminfo_kib("MemTotal"));
    ck_assert_int_ge(info.mhz, 0);
    ck_assert_int_ge(info.nodes, 1);
    ck_assert_int_eq(info.nodes * info.sockets * info.cores * info.threads, info.cpus);
    ck_assert_int_eq(hyve_host_max_vcpus(NULL, NULL), MIN(online, 255));
    ck_assert_int_eq(hyve_host_max_vcpus("BHyve", NULL), MIN(online, 255));
}
END_TEST

START_TEST(test_real_stats)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) mem = NULL;
    g_autoptr(GArray) cpu1 = NULL;
    g_autoptr(GArray) cpu2 = NULL;
    g_autofree guint8 *map = NULL;
    static const char *const mem_fields[] = { "total", "free", "buffers", "cached" };
    static const char *const cpu_fields[] = { "kernel", "user", "idle", "iowait" };
    guint online = 0;
    int size;
    guint64 free_bytes;

    g_unsetenv("HYVE_HOST_ROOT");
    mem = hyve_host_memory_stats(-1, 0, &err);
    ck_assert_msg(mem, "memory stats: %s", err ? err->message : "");
    ck_assert_uint_eq(mem->len, 4);
    for (guint i = 0; i < 4; i++)
        ck_assert_str_eq(g_array_index(mem, HyveNodeStat, i).field, mem_fields[i]);
    ck_assert_uint_eq(g_array_index(mem, HyveNodeStat, 0).value, meminfo_kib("MemTotal"));
    ck_assert_uint_le(g_array_index(mem, HyveNodeStat, 1).value,
                      g_array_index(mem, HyveNodeStat, 0).value);

    free_bytes = hyve_host_free_memory(&err);
    ck_assert_uint_gt(free_bytes, 0);
    ck_assert_uint_le(free_bytes, meminfo_kib("MemTotal") * 1024);

    cpu1 = hyve_host_cpu_stats(-1, 0, &err);
    ck_assert_msg(cpu1, "cpu stats: %s", err ? err->message : "");
    g_usleep(20000);
    cpu2 = hyve_host_cpu_stats(-1, 0, &err);
    ck_assert_uint_eq(cpu1->len, 4);
    for (guint i = 0; i < 4; i++) {
        ck_assert_str_eq(g_array_index(cpu1, HyveNodeStat, i).field, cpu_fields[i]);
        ck_assert_uint_le(g_array_index(cpu1, HyveNodeStat, i).value,
                          g_array_index(cpu2, HyveNodeStat, i).value);
    }
    ck_assert_uint_gt(g_array_index(cpu2, HyveNodeStat, 2).value, 0);

    size = hyve_host_cpu_map(&map, &online, 0, &err);
    ck_assert_int_ge(size, (int)online);
    ck_assert_int_eq((int)online, sysconf(_SC_NPROCESSORS_ONLN));
    for (int i = 0; i < size; i++) {
        g_autoptr(GArray) per = hyve_host_cpu_stats(i, 0, NULL);
        ck_assert_msg((per != NULL) == (map[i] == 1), "cpu %d: stats vs online map", i);
    }
    ck_assert_int_eq(hyve_host_cpu_map(NULL, NULL, 0, NULL), size);
}
END_TEST

START_TEST(test_real_version_hostname)
{
    struct utsname uts;
    unsigned maj = 0, min = 0, mic = 0;
    g_autofree char *host = NULL;

    ck_assert_int_eq(uname(&uts), 0);
    ck_assert_int_ge(sscanf(uts.release, "%u.%u.%u", &maj, &min, &mic), 2);
    ck_assert_uint_eq(hyve_host_version(), maj * 1000000ull + min * 1000ull + mic);
    host = hyve_host_hostname(NULL);
    ck_assert_str_eq(host, uts.nodename);
}
END_TEST

/* ---- the fake tree ------------------------------------------------------ */

static char *fx_root;

static void
fx_setup(void)
{
    fx_root = fx_create();
    g_setenv("HYVE_HOST_ROOT", fx_root, TRUE);
}

static void
fx_teardown(void)
{
    g_unsetenv("HYVE_HOST_ROOT");
    test_tree_remove(fx_root);
    g_clear_pointer(&fx_root, g_free);
}

START_TEST(test_fx_node_info)
{
    HyveNodeInfo info;
    g_autofree guint8 *map = NULL;
    guint online = 0;

    ck_assert(hyve_host_node_info(&info, NULL));
    ck_assert_int_eq(info.cpus, FX_CPUS);
    ck_assert_uint_eq(info.memory_kib, FX_MEM_TOTAL_KIB);
    ck_assert_int_eq(info.mhz, FX_MHZ);
    ck_assert_int_eq(info.nodes, 2);
    ck_assert_int_eq(info.sockets, 1);
    ck_assert_int_eq(info.cores, 2);
    ck_assert_int_eq(info.threads, 2);
    ck_assert_int_eq(hyve_host_cpu_map(&map, &online, 0, NULL), FX_CPUS);
    ck_assert_uint_eq(online, FX_CPUS);
    ck_assert_int_eq(hyve_host_max_vcpus(NULL, NULL), FX_CPUS);
    ck_assert_uint_eq(hyve_host_free_memory(NULL), (guint64)FX_MEM_FREE_KIB * 1024);
}
END_TEST

START_TEST(test_fx_stats)
{
    g_autoptr(GArray) all = hyve_host_memory_stats(-1, 0, NULL);
    g_autoptr(GArray) cell = hyve_host_memory_stats(1, 0, NULL);
    g_autoptr(GArray) total = hyve_host_cpu_stats(-1, 0, NULL);
    g_autoptr(GArray) cpu3 = hyve_host_cpu_stats(3, 0, NULL);
    guint64 tick = 1000000000ull / (guint64)sysconf(_SC_CLK_TCK);
    const guint64 *t = fx_ticks;

    ck_assert_uint_eq(all->len, 4);
    ck_assert_uint_eq(g_array_index(all, HyveNodeStat, 0).value, FX_MEM_TOTAL_KIB);
    ck_assert_uint_eq(g_array_index(all, HyveNodeStat, 1).value, FX_MEM_FREE_KIB);
    ck_assert_uint_eq(g_array_index(all, HyveNodeStat, 2).value, FX_MEM_BUFFERS_KIB);
    ck_assert_uint_eq(g_array_index(all, HyveNodeStat, 3).value, FX_MEM_CACHED_KIB);
    ck_assert_uint_eq(cell->len, 2);
    ck_assert_str_eq(g_array_index(cell, HyveNodeStat, 0).field, "total");
    ck_assert_uint_eq(g_array_index(cell, HyveNodeStat, 0).value, FX_NODE1_TOTAL_KIB);
    ck_assert_str_eq(g_array_index(cell, HyveNodeStat, 1).field, "free");
    ck_assert_uint_eq(g_array_index(cell, HyveNodeStat, 1).value, FX_NODE1_FREE_KIB);
    /* kernel = system + irq + softirq, user = user + nice */
    ck_assert_uint_eq(g_array_index(total, HyveNodeStat, 0).value, (t[2] + t[5] + t[6]) * 8 * tick);
    ck_assert_uint_eq(g_array_index(total, HyveNodeStat, 1).value, (t[0] + t[1]) * 8 * tick);
    ck_assert_uint_eq(g_array_index(cpu3, HyveNodeStat, 0).value, (t[2] + t[5] + t[6] + 9) * tick);
    ck_assert_uint_eq(g_array_index(cpu3, HyveNodeStat, 1).value, (t[0] + t[1] + 6) * tick);
    ck_assert_uint_eq(g_array_index(cpu3, HyveNodeStat, 2).value, (t[3] + 3) * tick);
    ck_assert_uint_eq(g_array_index(cpu3, HyveNodeStat, 3).value, (t[4] + 3) * tick);
}
END_TEST

static void check_caps(gboolean fake);

/* A kernel without NUMA: no node directory. The host is one cell. */
START_TEST(test_fx_no_numa)
{
    g_autofree char *nodes = g_build_filename(fx_root, "sys/devices/system/node", NULL);
    g_autoptr(GArray) cell0 = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) cell1 = NULL;
    g_autofree char *caps = NULL;
    g_autofree char *errors = NULL;
    HyveNodeInfo info;

    test_tree_remove(nodes);
    ck_assert(hyve_host_node_info(&info, NULL));
    ck_assert_int_eq(info.nodes, 1);
    ck_assert_int_eq(info.sockets, 2);
    ck_assert_int_eq(info.cores, 2);
    ck_assert_int_eq(info.threads, 2);
    cell0 = hyve_host_memory_stats(0, 0, NULL);
    ck_assert_uint_eq(cell0->len, 4);
    ck_assert_uint_eq(g_array_index(cell0, HyveNodeStat, 0).value, FX_MEM_TOTAL_KIB);
    cell1 = hyve_host_memory_stats(1, 0, &err);
    ck_assert_ptr_null(cell1);
    ck_assert_str_eq(err->message,
                     "invalid argument: cellNum in virHostMemGetStats must be less than or equal to 0");
    caps = hyve_host_capabilities_xml(FALSE, NULL);
    ck_assert_msg(schema_validate_caps(caps, &errors), "no-numa caps invalid:\n%s", errors);
    ck_assert_str_eq(xpath_string(caps, "string(//topology/cells/@num)"), "1");
    ck_assert_str_eq(xpath_string(caps, "string(//cell/memory)"), "8388608");
    ck_assert_str_eq(xpath_string(caps, "string(//cell/cpus/@num)"), "8");
}
END_TEST

/* CPU 7 offline: 7 CPUs no longer fit 2x1x2x2, so the topology is flat. */
START_TEST(test_fx_offline_cpu)
{
    g_autofree guint8 *map = NULL;
    guint online = 0;
    HyveNodeInfo info;

    fx_write(fx_root, "sys/devices/system/cpu/online", "0-6\n");
    ck_assert(hyve_host_node_info(&info, NULL));
    ck_assert_int_eq(info.cpus, 7);
    ck_assert_int_eq(info.nodes, 1);
    ck_assert_int_eq(info.sockets, 1);
    ck_assert_int_eq(info.cores, 7);
    ck_assert_int_eq(info.threads, 1);
    ck_assert_int_eq(hyve_host_cpu_map(&map, &online, 0, NULL), 8);
    ck_assert_uint_eq(online, 7);
    ck_assert_uint_eq(map[6], 1);
    ck_assert_uint_eq(map[7], 0);
    check_caps(FALSE);
}
END_TEST

/* ---- XML against libvirt's schemas (real host and fake tree) ------------ */

static void
check_caps(gboolean fake)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *caps = hyve_host_capabilities_xml(TRUE, &err);
    g_autofree char *errors = NULL;
    HyveNodeInfo info;

    ck_assert_msg(caps, "capabilities: %s", err ? err->message : "");
    ck_assert(hyve_host_node_info(&info, NULL));
    ck_assert_msg(schema_validate_caps(caps, &errors), "capabilities invalid:\n%s\n%s",
                  errors, caps);
    ck_assert_str_eq(xpath_string(caps, "string(/capabilities/guest/arch/emulator)"),
                     HYVE_EMULATOR_PATH);
    ck_assert_str_eq(xpath_string(caps, "string(/capabilities/guest/arch/domain/@type)"), "bhyve");
    ck_assert_str_eq(xpath_string(caps, "string(/capabilities/guest/os_type)"), "hvm");
    ck_assert_str_eq(xpath_string(caps, "string(count(//topology/cells/cell))"),
                     fake ? "2" : xpath_string(caps, "string(//topology/cells/@num)"));
    ck_assert_int_eq(atoi(xpath_string(caps, "string(count(//cells/cell/cpus/cpu))")), info.cpus);
    if (fake) {
        ck_assert_str_eq(xpath_string(caps, "string(/capabilities/host/uuid)"),
                         "4c4c4544-0042-3510-8052-b4c04f4b4e31");
        ck_assert_str_eq(xpath_string(caps, "string(//host/cpu/vendor)"), "Intel");
        ck_assert_str_eq(xpath_string(caps, "string(//host/cpu/model)"),
                         "Intel(R) Xeon(R) Gold <6130>");
        ck_assert_str_eq(xpath_string(caps, "string(//cell[@id='1']/cpus/cpu[@id='5']/@siblings)"),
                         "4-5");
        ck_assert_str_eq(xpath_string(caps, "string(//cell[@id='1']/distances/sibling[@id='0']/@value)"),
                         "21");
    }
}

static void
check_domcaps(void)
{
    static const char *const args[][4] = {
        { NULL, NULL, NULL, NULL },
        { HYVE_EMULATOR_PATH, "x86_64", "pc", "bhyve" },
        { NULL, "x86_64", NULL, "BHYVE" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(args); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *errors = NULL;
        g_autofree char *xml = hyve_host_domain_capabilities_xml(args[i][0], args[i][1], args[i][2],
                                                                 args[i][3], 0, &err);

        ck_assert_msg(xml, "domcaps args %u: %s", i, err ? err->message : "");
        ck_assert_msg(test_schema_validate_file(xml, "domaincaps.rng", &errors),
                      "domcaps args %u invalid:\n%s", i, errors);
        ck_assert_str_eq(xpath_string(xml, "string(/domainCapabilities/path)"), HYVE_EMULATOR_PATH);
        ck_assert_int_eq(atoi(xpath_string(xml, "string(/domainCapabilities/vcpu/@max)")),
                         hyve_host_max_vcpus(NULL, NULL));
        ck_assert_str_eq(xpath_string(xml, "string(//disk/enum[@name='bus']/value)"), "virtio");
        ck_assert_str_eq(xpath_string(xml, "string(//rng/@supported)"), "yes");
    }
}

static void
check_sysinfo(gboolean fake)
{
    g_autofree char *xml = hyve_host_sysinfo_xml(0, NULL);
    g_autofree char *errors = NULL;

    ck_assert(xml);
    ck_assert_msg(schema_validate_sysinfo(xml, &errors), "sysinfo invalid:\n%s\n%s", errors, xml);
    if (fake) {
        ck_assert_str_eq(xpath_string(xml, "string(//system/entry[@name='manufacturer'])"),
                         "QEMU & <Friends>");
        ck_assert_str_eq(xpath_string(xml, "string(//bios/entry[@name='date'])"), "04/01/2014");
        ck_assert_str_eq(xpath_string(xml, "string(count(//system/entry[@name='serial']))"), "0");
    }
}

START_TEST(test_real_xml)
{
    g_unsetenv("HYVE_HOST_ROOT");
    check_caps(FALSE);
    check_domcaps();
    check_sysinfo(FALSE);
}
END_TEST

START_TEST(test_fx_xml)
{
    check_caps(TRUE);
    check_domcaps();
    check_sysinfo(TRUE);
}
END_TEST

static Suite *
host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *tc;

    test_host_add_error_tcases(s);

    tc = tcase_create("real-host");
    tcase_add_test(tc, test_real_node_info);
    tcase_add_test(tc, test_real_stats);
    tcase_add_test(tc, test_real_version_hostname);
    tcase_add_test(tc, test_real_xml);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake-host");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_loop_test(tc, test_bad_args, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_fx_node_info);
    tcase_add_test(tc, test_fx_stats);
    tcase_add_test(tc, test_fx_no_numa);
    tcase_add_test(tc, test_fx_offline_cpu);
    tcase_add_test(tc, test_fx_xml);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    int status = test_suite_run(host_suite());

    xmlCleanupParser();
    return status;
}
