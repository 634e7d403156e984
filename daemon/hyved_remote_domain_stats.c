/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_stats.c: RPC procedures that read statistics and
 * vCPU facts of domains (virt-manager polls CONNECT_GET_ALL_DOMAIN_STATS;
 * virsh vcpuinfo, vcpupin, domblkstat, domifstat, dommemstat, domblkinfo,
 * domstats, domcontrol).
 *
 * Sizes a client asks for (maxinfo, maplen, nparams, maxStats) are checked
 * against the protocol limits before anything is allocated, with
 * libvirtd's codes and messages.
 */
#include "hyve-config.h"

#include <sched.h>
#include <string.h>

#include "hyved_remote_util.h"

/* libvirt VIR_TYPED_PARAM_STRING_OKAY */
#define HYVED_TYPED_PARAM_STRING_OKAY (1u << 2)

#define HYVED_LOOKUP_OR_FAIL(obj, server, wire, error) \
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup((server), (wire), (error)); \
    if (!obj) \
        return FALSE

/* libvirt's public-API argument checks (virCheck*Arg): INVALID_ARG from DOMAIN. */
static gboolean
check_arg(gboolean ok, const char *arg, const char *rule, const char *api, GError **error)
{
    if (!ok)
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_INVALID_ARG, "%s in %s must %s",
                       arg, api, rule);
    return ok;
}

/* ---- typed parameters -------------------------------------------------- */

/* HyveTypedParam list -> wire params; more than @limit is libvirt's RPC
 * error. Strings only when the client accepts them. */
