/* hvr_virtio_pci.c: modern virtio-pci transport, MSI-X, I/O thread. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_virtio_pci.h"

#define BAR_SIZE     0x8000
#define OFF_COMMON   0x0000
#define OFF_ISR      0x1000
#define OFF_DEVICE   0x2000
#define OFF_NOTIFY   0x3000
#define OFF_MSIX     0x4000
#define OFF_PBA      0x5000
#define NOTIFY_MULT  4

static inline uint64_t
hvr_virtio_all_features(HvrVirtioDev *dev)
{
    return dev->model->features | (1ULL << VIRTIO_F_VERSION_1);
}

bool
hvr_virtio_queue_ready(HvrVirtioDev *dev, unsigned q)
{
    return q < dev->model->nqueues && (dev->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(dev->status & VIRTIO_STATUS_NEEDS_RESET) &&
           dev->q[q].vq.ready && !dev->q[q].broken;
}

static void
hvr_virtio_send_vector(HvrVirtioDev *dev, uint16_t vec)
{
    static int fallback_logged;

    if (!dev->msix_enabled || vec >= dev->nvectors)
        return;             /* no INTx: Interrupt Pin is 0 */
    if (dev->msix_masked || (dev->msix[vec].ctrl & 1)) {
        dev->pba |= 1ULL << vec;
        return;
    }
    dev->interrupts++;
    if (dev->msix[vec].irqfd >= 0) {
        eventfd_write(dev->msix[vec].irqfd, 1);
    } else {
        int r = vmm_signal_msi(dev->m->vm, dev->msix[vec].addr_lo,
                               dev->msix[vec].addr_hi, dev->msix[vec].data);
        if (r < 0)
            hvr_log_once(&fallback_logged, "%s: MSI delivery failed: %s",
                         dev->model->name, g_strerror(-r));
    }
}

void
hvr_virtio_queue_interrupt(HvrVirtioDev *dev, unsigned q)
{
    if (!hvr_vq_should_notify(&dev->q[q].vq))
        return;
    dev->isr |= 1;
    hvr_virtio_send_vector(dev, dev->q[q].vector);
}

void
hvr_virtio_queue_error(HvrVirtioDev *dev, unsigned q, const char *why)
{
    dev->q[q].broken = true;
    dev->status |= VIRTIO_STATUS_NEEDS_RESET;
    hvr_log_once(&dev->error_logged, "%s in PCI slot %d: queue %u: %s; device needs reset",
                 dev->model->name, dev->pci.slot, q, why);
    dev->isr |= 2;
    hvr_virtio_send_vector(dev, dev->msix_config);
}

void
hvr_virtio_queue_drain(HvrVirtioDev *dev, unsigned q, HvrVqElem *elem,
                       HvrVirtioElemFunc fn)
{
    HvrVirtqueue *vq = &dev->q[q].vq;
    const char *why;
    bool done = false;
    int r;

    while ((r = hvr_vq_pop(vq, elem, &why)) == 1) {
        hvr_vq_push(vq, elem->head, fn(dev, elem));
        done = true;
    }
    if (r < 0)
        hvr_virtio_queue_error(dev, q, why);
    if (done)
        hvr_virtio_queue_interrupt(dev, q);
}

static void
hvr_virtio_reset_locked(HvrVirtioDev *dev)
{
    unsigned i;

    dev->status = 0;
    dev->isr = 0;
    dev->driver_features = 0;
    dev->dfeat_sel = dev->gfeat_sel = 0;
    dev->queue_sel = 0;
    dev->msix_config = 0xFFFF;
    dev->error_logged = 0;
    for (i = 0; i < dev->model->nqueues; i++) {
        HvrVirtqueue *vq = &dev->q[i].vq;

        memset(vq, 0, sizeof(*vq));
        vq->mem = dev->m ? dev->m->mem : NULL;
        vq->size = dev->model->queue_size;
        dev->q[i].vector = 0xFFFF;
        dev->q[i].enable = 0;
        dev->q[i].broken = false;
    }
    if (dev->model->reset)
        dev->model->reset(dev);
}

