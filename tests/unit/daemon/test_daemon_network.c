/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_network.c (daemon-network): the network procedures of the
 * real server on the real driver in a temporary root, driven with packets:
 * the inactive lifecycle, list filters, errors, read-only refusals, the
 * unsupported calls, lifecycle events; as root, inside a network and mount
 * namespace of the test's own (made first thing in main), start/destroy
 * and transient networks too (skipped otherwise).
 */
#include "hyve-config.h"

#include <check.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "test_daemon_util.h"
#include "hyve_network.h"

static gboolean in_netns;      /* root in namespaces of our own: may start networks */
static guint32 serial = 10;

#define UUID1 "c7a5fdbd-edaf-9455-926a-d65c16db1809"
#define NET1 "<network><name>tn1</name><uuid>" UUID1 "</uuid><bridge name='hyt1'/>" \
    "<ip address='10.77.1.1' netmask='255.255.255.0'><dhcp><range start='10.77.1.2' " \
    "end='10.77.1.9'/></dhcp></ip></network>"
#define NET2 "<network><name>tn2</name><bridge name='hyt2'/></network>"

static gpointer
server_thread(gpointer data)
{
    TestServer *ts = data;

    g_main_context_push_thread_default(ts->ctx);
    hyved_server_run(ts->server);
    g_main_context_pop_thread_default(ts->ctx);
    return NULL;
}

/* The server on @dir (kept when given: a restart), with libvirt's schemas
 * for VALIDATE and optionally the 'default' network. */
static TestServer *
net_server_start(const char *dir, gboolean default_network)
{
    TestServer *ts = g_new0(TestServer, 1);
    HyveDriverConfig d = { .privileged = TRUE, .runner_path = (char *) "/bin/false",
                           .uri = (char *) "bhyve:///system",
                           .schema_dir = (char *) HYVE_LIBVIRT_SCHEMA_DIR,
                           .default_network = default_network };
    g_autoptr(GError) err = NULL;
    g_autofree char *etc = NULL, *state = NULL, *log = NULL;

    ts->dir = dir ? g_strdup(dir) : test_tmpdir_new("hyved-net-XXXXXX");
    d.config_dir = etc = g_build_filename(ts->dir, "etc", NULL);
    d.state_dir = state = g_build_filename(ts->dir, "state", NULL);
    d.log_dir = d.cache_dir = log = g_build_filename(ts->dir, "log", NULL);
    ts->sock_rw = g_build_filename(ts->dir, "sock", NULL);
    ts->sock_ro = g_build_filename(ts->dir, "sock-ro", NULL);
    hyved_config_init(&ts->cfg, TRUE);
    ts->driver = hyve_driver_new(&d, &err);
    ck_assert_msg(ts->driver, "driver: %s", err ? err->message : "?");
    ts->ctx = g_main_context_new();
    ts->server = hyved_server_new(&ts->cfg, ts->driver, TRUE, ts->ctx, &err);
    ck_assert_msg(ts->server && hyved_server_add_unix_listener(ts->server, ts->sock_rw, FALSE,
                  HYVED_AUTH_NONE, 0600, NULL, &err) && hyved_server_add_unix_listener(
                  ts->server, ts->sock_ro, TRUE, HYVED_AUTH_NONE, 0600, NULL, &err),
                  "server: %s", err ? err->message : "?");
    ts->thread = g_thread_new("hyved-net-io", server_thread, ts);
    return ts;
}

/* Stops the server; removes its directory unless @keep. */
static void
net_server_stop(TestServer *ts, gboolean keep)
{
    hyved_server_quit(ts->server);
    g_thread_join(ts->thread);
    hyved_server_free(ts->server);
    hyve_driver_free(ts->driver);
    g_main_context_unref(ts->ctx);
    hyved_config_clear(&ts->cfg);
    if (!keep)
        test_tree_remove(ts->dir);
    g_free(ts->dir);
    g_free(ts->sock_rw);
    g_free(ts->sock_ro);
    g_free(ts);
}

static int
net_connect(TestServer *ts, gboolean ro)
{
    int fd = test_connect(ro ? ts->sock_ro : ts->sock_rw);

    test_open(fd, "bhyve:///system", ro ? 1 : 0);
    return fd;
}

/* CALL with args/ret structs remote_<lower>_args/_ret (NULL: none). */
#define CALL(fd, PROC, a, af, r, rf, rep) \
    test_call((fd), REMOTE_PROC_##PROC, serial++, (xdrproc_t) (af), (a), (xdrproc_t) (rf), \
              (r), (rep))
#define XA(lower) xdr_remote_##lower##_args
#define XR(lower) xdr_remote_##lower##_ret

static void
expect_ok(TestReply *r, const char *what)
{
    ck_assert_msg(!r->is_error, "%s: error %d/%d '%s'", what, r->code, r->domain, r->message);
}

static void
expect_error(TestReply *r, int code, int domain, const char *prefix, const char *what)
{
    ck_assert_msg(r->is_error && r->code == code && r->domain == domain &&
                  (!prefix || g_str_has_prefix(r->message, prefix)),
                  "%s: wanted %d/%d '%s', got %s %d/%d '%s'", what, code, domain,
                  prefix ? prefix : "", r->is_error ? "error" : "success", r->code, r->domain,
                  r->message ? r->message : "");
    test_reply_clear(r);
}

