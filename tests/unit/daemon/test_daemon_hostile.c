/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_hostile.c: clients that try to make the server hold
 * resources: descriptors (CALL_WITH_FDS), memory (declared lengths,
 * unread replies, stream data), unauthenticated connections, event
 * registrations; and the read-only refusals.
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

/* ---- fd passing ---------------------------------------------------------- */

/* Sends the header + payload of a CALL_WITH_FDS SUPPORTS_FEATURE(10)
 * announcing @nfds descriptors. */
static void
send_call_with_fds(int fd, guint32 nfds, guint32 serial)
{
    guint32 words[9] = {
        GUINT32_TO_BE(28 + 8), GUINT32_TO_BE(HYVED_PROGRAM_REMOTE), GUINT32_TO_BE(1),
        GUINT32_TO_BE(REMOTE_PROC_CONNECT_SUPPORTS_FEATURE),
        GUINT32_TO_BE(HYVED_TYPE_CALL_WITH_FDS), GUINT32_TO_BE(serial), 0,
        GUINT32_TO_BE(nfds), GUINT32_TO_BE(10),
    };
    ck_assert(test_send_raw(fd, words, sizeof(words)));
}

/* One byte carrying @n copies of @pass (n may be 0). */
static gboolean
send_fd_byte(int fd, int pass, guint n)
{
    union { char buf[CMSG_SPACE(sizeof(int) * 64)]; struct cmsghdr align; } ctl;
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (n > 0) {
        struct cmsghdr *c;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        for (guint i = 0; i < n; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &pass, sizeof(int));
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) == 1;
}

/* TRUE when every copy of the pipe's write end is closed (EOF in time). */
static gboolean
pipe_sees_eof(int rd, int timeout_ms)
{
    struct pollfd pfd = { .fd = rd, .events = POLLIN };
    char junk;

    return poll(&pfd, 1, timeout_ms) == 1 && read(rd, &junk, 1) == 0;
}

typedef struct {
    const char *name;
    gboolean authenticate;      /* AUTH_LIST first (rw socket with polkit: root bypass) */
    guint32 announced;
    guint bytes;                /* fd bytes sent */
    guint per_byte;             /* descriptors on each byte */
    gboolean dropped;           /* else: an OK reply and the stream stays in sync */
} FdCase;

static const FdCase fd_cases[] = {
    { "one-per-byte", TRUE, 3, 3, 1, FALSE },
    { "many-on-one-byte", TRUE, 32, 1, 32, TRUE },
    { "two-on-one-byte", TRUE, 2, 1, 2, TRUE },
    { "byte-without-fd", TRUE, 2, 2, 0, TRUE },
    { "too-many-announced", TRUE, HYVED_NUM_FDS_MAX + 1, 0, 0, TRUE },
    { "before-auth", FALSE, 1, 1, 1, TRUE },
};

START_TEST(test_fd_case)
{
    const FdCase *tc = &fd_cases[_i];
    gboolean root = geteuid() == 0;
    TestServer *ts = test_server_start(root ? HYVED_AUTH_POLKIT : HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int p[2];

    if (!tc->authenticate && !root) {
        close(fd);
        test_server_stop(ts);
        return;     /* an unauthenticated rw client needs polkit auth, i.e. root here */
    }
    if (tc->authenticate) {
        TestReply rep;
        ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 0, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret,
                            &(remote_auth_list_ret) { 0 }, &rep));
        ck_assert_msg(!rep.is_error, "%s: AUTH_LIST failed", tc->name);
    }
    ck_assert(pipe2(p, O_CLOEXEC) == 0);
    send_call_with_fds(fd, tc->announced, 5);
    for (guint i = 0; i < tc->bytes; i++)
        send_fd_byte(fd, p[1], tc->per_byte);
    close(p[1]);
    if (tc->dropped) {
        ck_assert_msg(test_wait_eof(fd, 5000, NULL), "%s: client not dropped", tc->name);
    } else {
        HyvedHeader hdr;
        ck_assert_msg(test_recv(fd, &hdr, NULL, 5000, NULL) && hdr.serial == 5 &&
                      hdr.status == HYVED_STATUS_OK, "%s: no OK reply", tc->name);
    }
    ck_assert_msg(pipe_sees_eof(p[0], 5000), "%s: the server kept a passed descriptor", tc->name);
    if (!tc->dropped) {
        TestReply rep;
        ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 6, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret,
                            &(remote_auth_list_ret) { 0 }, &rep));
        ck_assert_msg(!rep.is_error, "%s: out of sync after the fds", tc->name);
    }
    close(p[0]);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* ---- unauthenticated clients, declared lengths ------------------------- */

static void
two_anonymous(HyvedConfig *cfg)
{
    cfg->max_anonymous_clients = 2;
}

/* FALSE when the server closed @fd: a keepalive PING gets no PONG (a PING
 * does not authenticate anyone, unlike AUTH_LIST as root). */
static gboolean
alive(int fd)
{
    HyvedHeader hdr;

    return test_send(fd, HYVED_PROGRAM_KEEPALIVE, HYVED_KEEPALIVE_PROC_PING,
                     HYVED_TYPE_MESSAGE, 0, 0, NULL, NULL) &&
           test_recv(fd, &hdr, NULL, 3000, NULL) && hdr.proc == HYVED_KEEPALIVE_PROC_PONG;
}

/* AUTH_LIST: authenticates root on a polkit socket (the bypass). */
static gboolean
answers(int fd, guint32 serial)
{
    remote_auth_list_ret ret = { 0 };
    TestReply rep = { 0 };
    gboolean ok = test_call(fd, REMOTE_PROC_AUTH_LIST, serial, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &ret, &rep);

    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &ret);
    test_reply_clear(&rep);
    return ok;
}

