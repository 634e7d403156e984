/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network.c: the network driver's core (hyve_network_core.h):
 * HyveNetworks' lifetime (new/free/shutdown), the event sink and the event
 * hand-over, network objects (references, identity, getters), the list
 * (add/remove, libvirt's list filters, counts) and the lookups by name and
 * UUID, the object getters (XML, bridge, leases) and the domain side's
 * ports. Files, start-up and shutdown are in hyve_network_files.c, the
 * operations in hyve_network_ops.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_network_core.h"

/* ---- events ------------------------------------------------------------- */

void
hyve_networks_set_event_sink(HyveNetworks *nets, HyveNetEventSink sink, gpointer user_data)
{
    /* a sink runs under event_lock: the old one is not running now */
    g_mutex_lock(&nets->event_lock);
    nets->sink = sink;
    nets->sink_data = user_data;
    g_mutex_unlock(&nets->event_lock);
}

void
hyve_net_event_begin_locked(HyveNetworks *nets, HyveNetObj *net, HyveNetLifecycleEvent event,
                            HyveNetEvent *ev)
{
    ev->name = g_strdup(net->def->name);
    memcpy(ev->uuid, net->def->uuid, HYVE_UUID_LEN);
    ev->event = event;
    ev->detail = 0;
    g_mutex_lock(&nets->event_lock);
}

void
hyve_net_event_end(HyveNetworks *nets, HyveNetEvent *ev)
{
    if (nets->sink)
        nets->sink(ev, nets->sink_data);
    g_mutex_unlock(&nets->event_lock);
    g_clear_pointer(&ev->name, g_free);
}

void
hyve_networks_emit(HyveNetworks *nets, HyveNetObj *net, HyveNetLifecycleEvent event)
{
    HyveNetEvent ev = { 0 };

    g_mutex_lock(&net->lock);
    hyve_net_event_begin_locked(nets, net, event, &ev);
    g_mutex_unlock(&net->lock);
    hyve_net_event_end(nets, &ev);
}

/* ---- objects -------------------------------------------------------------- */

HyveNetObj *
hyve_net_obj_new(HyveNetworks *nets, HyveNetworkDef *def)
{
    HyveNetObj *net = g_new0(HyveNetObj, 1);

    net->refs = 1;
    g_mutex_init(&net->lock);
    net->owner = nets;
    net->def = def;
    return net;
}

HyveNetObj *
hyve_net_obj_ref(HyveNetObj *net)
{
    g_atomic_int_inc(&net->refs);
    return net;
}

void
hyve_net_obj_unref(HyveNetObj *net)
{
    if (!net || !g_atomic_int_dec_and_test(&net->refs))
        return;
    hyve_net_def_free(net->def);
    hyve_net_def_free(net->newdef);
    g_mutex_clear(&net->lock);
    g_free(net);
}

void
hyve_net_ident_clear(HyveNetIdent *ident)
{
    g_clear_pointer(&ident->name, g_free);
}

void
hyve_net_obj_get_ident(HyveNetObj *net, HyveNetIdent *ident)
{
    g_mutex_lock(&net->lock);
    ident->name = g_strdup(net->def->name);
    memcpy(ident->uuid, net->def->uuid, HYVE_UUID_LEN);
    g_mutex_unlock(&net->lock);
}

#define NET_FLAG_GETTER(fn, field) \
    gboolean fn(HyveNetObj *net) \
    { \
        gboolean v; \
        g_mutex_lock(&net->lock); \
        v = net->field; \
        g_mutex_unlock(&net->lock); \
        return v; \
    }
NET_FLAG_GETTER(hyve_net_obj_is_active, active)
NET_FLAG_GETTER(hyve_net_obj_is_persistent, persistent)
NET_FLAG_GETTER(hyve_net_obj_get_autostart, autostart)

gboolean
hyve_net_obj_check_locked(HyveNetObj *net, GError **error)
{
    char s[HYVE_UUID_STRING_LEN];

    if (!net->removed && net->owner)
        return TRUE;
    hyve_uuid_format(net->def->uuid, s);
    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NETWORK,
                   "no network with matching uuid '%s' (%s)", s, net->def->name);
    return FALSE;
}

