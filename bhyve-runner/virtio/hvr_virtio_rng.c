/* hvr_virtio_rng.c: virtio-rng (entropy from getrandom(2), i.e. /dev/urandom). */
#include <sys/random.h>

#include "hvr_devices.h"
#include "hvr_virtio_pci.h"

typedef struct {
    HvrVqElem elem;
    uint64_t bytes;
} HvrRng;

/* Fills the element's device-writable buffers with random bytes. */
static uint32_t
hvr_rng_fill(HvrVirtioDev *dev, HvrVqElem *e)
{
    HvrRng *r = dev->state;
    size_t total = 0;
    unsigned i;

    for (i = e->nout; i < e->nout + e->nin; i++) {
        ssize_t n = getrandom(e->iov[i].iov_base, e->iov[i].iov_len, 0);

        if (n < 0)
            break;
        total += n;
        if ((size_t)n < e->iov[i].iov_len)
            break;
    }
    r->bytes += total;
    return (uint32_t)total;
}

static void
hvr_rng_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrRng *r = dev->state;

    hvr_virtio_queue_drain(dev, q, &r->elem, hvr_rng_fill);
}

static void
hvr_rng_stats(HvrVirtioDev *dev, GString *out)
{
    HvrRng *r = dev->state;

    g_string_append_printf(out, " rng%d.bytes=%" G_GUINT64_FORMAT, dev->pci.slot, r->bytes);
}

static void
hvr_rng_free(HvrVirtioDev *dev)
{
    g_free(dev->state);
}

static const HvrVirtioModel hvr_rng_model = {
    .name = "virtio-rng",
    .type = 4,
    .class_code = 0xFF0000,
    .nqueues = 1,
    .queue_size = 64,
    .features = 0,
    .config_size = 0,
    .queue_notify = hvr_rng_notify,
    .stats = hvr_rng_stats,
    .free = hvr_rng_free,
};

gboolean
hvr_virtio_rng_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    HvrVirtioDev *dev = hvr_virtio_new(m, &hvr_rng_model, slot, error);

    if (!dev)
        return FALSE;
    dev->state = g_new0(HvrRng, 1);
    return hvr_virtio_start(dev, error);
}
