/* hvr_virtio_console.c: virtio-console, single port (no MULTIPORT):
 * queue 0 receiveq (host -> guest), queue 1 transmitq (guest -> host).
 * Output goes to a HvrChardev; input from it is buffered (64 KiB at most)
 * until the guest posts receive buffers. */
#include <string.h>

#include "hvr_chardev.h"
#include "hvr_devices.h"
#include "hvr_virtio_pci.h"

#define CON_RX_MAX 65536

typedef struct {
    HvrVirtioDev *dev;
    HvrChardev *chr;
    GByteArray *rx;             /* dev->lock */
    HvrVqElem elem;
    uint64_t tx_bytes, rx_bytes, rx_dropped;
} HvrCon;

/* Guest output: the element's driver-readable buffers go to the backend. */
static uint32_t
hvr_con_tx(HvrVirtioDev *dev, HvrVqElem *e)
{
    HvrCon *c = dev->state;
    unsigned i;

    for (i = 0; i < e->nout; i++)
        hvr_chardev_write(c->chr, e->iov[i].iov_base, e->iov[i].iov_len);
    c->tx_bytes += e->out_len;
    return 0;
}

static void
hvr_con_rx(HvrVirtioDev *dev, HvrCon *c)
{
    HvrVirtqueue *vq = &dev->q[0].vq;
    const char *why;
    bool done = false;
    int r = 0;

    if (!hvr_virtio_queue_ready(dev, 0))
        return;
    while (c->rx->len > 0 && (r = hvr_vq_pop(vq, &c->elem, &why)) == 1) {
        size_t n = hvr_iov_from_buf(c->elem.iov + c->elem.nout, c->elem.nin, 0,
                                    c->rx->data, c->rx->len);

        g_byte_array_remove_range(c->rx, 0, (guint)n);
        c->rx_bytes += n;
        hvr_vq_push(vq, c->elem.head, (uint32_t)n);
        done = true;
    }
    if (r < 0)
        hvr_virtio_queue_error(dev, 0, why);
    if (done)
        hvr_virtio_queue_interrupt(dev, 0);
}

static void
hvr_con_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrCon *c = dev->state;

    if (q == 1)
        hvr_virtio_queue_drain(dev, 1, &c->elem, hvr_con_tx);
    else
        hvr_con_rx(dev, c);
}

static void
hvr_con_wake(HvrVirtioDev *dev)
{
    hvr_con_rx(dev, dev->state);
}

/* Main thread: backend input. */
static void
hvr_con_input(void *opaque, const uint8_t *buf, size_t len)
{
    HvrCon *c = opaque;

    g_mutex_lock(&c->dev->lock);
    if (c->rx->len + len > CON_RX_MAX) {
        c->rx_dropped += len;
    } else {
        g_byte_array_append(c->rx, buf, (guint)len);
    }
    g_mutex_unlock(&c->dev->lock);
    hvr_virtio_wake(c->dev);
}

static void
hvr_con_stats(HvrVirtioDev *dev, GString *out)
{
    HvrCon *c = dev->state;
    int s = dev->pci.slot;

    g_string_append_printf(out, " console%d.tx_bytes=%" G_GUINT64_FORMAT
                           " console%d.rx_bytes=%" G_GUINT64_FORMAT, s, c->tx_bytes, s, c->rx_bytes);
}

static void
hvr_con_free(HvrVirtioDev *dev)
{
    HvrCon *c = dev->state;

    hvr_chardev_free(c->chr);
    g_byte_array_unref(c->rx);
    g_free(c);
}

static const HvrVirtioModel hvr_con_model = {
    .name = "virtio-console",
    .type = 3,
    .class_code = 0x078000,
    .nqueues = 2,
    .queue_size = 128,
    .features = 0,
    .config_size = 12,
    .queue_notify = hvr_con_notify,
    .wake = hvr_con_wake,
    .stats = hvr_con_stats,
    .free = hvr_con_free,
};

gboolean
hvr_virtio_console_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    g_autofree char *label = g_strdup_printf("virtio-console in slot %d", slot);
    HvrChardev *chr = hvr_chardev_new(sc->backend ? sc->backend : "null", label, error);
    HvrVirtioDev *dev;
    HvrCon *c;

    if (!chr)
        return FALSE;
    dev = hvr_virtio_new(m, &hvr_con_model, slot, error);
    if (!dev) {
        hvr_chardev_free(chr);
        return FALSE;
    }
    c = g_new0(HvrCon, 1);
    c->dev = dev;
    c->chr = chr;
    c->rx = g_byte_array_new();
    dev->state = c;
    if (sc->backend && g_str_equal(sc->backend, "pty"))
        hvr_log("virtio-console in slot %d: %s", slot, hvr_chardev_path(chr));
    {
        g_autofree char *name = g_strdup_printf("pci%d", slot);

        if (m->consoles)
            hvr_machine_add_console(m, name, hvr_chardev_path(chr));
    }
    hvr_chardev_attach(chr, m->ctx, hvr_con_input, c);
    return hvr_virtio_start(dev, error);
}
