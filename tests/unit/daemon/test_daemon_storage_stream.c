/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_storage_stream.c: the framed stream mode of hyved_stream.c
 * (hyved_client_open_framed_stream, volume upload/download) on the real
 * in-process server, driven with raw packets. The test itself plays the
 * driver's transfer thread on the other end of a socketpair, speaking
 * hyve_stream_frame.h: data and holes both ways, a finish that waits for
 * DONE, ERROR frames, aborts, hostile frames, a client gone mid-transfer.
 *
 * TCase "rpc" (same executable): test_daemon_storage_rpc.c.
 */
#include "hyve-config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "hyve_stream_frame.h"
#include "test_daemon_storage.h"
#include "test_daemon_util.h"

#define PROC 208            /* STORAGE_VOL_UPLOAD */

typedef struct {
    TestServer *ts;
    int cfd;                /* the libvirt client's socket */
    int dfd;                /* the driver's end of the stream socketpair */
    HyvedClient *client;
    HyvedStream *st;
    GMutex lock;
    GCond cond;
    int ends;               /* [lock] end callbacks */
} Fixture;

static void
on_end(HyvedStream *stream, gpointer data)
{
    Fixture *f = data;

    g_mutex_lock(&f->lock);
    f->ends++;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
}

static int
wait_ends(Fixture *f)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    int n;

    g_mutex_lock(&f->lock);
    while (f->ends < 1 && g_cond_wait_until(&f->cond, &f->lock, deadline))
        ;
    n = f->ends;
    g_mutex_unlock(&f->lock);
    return n;
}

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;

    if (!*out)
        *out = hyved_client_ref(client);
}

/* A server, an opened client, and a framed stream on serial SERIAL whose
 * call has been answered. */
static void
fixture_setup(Fixture *f)
{
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, PROC, HYVED_TYPE_CALL, SERIAL, 0 };
    g_autoptr(GError) err = NULL;
    int sp[2];

    memset(f, 0, sizeof(*f));
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->ts = test_server_start(HYVED_AUTH_NONE, NULL);
    f->cfd = test_connect(f->ts->sock_rw);
    test_open(f->cfd, "bhyve:///system", 0);
    hyved_server_foreach_client(f->ts->server, grab_client, &f->client);
    ck_assert(f->client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    f->dfd = sp[0];
    f->st = hyved_client_open_framed_stream(f->client, &call, sp[1], on_end, f, NULL, &err);
    ck_assert_msg(f->st, "open framed stream: %s", err ? err->message : "?");
    g_mutex_lock(&f->client->lock);
    hyved_streams_call_done_locked(f->client, SERIAL, TRUE);
    g_mutex_unlock(&f->client->lock);
    g_main_context_wakeup(f->ts->ctx);
}

static void
fixture_teardown(Fixture *f)
{
    hyved_stream_unref(f->st);
    if (f->dfd >= 0)
        close(f->dfd);
    if (f->cfd >= 0)
        close(f->cfd);
    hyved_client_unref(f->client);
    test_server_stop(f->ts);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
}

/* ---- the driver's end ----------------------------------------------------- */

/* One frame from the daemon; FALSE on EOF (*eof) or timeout. */
static gboolean
frame_recv(int fd, HyveFrameHeader *h, GBytes **payload, int timeout_ms, gboolean *eof)
{
    gboolean dummy;
    g_autofree guint8 *buf = NULL;

    if (!eof)
        eof = &dummy;
    if (!test_read_full(fd, h, sizeof(*h), timeout_ms, eof))
        return FALSE;
    ck_assert_msg(h->reserved == 0, "frame with reserved %u", h->reserved);
    if (h->type == HYVE_FRAME_DATA) {
        ck_assert_msg(h->len > 0 && h->len <= HYVE_FRAME_DATA_MAX, "DATA frame of %" G_GUINT64_FORMAT
                      " bytes", (guint64) h->len);
        buf = g_malloc(h->len);
        ck_assert_msg(test_read_full(fd, buf, h->len, timeout_ms, eof), "DATA payload cut short");
    }
    if (payload)
        *payload = g_bytes_new_take(g_steal_pointer(&buf), h->type == HYVE_FRAME_DATA ? h->len : 0);
    return TRUE;
}