static void
define(int fd, gint32 proc, const char *xml, remote_nonnull_network *out)
{
    remote_network_define_xml_flags_args a = { .xml = (char *) xml };
    remote_network_define_xml_ret r = { 0 };
    TestReply rep;

    /* DEFINE_XML's args are a prefix of DEFINE_XML_FLAGS'; same for CREATE_XML */
    ck_assert(test_call(fd, proc, serial++,
                        proc == REMOTE_PROC_NETWORK_DEFINE_XML ||
                        proc == REMOTE_PROC_NETWORK_CREATE_XML ?
                        (xdrproc_t) XA(network_define_xml) : (xdrproc_t) XA(network_define_xml_flags),
                        &a, (xdrproc_t) XR(network_define_xml), &r, &rep));
    expect_ok(&rep, xml);
    if (out)
        *out = r.net;
    else
        xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &r.net);
}

/* CONNECT_LIST_ALL_NETWORKS: the names, comma-separated (g_free). */
static char *
list_all(int fd, guint flags, gboolean need, guint *count)
{
    remote_connect_list_all_networks_args a = { .need_results = need, .flags = flags };
    remote_connect_list_all_networks_ret r = { 0 };
    GString *names = g_string_new(NULL);
    TestReply rep;

    ck_assert(CALL(fd, CONNECT_LIST_ALL_NETWORKS, &a, XA(connect_list_all_networks), &r,
                   XR(connect_list_all_networks), &rep));
    expect_ok(&rep, "list all");
    for (u_int i = 0; i < r.nets.nets_len; i++)
        g_string_append_printf(names, "%s%s", i ? "," : "", r.nets.nets_val[i].name);
    *count = r.ret;
    xdr_free((xdrproc_t) XR(connect_list_all_networks), (char *) &r);
    return g_string_free(names, FALSE);
}

/* A yes/no query (IS_ACTIVE, IS_PERSISTENT, GET_AUTOSTART: same layout). */
static int
query(int fd, gint32 proc, remote_nonnull_network *net)
{
    remote_network_is_active_args a = { .net = *net };
    remote_network_is_active_ret r = { 0 };
    TestReply rep;

    ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_is_active), &a,
                        (xdrproc_t) XR(network_is_active), &r, &rep));
    expect_ok(&rep, "query");
    return r.active;
}

/* A call on one network with no ret (CREATE, DESTROY, UNDEFINE). */
static void
net_op(int fd, gint32 proc, remote_nonnull_network *net, TestReply *rep)
{
    remote_network_create_args a = { .net = *net };

    ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_create), &a, NULL, NULL,
                        rep));
}

static char *
get_xml(int fd, remote_nonnull_network *net, guint flags)
{
    remote_network_get_xml_desc_args a = { .net = *net, .flags = flags };
    remote_network_get_xml_desc_ret r = { 0 };
    TestReply rep;

    ck_assert(CALL(fd, NETWORK_GET_XML_DESC, &a, XA(network_get_xml_desc), &r,
                   XR(network_get_xml_desc), &rep));
    expect_ok(&rep, "xml");
    return r.xml;
}


/* Define, look up, query, list, autostart, XML, undefine: an inactive
 * network through every read procedure. */
