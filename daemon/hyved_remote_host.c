/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_host.c: RPC procedures about the hypervisor (libvirt-rpc.md
 * §7.1 and §7.6): type, versions, hostname, sysinfo, capabilities, vCPU
 * limit; and hyved_host_procs, which also lists the node procedures of
 * hyved_remote_node.c.
 *
 * Each handler: check flags -> driver call -> fill ret.
 */
#include "hyve-config.h"

#include "hyved_remote_util.h"

static gboolean
hyved_remote_connect_get_type(HyvedServer *server, HyvedClient *client,
                              const HyvedHeader *hdr, void *args, void *retp,
                              GError **error)
{
    remote_connect_get_type_ret *ret = retp;

    ret->type = g_strdup("BHYVE");
    return TRUE;
}

static gboolean
hyved_remote_connect_get_version(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *args, void *retp,
                                 GError **error)
{
    remote_connect_get_version_ret *ret = retp;

    ret->hv_ver = hyve_driver_get_version(hyved_server_get_driver(server));
    return TRUE;
}

/* libvirt's daemons answer with their libvirt version; hyve has no libvirt
 * inside, so it answers with its own version (major*1e6+minor*1e3+micro):
 * `virsh version --daemon` prints it as "Running against daemon". */
static gboolean
hyved_remote_connect_get_lib_version(HyvedServer *server, HyvedClient *client,
                                     const HyvedHeader *hdr, void *args, void *retp,
                                     GError **error)
{
    remote_connect_get_lib_version_ret *ret = retp;

    ret->lib_ver = HYVE_VERSION_NUMBER;
    return TRUE;
}

static gboolean
hyved_remote_connect_get_hostname(HyvedServer *server, HyvedClient *client,
                                  const HyvedHeader *hdr, void *args, void *retp,
                                  GError **error)
{
    remote_connect_get_hostname_ret *ret = retp;

    ret->hostname = hyve_driver_get_hostname(hyved_server_get_driver(server), error);
    return ret->hostname != NULL;
}

static gboolean
hyved_remote_connect_get_sysinfo(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_connect_get_sysinfo_args *args = argsp;
    remote_connect_get_sysinfo_ret *ret = retp;

    if (!hyved_check_flags_here(args->flags, 0, error))
        return FALSE;
    ret->sysinfo = hyve_driver_get_sysinfo(hyved_server_get_driver(server), args->flags, error);
    return ret->sysinfo != NULL;
}

static gboolean
hyved_remote_connect_get_capabilities(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *args, void *retp,
                                      GError **error)
{
    remote_connect_get_capabilities_ret *ret = retp;

    ret->capabilities = hyve_driver_get_capabilities(hyved_server_get_driver(server), error);
    return ret->capabilities != NULL;
}

static gboolean
hyved_remote_connect_get_domain_capabilities(HyvedServer *server, HyvedClient *client,
                                             const HyvedHeader *hdr, void *argsp,
                                             void *retp, GError **error)
{
    remote_connect_get_domain_capabilities_args *args = argsp;
    remote_connect_get_domain_capabilities_ret *ret = retp;

    /* 1 = VIR_CONNECT_GET_DOMAIN_CAPABILITIES_DISABLE_DEPRECATED_FEATURES:
     * hyve lists nothing deprecated, so the flag changes nothing. */
    if (!hyved_check_flags_here(args->flags, 0x1, error))
        return FALSE;
    ret->capabilities =
        hyve_driver_get_domain_capabilities(hyved_server_get_driver(server),
                                            hyved_opt_string(args->emulatorbin),
                                            hyved_opt_string(args->arch),
                                            hyved_opt_string(args->machine),
                                            hyved_opt_string(args->virttype),
                                            args->flags, error);
    return ret->capabilities != NULL;
}

static gboolean
hyved_remote_connect_get_max_vcpus(HyvedServer *server, HyvedClient *client,
                                   const HyvedHeader *hdr, void *argsp, void *retp,
                                   GError **error)
{
    remote_connect_get_max_vcpus_args *args = argsp;
    remote_connect_get_max_vcpus_ret *ret = retp;

    ret->max_vcpus = hyve_driver_get_max_vcpus(hyved_server_get_driver(server),
                                               hyved_opt_string(args->type), error);
    return ret->max_vcpus >= 0;
}

const HyvedProcedure hyved_host_procs[] = {
    /* inline: trivial, never block */
    HYVED_PROC_R(CONNECT_GET_TYPE, connect_get_type, hyved_remote_connect_get_type,
                 HYVED_PROC_INLINE),
    HYVED_PROC_R(CONNECT_GET_VERSION, connect_get_version,
                 hyved_remote_connect_get_version, HYVED_PROC_INLINE),
    HYVED_PROC_R(CONNECT_GET_LIB_VERSION, connect_get_lib_version,
                 hyved_remote_connect_get_lib_version, HYVED_PROC_INLINE),
    HYVED_PROC_R(CONNECT_GET_HOSTNAME, connect_get_hostname,
                 hyved_remote_connect_get_hostname, HYVED_PROC_INLINE),
    HYVED_PROC_AR(CONNECT_GET_SYSINFO, connect_get_sysinfo,
                  hyved_remote_connect_get_sysinfo, 0),
    HYVED_PROC_R(CONNECT_GET_CAPABILITIES, connect_get_capabilities,
                 hyved_remote_connect_get_capabilities, 0),
    HYVED_PROC_AR(CONNECT_GET_DOMAIN_CAPABILITIES, connect_get_domain_capabilities,
                  hyved_remote_connect_get_domain_capabilities, 0),
    HYVED_PROC_AR(CONNECT_GET_MAX_VCPUS, connect_get_max_vcpus,
                  hyved_remote_connect_get_max_vcpus, 0),
    HYVED_PROC_R(NODE_GET_INFO, node_get_info, hyved_remote_node_get_info, 0),
    HYVED_PROC_AR(NODE_GET_CPU_MAP, node_get_cpu_map, hyved_remote_node_get_cpu_map, 0),
    HYVED_PROC_R(NODE_GET_FREE_MEMORY, node_get_free_memory,
                 hyved_remote_node_get_free_memory, 0),
    HYVED_PROC_AR(NODE_GET_CELLS_FREE_MEMORY, node_get_cells_free_memory,
                  hyved_remote_node_get_cells_free_memory, 0),
    HYVED_PROC_AR(NODE_GET_MEMORY_STATS, node_get_memory_stats,
                  hyved_remote_node_get_memory_stats, 0),
    HYVED_PROC_AR(NODE_GET_CPU_STATS, node_get_cpu_stats,
                  hyved_remote_node_get_cpu_stats, 0),
    HYVED_PROC_R(NODE_GET_SECURITY_MODEL, node_get_security_model,
                 hyved_remote_node_get_security_model, 0),
    HYVED_PROC_AR(NODE_NUM_OF_DEVICES, node_num_of_devices,
                  hyved_remote_node_num_of_devices, 0),
    HYVED_PROC_AR(NODE_LIST_DEVICES, node_list_devices, hyved_remote_node_list_devices, 0),
    HYVED_PROC_AR(CONNECT_LIST_ALL_NODE_DEVICES, connect_list_all_node_devices,
                  hyved_remote_connect_list_all_node_devices, 0),
};
const size_t hyved_host_nprocs = G_N_ELEMENTS(hyved_host_procs);
