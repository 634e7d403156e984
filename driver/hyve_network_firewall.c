/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_firewall.c: the nftables table of a virtual network.
 *
 * Every network with an own bridge (except forward mode open) gets one
 * table "inet hyve_<name>" holding libvirt's rules for its mode
 * (network_nftables.c is the model; rules written here, not copied):
 *   forward chain  guests on the bridge may talk to each other; traffic
 *                  from the network's subnets out (nat, route), replies in
 *                  (nat: related/established only; route: all); everything
 *                  else to or from the bridge is rejected (isolated
 *                  networks get only the cross rule and the rejects);
 *   postrouting    nat, IPv4 subnets: no masquerade for local multicast
 *                  and broadcast, then tcp/udp masquerade to the port
 *                  range (default 1024-65535), then the rest; a <nat>
 *                  <address> range turns masquerade into snat;
 *   input          DNS/DHCP(v6)/TFTP accepts for the bridge, as libvirt's
 *                  iptables rules (in an own table they document intent).
 * IPv6 subnets of a nat network get route rules (no NAT for IPv6).
 * <forward dev='X'> narrows out/in rules and masquerade to device X.
 * Rules name interfaces (iifname/oifname), so the table loads before the
 * bridge exists. The script first creates an empty table and deletes it,
 * so one `nft -f -` transaction replaces an older table atomically and
 * removal never fails on a table that is already gone.
 */
#include "hyve-config.h"

#include <gio/gio.h>
#include <string.h>
#include <arpa/inet.h>

#include "hyve_cgroup.h"
#include "hyve_error.h"
#include "hyve_network_priv.h"

#define NFT_FALLBACK "/usr/sbin/nft"
#define NFT_TABLE_PREFIX "hyve_"
/* for names that are not plain: "hyveu_" cannot be "hyve_" + a plain name */
#define NFT_UUID_PREFIX "hyveu_"
#define NFT_NAME_MAX 200        /* nft allows 256; stay well below */

static gboolean
name_is_plain(const char *name)
{
    if (!name || !*name || strlen(name) > NFT_NAME_MAX)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
            return FALSE;
    }
    return TRUE;
}

char *
hyve_net_firewall_table_name(const HyveNetworkDef *def)
{
    GString *s;

    if (name_is_plain(def->name))
        return g_strconcat(NFT_TABLE_PREFIX, def->name, NULL);
    /* the UUID in hex is unique and plain; its own prefix keeps it apart
     * from every plain name's table */
    s = g_string_new(NFT_UUID_PREFIX);
    for (guint i = 0; i < HYVE_UUID_LEN; i++)
        g_string_append_printf(s, "%02x", def->uuid[i]);
    return g_string_free(s, FALSE);
}

/* Interface names go into nft strings: refuse what cannot be quoted. */
static gboolean
iface_quotable(const char *name)
{
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\' || !g_ascii_isgraph(*p))
            return FALSE;
    }
    return TRUE;
}

static gboolean
has_table(const HyveNetworkDef *def)
{
    return hyve_net_def_has_own_bridge(def) && def->forward != HYVE_NET_FORWARD_OPEN &&
           def->bridge != NULL;
}

/* "ip" or "ip6" for the address family of @ip. */
static const char *
ip_layer(const HyveNetIpDef *ip)
{
    return ip->family == AF_INET6 ? "ip6" : "ip";
}

/* ---- chains ---------------------------------------------------------------- */

static void
append_input(GString *s, const HyveNetworkDef *def)
{
    const HyveNetIpDef *v4 = hyve_net_def_first_ip(def, AF_INET);
    const HyveNetIpDef *v6 = hyve_net_def_first_ip(def, AF_INET6);
    gboolean tftp = FALSE;

    if (!v4 && !v6)
        return;
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        tftp = tftp || (ip->family == AF_INET && ip->tftp_root);
    }
    g_string_append(s, "    chain input {\n"
                       "        type filter hook input priority filter; policy accept;\n");
    g_string_append_printf(s, "        iifname \"%s\" udp dport { 53", def->bridge);
    if (v4)
        g_string_append(s, ", 67");
    if (tftp)
        g_string_append(s, ", 69");
    if (v6)
        g_string_append(s, ", 547");
    g_string_append_printf(s, " } accept\n"
                              "        iifname \"%s\" tcp dport 53 accept\n"
                              "    }\n", def->bridge);
}

