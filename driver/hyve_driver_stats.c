/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_stats.c: statistics and vCPU queries of domains (libvirt's
 * virDomainGetVcpus, BlockStats, InterfaceStats, MemoryStats, GetBlockInfo,
 * virConnectGetAllDomainStats).
 *
 * What a query needs of a domain is copied under obj->lock into a
 * StatsSnap; the runner (control request "stats", counters per PCI slot)
 * and /proc are then asked without any lock held. CPU times come from the
 * kernel's accounting of the runner's threads (the vCPU threads are named
 * "vcpuN"); device counters from the runner; sizes from the disk images.
 */
#include "hyve-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "hyve_driver_priv.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

/* libvirt VIR_DOMAIN_STATS_* groups and VIR_CONNECT_GET_ALL_DOMAINS_STATS_* flags */
#define STATS_STATE     (1u << 0)
#define STATS_CPU_TOTAL (1u << 1)
#define STATS_BALLOON   (1u << 2)
#define STATS_VCPU      (1u << 3)
#define STATS_INTERFACE (1u << 4)
#define STATS_BLOCK     (1u << 5)
#define STATS_SUPPORTED 0x3fu
#define ALL_STATS_FILTERS 0xffu      /* ACTIVE .. OTHER, as VIR_CONNECT_LIST_DOMAINS_* */
#define ALL_STATS_NOWAIT  (1u << 29)
#define ALL_STATS_BACKING (1u << 30)
#define ALL_STATS_ENFORCE (1u << 31)

#define MEMORY_STAT_ACTUAL_BALLOON 6
#define MEMORY_STAT_RSS 7

typedef struct {
    char *target;               /* "vda" */
    char *path;                 /* source path, NULL for an unresolved volume */
    guint slot;                 /* PCI slot: the runner's blkS counters */
} StatsDisk;

typedef struct {
    char *target;               /* host tap name, NULL when unknown */
    guint8 mac[HYVE_MAC_LEN];
    guint slot;                 /* netS counters */
} StatsNet;

typedef struct {
    char *name;
    HyveDomainState state;
    int reason;
    gboolean persistent;
    gboolean removed;           /* undefined meanwhile */
    gboolean active;            /* a runner exists */
    pid_t pid;
    guint64 start_time;
    char *control;
    guint vcpus;                /* online */
    guint vcpus_max;
    guint64 max_mem_kib;
    guint64 cur_mem_kib;        /* what the guest has (balloon.current) */
    GArray *disks;              /* StatsDisk */
    GArray *nets;               /* StatsNet */
} StatsSnap;

static void
stats_disk_clear(gpointer p)
{
    StatsDisk *d = p;

    g_free(d->target);
    g_free(d->path);
}

static void
stats_net_clear(gpointer p)
{
    g_free(((StatsNet *)p)->target);
}

static void
stats_snap_free(StatsSnap *s)
{
    if (!s)
        return;
    g_free(s->name);
    g_free(s->control);
    g_array_unref(s->disks);
    g_array_unref(s->nets);
    g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StatsSnap, stats_snap_free)

static StatsSnap *
stats_snap_take(HyveDomainObj *obj)
{
    StatsSnap *s = g_new0(StatsSnap, 1);
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
    s->disks = g_array_new(FALSE, TRUE, sizeof(StatsDisk));
    g_array_set_clear_func(s->disks, stats_disk_clear);
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const HyveDiskDef *d = g_ptr_array_index(def->disks, i);
        StatsDisk sd = { g_strdup(d->target_dev), g_strdup(d->path), d->addr.slot };

        g_array_append_val(s->disks, sd);
    }
    s->nets = g_array_new(FALSE, TRUE, sizeof(StatsNet));
    g_array_set_clear_func(s->nets, stats_net_clear);
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        const HyveNetDef *n = g_ptr_array_index(def->nets, i);
        StatsNet sn = { g_strdup(n->target_dev), { 0 }, n->addr.slot };

        memcpy(sn.mac, n->mac, HYVE_MAC_LEN);
        g_array_append_val(s->nets, sn);
    }
    return s;
}

static gboolean
check_active(const StatsSnap *s, GError **error)
{
    if (s->active)
        return TRUE;
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID, "domain is not running");
    return FALSE;
}