static gboolean
typed_params_to_wire(GPtrArray *params, guint limit, gboolean strings_ok,
                     remote_typed_param **val, u_int *len, GError **error)
{
    remote_typed_param *out;
    u_int n = 0;

    *val = NULL;
    *len = 0;
    if (params->len > limit) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                       "too many parameters '%u' for limit '%u'", params->len, limit);
        return FALSE;
    }
    if (params->len == 0)
        return TRUE;
    out = g_new0(remote_typed_param, params->len);
    for (guint i = 0; i < params->len; i++) {
        const HyveTypedParam *p = g_ptr_array_index(params, i);
        remote_typed_param *w = &out[n];

        if (p->type == HYVE_PARAM_STRING && !strings_ok)
            continue;
        w->field = g_strdup(p->field);
        w->value.type = (int)p->type;
        switch (p->type) {
        case HYVE_PARAM_INT:
            w->value.remote_typed_param_value_u.i = p->v.i;
            break;
        case HYVE_PARAM_UINT:
            w->value.remote_typed_param_value_u.ui = p->v.ui;
            break;
        case HYVE_PARAM_LLONG:
            w->value.remote_typed_param_value_u.l = p->v.l;
            break;
        case HYVE_PARAM_ULLONG:
            w->value.remote_typed_param_value_u.ul = p->v.ul;
            break;
        case HYVE_PARAM_DOUBLE:
            w->value.remote_typed_param_value_u.d = p->v.d;
            break;
        case HYVE_PARAM_BOOLEAN:
            w->value.remote_typed_param_value_u.b = p->v.b ? 1 : 0;
            break;
        case HYVE_PARAM_STRING:
            w->value.remote_typed_param_value_u.s = g_strdup(p->v.s ? p->v.s : "");
            break;
        }
        n++;
    }
    *val = out;
    *len = n;
    return TRUE;
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
    if (!check_arg(args->maxinfo > 0, "maxinfo", "be greater than zero",
                   "virDomainGetVcpus", error) ||
        !check_arg(args->maplen >= 0, "maplen", "be zero or greater",
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
    if (!check_arg(args->ncpumaps > 0, "ncpumaps", "be greater than zero",
                   "virDomainGetVcpuPinInfo", error) ||
        !check_arg(args->maplen > 0, "maplen", "be greater than zero",
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
hyved_remote_domain_block_stats_flags(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *argsp, void *retp,
                                      GError **error)
{
    remote_domain_block_stats_flags_args *args = argsp;
    remote_domain_block_stats_flags_ret *ret = retp;
    g_autoptr(GPtrArray) params = NULL;
    HyveBlockStats st = { 0 };
    struct { const char *field; gint64 val; } fields[5];

    if (args->nparams > REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR, "nparams too large");
        return FALSE;
    }
    if (!check_arg(args->nparams >= 0, "nparams", "be zero or greater",
                   "virDomainBlockStatsFlags", error) ||
        !hyved_check_flags(args->flags, HYVED_TYPED_PARAM_STRING_OKAY,
                           "virDomainBlockStatsFlags", error))
        return FALSE;
    HYVED_LOOKUP_OR_FAIL(obj, server, &args->dom, error);
    if (!hyve_driver_domain_block_stats(hyved_server_get_driver(server), obj, args->path,
                                        &st, error))
        return FALSE;

    /* libvirt's VIR_DOMAIN_BLOCK_STATS_* names; unknown counters left out */
    fields[0].field = "rd_operations", fields[0].val = st.rd_req;
    fields[1].field = "rd_bytes", fields[1].val = st.rd_bytes;
    fields[2].field = "wr_operations", fields[2].val = st.wr_req;
    fields[3].field = "wr_bytes", fields[3].val = st.wr_bytes;
    fields[4].field = "errs", fields[4].val = st.errs;
    params = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_typed_param_free);
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        HyveTypedParam *p;

        if (fields[i].val < 0)
            continue;
        p = g_new0(HyveTypedParam, 1);
        p->field = g_strdup(fields[i].field);
        p->type = HYVE_PARAM_LLONG;
        p->v.l = fields[i].val;
        g_ptr_array_add(params, p);
    }
    /* nparams 0: the client asks how many there are */
    if (args->nparams == 0) {
        ret->nparams = (int)params->len;
        return TRUE;
    }
    if (params->len > (guint)args->nparams)
        g_ptr_array_set_size(params, (guint)args->nparams);
    return typed_params_to_wire(params, REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX, FALSE,
                                &ret->params.params_val, &ret->params.params_len, error);
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

/* ---- bulk statistics ------------------------------------------------------ */

static gboolean
hyved_remote_connect_get_all_domain_stats(HyvedServer *server, HyvedClient *client,
                                          const HyvedHeader *hdr, void *argsp, void *retp,
                                          GError **error)
{
    remote_connect_get_all_domain_stats_args *args = argsp;
    remote_connect_get_all_domain_stats_ret *ret = retp;
    HyveDriver *drv = hyved_server_get_driver(server);
    g_autoptr(GPtrArray) doms = NULL;
    g_autoptr(GPtrArray) recs = NULL;
    remote_domain_stats_record *out;

    /* virDomainListGetStats: domains that vanished meanwhile are skipped */
    if (args->doms.doms_len > 0) {
        doms = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_domain_obj_unref);
        for (u_int i = 0; i < args->doms.doms_len; i++) {
            HyveDomainObj *obj = hyved_domain_lookup(server, &args->doms.doms_val[i], NULL);

            if (obj)
                g_ptr_array_add(doms, obj);
        }
    }
    recs = hyve_driver_get_all_domain_stats(drv, doms, args->stats, args->flags, error);
    if (!recs)
        return FALSE;
    if (recs->len > REMOTE_DOMAIN_LIST_MAX) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR,
                       "Too many records: %u > %d", recs->len, REMOTE_DOMAIN_LIST_MAX);
        return FALSE;
    }
    if (recs->len == 0)
        return TRUE;
    out = g_new0(remote_domain_stats_record, recs->len);
    ret->retStats.retStats_val = out;
    for (guint i = 0; i < recs->len; i++) {
        HyveDomainStatsRecord *rec = g_ptr_array_index(recs, i);

        /* counted as it is filled, so xdr_free releases what exists on failure */
        ret->retStats.retStats_len = i + 1;
        hyved_domain_to_wire(rec->obj, &out[i].dom);
        if (!typed_params_to_wire(rec->params, REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX, TRUE,
                                  &out[i].params.params_val, &out[i].params.params_len,
                                  error))
            return FALSE;
    }
    return TRUE;
}

const HyvedProcedure hyved_domain_stats_procs[] = {
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