static void
frame_send(int fd, guint32 type, guint32 reserved, guint64 len, const void *data, gsize dlen)
{
    HyveFrameHeader h = { .type = type, .reserved = reserved, .len = len };

    ck_assert(test_send_raw(fd, &h, sizeof(h)));
    if (dlen > 0)
        ck_assert(test_send_raw(fd, data, dlen));
}

static void
frame_send_error(int fd, int code, int domain, const char *msg)
{
    HyveFrameError fe = { .code = code, .domain = domain };
    g_autofree guint8 *buf = g_malloc(sizeof(fe) + strlen(msg));

    memcpy(buf, &fe, sizeof(fe));
    memcpy(buf + sizeof(fe), msg, strlen(msg));
    frame_send(fd, HYVE_FRAME_ERROR, 0, sizeof(fe) + strlen(msg), buf, sizeof(fe) + strlen(msg));
}

static void
expect_frame(const char *name, int fd, guint32 type, guint64 len, const void *data)
{
    HyveFrameHeader h;
    g_autoptr(GBytes) payload = NULL;
    gboolean eof = FALSE;

    ck_assert_msg(frame_recv(fd, &h, &payload, 5000, &eof), "%s: no frame %u (eof %d)", name,
                  type, eof);
    ck_assert_msg(h.type == type && h.len == len, "%s: frame type %u len %" G_GUINT64_FORMAT
                  ", wanted type %u len %" G_GUINT64_FORMAT, name, h.type, (guint64) h.len,
                  type, len);
    if (data)
        ck_assert_msg(memcmp(g_bytes_get_data(payload, NULL), data, len) == 0,
                      "%s: DATA frame payload differs", name);
}

/* The daemon closed its end (after any frames it had queued, which must
 * not include @forbidden, 0 = any). */
static void
expect_driver_eof(const char *name, int fd, guint32 forbidden)
{
    for (;;) {
        HyveFrameHeader h;
        gboolean eof = FALSE;

        if (!frame_recv(fd, &h, NULL, 5000, &eof)) {
            ck_assert_msg(eof, "%s: the daemon did not close the stream fd", name);
            return;
        }
        ck_assert_msg(forbidden == 0 || h.type != forbidden, "%s: unexpected frame %u", name,
                      h.type);
    }
}

static gboolean
no_frame(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, timeout_ms) == 0;
}

/* ---- the client's end ------------------------------------------------------ */

static void
client_send(Fixture *f, gint32 type, gint32 status, const void *data, gsize len)
{
    HyvedHeader hdr = { HYVED_PROGRAM_REMOTE, 1, PROC, type, SERIAL, status };
    g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&hdr, data, len);
    gsize plen = 0;
    const void *p = g_bytes_get_data(pkt, &plen);

    ck_assert(test_send_raw(f->cfd, p, plen));
}

void
hole_payload(guint8 buf[12], gint64 length, guint32 flags)
{
    guint64 be_len = GUINT64_TO_BE((guint64) length);
    guint32 be_flags = GUINT32_TO_BE(flags);

    memcpy(buf, &be_len, 8);
    memcpy(buf + 8, &be_flags, 4);
}

static void
client_hole(Fixture *f, gint64 length, guint32 flags)
{
    guint8 buf[12];

    hole_payload(buf, length, flags);
    client_send(f, HYVED_TYPE_STREAM_HOLE, HYVED_STATUS_CONTINUE, buf, sizeof(buf));
}

/* The next packet to the client: a stream packet of @type/@status; returns
 * its payload. */
static GBytes *
expect_packet(const char *name, Fixture *f, gint32 type, gint32 status)
{
    HyvedHeader hdr;
    GBytes *payload = NULL;

    ck_assert_msg(test_recv(f->cfd, &hdr, &payload, 5000, NULL),
                  "%s: no packet (type %d status %d wanted)", name, type, status);
    ck_assert_msg(hdr.type == type && hdr.status == status && hdr.proc == PROC &&
                  hdr.serial == SERIAL,
                  "%s: got type %d status %d proc %d serial %u, wanted type %d status %d",
                  name, hdr.type, hdr.status, hdr.proc, hdr.serial, type, status);
    return payload;
}