char *
hyve_net_obj_get_xml(HyveNetObj *net, guint flags, GError **error)
{
    g_autoptr(GMutexLocker) locker = NULL;
    gboolean inactive = (flags & HYVE_NET_XML_INACTIVE) != 0;

    HYVE_NETWORK_CHECK_FLAGS(flags, HYVE_NET_XML_INACTIVE, NULL);
    locker = g_mutex_locker_new(&net->lock);
    if (!hyve_net_obj_check_locked(net, error))
        return NULL;
    if (inactive && net->newdef)
        return hyve_net_def_format(net->newdef, FALSE);
    net->def->connections = net->connections;
    return hyve_net_def_format(net->def, net->active && !inactive);
}

char *
hyve_net_obj_get_bridge_name(HyveNetObj *net, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&net->lock);

    if (!hyve_net_obj_check_locked(net, error))
        return NULL;
    if (!net->def->bridge) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "network '%s' does not have a bridge name.", net->def->name);
        return NULL;
    }
    return g_strdup(net->def->bridge);
}

/* ---- leases and ports ----------------------------------------------------- */

void
hyve_net_lease_free(HyveNetLease *lease)
{
    if (!lease)
        return;
    g_free(lease->iface);
    g_free(lease->mac);
    g_free(lease->iaid);
    g_free(lease->ipaddr);
    g_free(lease->hostname);
    g_free(lease->clientid);
    g_free(lease);
}

/* "52:54:00:AB:cd:1" -> "52:54:00:ab:cd:01"; NULL when malformed. */
static char *
normalize_mac(const char *mac)
{
    g_auto(GStrv) parts = g_strsplit(mac, ":", -1);
    guint8 b[6];

    if (g_strv_length(parts) != 6)
        return NULL;
    for (guint i = 0; i < 6; i++) {
        size_t n = strlen(parts[i]);

        if (n < 1 || n > 2 || strspn(parts[i], "0123456789abcdefABCDEF") != n)
            return NULL;
        b[i] = (guint8)g_ascii_strtoull(parts[i], NULL, 16);
    }
    return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

GPtrArray *
hyve_net_obj_get_dhcp_leases(HyveNetObj *net, const char *mac, GError **error)
{
    g_autofree char *norm = NULL, *dir = NULL;
    g_autoptr(HyveNetworkDef) def = NULL;

    if (mac && !(norm = normalize_mac(mac))) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INVALID_MAC,
                       "%s", mac);
        return NULL;
    }
    g_mutex_lock(&net->lock);
    if (hyve_net_obj_check_locked(net, error)) {
        dir = g_strdup(net->owner->state_dir);
        def = hyve_net_def_copy(net->def);
    }
    g_mutex_unlock(&net->lock);
    return def ? hyve_dnsmasq_leases_read(dir, def, norm, error) : NULL;
}

GPtrArray *
hyve_networks_leases_for_mac(HyveNetworks *nets, const char *network, const guint8 mac[6],
                             GError **error)
{
    g_autoptr(HyveNetObj) net = hyve_networks_lookup_by_name(nets, network, error);
    g_autofree char *s = NULL;

    if (!net)
        return NULL;
    s = g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                        mac[4], mac[5]);
    return hyve_net_obj_get_dhcp_leases(net, s, error);
}

char *
hyve_networks_port_acquire(HyveNetworks *nets, const char *network, gboolean reattach,
                           GError **error)
{
    g_autoptr(HyveNetObj) net = hyve_networks_lookup_by_name(nets, network, error);
    g_autoptr(GMutexLocker) locker = NULL;

    if (!net)
        return NULL;
    locker = g_mutex_locker_new(&net->lock);
    if (!net->active) {
        if (!reattach)
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                           "network '%s' is not active", network);
        return NULL;
    }
    if (!net->def->bridge) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "network '%s' does not have a bridge name.", network);
        return NULL;
    }
    net->def->connections = ++net->connections;
    return g_strdup(net->def->bridge);
}

