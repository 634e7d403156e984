/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_util.h: helpers shared by the hyved_remote_*.c handler files
 * (wire <-> driver conversions: domain identity, flag checks, list caps),
 * the table-entry macros, and the handlers that live in one file but are
 * listed in another's table: hyved_remote_domain_query.c (listed in
 * hyved_domain_procs) and hyved_remote_node.c (listed in hyved_host_procs).
 *
 * Ownership: everything a handler puts into a ret struct is allocated with
 * the system allocator (g_malloc/g_strdup are malloc on GLib >= 2.46)
 * because the dispatcher releases ret with xdr_free().
 */
#pragma once

#include "hyved_dispatch.h"

G_BEGIN_DECLS

/* ---- table entries ---------------------------------------------------- */

/* Procedure with both args and ret structs: remote_<lower>_args/_ret. */
#define HYVED_PROC_AR(NAME, lower, fn, pflags) \
    { REMOTE_PROC_##NAME, #NAME, \
      (xdrproc_t) xdr_remote_##lower##_args, sizeof(remote_##lower##_args), \
      (xdrproc_t) xdr_remote_##lower##_ret, sizeof(remote_##lower##_ret), \
      (fn), (pflags) }

/* Procedure with args and an empty reply. */
#define HYVED_PROC_A(NAME, lower, fn, pflags) \
    { REMOTE_PROC_##NAME, #NAME, \
      (xdrproc_t) xdr_remote_##lower##_args, sizeof(remote_##lower##_args), \
      (xdrproc_t) (void (*)(void)) xdr_void, 0, \
      (fn), (pflags) }

/* Procedure without args that returns a ret struct. */
#define HYVED_PROC_R(NAME, lower, fn, pflags) \
    { REMOTE_PROC_##NAME, #NAME, \
      (xdrproc_t) (void (*)(void)) xdr_void, 0, \
      (xdrproc_t) xdr_remote_##lower##_ret, sizeof(remote_##lower##_ret), \
      (fn), (pflags) }

/* State-changing procedures (HYVED_PROC_WRITE) name their libvirt API,
 * which the read-only refusal quotes. */
#define HYVED_PROC_WRITE_AR(NAME, lower, fn, api) \
    { REMOTE_PROC_##NAME, #NAME, \
      (xdrproc_t) xdr_remote_##lower##_args, sizeof(remote_##lower##_args), \
      (xdrproc_t) xdr_remote_##lower##_ret, sizeof(remote_##lower##_ret), \
      (fn), HYVED_PROC_WRITE, (api) }

#define HYVED_PROC_WRITE_A(NAME, lower, fn, api) \
    { REMOTE_PROC_##NAME, #NAME, \
      (xdrproc_t) xdr_remote_##lower##_args, sizeof(remote_##lower##_args), \
      (xdrproc_t) (void (*)(void)) xdr_void, 0, \
      (fn), HYVED_PROC_WRITE, (api) }

/* ---- libvirt flag values the handlers check --------------------------- */

#define HYVED_DOMAIN_AFFECT_LIVE       (1u << 0)
#define HYVED_DOMAIN_AFFECT_CONFIG     (1u << 1)
#define HYVED_DOMAIN_VCPU_MAXIMUM      (1u << 2)
#define HYVED_DOMAIN_VCPU_GUEST        (1u << 3)

#define HYVED_DOMAIN_XML_FLAGS_ALL     0x0fu     /* SECURE|INACTIVE|UPDATE_CPU|MIGRATABLE */
#define HYVED_DOMAIN_XML_SECURE        (1u << 0)
#define HYVED_DOMAIN_XML_INACTIVE      (1u << 1)
#define HYVED_DOMAIN_UNDEFINE_FLAGS_ALL 0x7fu    /* MANAGED_SAVE .. KEEP_TPM */
#define HYVED_LIST_DOMAINS_FLAGS_ALL   0xffffu   /* ACTIVE .. NO_CHECKPOINT */
#define HYVED_LIST_DOMAINS_ACTIVE      (1u << 0)
#define HYVED_LIST_DOMAINS_INACTIVE    (1u << 1)
#define HYVED_SNAPSHOT_LIST_FLAGS_ALL  0x7ffu    /* ROOTS/DESCENDANTS .. TOPOLOGICAL */

