/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_stream.c: the stream owner API of hyved_stream.c
 * (hyved_client_open_stream, end callback, hyved_stream_abort) on the
 * real in-process server, driven with raw packets: for every way a stream
 * can end, what the client sees, that the end callback runs exactly once
 * on the I/O thread, when the fd is closed, and that end_data is freed.
 * Also: a stream whose call is answered after the I/O loop ended (no
 * deadlock), and the client's finish with data still queued for the fd
 * (delivered first, or the finish fails saying so).
 */
#include "hyve-config.h"

#include <check.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "test_daemon_util.h"

#define SERIAL 50
#define NO_PACKET (-1)

typedef enum {
    END_FD_EOF,             /* the fd's other side closes */
    END_CLIENT_FINISH,      /* client STREAM/OK */
    END_CLIENT_ABORT,       /* client STREAM/ERROR */
    END_DISCONNECT,         /* client connection gone */
    END_CALL_FAILED,        /* the opening call's reply was an error */
    END_DAEMON_ABORT,       /* hyved_stream_abort on a running stream */
    END_DAEMON_ABORT_PENDING,   /* ... before the call's reply was queued */
    END_ABORT_AFTER_FINISH, /* hyved_stream_abort once it ended: no-op */
} EndHow;

typedef struct {
    const char *name;
    EndHow how;
    gboolean attach;            /* call done (OK) before the ending */
    gint32 status;              /* STREAM packet the client gets; NO_PACKET */
    gboolean fd_closed_at_end;  /* the daemon closes the fd as the stream ends
                                 * (not only once the owner drops it) */
} EndCase;

static const EndCase end_cases[] = {
    { "fd-eof", END_FD_EOF, TRUE, HYVED_STATUS_CONTINUE, FALSE },
    { "client-finish", END_CLIENT_FINISH, TRUE, HYVED_STATUS_OK, TRUE },
    { "client-abort", END_CLIENT_ABORT, TRUE, HYVED_STATUS_OK, TRUE },
    { "disconnect", END_DISCONNECT, TRUE, NO_PACKET, TRUE },
    { "call-failed", END_CALL_FAILED, FALSE, NO_PACKET, FALSE },
    { "daemon-abort", END_DAEMON_ABORT, TRUE, HYVED_STATUS_ERROR, TRUE },
    { "daemon-abort-pending", END_DAEMON_ABORT_PENDING, FALSE, HYVED_STATUS_ERROR, FALSE },
    { "abort-after-finish", END_ABORT_AFTER_FINISH, TRUE, HYVED_STATUS_OK, TRUE },
};

typedef struct {
    GMutex lock;
    GCond cond;
    GMainContext *ctx;
    int ends;                   /* [lock] end callbacks so far */
    gboolean off_thread;        /* [lock] an end callback ran elsewhere than the I/O thread */
    int notified;               /* [lock] end_data freed */
    int syncs;                  /* [lock] io_sync idles run */
} EndRecord;

static void
on_end(HyvedStream *stream, gpointer data)
{
    EndRecord *rec = data;

    g_mutex_lock(&rec->lock);
    rec->ends++;
    if (!g_main_context_is_owner(rec->ctx))
        rec->off_thread = TRUE;
    g_cond_broadcast(&rec->cond);
    g_mutex_unlock(&rec->lock);
}

static void
on_notify(gpointer data)
{
    EndRecord *rec = data;

    g_mutex_lock(&rec->lock);
    rec->notified++;
    g_cond_broadcast(&rec->cond);
    g_mutex_unlock(&rec->lock);
}

/* Waits until *field >= want (or 5 s); returns its value. */
static int
wait_count(EndRecord *rec, int *field, int want)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    int v;

    g_mutex_lock(&rec->lock);
    while (*field < want && g_cond_wait_until(&rec->cond, &rec->lock, deadline))
        ;
    v = *field;
    g_mutex_unlock(&rec->lock);
    return v;
}

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;

    if (!*out)
        *out = hyved_client_ref(client);
}

static void
call_done(HyvedClient *client, gboolean ok)
{
    g_mutex_lock(&client->lock);
    hyved_streams_call_done_locked(client, SERIAL, ok);
    g_mutex_unlock(&client->lock);
    g_main_context_wakeup(client->server->ctx);
}

