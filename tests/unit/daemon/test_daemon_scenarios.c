/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_scenarios.c: multi-packet behaviour of the server: keepalive,
 * client limits, framing errors, fd passing, event fan-out.
 */
#include "hyve-config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "test_daemon_util.h"
#include "hyved_client_priv.h"

static void
auth_list(int fd, guint32 serial, int *type)
{
    remote_auth_list_ret auth = { 0 };
    TestReply r;

    ck_assert_msg(test_call(fd, REMOTE_PROC_AUTH_LIST, serial, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r), "AUTH_LIST: no reply");
    ck_assert_msg(!r.is_error && auth.types.types_len == 1, "AUTH_LIST: bad reply");
    if (type)
        *type = auth.types.types_val[0];
    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
}

static int
supports_feature(int fd, guint32 serial, int feature)
{
    remote_connect_supports_feature_args a = { .feature = feature };
    remote_connect_supports_feature_ret r = { 0 };
    TestReply rep;

    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, serial,
                        (xdrproc_t) xdr_remote_connect_supports_feature_args, &a,
                        (xdrproc_t) xdr_remote_connect_supports_feature_ret, &r, &rep));
    ck_assert_msg(!rep.is_error, "SUPPORTS_FEATURE %d: %s", feature, rep.message);
    return r.supported;
}

static gboolean
send_keepalive(int fd, gint32 proc)
{
    return test_send(fd, HYVED_PROGRAM_KEEPALIVE, proc, HYVED_TYPE_MESSAGE, 0, 0, NULL, NULL);
}

START_TEST(test_ping_pong)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;

    ck_assert(send_keepalive(fd, HYVED_KEEPALIVE_PROC_PING));
    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "ping-pong: no PONG");
    ck_assert_msg(hdr.prog == HYVED_PROGRAM_KEEPALIVE && hdr.proc == HYVED_KEEPALIVE_PROC_PONG &&
                  hdr.type == HYVED_TYPE_MESSAGE && hdr.serial == 0 &&
                  g_bytes_get_size(payload) == 0, "ping-pong: not a PONG (proc %d)", hdr.proc);
    close(fd);
    test_server_stop(ts);
}
END_TEST

static void
fast_keepalive(HyvedConfig *cfg)
{
    cfg->keepalive_interval = 1;
    cfg->keepalive_count = 2;
}

START_TEST(test_keepalive_drop)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, fast_keepalive);
    int fd = test_connect(ts->sock_rw);
    HyvedHeader hdr;
    guint pings = 0;
    gboolean eof = FALSE;
    gint64 start;

    auth_list(fd, 0, NULL);
    ck_assert_msg(supports_feature(fd, 1, 10) == 1, "keepalive-drop: feature 10 must be 1");
    start = g_get_monotonic_time();
    while (test_recv(fd, &hdr, NULL, 8000, &eof)) {
        ck_assert_msg(hdr.prog == HYVED_PROGRAM_KEEPALIVE && hdr.proc == HYVED_KEEPALIVE_PROC_PING,
                      "keepalive-drop: unexpected packet proc %d", hdr.proc);
        pings++;
    }
    ck_assert_msg(eof, "keepalive-drop: not dropped within 8 s");
    ck_assert_msg(pings == 2, "keepalive-drop: %u PINGs before the drop, expected 2", pings);
    ck_assert_msg(g_get_monotonic_time() - start >= 2 * G_USEC_PER_SEC,
                  "keepalive-drop: dropped too early");
    close(fd);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_keepalive_answered)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, fast_keepalive);
    int fd = test_connect(ts->sock_rw);
    gint64 end;
    guint pings = 0;

    auth_list(fd, 0, NULL);
    ck_assert(supports_feature(fd, 1, 10) == 1);
    end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        HyvedHeader hdr;
        gboolean eof = FALSE;
        if (test_recv(fd, &hdr, NULL, 500, &eof)) {
            ck_assert(hdr.proc == HYVED_KEEPALIVE_PROC_PING);
            pings++;
            ck_assert(send_keepalive(fd, HYVED_KEEPALIVE_PROC_PONG));
        }
        ck_assert_msg(!eof, "keepalive-answered: dropped although PONGs were sent");
    }
    ck_assert_msg(pings >= 2, "keepalive-answered: only %u PINGs in 5 s", pings);
    auth_list(fd, 2, NULL);
    close(fd);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_no_ping_without_feature)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, fast_keepalive);
    int fd = test_connect(ts->sock_rw);
    HyvedHeader hdr;
    gboolean eof = FALSE;

    auth_list(fd, 0, NULL);
    ck_assert_msg(!test_recv(fd, &hdr, NULL, 3000, &eof) && !eof,
                  "no-ping: a client without feature 10 got a packet or was dropped");
    close(fd);
    test_server_stop(ts);
}
END_TEST

