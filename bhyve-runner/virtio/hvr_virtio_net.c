/* hvr_virtio_net.c: virtio-net on a tap device (by name or inherited fd)
 * with the 12-byte VERSION_1 vnet header, passed to and from the tap
 * unchanged: queue 0 receiveq, queue 1 transmitq.  The tap fd is polled by
 * the device I/O thread only while the guest has receive buffers posted.
 *
 * Offloads: the device offers checksum offload and TSO in both directions
 * (CSUM, HOST_TSO4/6, HOST_ECN; GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN) and
 * indirect descriptors (a guest taking GUEST_TSO without MRG_RXBUF posts
 * one ~64 KiB chain of pages per receive buffer), and EVENT_IDX (below).
 * Transmit needs nothing
 * from us: the tap (IFF_VNET_HDR) builds GSO/partial-checksum skbs from the
 * guest's header and validates it itself.  Receive: the tap's offload flags
 * (TUNSETOFFLOAD) say which kinds of packets it may hand us; they must match
 * what the driver accepted.  The tap is opened with every offload a Linux
 * guest takes (HVR_NET_TAP_FULL); once the driver is running its features
 * are compared with that and, if they differ, the flags are changed with
 * TUNSETOFFLOAD (allowed by the sandbox's seccomp filter too).  If that
 * ioctl fails (an older kernel, a stricter filter), the device adapts each
 * packet in software ("soft" mode): a partial checksum the driver did not
 * accept is completed here, a GSO packet it did not accept is dropped
 * (counted in rx_dropped).  Everything read from the header is bounds
 * checked against the packet; nothing in guest memory is trusted. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hvr_devices.h"
#include "hvr_error.h"
#include "hvr_virtio_pci.h"

#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_RING_F_EVENT_IDX 29
#define BIT(b) (1ULL << (b))

#define NET_HDR_LEN 12
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define GSO_NONE  0
#define GSO_TCPV4 1
#define GSO_TCPV6 4
#define GSO_ECN   0x80

#define HVR_NET_TAP_FULL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define HVR_NET_MAX_FRAME (65536 + 256)
#define HVR_NET_MRG_MAX 256         /* buffers for one merged frame */

typedef struct {
    uint16_t head;
    uint32_t len;
    unsigned niov;
} HvrNetBuf;

typedef struct {
    int nb;                     /* pending receive buffers in bufs */
    unsigned niov;              /* their segments in rxiov */
    size_t space;
    bool full;                  /* gathering stopped by a limit */
} HvrNetGather;

typedef struct {
    int fd;
    unsigned tap_flags;         /* what the tap may hand us */
    unsigned want_flags;        /* what the driver accepted */
    uint64_t seen_features;     /* driver features want_flags was made from */
    bool seen_valid;
    HvrVqElem elem;
    uint8_t *scratch;           /* soft checksum: HVR_NET_MAX_FRAME bytes */
    struct iovec *rxiov;        /* MRG_RXBUF: IOV_MAX entries */
    HvrNetBuf *bufs;            /* MRG_RXBUF: HVR_NET_MRG_MAX */
    size_t held_len;            /* a frame in scratch waiting for buffers */
    bool rx_waiting;            /* MRG_RXBUF: too few buffers at rx_wait_avail */
    uint16_t rx_wait_avail;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, rx_soft_csum;
} HvrNet;

