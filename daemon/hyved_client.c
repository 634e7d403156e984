/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_client.c: one connected client: its lifetime, its GSource on the
 * I/O thread, the output queue (the only writer path) and non-blocking
 * writes. Reading and framing packets: hyved_client_read.c; per-connection
 * state and keepalive: hyved_client_state.c; streams: hyved_stream.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "hyved_polkit.h"

typedef struct {
    GSource base;
    HyvedClient *client;
} HyvedClientSource;

/* ---- lifetime -------------------------------------------------------------- */

HyvedClient *
hyved_client_ref(HyvedClient *client)
{
    g_atomic_int_inc(&client->refcount);
    return client;
}

void
hyved_client_unref(HyvedClient *client)
{
    if (!client || !g_atomic_int_dec_and_test(&client->refcount))
        return;
    g_queue_clear_full(&client->outq, (GDestroyNotify) g_bytes_unref);
    g_queue_clear(&client->reply_marks);
    g_queue_clear(&client->stream_marks);
    g_free(client->pkt);
    g_free(client->rx);
    if (client->rx_fds) {
        for (guint i = 0; i < client->rx_fds->len; i++)
            close(g_array_index(client->rx_fds, HyvedRxFd, i).fd);
        g_array_free(client->rx_fds, TRUE);
    }
    if (client->fds) {
        for (guint i = 0; i < client->fds->len; i++)
            close(g_array_index(client->fds, int, i));
        g_array_free(client->fds, TRUE);
    }
    g_free(client->uri);
    if (client->events)
        g_array_free(client->events, TRUE);
    if (client->streams)
        g_ptr_array_free(client->streams, TRUE);
    if (client->pending_streams)
        g_ptr_array_free(client->pending_streams, TRUE);
    g_mutex_clear(&client->lock);
    g_free(client);
}

HyvedClient *
hyved_client_new(HyvedServer *server, int fd, const HyvedListener *listener)
{
    HyvedClient *client = g_new0(HyvedClient, 1);
    struct ucred cred = { .pid = -1, .uid = (uid_t) -1, .gid = (gid_t) -1 };
    socklen_t len = sizeof(cred);

    client->refcount = 1;
    client->server = server;
    client->fd = fd;
    client->ro_socket = listener->readonly;
    client->auth = listener->auth;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        g_warning("cannot read peer credentials: %s", g_strerror(errno));
    client->uid = cred.uid;
    client->gid = cred.gid;
    client->pid = cred.pid;
    /* polkit gets pid + start time read now: by AUTH_POLKIT the pid may
     * belong to another process */
    if (listener->auth == HYVED_AUTH_POLKIT)
        client->start_time = hyved_polkit_process_start_time(cred.pid);
    client->authenticated = (listener->auth == HYVED_AUTH_NONE);
    client->readonly = listener->readonly;
    client->last_rx = g_get_monotonic_time();
    g_mutex_init(&client->lock);
    g_queue_init(&client->outq);
    g_queue_init(&client->reply_marks);
    g_queue_init(&client->stream_marks);
    hyved_events_client_init(client);
    hyved_streams_client_init(client);
    return client;
}

/* ---- the GSource ----------------------------------------------------------- */

static gboolean
client_source_prepare(GSource *source, gint *timeout)
{
    HyvedClient *client = ((HyvedClientSource *) source)->client;
    const HyvedConfig *cfg = client->server->cfg;
    GIOCondition want = 0;
    gboolean ready;

    *timeout = -1;
    g_mutex_lock(&client->lock);
    if (client->inflight < cfg->max_client_requests && client->streams_full == 0)
        want |= G_IO_IN;
    if (!g_queue_is_empty(&client->outq))
        want |= G_IO_OUT;
    ready = client->want_close;
    g_mutex_unlock(&client->lock);
    /* whole packets left in the buffer while reading was paused */
    if ((want & G_IO_IN) && hyved_client_rx_ready(client))
        ready = TRUE;

    if (want != client->cur_events) {
        g_source_modify_unix_fd(source, client->fd_tag, want);
        client->cur_events = want;
    }
    return ready;
}

static gboolean client_flush(HyvedClient *client);

