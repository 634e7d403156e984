/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_node.c: RPC procedures about the host node (libvirt-rpc.md
 * §7.1): node info, CPU map, free memory, memory and CPU statistics, the
 * security model, and the empty node-device lists virt-manager probes.
 * They are listed in hyved_host_procs (hyved_remote_host.c).
 *
 * Each handler: check flags -> driver call -> fill ret.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_remote_util.h"

#define HYVED_NODE_DEVICE_LIST_FLAGS_ALL 0xf0ffffffu  /* cap bits + PERSISTENT..ACTIVE */

gboolean
hyved_remote_node_get_info(HyvedServer *server, HyvedClient *client,
                           const HyvedHeader *hdr, void *args, void *retp,
                           GError **error)
{
    remote_node_get_info_ret *ret = retp;
    HyveNodeInfo info = { 0 };

    if (!hyve_driver_node_get_info(hyved_server_get_driver(server), &info, error))
        return FALSE;
    /* char model[32]: rpcgen sends each char as one XDR word. */
    memset(ret->model, 0, sizeof(ret->model));
    memcpy(ret->model, info.model, strnlen(info.model, sizeof(ret->model) - 1));
    ret->memory = info.memory_kib;
    ret->cpus = info.cpus;
    ret->mhz = info.mhz;
    ret->nodes = info.nodes;
    ret->sockets = info.sockets;
    ret->cores = info.cores;
    ret->threads = info.threads;
    return TRUE;
}

gboolean
hyved_remote_node_get_cpu_map(HyvedServer *server, HyvedClient *client,
                              const HyvedHeader *hdr, void *argsp, void *retp,
                              GError **error)
{
    remote_node_get_cpu_map_args *args = argsp;
    remote_node_get_cpu_map_ret *ret = retp;
    g_autofree guint8 *online_map = NULL;
    guint online = 0;
    int ncpus;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    ncpus = hyve_driver_node_get_cpu_map(hyved_server_get_driver(server), &online_map,
                                         &online, args->flags, error);
    if (ncpus < 0)
        return FALSE;

    if (args->need_map) {
        /* libvirt's cpumap: bit i of byte i/8 set when CPU i is online. */
        u_int len = (u_int) (ncpus + 7) / 8;

        if (len > REMOTE_CPUMAP_MAX) {
            hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC,
                           "Too many CPUs '%d' for limit '%d'", ncpus, REMOTE_CPUMAP_MAX * 8);
            return FALSE;
        }
        ret->cpumap.cpumap_val = g_malloc0(MAX(len, 1));
        ret->cpumap.cpumap_len = len;
        for (int i = 0; i < ncpus; i++) {
            if (online_map && online_map[i])
                ret->cpumap.cpumap_val[i / 8] |= (char) (1 << (i % 8));
        }
    }
    if (args->need_online)
        ret->online = online;
    ret->ret = ncpus;
    return TRUE;
}

gboolean
hyved_remote_node_get_free_memory(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *args, void *retp,
                                  GError **error)
{
    remote_node_get_free_memory_ret *ret = retp;
    g_autoptr(GError) local = NULL;

    ret->freeMem = hyve_driver_node_get_free_memory(hyved_server_get_driver(server), &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

gboolean
hyved_remote_node_get_cells_free_memory(HyvedServer *server, HyvedClient *client,
                                        const HyvedHeader *hdr, void *argsp, void *retp,
                                        GError **error)
{
    remote_node_get_cells_free_memory_args *args = argsp;
    remote_node_get_cells_free_memory_ret *ret = retp;
    HyveDriver *drv = hyved_server_get_driver(server);
    HyveNodeInfo info = { 0 };
    int ncells;
    int last;

    if (args->maxcells > REMOTE_NODE_MAX_CELLS) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC, "maxCells > REMOTE_NODE_MAX_CELLS");
        return FALSE;
    }
    if (args->startCell < 0 || args->maxcells <= 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "startCell must be >= 0 and maxCells > 0 (got %d, %d)",
                       args->startCell, args->maxcells);
        return FALSE;
    }
    if (!hyve_driver_node_get_info(drv, &info, error))
        return FALSE;
    ncells = MAX(info.nodes, 1);
    if (args->startCell >= ncells) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "start cell %d out of range (0-%d)", args->startCell, ncells - 1);
        return FALSE;
    }
    last = MIN(args->startCell + args->maxcells, ncells);

    ret->cells.cells_val = g_new0(u_quad_t, last - args->startCell);
    for (int cell = args->startCell; cell < last; cell++) {
        guint64 bytes = 0;

        if (!hyved_host_cell_free_memory(drv, cell, ncells, &bytes, error)) {
            xdr_free((xdrproc_t) xdr_remote_node_get_cells_free_memory_ret, (char *) ret);
            memset(ret, 0, sizeof(*ret));
            return FALSE;
        }
        ret->cells.cells_val[ret->cells.cells_len++] = bytes;
    }
    return TRUE;
}

/* nparams == 0: only the count; otherwise exactly that many, as libvirt. */
static gboolean
hyved_node_stats_check_nparams(int nparams, guint have, const char *api, GError **error)
{
    if (nparams < 0 || (nparams > 0 && (guint) nparams != have)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "nparams in %s must be %u", api, have);
        return FALSE;
    }
    return TRUE;
}

typedef GArray *(*HyvedNodeStatsFunc)(HyveDriver *drv, int which, guint flags,
                                      GError **error);