START_TEST(test_inactive_lifecycle)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, FALSE);
    remote_nonnull_network n1 = { 0 };
    remote_network_lookup_by_name_args ln = { .name = (char *) "tn1" };
    remote_network_lookup_by_uuid_args lu = { 0 };
    remote_network_lookup_by_name_ret lr = { 0 };
    remote_network_set_autostart_args sa = { .autostart = 1 };
    remote_network_get_bridge_name_args ba = { 0 };
    remote_network_get_bridge_name_ret br = { 0 };
    remote_connect_list_defined_networks_args lda = { .maxnames = 10 };
    remote_connect_list_defined_networks_ret ldr = { 0 };
    remote_connect_num_of_networks_ret num = { 0 };
    remote_network_get_dhcp_leases_args da = { .need_results = 1 };
    remote_network_get_dhcp_leases_ret dr = { 0 };
    g_autofree char *xml = NULL, *inactive = NULL, *errors = NULL, *names = NULL;
    guint count = 0;
    TestReply rep;

    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    ck_assert_str_eq(n1.name, "tn1");
    ck_assert(CALL(fd, NETWORK_LOOKUP_BY_NAME, &ln, XA(network_lookup_by_name), &lr,
                   XR(network_lookup_by_name), &rep));
    expect_ok(&rep, "lookup by name");
    ck_assert(memcmp(lr.net.uuid, n1.uuid, HYVE_UUID_LEN) == 0);
    xdr_free((xdrproc_t) XR(network_lookup_by_name), (char *) &lr);
    memcpy(lu.uuid, n1.uuid, HYVE_UUID_LEN);
    ck_assert(CALL(fd, NETWORK_LOOKUP_BY_UUID, &lu, XA(network_lookup_by_uuid), &lr,
                   XR(network_lookup_by_uuid), &rep));
    expect_ok(&rep, "lookup by uuid");
    ck_assert_str_eq(lr.net.name, "tn1");
    xdr_free((xdrproc_t) XR(network_lookup_by_uuid), (char *) &lr);

    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_IS_ACTIVE, &n1), 0);
    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_IS_PERSISTENT, &n1), 1);
    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_GET_AUTOSTART, &n1), 0);
    sa.net = n1;
    ck_assert(CALL(fd, NETWORK_SET_AUTOSTART, &sa, XA(network_set_autostart), NULL, NULL, &rep));
    expect_ok(&rep, "set autostart");
    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_GET_AUTOSTART, &n1), 1);

    xml = get_xml(fd, &n1, 0);
    inactive = get_xml(fd, &n1, HYVE_NET_XML_INACTIVE);
    ck_assert_msg(strstr(xml, "<name>tn1</name>") && strstr(xml, UUID1) &&
                  strstr(xml, "hyt1") && strstr(inactive, "<name>tn1</name>"), "xml: %s", xml);
    ck_assert_msg(test_schema_validate_file(xml, "network.rng", &errors), "%s: %s", xml, errors);
    ba.net = n1;
    ck_assert(CALL(fd, NETWORK_GET_BRIDGE_NAME, &ba, XA(network_get_bridge_name), &br,
                   XR(network_get_bridge_name), &rep));
    expect_ok(&rep, "bridge name");
    ck_assert_str_eq(br.name, "hyt1");
    xdr_free((xdrproc_t) XR(network_get_bridge_name), (char *) &br);

    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS, NET2, NULL);   /* flags 0 */
    ck_assert(CALL(fd, CONNECT_LIST_DEFINED_NETWORKS, &lda, XA(connect_list_defined_networks),
                   &ldr, XR(connect_list_defined_networks), &rep));
    expect_ok(&rep, "list defined");
    ck_assert_msg(ldr.names.names_len == 2 && g_str_equal(ldr.names.names_val[0], "tn1") &&
                  g_str_equal(ldr.names.names_val[1], "tn2"), "defined names: %u",
                  ldr.names.names_len);
    xdr_free((xdrproc_t) XR(connect_list_defined_networks), (char *) &ldr);
    ck_assert(CALL(fd, CONNECT_LIST_NETWORKS, &lda, XA(connect_list_networks), &ldr,
                   XR(connect_list_networks), &rep));
    expect_ok(&rep, "list active");
    ck_assert_int_eq(ldr.names.names_len, 0);
    ck_assert(CALL(fd, CONNECT_NUM_OF_DEFINED_NETWORKS, NULL, NULL, &num,
                   XR(connect_num_of_defined_networks), &rep));
    expect_ok(&rep, "num defined");
    ck_assert_int_eq(num.num, 2);
    ck_assert(CALL(fd, CONNECT_NUM_OF_NETWORKS, NULL, NULL, &num, XR(connect_num_of_networks),
                   &rep));
    expect_ok(&rep, "num active");
    ck_assert_int_eq(num.num, 0);

    /* leases of a network that never ran: none */
    da.net = n1;
    ck_assert(CALL(fd, NETWORK_GET_DHCP_LEASES, &da, XA(network_get_dhcp_leases), &dr,
                   XR(network_get_dhcp_leases), &rep));
    expect_ok(&rep, "leases");
    ck_assert(dr.ret == 0 && dr.leases.leases_len == 0);

    net_op(fd, REMOTE_PROC_NETWORK_UNDEFINE, &n1, &rep);
    expect_ok(&rep, "undefine");
    ck_assert(CALL(fd, NETWORK_LOOKUP_BY_NAME, &ln, XA(network_lookup_by_name), &lr,
                   XR(network_lookup_by_name), &rep));
    expect_error(&rep, HYVE_ERR_NO_NETWORK, HYVE_FROM_NETWORK,
                 "Network not found: no network with matching name 'tn1'", "after undefine");
    names = list_all(fd, 0, TRUE, &count);
    ck_assert_msg(count == 1 && g_str_equal(names, "tn2"), "after undefine: %s", names);
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* CONNECT_LIST_ALL_NETWORKS filters: tn1 autostart, tn2 not (both inactive,
 * persistent). */
static const struct {
    const char *name;
    guint flags;
    gboolean need;
    guint count;
    const char *names;
} list_cases[] = {
    { "all", 0, TRUE, 2, "tn1,tn2" },
    { "count only", 0, FALSE, 2, "" },
    { "inactive", 1, TRUE, 2, "tn1,tn2" },
    { "active", 2, TRUE, 0, "" },
    { "persistent", 4, TRUE, 2, "tn1,tn2" },
    { "transient", 8, TRUE, 0, "" },
    { "autostart", 16, TRUE, 1, "tn1" },
    { "no autostart", 32, TRUE, 1, "tn2" },
    { "active|inactive and autostart", 1 | 2 | 16, TRUE, 1, "tn1" },
};