/* Returns once everything the I/O thread had to do at default priority ran. */
static gboolean
sync_idle(gpointer data)
{
    EndRecord *rec = data;

    g_mutex_lock(&rec->lock);
    rec->syncs++;
    g_cond_broadcast(&rec->cond);
    g_mutex_unlock(&rec->lock);
    return G_SOURCE_REMOVE;
}

static void
io_sync(EndRecord *rec)
{
    GSource *idle = g_idle_source_new();
    int before;

    g_mutex_lock(&rec->lock);
    before = rec->syncs;
    g_mutex_unlock(&rec->lock);
    g_source_set_priority(idle, G_PRIORITY_LOW);
    g_source_set_callback(idle, sync_idle, rec, NULL);
    g_source_attach(idle, rec->ctx);
    g_source_unref(idle);
    g_main_context_wakeup(rec->ctx);
    ck_assert_msg(wait_count(rec, &rec->syncs, before + 1) > before,
                  "the I/O thread did not get to an idle");
}

static gboolean
fd_is_closed(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char c;

    return poll(&pfd, 1, timeout_ms) == 1 && read(fd, &c, 1) == 0;
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
send_stream(int fd, gint32 status)
{
    ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, 201, HYVED_TYPE_STREAM, SERIAL, status,
                        NULL, NULL));
}

static void
expect_packet(const EndCase *c, int fd, gint32 status, gsize len_want)
{
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    gsize len = 0;

    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "%s: no packet (status %d wanted)",
                  c->name, status);
    g_bytes_get_data(payload, &len);
    ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.proc == 201 && hdr.serial == SERIAL &&
                  hdr.status == status && (len_want == G_MAXSIZE || len == len_want),
                  "%s: got type %d proc %d serial %u status %d len %zu, wanted STREAM status %d",
                  c->name, hdr.type, hdr.proc, hdr.serial, hdr.status, len, status);
}

static void
expect_abort_error(const EndCase *c, int fd)
{
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GError) err = NULL;
    remote_error rerr = { 0 };
    gsize len = 0;
    const guint8 *data;

    ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, NULL), "%s: no stream error", c->name);
    data = g_bytes_get_data(payload, &len);
    ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.serial == SERIAL &&
                  hdr.status == HYVED_STATUS_ERROR,
                  "%s: got type %d serial %u status %d, wanted STREAM/ERROR", c->name,
                  hdr.type, hdr.serial, hdr.status);
    ck_assert_msg(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_error, &rerr,
                                              &err), "%s: bad remote_error: %s", c->name,
                  err ? err->message : "?");
    ck_assert_msg(rerr.code == HYVE_ERR_RPC && rerr.domain == HYVE_FROM_STREAMS &&
                  rerr.message && g_strcmp0(*rerr.message, "stream had I/O failure") == 0,
                  "%s: error %d/%d '%s'", c->name, rerr.code, rerr.domain,
                  rerr.message ? *rerr.message : "(null)");
    xdr_free((xdrproc_t) xdr_remote_error, (char *) &rerr);
}

static void
daemon_abort(HyvedStream *st)
{
    g_autoptr(GError) err = NULL;

    hyve_error_set(&err, HYVE_FROM_STREAMS, HYVE_ERR_RPC, "stream had I/O failure");
    hyved_stream_abort(st, err);
}

