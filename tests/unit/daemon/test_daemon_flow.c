/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_flow.c: what a client may make the server hold or send:
 * replies it does not read, stream data the fd does not take (and the
 * stream attach racing a drop), event registrations; read-only refusals.
 */
#include "hyve-config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "test_daemon_util.h"
#include "hyved_client_priv.h"

/* ---- helpers -------------------------------------------------------------- */

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;
    if (!*out)
        *out = hyved_client_ref(client);
}

/* ---- replies a client does not read -------------------------------------- */

static void
two_requests(HyvedConfig *cfg)
{
    cfg->max_client_requests = 2;
}

START_TEST(test_unread_replies)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, two_requests);
    int fd = test_connect(ts->sock_rw);
    const guint ncalls = 600;
    HyvedClient *client = NULL;
    guint queued, inflight;
    guint got = 0;
    g_autofree gboolean *seen = g_new0(gboolean, ncalls);

    test_open(fd, "bhyve:///system", 0);
    /* 600 x 28 bytes in one send fit in the socket; 600 capabilities
     * replies do not */
    {
        g_autoptr(GByteArray) all = g_byte_array_new();
        for (guint i = 0; i < ncalls; i++) {
            HyvedHeader h = { HYVED_PROGRAM_REMOTE, HYVED_PROGRAM_VERSION,
                              REMOTE_PROC_CONNECT_GET_CAPABILITIES, HYVED_TYPE_CALL, 10 + i, 0 };
            g_autoptr(GBytes) pkt = hyved_packet_encode(&h, NULL, NULL, NULL);
            gsize len = 0;
            const guint8 *data = g_bytes_get_data(pkt, &len);
            g_byte_array_append(all, data, len);
        }
        ck_assert(test_send_raw(fd, all->data, all->len));
    }
    g_usleep(G_USEC_PER_SEC);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client != NULL);
    g_mutex_lock(&client->lock);
    queued = g_queue_get_length(&client->outq);
    inflight = client->inflight;
    g_mutex_unlock(&client->lock);
    hyved_client_unref(client);
    ck_assert_msg(queued <= 2 && inflight <= 2,
                  "unread-replies: %u packets queued, %u calls in flight (max_client_requests 2)",
                  queued, inflight);
    /* reading resumes the client: every call is answered once (two
     * workers: not necessarily in order) */
    for (; got < ncalls; got++) {
        HyvedHeader hdr;
        if (!test_recv(fd, &hdr, NULL, 10000, NULL))
            break;
        ck_assert_msg(hdr.serial >= 10 && hdr.serial < 10 + ncalls && !seen[hdr.serial - 10] &&
                      hdr.status == HYVED_STATUS_OK,
                      "unread-replies: reply %u has serial %u status %d", got, hdr.serial, hdr.status);
        seen[hdr.serial - 10] = TRUE;
    }
    ck_assert_msg(got == ncalls, "unread-replies: %u of %u replies", got, ncalls);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* ---- stream data the fd does not take -------------------------------------- */

#define STREAM_PKT 256000
#define STREAM_PKTS 16

typedef struct {
    int fd;
    gint sent;              /* atomic: bytes of stream data fully sent */
} StreamSender;

static gpointer
stream_sender(gpointer data)
{
    StreamSender *ss = data;
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_STREAM, 50, HYVED_STATUS_CONTINUE };
    g_autofree guint8 *buf = g_malloc(STREAM_PKT);

    for (guint p = 0; p < STREAM_PKTS; p++) {
        g_autoptr(GBytes) pkt = NULL;
        gsize len = 0;
        const guint8 *bytes;

        for (guint i = 0; i < STREAM_PKT; i++)
            buf[i] = (guint8) ((p * STREAM_PKT + i) % 251);
        pkt = hyved_packet_encode_raw(&h, buf, STREAM_PKT);
        bytes = g_bytes_get_data(pkt, &len);
        if (!test_send_raw(ss->fd, bytes, len))
            break;
        g_atomic_int_add(&ss->sent, STREAM_PKT);
    }
    return NULL;
}