static void
expect_error(const char *name, Fixture *f, int code, int domain, const char *message)
{
    g_autoptr(GBytes) payload = expect_packet(name, f, HYVED_TYPE_STREAM, HYVED_STATUS_ERROR);
    g_autoptr(GError) err = NULL;
    remote_error rerr = { 0 };
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(payload, &len);

    ck_assert_msg(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_error, &rerr,
                                              &err), "%s: bad remote_error: %s", name,
                  err ? err->message : "?");
    ck_assert_msg(rerr.code == code && rerr.domain == domain && rerr.message &&
                  (g_str_equal(*rerr.message, message) ||
                   (message[0] == '~' && strstr(*rerr.message, message + 1))),
                  "%s: error %d/%d '%s', wanted %d/%d '%s'", name, rerr.code, rerr.domain,
                  rerr.message ? *rerr.message : "(null)", code, domain, message);
    xdr_free((xdrproc_t) xdr_remote_error, (char *) &rerr);
}

static void
expect_no_packet(const char *name, Fixture *f, int timeout_ms)
{
    HyvedHeader hdr;

    ck_assert_msg(!test_recv(f->cfd, &hdr, NULL, timeout_ms, NULL),
                  "%s: unexpected packet type %d status %d", name, hdr.type, hdr.status);
}

/* The stream is over and the connection still works. */
static void
expect_ended(const char *name, Fixture *f)
{
    TestReply r;
    remote_auth_list_ret auth = { 0 };

    ck_assert_msg(wait_ends(f) == 1, "%s: end callback not called once", name);
    /* stale packets for the stream are dropped */
    client_send(f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, "x", 1);
    client_hole(f, 10, 0);
    client_send(f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
    expect_no_packet(name, f, 300);
    ck_assert_msg(test_call(f->cfd, REMOTE_PROC_AUTH_LIST, 90, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r) && !r.is_error,
                  "%s: connection unusable after the stream", name);
    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
}

/* ---- tests ------------------------------------------------------------- */

/* Upload: data (split at HYVE_FRAME_DATA_MAX), holes, finish -> FINISH,
 * confirmed only after DONE. */
START_TEST(test_upload)
{
    Fixture f;
    gsize big = HYVE_FRAME_DATA_MAX + 1000;
    g_autofree guint8 *data = g_malloc(big);

    for (gsize i = 0; i < big; i++)
        data[i] = (guint8) (i * 7 + 3);
    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, "abc", 3);
    expect_frame("upload", f.dfd, HYVE_FRAME_DATA, 3, "abc");
    client_hole(&f, 1 << 20, 0);
    expect_frame("upload", f.dfd, HYVE_FRAME_HOLE, 1 << 20, NULL);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, data, big);
    expect_frame("upload", f.dfd, HYVE_FRAME_DATA, HYVE_FRAME_DATA_MAX, data);
    expect_frame("upload", f.dfd, HYVE_FRAME_DATA, 1000, data + HYVE_FRAME_DATA_MAX);
    client_hole(&f, 0, 0);          /* empty hole: no frame */
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, NULL, 0);  /* nor empty data */
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
    expect_frame("upload", f.dfd, HYVE_FRAME_FINISH, 0, NULL);
    /* the finish is confirmed only once the transfer is done */
    expect_no_packet("upload", &f, 500);
    g_mutex_lock(&f.lock);
    ck_assert_msg(f.ends == 0, "upload: ended before DONE");
    g_mutex_unlock(&f.lock);
    frame_send(f.dfd, HYVE_FRAME_DONE, 0, 0, NULL, 0);
    g_bytes_unref(expect_packet("upload", &f, HYVED_TYPE_STREAM, HYVED_STATUS_OK));
    expect_driver_eof("upload", f.dfd, 0);
    expect_ended("upload", &f);
    fixture_teardown(&f);
}
END_TEST

/* Download: DATA -> CONTINUE, HOLE -> STREAM_HOLE packet, EOF -> empty
 * CONTINUE, client finish -> FINISH, DONE -> OK. */
