/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_stats_snap.c: what the statistics queries
 * (hyve_driver_stats.c, hyve_driver_stats_all.c) read of a domain: the
 * snapshot taken under obj->lock, the runner's counters (control request
 * "stats", per PCI slot) and the kernel's accounting in /proc of the
 * runner and its threads (the vCPU threads are named "vcpuN").
 */
#include "hyve-config.h"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "hyve_driver_stats_priv.h"

static void
stats_disk_clear(gpointer p)
{
    HyveStatsDisk *d = p;

    g_free(d->target);
    g_free(d->path);
}

static void
stats_net_clear(gpointer p)
{
    g_free(((HyveStatsNet *)p)->target);
}

void
hyve_stats_snap_free(HyveStatsSnap *s)
{
    if (!s)
        return;
    g_free(s->name);
    g_free(s->control);
    g_array_unref(s->disks);
    g_array_unref(s->nets);
    g_free(s);
}

HyveStatsSnap *
hyve_stats_snap_take(HyveDomainObj *obj)
{
    HyveStatsSnap *s = g_new0(HyveStatsSnap, 1);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);
    const HyveDomainDef *def = obj->def;

    s->name = g_strdup(obj->name);
    s->state = obj->state;
    s->reason = obj->reason;
    s->persistent = obj->persistent;
    s->removed = obj->removed;
    s->active = obj->run != NULL;
    if (s->active) {
        s->pid = obj->run->pid;
        s->start_time = obj->run->start_time;
        s->control = g_strdup(obj->run->paths.control);
    }
    s->vcpus = def->vcpus_current ? def->vcpus_current : def->vcpus;
    s->vcpus_max = def->vcpus;
    s->max_mem_kib = def->memory_kib;
    /* The runner has no balloon: a running guest has all of <memory>
     * (bhyve-runner memory.size); <currentMemory> is what the definition
     * asks for next time. */
    s->cur_mem_kib = s->active || !def->current_memory_kib ? def->memory_kib
                                                           : def->current_memory_kib;
    s->disks = g_array_new(FALSE, TRUE, sizeof(HyveStatsDisk));
    g_array_set_clear_func(s->disks, stats_disk_clear);
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const HyveDiskDef *d = g_ptr_array_index(def->disks, i);
        HyveStatsDisk sd = { g_strdup(d->target_dev), g_strdup(d->path), d->addr.slot };

        g_array_append_val(s->disks, sd);
    }
    s->nets = g_array_new(FALSE, TRUE, sizeof(HyveStatsNet));
    g_array_set_clear_func(s->nets, stats_net_clear);
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        const HyveNetDef *n = g_ptr_array_index(def->nets, i);
        HyveStatsNet sn = { g_strdup(n->target_dev), { 0 }, n->addr.slot };

        memcpy(sn.mac, n->mac, HYVE_MAC_LEN);
        g_array_append_val(s->nets, sn);
    }
    return s;
}

/* The runner's counters (hyve_runner_parse_pairs table). */
GHashTable *
hyve_stats_runner_stats_timeout(const HyveStatsSnap *s, int timeout_ms, GError **error)
{
    g_autofree char *payload = hyve_runner_control(s->control, s->name, "stats",
                                                   timeout_ms, error);

    return payload ? hyve_runner_parse_pairs(payload) : NULL;
}

GHashTable *
hyve_stats_runner_stats(const HyveStatsSnap *s, GError **error)
{
    return hyve_stats_runner_stats_timeout(s, HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
}

gint64
hyve_stats_slot_counter(GHashTable *pairs, const char *dev, guint slot, const char *what)
{
    g_autofree char *key = g_strdup_printf("%s%u.%s", dev, slot, what);

    return pairs ? hyve_runner_pairs_get(pairs, key, -1) : -1;
}

/* ---- /proc ------------------------------------------------------------ */

guint64
hyve_stats_proc_field(char **fields, guint field)
{
    if (!fields || field < 3 || g_strv_length(fields) <= field - 3)
        return 0;
    return g_ascii_strtoull(fields[field - 3], NULL, 10);
}

/* The runner's /proc/<pid>/stat when pid still names that runner. */
char **
hyve_stats_runner_proc_stat(const HyveStatsSnap *s)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)s->pid);
    char **fields = hyve_proc_stat_fields(path);

    if (fields && s->start_time && hyve_stats_proc_field(fields, 22) != s->start_time)
        g_clear_pointer(&fields, g_strfreev);
    return fields;
}

