/* hvr_virtio_rng.c: virtio-rng (entropy from getrandom(2), i.e. /dev/urandom). */
#include <sys/random.h>

#include "hvr_devices.h"
#include "hvr_virtio_pci.h"

typedef struct {
    HvrVqElem elem;
    uint64_t bytes;
} HvrRng;

static void
hvr_rng_notify(HvrVirtioDev *dev, unsigned q)
{
    HvrRng *r = dev->state;
    HvrVirtqueue *vq = &dev->q[q].vq;
    const char *why;
    bool done = false;
    int rc;

    while ((rc = hvr_vq_pop(vq, &r->elem, &why)) == 1) {
        size_t total = 0;
        unsigned i;

        for (i = r->elem.nout; i < r->elem.nout + r->elem.nin; i++) {
            ssize_t n = getrandom(r->elem.iov[i].iov_base, r->elem.iov[i].iov_len, 0);

            if (n < 0)
                break;
            total += n;
            if ((size_t)n < r->elem.iov[i].iov_len)
                break;
        }
        r->bytes += total;
        hvr_vq_push(vq, r->elem.head, (uint32_t)total);
        done = true;
    }
    if (rc < 0)
        hvr_virtio_queue_error(dev, q, why);
    if (done)
        hvr_virtio_queue_interrupt(dev, q);
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