/* The runner's counters (hyve_runner_parse_pairs table). */
static GHashTable *
runner_stats_timeout(const StatsSnap *s, int timeout_ms, GError **error)
{
    g_autofree char *payload = hyve_runner_control(s->control, s->name, "stats",
                                                   timeout_ms, error);

    return payload ? hyve_runner_parse_pairs(payload) : NULL;
}

static GHashTable *
runner_stats(const StatsSnap *s, GError **error)
{
    return runner_stats_timeout(s, HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
}

/* All-domain stats ask every runner in turn while virt-manager polls: a
 * stuck runner may delay the answer by this much, not by the full timeout. */
#define HYVE_STATS_POLL_TIMEOUT_MS 1000

static gint64
slot_counter(GHashTable *pairs, const char *dev, guint slot, const char *what)
{
    g_autofree char *key = g_strdup_printf("%s%u.%s", dev, slot, what);

    return pairs ? hyve_runner_pairs_get(pairs, key, -1) : -1;
}

/* ---- /proc ------------------------------------------------------------ */

/* Fields of a /proc/.../stat line from field 3 (state) on: the command
 * name in parentheses may contain spaces, so split after the last ')'. */
static char **
proc_stat_fields(const char *path)
{
    g_autofree char *text = NULL;
    const char *rp;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(rp = strrchr(text, ')')))
        return NULL;
    return g_strsplit_set(g_strstrip((char *)rp + 1), " ", -1);
}

static guint64
proc_field(char **fields, guint field)
{
    if (!fields || field < 3 || g_strv_length(fields) <= field - 3)
        return 0;
    return g_ascii_strtoull(fields[field - 3], NULL, 10);
}

static guint64
ticks_to_ns(guint64 ticks)
{
    long hz = sysconf(_SC_CLK_TCK);

    return ticks * (G_GUINT64_CONSTANT(1000000000) / (guint64)(hz > 0 ? hz : 100));
}

/* The runner's /proc/<pid>/stat when pid still names that runner. */
static char **
runner_proc_stat(const StatsSnap *s)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)s->pid);
    char **fields = proc_stat_fields(path);

    if (fields && s->start_time && proc_field(fields, 22) != s->start_time)
        g_clear_pointer(&fields, g_strfreev);
    return fields;
}

/* vCPU thread ids by vCPU number (0 where not found). */
static GArray *
vcpu_threads(const StatsSnap *s)
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
thread_times(const StatsSnap *s, pid_t tid, guint64 *cpu_ns, int *cpu)
{
    g_autofree char *base = g_strdup_printf("/proc/%d/task/%d", (int)s->pid, (int)tid);
    g_autofree char *stat_path = g_strconcat(base, "/stat", NULL);
    g_autofree char *sched_path = g_strconcat(base, "/schedstat", NULL);
    g_autofree char *sched = NULL;
    g_auto(GStrv) fields = proc_stat_fields(stat_path);

    if (!fields)
        return FALSE;
    *cpu = (int)proc_field(fields, 39);
    if (g_file_get_contents(sched_path, &sched, NULL, NULL))
        *cpu_ns = g_ascii_strtoull(sched, NULL, 10);
    else
        *cpu_ns = ticks_to_ns(proc_field(fields, 14) + proc_field(fields, 15));
    return TRUE;
}

static GArray *
get_vcpus(const StatsSnap *s)
{
    GArray *info = g_array_new(FALSE, TRUE, sizeof(HyveVcpuInfo));
    g_auto(GStrv) stat = runner_proc_stat(s);
    g_autoptr(GArray) tids = stat ? vcpu_threads(s) : NULL;
    g_autoptr(GHashTable) pairs = NULL;

    for (guint i = 0; i < s->vcpus; i++) {
        HyveVcpuInfo v = { .number = i, .state = 1 /* VIR_VCPU_RUNNING */, .cpu = -1 };
        pid_t tid = tids ? g_array_index(tids, pid_t, i) : 0;

        if (!tid || !thread_times(s, tid, &v.cpu_time_ns, &v.cpu)) {
            /* no thread (yet): the runner's own count of time in KVM_RUN */
            g_autofree char *key = g_strdup_printf("vcpu%u.time_ns", i);

            if (!pairs)
                pairs = runner_stats(s, NULL);
            v.cpu_time_ns = (guint64)MAX(pairs ? hyve_runner_pairs_get(pairs, key, 0) : 0, 0);
            v.cpu = -1;
        }
        g_array_append_val(info, v);
    }
    return info;
}