static uint64_t
hvr_virtio_common_read(HvrVirtioDev *dev, unsigned off, unsigned size)
{
    uint8_t c[56];
    unsigned qs = dev->queue_sel;
    uint64_t f = hvr_virtio_all_features(dev), v = 0;
    bool qv = qs < dev->model->nqueues;
    HvrVirtqueue *vq = qv ? &dev->q[qs].vq : NULL;

    memset(c, 0, sizeof(c));
    hvr_pci_set32(c + 0, dev->dfeat_sel);
    hvr_pci_set32(c + 4, dev->dfeat_sel == 0 ? (uint32_t)f : dev->dfeat_sel == 1 ? (uint32_t)(f >> 32) : 0);
    hvr_pci_set32(c + 8, dev->gfeat_sel);
    hvr_pci_set32(c + 12, dev->gfeat_sel == 0 ? (uint32_t)dev->driver_features
                          : dev->gfeat_sel == 1 ? (uint32_t)(dev->driver_features >> 32) : 0);
    hvr_pci_set16(c + 16, dev->msix_config);
    hvr_pci_set16(c + 18, dev->model->nqueues);
    c[20] = dev->status;
    c[21] = dev->config_gen;
    hvr_pci_set16(c + 22, dev->queue_sel);
    if (qv) {
        hvr_pci_set16(c + 24, vq->size);
        hvr_pci_set16(c + 26, dev->q[qs].vector);
        hvr_pci_set16(c + 28, dev->q[qs].enable);
        hvr_pci_set16(c + 30, qs);
        hvr_pci_set32(c + 32, (uint32_t)vq->desc);
        hvr_pci_set32(c + 36, (uint32_t)(vq->desc >> 32));
        hvr_pci_set32(c + 40, (uint32_t)vq->avail);
        hvr_pci_set32(c + 44, (uint32_t)(vq->avail >> 32));
        hvr_pci_set32(c + 48, (uint32_t)vq->used);
        hvr_pci_set32(c + 52, (uint32_t)(vq->used >> 32));
    }
    if (off + size > sizeof(c))
        return 0;
    memcpy(&v, c + off, size);
    return GUINT64_FROM_LE(v);
}

static void
hvr_virtio_set_addr(uint64_t *a, bool hi, uint32_t v)
{
    *a = hi ? ((*a & 0xFFFFFFFFULL) | (uint64_t)v << 32) : ((*a & ~0xFFFFFFFFULL) | v);
}

static void
hvr_virtio_status_write(HvrVirtioDev *dev, uint8_t v)
{
    if (v == 0) {
        hvr_virtio_reset_locked(dev);
        return;
    }
    if ((v & VIRTIO_STATUS_FEATURES_OK) && !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t f = dev->driver_features;

        if ((f & ~hvr_virtio_all_features(dev)) || !(f & (1ULL << VIRTIO_F_VERSION_1)))
            v &= ~VIRTIO_STATUS_FEATURES_OK;     /* refuse: read-back fails */
    }
    dev->status = v | (dev->status & VIRTIO_STATUS_NEEDS_RESET);
    if (v & VIRTIO_STATUS_DRIVER_OK)
        hvr_virtio_wake(dev);   /* buffers may already be queued */
}

