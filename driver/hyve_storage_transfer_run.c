/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_transfer_run.c: the bodies of the upload and download
 * threads (hyve_storage_transfer_upload_run / _download_run, declared in
 * hyve_storage_priv.h and exported for the unit test). Each speaks the
 * frame protocol of hyve_stream_frame.h with blocking I/O on its end of
 * the socketpair: DATA/HOLE frames in or out of the open volume file
 * (sparse-aware), FINISH answered with DONE once the data is on disk,
 * failures sent as one ERROR frame, a closed socket taken as an abort.
 * Starting, tracking and stopping the threads is in hyve_storage_transfer.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyve_storage_priv.h"
#include "hyve_stream_frame.h"

/* The thread bodies (hyve_storage_transfer_*_run) and the io helpers they
 * use are declared in hyve_storage_priv.h. */

typedef enum {
    XFER_OK,
    XFER_GONE,                    /* EOF/EPIPE on the socket: the daemon aborted */
    XFER_FAILED,                  /* *error set: send it as an ERROR frame */
} XferStatus;

static XferStatus
sock_send(int sock, const void *buf, gsize len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return XFER_GONE;
        p += n;
        len -= n;
    }
    return XFER_OK;
}

static XferStatus
send_frame(int sock, HyveFrameType type, guint64 len, const void *payload, gsize plen)
{
    HyveFrameHeader h = { .type = type, .len = len };
    XferStatus s = sock_send(sock, &h, sizeof(h));

    if (s == XFER_OK && plen > 0)
        s = sock_send(sock, payload, plen);
    return s;
}

/* Reads exactly @len bytes; EOF or a reset = the daemon is gone. */
static XferStatus
sock_recv(int sock, void *buf, gsize len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv(sock, p, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return XFER_GONE;
        p += n;
        len -= n;
    }
    return XFER_OK;
}

/* The ERROR frame for @err, then no more output: the daemon ends the
 * stream and closes its end, which we wait for (bounded) so that it reads
 * the frame before any write of its own fails. */
static void
send_error(int sock, const GError *err)
{
    HyveErrorFrom from = HYVE_FROM_STORAGE;
    gsize mlen = strlen(err->message), max = HYVE_FRAME_ERROR_MAX - sizeof(HyveFrameError);
    g_autofree char *payload = NULL;
    HyveFrameError fe = { .code = err->code };
    const char *end = NULL;
    char drain[4096];
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    if (!hyve_error_from_quark(err->domain, &from))
        fe.code = HYVE_ERR_INTERNAL_ERROR;
    fe.domain = from;
    if (mlen > max) {
        g_utf8_validate(err->message, max, &end);
        mlen = end - err->message;
    }
    payload = g_malloc(sizeof(fe) + mlen);
    memcpy(payload, &fe, sizeof(fe));
    memcpy(payload + sizeof(fe), err->message, mlen);
    if (send_frame(sock, HYVE_FRAME_ERROR, sizeof(fe) + mlen, payload, sizeof(fe) + mlen) !=
        XFER_OK)
        return;
    shutdown(sock, SHUT_WR);
    while (g_get_monotonic_time() < deadline) {
        struct timeval tv = { .tv_sec = 1 };
        ssize_t n;

        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = recv(sock, drain, sizeof(drain), 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
    }
}

#define protocol_error(error, ...) \
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_RPC, __VA_ARGS__)

static XferStatus
write_at(int file, const char *path, const char *buf, gsize len, guint64 off, GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite(file, buf, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                           "cannot write to volume '%s': %s", path,
                           g_strerror(n < 0 ? errno : ENOSPC));
            return XFER_FAILED;
        }
        buf += n;
        len -= n;
        off += n;
    }
    return XFER_OK;
}

static void
overlong(GError **error)
{
    /* libvirt's fd stream says the same */
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                   "cannot write to stream: %s", g_strerror(ENOSPC));
}

