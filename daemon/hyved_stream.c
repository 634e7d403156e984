/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream.c: libvirt data streams (libvirt-rpc.md §2.8) backed by a
 * file descriptor, e.g. a VM console: bytes read from the fd go to the
 * client as STREAM/CONTINUE packets (proc and serial of the call that
 * opened the stream), STREAM/CONTINUE data from the client is written to
 * the fd. EOF on the fd -> empty CONTINUE; the client's finish (OK) or
 * abort (ERROR) is confirmed with an empty STREAM/OK and ends the stream.
 *
 * A stream registered by a handler stays dormant until the handler's
 * reply is queued (so no data overtakes the reply), and is dropped if the
 * call failed. All fd I/O happens on the I/O thread.
 *
 * The daemon may end a stream itself (hyved_stream_abort, any thread: a
 * console taken over with FORCE): the client gets a STREAM/ERROR packet
 * carrying the error, after the reply of the call that opened it. The
 * owner learns when a stream ends, whatever the reason (fd EOF, client
 * finish/abort, client gone, opening call failed, daemon abort), through
 * its end callback: called once, on the I/O thread, with no lock held.
 *
 * Framed mode (hyved_client_open_framed_stream: volume upload/download)
 * speaks hyve_stream_frame.h on the fd instead of raw bytes: client data
 * and STREAM_HOLE packets become DATA and HOLE frames, the client's finish
 * a FINISH frame whose confirmation waits for the transfer's DONE (or its
 * ERROR, sent as STREAM/ERROR); DATA, HOLE and EOF frames from the fd
 * become STREAM/CONTINUE data, STREAM_HOLE packets and the empty CONTINUE.
 * The fd closing before DONE/ERROR, or a malformed frame, ends the stream
 * with an error. Same I/O thread, back-pressure and lifetime as raw mode.
 *
 * Lifetime: the client's lists (pending_streams, streams) hold one
 * reference each; handles from hyved_client_open_stream one more. The
 * stream borrows its client: st->client may only be used while the stream
 * is linked (in one of the client's lists, flag "linked" under st->lock),
 * since a client is never freed with streams in its lists.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "hyve_stream_frame.h"

/* Stop reading the fd while this much is queued to the client. */
#define HYVED_STREAM_BACKLOG (1024 * 1024)

/* Stop reading from the client while a stream holds this much of its data
 * not yet written to the fd (back-pressure, as libvirtd). */
#define HYVED_STREAM_WBUF_MAX (1024 * 1024)

/* Frames read from a framed stream's fd per wakeup (fairness). */
#define HYVED_STREAM_FRAMES_BATCH 32

/* Created by a worker's handler and handed to the I/O thread through
 * client->pending_streams (under client->lock); from then on its mutable
 * fields belong to the I/O thread only. No lock of its own. */
struct _HyvedStream {
    GSource base;               /* first: the stream is its own GSource */
    HyvedClient *client;        /* immutable; borrowed, valid while linked */
    GMainContext *ctx;          /* immutable: the I/O thread's (a reference) */
    HyvedHeader hdr;            /* immutable: STREAM, CONTINUE, proc/serial of the call */
    HyvedStreamEndFunc end;     /* immutable */
    gpointer end_data;          /* immutable, freed with end_notify at finalize */
    GDestroyNotify end_notify;
    GMutex lock;                /* guards linked */
    gboolean linked;            /* [lock] in client->pending_streams or ->streams */
    gboolean abort_pending;     /* [client->lock] aborted by the daemon while pending:
                                 * ended right after the call's reply */
    GError *abort_error;        /* [client->lock] what the client is told then */
    gboolean ended;             /* I/O thread: end callback called */
    int fd;                     /* I/O thread */
    gpointer tag;               /* I/O thread: NULL while cur is 0 */
    GIOCondition cur;           /* I/O thread: events polled */
    gboolean eof;               /* I/O thread: EOF sent to the client */
    GByteArray *wbuf;           /* I/O thread: client data not yet written to fd */
    gboolean full;              /* I/O thread: wbuf at HYVED_STREAM_WBUF_MAX, counted
                                 * in client->streams_full */
    /* framed mode (hyve_stream_frame.h on fd) */
    gboolean framed;            /* immutable */
    gboolean finishing;         /* I/O thread: client finished, FINISH queued, awaiting
                                 * DONE/ERROR */
    gboolean wfailed;           /* I/O thread: writing to fd failed, client data dropped */
    HyveFrameHeader rhdr;       /* I/O thread: the frame being read */
    gsize rhave;                /* I/O thread: bytes of it (header + payload) read */
    guint8 *rpayload;           /* I/O thread: its payload (DATA, ERROR) */
};

/* I/O thread: after wbuf changed, pause or resume reading from the client. */
static void
stream_update_full(HyvedStream *st)
{
    gboolean full = st->wbuf->len >= HYVED_STREAM_WBUF_MAX;

    if (full == st->full)
        return;
    st->full = full;
    if (full)
        st->client->streams_full++;
    else
        st->client->streams_full--;
}

/* With client->lock held (st linked): the stream leaves the client's lists. */
static void
stream_unlink(HyvedStream *st)
{
    g_mutex_lock(&st->lock);
    st->linked = FALSE;
    g_mutex_unlock(&st->lock);
}

/* I/O thread, no lock held: tell the owner, once. */
static void
stream_fire_end(HyvedStream *st)
{
    if (st->ended)
        return;
    st->ended = TRUE;
    if (st->end) {
        g_source_ref(&st->base);
        st->end(st, st->end_data);
        g_source_unref(&st->base);
    }
}

static gboolean
stream_fire_end_cb(gpointer data)
{
    stream_fire_end(data);
    return G_SOURCE_REMOVE;
}

/* Any thread: runs @func on the I/O thread later (never in the caller,
 * which may hold locks the callback's owner code takes). */
static void
stream_defer(HyvedStream *st, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
    GSource *idle = g_idle_source_new();

    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_callback(idle, func, data, notify);
    g_source_set_name(idle, "hyved-stream-defer");
    g_source_attach(idle, st->ctx);
    g_source_unref(idle);
}

/* Any thread, no lock needed: stream_fire_end on the I/O thread. */
static void
stream_fire_end_later(HyvedStream *st)
{
    stream_defer(st, stream_fire_end_cb, g_source_ref(&st->base),
                 (GDestroyNotify) g_source_unref);
}

static GBytes *
stream_error_packet(HyvedStream *st, const GError *err)
{
    HyveErrorFrom from;

    if (err && hyve_error_from_quark(err->domain, &from))
        return hyved_packet_encode_stream_error(&st->hdr, err->code, from, err->message);
    return hyved_packet_encode_stream_error(&st->hdr, HYVE_ERR_INTERNAL_ERROR, HYVE_FROM_STREAMS,
                                            err ? err->message : "stream aborted");
}

static GBytes *
stream_packet(HyvedStream *st, gint32 status, const void *data, gsize len)
{
    HyvedHeader hdr = st->hdr;

    hdr.status = status;
    return hyved_packet_encode_raw(&hdr, data, len);
}

static gboolean
stream_prepare(GSource *source, gint *timeout)
{
    HyvedStream *st = (HyvedStream *) source;
    GIOCondition want = 0;
    gsize backlog;

    *timeout = -1;
    g_mutex_lock(&st->client->lock);
    backlog = st->client->out_bytes;
    g_mutex_unlock(&st->client->lock);
    /* framed: DONE/ERROR still come after EOF */
    if ((st->framed || !st->eof) && backlog < HYVED_STREAM_BACKLOG)
        want |= G_IO_IN;
    if (st->wbuf->len > 0)
        want |= G_IO_OUT;
    if (want == st->cur)
        return FALSE;
    /* Nothing wanted: off the poll set entirely, since poll() reports a
     * hung-up fd (a pty after its runner exited, until the client finishes)
     * whatever events are asked for, which would spin the loop. */
    if (want == 0) {
        g_source_remove_unix_fd(source, st->tag);
        st->tag = NULL;
    } else if (!st->tag) {
        st->tag = g_source_add_unix_fd(source, st->fd, want);
    } else {
        g_source_modify_unix_fd(source, st->tag, want);
    }
    st->cur = want;
    return FALSE;
}

static gboolean
stream_write(HyvedStream *st)
{
    while (st->wbuf->len > 0) {
        /* framed: a socket whose peer may be gone (no SIGPIPE) */
        ssize_t n = st->framed
            ? send(st->fd, st->wbuf->data, st->wbuf->len, MSG_NOSIGNAL | MSG_DONTWAIT)
            : write(st->fd, st->wbuf->data, st->wbuf->len);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return TRUE;
            g_debug("stream %u: write failed: %s; discarding client data",
                    st->hdr.serial, g_strerror(errno));
            g_byte_array_set_size(st->wbuf, 0);
            /* framed: the transfer's ERROR frame or EOF, read next, ends it */
            st->wfailed = TRUE;
            return FALSE;
        }
        g_byte_array_remove_range(st->wbuf, 0, n);
    }
    return TRUE;
}

