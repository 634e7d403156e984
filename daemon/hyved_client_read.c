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

/* Bytes one wakeup reads from a client's socket at most: then the loop
 * goes back to poll() (what is left keeps the socket readable; whole
 * packets already buffered are seen by hyved_client_rx_ready), so one
 * client sending big packets cannot keep the I/O thread from the others. */
#define HYVED_CLIENT_READ_BYTES (1024 * 1024)

/* The receive buffer: one recvmsg() usually brings a whole call (often
 * several). It grows, doubling as data arrives, for a packet larger than
 * this, so a client that announces a large packet costs only what it
 * really sent, and shrinks back once that packet is handled. */
#define HYVED_CLIENT_RX_SIZE (32 * 1024)

/* Largest packet (length word excluded) a client that has not
 * authenticated or not opened the connection yet may announce: it may only
 * make small calls then (AUTH_*, SUPPORTS_FEATURE, CONNECT_OPEN). */
#define HYVED_CLIENT_UNAUTH_PKT_MAX (64 * 1024)

/* A big-endian word anywhere in the buffer: packets follow fd bytes, so
 * they need not be aligned. */
static inline guint32
be32_at(const guint8 *p)
{
    guint32 v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_BE(v);
}

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

/* Closes the passed descriptors of rx_fds that came with a byte before
 * stream offset @before (all of them with G_MAXUINT64). */
static void
rx_fds_close_before(HyvedClient *client, guint64 before)
{
    guint n = 0;

    if (!client->rx_fds)
        return;
    while (n < client->rx_fds->len && g_array_index(client->rx_fds, HyvedRxFd, n).pos < before)
        close(g_array_index(client->rx_fds, HyvedRxFd, n++).fd);
    if (n > 0)
        g_array_remove_range(client->rx_fds, 0, n);
}

/* Makes room at the end of client->rx: moves what is left to the front,
 * doubles the buffer when a large packet fills it. @want: bytes of the
 * packet being read (length word included), 0 when not known yet. */
static void
rx_make_room(HyvedClient *client, gsize want)
{
    gsize have = client->rx_end - client->rx_start;

    if (!client->rx) {
        client->pkt_alloc = HYVED_CLIENT_RX_SIZE;
        client->rx = g_malloc(client->pkt_alloc);
    }
    if (client->rx_start > 0 && (client->rx_end == client->pkt_alloc || have == 0)) {
        memmove(client->rx, client->rx + client->rx_start, have);
        client->rx_start = 0;
        client->rx_end = have;
    }
    if (client->rx_end == client->pkt_alloc) {
        gsize grow = client->pkt_alloc * 2;

        if (want > client->pkt_alloc && want < grow)
            grow = want;
        client->pkt_alloc = grow;
        client->rx = g_realloc(client->rx, client->pkt_alloc);
    }
}

/* Descriptors just received may be kept: the client is authenticated
 * (no call before that takes any) and, with those not claimed yet, they
 * are at most one packet's worth (HYVED_NUM_FDS_MAX). A client feeding
 * descriptors with bytes no packet claims would otherwise make the daemon
 * hold them until the packet ends. */
static gboolean
rx_fds_acceptable(HyvedClient *client, struct msghdr *msg)
{
    guint held = client->rx_fds ? client->rx_fds->len : 0;
    guint nfd = 0;
    gboolean authenticated;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            nfd += (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    }
    g_mutex_lock(&client->lock);
    authenticated = client->authenticated;
    g_mutex_unlock(&client->lock);
    if (!authenticated) {
        g_message("client %" G_GUINT64_FORMAT ": descriptors before authentication; "
                  "dropping it", client->id);
        return FALSE;
    }
    if (held + nfd > HYVED_NUM_FDS_MAX) {
        g_message("client %" G_GUINT64_FORMAT ": %u descriptors not claimed by a "
                  "packet (at most %u); dropping it", client->id, held + nfd,
                  HYVED_NUM_FDS_MAX);
        return FALSE;
    }
    return TRUE;
}

/* One recvmsg() into the free end of client->rx. Descriptors that come
 * along are kept in rx_fds with the offset of the last byte read (the
 * kernel ends a read after data carrying descriptors; a packet that
 * claims them checks each sits on its own byte). Returns the bytes read,
 * 0 when the socket has nothing now, -1 when the client must be dropped
 * (EOF, error, too many descriptors at once). */
