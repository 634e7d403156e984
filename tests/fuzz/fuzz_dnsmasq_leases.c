/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_dnsmasq_leases.c: the dnsmasq lease file parser
 * (hyve_dnsmasq_leases_parse). dnsmasq writes what DHCP clients (guests)
 * sent, host names and client ids included, and the daemon parses it for
 * virNetworkGetDHCPLeases / virDomainInterfaceAddresses: guest-controlled
 * text reaching the host daemon. Parsed for all MACs and filtered by one;
 * every lease must be complete (address, family 0/1, lower-case MAC), the
 * filtered list a subset of the full one.
 */
#include "hyve-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve_network_def.h"
#include "hyve_network_priv.h"
#include "fuzz_common.h"

static HyveNetworkDef *def;

static const char net_xml[] =
    "<network><name>leases</name><bridge name='virbr0'/><forward mode='nat'/>"
    "<ip address='192.168.122.1' prefix='24'><dhcp>"
    "<range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>"
    "<ip family='ipv6' address='fd00:9::1' prefix='64'><dhcp>"
    "<range start='fd00:9::10' end='fd00:9::ff'/></dhcp></ip></network>";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;

    (void) argc;
    (void) argv;
    if (def)
        return 0;
    fuzz_quiet_logs();
    if (!(def = hyve_net_def_parse_string(net_xml, NULL, FALSE, &err)))
        g_error("network: %s", err->message);
    return 0;
}

static void
check(GPtrArray *leases, const char *text)
{
    for (guint i = 0; i < leases->len; i++) {
        const HyveNetLease *l = leases->pdata[i];
        g_autofree char *lower = l->mac ? g_ascii_strdown(l->mac, -1) : NULL;

        if (!l->ipaddr || (l->type != 0 && l->type != 1) || !l->iface ||
            (l->mac && !g_str_equal(lower, l->mac)) || (l->type == 0 && !l->mac)) {
            fprintf(stderr, "incomplete lease %u from:\n%s\n", i, text);
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_strndup(data, size);
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GPtrArray) one = NULL;
    const char *mac = NULL;
    guint matching = 0;

    LLVMFuzzerInitialize(NULL, NULL);
    all = hyve_dnsmasq_leases_parse(text, def, NULL, 1700000000);
    check(all, text);
    for (guint i = 0; i < all->len && !mac; i++)
        mac = ((const HyveNetLease *) all->pdata[i])->mac;
    one = hyve_dnsmasq_leases_parse(text, def, mac ? mac : "52:54:00:AA:BB:CC", 1700000000);
    check(one, text);
    for (guint i = 0; mac && i < all->len; i++)
        if (g_strcmp0(((const HyveNetLease *) all->pdata[i])->mac, mac) == 0)
            matching++;
    if (mac && one->len != matching) {
        fprintf(stderr, "MAC filter kept %u leases of %u with that MAC:\n%s\n",
                one->len, matching, text);
        abort();
    }
    return 0;
}
