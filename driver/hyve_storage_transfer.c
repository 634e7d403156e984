/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_transfer.c: virStorageVolUpload/Download. Each transfer is
 * a detached thread that owns the volume's open file and one end of a
 * socketpair, and speaks hyve_stream_frame.h on it with blocking I/O; the
 * daemon gets the other end. The thread holds a pool reference and the
 * volume's in-use mark (hyve_storage_vol_acquire) until it ends, however
 * it ends: FINISH answered, error sent, or the daemon gone (abort).
 * This file starts, tracks and stops those threads (the API); their bodies,
 * the frame protocol, are in hyve_storage_transfer_run.c.
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

/* Which ranges a transfer may touch (libvirt's fd streams): an upload
 * into a file may go anywhere, the file grows (up to the largest file
 * offset); a block device cannot grow, so an upload past its end is
 * refused. A download starts inside the volume and reads what exists: a
 * length past the end stops at the end (0 = to the end). */
static gboolean
transfer_range_ok(const char *name, gboolean upload, gboolean is_block, guint64 size,
                  guint64 offset, guint64 *length, GError **error)
{
    if (upload && !is_block) {
        if (offset > G_MAXINT64 || *length > G_MAXINT64 - offset) {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                           "offset %" G_GUINT64_FORMAT " plus length %" G_GUINT64_FORMAT
                           " is beyond the largest file offset (volume '%s')", offset,
                           *length, name);
            return FALSE;
        }
        return TRUE;
    }
    if (offset > size) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "offset %" G_GUINT64_FORMAT " is beyond the end of %svolume '%s' "
                       "(capacity %" G_GUINT64_FORMAT " bytes)", offset,
                       is_block ? "block device " : "", name, size);
        return FALSE;
    }
    if (upload && *length > size - offset) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "offset %" G_GUINT64_FORMAT " plus length %" G_GUINT64_FORMAT
                       " is beyond the end of block device volume '%s' (capacity %"
                       G_GUINT64_FORMAT " bytes), which cannot grow", offset, *length, name,
                       size);
        return FALSE;
    }
    if (!upload && (*length == 0 || *length > size - offset))
        *length = size - offset;
    return TRUE;
}

static int
transfer_start(HyveStorage *st, HyvePoolObj *pool, const char *name, guint64 offset,
               guint64 length, guint flags, gboolean upload, GError **error)
{
    g_autofree char *path = NULL;
    guint64 size = 0;
    gboolean is_block = FALSE;
    int fds[2], file;
    HyveTransfer *t;
    g_autoptr(GError) thread_err = NULL;
    GThread *thread;

    if (!hyve_storage_vol_acquire(st, pool, name, upload ? HYVE_VOL_USE_WRITE : HYVE_VOL_USE_READ,
                                  &path, NULL, error))
        return -1;
    file = hyve_storage_open_vol(path, upload ? O_WRONLY : O_RDONLY, error);
    if (file < 0)
        goto fail;
    if (!hyve_storage_fd_size(file, path, &is_block, &size, error) ||
        !transfer_range_ok(name, upload, is_block, size, offset, &length, error)) {
        close(file);
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
