/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_server.c: the real server (in-process, real driver on a temp
 * dir) driven with raw packets: dispatch errors libvirt clients rely on,
 * auth/open/read-only checks, keepalive, client limits, fd passing,
 * events, and the dispatch table itself.
 */
#include "hyve-config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "test_daemon_util.h"

/* ---- table of single calls and the error they must get ------------------ */

typedef enum { PRE_NONE, PRE_AUTH, PRE_OPEN, PRE_OPEN_RO, PRE_OPEN_TWICE } Preamble;
typedef enum { ARGS_NONE, ARGS_FEATURE10, ARGS_OPEN_QEMU, ARGS_DEFINE, ARGS_EVENT27,
               ARGS_NET_EVENT1, ARGS_OPEN_SYSTEM, ARGS_DEREG99, ARGS_MEM_STATS_FLAG1,
               ARGS_CPU_STATS_FLAG1 } ArgsKind;

typedef struct {
    const char *name;
    HyvedAuth rw_auth;
    gboolean ro_socket;
    Preamble pre;
    guint32 prog;
    gint32 proc;
    gint32 status;
    ArgsKind args;
    int code;               /* expected error; 0 = success expected */
    int domain;
    const char *message;    /* prefix of the error message */
} CallCase;

#define RP HYVED_PROGRAM_REMOTE

static const CallCase call_cases[] = {
    { "unknown-proc", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP, 9999, 0, ARGS_NONE,
      39, 7, "unknown procedure: 9999" },
    { "unknown-proc-before-open", HYVED_AUTH_NONE, FALSE, PRE_NONE, RP, 426, 0, ARGS_NONE,
      39, 7, "unknown procedure: 426" },
    { "unknown-program", HYVED_AUTH_NONE, FALSE, PRE_NONE, 0x12345, 1, 0, ARGS_NONE,
      39, 7, "Cannot find program 74565 version 1" },
    { "call-status-error", HYVED_AUTH_NONE, FALSE, PRE_NONE, RP, REMOTE_PROC_AUTH_LIST, 1,
      ARGS_NONE, 39, 7, "Unexpected message status 1" },
    { "not-open", HYVED_AUTH_NONE, FALSE, PRE_AUTH, RP, REMOTE_PROC_CONNECT_GET_URI, 0,
      ARGS_NONE, 1, 7, "internal error: connection not open" },
    { "auth-required", HYVED_AUTH_POLKIT, FALSE, PRE_NONE, RP, REMOTE_PROC_CONNECT_OPEN, 0,
      ARGS_OPEN_SYSTEM, 39, 7, "authentication required" },
    { "feature-before-open", HYVED_AUTH_NONE, FALSE, PRE_AUTH, RP,
      REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, 0, ARGS_FEATURE10, 0, 0, NULL },
    { "bad-payload", HYVED_AUTH_NONE, FALSE, PRE_AUTH, RP, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE,
      0, ARGS_NONE, 39, 7, "Unable to decode message payload" },
    /* libvirtd's virCheckReadOnlyGoto: OPERATION_DENIED from DOMAIN */
    { "ro-socket-define", HYVED_AUTH_NONE, TRUE, PRE_OPEN, RP, REMOTE_PROC_DOMAIN_DEFINE_XML, 0,
      ARGS_DEFINE, 29, 20, "operation forbidden: read only access prevents virDomainDefineXML" },
    { "ro-flag-define", HYVED_AUTH_NONE, FALSE, PRE_OPEN_RO, RP, REMOTE_PROC_DOMAIN_DEFINE_XML, 0,
      ARGS_DEFINE, 29, 20, "operation forbidden: read only access prevents virDomainDefineXML" },
    { "rw-define", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP, REMOTE_PROC_DOMAIN_DEFINE_XML, 0,
      ARGS_DEFINE, 0, 0, NULL },
    { "open-twice", HYVED_AUTH_NONE, FALSE, PRE_OPEN_TWICE, RP, REMOTE_PROC_CONNECT_OPEN, 0,
      ARGS_OPEN_SYSTEM, 1, 7, "internal error: connection already open" },
    { "open-foreign-uri", HYVED_AUTH_NONE, FALSE, PRE_AUTH, RP, REMOTE_PROC_CONNECT_OPEN, 0,
      ARGS_OPEN_QEMU, 5, 0, NULL },
    { "bad-event-id", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP,
      REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, 0, ARGS_EVENT27,
      8, 7, "invalid argument: unsupported event ID 27" },
    { "bad-net-event-id", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP,
      REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY, 0, ARGS_NET_EVENT1,
      8, 7, "invalid argument: unsupported network event ID 1" },
    { "deregister-unknown", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP,
      REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, 0, ARGS_DEREG99,
      55, 7, NULL },
    /* the flags error names the handler, as libvirt's names its function */
    { "mem-stats-bad-flags", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP,
      REMOTE_PROC_NODE_GET_MEMORY_STATS, 0, ARGS_MEM_STATS_FLAG1, 8, 57,
      "invalid argument: unsupported flags (0x1) in function hyved_remote_node_get_memory_stats" },
    { "cpu-stats-bad-flags", HYVED_AUTH_NONE, FALSE, PRE_OPEN, RP,
      REMOTE_PROC_NODE_GET_CPU_STATS, 0, ARGS_CPU_STATS_FLAG1, 8, 57,
      "invalid argument: unsupported flags (0x1) in function hyved_remote_node_get_cpu_stats" },
};

