/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_domain.c: <interface type='network'> of running domains
 * (test 'network-domain'): tap on the network's bridge, live XML, the
 * network's port count on every start and stop path, start refusals,
 * reattach, virDomainInterfaceAddresses. Root only, in namespaces of its
 * own (test_network_domain.h); skipped (77) otherwise.
 */
#include "test_network_domain.h"

/* ---- cases ----------------------------------------------------------------- */

/* Start: the tap joins the bridge, live XML names it (never the inactive
 * XML nor the status file), one port; destroy: tap gone, no port. */
START_TEST(test_start_destroy)
{
    g_autofree char *n1 = nic("network", "nd", MAC1), *xml = NULL, *inactive = NULL;
    g_autofree char *status = NULL, *master = NULL, *spath = NULL;
    g_autoptr(HyveDomainObj) obj = NULL;

    net_define("nd", "virbr7", 7, TRUE);
    ck_assert_uint_eq(net_connections("nd"), 0);
    obj = define_nic_guest("vm1", ACT_SPIN, NULL, n1);
    start_ok(obj, 0);
    master = iface_master("vnet0");
    ck_assert_msg(master && g_str_equal(master, "virbr7"), "master of vnet0: '%s'",
                  master ? master : "(no vnet0)");
    xml = live_xml(obj, 0);
    ck_assert_msg(strstr(xml, "<source network='nd' bridge='virbr7'/>") &&
                  strstr(xml, "<target dev='vnet0'/>"), "live XML:\n%s", xml);
    inactive = live_xml(obj, HYVE_DOMAIN_XML_INACTIVE);
    ck_assert_msg(strstr(inactive, "<source network='nd'/>") && !strstr(inactive, "bridge="),
                  "inactive XML:\n%s", inactive);
    spath = g_strdup_printf("%s/run/vm1.xml", tmpdir);
    ck_assert(g_file_get_contents(spath, &status, NULL, NULL));
    ck_assert_msg(!strstr(status, "bridge="), "status file:\n%s", status);
    ck_assert_uint_eq(net_connections("nd"), 1);

    destroy_ok(obj);
    wait_iface_gone("vnet0");
    ck_assert_uint_eq(net_connections("nd"), 0);
    g_clear_pointer(&xml, g_free);
    xml = live_xml(obj, 0);
    ck_assert_msg(!strstr(xml, "bridge="), "stopped XML:\n%s", xml);
}
END_TEST

/* Stops the domain did not ask for: a guest that powers off (port dropped
 * once), one that resets forever with on_reboot=restart (each restart
 * drops its port and takes a new one: always 1). */
START_TEST(test_guest_stops)
{
    g_autofree char *n1 = nic("network", "nd", MAC1), *n2 = nic("network", "nd", MAC2);
    g_autofree char *nics = g_strconcat(n1, n2, NULL), *got = NULL;
    g_autoptr(HyveDomainObj) off = NULL, rs = NULL;

    net_define("nd", "virbr8", 8, TRUE);
    rs = define_nic_guest("rs", ACT_RESET, NULL, n1);
    start_ok(rs, 0);
    for (int i = 0; i < 1500; i++) {
        g_free(got);
        got = events_str();
        if (strstr(got, "rs:REBOOT@1 rs:REBOOT@1 rs:REBOOT@1"))
            break;
        g_usleep(20000);
    }
    ck_assert_msg(strstr(got, "rs:REBOOT@1 rs:REBOOT@1 rs:REBOOT@1"), "events: %s", got);
    ck_assert_uint_eq(net_connections("nd"), 1);
    destroy_ok(rs);
    ck_assert_uint_eq(net_connections("nd"), 0);

    /* two NICs on one network: two ports, both dropped at power-off */
    off = define_nic_guest("off", ACT_POWEROFF, "<on_poweroff>destroy</on_poweroff>", nics);
    start_ok(off, 0);
    wait_state(off, HYVE_DOMAIN_STATE_SHUTOFF, HYVE_REASON_SHUTOFF_SHUTDOWN, 30, "poweroff");
    ck_assert_uint_eq(net_connections("nd"), 0);
    wait_iface_gone("vnet0");
    wait_iface_gone("vnet1");
}
END_TEST

static const struct {
    const char *name;
    const char *nic2;           /* second NIC after one on 'nd' ("" = none) */
    const char *error;          /* "<code> <domain> <message>" (the start of it) */
    gboolean bad_kernel;        /* the runner starts, then fails: the ports were taken */
} refusals[] = {
    { "inactive", "<interface type='network'><source network='down'/></interface>",
      "55 19 Requested operation is not valid: network 'down' is not active" },
    { "unknown", "<interface type='network'><source network='nosuch'/></interface>",
      "43 19 Network not found: no network with matching name 'nosuch'" },
    { "bad-bridge", "<interface type='bridge'><source bridge='nobr9'/></interface>",
      "9 57 operation failed: bridge 'nobr9' does not exist" },
    { "runner-fails", "", "9 57 operation failed: bhyve-runner of domain bad exited while "
      "starting", TRUE },
};