/* ---- helpers ---------------------------------------------------------- */

/* libvirt's virCheckFlags: bits outside @supported -> INVALID_ARG
 * "unsupported flags (0x%x) in function %s". */
gboolean hyved_check_flags(guint flags, guint supported, const char *func,
                           GError **error);
#define hyved_check_flags_here(flags, supported, error) \
    hyved_check_flags((flags), (supported), G_STRFUNC, (error))

/* A list size asked for by the client (maxids, maxnames, ...) must lie in
 * [0, @max]; larger is libvirt's RPC error "<what> > <limit_name>". */
gboolean hyved_check_list_max(int requested, int max, const char *what,
                              const char *limit_name, GError **error);

/* Optional wire string (remote_string) -> C string or NULL. */
static inline const char *
hyved_opt_string(char **s)
{
    return s ? *s : NULL;
}

/* Looks up the domain the wire identity names: by UUID only (the name and
 * id the client sent may be stale), NO_DOMAIN when it is gone. */
HyveDomainObj *hyved_domain_lookup(HyvedServer *server, const remote_nonnull_domain *dom,
                                   GError **error);

/* Fills @dom (zeroed) from @obj: name strdup'd, uuid, current id. */
void hyved_domain_to_wire(HyveDomainObj *obj, remote_nonnull_domain *dom);

/* Fills a remote_nonnull_domain array from a list of HyveDomainObj. */
void hyved_domain_list_to_wire(GPtrArray *objs, remote_nonnull_domain **val, u_int *len);

/* Number of vCPUs a domain has: @flags are libvirt's virDomainGetVcpusFlags
 * flags (AFFECT_LIVE/CONFIG, VCPU_MAXIMUM; current = live when running,
 * config otherwise). LIVE on an inactive domain -> OPERATION_INVALID
 * "domain is not running". Returns -1 on error. */
int hyved_domain_get_vcpus(HyveDomainObj *obj, guint flags, GError **error);

/* Free memory of NUMA cell @cell in bytes (the host has @ncells cells). */
gboolean hyved_host_cell_free_memory(HyveDriver *drv, int cell, int ncells,
                                     guint64 *bytes, GError **error);

/* ---- handlers in hyved_remote_domain_query.c --------------------------- */

#define HYVED_DECLARE_HANDLER(fn) \
    gboolean fn(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr, \
                void *args, void *ret, GError **error)

HYVED_DECLARE_HANDLER(hyved_remote_domain_get_xml_desc);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_info);
HYVED_DECLARE_HANDLER(hyved_remote_domain_interface_addresses);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_state);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_os_type);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_max_memory);
HYVED_DECLARE_HANDLER(hyved_remote_domain_is_active);
HYVED_DECLARE_HANDLER(hyved_remote_domain_is_persistent);
HYVED_DECLARE_HANDLER(hyved_remote_domain_is_updated);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_autostart);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_metadata);
HYVED_DECLARE_HANDLER(hyved_remote_domain_has_managed_save_image);
HYVED_DECLARE_HANDLER(hyved_remote_domain_snapshot_num);
HYVED_DECLARE_HANDLER(hyved_remote_domain_list_all_snapshots);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_security_label);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_vcpus_flags);
HYVED_DECLARE_HANDLER(hyved_remote_domain_get_max_vcpus);

/* ---- handlers in hyved_remote_node.c ------------------------------------ */

HYVED_DECLARE_HANDLER(hyved_remote_node_get_info);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_cpu_map);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_free_memory);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_cells_free_memory);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_memory_stats);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_cpu_stats);
HYVED_DECLARE_HANDLER(hyved_remote_node_get_security_model);
HYVED_DECLARE_HANDLER(hyved_remote_node_num_of_devices);
HYVED_DECLARE_HANDLER(hyved_remote_node_list_devices);
HYVED_DECLARE_HANDLER(hyved_remote_connect_list_all_node_devices);

G_END_DECLS
