/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_firewall.c: the nftables side of a network (part of the
 * network-host program, see test_network_host.h).
 *
 * Golden: every case's script is compared with network/nft/<case>.nft
 * (HYVE_REGENERATE=1 rewrites them; review the diff). Modes without a
 * table (open, bridge) have no script and no file.
 * Fake nft (no root): a script named nft first in PATH records its argv
 * and stdin and fails on request: add/remove pass the script on stdin to
 * `nft -f -`, and a failure is INTERNAL_ERROR with nft's stderr.
 * Real nft (root, private network namespace): `nft -c -f` accepts each
 * golden file; add loads the table (listed with the case's marker rules),
 * add again replaces it, remove drops it, remove again is fine.
 */
#include "test_network_host.h"

#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef struct {
    const char *name;
    HyveNetworkDef *(*build)(void);
    const char *table;          /* NULL: no table for this mode */
    const char *marker;         /* a line `nft list` shows for the loaded table */
} FwCase;

static HyveNetworkDef *
build_nat_default(void)
{
    HyveNetworkDef *d = tdef_new("default", "virbr0", HYVE_NET_FORWARD_NAT);

    tdef_add_ip(d, "192.168.122.1", 24);
    return d;
}

static HyveNetworkDef *
build_nat_dev(void)
{
    HyveNetworkDef *d = tdef_new("natdev", "virbr3", HYVE_NET_FORWARD_NAT);

    d->forward_dev = g_strdup("eth9");
    d->nat_port_start = 2000;
    d->nat_port_end = 3000;
    tdef_add_ip(d, "10.77.0.1", 16);
    return d;
}

static HyveNetworkDef *
build_nat_snat(void)
{
    HyveNetworkDef *d = tdef_new("snat", "virbr4", HYVE_NET_FORWARD_NAT);

    d->nat_addr_start = g_strdup("203.0.113.10");
    d->nat_addr_end = g_strdup("203.0.113.20");
    tdef_add_ip(d, "192.168.124.1", 24);
    return d;
}

static HyveNetworkDef *
build_nat_snat_one(void)
{
    HyveNetworkDef *d = tdef_new("snat-one", "virbr5", HYVE_NET_FORWARD_NAT);

    d->nat_addr_start = g_strdup("203.0.113.7");
    d->nat_port_start = 1500;
    d->nat_port_end = 1600;
    tdef_add_ip(d, "192.168.125.1", 24);
    return d;
}

static HyveNetworkDef *
build_nat_ipv6(void)
{
    HyveNetworkDef *d = tdef_new("dual", "virbr6", HYVE_NET_FORWARD_NAT);

    tdef_add_ip(d, "192.168.126.1", 24);
    tdef_add_ip(d, "2001:db8:ca2:2::1", 64);
    return d;
}

static HyveNetworkDef *
build_nat_two_v4(void)
{
    HyveNetworkDef *d = tdef_new("two", "virbr8", HYVE_NET_FORWARD_NAT);

    tdef_add_ip(d, "192.168.127.1", 24);
    tdef_add_ip(d, "172.20.0.1", 20);
    return d;
}

static HyveNetworkDef *
build_nat_tftp(void)
{
    HyveNetworkDef *d = tdef_new("pxe", "virbr9", HYVE_NET_FORWARD_NAT);
    HyveNetIpDef *ip = tdef_add_ip(d, "192.168.128.1", 24);

    ip->tftp_root = g_strdup("/srv/tftp");
    return d;
}

static HyveNetworkDef *
build_route(void)
{
    HyveNetworkDef *d = tdef_new("routed", "virbr10", HYVE_NET_FORWARD_ROUTE);

    tdef_add_ip(d, "10.20.0.1", 16);
    return d;
}

static HyveNetworkDef *
build_route_ipv6_dev(void)
{
    HyveNetworkDef *d = tdef_new("routed6", "virbr11", HYVE_NET_FORWARD_ROUTE);

    d->forward_dev = g_strdup("uplink0");
    tdef_add_ip(d, "2001:db8:ca2:3::1", 64);
    return d;
}

static HyveNetworkDef *
build_isolated(void)
{
    HyveNetworkDef *d = tdef_new("isolated", "virbr12", HYVE_NET_FORWARD_NONE);

    tdef_add_ip(d, "192.168.140.1", 24);
    tdef_add_ip(d, "fd00:1::1", 64);
    return d;
}

static HyveNetworkDef *
build_isolated_noip(void)
{
    return tdef_new("empty", "virbr13", HYVE_NET_FORWARD_NONE);
}