static void
two_clients(HyvedConfig *cfg)
{
    cfg->max_clients = 2;
}

START_TEST(test_max_clients)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, two_clients);
    int a = test_connect(ts->sock_rw);
    int b = test_connect(ts->sock_ro);
    int c;

    auth_list(a, 0, NULL);
    auth_list(b, 0, NULL);
    c = test_connect(ts->sock_rw);
    ck_assert_msg(test_wait_eof(c, 3000, NULL), "max-clients: third client not closed");
    close(c);
    close(a);
    /* a slot is free again once the server noticed */
    g_usleep(300 * 1000);
    c = test_connect(ts->sock_rw);
    auth_list(c, 0, NULL);
    close(b);
    close(c);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_bad_length)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int bad = test_connect(ts->sock_rw);
    int good = test_connect(ts->sock_rw);
    static const guint8 tiny[4] = { 0, 0, 0, 4 };
    static const guint8 huge[4] = { 0x7f, 0xff, 0xff, 0xff };

    ck_assert(test_send_raw(bad, tiny, 4));
    ck_assert_msg(test_wait_eof(bad, 3000, NULL), "bad-length: length 4 not dropped");
    close(bad);
    bad = test_connect(ts->sock_rw);
    ck_assert(test_send_raw(bad, huge, 4));
    ck_assert_msg(test_wait_eof(bad, 3000, NULL), "bad-length: 2 GiB length not dropped");
    close(bad);
    auth_list(good, 0, NULL);
    close(good);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_fd_passing)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int pipefd[2];
    guint32 body[2] = { GUINT32_TO_BE(1), GUINT32_TO_BE(10) };   /* nfds = 1, feature = 10 */
    guint32 hdr_words[7];
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                          .msg_controllen = sizeof(ctl.buf) };
    struct cmsghdr *c;
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    struct pollfd pfd;
    char junk;

    auth_list(fd, 0, NULL);
    ck_assert(pipe2(pipefd, O_CLOEXEC) == 0);
    hdr_words[0] = GUINT32_TO_BE(28 + 8);
    hdr_words[1] = GUINT32_TO_BE(HYVED_PROGRAM_REMOTE);
    hdr_words[2] = GUINT32_TO_BE(1);
    hdr_words[3] = GUINT32_TO_BE(REMOTE_PROC_CONNECT_SUPPORTS_FEATURE);
    hdr_words[4] = GUINT32_TO_BE(HYVED_TYPE_CALL_WITH_FDS);
    hdr_words[5] = GUINT32_TO_BE(5);
    hdr_words[6] = 0;
    ck_assert(test_send_raw(fd, hdr_words, sizeof(hdr_words)));
    ck_assert(test_send_raw(fd, body, sizeof(body)));
    c = CMSG_FIRSTHDR(&msg);
    ck_assert(c != NULL);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pipefd[1], sizeof(int));
    ck_assert(sendmsg(fd, &msg, 0) == 1);
    close(pipefd[1]);

    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "fd-passing: no reply");
    ck_assert_msg(hdr.serial == 5 && hdr.type == HYVED_TYPE_REPLY && hdr.status == HYVED_STATUS_OK,
                  "fd-passing: reply type %d status %d serial %u", hdr.type, hdr.status, hdr.serial);
    /* The server closed the descriptor nobody kept: the pipe sees EOF. */
    pfd.fd = pipefd[0];
    pfd.events = POLLIN;
    ck_assert_msg(poll(&pfd, 1, 3000) == 1 && read(pipefd[0], &junk, 1) == 0,
                  "fd-passing: server kept the passed fd open");
    close(pipefd[0]);
    /* and the stream is still in sync */
    auth_list(fd, 6, NULL);
    close(fd);
    test_server_stop(ts);
}
END_TEST

