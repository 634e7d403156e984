/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_client.c: one connected client: non-blocking reads and writes on
 * the I/O thread, the output queue (the only writer path), in-flight
 * limits. Per-connection state and keepalive: hyved_client_state.c;
 * streams: hyved_stream.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"

#define HYVED_CLIENT_READ_BATCH 32

typedef struct {
    GSource base;
    HyvedClient *client;
} HyvedClientSource;

static void client_process_packet(HyvedClient *client);

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
    g_free(client->pkt);
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
    client->authenticated = (listener->auth == HYVED_AUTH_NONE);
    client->readonly = listener->readonly;
    client->last_rx = g_get_monotonic_time();
    g_mutex_init(&client->lock);
    g_queue_init(&client->outq);
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
    if (client->inflight < cfg->max_client_requests)
        want |= G_IO_IN;
    if (!g_queue_is_empty(&client->outq))
        want |= G_IO_OUT;
    ready = client->want_close;
    g_mutex_unlock(&client->lock);

    if (want != client->cur_events) {
        g_source_modify_unix_fd(source, client->fd_tag, want);
        client->cur_events = want;
    }
    return ready;
}

static gboolean client_flush(HyvedClient *client);
static gboolean client_read(HyvedClient *client);

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
    if (!drop && (rev & G_IO_IN))
        drop = !client_read(client);
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
    g_queue_clear_full(&client->outq, (GDestroyNotify) g_bytes_unref);
    client->out_bytes = 0;
    hyved_events_client_clear(client);
    g_mutex_unlock(&client->lock);
    close(client->fd);
    client->fd = -1;
    hyved_server_remove_client(client->server, client);
}

/* ---- writing --------------------------------------------------------------- */

void
hyved_client_enqueue_locked(HyvedClient *client, GBytes *pkt)
{
    if (client->closed || client->want_close) {
        g_bytes_unref(pkt);
        return;
    }
    client->out_bytes += g_bytes_get_size(pkt);
    g_queue_push_tail(&client->outq, pkt);
    if (client->out_bytes > client->server->cfg->max_client_queue) {
        g_warning("client %" G_GUINT64_FORMAT ": %zu bytes queued and not read, dropping it",
                  client->id, client->out_bytes);
        client->want_close = TRUE;
    }
}

void
hyved_client_enqueue(HyvedClient *client, GBytes *pkt)
{
    g_mutex_lock(&client->lock);
    hyved_client_enqueue_locked(client, pkt);
    g_mutex_unlock(&client->lock);
    g_main_context_wakeup(client->server->ctx);
}

/* Returns FALSE when the connection must be dropped. */
static gboolean
client_flush(HyvedClient *client)
{
    gboolean ok = TRUE;

    g_mutex_lock(&client->lock);
    while (!g_queue_is_empty(&client->outq)) {
        GBytes *head = g_queue_peek_head(&client->outq);
        gsize size = 0;
        const guint8 *data = g_bytes_get_data(head, &size);
        ssize_t n = send(client->fd, data + client->out_offset, size - client->out_offset,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            g_debug("client %" G_GUINT64_FORMAT ": write failed: %s",
                    client->id, g_strerror(errno));
            ok = FALSE;
            break;
        }
        client->out_offset += n;
        if (client->out_offset == size) {
            g_queue_pop_head(&client->outq);
            client->out_bytes -= size;
            client->out_offset = 0;
            g_bytes_unref(head);
        }
    }
    g_mutex_unlock(&client->lock);
    return ok;
}

/* ---- reading --------------------------------------------------------------- */

static void
close_fds_in(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *fds = (int *) CMSG_DATA(c);
            for (int i = 0; i < n; i++)
                close(fds[i]);
        }
    }
}

/* recvmsg() that collects SCM_RIGHTS fds into @keep (when non-NULL) and
 * closes any other descriptor it receives. */
static ssize_t
client_recv(HyvedClient *client, void *buf, gsize len, GArray *keep)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * HYVED_NUM_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t n = recvmsg(client->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (n > 0 && msg.msg_controllen > 0) {
        if (keep) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    g_array_append_vals(keep, CMSG_DATA(c), nfd);
                }
            }
        } else {
            close_fds_in(&msg);
        }
    }
    return n;
}

/* One step of the receive state machine.
 * Returns 1 when a whole packet (and its fds) is in, 0 when the socket has
 * nothing more for now, -1 when the client must be dropped. */