static gboolean
stream_write_update(HyvedStream *st)
{
    gboolean ok = stream_write(st);

    stream_update_full(st);
    return ok;
}

/* ---- framed mode: frames from the fd ------------------------------------ */

static void stream_destroy(HyvedStream *st);

/* I/O thread: a framed stream ends on the daemon's side: @pkt (owned, may
 * be NULL) goes to the client, the fd is closed, the owner is told. */
static void
framed_end(HyvedStream *st, GBytes *pkt)
{
    g_autoptr(HyvedClient) client = hyved_client_ref(st->client);
    gboolean live;

    g_mutex_lock(&client->lock);
    live = g_ptr_array_remove(client->streams, st);
    if (live) {
        stream_unlink(st);
        if (pkt && !client->closed)
            hyved_client_enqueue_locked(client, g_steal_pointer(&pkt));
    }
    g_mutex_unlock(&client->lock);
    if (pkt)
        g_bytes_unref(pkt);
    if (live) {
        g_main_context_wakeup(st->ctx);
        stream_destroy(st);     /* the list's reference */
    }
}

static void
framed_fail(HyvedStream *st, HyveErrorFrom from, HyveErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* I/O thread: ends the stream with a STREAM/ERROR built like hyve_error_set. */
static void
framed_fail(HyvedStream *st, HyveErrorFrom from, HyveErrorCode code, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hyve_error_set(&err, from, code, "%s", msg);
    g_debug("stream %u: %s", st->hdr.serial, err->message);
    framed_end(st, stream_error_packet(st, err));
}

static gsize
frame_payload_len(const HyveFrameHeader *h)
{
    return (h->type == HYVE_FRAME_DATA || h->type == HYVE_FRAME_ERROR) ? (gsize) h->len : 0;
}

/* A header from the transfer side: known type, bounded length. */
static gboolean
frame_header_ok(const HyveFrameHeader *h)
{
    if (h->reserved != 0)
        return FALSE;
    switch (h->type) {
    case HYVE_FRAME_DATA:
        return h->len <= HYVE_FRAME_DATA_MAX;
    case HYVE_FRAME_HOLE:
        return h->len <= G_MAXINT64;
    case HYVE_FRAME_ERROR:
        return h->len >= sizeof(HyveFrameError) && h->len <= HYVE_FRAME_ERROR_MAX;
    case HYVE_FRAME_EOF:
    case HYVE_FRAME_DONE:
        return h->len == 0;
    default:                    /* FINISH goes the other way */
        return FALSE;
    }
}

/* I/O thread: reads what the fd has of the current frame. 1: a whole
 * frame is in; 0: nothing more for now; -1: the stream ended (error sent). */
static int
framed_read_frame(HyvedStream *st)
{
    for (;;) {
        const gsize hlen = sizeof(HyveFrameHeader);
        guint8 *dst;
        gsize need;
        ssize_t n;

        if (st->rhave < hlen) {
            dst = (guint8 *) &st->rhdr + st->rhave;
            need = hlen - st->rhave;
        } else {
            gsize got = st->rhave - hlen;

            if (got == frame_payload_len(&st->rhdr))
                return 1;
            dst = st->rpayload + got;
            need = frame_payload_len(&st->rhdr) - got;
        }
        n = read(st->fd, dst, need);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            /* the transfer side went away without DONE or ERROR */
            framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INTERNAL_ERROR,
                        "stream had I/O failure");
            return -1;
        }
        st->rhave += n;
        if (st->rhave == hlen) {
            if (!frame_header_ok(&st->rhdr)) {
                framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INTERNAL_ERROR,
                            "stream had I/O failure: invalid frame (type %u, length %"
                            G_GUINT64_FORMAT ")", st->rhdr.type, (guint64) st->rhdr.len);
                return -1;
            }
            if (frame_payload_len(&st->rhdr) > 0)
                st->rpayload = g_malloc(frame_payload_len(&st->rhdr));
        }
    }
}

