/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_host.h: what the two files of the network-host test program
 * share: test_network_host.c (main, namespaces, bridge, route collision)
 * and test_network_firewall.c (golden nft scripts, nft runs).
 *
 * Definitions are built by hand (no XML parser involved) with the tdef_*
 * helpers. Tests that touch the network stack run only when main() could
 * enter a private network + mount namespace (root); otherwise they say
 * "skipped" on stderr and pass.
 */
#pragma once

#include <check.h>
#include <glib.h>
#include <string.h>
#include <sys/wait.h>
#include "hyve-config.h"
#include "hyve_network_priv.h"
#include "test_common.h"

#define NFT_GOLDEN_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/network/nft"

/* TRUE when main() entered private namespaces (root); FALSE = skip. */
extern gboolean test_in_netns;
/* The original network namespace (opened before unshare), or -1. */
extern int test_host_netns_fd;

/* A definition with @name, @bridge, @mode and no <ip>; stp absent (on),
 * delay 0, MAC 52:54:00:00:00:01 (set only for modes with an own bridge). */
static inline HyveNetworkDef *
tdef_new(const char *name, const char *bridge, HyveNetForwardMode mode)
{
    HyveNetworkDef *d = g_new0(HyveNetworkDef, 1);
    static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };

    d->name = g_strdup(name);
    d->bridge = g_strdup(bridge);
    d->forward = mode;
    for (guint i = 0; i < HYVE_UUID_LEN; i++)
        d->uuid[i] = (guint8)(0x10 + i);
    if (mode != HYVE_NET_FORWARD_BRIDGE) {
        memcpy(d->mac, mac, 6);
        d->mac_set = TRUE;
    }
    d->dns.forwarders = g_ptr_array_new();
    d->dns.txts = g_ptr_array_new();
    d->dns.srvs = g_ptr_array_new();
    d->dns.hosts = g_ptr_array_new();
    d->ips = g_ptr_array_new();
    d->dnsmasq_options = g_ptr_array_new();
    return d;
}

/* Adds <ip address=@addr prefix=@prefix> (family from ':'); returns it. */
static inline HyveNetIpDef *
tdef_add_ip(HyveNetworkDef *def, const char *addr, guint prefix)
{
    HyveNetIpDef *ip = g_new0(HyveNetIpDef, 1);

    ip->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    ip->address = g_strdup(addr);
    ip->prefix = prefix;
    ip->ranges = g_ptr_array_new();
    ip->hosts = g_ptr_array_new();
    g_ptr_array_add(def->ips, ip);
    return ip;
}

static inline void
tdef_free(HyveNetworkDef *def)
{
    for (guint i = 0; i < def->ips->len; i++) {
        HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        g_free(ip->address);
        g_free(ip->tftp_root);
        g_ptr_array_unref(ip->ranges);
        g_ptr_array_unref(ip->hosts);
        g_free(ip);
    }
    g_ptr_array_unref(def->ips);
    g_ptr_array_unref(def->dns.forwarders);
    g_ptr_array_unref(def->dns.txts);
    g_ptr_array_unref(def->dns.srvs);
    g_ptr_array_unref(def->dns.hosts);
    g_ptr_array_unref(def->dnsmasq_options);
    g_free(def->name);
    g_free(def->bridge);
    g_free(def->forward_dev);
    g_free(def->nat_addr_start);
    g_free(def->nat_addr_end);
    g_free(def);
}

static inline void
tdef_autofree(HyveNetworkDef **def)
{
    g_clear_pointer(def, tdef_free);
}
/* HyveNetworkDef *d TDEF_AUTO = tdef_new(...): freed at scope end. */
#define TDEF_AUTO __attribute__((cleanup(tdef_autofree)))

/* Runs @argv (argv[0] looked up in PATH, then /usr/sbin, /sbin); stdout in
 * *out and stderr in *err when not NULL. Returns the exit status (-1 when
 * it could not run or was killed). */
static inline int
trun(const char *const *argv, char **out, char **err)
{
    g_autofree char *prog = g_find_program_in_path(argv[0]);
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    g_autofree char *o = NULL, *e = NULL;
    int ws = 0;

    for (const char *const *d = (const char *const[]){ "/usr/sbin", "/sbin", NULL };
         !prog && *d; d++) {
        g_autofree char *p = g_build_filename(*d, argv[0], NULL);

        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
            prog = g_steal_pointer(&p);
    }
    if (!prog)
        return -1;
    g_ptr_array_add(args, prog);
    for (guint i = 1; argv[i]; i++)
        g_ptr_array_add(args, (char *)argv[i]);
    g_ptr_array_add(args, NULL);
    if (!g_spawn_sync(NULL, (char **)args->pdata, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                      &o, &e, &ws, NULL))
        return -1;
    if (out)
        *out = g_steal_pointer(&o);
    if (err)
        *err = g_steal_pointer(&e);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* Skips (returns TRUE after a note) when no private namespace is there. */
gboolean tskip_without_netns(const char *test);

/* test_network_firewall.c: golden scripts and pure tests into @tc,
 * tests with a real nft into @root. */
void network_firewall_add_tests(TCase *tc, TCase *root);