/* The typed-parameter protocol shared by virNodeGetMemoryStats and
 * virNodeGetCPUStats: nparams == 0 asks for the count only, otherwise the
 * client must ask for exactly as many rows as the host has. @handler names
 * the calling handler in the unsupported-flags error. Returns the driver's
 * rows (the count is their length), NULL on error. */
static GArray *
hyved_node_stats_get(HyvedServer *server, const char *handler, HyvedNodeStatsFunc get,
                     const char *api, int which, int nparams, int max, guint flags,
                     GError **error)
{
    g_autoptr(GArray) stats = NULL;

    if (nparams > max) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_RPC, "nparams too large");
        return NULL;
    }
    if (!hyved_check_flags(flags, 0, handler, error))
        return NULL;
    stats = get(hyved_server_get_driver(server), which, flags, error);
    if (!stats)
        return NULL;
    if (!hyved_node_stats_check_nparams(nparams, stats->len, api, error))
        return NULL;
    return g_steal_pointer(&stats);
}

/* Copies the driver's rows into an XDR params array of TYPE; both stats
 * procedures use { remote_nonnull_string field; u_quad_t value; }. */
#define HYVED_NODE_STATS_COPY(type, params, stats) \
    do { \
        (params).params_val = g_new0(type, (stats)->len); \
        for (guint i_ = 0; i_ < (stats)->len; i_++) { \
            const HyveNodeStat *st_ = &g_array_index((stats), HyveNodeStat, i_); \
            (params).params_val[i_].field = g_strndup(st_->field, sizeof(st_->field)); \
            (params).params_val[i_].value = st_->value; \
        } \
        (params).params_len = (stats)->len; \
    } while (0)

gboolean
hyved_remote_node_get_memory_stats(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_node_get_memory_stats_args *args = argsp;
    remote_node_get_memory_stats_ret *ret = retp;
    g_autoptr(GArray) stats = NULL;

    stats = hyved_node_stats_get(server, G_STRFUNC, hyve_driver_node_get_memory_stats,
                                 "virNodeGetMemoryStats", args->cellNum, args->nparams,
                                 REMOTE_NODE_MEMORY_STATS_MAX, args->flags, error);
    if (!stats)
        return FALSE;
    ret->nparams = (int) stats->len;
    if (args->nparams > 0)
        HYVED_NODE_STATS_COPY(remote_node_get_memory_stats, ret->params, stats);
    return TRUE;
}

gboolean
hyved_remote_node_get_cpu_stats(HyvedServer *server, HyvedClient *client,
                                const HyvedHeader *hdr, void *argsp, void *retp,
                                GError **error)
{
    remote_node_get_cpu_stats_args *args = argsp;
    remote_node_get_cpu_stats_ret *ret = retp;
    g_autoptr(GArray) stats = NULL;

    stats = hyved_node_stats_get(server, G_STRFUNC, hyve_driver_node_get_cpu_stats,
                                 "virNodeGetCPUStats", args->cpuNum, args->nparams,
                                 REMOTE_NODE_CPU_STATS_MAX, args->flags, error);
    if (!stats)
        return FALSE;
    ret->nparams = (int) stats->len;
    if (args->nparams > 0)
        HYVED_NODE_STATS_COPY(remote_node_get_cpu_stats, ret->params, stats);
    return TRUE;
}

/* No security driver: libvirt sends an empty model and doi (length 1, the
 * NUL included), and virsh dominfo then omits its security section. */
gboolean
hyved_remote_node_get_security_model(HyvedServer *server, HyvedClient *client,
                                     const HyvedHeader *hdr, void *args, void *retp,
                                     GError **error)
{
    remote_node_get_security_model_ret *ret = retp;

    ret->model.model_val = g_malloc0(1);
    ret->model.model_len = 1;
    ret->doi.doi_val = g_malloc0(1);
    ret->doi.doi_len = 1;
    return TRUE;
}

/* Node devices: hyve manages no host devices, so the lists are empty; the
 * procedures exist because virt-manager probes them at connect time. */
gboolean
hyved_remote_node_num_of_devices(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_node_num_of_devices_args *args = argsp;
    remote_node_num_of_devices_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    ret->num = 0;
    return TRUE;
}

gboolean
hyved_remote_node_list_devices(HyvedServer *server, HyvedClient *client,
                               const HyvedHeader *hdr, void *argsp, void *retp,
                               GError **error)
{
    remote_node_list_devices_args *args = argsp;
    remote_node_list_devices_ret *ret = retp;

    if (!hyved_check_list_max(args->maxnames, REMOTE_NODE_DEVICE_LIST_MAX, "maxnames",
                              "REMOTE_NODE_DEVICE_LIST_MAX", error))
        return FALSE;
    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    ret->names.names_len = 0;
    ret->names.names_val = NULL;
    return TRUE;
}

gboolean
hyved_remote_connect_list_all_node_devices(HyvedServer *server, HyvedClient *client,
                                           const HyvedHeader *hdr, void *argsp, void *retp,
                                           GError **error)
{
    remote_connect_list_all_node_devices_args *args = argsp;
    remote_connect_list_all_node_devices_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, HYVED_NODE_DEVICE_LIST_FLAGS_ALL, error))
        return FALSE;
    ret->devices.devices_len = 0;
    ret->devices.devices_val = NULL;
    ret->ret = 0;
    return TRUE;
}