START_TEST(test_list_filters)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, TRUE);
    int wfd = net_connect(ts, FALSE);
    remote_nonnull_network n1 = { 0 };
    remote_network_set_autostart_args sa = { .autostart = 1 };
    g_autofree char *names = NULL;
    guint count = 0;
    TestReply rep;

    define(wfd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    define(wfd, REMOTE_PROC_NETWORK_DEFINE_XML, NET2, NULL);
    sa.net = n1;
    ck_assert(CALL(wfd, NETWORK_SET_AUTOSTART, &sa, XA(network_set_autostart), NULL, NULL, &rep));
    expect_ok(&rep, "autostart");
    names = list_all(fd, list_cases[_i].flags, list_cases[_i].need, &count);
    ck_assert_msg(count == list_cases[_i].count && g_str_equal(names, list_cases[_i].names),
                  "%s: %u '%s'", list_cases[_i].name, count, names);
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(fd);
    close(wfd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* Refusals with libvirt's codes, domain NETWORK; tn1 (UUID1, bridge hyt1)
 * is defined, inactive. @str: the XML, name or MAC sent. */
static const struct {
    const char *name;
    gint32 proc;
    const char *str;
    guint flags;
    int code;
    const char *prefix;
} error_cases[] = {
    { "lookup unknown name", REMOTE_PROC_NETWORK_LOOKUP_BY_NAME, "nope", 0, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching name 'nope'" },
    { "lookup unknown uuid", REMOTE_PROC_NETWORK_LOOKUP_BY_UUID, NULL, 0, HYVE_ERR_NO_NETWORK,
      "Network not found: no network with matching uuid '00000000-0000-0000-0000-0000000000ff'" },
    { "start unknown", REMOTE_PROC_NETWORK_CREATE, NULL, 0, HYVE_ERR_NO_NETWORK, NULL },
    { "undefine unknown", REMOTE_PROC_NETWORK_UNDEFINE, NULL, 0, HYVE_ERR_NO_NETWORK, NULL },
    { "xml of unknown", REMOTE_PROC_NETWORK_GET_XML_DESC, NULL, 0, HYVE_ERR_NO_NETWORK, NULL },
    { "destroy inactive", REMOTE_PROC_NETWORK_DESTROY, "tn1", 0, HYVE_ERR_OPERATION_INVALID,
      "Requested operation is not valid: network 'tn1' is not active" },
    { "same name, other uuid", REMOTE_PROC_NETWORK_DEFINE_XML,
      "<network><name>tn1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1800</uuid></network>",
      0, HYVE_ERR_OPERATION_FAILED,
      "operation failed: network 'tn1' already exists with uuid " UUID1 },
    { "same uuid, other name", REMOTE_PROC_NETWORK_DEFINE_XML,
      "<network><name>tnx</name><uuid>" UUID1 "</uuid></network>", 0,
      HYVE_ERR_OPERATION_FAILED,
      "operation failed: network 'tn1' is already defined with uuid " UUID1 },
    { "bridge in use", REMOTE_PROC_NETWORK_DEFINE_XML,
      "<network><name>tnb</name><bridge name='hyt1'/></network>", 0, HYVE_ERR_INTERNAL_ERROR,
      "internal error: bridge name 'hyt1' already in use." },
    { "malformed", REMOTE_PROC_NETWORK_DEFINE_XML, "<network><name>x</name>", 0,
      HYVE_ERR_XML_ERROR, NULL },
    { "forward hostdev", REMOTE_PROC_NETWORK_DEFINE_XML, "<network><name>th</name><forward "
      "mode='hostdev'><pf dev='eth9'/></forward></network>", 0, HYVE_ERR_CONFIG_UNSUPPORTED,
      "unsupported configuration: unsupported forward mode 'hostdev' in network 'th'" },
    { "validate", REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS,
      "<network><name>tv</name><bogus/></network>", HYVE_NET_DEFINE_VALIDATE,
      HYVE_ERR_XML_INVALID_SCHEMA, NULL },
    { "define flags", REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS, NET2, 2, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function" },
    { "create flags", REMOTE_PROC_NETWORK_CREATE_XML_FLAGS, NET2, 2, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function" },
    { "xml flags", REMOTE_PROC_NETWORK_GET_XML_DESC, "tn1", 2, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function" },
    { "lease mac", REMOTE_PROC_NETWORK_GET_DHCP_LEASES, "tn1", 0, HYVE_ERR_INVALID_MAC, NULL },
    { "lease flags", REMOTE_PROC_NETWORK_GET_DHCP_LEASES, "tn1", 1, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x1) in function networkGetDHCPLeases" },
    { "update", REMOTE_PROC_NETWORK_UPDATE, "tn1", 0, HYVE_ERR_NO_SUPPORT,
      "this function is not supported by the connection driver: virNetworkUpdate" },
};

START_TEST(test_errors)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, FALSE);
    const char *name = error_cases[_i].name, *str = error_cases[_i].str;
    gint32 proc = error_cases[_i].proc;
    remote_nonnull_network n1 = { 0 }, unknown = { .name = (char *) "gone" };
    remote_nonnull_network *net = str && g_str_equal(str, "tn1") ? &n1 : &unknown;
    guint flags = error_cases[_i].flags;
    g_autofree char *names = NULL;
    guint count = 0;
    TestReply rep;

    unknown.uuid[15] = 0xff;
    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    if (proc == REMOTE_PROC_NETWORK_LOOKUP_BY_NAME) {
        remote_network_lookup_by_name_args a = { .name = (char *) str };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_lookup_by_name), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_LOOKUP_BY_UUID) {
        remote_network_lookup_by_uuid_args a = { 0 };
        memcpy(a.uuid, unknown.uuid, HYVE_UUID_LEN);
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_lookup_by_uuid), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_DEFINE_XML) {
        remote_network_define_xml_args a = { .xml = (char *) str };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_define_xml), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS ||
               proc == REMOTE_PROC_NETWORK_CREATE_XML_FLAGS) {
        remote_network_define_xml_flags_args a = { .xml = (char *) str, .flags = flags };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_define_xml_flags), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_GET_XML_DESC) {
        remote_network_get_xml_desc_args a = { .net = *net, .flags = flags };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_get_xml_desc), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_GET_DHCP_LEASES) {
        char *mac = (char *) "52:54:00:zz:00:01";
        remote_network_get_dhcp_leases_args a = { .net = *net, .mac = flags ? NULL : &mac,
                                                  .need_results = 1, .flags = flags };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_get_dhcp_leases), &a,
                            NULL, NULL, &rep));
    } else if (proc == REMOTE_PROC_NETWORK_UPDATE) {
        remote_network_update_args a = { .net = *net, .command = 1, .section = 4,
                                         .parentIndex = -1, .xml = (char *) "<host/>" };
        ck_assert(test_call(fd, proc, serial++, (xdrproc_t) XA(network_update), &a, NULL, NULL,
                            &rep));
    } else {
        net_op(fd, proc, net, &rep);
    }
    expect_error(&rep, error_cases[_i].code, HYVE_FROM_NETWORK, error_cases[_i].prefix, name);
    /* nothing changed */
    names = list_all(fd, 0, TRUE, &count);
    ck_assert_msg(count == 1 && g_str_equal(names, "tn1"), "%s: left %s", name, names);
    ck_assert_msg(query(fd, REMOTE_PROC_NETWORK_IS_ACTIVE, &n1) == 0, "%s: active", name);
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* A CALL with @len zero bytes of args (empty strings, zero UUIDs); the
 * error reply into @rep (asserted to be one). */