START_TEST(test_stream_end)
{
    const EndCase *c = &end_cases[_i];
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, SERIAL, 0 };
    HyvedHeader hdr;
    EndRecord rec = { .ctx = ts->ctx };
    g_autoptr(GError) err = NULL;
    HyvedStream *st;
    gboolean fd_open = TRUE;

    g_mutex_init(&rec.lock);
    g_cond_init(&rec.cond);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    st = hyved_client_open_stream(client, &call, sp[1], on_end, &rec, on_notify, &err);
    ck_assert_msg(st, "%s: open: %s", c->name, err ? err->message : "?");

    if (c->attach) {
        call_done(client, TRUE);
        ck_assert(write(sp[0], "hello", 5) == 5);
        expect_packet(c, fd, HYVED_STATUS_CONTINUE, 5);
    }
    switch (c->how) {
    case END_FD_EOF:
        close(sp[0]);
        fd_open = FALSE;
        break;
    case END_CLIENT_FINISH:
    case END_ABORT_AFTER_FINISH:
        send_stream(fd, HYVED_STATUS_OK);
        break;
    case END_CLIENT_ABORT:
        send_stream(fd, HYVED_STATUS_ERROR);
        break;
    case END_DISCONNECT:
        close(fd);
        fd = -1;
        break;
    case END_CALL_FAILED:
        call_done(client, FALSE);
        break;
    case END_DAEMON_ABORT:
        daemon_abort(st);
        break;
    case END_DAEMON_ABORT_PENDING:
        daemon_abort(st);
        io_sync(&rec);
        ck_assert_msg(wait_count(&rec, &rec.ends, 0) == 0,
                      "%s: ended before the call's reply", c->name);
        call_done(client, TRUE);
        break;
    }

    if (c->status == HYVED_STATUS_ERROR)
        expect_abort_error(c, fd);
    else if (c->status != NO_PACKET)
        expect_packet(c, fd, c->status, 0);
    ck_assert_msg(wait_count(&rec, &rec.ends, 1) == 1, "%s: end callback not called", c->name);

    if (c->how == END_ABORT_AFTER_FINISH)
        daemon_abort(st);
    if (c->how == END_FD_EOF) {
        /* a hung-up fd is not polled while the client has yet to finish:
         * the server must not spin meanwhile */
        double cpu = cpu_seconds();

        g_usleep(G_USEC_PER_SEC);
        cpu = cpu_seconds() - cpu;
        ck_assert_msg(cpu < 0.3, "%s: server spins after EOF (%.2f s CPU in 1 s)", c->name, cpu);
        /* the client finishes after EOF: confirmed, no second end */
        send_stream(fd, HYVED_STATUS_OK);
        expect_packet(c, fd, HYVED_STATUS_OK, 0);
    }
    if (fd_open && c->fd_closed_at_end)
        ck_assert_msg(fd_is_closed(sp[0], 3000), "%s: fd still open after the end", c->name);

    /* nothing more for that stream: stale packets dropped, calls answered */
    if (fd >= 0) {
        TestReply r;
        remote_auth_list_ret auth = { 0 };

        send_stream(fd, HYVED_STATUS_CONTINUE);
        send_stream(fd, HYVED_STATUS_OK);
        ck_assert_msg(!test_recv(fd, &hdr, NULL, 300, NULL),
                      "%s: packet type %d status %d after the end", c->name, hdr.type,
                      hdr.status);
        ck_assert_msg(test_call(fd, REMOTE_PROC_AUTH_LIST, 60, NULL, NULL,
                                (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r) &&
                      !r.is_error, "%s: connection unusable after the end", c->name);
        xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    }
    io_sync(&rec);
    g_mutex_lock(&rec.lock);
    ck_assert_msg(rec.ends == 1 && !rec.off_thread && rec.notified == 0,
                  "%s: %d end callbacks (off the I/O thread: %d), notified %d before unref",
                  c->name, rec.ends, rec.off_thread, rec.notified);
    g_mutex_unlock(&rec.lock);

    hyved_stream_unref(st);
    ck_assert_msg(wait_count(&rec, &rec.notified, 1) == 1, "%s: end_data not freed", c->name);
    if (fd_open)
        ck_assert_msg(fd_is_closed(sp[0], 3000), "%s: fd not closed", c->name);

    if (fd_open)
        close(sp[0]);
    if (fd >= 0)
        close(fd);
    hyved_client_unref(client);
    test_server_stop(ts);
    g_mutex_clear(&rec.lock);
    g_cond_clear(&rec.cond);
}
END_TEST

/* A closed client: open_stream fails, closes the fd, frees end_data, and
 * never calls the end callback. */
