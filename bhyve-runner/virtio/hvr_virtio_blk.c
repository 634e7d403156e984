/* hvr_virtio_blk.c: virtio-blk on a raw file or block device.
 *
 * Requests are served on the device's I/O thread (hvr_virtio_pci.h) with
 * preadv/pwritev straight into guest buffers; flush = fdatasync, discard =
 * fallocate(PUNCH_HOLE) on files or BLKDISCARD on block devices. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvr_devices.h"
#include "hvr_error.h"
#include "hvr_virtio_pci.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_DISCARD  13

#define VIRTIO_BLK_T_IN      0
#define VIRTIO_BLK_T_OUT     1
#define VIRTIO_BLK_T_FLUSH   4
#define VIRTIO_BLK_T_GET_ID  8
#define VIRTIO_BLK_T_DISCARD 11

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define BLK_QUEUE_SIZE 256

typedef struct {
    int fd;
    bool readonly;
    bool is_blockdev;
    uint64_t size;              /* bytes */
    char serial[20];
    HvrVqElem elem;
    uint64_t reads, writes, flushes, discards, errors;
    uint64_t read_bytes, write_bytes;
} HvrBlk;

static uint8_t
hvr_blk_discard(HvrBlk *b, HvrVqElem *e)
{
    uint8_t seg[16];
    size_t off;

    if (b->readonly)
        return VIRTIO_BLK_S_IOERR;
    for (off = 16; off + 16 <= e->out_len; off += 16) {
        uint64_t sector, start, len;
        uint32_t n;

        hvr_iov_to_buf(e->iov, e->nout, off, seg, 16);
        memcpy(&sector, seg, 8);
        memcpy(&n, seg + 8, 4);
        if (GUINT64_FROM_LE(sector) > b->size / 512)
            return VIRTIO_BLK_S_IOERR;      /* also keeps * 512 from wrapping */
        start = GUINT64_FROM_LE(sector) * 512;
        len = (uint64_t)GUINT32_FROM_LE(n) * 512;
        if (len > b->size - start)
            return VIRTIO_BLK_S_IOERR;
        if (b->is_blockdev) {
            uint64_t range[2] = { start, len };

            if (ioctl(b->fd, BLKDISCARD, range) < 0)
                return VIRTIO_BLK_S_IOERR;
        } else if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             start, len) < 0 && errno != EOPNOTSUPP) {
            return VIRTIO_BLK_S_IOERR;
        }
        b->discards++;
    }
    return VIRTIO_BLK_S_OK;
}

static ssize_t
hvr_blk_rw(HvrBlk *b, bool write, struct iovec *iov, unsigned n, uint64_t off)
{
    size_t total = 0;

    while (n > 0) {
        ssize_t r = write ? pwritev(b->fd, iov, (int)MIN(n, IOV_MAX), off)
                          : preadv(b->fd, iov, (int)MIN(n, IOV_MAX), off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (ssize_t)total;
        total += r;
        off += r;
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0 && r > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= r;
        }
    }
    return (ssize_t)total;
}

/* Serve one request; returns the used length. */
static uint32_t
hvr_blk_request(HvrVirtioDev *dev, HvrVqElem *e)
{
    HvrBlk *b = dev->state;
    struct iovec data[HVR_VQ_MAX_SEGS];
    uint8_t hdr[16], status = VIRTIO_BLK_S_OK;
    uint32_t type, used = 0;
    uint64_t sector, off;
    unsigned n;
    size_t len;

    if (e->out_len < 16 || e->in_len < 1)
        return 0;       /* malformed: nothing we could write a status to */
    hvr_iov_to_buf(e->iov, e->nout, 0, hdr, 16);
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    type = GUINT32_FROM_LE(type);
    off = GUINT64_FROM_LE(sector) * 512;

    switch (type) {
    case VIRTIO_BLK_T_IN:
        len = e->in_len - 1;
        if (GUINT64_FROM_LE(sector) > b->size / 512 || off + len > b->size) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        n = hvr_iov_slice(e->iov + e->nout, e->nin, 0, len, data, HVR_VQ_MAX_SEGS);
        if (hvr_blk_rw(b, false, data, n, off) != (ssize_t)len)
            status = VIRTIO_BLK_S_IOERR;
        else
            used = len;
        b->reads++;
        b->read_bytes += len;
        break;
    case VIRTIO_BLK_T_OUT:
        len = e->out_len - 16;
        if (b->readonly || GUINT64_FROM_LE(sector) > b->size / 512 || off + len > b->size) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        n = hvr_iov_slice(e->iov, e->nout, 16, len, data, HVR_VQ_MAX_SEGS);
        if (hvr_blk_rw(b, true, data, n, off) != (ssize_t)len)
            status = VIRTIO_BLK_S_IOERR;
        b->writes++;
        b->write_bytes += len;
        break;
    case VIRTIO_BLK_T_FLUSH:
        if (!b->readonly && fdatasync(b->fd) < 0)
            status = VIRTIO_BLK_S_IOERR;
        b->flushes++;
        break;
    case VIRTIO_BLK_T_GET_ID:
        used = (uint32_t)hvr_iov_from_buf(e->iov + e->nout, e->nin, 0, b->serial,
                                          MIN(e->in_len - 1, sizeof(b->serial)));
        break;
    case VIRTIO_BLK_T_DISCARD:
        status = hvr_blk_discard(b, e);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (status != VIRTIO_BLK_S_OK)
        b->errors++;
    hvr_iov_from_buf(e->iov + e->nout, e->nin, e->in_len - 1, &status, 1);
    return used + 1;
}

static void
hvr_blk_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrBlk *b = dev->state;

    hvr_virtio_queue_drain(dev, q, &b->elem, hvr_blk_request);
}