static GBytes *
hole_packet(HyvedStream *st, guint64 length)
{
    HyvedHeader hdr = st->hdr;
    guint8 buf[12];
    guint64 be_len = GUINT64_TO_BE(length);
    guint32 be_flags = 0;

    hdr.type = HYVED_TYPE_STREAM_HOLE;
    hdr.status = HYVED_STATUS_CONTINUE;
    memcpy(buf, &be_len, 8);
    memcpy(buf + 8, &be_flags, 4);
    return hyved_packet_encode_raw(&hdr, buf, sizeof(buf));
}

/* I/O thread: acts on the frame just read. FALSE when the stream ended. */
static gboolean
framed_handle_frame(HyvedStream *st)
{
    const HyveFrameHeader *h = &st->rhdr;

    switch (h->type) {
    case HYVE_FRAME_DATA:
        /* after the client's finish, left-over data is dropped */
        if (h->len > 0 && !st->finishing)
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE,
                                                           st->rpayload, h->len));
        return TRUE;
    case HYVE_FRAME_HOLE:
        if (h->len > 0 && !st->finishing)
            hyved_client_enqueue(st->client, hole_packet(st, h->len));
        return TRUE;
    case HYVE_FRAME_EOF:
        if (!st->eof && !st->finishing) {
            st->eof = TRUE;
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE, NULL, 0));
        }
        return TRUE;
    case HYVE_FRAME_DONE:
        if (!st->finishing) {
            framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INTERNAL_ERROR,
                        "stream had I/O failure: transfer done before the client finished");
            return FALSE;
        }
        framed_end(st, stream_packet(st, HYVED_STATUS_OK, NULL, 0));
        return FALSE;
    case HYVE_FRAME_ERROR: {
        HyveFrameError fe;
        g_autofree char *msg = NULL;

        memcpy(&fe, st->rpayload, sizeof(fe));
        msg = g_utf8_make_valid((const char *) st->rpayload + sizeof(fe),
                                h->len - sizeof(fe));
        framed_end(st, hyved_packet_encode_stream_error(&st->hdr, fe.code, fe.domain, msg));
        return FALSE;
    }
    default:
        g_assert_not_reached();
    }
}