static gssize
rx_recv(HyvedClient *client, gsize want)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * HYVED_NUM_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    ssize_t n;

    rx_make_room(client, want);
    iov.iov_base = client->rx + client->rx_end;
    iov.iov_len = client->pkt_alloc - client->rx_end;
    n = recvmsg(client->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    if (n == 0)
        return -1;
    client->rx_end += n;
    if (msg.msg_controllen > 0) {
        guint64 pos = client->rx_pos + (client->rx_end - client->rx_start) - 1;

        if (msg.msg_flags & MSG_CTRUNC) {
            g_message("client %" G_GUINT64_FORMAT ": more than %u descriptors at once; "
                      "dropping it", client->id, HYVED_NUM_FDS_MAX);
            close_fds_in(&msg);
            return -1;
        }
        if (!rx_fds_acceptable(client, &msg)) {
            close_fds_in(&msg);
            return -1;
        }
        if (!client->rx_fds)
            client->rx_fds = g_array_new(FALSE, FALSE, sizeof(HyvedRxFd));
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (int i = 0; i < nfd; i++) {
                    HyvedRxFd rf = { .pos = pos };
                    memcpy(&rf.fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    g_array_append_val(client->rx_fds, rf);
                }
            }
        }
    }
    return n;
}

/* Bytes after a CALL_WITH_FDS packet: one per descriptor, each carrying
 * exactly that descriptor (libvirt's clients send them so: one sendmsg()
 * per fd). Returns 1 when all are in, 0 when more must be read, -1 when the
 * client must be dropped (a byte without exactly one descriptor). */
static int
rx_claim_fds(HyvedClient *client)
{
    while (client->fds_wanted > 0 && client->rx_start < client->rx_end) {
        GArray *rf = client->rx_fds;
        guint count = 0;

        while (rf && count < rf->len && g_array_index(rf, HyvedRxFd, count).pos == client->rx_pos)
            count++;
        if (count != 1 || g_array_index(rf, HyvedRxFd, 0).pos != client->rx_pos) {
            g_message("client %" G_GUINT64_FORMAT ": %u descriptors with one fd byte "
                      "(exactly 1 expected); dropping it", client->id, count);
            return -1;
        }
        g_array_append_val(client->fds, g_array_index(rf, HyvedRxFd, 0).fd);
        g_array_remove_index(rf, 0);
        client->rx_start++;
        client->rx_pos++;
        client->fds_wanted--;
    }
    return client->fds_wanted == 0 ? 1 : 0;
}

/* The length word at the head of client->rx (4 bytes there): the packet's
 * size, length word included; 0 when the client must be dropped. */
static guint32
rx_head_length(HyvedClient *client)
{
    g_autoptr(GError) err = NULL;
    guint32 total = 0;
    gboolean early;

    if (!hyved_packet_parse_length(client->rx + client->rx_start, &total, &err)) {
        g_message("client %" G_GUINT64_FORMAT ": %s; dropping it", client->id, err->message);
        return 0;
    }
    g_mutex_lock(&client->lock);
    early = !client->authenticated || !client->opened;
    g_mutex_unlock(&client->lock);
    if (early && total - 4 > HYVED_CLIENT_UNAUTH_PKT_MAX) {
        g_message("client %" G_GUINT64_FORMAT ": packet of %u bytes before "
                  "authentication and CONNECT_OPEN; dropping it", client->id, total);
        return 0;
    }
    return total;
}

static void client_process_packet(HyvedClient *client, const guint8 *pkt, guint32 pkt_len,
                                  GArray *fds);
static void client_fds_close(GArray *fds);

/* A whole packet sits at the head of client->rx: takes it off and hands it
 * on, or (CALL_WITH_FDS) keeps it until its descriptors are in. Returns
 * FALSE when the client must be dropped. */
static gboolean
rx_take_packet(HyvedClient *client, guint32 total)
{
    const guint8 *pkt = client->rx + client->rx_start + 4;
    guint32 pkt_len = total - 4;

    client->rx_start += total;
    client->rx_pos += total;
    /* descriptors that came with packet bytes: nobody takes them */
    rx_fds_close_before(client, client->rx_pos);

    /* CALL_WITH_FDS: the payload starts with the fd count; the fds follow
     * out of band, one byte each. */
    if (pkt_len >= HYVED_MESSAGE_HEADER_MAX + 4 &&
        (gint32) be32_at(pkt + 12) == HYVED_TYPE_CALL_WITH_FDS) {
        guint32 nfds = be32_at(pkt + HYVED_MESSAGE_HEADER_MAX);
        gboolean authenticated;

        if (nfds > HYVED_NUM_FDS_MAX) {
            g_message("client %" G_GUINT64_FORMAT ": %u fds in one message; dropping it",
                      client->id, nfds);
            return FALSE;
        }
        g_mutex_lock(&client->lock);
        authenticated = client->authenticated;
        g_mutex_unlock(&client->lock);
        if (!authenticated) {
            /* no procedure an unauthenticated client may call takes fds */
            g_message("client %" G_GUINT64_FORMAT ": CALL_WITH_FDS before "
                      "authentication; dropping it", client->id);
            return FALSE;
        }
        if (nfds > 0) {
            client->pkt = g_memdup2(pkt, pkt_len);
            client->pkt_len = pkt_len;
            client->fds = g_array_new(FALSE, FALSE, sizeof(int));
            client->fds_wanted = nfds;
            return TRUE;
        }
    }
    /* after fd bytes (or an odd-sized packet) the packet is not 4-byte
     * aligned in the buffer: only such a packet is copied (moving the
     * whole buffer back each time would cost O(buffer) per packet) */
    if ((guintptr) pkt & 3) {
        g_autofree guint8 *copy = g_memdup2(pkt, pkt_len);

        client_process_packet(client, copy, pkt_len, NULL);
        return TRUE;
    }
    client_process_packet(client, pkt, pkt_len, NULL);
    return TRUE;
}

