/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_stats_priv.h: what the hyve_driver_stats*.c files share and
 * nothing else uses: the snapshot of a domain a statistics query works on,
 * the runner's counters and /proc readings (hyve_driver_stats_snap.c), and
 * the device counters and sizes (hyve_driver_stats.c) the all-domain
 * statistics (hyve_driver_stats_all.c) reuse.
 */
#pragma once

#include "hyve_driver_priv.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

G_BEGIN_DECLS

typedef struct {
    char *target;               /* "vda" */
    char *path;                 /* source path, NULL for an unresolved volume */
    guint slot;                 /* PCI slot: the runner's blkS counters */
} HyveStatsDisk;

typedef struct {
    char *target;               /* host tap name, NULL when unknown */
    guint8 mac[HYVE_MAC_LEN];
    guint slot;                 /* netS counters */
} HyveStatsNet;

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
    GArray *disks;              /* HyveStatsDisk */
    GArray *nets;               /* HyveStatsNet */
} HyveStatsSnap;
/* ---- hyve_driver_stats_snap.c ------------------------------------------ */
/* What a query needs of @obj, copied under obj->lock. */
HyveStatsSnap *hyve_stats_snap_take(HyveDomainObj *obj);
void hyve_stats_snap_free(HyveStatsSnap *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveStatsSnap, hyve_stats_snap_free)
/* The runner's counters (hyve_runner_parse_pairs table), or NULL. */
GHashTable *hyve_stats_runner_stats_timeout(const HyveStatsSnap *s, int timeout_ms,
                                            GError **error);
GHashTable *hyve_stats_runner_stats(const HyveStatsSnap *s, GError **error);
/* Counter "<dev><slot>.<what>" of @pairs, -1 when unknown. */
gint64 hyve_stats_slot_counter(GHashTable *pairs, const char *dev, guint slot, const char *what);
/* Field number @field (from 3 on, as proc(5) counts) of a /proc stat line. */
guint64 hyve_stats_proc_field(char **fields, guint field);
/* The runner's /proc/<pid>/stat fields when pid still names that runner. */
char **hyve_stats_runner_proc_stat(const HyveStatsSnap *s);
/* HyveVcpuInfo of every online vCPU. */
GArray *hyve_stats_get_vcpus(const HyveStatsSnap *s);
/* VmRSS of the runner in KiB, -1 when unknown. */
gint64 hyve_stats_runner_rss_kib(const HyveStatsSnap *s);

/* ---- hyve_driver_stats.c ----------------------------------------------- */
void hyve_stats_disk_counters(GHashTable *pairs, const HyveStatsDisk *d, HyveBlockStats *st);
void hyve_stats_net_counters(GHashTable *pairs, const HyveStatsNet *n, HyveInterfaceStats *st);
gboolean hyve_stats_disk_sizes(const HyveStatsDisk *d, HyveBlockInfo *info, GError **error);

G_END_DECLS