void
hyve_networks_port_release(HyveNetworks *nets, const char *network)
{
    g_autoptr(HyveNetObj) net = hyve_networks_lookup_by_name(nets, network, NULL);

    if (!net)
        return;
    g_mutex_lock(&net->lock);
    if (net->active && net->connections > 0)
        net->def->connections = --net->connections;
    g_mutex_unlock(&net->lock);
}

/* ---- the list --------------------------------------------------------------- */

HyveNetObj *
hyve_networks_find_name_locked(HyveNetworks *nets, const char *name)
{
    HyveNetObj *net = g_hash_table_lookup(nets->by_name, name);

    return net ? hyve_net_obj_ref(net) : NULL;
}

HyveNetObj *
hyve_networks_find_uuid_locked(HyveNetworks *nets, const guint8 uuid[HYVE_UUID_LEN])
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, nets->by_name);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        HyveNetObj *net = value;
        gboolean match;

        g_mutex_lock(&net->lock);
        match = memcmp(net->def->uuid, uuid, HYVE_UUID_LEN) == 0;
        g_mutex_unlock(&net->lock);
        if (match)
            return hyve_net_obj_ref(net);
    }
    return NULL;
}

void
hyve_networks_add_locked(HyveNetworks *nets, HyveNetObj *net)
{
    net->removed = FALSE;
    net->owner = nets;
    g_hash_table_replace(nets->by_name, g_strdup(net->def->name), hyve_net_obj_ref(net));
}

void
hyve_networks_remove_locked(HyveNetworks *nets, HyveNetObj *net)
{
    if (net->removed)
        return;
    net->removed = TRUE;
    net->owner = NULL;
    hyve_dnsmasq_remove_files(nets->state_dir, net->def->name);
    g_hash_table_remove(nets->by_name, net->def->name);     /* drops the list's reference */
}

void
hyve_networks_forget_if_gone(HyveNetworks *nets, HyveNetObj *net)
{
    g_mutex_lock(&nets->lock);
    g_mutex_lock(&net->lock);
    if (!net->active && !net->persistent)
        hyve_networks_remove_locked(nets, net);
    g_mutex_unlock(&net->lock);
    g_mutex_unlock(&nets->lock);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
hyve_networks_all_locked(HyveNetworks *nets)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_net_obj_unref);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, nets->by_name);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_ptr_array_add(names, key);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++)
        g_ptr_array_add(out, hyve_net_obj_ref(g_hash_table_lookup(nets->by_name,
                                                                  names->pdata[i])));
    return out;
}

/* A pair of filter bits: none set = any, else the matching one. */
static gboolean
pair_match(guint flags, guint first, guint second, gboolean is_first)
{
    if (!(flags & (first | second)))
        return TRUE;
    return is_first ? (flags & first) != 0 : (flags & second) != 0;
}

GPtrArray *
hyve_networks_list(HyveNetworks *nets, guint flags, GError **error)
{
    g_autoptr(GPtrArray) all = NULL;
    GPtrArray *out;

    HYVE_NETWORK_CHECK_FLAGS(flags, HYVE_LIST_NETWORKS_ALL_FLAGS, NULL);
    out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_net_obj_unref);
    g_mutex_lock(&nets->lock);
    all = hyve_networks_all_locked(nets);
    for (guint i = 0; i < all->len; i++) {
        HyveNetObj *net = g_ptr_array_index(all, i);
        gboolean match;

        g_mutex_lock(&net->lock);
        /* INACTIVE 1 / ACTIVE 2, PERSISTENT 4 / TRANSIENT 8, AUTOSTART 16 / NO 32 */
        match = pair_match(flags, 1u, 2u, !net->active) &&
                pair_match(flags, 4u, 8u, net->persistent) &&
                pair_match(flags, 16u, 32u, net->autostart);
        g_mutex_unlock(&net->lock);
        if (match)
            g_ptr_array_add(out, hyve_net_obj_ref(net));
    }
    g_mutex_unlock(&nets->lock);
    return out;
}

