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
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hyved_client_priv.h"

/* Stop reading the fd while this much is queued to the client. */
#define HYVED_STREAM_BACKLOG (1024 * 1024)

/* Stop reading from the client while a stream holds this much of its data
 * not yet written to the fd (back-pressure, as libvirtd). */
#define HYVED_STREAM_WBUF_MAX (1024 * 1024)

/* Created by a worker's handler and handed to the I/O thread through
 * client->pending_streams (under client->lock); from then on its mutable
 * fields belong to the I/O thread only. No lock of its own. */
struct _HyvedStream {
    GSource base;               /* first: the stream is its own GSource */
    HyvedClient *client;        /* immutable; borrowed: the client owns the streams */
    HyvedHeader hdr;            /* immutable: STREAM, CONTINUE, proc/serial of the call */
    int fd;                     /* I/O thread */
    gpointer tag;               /* I/O thread */
    GIOCondition cur;           /* I/O thread */
    gboolean eof;               /* I/O thread: EOF sent to the client */
    GByteArray *wbuf;           /* I/O thread: client data not yet written to fd */
    gboolean full;              /* I/O thread: wbuf at HYVED_STREAM_WBUF_MAX, counted
                                 * in client->streams_full */
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
    if (!st->eof && backlog < HYVED_STREAM_BACKLOG)
        want |= G_IO_IN;
    if (st->wbuf->len > 0)
        want |= G_IO_OUT;
    if (want != st->cur) {
        g_source_modify_unix_fd(source, st->tag, want);
        st->cur = want;
    }
    return FALSE;
}

static gboolean
stream_write(HyvedStream *st)
{
    while (st->wbuf->len > 0) {
        ssize_t n = write(st->fd, st->wbuf->data, st->wbuf->len);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return TRUE;
            g_debug("stream %u: write failed: %s; discarding client data",
                    st->hdr.serial, g_strerror(errno));
            g_byte_array_set_size(st->wbuf, 0);
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

static gboolean
stream_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    HyvedStream *st = (HyvedStream *) source;
    GIOCondition rev = g_source_query_unix_fd(source, st->tag);

    if (rev & G_IO_OUT)
        stream_write_update(st);
    if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && !st->eof && (st->cur & G_IO_IN)) {
        g_autofree guint8 *buf = g_malloc(HYVED_STREAM_PAYLOAD_MAX);
        ssize_t n = read(st->fd, buf, HYVED_STREAM_PAYLOAD_MAX);

        if (n > 0) {
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE, buf, n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            /* EOF (a pty whose other side closed reads EIO) */
            st->eof = TRUE;
            hyved_client_enqueue(st->client, stream_packet(st, HYVED_STATUS_CONTINUE, NULL, 0));
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
}

static GSourceFuncs stream_funcs = {
    .prepare = stream_prepare,
    .dispatch = stream_dispatch,
    .finalize = stream_finalize,
};

gboolean
hyved_client_add_stream(HyvedClient *client, const HyvedHeader *call, int fd, GError **error)
{
    HyvedStream *st;
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_SYSTEM_ERROR,
                       "cannot make the stream descriptor non-blocking: %s", g_strerror(errno));
        close(fd);
        return FALSE;
    }
    st = (HyvedStream *) g_source_new(&stream_funcs, sizeof(HyvedStream));
    g_source_set_name(&st->base, "hyved-stream");
    st->client = client;
    st->hdr = *call;
    st->hdr.type = HYVED_TYPE_STREAM;
    st->hdr.status = HYVED_STATUS_CONTINUE;
    st->fd = fd;
    st->wbuf = g_byte_array_new();

    g_mutex_lock(&client->lock);
    if (client->closed) {
        g_mutex_unlock(&client->lock);
        g_source_unref(&st->base);
        hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_INVALID,
                       "the client is gone");
        return FALSE;
    }
    g_ptr_array_add(client->pending_streams, st);
    g_mutex_unlock(&client->lock);
    return TRUE;
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
        if (!ok || client->closed) {
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

/* Drops the list's reference (and the source, once attached). */
static void
stream_destroy(HyvedStream *st)
{
    g_byte_array_set_size(st->wbuf, 0);
    stream_update_full(st);
    if (g_source_get_context(&st->base))
        g_source_destroy(&st->base);
    g_source_unref(&st->base);
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
    if (hdr->status == HYVED_STATUS_CONTINUE) {
        g_mutex_unlock(&client->lock);
        g_byte_array_append(st->wbuf, payload, len);
        stream_write_update(st);
        return;
    }
    /* OK = finish, ERROR = abort: both confirmed with an empty STREAM/OK */
    g_ptr_array_remove(client->streams, st);
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
    g_mutex_unlock(&client->lock);
    for (guint i = 0; i < live->len; i++)
        stream_destroy(live->pdata[i]);
    for (guint i = 0; i < pending->len; i++)
        g_source_unref(pending->pdata[i]);
}
