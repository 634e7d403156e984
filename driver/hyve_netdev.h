/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_netdev.h: host side of a domain's <interface type='bridge'> and
 * <interface type='network'>: a tap device the runner inherits
 * (pci.0.S.0.fd=N), attached to the bridge and up. The tap is not
 * persistent: it vanishes when the last descriptor (the runner's) closes.
 * A type='network' NIC takes a port of its network (hyve_network.h) for
 * as long as its live definition's `bridge` is set. Internal to driver/.
 */
#pragma once

#include <glib.h>
#include "hyve_domain_def.h"
#include "hyve_network.h"

G_BEGIN_DECLS

/* Opens a new tap for @net (name: net->target_dev when set and not in
 * use, else the first free "vnetN"), with IFF_VNET_HDR as the runner
 * expects, host-side MAC fe:xx:.. derived from the guest MAC (as libvirt),
 * attached to the bridge (type='bridge': net->source; type='network':
 * net->bridge, which must have been resolved) and set up. Returns the tap
 * descriptor (close-on-exec) and its name in @ifname. A missing bridge ->
 * OPERATION_FAILED naming it; no CAP_NET_ADMIN -> SYSTEM_ERROR with the
 * errno text. */
int hyve_netdev_tap_open(const HyveNetDef *net, char **ifname, GError **error);

/* For a starting domain's private live definition @def: every
 * type='network' NIC acquires a port (net->bridge set; NO_NETWORK or
 * OPERATION_INVALID "network '%s' is not active" from the network driver),
 * then every NIC gets its tap (net->target_dev = the tap's name). Returns
 * the descriptors in def->nets order; on failure the taps are closed and
 * the ports taken are released again. @nets may be NULL (no network
 * driver): type='network' NICs then fail with NO_NETWORK. */
GArray *hyve_netdev_open_all(HyveNetworks *nets, HyveDomainDef *def, GError **error);

/* Clears the `bridge` of every type='network' NIC of @def and returns the
 * names of their networks (one entry per port held), for
 * hyve_netdev_release_ports. Callers hold the lock that guards @def. */
GPtrArray *hyve_netdev_take_ports(HyveDomainDef *def);
/* Releases one port per entry of @ports (from hyve_netdev_take_ports;
 * no domain lock held) and frees the array. NULL @nets or @ports: nothing. */
void hyve_netdev_release_ports(HyveNetworks *nets, GPtrArray *ports);
/* Both, for a definition nobody else sees. */
void hyve_netdev_release_def(HyveNetworks *nets, HyveDomainDef *def);

/* Reattach after a daemon restart, on the private live definition of a
 * domain whose runner still runs: each type='network' NIC counts its port
 * again (port_acquire with reattach: an inactive or vanished network
 * leaves the NIC without a bridge, logged, no port held). */
void hyve_netdev_reattach_ports(HyveNetworks *nets, HyveDomainDef *def);

G_END_DECLS