static HyveNetworkDef *
build_odd_name(void)
{
    HyveNetworkDef *d = tdef_new("my.net:1", "virbr14", HYVE_NET_FORWARD_NAT);

    tdef_add_ip(d, "192.168.141.1", 24);
    return d;
}

static HyveNetworkDef *
build_open(void)
{
    HyveNetworkDef *d = tdef_new("opennet", "virbr15", HYVE_NET_FORWARD_OPEN);

    tdef_add_ip(d, "192.168.142.1", 24);
    return d;
}

static HyveNetworkDef *
build_host_bridge(void)
{
    return tdef_new("hostbr", "br0", HYVE_NET_FORWARD_BRIDGE);
}

static const FwCase fw_cases[] = {
    { "nat-default", build_nat_default, "hyve_default",
      "meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 "
      "masquerade to :1024-65535" },
    { "nat-dev", build_nat_dev, "hyve_natdev",
      "meta l4proto udp oifname \"eth9\" ip saddr 10.77.0.0/16 ip daddr != 10.77.0.0/16 "
      "masquerade to :2000-3000" },
    { "nat-snat", build_nat_snat, "hyve_snat",
      "snat ip to 203.0.113.10-203.0.113.20:1024-65535" },
    { "nat-snat-one", build_nat_snat_one, "hyve_snat-one", "snat ip to 203.0.113.7:1500-1600" },
    { "nat-ipv6", build_nat_ipv6, "hyve_dual",
      "oifname \"virbr6\" ip6 daddr 2001:db8:ca2:2::/64 accept" },
    { "nat-two-v4", build_nat_two_v4, "hyve_two",
      "ip saddr 172.20.0.0/20 ip daddr != 172.20.0.0/20 masquerade" },
    { "nat-tftp", build_nat_tftp, "hyve_pxe", "udp dport { 53, 67, 69 } accept" },
    { "route", build_route, "hyve_routed", "oifname \"virbr10\" ip daddr 10.20.0.0/16 accept" },
    { "route-ipv6-dev", build_route_ipv6_dev, "hyve_routed6",
      "iifname \"virbr11\" oifname \"uplink0\" ip6 saddr 2001:db8:ca2:3::/64 accept" },
    { "isolated", build_isolated, "hyve_isolated", "oifname \"virbr12\" reject" },
    { "isolated-noip", build_isolated_noip, "hyve_empty",
      "iifname \"virbr13\" oifname \"virbr13\" accept" },
    { "odd-name", build_odd_name, "hyveu_101112131415161718191a1b1c1d1e1f",
      "comment \"hyve network on virbr14\"" },
    { "open", build_open, NULL, NULL },
    { "host-bridge", build_host_bridge, NULL, NULL },
};

static char *fake_nft_dir(void);
static char *read_in(const char *dir, const char *file);

static char *
golden_path(const FwCase *c)
{
    return g_strdup_printf("%s/%s.nft", NFT_GOLDEN_DIR, c->name);
}

START_TEST(test_golden)
{
    const FwCase *c = &fw_cases[_i];
    HyveNetworkDef *def TDEF_AUTO = c->build();
    g_autofree char *script = hyve_net_firewall_script(def);
    g_autofree char *table = hyve_net_firewall_table_name(def);
    g_autofree char *path = golden_path(c);
    g_autofree char *want = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_str_has_prefix(table, "hyve_") || g_str_has_prefix(table, "hyveu_"),
                  "%s: table %s", c->name, table);
    if (!c->table) {
        ck_assert_msg(script == NULL, "%s: a script for a mode without a table", c->name);
        ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: stale golden file", c->name);
        /* nothing to add or remove: no nft is run at all */
        g_autofree char *dir = fake_nft_dir();
        g_autofree char *argv = NULL;

        ck_assert_msg(hyve_net_firewall_add(def, &err) && hyve_net_firewall_remove(def, &err),
                      "%s: add/remove failed: %s", c->name, err ? err->message : "");
        argv = read_in(dir, "argv");
        ck_assert_msg(!*argv, "%s: nft ran: %s", c->name, argv);
        test_tree_remove(dir);
        return;
    }
    ck_assert_str_eq(table, c->table);
    ck_assert_msg(script != NULL, "%s: no script", c->name);
    if (g_getenv("HYVE_REGENERATE") && g_str_equal(g_getenv("HYVE_REGENERATE"), "1"))
        ck_assert_msg(g_file_set_contents(path, script, -1, &err), "%s: %s", c->name,
                      err ? err->message : "");
    ck_assert_msg(g_file_get_contents(path, &want, NULL, NULL), "%s: cannot read %s",
                  c->name, path);
    ck_assert_msg(g_str_equal(script, want), "%s: script differs from %s:\n%s", c->name, path,
                  script);
    /* the script replaces the table in one transaction */
    g_autofree char *head = g_strdup_printf("table inet %s {\n}\ndelete table inet %s\n"
                                            "table inet %s {\n", table, table, table);
    ck_assert_msg(g_str_has_prefix(script, head), "%s: does not start with %s", c->name, head);
    ck_assert_msg(strstr(script, c->marker), "%s: no '%s'", c->name, c->marker);
}
END_TEST

