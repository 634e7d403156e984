/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_xml.c: network definitions in and out (network-xml, with
 * test_network_xml_fail.c for the refusals).
 *
 * Golden cases: network/xml/<case>.xml is validated against the installed
 * network.rng, parsed with validation, formatted (inactive) and compared
 * with <case>.out.xml; the output validates, parses back to the same text,
 * and a copy of the definition formats the same. HYVE_REGENERATE=1
 * rewrites the .out.xml files. (The meson test network-xml-virt-validate
 * runs libvirt's own virt-xml-validate on both files of every case.)
 * Also: the live form (connections, NAT port range), the default network,
 * bridge name / MAC assignment, and the subnet helpers.
 */

#include "test_network_xml.h"

#define NET_XML_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/network/xml"

static const char *const golden[] = {
    "default", "minimal", "isolated", "route", "open", "bridge", "ipv6-dhcp", "static-hosts",
    "dns-full", "leases", "mtu-tftp", "metadata", "dnsmasq-options", "escaping",
};

static HyveNetworkDef *
parse_ok(const char *name, const char *xml)
{
    g_autoptr(GError) err = NULL;
    HyveNetworkDef *def = hyve_net_def_parse_string(xml, HYVE_LIBVIRT_SCHEMA_DIR, TRUE, &err);

    ck_assert_msg(def, "%s: rejected: %s", name, err ? err->message : "");
    return def;
}

/* Parses and formats @xml; a copy of the definition, formatted after the
 * original is freed (so a shallow copy shows under valgrind), must give
 * the same text. */
static char *
format_checked(const char *name, const char *xml)
{
    HyveNetworkDef *def = parse_ok(name, xml);
    g_autoptr(HyveNetworkDef) copy = hyve_net_def_copy(def);
    g_autofree char *a = hyve_net_def_format(def, FALSE);
    g_autofree char *b = NULL;

    hyve_net_def_free(def);
    b = hyve_net_def_format(copy, FALSE);

    ck_assert_msg(g_str_equal(a, b), "%s: the copy formats differently:\n%s", name, b);
    return g_steal_pointer(&a);
}

START_TEST(test_golden)
{
    const char *name = golden[_i];
    g_autofree char *in_path = g_strdup_printf(NET_XML_DIR "/%s.xml", name);
    g_autofree char *out_path = g_strdup_printf(NET_XML_DIR "/%s.out.xml", name);
    g_autofree char *input = test_read_file(in_path);
    g_autofree char *got = NULL, *want = NULL, *again = NULL, *errors = NULL;

    ck_assert_msg(input, "%s: cannot read %s", name, in_path);
    ck_assert_msg(test_schema_validate_file(input, "network.rng", &errors),
                  "%s: input does not validate: %s", name, errors);
    g_clear_pointer(&errors, g_free);
    got = format_checked(name, input);
    if (test_regenerate())
        ck_assert_msg(g_file_set_contents(out_path, got, -1, NULL), "cannot write %s", out_path);
    want = test_read_file(out_path);
    ck_assert_msg(want, "%s: cannot read %s", name, out_path);
    ck_assert_msg(g_str_equal(got, want), "%s: output differs from %s:\n%s", name, out_path, got);
    ck_assert_msg(test_schema_validate_file(got, "network.rng", &errors),
                  "%s: output does not validate: %s", name, errors);
    again = format_checked(name, got);
    ck_assert_msg(g_str_equal(again, got), "%s: round trip changed the XML:\n%s", name, again);
}
END_TEST

/* Live XML: connections='N' and, for NAT without a port range, libvirt's
 * default range; the inactive XML has neither. */
START_TEST(test_live)
{
    g_autofree char *path = g_strdup(NET_XML_DIR "/default.xml");
    g_autofree char *input = test_read_file(path);
    g_autoptr(HyveNetworkDef) def = parse_ok("live", input);
    g_autofree char *inactive = NULL, *live = NULL, *errors = NULL, *own = NULL;
    g_autoptr(HyveNetworkDef) pxe = NULL;
    g_autofree char *pxe_input = test_read_file(NET_XML_DIR "/mtu-tftp.xml");

    def->connections = 3;
    inactive = hyve_net_def_format(def, FALSE);
    live = hyve_net_def_format(def, TRUE);
    ck_assert_msg(g_str_has_prefix(inactive, "<network>\n"), "inactive:\n%s", inactive);
    ck_assert_msg(strstr(inactive, "  <forward mode='nat'/>\n"), "inactive:\n%s", inactive);
    ck_assert_msg(g_str_has_prefix(live, "<network connections='3'>\n"), "live:\n%s", live);
    ck_assert_msg(strstr(live, "  <forward mode='nat'>\n    <nat>\n"
                         "      <port start='1024' end='65535'/>\n    </nat>\n  </forward>\n"),
                  "live:\n%s", live);
    ck_assert_msg(test_schema_validate_file(live, "network.rng", &errors), "live: %s", errors);
    /* no connections: no attribute, even live */
    def->connections = 0;
    g_free(live);
    live = hyve_net_def_format(def, TRUE);
    ck_assert_msg(g_str_has_prefix(live, "<network>\n"), "live:\n%s", live);
    /* a range of its own is kept */
    pxe = parse_ok("live-pxe", pxe_input);
    own = hyve_net_def_format(pxe, TRUE);
    ck_assert_msg(strstr(own, "      <port start='20000' end='30000'/>\n"), "live:\n%s", own);
    ck_assert_msg(!strstr(own, "1024"), "live:\n%s", own);
}
END_TEST

START_TEST(test_default_network)
{
    g_autoptr(HyveNetworkDef) def = parse_ok("default", HYVE_NETWORK_DEFAULT_XML);
    g_autoptr(GError) err = NULL;
    const HyveNetIpDef *ip;
    g_autofree char *sub = NULL;

    ck_assert_str_eq(def->name, "default");
    ck_assert_int_eq(def->forward, HYVE_NET_FORWARD_NAT);
    ck_assert_str_eq(def->bridge, "virbr0");
    ck_assert(!def->mac_set);
    ip = hyve_net_def_first_ip(def, AF_INET);
    ck_assert(ip && !hyve_net_def_first_ip(def, AF_INET6));
    ck_assert_uint_eq(ip->prefix, 24);
    ck_assert(ip->netmask_form && ip->dhcp);
    ck_assert_uint_eq(ip->ranges->len, 1);
    sub = hyve_net_ip_subnet_string(ip);
    ck_assert_str_eq(sub, "192.168.122.0/24");
    ck_assert(hyve_net_def_assign_bridge(def, NULL, NULL, &err));
    ck_assert_str_eq(def->bridge, "virbr0");
    ck_assert(def->mac_set);
    ck_assert(def->mac[0] == 0x52 && def->mac[1] == 0x54 && def->mac[2] == 0x00);
}
END_TEST

/* ---- bridge name and MAC assignment ---------------------------------------- */

typedef struct {
    const char *name;
    const char *xml;
    const char *in_use;         /* space-separated names the callback calls taken;
                                 * "ALL" = every name */
    const char *want;           /* the bridge afterwards, or NULL: the error */
    gboolean mac_generated;
} AssignCase;

#define NET(body) "<network><name>n</name>" body "</network>"

static const AssignCase assigns[] = {
    { "none-free", NET(""), "", "virbr0", TRUE },
    { "skip-used", NET("<forward/>"), "virbr0 virbr1 virbr3", "virbr2", TRUE },
    { "template", NET("<bridge name='hv%dx'/>"), "hv0x", "hv1x", TRUE },
    { "template-plain", NET("<bridge name='virbr%d'/><forward mode='route'/>"), "", "virbr0",
      TRUE },
    { "explicit", NET("<bridge name='br-fixed'/><forward mode='open'/>"), "br-fixed",
      "br-fixed", TRUE },
    { "mac-kept", NET("<mac address='52:54:00:01:02:03'/>"), "", "virbr0", FALSE },
    { "bridge-mode", NET("<forward mode='bridge'/><bridge name='br0'/>"), "ALL", "br0", FALSE },
    { "exhausted", NET(""), "ALL", NULL, FALSE },
};

static gboolean
in_use_cb(const char *bridge, gpointer data)
{
    const AssignCase *c = data;
    g_auto(GStrv) names = g_strsplit(c->in_use, " ", -1);

    return g_str_equal(c->in_use, "ALL") || g_strv_contains((const char *const *)names, bridge);
}

START_TEST(test_assign)
{
    const AssignCase *c = &assigns[_i];
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) perr = NULL;
    guint8 before[6];
    gboolean ok;

    def = hyve_net_def_parse_string(c->xml, NULL, FALSE, &perr);
    ck_assert_msg(def, "%s: %s", c->name, perr ? perr->message : "");
    memcpy(before, def->mac, 6);
    ok = hyve_net_def_assign_bridge(def, in_use_cb, (gpointer)c, &err);
    if (!c->want) {
        g_autofree char *line = NULL;

        ck_assert_msg(!ok && err, "%s: accepted (%s)", c->name, def->bridge);
        line = test_error_line(err);
        ck_assert_str_eq(line, "1 19 internal error: Bridge generation exceeded max id 256");
        ck_assert_msg(!def->bridge && !def->mac_set, "%s: definition changed on failure",
                      c->name);
        return;
    }
    ck_assert_msg(ok, "%s: %s", c->name, err ? err->message : "");
    ck_assert_msg(g_str_equal(def->bridge, c->want), "%s: got %s", c->name, def->bridge);
    if (c->mac_generated) {
        ck_assert_msg(def->mac_set && def->mac[0] == 0x52 && def->mac[1] == 0x54 &&
                      def->mac[2] == 0, "%s: MAC not generated", c->name);
    } else {
        ck_assert_msg(memcmp(before, def->mac, 6) == 0, "%s: MAC changed", c->name);
        ck_assert_msg(def->forward != HYVE_NET_FORWARD_BRIDGE || !def->mac_set,
                      "%s: MAC set in bridge mode", c->name);
    }
}
END_TEST

