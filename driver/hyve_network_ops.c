/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_ops.c: the network operations of hyve_network.h: define,
 * create, undefine, start, destroy and autostart, the bridge-name rules
 * (same name as another network's definition refused, auto-picked virbrN),
 * the subnet check against active networks, and the host-side start and
 * stop sequences (hyve_network_priv.h) with their unwinding.
 *
 * A start claims the network (active, live definition) under nets->lock +
 * net->lock, so a second start or an overlapping network waits for it; the
 * host work then runs under net->lock only. A failed start gives the claim
 * back (a transient network then leaves the list).
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_obj.h"
#include "hyve_network_core.h"

/* ---- bridge names ------------------------------------------------------------ */

/* Another network's definition uses @bridge (nets->lock held). */
static gboolean
other_uses_bridge_locked(HyveNetworks *nets, const guint8 *uuid, const char *bridge)
{
    GHashTableIter it;
    gpointer value;
    gboolean used = FALSE;

    g_hash_table_iter_init(&it, nets->by_name);
    while (!used && g_hash_table_iter_next(&it, NULL, &value)) {
        HyveNetObj *net = value;

        g_mutex_lock(&net->lock);
        if (memcmp(net->def->uuid, uuid, HYVE_UUID_LEN) != 0)
            used = g_strcmp0(net->def->bridge, bridge) == 0 ||
                   (net->newdef && g_strcmp0(net->newdef->bridge, bridge) == 0);
        g_mutex_unlock(&net->lock);
    }
    return used;
}

typedef struct {
    HyveNetworks *nets;
    const guint8 *uuid;
    const char *own;            /* this network's bridge now (its device may exist) */
} BridgeInUse;

static gboolean
bridge_in_use(const char *bridge, gpointer data)
{
    BridgeInUse *u = data;

    if (other_uses_bridge_locked(u->nets, u->uuid, bridge))
        return TRUE;
    return g_strcmp0(bridge, u->own) != 0 && hyve_net_device_exists(bridge);
}

gboolean
hyve_network_assign_bridge_locked(HyveNetworks *nets, HyveNetworkDef *def,
                                  gboolean check_conflict, GError **error)
{
    g_autoptr(HyveNetObj) self = hyve_networks_find_uuid_locked(nets, def->uuid);
    g_autofree char *own = NULL;
    BridgeInUse u = { nets, def->uuid, NULL };

    if (check_conflict && def->bridge && !strstr(def->bridge, "%d") &&
        other_uses_bridge_locked(nets, def->uuid, def->bridge)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "bridge name '%s' already in use.", def->bridge);
        return FALSE;
    }
    if (self) {
        g_mutex_lock(&self->lock);
        own = g_strdup(self->def->bridge);
        g_mutex_unlock(&self->lock);
    }
    u.own = own;
    return hyve_net_def_assign_bridge(def, bridge_in_use, &u, error);
}

/* ---- host side ---------------------------------------------------------------- */

gboolean
hyve_network_host_start(HyveNetworks *nets, const HyveNetworkDef *def, pid_t *pid,
                        GError **error)
{
    *pid = 0;
    if (!hyve_net_def_has_own_bridge(def))
        return TRUE;        /* forward mode bridge: the host bridge is the user's */
    if (!hyve_net_route_collision_check(def, error) || !hyve_net_bridge_start(def, error))
        return FALSE;
    if (!hyve_net_firewall_add(def, error))
        goto undo_bridge;
    if (hyve_dnsmasq_needed(def) && !hyve_dnsmasq_start(def, nets->state_dir, pid, error))
        goto undo_firewall;
    return TRUE;

undo_firewall:
    hyve_net_firewall_remove(def, NULL);
undo_bridge:
    hyve_net_bridge_stop(def, NULL);
    *pid = 0;
    return FALSE;
}