static void
hvr_virtio_common_write(HvrVirtioDev *dev, unsigned off, unsigned size, uint32_t v)
{
    unsigned qs = dev->queue_sel;
    bool qv = qs < dev->model->nqueues;
    HvrVirtqueue *vq = qv ? &dev->q[qs].vq : NULL;
    const char *why;

    switch (off) {
    case 0: dev->dfeat_sel = v; break;
    case 8: dev->gfeat_sel = v; break;
    case 12:
        if (dev->status & VIRTIO_STATUS_FEATURES_OK)
            break;
        if (dev->gfeat_sel == 0)
            dev->driver_features = (dev->driver_features & ~0xFFFFFFFFULL) | v;
        else if (dev->gfeat_sel == 1)
            dev->driver_features = (dev->driver_features & 0xFFFFFFFFULL) | (uint64_t)v << 32;
        break;
    case 16: dev->msix_config = v < dev->nvectors ? (uint16_t)v : 0xFFFF; break;
    case 20: hvr_virtio_status_write(dev, (uint8_t)v); break;
    case 22: dev->queue_sel = (uint16_t)v; break;
    default:
        if (!qv || dev->q[qs].enable)
            break;      /* queue registers are frozen once enabled */
        switch (off) {
        case 24:
            if (v && v <= dev->model->queue_size && !(v & (v - 1)))
                vq->size = (uint16_t)v;
            break;
        case 26: dev->q[qs].vector = v < dev->nvectors ? (uint16_t)v : 0xFFFF; break;
        case 28:
            if (v != 1)
                break;
            dev->q[qs].enable = 1;
            vq->indirect = (dev->driver_features >> VIRTIO_RING_F_INDIRECT) & 1;
            if ((why = hvr_vq_check_layout(vq))) {
                hvr_virtio_queue_error(dev, qs, why);
                break;
            }
            vq->ready = true;
            break;
        case 32: case 36: hvr_virtio_set_addr(&vq->desc, off == 36, v); break;
        case 40: case 44: hvr_virtio_set_addr(&vq->avail, off == 44, v); break;
        case 48: case 52: hvr_virtio_set_addr(&vq->used, off == 52, v); break;
        }
    }
}

static void
hvr_virtio_msix_access(HvrVirtioDev *dev, unsigned off, unsigned size, bool write, uint64_t *val)
{
    unsigned vec = off / 16, field = (off % 16) / 4;
    uint32_t *f;

    if (size == 8 && !(off & 7)) {      /* 64-bit access: two dwords */
        uint64_t lo = (uint32_t)*val, hi = *val >> 32;

        hvr_virtio_msix_access(dev, off, 4, write, &lo);
        hvr_virtio_msix_access(dev, off + 4, 4, write, &hi);
        if (!write)
            *val = (uint32_t)lo | hi << 32;
        return;
    }
    if (vec >= dev->nvectors || size != 4 || (off & 3)) {
        if (!write)
            *val = 0;
        return;
    }
    f = field == 0 ? &dev->msix[vec].addr_lo : field == 1 ? &dev->msix[vec].addr_hi
      : field == 2 ? &dev->msix[vec].data : &dev->msix[vec].ctrl;
    if (!write) {
        *val = *f;
        return;
    }
    *f = field == 3 ? ((uint32_t)*val & 1) : (uint32_t)*val;
    if (field < 3 && dev->msix[vec].gsi >= 0)
        vmm_set_msi_route(dev->m->vm, dev->msix[vec].gsi, dev->msix[vec].addr_lo,
                          dev->msix[vec].addr_hi, dev->msix[vec].data);
    if (field == 3 && !(*f & 1) && (dev->pba & (1ULL << vec))) {
        dev->pba &= ~(1ULL << vec);
        hvr_virtio_send_vector(dev, vec);
    }
}