GArray *
hyve_driver_domain_get_vcpus(HyveDriver *drv, HyveDomainObj *obj, GError **error)
{
    g_autoptr(StatsSnap) s = stats_snap_take(obj);

    if (!check_active(s, error))
        return NULL;
    return get_vcpus(s);
}

/* ---- block devices ------------------------------------------------------ */

static const StatsDisk *
find_disk(const StatsSnap *s, const char *path)
{
    for (guint i = 0; i < s->disks->len; i++) {
        const StatsDisk *d = &g_array_index(s->disks, StatsDisk, i);

        if (g_strcmp0(d->target, path) == 0 || g_strcmp0(d->path, path) == 0)
            return d;
    }
    return NULL;
}

static void
disk_counters(GHashTable *pairs, const StatsDisk *d, HyveBlockStats *st)
{
    st->rd_req = slot_counter(pairs, "blk", d->slot, "reads");
    st->rd_bytes = slot_counter(pairs, "blk", d->slot, "read_bytes");
    st->wr_req = slot_counter(pairs, "blk", d->slot, "writes");
    st->wr_bytes = slot_counter(pairs, "blk", d->slot, "write_bytes");
    st->errs = slot_counter(pairs, "blk", d->slot, "errors");
}

static void
add_counter(gint64 *sum, gint64 v)
{
    if (v >= 0)
        *sum = (*sum < 0 ? 0 : *sum) + v;
}

gboolean
hyve_driver_domain_block_stats(HyveDriver *drv, HyveDomainObj *obj, const char *path,
                               HyveBlockStats *stats, GError **error)
{
    g_autoptr(StatsSnap) s = stats_snap_take(obj);
    g_autoptr(GHashTable) pairs = NULL;
    const StatsDisk *disk = NULL;

    if (!check_active(s, error))
        return FALSE;
    /* "" = the sum over every disk (virsh domblkstat without a device) */
    if (path && *path && !(disk = find_disk(s, path))) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, "invalid path: %s", path);
        return FALSE;
    }
    if (!(pairs = runner_stats(s, error)))
        return FALSE;
    if (disk) {
        disk_counters(pairs, disk, stats);
        return TRUE;
    }
    *stats = (HyveBlockStats){ -1, -1, -1, -1, -1 };
    for (guint i = 0; i < s->disks->len; i++) {
        HyveBlockStats one;

        disk_counters(pairs, &g_array_index(s->disks, StatsDisk, i), &one);
        add_counter(&stats->rd_req, one.rd_req);
        add_counter(&stats->rd_bytes, one.rd_bytes);
        add_counter(&stats->wr_req, one.wr_req);
        add_counter(&stats->wr_bytes, one.wr_bytes);
        add_counter(&stats->errs, one.errs);
    }
    return TRUE;
}

/* Sizes of a disk image: capacity what the guest sees, allocation what
 * the host has allocated, physical the size on the host (for block
 * devices all three are the device size). */
static gboolean
disk_sizes(const StatsDisk *d, HyveBlockInfo *info, GError **error)
{
    struct stat st;

    if (!d->path) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_UNSUPPORTED,
                       "disk '%s' has no resolved source path", d->target);
        return FALSE;
    }
    if (stat(d->path, &st) < 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot stat file '%s': %s", d->path, g_strerror(errno));
        return FALSE;
    }
    if (S_ISBLK(st.st_mode)) {
        guint64 size = 0;
        int fd = open(d->path, O_RDONLY | O_CLOEXEC);
        int err = errno;

        if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
            if (fd >= 0) {
                err = errno;
                close(fd);
            }
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                           "cannot get the size of block device '%s': %s", d->path,
                           g_strerror(err));
            return FALSE;
        }
        close(fd);
        info->capacity = info->allocation = info->physical = size;
        return TRUE;
    }
    info->capacity = info->physical = (guint64)st.st_size;
    info->allocation = (guint64)st.st_blocks * 512;
    return TRUE;
}

