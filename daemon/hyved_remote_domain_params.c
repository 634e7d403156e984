/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_params.c: the statistics RPC procedures that answer
 * with typed parameters (virsh domblkstat on a newer client:
 * DOMAIN_BLOCK_STATS_FLAGS; virt-manager's and virsh domstats'
 * CONNECT_GET_ALL_DOMAIN_STATS) and the encoding of HyveTypedParam lists
 * on the wire. Listed in hyved_domain_stats_procs
 * (hyved_remote_domain_stats.c).
 *
 * Sizes a client asks for (nparams, the number of records) are checked
 * against the protocol limits, with libvirtd's codes and messages.
 */
#include "hyve-config.h"

#include "hyved_remote_domain_stats_priv.h"

/* libvirt VIR_TYPED_PARAM_STRING_OKAY */
#define HYVED_TYPED_PARAM_STRING_OKAY (1u << 2)

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

/* ---- block devices ------------------------------------------------------ */

gboolean
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
    if (!hyved_stats_check_arg(args->nparams >= 0, "nparams", "be zero or greater",
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

/* ---- bulk statistics ------------------------------------------------------ */

gboolean
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
