/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_io.c: sparse-aware copy and wipe of a volume's path (a
 * regular file or a block device), see hyve_storage_priv.h.
 *
 * Holes of a file are found with SEEK_DATA/SEEK_HOLE; a block device has
 * none, so it is read fully and blocks of zeros are treated as holes. A
 * hole of the source becomes a hole of the destination when the
 * destination holds no data there (a freshly created sparse file: nothing
 * is written); where it does hold data, that data is zeroed (files:
 * FALLOC_FL_ZERO_RANGE, block devices: BLKZEROOUT, else written zeros).
 * A wipe keeps a fully allocated file allocated (ZERO_RANGE) and makes a
 * sparse one all holes, as libvirt. Volume paths are opened through
 * hyve_storage_open_vol (no blocking on a FIFO; files and block devices
 * only). Every error is from STORAGE naming the path: SYSTEM_ERROR with
 * errno, OPERATION_INVALID for a path of the wrong kind.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyve_storage_priv.h"

#define IO_CHUNK (1024 * 1024)
#define IO_BLOCK 4096

static gboolean
io_fail(GError **error, int err, const char *what, const char *path)
{
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR, "%s '%s': %s", what, path,
                   g_strerror(err));
    return FALSE;
}

/* Regular file: its size; block device: its size in bytes. */
gboolean
hyve_storage_fd_size(int fd, const char *path, gboolean *is_block, guint64 *size,
                     GError **error)
{
    struct stat sb;

    if (fstat(fd, &sb) < 0)
        return io_fail(error, errno, "cannot stat", path);
    *is_block = S_ISBLK(sb.st_mode);
    if (*is_block) {
        guint64 bytes = 0;

        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
            return io_fail(error, errno, "cannot get the size of", path);
        *size = bytes;
    } else if (S_ISREG(sb.st_mode)) {
        *size = sb.st_size;
    } else {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "'%s' is not a regular file or a block device", path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
not_volume_file(GError **error, const char *path)
{
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                   "'%s' is not a regular file or a block device", path);
    return FALSE;
}

/* A FIFO (or a device that waits) in a pool must not block a worker:
 * O_NONBLOCK while opening, only files and block devices kept, then
 * blocking I/O again. Symlinks are followed, as libvirt does for a dir
 * pool's volumes (a link to a file is a volume). */
int
hyve_storage_open_vol(const char *path, int oflags, GError **error)
{
    struct stat sb;
    int fd, fl;

    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
        return not_volume_file(error, path), -1;
    fd = open(path, oflags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(error, errno, "cannot open", path), -1;
    if (fstat(fd, &sb) < 0) {
        io_fail(error, errno, "cannot stat", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
        not_volume_file(error, path);
        close(fd);
        return -1;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        io_fail(error, errno, "cannot set blocking mode on", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* fallocate [offset, offset+len); written zeros where the file system
 * cannot preallocate. 0, or -1 with errno. */
int
hyve_storage_fd_allocate(int fd, guint64 offset, guint64 len)
{
    static const char zeros[65536];

    if (len == 0)
        return 0;
    if (fallocate(fd, 0, (off_t)offset, (off_t)len) == 0)
        return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    while (len > 0) {
        ssize_t n = pwrite(fd, zeros, MIN(len, sizeof(zeros)), (off_t)offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        offset += n;
        len -= n;
    }
    return fdatasync(fd);
}

static gboolean
write_all(int fd, const char *path, const char *buf, gsize len, guint64 off, GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, MIN(len, (gsize)G_MAXSSIZE), off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_fail(error, errno, "cannot write", path);
        if (n == 0)
            return io_fail(error, ENOSPC, "cannot write", path);
        buf += n;
        len -= n;
        off += n;
    }
    return TRUE;
}

static gboolean
write_zeros(int fd, const char *path, guint64 off, guint64 len, GError **error)
{
    g_autofree char *zeros = g_malloc0(MIN(len, IO_CHUNK));

    while (len > 0) {
        gsize n = MIN(len, IO_CHUNK);

        if (!write_all(fd, path, zeros, n, off, error))
            return FALSE;
        off += n;
        len -= n;
    }
    return TRUE;
}

/* Zeroes [off, off+len) of @fd, deallocating it where the file system can:
 * files get a hole (PUNCH_HOLE, size kept; nothing to do past the end),
 * block devices BLKZEROOUT; written zeros otherwise. */
gboolean
hyve_storage_fd_zero(int fd, const char *path, guint64 off, guint64 len, GError **error)
{
    gboolean is_block;
    guint64 size;

    if (len == 0)
        return TRUE;
    if (!hyve_storage_fd_size(fd, path, &is_block, &size, error))
        return FALSE;
    if (!is_block) {
        if (off >= size)
            return TRUE;
        len = MIN(len, size - off);
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
            return TRUE;
        if (errno != EOPNOTSUPP && errno != ENOSYS)
            return io_fail(error, errno, "cannot punch a hole in", path);
    } else if (off > size || len > size - off) {
        return io_fail(error, ENOSPC, "cannot zero", path);
    } else if (off % 512 == 0 && len % 512 == 0) {
        guint64 range[2] = { off, len };

        if (ioctl(fd, BLKZEROOUT, range) == 0)
            return TRUE;
        if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
            return io_fail(error, errno, "cannot zero", path);
    }
    return write_zeros(fd, path, off, len, error);
}

typedef struct {
    int src, dst;
    const char *src_path, *dst_path;
    gboolean dst_block;
    guint64 dst_size;             /* regular dst: its size (grows as we write) */
    char *buf;                    /* IO_CHUNK */
} CopyCtx;

/* [off, off+len) must read as zeros in the destination. A file keeps its
 * holes and its allocation: only the ranges holding data are zeroed
 * (ZERO_RANGE keeps them allocated, for preallocated volumes). */
static gboolean
copy_zero(CopyCtx *c, guint64 off, guint64 len, GError **error)
{
    guint64 end = off + len;

    if (c->dst_block)
        return hyve_storage_fd_zero(c->dst, c->dst_path, off, len, error);
    end = MIN(end, c->dst_size);
    while (off < end) {
        off_t data = lseek(c->dst, off, SEEK_DATA);
        off_t hole;

        if (data < 0 && errno == ENXIO)
            return TRUE;
        if (data < 0)
            return write_zeros(c->dst, c->dst_path, off, end - off, error);
        if ((guint64)data >= end)
            return TRUE;
        hole = lseek(c->dst, data, SEEK_HOLE);
        if (hole < 0 || (guint64)hole > end)
            hole = end;
        if (fallocate(c->dst, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, data,
                      hole - data) < 0 &&
            !write_zeros(c->dst, c->dst_path, data, hole - data, error))
            return FALSE;
        off = hole;
    }
    return TRUE;
}

static gboolean
block_is_zero(const char *p, gsize len)
{
    return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Reads [off, off+len) and writes it, treating blocks of zeros as holes. */
static gboolean
copy_read_write(CopyCtx *c, guint64 off, guint64 len, GError **error)
{
    while (len > 0) {
        gsize want = MIN(len, IO_CHUNK), got = 0, i = 0;

        while (got < want) {
            ssize_t n = pread(c->src, c->buf + got, want - got, off + got);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return io_fail(error, errno, "cannot read", c->src_path);
            if (n == 0)     /* shorter than it said: the rest reads as zeros */
                break;
            got += n;
        }
        memset(c->buf + got, 0, want - got);
        while (i < want) {
            gsize n = MIN(IO_BLOCK, want - i);
            gboolean zero = block_is_zero(c->buf + i, n);
            gsize j = i + n;

            while (j < want && block_is_zero(c->buf + j, MIN(IO_BLOCK, want - j)) == zero)
                j += MIN(IO_BLOCK, want - j);
            if (zero ? !copy_zero(c, off + i, j - i, error)
                     : !write_all(c->dst, c->dst_path, c->buf + i, j - i, off + i, error))
                return FALSE;
            if (!zero && !c->dst_block)
                c->dst_size = MAX(c->dst_size, off + j);
            i = j;
        }
        off += want;
        len -= want;
    }
    return TRUE;
}

/* A data extent of a file: in-kernel copy where possible. */
static gboolean
copy_data(CopyCtx *c, guint64 off, guint64 len, GError **error)
{
    loff_t in = off, out = off;
    guint64 left = len;

    while (!c->dst_block && left > 0) {
        ssize_t n = copy_file_range(c->src, &in, c->dst, &out, MIN(left, 1u << 30), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;                /* unsupported here, or short source: read/write */
        left -= n;
        c->dst_size = MAX(c->dst_size, (guint64)out);
    }
    return copy_read_write(c, off + (len - left), left, error);
}

gboolean
hyve_storage_copy_sparse(const char *src, const char *dst, guint64 length, GError **error)
{
    CopyCtx c = { .src_path = src, .dst_path = dst };
    g_autofree char *buf = g_malloc(IO_CHUNK);
    gboolean src_block, ok = FALSE;
    guint64 src_size, end, pos = 0;

    c.buf = buf;
    c.src = hyve_storage_open_vol(src, O_RDONLY, error);
    if (c.src < 0)
        return FALSE;
    c.dst = hyve_storage_open_vol(dst, O_WRONLY, error);
    if (c.dst < 0) {
        close(c.src);
        return FALSE;
    }
    if (!hyve_storage_fd_size(c.src, src, &src_block, &src_size, error) ||
        !hyve_storage_fd_size(c.dst, dst, &c.dst_block, &c.dst_size, error))
        goto out;
    end = MIN(length, src_size);

    while (pos < end) {
        off_t data = src_block ? (off_t)pos : lseek(c.src, pos, SEEK_DATA);
        off_t hole;

        if (data < 0 && errno == ENXIO)
            data = end;
        else if (data < 0)
            data = pos;           /* no SEEK_DATA here: all data */
        if ((guint64)data > end)
            data = end;
        if ((guint64)data > pos && !copy_zero(&c, pos, data - pos, error))
            goto out;
        if ((guint64)data >= end)
            break;
        hole = src_block ? (off_t)end : lseek(c.src, data, SEEK_HOLE);
        if (hole < 0 || (guint64)hole > end)
            hole = end;
        if (!(src_block ? copy_read_write(&c, data, hole - data, error)
                        : copy_data(&c, data, hole - data, error)))
            goto out;
        pos = hole;
    }
    /* Past the source's end the copy reads as zeros. */
    if (length > end && !copy_zero(&c, end, length - end, error))
        goto out;
    if (!c.dst_block && c.dst_size < length && ftruncate(c.dst, length) < 0) {
        io_fail(error, errno, "cannot resize", dst);
        goto out;
    }
    if (fsync(c.dst) < 0) {
        io_fail(error, errno, "cannot sync", dst);
        goto out;
    }
    ok = TRUE;
 out:
    close(c.src);
    close(c.dst);
    return ok;
}

/* As libvirt: a sparse file (fewer blocks than its size) becomes all
 * holes; a fully allocated one keeps its blocks (ZERO_RANGE, or written
 * zeros); a block device is zeroed. */
gboolean
hyve_storage_wipe_path(const char *path, guint64 length, GError **error)
{
    int fd = hyve_storage_open_vol(path, O_WRONLY, error);
    struct stat sb;
    guint64 len;
    gboolean ok = TRUE;

    if (fd < 0)
        return FALSE;
    if (fstat(fd, &sb) < 0) {
        ok = io_fail(error, errno, "cannot stat", path);
    } else if (S_ISREG(sb.st_mode) && (guint64)sb.st_blocks * 512 >= (guint64)sb.st_size) {
        len = MIN(length, (guint64)sb.st_size);
        if (len && fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, len) < 0)
            ok = write_zeros(fd, path, 0, len, error);
    } else {
        ok = hyve_storage_fd_zero(fd, path, 0, length, error);
    }
    if (ok && fsync(fd) < 0)
        ok = io_fail(error, errno, "cannot sync", path);
    close(fd);
    return ok;
}