/* I/O thread: frames from the fd, a bounded batch, while the client's
 * queue has room. */
static void
framed_read(HyvedStream *st)
{
    for (int i = 0; i < HYVED_STREAM_FRAMES_BATCH; i++) {
        gsize backlog;
        gboolean live;

        g_mutex_lock(&st->client->lock);
        backlog = st->client->out_bytes;
        g_mutex_unlock(&st->client->lock);
        if (backlog >= HYVED_STREAM_BACKLOG)
            return;
        if (framed_read_frame(st) <= 0)
            return;
        live = framed_handle_frame(st);
        g_clear_pointer(&st->rpayload, g_free);
        st->rhave = 0;
        if (!live)
            return;
    }
}

/* I/O thread: a frame to the transfer side (after what is queued). */
static void
framed_append(HyvedStream *st, HyveFrameType type, const void *data, gsize len,
              guint64 hole)
{
    HyveFrameHeader h = { .type = type, .len = data ? len : hole };

    g_byte_array_append(st->wbuf, (const guint8 *) &h, sizeof(h));
    if (data && len > 0)
        g_byte_array_append(st->wbuf, data, len);
}

static gboolean
stream_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    HyvedStream *st = (HyvedStream *) source;
    GIOCondition rev = st->tag ? g_source_query_unix_fd(source, st->tag) : 0;

    if (rev & G_IO_OUT)
        stream_write_update(st);
    if (st->framed) {
        if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && (st->cur & G_IO_IN))
            framed_read(st);
        return G_SOURCE_CONTINUE;
    }
    if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && !st->eof && (st->cur & G_IO_IN)) {
        g_autofree guint8 *buf = g_malloc(HYVED_STREAM_PAYLOAD_MAX);
        ssize_t n = read(st->fd, buf, HYVED_STREAM_PAYLOAD_MAX);

        if (n > 0) {
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE, buf, n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            /* EOF (a pty whose other side closed reads EIO) */
            st->eof = TRUE;
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE, NULL, 0));
            stream_fire_end(st);
        }
    }
    return G_SOURCE_CONTINUE;
}