/* Table names: the network name when plain, else "hyveu_" + the UUID,
 * which no plain name's table can equal (the bridge's name is not used:
 * another network may be called like it). */
START_TEST(test_table_names)
{
    HyveNetworkDef *d TDEF_AUTO = tdef_new("a-b_C9", "virbr0", HYVE_NET_FORWARD_NAT);
    HyveNetworkDef *other TDEF_AUTO = tdef_new("virbr0", "virbr1", HYVE_NET_FORWARD_NAT);
    g_autofree char *t1 = hyve_net_firewall_table_name(d);
    g_autofree char *t2 = NULL, *t3 = NULL, *t4 = NULL, *t5 = NULL;

    ck_assert_str_eq(t1, "hyve_a-b_C9");
    g_free(d->name);
    d->name = g_strdup("x\"y");
    t2 = hyve_net_firewall_table_name(d);
    ck_assert_str_eq(t2, "hyveu_101112131415161718191a1b1c1d1e1f");
    t5 = hyve_net_firewall_table_name(other);
    ck_assert_str_eq(t5, "hyve_virbr0");
    g_free(d->bridge);
    d->bridge = g_strdup("br.1");
    memset(d->uuid, 0xab, sizeof(d->uuid));
    d->uuid[15] = 0x01;
    t3 = hyve_net_firewall_table_name(d);
    ck_assert_str_eq(t3, "hyveu_ababababababababababababababab01");
    g_free(d->name);
    d->name = g_strnfill(300, 'n');
    t4 = hyve_net_firewall_table_name(d);
    ck_assert_str_eq(t4, "hyveu_ababababababababababababababab01");
}
END_TEST

/* ---- fake nft ---------------------------------------------------------------- */

#define FAKE_NFT \
    "#!/bin/sh\n" \
    "PATH=/usr/bin:/bin\n" \
    "d=${0%/*}\n" \
    "echo \"$@\" >> \"$d/argv\"\n" \
    "cat >> \"$d/stdin\"\n" \
    "if [ -e \"$d/fail\" ]; then echo 'Error: Could not process rule: boom' >&2; " \
    "echo 'line 2' >&2; exit 1; fi\n" \
    "exit 0\n"

static char *
fake_nft_dir(void)
{
    g_autofree char *dir = test_tmpdir_new("hyve-fake-nft-XXXXXX");
    g_autofree char *nft = g_build_filename(dir, "nft", NULL);

    ck_assert(g_file_set_contents(nft, FAKE_NFT, -1, NULL));
    ck_assert(chmod(nft, 0755) == 0);
    g_setenv("PATH", dir, TRUE);
    return g_steal_pointer(&dir);
}

static char *
read_in(const char *dir, const char *file)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

START_TEST(test_fake_nft)
{
    g_autofree char *dir = fake_nft_dir();
    g_autofree char *fail = g_build_filename(dir, "fail", NULL);
    g_autofree char *argv = NULL, *in = NULL, *script = NULL, *want = NULL;
    HyveNetworkDef *d TDEF_AUTO = build_nat_default();
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyve_net_firewall_add(d, &err), "add: %s", err ? err->message : "");
    ck_assert_msg(hyve_net_firewall_remove(d, &err), "remove: %s", err ? err->message : "");
    argv = read_in(dir, "argv");
    ck_assert_str_eq(argv, "-f -\n-f -\n");
    in = read_in(dir, "stdin");
    script = hyve_net_firewall_script(d);
    want = g_strconcat(script, "table inet hyve_default {\n}\ndelete table inet hyve_default\n",
                       NULL);
    ck_assert_str_eq(in, want);

    ck_assert(g_file_set_contents(fail, "", 0, NULL));
    ck_assert_msg(!hyve_net_firewall_add(d, &err), "add with a failing nft succeeded");
    g_autofree char *msg = g_strdup_printf("internal error: Child process (%s/nft -f -) "
                                           "unexpected exit status 1: Error: Could not "
                                           "process rule: boom\nline 2", dir);
    HyveErrorFrom from = 0;
    ck_assert_msg(hyve_error_from_quark(err->domain, &from) && from == HYVE_FROM_NETWORK,
                  "failure: not domain NETWORK");
    ck_assert_int_eq(err->code, HYVE_ERR_INTERNAL_ERROR);
    ck_assert_str_eq(err->message, msg);
    g_clear_error(&err);
    ck_assert_msg(!hyve_net_firewall_remove(d, &err) && err &&
                  err->code == HYVE_ERR_INTERNAL_ERROR, "remove with a failing nft");
    test_tree_remove(dir);
}
END_TEST

