/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream_raw.c: raw (console) mode of hyved_stream.c: bytes read
 * from the fd go to the client as STREAM/CONTINUE packets, the client's
 * STREAM/CONTINUE data is written to the fd, EOF on the fd is an empty
 * CONTINUE. The client's finish (STREAM/OK) is confirmed with an empty
 * STREAM/OK once what it wrote has reached the fd; data the fd did not
 * take is reported instead (STREAM/ERROR: the write failed, or it took
 * nothing for HYVED_STREAM_FINISH_WAIT): never dropped silently. The client's
 * abort (STREAM/ERROR) drops what is queued and is confirmed at once.
 * Also hyved_stream_end, shared with framed mode.
 */
#include "hyve-config.h"

#include <errno.h>
#include <unistd.h>

#include "hyved_stream_priv.h"

void
hyved_stream_end(HyvedStream *st, GBytes *pkt)
{
    g_autoptr(HyvedClient) client = NULL;
    gboolean live = FALSE;

    g_mutex_lock(&st->lock);
    if (st->linked)
        client = hyved_client_ref(st->client);
    g_mutex_unlock(&st->lock);
    if (client) {
        g_mutex_lock(&client->lock);
        live = g_ptr_array_remove(client->streams, st);
        if (live)
            hyved_stream_unlink(st);
        g_mutex_unlock(&client->lock);
    }
    if (live) {
        /* fd closed and owner told before the client can see @pkt (it may
         * be written at once) */
        hyved_stream_destroy(st);     /* the list's reference */
        if (pkt)
            hyved_client_enqueue(client, g_steal_pointer(&pkt));
    }
    if (pkt)
        g_bytes_unref(pkt);
}

void
hyved_stream_raw_read(HyvedStream *st)
{
    g_autofree guint8 *buf = g_malloc(HYVED_STREAM_PAYLOAD_MAX);
    ssize_t n = read(st->fd, buf, HYVED_STREAM_PAYLOAD_MAX);

    if (n > 0) {
        hyved_client_enqueue_stream_data(st->client,
                                         hyved_stream_status_packet(st, HYVED_STATUS_CONTINUE,
                                                                    buf, n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        /* EOF (a pty whose other side closed reads EIO) */
        st->eof = TRUE;
        hyved_client_enqueue(st->client,
                             hyved_stream_status_packet(st, HYVED_STATUS_CONTINUE, NULL, 0));
        hyved_stream_fire_end(st);
    }
}

gboolean
hyved_stream_raw_drain(HyvedStream *st)
{
    g_autoptr(GError) err = NULL;

    if (st->wbuf->len < st->drain_left) {
        /* progress: the wait is for room that does not come */
        st->drain_left = st->wbuf->len;
        st->drain_deadline = MIN(g_get_monotonic_time() + HYVED_STREAM_FINISH_WAIT,
                                 st->drain_limit);
        g_source_set_ready_time(&st->base, st->drain_deadline);
    }
    if (st->wbuf->len == 0 && !st->wfailed) {
        hyved_stream_end(st, hyved_stream_status_packet(st, HYVED_STATUS_OK, NULL, 0));
        return TRUE;
    }
    if (st->wfailed) {
        hyve_error_set(&err, HYVE_FROM_STREAMS, HYVE_ERR_SYSTEM_ERROR,
                       "stream finished with %" G_GUINT64_FORMAT " bytes of data not written: %s",
                       st->dropped, g_strerror(st->werrno));
    } else if (g_get_monotonic_time() >= st->drain_limit) {
        hyve_error_set(&err, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_TIMEOUT,
                       "stream finished with %u bytes of data not written "
                       "%d s after the finish", st->wbuf->len,
                       (int) (HYVED_STREAM_FINISH_MAX / G_TIME_SPAN_SECOND));
    } else if (g_get_monotonic_time() >= st->drain_deadline) {
        hyve_error_set(&err, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_TIMEOUT,
                       "stream finished with %u bytes of data not written: "
                       "the descriptor took none for %d s", st->wbuf->len,
                       (int) (HYVED_STREAM_FINISH_WAIT / G_TIME_SPAN_SECOND));
    } else {
        return FALSE;
    }
    g_debug("stream %u: %s", st->hdr.serial, err->message);
    hyved_stream_end(st, hyved_stream_error_packet(st, err));
    return TRUE;
}

/* I/O thread: the client finished with data queued or lost. */
static void
raw_finish(HyvedStream *st)
{
    st->draining = TRUE;
    st->drain_left = st->wbuf->len;
    st->drain_limit = g_get_monotonic_time() + HYVED_STREAM_FINISH_MAX;
    st->drain_deadline = g_get_monotonic_time() + HYVED_STREAM_FINISH_WAIT;
    /* the source's dispatch runs at the deadline even if the fd stays full */
    g_source_set_ready_time(&st->base, st->drain_deadline);
    hyved_stream_write_update(st);
    hyved_stream_raw_drain(st);
}

void
hyved_stream_raw_client_packet(HyvedStream *st, const HyvedHeader *hdr,
                               const guint8 *payload, gsize len)
{
    if (hdr->type != HYVED_TYPE_STREAM)
        return;     /* a hole for a raw stream: dropped */
    if (st->draining && hdr->status != HYVED_STATUS_ERROR)
        return;     /* nothing more after the finish but an abort */
    if (hdr->status == HYVED_STATUS_CONTINUE) {
        if (st->wfailed)
            st->dropped += len;
        else
            g_byte_array_append(st->wbuf, payload, len);
        hyved_stream_write_update(st);
        return;
    }
    if (hdr->status == HYVED_STATUS_OK && (st->wbuf->len > 0 || st->wfailed)) {
        raw_finish(st);
        return;
    }
    /* finish with nothing pending, or abort (queued data dropped): an
     * empty STREAM/OK confirms it, once the fd is closed and the end
     * callback ran (e.g. the console is free again) */
    hyved_stream_end(st, hyved_stream_status_packet(st, HYVED_STATUS_OK, NULL, 0));
}