static void
zero_call(int fd, gint32 proc, gsize len, TestReply *rep)
{
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, proc, HYVED_TYPE_CALL, serial++, 0 };
    guint8 zeros[64] = { 0 };
    g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&call, zeros, len);
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GError) err = NULL;
    remote_error e = { 0 };
    HyvedHeader hdr;

    ck_assert(test_send_raw(fd, g_bytes_get_data(pkt, NULL), g_bytes_get_size(pkt)));
    do {
        g_clear_pointer(&payload, g_bytes_unref);
        ck_assert_msg(test_recv(fd, &hdr, &payload, 10000, NULL), "proc %d: no reply", proc);
    } while (hdr.type == HYVED_TYPE_MESSAGE);
    ck_assert_msg(hdr.status == HYVED_STATUS_ERROR && hdr.serial == call.serial,
                  "proc %d: status %d", proc, hdr.status);
    ck_assert(hyved_packet_decode_payload(g_bytes_get_data(payload, NULL),
                                          g_bytes_get_size(payload), (xdrproc_t) xdr_remote_error,
                                          &e, &err));
    *rep = (TestReply) { TRUE, e.code, e.domain, g_strdup(e.message ? *e.message : "") };
    xdr_free((xdrproc_t) xdr_remote_error, (char *) &e);
}

/* Every state-changing network procedure on a read-only connection:
 * libvirt-network.c's refusal (domain NETWORK), before anything else. */
static const struct {
    gint32 proc;
    gsize len;
    const char *api;
} ro_cases[] = {
    { REMOTE_PROC_NETWORK_DEFINE_XML, 4, "virNetworkDefineXML" },
    { REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS, 8, "virNetworkDefineXMLFlags" },
    { REMOTE_PROC_NETWORK_CREATE_XML, 4, "virNetworkCreateXML" },
    { REMOTE_PROC_NETWORK_CREATE_XML_FLAGS, 8, "virNetworkCreateXMLFlags" },
    { REMOTE_PROC_NETWORK_CREATE, 20, "virNetworkCreate" },
    { REMOTE_PROC_NETWORK_DESTROY, 20, "virNetworkDestroy" },
    { REMOTE_PROC_NETWORK_UNDEFINE, 20, "virNetworkUndefine" },
    { REMOTE_PROC_NETWORK_SET_AUTOSTART, 24, "virNetworkSetAutostart" },
    { REMOTE_PROC_NETWORK_UPDATE, 40, "virNetworkUpdate" },
    { REMOTE_PROC_NETWORK_PORT_CREATE_XML, 28, "virNetworkPortCreateXML" },
    { REMOTE_PROC_NETWORK_PORT_SET_PARAMETERS, 44, "virNetworkPortSetParameters" },
    { REMOTE_PROC_NETWORK_PORT_DELETE, 40, "virNetworkPortDelete" },
};

