/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_stats.c: RPC procedures that read statistics and
 * vCPU facts of domains (virt-manager polls CONNECT_GET_ALL_DOMAIN_STATS;
 * virsh vcpuinfo, vcpupin, domblkstat, domifstat, dommemstat, domblkinfo,
 * domstats, domcontrol, domjobinfo).
 *
 * The procedures that answer with typed parameters (DOMAIN_BLOCK_STATS_FLAGS,
 * CONNECT_GET_ALL_DOMAIN_STATS) are in hyved_remote_domain_params.c; the
 * table hyved_domain_stats_procs below lists both files' procedures.
 *
 * Sizes a client asks for (maxinfo, maplen) are checked against the
 * protocol limits before anything is allocated, with libvirtd's codes and
 * messages.
 */
#include "hyve-config.h"

#include <sched.h>
#include <string.h>

#include "hyved_remote_domain_stats_priv.h"

gboolean
hyved_stats_check_arg(gboolean ok, const char *arg, const char *rule, const char *api,
                      GError **error)
{
    if (!ok)
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG, "%s in %s must %s",
                       arg, api, rule);
    return ok;
}

/* ---- vCPUs --------------------------------------------------------------- */

/* Host CPUs a runner's threads may use: hyve never pins, so runners keep
 * the affinity they inherit from the daemon. */
static void
fill_affinity(guint8 *map, int maplen)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) < 0) {
        memset(map, 0xff, (size_t)maplen);
        return;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE && cpu < maplen * 8; cpu++) {
        if (CPU_ISSET(cpu, &set))
            map[cpu / 8] |= (guint8)(1u << (cpu % 8));
    }
}

