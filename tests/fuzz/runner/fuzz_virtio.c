/*
 * fuzz_virtio.c: virtqueue descriptor handling of one virtio device model,
 * chosen at build time (FUZZ_DEVICE = 1 net, 2 blk, 3 console, 4 rng, the
 * virtio device types).
 *
 * The input is a program for a guest driver: BAR0 accesses, raw writes into
 * guest RAM (64 KiB), descriptor/available-ring writes at the addresses the
 * device was given, whole request chains, PCI config writes (MSI-X enable)
 * and backend input (tap frames for net, socket bytes for console).  The
 * device is the real model created by its create function on a KVM-less
 * machine (fuzz_runner.h); its I/O thread is stopped right after creation
 * and fuzz_pump() runs the thread's loop body synchronously instead (wake
 * eventfd, queue doorbell eventfds, armed backend fds), so an input always
 * replays the same way.
 *
 * Backends: blk = a memfd reopened through /proc/self/fd (no file on disk),
 * net = one end of a SOCK_DGRAM socketpair standing in for the tap (the two
 * tap ioctls of hvr_virtio_net.c are answered for that descriptor only by
 * the ioctl() below), console = a unix: backend in a private temporary
 * directory with a client connected, rng = getrandom() replaced by a
 * counter pattern while device code runs.
 *
 * Invariants after every step: every popped element was pushed back
 * (used_idx == last_avail), the used index the device published in guest
 * RAM is its own, used ids are heads below the queue size, the used length
 * is at most the chain's device-writable length, a broken queue
 * means DEVICE_NEEDS_RESET, the device wrote guest RAM only inside used
 * rings and device-writable buffers (write confinement, below), and
 * nothing was written outside guest RAM (ASan, plus canaries around RAM for
 * builds without it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "fuzz_runner.h"
#include "hvr_devices.h"
#include "hvr_pci.h"
#include "hvr_virtio_pci.h"

#ifndef FUZZ_DEVICE
#error "FUZZ_DEVICE must be 1 (net), 2 (blk), 3 (console) or 4 (rng)"
#endif

#define RAM_SIZE 0x10000
#define SLOT     3
#define BUF_BASE 0x8000         /* CHAIN buffers are carved from here up */

static bool fuzz_in_device;     /* device code is running (rng pattern) */

#if FUZZ_DEVICE == 1
static int fuzz_tap_fd = -1;

/* Interposes the C library's ioctl(): the stand-in tap (a socket) accepts
 * the vnet-header ioctls of hvr_net_open_tap(); everything else is the real
 * system call (KVM ioctls on the fake VM's -1 descriptors fail with EBADF). */
int
ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd >= 0 && fd == fuzz_tap_fd && (req == TUNSETVNETHDRSZ || req == TUNSETOFFLOAD))
        return 0;
    return (int)syscall(SYS_ioctl, fd, req, arg);
}
#endif

#if FUZZ_DEVICE == 4
static uint8_t fuzz_rng_counter;

/* Deterministic entropy while the device runs; the real call otherwise. */
ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
    size_t i;

    if (!fuzz_in_device)
        return syscall(SYS_getrandom, buf, len, flags);
    for (i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = fuzz_rng_counter++;
    return (ssize_t)len;
}
#endif

typedef struct {
    FuzzMachine *fm;
    HvrVirtioDev *dev;
    int peer;                   /* net: socketpair end; console: client */
    int memfd;                  /* blk */
    uint64_t buf_next;
    uint16_t used_seen[HVR_VIRTIO_MAX_QUEUES];
} Fuzz;

static uint8_t *ram;

static void wr16(uint64_t a, uint16_t v) { if (a + 2 <= RAM_SIZE) { ram[a] = v; ram[a + 1] = v >> 8; } }
static void wr32(uint64_t a, uint32_t v) { wr16(a, v); wr16(a + 2, v >> 16); }
static void wr64(uint64_t a, uint64_t v) { wr32(a, v); wr32(a + 4, v >> 32); }
static uint16_t rd16(uint64_t a) { return a + 2 <= RAM_SIZE ? ram[a] | ram[a + 1] << 8 : 0; }
static uint32_t rd32(uint64_t a) { return rd16(a) | (uint32_t)rd16(a + 2) << 16; }

