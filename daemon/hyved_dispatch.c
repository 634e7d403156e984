/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_dispatch.c: the merged procedure index and the per-call checks
 * (program, status, procedure, auth, decode, open, read-only), then the
 * handler, then the reply.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_server.h"


typedef struct {
    const HyvedProcedure *table;
    const size_t *n;
} HyvedTable;

/* Built once by build_index() under g_once, read-only afterwards: no lock. */
static const HyvedProcedure **proc_index;
static gint32 proc_max;

static gpointer
build_index(gpointer data)
{
    const HyvedTable tables[] = {
        { hyved_connect_procs, &hyved_connect_nprocs },
        { hyved_host_procs, &hyved_host_nprocs },
        { hyved_domain_procs, &hyved_domain_nprocs },
        { hyved_event_procs, &hyved_event_nprocs },
        { hyved_domain_lifecycle_procs, &hyved_domain_lifecycle_nprocs },
        { hyved_domain_console_procs, &hyved_domain_console_nprocs },
        { hyved_domain_stats_procs, &hyved_domain_stats_nprocs },
        { hyved_storage_pool_procs, &hyved_storage_pool_nprocs },
        { hyved_storage_vol_procs, &hyved_storage_vol_nprocs },
        { hyved_network_procs, &hyved_network_nprocs },
    };

    for (gsize t = 0; t < G_N_ELEMENTS(tables); t++)
        for (gsize i = 0; i < *tables[t].n; i++)
            proc_max = MAX(proc_max, tables[t].table[i].proc);

    proc_index = g_new0(const HyvedProcedure *, proc_max + 1);
    for (gsize t = 0; t < G_N_ELEMENTS(tables); t++) {
        for (gsize i = 0; i < *tables[t].n; i++) {
            const HyvedProcedure *p = &tables[t].table[i];
            if (p->proc <= 0 || !p->handler || ((p->flags & HYVED_PROC_WRITE) && !p->api))
                g_error("procedure table entry '%s' (%d) is malformed",
                        p->name ? p->name : "?", p->proc);
            if (proc_index[p->proc])
                g_error("procedure %d (%s) is defined twice (also %s)",
                        p->proc, p->name, proc_index[p->proc]->name);
            proc_index[p->proc] = p;
        }
    }
    return NULL;
}

static void
ensure_index(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, build_index, NULL);
}

const HyvedProcedure *
hyved_dispatch_find(gint32 proc)
{
    ensure_index();
    if (proc <= 0 || proc > proc_max)
        return NULL;
    return proc_index[proc];
}

GArray *
hyved_dispatch_list_known(void)
{
    GArray *list = g_array_new(FALSE, FALSE, sizeof(gint32));

    ensure_index();
    for (gint32 i = 1; i <= proc_max; i++)
        if (proc_index[i])
            g_array_append_val(list, i);
    return list;
}

/* ---- errors ----------------------------------------------------------- */

GBytes *
hyved_dispatch_error_reply(const HyvedHeader *call, const GError *err)
{
    HyveErrorFrom from;

    if (err && hyve_error_from_quark(err->domain, &from))
        return hyved_packet_encode_error(call, err->code, from, err->message);
    return hyved_packet_encode_error(call, HYVE_ERR_INTERNAL_ERROR, HYVE_FROM_BHYVE,
                                     err ? err->message : "internal error: unknown failure");
}