static void
stream_finalize(GSource *source)
{
    HyvedStream *st = (HyvedStream *) source;

    if (st->fd >= 0)
        close(st->fd);
    g_byte_array_unref(st->wbuf);
    g_free(st->rpayload);
    g_clear_error(&st->abort_error);
    if (st->end_notify)
        st->end_notify(st->end_data);
    g_main_context_unref(st->ctx);
    g_mutex_clear(&st->lock);
}

static GSourceFuncs stream_funcs = {
    .prepare = stream_prepare,
    .dispatch = stream_dispatch,
    .finalize = stream_finalize,
};

static HyvedStream *
stream_open(HyvedClient *client, const HyvedHeader *call, int fd, gboolean framed,
            HyvedStreamEndFunc end, gpointer end_data, GDestroyNotify end_notify,
            GError **error)
{
    HyvedStream *st;
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_SYSTEM_ERROR,
                       "cannot make the stream descriptor non-blocking: %s", g_strerror(errno));
        close(fd);
        if (end_notify)
            end_notify(end_data);
        return NULL;
    }
    st = (HyvedStream *) g_source_new(&stream_funcs, sizeof(HyvedStream));
    g_source_set_name(&st->base, "hyved-stream");
    st->client = client;
    st->ctx = g_main_context_ref(client->server->ctx);
    st->hdr = *call;
    st->hdr.type = HYVED_TYPE_STREAM;
    st->hdr.status = HYVED_STATUS_CONTINUE;
    st->fd = fd;
    st->framed = framed;
    st->wbuf = g_byte_array_new();
    st->end = end;
    st->end_data = end_data;
    st->end_notify = end_notify;
    g_mutex_init(&st->lock);

    g_mutex_lock(&client->lock);
    if (client->closed) {
        g_mutex_unlock(&client->lock);
        st->ended = TRUE;           /* never started: no end callback */
        g_source_unref(&st->base);
        hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_INVALID,
                       "the client is gone");
        return NULL;
    }
    st->linked = TRUE;
    g_ptr_array_add(client->pending_streams, g_source_ref(&st->base));
    g_mutex_unlock(&client->lock);
    return st;
}