static int
register_lifecycle(int fd, guint32 serial, const guint8 *uuid)
{
    remote_nonnull_domain dom = { .name = (char *) "other", .id = -1 };
    remote_connect_domain_event_callback_register_any_args a = { .eventID = 0 };
    remote_connect_domain_event_callback_register_any_ret r = { 0 };
    TestReply rep;

    if (uuid) {
        memcpy(dom.uuid, uuid, 16);
        a.dom = &dom;
    }
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, serial,
                        (xdrproc_t) xdr_remote_connect_domain_event_callback_register_any_args, &a,
                        (xdrproc_t) xdr_remote_connect_domain_event_callback_register_any_ret, &r,
                        &rep));
    ck_assert_msg(!rep.is_error, "register: %s", rep.message);
    return r.callbackID;
}

START_TEST(test_events)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int cb = test_connect(ts->sock_rw), filtered = test_connect(ts->sock_ro);
    int legacy = test_connect(ts->sock_rw), none = test_connect(ts->sock_rw);
    int actor = test_connect(ts->sock_rw);
    static const guint8 other_uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    remote_connect_domain_event_register_any_args la = { .eventID = 0 };
    remote_domain_define_xml_args def = {
        .xml = (char *) "<domain type='bhyve'><name>ev1</name><memory unit='MiB'>64</memory>"
                        "<vcpu>1</vcpu><os><type>hvm</type></os></domain>" };
    remote_domain_define_xml_ret def_ret = { { 0 } };
    remote_domain_event_callback_lifecycle_msg m = { 0 };
    remote_domain_event_lifecycle_msg lm = { { 0 } };
    HyvedHeader hdr;
    g_autoptr(GBytes) p1 = NULL;
    g_autoptr(GBytes) p2 = NULL;
    TestReply rep;
    gboolean eof = FALSE;
    int id_a, id_a2;
    gsize len;
    const guint8 *data;

    test_open(cb, "bhyve:///system", 0);
    test_open(filtered, "bhyve:///system", 1);
    test_open(legacy, "", 0);
    test_open(none, "bhyve:///system", 0);
    test_open(actor, "bhyve:///system", 0);
    id_a = register_lifecycle(cb, 2, NULL);
    id_a2 = register_lifecycle(cb, 3, NULL);
    ck_assert_msg(id_a != id_a2, "events: callback ids not unique");
    register_lifecycle(filtered, 2, other_uuid);
    ck_assert(test_call(legacy, REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY, 2,
                        (xdrproc_t) xdr_remote_connect_domain_event_register_any_args, &la,
                        NULL, NULL, &rep));
    ck_assert_msg(!rep.is_error, "legacy register: %s", rep.message);
    /* deregister the second callback: only id_a must fire */
    {
        remote_connect_domain_event_callback_deregister_any_args d = { .callbackID = id_a2 };
        ck_assert(test_call(cb, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, 4,
                            (xdrproc_t) xdr_remote_connect_domain_event_callback_deregister_any_args,
                            &d, NULL, NULL, &rep));
        ck_assert_msg(!rep.is_error, "deregister: %s", rep.message);
    }

    ck_assert(test_call(actor, REMOTE_PROC_DOMAIN_DEFINE_XML, 2,
                        (xdrproc_t) xdr_remote_domain_define_xml_args, &def,
                        (xdrproc_t) xdr_remote_domain_define_xml_ret, &def_ret, &rep));
    ck_assert_msg(!rep.is_error, "define: %s", rep.message);

    ck_assert_msg(test_recv(cb, &hdr, &p1, 5000, NULL), "events: callback client got nothing");
    ck_assert_msg(hdr.type == HYVED_TYPE_MESSAGE && hdr.serial == 0 &&
                  hdr.proc == REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                  "events: callback client got type %d proc %d", hdr.type, hdr.proc);
    data = g_bytes_get_data(p1, &len);
    ck_assert(hyved_packet_decode_payload(data, len,
              (xdrproc_t) xdr_remote_domain_event_callback_lifecycle_msg, &m, NULL));
    ck_assert_msg(m.callbackID == id_a && g_str_equal(m.msg.dom.name, "ev1") &&
                  m.msg.event == 0 && m.msg.detail == 0 && m.msg.dom.id == -1 &&
                  memcmp(m.msg.dom.uuid, def_ret.dom.uuid, 16) == 0,
                  "events: callback msg id %d name %s event %d detail %d", m.callbackID,
                  m.msg.dom.name, m.msg.event, m.msg.detail);
    ck_assert_msg(!test_recv(cb, &hdr, NULL, 300, NULL),
                  "events: deregistered callback still delivered");

    ck_assert_msg(test_recv(legacy, &hdr, &p2, 5000, NULL) &&
                  hdr.proc == REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE, "events: legacy client got no 107");
    data = g_bytes_get_data(p2, &len);
    ck_assert(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_domain_event_lifecycle_msg,
                                          &lm, NULL));
    ck_assert_msg(g_str_equal(lm.dom.name, "ev1") && lm.event == 0, "events: legacy payload");

    ck_assert_msg(!test_recv(filtered, &hdr, NULL, 500, &eof) && !eof,
                  "events: filtered client got an event for another domain");
    ck_assert_msg(!test_recv(none, &hdr, NULL, 300, &eof) && !eof,
                  "events: unregistered client got an event");

    xdr_free((xdrproc_t) xdr_remote_domain_event_callback_lifecycle_msg, (char *) &m);
    xdr_free((xdrproc_t) xdr_remote_domain_event_lifecycle_msg, (char *) &lm);
    xdr_free((xdrproc_t) xdr_remote_domain_define_xml_ret, (char *) &def_ret);
    close(cb); close(filtered); close(legacy); close(none); close(actor);
    test_server_stop(ts);
}
END_TEST