/* Handles what client->rx holds. Returns 1 after a packet, 0 when more
 * must be read first (*want: the size of the packet being read, when
 * known), -1 when the client must be dropped. */
static int
rx_step(HyvedClient *client, gsize *want)
{
    gsize have = client->rx_end - client->rx_start;
    guint32 total;

    *want = 0;
    if (client->fds_wanted > 0) {
        g_autofree guint8 *pkt = NULL;
        int r = rx_claim_fds(client);

        if (r <= 0)
            return r;
        pkt = g_steal_pointer(&client->pkt);
        client_process_packet(client, pkt, client->pkt_len, g_steal_pointer(&client->fds));
        return 1;
    }
    if (have < 4)
        return 0;
    if (!(total = rx_head_length(client)))
        return -1;
    if (have < total) {
        *want = total;
        return 0;
    }
    return rx_take_packet(client, total) ? 1 : -1;
}

gboolean
hyved_client_rx_ready(HyvedClient *client)
{
    gsize have = client->rx_end - client->rx_start;

    if (client->fds_wanted > 0)
        return have > 0;
    return have >= 4 && have >= be32_at(client->rx + client->rx_start);
}

/* The client is dropped: its passed descriptors are closed now, not when
 * its last reference goes. */
static gboolean
client_read_fail(HyvedClient *client)
{
    rx_fds_close_before(client, G_MAXUINT64);
    client_fds_close(g_steal_pointer(&client->fds));
    client->fds_wanted = 0;
    return FALSE;
}

/* hyved_client_read's reading and handling, while the client is corked. */
static gboolean
client_read_batch(HyvedClient *client, gboolean readable)
{
    const HyvedConfig *cfg = client->server->cfg;
    gsize read_bytes = 0;

    for (int done = 0; done < HYVED_CLIENT_READ_BATCH;) {
        gboolean paused;
        gsize want = 0;
        gssize n;
        int r;

        g_mutex_lock(&client->lock);
        paused = client->inflight >= cfg->max_client_requests || client->want_close ||
            client->streams_full > 0;
        g_mutex_unlock(&client->lock);
        if (paused)
            break;

        r = rx_step(client, &want);
        if (r < 0)
            return client_read_fail(client);
        if (r == 1) {
            done++;
            if (client->fd < 0)
                return TRUE;
            continue;
        }
        /* more bytes needed: read once; a read that did not fill the
         * buffer emptied the socket, poll() says when more comes */
        if (!readable)
            break;
        n = rx_recv(client, want);
        if (n < 0)
            return client_read_fail(client);
        read_bytes += n;
        if (n == 0 || client->rx_end < client->pkt_alloc ||
            read_bytes >= HYVED_CLIENT_READ_BYTES)
            readable = FALSE;
    }
    client->pkt_have = client->rx_end - client->rx_start;
    client->pkt_have = client->pkt_have >= 4 ? client->pkt_have - 4 : 0;
    /* a large packet handled: back to the usual buffer */
    if (client->pkt_alloc > HYVED_CLIENT_RX_SIZE && client->rx_start == client->rx_end) {
        g_clear_pointer(&client->rx, g_free);
        client->rx_start = client->rx_end = client->pkt_alloc = 0;
    }
    return TRUE;
}

gboolean
hyved_client_read(HyvedClient *client, gboolean readable)
{
    gboolean ok;

    /* a client that sent several calls at once gets their replies in one
     * write: one wakeup for it, not one per reply */
    hyved_client_cork(client);
    ok = client_read_batch(client, readable);
    return hyved_client_uncork(client) && ok;
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
client_process_packet(HyvedClient *client, const guint8 *pkt, guint32 pkt_len, GArray *fds)
{
    g_autoptr(GError) err = NULL;
    HyvedHeader hdr;

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
        hyved_server_queue_call(client->server, client, &hdr, pkt, pkt_len, off, fds);
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