/* A start that fails after the first NIC took its port gives it back and
 * leaves no tap; the domain stays shut off. */
START_TEST(test_start_refused)
{
    g_autofree char *n1 = nic("network", "nd", MAC1);
    g_autofree char *nics = g_strconcat(n1, refusals[_i].nic2, NULL);
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;

    net_define("nd", "virbr9", 9, TRUE);
    net_define("down", "virbr10", 10, FALSE);
    obj = define_nic_guest("bad", ACT_SPIN, NULL, nics);
    if (refusals[_i].bad_kernel) {
        g_autofree char *kernel = g_strdup_printf("%s/bad.bzImage", tmpdir);

        ck_assert(g_file_set_contents(kernel, "not a kernel", -1, NULL));
    }
    ck_assert_msg(!hyve_driver_domain_start(drv, obj, 0, &err), "%s: started",
                  refusals[_i].name);
    line = test_error_line(err);
    ck_assert_msg(refusals[_i].bad_kernel ? g_str_has_prefix(line, refusals[_i].error)
                                          : g_str_equal(line, refusals[_i].error),
                  "%s:\n  got:  %s\n  want: %s", refusals[_i].name, line, refusals[_i].error);
    ck_assert_msg(net_connections("nd") == 0, "%s: port kept", refusals[_i].name);
    wait_iface_gone("vnet0");
    ck_assert(!hyve_domain_obj_is_active(obj));
    ck_assert_uint_eq(test_runners(), 0);
}
END_TEST

/* A restarted daemon counts the ports of the domains it reattaches. */
START_TEST(test_reattach)
{
    g_autofree char *n1 = nic("network", "nd", MAC1), *xml = NULL;
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;

    net_define("nd", "virbr11", 11, TRUE);
    obj = define_nic_guest("vm1", ACT_SPIN, NULL, n1);
    start_ok(obj, 0);
    ck_assert_uint_eq(net_connections("nd"), 1);
    g_clear_pointer(&obj, hyve_domain_obj_unref);
    hyve_driver_free(drv);
    drv = open_driver();
    ck_assert_uint_eq(net_connections("nd"), 1);
    obj = hyve_driver_lookup_by_name(drv, "vm1", &err);
    ck_assert_msg(obj && hyve_domain_obj_is_active(obj), "vm1 not reattached");
    xml = live_xml(obj, 0);
    ck_assert_msg(strstr(xml, "<source network='nd' bridge='virbr11'/>"), "live XML:\n%s", xml);
    destroy_ok(obj);
    wait_iface_gone("vnet0");
    ck_assert_uint_eq(net_connections("nd"), 0);
}
END_TEST

/* Adds a complete ARP entry (no packet is sent). */
static void
arp_add(const char *ip, const guint8 mac[6], const char *dev)
{
    struct arpreq r = { 0 };
    struct sockaddr_in *sin = (struct sockaddr_in *)&r.arp_pa;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert(s >= 0);
    sin->sin_family = AF_INET;
    ck_assert(inet_pton(AF_INET, ip, &sin->sin_addr) == 1);
    r.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy(r.arp_ha.sa_data, mac, 6);
    r.arp_flags = ATF_PERM | ATF_COM;
    g_strlcpy(r.arp_dev, dev, sizeof(r.arp_dev));
    ck_assert_msg(ioctl(s, SIOCSARP, &r) == 0, "SIOCSARP: %s", g_strerror(errno));
    close(s);
}

static char *
ifaces_str(GPtrArray *ifaces)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < ifaces->len; i++) {
        const HyveDomainIface *f = g_ptr_array_index(ifaces, i);

        g_string_append_printf(s, "%s%s %s", i ? "; " : "", f->name, f->hwaddr);
        for (guint j = 0; j < f->addrs->len; j++) {
            const HyveDomainIpAddr *a = &g_array_index(f->addrs, HyveDomainIpAddr, j);

            g_string_append_printf(s, " %d:%s/%u", a->type, a->addr, a->prefix);
        }
    }
    return g_string_free(s, FALSE);
}

/* Lease source: the network NIC with a lease (a line as dnsmasq writes
 * it); the bridge NIC and the lease-less network NIC are left out. ARP:
 * every NIC by MAC. Agent, unknown sources, flags, a stopped domain. */