static void
bar_write(HvrVirtioDev *dev, unsigned off, unsigned size, uint64_t v)
{
    hvr_virtio_bar_access(dev, off, size, true, &v);
}

static void
cfg_write(HvrPci *pci, unsigned reg, unsigned size, uint32_t val)
{
    uint64_t v = 0x80000000u | SLOT << 11 | (reg & 0xFC);

    hvr_pci_port_access(pci, 0, 4, true, &v);
    v = val;
    hvr_pci_port_access(pci, 4 + (reg & 3), size, true, &v);
}

/* Invariants that hold whenever the device lock is free. */
static void
fuzz_check_queues(Fuzz *f)
{
    HvrVirtioDev *dev = f->dev;
    bool broken = false;
    unsigned q;

    for (q = 0; q < dev->model->nqueues; q++) {
        HvrVirtqueue *vq = &dev->q[q].vq;

        fuzz_check(vq->used_idx == vq->last_avail,
                   "queue %u: %u elements popped but %u pushed", q, vq->last_avail, vq->used_idx);
        broken |= dev->q[q].broken;
        if (vq->used_idx == 0) {
            f->used_seen[q] = 0;        /* reset (or never used) */
        } else if (vq->used_idx != f->used_seen[q]) {
            uint16_t n = vq->used_idx - f->used_seen[q], i;
            uint8_t *used = hvr_mem_gpa(vq->mem, vq->used, 6 + 8 * (uint64_t)vq->size);

            fuzz_check(vq->ready && used, "queue %u: pushed without a valid used ring", q);
            fuzz_check(hvr_mem_gpa(vq->mem, vq->used + 2, 2) && rd16(vq->used + 2) == vq->used_idx,
                       "queue %u: used.idx in RAM %u, device %u", q, rd16(vq->used + 2), vq->used_idx);
            for (i = 0; i < n && i < vq->size; i++) {
                uint16_t slot = (uint16_t)(vq->used_idx - 1 - i) % vq->size;
                uint32_t id = rd32(vq->used + 4 + 8 * (uint64_t)slot);

                /* a later element's data may overwrite an earlier entry
                 * (guest buffers may overlap the ring): check the last */
                if (i == 0)
                    fuzz_check(id < vq->size, "queue %u: used id %u >= size %u", q, id, vq->size);
            }
            f->used_seen[q] = vq->used_idx;
        }
    }
    if (broken)
        fuzz_check(dev->status & VIRTIO_STATUS_NEEDS_RESET, "broken queue without NEEDS_RESET");
    fuzz_machine_check_canaries(f->fm);
}

/* Write confinement: around each handler call, guest RAM is snapshotted;
 * afterwards every changed byte must lie in a used ring or in a buffer some
 * descriptor (direct, or inside an indirect table) marks device-writable,
 * in the table as it was before or after the call. */
static uint8_t ram_before[RAM_SIZE];
static uint8_t allowed[RAM_SIZE / 8];

static void
allow(uint64_t a, uint64_t len)
{
    uint64_t i, end = a + len < a ? RAM_SIZE : MIN(a + len, RAM_SIZE);

    for (i = a; i < end; i++)
        allowed[i / 8] |= 1 << (i % 8);
}

static void
allow_table(const uint8_t *img, uint64_t table, unsigned n, bool top)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        uint64_t d = table + 16 * (uint64_t)i, addr;
        uint32_t len;
        uint16_t flags;

        if (d + 16 > RAM_SIZE || d + 16 < d)
            return;
        memcpy(&addr, img + d, 8);
        memcpy(&len, img + d + 8, 4);
        memcpy(&flags, img + d + 12, 2);
        addr = GUINT64_FROM_LE(addr);
        len = GUINT32_FROM_LE(len);
        flags = GUINT16_FROM_LE(flags);
        if (top && (flags & VRING_DESC_F_INDIRECT))
            allow_table(img, addr, MIN(len / 16, HVR_VQ_MAX_SIZE), false);
        else if (flags & VRING_DESC_F_WRITE)
            allow(addr, len);
    }
}

/* Device-writable bytes of the chain at @head in the RAM image @img; FALSE
 * when the chain cannot be walked (the device must not have used it). */