START_TEST(test_stream_backpressure)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, 50, 0 };
    g_autoptr(GError) err = NULL;
    StreamSender ss = { .fd = fd };
    GThread *thread;
    g_autofree guint8 *buf = g_malloc(65536);
    gsize total = 0;
    gint sent;
    gboolean intact = TRUE;

    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    ck_assert_msg(hyved_client_add_stream(client, &call, sp[1], &err), "add: %s",
                  err ? err->message : "?");
    g_mutex_lock(&client->lock);
    hyved_streams_call_done_locked(client, 50, TRUE);
    g_mutex_unlock(&client->lock);

    /* nobody reads sp[0]: the server must stop taking the client's data */
    thread = g_thread_new("stream-sender", stream_sender, &ss);
    g_usleep(1500 * 1000);
    sent = g_atomic_int_get(&ss.sent);
    ck_assert_msg(sent < 3 * 1024 * 1024,
                  "stream-backpressure: %d of %d bytes taken while the fd was not read",
                  sent, STREAM_PKT * STREAM_PKTS);
    /* then everything arrives, in order, once the fd is read */
    while (total < (gsize) STREAM_PKT * STREAM_PKTS) {
        struct pollfd pfd = { .fd = sp[0], .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, 5000) != 1 || (n = read(sp[0], buf, 65536)) <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (guint8) ((total + i) % 251))
                intact = FALSE;
        total += n;
    }
    g_thread_join(thread);
    ck_assert_msg(total == (gsize) STREAM_PKT * STREAM_PKTS && intact,
                  "stream-backpressure: %zu bytes arrived (intact %d)", total, intact);
    hyved_client_unref(client);
    close(sp[0]);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* ---- read-only connections --------------------------------------------------- */

START_TEST(test_ro_secure_xml)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int rw = test_connect(ts->sock_rw);
    int ro = test_connect(ts->sock_ro);
    remote_domain_define_xml_args def = {
        .xml = (char *) "<domain type='bhyve'><name>sec1</name><memory unit='MiB'>64</memory>"
                        "<vcpu>1</vcpu><os><type>hvm</type></os></domain>" };
    remote_domain_define_xml_ret def_ret = { { 0 } };
    remote_domain_get_xml_desc_args get = { .flags = 1 };     /* VIR_DOMAIN_XML_SECURE */
    TestReply rep;

    test_open(rw, "bhyve:///system", 0);
    test_open(ro, "bhyve:///system", 1);
    ck_assert(test_call(rw, REMOTE_PROC_DOMAIN_DEFINE_XML, 2,
                        (xdrproc_t) xdr_remote_domain_define_xml_args, &def,
                        (xdrproc_t) xdr_remote_domain_define_xml_ret, &def_ret, &rep));
    ck_assert_msg(!rep.is_error, "ro-secure: define: %s", rep.message);
    get.dom = def_ret.dom;
    for (int secure = 1; secure >= 0; secure--) {
        for (int on_ro = 0; on_ro < 2; on_ro++) {
            remote_domain_get_xml_desc_ret ret = { 0 };
            get.flags = secure;
            ck_assert(test_call(on_ro ? ro : rw, REMOTE_PROC_DOMAIN_GET_XML_DESC, 3,
                                (xdrproc_t) xdr_remote_domain_get_xml_desc_args, &get,
                                (xdrproc_t) xdr_remote_domain_get_xml_desc_ret, &ret, &rep));
            if (secure && on_ro)
                ck_assert_msg(rep.is_error && rep.code == 29 && rep.domain == 20 &&
                              g_strcmp0(rep.message, "operation forbidden: virDomainGetXMLDesc "
                                        "with secure flag") == 0,
                              "ro-secure: got %d/%d '%s'", rep.code, rep.domain, rep.message);
            else
                ck_assert_msg(!rep.is_error && ret.xml && strstr(ret.xml, "<name>sec1</name>"),
                              "ro-secure: secure %d ro %d failed: %s", secure, on_ro, rep.message);
            xdr_free((xdrproc_t) xdr_remote_domain_get_xml_desc_ret, (char *) &ret);
            test_reply_clear(&rep);
        }
    }
    xdr_free((xdrproc_t) xdr_remote_domain_define_xml_ret, (char *) &def_ret);
    close(rw);
    close(ro);
    test_server_stop(ts);
}
END_TEST

/* ---- event registrations ------------------------------------------------------ */

static TestReply
register_any(int fd, guint32 serial, int *id)
{
    remote_connect_domain_event_callback_register_any_args a = { .eventID = 0 };
    remote_connect_domain_event_callback_register_any_ret r = { 0 };
    TestReply rep = { 0 };

    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, serial,
                        (xdrproc_t) xdr_remote_connect_domain_event_callback_register_any_args, &a,
                        (xdrproc_t) xdr_remote_connect_domain_event_callback_register_any_ret, &r,
                        &rep));
    *id = r.callbackID;
    return rep;
}