static void
small_queue(HyvedConfig *cfg)
{
    cfg->max_client_queue = 16 * 1024;
}

START_TEST(test_queue_cap)
{
    /* A client that never reads holds at most max_client_requests replies
     * (test_daemon_hostile.c); what else piles up for it (events) is
     * capped by max_client_queue: past it the client is dropped. */
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, small_queue);
    int flood = test_connect(ts->sock_rw);
    int other = test_connect(ts->sock_rw);
    remote_domain_define_xml_args def = {
        .xml = (char *) "<domain type='bhyve'><name>qcap</name><memory unit='MiB'>64</memory>"
                        "<vcpu>1</vcpu><os><type>hvm</type></os></domain>" };
    remote_domain_define_xml_ret def_ret = { { 0 } };
    const guint nregs = 600;
    guint got = 0;
    TestReply rep;

    test_open(flood, "bhyve:///system", 0);
    test_open(other, "bhyve:///system", 0);
    for (guint i = 0; i < nregs; i++)
        register_lifecycle(flood, 10 + i, NULL);
    /* one define: 600 events for a client that does not read */
    ck_assert(test_call(other, REMOTE_PROC_DOMAIN_DEFINE_XML, 2,
                        (xdrproc_t) xdr_remote_domain_define_xml_args, &def,
                        (xdrproc_t) xdr_remote_domain_define_xml_ret, &def_ret, &rep));
    ck_assert_msg(!rep.is_error, "queue-cap: define: %s", rep.message);
    /* a client that never reads must not block anyone else */
    auth_list(other, 3, NULL);
    g_usleep(G_USEC_PER_SEC);
    ck_assert_msg(test_wait_eof(flood, 10000, &got), "queue-cap: flooding client not dropped");
    ck_assert_msg(got < nregs, "queue-cap: all %u events arrived, cap not enforced", got);
    auth_list(other, 4, NULL);
    xdr_free((xdrproc_t) xdr_remote_domain_define_xml_ret, (char *) &def_ret);
    close(flood);
    close(other);
    test_server_stop(ts);
}
END_TEST

static void
one_request(HyvedConfig *cfg)
{
    cfg->max_client_requests = 1;
}