/* Two generated MACs differ (random, 24 bits). */
START_TEST(test_assign_random_mac)
{
    g_autoptr(HyveNetworkDef) a = parse_ok("mac-a", NET(""));
    g_autoptr(HyveNetworkDef) b = parse_ok("mac-b", NET(""));

    ck_assert(hyve_net_def_assign_bridge(a, NULL, NULL, NULL));
    ck_assert(hyve_net_def_assign_bridge(b, NULL, NULL, NULL));
    ck_assert_msg(memcmp(a->mac, b->mac, 6) != 0, "two networks got the same MAC");
}
END_TEST

/* ---- subnet helpers ------------------------------------------------------ */

typedef struct {
    const char *a, *b;          /* "<ip .../>" elements */
    const char *subnet_a;
    gboolean overlap;
} SubnetCase;

static const SubnetCase subnets[] = {
    { "<ip address='192.168.122.1' netmask='255.255.255.0'/>",
      "<ip address='192.168.122.200' prefix='25'/>", "192.168.122.0/24", TRUE },
    { "<ip address='10.0.1.1' prefix='24'/>", "<ip address='10.0.0.1' prefix='16'/>",
      "10.0.1.0/24", TRUE },
    { "<ip address='10.0.1.1' prefix='24'/>", "<ip address='10.0.2.1' prefix='24'/>",
      "10.0.1.0/24", FALSE },
    { "<ip address='172.16.5.77' netmask='255.255.252.0'/>",
      "<ip address='172.16.8.1' prefix='22'/>", "172.16.4.0/22", FALSE },
    { "<ip address='10.9.8.7'/>", "<ip address='10.200.0.1' prefix='16'/>", "10.0.0.0/8",
      TRUE },
    { "<ip address='192.168.1.1' prefix='32'/>", "<ip address='192.168.1.2' prefix='32'/>",
      "192.168.1.1/32", FALSE },
    { "<ip family='ipv6' address='fd00:1:2:3::1' prefix='64'/>",
      "<ip family='ipv6' address='fd00:1:2::1' prefix='48'/>", "fd00:1:2:3::/64", TRUE },
    { "<ip family='ipv6' address='2001:db8::1' prefix='121'/>",
      "<ip family='ipv6' address='2001:db8::81' prefix='121'/>", "2001:db8::/121", FALSE },
    { "<ip address='192.168.0.1' prefix='24'/>",
      "<ip family='ipv6' address='::ffff:192.168.0.1' prefix='120'/>", "192.168.0.0/24",
      FALSE },
};