START_TEST(test_readonly)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, TRUE);
    int wfd = net_connect(ts, FALSE);
    remote_nonnull_network n1 = { 0 };
    g_autofree char *want = g_strdup_printf("operation forbidden: read only access prevents %s",
                                            ro_cases[_i].api);
    g_autofree char *xml = NULL;
    TestReply rep;

    define(wfd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    zero_call(fd, ro_cases[_i].proc, ro_cases[_i].len, &rep);
    ck_assert_msg(g_str_equal(rep.message, want), "%s: '%s'", ro_cases[_i].api, rep.message);
    expect_error(&rep, HYVE_ERR_OPERATION_DENIED, HYVE_FROM_NETWORK, want, ro_cases[_i].api);
    /* a real request is refused as well, and reads still work */
    if (ro_cases[_i].len == 20) {
        net_op(fd, ro_cases[_i].proc, &n1, &rep);
        expect_error(&rep, HYVE_ERR_OPERATION_DENIED, HYVE_FROM_NETWORK, want, ro_cases[_i].api);
    }
    xml = get_xml(fd, &n1, 0);
    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_IS_PERSISTENT, &n1), 1);
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(fd);
    close(wfd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* Network ports (404-410): NO_SUPPORT naming the API, whatever the args. */
static const char *const port_apis[] = {
    "virNetworkListAllPorts", "virNetworkPortLookupByUUID", "virNetworkPortCreateXML",
    "virNetworkPortGetParameters", "virNetworkPortSetParameters", "virNetworkPortGetXMLDesc",
    "virNetworkPortDelete",
};

START_TEST(test_ports)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, FALSE);
    g_autofree char *want = g_strdup_printf("this function is not supported by the connection "
                                            "driver: %s", port_apis[_i]);
    TestReply rep;

    zero_call(fd, REMOTE_PROC_NETWORK_LIST_ALL_PORTS + _i, 28, &rep);
    ck_assert_msg(g_str_equal(rep.message, want), "%s: '%s'", port_apis[_i], rep.message);
    expect_error(&rep, HYVE_ERR_NO_SUPPORT, HYVE_FROM_NETWORK, want, port_apis[_i]);
    zero_call(fd, REMOTE_PROC_NETWORK_LIST_ALL_PORTS + _i, 0, &rep);
    expect_error(&rep, HYVE_ERR_NO_SUPPORT, HYVE_FROM_NETWORK, want, port_apis[_i]);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* An event MESSAGE, decoded. */
static void
expect_event(int fd, remote_network_event_lifecycle_msg *msg)
{
    g_autoptr(GBytes) p = NULL;
    g_autoptr(GError) err = NULL;
    HyvedHeader hdr;

    memset(msg, 0, sizeof(*msg));
    ck_assert_msg(test_recv(fd, &hdr, &p, 5000, NULL), "no network event");
    ck_assert_msg(hdr.type == HYVED_TYPE_MESSAGE && hdr.proc == REMOTE_PROC_NETWORK_EVENT_LIFECYCLE,
                  "got type %d proc %d instead of a network event", hdr.type, hdr.proc);
    ck_assert(hyved_packet_decode_payload(g_bytes_get_data(p, NULL), g_bytes_get_size(p),
                                          (xdrproc_t) xdr_remote_network_event_lifecycle_msg,
                                          msg, &err));
}

static int
register_events(int fd, remote_nonnull_network *filter)
{
    remote_connect_network_event_register_any_args a = { .eventID = 0, .net = filter };
    remote_connect_network_event_register_any_ret r = { 0 };
    TestReply rep;

    ck_assert(CALL(fd, CONNECT_NETWORK_EVENT_REGISTER_ANY, &a,
                   XA(connect_network_event_register_any), &r,
                   XR(connect_network_event_register_any), &rep));
    expect_ok(&rep, "register");
    return r.callbackID;
}

/* DEFINED and UNDEFINED reach every callback registered for them (callback
 * id, name, UUID), filtered ones only for their network; none after
 * deregistering. */
