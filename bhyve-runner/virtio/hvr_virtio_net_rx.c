/* hvr_virtio_net_rx.c: virtio-net receive (tap -> guest): the tap offload
 * flags kept in line with the driver, the software fix-ups of "soft" mode,
 * one buffer per frame, or MRG_RXBUF merging with the bounce-buffer hold
 * (see hvr_virtio_net.c for the whole design). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvr_virtio_net_priv.h"

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
void
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

uint16_t
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

void
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