START_TEST(test_interface_addresses)
{
    g_autofree char *n1 = nic("network", "nd", MAC1), *n2 = nic("bridge", "virbr12", MAC2);
    g_autofree char *n3 = nic("network", "nd", "52:54:00:aa:bb:03");
    g_autofree char *nics = g_strconcat(n1, n2, n3, NULL), *leases = NULL, *line = NULL;
    g_autofree char *got = NULL;
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GPtrArray) ifaces = NULL;
    g_autoptr(GError) err = NULL;
    static const guint8 mac2[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x02 };
    gint64 expiry = g_get_real_time() / G_USEC_PER_SEC + 3600;

    net_define("nd", "virbr12", 12, TRUE);
    obj = define_nic_guest("vm1", ACT_SPIN, NULL, nics);
    ifaces = hyve_driver_domain_interface_addresses(drv, obj, 0, 0, &err);
    ck_assert_msg(!ifaces, "stopped domain answered");
    line = test_error_line(err);
    ck_assert_str_eq(line, "55 57 Requested operation is not valid: domain is not running");
    g_clear_error(&err);
    start_ok(obj, 0);

    leases = g_strdup_printf("%s/run/network/nd.leases", tmpdir);
    line = (g_free(line), g_strdup_printf("%" G_GINT64_FORMAT " " MAC1 " 10.77.12.50 guesty "
                                          "01:" MAC1 "\n%" G_GINT64_FORMAT " " MAC2
                                          " 10.77.12.51 * *\n", expiry, expiry));
    {
        g_autofree char *old = NULL, *all = NULL;

        g_file_get_contents(leases, &old, NULL, NULL);
        all = g_strconcat(old ? old : "", line, NULL);
        ck_assert(g_file_set_contents(leases, all, -1, NULL));
    }
    ifaces = hyve_driver_domain_interface_addresses(drv, obj, 0, 0, &err);
    ck_assert_msg(ifaces, "lease: %s", err ? err->message : "");
    got = ifaces_str(ifaces);
    ck_assert_str_eq(got, "vnet0 " MAC1 " 0:10.77.12.50/24");

    arp_add("10.77.12.60", mac2, "virbr12");
    g_clear_pointer(&ifaces, g_ptr_array_unref);
    ifaces = hyve_driver_domain_interface_addresses(drv, obj, 2, 0, &err);
    ck_assert_msg(ifaces, "arp: %s", err ? err->message : "");
    g_free(got);
    got = ifaces_str(ifaces);
    ck_assert_str_eq(got, "vnet1 " MAC2 " 0:10.77.12.60/0");

    g_clear_pointer(&ifaces, g_ptr_array_unref);
    {
        static const struct { guint source, flags; const char *want; } bad[] = {
            { 1, 0, "3 57 this function is not supported by the connection driver: "
                    "virDomainInterfaceAddresses: hyve has no guest agent "
                    "(use source 'lease' or 'arp')" },
            { 3, 0, "8 57 invalid argument: Unknown IP address data source 3" },
            { 0, 1, "8 57 invalid argument: unsupported flags (0x1) in function "
                    "hyve_driver_domain_interface_addresses" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
            g_autoptr(GError) e = NULL;
            g_autofree char *l = NULL;

            ck_assert(!hyve_driver_domain_interface_addresses(drv, obj, bad[i].source,
                                                              bad[i].flags, &e));
            l = test_error_line(e);
            ck_assert_msg(g_str_equal(l, bad[i].want), "source %u flags %u:\n  got:  %s\n"
                          "  want: %s", bad[i].source, bad[i].flags, l, bad[i].want);
        }
    }
    destroy_ok(obj);
}
END_TEST

/* ---- main ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL), *why = NULL;
    g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL, *build = NULL, *runner = NULL;
    Suite *s = suite_create("network-domain");
    TCase *tc = tcase_create("network-domain");
    int fd, rc;

    if (geteuid() != 0) {
        g_print("SKIP: needs root (network namespaces, bridges, taps)\n");
        return 77;
    }
    if (!exe) {
        g_printerr("cannot read /proc/self/exe\n");
        return 2;
    }
    d1 = g_path_get_dirname(exe);       /* <build>/tests/unit/driver */
    d2 = g_path_get_dirname(d1);
    d3 = g_path_get_dirname(d2);
    build = g_path_get_dirname(d3);
    runner = g_build_filename(build, "bhyve-runner", "bhyve-runner", NULL);
    if (!g_file_test(runner, G_FILE_TEST_IS_EXECUTABLE)) {
        g_print("SKIP: no bhyve-runner at %s (build it first)\n", runner);
        return 77;
    }
    runner_path = runner;
    if ((fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) {
        g_print("SKIP: /dev/kvm: %s\n", g_strerror(errno));
        return 77;
    }
    close(fd);
    if (!enter_namespaces(&why)) {
        g_print("SKIP: %s\n", why);
        return 77;
    }
    tcase_add_checked_fixture(tc, net_setup, net_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_start_destroy);
    tcase_add_test(tc, test_guest_stops);
    tcase_add_loop_test(tc, test_start_refused, 0, G_N_ELEMENTS(refusals));
    tcase_add_test(tc, test_reattach);
    tcase_add_test(tc, test_interface_addresses);
    suite_add_tcase(s, tc);
    rc = test_suite_run(s);
    kill_strays();
    return rc;
}
