/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_stats.c: statistics and vCPU queries of one domain (libvirt's
 * virDomainGetVcpus, BlockStats, InterfaceStats, MemoryStats, GetBlockInfo).
 *
 * What a query needs of a domain is copied under obj->lock into a
 * HyveStatsSnap (hyve_driver_stats_snap.c); the runner (control request
 * "stats", counters per PCI slot) and /proc are then asked without any lock
 * held. Device counters come from the runner; sizes from the disk images.
 * All-domain statistics are in hyve_driver_stats_all.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "hyve_driver_stats_priv.h"

#define MEMORY_STAT_ACTUAL_BALLOON 6
#define MEMORY_STAT_RSS 7

static gboolean
check_active(const HyveStatsSnap *s, GError **error)
{
    if (s->active)
        return TRUE;
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID, "domain is not running");
    return FALSE;
}

GArray *
hyve_driver_domain_get_vcpus(HyveDriver *drv, HyveDomainObj *obj, GError **error)
{
    g_autoptr(HyveStatsSnap) s = hyve_stats_snap_take(obj);

    if (!check_active(s, error))
        return NULL;
    return hyve_stats_get_vcpus(s);
}

/* ---- block devices ------------------------------------------------------ */

static const HyveStatsDisk *
find_disk(const HyveStatsSnap *s, const char *path)
{
    for (guint i = 0; i < s->disks->len; i++) {
        const HyveStatsDisk *d = &g_array_index(s->disks, HyveStatsDisk, i);

        if (g_strcmp0(d->target, path) == 0 || g_strcmp0(d->path, path) == 0)
            return d;
    }
    return NULL;
}

void
hyve_stats_disk_counters(GHashTable *pairs, const HyveStatsDisk *d, HyveBlockStats *st)
{
    st->rd_req = hyve_stats_slot_counter(pairs, "blk", d->slot, "reads");
    st->rd_bytes = hyve_stats_slot_counter(pairs, "blk", d->slot, "read_bytes");
    st->wr_req = hyve_stats_slot_counter(pairs, "blk", d->slot, "writes");
    st->wr_bytes = hyve_stats_slot_counter(pairs, "blk", d->slot, "write_bytes");
    st->errs = hyve_stats_slot_counter(pairs, "blk", d->slot, "errors");
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
    g_autoptr(HyveStatsSnap) s = hyve_stats_snap_take(obj);
    g_autoptr(GHashTable) pairs = NULL;
    const HyveStatsDisk *disk = NULL;

    if (!check_active(s, error))
        return FALSE;
    /* "" = the sum over every disk (virsh domblkstat without a device) */
    if (path && *path && !(disk = find_disk(s, path))) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, "invalid path: %s", path);
        return FALSE;
    }
    if (!(pairs = hyve_stats_runner_stats(s, error)))
        return FALSE;
    if (disk) {
        hyve_stats_disk_counters(pairs, disk, stats);
        return TRUE;
    }
    *stats = (HyveBlockStats){ -1, -1, -1, -1, -1 };
    for (guint i = 0; i < s->disks->len; i++) {
        HyveBlockStats one;

        hyve_stats_disk_counters(pairs, &g_array_index(s->disks, HyveStatsDisk, i), &one);
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
gboolean
hyve_stats_disk_sizes(const HyveStatsDisk *d, HyveBlockInfo *info, GError **error)
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
    g_autoptr(HyveStatsSnap) s = hyve_stats_snap_take(obj);
    const HyveStatsDisk *disk = path ? find_disk(s, path) : NULL;

    if (!disk) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "invalid path %s not assigned to domain", path ? path : "(null)");
        return FALSE;
    }
    return hyve_stats_disk_sizes(disk, info, error);
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
void
hyve_stats_net_counters(GHashTable *pairs, const HyveStatsNet *n, HyveInterfaceStats *st)
{
    guint64 host[12];

    st->rx_bytes = hyve_stats_slot_counter(pairs, "net", n->slot, "rx_bytes");
    st->rx_packets = hyve_stats_slot_counter(pairs, "net", n->slot, "rx_packets");
    st->tx_bytes = hyve_stats_slot_counter(pairs, "net", n->slot, "tx_bytes");
    st->tx_packets = hyve_stats_slot_counter(pairs, "net", n->slot, "tx_packets");
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
    g_autoptr(HyveStatsSnap) s = hyve_stats_snap_take(obj);
    g_autoptr(GHashTable) pairs = NULL;
    const HyveStatsNet *net = NULL;
    guint8 mac[HYVE_MAC_LEN];
    gboolean is_mac = device && hyve_mac_parse(device, mac);

    if (!check_active(s, error))
        return FALSE;
    for (guint i = 0; device && !net && i < s->nets->len; i++) {
        const HyveStatsNet *n = &g_array_index(s->nets, HyveStatsNet, i);

        if (g_strcmp0(n->target, device) == 0 ||
            (is_mac && memcmp(n->mac, mac, HYVE_MAC_LEN) == 0))
            net = n;
    }
    if (!net) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "invalid path, '%s' is not a known interface", device ? device : "");
        return FALSE;
    }
    if (!(pairs = hyve_stats_runner_stats(s, error)))
        return FALSE;
    hyve_stats_net_counters(pairs, net, stats);
    return TRUE;
}

/* ---- memory ------------------------------------------------------------ */

GArray *
hyve_driver_domain_memory_stats(HyveDriver *drv, HyveDomainObj *obj, guint nr_stats,
                                GError **error)
{
    g_autoptr(HyveStatsSnap) s = hyve_stats_snap_take(obj);
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
    stat = hyve_stats_runner_proc_stat(s);
    rss = stat ? hyve_stats_runner_rss_kib(s) : -1;
    m = (HyveMemoryStat){ MEMORY_STAT_RSS, (guint64)MAX(rss, 0) };
    if (rss >= 0 && out->len < nr_stats)
        g_array_append_val(out, m);
    return out;
}