static bool
chain_in_len(const uint8_t *img, const HvrVirtqueue *vq, uint16_t head, uint64_t *in_len)
{
    uint64_t table = vq->desc, total = 0;
    unsigned steps, n = vq->size;
    uint16_t i = head;
    bool indirect = false;

    for (steps = 0; steps < n; steps++) {
        uint64_t d = table + 16 * (uint64_t)i, addr;
        uint32_t len;
        uint16_t flags, next;

        if (d + 16 > RAM_SIZE || d + 16 < d)
            return false;
        memcpy(&addr, img + d, 8);
        memcpy(&len, img + d + 8, 4);
        memcpy(&flags, img + d + 12, 2);
        memcpy(&next, img + d + 14, 2);
        addr = GUINT64_FROM_LE(addr);
        len = GUINT32_FROM_LE(len);
        flags = GUINT16_FROM_LE(flags);
        next = GUINT16_FROM_LE(next);
        if (!indirect && (flags & VRING_DESC_F_INDIRECT)) {
            if (addr >= RAM_SIZE || len > RAM_SIZE - addr ||
                memcmp(ram_before + addr, ram + addr, len))
                return false;   /* outside RAM, or rewritten during the call */
            table = addr;
            n = len / 16;
            indirect = true;
            i = 0;
            steps = (unsigned)-1;
            continue;
        }
        if (flags & VRING_DESC_F_WRITE)
            total += len;
        if (!(flags & VRING_DESC_F_NEXT)) {
            *in_len = total;
            return true;
        }
        if (next >= n)
            return false;
        i = next;
    }
    return false;
}

/* Each used entry added by the handler reports at most the writable length
 * of its chain (skipped when the handler rewrote descriptor memory). */
static void
fuzz_check_used_len(Fuzz *f)
{
    HvrVirtioDev *dev = f->dev;
    unsigned q;

    for (q = 0; q < dev->model->nqueues; q++) {
        HvrVirtqueue *vq = &dev->q[q].vq;
        uint16_t k, n = vq->used_idx - f->used_seen[q];

        if (!vq->ready || !vq->used_idx || !n || n > vq->size ||
            memcmp(ram_before, ram, RAM_SIZE) == 0)
            continue;
        if (vq->desc + 16 * (uint64_t)vq->size > RAM_SIZE ||
            memcmp(ram_before + vq->desc, ram + vq->desc, 16 * (size_t)vq->size))
            continue;
        for (k = 0; k < n; k++) {
            uint16_t slot = (uint16_t)(f->used_seen[q] + k) % vq->size;
            uint64_t e = vq->used + 4 + 8 * (uint64_t)slot, in_len;
            uint32_t id = rd32(e), len = rd32(e + 4);

            if (k + 1 < n)
                continue;       /* later buffer writes may overlap earlier entries */
            if (id < vq->size && chain_in_len(ram_before, vq, (uint16_t)id, &in_len))
                fuzz_check(len <= in_len, "queue %u: used length %u for head %u, but the chain "
                           "has %" G_GUINT64_FORMAT " writable bytes", q, len, id, in_len);
        }
    }
}

static void
fuzz_confine_begin(void)
{
    memcpy(ram_before, ram, RAM_SIZE);
}

/* TRUE when a descriptor table of a ready queue (or an indirect table it
 * names) changed during the call: a buffer the device filled overlapped it,
 * so later chains of the same call were read from a table state that
 * neither image shows, and their buffers cannot be told apart. */
static bool
tables_changed(HvrVirtioDev *dev)
{
    unsigned q, i;

    for (q = 0; q < dev->model->nqueues; q++) {
        const HvrVirtqueue *vq = &dev->q[q].vq;
        uint64_t end = vq->desc + 16 * (uint64_t)vq->size;

        if (!vq->ready)
            continue;
        if (end > RAM_SIZE)
            continue;       /* a layout the device refuses */
        if (memcmp(ram_before + vq->desc, ram + vq->desc, end - vq->desc))
            return true;
        for (i = 0; i < vq->size; i++) {
            uint64_t d = vq->desc + 16 * (uint64_t)i, addr;
            uint32_t len;
            uint16_t flags;

            memcpy(&addr, ram_before + d, 8);
            memcpy(&len, ram_before + d + 8, 4);
            memcpy(&flags, ram_before + d + 12, 2);
            addr = GUINT64_FROM_LE(addr);
            len = GUINT32_FROM_LE(len);
            if (!(GUINT16_FROM_LE(flags) & VRING_DESC_F_INDIRECT))
                continue;
            if (addr >= RAM_SIZE || len > RAM_SIZE - addr)
                continue;   /* the device cannot read it */
            if (memcmp(ram_before + addr, ram + addr, len))
                return true;
        }
    }
    return false;
}