START_TEST(test_download)
{
    Fixture f;
    GBytes *p;
    gsize len = 0;
    const guint8 *d;
    guint8 want[12];

    fixture_setup(&f);
    frame_send(f.dfd, HYVE_FRAME_DATA, 0, 5, "hello", 5);
    p = expect_packet("download", &f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE);
    d = g_bytes_get_data(p, &len);
    ck_assert_msg(len == 5 && memcmp(d, "hello", 5) == 0, "download: data differs");
    g_bytes_unref(p);

    frame_send(f.dfd, HYVE_FRAME_HOLE, 0, G_GUINT64_CONSTANT(5) << 32, NULL, 0);
    p = expect_packet("download", &f, HYVED_TYPE_STREAM_HOLE, HYVED_STATUS_CONTINUE);
    d = g_bytes_get_data(p, &len);
    hole_payload(want, (gint64) (G_GUINT64_CONSTANT(5) << 32), 0);
    ck_assert_msg(len == 12 && memcmp(d, want, 12) == 0, "download: hole payload differs");
    g_bytes_unref(p);

    frame_send(f.dfd, HYVE_FRAME_DATA, 0, 0, NULL, 0);     /* empty: nothing sent */
    frame_send(f.dfd, HYVE_FRAME_EOF, 0, 0, NULL, 0);
    p = expect_packet("download", &f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE);
    ck_assert_msg(g_bytes_get_size(p) == 0, "download: EOF packet not empty");
    g_bytes_unref(p);
    expect_no_packet("download", &f, 300);

    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
    expect_frame("download", f.dfd, HYVE_FRAME_FINISH, 0, NULL);
    expect_no_packet("download", &f, 300);
    frame_send(f.dfd, HYVE_FRAME_DONE, 0, 0, NULL, 0);
    g_bytes_unref(expect_packet("download", &f, HYVED_TYPE_STREAM, HYVED_STATUS_OK));
    expect_driver_eof("download", f.dfd, 0);
    expect_ended("download", &f);
    fixture_teardown(&f);
}
END_TEST

/* A large download in frames of varying sizes, written by another thread:
 * every byte arrives in order (partial frame reads, back-pressure). */
typedef struct {
    int fd;
    gsize total;
} Writer;

static guint8
pattern(gsize i)
{
    return (guint8) ((i * 31) ^ (i >> 9));
}

/* Whether @d holds pattern bytes from offset @off on. */
static gboolean
pattern_ok(const guint8 *d, gsize len, gsize off)
{
    g_autofree guint8 *want = g_malloc(MAX(len, 1));

    for (gsize i = 0; i < len; i++)
        want[i] = pattern(off + i);
    return memcmp(d, want, len) == 0;
}

static gpointer
writer_thread(gpointer data)
{
    Writer *w = data;
    g_autofree guint8 *buf = g_malloc(HYVE_FRAME_DATA_MAX);
    gsize off = 0;
    guint32 seed = 1;

    while (off < w->total) {
        gsize n;

        seed = seed * 1103515245 + 12345;
        n = MIN(w->total - off, 1 + (seed >> 8) % HYVE_FRAME_DATA_MAX);
        for (gsize i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        frame_send(w->fd, HYVE_FRAME_DATA, 0, n, buf, n);
        off += n;
    }
    frame_send(w->fd, HYVE_FRAME_EOF, 0, 0, NULL, 0);
    return NULL;
}

START_TEST(test_download_bulk)
{
    Fixture f;
    Writer w = { .total = 8 * 1024 * 1024 + 17 };
    GThread *thread;
    gsize got = 0;

    fixture_setup(&f);
    w.fd = f.dfd;
    thread = g_thread_new("driver", writer_thread, &w);
    for (;;) {
        g_autoptr(GBytes) p = expect_packet("bulk", &f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE);
        gsize len = 0;
        const guint8 *d = g_bytes_get_data(p, &len);

        if (len == 0)
            break;
        ck_assert_msg(len <= HYVED_STREAM_PAYLOAD_MAX, "bulk: packet of %zu bytes", len);
        ck_assert_msg(pattern_ok(d, len, got), "bulk: bytes from %zu on differ", got);
        got += len;
    }
    g_thread_join(thread);
    ck_assert_msg(got == w.total, "bulk: %zu bytes of %zu", got, w.total);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
    expect_frame("bulk", f.dfd, HYVE_FRAME_FINISH, 0, NULL);
    frame_send(f.dfd, HYVE_FRAME_DONE, 0, 0, NULL, 0);
    g_bytes_unref(expect_packet("bulk", &f, HYVED_TYPE_STREAM, HYVED_STATUS_OK));
    expect_ended("bulk", &f);
    fixture_teardown(&f);
}
END_TEST

/* ERROR frames: before and after the client's finish, the client gets
 * STREAM/ERROR with the frame's code, domain and message. */
static const struct {
    const char *name;
    gboolean finish_first;
} error_cases[] = {
    { "error-during-transfer", FALSE },
    { "error-at-finish", TRUE },
};

START_TEST(test_error_frame)
{
    const char *name = error_cases[_i].name;
    const char *msg = "Requested operation is not valid: volume 'v' is in use by a transfer";
    Fixture f;

    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, "data", 4);
    expect_frame(name, f.dfd, HYVE_FRAME_DATA, 4, "data");
    if (error_cases[_i].finish_first) {
        client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
        expect_frame(name, f.dfd, HYVE_FRAME_FINISH, 0, NULL);
    }
    frame_send_error(f.dfd, HYVE_ERR_OPERATION_INVALID, HYVE_FROM_STORAGE, msg);
    expect_error(name, &f, HYVE_ERR_OPERATION_INVALID, HYVE_FROM_STORAGE, msg);
    expect_driver_eof(name, f.dfd, 0);
    expect_ended(name, &f);
    fixture_teardown(&f);
}
END_TEST