gboolean
hyve_driver_domain_get_block_info(HyveDriver *drv, HyveDomainObj *obj, const char *path,
                                  HyveBlockInfo *info, GError **error)
{
    g_autoptr(StatsSnap) s = stats_snap_take(obj);
    const StatsDisk *disk = path ? find_disk(s, path) : NULL;

    if (!disk) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "invalid path %s not assigned to domain", path ? path : "(null)");
        return FALSE;
    }
    return disk_sizes(disk, info, error);
}

/* ---- network interfaces -------------------------------------------------- */

/* Counters of host interface @ifname from /proc/net/dev (the daemon's
 * network namespace, which is the tap's), in its column order: rx bytes,
 * packets, errs, drop, fifo, frame, compressed, multicast, tx bytes,
 * packets, errs, drop, ... FALSE when there is no such interface. */
static gboolean
host_net_counters(const char *ifname, guint64 cols[12])
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!ifname || !g_file_get_contents("/proc/net/dev", &text, NULL, NULL))
        return FALSE;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *colon = strchr(*l, ':');
        g_auto(GStrv) f = NULL;
        guint n = 0;

        if (!colon)
            continue;
        *colon = '\0';
        if (strcmp(g_strstrip(*l), ifname) != 0)
            continue;
        f = g_strsplit_set(colon + 1, " \t", -1);
        for (char **v = f; *v && n < 12; v++) {
            if (**v)
                cols[n++] = g_ascii_strtoull(*v, NULL, 10);
        }
        return n == 12;
    }
    return FALSE;
}

/* Packets and bytes as the runner's virtio-net counted them (rx = to the
 * guest); errors and drops from the host tap, whose rx is the guest's tx. */
static void
net_counters(GHashTable *pairs, const StatsNet *n, HyveInterfaceStats *st)
{
    guint64 host[12];

    st->rx_bytes = slot_counter(pairs, "net", n->slot, "rx_bytes");
    st->rx_packets = slot_counter(pairs, "net", n->slot, "rx_packets");
    st->tx_bytes = slot_counter(pairs, "net", n->slot, "tx_bytes");
    st->tx_packets = slot_counter(pairs, "net", n->slot, "tx_packets");
    if (host_net_counters(n->target, host)) {
        st->rx_errs = (gint64)host[10];
        st->rx_drop = (gint64)host[11];
        st->tx_errs = (gint64)host[2];
        st->tx_drop = (gint64)host[3];
    } else {
        st->rx_errs = st->rx_drop = st->tx_errs = st->tx_drop = -1;
    }
}

gboolean
hyve_driver_domain_interface_stats(HyveDriver *drv, HyveDomainObj *obj, const char *device,
                                   HyveInterfaceStats *stats, GError **error)
{
    g_autoptr(StatsSnap) s = stats_snap_take(obj);
    g_autoptr(GHashTable) pairs = NULL;
    const StatsNet *net = NULL;
    guint8 mac[HYVE_MAC_LEN];
    gboolean is_mac = device && hyve_mac_parse(device, mac);

    if (!check_active(s, error))
        return FALSE;
    for (guint i = 0; device && !net && i < s->nets->len; i++) {
        const StatsNet *n = &g_array_index(s->nets, StatsNet, i);

        if (g_strcmp0(n->target, device) == 0 ||
            (is_mac && memcmp(n->mac, mac, HYVE_MAC_LEN) == 0))
            net = n;
    }
    if (!net) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "invalid path, '%s' is not a known interface", device ? device : "");
        return FALSE;
    }
    if (!(pairs = runner_stats(s, error)))
        return FALSE;
    net_counters(pairs, net, stats);
    return TRUE;
}

/* ---- memory ------------------------------------------------------------ */

/* VmRSS of the runner in KiB, -1 when unknown. */
static gint64
runner_rss_kib(const StatsSnap *s)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)s->pid);
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strstr(text, "\nVmRSS:")))
        return -1;
    return (gint64)g_ascii_strtoull(p + strlen("\nVmRSS:"), NULL, 10);
}

