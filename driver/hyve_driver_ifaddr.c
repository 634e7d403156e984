/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_ifaddr.c: virDomainInterfaceAddresses for a running domain.
 *
 * Sources (libvirt's VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*):
 *   LEASE (0)  the DHCP leases dnsmasq handed to the guest MAC of each
 *              <interface type='network'> (its network's lease file);
 *              NICs without a lease and type='bridge' NICs are left out.
 *              A NIC whose network is gone fails the call (NO_NETWORK).
 *   ARP (2)    the host's neighbour table (/proc/net/arp of the daemon's
 *              network namespace) matched by guest MAC, every NIC; complete
 *              entries only; prefix 0 (ARP knows none), as libvirt.
 *   AGENT (1)  NO_SUPPORT: hyve has no guest agent.
 * The NIC's name is its tap (the live definition's target dev).
 */
#include "hyve-config.h"

#include <stdlib.h>
#include <string.h>
#include <net/if_arp.h>

#include "hyve_driver_priv.h"
#include "hyve_network.h"

#define SRC_LEASE 0
#define SRC_AGENT 1
#define SRC_ARP 2
#define PROC_NET_ARP "/proc/net/arp"

/* What the sources need of one NIC, copied under the domain's lock. */
typedef struct {
    HyveNetType type;
    char *network;
    char *tap;
    guint8 mac[HYVE_MAC_LEN];
} IfaceNic;

static void
iface_nic_clear(gpointer p)
{
    IfaceNic *n = p;

    g_free(n->network);
    g_free(n->tap);
}

static void
ip_addr_clear(gpointer p)
{
    g_free(((HyveDomainIpAddr *)p)->addr);
}

void
hyve_domain_iface_free(HyveDomainIface *iface)
{
    if (!iface)
        return;
    g_free(iface->name);
    g_free(iface->hwaddr);
    if (iface->addrs)
        g_array_unref(iface->addrs);
    g_free(iface);
}

static HyveDomainIface *
iface_new(const IfaceNic *nic)
{
    HyveDomainIface *iface = g_new0(HyveDomainIface, 1);
    char mac[18];

    hyve_mac_format(nic->mac, mac);
    /* a running domain's taps always have names; "" keeps the wire's
     * nonnull string valid should one not */
    iface->name = g_strdup(nic->tap ? nic->tap : "");
    iface->hwaddr = g_strdup(mac);
    iface->addrs = g_array_new(FALSE, TRUE, sizeof(HyveDomainIpAddr));
    g_array_set_clear_func(iface->addrs, ip_addr_clear);
    return iface;
}

static void
iface_add(HyveDomainIface *iface, int type, const char *addr, guint prefix)
{
    HyveDomainIpAddr a = { type, g_strdup(addr), prefix };

    g_array_append_val(iface->addrs, a);
}

/* The NICs of the running domain, or NULL with OPERATION_INVALID. */
static GArray *
snapshot_nics(HyveDomainObj *obj, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&obj->lock);
    GArray *nics;

    if (obj->id <= 0 || !obj->def) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain is not running");
        return NULL;
    }
    nics = g_array_new(FALSE, TRUE, sizeof(IfaceNic));
    g_array_set_clear_func(nics, iface_nic_clear);
    for (guint i = 0; i < obj->def->nets->len; i++) {
        const HyveNetDef *n = g_ptr_array_index(obj->def->nets, i);
        IfaceNic nic = { n->type, g_strdup(n->source), g_strdup(n->target_dev), { 0 } };

        memcpy(nic.mac, n->mac, HYVE_MAC_LEN);
        g_array_append_val(nics, nic);
    }
    return nics;
}

static gboolean
from_leases(HyveDriver *drv, GArray *nics, GPtrArray *out, GError **error)
{
    HyveNetworks *nets = hyve_driver_get_networks(drv);

    for (guint i = 0; i < nics->len; i++) {
        const IfaceNic *nic = &g_array_index(nics, IfaceNic, i);
        g_autoptr(GPtrArray) leases = NULL;
        HyveDomainIface *iface;

        if (nic->type != HYVE_NET_TYPE_NETWORK)
            continue;
        if (!nets) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NETWORK,
                           "no network with matching name '%s'", nic->network);
            return FALSE;
        }
        if (!(leases = hyve_networks_leases_for_mac(nets, nic->network, nic->mac, error)))
            return FALSE;
        if (leases->len == 0)
            continue;
        iface = iface_new(nic);
        for (guint j = 0; j < leases->len; j++) {
            const HyveNetLease *l = g_ptr_array_index(leases, j);

            iface_add(iface, l->type, l->ipaddr, l->prefix);
        }
        g_ptr_array_add(out, iface);
    }
    return TRUE;
}

/* /proc/net/arp: "IP HWtype Flags HWaddress Mask Device" after a header. */
static gboolean
from_arp(GArray *nics, GPtrArray *out, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(PROC_NET_ARP, &text, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot read %s: %s", PROC_NET_ARP, local->message);
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; i < nics->len; i++) {
        const IfaceNic *nic = &g_array_index(nics, IfaceNic, i);
        HyveDomainIface *iface = NULL;

        for (guint k = 1; lines[k]; k++) {
            g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[k]), " \t", -1);
            g_autoptr(GPtrArray) fields = g_ptr_array_new();
            guint8 mac[HYVE_MAC_LEN];
            unsigned long flags = 0;
            char *end = NULL;

            for (guint m = 0; f[m]; m++)
                if (*f[m])
                    g_ptr_array_add(fields, f[m]);
            if (fields->len >= 4)
                flags = strtoul(g_ptr_array_index(fields, 2), &end, 16);
            if (fields->len < 4 || !end || *end || !(flags & ATF_COM) || !hyve_mac_parse(g_ptr_array_index(fields, 3), mac) ||
                memcmp(mac, nic->mac, HYVE_MAC_LEN) != 0)
                continue;
            if (!iface)
                iface = iface_new(nic);
            iface_add(iface, 0, g_ptr_array_index(fields, 0), 0);
        }
        if (iface)
            g_ptr_array_add(out, iface);
    }
    return TRUE;
}

GPtrArray *
hyve_driver_domain_interface_addresses(HyveDriver *drv, HyveDomainObj *obj, guint source,
                                       guint flags, GError **error)
{
    g_autoptr(GPtrArray) out = NULL;
    g_autoptr(GArray) nics = NULL;

    if (flags) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function %s", flags, __func__);
        return NULL;
    }
    if (!(nics = snapshot_nics(obj, error)))
        return NULL;
    out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_domain_iface_free);
    switch (source) {
    case SRC_LEASE:
        if (!from_leases(drv, nics, out, error))
            return NULL;
        break;
    case SRC_ARP:
        if (!from_arp(nics, out, error))
            return NULL;
        break;
    case SRC_AGENT:
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_SUPPORT,
                       "virDomainInterfaceAddresses: hyve has no guest agent "
                       "(use source 'lease' or 'arp')");
        return NULL;
    default:
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG,
                       "Unknown IP address data source %u", source);
        return NULL;
    }
    return g_steal_pointer(&out);
}
