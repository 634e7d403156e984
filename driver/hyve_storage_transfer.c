/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_transfer.c: virStorageVolUpload/Download. Each transfer is
 * a detached thread that owns the volume's open file and one end of a
 * socketpair, and speaks hyve_stream_frame.h on it with blocking I/O; the
 * daemon gets the other end. The thread holds a pool reference and the
 * volume's in-use mark (hyve_storage_vol_acquire) until it ends, however
 * it ends: FINISH answered, error sent, or the daemon gone (abort).
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
                hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_RPC,
                               "unexpected stream hole: the upload of '%s' is not sparse",
                               path);
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

/* ---- the API ------------------------------------------------------------ */

typedef struct {
    HyveStorage *st;
    HyvePoolObj *pool;            /* reference */
    char *name;
    char *path;
    int sock, file;
    guint64 offset, length;
    guint flags;
    gboolean upload;
} HyveTransfer;

/* Running transfers (HyveTransfer*), for hyve_storage_transfers_stop. */
static GMutex transfers_lock;
static GCond transfers_cond;
static GPtrArray *transfers;

static void
transfers_add(HyveTransfer *t)
{
    g_mutex_lock(&transfers_lock);
    if (!transfers)
        transfers = g_ptr_array_new();
    g_ptr_array_add(transfers, t);
    g_mutex_unlock(&transfers_lock);
}

static void
transfers_remove(HyveTransfer *t)
{
    g_mutex_lock(&transfers_lock);
    g_ptr_array_remove_fast(transfers, t);
    g_cond_broadcast(&transfers_cond);
    g_mutex_unlock(&transfers_lock);
}

void
hyve_storage_transfers_stop(HyveStorage *st)
{
    gboolean running = TRUE;

    g_mutex_lock(&transfers_lock);
    for (guint i = 0; transfers && i < transfers->len; i++) {
        HyveTransfer *t = g_ptr_array_index(transfers, i);

        if (t->st == st)
            shutdown(t->sock, SHUT_RDWR);
    }
    while (running) {
        running = FALSE;
        for (guint i = 0; transfers && i < transfers->len; i++)
            running |= ((HyveTransfer *)g_ptr_array_index(transfers, i))->st == st;
        if (running)
            g_cond_wait(&transfers_cond, &transfers_lock);
    }
    g_mutex_unlock(&transfers_lock);
}

/* Before the last frame: the file closed, the volume released (after a
 * finished upload with its sizes re-read and the pool's REFRESH event). */
static void
transfer_settle(gboolean finished, gpointer data)
{
    HyveTransfer *t = data;

    close(t->file);
    t->file = -1;
    hyve_storage_vol_release(t->st, t->pool, t->name, t->upload && finished);
}

static gpointer
transfer_thread(gpointer data)
{
    HyveTransfer *t = data;

    if (t->upload)
        hyve_storage_transfer_upload_run(t->sock, t->file, t->path, t->offset, t->length,
                                         t->flags, transfer_settle, t);
    else
        hyve_storage_transfer_download_run(t->sock, t->file, t->path, t->offset, t->length,
                                           t->flags, transfer_settle, t);
    transfers_remove(t);          /* done with t->st; the socket is still ours */
    close(t->sock);
    hyve_pool_obj_unref(t->pool);
    g_free(t->name);
    g_free(t->path);
    g_free(t);
    return NULL;
}

static int
transfer_start(HyveStorage *st, HyvePoolObj *pool, const char *name, guint64 offset,
               guint64 length, guint flags, gboolean upload, GError **error)
{
    g_autofree char *path = NULL;
    guint64 capacity = 0;
    int fds[2], file;
    HyveTransfer *t;
    g_autoptr(GError) thread_err = NULL;
    GThread *thread;

    if (!hyve_storage_vol_acquire(st, pool, name, upload ? HYVE_VOL_USE_WRITE : HYVE_VOL_USE_READ,
                                  &path, &capacity, error))
        return -1;
    if (offset > capacity) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "offset %" G_GUINT64_FORMAT " is beyond the end of volume '%s' "
                       "(capacity %" G_GUINT64_FORMAT " bytes)", offset, name, capacity);
        goto fail;
    }
    if (length > capacity - offset) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "offset %" G_GUINT64_FORMAT " plus length %" G_GUINT64_FORMAT
                       " is beyond the end of volume '%s' (capacity %" G_GUINT64_FORMAT
                       " bytes)", offset, length, name, capacity);
        goto fail;
    }
    if (!upload && length == 0)
        length = capacity - offset;
    file = open(path, (upload ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
    if (file < 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot open volume '%s': %s", path, g_strerror(errno));
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot create a socket pair: %s", g_strerror(errno));
        close(file);
        goto fail;
    }
    t = g_new0(HyveTransfer, 1);
    t->st = st;
    t->pool = hyve_pool_obj_ref(pool);
    t->name = g_strdup(name);
    t->path = g_steal_pointer(&path);
    t->sock = fds[1];
    t->file = file;
    t->offset = offset;
    t->length = length;
    t->flags = flags;
    t->upload = upload;
    transfers_add(t);
    thread = g_thread_try_new(upload ? "hyve-vol-upload" : "hyve-vol-download",
                              transfer_thread, t, &thread_err);
    if (!thread) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                       "cannot start the transfer thread: %s", thread_err->message);
        transfers_remove(t);
        close(fds[0]);
        close(fds[1]);
        close(file);
        hyve_pool_obj_unref(t->pool);
        g_free(t->name);
        path = t->path;
        g_free(t);
        goto fail;
    }
    g_thread_unref(thread);
    return fds[0];

 fail:
    hyve_storage_vol_release(st, pool, name, FALSE);
    return -1;
}

int
hyve_storage_vol_upload(HyveStorage *st, HyvePoolObj *pool, const char *name, guint64 offset,
                        guint64 length, guint flags, GError **error)
{
    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_TRANSFER_SPARSE, -1);
    return transfer_start(st, pool, name, offset, length, flags, TRUE, error);
}

int
hyve_storage_vol_download(HyveStorage *st, HyvePoolObj *pool, const char *name,
                          guint64 offset, guint64 length, guint flags, GError **error)
{
    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_TRANSFER_SPARSE, -1);
    return transfer_start(st, pool, name, offset, length, flags, FALSE, error);
}