/* The tap offload flags that match the driver's receive features. */
static unsigned
hvr_net_tap_flags(uint64_t f)
{
    unsigned t = 0;

    if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
        return 0;
    t = TUN_F_CSUM;
    if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
        t |= TUN_F_TSO4;
    if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
        t |= TUN_F_TSO6;
    if ((f & BIT(VIRTIO_NET_F_GUEST_ECN)) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
        t |= TUN_F_TSO_ECN;
    return t;
}

/* Called before receiving: make the tap's flags follow the driver. */
static void
hvr_net_sync_offloads(HvrVirtioDev *dev, HvrNet *n)
{
    uint64_t f = dev->driver_features;

    if (n->seen_valid && n->seen_features == f)
        return;
    n->seen_features = f;
    n->seen_valid = true;
    n->want_flags = hvr_net_tap_flags(f);
    if (n->want_flags != n->tap_flags &&
        ioctl(n->fd, TUNSETOFFLOAD, (unsigned long)n->want_flags) == 0)
        n->tap_flags = n->want_flags;
}

/* One frame from the guest (vnet header + packet) to the tap. */
static uint32_t
hvr_net_tx(HvrVirtioDev *dev, HvrVqElem *e)
{
    HvrNet *n = dev->state;

    if (e->out_len > NET_HDR_LEN && writev(n->fd, e->iov, (int)MIN(e->nout, IOV_MAX)) > 0) {
        n->tx_packets++;
        n->tx_bytes += e->out_len - NET_HDR_LEN;
    }
    return 0;
}

/* EVENT_IDX (negotiated): the device publishes avail_event (after the used
 * ring) and interrupts only when used.idx passes the driver's used_event
 * (after the avail ring); the transport knows neither field, so the net
 * queues are drained and signalled here.  Both areas were checked to lie in
 * guest RAM when the queue was enabled (hvr_vq_check_layout); the pointers
 * are looked up again each time all the same. */
static bool
hvr_net_event_idx(HvrVirtioDev *dev)
{
    return (dev->driver_features & BIT(VIRTIO_RING_F_EVENT_IDX)) != 0;
}

static void
hvr_net_publish_avail_event(HvrVirtqueue *vq, uint16_t idx)
{
    uint8_t *u = hvr_mem_gpa(vq->mem, vq->used, 6 + 8 * (uint64_t)vq->size);

    if (u)
        __atomic_store_n((uint16_t *)(u + 4 + 8 * (size_t)vq->size),
                         GUINT16_TO_LE(idx), __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Signal queue @q if the driver wants it for the buffers used since
 * used.idx was @old. */
static void
hvr_net_interrupt(HvrVirtioDev *dev, unsigned q, uint16_t old)
{
    HvrVirtqueue *vq = &dev->q[q].vq;

    if (vq->used_idx == old)
        return;
    if (hvr_net_event_idx(dev)) {
        const uint8_t *a = hvr_mem_gpa(vq->mem, vq->avail, 6 + 2 * (uint64_t)vq->size);
        uint16_t ev;

        if (!a)
            return;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        ev = GUINT16_FROM_LE(__atomic_load_n((const uint16_t *)(a + 4 + 2 * (size_t)vq->size),
                                             __ATOMIC_ACQUIRE));
        if ((uint16_t)(vq->used_idx - ev - 1) >= (uint16_t)(vq->used_idx - old))
            return;
    }
    hvr_virtio_queue_interrupt(dev, q);
}

/* Transmit everything the driver queued; with EVENT_IDX ask for the next
 * kick only after the ring was seen empty. */
static void
hvr_net_tx_all(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[1].vq;
    uint16_t old = vq->used_idx;
    const char *why;
    int r;

    for (;;) {
        while ((r = hvr_vq_pop(vq, &n->elem, &why)) == 1)
            hvr_vq_push(vq, n->elem.head, hvr_net_tx(dev, &n->elem));
        if (r < 0) {
            hvr_virtio_queue_error(dev, 1, why);
            return;
        }
        if (!hvr_net_event_idx(dev))
            break;
        hvr_net_publish_avail_event(vq, vq->last_avail);
        if (!hvr_vq_has_avail(vq))
            break;
    }
    hvr_net_interrupt(dev, 1, old);
}

/* Internet checksum of @len bytes, not folded. */
static uint32_t
hvr_net_sum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    return s;
}

/* A received packet of @got bytes (header included) in the element's
 * writable buffers is something the driver did not accept (soft mode):
 * complete its checksum or refuse it.  Returns false to drop it. */
static bool
hvr_net_soft_fixup(HvrNet *n, const struct iovec *iov, unsigned niov, size_t got)
{
    uint8_t h[NET_HDR_LEN];
    size_t plen = got - NET_HDR_LEN, start, off;
    uint8_t gso;
    uint32_t s;
    uint16_t c;

    hvr_iov_to_buf(iov, niov, 0, h, NET_HDR_LEN);
    gso = h[1];
    if ((gso & ~GSO_ECN) != GSO_NONE) {
        unsigned need = (gso & ~GSO_ECN) == GSO_TCPV4 ? TUN_F_TSO4 :
                        (gso & ~GSO_ECN) == GSO_TCPV6 ? TUN_F_TSO6 : ~0u;

        if (need == ~0u || !(n->want_flags & need) ||
            ((gso & GSO_ECN) && !(n->want_flags & TUN_F_TSO_ECN)))
            return false;
    }
    if ((h[0] & HDR_F_NEEDS_CSUM) && !(n->want_flags & TUN_F_CSUM)) {
        start = h[6] | (size_t)h[7] << 8;
        off = h[8] | (size_t)h[9] << 8;
        if (plen > HVR_NET_MAX_FRAME || start >= plen || off + 2 > plen - start)
            return false;
        if (!n->scratch)
            n->scratch = g_malloc(HVR_NET_MAX_FRAME);
        if (hvr_iov_to_buf(iov, niov, NET_HDR_LEN, n->scratch, plen) != plen)
            return false;
        /* the field holds the pseudo-header sum already */
        s = hvr_net_sum(n->scratch + start, plen - start);
        while (s >> 16)
            s = (s & 0xFFFF) + (s >> 16);
        c = (uint16_t)~s;
        h[0] = (uint8_t)(c >> 8);
        h[1] = (uint8_t)c;
        hvr_iov_from_buf(iov, niov, NET_HDR_LEN + start + off, h, 2);
        n->rx_soft_csum++;
        memset(h, 0, NET_HDR_LEN);
        hvr_iov_from_buf(iov, niov, 0, h, NET_HDR_LEN);
    } else if (!(n->want_flags & TUN_F_CSUM) && (h[0] & HDR_F_DATA_VALID)) {
        h[0] = 0;
        hvr_iov_from_buf(iov, niov, 0, h, 1);
    }
    return true;
}

/* MRG_RXBUF: one frame may fill several buffers; the first one's header
 * says how many (num_buffers).  The tap cannot tell a frame's size before
 * the read, so buffers are gathered first (popped, their writable segments
 * appended to n->rxiov) until they hold a maximal frame or the ring is
 * empty; what a frame leaves unused serves the next one, and is given back
 * by rewinding last_avail when the loop stops (the unused buffers are the
 * last ones popped), so popped == used whenever the lock is free.  When the
 * buffers are fewer than a maximal frame, the read gets a bounce buffer as
 * its last segment; a frame that did not fit is moved there entirely and
 * held until the guest posts enough buffers. */

/* Returns false on a queue error. */
static bool
hvr_net_rx_gather(HvrVirtioDev *dev, HvrNet *n, HvrNetGather *g)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    const char *why;
    int r;

    g->full = false;
    while (g->space < HVR_NET_MAX_FRAME + NET_HDR_LEN && hvr_vq_has_avail(vq)) {
        if (g->nb >= HVR_NET_MRG_MAX) {
            g->full = true;
            break;
        }
        r = hvr_vq_pop(vq, &n->elem, &why);
        if (r == 0)
            break;
        if (r > 0 && n->elem.in_len < NET_HDR_LEN) {
            vq->last_avail--;
            r = -1;
            why = "receive buffer smaller than the virtio-net header";
        }
        if (r < 0) {
            hvr_virtio_queue_error(dev, 0, why);
            return false;
        }
        if (g->niov + n->elem.nin > IOV_MAX - 1) {     /* one left for the bounce */
            vq->last_avail--;           /* not taken */
            g->full = true;
            break;
        }
        memcpy(n->rxiov + g->niov, n->elem.iov + n->elem.nout,
               n->elem.nin * sizeof(struct iovec));
        n->bufs[g->nb].head = n->elem.head;
        n->bufs[g->nb].len = (uint32_t)n->elem.in_len;
        n->bufs[g->nb].niov = n->elem.nin;
        g->niov += n->elem.nin;
        g->space += n->elem.in_len;
        g->nb++;
    }
    return true;
}

/* Hands the first buffers of @g to the guest for a frame of @got bytes
 * (got <= g->space). */
static void
hvr_net_rx_deliver(HvrVirtqueue *vq, HvrNet *n, HvrNetGather *g, size_t got)
{
    size_t left = got;
    unsigned i, segs = 0;
    uint16_t cnt = 0;

    for (i = 0; i < (unsigned)g->nb && left > 0; i++, cnt++)
        left -= MIN(left, n->bufs[i].len);
    cnt = GUINT16_TO_LE(cnt);
    hvr_iov_from_buf(n->rxiov, g->niov, 10, &cnt, 2);
    left = got;
    for (i = 0; i < (unsigned)g->nb && left > 0; i++) {
        uint32_t l = (uint32_t)MIN(left, n->bufs[i].len);

        hvr_vq_push(vq, n->bufs[i].head, l);
        left -= l;
        segs += n->bufs[i].niov;
        g->space -= n->bufs[i].len;
    }
    memmove(n->bufs, n->bufs + i, (g->nb - i) * sizeof(*n->bufs));
    memmove(n->rxiov, n->rxiov + segs, (g->niov - segs) * sizeof(struct iovec));
    g->nb -= (int)i;
    g->niov -= segs;
    n->rx_packets++;
    n->rx_bytes += got - NET_HDR_LEN;
}

static uint16_t
hvr_net_avail_idx(HvrVirtqueue *vq)
{
    const uint8_t *a = hvr_mem_gpa(vq->mem, vq->avail, 4);

    return a ? GUINT16_FROM_LE(__atomic_load_n((const uint16_t *)(a + 2), __ATOMIC_ACQUIRE))
             : vq->last_avail;
}

/* Out of buffers: give the gathered ones back and ask for a kick once the
 * guest adds beyond what was seen.  Returns true if it already did. */
static bool
hvr_net_rx_wait(HvrVirtioDev *dev, HvrNet *n, HvrNetGather *g)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    uint16_t seen = vq->last_avail;

    vq->last_avail -= (uint16_t)g->nb;
    *g = (HvrNetGather){ 0 };
    if (hvr_net_event_idx(dev)) {
        hvr_net_publish_avail_event(vq, seen);
        if (hvr_net_avail_idx(vq) != seen)
            return true;
    }
    /* until the guest adds beyond @seen: the buffers given back stay
     * available, and must not make every wake of the I/O thread retry */
    n->rx_waiting = true;
    n->rx_wait_avail = seen;
    hvr_virtio_arm_fd(dev, n->fd, false);
    return false;
}