void
hvr_virtio_bar_access(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    HvrVirtioDev *dev = opaque;

    g_mutex_lock(&dev->lock);
    if (off < OFF_COMMON + 56) {
        if (write)
            hvr_virtio_common_write(dev, (unsigned)off, size, (uint32_t)*val);
        else
            *val = hvr_virtio_common_read(dev, (unsigned)off, size);
    } else if (off == OFF_ISR) {
        if (!write) {
            *val = dev->isr;
            dev->isr = 0;
        }
    } else if (off >= OFF_DEVICE && off < OFF_DEVICE + dev->model->config_size) {
        unsigned o = (unsigned)(off - OFF_DEVICE);

        if (write) {
            if (dev->model->config_write)
                dev->model->config_write(dev, o, size, *val);
        } else {
            uint64_t v = 0;

            memcpy(&v, dev->config + o, MIN(size, sizeof(dev->config) - o));
            *val = GUINT64_FROM_LE(v);
        }
    } else if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT * HVR_VIRTIO_MAX_QUEUES) {
        unsigned q = (unsigned)(off - OFF_NOTIFY) / NOTIFY_MULT;

        if (write && q < dev->model->nqueues)
            eventfd_write(dev->q[q].notify_fd, 1);
        else if (!write)
            *val = 0;
    } else if (off >= OFF_MSIX && off < OFF_MSIX + 16 * (uint64_t)dev->nvectors) {
        hvr_virtio_msix_access(dev, (unsigned)(off - OFF_MSIX), size, write, val);
    } else if (off >= OFF_PBA && off < OFF_PBA + 8) {
        if (!write)
            *val = (dev->pba >> (8 * (off - OFF_PBA))) & (size == 8 ? ~0ULL : ((1ULL << (8 * size)) - 1));
    } else if (!write) {
        *val = 0;
    }
    g_mutex_unlock(&dev->lock);
}

static void
hvr_virtio_ioeventfds(HvrVirtioDev *dev, uint64_t bar, bool assign)
{
    unsigned i;

    for (i = 0; i < dev->model->nqueues; i++) {
        if (!assign && !dev->q[i].ioeventfd)
            continue;
        dev->q[i].ioeventfd = vmm_ioeventfd(dev->m->vm, dev->q[i].notify_fd,
                                            bar + OFF_NOTIFY + NOTIFY_MULT * i, 2,
                                            false, -1, assign) == 0 && assign;
    }
}

static void
hvr_virtio_bar_moved(void *opaque, int bar, uint64_t old_addr, uint64_t new_addr)
{
    HvrVirtioDev *dev = opaque;

    if (!dev->m)
        return;
    hvr_virtio_ioeventfds(dev, old_addr, false);
    hvr_virtio_ioeventfds(dev, new_addr, true);
}

static void
hvr_virtio_cfg_written(void *opaque, unsigned off, unsigned size)
{
    HvrVirtioDev *dev = opaque;
    unsigned cap = 0x40;        /* the MSI-X capability is always first */
    uint16_t ctl = hvr_pci_get16(dev->pci.cfg + cap + 2);
    unsigned v;

    g_mutex_lock(&dev->lock);
    dev->msix_enabled = (ctl & 0x8000) != 0;
    dev->msix_masked = (ctl & 0x4000) != 0;
    if (dev->msix_enabled && !dev->msix_masked) {
        for (v = 0; v < dev->nvectors; v++) {
            if ((dev->pba & (1ULL << v)) && !(dev->msix[v].ctrl & 1)) {
                dev->pba &= ~(1ULL << v);
                hvr_virtio_send_vector(dev, v);
            }
        }
    }
    g_mutex_unlock(&dev->lock);
}

static void
hvr_virtio_add_vcap(HvrPciDev *d, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
    uint8_t c = hvr_pci_dev_add_cap(d, HVR_PCI_CAP_VNDR, notify ? 20 : 16);

    d->cfg[c + 2] = notify ? 20 : 16;
    d->cfg[c + 3] = type;
    d->cfg[c + 4] = 0;          /* BAR0 */
    hvr_pci_set32(d->cfg + c + 8, off);
    hvr_pci_set32(d->cfg + c + 12, len);
    if (notify)
        hvr_pci_set32(d->cfg + c + 16, NOTIFY_MULT);
}