/* An interface name nft cannot quote is refused before anything runs. */
START_TEST(test_unquotable)
{
    g_autofree char *dir = fake_nft_dir();
    g_autofree char *argv = NULL;
    HyveNetworkDef *d TDEF_AUTO = build_nat_default();
    g_autoptr(GError) err = NULL;

    d->forward_dev = g_strdup("e\"th");
    ck_assert(!hyve_net_firewall_add(d, &err));
    ck_assert_int_eq(err->code, HYVE_ERR_INTERNAL_ERROR);
    ck_assert_str_eq(err->message, "internal error: interface name 'e\"th' cannot be used in "
                     "firewall rules");
    argv = read_in(dir, "argv");
    ck_assert_str_eq(argv, "");
    test_tree_remove(dir);
}
END_TEST

/* ---- real nft (root, private namespace) ------------------------------------------ */

static int
nft_list(const char *table, char **out)
{
    const char *argv[] = { "nft", "list", "table", "inet", table, NULL };

    return trun(argv, out, NULL);
}

START_TEST(test_nft_real)
{
    const FwCase *c = &fw_cases[_i];
    HyveNetworkDef *def TDEF_AUTO = NULL;
    g_autofree char *path = golden_path(c);
    g_autofree char *out = NULL, *errtext = NULL, *tables = NULL;
    g_autoptr(GError) err = NULL;

    if (tskip_without_netns("test_nft_real") || !c->table)
        return;
    def = c->build();
    const char *check[] = { "nft", "-c", "-f", path, NULL };
    ck_assert_msg(trun(check, NULL, &errtext) == 0, "%s: nft -c refuses %s: %s", c->name, path,
                  errtext);
    ck_assert_msg(hyve_net_firewall_add(def, &err), "%s: add: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(nft_list(c->table, &out) == 0, "%s: table %s not listed", c->name, c->table);
    ck_assert_msg(strstr(out, c->marker), "%s: '%s' not in\n%s", c->name, c->marker, out);
    ck_assert_msg(hyve_net_firewall_add(def, &err), "%s: add again: %s", c->name,
                  err ? err->message : "");
    g_clear_pointer(&out, g_free);
    ck_assert_msg(nft_list(c->table, &out) == 0, "%s: table gone after a reload", c->name);
    ck_assert_msg(hyve_net_firewall_remove(def, &err), "%s: remove: %s", c->name,
                  err ? err->message : "");
    g_clear_pointer(&out, g_free);
    ck_assert_msg(nft_list(c->table, &out) != 0, "%s: table still there:\n%s", c->name, out);
    ck_assert_msg(hyve_net_firewall_remove(def, &err), "%s: remove twice: %s", c->name,
                  err ? err->message : "");
    const char *list[] = { "nft", "list", "tables", NULL };
    ck_assert(trun(list, &tables, NULL) == 0);
    ck_assert_msg(!strstr(tables, c->table), "%s: still listed: %s", c->name, tables);
}
END_TEST

/* Two networks' tables live side by side; removing one keeps the other. */
START_TEST(test_nft_two_tables)
{
    HyveNetworkDef *a TDEF_AUTO = NULL;
    HyveNetworkDef *b TDEF_AUTO = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;

    if (tskip_without_netns("test_nft_two_tables"))
        return;
    a = build_nat_default();
    b = build_route();
    ck_assert_msg(hyve_net_firewall_add(a, &err) && hyve_net_firewall_add(b, &err),
                  "add: %s", err ? err->message : "");
    ck_assert(hyve_net_firewall_remove(a, &err));
    ck_assert_msg(nft_list("hyve_default", NULL) != 0, "hyve_default still there");
    ck_assert_msg(nft_list("hyve_routed", &out) == 0 && strstr(out, "virbr10"),
                  "hyve_routed gone with hyve_default");
    ck_assert(hyve_net_firewall_remove(b, &err));
}
END_TEST

void
network_firewall_add_tests(TCase *tc, TCase *root)
{
    tcase_add_loop_test(tc, test_golden, 0, G_N_ELEMENTS(fw_cases));
    tcase_add_test(tc, test_table_names);
    tcase_add_test(tc, test_fake_nft);
    tcase_add_test(tc, test_unquotable);
    tcase_add_loop_test(root, test_nft_real, 0, G_N_ELEMENTS(fw_cases));
    tcase_add_test(root, test_nft_two_tables);
}