START_TEST(test_events)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, FALSE);
    int efd = net_connect(ts, TRUE);
    remote_nonnull_network other = { .name = (char *) "x" }, n1 = { 0 };
    remote_connect_network_event_deregister_any_args da = { 0 };
    remote_network_event_lifecycle_msg m;
    int cb_other, cb_all, cb_n1;
    TestReply rep;

    memset(other.uuid, 0xab, HYVE_UUID_LEN);
    cb_other = register_events(efd, &other);
    cb_all = register_events(efd, NULL);
    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    expect_event(efd, &m);
    ck_assert_msg(m.callbackID == cb_all && g_str_equal(m.net.name, "tn1") &&
                  memcmp(m.net.uuid, n1.uuid, HYVE_UUID_LEN) == 0 &&
                  m.event == HYVE_NET_EVENT_DEFINED && m.detail == 0,
                  "defined: callback %d (not %d) event %d", m.callbackID, cb_other, m.event);
    xdr_free((xdrproc_t) xdr_remote_network_event_lifecycle_msg, (char *) &m);
    cb_n1 = register_events(efd, &n1);
    net_op(fd, REMOTE_PROC_NETWORK_UNDEFINE, &n1, &rep);
    expect_ok(&rep, "undefine");
    for (int i = 0; i < 2; i++) {
        expect_event(efd, &m);
        ck_assert_msg((m.callbackID == cb_all || m.callbackID == cb_n1) &&
                      m.event == HYVE_NET_EVENT_UNDEFINED && g_str_equal(m.net.name, "tn1"),
                      "undefined: callback %d event %d", m.callbackID, m.event);
        xdr_free((xdrproc_t) xdr_remote_network_event_lifecycle_msg, (char *) &m);
    }
    ck_assert_msg(!test_recv(efd, &(HyvedHeader) { 0 }, NULL, 300, NULL),
                  "an event for the filtered callback arrived");
    for (int i = 0; i < 3; i++) {
        da.callbackID = (int[]) { cb_other, cb_all, cb_n1 }[i];
        ck_assert(CALL(efd, CONNECT_NETWORK_EVENT_DEREGISTER_ANY, &da,
                       XA(connect_network_event_deregister_any), NULL, NULL, &rep));
        expect_ok(&rep, "deregister");
    }
    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML, NET2, NULL);
    ck_assert_msg(!test_recv(efd, &(HyvedHeader) { 0 }, NULL, 300, NULL),
                  "an event arrived after deregistering");
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(efd);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* The system daemon's first start defines 'default' (inactive, persistent,
 * no autostart); once undefined, a restart does not bring it back. */
