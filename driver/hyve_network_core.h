/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_core.h: what the network driver's core files share beyond
 * hyve_network_priv.h (hyve_network.c, hyve_network_files.c,
 * hyve_network_ops.c only; owner: core).
 *
 * Object fields (HyveNetObj) change under net->lock; list membership under
 * nets->lock + net->lock. An object's name and UUID never change.
 *
 * Events are handed over: the thread that made a change takes
 * nets->event_lock while it still holds the lock that serialised the change
 * (hyve_net_event_begin_locked), then drops its locks and delivers
 * (hyve_net_event_end), so clients see events in state-change order. Lock
 * order: nets->lock -> net->lock -> event_lock; the sink runs with only
 * event_lock held.
 */
#pragma once

#include "hyve_network_priv.h"

G_BEGIN_DECLS

/* ---- hyve_network.c --------------------------------------------------- */

/* A new object holding @def (taken), refs 1, not in the list. */
HyveNetObj *hyve_net_obj_new(HyveNetworks *nets, HyveNetworkDef *def);
/* New references or NULL; nets->lock held. find_uuid locks each object. */
HyveNetObj *hyve_networks_find_name_locked(HyveNetworks *nets, const char *name);
HyveNetObj *hyve_networks_find_uuid_locked(HyveNetworks *nets, const guint8 uuid[HYVE_UUID_LEN]);
/* nets->lock and net->lock held. remove also removes dnsmasq's files. */
void hyve_networks_add_locked(HyveNetworks *nets, HyveNetObj *net);
void hyve_networks_remove_locked(HyveNetworks *nets, HyveNetObj *net);
/* Every object of the list (new references), nets->lock held. */
GPtrArray *hyve_networks_all_locked(HyveNetworks *nets);
/* NO_NETWORK "no network with matching uuid '%s' (%s)" once removed;
 * net->lock held. */
gboolean hyve_net_obj_check_locked(HyveNetObj *net, GError **error);
/* An inactive transient object leaves the list (takes nets->lock, then
 * net->lock; no lock held on entry). */
void hyve_networks_forget_if_gone(HyveNetworks *nets, HyveNetObj *net);

/* Event hand-over (see above). begin: net->lock (or nets->lock) held. */
void hyve_net_event_begin_locked(HyveNetworks *nets, HyveNetObj *net,
                                 HyveNetLifecycleEvent event, HyveNetEvent *ev);
void hyve_net_event_end(HyveNetworks *nets, HyveNetEvent *ev);

/* ---- hyve_network_files.c --------------------------------------------- */

gboolean hyve_network_save_config(HyveNetworks *nets, const HyveNetworkDef *def, GError **error);
/* Removes the config file and the autostart link. */
gboolean hyve_network_delete_config(HyveNetworks *nets, const char *name, GError **error);
gboolean hyve_network_set_autostart_link(HyveNetworks *nets, const char *name, gboolean on,
                                         GError **error);
/* The status file of an active network (net->lock held). */
gboolean hyve_network_save_status_locked(HyveNetworks *nets, HyveNetObj *net, GError **error);
void hyve_network_remove_status(HyveNetworks *nets, const char *name);
/* Loads configs and status files, recovers active networks, defines the
 * default network (@first_start), starts autostart networks. */
void hyve_networks_load(HyveNetworks *nets, gboolean first_start, gboolean define_default);

/* ---- hyve_network_ops.c ----------------------------------------------- */

/* The host side of a start (route check, bridge, firewall, dnsmasq), undone
 * on failure; and of a stop (errors logged). */
gboolean hyve_network_host_start(HyveNetworks *nets, const HyveNetworkDef *def, pid_t *pid,
                                 GError **error);
void hyve_network_host_stop(HyveNetworks *nets, const HyveNetworkDef *def, pid_t pid);
/* Bridge name checks and defaults for @def (nets->lock held): with
 * @check_conflict an explicit name used by another network's definition is
 * refused; a missing or "%d" one is picked, the MAC generated. */
gboolean hyve_network_assign_bridge_locked(HyveNetworks *nets, HyveNetworkDef *def,
                                           gboolean check_conflict, GError **error);

G_END_DECLS