START_TEST(test_stream_open_closed_client)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, SERIAL, 0 };
    EndRecord rec = { .ctx = ts->ctx };
    g_autoptr(GError) err = NULL;
    HyvedStream *st;

    g_mutex_init(&rec.lock);
    g_cond_init(&rec.cond);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    close(fd);
    for (int i = 0; i < 300; i++) {
        gboolean closed;

        g_mutex_lock(&client->lock);
        closed = client->closed;
        g_mutex_unlock(&client->lock);
        if (closed)
            break;
        g_usleep(10 * 1000);
    }
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    st = hyved_client_open_stream(client, &call, sp[1], on_end, &rec, on_notify, &err);
    ck_assert_msg(st == NULL && err && err->code == HYVE_ERR_OPERATION_INVALID,
                  "open-closed-client: open must fail with OPERATION_INVALID");
    ck_assert_msg(fd_is_closed(sp[0], 3000), "open-closed-client: fd not closed");
    io_sync(&rec);
    ck_assert_msg(rec.ends == 0 && rec.notified == 1,
                  "open-closed-client: ends %d notified %d", rec.ends, rec.notified);
    close(sp[0]);
    hyved_client_unref(client);
    test_server_stop(ts);
    g_mutex_clear(&rec.lock);
    g_cond_clear(&rec.cond);
}
END_TEST

/* The reply of a stream-opening call queued while nobody iterates the I/O
 * thread's context (the daemon between its main loop's end and
 * hyved_server_free, a worker still finishing a console open). virtbhyved
 * serves on g_main_context_default(), which g_main_context_invoke() runs
 * in the calling thread when it can acquire it: attaching the stream must
 * be left to the I/O thread, not run in the caller, which holds
 * client->lock (a self-deadlock, and then a hang at shutdown). */
typedef struct {
    HyvedClient *client;
    GMutex lock;
    GCond cond;
    gboolean done;
} LateDone;

static gpointer
late_done_thread(gpointer data)
{
    LateDone *ld = data;

    g_mutex_lock(&ld->client->lock);
    hyved_streams_call_done_locked(ld->client, SERIAL, TRUE);
    hyved_client_unlock(ld->client);
    g_mutex_lock(&ld->lock);
    ld->done = TRUE;
    g_cond_broadcast(&ld->cond);
    g_mutex_unlock(&ld->lock);
    return NULL;
}

START_TEST(test_stream_done_after_loop)
{
    TestServer *ts = test_server_start_on(HYVED_AUTH_NONE, NULL, g_main_context_default());
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, SERIAL, 0 };
    EndRecord rec = { .ctx = ts->ctx };
    LateDone ld = { 0 };
    g_autoptr(GError) err = NULL;
    HyvedStream *st;
    GThread *thread;
    gint64 deadline;
    gboolean done;

    g_mutex_init(&rec.lock);
    g_cond_init(&rec.cond);
    g_mutex_init(&ld.lock);
    g_cond_init(&ld.cond);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &ld.client);
    ck_assert(ld.client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    st = hyved_client_open_stream(ld.client, &call, sp[1], on_end, &rec, on_notify, &err);
    ck_assert_msg(st, "done-after-loop: open: %s", err ? err->message : "?");

    test_server_stop_loop(ts);      /* the I/O thread is gone: nobody owns ctx */
    thread = g_thread_new("late-done", late_done_thread, &ld);
    deadline = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    g_mutex_lock(&ld.lock);
    while (!ld.done && g_cond_wait_until(&ld.cond, &ld.lock, deadline))
        ;
    done = ld.done;
    g_mutex_unlock(&ld.lock);
    ck_assert_msg(done, "done-after-loop: queuing the reply hangs (the stream was attached "
                  "in the caller, under client->lock)");
    g_thread_join(thread);

    /* shutdown ends the stream once: fd closed, end callback run */
    test_server_stop(ts);
    ck_assert_msg(fd_is_closed(sp[0], 3000), "done-after-loop: fd not closed at shutdown");
    ck_assert_msg(wait_count(&rec, &rec.ends, 1) == 1, "done-after-loop: %d end callbacks",
                  rec.ends);
    hyved_stream_unref(st);
    hyved_client_unref(ld.client);
    close(sp[0]);
    close(fd);
    g_mutex_clear(&ld.lock);
    g_cond_clear(&ld.cond);
}
END_TEST