static gboolean
hyved_remote_domain_get_vcpus(HyvedServer *server, HyvedClient *client,
                              const HyvedHeader *hdr, void *argsp, void *retp,
                              GError **error)
{
    remote_domain_get_vcpus_args *args = argsp;
    remote_domain_get_vcpus_ret *ret = retp;
    g_autoptr(GArray) vcpus = NULL;
    guint n;

    if (args->maxinfo > REMOTE_VCPUINFO_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "maxinfo > REMOTE_VCPUINFO_MAX");
        return FALSE;
    }
    if ((gint64)args->maxinfo * args->maplen > REMOTE_CPUMAPS_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
        return FALSE;
    }
    if (!hyved_stats_check_arg(args->maxinfo > 0, "maxinfo", "be greater than zero",
                   "virDomainGetVcpus", error) ||
        !hyved_stats_check_arg(args->maplen >= 0, "maplen", "be zero or greater",
                   "virDomainGetVcpus", error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    vcpus = hyve_driver_domain_get_vcpus(hyved_server_get_driver(server), obj, error);
    if (!vcpus)
        return FALSE;

    n = MIN(vcpus->len, (guint)args->maxinfo);
    ret->info.info_val = g_new0(remote_vcpu_info, MAX(n, 1));
    ret->info.info_len = n;
    for (guint i = 0; i < n; i++) {
        const HyveVcpuInfo *v = &g_array_index(vcpus, HyveVcpuInfo, i);

        ret->info.info_val[i].number = v->number;
        ret->info.info_val[i].state = v->state;
        ret->info.info_val[i].cpu_time = v->cpu_time_ns;
        ret->info.info_val[i].cpu = v->cpu;
    }
    if (args->maplen > 0) {
        ret->cpumaps.cpumaps_len = (u_int)(args->maxinfo * args->maplen);
        ret->cpumaps.cpumaps_val = g_malloc0(ret->cpumaps.cpumaps_len);
        for (guint i = 0; i < n; i++)
            fill_affinity((guint8 *)ret->cpumaps.cpumaps_val + (gsize)i * args->maplen,
                          args->maplen);
    }
    return TRUE;
}

/* DOMAIN_GET_VCPU_PIN_INFO: the protocol file has no types for it, so its
 * XDR is written here (remote_protocol.x layout). */
typedef struct {
    remote_nonnull_domain dom;
    int ncpumaps;
    int maplen;
    u_int flags;
} HyvedVcpuPinInfoArgs;

typedef struct {
    struct {
        u_int cpumaps_len;
        char *cpumaps_val;
    } cpumaps;
    int num;
} HyvedVcpuPinInfoRet;

static bool_t
xdr_hyved_vcpu_pin_info_args(XDR *xdrs, HyvedVcpuPinInfoArgs *a)
{
    return xdr_remote_nonnull_domain(xdrs, &a->dom) && xdr_int(xdrs, &a->ncpumaps) &&
           xdr_int(xdrs, &a->maplen) && xdr_u_int(xdrs, &a->flags);
}

static bool_t
xdr_hyved_vcpu_pin_info_ret(XDR *xdrs, HyvedVcpuPinInfoRet *r)
{
    return xdr_bytes(xdrs, &r->cpumaps.cpumaps_val, &r->cpumaps.cpumaps_len,
                     REMOTE_CPUMAPS_MAX) && xdr_int(xdrs, &r->num);
}

/* No <cputune> pinning in hyve: every vCPU may run on every host CPU. */
static gboolean
hyved_remote_domain_get_vcpu_pin_info(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *argsp, void *retp,
                                      GError **error)
{
    HyvedVcpuPinInfoArgs *args = argsp;
    HyvedVcpuPinInfoRet *ret = retp;
    HyveNodeInfo node = { 0 };
    int nvcpus, n;

    if (args->ncpumaps > REMOTE_VCPUINFO_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "ncpumaps > REMOTE_VCPUINFO_MAX");
        return FALSE;
    }
    if ((gint64)args->ncpumaps * args->maplen > REMOTE_CPUMAPS_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "maxinfo * maplen > REMOTE_CPUMAPS_MAX");
        return FALSE;
    }
    if (!hyved_stats_check_arg(args->ncpumaps > 0, "ncpumaps", "be greater than zero",
                   "virDomainGetVcpuPinInfo", error) ||
        !hyved_stats_check_arg(args->maplen > 0, "maplen", "be greater than zero",
                   "virDomainGetVcpuPinInfo", error) ||
        !hyved_check_flags(args->flags, HYVED_DOMAIN_AFFECT_LIVE | HYVED_DOMAIN_AFFECT_CONFIG,
                           "virDomainGetVcpuPinInfo", error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    nvcpus = hyved_domain_get_vcpus(obj, args->flags | HYVED_DOMAIN_VCPU_MAXIMUM, error);
    if (nvcpus < 0 || !hyve_driver_node_get_info(hyved_server_get_driver(server), &node, error))
        return FALSE;

    n = MIN(nvcpus, args->ncpumaps);
    ret->cpumaps.cpumaps_len = (u_int)(args->ncpumaps * args->maplen);
    ret->cpumaps.cpumaps_val = g_malloc0(ret->cpumaps.cpumaps_len);
    for (int i = 0; i < n; i++) {
        guint8 *map = (guint8 *)ret->cpumaps.cpumaps_val + (gsize)i * args->maplen;

        for (int cpu = 0; cpu < node.cpus && cpu < args->maplen * 8; cpu++)
            map[cpu / 8] |= (guint8)(1u << (cpu % 8));
    }
    ret->num = n;
    return TRUE;
}

/* ---- devices and memory ---------------------------------------------------- */

static gboolean
hyved_remote_domain_block_stats(HyvedServer *server, HyvedClient *client,
                                const HyvedHeader *hdr, void *argsp, void *retp,
                                GError **error)
{
    remote_domain_block_stats_args *args = argsp;
    remote_domain_block_stats_ret *ret = retp;
    HyveBlockStats st = { 0 };

    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    if (!hyve_driver_domain_block_stats(hyved_server_get_driver(server), obj, args->path,
                                        &st, error))
        return FALSE;
    ret->rd_req = st.rd_req;
    ret->rd_bytes = st.rd_bytes;
    ret->wr_req = st.wr_req;
    ret->wr_bytes = st.wr_bytes;
    ret->errs = st.errs;
    return TRUE;
}

static gboolean
hyved_remote_domain_interface_stats(HyvedServer *server, HyvedClient *client,
                                    const HyvedHeader *hdr, void *argsp, void *retp,
                                    GError **error)
{
    remote_domain_interface_stats_args *args = argsp;
    remote_domain_interface_stats_ret *ret = retp;
    HyveInterfaceStats st = { 0 };

    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    if (!hyve_driver_domain_interface_stats(hyved_server_get_driver(server), obj,
                                            args->device, &st, error))
        return FALSE;
    ret->rx_bytes = st.rx_bytes;
    ret->rx_packets = st.rx_packets;
    ret->rx_errs = st.rx_errs;
    ret->rx_drop = st.rx_drop;
    ret->tx_bytes = st.tx_bytes;
    ret->tx_packets = st.tx_packets;
    ret->tx_errs = st.tx_errs;
    ret->tx_drop = st.tx_drop;
    return TRUE;
}

static gboolean
hyved_remote_domain_memory_stats(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_memory_stats_args *args = argsp;
    remote_domain_memory_stats_ret *ret = retp;
    g_autoptr(GArray) stats = NULL;

    if (args->maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX");
        return FALSE;
    }
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    /* as virDomainMemoryStats: asking for none returns none */
    if (args->maxStats == 0)
        return TRUE;
    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    stats = hyve_driver_domain_memory_stats(hyved_server_get_driver(server), obj,
                                            args->maxStats, error);
    if (!stats)
        return FALSE;
    if (stats->len == 0)
        return TRUE;
    ret->stats.stats_val = g_new0(remote_domain_memory_stat, stats->len);
    ret->stats.stats_len = stats->len;
    for (guint i = 0; i < stats->len; i++) {
        ret->stats.stats_val[i].tag = g_array_index(stats, HyveMemoryStat, i).tag;
        ret->stats.stats_val[i].val = g_array_index(stats, HyveMemoryStat, i).val;
    }
    return TRUE;
}

static gboolean
hyved_remote_domain_get_block_info(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_domain_get_block_info_args *args = argsp;
    remote_domain_get_block_info_ret *ret = retp;
    HyveBlockInfo info = { 0 };

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    if (!hyve_driver_domain_get_block_info(hyved_server_get_driver(server), obj, args->path,
                                           &info, error))
        return FALSE;
    ret->allocation = info.allocation;
    ret->capacity = info.capacity;
    ret->physical = info.physical;
    return TRUE;
}

/* No monitor that could hang: a running domain's control is always OK. */
static gboolean
hyved_remote_domain_get_control_info(HyvedServer *server, HyvedClient *client,
                                     const HyvedHeader *hdr, void *argsp, void *retp,
                                     GError **error)
{
    remote_domain_get_control_info_args *args = argsp;
    remote_domain_get_control_info_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    if (!hyve_domain_obj_is_active(obj)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain is not running");
        return FALSE;
    }
    ret->state = 0;         /* VIR_DOMAIN_CONTROL_OK */
    ret->details = 0;
    ret->stateTime = 0;
    return TRUE;
}

/* ---- jobs ---------------------------------------------------------------- */

/* hyve runs no background jobs (no migration, save or dump): every domain,
 * running or not, answers VIR_DOMAIN_JOB_NONE with zero counters, as libvirt
 * drivers do between jobs (virt-manager polls it during its Save dialog). */
static gboolean
hyved_remote_domain_get_job_info(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_get_job_info_args *args = argsp;
    remote_domain_get_job_info_ret *ret = retp;

    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    ret->type = 0;              /* VIR_DOMAIN_JOB_NONE; the counters stay 0 */
    return TRUE;
}

/* VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED */
#define HYVED_JOB_STATS_FLAGS_ALL 0x3u

/* The typed-parameter form (virsh domjobinfo): no job now and no completed
 * one to report, so type VIR_DOMAIN_JOB_NONE and no parameters. */
static gboolean
hyved_remote_domain_get_job_stats(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *argsp, void *retp,
                                  GError **error)
{
    remote_domain_get_job_stats_args *args = argsp;
    remote_domain_get_job_stats_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_JOB_STATS_FLAGS_ALL, error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    ret->type = 0;              /* VIR_DOMAIN_JOB_NONE */
    ret->params.params_len = 0;
    ret->params.params_val = NULL;
    return TRUE;
}

const HyvedProcedure hyved_domain_stats_procs[] = {
    /* job progress: always "no job" */
    HYVED_PROC_AR(DOMAIN_GET_JOB_INFO, domain_get_job_info, hyved_remote_domain_get_job_info, 0),
    HYVED_PROC_AR(DOMAIN_GET_JOB_STATS, domain_get_job_stats,
                  hyved_remote_domain_get_job_stats, 0),
    HYVED_PROC_AR(DOMAIN_GET_VCPUS, domain_get_vcpus, hyved_remote_domain_get_vcpus, 0),
    { REMOTE_PROC_DOMAIN_GET_VCPU_PIN_INFO, "DOMAIN_GET_VCPU_PIN_INFO",
      (xdrproc_t) xdr_hyved_vcpu_pin_info_args, sizeof(HyvedVcpuPinInfoArgs),
      (xdrproc_t) xdr_hyved_vcpu_pin_info_ret, sizeof(HyvedVcpuPinInfoRet),
      hyved_remote_domain_get_vcpu_pin_info, 0 },
    HYVED_PROC_AR(DOMAIN_BLOCK_STATS, domain_block_stats, hyved_remote_domain_block_stats, 0),
    HYVED_PROC_AR(DOMAIN_BLOCK_STATS_FLAGS, domain_block_stats_flags,
                  hyved_remote_domain_block_stats_flags, 0),
    HYVED_PROC_AR(DOMAIN_INTERFACE_STATS, domain_interface_stats,
                  hyved_remote_domain_interface_stats, 0),
    HYVED_PROC_AR(DOMAIN_MEMORY_STATS, domain_memory_stats,
                  hyved_remote_domain_memory_stats, 0),
    HYVED_PROC_AR(DOMAIN_GET_BLOCK_INFO, domain_get_block_info,
                  hyved_remote_domain_get_block_info, 0),
    HYVED_PROC_AR(DOMAIN_GET_CONTROL_INFO, domain_get_control_info,
                  hyved_remote_domain_get_control_info, 0),
    HYVED_PROC_AR(CONNECT_GET_ALL_DOMAIN_STATS, connect_get_all_domain_stats,
                  hyved_remote_connect_get_all_domain_stats, 0),
};
const size_t hyved_domain_stats_nprocs = G_N_ELEMENTS(hyved_domain_stats_procs);