int
hyve_networks_num(HyveNetworks *nets, gboolean active)
{
    g_autoptr(GPtrArray) list = hyve_networks_list(nets, active ? 2u : 1u, NULL);

    return list ? (int)list->len : 0;
}

HyveNetObj *
hyve_networks_lookup_by_name(HyveNetworks *nets, const char *name, GError **error)
{
    HyveNetObj *net;

    g_mutex_lock(&nets->lock);
    net = hyve_networks_find_name_locked(nets, name);
    g_mutex_unlock(&nets->lock);
    if (!net)
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NETWORK,
                       "no network with matching name '%s'", name);
    return net;
}

HyveNetObj *
hyve_networks_lookup_by_uuid(HyveNetworks *nets, const guint8 uuid[HYVE_UUID_LEN],
                             GError **error)
{
    HyveNetObj *net;

    g_mutex_lock(&nets->lock);
    net = hyve_networks_find_uuid_locked(nets, uuid);
    g_mutex_unlock(&nets->lock);
    if (!net) {
        char s[HYVE_UUID_STRING_LEN];

        hyve_uuid_format(uuid, s);
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NETWORK,
                       "no network with matching uuid '%s'", s);
    }
    return net;
}

/* ---- lifetime --------------------------------------------------------------- */

HyveNetworks *
hyve_networks_new(const HyveNetworkConfig *cfg, GError **error)
{
    HyveNetworks *nets;
    gboolean first_start;

    if (!cfg->config_dir || !cfg->state_dir) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "network configuration has no %s",
                       cfg->config_dir ? "state_dir" : "config_dir");
        return NULL;
    }
    nets = g_new0(HyveNetworks, 1);
    g_mutex_init(&nets->lock);
    g_mutex_init(&nets->event_lock);
    nets->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)hyve_net_obj_unref);
    nets->privileged = cfg->privileged;
    nets->config_dir = g_build_filename(cfg->config_dir, "networks", NULL);
    nets->autostart_dir = g_build_filename(nets->config_dir, "autostart", NULL);
    nets->state_dir = g_build_filename(cfg->state_dir, "network", NULL);
    nets->schema_dir = g_strdup(cfg->schema_dir ? cfg->schema_dir : HYVE_LIBVIRT_SCHEMA_DIR);

    first_start = !g_file_test(nets->config_dir, G_FILE_TEST_IS_DIR);
    for (guint i = 0; i < 2; i++) {
        const char *dir = i ? nets->state_dir : nets->config_dir;

        if (g_mkdir_with_parents(dir, 0700) < 0) {
            int err = errno;

            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_SYSTEM_ERROR,
                           "cannot create directory '%s': %s", dir, g_strerror(err));
            hyve_networks_free(nets);
            return NULL;
        }
    }
    hyve_networks_load(nets, first_start, cfg->define_default);
    return nets;
}

void
hyve_networks_free(HyveNetworks *nets)
{
    GHashTableIter it;
    gpointer value;

    if (!nets)
        return;
    /* the host keeps everything for the next HyveNetworks; objects
     * referenced elsewhere outlive the list, detached */
    g_hash_table_iter_init(&it, nets->by_name);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        HyveNetObj *net = value;

        g_mutex_lock(&net->lock);
        net->removed = TRUE;
        net->owner = NULL;
        g_mutex_unlock(&net->lock);
    }
    g_hash_table_unref(nets->by_name);
    g_mutex_clear(&nets->lock);
    g_mutex_clear(&nets->event_lock);
    g_free(nets->config_dir);
    g_free(nets->autostart_dir);
    g_free(nets->state_dir);
    g_free(nets->schema_dir);
    g_free(nets);
}