/* vCPU thread ids by vCPU number (0 where not found). */
static GArray *
vcpu_threads(const HyveStatsSnap *s)
{
    GArray *tids = g_array_new(FALSE, TRUE, sizeof(pid_t));
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)s->pid);
    DIR *dir = opendir(dir_path);
    struct dirent *ent;

    g_array_set_size(tids, s->vcpus);
    if (!dir)
        return tids;
    while ((ent = readdir(dir))) {
        g_autofree char *comm_path = NULL;
        g_autofree char *comm = NULL;
        guint64 n;

        if (ent->d_name[0] == '.')
            continue;
        comm_path = g_strdup_printf("%s/%s/comm", dir_path, ent->d_name);
        if (!g_file_get_contents(comm_path, &comm, NULL, NULL))
            continue;
        g_strstrip(comm);
        if (!g_str_has_prefix(comm, "vcpu") ||
            !g_ascii_string_to_unsigned(comm + 4, 10, 0, G_MAXUINT, &n, NULL) || n >= s->vcpus)
            continue;
        g_array_index(tids, pid_t, n) = (pid_t)g_ascii_strtoll(ent->d_name, NULL, 10);
    }
    closedir(dir);
    return tids;
}

/* CPU time of one thread: schedstat's run time (ns), else utime+stime. */
static gboolean
thread_times(const HyveStatsSnap *s, pid_t tid, guint64 *cpu_ns, int *cpu)
{
    g_autofree char *base = g_strdup_printf("/proc/%d/task/%d", (int)s->pid, (int)tid);
    g_autofree char *stat_path = g_strconcat(base, "/stat", NULL);
    g_autofree char *sched_path = g_strconcat(base, "/schedstat", NULL);
    g_autofree char *sched = NULL;
    g_auto(GStrv) fields = hyve_proc_stat_fields(stat_path);

    if (!fields)
        return FALSE;
    *cpu = (int)hyve_stats_proc_field(fields, 39);
    if (g_file_get_contents(sched_path, &sched, NULL, NULL))
        *cpu_ns = g_ascii_strtoull(sched, NULL, 10);
    else
        *cpu_ns = hyve_proc_ticks_to_ns(hyve_stats_proc_field(fields, 14) + hyve_stats_proc_field(fields, 15));
    return TRUE;
}

GArray *
hyve_stats_get_vcpus(const HyveStatsSnap *s)
{
    GArray *info = g_array_new(FALSE, TRUE, sizeof(HyveVcpuInfo));
    g_auto(GStrv) stat = hyve_stats_runner_proc_stat(s);
    g_autoptr(GArray) tids = stat ? vcpu_threads(s) : NULL;
    g_autoptr(GHashTable) pairs = NULL;

    for (guint i = 0; i < s->vcpus; i++) {
        HyveVcpuInfo v = { .number = i, .state = 1 /* VIR_VCPU_RUNNING */, .cpu = -1 };
        pid_t tid = tids ? g_array_index(tids, pid_t, i) : 0;

        if (!tid || !thread_times(s, tid, &v.cpu_time_ns, &v.cpu)) {
            /* no thread (yet): the runner's own count of time in KVM_RUN */
            g_autofree char *key = g_strdup_printf("vcpu%u.time_ns", i);

            if (!pairs)
                pairs = hyve_stats_runner_stats(s, NULL);
            v.cpu_time_ns = (guint64)MAX(pairs ? hyve_runner_pairs_get(pairs, key, 0) : 0, 0);
            v.cpu = -1;
        }
        g_array_append_val(info, v);
    }
    return info;
}
/* VmRSS of the runner in KiB, -1 when unknown. */
gint64
hyve_stats_runner_rss_kib(const HyveStatsSnap *s)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)s->pid);
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "\nVmRSS:")))
        return -1;
    return (gint64)g_ascii_strtoull(p + strlen("\nVmRSS:"), NULL, 10);
}
