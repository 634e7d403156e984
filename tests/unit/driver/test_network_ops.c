/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_ops.c: every refusal of the network core with libvirt's
 * code, domain and message (table), the list filters (table), counts,
 * ports and the live XML's connections, DHCP leases from dnsmasq's lease
 * file, define/undefine from several threads at once (events in state
 * order), and, as root inside the program's own network namespace, real
 * networks: bridge, nft table and dnsmasq made and removed, kept across a
 * restart (same dnsmasq pid), recovered (dead dnsmasq restarted, vanished
 * bridge -> inactive), torn down at shutdown only when transient,
 * conflicts (overlapping active subnet, host route, existing device) and
 * the unwinding of a failed start.
 */
#include "test_network.h"

#include <signal.h>
#include <sys/wait.h>

/* ---- refusals ------------------------------------------------------------------ */

static HyveNetObj *
started(const char *xml)
{
    HyveNetObj *n = define(xml);

    OK(hyve_networks_start(nets, n, error));
    return n;
}

static HyveNetObj *
transient(const char *xml)
{
    g_autoptr(GError) err = NULL;
    HyveNetObj *n = hyve_networks_create_xml(nets, xml, 0, &err);

    ck_assert_msg(n, "create: %s", err ? err->message : "");
    return n;
}

#define X(name, uuid, br) g_autofree char *x_##name = bridge_xml(#name, uuid, br)

static void
r_lookup_name(GError **e)
{
    ck_assert(!hyve_networks_lookup_by_name(nets, "nosuch", e));
}

static void
r_lookup_uuid(GError **e)
{
    guint8 u[HYVE_UUID_LEN];

    hyve_uuid_parse(UUID_B, u);
    ck_assert(!hyve_networks_lookup_by_uuid(nets, u, e));
}

static void
r_destroy_inactive(GError **e)
{
    X(a, NULL, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_networks_destroy(nets, n, e));
}

static void
r_undefine_transient(GError **e)
{
    X(a, NULL, "lo");
    g_autoptr(HyveNetObj) n = transient(x_a);

    ck_assert(!hyve_networks_undefine(nets, n, e));
}

static void
r_autostart_transient(GError **e)
{
    X(a, NULL, "lo");
    g_autoptr(HyveNetObj) n = transient(x_a);

    ck_assert(!hyve_networks_set_autostart(nets, n, TRUE, e));
}

static void
r_create_over_active(GError **e)
{
    X(a, UUID_A, "hyq0");
    g_autoptr(HyveNetObj) n = started(x_a);

    ck_assert(!hyve_networks_create_xml(nets, x_a, 0, e));
}

static void
r_same_uuid(GError **e)
{
    X(a, UUID_A, "hyq0");
    X(b, UUID_A, "hyq1");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_networks_define_xml(nets, x_b, 0, e));
}

static void
r_same_name(GError **e)
{
    X(a, UUID_A, "hyq0");
    g_autofree char *other = bridge_xml("a", UUID_B, "hyq1");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_networks_create_xml(nets, other, 0, e));
}

static void
r_bridge_in_use(GError **e)
{
    g_autoptr(HyveNetObj) n = define("<network><name>a</name><bridge name='hyq0'/></network>");
    X(b, NULL, "hyq0");

    ck_assert(!hyve_networks_define_xml(nets, x_b, 0, e));
}

static void
r_bridge_in_use_create(GError **e)
{
    X(a, NULL, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);
    g_autoptr(HyveNetObj) n2 = NULL;

    ck_assert(!hyve_networks_create_xml(nets, "<network><name>b</name><bridge name='hyq0'/>"
                                        "</network>", 0, e));
    (void)n2;
}

static void
r_port_inactive(GError **e)
{
    X(a, NULL, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_networks_port_acquire(nets, "a", FALSE, e));
}

static void
r_port_unknown(GError **e)
{
    ck_assert(!hyve_networks_port_acquire(nets, "zz", FALSE, e));
}

static void
r_bad_mac(GError **e)
{
    X(a, NULL, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_net_obj_get_dhcp_leases(n, "52:54:00:zz:00:01", e));
}

static void
r_leases_unknown(GError **e)
{
    static const guint8 mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };

    ck_assert(!hyve_networks_leases_for_mac(nets, "zz", mac, e));
}