static void
hvr_net_rx_merge(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    HvrNetGather g = { 0 };
    uint16_t old = vq->used_idx;

    if (!n->rxiov) {
        n->rxiov = g_new(struct iovec, IOV_MAX);
        n->bufs = g_new(HvrNetBuf, HVR_NET_MRG_MAX);
    }
    if (!n->scratch)
        n->scratch = g_malloc(HVR_NET_MAX_FRAME);
    n->rx_waiting = false;
    for (;;) {
        size_t got;
        ssize_t r;

        if (!hvr_net_rx_gather(dev, n, &g)) {
            vq->last_avail -= (uint16_t)g.nb;
            return;                     /* queue broken until a reset */
        }
        if (n->held_len) {
            got = n->held_len;
            if (g.space < got && !g.full) {
                if (hvr_net_rx_wait(dev, n, &g))
                    continue;
                break;
            }
            n->held_len = 0;
            if (g.space < got) {
                n->rx_dropped++;        /* cannot fit in the ring's limits */
                continue;
            }
            hvr_iov_from_buf(n->rxiov, g.niov, 0, n->scratch, got);
        } else {
            if (g.nb == 0) {
                if (hvr_net_rx_wait(dev, n, &g))
                    continue;
                break;
            }
            n->rxiov[g.niov].iov_base = n->scratch;
            n->rxiov[g.niov].iov_len = HVR_NET_MAX_FRAME;
            r = readv(n->fd, n->rxiov, (int)g.niov + 1);
            if (r < NET_HDR_LEN) {
                if (r > 0)
                    continue;           /* runt: dropped */
                vq->last_avail -= (uint16_t)g.nb;
                hvr_virtio_arm_fd(dev, n->fd, true);
                break;
            }
            got = (size_t)r;
            if (got > g.space) {
                if (got > HVR_NET_MAX_FRAME) {
                    n->rx_dropped++;
                    continue;
                }
                /* hold it: the whole frame into the bounce buffer */
                memmove(n->scratch + g.space, n->scratch, got - g.space);
                hvr_iov_to_buf(n->rxiov, g.niov, 0, n->scratch, g.space);
                n->held_len = got;
                continue;
            }
        }
        if (n->tap_flags != n->want_flags && !hvr_net_soft_fixup(n, n->rxiov, g.niov, got)) {
            n->rx_dropped++;
            continue;
        }
        hvr_net_rx_deliver(vq, n, &g, got);
    }
    hvr_net_interrupt(dev, 0, old);
}

