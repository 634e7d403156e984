/* hvr_virtio_blk.c: virtio-blk on a raw file or block device.
 *
 * Requests are served with preadv/pwritev straight into guest buffers;
 * flush = fdatasync, discard = fallocate(PUNCH_HOLE) on files or BLKDISCARD
 * on block devices.  The device's I/O thread (hvr_virtio_pci.h) serves
 * requests itself and, when more are waiting, wakes up to BLK_WORKERS
 * helper threads that pop and serve them in parallel (the guest's block
 * layer splits a large write into several requests: served one after the
 * other they leave the host's other cores idle).  The device lock is held
 * to pop and push and dropped around each request's I/O; a reset bumps a
 * generation (completions of older requests are dropped, never pushed into
 * a reinitialised ring) and waits until no request is in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
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
#define BLK_WORKERS    2        /* helper threads besides the I/O thread */
/* Helper stacks: a request needs ~40 KiB; small stacks also never hold a
 * whole 2 MiB-aligned block, so THP "always" cannot back one with a huge
 * page (+2 MiB RSS). */
#define BLK_WORKER_STACK (256 * 1024)

typedef struct {
    HvrVirtioDev *dev;
    pthread_t thread;
    HvrVqElem elem;
} HvrBlkWorker;

typedef struct {
    int fd;
    bool readonly;
    bool is_blockdev;
    uint64_t size;              /* bytes */
    char serial[20];
    HvrVqElem elem;             /* the I/O thread's */
    /* counters: atomic (requests run in parallel) */
    uint64_t reads, writes, flushes, discards, errors;
    uint64_t read_bytes, write_bytes;
    /* parallel service, all under dev->lock */
    GCond work;                 /* workers wait here for want > 0 */
    GCond quiet;                /* reset/free wait here for inflight == 0 */
    unsigned nworkers, idle, want, inflight, gen;
    bool stop;
    HvrBlkWorker *worker[BLK_WORKERS];
} HvrBlk;

#define BLK_COUNT(b, field, n) __atomic_fetch_add(&(b)->field, (n), __ATOMIC_RELAXED)

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
        BLK_COUNT(b, discards, 1);
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

/* Serve one request (device lock not held); returns the used length. */
static uint32_t
hvr_blk_request(HvrBlk *b, HvrVqElem *e)
{
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
        BLK_COUNT(b, reads, 1);
        BLK_COUNT(b, read_bytes, len);
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
        BLK_COUNT(b, writes, 1);
        BLK_COUNT(b, write_bytes, len);
        break;
    case VIRTIO_BLK_T_FLUSH:
        if (!b->readonly && fdatasync(b->fd) < 0)
            status = VIRTIO_BLK_S_IOERR;
        BLK_COUNT(b, flushes, 1);
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
        BLK_COUNT(b, errors, 1);
    hvr_iov_from_buf(e->iov + e->nout, e->nin, e->in_len - 1, &status, 1);
    return used + 1;
}

/* Pop and serve requests into @e until the ring is empty (lock held on
 * entry and exit, dropped around each request's I/O).  While requests
 * remain in the ring, one idle worker more is woken to help. */
static void
hvr_blk_serve(HvrVirtioDev *dev, HvrVqElem *e)
{
    HvrBlk *b = dev->state;
    HvrVirtqueue *vq = &dev->q[0].vq;
    const char *why;
    uint32_t used;
    unsigned gen;
    int r;

    while (!b->stop && hvr_virtio_queue_ready(dev, 0)) {
        r = hvr_vq_pop(vq, e, &why);
        if (r < 0)
            hvr_virtio_queue_error(dev, 0, why);
        if (r <= 0)
            break;
        if (b->idle > b->want && hvr_vq_has_avail(vq)) {
            b->want++;
            g_cond_signal(&b->work);
        }
        gen = b->gen;
        b->inflight++;
        g_mutex_unlock(&dev->lock);
        used = hvr_blk_request(b, e);
        g_mutex_lock(&dev->lock);
        if (--b->inflight == 0)
            g_cond_broadcast(&b->quiet);
        if (gen != b->gen)
            continue;           /* the device was reset meanwhile */
        hvr_vq_push(vq, e->head, used);
        hvr_virtio_queue_interrupt(dev, 0);
    }
}

static void *
hvr_blk_worker(void *data)
{
    HvrBlkWorker *w = data;
    HvrVirtioDev *dev = w->dev;
    HvrBlk *b = dev->state;

    g_mutex_lock(&dev->lock);
    while (!b->stop) {
        if (b->want == 0) {
            b->idle++;
            g_cond_wait(&b->work, &dev->lock);
            b->idle--;
            continue;
        }
        b->want--;
        hvr_blk_serve(dev, &w->elem);
    }
    g_mutex_unlock(&dev->lock);
    return NULL;
}

static void
hvr_blk_start(HvrVirtioDev *dev)
{
    HvrBlk *b = dev->state;
    pthread_attr_t attr;
    unsigned i;

    if (pthread_attr_init(&attr) != 0)
        return;
    (void)pthread_attr_setstacksize(&attr, BLK_WORKER_STACK);
    for (i = 0; i < BLK_WORKERS; i++) {
        HvrBlkWorker *w = g_malloc(sizeof(*w));

        w->dev = dev;
        if (pthread_create(&w->thread, &attr, hvr_blk_worker, w) != 0) {
            g_free(w);
            break;              /* fewer helpers: still correct */
        }
        b->worker[b->nworkers++] = w;
    }
    pthread_attr_destroy(&attr);
}

static void
hvr_blk_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrBlk *b = dev->state;

    (void)q;
    hvr_blk_serve(dev, &b->elem);
}

/* vCPU thread, lock held, queues already reinitialised: drop the
 * completions of requests still in flight and wait for their I/O. */
static void
hvr_blk_reset(HvrVirtioDev *dev)
{
    HvrBlk *b = dev->state;

    if (!b)
        return;                 /* hvr_virtio_new(): state not set yet */
    b->gen++;
    b->want = 0;
    while (b->inflight)
        g_cond_wait(&b->quiet, &dev->lock);
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
    unsigned i;

    g_mutex_lock(&dev->lock);
    b->stop = true;
    g_cond_broadcast(&b->work);
    g_mutex_unlock(&dev->lock);
    for (i = 0; i < b->nworkers; i++) {
        pthread_join(b->worker[i]->thread, NULL);
        g_free(b->worker[i]);
    }
    g_cond_clear(&b->work);
    g_cond_clear(&b->quiet);
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
    .start = hvr_blk_start,
    .reset = hvr_blk_reset,
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
    .start = hvr_blk_start,
    .reset = hvr_blk_reset,
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
    g_cond_init(&b->work);
    g_cond_init(&b->quiet);
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