START_TEST(test_event_cap)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int other = test_connect(ts->sock_rw);
    int id = -1, first = -1;
    TestReply rep;

    test_open(fd, "bhyve:///system", 0);
    test_open(other, "bhyve:///system", 0);
    for (guint i = 0; i < 1024; i++) {
        rep = register_any(fd, 10 + i, &id);
        ck_assert_msg(!rep.is_error, "event-cap: registration %u refused: %s", i, rep.message);
        test_reply_clear(&rep);
        if (i == 0)
            first = id;
    }
    rep = register_any(fd, 5000, &id);
    ck_assert_msg(rep.is_error && rep.code == 9 && rep.domain == 7 &&
                  g_str_has_prefix(rep.message, "operation failed: too many event registrations"),
                  "event-cap: registration 1025 got %d/%d '%s'", rep.code, rep.domain, rep.message);
    test_reply_clear(&rep);
    /* per connection: another client still registers */
    rep = register_any(other, 2, &id);
    ck_assert_msg(!rep.is_error, "event-cap: other client refused: %s", rep.message);
    test_reply_clear(&rep);
    /* a slot frees when one is deregistered */
    {
        remote_connect_domain_event_callback_deregister_any_args d = { .callbackID = first };
        ck_assert(test_call(fd, REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, 5001,
                            (xdrproc_t) xdr_remote_connect_domain_event_callback_deregister_any_args,
                            &d, NULL, NULL, &rep));
        ck_assert_msg(!rep.is_error, "event-cap: deregister: %s", rep.message);
        test_reply_clear(&rep);
    }
    rep = register_any(fd, 5002, &id);
    ck_assert_msg(!rep.is_error, "event-cap: no slot after deregister: %s", rep.message);
    test_reply_clear(&rep);
    close(fd);
    close(other);
    test_server_stop(ts);
}
END_TEST

/* The stream attach callback must keep the client alive on its own: the
 * client may be dropped between the reply and the attach. */
typedef struct {
    GMutex lock;
    GCond cond;
    int step;               /* 1: I/O thread waiting, 2: call done, 3: client closed */
    HyvedClient *client;
    gint refs_after_close;
} AttachRace;

static gboolean
close_before_attach(gpointer data)
{
    AttachRace *ar = data;

    g_mutex_lock(&ar->lock);
    ar->step = 1;
    g_cond_broadcast(&ar->cond);
    while (ar->step < 2)
        g_cond_wait(&ar->cond, &ar->lock);
    g_mutex_unlock(&ar->lock);
    /* on the I/O thread, before the queued attach runs */
    hyved_client_close(ar->client);
    g_mutex_lock(&ar->lock);
    ar->refs_after_close = g_atomic_int_get(&ar->client->refcount);
    ar->step = 3;
    g_cond_broadcast(&ar->cond);
    g_mutex_unlock(&ar->lock);
    return G_SOURCE_REMOVE;
}

START_TEST(test_stream_attach_ref)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, 50, 0 };
    AttachRace ar = { .step = 0 };
    struct pollfd pfd;
    char junk;

    g_mutex_init(&ar.lock);
    g_cond_init(&ar.cond);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &ar.client);
    ck_assert(ar.client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    ck_assert(hyved_client_add_stream(ar.client, &call, sp[1], NULL));
    g_main_context_invoke_full(ts->ctx, G_PRIORITY_HIGH, close_before_attach, &ar, NULL);
    g_mutex_lock(&ar.lock);
    while (ar.step < 1)
        g_cond_wait(&ar.cond, &ar.lock);
    g_mutex_unlock(&ar.lock);
    g_mutex_lock(&ar.client->lock);
    hyved_streams_call_done_locked(ar.client, 50, TRUE);     /* queues the attach */
    g_mutex_unlock(&ar.client->lock);
    g_mutex_lock(&ar.lock);
    ar.step = 2;
    g_cond_broadcast(&ar.cond);
    while (ar.step < 3)
        g_cond_wait(&ar.cond, &ar.lock);
    g_mutex_unlock(&ar.lock);
    /* ours + the pending attach's own reference */
    ck_assert_msg(ar.refs_after_close == 2,
                  "stream-attach-ref: %d references after close, expected 2 (test + attach)",
                  ar.refs_after_close);
    hyved_client_unref(ar.client);
    /* the attach then finds the client closed: the stream's fd is closed */
    pfd.fd = sp[0];
    pfd.events = POLLIN;
    ck_assert_msg(poll(&pfd, 1, 3000) == 1 && read(sp[0], &junk, 1) == 0,
                  "stream-attach-ref: stream fd of a dropped client not closed");
    close(sp[0]);
    close(fd);
    test_server_stop(ts);
    g_mutex_clear(&ar.lock);
    g_cond_clear(&ar.cond);
}
END_TEST

void
test_daemon_add_flow(TCase *tc)
{
    tcase_add_test(tc, test_unread_replies);
    tcase_add_test(tc, test_stream_backpressure);
    tcase_add_test(tc, test_stream_attach_ref);
    tcase_add_test(tc, test_ro_secure_xml);
    tcase_add_test(tc, test_event_cap);
}