/* Client abort: no FINISH; the driver's end sees EOF at once, but the
 * client's abort is confirmed only once the driver closed its end (it
 * releases the volume before that): what the driver still sends is
 * dropped, the connection keeps working meanwhile. */
static const struct {
    const char *name;
    gboolean finish_first;      /* the client finished before aborting */
    gboolean late_frames;       /* the driver sends DATA, EOF, DONE after the abort */
} abort_cases[] = {
    { "abort", FALSE, FALSE },
    { "abort-late-frames", FALSE, TRUE },
    { "abort-after-finish", TRUE, FALSE },
    { "abort-after-finish-done", TRUE, TRUE },
};

START_TEST(test_abort)
{
    const char *name = abort_cases[_i].name;
    TestReply r;
    remote_auth_list_ret auth = { 0 };
    Fixture f;

    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, "abc", 3);
    expect_frame(name, f.dfd, HYVE_FRAME_DATA, 3, "abc");
    if (abort_cases[_i].finish_first) {
        client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_OK, NULL, 0);
        expect_frame(name, f.dfd, HYVE_FRAME_FINISH, 0, NULL);
    }
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_ERROR, NULL, 0);
    expect_driver_eof(name, f.dfd, HYVE_FRAME_FINISH);
    if (abort_cases[_i].late_frames) {
        frame_send(f.dfd, HYVE_FRAME_DATA, 0, 4, "late", 4);
        frame_send(f.dfd, HYVE_FRAME_EOF, 0, 0, NULL, 0);
        frame_send(f.dfd, HYVE_FRAME_DONE, 0, 0, NULL, 0);
    }
    /* the driver's end is still open: no confirmation, the stream lives */
    expect_no_packet(name, &f, 300);
    g_mutex_lock(&f.lock);
    ck_assert_msg(f.ends == 0, "%s: stream ended before the driver closed its end", name);
    g_mutex_unlock(&f.lock);
    /* the I/O thread is not blocked meanwhile */
    ck_assert_msg(test_call(f.cfd, REMOTE_PROC_AUTH_LIST, 91, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r) && !r.is_error,
                  "%s: connection unusable while the abort waits", name);
    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    close(f.dfd);
    f.dfd = -1;
    g_bytes_unref(expect_packet(name, &f, HYVED_TYPE_STREAM, HYVED_STATUS_OK));
    expect_ended(name, &f);
    fixture_teardown(&f);
}
END_TEST

/* A driver that never closes its end: the abort is confirmed anyway after
 * HYVED_STREAM_ABORT_WAIT (5 s), and the daemon's end is closed then. */
START_TEST(test_abort_timeout)
{
    Fixture f;
    HyvedHeader hdr;
    gint64 t0, waited;
    char c;

    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_ERROR, NULL, 0);
    t0 = g_get_monotonic_time();
    ck_assert_msg(test_recv(f.cfd, &hdr, NULL, 10000, NULL), "abort-timeout: never confirmed");
    ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.status == HYVED_STATUS_OK &&
                  hdr.serial == SERIAL, "abort-timeout: got type %d status %d serial %u",
                  hdr.type, hdr.status, hdr.serial);
    waited = g_get_monotonic_time() - t0;
    ck_assert_msg(waited >= 4500 * G_TIME_SPAN_MILLISECOND &&
                  waited < 8 * G_TIME_SPAN_SECOND,
                  "abort-timeout: confirmed after %" G_GINT64_FORMAT " ms, wanted about 5 s",
                  waited / G_TIME_SPAN_MILLISECOND);
    expect_ended("abort-timeout", &f);
    /* the daemon's end is closed: the driver's reads EOF, its writes fail */
    ck_assert(read(f.dfd, &c, 1) == 0);
    ck_assert(send(f.dfd, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE);
    fixture_teardown(&f);
}
END_TEST