GArray *
hyve_driver_domain_memory_stats(HyveDriver *drv, HyveDomainObj *obj, guint nr_stats,
                                GError **error)
{
    g_autoptr(StatsSnap) s = stats_snap_take(obj);
    GArray *out;
    g_auto(GStrv) stat = NULL;
    HyveMemoryStat m;
    gint64 rss;

    if (!check_active(s, error))
        return NULL;
    out = g_array_new(FALSE, TRUE, sizeof(HyveMemoryStat));
    /* no balloon device: the guest has all of its memory */
    m = (HyveMemoryStat){ MEMORY_STAT_ACTUAL_BALLOON, s->cur_mem_kib };
    if (out->len < nr_stats)
        g_array_append_val(out, m);
    stat = runner_proc_stat(s);
    rss = stat ? runner_rss_kib(s) : -1;
    m = (HyveMemoryStat){ MEMORY_STAT_RSS, (guint64)MAX(rss, 0) };
    if (rss >= 0 && out->len < nr_stats)
        g_array_append_val(out, m);
    return out;
}

/* ---- typed parameters and all-domain statistics ------------------------------ */

void
hyve_typed_param_free(HyveTypedParam *p)
{
    if (!p)
        return;
    if (p->type == HYVE_PARAM_STRING)
        g_free(p->v.s);
    g_free(p->field);
    g_free(p);
}

void
hyve_domain_stats_record_free(HyveDomainStatsRecord *rec)
{
    if (!rec)
        return;
    if (rec->obj)
        hyve_domain_obj_unref(rec->obj);
    if (rec->params)
        g_ptr_array_unref(rec->params);
    g_free(rec);
}

static HyveTypedParam *G_GNUC_PRINTF(3, 4)
param_add(GPtrArray *params, HyveParamType type, const char *fmt, ...)
{
    HyveTypedParam *p = g_new0(HyveTypedParam, 1);
    va_list ap;

    va_start(ap, fmt);
    p->field = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p->type = type;
    g_ptr_array_add(params, p);
    return p;
}

#define PARAM_INT(params, val, ...) (param_add((params), HYVE_PARAM_INT, __VA_ARGS__)->v.i = (val))
#define PARAM_UINT(params, val, ...) (param_add((params), HYVE_PARAM_UINT, __VA_ARGS__)->v.ui = (val))
#define PARAM_ULLONG(params, val, ...) \
    (param_add((params), HYVE_PARAM_ULLONG, __VA_ARGS__)->v.ul = (val))
#define PARAM_STRING(params, val, ...) \
    (param_add((params), HYVE_PARAM_STRING, __VA_ARGS__)->v.s = g_strdup(val))
/* A counter known to be >= 0; unknown (-1) ones are left out. */
#define PARAM_COUNTER(params, val, ...) \
    do { if ((val) >= 0) PARAM_ULLONG(params, (guint64)(val), __VA_ARGS__); } while (0)

static void
stats_cpu(const StatsSnap *s, GPtrArray *params)
{
    g_auto(GStrv) stat = runner_proc_stat(s);
    guint64 user, sys;

    if (!stat)
        return;
    user = ticks_to_ns(proc_field(stat, 14));
    sys = ticks_to_ns(proc_field(stat, 15));
    PARAM_ULLONG(params, user + sys, "cpu.time");
    PARAM_ULLONG(params, user, "cpu.user");
    PARAM_ULLONG(params, sys, "cpu.system");
}

static void
stats_vcpu(const StatsSnap *s, GPtrArray *params)
{
    g_autoptr(GArray) vcpus = NULL;

    PARAM_UINT(params, s->vcpus, "vcpu.current");
    PARAM_UINT(params, s->vcpus_max, "vcpu.maximum");
    if (!s->active)
        return;
    vcpus = get_vcpus(s);
    for (guint i = 0; i < vcpus->len; i++) {
        const HyveVcpuInfo *v = &g_array_index(vcpus, HyveVcpuInfo, i);

        PARAM_INT(params, v->state, "vcpu.%u.state", v->number);
        PARAM_ULLONG(params, v->cpu_time_ns, "vcpu.%u.time", v->number);
    }
}