static const char vm_xml[] =
    "<domain type='bhyve'><name>t1</name><memory unit='MiB'>64</memory>"
    "<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

START_TEST(test_call_case)
{
    const CallCase *tc = &call_cases[_i];
    TestServer *ts = test_server_start(tc->rw_auth, NULL);
    int fd = test_connect(tc->ro_socket ? ts->sock_ro : ts->sock_rw);
    remote_connect_supports_feature_args feat = { .feature = 10 };
    remote_connect_supports_feature_ret feat_ret = { 0 };
    char *qemu = (char *) "qemu:///system", *sys = (char *) "bhyve:///system";
    remote_connect_open_args open_qemu = { .name = &qemu }, open_sys = { .name = &sys };
    char *xml = (char *) vm_xml;
    remote_domain_define_xml_args define = { .xml = xml };
    remote_domain_define_xml_ret define_ret = { { 0 } };
    remote_connect_domain_event_callback_register_any_args ev = { .eventID = 27 };
    remote_connect_network_event_register_any_args nev = { .eventID = 1 };
    remote_connect_domain_event_callback_deregister_any_args dereg = { .callbackID = 99 };
    remote_node_get_memory_stats_args mem_stats = { .nparams = 0, .cellNum = -1, .flags = 1 };
    remote_node_get_cpu_stats_args cpu_stats = { .cpuNum = -1, .nparams = 0, .flags = 1 };
    xdrproc_t af = NULL, rf = NULL;
    void *a = NULL, *r = NULL;
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    TestReply rep = { 0 };

    if (tc->pre == PRE_AUTH) {
        remote_auth_list_ret auth = { 0 };
        ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 100, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &rep));
        xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    } else if (tc->pre != PRE_NONE) {
        test_open(fd, "bhyve:///system", tc->pre == PRE_OPEN_RO ? 1 : 0);
    }

    switch (tc->args) {
    case ARGS_NONE: break;
    case ARGS_FEATURE10: af = (xdrproc_t) xdr_remote_connect_supports_feature_args; a = &feat;
        rf = (xdrproc_t) xdr_remote_connect_supports_feature_ret; r = &feat_ret; break;
    case ARGS_OPEN_QEMU: af = (xdrproc_t) xdr_remote_connect_open_args; a = &open_qemu; break;
    case ARGS_OPEN_SYSTEM: af = (xdrproc_t) xdr_remote_connect_open_args; a = &open_sys; break;
    case ARGS_DEFINE: af = (xdrproc_t) xdr_remote_domain_define_xml_args; a = &define;
        rf = (xdrproc_t) xdr_remote_domain_define_xml_ret; r = &define_ret; break;
    case ARGS_EVENT27: af = (xdrproc_t) xdr_remote_connect_domain_event_callback_register_any_args;
        a = &ev; break;
    case ARGS_NET_EVENT1: af = (xdrproc_t) xdr_remote_connect_network_event_register_any_args;
        a = &nev; break;
    case ARGS_DEREG99: af = (xdrproc_t) xdr_remote_connect_domain_event_callback_deregister_any_args;
        a = &dereg; break;
    case ARGS_MEM_STATS_FLAG1: af = (xdrproc_t) xdr_remote_node_get_memory_stats_args;
        a = &mem_stats; break;
    case ARGS_CPU_STATS_FLAG1: af = (xdrproc_t) xdr_remote_node_get_cpu_stats_args;
        a = &cpu_stats; break;
    }

    ck_assert_msg(test_send(fd, tc->prog, tc->proc, HYVED_TYPE_CALL, 7, tc->status, af, a),
                  "%s: send", tc->name);
    ck_assert_msg(test_recv(fd, &hdr, &payload, 10000, NULL), "%s: no reply", tc->name);
    ck_assert_msg(hdr.type == HYVED_TYPE_REPLY && hdr.serial == 7 && hdr.proc == tc->proc &&
                  hdr.prog == tc->prog, "%s: reply header type %d serial %u proc %d prog 0x%x",
                  tc->name, hdr.type, hdr.serial, hdr.proc, hdr.prog);
    if (tc->code == 0) {
        gsize len;
        const guint8 *data = g_bytes_get_data(payload, &len);
        ck_assert_msg(hdr.status == HYVED_STATUS_OK, "%s: status %d", tc->name, hdr.status);
        if (rf) {
            ck_assert_msg(hyved_packet_decode_payload(data, len, rf, r, NULL), "%s: ret", tc->name);
            xdr_free(rf, r);
        }
    } else {
        remote_error e = { 0 };
        gsize len;
        const guint8 *data = g_bytes_get_data(payload, &len);

        ck_assert_msg(hdr.status == HYVED_STATUS_ERROR, "%s: status %d, expected ERROR",
                      tc->name, hdr.status);
        ck_assert_msg(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_error, &e, NULL),
                      "%s: undecodable remote_error", tc->name);
        ck_assert_msg(e.code == tc->code && (tc->domain == 0 || e.domain == tc->domain) &&
                      e.level == 2, "%s: code %d domain %d level %d, expected %d/%d/2", tc->name,
                      e.code, e.domain, e.level, tc->code, tc->domain);
        ck_assert_msg(!tc->message || (e.message && g_str_has_prefix(*e.message, tc->message)),
                      "%s: message '%s', expected prefix '%s'", tc->name,
                      e.message ? *e.message : "(none)", tc->message);
        xdr_free((xdrproc_t) xdr_remote_error, (char *) &e);
    }
    test_reply_clear(&rep);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* ---- table sanity ----------------------------------------------------------- */

