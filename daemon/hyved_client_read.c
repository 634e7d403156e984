/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_client_read.c: reading from one client on the I/O thread: the
 * receive state machine (length word, packet, descriptors passed with
 * CALL_WITH_FDS), and handing each whole packet on: calls to the worker
 * pool, keepalive PINGs answered here, stream data to hyved_stream.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"

/* Packets handled per wakeup, so that one busy client cannot starve the
 * others on the I/O thread. */
#define HYVED_CLIENT_READ_BATCH 32

/* The packet buffer starts at this size and doubles as data arrives, so a
 * client that announces a large packet costs only what it really sent. */
#define HYVED_CLIENT_PKT_INITIAL (64 * 1024)

/* Largest packet (length word excluded) a client that has not
 * authenticated or not opened the connection yet may announce: it may only
 * make small calls then (AUTH_*, SUPPORTS_FEATURE, CONNECT_OPEN). */
#define HYVED_CLIENT_UNAUTH_PKT_MAX (64 * 1024)

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

/* recvmsg() for packet data: any descriptor that comes along is closed. */
static ssize_t
client_recv(HyvedClient *client, void *buf, gsize len)
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

    if (n > 0 && msg.msg_controllen > 0)
        close_fds_in(&msg);
    return n;
}

/* One byte and the one descriptor that must come with it (a CALL_WITH_FDS
 * descriptor, as libvirt's clients send them: one sendmsg per fd).
 * Returns 1 with *fd_out set, 0 when nothing is there yet, -1 when the
 * client must be dropped: EOF, a byte without exactly one descriptor
 * (every descriptor that came with it is closed at once). */
static int
client_recv_one_fd(HyvedClient *client, int *fd_out)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * HYVED_NUM_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    guint8 byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t n = recvmsg(client->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    int count = 0;
    int fd = -1;

    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    if (n == 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (nfd > 0 && count == 0)
                memcpy(&fd, CMSG_DATA(c), sizeof(int));
            count += nfd;
        }
    }
    if (count != 1 || (msg.msg_flags & MSG_CTRUNC)) {
        g_message("client %" G_GUINT64_FORMAT ": %d descriptors with one fd byte "
                  "(exactly 1 expected); dropping it", client->id, count);
        close_fds_in(&msg);
        return -1;
    }
    *fd_out = fd;
    return 1;
}

/* One step of the receive state machine.
 * Returns 1 when a whole packet (and its fds) is in, 0 when the socket has
 * nothing more for now, -1 when the client must be dropped. */
static int
client_rx_step(HyvedClient *client)
{
    ssize_t n;

    if (client->fds_wanted > 0) {
        int fd = -1;
        int r = client_recv_one_fd(client, &fd);

        if (r <= 0)
            return r;
        g_array_append_val(client->fds, fd);
        client->fds_wanted--;
        return client->fds_wanted == 0 ? 1 : 2;
    }

    if (client->len_have < 4) {
        n = client_recv(client, client->lenbuf + client->len_have, 4 - client->len_have);
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
            gboolean early;

            if (!hyved_packet_parse_length(client->lenbuf, &total, &err)) {
                g_message("client %" G_GUINT64_FORMAT ": %s; dropping it", client->id, err->message);
                return -1;
            }
            g_mutex_lock(&client->lock);
            early = !client->authenticated || !client->opened;
            g_mutex_unlock(&client->lock);
            if (early && total - 4 > HYVED_CLIENT_UNAUTH_PKT_MAX) {
                g_message("client %" G_GUINT64_FORMAT ": packet of %u bytes before "
                          "authentication and CONNECT_OPEN; dropping it", client->id, total);
                return -1;
            }
            client->pkt_len = total - 4;
            client->pkt_alloc = MIN(client->pkt_len, HYVED_CLIENT_PKT_INITIAL);
            client->pkt = g_malloc(client->pkt_alloc);
            client->pkt_have = 0;
        }
    }

    if (client->pkt_have == client->pkt_alloc) {
        client->pkt_alloc = MIN((gsize) client->pkt_len, client->pkt_alloc * 2);
        client->pkt = g_realloc(client->pkt, client->pkt_alloc);
    }
    n = client_recv(client, client->pkt + client->pkt_have, client->pkt_alloc - client->pkt_have);
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
            gboolean authenticated;

            if (nfds > HYVED_NUM_FDS_MAX) {
                g_message("client %" G_GUINT64_FORMAT ": %u fds in one message; dropping it",
                          client->id, nfds);
                return -1;
            }
            g_mutex_lock(&client->lock);
            authenticated = client->authenticated;
            g_mutex_unlock(&client->lock);
            if (!authenticated) {
                /* no procedure an unauthenticated client may call takes fds */
                g_message("client %" G_GUINT64_FORMAT ": CALL_WITH_FDS before "
                          "authentication; dropping it", client->id);
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

static void client_process_packet(HyvedClient *client);

gboolean
hyved_client_read(HyvedClient *client)
{
    const HyvedConfig *cfg = client->server->cfg;

    for (int done = 0; done < HYVED_CLIENT_READ_BATCH;) {
        int r;
        gboolean paused;

        g_mutex_lock(&client->lock);
        paused = client->inflight >= cfg->max_client_requests || client->want_close ||
            client->streams_full > 0;
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

/* Closes and frees descriptors that came with a packet nobody takes. */
static void
client_fds_close(GArray *fds)
{
    if (!fds)
        return;
    for (guint i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
    g_array_free(fds, TRUE);
}

static void
client_reset_rx(HyvedClient *client)
{
    client->pkt = NULL;
    client->pkt_len = 0;
    client->pkt_have = 0;
    client->pkt_alloc = 0;
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
        client_fds_close(fds);
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
    client_fds_close(fds);

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
    /* STREAM_HOLE (sparse volume transfers) goes to its stream like data */
    if (hdr.prog == HYVED_PROGRAM_REMOTE &&
        (hdr.type == HYVED_TYPE_STREAM || hdr.type == HYVED_TYPE_STREAM_HOLE)) {
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
