/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream.c: libvirt data streams (libvirt-rpc.md §2.8) backed by a
 * file descriptor: packets carry the proc and serial of the call that
 * opened the stream. Raw (console) mode, fd bytes <-> STREAM/CONTINUE
 * packets, the client's finish and abort: hyved_stream_raw.c.
 *
 * A stream registered by a handler stays dormant until the handler's
 * reply is queued (so no data overtakes the reply), and is dropped if the
 * call failed. All fd I/O happens on the I/O thread.
 *
 * The owner learns when a stream ends, whatever the reason (fd EOF, client
 * finish/abort, client gone, opening call failed, daemon abort), through
 * its end callback: called once, on the I/O thread, with no lock held.
 *
 * Framed mode (volume upload/download): hyved_stream_framed.c; the daemon
 * ending a stream: hyved_stream_abort.c; the structure, its lifetime rules
 * and the helpers they share: hyved_stream_priv.h.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_stream_priv.h"

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
void
hyved_stream_unlink(HyvedStream *st)
{
    g_mutex_lock(&st->lock);
    st->linked = FALSE;
    g_mutex_unlock(&st->lock);
}

/* I/O thread, no lock held: tell the owner, once. */
void
hyved_stream_fire_end(HyvedStream *st)
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
    hyved_stream_fire_end(data);
    return G_SOURCE_REMOVE;
}

/* Any thread: runs @func on the I/O thread later (never in the caller,
 * which may hold locks the callback's owner code takes). */
void
hyved_stream_defer(HyvedStream *st, GSourceFunc func, gpointer data, GDestroyNotify notify)
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
    hyved_stream_defer(st, stream_fire_end_cb, g_source_ref(&st->base),
                 (GDestroyNotify) g_source_unref);
}

GBytes *
hyved_stream_error_packet(HyvedStream *st, const GError *err)
{
    HyveErrorFrom from;

    if (err && hyve_error_from_quark(err->domain, &from))
        return hyved_packet_encode_stream_error(&st->hdr, err->code, from, err->message);
    return hyved_packet_encode_stream_error(&st->hdr, HYVE_ERR_INTERNAL_ERROR, HYVE_FROM_STREAMS,
                                            err ? err->message : "stream aborted");
}

GBytes *
hyved_stream_status_packet(HyvedStream *st, gint32 status, const void *data, gsize len)
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
    /* framed: DONE/ERROR come after EOF; aborting: reads are dropped;
     * draining: the client finished, nothing more goes to it */
    if (st->aborting ||
        (!st->draining && (st->framed || !st->eof) && backlog < HYVED_STREAM_BACKLOG))
        want |= G_IO_IN;
    if (st->wbuf->len > 0)
        want |= G_IO_OUT;
    if (want == st->cur)
        return FALSE;
    /* Nothing wanted: off the poll set, since poll() reports a hung-up fd
     * (a pty after its runner exited, until the client finishes) whatever
     * events are asked for: the loop would spin. */
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
            st->werrno = errno;
            st->dropped += st->wbuf->len;
            g_byte_array_set_size(st->wbuf, 0);
            /* framed: the transfer's ERROR frame or EOF, read next, ends it */
            st->wfailed = TRUE;
            return FALSE;
        }
        g_byte_array_remove_range(st->wbuf, 0, n);
    }
    return TRUE;
}

gboolean
hyved_stream_write_update(HyvedStream *st)
{
    gboolean ok = stream_write(st);

    stream_update_full(st);
    return ok;
}

static gboolean
stream_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    HyvedStream *st = (HyvedStream *) source;
    GIOCondition rev = st->tag ? g_source_query_unix_fd(source, st->tag) : 0;

    /* while draining, a hang-up without POLLOUT is tried as a write too:
     * it fails (EIO/EPIPE) and ends the drain instead of polling again */
    if ((rev & G_IO_OUT) || (st->draining && (rev & (G_IO_HUP | G_IO_ERR))))
        hyved_stream_write_update(st);
    if (st->framed && st->aborting) {
        hyved_stream_framed_drain(st);
        return G_SOURCE_CONTINUE;
    }
    if (st->framed) {
        if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && (st->cur & G_IO_IN))
            hyved_stream_framed_read(st);
        return G_SOURCE_CONTINUE;
    }
    if (st->draining) {
        /* written out, failed, or the deadline (the source's ready time) */
        hyved_stream_raw_drain(st);
        return G_SOURCE_CONTINUE;
    }
    if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && !st->eof && (st->cur & G_IO_IN))
        hyved_stream_raw_read(st);
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

HyvedStream *
hyved_stream_open(HyvedClient *client, const HyvedHeader *call, int fd, gboolean framed,
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
    if (client->closed)
        hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_INVALID,
                       "the client is gone");
    if (client->closed || !hyved_client_stream_room_locked(client, error)) {
        g_mutex_unlock(&client->lock);
        st->ended = TRUE;           /* never started: no end callback */
        g_source_unref(&st->base);
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
    return hyved_stream_open(client, call, fd, FALSE, end, end_data, end_notify, error);
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
                hyved_client_enqueue_locked(client, hyved_stream_error_packet(st, st->abort_error));
            hyved_stream_unlink(st);
            stream_fire_end_later(st);
            g_source_unref(&st->base);
            continue;
        }
        g_ptr_array_add(client->streams, st);
        /* the I/O thread attaches it (it owns every source), always later:
         * g_main_context_invoke() would run it right here when this thread
         * owns or can acquire the context (the I/O thread itself; any
         * thread once the main loop ended, as virtbhyved's context is the
         * global default), and stream_attach takes client->lock, held here */
        {
            HyvedStreamAttach *a = g_new0(HyvedStreamAttach, 1);

            a->st = (HyvedStream *) g_source_ref(&st->base);
            a->client = hyved_client_ref(client);
            hyved_stream_defer(st, stream_attach, a, stream_attach_free);
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
void
hyved_stream_destroy(HyvedStream *st)
{
    g_byte_array_set_size(st->wbuf, 0);
    stream_update_full(st);
    if (g_source_get_context(&st->base))
        g_source_destroy(&st->base);
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
    hyved_stream_fire_end(st);
    g_source_unref(&st->base);
}

/* I/O thread: a STREAM packet from the client. */
void
hyved_stream_packet(HyvedClient *client, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    HyvedStream *st;

    /* only this thread removes streams from the list: st stays valid */
    g_mutex_lock(&client->lock);
    st = stream_find_locked(client, hdr);
    g_mutex_unlock(&client->lock);
    if (!st)
        return;     /* stale packet (stream ended/unknown): dropped, as libvirtd */
    if (st->framed)
        hyved_stream_framed_client_packet(st, hdr, payload, len);
    else
        hyved_stream_raw_client_packet(st, hdr, payload, len);
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
        hyved_stream_unlink(live->pdata[i]);
    for (guint i = 0; i < pending->len; i++)
        hyved_stream_unlink(pending->pdata[i]);
    g_mutex_unlock(&client->lock);
    for (guint i = 0; i < live->len; i++)
        hyved_stream_destroy(live->pdata[i]);
    for (guint i = 0; i < pending->len; i++) {
        hyved_stream_fire_end(pending->pdata[i]);
        g_source_unref(pending->pdata[i]);
    }
}