static void
hvr_net_rx(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    uint16_t old = vq->used_idx;
    const char *why;
    bool have = false;

    if (hvr_virtio_queue_ready(dev, 0)) {
        hvr_net_sync_offloads(dev, n);
        if (dev->driver_features & BIT(VIRTIO_NET_F_MRG_RXBUF)) {
            hvr_net_rx_merge(dev, n);
            return;
        }
    }
    for (;;) {
        const struct iovec *in;
        ssize_t got;
        uint16_t one = GUINT16_TO_LE(1);
        int r;

        if (!have) {
            if (!hvr_virtio_queue_ready(dev, 0)) {
                hvr_virtio_arm_fd(dev, n->fd, false);
                break;
            }
            if (!hvr_vq_has_avail(vq)) {
                if (hvr_net_event_idx(dev)) {
                    hvr_net_publish_avail_event(vq, vq->last_avail);
                    if (hvr_vq_has_avail(vq))
                        continue;
                }
                hvr_virtio_arm_fd(dev, n->fd, false);   /* until buffers arrive */
                break;
            }
            r = hvr_vq_pop(vq, &n->elem, &why);
            if (r < 0) {
                hvr_virtio_queue_error(dev, 0, why);
                break;
            }
            if (r == 0)
                break;
            if (n->elem.in_len < NET_HDR_LEN) {
                hvr_vq_push(vq, n->elem.head, 0);
                continue;
            }
            have = true;
        }
        in = n->elem.iov + n->elem.nout;
        got = readv(n->fd, in, (int)MIN(n->elem.nin, IOV_MAX));
        if (got < NET_HDR_LEN) {
            if (got > 0)
                continue;           /* runt: read the next frame into it */
            /* nothing to read: give the buffer back by rewinding */
            vq->last_avail--;
            hvr_virtio_arm_fd(dev, n->fd, true);
            break;
        }
        if (n->tap_flags != n->want_flags &&
            !hvr_net_soft_fixup(n, in, n->elem.nin, (size_t)got)) {
            n->rx_dropped++;
            continue;               /* reuse the buffer for the next frame */
        }
        hvr_iov_from_buf(in, n->elem.nin, 10, &one, 2);
        n->rx_packets++;
        n->rx_bytes += got - NET_HDR_LEN;
        hvr_vq_push(vq, n->elem.head, (uint32_t)MIN((size_t)got, n->elem.in_len));
        have = false;
    }
    hvr_net_interrupt(dev, 0, old);
}