static void
r_list_flags(GError **e)
{
    ck_assert(!hyve_networks_list(nets, 0x40, e));
}

static void
r_define_flags(GError **e)
{
    X(a, NULL, "hyq0");

    ck_assert(!hyve_networks_define_xml(nets, x_a, 2, e));
}

static void
r_xml_flags(GError **e)
{
    X(a, NULL, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);

    ck_assert(!hyve_net_obj_get_xml(n, 2, e));
}

static void
r_removed(GError **e)
{
    X(a, UUID_A, "hyq0");
    g_autoptr(HyveNetObj) n = define(x_a);

    OK(hyve_networks_undefine(nets, n, error));
    ck_assert(!hyve_networks_set_autostart(nets, n, TRUE, e));
}

static void
r_malformed(GError **e)
{
    ck_assert(!hyve_networks_define_xml(nets, "<network><name>a</name>", 0, e));
}

static const struct {
    const char *name;
    void (*run)(GError **e);
    int code;
    const char *message;        /* NULL: only the code is checked (parser's text) */
} refusals[] = {
    { "lookup by name", r_lookup_name, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching name 'nosuch'" },
    { "lookup by uuid", r_lookup_uuid, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching uuid '" UUID_B "'" },
    { "destroy inactive", r_destroy_inactive, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: network 'a' is not active" },
    { "undefine transient", r_undefine_transient, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: can't undefine transient network" },
    { "autostart transient", r_autostart_transient, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: cannot set autostart for transient network" },
    { "create over active", r_create_over_active, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: network is already active as 'a'" },
    { "same uuid, other name", r_same_uuid, HYVE_ERR_OPERATION_FAILED,
      "operation failed: network 'a' is already defined with uuid " UUID_A },
    { "same name, other uuid", r_same_name, HYVE_ERR_OPERATION_FAILED,
      "operation failed: network 'a' already exists with uuid " UUID_A },
    { "bridge in use (define)", r_bridge_in_use, HYVE_ERR_INTERNAL_ERROR,
      "internal error: bridge name 'hyq0' already in use." },
    { "bridge in use (create)", r_bridge_in_use_create, HYVE_ERR_INTERNAL_ERROR,
      "internal error: bridge name 'hyq0' already in use." },
    { "port on inactive", r_port_inactive, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: network 'a' is not active" },
    { "port on unknown", r_port_unknown, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching name 'zz'" },
    { "bad lease MAC", r_bad_mac, HYVE_ERR_INVALID_MAC,
      "invalid MAC address: 52:54:00:zz:00:01" },
    { "leases of unknown", r_leases_unknown, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching name 'zz'" },
    { "list flags", r_list_flags, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x40) in function hyve_networks_list" },
    { "define flags", r_define_flags, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function hyve_networks_define_xml" },
    { "xml flags", r_xml_flags, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function hyve_net_obj_get_xml" },
    { "undefined object", r_removed, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching uuid '" UUID_A "' (a)" },
    { "malformed XML", r_malformed, HYVE_ERR_XML_ERROR, NULL },
};

START_TEST(test_refusal)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *before = NULL, *after = NULL;

    refusals[_i].run(&err);
    if (refusals[_i].message) {
        check_error(refusals[_i].name, err, refusals[_i].code, refusals[_i].message);
    } else {
        ck_assert_msg(err && err->code == refusals[_i].code, "%s: got %s", refusals[_i].name,
                      err ? err->message : "no error");
    }
    /* a refused call changes nothing: a second listing is the same */
    before = list_names(0);
    reopen();
    after = list_names(0);
    ck_assert_msg(g_str_equal(before, after), "%s: '%s' vs '%s' after restart",
                  refusals[_i].name, before, after);
}
END_TEST

/* ---- filters ------------------------------------------------------------------------- */

static const struct {
    guint flags;
    const char *names;
} filters[] = {
    { 0, "pact,pin,tact" },  { 1, "pin" },        { 2, "pact,tact" },
    { 3, "pact,pin,tact" },  { 4, "pact,pin" },   { 8, "tact" },
    { 12, "pact,pin,tact" }, { 16, "pact" },      { 32, "pin,tact" },
    { 2 | 4, "pact" },       { 1 | 8, "" },       { 2 | 8 | 32, "tact" },
    { 1 | 16, "" },          { 0x3f, "pact,pin,tact" },
};

START_TEST(test_filters)
{
    X(pin, NULL, "hyf0");
    X(pact, NULL, "hyf1");
    X(tact, NULL, "hyf2");
    g_autoptr(HyveNetObj) a = define(x_pin), b = started(x_pact), c = transient(x_tact);
    g_autofree char *got = NULL;

    OK(hyve_networks_set_autostart(nets, b, TRUE, error));
    got = list_names(filters[_i].flags);
    ck_assert_msg(g_str_equal(got, filters[_i].names), "flags 0x%x: '%s', want '%s'",
                  filters[_i].flags, got, filters[_i].names);
    ck_assert_int_eq(hyve_networks_num(nets, TRUE), 2);
    ck_assert_int_eq(hyve_networks_num(nets, FALSE), 1);
}
END_TEST

START_TEST(test_lookup_uuid)
{
    X(u1, UUID_A, "hyu0");
    g_autoptr(HyveNetObj) n = define(x_u1), m = NULL;
    guint8 u[HYVE_UUID_LEN];
    HyveNetIdent id = { 0 };

    hyve_uuid_parse(UUID_A, u);
    OK((m = hyve_networks_lookup_by_uuid(nets, u, error)) != NULL);
    ck_assert_ptr_eq(m, n);
    hyve_net_obj_get_ident(m, &id);
    ck_assert_str_eq(id.name, "u1");
    ck_assert(memcmp(id.uuid, u, HYVE_UUID_LEN) == 0);
    hyve_net_ident_clear(&id);
}
END_TEST

/* ---- ports and leases ------------------------------------------------------------------ */

static char *
live_xml(HyveNetObj *n, guint flags)
{
    g_autoptr(GError) err = NULL;
    char *x = hyve_net_obj_get_xml(n, flags, &err);

    ck_assert_msg(x, "xml: %s", err ? err->message : "");
    return x;
}

START_TEST(test_ports)
{
    X(pb, NULL, "hyp0");
    g_autoptr(HyveNetObj) n = started(x_pb);
    g_autofree char *b1 = NULL, *b2 = NULL, *x1 = NULL, *x2 = NULL, *x3 = NULL, *xi = NULL;
    g_autoptr(GError) err = NULL;

    OK((b1 = hyve_networks_port_acquire(nets, "pb", FALSE, error)) != NULL);
    ck_assert_str_eq(b1, "hyp0");
    x1 = live_xml(n, 0);
    ck_assert_msg(strstr(x1, "connections='1'"), "%s", x1);
    OK((b2 = hyve_networks_port_acquire(nets, "pb", TRUE, error)) != NULL);
    x2 = live_xml(n, 0);
    xi = live_xml(n, HYVE_NET_XML_INACTIVE);
    ck_assert_msg(strstr(x2, "connections='2'") && !strstr(xi, "connections"), "%s", x2);
    hyve_networks_port_release(nets, "pb");
    hyve_networks_port_release(nets, "pb");
    hyve_networks_port_release(nets, "pb");     /* never below 0 */
    hyve_networks_port_release(nets, "nosuch");
    x3 = live_xml(n, 0);
    ck_assert_msg(!strstr(x3, "connections"), "%s", x3);
    OK(hyve_networks_destroy(nets, n, error));
    /* a reattaching domain on a stopped network: no bridge, no error */
    ck_assert(!hyve_networks_port_acquire(nets, "pb", TRUE, &err));
    ck_assert_msg(!err, "reattach: %s", err ? err->message : "");
}
END_TEST

START_TEST(test_leases)
{
    g_autoptr(HyveNetObj) n = define("<network><name>lz</name><bridge name='hylz0'/>"
                                     "<ip address='10.9.0.1' prefix='24'><dhcp>"
                                     "<range start='10.9.0.2' end='10.9.0.9'/></dhcp></ip>"
                                     "</network>");
    g_autofree char *file = g_build_filename(state_dir, "network", "lz.leases", NULL);
    static const guint8 mac[6] = { 0x52, 0x54, 0, 0x11, 0x22, 0x33 };
    g_autoptr(GPtrArray) none = NULL, all = NULL, one = NULL, other = NULL, bymac = NULL;
    HyveNetLease *l;

    OK((none = hyve_net_obj_get_dhcp_leases(n, NULL, error)) != NULL);
    ck_assert_int_eq(none->len, 0);     /* no lease file yet */
    ck_assert(g_file_set_contents(file,
        "4102444800 52:54:00:11:22:33 10.9.0.5 guesty 01:52:54:00:11:22:33\n"
        "1000 52:54:00:44:55:66 10.9.0.6 * *\n"
        "0 52:54:00:77:88:99 10.9.0.7 * *\n", -1, NULL));
    OK((all = hyve_net_obj_get_dhcp_leases(n, NULL, error)) != NULL);
    ck_assert_int_eq(all->len, 2);      /* the expired one is left out */
    l = g_ptr_array_index(all, 0);
    ck_assert_str_eq(l->iface, "hylz0");
    ck_assert_str_eq(l->mac, "52:54:00:11:22:33");
    ck_assert_str_eq(l->ipaddr, "10.9.0.5");
    ck_assert_str_eq(l->hostname, "guesty");
    ck_assert_int_eq(l->prefix, 24);
    ck_assert_int_eq(l->type, 0);
    ck_assert(l->expirytime == 4102444800LL);
    OK((one = hyve_net_obj_get_dhcp_leases(n, "52:54:00:11:22:33", error)) != NULL);
    ck_assert_int_eq(one->len, 1);
    OK((other = hyve_net_obj_get_dhcp_leases(n, "52:54:0:AA:bb:1", error)) != NULL);
    ck_assert_int_eq(other->len, 0);
    OK((bymac = hyve_networks_leases_for_mac(nets, "lz", mac, error)) != NULL);
    ck_assert_int_eq(bymac->len, 1);
    l = g_ptr_array_index(bymac, 0);
    ck_assert_str_eq(l->ipaddr, "10.9.0.5");
}
END_TEST

/* ---- threads --------------------------------------------------------------------------- */

#define ROUNDS 40

static gpointer
define_undefine(gpointer data)
{
    int t = GPOINTER_TO_INT(data);
    const char *name = t % 2 ? "c1" : "c0";
    g_autofree char *x = bridge_xml(name, t % 2 ? UUID_B : UUID_A, t % 2 ? "hyc1" : "hyc0");

    for (int i = 0; i < ROUNDS; i++) {
        g_autoptr(HyveNetObj) n = hyve_networks_define_xml(nets, x, 0, NULL);

        ck_assert_msg(n, "thread %d: define failed", t);
        hyve_networks_undefine(nets, n, NULL);  /* may lose to another thread */
    }
    return NULL;
}

START_TEST(test_threads)
{
    GThread *th[4];
    g_autofree char *ev = NULL;
    g_auto(GStrv) list = NULL;

    for (int i = 0; i < 4; i++)
        th[i] = g_thread_new("def", define_undefine, GINT_TO_POINTER(i));
    for (int i = 0; i < 4; i++)
        g_thread_join(th[i]);
    ev = take_events();
    list = g_strsplit(ev, ",", -1);
    for (int c = 0; c < 2; c++) {
        const char *name = c ? "c1" : "c0";
        g_autofree char *def = g_strdup_printf("DEFINED %s", name);
        g_autofree char *undef = g_strdup_printf("UNDEFINED %s", name);
        g_autoptr(HyveNetObj) n = lookup(name);
        gboolean exists = FALSE;
        int defined = 0;

        /* an UNDEFINED only ever follows a DEFINED: events in state order */
        for (guint i = 0; list[i]; i++) {
            if (g_str_equal(list[i], def)) {
                exists = TRUE;
                defined++;
            } else if (g_str_equal(list[i], undef)) {
                ck_assert_msg(exists, "%s: UNDEFINED without DEFINED before it", name);
                exists = FALSE;
            }
        }
        ck_assert_int_eq(defined, 2 * ROUNDS);
        ck_assert_msg(exists == (n != NULL), "%s: last event and state differ", name);
    }
}
END_TEST

void
network_add_ops_tests(TCase *tc)
{
    tcase_add_loop_test(tc, test_refusal, 0, G_N_ELEMENTS(refusals));
    tcase_add_loop_test(tc, test_filters, 0, G_N_ELEMENTS(filters));
    tcase_add_test(tc, test_lookup_uuid);
    tcase_add_test(tc, test_ports);
    tcase_add_test(tc, test_leases);
    tcase_add_test(tc, test_threads);
}

/* ---- real networks (root, in our own network namespace) ------------------------------ */

static int
run_rc(const char *prog, const char *args)
{
    g_autofree char *path = g_find_program_in_path(prog);
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    int status = -1;

    cmd = g_strdup_printf("%s%s %s", path ? "" : "/usr/sbin/", path ? path : prog, args);
    if (!g_shell_parse_argv(cmd, NULL, &argv, NULL) ||
        !g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, NULL, NULL, &status, NULL))
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static gboolean
table_exists(const char *name)
{
    g_autofree char *args = g_strdup_printf("list table inet hyve_%s", name);

    return run_rc("nft", args) == 0;
}

static gboolean
pid_alive(pid_t pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

static gboolean
wait_dead(pid_t pid)
{
    for (int i = 0; i < 60 && pid_alive(pid); i++)
        g_usleep(50000);
    return !pid_alive(pid);
}

static pid_t
dnsmasq_pid(HyveNetObj *n)
{
    pid_t pid;

    g_mutex_lock(&n->lock);
    pid = n->dnsmasq_pid;
    g_mutex_unlock(&n->lock);
    return pid;
}

START_TEST(test_host_nat)
{
    g_autofree char *x = nat_xml("hn", "hybr0", 77), *live = NULL, *inactive = NULL;
    g_autofree char *ev = NULL, *status = net_file(state_dir, "hn");
    g_autoptr(HyveNetObj) n = started(x), k = NULL;
    pid_t pid = dnsmasq_pid(n);

    ck_assert(if_nametoindex("hybr0") > 0);
    ck_assert(table_exists("hn"));
    ck_assert_msg(pid_alive(pid), "dnsmasq pid %d", (int)pid);
    live = live_xml(n, 0);
    inactive = live_xml(n, HYVE_NET_XML_INACTIVE);
    ck_assert_msg(strstr(live, "<port start='1024' end='65535'/>"), "%s", live);
    ck_assert_msg(!strstr(inactive, "<port "), "%s", inactive);
    /* a restarted daemon keeps the network and its dnsmasq */
    reopen();
    ck_assert((k = lookup("hn")) && hyve_net_obj_is_active(k));
    ck_assert_int_eq(dnsmasq_pid(k), pid);
    ck_assert(pid_alive(pid) && table_exists("hn") && if_nametoindex("hybr0") > 0);
    OK(hyve_networks_destroy(nets, k, error));
    ck_assert(if_nametoindex("hybr0") == 0);
    ck_assert(!table_exists("hn"));
    ck_assert_msg(wait_dead(pid), "dnsmasq %d still running", (int)pid);
    ck_assert(!g_file_test(status, G_FILE_TEST_EXISTS));
    ev = take_events();
    ck_assert_str_eq(ev, "DEFINED hn,STARTED hn,STOPPED hn");
}
END_TEST

START_TEST(test_host_recovery)
{
    g_autofree char *x = nat_xml("hr", "hybr1", 78), *status = net_file(state_dir, "hr");
    g_autoptr(HyveNetObj) n = started(x), k = NULL, k2 = NULL;
    pid_t pid = dnsmasq_pid(n), pid2;

    /* dnsmasq died while no daemon ran: the next one restarts it */
    ck_assert(kill(pid, SIGKILL) == 0 && wait_dead(pid));
    reopen();
    ck_assert((k = lookup("hr")) && hyve_net_obj_is_active(k));
    pid2 = dnsmasq_pid(k);
    ck_assert_msg(pid2 != pid && pid_alive(pid2), "dnsmasq %d after %d", (int)pid2, (int)pid);
    ck_assert(table_exists("hr"));
    /* the bridge vanished: inactive, its dnsmasq and table removed */
    ck_assert(run_rc("ip", "link set hybr1 down") == 0 && run_rc("ip", "link del hybr1") == 0);
    reopen();
    ck_assert((k2 = lookup("hr")) && !hyve_net_obj_is_active(k2));
    ck_assert(hyve_net_obj_is_persistent(k2));
    ck_assert_msg(wait_dead(pid2), "dnsmasq %d still running", (int)pid2);
    ck_assert(!table_exists("hr"));
    ck_assert(!g_file_test(status, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_host_shutdown)
{
    g_autofree char *xp = nat_xml("hp", "hybr2", 79), *xt = nat_xml("ht", "hybr3", 80);
    g_autoptr(HyveNetObj) p = started(xp), t = transient(xt), k = NULL;
    pid_t ppid = dnsmasq_pid(p), tpid = dnsmasq_pid(t);
    g_autofree char *ev = NULL;

    ck_assert(pid_alive(ppid) && pid_alive(tpid));
    hyve_networks_shutdown(nets);
    ck_assert(if_nametoindex("hybr3") == 0 && !table_exists("ht") && wait_dead(tpid));
    ck_assert(!lookup("ht"));
    ck_assert(if_nametoindex("hybr2") > 0 && table_exists("hp") && pid_alive(ppid));
    ev = take_events();
    ck_assert_str_eq(ev, "DEFINED hp,STARTED hp,STARTED ht");   /* no events at shutdown */
    reopen();
    ck_assert((k = lookup("hp")) && hyve_net_obj_is_active(k));
    ck_assert_int_eq(dnsmasq_pid(k), ppid);
}
END_TEST

START_TEST(test_host_conflicts)
{
    g_autofree char *x = nat_xml("ov1", "hybr4", 81), *xr = nat_xml("rt", "hybr6", 82);
    g_autoptr(HyveNetObj) a = started(x), ex = NULL, rt = NULL, uw = NULL;
    g_autoptr(GError) err = NULL;

    /* a subnet overlapping an active network's */
    ck_assert(!hyve_networks_create_xml(nets, "<network><name>ov2</name><bridge name='hybr5'/>"
                                        "<ip address='10.81.0.129' prefix='25'/></network>",
                                        0, &err));
    check_error("overlap", err, HYVE_ERR_INTERNAL_ERROR,
                "internal error: Network is already in use by interface hybr4");
    ck_assert(if_nametoindex("hybr5") == 0 && !lookup("ov2"));
    g_clear_error(&err);
    /* a host device with the bridge's name is left alone */
    ex = define("<network><name>ex</name><bridge name='hydummy0'/></network>");
    ck_assert(!hyve_networks_start(nets, ex, &err));
    check_error("device exists", err, HYVE_ERR_SYSTEM_ERROR,
                "error creating bridge interface hydummy0: File exists");
    ck_assert(if_nametoindex("hydummy0") > 0 && !hyve_net_obj_is_active(ex));
    g_clear_error(&err);
    /* a host route with the same subnet */
    ck_assert(run_rc("ip", "link add hyr0 type bridge") == 0 &&
              run_rc("ip", "addr add 10.82.0.5/24 dev hyr0") == 0 &&
              run_rc("ip", "link set hyr0 up") == 0);
    rt = define(xr);
    ck_assert(!hyve_networks_start(nets, rt, &err));
    run_rc("ip", "link del hyr0");
    check_error("route", err, HYVE_ERR_INTERNAL_ERROR,
                "internal error: Network is already in use by interface hyr0");
    ck_assert(if_nametoindex("hybr6") == 0);
    g_clear_error(&err);
    /* dnsmasq refuses its config: bridge and table are undone */
    uw = define("<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>"
                "<name>uw</name><bridge name='hybr7'/><forward/>"
                "<ip address='10.83.0.1' prefix='24'><dhcp><range start='10.83.0.2' "
                "end='10.83.0.9'/></dhcp></ip><dnsmasq:options>"
                "<dnsmasq:option value='no-such-option=1'/></dnsmasq:options></network>");
    ck_assert(!hyve_networks_start(nets, uw, &err));
    ck_assert_msg(err->code == HYVE_ERR_INTERNAL_ERROR, "dnsmasq failure: %s", err->message);
    ck_assert(if_nametoindex("hybr7") == 0 && !table_exists("uw"));
    ck_assert(!hyve_net_obj_is_active(uw));
}
END_TEST

void
network_add_host_tests(TCase *tc)
{
    tcase_add_test(tc, test_host_nat);
    tcase_add_test(tc, test_host_recovery);
    tcase_add_test(tc, test_host_shutdown);
    tcase_add_test(tc, test_host_conflicts);
}