/* The client goes away while its abort waits for the driver: the stream
 * ends (end callback once), the daemon's end is closed. */
START_TEST(test_abort_client_gone)
{
    Fixture f;
    char c;

    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_ERROR, NULL, 0);
    expect_driver_eof("abort-client-gone", f.dfd, 0);
    close(f.cfd);
    f.cfd = -1;
    ck_assert_msg(wait_ends(&f) == 1, "abort-client-gone: end callback not called");
    ck_assert(read(f.dfd, &c, 1) == 0);
    ck_assert(send(f.dfd, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE);
    fixture_teardown(&f);
}
END_TEST

/* What the transfer side sends that ends the stream with an internal error. */
static const struct {
    const char *name;
    guint32 type;
    guint32 reserved;
    guint64 len;
    gboolean close_instead;     /* close the driver's end instead of a frame */
    const char *message;        /* '~' prefix: substring */
} hostile_cases[] = {
    { "data-oversized", HYVE_FRAME_DATA, 0, HYVE_FRAME_DATA_MAX + 1, FALSE, "~invalid frame" },
    { "data-huge", HYVE_FRAME_DATA, 0, G_MAXUINT64, FALSE, "~invalid frame" },
    { "error-oversized", HYVE_FRAME_ERROR, 0, HYVE_FRAME_ERROR_MAX + 1, FALSE, "~invalid frame" },
    { "error-short", HYVE_FRAME_ERROR, 0, 4, FALSE, "~invalid frame" },
    { "hole-negative", HYVE_FRAME_HOLE, 0, G_MAXUINT64, FALSE, "~invalid frame" },
    { "unknown-type", 99, 0, 0, FALSE, "~invalid frame" },
    { "type-zero", 0, 0, 0, FALSE, "~invalid frame" },
    { "finish-from-driver", HYVE_FRAME_FINISH, 0, 0, FALSE, "~invalid frame" },
    { "reserved-set", HYVE_FRAME_EOF, 1, 0, FALSE, "~invalid frame" },
    { "eof-with-length", HYVE_FRAME_EOF, 0, 8, FALSE, "~invalid frame" },
    { "done-before-finish", HYVE_FRAME_DONE, 0, 0, FALSE, "~done before the client finished" },
    { "driver-gone", 0, 0, 0, TRUE, "internal error: stream had I/O failure" },
};

START_TEST(test_hostile_frame)
{
    const char *name = hostile_cases[_i].name;
    Fixture f;

    fixture_setup(&f);
    frame_send(f.dfd, HYVE_FRAME_DATA, 0, 2, "ok", 2);
    g_bytes_unref(expect_packet(name, &f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE));
    if (hostile_cases[_i].close_instead) {
        close(f.dfd);
        f.dfd = -1;
    } else {
        frame_send(f.dfd, hostile_cases[_i].type, hostile_cases[_i].reserved,
                   hostile_cases[_i].len, NULL, 0);
    }
    expect_error(name, &f, HYVE_ERR_INTERNAL_ERROR, HYVE_FROM_STREAMS,
                 hostile_cases[_i].message);
    if (f.dfd >= 0)
        expect_driver_eof(name, f.dfd, 0);
    expect_ended(name, &f);
    fixture_teardown(&f);
}
END_TEST

