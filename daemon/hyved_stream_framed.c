/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream_framed.c: the framed mode of hyved_stream.c
 * (hyved_client_open_framed_stream: volume upload/download), which
 * speaks hyve_stream_frame.h on the fd instead of raw bytes: client data
 * and STREAM_HOLE packets become DATA and HOLE frames, the client's finish
 * a FINISH frame whose confirmation waits for the transfer's DONE (or its
 * ERROR, sent as STREAM/ERROR); DATA, HOLE and EOF frames from the fd
 * become STREAM/CONTINUE data, STREAM_HOLE packets and the empty CONTINUE.
 * The fd closing before DONE/ERROR, or a malformed frame, ends the stream
 * with an error. The client's abort shuts the fd's write side and is
 * confirmed once the transfer side closed its end (it released the volume
 * before), HYVED_STREAM_ABORT_WAIT at most. Same I/O thread, back-pressure and lifetime as raw mode
 * (hyved_stream.c, hyved_stream_priv.h).
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_stream_priv.h"

/* Frames read from a framed stream's fd per wakeup (fairness). */
#define HYVED_STREAM_FRAMES_BATCH 32

/* ---- framed mode: frames from the fd ------------------------------------ */

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
    hyved_stream_end(st, hyved_stream_error_packet(st, err));
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
            hyved_client_enqueue_stream_data(st->client,
                                             hyved_stream_status_packet(st, HYVED_STATUS_CONTINUE,
                                                                        st->rpayload, h->len));
        return TRUE;
    case HYVE_FRAME_HOLE:
        if (h->len > 0 && !st->finishing)
            hyved_client_enqueue_stream_data(st->client, hole_packet(st, h->len));
        return TRUE;
    case HYVE_FRAME_EOF:
        if (!st->eof && !st->finishing) {
            st->eof = TRUE;
            hyved_client_enqueue(st->client,
                                 hyved_stream_status_packet(st, HYVED_STATUS_CONTINUE, NULL, 0));
        }
        return TRUE;
    case HYVE_FRAME_DONE:
        if (!st->finishing) {
            framed_fail(st, HYVE_FROM_STREAMS, HYVE_ERR_INTERNAL_ERROR,
                        "stream had I/O failure: transfer done before the client finished");
            return FALSE;
        }
        hyved_stream_end(st, hyved_stream_status_packet(st, HYVED_STATUS_OK, NULL, 0));
        return FALSE;
    case HYVE_FRAME_ERROR: {
        HyveFrameError fe;
        g_autofree char *msg = NULL;

        memcpy(&fe, st->rpayload, sizeof(fe));
        msg = g_utf8_make_valid((const char *) st->rpayload + sizeof(fe),
                                h->len - sizeof(fe));
        hyved_stream_end(st, hyved_packet_encode_stream_error(&st->hdr, fe.code, fe.domain, msg));
        return FALSE;
    }
    default:
        g_assert_not_reached();
    }
}

/* I/O thread: frames from the fd, a bounded batch, while the client's
 * queue has room. */
void
hyved_stream_framed_read(HyvedStream *st)
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
        hyved_stream_write_update(st);
    }
}

/* ---- framed mode: the client's abort ------------------------------------- */

/* I/O thread: the client aborted. The transfer side must see EOF (no FINISH)
 * and stop; it releases the volume before it closes its end, so the abort
 * is confirmed only once that end is closed: a client deleting the volume
 * right after virStreamAbort finds it free. Our write side is shut now,
 * what the transfer still sends is dropped (hyved_stream_framed_drain),
 * bounded by HYVED_STREAM_ABORT_WAIT through the source's ready time. */
static void
framed_abort(HyvedStream *st)
{
    st->aborting = TRUE;
    g_byte_array_set_size(st->wbuf, 0);
    hyved_stream_write_update(st);     /* resumes reading from the client */
    g_clear_pointer(&st->rpayload, g_free);
    st->rhave = 0;
    if (shutdown(st->fd, SHUT_WR) < 0)
        g_debug("stream %u: shutdown: %s", st->hdr.serial, g_strerror(errno));
    g_source_set_ready_time(&st->base, g_get_monotonic_time() + HYVED_STREAM_ABORT_WAIT);
}

/* Reads per wakeup while an aborted stream drains (fairness). */
#define HYVED_STREAM_DRAIN_BATCH 16

void
hyved_stream_framed_drain(HyvedStream *st)
{
    guint8 buf[16384];
    gboolean closed = FALSE;

    for (int i = 0; i < HYVED_STREAM_DRAIN_BATCH; i++) {
        ssize_t n = read(st->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            closed = TRUE;          /* EOF, or the end is gone (reset) */
            break;
        }
    }
    if (!closed && g_source_get_time(&st->base) < g_source_get_ready_time(&st->base))
        return;
    if (!closed)
        g_debug("stream %u: the transfer side did not close within %d s of the abort; "
                "confirming it anyway", st->hdr.serial,
                (int) (HYVED_STREAM_ABORT_WAIT / G_TIME_SPAN_SECOND));
    hyved_stream_end(st, hyved_stream_status_packet(st, HYVED_STATUS_OK, NULL, 0));
}

/* I/O thread: a STREAM or STREAM_HOLE packet for a framed stream. */
void
hyved_stream_framed_client_packet(HyvedStream *st, const HyvedHeader *hdr,
                                  const guint8 *payload, gsize len)
{
    if (st->aborting)
        return;         /* the abort is being confirmed: nothing more counts */
    if (hdr->type == HYVED_TYPE_STREAM && hdr->status == HYVED_STATUS_ERROR) {
        framed_abort(st);
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
            hyved_stream_write_update(st);
        }
        return;
    }
    if (st->wfailed || hdr->status != HYVED_STATUS_CONTINUE)
        return;
    for (gsize off = 0; off < len; off += HYVE_FRAME_DATA_MAX)
        framed_append(st, HYVE_FRAME_DATA, payload + off, MIN(len - off, HYVE_FRAME_DATA_MAX), 0);
    hyved_stream_write_update(st);
}

HyvedStream *
hyved_client_open_framed_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                                HyvedStreamEndFunc end, gpointer end_data,
                                GDestroyNotify end_notify, GError **error)
{
    return hyved_stream_open(client, call, fd, TRUE, end, end_data, end_notify, error);
}

gboolean
hyved_client_add_framed_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                               GError **error)
{
    HyvedStream *st = hyved_stream_open(client, call, fd, TRUE, NULL, NULL, NULL, error);

    if (!st)
        return FALSE;
    hyved_stream_unref(st);
    return TRUE;
}
