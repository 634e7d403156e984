/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_xml_fail.c (network-xml, with test_network_xml.c): network
 * definitions hyve refuses, each with the exact error code, domain
 * (always NETWORK) and message, in one data-driven table. Inputs marked
 * valid are valid libvirt XML (checked against network.rng) that hyve
 * cannot do or that break a rule the schema cannot express.
 */

#include "test_network_xml.h"

typedef struct {
    const char *name;
    gboolean validate;            /* parse with schema validation */
    gboolean valid;               /* the input is valid against network.rng */
    const char *xml;
    int code;
    const char *message;          /* @SCHEMA_DIR@ for the schema directory */
} FailCase;

#define N(body) "<network><name>n</name>" body "</network>"
#define IP4(body) N("<ip address='192.168.1.1' prefix='24'>" body "</ip>")
#define IP6(body) N("<ip family='ipv6' address='fd00::1' prefix='64'>" body "</ip>")
#define DHCP4(body) IP4("<dhcp>" body "</dhcp>")
#define DNS(body) N("<dns>" body "</dns>")

static const FailCase failures[] = {
    /* the document */
    { "malformed", FALSE, FALSE, "<network><name>n</name>", HYVE_ERR_XML_ERROR,
      "XML error: (network_definition):1: Premature end of data in tag network line 1" },
    { "empty", FALSE, FALSE, "", HYVE_ERR_XML_ERROR,
      "XML error: (network_definition): empty document" },
    { "entity", FALSE, FALSE, "<!DOCTYPE n [<!ENTITY x 'y'>]><network/>", HYVE_ERR_XML_ERROR,
      "XML error: (network_definition): document type declarations and entities are not "
      "allowed" },
    { "root", FALSE, FALSE, "<pool type='dir'><name>n</name></pool>", HYVE_ERR_XML_ERROR,
      "XML error: unexpected root element <pool>, expecting <network>" },
    { "schema", TRUE, FALSE, N("<bogus/>"), HYVE_ERR_XML_INVALID_SCHEMA,
      "XML document failed to validate against schema: Unable to validate doc against "
      "@SCHEMA_DIR@/network.rng\nElement network has extra content: bogus" },
    { "no-name", FALSE, FALSE, "<network><bridge name='virbr0'/></network>", HYVE_ERR_NO_NAME,
      "missing name information in (network_definition)" },
    { "empty-name", FALSE, TRUE, "<network><name>  </name></network>", HYVE_ERR_NO_NAME,
      "missing name information in (network_definition)" },
    { "name-slash", TRUE, TRUE, "<network><name>a/b</name></network>", HYVE_ERR_XML_ERROR,
      "XML error: name a/b cannot contain '/'" },
    { "name-newline", FALSE, TRUE, "<network><name>a&#10;b</name></network>",
      HYVE_ERR_XML_ERROR, "XML error: network name cannot contain a line break" },
    { "uuid", FALSE, FALSE, N("<uuid>1234</uuid>"), HYVE_ERR_INTERNAL_ERROR,
      "internal error: malformed uuid element" },
    { "control-char", FALSE, TRUE,
      N("<dns><txt name='t' value='a&#10;dhcp-script=/x'/></dns>"), HYVE_ERR_XML_ERROR,
      "XML error: control character in attribute 'value' of element <txt>" },
    { "ipv6-attr", FALSE, FALSE, "<network ipv6='maybe'><name>n</name></network>",
      HYVE_ERR_XML_ERROR, "XML error: Invalid ipv6 setting 'maybe' in network 'n'" },
    /* bridge, mac, mtu */
    { "bridge-name", FALSE, TRUE, N("<bridge name='../x'/>"), HYVE_ERR_XML_ERROR,
      "XML error: invalid bridge name '../x' in network 'n'" },
    { "bridge-long", TRUE, TRUE, N("<bridge name='averyveryverylongname'/>"),
      HYVE_ERR_XML_ERROR, "XML error: invalid bridge name 'averyveryverylongname' in network "
      "'n'" },
    { "bridge-colon", TRUE, TRUE, N("<bridge name='br0:1'/>"), HYVE_ERR_XML_ERROR,
      "XML error: invalid bridge name 'br0:1' in network 'n'" },
    { "forward-dev", TRUE, TRUE, N("<forward mode='route' dev='eth/0'/>"), HYVE_ERR_XML_ERROR,
      "XML error: invalid forward device name 'eth/0' in network 'n'" },
    { "uuid-empty-ok", FALSE, FALSE, N("<uuid> </uuid><uuid>x</uuid><bridge name='a b'/>"),
      HYVE_ERR_XML_ERROR, "XML error: invalid bridge name 'a b' in network 'n'" },
    { "stp", FALSE, FALSE, N("<bridge stp='maybe'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid value for attribute 'stp' in element 'bridge': 'maybe'." },
    { "delay", FALSE, FALSE, N("<bridge delay='-1'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid delay value in network 'n'" },
    { "zone", TRUE, TRUE, N("<bridge name='virbr0' zone='trusted'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: firewalld zones (<bridge "
      "zone='trusted'>) are not supported by hyve" },
    { "mac", FALSE, FALSE, N("<mac address='52:54:00:zz:00:01'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid bridge mac address '52:54:00:zz:00:01' in network 'n'" },
    { "mac-multicast", FALSE, FALSE, N("<mac address='01:00:5e:00:00:01'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid multicast bridge mac address '01:00:5e:00:00:01' "
      "in network 'n'" },
    { "mtu", FALSE, FALSE, N("<mtu size='big'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid mtu size 'big' in network 'n'" },
    /* forward modes */
    { "passthrough", TRUE, TRUE, N("<forward mode='passthrough'><interface dev='eth1'/>"
                                   "</forward>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unsupported forward mode "
      "'passthrough' in network 'n' (hyve supports nat, route, open, bridge and none)" },
    { "private", TRUE, TRUE, N("<forward mode='private' dev='eth1'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unsupported forward mode "
      "'private' in network 'n' (hyve supports nat, route, open, bridge and none)" },
    { "vepa", TRUE, TRUE, N("<forward mode='vepa' dev='eth1'/>"), HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: unsupported forward mode 'vepa' in network 'n' (hyve "
      "supports nat, route, open, bridge and none)" },
    { "hostdev", TRUE, TRUE,
      N("<forward mode='hostdev' managed='yes'><pf dev='eth3'/></forward>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unsupported forward mode "
      "'hostdev' in network 'n' (hyve supports nat, route, open, bridge and none)" },
    { "unknown-mode", FALSE, FALSE, N("<forward mode='tunnel'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: unknown forwarding type "
      "'tunnel'" },
    { "bridge-no-name", TRUE, TRUE, N("<forward mode='bridge' dev='eth0'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: network 'n' with forward "
      "mode='bridge' needs a <bridge name=...> (hyve has no macvtap)" },
    { "bridge-ip", TRUE, TRUE, N("<forward mode='bridge'/><bridge name='br0'/>"
                                 "<ip address='192.168.1.1' prefix='24'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <ip> element in "
      "network n with forward mode='bridge'" },
    { "bridge-mac", TRUE, TRUE, N("<forward mode='bridge'/><bridge name='br0'/>"
                                  "<mac address='52:54:00:00:00:01'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <mac> element in "
      "network n with forward mode='bridge'" },
    { "bridge-dns", TRUE, TRUE, N("<forward mode='bridge'/><bridge name='br0'/>"
                                  "<dns><txt name='a' value='b'/></dns>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <dns> element in "
      "network n with forward mode='bridge'" },
    { "bridge-domain", TRUE, TRUE, N("<forward mode='bridge'/><bridge name='br0'/>"
                                     "<domain name='example.org'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <domain> element "
      "in network n with forward mode='bridge'" },
    { "nat-in-route", FALSE, TRUE, N("<forward mode='route'><nat/></forward>"),
      HYVE_ERR_XML_ERROR, "XML error: The <nat> element can only be used when <forward> "
      "'mode' is 'nat' in network n" },
    { "nat-ipv6", TRUE, TRUE, N("<forward mode='nat'><nat ipv6='yes'/></forward>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: IPv6 NAT (<nat ipv6='yes'>) "
      "is not supported by hyve" },
    { "nat-port", FALSE, TRUE, N("<forward><nat><port start='2000' end='1000'/></nat>"
                                  "</forward>"),
      HYVE_ERR_XML_DETAIL, "Missing or invalid 'end' attribute in <port> in <nat> in "
      "<forward> in network n" },
    { "nat-address", FALSE, TRUE, N("<forward><nat><address start='10.0.0.9' "
                                     "end='10.0.0.1'/></nat></forward>"),
      HYVE_ERR_INTERNAL_ERROR, "internal error: range 10.0.0.9 - 10.0.0.1 is reversed" },
    { "forward-interfaces", TRUE, TRUE,
      N("<forward mode='route'><interface dev='eth0'/><interface dev='eth1'/></forward>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: a pool of <forward> interfaces "
      "is not supported by hyve (network 'n')" },
    /* elements hyve does not model */
    { "portgroup", TRUE, TRUE, N("<portgroup name='engineering' default='yes'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: network element <portgroup> "
      "is not supported by hyve" },
    { "bandwidth", TRUE, TRUE, N("<bandwidth><inbound average='1000'/></bandwidth>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: network element <bandwidth> "
      "is not supported by hyve" },
    { "vlan", TRUE, TRUE, N("<vlan><tag id='42'/></vlan>"), HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: network element <vlan> is not supported by hyve" },
    { "virtualport", TRUE, TRUE, N("<virtualport type='openvswitch'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: network element "
      "<virtualport> is not supported by hyve" },
    { "port-isolated", TRUE, TRUE, N("<port isolated='yes'/>"), HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: network element <port> is not supported by hyve" },
    { "route-element", TRUE, TRUE, N("<ip address='192.168.1.1' prefix='24'/>"
                                     "<route address='10.9.0.0' prefix='16' "
                                     "gateway='192.168.1.2'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: network element <route> is "
      "not supported by hyve" },
    /* <ip> */
    { "ip-no-address", FALSE, TRUE, N("<ip prefix='24'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Missing required address attribute in network 'n'" },
    { "ip-bad", FALSE, FALSE, N("<ip address='192.168.1.300'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid address '192.168.1.300' in network 'n'" },
    { "ip-leading-zero", FALSE, FALSE, N("<ip address='192.168.122.001'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid address '192.168.122.001' in network 'n'" },
    { "netmask-bad", FALSE, FALSE, N("<ip address='192.168.1.1' netmask='255.0.x.0'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid netmask '255.0.x.0' in network 'n'" },
    { "netmask-holes", TRUE, TRUE, N("<ip address='192.168.1.1' netmask='255.0.255.0'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Invalid netmask '255.0.255.0' "
      "for address '192.168.1.1' in network 'n' (both must be IPv4)" },
    { "prefix-v4", FALSE, TRUE, N("<ip address='192.168.1.1' prefix='33'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Invalid IPv4 prefix '33' in "
      "network 'n'" },
    { "prefix-v6", FALSE, FALSE, N("<ip family='ipv6' address='fd00::1' prefix='129'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Invalid IPv6 prefix '129' in "
      "network 'n'" },
    { "family-mismatch", TRUE, TRUE, N("<ip family='ipv6' address='10.0.0.1' prefix='8'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Family 'ipv6' specified for "
      "non-IPv6 address '10.0.0.1' in network 'n'" },
    { "v6-no-family", TRUE, TRUE, N("<ip address='fd00::1' prefix='64'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: no family specified for "
      "non-IPv4 address 'fd00::1' in network 'n'" },
    { "v6-netmask", FALSE, TRUE,
      N("<ip family='ipv6' address='fd00::1' netmask='255.255.255.0'/>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: netmask not allowed for IPv6 "
      "address 'fd00::1' in network 'n'" },
    { "class-e", FALSE, TRUE, N("<ip address='240.0.0.1'/>"), HYVE_ERR_XML_ERROR,
      "XML error: no netmask or prefix for address '240.0.0.1' in network 'n'" },
    { "tftp-v6", TRUE, TRUE, IP6("<tftp root='/srv'/>"), HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: Unsupported <tftp> element in an IPv6 element in network "
      "'n'" },
    /* DHCP */
    { "range-outside", TRUE, TRUE, DHCP4("<range start='192.168.2.10' end='192.168.2.20'/>"),
      HYVE_ERR_INTERNAL_ERROR, "internal error: range 192.168.2.10 - 192.168.2.20 is not "
      "entirely within network 192.168.1.0/24" },
    { "range-half-outside", TRUE, TRUE,
      DHCP4("<range start='192.168.1.10' end='192.168.2.20'/>"), HYVE_ERR_INTERNAL_ERROR,
      "internal error: range 192.168.1.10 - 192.168.2.20 is not entirely within network "
      "192.168.1.0/24" },
    { "range-reversed", TRUE, TRUE, DHCP4("<range start='192.168.1.200' end='192.168.1.100'/>"),
      HYVE_ERR_INTERNAL_ERROR, "internal error: range 192.168.1.200 - 192.168.1.100 is "
      "reversed" },
    { "range-reversed-v6", TRUE, TRUE,
      IP6("<dhcp><range start='fd00::200' end='fd00::100'/></dhcp>"), HYVE_ERR_INTERNAL_ERROR,
      "internal error: range fd00::200 - fd00::100 start larger than end" },
    { "range-network-address", TRUE, TRUE,
      DHCP4("<range start='192.168.1.0' end='192.168.1.100'/>"), HYVE_ERR_INTERNAL_ERROR,
      "internal error: start of range 192.168.1.0 - 192.168.1.100 in network 192.168.1.0/24 "
      "is the network address" },
    { "range-broadcast", TRUE, TRUE, DHCP4("<range start='192.168.1.2' end='192.168.1.255'/>"),
      HYVE_ERR_INTERNAL_ERROR, "internal error: end of range 192.168.1.2 - 192.168.1.255 in "
      "network 192.168.1.0/24 is the broadcast address" },
    { "range-bad-address", FALSE, FALSE, DHCP4("<range start='192.168.1.x' end='192.168.1.9'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid dhcp range '192.168.1.x' to '192.168.1.9' in "
      "network 'n'" },
    { "range-family", TRUE, TRUE, DHCP4("<range start='fd00::2' end='fd00::9'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid dhcp range 'fd00::2' to 'fd00::9' in network "
      "'n'" },
    { "range-no-end", FALSE, FALSE, DHCP4("<range start='192.168.1.2'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Missing 'end' attribute in dhcp range for network 'n'" },
    { "lease-short", TRUE, TRUE, DHCP4("<range start='192.168.1.2' end='192.168.1.9'>"
                                       "<lease expiry='90' unit='seconds'/></range>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: The minimum lease time should "
      "be greater than 2 minutes" },
    { "lease-unit", FALSE, FALSE, DHCP4("<range start='192.168.1.2' end='192.168.1.9'>"
                                        "<lease expiry='9' unit='days'/></range>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid value for attribute 'unit' in element 'lease': "
      "'days'." },
    { "lease-huge", TRUE, TRUE, DHCP4("<range start='192.168.1.2' end='192.168.1.9'>"
                                      "<lease expiry='1193047' unit='hours'/></range>"),
      HYVE_ERR_XML_ERROR, "XML error: Invalid value for attribute 'expiry' in element 'lease': "
      "'1193047'." },
    { "host-outside", TRUE, TRUE, DHCP4("<host mac='52:54:00:00:00:01' ip='192.168.9.5'/>"),
      HYVE_ERR_XML_ERROR, "XML error: static host address 192.168.9.5 is not within network "
      "192.168.1.0/24 in network 'n'" },
    { "host-other-family", TRUE, TRUE, DHCP4("<host mac='52:54:00:00:00:01' ip='fd00::5'/>"),
      HYVE_ERR_XML_ERROR, "XML error: static host address fd00::5 is not within network "
      "192.168.1.0/24 in network 'n'" },
    { "host-no-ip", FALSE, FALSE, DHCP4("<host mac='52:54:00:00:00:01'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Missing IP address in static host definition for network 'n'" },
    { "host-no-mac", FALSE, FALSE, DHCP4("<host ip='192.168.1.5'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Static host definition in IPv4 network 'n' must have mac or name "
      "attribute" },
    { "host-bad-mac", FALSE, FALSE, DHCP4("<host mac='52:54' ip='192.168.1.5'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Cannot parse MAC address '52:54' in network 'n'" },
    { "host-v6-mac", FALSE, TRUE,
      IP6("<dhcp><host mac='52:54:00:00:00:01' ip='fd00::5'/></dhcp>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid to specify MAC address '52:54:00:00:00:01' in network 'n' IPv6 "
      "static host definition" },
    { "host-name", FALSE, TRUE, DHCP4("<host name='-x' ip='192.168.1.5'/>"),
      HYVE_ERR_XML_ERROR, "XML error: Cannot use host name '-x' in network 'n'" },
    { "two-dhcp-v4", TRUE, TRUE,
      N("<ip address='192.168.1.1' prefix='24'><dhcp><range start='192.168.1.2' "
        "end='192.168.1.9'/></dhcp></ip><ip address='192.168.2.1' prefix='24'><dhcp>"
        "<range start='192.168.2.2' end='192.168.2.9'/></dhcp></ip>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Multiple IPv4 dhcp sections "
      "found -- dhcp is supported only for a single IPv4 address on each network" },
    { "two-dhcp-v6", TRUE, TRUE,
      N("<ip family='ipv6' address='fd00::1' prefix='64'><dhcp><range start='fd00::2' "
        "end='fd00::9'/></dhcp></ip><ip family='ipv6' address='fd01::1' prefix='64'><dhcp>"
        "<host name='h' ip='fd01::5'/></dhcp></ip>"),
      HYVE_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: Multiple IPv6 dhcp sections "
      "found -- dhcp is supported only for a single IPv6 address on each network" },
    /* DNS */
    { "dns-host-ip", FALSE, FALSE, DNS("<host ip='nope'><hostname>a</hostname></host>"),
      HYVE_ERR_XML_DETAIL, "Invalid IP address in network 'n' DNS HOST record" },
    { "dns-host-name", FALSE, FALSE, DNS("<host ip='10.0.0.1'/>"), HYVE_ERR_XML_DETAIL,
      "Missing hostname in network 'n' DNS HOST record" },
    { "dns-hostname-empty", FALSE, FALSE, DNS("<host ip='10.0.0.1'><hostname> </hostname>"
                                              "</host>"),
      HYVE_ERR_XML_DETAIL, "Missing hostname in network 'n' DNS HOST record" },
    { "dns-enable", FALSE, FALSE, N("<dns enable='maybe'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid value for attribute 'enable' in element 'dns': 'maybe'." },
    { "dns-txt", FALSE, FALSE, DNS("<txt name='a,b' value='x'/>"), HYVE_ERR_XML_DETAIL,
      "prohibited character in DNS TXT record name 'a,b' of network n" },
    { "dns-srv-port", TRUE, TRUE, DNS("<srv service='ldap' protocol='tcp' port='389'/>"),
      HYVE_ERR_XML_DETAIL, "DNS SRV port attribute not permitted without target for service "
      "'ldap' in network 'n'" },
    { "dns-srv-service", TRUE, TRUE, DNS("<srv service='a.b' protocol='tcp'/>"),
      HYVE_ERR_XML_DETAIL, "invalid character in service attribute 'a.b' in DNS SRV record of "
      "network 'n'" },
    { "dns-forwarder", FALSE, FALSE, DNS("<forwarder addr='8.8.8'/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid forwarder IP address '8.8.8' in network 'n'" },
    { "dns-forwarder-empty", TRUE, TRUE, DNS("<forwarder/>"), HYVE_ERR_XML_ERROR,
      "XML error: Invalid forwarder element, must contain at least one of addr or domain" },
    { "dns-disabled", TRUE, TRUE,
      N("<dns enable='no'><txt name='a' value='b'/></dns>"), HYVE_ERR_XML_ERROR,
      "XML error: Extra data in disabled network 'n'" },
};

START_TEST(test_failure)
{
    const FailCase *c = &failures[_i];
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autofree char *got = NULL, *want = NULL, *out = NULL, *errors = NULL;
    g_auto(GStrv) parts = NULL;
    gboolean valid = test_schema_validate_file(c->xml, "network.rng", &errors);

    ck_assert_msg(valid == c->valid, "%s: input is %svalid against network.rng: %s", c->name,
                  valid ? "" : "not ", errors ? errors : "");
    def = hyve_net_def_parse_string(c->xml, HYVE_LIBVIRT_SCHEMA_DIR, c->validate, &err);
    if (def)
        out = hyve_net_def_format(def, FALSE);
    ck_assert_msg(!def, "%s: accepted, formatted as:\n%s", c->name, out);
    ck_assert_msg(err, "%s: failure without a GError", c->name);
    got = test_error_line(err);
    parts = g_strsplit(got, HYVE_LIBVIRT_SCHEMA_DIR, -1);
    g_free(got);
    got = g_strjoinv("@SCHEMA_DIR@", parts);
    want = g_strdup_printf("%d %d %s", c->code, HYVE_FROM_NETWORK, c->message);
    ck_assert_msg(g_str_equal(got, want), "%s:\n  got:  %s\n  want: %s", c->name, got, want);
}
END_TEST

void
network_xml_add_failure_test(TCase *tc)
{
    tcase_add_loop_test(tc, test_failure, 0, G_N_ELEMENTS(failures));
}
