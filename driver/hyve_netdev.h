/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_netdev.h: host side of a domain's <interface type='bridge'>: a tap
 * device the runner inherits (pci.0.S.0.fd=N), attached to the bridge and
 * up. The tap is not persistent: it vanishes when the last descriptor (the
 * runner's) closes. Internal to driver/.
 */
#pragma once

#include <glib.h>
#include "hyve_domain_def.h"

G_BEGIN_DECLS

/* Opens a new tap for @net (name: net->target_dev when set and not in
 * use, else the first free "vnetN"), with IFF_VNET_HDR as the runner
 * expects, host-side MAC fe:xx:.. derived from the guest MAC (as libvirt),
 * attached to bridge net->source and set up. Returns the tap descriptor
 * (close-on-exec) and its name in @ifname. type='network' -> NO_NETWORK
 * "Network not found: no network with matching name '%s'" (networks come
 * with issue 6); a missing bridge -> OPERATION_FAILED naming it; no
 * CAP_NET_ADMIN -> SYSTEM_ERROR with the errno text. */
int hyve_netdev_tap_open(const HyveNetDef *net, char **ifname, GError **error);

G_END_DECLS