static void
hvr_net_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrNet *n = dev->state;

    if (q == 1) {
        hvr_net_tx_all(dev, n);
    } else if (n->rx_waiting && hvr_net_avail_idx(&dev->q[0].vq) == n->rx_wait_avail) {
        return;         /* still too few buffers (a wake, or a kick for nothing new) */
    } else if (hvr_vq_has_avail(&dev->q[0].vq)) {
        hvr_virtio_arm_fd(dev, n->fd, true);
        hvr_net_rx(dev, n);
    }
}

static void
hvr_net_fd_ready(HvrVirtioDev *dev, int fd)
{
    hvr_net_rx(dev, dev->state);
}

static void
hvr_net_reset(HvrVirtioDev *dev)
{
    HvrNet *n = dev->state;

    if (n) {
        n->seen_valid = false;
        n->held_len = 0;
        n->rx_waiting = false;
    }
}

static void
hvr_net_stats(HvrVirtioDev *dev, GString *out)
{
    HvrNet *n = dev->state;
    int s = dev->pci.slot;

    g_string_append_printf(out,
        " net%d.rx_packets=%" G_GUINT64_FORMAT " net%d.tx_packets=%" G_GUINT64_FORMAT
        " net%d.rx_bytes=%" G_GUINT64_FORMAT " net%d.tx_bytes=%" G_GUINT64_FORMAT
        " net%d.rx_dropped=%" G_GUINT64_FORMAT " net%d.rx_soft_csum=%" G_GUINT64_FORMAT
        " net%d.tap_offloads=0x%x",
        s, n->rx_packets, s, n->tx_packets, s, n->rx_bytes, s, n->tx_bytes,
        s, n->rx_dropped, s, n->rx_soft_csum, s, n->tap_flags);
}