static void
append_forward(GString *s, const HyveNetworkDef *def)
{
    const char *br = def->bridge;
    const char *dev = def->forward_dev && *def->forward_dev ? def->forward_dev : NULL;
    gboolean allow = def->forward == HYVE_NET_FORWARD_NAT ||
                     def->forward == HYVE_NET_FORWARD_ROUTE;

    g_string_append(s, "    chain forward {\n"
                       "        type filter hook forward priority filter; policy accept;\n");
    g_string_append_printf(s, "        iifname \"%s\" oifname \"%s\" accept\n", br, br);
    /* into the bridge */
    for (guint i = 0; allow && i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        g_autofree char *net = hyve_net_ip_subnet_string(ip);
        gboolean related = def->forward == HYVE_NET_FORWARD_NAT && ip->family == AF_INET;

        g_string_append(s, "        ");
        if (dev)
            g_string_append_printf(s, "iifname \"%s\" ", dev);
        g_string_append_printf(s, "oifname \"%s\" %s daddr %s %saccept\n", br, ip_layer(ip),
                               net, related ? "ct state related,established " : "");
    }
    g_string_append_printf(s, "        oifname \"%s\" reject\n", br);
    /* out of the bridge */
    for (guint i = 0; allow && i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        g_autofree char *net = hyve_net_ip_subnet_string(ip);

        g_string_append_printf(s, "        iifname \"%s\" ", br);
        if (dev)
            g_string_append_printf(s, "oifname \"%s\" ", dev);
        g_string_append_printf(s, "%s saddr %s accept\n", ip_layer(ip), net);
    }
    g_string_append_printf(s, "        iifname \"%s\" reject\n", br);
    g_string_append(s, "    }\n");
}

/* The translation target of the masquerade rules: "masquerade[ to :P-Q]"
 * or, with a <nat><address> range, "snat ip to A[-B][:P-Q]". */
static char *
nat_target(const HyveNetworkDef *def, gboolean ports)
{
    guint start = def->nat_port_start, end = def->nat_port_end;
    g_autofree char *range = NULL;

    if (start == 0 && end == 0) {
        start = 1024;
        end = 65535;
    }
    if (ports)
        range = g_strdup_printf(":%u-%u", start, end);
    if (def->nat_addr_start && *def->nat_addr_start) {
        gboolean two = def->nat_addr_end && *def->nat_addr_end;

        return g_strdup_printf("snat ip to %s%s%s%s", def->nat_addr_start, two ? "-" : "",
                               two ? def->nat_addr_end : "", range ? range : "");
    }
    return g_strdup_printf("masquerade%s%s", range ? " to " : "", range ? range : "");
}

static void
append_postrouting(GString *s, const HyveNetworkDef *def)
{
    const char *dev = def->forward_dev && *def->forward_dev ? def->forward_dev : NULL;
    g_autofree char *oif = dev ? g_strdup_printf("oifname \"%s\" ", dev) : g_strdup("");
    g_autofree char *with_ports = nat_target(def, TRUE);
    g_autofree char *plain = nat_target(def, FALSE);

    if (def->forward != HYVE_NET_FORWARD_NAT || !hyve_net_def_first_ip(def, AF_INET))
        return;
    g_string_append(s, "    chain postrouting {\n"
                       "        type nat hook postrouting priority srcnat; policy accept;\n");
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        g_autofree char *net = NULL;

        if (ip->family != AF_INET)
            continue;
        net = hyve_net_ip_subnet_string(ip);
        g_string_append_printf(s, "        %sip saddr %s ip daddr 224.0.0.0/24 return\n",
                               oif, net);
        g_string_append_printf(s, "        %sip saddr %s ip daddr 255.255.255.255 return\n",
                               oif, net);
        for (guint p = 0; p < 2; p++)
            g_string_append_printf(s, "        meta l4proto %s %sip saddr %s ip daddr != %s %s\n",
                                   p == 0 ? "tcp" : "udp", oif, net, net, with_ports);
        g_string_append_printf(s, "        %sip saddr %s ip daddr != %s %s\n", oif, net, net,
                               plain);
    }
    g_string_append(s, "    }\n");
}