static void
hvr_blk_stats(HvrVirtioDev *dev, GString *out)
{
    HvrBlk *b = dev->state;
    int s = dev->pci.slot;

    g_string_append_printf(out,
        " blk%d.reads=%" G_GUINT64_FORMAT " blk%d.writes=%" G_GUINT64_FORMAT
        " blk%d.read_bytes=%" G_GUINT64_FORMAT " blk%d.write_bytes=%" G_GUINT64_FORMAT
        " blk%d.flushes=%" G_GUINT64_FORMAT " blk%d.discards=%" G_GUINT64_FORMAT
        " blk%d.errors=%" G_GUINT64_FORMAT,
        s, b->reads, s, b->writes, s, b->read_bytes, s, b->write_bytes,
        s, b->flushes, s, b->discards, s, b->errors);
}

static void
hvr_blk_free(HvrVirtioDev *dev)
{
    HvrBlk *b = dev->state;

    if (b->fd >= 0)
        close(b->fd);
    g_free(b);
}

static const HvrVirtioModel hvr_blk_model = {
    .name = "virtio-blk",
    .type = 2,
    .class_code = 0x010000,
    .nqueues = 1,
    .queue_size = BLK_QUEUE_SIZE,
    .features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
                (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_DISCARD) |
                (1ULL << VIRTIO_RING_F_INDIRECT),
    .config_size = 60,
    .queue_notify = hvr_blk_notify,
    .stats = hvr_blk_stats,
    .free = hvr_blk_free,
};

static const HvrVirtioModel hvr_blk_model_ro = {
    .name = "virtio-blk",
    .type = 2,
    .class_code = 0x010000,
    .nqueues = 1,
    .queue_size = BLK_QUEUE_SIZE,
    .features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
                (1ULL << VIRTIO_BLK_F_RO) | (1ULL << VIRTIO_RING_F_INDIRECT),
    .config_size = 60,
    .queue_notify = hvr_blk_notify,
    .stats = hvr_blk_stats,
    .free = hvr_blk_free,
};

gboolean
hvr_virtio_blk_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    g_autofree HvrBlk *b = g_new0(HvrBlk, 1);
    HvrVirtioDev *dev;
    struct stat st;

    b->readonly = sc->readonly;
    b->fd = open(sc->path, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (b->fd < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPEN_FAILED, "cannot open disk %s: %s",
                    sc->path, g_strerror(errno));
        return FALSE;
    }
    if (fstat(b->fd, &st) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot stat disk %s: %s",
                    sc->path, g_strerror(errno));
        close(b->fd);
        return FALSE;
    }
    b->is_blockdev = S_ISBLK(st.st_mode);
    if (b->is_blockdev) {
        if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0)
            b->size = 0;
    } else {
        b->size = st.st_size;
    }
    b->size &= ~511ULL;
    if (sc->serial)
        memcpy(b->serial, sc->serial, MIN(strlen(sc->serial), sizeof(b->serial)));

    dev = hvr_virtio_new(m, b->readonly ? &hvr_blk_model_ro : &hvr_blk_model, slot, error);
    if (!dev) {
        close(b->fd);
        return FALSE;
    }
    hvr_pci_set32(dev->config + 0, (uint32_t)(b->size / 512));
    hvr_pci_set32(dev->config + 4, (uint32_t)((b->size / 512) >> 32));
    hvr_pci_set32(dev->config + 12, BLK_QUEUE_SIZE - 2);        /* seg_max */
    hvr_pci_set32(dev->config + 20, 512);                       /* blk_size */
    hvr_pci_set32(dev->config + 36, 0x3FFFFF);                  /* max_discard_sectors */
    hvr_pci_set32(dev->config + 40, 1);                         /* max_discard_seg */
    hvr_pci_set32(dev->config + 44, 8);                         /* discard alignment */
    dev->state = g_steal_pointer(&b);
    return hvr_virtio_start(dev, error);
}
