/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_host.c: the host side of virtual networks (network-host
 * program; the firewall half is test_network_firewall.c).
 *
 * As root, main() first moves the whole program into a private network
 * and mount namespace (unshare, / made rprivate, lo up) before any test
 * runs, so nothing here touches the host's devices, routes, sysctls or
 * firewall; every test checks from a child back in the original
 * namespace that the host did not get its bridge or a changed ip_forward.
 * /sys is deliberately not remounted: the code under test must not need
 * it. Without root the namespace tests say "skipped" and pass.
 *
 * Bridge cases (table): start creates the bridge with MAC, MTU, STP and
 * forward delay (read back by iproute2's `ip -d -j link`), addresses with
 * prefix and broadcast (`ip -j addr`), link up, IPv6 sysctls and
 * forwarding; stop removes it; stop again is fine. Failures: an existing
 * device (exact SYSTEM_ERROR, the device is left alone), a late failure
 * (MTU too big) removes the half-made bridge. Route collision cases
 * (table) against veth devices carrying subnets.
 */
#include "test_network_host.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>

gboolean test_in_netns;
int test_host_netns_fd = -1;
static char host_ip_forward[16];

/* ---- helpers ---------------------------------------------------------------------- */

gboolean
tskip_without_netns(const char *test)
{
    if (test_in_netns)
        return FALSE;
    fprintf(stderr, "%s: skipped (needs root and a private network namespace)\n", test);
    return TRUE;
}

static char *
read_sysctl(const char *path)
{
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("?");
    return g_strstrip(text);
}

/* In place (g_file_set_contents would rename a temporary file over it). */
static void
write_sysctl(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f && fputs(value, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* From a child in the original namespace: the host has no device @name
 * and its ip_forward is what it was before the tests. */
static void
assert_host_untouched(const char *name)
{
    int status;
    pid_t pid = fork();

    ck_assert(pid >= 0);
    if (pid == 0) {
        g_autofree char *fwd = NULL;

        if (setns(test_host_netns_fd, CLONE_NEWNET) < 0)
            _exit(3);
        if (if_nametoindex(name) != 0)
            _exit(1);
        fwd = read_sysctl("/proc/sys/net/ipv4/ip_forward");
        _exit(g_str_equal(fwd, host_ip_forward) ? 0 : 2);
    }
    ck_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    ck_assert_msg(WEXITSTATUS(status) != 1, "%s exists on the host", name);
    ck_assert_msg(WEXITSTATUS(status) != 2, "the host's ip_forward changed");
    ck_assert_msg(WEXITSTATUS(status) == 0, "cannot enter the host namespace");
}

static void
assert_error(const GError *err, const char *what, int code, const char *message)
{
    HyveErrorFrom from = 0;

    ck_assert_msg(err != NULL, "%s: no error", what);
    ck_assert_msg(hyve_error_from_quark(err->domain, &from) && from == HYVE_FROM_NETWORK,
                  "%s: error not from NETWORK: %s", what, err->message);
    ck_assert_msg(err->code == code, "%s: code %d, not %d: %s", what, err->code, code,
                  err->message);
    ck_assert_msg(g_str_equal(err->message, message), "%s: '%s', not '%s'", what,
                  err->message, message);
}

static void
ip_cmd(const char *const *argv)
{
    g_autofree char *err = NULL;
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

    ck_assert_msg(trun(argv, NULL, &err) == 0, "'%s' failed: %s", cmd, err ? err : "");
}

/* A device that is not a bridge, up: one end of a veth pair (peer
 * NAME-p), or a dummy where veth is missing. */
static void
make_veth(const char *name)
{
    g_autofree char *peer = g_strconcat(name, "-p", NULL);
    const char *veth[] = { "ip", "link", "add", name, "type", "veth", "peer", "name", peer, NULL };

    if (trun(veth, NULL, NULL) == 0) {
        ip_cmd((const char *[]){ "ip", "link", "set", peer, "up", NULL });
    } else {
        ip_cmd((const char *[]){ "ip", "link", "add", name, "type", "dummy", NULL });
    }
    ip_cmd((const char *[]){ "ip", "link", "set", name, "up", NULL });
}

/* ---- bridge cases -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    HyveNetForwardMode mode;
    const char *v4;
    guint p4;
    const char *v6;
    guint p6;
    guint mtu;
    HyveTristate stp;
    guint delay;
    const char *link[4];        /* in `ip -d -j link show` */
    const char *addr[3];        /* in `ip -j addr show` */
} BridgeCase;

static const BridgeCase bridge_cases[] = {
    { "nat-v4", HYVE_NET_FORWARD_NAT, "192.168.150.1", 24, NULL, 0, 9000, HYVE_TRISTATE_ABSENT,
      0, { "\"mtu\":9000,", "\"stp_state\":1,", "\"forward_delay\":200,",
           "\"address\":\"52:54:00:00:00:10\"" },
      { "{\"family\":\"inet\",\"local\":\"192.168.150.1\",\"prefixlen\":24,"
        "\"broadcast\":\"192.168.150.255\"" } },
    { "route-stp-off", HYVE_NET_FORWARD_ROUTE, "10.30.0.1", 16, NULL, 0, 0, HYVE_TRISTATE_NO,
      5, { "\"mtu\":1500,", "\"stp_state\":0,", "\"forward_delay\":500,",
           "\"address\":\"52:54:00:00:00:11\"" },
      { "\"local\":\"10.30.0.1\",\"prefixlen\":16,\"broadcast\":\"10.30.255.255\"" } },
    { "nat-dual", HYVE_NET_FORWARD_NAT, "192.168.151.1", 24, "2001:db8:ca2:2::1", 64, 0,
      HYVE_TRISTATE_YES, 0, { "\"stp_state\":1," },
      { "\"local\":\"192.168.151.1\",\"prefixlen\":24",
        "{\"family\":\"inet6\",\"local\":\"2001:db8:ca2:2::1\",\"prefixlen\":64,"
        "\"scope\":\"global\",\"nodad\":true" } },
    { "isolated", HYVE_NET_FORWARD_NONE, "192.168.152.1", 24, NULL, 0, 0, HYVE_TRISTATE_ABSENT,
      0, { "\"stp_state\":1," }, { "\"local\":\"192.168.152.1\"" } },
    { "isolated-noip", HYVE_NET_FORWARD_NONE, NULL, 0, NULL, 0, 1400, HYVE_TRISTATE_ABSENT, 3,
      { "\"forward_delay\":300,", "\"mtu\":1400," }, { "\"addr_info\":[]" } },
    { "open-v6only", HYVE_NET_FORWARD_OPEN, NULL, 0, "fd00:77::1", 48, 0, HYVE_TRISTATE_NO,
      0, { "\"stp_state\":0,", "\"forward_delay\":0," }, { "\"local\":\"fd00:77::1\"" } },
    { "route-p30", HYVE_NET_FORWARD_ROUTE, "192.168.153.1", 30, NULL, 0, 0,
      HYVE_TRISTATE_ABSENT, 0, { "\"stp_state\":1," },
      { "\"local\":\"192.168.153.1\",\"prefixlen\":30,\"broadcast\":\"192.168.153.3\"" } },
};

static HyveNetworkDef *
bridge_case_def(const BridgeCase *c, guint index)
{
    g_autofree char *br = g_strdup_printf("hyvtbr%u", index);
    HyveNetworkDef *d = tdef_new(c->name, br, c->mode);

    d->mac[5] = (guint8)(0x10 + index);
    d->mtu = c->mtu;
    d->stp = c->stp;
    d->delay = c->delay;
    if (c->v4)
        tdef_add_ip(d, c->v4, c->p4);
    if (c->v6)
        tdef_add_ip(d, c->v6, c->p6);
    return d;
}

static void
assert_sysctl(const BridgeCase *c, const char *path, const char *want)
{
    g_autofree char *got = read_sysctl(path);

    ck_assert_msg(g_str_equal(got, want), "%s: %s is %s, not %s", c->name, path, got, want);
}

START_TEST(test_bridge_start_stop)
{
    const BridgeCase *c = &bridge_cases[_i];
    HyveNetworkDef *d TDEF_AUTO = NULL;
    g_autofree char *link = NULL, *addr = NULL, *conf = NULL;
    g_autoptr(GError) err = NULL;
    gboolean v6 = c->v6 != NULL, fwd = c->mode != HYVE_NET_FORWARD_NONE;

    if (tskip_without_netns("test_bridge_start_stop"))
        return;
    d = bridge_case_def(c, _i);
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "0");
    write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "0");
    ck_assert_msg(!hyve_net_device_exists(d->bridge), "%s: %s exists before", c->name, d->bridge);
    ck_assert_msg(hyve_net_bridge_start(d, &err), "%s: start: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(hyve_net_device_exists(d->bridge), "%s: no %s", c->name, d->bridge);

    const char *largv[] = { "ip", "-d", "-j", "link", "show", "dev", d->bridge, NULL };
    const char *aargv[] = { "ip", "-j", "addr", "show", "dev", d->bridge, NULL };
    ck_assert_msg(trun(largv, &link, NULL) == 0, "%s: ip link show failed", c->name);
    ck_assert_msg(strstr(link, "\"info_kind\":\"bridge\""), "%s: not a bridge: %s", c->name, link);
    ck_assert_msg(strstr(link, "\"MULTICAST\",\"UP\"") || strstr(link, ",\"UP\","),
                  "%s: not up: %s", c->name, link);
    for (guint i = 0; i < G_N_ELEMENTS(c->link) && c->link[i]; i++)
        ck_assert_msg(strstr(link, c->link[i]), "%s: no %s in %s", c->name, c->link[i], link);
    ck_assert_msg(trun(aargv, &addr, NULL) == 0, "%s: ip addr show failed", c->name);
    for (guint i = 0; i < G_N_ELEMENTS(c->addr) && c->addr[i]; i++)
        ck_assert_msg(strstr(addr, c->addr[i]), "%s: no %s in %s", c->name, c->addr[i], addr);
    ck_assert_msg(!strstr(addr, "tentative"), "%s: tentative address: %s", c->name, addr);

    conf = g_strdup_printf("/proc/sys/net/ipv6/conf/%s", d->bridge);
    g_autofree char *dis = g_build_filename(conf, "disable_ipv6", NULL);
    g_autofree char *ra = g_build_filename(conf, "accept_ra", NULL);
    g_autofree char *ac = g_build_filename(conf, "autoconf", NULL);
    assert_sysctl(c, dis, v6 ? "0" : "1");
    assert_sysctl(c, ra, "0");
    assert_sysctl(c, ac, "0");
    assert_sysctl(c, "/proc/sys/net/ipv4/ip_forward", fwd ? "1" : "0");
    assert_sysctl(c, "/proc/sys/net/ipv6/conf/all/forwarding", fwd && v6 ? "1" : "0");
    assert_host_untouched(d->bridge);

    ck_assert_msg(hyve_net_bridge_stop(d, &err), "%s: stop: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(!hyve_net_device_exists(d->bridge), "%s: %s still there", c->name, d->bridge);
    ck_assert_msg(hyve_net_bridge_stop(d, &err), "%s: stop twice: %s", c->name,
                  err ? err->message : "");
    /* forwarding is never reset */
    assert_sysctl(c, "/proc/sys/net/ipv4/ip_forward", fwd ? "1" : "0");
}
END_TEST

/* A device with the bridge's name: libvirt's exact error, device kept. */
START_TEST(test_bridge_exists)
{
    HyveNetworkDef *d TDEF_AUTO = NULL;
    g_autoptr(GError) err = NULL;

    if (tskip_without_netns("test_bridge_exists"))
        return;
    d = tdef_new("dup", "hyvt-dup", HYVE_NET_FORWARD_NAT);
    tdef_add_ip(d, "192.168.160.1", 24);
    make_veth("hyvt-dup");
    ck_assert(!hyve_net_bridge_start(d, &err));
    assert_error(err, "existing device", HYVE_ERR_SYSTEM_ERROR,
                 "error creating bridge interface hyvt-dup: File exists");
    ck_assert_msg(hyve_net_device_exists("hyvt-dup"), "the existing device was removed");
    /* stop does not delete a device that is not a bridge (the kernel
     * refuses: "Operation not permitted") */
    g_clear_error(&err);
    ck_assert(!hyve_net_bridge_stop(d, &err));
    ck_assert_msg(hyve_net_device_exists("hyvt-dup"), "stop removed a veth device");
    ip_cmd((const char *[]){ "ip", "link", "del", "hyvt-dup", NULL });

    /* an existing bridge is refused the same way */
    g_clear_error(&err);
    ck_assert(hyve_net_bridge_start(d, &err));
    ck_assert(!hyve_net_bridge_start(d, &err));
    assert_error(err, "existing bridge", HYVE_ERR_SYSTEM_ERROR,
                 "error creating bridge interface hyvt-dup: File exists");
    ck_assert(hyve_net_device_exists("hyvt-dup"));
    g_clear_error(&err);
    ck_assert(hyve_net_bridge_stop(d, &err));
    ck_assert(!hyve_net_device_exists("hyvt-dup"));
}
END_TEST

/* Failures after the bridge exists remove it again. */
START_TEST(test_bridge_unwind)
{
    HyveNetworkDef *d TDEF_AUTO = NULL;
    HyveNetworkDef *e TDEF_AUTO = NULL;
    g_autoptr(GError) err = NULL;

    if (tskip_without_netns("test_bridge_unwind"))
        return;
    d = tdef_new("bigmtu", "hyvt-mtu", HYVE_NET_FORWARD_NAT);
    d->mtu = 70000;
    ck_assert(!hyve_net_bridge_start(d, &err));
    assert_error(err, "mtu", HYVE_ERR_SYSTEM_ERROR,
                 "Cannot set interface MTU on 'hyvt-mtu': Invalid argument");
    ck_assert_msg(!hyve_net_device_exists("hyvt-mtu"), "half-made bridge left behind");

    /* the same address twice: the second one fails in the kernel */
    g_clear_error(&err);
    e = tdef_new("twice", "hyvt-addr", HYVE_NET_FORWARD_NAT);
    tdef_add_ip(e, "192.168.161.1", 24);
    tdef_add_ip(e, "192.168.161.1", 24);
    ck_assert(!hyve_net_bridge_start(e, &err));
    assert_error(err, "address twice", HYVE_ERR_SYSTEM_ERROR,
                 "Error adding IP address 192.168.161.1/24 to hyvt-addr: File exists");
    ck_assert_msg(!hyve_net_device_exists("hyvt-addr"), "bridge left after an address failure");

    /* no bridge name */
    g_clear_error(&err);
    g_clear_pointer(&e->bridge, g_free);
    ck_assert(!hyve_net_bridge_start(e, &err));
    assert_error(err, "no bridge", HYVE_ERR_INTERNAL_ERROR,
                 "internal error: network 'twice' does not have a bridge name.");
}
END_TEST

START_TEST(test_device_exists)
{
    ck_assert(hyve_net_device_exists("lo"));
    ck_assert(!hyve_net_device_exists("hyvt-none0"));
    ck_assert(!hyve_net_device_exists("a-name-that-is-too-long"));
    ck_assert(!hyve_net_device_exists(""));
}
END_TEST

/* ---- route collision -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *addr;
    guint prefix;
    const char *addr2;          /* optional second <ip> */
    guint prefix2;
    const char *iface;          /* expected collision, or NULL */
} RouteCase;

/* (veth devices) hyvt-d0 carries 192.168.170.1/24, 10.40.0.1/16, 2001:db8:ca2:9::1/64;
 * hyvt-d1 carries 192.168.171.0/28 */
static const RouteCase route_cases[] = {
    { "same v4 subnet", "192.168.170.5", 24, NULL, 0, "hyvt-d0" },
    { "same subnet, host part differs", "10.40.200.1", 16, NULL, 0, "hyvt-d0" },
    { "narrower", "192.168.170.129", 25, NULL, 0, NULL },
    { "wider", "192.168.170.1", 23, NULL, 0, NULL },
    { "other subnet", "192.168.172.1", 24, NULL, 0, NULL },
    { "second ip collides", "192.168.173.1", 24, "192.168.171.1", 28, "hyvt-d1" },
    { "same v6 subnet", "2001:db8:ca2:9::77", 64, NULL, 0, "hyvt-d0" },
    { "other v6 subnet", "2001:db8:ca2:10::1", 64, NULL, 0, NULL },
    { "v6 prefix differs", "2001:db8:ca2:9::1", 56, NULL, 0, NULL },
    { "v4 ok, v6 collides", "192.168.174.1", 24, "2001:db8:ca2:9::2", 64, "hyvt-d0" },
    { "no ip", NULL, 0, NULL, 0, NULL },
};

static void
make_dummies(void)
{
    if (hyve_net_device_exists("hyvt-d0"))
        return;
    make_veth("hyvt-d0");
    make_veth("hyvt-d1");
    ip_cmd((const char *[]){ "ip", "addr", "add", "192.168.170.1/24", "dev", "hyvt-d0", NULL });
    ip_cmd((const char *[]){ "ip", "addr", "add", "10.40.0.1/16", "dev", "hyvt-d0", NULL });
    ip_cmd((const char *[]){ "ip", "addr", "add", "2001:db8:ca2:9::1/64", "dev", "hyvt-d0",
                             "nodad", NULL });
    ip_cmd((const char *[]){ "ip", "addr", "add", "192.168.171.1/28", "dev", "hyvt-d1", NULL });
}

START_TEST(test_route_collision)
{
    const RouteCase *c = &route_cases[_i];
    HyveNetworkDef *d TDEF_AUTO = NULL;
    g_autoptr(GError) err = NULL;
    gboolean ok;

    if (tskip_without_netns("test_route_collision"))
        return;
    make_dummies();
    d = tdef_new("rc", "hyvt-rc", HYVE_NET_FORWARD_NAT);
    if (c->addr)
        tdef_add_ip(d, c->addr, c->prefix);
    if (c->addr2)
        tdef_add_ip(d, c->addr2, c->prefix2);
    ok = hyve_net_route_collision_check(d, &err);
    if (!c->iface) {
        ck_assert_msg(ok, "%s: collision reported: %s", c->name, err ? err->message : "");
        return;
    }
    ck_assert_msg(!ok, "%s: no collision found", c->name);
    g_autofree char *want = g_strdup_printf("internal error: Network is already in use by "
                                            "interface %s", c->iface);
    assert_error(err, c->name, HYVE_ERR_INTERNAL_ERROR, want);
}
END_TEST

/* A running network's own connected route is seen by the next start. */
START_TEST(test_route_collision_bridge)
{
    HyveNetworkDef *a TDEF_AUTO = NULL;
    HyveNetworkDef *b TDEF_AUTO = NULL;
    g_autoptr(GError) err = NULL;

    if (tskip_without_netns("test_route_collision_bridge"))
        return;
    a = tdef_new("a", "hyvt-a", HYVE_NET_FORWARD_NAT);
    tdef_add_ip(a, "192.168.175.1", 24);
    b = tdef_new("b", "hyvt-b", HYVE_NET_FORWARD_ROUTE);
    tdef_add_ip(b, "192.168.175.2", 24);
    ck_assert(hyve_net_route_collision_check(a, &err));
    ck_assert_msg(hyve_net_bridge_start(a, &err), "start: %s", err ? err->message : "");
    ck_assert(!hyve_net_route_collision_check(b, &err));
    assert_error(err, "bridge route", HYVE_ERR_INTERNAL_ERROR,
                 "internal error: Network is already in use by interface hyvt-a");
    g_clear_error(&err);
    ck_assert(hyve_net_bridge_stop(a, &err));
    ck_assert_msg(hyve_net_route_collision_check(b, &err), "route left after stop: %s",
                  err ? err->message : "");
}
END_TEST

/* ---- main ------------------------------------------------------------------------------ */

static gboolean
enter_namespaces(void)
{
    struct ifreq ifr;
    g_autofree char *fwd = NULL;
    int s;

    if (geteuid() != 0)
        return FALSE;
    fwd = read_sysctl("/proc/sys/net/ipv4/ip_forward");
    g_strlcpy(host_ip_forward, fwd, sizeof(host_ip_forward));
    test_host_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (test_host_netns_fd < 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
        return FALSE;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return FALSE;
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return FALSE;
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, "lo", IFNAMSIZ);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return TRUE;
}

int
main(void)
{
    Suite *s = suite_create("network-host");
    TCase *pure = tcase_create("firewall-text");
    TCase *fw = tcase_create("firewall-nft");
    TCase *br = tcase_create("bridge");
    TCase *rt = tcase_create("route");

    /* before anything else: a root run must never see the host's stack */
    test_in_netns = enter_namespaces();
    if (geteuid() == 0 && !test_in_netns)
        fprintf(stderr, "network-host: cannot enter private namespaces (%s); "
                "namespace tests skipped\n", g_strerror(errno));

    network_firewall_add_tests(pure, fw);
    tcase_set_timeout(fw, 120);
    tcase_add_loop_test(br, test_bridge_start_stop, 0, G_N_ELEMENTS(bridge_cases));
    tcase_add_test(br, test_bridge_exists);
    tcase_add_test(br, test_bridge_unwind);
    tcase_add_test(br, test_device_exists);
    tcase_add_loop_test(rt, test_route_collision, 0, G_N_ELEMENTS(route_cases));
    tcase_add_test(rt, test_route_collision_bridge);
    suite_add_tcase(s, pure);
    suite_add_tcase(s, fw);
    suite_add_tcase(s, br);
    suite_add_tcase(s, rt);
    return test_suite_run(s);
}