/* Console input still queued for the fd when the client finishes
 * (virStreamFinish after writing): delivered before the finish is
 * confirmed, or the finish fails saying so; never dropped silently. */
typedef enum {
    FINISH_READ,            /* the fd's reader takes it all: STREAM/OK after it */
    FINISH_READ_SLOW,       /* ... slowly, for longer than the wait for room */
    FINISH_PEER_GONE,       /* the fd's other side closed: writes fail */
    FINISH_PEER_STUCK,      /* nobody reads: the wait for room ends */
} FinishHow;

typedef struct {
    const char *name;
    FinishHow how;
    gint32 status;          /* the confirmation: STREAM/OK or STREAM/ERROR */
    int code;               /* its error code (ERROR) */
    int chunks;             /* FINISH_CHUNK bytes each, written before the finish */
} FinishCase;

static const FinishCase finish_cases[] = {
    { "finish-delivers", FINISH_READ, HYVED_STATUS_OK, 0, 8 },
    { "finish-slow-reader", FINISH_READ_SLOW, HYVED_STATUS_OK, 0, 1 },
    { "finish-peer-gone", FINISH_PEER_GONE, HYVED_STATUS_ERROR, HYVE_ERR_SYSTEM_ERROR, 8 },
    { "finish-peer-stuck", FINISH_PEER_STUCK, HYVED_STATUS_ERROR, HYVE_ERR_OPERATION_TIMEOUT, 8 },
};

#define FINISH_CHUNK 32768
#define FINISH_CHUNKS 8

