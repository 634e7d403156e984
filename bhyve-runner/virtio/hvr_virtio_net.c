/* hvr_virtio_net.c: virtio-net on a tap device (by name or inherited fd)
 * with a 12-byte vnet header (VERSION_1) and no offloads: queue 0 receiveq,
 * queue 1 transmitq.  The tap fd is polled by the device I/O thread only
 * while the guest has receive buffers posted. */
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

#define VIRTIO_NET_F_MAC    5
#define VIRTIO_NET_F_STATUS 16
#define NET_HDR_LEN 12

typedef struct {
    int fd;
    HvrVqElem elem;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped;
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

static void
hvr_net_rx(HvrVirtioDev *dev, HvrNet *n)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    const char *why;
    bool done = false;

    for (;;) {
        ssize_t got;
        uint16_t one = GUINT16_TO_LE(1);
        int r;

        if (!hvr_virtio_queue_ready(dev, 0) || !hvr_vq_has_avail(vq)) {
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
            done = true;
            continue;
        }
        got = readv(n->fd, n->elem.iov + n->elem.nout, (int)MIN(n->elem.nin, IOV_MAX));
        if (got <= 0) {
            /* nothing to read: give the buffer back by rewinding */
            vq->last_avail--;
            hvr_virtio_arm_fd(dev, n->fd, true);
            break;
        }
        hvr_iov_from_buf(n->elem.iov + n->elem.nout, n->elem.nin, 10, &one, 2);
        n->rx_packets++;
        n->rx_bytes += got - NET_HDR_LEN;
        hvr_vq_push(vq, n->elem.head, (uint32_t)got);
        done = true;
    }
    if (done)
        hvr_virtio_queue_interrupt(dev, 0);
}

static void
hvr_net_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrNet *n = dev->state;

    if (q == 1) {
        hvr_virtio_queue_drain(dev, 1, &n->elem, hvr_net_tx);
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
hvr_net_stats(HvrVirtioDev *dev, GString *out)
{
    HvrNet *n = dev->state;
    int s = dev->pci.slot;

    g_string_append_printf(out,
        " net%d.rx_packets=%" G_GUINT64_FORMAT " net%d.tx_packets=%" G_GUINT64_FORMAT
        " net%d.rx_bytes=%" G_GUINT64_FORMAT " net%d.tx_bytes=%" G_GUINT64_FORMAT,
        s, n->rx_packets, s, n->tx_packets, s, n->rx_bytes, s, n->tx_bytes);
}

static void
hvr_net_free(HvrVirtioDev *dev)
{
    HvrNet *n = dev->state;

    if (n->fd >= 0)
        close(n->fd);
    g_free(n);
}

static const HvrVirtioModel hvr_net_model = {
    .name = "virtio-net",
    .type = 1,
    .class_code = 0x020000,
    .nqueues = 2,
    .queue_size = 256,
    .features = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS),
    .config_size = 8,
    .queue_notify = hvr_net_notify,
    .fd_ready = hvr_net_fd_ready,
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
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
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
    dev->state = n;
    hvr_virtio_add_fd(dev, fd, false);
    return hvr_virtio_start(dev, error);
}