START_TEST(test_pipelined)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, one_request);
    int fd = test_connect(ts->sock_rw);
    guint8 seen[20] = { 0 };

    test_open(fd, "bhyve:///system", 0);
    for (guint i = 0; i < 20; i++)
        ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, REMOTE_PROC_CONNECT_GET_CAPABILITIES,
                            HYVED_TYPE_CALL, 100 + i, 0, NULL, NULL));
    for (guint i = 0; i < 20; i++) {
        HyvedHeader hdr;
        ck_assert_msg(test_recv(fd, &hdr, NULL, 10000, NULL), "pipelined: reply %u missing", i);
        ck_assert_msg(hdr.serial >= 100 && hdr.serial < 120 && !seen[hdr.serial - 100] &&
                      hdr.status == HYVED_STATUS_OK,
                      "pipelined: bad or duplicate reply serial %u status %d", hdr.serial, hdr.status);
        seen[hdr.serial - 100] = 1;
    }
    close(fd);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_polkit_root)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, NULL);
    int fd = test_connect(ts->sock_rw);
    int type = -1;

    if (geteuid() != 0) {
        close(fd);
        test_server_stop(ts);
        return;     /* the root bypass needs root */
    }
    auth_list(fd, 0, &type);
    ck_assert_msg(type == 0, "polkit-root: root got auth type %d, expected NONE", type);
    test_open(fd, "bhyve:///system", 0);
    close(fd);
    test_server_stop(ts);
}
END_TEST

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;
    if (!*out)
        *out = hyved_client_ref(client);
}

static void
call_done(HyvedClient *client, guint32 serial, gboolean ok)
{
    g_mutex_lock(&client->lock);
    hyved_streams_call_done_locked(client, serial, ok);
    g_mutex_unlock(&client->lock);
}

static void
expect_stream(int fd, gint32 status, const char *data, const char *what)
{
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    gsize len = 0;
    const char *got;

    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "stream: %s: nothing arrived", what);
    got = g_bytes_get_data(payload, &len);
    ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.proc == 201 && hdr.serial == 50 &&
                  hdr.status == status && len == strlen(data) && (len == 0 || memcmp(got, data, len) == 0),
                  "stream: %s: type %d proc %d serial %u status %d len %zu", what, hdr.type,
                  hdr.proc, hdr.serial, hdr.status, len);
}

START_TEST(test_stream)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2], sp2[2];
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, 50, 0 };
    HyvedHeader call2 = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, 51, 0 };
    HyvedHeader hdr;
    char buf[16];
    struct pollfd pfd;
    g_autoptr(GError) err = NULL;

    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp2) == 0);
    ck_assert_msg(hyved_client_add_stream(client, &call, sp[1], &err), "add: %s",
                  err ? err->message : "?");
    ck_assert(hyved_client_add_stream(client, &call2, sp2[1], &err));

    /* dormant until the call is done */
    ck_assert(write(sp[0], "boot\n", 5) == 5);
    ck_assert_msg(!test_recv(fd, &hdr, NULL, 300, NULL), "stream: data before the reply");
    call_done(client, 51, FALSE);   /* failed call: stream dropped, fd closed */
    pfd.fd = sp2[0];
    pfd.events = POLLIN;
    ck_assert_msg(poll(&pfd, 1, 3000) == 1 && read(sp2[0], buf, 1) == 0,
                  "stream: fd of a failed call not closed");
    call_done(client, 50, TRUE);
    expect_stream(fd, HYVED_STATUS_CONTINUE, "boot\n", "fd data");

    /* client -> fd */
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, 201, HYVED_TYPE_STREAM, 50,
                        HYVED_STATUS_CONTINUE, NULL, NULL));
    {
        guint8 pkt[28 + 8];
        guint32 w[7] = { GUINT32_TO_BE(sizeof(pkt)), GUINT32_TO_BE(HYVED_PROGRAM_REMOTE),
                         GUINT32_TO_BE(1), GUINT32_TO_BE(201), GUINT32_TO_BE(HYVED_TYPE_STREAM),
                         GUINT32_TO_BE(50), GUINT32_TO_BE(HYVED_STATUS_CONTINUE) };
        memcpy(pkt, w, 28);
        memcpy(pkt + 28, "root\r\n\x01", 8);
        ck_assert(test_send_raw(fd, pkt, sizeof(pkt)));
    }
    pfd.fd = sp[0];
    ck_assert(poll(&pfd, 1, 3000) == 1);
    ck_assert_msg(read(sp[0], buf, sizeof(buf)) == 8 && memcmp(buf, "root\r\n\x01", 8) == 0,
                  "stream: client data not written to the fd");

    /* fd EOF -> empty CONTINUE; client finish -> STREAM OK */
    close(sp[0]);
    expect_stream(fd, HYVED_STATUS_CONTINUE, "", "eof");
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, 201, HYVED_TYPE_STREAM, 50, HYVED_STATUS_OK,
                        NULL, NULL));
    expect_stream(fd, HYVED_STATUS_OK, "", "finish confirm");
    /* stale packets for the finished stream are dropped silently */
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, 201, HYVED_TYPE_STREAM, 50,
                        HYVED_STATUS_CONTINUE, NULL, NULL));
    ck_assert_msg(!test_recv(fd, &hdr, NULL, 300, NULL), "stream: answer to a stale packet");
    auth_list(fd, 9, NULL);

    hyved_client_unref(client);
    close(sp2[0]);
    close(fd);
    test_server_stop(ts);
}
END_TEST

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Out of descriptors: the server must neither spin on its listener nor
 * stay deaf once descriptors are free again. The clients live in a child
 * process so that only the server runs out. */