START_TEST(test_anonymous_cap)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, two_anonymous);
    int a = test_connect(ts->sock_rw);
    int b = test_connect(ts->sock_rw);
    int ro = test_connect(ts->sock_ro);      /* auth none: not anonymous */
    int c = test_connect(ts->sock_rw);

    ck_assert_msg(test_wait_eof(c, 3000, NULL), "anonymous-cap: third unauthenticated client kept");
    close(c);
    ck_assert_msg(alive(ro), "anonymous-cap: read-only (auth none) client dropped");
    ck_assert_msg(alive(a) && alive(b), "anonymous-cap: first two clients dropped");
    close(a);
    g_usleep(300 * 1000);
    c = test_connect(ts->sock_rw);
    ck_assert_msg(answers(c, 2), "anonymous-cap: no slot after one anonymous client left");
    {
        /* as root, AUTH_LIST authenticated c (polkit bypass): it no longer
         * counts and d still fits; otherwise b and c fill the cap */
        int d = test_connect(ts->sock_rw);
        int e = test_connect(ts->sock_rw);
        if (geteuid() == 0) {
            ck_assert_msg(answers(d, 3), "anonymous-cap: authenticated client still counted");
            ck_assert_msg(test_wait_eof(e, 3000, NULL), "anonymous-cap: cap not enforced again");
        } else {
            ck_assert_msg(test_wait_eof(d, 3000, NULL), "anonymous-cap: cap not enforced again");
        }
        close(d);
        close(e);
    }
    close(b);
    close(c);
    close(ro);
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

START_TEST(test_declared_length)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, NULL);
    int unauth = test_connect(ts->sock_rw);
    int slow = test_connect(ts->sock_ro);
    guint32 len = GUINT32_TO_BE(1024 * 1024);
    guint32 big = GUINT32_TO_BE(32 * 1024 * 1024);
    g_autofree guint8 *chunk = g_malloc0(100 * 1024);
    HyvedClient *client = NULL;
    gsize alloc, have;

    /* before authentication: more than 64 KiB announced -> dropped */
    ck_assert(test_send_raw(unauth, &len, 4));
    ck_assert_msg(test_wait_eof(unauth, 3000, NULL), "declared-length: 1 MiB before auth kept");
    close(unauth);

    /* authenticated (auth none): 32 MiB announced, 100 KiB sent: the
     * buffer follows what arrived */
    ck_assert(test_send_raw(slow, &big, 4));
    ck_assert(test_send_raw(slow, chunk, 100 * 1024));
    g_usleep(300 * 1000);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client != NULL);
    alloc = client->pkt_alloc;
    have = client->pkt_have;
    hyved_client_unref(client);
    ck_assert_msg(have == 100 * 1024 && alloc <= 256 * 1024,
                  "declared-length: %zu bytes in, %zu allocated", have, alloc);
    close(slow);
    test_server_stop(ts);
}
END_TEST

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

/* ---- socket activation ------------------------------------------------------ */

START_TEST(test_activation_fds)
{
    g_autofree char *dir = g_dir_make_tmp("hyved-act-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int p[2], sp[2], lsock, devnull;
    int src[5];
    const int base = 200;
    g_autofree char *pid = g_strdup_printf("%d", (int) getpid());
    g_autofree char *other_pid = g_strdup_printf("%d", (int) getpid() + 1);
    GArray *got;

    ck_assert(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    devnull = open("/dev/null", O_RDONLY);
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    ck_assert(devnull >= 0 && lsock >= 0 &&
              bind(lsock, (struct sockaddr *) &sun, sizeof(sun)) == 0 && listen(lsock, 4) == 0);
    src[0] = p[0]; src[1] = devnull; src[2] = sp[0]; src[3] = lsock; src[4] = p[1];
    for (int i = 0; i < 5; i++)
        ck_assert(dup2(src[i], base + i) == base + i);

    /* LISTEN_PID of another process: nothing taken, environment kept */
    g_setenv("LISTEN_PID", other_pid, TRUE);
    g_setenv("LISTEN_FDS", "5", TRUE);
    got = hyved_activation_take_fds(base);
    ck_assert_msg(got->len == 0 && g_getenv("LISTEN_FDS"), "activation: took fds of another pid");
    g_array_unref(got);

    /* ours: only the listening UNIX socket is taken, nothing is closed */
    g_setenv("LISTEN_PID", pid, TRUE);
    got = hyved_activation_take_fds(base);
    ck_assert_msg(got->len == 1 && g_array_index(got, int, 0) == base + 3,
                  "activation: took %u fds (first %d), expected only fd %d", got->len,
                  got->len ? g_array_index(got, int, 0) : -1, base + 3);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fcntl(base + i, F_GETFD) >= 0, "activation: fd %d (kind %d) closed",
                      base + i, i);
    ck_assert_msg(!g_getenv("LISTEN_PID") && !g_getenv("LISTEN_FDS"),
                  "activation: LISTEN_* left in the environment");
    g_array_unref(got);
    for (int i = 0; i < 5; i++) {
        close(base + i);
        close(src[i]);
    }
    close(sp[1]);
    unlink(path);
    rmdir(dir);
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
test_daemon_add_hostile(TCase *tc)
{
    tcase_add_test(tc, test_stream_attach_ref);
    tcase_add_test(tc, test_event_cap);
    tcase_add_test(tc, test_ro_secure_xml);
    tcase_add_test(tc, test_activation_fds);
    tcase_add_test(tc, test_stream_backpressure);
    tcase_add_test(tc, test_unread_replies);
    tcase_add_test(tc, test_anonymous_cap);
    tcase_add_test(tc, test_declared_length);
    tcase_add_loop_test(tc, test_fd_case, 0, G_N_ELEMENTS(fd_cases));
}