static XferStatus
upload_loop(int sock, int file, const char *path, guint64 offset, guint64 length,
            guint flags, GError **error)
{
    guint64 pos = offset, limit = length ? offset + length : G_MAXUINT64;
    g_autofree char *buf = g_malloc(HYVE_FRAME_DATA_MAX);

    if (limit < offset)
        limit = G_MAXUINT64;
    for (;;) {
        HyveFrameHeader h;
        guint64 n;
        XferStatus s = sock_recv(sock, &h, sizeof(h));

        if (s != XFER_OK)
            return s;
        switch (h.type) {
        case HYVE_FRAME_DATA:
            if (h.len > HYVE_FRAME_DATA_MAX) {
                protocol_error(error, "stream data frame of %" G_GUINT64_FORMAT
                               " bytes is longer than the limit", h.len);
                return XFER_FAILED;
            }
            if ((s = sock_recv(sock, buf, h.len)) != XFER_OK)
                return s;
            n = MIN(h.len, limit - pos);
            if ((s = write_at(file, path, buf, n, pos, error)) != XFER_OK)
                return s;
            pos += n;
            if (n < h.len) {
                overlong(error);
                return XFER_FAILED;
            }
            break;
        case HYVE_FRAME_HOLE:
            if (!(flags & HYVE_VOL_TRANSFER_SPARSE)) {
                /* libvirt's text for a hole in a stream that is not sparse */
                (void)path;
                hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_RPC, "%s",
                               "Unexpected stream hole");
                return XFER_FAILED;
            }
            if (h.len > G_MAXINT64 - pos) {
                protocol_error(error, "stream hole of %" G_GUINT64_FORMAT
                               " bytes goes past the largest file offset", h.len);
                return XFER_FAILED;
            }
            n = MIN(h.len, limit - pos);
            if (!hyve_storage_fd_zero(file, path, pos, n, error))
                return XFER_FAILED;
            pos += n;
            if (n < h.len) {
                overlong(error);
                return XFER_FAILED;
            }
            break;
        case HYVE_FRAME_FINISH: {
            gboolean is_block;
            guint64 size;

            if (!hyve_storage_fd_size(file, path, &is_block, &size, error))
                return XFER_FAILED;
            if (!is_block && pos > size && ftruncate(file, pos) < 0) {
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                               "cannot resize volume '%s': %s", path, g_strerror(errno));
                return XFER_FAILED;
            }
            if (fsync(file) < 0) {
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                               "cannot sync volume '%s': %s", path, g_strerror(errno));
                return XFER_FAILED;
            }
            return XFER_OK;
        }
        default:
            protocol_error(error, "unexpected stream frame type %u in an upload",
                           h.type);
            return XFER_FAILED;
        }
    }
}

/* Settles, then tells the daemon the outcome. */
static gboolean
transfer_end(int sock, XferStatus s, const GError *err, HyveTransferSettle settle,
             gpointer data)
{
    if (settle)
        settle(s == XFER_OK, data);
    if (s == XFER_FAILED)
        send_error(sock, err);
    else if (s == XFER_OK)
        send_frame(sock, HYVE_FRAME_DONE, 0, NULL, 0);
    return s == XFER_OK;
}

gboolean
hyve_storage_transfer_upload_run(int sock, int file, const char *path, guint64 offset,
                                 guint64 length, guint flags, HyveTransferSettle settle,
                                 gpointer data)
{
    g_autoptr(GError) err = NULL;
    XferStatus s = upload_loop(sock, file, path, offset, length, flags, &err);

    return transfer_end(sock, s, err, settle, data);
}

/* A frame from the daemon while (or after) sending: FINISH → XFER_OK
 * (*finished), EOF → XFER_GONE, anything else is an error. With @wait
 * FALSE only looks (no frame: XFER_OK, *finished FALSE). */