HyvedStream *
hyved_client_open_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                         HyvedStreamEndFunc end, gpointer end_data, GDestroyNotify end_notify,
                         GError **error)
{
    return stream_open(client, call, fd, FALSE, end, end_data, end_notify, error);
}

HyvedStream *
hyved_client_open_framed_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                                HyvedStreamEndFunc end, gpointer end_data,
                                GDestroyNotify end_notify, GError **error)
{
    return stream_open(client, call, fd, TRUE, end, end_data, end_notify, error);
}

gboolean
hyved_client_add_framed_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                               GError **error)
{
    HyvedStream *st = stream_open(client, call, fd, TRUE, NULL, NULL, NULL, error);

    if (!st)
        return FALSE;
    hyved_stream_unref(st);
    return TRUE;
}

gboolean
hyved_client_add_stream(HyvedClient *client, const HyvedHeader *call, int fd, GError **error)
{
    HyvedStream *st = hyved_client_open_stream(client, call, fd, NULL, NULL, NULL, error);

    if (!st)
        return FALSE;
    hyved_stream_unref(st);
    return TRUE;
}

HyvedStream *
hyved_stream_ref(HyvedStream *st)
{
    g_source_ref(&st->base);
    return st;
}

void
hyved_stream_unref(HyvedStream *st)
{
    if (st)
        g_source_unref(&st->base);
}

/* What the attach callback holds: its own references, so that the client
 * (and the stream) outlive it even if the client is dropped first. */
typedef struct {
    HyvedStream *st;
    HyvedClient *client;
} HyvedStreamAttach;

static void
stream_attach_free(gpointer data)
{
    HyvedStreamAttach *a = data;

    g_source_unref(&a->st->base);
    hyved_client_unref(a->client);
    g_free(a);
}

static gboolean
stream_attach(gpointer data)
{
    HyvedStreamAttach *a = data;
    HyvedStream *st = a->st;
    gboolean live;

    g_mutex_lock(&a->client->lock);
    live = !a->client->closed && g_ptr_array_find(a->client->streams, st, NULL);
    g_mutex_unlock(&a->client->lock);
    if (!live)
        return G_SOURCE_REMOVE;     /* finished before it got going */
    st->tag = g_source_add_unix_fd(&st->base, st->fd, G_IO_IN);
    st->cur = G_IO_IN;
    g_source_attach(&st->base, st->client->server->ctx);
    return G_SOURCE_REMOVE;
}

void
hyved_streams_call_done_locked(HyvedClient *client, guint32 serial, gboolean ok)
{
    for (guint i = 0; i < client->pending_streams->len;) {
        HyvedStream *st = client->pending_streams->pdata[i];

        if (st->hdr.serial != serial) {
            i++;
            continue;
        }
        g_ptr_array_remove_index(client->pending_streams, i);
        if (!ok || client->closed || st->abort_pending) {
            /* after the reply: the daemon's abort reaches the client */
            if (ok && !client->closed)
                hyved_client_enqueue_locked(client, stream_error_packet(st, st->abort_error));
            stream_unlink(st);
            stream_fire_end_later(st);
            g_source_unref(&st->base);
            continue;
        }
        g_ptr_array_add(client->streams, st);
        /* the I/O thread attaches it (it owns every source) */
        {
            HyvedStreamAttach *a = g_new0(HyvedStreamAttach, 1);

            a->st = (HyvedStream *) g_source_ref(&st->base);
            a->client = hyved_client_ref(client);
            g_main_context_invoke_full(client->server->ctx, G_PRIORITY_DEFAULT, stream_attach,
                                       a, stream_attach_free);
        }
    }
}