static void
stats_net(const StatsSnap *s, GHashTable *pairs, GPtrArray *params)
{
    if (!s->active)
        return;
    PARAM_UINT(params, s->nets->len, "net.count");
    for (guint i = 0; i < s->nets->len; i++) {
        const StatsNet *n = &g_array_index(s->nets, StatsNet, i);
        HyveInterfaceStats st;

        if (n->target)
            PARAM_STRING(params, n->target, "net.%u.name", i);
        net_counters(pairs, n, &st);
        PARAM_COUNTER(params, st.rx_bytes, "net.%u.rx.bytes", i);
        PARAM_COUNTER(params, st.rx_packets, "net.%u.rx.pkts", i);
        PARAM_COUNTER(params, st.rx_errs, "net.%u.rx.errs", i);
        PARAM_COUNTER(params, st.rx_drop, "net.%u.rx.drop", i);
        PARAM_COUNTER(params, st.tx_bytes, "net.%u.tx.bytes", i);
        PARAM_COUNTER(params, st.tx_packets, "net.%u.tx.pkts", i);
        PARAM_COUNTER(params, st.tx_errs, "net.%u.tx.errs", i);
        PARAM_COUNTER(params, st.tx_drop, "net.%u.tx.drop", i);
    }
}

static void
stats_block(const StatsSnap *s, GHashTable *pairs, GPtrArray *params)
{
    PARAM_UINT(params, s->disks->len, "block.count");
    for (guint i = 0; i < s->disks->len; i++) {
        const StatsDisk *d = &g_array_index(s->disks, StatsDisk, i);
        HyveBlockInfo info;

        PARAM_STRING(params, d->target ? d->target : "", "block.%u.name", i);
        if (d->path)
            PARAM_STRING(params, d->path, "block.%u.path", i);
        if (s->active) {
            HyveBlockStats st;

            disk_counters(pairs, d, &st);
            PARAM_COUNTER(params, st.rd_req, "block.%u.rd.reqs", i);
            PARAM_COUNTER(params, st.rd_bytes, "block.%u.rd.bytes", i);
            PARAM_COUNTER(params, st.wr_req, "block.%u.wr.reqs", i);
            PARAM_COUNTER(params, st.wr_bytes, "block.%u.wr.bytes", i);
            PARAM_COUNTER(params, slot_counter(pairs, "blk", d->slot, "flushes"),
                          "block.%u.fl.reqs", i);
            PARAM_COUNTER(params, st.errs, "block.%u.errors", i);
        }
        if (disk_sizes(d, &info, NULL)) {
            PARAM_ULLONG(params, info.allocation, "block.%u.allocation", i);
            PARAM_ULLONG(params, info.capacity, "block.%u.capacity", i);
            PARAM_ULLONG(params, info.physical, "block.%u.physical", i);
        }
    }
}

static HyveDomainStatsRecord *
stats_record(HyveDomainObj *obj, const StatsSnap *s, guint stats)
{
    HyveDomainStatsRecord *rec = g_new0(HyveDomainStatsRecord, 1);
    g_autoptr(GHashTable) pairs = NULL;

    rec->obj = hyve_domain_obj_ref(obj);
    rec->params = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_typed_param_free);
    /* a runner that does not answer only costs its device counters */
    if (s->active && (stats & (STATS_INTERFACE | STATS_BLOCK)))
        pairs = runner_stats_timeout(s, HYVE_STATS_POLL_TIMEOUT_MS, NULL);
    if (stats & STATS_STATE) {
        PARAM_INT(rec->params, s->state, "state.state");
        PARAM_INT(rec->params, s->reason, "state.reason");
    }
    if ((stats & STATS_CPU_TOTAL) && s->active)
        stats_cpu(s, rec->params);
    if (stats & STATS_BALLOON) {
        gint64 rss = -1;
        g_auto(GStrv) stat = s->active ? runner_proc_stat(s) : NULL;

        PARAM_ULLONG(rec->params, s->cur_mem_kib, "balloon.current");
        PARAM_ULLONG(rec->params, s->max_mem_kib, "balloon.maximum");
        if (stat)
            rss = runner_rss_kib(s);
        PARAM_COUNTER(rec->params, rss, "balloon.rss");
    }
    if (stats & STATS_VCPU)
        stats_vcpu(s, rec->params);
    if (stats & STATS_INTERFACE)
        stats_net(s, pairs, rec->params);
    if (stats & STATS_BLOCK)
        stats_block(s, pairs, rec->params);
    return rec;
}