static void
fuzz_confine_check(Fuzz *f, const char *what)
{
    HvrVirtioDev *dev = f->dev;
    unsigned q;
    size_t i;

    if (!memcmp(ram_before, ram, RAM_SIZE))
        return;
    fuzz_check_used_len(f);
    if (tables_changed(dev))
        return;     /* RAM bounds are still checked by ASan and the canaries */
    memset(allowed, 0, sizeof(allowed));
    for (q = 0; q < dev->model->nqueues; q++) {
        HvrVirtqueue *vq = &dev->q[q].vq;

        if (!vq->ready)
            continue;
        allow(vq->used, 6 + 8 * (uint64_t)vq->size);
        allow_table(ram_before, vq->desc, vq->size, true);
        allow_table(ram, vq->desc, vq->size, true);
    }
    for (i = 0; i < RAM_SIZE; i++)
        fuzz_check(ram[i] == ram_before[i] || (allowed[i / 8] & (1 << (i % 8))),
                   "%s wrote guest RAM at 0x%zx (0x%02x -> 0x%02x) outside every used ring "
                   "and device-writable buffer", what, i, ram_before[i], ram[i]);
}

static void
fuzz_drain_peer(Fuzz *f)
{
    uint8_t buf[4096];

    if (f->peer < 0)
        return;
    while (recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

/* The I/O thread's loop body (hvr_virtio_pci.c), without blocking. */
static void
fuzz_pump(Fuzz *f)
{
    HvrVirtioDev *dev = f->dev;
    const HvrVirtioModel *model = dev->model;
    int round;

    for (round = 0; round < 4; round++) {
        struct pollfd pfd[1 + HVR_VIRTIO_MAX_QUEUES + HVR_VIRTIO_MAX_FDS];
        unsigned n = 0, i, nq = model->nqueues;
        eventfd_t cnt;
        int r;

        pfd[n++] = (struct pollfd){ .fd = dev->wake_fd, .events = POLLIN };
        for (i = 0; i < nq; i++)
            pfd[n++] = (struct pollfd){ .fd = dev->q[i].notify_fd, .events = POLLIN };
        g_mutex_lock(&dev->lock);
        for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++)
            pfd[n++] = (struct pollfd){ .fd = dev->extra_fd[i],
                                        .events = dev->extra_armed[i] ? POLLIN : 0 };
        g_mutex_unlock(&dev->lock);
        r = poll(pfd, n, 0);
        if (r <= 0)
            break;
        g_mutex_lock(&dev->lock);
        fuzz_in_device = true;
        if (pfd[0].revents) {
            eventfd_read(dev->wake_fd, &cnt);
            if (model->wake) {
                fuzz_confine_begin();
                model->wake(dev);
                fuzz_confine_check(f, "wake");
                fuzz_check_queues(f);
            }
            for (i = 0; i < nq; i++)
                if (hvr_virtio_queue_ready(dev, i) && model->queue_notify) {
                    fuzz_confine_begin();
                    model->queue_notify(dev, i);
                    fuzz_confine_check(f, "queue_notify");
                    fuzz_check_queues(f);
                }
        }
        for (i = 0; i < nq; i++) {
            if (!pfd[1 + i].revents)
                continue;
            eventfd_read(dev->q[i].notify_fd, &cnt);
            dev->q[i].kicks++;
            if (hvr_virtio_queue_ready(dev, i) && model->queue_notify) {
                fuzz_confine_begin();
                model->queue_notify(dev, i);
                fuzz_confine_check(f, "queue_notify");
                fuzz_check_queues(f);
            }
        }
        for (i = 0; i < HVR_VIRTIO_MAX_FDS; i++) {
            struct pollfd *p = &pfd[1 + nq + i];

            if (p->fd >= 0 && p->revents && model->fd_ready) {
                fuzz_confine_begin();
                model->fd_ready(dev, p->fd);
                fuzz_confine_check(f, "fd_ready");
                fuzz_check_queues(f);
            }
        }
        fuzz_in_device = false;
        g_mutex_unlock(&dev->lock);
        fuzz_drain_peer(f);
    }
#if FUZZ_DEVICE == 3
    /* backend input reaches the model on the main context */
    while (g_main_context_iteration(f->fm->m.ctx, FALSE))
        ;
#endif
}

static HvrVirtioDev *
fuzz_device_new(Fuzz *f, FuzzIn *in)
{
    HvrMachine *m = &f->fm->m;
    HvrPciSlotConfig sc = { .fd = -1 };
    g_autoptr(GError) err = NULL;
    gboolean ok;
    HvrDevice *hd;

    f->peer = f->memfd = -1;
#if FUZZ_DEVICE == 1
    {
        int sv[2];

        fuzz_check(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0,
                   "socketpair");
        fuzz_tap_fd = sv[0];
        f->peer = sv[1];
        sc.model = HVR_PCI_VIRTIO_NET;
        sc.fd = sv[0];
        sc.mac = (char *)"52:54:00:12:34:56";
        ok = hvr_virtio_net_create(m, SLOT, &sc, &err);
    }
#elif FUZZ_DEVICE == 2
    {
        static const uint64_t sizes[4] = { 0, 512, 4096, 16384 + 512 };
        uint8_t b = fuzz_u8(in);
        g_autofree char *path = NULL;

        f->memfd = memfd_create("hyve-fuzz-disk", MFD_CLOEXEC);
        fuzz_check(f->memfd >= 0 && ftruncate(f->memfd, sizes[b & 3] + (b & 4 ? 100 : 0)) == 0,
                   "memfd disk");
        path = g_strdup_printf("/proc/self/fd/%d", f->memfd);
        sc.model = HVR_PCI_VIRTIO_BLK;
        sc.path = path;
        sc.readonly = (b & 8) != 0;
        sc.serial = (b & 16) ? (char *)"fuzz-serial-0123456X" : NULL;
        ok = hvr_virtio_blk_create(m, SLOT, &sc, &err);
    }
#elif FUZZ_DEVICE == 3
    {
        g_autofree char *sock = g_build_filename(fuzz_tmpdir(), "console.sock", NULL);
        g_autofree char *spec = g_strconcat("unix:", sock, NULL);
        struct sockaddr_un sun = { .sun_family = AF_UNIX };

        sc.model = HVR_PCI_VIRTIO_CONSOLE;
        sc.backend = spec;
        ok = hvr_virtio_console_create(m, SLOT, &sc, &err);
        if (ok) {
            g_strlcpy(sun.sun_path, sock, sizeof(sun.sun_path));
            f->peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            fuzz_check(f->peer >= 0 &&
                       connect(f->peer, (struct sockaddr *)&sun, sizeof(sun)) == 0,
                       "console client: %s", g_strerror(errno));
            while (g_main_context_iteration(m->ctx, FALSE))
                ;       /* accept */
        }
    }
#else
    (void)in;
    sc.model = HVR_PCI_VIRTIO_RNG;
    ok = hvr_virtio_rng_create(m, SLOT, &sc, &err);
#endif
    fuzz_check(ok, "device creation failed: %s", err ? err->message : "?");
    hd = g_ptr_array_index(m->devices, m->devices->len - 1);
    hd->stop(hd->opaque);       /* fuzz_pump() plays the I/O thread */
    return hd->opaque;
}

/* Standard driver start: features, each queue at input-chosen offsets. */
static void
op_init(Fuzz *f, FuzzIn *in)
{
    HvrVirtioDev *dev = f->dev;
    uint32_t flo = fuzz_u32(in);
    uint8_t sizes = fuzz_u8(in);
    unsigned q;

    bar_write(dev, 20, 1, 0);
    bar_write(dev, 20, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
    bar_write(dev, 8, 4, 0);
    bar_write(dev, 12, 4, flo & (uint32_t)dev->model->features);
    bar_write(dev, 8, 4, 1);
    bar_write(dev, 12, 4, 1);
    bar_write(dev, 20, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    for (q = 0; q < dev->model->nqueues; q++) {
        bar_write(dev, 22, 2, q);
        bar_write(dev, 24, 2, 1u << ((sizes >> (4 * (q & 1))) & 7));
        bar_write(dev, 32, 4, fuzz_u16(in) & ~15u);
        bar_write(dev, 40, 4, fuzz_u16(in) & ~1u);
        bar_write(dev, 48, 4, fuzz_u16(in) & ~3u);
        bar_write(dev, 26, 2, q + 1);
        bar_write(dev, 28, 2, 1);
    }
    bar_write(dev, 16, 2, 0);
    bar_write(dev, 20, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
                          VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* A well-formed chain: nout readable buffers (data from the input), then
 * nin writable ones, put in the descriptor table from index @first and made
 * available. */
static void
op_chain(Fuzz *f, FuzzIn *in)
{
    HvrVirtioDev *dev = f->dev;
    unsigned q = fuzz_u8(in) % dev->model->nqueues;
    HvrVirtqueue *vq = &dev->q[q].vq;
    uint8_t shape = fuzz_u8(in);
    unsigned nout = shape & 7, nin = (shape >> 3) & 7, n = nout + nin, i;
    uint16_t first = fuzz_u8(in), idx;
    bool indirect = (shape & 0x40) != 0;
    uint64_t table = vq->desc;
    unsigned tsize = vq->size;

    if (!n || !tsize)
        return;
    if (indirect) {         /* the chain goes into an indirect table */
        table = f->buf_next;
        tsize = n;
        f->buf_next += 16 * n;
    }
    for (i = 0; i < n; i++) {
        unsigned d = (first + i) % tsize;
        uint32_t len;
        uint64_t a;

        if (indirect)
            d = i;
        len = i < nout ? fuzz_u8(in) : fuzz_u16(in) & 0x1FFF;
        if (f->buf_next + len > RAM_SIZE)
            f->buf_next = BUF_BASE;
        a = f->buf_next;
        f->buf_next += (len + 15) & ~15u;
        if (i < nout) {
            uint32_t k;

            for (k = 0; k < len; k++)
                if (a + k < RAM_SIZE)
                    ram[a + k] = fuzz_u8(in);
        }
        wr64(table + 16 * d, a);
        wr32(table + 16 * d + 8, len);
        wr16(table + 16 * d + 12, (i < nout ? 0 : VRING_DESC_F_WRITE) |
                                  (i + 1 < n ? VRING_DESC_F_NEXT : 0));
        wr16(table + 16 * d + 14, indirect ? i + 1 : (first + i + 1) % tsize);
    }
    if (indirect) {
        unsigned d = first % vq->size;

        wr64(vq->desc + 16 * d, table);
        wr32(vq->desc + 16 * d + 8, 16 * n);
        wr16(vq->desc + 16 * d + 12, VRING_DESC_F_INDIRECT);
    }
    idx = rd16(vq->avail + 2);
    wr16(vq->avail + 4 + 2 * (uint64_t)(idx % MAX(vq->size, 1)), first % MAX(vq->size, 1));
    wr16(vq->avail + 2, idx + 1);
    if (fuzz_u8(in) & 1)
        bar_write(dev, 0x3000 + 4 * q, 2, q);       /* doorbell */
}

static void
op_backend_input(Fuzz *f, FuzzIn *in)
{
    uint16_t len = fuzz_u8(in) * 8;
    g_autofree uint8_t *buf = g_malloc0(len + 1);
    uint16_t i;

    for (i = 0; i < len; i++)
        buf[i] = fuzz_u8(in);
    if (f->peer < 0)
        return;
#if FUZZ_DEVICE == 1
    (void)!send(f->peer, buf, len, MSG_DONTWAIT);      /* one frame */
#elif FUZZ_DEVICE == 3
    (void)!send(f->peer, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (g_main_context_iteration(f->fm->m.ctx, FALSE))
        ;       /* hvr_con_input, then the wake below */
#endif
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size, 0 };
    Fuzz f = { 0 };
    unsigned steps = 0;

    if (size > 4096)
        return 0;
    f.fm = fuzz_machine_new(RAM_SIZE, false);
    ram = f.fm->ram;
    f.buf_next = BUF_BASE;
    f.dev = fuzz_device_new(&f, &in);

    while (fuzz_more(&in) && steps++ < 256) {
        uint8_t op = fuzz_u8(&in);
        HvrVirtioDev *dev = f.dev;

        switch (op % 10) {
        case 0:
            op_init(&f, &in);
            break;
        case 1: {           /* BAR0 write */
            static const unsigned sz[4] = { 1, 2, 4, 8 };
            unsigned off = fuzz_u16(&in) & 0x7FFF, s = sz[fuzz_u8(&in) & 3];

            bar_write(dev, off, s, fuzz_u64(&in));
            break;
        }
        case 2: {           /* BAR0 read (ISR reads clear) */
            static const unsigned sz[4] = { 1, 2, 4, 8 };
            unsigned off = fuzz_u16(&in) & 0x7FFF, s = sz[fuzz_u8(&in) & 3];
            uint64_t v = 0;

            hvr_virtio_bar_access(dev, off, s, false, &v);
            break;
        }
        case 3: {           /* raw guest RAM bytes */
            uint16_t a = fuzz_u16(&in);
            uint8_t n = fuzz_u8(&in), i;

            for (i = 0; i < n; i++) {
                uint8_t b = fuzz_u8(&in);

                if ((uint32_t)a + i < RAM_SIZE)
                    ram[a + i] = b;
            }
            break;
        }
        case 4: {           /* one raw descriptor at the queue's table */
            unsigned q = fuzz_u8(&in) % dev->model->nqueues;
            HvrVirtqueue *vq = &dev->q[q].vq;
            uint64_t d = vq->desc + 16 * (uint64_t)(fuzz_u16(&in) % MAX(vq->size, 1));
            uint8_t wide = fuzz_u8(&in);
            uint64_t addr = wide & 1 ? fuzz_u64(&in) : fuzz_u16(&in);
            uint32_t len = wide & 2 ? fuzz_u32(&in) : fuzz_u16(&in);

            wr64(d, addr);
            wr32(d + 8, len);
            wr16(d + 12, fuzz_u8(&in) & 7);
            wr16(d + 14, fuzz_u16(&in));
            break;
        }
        case 5: {           /* available ring: entry + index (+ flags) */
            unsigned q = fuzz_u8(&in) % dev->model->nqueues;
            HvrVirtqueue *vq = &dev->q[q].vq;
            uint16_t head = fuzz_u16(&in), idx = rd16(vq->avail + 2), flags = fuzz_u8(&in);

            wr16(vq->avail + 4 + 2 * (uint64_t)(idx % MAX(vq->size, 1)), head);
            wr16(vq->avail, flags & 1);
            wr16(vq->avail + 2, idx + (flags & 2 ? fuzz_u16(&in) : 1));
            break;
        }
        case 6:
            op_chain(&f, &in);
            break;
        case 7: {           /* doorbell */
            unsigned q = fuzz_u8(&in) % HVR_VIRTIO_MAX_QUEUES;

            bar_write(dev, 0x3000 + 4 * q, 2, q);
            break;
        }
        case 8: {           /* PCI config space: MSI-X control and friends */
            static const unsigned sz[3] = { 1, 2, 4 };
            unsigned reg = fuzz_u8(&in), s = sz[fuzz_u8(&in) % 3];

            cfg_write(f.fm->m.pci, reg, s, fuzz_u32(&in));
            break;
        }
        case 9:
            op_backend_input(&f, &in);
            break;
        }
        fuzz_pump(&f);
    }
    if (g_getenv("FUZZ_RUNNER_VERBOSE")) {      /* seed checks: what the input reached */
        g_autoptr(GString) st = g_string_new(NULL);
        HvrDevice *hd = g_ptr_array_index(f.fm->m.devices, f.fm->m.devices->len - 1);
        unsigned q;

        hd->stats(hd->opaque, st);
        for (q = 0; q < f.dev->model->nqueues; q++)
            g_string_append_printf(st, " q%u.used=%u", q, f.dev->q[q].vq.used_idx);
        g_string_append_printf(st, " status=0x%x", f.dev->status);
        fprintf(stderr, "stats:%s\n", st->str);
    }
    if (f.peer >= 0)
        close(f.peer);
    fuzz_machine_free(f.fm);
#if FUZZ_DEVICE == 1
    fuzz_tap_fd = -1;
#elif FUZZ_DEVICE == 2
    close(f.memfd);
#endif
    return 0;
}