/* Malformed client STREAM_HOLE packets end the stream with an error. */
static const struct {
    const char *name;
    gsize len;
    gint64 length;
    guint32 flags;
    gint32 status;
    int code;
    int domain;
    const char *message;
} bad_hole_cases[] = {
    { "hole-short", 8, 100, 0, HYVED_STATUS_CONTINUE, HYVE_ERR_RPC, HYVE_FROM_RPC,
      "~malformed stream hole" },
    { "hole-long", 16, 100, 0, HYVED_STATUS_CONTINUE, HYVE_ERR_RPC, HYVE_FROM_RPC,
      "~malformed stream hole" },
    { "hole-status-ok", 12, 100, 0, HYVED_STATUS_OK, HYVE_ERR_RPC, HYVE_FROM_RPC,
      "~malformed stream hole" },
    { "hole-negative", 12, -5, 0, HYVED_STATUS_CONTINUE, HYVE_ERR_INVALID_ARG, HYVE_FROM_STREAMS,
      "~negative" },
    { "hole-flags", 12, 100, 1, HYVED_STATUS_CONTINUE, HYVE_ERR_INVALID_ARG, HYVE_FROM_STREAMS,
      "invalid argument: unsupported flags (0x1) in function virStreamSendHole" },
};

START_TEST(test_bad_client_hole)
{
    const char *name = bad_hole_cases[_i].name;
    guint8 buf[16] = { 0 };
    Fixture f;

    fixture_setup(&f);
    hole_payload(buf, bad_hole_cases[_i].length, bad_hole_cases[_i].flags);
    client_send(&f, HYVED_TYPE_STREAM_HOLE, bad_hole_cases[_i].status, buf,
                bad_hole_cases[_i].len);
    expect_error(name, &f, bad_hole_cases[_i].code, bad_hole_cases[_i].domain,
                 bad_hole_cases[_i].message);
    expect_driver_eof(name, f.dfd, HYVE_FRAME_HOLE);
    expect_ended(name, &f);
    fixture_teardown(&f);
}
END_TEST

/* The client goes away mid-transfer: the driver's end sees EOF, no FINISH. */
START_TEST(test_client_gone)
{
    Fixture f;

    fixture_setup(&f);
    client_send(&f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, "abc", 3);
    expect_frame("client-gone", f.dfd, HYVE_FRAME_DATA, 3, "abc");
    frame_send(f.dfd, HYVE_FRAME_DATA, 0, 3, "xyz", 3);
    close(f.cfd);
    f.cfd = -1;
    expect_driver_eof("client-gone", f.dfd, HYVE_FRAME_FINISH);
    ck_assert_msg(wait_ends(&f) == 1, "client-gone: end callback not called");
    fixture_teardown(&f);
}
END_TEST

/* A transfer side that does not read: the client's data piles up to the
 * back-pressure limit, then the daemon stops reading from the client (a
 * client thread sending 8 MiB and a call stays blocked), and resumes once
 * the frames are consumed: every byte arrives, then the call's reply. */
typedef struct {
    Fixture *f;
    gsize total;
    gint done;              /* atomic */
} ClientWriter;

static gpointer
client_writer_thread(gpointer data)
{
    ClientWriter *w = data;
    g_autofree guint8 *chunk = g_malloc(HYVE_FRAME_DATA_MAX);
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, REMOTE_PROC_AUTH_LIST, HYVED_TYPE_CALL, 91, 0 };
    g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&call, NULL, 0);

    for (gsize off = 0; off < w->total; off += HYVE_FRAME_DATA_MAX) {
        for (gsize i = 0; i < HYVE_FRAME_DATA_MAX; i++)
            chunk[i] = pattern(off + i);
        client_send(w->f, HYVED_TYPE_STREAM, HYVED_STATUS_CONTINUE, chunk, HYVE_FRAME_DATA_MAX);
    }
    ck_assert(test_send_raw(w->f->cfd, g_bytes_get_data(pkt, NULL), g_bytes_get_size(pkt)));
    g_atomic_int_set(&w->done, 1);
    return NULL;
}