static XferStatus
download_poll(int sock, gboolean wait, gboolean *finished, GError **error)
{
    HyveFrameHeader h;
    ssize_t n;

    *finished = FALSE;
    do
        n = recv(sock, &h, sizeof(h), MSG_PEEK | (wait ? 0 : MSG_DONTWAIT));
    while (n < 0 && errno == EINTR);
    if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK))
        return XFER_OK;
    if (n <= 0)
        return XFER_GONE;
    if (sock_recv(sock, &h, sizeof(h)) != XFER_OK)
        return XFER_GONE;
    if (h.type != HYVE_FRAME_FINISH) {
        protocol_error(error, "unexpected stream frame type %u in a download",
                       h.type);
        return XFER_FAILED;
    }
    *finished = TRUE;
    return XFER_OK;
}

/* Sends [pos, pos+len) of @file as DATA frames; @zeros: it is a hole,
 * send zeros without reading. */
static XferStatus
download_data(int sock, int file, const char *path, char *buf, guint64 pos, guint64 len,
              gboolean zeros, gboolean *finished, GError **error)
{
    while (len > 0) {
        gsize want = MIN(len, HYVE_FRAME_DATA_MAX), got = 0;
        XferStatus s;

        while (!zeros && got < want) {
            ssize_t n = pread(file, buf + got, want - got, pos + got);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                               "cannot read from volume '%s': %s", path, g_strerror(errno));
                return XFER_FAILED;
            }
            if (n == 0)           /* shrank meanwhile: the rest reads as zeros */
                break;
            got += n;
        }
        memset(buf + got, 0, want - got);
        if ((s = send_frame(sock, HYVE_FRAME_DATA, want, buf, want)) != XFER_OK ||
            (s = download_poll(sock, FALSE, finished, error)) != XFER_OK || *finished)
            return s;
        pos += want;
        len -= want;
    }
    return XFER_OK;
}

static XferStatus
download_loop(int sock, int file, const char *path, guint64 offset, guint64 length,
              guint flags, GError **error)
{
    guint64 pos = offset, end = offset + length;
    g_autofree char *buf = g_malloc0(HYVE_FRAME_DATA_MAX);
    gboolean is_block, finished = FALSE;
    guint64 size;
    XferStatus s;

    if (!hyve_storage_fd_size(file, path, &is_block, &size, error))
        return XFER_FAILED;
    while (pos < end) {
        off_t data = is_block ? (off_t)pos : lseek(file, pos, SEEK_DATA);
        off_t hole;

        if (data < 0 && errno == ENXIO)
            data = end;
        else if (data < 0)
            data = pos;
        if ((guint64)data > end)
            data = end;
        if ((guint64)data > pos) {
            if (flags & HYVE_VOL_TRANSFER_SPARSE) {
                if ((s = send_frame(sock, HYVE_FRAME_HOLE, data - pos, NULL, 0)) != XFER_OK ||
                    (s = download_poll(sock, FALSE, &finished, error)) != XFER_OK)
                    return s;
            } else {
                s = download_data(sock, file, path, buf, pos, data - pos, TRUE, &finished,
                                  error);
                if (s != XFER_OK)
                    return s;
            }
            if (finished)
                goto done;
            pos = data;
        }
        if (pos >= end)
            break;
        hole = is_block ? (off_t)end : lseek(file, pos, SEEK_HOLE);
        if (hole < 0 || (guint64)hole > end)
            hole = end;
        s = download_data(sock, file, path, buf, pos, hole - pos, FALSE, &finished, error);
        if (s != XFER_OK)
            return s;
        if (finished)
            goto done;
        pos = hole;
    }
    if ((s = send_frame(sock, HYVE_FRAME_EOF, 0, NULL, 0)) != XFER_OK)
        return s;
    if ((s = download_poll(sock, TRUE, &finished, error)) != XFER_OK)
        return s;
 done:
    return XFER_OK;
}

gboolean
hyve_storage_transfer_download_run(int sock, int file, const char *path, guint64 offset,
                                   guint64 length, guint flags, HyveTransferSettle settle,
                                   gpointer data)
{
    g_autoptr(GError) err = NULL;
    XferStatus s = download_loop(sock, file, path, offset, length, flags, &err);

    return transfer_end(sock, s, err, settle, data);
}