HvrVirtioDev *
hvr_virtio_new(HvrMachine *m, const HvrVirtioModel *model, int slot, GError **error)
{
    HvrVirtioDev *dev = g_new0(HvrVirtioDev, 1);
    HvrPciDev *d = &dev->pci;
    uint8_t c;
    unsigned i;

    g_mutex_init(&dev->lock);
    dev->model = model;
    dev->m = m;
    dev->nvectors = model->nqueues + 1;
    dev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++)
        dev->extra_fd[i] = -1;
    for (i = 0; i < model->nqueues; i++)
        dev->q[i].notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (i = 0; i < dev->nvectors; i++) {
        dev->msix[i].ctrl = 1;
        dev->msix[i].irqfd = -1;
        dev->msix[i].gsi = -1;
        if (!m)
            continue;
        dev->msix[i].gsi = vmm_msi_route_alloc(m->vm);
        if (dev->msix[i].gsi >= 0) {
            int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

            if (fd >= 0 && vmm_irqfd(m->vm, fd, dev->msix[i].gsi, true) == 0)
                dev->msix[i].irqfd = fd;
            else if (fd >= 0)
                close(fd);
        }
    }
    hvr_virtio_reset_locked(dev);

    hvr_pci_dev_init(d, 0x1AF4, 0x1040 + model->type, model->class_code, 1,
                     0x1AF4, 0x40 + model->type);
    d->opaque = dev;
    d->cfg_written = hvr_virtio_cfg_written;
    d->bar_moved = hvr_virtio_bar_moved;
    c = hvr_pci_dev_add_cap(d, HVR_PCI_CAP_MSIX, 12);
    hvr_pci_set16(d->cfg + c + 2, dev->nvectors - 1);
    d->wmask[c + 3] = 0xC0;     /* enable, function mask */
    hvr_pci_set32(d->cfg + c + 4, OFF_MSIX);
    hvr_pci_set32(d->cfg + c + 8, OFF_PBA);
    hvr_virtio_add_vcap(d, 1, OFF_COMMON, 56, false);
    hvr_virtio_add_vcap(d, 2, OFF_NOTIFY, NOTIFY_MULT * HVR_VIRTIO_MAX_QUEUES, true);
    hvr_virtio_add_vcap(d, 3, OFF_ISR, 1, false);
    if (model->config_size)
        hvr_virtio_add_vcap(d, 4, OFF_DEVICE, model->config_size, false);

    if (m) {
        if (!hvr_pci_dev_add_bar(m->pci, d, 0, BAR_SIZE, hvr_virtio_bar_access, dev, error) ||
            !hvr_pci_register(m->pci, d, slot, error))
            return NULL;    /* the machine is torn down on error */
        hvr_virtio_ioeventfds(dev, d->bar[0].addr, true);
    }
    return dev;
}

void
hvr_virtio_add_fd(HvrVirtioDev *dev, int fd, bool armed)
{
    unsigned i;

    for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++) {
        if (dev->extra_fd[i] < 0) {
            dev->extra_fd[i] = fd;
            dev->extra_armed[i] = armed;
            return;
        }
    }
}

void
hvr_virtio_arm_fd(HvrVirtioDev *dev, int fd, bool armed)
{
    unsigned i;

    for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++)
        if (dev->extra_fd[i] == fd && dev->extra_armed[i] != armed) {
            dev->extra_armed[i] = armed;
            hvr_virtio_wake(dev);
        }
}

void
hvr_virtio_wake(HvrVirtioDev *dev)
{
    eventfd_write(dev->wake_fd, 1);
}