START_TEST(test_backpressure)
{
    Fixture f;
    ClientWriter w = { .f = &f, .total = 32 * (gsize) HYVE_FRAME_DATA_MAX };
    GThread *thread;
    HyvedHeader hdr;
    gsize drained = 0;

    fixture_setup(&f);
    thread = g_thread_new("client", client_writer_thread, &w);
    g_usleep(G_USEC_PER_SEC);
    ck_assert_msg(!g_atomic_int_get(&w.done),
                  "backpressure: the daemon took all %zu bytes with nobody reading", w.total);
    ck_assert_msg(!test_recv(f.cfd, &hdr, NULL, 100, NULL),
                  "backpressure: a packet (type %d) while reading was paused", hdr.type);
    while (drained < w.total) {
        HyveFrameHeader h;
        g_autoptr(GBytes) p = NULL;
        const guint8 *d;

        ck_assert_msg(frame_recv(f.dfd, &h, &p, 5000, NULL) && h.type == HYVE_FRAME_DATA,
                      "backpressure: frame missing after %zu bytes", drained);
        d = g_bytes_get_data(p, NULL);
        ck_assert_msg(pattern_ok(d, h.len, drained), "backpressure: bytes from %zu on differ",
                      drained);
        drained += h.len;
    }
    g_thread_join(thread);
    ck_assert_msg(drained == w.total, "backpressure: %zu of %zu bytes", drained, w.total);
    ck_assert_msg(test_recv(f.cfd, &hdr, NULL, 5000, NULL) && hdr.serial == 91 &&
                  hdr.type == HYVED_TYPE_REPLY, "backpressure: the call was not answered");
    ck_assert(no_frame(f.dfd, 100));
    fixture_teardown(&f);
}
END_TEST

/* A raw (console) stream drops client STREAM_HOLE packets, as before
 * framed streams existed, and carries on. */
START_TEST(test_raw_ignores_holes)
{
    Fixture f;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, PROC, HYVED_TYPE_CALL, SERIAL + 1, 0 };
    g_autoptr(GError) err = NULL;
    HyvedStream *raw;
    HyvedHeader hdr = { HYVED_PROGRAM_REMOTE, 1, PROC, HYVED_TYPE_STREAM_HOLE, SERIAL + 1,
                        HYVED_STATUS_CONTINUE };
    g_autoptr(GBytes) hole = NULL;
    g_autoptr(GBytes) data = NULL;
    guint8 buf[12];
    char got[8] = { 0 };
    gboolean eof;
    int sp[2];

    fixture_setup(&f);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    raw = hyved_client_open_stream(f.client, &call, sp[1], NULL, NULL, NULL, &err);
    ck_assert_msg(raw, "raw stream: %s", err ? err->message : "?");
    g_mutex_lock(&f.client->lock);
    hyved_streams_call_done_locked(f.client, SERIAL + 1, TRUE);
    g_mutex_unlock(&f.client->lock);
    hole_payload(buf, 4096, 0);
    hole = hyved_packet_encode_raw(&hdr, buf, sizeof(buf));
    hdr.type = HYVED_TYPE_STREAM;
    data = hyved_packet_encode_raw(&hdr, "abc", 3);
    ck_assert(test_send_raw(f.cfd, g_bytes_get_data(hole, NULL), g_bytes_get_size(hole)));
    ck_assert(test_send_raw(f.cfd, g_bytes_get_data(data, NULL), g_bytes_get_size(data)));
    ck_assert_msg(test_read_full(sp[0], got, 3, 5000, &eof) && memcmp(got, "abc", 3) == 0,
                  "raw-hole: data after the hole did not arrive as it was");
    ck_assert_msg(no_frame(sp[0], 200), "raw-hole: the hole reached the raw fd");
    expect_no_packet("raw-hole", &f, 200);
    ck_assert_msg(no_frame(f.dfd, 100), "raw-hole: the framed stream got something");
    hyved_stream_unref(raw);
    close(sp[0]);
    fixture_teardown(&f);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("daemon-storage-stream");
    TCase *tc = tcase_create("framed");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_upload);
    tcase_add_test(tc, test_download);
    tcase_add_test(tc, test_download_bulk);
    tcase_add_loop_test(tc, test_error_frame, 0, G_N_ELEMENTS(error_cases));
    tcase_add_loop_test(tc, test_abort, 0, G_N_ELEMENTS(abort_cases));
    tcase_add_test(tc, test_abort_timeout);
    tcase_add_test(tc, test_abort_client_gone);
    tcase_add_loop_test(tc, test_hostile_frame, 0, G_N_ELEMENTS(hostile_cases));
    tcase_add_loop_test(tc, test_bad_client_hole, 0, G_N_ELEMENTS(bad_hole_cases));
    tcase_add_test(tc, test_client_gone);
    tcase_add_test(tc, test_backpressure);
    tcase_add_test(tc, test_raw_ignores_holes);
    suite_add_tcase(s, tc);

    tc = tcase_create("rpc");
    tcase_set_timeout(tc, 60);
    test_daemon_storage_add_rpc(tc);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