void
hyve_network_host_stop(HyveNetworks *nets, const HyveNetworkDef *def, pid_t pid)
{
    g_autoptr(GError) err = NULL;

    if (!hyve_net_def_has_own_bridge(def))
        return;
    if (pid > 0)
        hyve_dnsmasq_stop(pid, nets->state_dir, def->name);
    if (!hyve_net_firewall_remove(def, &err)) {
        g_warning("network %s: %s", def->name, err->message);
        g_clear_error(&err);
    }
    if (!hyve_net_bridge_stop(def, &err))
        g_warning("network %s: %s", def->name, err->message);
}

/* ---- claims ------------------------------------------------------------------- */

/* @def's subnets overlap an active network other than @self (nets->lock
 * held, and @self's lock). */
static gboolean
check_overlap_locked(HyveNetworks *nets, HyveNetObj *self, const HyveNetworkDef *def,
                     GError **error)
{
    g_autofree char *bridge = NULL;
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, nets->by_name);
    while (!bridge && g_hash_table_iter_next(&it, NULL, &value)) {
        HyveNetObj *net = value;

        if (net == self)
            continue;
        g_mutex_lock(&net->lock);
        for (guint i = 0; net->active && !bridge && i < def->ips->len; i++) {
            const HyveNetIpDef *a = g_ptr_array_index(def->ips, i);

            for (guint j = 0; !bridge && j < net->def->ips->len; j++) {
                const HyveNetIpDef *b = g_ptr_array_index(net->def->ips, j);

                if (a->family == b->family && hyve_net_ip_overlap(a, b))
                    bridge = g_strdup(net->def->bridge ? net->def->bridge : net->def->name);
            }
        }
        g_mutex_unlock(&net->lock);
    }
    if (!bridge)
        return TRUE;
    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                   "Network is already in use by interface %s", bridge);
    return FALSE;
}

/* Active with @live (taken); the persistent definition waits in newdef. */
static void
claim_locked(HyveNetObj *net, HyveNetworkDef *live)
{
    if (net->persistent && !net->newdef)
        net->newdef = net->def;
    else
        hyve_net_def_free(net->def);
    net->def = live;
    net->def->connections = 0;
    net->connections = 0;
    net->active = TRUE;
}

static void
stopped_locked(HyveNetObj *net)
{
    net->active = FALSE;
    net->dnsmasq_pid = 0;
    net->connections = 0;
    if (net->newdef) {
        hyve_net_def_free(net->def);
        net->def = g_steal_pointer(&net->newdef);
    }
    net->def->connections = 0;
}

/* Host work of a claimed network (net->lock held); failure: claim given back. */
static gboolean
run_start_locked(HyveNetworks *nets, HyveNetObj *net, GError **error)
{
    pid_t pid = 0;

    if (!hyve_network_host_start(nets, net->def, &pid, error)) {
        stopped_locked(net);
        return FALSE;
    }
    net->dnsmasq_pid = pid;
    if (!hyve_network_save_status_locked(nets, net, error)) {
        hyve_network_host_stop(nets, net->def, pid);
        stopped_locked(net);
        return FALSE;
    }
    return TRUE;
}

/* ---- define / create ------------------------------------------------------------ */

/* The network with @def's UUID or name, or NULL; a name/UUID mismatch is
 * refused. nets->lock held. */
static gboolean
find_existing_locked(HyveNetworks *nets, const HyveNetworkDef *def, HyveNetObj **out,
                     GError **error)
{
    g_autoptr(HyveNetObj) net = NULL;
    char s[HYVE_UUID_STRING_LEN];

    if ((net = hyve_networks_find_uuid_locked(nets, def->uuid))) {
        g_mutex_lock(&net->lock);
        if (!g_str_equal(net->def->name, def->name)) {
            hyve_uuid_format(net->def->uuid, s);
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED,
                           "network '%s' is already defined with uuid %s", net->def->name, s);
            g_mutex_unlock(&net->lock);
            return FALSE;
        }
        g_mutex_unlock(&net->lock);
    } else if ((net = hyve_networks_find_name_locked(nets, def->name))) {
        g_mutex_lock(&net->lock);
        hyve_uuid_format(net->def->uuid, s);
        g_mutex_unlock(&net->lock);
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED,
                       "network '%s' already exists with uuid %s", def->name, s);
        return FALSE;
    }
    *out = g_steal_pointer(&net);
    return TRUE;
}