static int
client_rx_step(HyvedClient *client)
{
    ssize_t n;

    if (client->fds_wanted > 0) {
        guint8 byte;
        guint before = client->fds->len;

        n = client_recv(client, &byte, 1, client->fds);
        if (n == 0)
            return -1;
        if (n < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        if (client->fds->len == before)
            g_debug("client %" G_GUINT64_FORMAT ": fd byte without a descriptor", client->id);
        client->fds_wanted--;
        return client->fds_wanted == 0 ? 1 : 2;
    }

    if (client->len_have < 4) {
        n = client_recv(client, client->lenbuf + client->len_have, 4 - client->len_have, NULL);
        if (n == 0)
            return -1;
        if (n < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        client->len_have += n;
        if (client->len_have < 4)
            return 2;
        {
            g_autoptr(GError) err = NULL;
            guint32 total = 0;

            if (!hyved_packet_parse_length(client->lenbuf, &total, &err)) {
                g_message("client %" G_GUINT64_FORMAT ": %s; dropping it", client->id, err->message);
                return -1;
            }
            client->pkt_len = total - 4;
            client->pkt = g_malloc(client->pkt_len);
            client->pkt_have = 0;
        }
    }

    n = client_recv(client, client->pkt + client->pkt_have, client->pkt_len - client->pkt_have, NULL);
    if (n == 0)
        return -1;
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    client->pkt_have += n;
    if (client->pkt_have < client->pkt_len)
        return 2;

    /* CALL_WITH_FDS: the payload starts with the fd count; the fds follow
     * out of band, one byte each. */
    if (client->pkt_len >= HYVED_MESSAGE_HEADER_MAX + 4) {
        gint32 type = (gint32) GUINT32_FROM_BE(*(guint32 *) (client->pkt + 12));
        if (type == HYVED_TYPE_CALL_WITH_FDS) {
            guint32 nfds = GUINT32_FROM_BE(*(guint32 *) (client->pkt + HYVED_MESSAGE_HEADER_MAX));
            if (nfds > HYVED_NUM_FDS_MAX) {
                g_message("client %" G_GUINT64_FORMAT ": %u fds in one message; dropping it",
                          client->id, nfds);
                return -1;
            }
            client->fds = g_array_new(FALSE, FALSE, sizeof(int));
            client->fds_wanted = nfds;
            if (nfds > 0)
                return 2;
        }
    }
    return 1;
}

/* Returns FALSE when the connection must be dropped. */
static gboolean
client_read(HyvedClient *client)
{
    const HyvedConfig *cfg = client->server->cfg;

    for (int done = 0; done < HYVED_CLIENT_READ_BATCH;) {
        int r;
        gboolean paused;

        g_mutex_lock(&client->lock);
        paused = client->inflight >= cfg->max_client_requests || client->want_close;
        g_mutex_unlock(&client->lock);
        if (paused)
            break;

        r = client_rx_step(client);
        if (r < 0)
            return FALSE;
        if (r == 0)
            break;
        if (r == 1) {
            client_process_packet(client);
            done++;
            if (client->fd < 0)
                return TRUE;
        }
    }
    return TRUE;
}

static void
client_reset_rx(HyvedClient *client)
{
    client->pkt = NULL;
    client->pkt_len = 0;
    client->pkt_have = 0;
    client->len_have = 0;
    client->fds = NULL;
    client->fds_wanted = 0;
}

static void
client_process_packet(HyvedClient *client)
{
    g_autofree guint8 *pkt = client->pkt;
    guint32 pkt_len = client->pkt_len;
    GArray *fds = client->fds;
    g_autoptr(GError) err = NULL;
    HyvedHeader hdr;

    client_reset_rx(client);
    client->last_rx = g_get_monotonic_time();
    client->ka_unanswered = 0;

    if (!hyved_packet_decode_header(pkt, pkt_len, &hdr, &err)) {
        g_message("client %" G_GUINT64_FORMAT ": %s; dropping it", client->id, err->message);
        if (fds) {
            for (guint i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
            g_array_free(fds, TRUE);
        }
        g_mutex_lock(&client->lock);
        client->want_close = TRUE;
        g_mutex_unlock(&client->lock);
        return;
    }

    if (hdr.type == HYVED_TYPE_CALL || hdr.type == HYVED_TYPE_CALL_WITH_FDS) {
        gsize off = HYVED_MESSAGE_HEADER_MAX + (hdr.type == HYVED_TYPE_CALL_WITH_FDS ? 4 : 0);
        if (off > pkt_len)
            off = pkt_len;
        hyved_server_queue_call(client->server, client, &hdr, g_steal_pointer(&pkt),
                                pkt_len, off, fds);
        return;
    }
    if (fds) {
        for (guint i = 0; i < fds->len; i++)
            close(g_array_index(fds, int, i));
        g_array_free(fds, TRUE);
    }

    if (hdr.prog == HYVED_PROGRAM_KEEPALIVE && hdr.vers == HYVED_PROGRAM_VERSION &&
        hdr.type == HYVED_TYPE_MESSAGE) {
        if (hdr.proc == HYVED_KEEPALIVE_PROC_PING) {
            HyvedHeader pong = {
                .prog = HYVED_PROGRAM_KEEPALIVE, .vers = HYVED_PROGRAM_VERSION,
                .proc = HYVED_KEEPALIVE_PROC_PONG, .type = HYVED_TYPE_MESSAGE,
                .serial = 0, .status = HYVED_STATUS_OK,
            };
            hyved_client_enqueue(client, hyved_packet_encode(&pong, NULL, NULL, NULL));
        }
        return;   /* PONG: last_rx already updated */
    }
    if (hdr.prog == HYVED_PROGRAM_REMOTE && hdr.type == HYVED_TYPE_STREAM) {
        hyved_stream_packet(client, &hdr, pkt + HYVED_MESSAGE_HEADER_MAX,
                            pkt_len - HYVED_MESSAGE_HEADER_MAX);
        return;
    }
    /* STREAM packets for streams we do not have, and REPLY/MESSAGE or
     * unknown types from a client, are dropped without an answer: there
     * is no call waiting for a reply (as libvirtd). */
    g_debug("client %" G_GUINT64_FORMAT ": ignoring packet prog 0x%x proc %d type %d",
            client->id, hdr.prog, hdr.proc, hdr.type);
}