static GBytes *
rpc_error(const HyvedHeader *call, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* The error domain libvirt's public API file of @api reports from
 * (VIR_FROM_THIS of libvirt-domain.c, libvirt-storage.c, ...): by the
 * object prefix, except for the virConnect* APIs, which live in the file
 * of what they act on (libvirt-host.c and libvirt.c ones: NONE). */
static HyveErrorFrom
api_error_domain(const char *api)
{
    static const struct {
        const char *api;
        HyveErrorFrom from;
    } connect_apis[] = {
        { "virConnectFindStoragePoolSources", HYVE_FROM_STORAGE },     /* libvirt-storage.c */
        { "virConnectDomainXMLFromNative", HYVE_FROM_DOMAIN },         /* libvirt-domain.c */
        { "virConnectDomainXMLToNative", HYVE_FROM_DOMAIN },
    };
    static const struct {
        const char *prefix;
        HyveErrorFrom from;
    } map[] = {
        { "virDomain", HYVE_FROM_DOMAIN },
        { "virStorage", HYVE_FROM_STORAGE },
        { "virNetwork", HYVE_FROM_NETWORK },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(connect_apis); i++)
        if (g_str_equal(api, connect_apis[i].api))
            return connect_apis[i].from;
    for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_has_prefix(api, map[i].prefix))
            return map[i].from;
    return HYVE_FROM_NONE;
}

static GBytes *
rpc_error(const HyvedHeader *call, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return hyved_packet_encode_error(call, HYVE_ERR_RPC, HYVE_FROM_RPC, msg);
}

/* ---- one call ----------------------------------------------------------- */

GBytes *
hyved_dispatch_call(HyvedServer *server, HyvedClient *client,
                    const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    const HyvedProcedure *p;
    xdrproc_t args_filter;
    xdrproc_t ret_filter;
    g_autofree void *args = NULL;
    g_autofree void *ret = NULL;
    g_autoptr(GError) err = NULL;
    HyvedHeader reply = *hdr;
    GBytes *pkt = NULL;
    gboolean ok;

    reply.type = HYVED_TYPE_REPLY;
    reply.status = HYVED_STATUS_OK;

    if (hdr->prog != HYVED_PROGRAM_REMOTE || hdr->vers != HYVED_PROGRAM_VERSION)
        return rpc_error(hdr, "Cannot find program %d version %d", (int) hdr->prog, (int) hdr->vers);
    if (hdr->status != HYVED_STATUS_OK)
        return rpc_error(hdr, "Unexpected message status %d", hdr->status);
    if (!(p = hyved_dispatch_find(hdr->proc))) {
        g_debug("unknown procedure %d (serial %u)", hdr->proc, hdr->serial);
        return rpc_error(hdr, "unknown procedure: %d", hdr->proc);
    }
    if (!(p->flags & HYVED_PROC_NO_AUTH) && !hyved_client_is_authenticated(client))
        return rpc_error(hdr, "authentication required");

    args_filter = p->args_filter ? p->args_filter : (xdrproc_t) (void (*)(void)) xdr_void;
    ret_filter = p->ret_filter ? p->ret_filter : (xdrproc_t) (void (*)(void)) xdr_void;
    args = g_malloc0(MAX(p->args_size, 1));
    ret = g_malloc0(MAX(p->ret_size, 1));

    if (!hyved_packet_decode_payload(payload, len, args_filter, args, &err)) {
        g_debug("%s: %s", p->name, err->message);
        return rpc_error(hdr, "Unable to decode message payload");
    }

    if (!(p->flags & HYVED_PROC_NO_OPEN) && !hyved_client_is_open(client)) {
        hyve_error_set(&err, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR, "connection not open");
    } else if ((p->flags & HYVED_PROC_WRITE) && hyved_client_is_readonly(client)) {
        const char *api = p->api ? p->api : p->name;
        hyve_error_set(&err, api_error_domain(api),
                       HYVE_ERR_OPERATION_DENIED, "read only access prevents %s", api);
    } else {
        ok = p->handler(server, client, hdr, args, ret, &err);
        if (ok) {
            pkt = hyved_packet_encode(&reply, p->ret_size ? ret_filter : NULL, ret, &err);
        } else if (!err) {
            hyve_error_set(&err, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "%s failed without an error", p->name);
        }
    }

    xdr_free(args_filter, args);
    xdr_free(ret_filter, ret);
    if (!pkt) {
        g_debug("%s (serial %u) failed: %s", p->name, hdr->serial, err->message);
        pkt = hyved_dispatch_error_reply(hdr, err);
    }
    return pkt;
}
