/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io_wire.c (storage-io, with test_storage_io.c): the daemon's
 * side of the frame protocol of hyve_stream_frame.h, for the tests: a
 * thread body started on one end of a socketpair (core_start, counting
 * how often it settled), reading and writing frames, sending a file as
 * DATA/HOLE frames and receiving a download into a file, and the 64 MiB
 * test image's data islands.
 */

#include "test_storage_io.h"

/* ---- the frame protocol ------------------------------------------------- */

typedef struct {
    int sock, file;
    char *path;
    guint64 offset, length;
    guint flags;
    gboolean upload;
    int settled;
    gboolean finished;
} Core;

/* How often the running thread body settled (one at a time per test);
 * checked only for core_start()'s threads, not the API's. */
gint settled;
static gboolean track_settle;

static void
core_settle(gboolean finished, gpointer data)
{
    Core *c = data;

    c->settled++;
    c->finished = finished;
    g_atomic_int_inc(&settled);
}

static gpointer
core_thread(gpointer data)
{
    Core *c = data;
    gboolean ok;

    if (c->upload)
        ok = hyve_storage_transfer_upload_run(c->sock, c->file, c->path, c->offset, c->length,
                                              c->flags, core_settle, c);
    else
        ok = hyve_storage_transfer_download_run(c->sock, c->file, c->path, c->offset,
                                                c->length, c->flags, core_settle, c);
    ck_assert_int_eq(c->settled, 1);
    ck_assert_int_eq(c->finished, ok);
    close(c->sock);
    close(c->file);
    g_free(c->path);
    g_free(c);
    return GINT_TO_POINTER(ok);
}

/* Runs a thread body on @path as the transfer thread would; returns the
 * daemon's end. */
int
core_start(gboolean upload, const char *path, guint64 offset, guint64 length, guint flags,
           GThread **thread)
{
    Core *c = g_new0(Core, 1);
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    c->file = open(path, (upload ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    ck_assert_msg(c->file >= 0, "%s: %s", path, g_strerror(errno));
    c->sock = fds[1];
    c->path = g_strdup(path);
    c->offset = offset;
    c->length = length;
    c->flags = flags;
    c->upload = upload;
    g_atomic_int_set(&settled, 0);
    track_settle = TRUE;
    *thread = g_thread_new("test-core", core_thread, c);
    return fds[0];
}

void
wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    ck_assert_msg(poll(&p, 1, 60000) == 1, "no frame within 60 s");
}

/* Exactly @len bytes; FALSE on EOF/reset. */
gboolean
rd(int fd, void *buf, gsize len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n;

        wait_readable(fd);
        n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= n;
    }
    return TRUE;
}

/* FALSE when the thread's end is gone (EPIPE). */
static gboolean
wr(int fd, const void *buf, gsize len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return FALSE;
        ck_assert_msg(n > 0, "send: %s", g_strerror(errno));
        p += n;
        len -= n;
    }
    return TRUE;
}

gboolean
wr_frame(int fd, guint32 type, guint64 len, const void *payload, gsize plen)
{
    HyveFrameHeader h = { .type = type, .len = len };

    return wr(fd, &h, sizeof(h)) && (plen == 0 || wr(fd, payload, plen));
}

/* The next frame from the thread (payload g_free'd by the caller);
 * FALSE on EOF. Payload lengths are checked against the contract. */
gboolean
rd_frame(int fd, HyveFrameHeader *h, char **payload)
{
    *payload = NULL;
    if (!rd(fd, h, sizeof(*h)))
        return FALSE;
    ck_assert_int_eq(h->reserved, 0);
    ck_assert_msg(h->type >= HYVE_FRAME_DATA && h->type <= HYVE_FRAME_ERROR &&
                  h->type != HYVE_FRAME_FINISH, "frame type %u from the driver", h->type);
    if (h->type == HYVE_FRAME_DATA || h->type == HYVE_FRAME_ERROR) {
        ck_assert_msg(h->len <= (h->type == HYVE_FRAME_DATA ? HYVE_FRAME_DATA_MAX
                                                            : HYVE_FRAME_ERROR_MAX),
                      "frame %u of %" G_GUINT64_FORMAT " bytes", h->type, h->len);
        ck_assert_msg(h->type != HYVE_FRAME_DATA || h->len > 0, "empty DATA frame");
        *payload = g_malloc(h->len + 1);
        ck_assert_msg(rd(fd, *payload, h->len), "EOF inside a frame");
        (*payload)[h->len] = 0;
    } else {
        ck_assert_msg(h->type == HYVE_FRAME_HOLE || h->len == 0, "frame %u with length", h->type);
    }
    return TRUE;
}

/* Reads frames until DONE, EOF of the socket or ERROR: the ERROR as
 * "code domain message", "DONE", or "EOF" (data frames skipped). */