START_TEST(test_subnet)
{
    const SubnetCase *c = &subnets[_i];
    g_autofree char *xml = g_strdup_printf(NET("%s%s"), c->a, c->b);
    g_autoptr(HyveNetworkDef) def = parse_ok(c->subnet_a, xml);
    const HyveNetIpDef *a = g_ptr_array_index(def->ips, 0);
    const HyveNetIpDef *b = g_ptr_array_index(def->ips, 1);
    g_autofree char *sub = hyve_net_ip_subnet_string(a);

    ck_assert_msg(g_str_equal(sub, c->subnet_a), "%s: got %s", c->subnet_a, sub);
    ck_assert_msg(hyve_net_ip_overlap(a, b) == c->overlap, "%s: overlap %d", c->subnet_a,
                  !c->overlap);
    ck_assert_msg(hyve_net_ip_overlap(b, a) == c->overlap, "%s: overlap (reversed) %d",
                  c->subnet_a, !c->overlap);
    ck_assert(hyve_net_ip_overlap(a, a));
    ck_assert(hyve_net_def_first_ip(def, a->family) == a);
}
END_TEST

START_TEST(test_modes)
{
    static const struct {
        const char *xml;
        HyveNetForwardMode mode;
        gboolean own;
    } modes[] = {
        { NET(""), HYVE_NET_FORWARD_NONE, TRUE },
        { NET("<forward/>"), HYVE_NET_FORWARD_NAT, TRUE },
        { NET("<forward mode='nat'/>"), HYVE_NET_FORWARD_NAT, TRUE },
        { NET("<forward mode='route'/>"), HYVE_NET_FORWARD_ROUTE, TRUE },
        { NET("<forward mode='open'/>"), HYVE_NET_FORWARD_OPEN, TRUE },
        { NET("<forward mode='bridge'/><bridge name='br0'/>"), HYVE_NET_FORWARD_BRIDGE, FALSE },
    };
    static const char *const names[] = { "none", "nat", "nat", "route", "open", "bridge" };

    for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
        g_autoptr(HyveNetworkDef) def = parse_ok(names[i], modes[i].xml);

        ck_assert_int_eq(def->forward, modes[i].mode);
        ck_assert_str_eq(hyve_net_forward_mode_to_string(def->forward), names[i]);
        ck_assert_int_eq(hyve_net_def_has_own_bridge(def), modes[i].own);
    }
    ck_assert_ptr_null(hyve_net_forward_mode_to_string(HYVE_NET_FORWARD_LAST));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("network-xml");
    TCase *tc = tcase_create("xml");
    TCase *fail = tcase_create("refusals");
    TCase *helpers = tcase_create("helpers");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_golden, 0, G_N_ELEMENTS(golden));
    tcase_add_test(tc, test_live);
    tcase_add_test(tc, test_default_network);
    suite_add_tcase(s, tc);
    tcase_set_timeout(fail, 60);
    network_xml_add_failure_test(fail);
    suite_add_tcase(s, fail);
    tcase_add_loop_test(helpers, test_assign, 0, G_N_ELEMENTS(assigns));
    tcase_add_test(helpers, test_assign_random_mac);
    tcase_add_loop_test(helpers, test_subnet, 0, G_N_ELEMENTS(subnets));
    tcase_add_test(helpers, test_modes);
    suite_add_tcase(s, helpers);
    return test_suite_run(s);
}
