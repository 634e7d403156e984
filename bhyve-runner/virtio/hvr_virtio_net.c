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
 * checked against the packet; nothing in guest memory is trusted.
 * Receive lives in hvr_virtio_net_rx.c; this file has the device, transmit
 * and the EVENT_IDX notification helpers both directions use. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_virtio_net_priv.h"

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
bool
hvr_net_event_idx(HvrVirtioDev *dev)
{
    return (dev->driver_features & BIT(VIRTIO_RING_F_EVENT_IDX)) != 0;
}

void
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
void
hvr_net_interrupt(HvrVirtioDev *dev, unsigned q, uint16_t old)
{
    HvrVirtqueue *vq = &dev->q[q].vq;

    if (vq->used_idx == old)
        return;
    vq->event_idx = hvr_net_event_idx(dev);     /* then flags do not count */
    if (vq->event_idx) {
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