START_TEST(test_emfile)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    struct rlimit old, lim;
    guint used = 0;
    double cpu0;
    int fd, ctl[2];
    pid_t child;
    char byte = 0;

    {
        g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
        while (d && g_dir_read_name(d))
            used++;
    }
    ck_assert(pipe(ctl) == 0);
    ck_assert(getrlimit(RLIMIT_NOFILE, &old) == 0);
    /* Lower the limit before the child connects: set afterwards, the server
     * may already hold more descriptors than the new limit, and poll() then
     * fails with EINVAL (a state no real daemon reaches: accept obeys the
     * limit). The child takes the old limit back for its own sockets. */
    lim = old;
    lim.rlim_cur = used + 2 + 20;       /* + the pipe */
    ck_assert(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        setrlimit(RLIMIT_NOFILE, &old);
        close(ctl[1]);
        for (int i = 0; i < 60; i++) {
            struct sockaddr_un sun = { .sun_family = AF_UNIX };
            int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
            g_strlcpy(sun.sun_path, ts->sock_rw, sizeof(sun.sun_path));
            if (c < 0 || connect(c, (struct sockaddr *) &sun, sizeof(sun)) < 0)
                break;
        }
        (void) read(ctl[0], &byte, 1);   /* until the parent is done */
        _exit(0);
    }
    close(ctl[0]);
    g_usleep(500 * 1000);
    cpu0 = cpu_seconds();
    g_usleep(G_USEC_PER_SEC);
    ck_assert_msg(cpu_seconds() - cpu0 < 0.1, "emfile: server spins (%.2f s CPU in 1 s)",
                  cpu_seconds() - cpu0);
    close(ctl[1]);
    waitpid(child, NULL, 0);
    setrlimit(RLIMIT_NOFILE, &old);
    g_usleep(300 * 1000);
    fd = test_connect(ts->sock_rw);
    auth_list(fd, 0, NULL);
    close(fd);
    test_server_stop(ts);
}
END_TEST

void
test_daemon_add_scenarios(TCase *tc)
{
    tcase_add_test(tc, test_emfile);
    tcase_add_test(tc, test_stream);
    tcase_add_test(tc, test_ping_pong);
    tcase_add_test(tc, test_keepalive_drop);
    tcase_add_test(tc, test_keepalive_answered);
    tcase_add_test(tc, test_no_ping_without_feature);
    tcase_add_test(tc, test_max_clients);
    tcase_add_test(tc, test_bad_length);
    tcase_add_test(tc, test_fd_passing);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_queue_cap);
    tcase_add_test(tc, test_pipelined);
    tcase_add_test(tc, test_polkit_root);
}