static char *
empty_and_delete(const char *table)
{
    return g_strdup_printf("table inet %s {\n}\ndelete table inet %s\n", table, table);
}

char *
hyve_net_firewall_script(const HyveNetworkDef *def)
{
    g_autofree char *table = NULL;
    g_autofree char *head = NULL;
    GString *s;

    if (!has_table(def))
        return NULL;
    table = hyve_net_firewall_table_name(def);
    head = empty_and_delete(table);
    s = g_string_new(head);
    g_string_append_printf(s, "table inet %s {\n", table);
    if (name_is_plain(def->name))
        g_string_append_printf(s, "    comment \"hyve network %s (%s)\"\n", def->name,
                               def->bridge);
    else
        g_string_append_printf(s, "    comment \"hyve network on %s\"\n", def->bridge);
    append_input(s, def);
    append_forward(s, def);
    append_postrouting(s, def);
    g_string_append(s, "}\n");
    return g_string_free(s, FALSE);
}

/* ---- running nft ------------------------------------------------------------- */

static gboolean
nft_run(const char *script, GError **error)
{
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                 G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *nft = g_find_program_in_path("nft");
    g_autofree char *out = NULL, *errtext = NULL;
    const char *argv[] = { nft ? nft : NFT_FALLBACK, "-f", "-", NULL };
    int st;

    g_subprocess_launcher_setenv(l, "LC_ALL", "C", TRUE);
    g_subprocess_launcher_set_child_setup(l, hyve_child_setup_rlimits, NULL, NULL);
    p = g_subprocess_launcher_spawnv(l, argv, &err);
    if (!p) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "Cannot run '%s -f -': %s", argv[0], err->message);
        return FALSE;
    }
    if (!g_subprocess_communicate_utf8(p, script, NULL, &out, &errtext, &err)) {
        g_subprocess_force_exit(p);
        g_subprocess_wait(p, NULL, NULL);
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "Cannot talk to '%s -f -': %s", argv[0], err->message);
        return FALSE;
    }
    if (g_subprocess_get_if_exited(p) && g_subprocess_get_exit_status(p) == 0)
        return TRUE;
    if (errtext)
        g_strstrip(errtext);
    st = g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p)
                                       : g_subprocess_get_term_sig(p);
    hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                   "Child process (%s -f -) unexpected %s %d%s%s", argv[0],
                   g_subprocess_get_if_exited(p) ? "exit status" : "fatal signal", st,
                   errtext && *errtext ? ": " : "", errtext ? errtext : "");
    return FALSE;
}

gboolean
hyve_net_firewall_add(const HyveNetworkDef *def, GError **error)
{
    g_autofree char *script = NULL;

    if (!has_table(def))
        return TRUE;
    if (!iface_quotable(def->bridge) || (def->forward_dev && !iface_quotable(def->forward_dev))) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "interface name '%s' cannot be used in firewall rules",
                       iface_quotable(def->bridge) ? def->forward_dev : def->bridge);
        return FALSE;
    }
    script = hyve_net_firewall_script(def);
    return nft_run(script, error);
}

gboolean
hyve_net_firewall_remove(const HyveNetworkDef *def, GError **error)
{
    g_autofree char *table = NULL;
    g_autofree char *script = NULL;

    if (!has_table(def))
        return TRUE;
    table = hyve_net_firewall_table_name(def);
    script = empty_and_delete(table);
    return nft_run(script, error);
}
