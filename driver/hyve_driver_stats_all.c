/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_stats_all.c: libvirt's virConnectGetAllDomainStats: one
 * record of typed parameters (state, cpu, balloon, vcpu, net, block
 * groups) per domain, from the same snapshot and runner counters as the
 * per-domain queries (hyve_driver_stats_snap.c); and the typed-parameter
 * and record helpers.
 */
#include "hyve-config.h"

#include "hyve_driver_stats_priv.h"

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

/* All-domain stats ask every runner in turn while virt-manager polls: a
 * stuck runner may delay the answer by this much, not by the full timeout. */
#define HYVE_STATS_POLL_TIMEOUT_MS 1000

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
stats_cpu(const HyveStatsSnap *s, GPtrArray *params)
{
    g_auto(GStrv) stat = hyve_stats_runner_proc_stat(s);
    guint64 user, sys;

    if (!stat)
        return;
    user = hyve_proc_ticks_to_ns(hyve_stats_proc_field(stat, 14));
    sys = hyve_proc_ticks_to_ns(hyve_stats_proc_field(stat, 15));
    PARAM_ULLONG(params, user + sys, "cpu.time");
    PARAM_ULLONG(params, user, "cpu.user");
    PARAM_ULLONG(params, sys, "cpu.system");
}

static void
stats_vcpu(const HyveStatsSnap *s, GPtrArray *params)
{
    g_autoptr(GArray) vcpus = NULL;

    PARAM_UINT(params, s->vcpus, "vcpu.current");
    PARAM_UINT(params, s->vcpus_max, "vcpu.maximum");
    if (!s->active)
        return;
    vcpus = hyve_stats_get_vcpus(s);
    for (guint i = 0; i < vcpus->len; i++) {
        const HyveVcpuInfo *v = &g_array_index(vcpus, HyveVcpuInfo, i);

        PARAM_INT(params, v->state, "vcpu.%u.state", v->number);
        PARAM_ULLONG(params, v->cpu_time_ns, "vcpu.%u.time", v->number);
    }
}

static void
stats_net(const HyveStatsSnap *s, GHashTable *pairs, GPtrArray *params)
{
    if (!s->active)
        return;
    PARAM_UINT(params, s->nets->len, "net.count");
    for (guint i = 0; i < s->nets->len; i++) {
        const HyveStatsNet *n = &g_array_index(s->nets, HyveStatsNet, i);
        HyveInterfaceStats st;

        if (n->target)
            PARAM_STRING(params, n->target, "net.%u.name", i);
        hyve_stats_net_counters(pairs, n, &st);
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
stats_block(const HyveStatsSnap *s, GHashTable *pairs, GPtrArray *params)
{
    PARAM_UINT(params, s->disks->len, "block.count");
    for (guint i = 0; i < s->disks->len; i++) {
        const HyveStatsDisk *d = &g_array_index(s->disks, HyveStatsDisk, i);
        HyveBlockInfo info;

        PARAM_STRING(params, d->target ? d->target : "", "block.%u.name", i);
        if (d->path)
            PARAM_STRING(params, d->path, "block.%u.path", i);
        if (s->active) {
            HyveBlockStats st;

            hyve_stats_disk_counters(pairs, d, &st);
            PARAM_COUNTER(params, st.rd_req, "block.%u.rd.reqs", i);
            PARAM_COUNTER(params, st.rd_bytes, "block.%u.rd.bytes", i);
            PARAM_COUNTER(params, st.wr_req, "block.%u.wr.reqs", i);
            PARAM_COUNTER(params, st.wr_bytes, "block.%u.wr.bytes", i);
            PARAM_COUNTER(params, hyve_stats_slot_counter(pairs, "blk", d->slot, "flushes"),
                          "block.%u.fl.reqs", i);
            PARAM_COUNTER(params, st.errs, "block.%u.errors", i);
        }
        if (hyve_stats_disk_sizes(d, &info, NULL)) {
            PARAM_ULLONG(params, info.allocation, "block.%u.allocation", i);
            PARAM_ULLONG(params, info.capacity, "block.%u.capacity", i);
            PARAM_ULLONG(params, info.physical, "block.%u.physical", i);
        }
    }
}

static HyveDomainStatsRecord *
stats_record(HyveDomainObj *obj, const HyveStatsSnap *s, guint stats)
{
    HyveDomainStatsRecord *rec = g_new0(HyveDomainStatsRecord, 1);
    g_autoptr(GHashTable) pairs = NULL;

    rec->obj = hyve_domain_obj_ref(obj);
    rec->params = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_typed_param_free);
    /* a runner that does not answer only costs its device counters */
    if (s->active && (stats & (STATS_INTERFACE | STATS_BLOCK)))
        pairs = hyve_stats_runner_stats_timeout(s, HYVE_STATS_POLL_TIMEOUT_MS, NULL);
    if (stats & STATS_STATE) {
        PARAM_INT(rec->params, s->state, "state.state");
        PARAM_INT(rec->params, s->reason, "state.reason");
    }
    if ((stats & STATS_CPU_TOTAL) && s->active)
        stats_cpu(s, rec->params);
    if (stats & STATS_BALLOON) {
        gint64 rss = -1;
        g_auto(GStrv) stat = s->active ? hyve_stats_runner_proc_stat(s) : NULL;

        PARAM_ULLONG(rec->params, s->cur_mem_kib, "balloon.current");
        PARAM_ULLONG(rec->params, s->max_mem_kib, "balloon.maximum");
        if (stat)
            rss = hyve_stats_runner_rss_kib(s);
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
stats_filter_match(const HyveStatsSnap *s, guint flags)
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
        g_autoptr(HyveStatsSnap) s = NULL;

        /* a domain listed again (as libvirt, one record each) is asked once */
        if (first) {
            g_ptr_array_add(out, stats_record_copy(first));
            continue;
        }
        s = hyve_stats_snap_take(obj);
        if (!s->removed && stats_filter_match(s, flags)) {
            HyveDomainStatsRecord *rec = stats_record(obj, s, stats);

            g_ptr_array_add(out, rec);
            g_hash_table_insert(done, obj, rec);
        }
    }
    return out;
}