static HyvedStream *
stream_find_locked(HyvedClient *client, const HyvedHeader *hdr)
{
    for (guint i = 0; i < client->streams->len; i++) {
        HyvedStream *st = client->streams->pdata[i];
        if (st->hdr.serial == hdr->serial && st->hdr.proc == hdr->proc)
            return st;
    }
    return NULL;
}

/* I/O thread, unlinked: stops the I/O, closes the fd, tells the owner,
 * drops the list's reference. */
static void
stream_destroy(HyvedStream *st)
{
    g_byte_array_set_size(st->wbuf, 0);
    stream_update_full(st);
    if (g_source_get_context(&st->base))
        g_source_destroy(&st->base);
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    stream_fire_end(st);
    g_source_unref(&st->base);
}

/* I/O thread: a client STREAM_HOLE payload (virNetStreamHole {hyper
 * length; unsigned int flags}) -> HOLE frame. */
static void
framed_client_hole(HyvedStream *st, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    guint64 be_len;
    guint32 be_flags;
    gint64 length;
    guint32 flags;

    if (hdr->status != HYVED_STATUS_CONTINUE || len != 12) {
        framed_fail(st, HYVE_FROM_RPC, HYVE_ERR_RPC,
                    "malformed stream hole packet (status %d, %zu bytes)", hdr->status, len);
        return;
    }
    memcpy(&be_len, payload, 8);
    memcpy(&be_flags, payload + 8, 4);
    length = (gint64) GUINT64_FROM_BE(be_len);
    flags = GUINT32_FROM_BE(be_flags);
    if (flags != 0) {
        framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INVALID_ARG,
                    "unsupported flags (0x%x) in function virStreamSendHole", flags);
        return;
    }
    if (length < 0) {
        framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INVALID_ARG,
                    "stream hole length %" G_GINT64_FORMAT " is negative", length);
        return;
    }
    if (length > 0) {
        framed_append(st, HYVE_FRAME_HOLE, NULL, 0, (guint64) length);
        stream_write_update(st);
    }
}

/* I/O thread: a STREAM or STREAM_HOLE packet for a framed stream. */
static void
framed_client_packet(HyvedStream *st, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    if (hdr->type == HYVED_TYPE_STREAM && hdr->status == HYVED_STATUS_ERROR) {
        /* abort: confirmed at once, the transfer side sees its fd close */
        framed_end(st, stream_packet(st, HYVED_STATUS_OK, NULL, 0));
        return;
    }
    if (st->finishing)
        return;         /* nothing more after the finish but an abort */
    if (hdr->type == HYVED_TYPE_STREAM_HOLE) {
        framed_client_hole(st, hdr, payload, len);
        return;
    }
    if (hdr->status == HYVED_STATUS_OK) {
        /* finish: confirmed once the transfer side answers DONE */
        st->finishing = TRUE;
        if (!st->wfailed) {
            framed_append(st, HYVE_FRAME_FINISH, NULL, 0, 0);
            stream_write_update(st);
        }
        return;
    }
    if (st->wfailed || hdr->status != HYVED_STATUS_CONTINUE)
        return;
    for (gsize off = 0; off < len; off += HYVE_FRAME_DATA_MAX)
        framed_append(st, HYVE_FRAME_DATA, payload + off, MIN(len - off, HYVE_FRAME_DATA_MAX), 0);
    stream_write_update(st);
}