START_TEST(test_stream_finish_pending)
{
    const FinishCase *c = &finish_cases[_i];
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int sp[2];
    int sndbuf = 4096;
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, SERIAL, 0 };
    HyvedHeader hdr = { 0 };
    EndRecord rec = { .ctx = ts->ctx };
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) payload = NULL;
    g_autofree guint8 *sent = g_malloc(FINISH_CHUNK * FINISH_CHUNKS);
    HyvedStream *st;
    gsize got = 0;
    gint64 t0;

    g_mutex_init(&rec.lock);
    g_cond_init(&rec.cond);
    for (gsize i = 0; i < FINISH_CHUNK * FINISH_CHUNKS; i++)
        sent[i] = (guint8) (i * 7 + i / 251);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    /* a small socket buffer: most of the data waits in the daemon */
    ck_assert(setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0);
    st = hyved_client_open_stream(client, &call, sp[1], on_end, &rec, on_notify, &err);
    ck_assert_msg(st, "%s: open: %s", c->name, err ? err->message : "?");
    call_done(client, TRUE);
    if (c->how == FINISH_PEER_GONE)
        close(sp[0]);

    for (int i = 0; i < c->chunks; i++) {
        HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_STREAM, SERIAL,
                          HYVED_STATUS_CONTINUE };
        g_autoptr(GBytes) pkt = hyved_packet_encode_raw(&h, sent + i * FINISH_CHUNK,
                                                        FINISH_CHUNK);
        gsize len = 0;
        const void *data = g_bytes_get_data(pkt, &len);

        ck_assert(test_send_raw(fd, data, len));
    }
    send_stream(fd, HYVED_STATUS_OK);
    t0 = g_get_monotonic_time();

    if (c->how == FINISH_READ || c->how == FINISH_READ_SLOW) {
        /* not confirmed while the data waits for the reader */
        ck_assert_msg(!test_recv(fd, &hdr, NULL, 500, NULL),
                      "%s: finish confirmed (type %d status %d) with data not yet written",
                      c->name, hdr.type, hdr.status);
        while (got < (gsize) FINISH_CHUNK * c->chunks) {
            guint8 buf[8192];
            struct pollfd pfd = { .fd = sp[0], .events = POLLIN };
            ssize_t n;

            if (poll(&pfd, 1, 5000) != 1)
                break;
            n = read(sp[0], buf, c->how == FINISH_READ_SLOW ? 4096 : sizeof(buf));
            if (n <= 0)
                break;
            ck_assert_msg(got + n <= (gsize) FINISH_CHUNK * c->chunks &&
                          memcmp(buf, sent + got, n) == 0,
                          "%s: wrong bytes at offset %zu", c->name, got);
            got += n;
            /* 8 reads of 4 KiB: past HYVED_STREAM_FINISH_WAIT (5 s) in
             * all, the fd never stuck for that long */
            if (c->how == FINISH_READ_SLOW)
                g_usleep(900 * 1000);
        }
        ck_assert_msg(got == (gsize) FINISH_CHUNK * c->chunks,
                      "%s: the fd got %zu of %d bytes the client wrote before finishing",
                      c->name, got, FINISH_CHUNK * c->chunks);
    }
    /* the fd's EOF (peer gone) may come first: an empty STREAM/CONTINUE */
    do {
        g_clear_pointer(&payload, g_bytes_unref);
        ck_assert_msg(test_recv(fd, &hdr, &payload, 10000, NULL), "%s: finish not confirmed",
                      c->name);
    } while (c->how == FINISH_PEER_GONE && hdr.status == HYVED_STATUS_CONTINUE &&
             g_bytes_get_size(payload) == 0);
    ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.serial == SERIAL &&
                  hdr.status == c->status, "%s: got type %d serial %u status %d, wanted %d",
                  c->name, hdr.type, hdr.serial, hdr.status, c->status);
    if (c->status == HYVED_STATUS_ERROR) {
        remote_error rerr = { 0 };
        gsize len = 0;
        const guint8 *data = g_bytes_get_data(payload, &len);

        ck_assert_msg(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_error,
                                                  &rerr, &err), "%s: bad remote_error",
                      c->name);
        ck_assert_msg(rerr.code == c->code && rerr.domain == HYVE_FROM_STREAMS && rerr.message &&
                      strstr(*rerr.message, "not written"),
                      "%s: error %d/%d '%s'", c->name, rerr.code, rerr.domain,
                      rerr.message ? *rerr.message : "(null)");
        xdr_free((xdrproc_t) xdr_remote_error, (char *) &rerr);
    }
    if (c->how == FINISH_READ_SLOW)
        ck_assert_msg((g_get_monotonic_time() - t0) / 1e6 > 5.0,
                      "%s: the slow reader took less than 5 s, not a test of the wait",
                      c->name);
    if (c->how == FINISH_PEER_STUCK) {
        double waited = (g_get_monotonic_time() - t0) / 1e6;

        ck_assert_msg(waited > 3.0, "%s: gave up after %.1f s", c->name, waited);
    }
    ck_assert_msg(wait_count(&rec, &rec.ends, 1) == 1, "%s: end callback not called", c->name);
    if (c->how != FINISH_PEER_GONE)
        ck_assert_msg(fd_is_closed(sp[0], 3000) || c->how == FINISH_PEER_STUCK,
                      "%s: fd still open after the end", c->name);

    /* the connection goes on */
    {
        TestReply r;
        remote_auth_list_ret auth = { 0 };

        ck_assert_msg(test_call(fd, REMOTE_PROC_AUTH_LIST, 60, NULL, NULL,
                                (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r) &&
                      !r.is_error, "%s: connection unusable after the finish", c->name);
        xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    }
    io_sync(&rec);
    g_mutex_lock(&rec.lock);
    ck_assert_msg(rec.ends == 1 && !rec.off_thread, "%s: %d end callbacks (off thread %d)",
                  c->name, rec.ends, rec.off_thread);
    g_mutex_unlock(&rec.lock);
    hyved_stream_unref(st);
    if (c->how != FINISH_PEER_GONE)
        close(sp[0]);
    close(fd);
    hyved_client_unref(client);
    test_server_stop(ts);
    g_mutex_clear(&rec.lock);
    g_cond_clear(&rec.cond);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("daemon-stream");
    TCase *tc = tcase_create("stream");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_stream_end, 0, G_N_ELEMENTS(end_cases));
    tcase_add_test(tc, test_stream_open_closed_client);
    tcase_add_test(tc, test_stream_done_after_loop);
    tcase_add_loop_test(tc, test_stream_finish_pending, 0, G_N_ELEMENTS(finish_cases));
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