static void
hvr_net_free(HvrVirtioDev *dev)
{
    HvrNet *n = dev->state;

    if (n->fd >= 0)
        close(n->fd);
    g_free(n->scratch);
    g_free(n->rxiov);
    g_free(n->bufs);
    g_free(n);
}

static const HvrVirtioModel hvr_net_model = {
    .name = "virtio-net",
    .type = 1,
    .class_code = 0x020000,
    .nqueues = 2,
    .queue_size = 256,
    .features = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
                BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
                BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
                BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
                BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
                BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_RING_F_INDIRECT) |
                BIT(VIRTIO_RING_F_EVENT_IDX),
    .config_size = 8,
    .queue_notify = hvr_net_notify,
    .fd_ready = hvr_net_fd_ready,
    .reset = hvr_net_reset,
    .stats = hvr_net_stats,
    .free = hvr_net_free,
};

static int
hvr_net_open_tap(const HvrPciSlotConfig *sc, GError **error)
{
    struct ifreq ifr;
    int hdr = NET_HDR_LEN, fd;

    if (sc->fd >= 0) {
        fd = sc->fd;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    } else {
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_OPEN_FAILED,
                        "cannot open /dev/net/tun: %s", g_strerror(errno));
            return -1;
        }
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        g_strlcpy(ifr.ifr_name, sc->tap, IFNAMSIZ);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot attach to tap %s: %s",
                        sc->tap, g_strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long)HVR_NET_TAP_FULL) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "tap %s does not support a virtio-net header: %s",
                    sc->tap ? sc->tap : "(inherited fd)", g_strerror(errno));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

gboolean
hvr_virtio_net_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    HvrVirtioDev *dev;
    HvrNet *n;
    uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x00 };
    int fd = hvr_net_open_tap(sc, error), i;

    if (fd < 0)
        return FALSE;
    dev = hvr_virtio_new(m, &hvr_net_model, slot, error);
    if (!dev) {
        close(fd);
        return FALSE;
    }
    if (sc->mac) {
        for (i = 0; i < 6; i++)
            mac[i] = (uint8_t)g_ascii_strtoull(sc->mac + 3 * i, NULL, 16);
    } else {
        guint32 h = g_str_hash(m->cfg->name) ^ (guint32)slot;

        mac[3] = h >> 16;
        mac[4] = h >> 8;
        mac[5] = h;
    }
    memcpy(dev->config, mac, 6);
    hvr_pci_set16(dev->config + 6, 1);          /* LINK_UP */
    n = g_new0(HvrNet, 1);
    n->fd = fd;
    n->tap_flags = n->want_flags = HVR_NET_TAP_FULL;
    dev->state = n;
    hvr_virtio_add_fd(dev, fd, false);
    return hvr_virtio_start(dev, error);
}