static gboolean
client_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    HyvedClient *client = ((HyvedClientSource *) source)->client;
    GIOCondition rev = g_source_query_unix_fd(source, client->fd_tag);
    gboolean drop;

    g_mutex_lock(&client->lock);
    drop = client->want_close;
    g_mutex_unlock(&client->lock);

    if (!drop && (rev & G_IO_OUT))
        drop = !client_flush(client);
    if (!drop && ((rev & G_IO_IN) || hyved_client_rx_ready(client)))
        drop = !hyved_client_read(client, (rev & G_IO_IN) != 0);
    if (!drop && (rev & (G_IO_HUP | G_IO_ERR | G_IO_NVAL)) && !(rev & G_IO_IN))
        drop = TRUE;    /* peer gone while we were not reading */
    if (drop) {
        hyved_client_close(client);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void
client_source_finalize(GSource *source)
{
    hyved_client_unref(((HyvedClientSource *) source)->client);
}

static GSourceFuncs client_source_funcs = {
    .prepare = client_source_prepare,
    .dispatch = client_source_dispatch,
    .finalize = client_source_finalize,
};

void
hyved_client_start(HyvedClient *client)
{
    GSource *source = g_source_new(&client_source_funcs, sizeof(HyvedClientSource));

    ((HyvedClientSource *) source)->client = hyved_client_ref(client);
    client->cur_events = G_IO_IN;
    client->fd_tag = g_source_add_unix_fd(source, client->fd, G_IO_IN);
    g_source_set_name(source, "hyved-client");
    /* Nothing iterates the context from inside its dispatch. Without this,
     * GLib "blocks" the source around each dispatch: it removes and re-adds
     * its fds, and each change wakes the context (two eventfd writes and a
     * read per wakeup). */
    g_source_set_can_recurse(source, TRUE);
    g_source_attach(source, client->server->ctx);
    client->source = source;
}

/* I/O thread: drop the connection. Pending replies are discarded; workers
 * still running for it finish and their replies are dropped. */
void
hyved_client_close(HyvedClient *client)
{
    if (client->fd < 0)
        return;
    g_debug("client %" G_GUINT64_FORMAT ": closing", client->id);
    if (client->source) {
        g_source_destroy(client->source);
        g_source_unref(client->source);
        client->source = NULL;
    }
    if (client->ka_source) {
        g_source_destroy(client->ka_source);
        g_source_unref(client->ka_source);
        client->ka_source = NULL;
    }
    hyved_streams_client_close(client);
    g_mutex_lock(&client->lock);
    client->closed = TRUE;
    hyved_server_uncount_unauth_locked(client->server, client);
    g_queue_clear_full(&client->outq, (GDestroyNotify) g_bytes_unref);
    g_queue_clear(&client->reply_marks);
    g_queue_clear(&client->stream_marks);
    client->out_bytes = 0;
    client->out_stream_bytes = 0;
    hyved_events_client_clear(client);
    g_mutex_unlock(&client->lock);
    close(client->fd);
    client->fd = -1;
    hyved_server_remove_client(client->server, client);
}

/* ---- writing --------------------------------------------------------------- */

/* With client->lock held: a reply left the daemon (written or dropped). */
static void
client_reply_done_locked(HyvedClient *client)
{
    /* reading was paused at max_client_requests: the I/O thread resumes it */
    if (client->inflight-- >= client->server->cfg->max_client_requests)
        client->wake = TRUE;
}

/* With client->lock held and nothing queued: writes @pkt now, from the
 * calling thread, with one non-blocking send(). Returns the bytes written
 * (0 when the socket buffer is full), -1 when the connection broke. */
static gssize
client_send_now_locked(HyvedClient *client, GBytes *pkt)
{
    gsize size = 0;
    const guint8 *data = g_bytes_get_data(pkt, &size);
    ssize_t n;

    do
        n = send(client->fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0)
        g_debug("client %" G_GUINT64_FORMAT ": write failed: %s", client->id, g_strerror(errno));
    return n;
}

/* With client->lock held: takes @pkt; @reply: it answers a call. */
static void
client_push_locked(HyvedClient *client, GBytes *pkt, gboolean reply)
{
    if (client->closed || client->want_close) {
        g_bytes_unref(pkt);
        if (reply)
            client_reply_done_locked(client);
        return;
    }
    /* The common case: nothing ahead of it, the socket has room. The fd
     * stays open while closed is FALSE (hyved_client_close sets it under
     * this lock before closing). While corked it waits for the batch. */
    if (g_queue_is_empty(&client->outq) && !client->corked) {
        gssize n = client_send_now_locked(client, pkt);

        if (n < 0) {
            client->want_close = TRUE;
            client->wake = TRUE;
            g_bytes_unref(pkt);
            if (reply)
                client_reply_done_locked(client);
            return;
        }
        if ((gsize) n == g_bytes_get_size(pkt)) {
            g_bytes_unref(pkt);
            if (reply)
                client_reply_done_locked(client);
            return;
        }
        client->out_offset = n;
    }
    client->wake = TRUE;
    if (reply)
        g_queue_push_tail(&client->reply_marks, pkt);
    client->out_bytes += g_bytes_get_size(pkt);
    g_queue_push_tail(&client->outq, pkt);
    /* one packet alone may be larger than the cap (a big reply); stream
     * data has its own, smaller bound */
    if (client->out_bytes - client->out_stream_bytes > client->server->cfg->max_client_queue &&
        client->outq.length - client->stream_marks.length > 1) {
        g_warning("client %" G_GUINT64_FORMAT ": %zu bytes queued and not read, dropping it",
                  client->id, client->out_bytes - client->out_stream_bytes);
        client->want_close = TRUE;
    }
}

void
hyved_client_enqueue_locked(HyvedClient *client, GBytes *pkt)
{
    client_push_locked(client, pkt, FALSE);
}

void
hyved_client_enqueue_reply_locked(HyvedClient *client, GBytes *reply)
{
    client_push_locked(client, reply, TRUE);
}

void
hyved_client_unlock(HyvedClient *client)
{
    gboolean wake = client->wake;

    client->wake = FALSE;
    g_mutex_unlock(&client->lock);
    /* the I/O thread itself looks at its clients before it polls again */
    if (wake && !g_main_context_is_owner(client->server->ctx))
        g_main_context_wakeup(client->server->ctx);
}

/* Stream data is always queued: the streams' flow control counts it
 * there (out_stream_bytes). */
void
hyved_client_enqueue_stream_data(HyvedClient *client, GBytes *pkt)
{
    g_mutex_lock(&client->lock);
    if (client->closed || client->want_close) {
        g_bytes_unref(pkt);
    } else {
        client->out_bytes += g_bytes_get_size(pkt);
        client->out_stream_bytes += g_bytes_get_size(pkt);
        g_queue_push_tail(&client->outq, pkt);
        g_queue_push_tail(&client->stream_marks, pkt);
        client->wake = TRUE;
    }
    hyved_client_unlock(client);
}

void
hyved_client_enqueue(HyvedClient *client, GBytes *pkt)
{
    g_mutex_lock(&client->lock);
    hyved_client_enqueue_locked(client, pkt);
    hyved_client_unlock(client);
}

/* At most this many queued packets go out in one sendmsg(). */
#define CLIENT_FLUSH_IOV 64

/* With client->lock held: @size bytes of the head packet are written. */
static void
client_sent_head_locked(HyvedClient *client, GBytes *head, gsize size)
{
    g_queue_pop_head(&client->outq);
    if (g_queue_peek_head(&client->reply_marks) == head) {
        g_queue_pop_head(&client->reply_marks);
        client->inflight--;
    } else if (g_queue_peek_head(&client->stream_marks) == head) {
        g_queue_pop_head(&client->stream_marks);
        client->out_stream_bytes -= size;
    }
    client->out_bytes -= size;
    client->out_offset = 0;
    g_bytes_unref(head);
}

/* Writes what outq holds, several packets per sendmsg(), until it is empty
 * or the socket is full. Returns FALSE when the connection must be
 * dropped. */
static gboolean
client_flush(HyvedClient *client)
{
    gboolean ok = TRUE;

    g_mutex_lock(&client->lock);
    while (!g_queue_is_empty(&client->outq)) {
        struct iovec iov[CLIENT_FLUSH_IOV];
        struct msghdr msg = { .msg_iov = iov };
        gsize off = client->out_offset;
        ssize_t n;

        for (GList *l = client->outq.head; l && msg.msg_iovlen < CLIENT_FLUSH_IOV; l = l->next) {
            gsize size = 0;
            const guint8 *data = g_bytes_get_data(l->data, &size);

            iov[msg.msg_iovlen].iov_base = (void *) (data + off);
            iov[msg.msg_iovlen].iov_len = size - off;
            msg.msg_iovlen++;
            off = 0;
        }
        n = sendmsg(client->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            g_debug("client %" G_GUINT64_FORMAT ": write failed: %s",
                    client->id, g_strerror(errno));
            ok = FALSE;
            break;
        }
        /* account the bytes written, packet by packet */
        while (n > 0) {
            GBytes *head = g_queue_peek_head(&client->outq);
            gsize size = g_bytes_get_size(head);
            gsize left = size - client->out_offset;

            if ((gsize) n < left) {
                client->out_offset += n;
                break;
            }
            n -= left;
            client_sent_head_locked(client, head, size);
        }
    }
    g_mutex_unlock(&client->lock);
    return ok;
}

/* I/O thread: replies to the calls handled from here on wait in outq ... */
void
hyved_client_cork(HyvedClient *client)
{
    g_mutex_lock(&client->lock);
    client->corked = TRUE;
    g_mutex_unlock(&client->lock);
}

/* ... and leave now, together. Returns FALSE when the connection must be
 * dropped. */
gboolean
hyved_client_uncork(HyvedClient *client)
{
    gboolean queued;

    g_mutex_lock(&client->lock);
    client->corked = FALSE;
    /* also when the batch ended in a drop (want_close): the replies to the
     * calls before it still go out, as they did when each left at once */
    queued = !g_queue_is_empty(&client->outq) && !client->closed;
    g_mutex_unlock(&client->lock);
    return !queued || client_flush(client);
}
