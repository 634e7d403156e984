/* hvr_virtio_net.c: virtio-net on a tap device (by name or inherited fd)
 * with the 12-byte VERSION_1 vnet header, passed to and from the tap
 * unchanged: queue 0 receiveq, queue 1 transmitq.  The tap fd is polled by
 * the device I/O thread only while the guest has receive buffers posted.
 *
 * Offloads: the device offers checksum offload and TSO in both directions
 * (CSUM, HOST_TSO4/6, HOST_ECN; GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN).  A
 * guest taking GUEST_TSO without MRG_RXBUF posts each receive buffer as one
 * chain of a 12-byte header and ~18 pages (19 descriptors), so the queues
 * have 1024 entries (~53 such buffers; 13 with 256).  Not offered:
 * EVENT_IDX, MRG_RXBUF (sessions 7-8: lab stalls and L2 triple faults with
 * them) and INDIRECT_DESC: every variant that stalled the guest in a lab
 * run offered it, and session 9 bisected it out (HVR_NET_OFFER_INDIRECT=1
 * builds the variant with it, for the lab; the ring code itself handles
 * indirect tables, see hvr_virtqueue.c and its tests).
 * Transmit needs nothing from us: the tap (IFF_VNET_HDR) builds GSO/partial-checksum skbs from the
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
 * checked against the packet; nothing in guest memory is trusted.
 * Interrupts: one per drained batch when the driver's NO_INTERRUPT flag is
 * clear (hvr_vq_need_signal). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_devices.h"
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
#define VIRTIO_NET_F_STATUS     16
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
#ifndef HVR_NET_OFFER_INDIRECT
#define HVR_NET_OFFER_INDIRECT 0
#endif
#ifndef HVR_NET_QUEUE_SIZE
#define HVR_NET_QUEUE_SIZE 1024
#endif

typedef struct {
    int fd;
    unsigned tap_flags;         /* what the tap may hand us */
    unsigned want_flags;        /* what the driver accepted */
    uint64_t seen_features;     /* driver features want_flags was made from */
    bool seen_valid;
    HvrVqElem elem;
    uint8_t *scratch;           /* soft checksum: HVR_NET_MAX_FRAME bytes */
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, rx_soft_csum;
} HvrNet;


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

/* Signal queue @q if the driver wants it (NO_INTERRUPT clear) for the
 * buffers used since used.idx was @old. */
static void
hvr_net_interrupt(HvrVirtioDev *dev, unsigned q, uint16_t old)
{
    if (hvr_vq_need_signal(&dev->q[q].vq, old))
        hvr_virtio_queue_interrupt(dev, q);
}

/* Transmit everything the driver queued, then one interrupt. */
static void
hvr_net_tx_all(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[1].vq;
    uint16_t old = vq->used_idx;
    const char *why;
    int r;

    while ((r = hvr_vq_pop(vq, &n->elem, &why)) == 1)
        hvr_vq_push(vq, n->elem.head, hvr_net_tx(dev, &n->elem));
    if (r < 0) {
        hvr_virtio_queue_error(dev, 1, why);
        return;
    }
    hvr_net_interrupt(dev, 1, old);
}

/* ---- receive ---- */

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

static void
hvr_net_rx(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    uint16_t old = vq->used_idx;
    const char *why;
    bool have = false;

    if (hvr_virtio_queue_ready(dev, 0))
        hvr_net_sync_offloads(dev, n);
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

    if (n)
        n->seen_valid = false;
}

static void
hvr_net_stats(HvrVirtioDev *dev, GString *out)
{
    HvrNet *n = dev->state;
    int s = dev->pci.slot;
    unsigned q;

    g_string_append_printf(out,
        " net%d.rx_packets=%" G_GUINT64_FORMAT " net%d.tx_packets=%" G_GUINT64_FORMAT
        " net%d.rx_bytes=%" G_GUINT64_FORMAT " net%d.tx_bytes=%" G_GUINT64_FORMAT
        " net%d.rx_dropped=%" G_GUINT64_FORMAT " net%d.rx_soft_csum=%" G_GUINT64_FORMAT
        " net%d.tap_offloads=0x%x",
        s, n->rx_packets, s, n->tx_packets, s, n->rx_bytes, s, n->tx_bytes,
        s, n->rx_dropped, s, n->rx_soft_csum, s, n->tap_flags);
    for (q = 0; q < 2; q++) {
        HvrVirtqueue *vq = &dev->q[q].vq;

        g_string_append_printf(out, " net%d.%s=%u/%u/%u/%" G_GUINT64_FORMAT, s,
                               q ? "txq" : "rxq",
                               vq->ready ? hvr_vq_avail_idx(vq) : 0, vq->last_avail,
                               vq->used_idx, dev->q[q].kicks);
    }
}

static void
hvr_net_free(HvrVirtioDev *dev)
{
    HvrNet *n = dev->state;

    if (n->fd >= 0)
        close(n->fd);
    g_free(n->scratch);
    g_free(n);
}

static const HvrVirtioModel hvr_net_model = {
    .name = "virtio-net",
    .type = 1,
    .class_code = 0x020000,
    .nqueues = 2,
    .queue_size = HVR_NET_QUEUE_SIZE,
    .features = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
                BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
                BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
                BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
                BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
                (HVR_NET_OFFER_INDIRECT ? BIT(VIRTIO_RING_F_INDIRECT) : 0),
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