static HyveDomainStatsRecord *
stats_record_copy(const HyveDomainStatsRecord *rec)
{
    HyveDomainStatsRecord *copy = g_new0(HyveDomainStatsRecord, 1);

    copy->obj = hyve_domain_obj_ref(rec->obj);
    copy->params = g_ptr_array_new_full(rec->params->len,
                                        (GDestroyNotify)hyve_typed_param_free);
    for (guint i = 0; i < rec->params->len; i++) {
        const HyveTypedParam *p = g_ptr_array_index(rec->params, i);
        HyveTypedParam *c = g_memdup2(p, sizeof(*p));

        c->field = g_strdup(p->field);
        if (p->type == HYVE_PARAM_STRING)
            c->v.s = g_strdup(p->v.s);
        g_ptr_array_add(copy->params, c);
    }
    return copy;
}

/* VIR_CONNECT_GET_ALL_DOMAINS_STATS_* filters on an explicit list. */
static gboolean
stats_filter_match(const StatsSnap *s, guint flags)
{
    guint f;

    f = flags & 3u;                 /* ACTIVE 1, INACTIVE 2 */
    if (f && f != 3u && !(f == 1u ? s->active : !s->active))
        return FALSE;
    f = flags & 12u;                /* PERSISTENT 4, TRANSIENT 8 */
    if (f && f != 12u && !(f == 4u ? s->persistent : !s->persistent))
        return FALSE;
    f = flags & 0xf0u;              /* RUNNING 16, PAUSED 32, SHUTOFF 64, OTHER 128 */
    if (f) {
        guint bit = s->state == HYVE_DOMAIN_STATE_RUNNING ? 16u :
                    s->state == HYVE_DOMAIN_STATE_PAUSED ? 32u :
                    s->state == HYVE_DOMAIN_STATE_SHUTOFF ? 64u : 128u;

        if (!(f & bit))
            return FALSE;
    }
    return TRUE;
}

GPtrArray *
hyve_driver_get_all_domain_stats(HyveDriver *drv, GPtrArray *doms, guint stats, guint flags,
                                 GError **error)
{
    guint supported_flags = ALL_STATS_FILTERS | ALL_STATS_NOWAIT | ALL_STATS_BACKING |
                            ALL_STATS_ENFORCE;
    g_autoptr(GPtrArray) list = NULL;
    g_autoptr(GHashTable) done = NULL;
    GPtrArray *out;

    if (flags & ~supported_flags) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", flags & ~supported_flags,
                       G_STRFUNC);
        return NULL;
    }
    if ((flags & ALL_STATS_ENFORCE) && (stats & ~STATS_SUPPORTED)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_ARGUMENT_UNSUPPORTED,
                       "Stats types bits 0x%x are not supported by this daemon",
                       stats & ~STATS_SUPPORTED);
        return NULL;
    }
    stats = stats ? (stats & STATS_SUPPORTED) : STATS_SUPPORTED;
    if (!doms) {
        list = hyve_driver_list_domains(drv, 0, error);
        if (!list)
            return NULL;
        doms = list;
    }
    out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_domain_stats_record_free);
    done = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < doms->len; i++) {
        HyveDomainObj *obj = g_ptr_array_index(doms, i);
        HyveDomainStatsRecord *first = g_hash_table_lookup(done, obj);
        g_autoptr(StatsSnap) s = NULL;

        /* a domain listed again (as libvirt, one record each) is asked once */
        if (first) {
            g_ptr_array_add(out, stats_record_copy(first));
            continue;
        }
        s = stats_snap_take(obj);
        if (!s->removed && stats_filter_match(s, flags)) {
            HyveDomainStatsRecord *rec = stats_record(obj, s, stats);

            g_ptr_array_add(out, rec);
            g_hash_table_insert(done, obj, rec);
        }
    }
    return out;
}