/* I/O thread: a STREAM packet from the client. */
void
hyved_stream_packet(HyvedClient *client, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    HyvedStream *st;
    GBytes *confirm = NULL;

    g_mutex_lock(&client->lock);
    st = stream_find_locked(client, hdr);
    if (!st) {
        g_mutex_unlock(&client->lock);
        return;     /* stale packet for a finished/unknown stream: dropped, as libvirtd */
    }
    if (st->framed) {
        g_mutex_unlock(&client->lock);
        framed_client_packet(st, hdr, payload, len);
        return;
    }
    if (hdr->type != HYVED_TYPE_STREAM) {
        g_mutex_unlock(&client->lock);
        return;     /* a hole for a raw stream: dropped */
    }
    if (hdr->status == HYVED_STATUS_CONTINUE) {
        g_mutex_unlock(&client->lock);
        g_byte_array_append(st->wbuf, payload, len);
        stream_write_update(st);
        return;
    }
    /* OK = finish, ERROR = abort: both confirmed with an empty STREAM/OK */
    g_ptr_array_remove(client->streams, st);
    stream_unlink(st);
    confirm = stream_packet(st, HYVED_STATUS_OK, NULL, 0);
    hyved_client_enqueue_locked(client, confirm);
    g_mutex_unlock(&client->lock);
    g_main_context_wakeup(client->server->ctx);
    stream_destroy(st);
}

void
hyved_streams_client_init(HyvedClient *client)
{
    client->streams = g_ptr_array_new();
    client->pending_streams = g_ptr_array_new();
}

/* I/O thread, client closing: end every stream. */
void
hyved_streams_client_close(HyvedClient *client)
{
    g_autoptr(GPtrArray) live = NULL;
    g_autoptr(GPtrArray) pending = NULL;

    g_mutex_lock(&client->lock);
    live = g_steal_pointer(&client->streams);
    pending = g_steal_pointer(&client->pending_streams);
    client->streams = g_ptr_array_new();
    client->pending_streams = g_ptr_array_new();
    for (guint i = 0; i < live->len; i++)
        stream_unlink(live->pdata[i]);
    for (guint i = 0; i < pending->len; i++)
        stream_unlink(pending->pdata[i]);
    g_mutex_unlock(&client->lock);
    for (guint i = 0; i < live->len; i++)
        stream_destroy(live->pdata[i]);
    for (guint i = 0; i < pending->len; i++) {
        stream_fire_end(pending->pdata[i]);
        g_source_unref(pending->pdata[i]);
    }
}

/* ---- the daemon ends a stream ------------------------------------------- */

typedef struct {
    HyvedStream *st;            /* a reference */
    GError *error;
} HyvedStreamAbort;

static void
stream_abort_free(gpointer data)
{
    HyvedStreamAbort *a = data;

    g_source_unref(&a->st->base);
    g_clear_error(&a->error);
    g_free(a);
}

/* I/O thread. */
static gboolean
stream_abort_io(gpointer data)
{
    HyvedStreamAbort *a = data;
    HyvedStream *st = a->st;
    g_autoptr(HyvedClient) client = NULL;
    gboolean live;

    g_mutex_lock(&st->lock);
    if (st->linked)
        client = hyved_client_ref(st->client);
    g_mutex_unlock(&st->lock);
    if (!client)
        return G_SOURCE_REMOVE;         /* ended already */

    g_mutex_lock(&client->lock);
    live = g_ptr_array_remove(client->streams, st);
    if (live) {
        /* even after EOF: a client waiting for its finish to be confirmed
         * gets this error instead */
        stream_unlink(st);
        hyved_client_enqueue_locked(client, stream_error_packet(st, a->error));
    } else if (!st->abort_pending) {
        /* still pending: ends once the reply of its call is queued */
        st->abort_pending = TRUE;
        st->abort_error = g_steal_pointer(&a->error);
    }
    g_mutex_unlock(&client->lock);
    if (live) {
        g_main_context_wakeup(st->ctx);
        stream_destroy(st);     /* the list's reference */
    }
    return G_SOURCE_REMOVE;
}

void
hyved_stream_abort(HyvedStream *st, const GError *error)
{
    HyvedStreamAbort *a = g_new0(HyvedStreamAbort, 1);

    a->st = hyved_stream_ref(st);
    a->error = error ? g_error_copy(error) : NULL;
    stream_defer(st, stream_abort_io, a, stream_abort_free);
}