START_TEST(test_table)
{
    g_autoptr(GArray) known = hyved_dispatch_list_known();
    static const struct { gint32 proc; guint need, forbid; } must[] = {
        { REMOTE_PROC_AUTH_LIST, HYVED_PROC_NO_AUTH | HYVED_PROC_NO_OPEN, HYVED_PROC_WRITE },
        { REMOTE_PROC_AUTH_POLKIT, HYVED_PROC_NO_AUTH | HYVED_PROC_NO_OPEN, HYVED_PROC_INLINE },
        { REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, HYVED_PROC_NO_OPEN, HYVED_PROC_NO_AUTH },
        { REMOTE_PROC_CONNECT_OPEN, HYVED_PROC_NO_OPEN, HYVED_PROC_NO_AUTH | HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_CLOSE, 0, HYVED_PROC_NO_OPEN | HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_GET_URI, 0, HYVED_PROC_NO_OPEN },
        { REMOTE_PROC_CONNECT_IS_SECURE, 0, 0 },
        { REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_DOMAIN_EVENT_DEREGISTER, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_CONNECT_SECRET_EVENT_REGISTER_ANY, 0, HYVED_PROC_WRITE },
        { REMOTE_PROC_DOMAIN_DEFINE_XML, HYVED_PROC_WRITE, HYVED_PROC_NO_OPEN },
        { REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, 0, HYVED_PROC_WRITE | HYVED_PROC_NO_OPEN },
    };

    for (guint i = 1; i < known->len; i++)
        ck_assert_msg(g_array_index(known, gint32, i - 1) < g_array_index(known, gint32, i),
                      "known list not ascending at %u", i);
    for (guint i = 0; i < known->len; i++) {
        const HyvedProcedure *p = hyved_dispatch_find(g_array_index(known, gint32, i));
        ck_assert_msg(p && p->proc == g_array_index(known, gint32, i) && p->handler && p->name,
                      "entry %d broken", g_array_index(known, gint32, i));
        ck_assert_msg((p->args_size == 0) == (p->args_filter == NULL ||
                      p->args_filter == (xdrproc_t) (void (*)(void)) xdr_void),
                      "%s: args size/filter mismatch", p->name);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(must); i++) {
        const HyvedProcedure *p = hyved_dispatch_find(must[i].proc);
        ck_assert_msg(p, "procedure %d missing", must[i].proc);
        ck_assert_msg((p->flags & must[i].need) == must[i].need, "%s: flags 0x%x lack 0x%x",
                      p->name, p->flags, must[i].need);
        ck_assert_msg((p->flags & must[i].forbid) == 0, "%s: flags 0x%x must not have 0x%x",
                      p->name, p->flags, must[i].forbid);
    }
    ck_assert_msg(hyved_dispatch_find(0) == NULL && hyved_dispatch_find(-1) == NULL &&
                  hyved_dispatch_find(100000) == NULL, "out-of-range lookups must be NULL");
}
END_TEST



int
main(void)
{
    Suite *s = suite_create("daemon-server");
    TCase *calls = tcase_create("calls");
    TCase *scen = tcase_create("scenarios");
    TCase *hostile = tcase_create("hostile");

    tcase_set_timeout(calls, 60);
    tcase_set_timeout(scen, 60);
    tcase_set_timeout(hostile, 60);
    tcase_add_loop_test(calls, test_call_case, 0, G_N_ELEMENTS(call_cases));
    tcase_add_test(calls, test_table);
    test_daemon_add_scenarios(scen);
    test_daemon_add_hostile(hostile);
    suite_add_tcase(s, calls);
    suite_add_tcase(s, scen);
    suite_add_tcase(s, hostile);
    return test_suite_run(s);
}