static gpointer
hvr_virtio_thread(gpointer data)
{
    HvrVirtioDev *dev = data;
    const HvrVirtioModel *model = dev->model;

    for (;;) {
        struct pollfd pfd[1 + HVR_VIRTIO_MAX_QUEUES + HVR_VIRTIO_MAX_FDS];
        unsigned n = 0, i, nq = model->nqueues;
        eventfd_t cnt;

        pfd[n++] = (struct pollfd){ .fd = dev->wake_fd, .events = POLLIN };
        for (i = 0; i < nq; i++)
            pfd[n++] = (struct pollfd){ .fd = dev->q[i].notify_fd, .events = POLLIN };
        g_mutex_lock(&dev->lock);
        if (dev->stopping) {
            g_mutex_unlock(&dev->lock);
            break;
        }
        for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++)
            pfd[n++] = (struct pollfd){ .fd = dev->extra_fd[i],
                                        .events = dev->extra_armed[i] ? POLLIN : 0 };
        g_mutex_unlock(&dev->lock);

        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        g_mutex_lock(&dev->lock);
        if (dev->stopping) {
            g_mutex_unlock(&dev->lock);
            break;
        }
        if (pfd[0].revents) {
            eventfd_read(dev->wake_fd, &cnt);
            if (model->wake)
                model->wake(dev);
            /* after DRIVER_OK, look at every queue once */
            for (i = 0; i < nq; i++)
                if (hvr_virtio_queue_ready(dev, i) && model->queue_notify)
                    model->queue_notify(dev, i);
        }
        for (i = 0; i < nq; i++) {
            if (!pfd[1 + i].revents)
                continue;
            eventfd_read(dev->q[i].notify_fd, &cnt);
            dev->q[i].kicks++;
            if (hvr_virtio_queue_ready(dev, i) && model->queue_notify)
                model->queue_notify(dev, i);
        }
        for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++) {
            struct pollfd *p = &pfd[1 + nq + i];

            if (p->fd >= 0 && p->revents && model->fd_ready)
                model->fd_ready(dev, p->fd);
        }
        g_mutex_unlock(&dev->lock);
    }
    return NULL;
}

static void
hvr_virtio_stop(void *opaque)
{
    HvrVirtioDev *dev = opaque;

    if (!dev->thread)
        return;
    g_mutex_lock(&dev->lock);
    dev->stopping = true;
    g_mutex_unlock(&dev->lock);
    hvr_virtio_wake(dev);
    g_thread_join(dev->thread);
    dev->thread = NULL;
}

static void
hvr_virtio_free(void *opaque)
{
    HvrVirtioDev *dev = opaque;
    unsigned i;

    hvr_virtio_stop(dev);
    if (dev->model->free)
        dev->model->free(dev);
    for (i = 0; i < dev->model->nqueues; i++)
        close(dev->q[i].notify_fd);
    for (i = 0; i < dev->nvectors; i++)
        if (dev->msix[i].irqfd >= 0)
            close(dev->msix[i].irqfd);
    close(dev->wake_fd);
    g_mutex_clear(&dev->lock);
    g_free(dev);
}

static void
hvr_virtio_stats(void *opaque, GString *out)
{
    HvrVirtioDev *dev = opaque;

    g_mutex_lock(&dev->lock);
    g_string_append_printf(out, " pci%d.interrupts=%" G_GUINT64_FORMAT, dev->pci.slot,
                           dev->interrupts);
    if (dev->model->stats)
        dev->model->stats(dev, out);
    g_mutex_unlock(&dev->lock);
}

static void
hvr_virtio_thread_start(void *opaque)
{
    HvrVirtioDev *dev = opaque;
    g_autofree char *name = g_strdup_printf("%s-io", dev->model->name);

    if (!dev->thread)
        dev->thread = g_thread_new(name, hvr_virtio_thread, dev);
}

gboolean
hvr_virtio_start(HvrVirtioDev *dev, GError **error)
{
    HvrDevice *hd = g_new0(HvrDevice, 1);

    hd->model = dev->model->name;
    hd->slot = dev->pci.slot;
    hd->opaque = dev;
    hd->stats = hvr_virtio_stats;
    hd->start = hvr_virtio_thread_start;
    hd->stop = hvr_virtio_stop;
    hd->free = hvr_virtio_free;
    hvr_machine_add_device(dev->m, hd);
    return TRUE;
}