char *
rd_outcome(int fd)
{
    HyveFrameHeader h;
    char *payload = NULL;

    while (rd_frame(fd, &h, &payload)) {
        /* the volume is released before the client hears the outcome */
        if (track_settle && (h.type == HYVE_FRAME_ERROR || h.type == HYVE_FRAME_DONE))
            ck_assert_msg(g_atomic_int_get(&settled) == 1, "frame %u before settling", h.type);
        if (h.type == HYVE_FRAME_ERROR) {
            HyveFrameError fe;
            char *line;

            ck_assert_uint_ge(h.len, sizeof(fe));
            memcpy(&fe, payload, sizeof(fe));
            line = g_strdup_printf("%d %d %s", fe.code, fe.domain, payload + sizeof(fe));
            g_free(payload);
            /* then the thread closes its end */
            while (rd_frame(fd, &h, &payload))
                ck_abort_msg("frame %u after ERROR", h.type);
            return line;
        }
        g_free(payload);
        if (h.type == HYVE_FRAME_DONE)
            return g_strdup("DONE");
    }
    return g_strdup("EOF");
}

/* Sends [from, to) of @src as an upload would: DATA frames of varying
 * sizes (at most HYVE_FRAME_DATA_MAX) for data, and with @sparse HOLE
 * frames for holes (else zeros as DATA). */
gboolean
send_image(int fd, const char *src, guint64 from, guint64 to, gboolean sparse)
{
    g_autofree char *buf = g_malloc0(HYVE_FRAME_DATA_MAX);
    g_autoptr(GArray) map = data_map(src, from, to);
    int sfd = open(src, O_RDONLY | O_CLOEXEC);
    guint64 pos = from;
    guint frame = 0;

    ck_assert(sfd >= 0);
    for (guint i = 0; i <= map->len; i++) {
        guint64 doff = i < map->len ? from + g_array_index(map, Extent, i).off : to;
        guint64 dend = i < map->len ? doff + g_array_index(map, Extent, i).len : to;

        for (guint64 p = pos; p < dend;) {
            gboolean hole = p < doff;
            guint64 chunk = frame++ % 2 ? 65536 + 7 : HYVE_FRAME_DATA_MAX;
            guint64 n = MIN((hole ? doff : dend) - p, chunk);

            if (hole && sparse) {
                n = doff - p;
                if (!wr_frame(fd, HYVE_FRAME_HOLE, n, NULL, 0))
                    goto gone;
            } else {
                if (hole)
                    memset(buf, 0, n);
                else
                    ck_assert_int_eq(pread(sfd, buf, n, p), (ssize_t)n);
                if (!wr_frame(fd, HYVE_FRAME_DATA, n, buf, n))
                    goto gone;
            }
            p += n;
        }
        pos = dend;
    }
    close(sfd);
    return TRUE;
 gone:
    close(sfd);
    return FALSE;
}

/* Receives a download into the new file @out until EOF, finishes, and
 * expects DONE. */
void
recv_image(int fd, const char *out, Received *r)
{
    g_autoptr(GArray) map = g_array_new(FALSE, FALSE, sizeof(Extent));
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    HyveFrameHeader h;
    g_autofree char *outcome = NULL;

    ck_assert(ofd >= 0);
    memset(r, 0, sizeof(*r));
    for (;;) {
        g_autofree char *payload = NULL;

        ck_assert_msg(rd_frame(fd, &h, &payload), "socket closed before EOF");
        ck_assert_msg(h.type != HYVE_FRAME_ERROR, "ERROR frame: %s",
                      payload + sizeof(HyveFrameError));
        if (h.type == HYVE_FRAME_EOF)
            break;
        ck_assert_msg(h.type == HYVE_FRAME_DATA || h.type == HYVE_FRAME_HOLE, "frame %u",
                      h.type);
        if (h.type == HYVE_FRAME_DATA) {
            Extent *last = map->len ? &g_array_index(map, Extent, map->len - 1) : NULL;

            ck_assert_int_eq(pwrite(ofd, payload, h.len, r->total), (ssize_t)h.len);
            if (last && last->off + last->len == r->total) {
                last->len += h.len;
            } else {
                Extent e = { r->total, h.len };

                g_array_append_val(map, e);
            }
        } else {
            ck_assert_msg(h.len > 0, "empty HOLE frame");
            r->holes++;
        }
        r->total += h.len;
    }
    ck_assert_int_eq(ftruncate(ofd, r->total), 0);
    close(ofd);
    r->map = map_string(g_steal_pointer(&map));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
}

gboolean
join(GThread *thread)
{
    gboolean ok = GPOINTER_TO_INT(g_thread_join(thread));

    ck_assert_int_eq(g_atomic_int_get(&settled), 1);
    return ok;
}

const Extent image_islands[] = {
    { 0, 64 * KiB }, { MiB + 4 * KiB, 300 * KiB }, { 10 * MiB, MiB + 8 * KiB },
    { 33 * MiB - 4 * KiB, 8 * KiB }, { 63 * MiB, 512 * KiB }, END,
};