HyveNetObj *
hyve_networks_define_xml(HyveNetworks *nets, const char *xml, guint flags, GError **error)
{
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(HyveNetObj) net = NULL;
    HyveNetEvent ev = { 0 };

    HYVE_NETWORK_CHECK_FLAGS(flags, HYVE_NET_DEFINE_VALIDATE, NULL);
    if (!(def = hyve_net_def_parse_string(xml, nets->schema_dir,
                                          (flags & HYVE_NET_DEFINE_VALIDATE) != 0, error)))
        return NULL;
    g_mutex_lock(&nets->lock);
    if (!find_existing_locked(nets, def, &net, error) ||
        !hyve_network_assign_bridge_locked(nets, def, TRUE, error) ||
        !hyve_network_save_config(nets, def, error)) {
        g_mutex_unlock(&nets->lock);
        return NULL;
    }
    if (net) {
        HyveNetworkDef **slot;

        g_mutex_lock(&net->lock);
        slot = net->active ? &net->newdef : &net->def;
        hyve_net_def_free(*slot);
        *slot = g_steal_pointer(&def);
        net->persistent = TRUE;
        if (net->active && !hyve_network_save_status_locked(nets, net, NULL))
            g_warning("network %s: status file not updated", net->def->name);
    } else {
        net = hyve_net_obj_new(nets, g_steal_pointer(&def));
        net->persistent = TRUE;
        g_mutex_lock(&net->lock);
        hyve_networks_add_locked(nets, net);
    }
    hyve_net_event_begin_locked(nets, net, HYVE_NET_EVENT_DEFINED, &ev);
    g_mutex_unlock(&net->lock);
    g_mutex_unlock(&nets->lock);
    hyve_net_event_end(nets, &ev);
    return g_steal_pointer(&net);
}

HyveNetObj *
hyve_networks_create_xml(HyveNetworks *nets, const char *xml, guint flags, GError **error)
{
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(HyveNetObj) net = NULL;
    HyveNetEvent ev = { 0 };
    gboolean ok = TRUE;

    HYVE_NETWORK_CHECK_FLAGS(flags, HYVE_NET_DEFINE_VALIDATE, NULL);
    if (!(def = hyve_net_def_parse_string(xml, nets->schema_dir,
                                          (flags & HYVE_NET_DEFINE_VALIDATE) != 0, error)))
        return NULL;
    g_mutex_lock(&nets->lock);
    if (!find_existing_locked(nets, def, &net, error)) {
        ok = FALSE;
    } else if (net && hyve_net_obj_is_active(net)) {
        /* only this thread may activate it: starts take nets->lock */
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                       "network is already active as '%s'", def->name);
        ok = FALSE;
    } else {
        ok = hyve_network_assign_bridge_locked(nets, def, TRUE, error) &&
             check_overlap_locked(nets, net, def, error);
    }
    if (!ok) {
        g_mutex_unlock(&nets->lock);
        return NULL;
    }
    if (!net) {
        net = hyve_net_obj_new(nets, hyve_net_def_copy(def));
        g_mutex_lock(&net->lock);
        hyve_networks_add_locked(nets, net);
    } else {
        g_mutex_lock(&net->lock);
    }
    claim_locked(net, g_steal_pointer(&def));
    g_mutex_unlock(&nets->lock);

    if ((ok = run_start_locked(nets, net, error)))
        hyve_net_event_begin_locked(nets, net, HYVE_NET_EVENT_STARTED, &ev);
    g_mutex_unlock(&net->lock);
    if (!ok) {
        hyve_networks_forget_if_gone(nets, net);
        return NULL;
    }
    hyve_net_event_end(nets, &ev);
    return g_steal_pointer(&net);
}