START_TEST(test_default_network)
{
    TestServer *ts = net_server_start(NULL, TRUE);
    g_autofree char *dir = g_strdup(ts->dir);
    g_autofree char *names = NULL, *xml = NULL;
    int fd = net_connect(ts, FALSE);
    remote_network_lookup_by_name_args ln = { .name = (char *) "default" };
    remote_network_lookup_by_name_ret lr = { 0 };
    guint count = 0;
    TestReply rep;

    names = list_all(fd, 1 | 4 | 32, TRUE, &count);
    ck_assert_msg(count == 1 && g_str_equal(names, "default"), "first start: %s", names);
    ck_assert(CALL(fd, NETWORK_LOOKUP_BY_NAME, &ln, XA(network_lookup_by_name), &lr,
                   XR(network_lookup_by_name), &rep));
    expect_ok(&rep, "lookup default");
    xml = get_xml(fd, &lr.net, 0);
    ck_assert_msg(strstr(xml, "virbr0") && strstr(xml, "192.168.122.1"), "default: %s", xml);
    net_op(fd, REMOTE_PROC_NETWORK_UNDEFINE, &lr.net, &rep);
    expect_ok(&rep, "undefine default");
    xdr_free((xdrproc_t) XR(network_lookup_by_name), (char *) &lr);
    close(fd);
    net_server_stop(ts, TRUE);

    ts = net_server_start(dir, TRUE);
    fd = net_connect(ts, FALSE);
    g_free(names);
    names = list_all(fd, 0, TRUE, &count);
    ck_assert_msg(count == 0, "default came back: %s", names);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

static void
expect_lifecycle(int efd, const char *name, int event)
{
    remote_network_event_lifecycle_msg m;

    expect_event(efd, &m);
    ck_assert_msg(m.event == event && g_str_equal(m.net.name, name), "event %d for %s, wanted "
                  "%d for %s", m.event, m.net.name, event, name);
    xdr_free((xdrproc_t) xdr_remote_network_event_lifecycle_msg, (char *) &m);
}

/* Root, in the test's own namespaces: start, destroy, undefine while
 * active, transient networks from CREATE_XML(_FLAGS); the bridges come and
 * go in this namespace only. */
START_TEST(test_active)
{
    TestServer *ts = net_server_start(NULL, FALSE);
    int fd = net_connect(ts, FALSE);
    int efd = net_connect(ts, TRUE);
    remote_nonnull_network n1 = { 0 }, t = { 0 };
    remote_network_set_autostart_args sa = { .autostart = 1 };
    remote_network_get_dhcp_leases_args da = { .need_results = 1 };
    remote_network_get_dhcp_leases_ret dr = { 0 };
    g_autofree char *xml = NULL, *errors = NULL, *names = NULL;
    guint count = 0;
    TestReply rep;

    register_events(efd, NULL);
    define(fd, REMOTE_PROC_NETWORK_DEFINE_XML, NET1, &n1);
    expect_lifecycle(efd, "tn1", HYVE_NET_EVENT_DEFINED);
    net_op(fd, REMOTE_PROC_NETWORK_CREATE, &n1, &rep);
    expect_ok(&rep, "start");
    expect_lifecycle(efd, "tn1", HYVE_NET_EVENT_STARTED);
    ck_assert_msg(if_nametoindex("hyt1") != 0, "no bridge hyt1 after start");
    ck_assert_int_eq(query(fd, REMOTE_PROC_NETWORK_IS_ACTIVE, &n1), 1);
    net_op(fd, REMOTE_PROC_NETWORK_CREATE, &n1, &rep);
    expect_error(&rep, HYVE_ERR_OPERATION_INVALID, HYVE_FROM_NETWORK,
                 "Requested operation is not valid: network is already active", "start twice");
    names = list_all(fd, 2, TRUE, &count);
    ck_assert_msg(count == 1 && g_str_equal(names, "tn1"), "active: %s", names);
    xml = get_xml(fd, &n1, 0);
    ck_assert_msg(test_schema_validate_file(xml, "network.rng", &errors), "%s: %s", xml, errors);
    da.net = n1;
    ck_assert(CALL(fd, NETWORK_GET_DHCP_LEASES, &da, XA(network_get_dhcp_leases), &dr,
                   XR(network_get_dhcp_leases), &rep));
    expect_ok(&rep, "leases");
    ck_assert_int_eq(dr.ret, 0);

    /* undefined while active: still running, now transient */
    net_op(fd, REMOTE_PROC_NETWORK_UNDEFINE, &n1, &rep);
    expect_ok(&rep, "undefine active");
    expect_lifecycle(efd, "tn1", HYVE_NET_EVENT_UNDEFINED);
    ck_assert(query(fd, REMOTE_PROC_NETWORK_IS_ACTIVE, &n1) == 1 &&
              query(fd, REMOTE_PROC_NETWORK_IS_PERSISTENT, &n1) == 0);
    sa.net = n1;
    ck_assert(CALL(fd, NETWORK_SET_AUTOSTART, &sa, XA(network_set_autostart), NULL, NULL, &rep));
    expect_error(&rep, HYVE_ERR_OPERATION_INVALID, HYVE_FROM_NETWORK,
                 "Requested operation is not valid: cannot set autostart for transient network",
                 "autostart transient");
    net_op(fd, REMOTE_PROC_NETWORK_UNDEFINE, &n1, &rep);
    expect_error(&rep, HYVE_ERR_OPERATION_INVALID, HYVE_FROM_NETWORK,
                 "Requested operation is not valid: can't undefine transient network",
                 "undefine transient");
    net_op(fd, REMOTE_PROC_NETWORK_DESTROY, &n1, &rep);
    expect_ok(&rep, "destroy");
    expect_lifecycle(efd, "tn1", HYVE_NET_EVENT_STOPPED);
    ck_assert_msg(if_nametoindex("hyt1") == 0, "bridge hyt1 left after destroy");

    /* transient networks */
    for (int i = 0; i < 2; i++) {
        gint32 proc = i ? REMOTE_PROC_NETWORK_CREATE_XML_FLAGS : REMOTE_PROC_NETWORK_CREATE_XML;

        define(fd, proc, i ? "<network><name>tc</name><bridge name='hyt9'/><forward mode='route'/>"
               "<ip address='10.77.9.1' prefix='24'/></network>" :
               "<network><name>tc</name><bridge name='hyt9'/><forward/><ip address='10.77.9.1' "
               "prefix='24'/></network>", &t);
        expect_lifecycle(efd, "tc", HYVE_NET_EVENT_STARTED);
        ck_assert_msg(query(fd, REMOTE_PROC_NETWORK_IS_ACTIVE, &t) == 1 &&
                      query(fd, REMOTE_PROC_NETWORK_IS_PERSISTENT, &t) == 0 &&
                      if_nametoindex("hyt9") != 0, "create %d: not active and transient", i);
        g_free(names);
        names = list_all(fd, 8, TRUE, &count);
        ck_assert_msg(count == 1 && g_str_equal(names, "tc"), "transient: %s", names);
        net_op(fd, REMOTE_PROC_NETWORK_DESTROY, &t, &rep);
        expect_ok(&rep, "destroy transient");
        expect_lifecycle(efd, "tc", HYVE_NET_EVENT_STOPPED);
        ck_assert_msg(if_nametoindex("hyt9") == 0, "bridge hyt9 left");
        xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &t);
    }
    g_free(names);
    names = list_all(fd, 0, TRUE, &count);
    ck_assert_msg(count == 0, "left over: %s", names);
    xdr_free((xdrproc_t) xdr_remote_nonnull_network, (char *) &n1);
    close(efd);
    close(fd);
    net_server_stop(ts, FALSE);
}
END_TEST

/* Private namespaces for the whole run (root only): network and mount. */
static gboolean
enter_namespaces(void)
{
    struct ifreq ifr = { 0 };
    int s;
    gboolean ok;

    if (geteuid() != 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return FALSE;
    if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return FALSE;
    g_strlcpy(ifr.ifr_name, "lo", IFNAMSIZ);
    ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    close(s);
    return ok;
}

int
main(void)
{
    Suite *s = suite_create("daemon-network");
    TCase *tc = tcase_create("rpc");

    in_netns = enter_namespaces();
    tcase_add_test(tc, test_inactive_lifecycle);
    tcase_add_loop_test(tc, test_list_filters, 0, G_N_ELEMENTS(list_cases));
    tcase_add_loop_test(tc, test_errors, 0, G_N_ELEMENTS(error_cases));
    tcase_add_loop_test(tc, test_readonly, 0, G_N_ELEMENTS(ro_cases));
    tcase_add_loop_test(tc, test_ports, 0, G_N_ELEMENTS(port_apis));
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_default_network);
    if (in_netns)
        tcase_add_test(tc, test_active);
    else
        g_printerr("daemon-network: not root in namespaces of its own: start/destroy skipped\n");
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