/* ---- start / destroy / undefine / autostart ------------------------------------- */

gboolean
hyve_networks_start(HyveNetworks *nets, HyveNetObj *net, GError **error)
{
    HyveNetEvent ev = { 0 };
    gboolean ok = FALSE;

    g_mutex_lock(&nets->lock);
    g_mutex_lock(&net->lock);
    if (!hyve_net_obj_check_locked(net, error)) {
        /* reported */
    } else if (net->active) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                       "network is already active");
    } else if (check_overlap_locked(nets, net, net->def, error)) {
        claim_locked(net, hyve_net_def_copy(net->def));
        ok = TRUE;
    }
    g_mutex_unlock(&nets->lock);
    if (ok && (ok = run_start_locked(nets, net, error)))
        hyve_net_event_begin_locked(nets, net, HYVE_NET_EVENT_STARTED, &ev);
    g_mutex_unlock(&net->lock);
    if (ok)
        hyve_net_event_end(nets, &ev);
    return ok;
}

gboolean
hyve_networks_destroy(HyveNetworks *nets, HyveNetObj *net, GError **error)
{
    HyveNetEvent ev = { 0 };
    gboolean transient;

    g_mutex_lock(&net->lock);
    if (!hyve_net_obj_check_locked(net, error)) {
        g_mutex_unlock(&net->lock);
        return FALSE;
    }
    if (!net->active) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                       "network '%s' is not active", net->def->name);
        g_mutex_unlock(&net->lock);
        return FALSE;
    }
    hyve_network_host_stop(nets, net->def, net->dnsmasq_pid);
    hyve_network_remove_status(nets, net->def->name);
    stopped_locked(net);
    transient = !net->persistent;
    hyve_net_event_begin_locked(nets, net, HYVE_NET_EVENT_STOPPED, &ev);
    g_mutex_unlock(&net->lock);
    hyve_net_event_end(nets, &ev);
    if (transient)
        hyve_networks_forget_if_gone(nets, net);    /* no UNDEFINED, as libvirt */
    return TRUE;
}

gboolean
hyve_networks_undefine(HyveNetworks *nets, HyveNetObj *net, GError **error)
{
    HyveNetEvent ev = { 0 };
    gboolean ok = FALSE;

    g_mutex_lock(&nets->lock);
    g_mutex_lock(&net->lock);
    if (!hyve_net_obj_check_locked(net, error)) {
        /* reported */
    } else if (!net->persistent) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                       "can't undefine transient network");
    } else if (hyve_network_delete_config(nets, net->def->name, error)) {
        net->persistent = FALSE;
        net->autostart = FALSE;
        g_clear_pointer(&net->newdef, hyve_net_def_free);
        if (net->active && !hyve_network_save_status_locked(nets, net, NULL))
            g_warning("network %s: status file not updated", net->def->name);
        hyve_net_event_begin_locked(nets, net, HYVE_NET_EVENT_UNDEFINED, &ev);
        if (!net->active)
            hyve_networks_remove_locked(nets, net);     /* an active one stays, transient */
        ok = TRUE;
    }
    g_mutex_unlock(&net->lock);
    g_mutex_unlock(&nets->lock);
    if (ok)
        hyve_net_event_end(nets, &ev);
    return ok;
}

gboolean
hyve_networks_set_autostart(HyveNetworks *nets, HyveNetObj *net, gboolean autostart,
                            GError **error)
{
    gboolean ok = FALSE;

    g_mutex_lock(&net->lock);
    if (!hyve_net_obj_check_locked(net, error)) {
        /* reported */
    } else if (!net->persistent) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_INVALID,
                       "cannot set autostart for transient network");
    } else if (hyve_network_set_autostart_link(nets, net->def->name, autostart, error)) {
        net->autostart = autostart != FALSE;
        if (net->active && !hyve_network_save_status_locked(nets, net, NULL))
            g_warning("network %s: status file not updated", net->def->name);
        ok = TRUE;
    }
    g_mutex_unlock(&net->lock);
    return ok;
}
