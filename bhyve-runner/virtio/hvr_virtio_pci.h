/*
 * hvr_virtio_pci.h: modern virtio-pci transport (VIRTIO 1.x) with MSI-X.
 *
 * Design note: one 32 KiB memory BAR0 holds common config (0x0000), ISR
 * (0x1000), device config (0x2000), notify doorbells (0x3000, multiplier 4:
 * one doorbell per queue) and the MSI-X table (0x4000) and PBA (0x5000).
 * Interrupt Pin is 0 (no INTx).  Notifications arrive on one eventfd per
 * queue, registered as a KVM ioeventfd on the doorbell (re-registered when
 * the guest moves the BAR); a doorbell write that exits to userspace
 * (ioeventfd unavailable) signals the same eventfd.  Interrupts go through
 * one eventfd per MSI-X vector bound with KVM_IRQFD to an MSI route that
 * follows the guest's table entry; masked vectors set their PBA bit and
 * fire on unmask.
 *
 * Each device has ONE I/O thread (never a vCPU thread) that polls the queue
 * eventfds, a wake eventfd and optional device fds, and calls the model's
 * handlers.  Guest errors in a queue set DEVICE_NEEDS_RESET, log once and
 * stop the queue until the driver resets the device.
 *
 * Thread-safety: `lock` guards the transport state (status, features, queue
 * registers, MSI-X table) and everything a model keeps in its state; vCPU
 * threads take it for BAR accesses, the I/O thread for queue processing;
 * model handlers are always called with it held.  Lock order: PCI bus lock,
 * then device lock.
 */
#ifndef HVR_VIRTIO_PCI_H
#define HVR_VIRTIO_PCI_H

#include "hvr_machine.h"
#include "hvr_pci.h"
#include "hvr_virtqueue.h"

#define VIRTIO_F_VERSION_1      32
#define VIRTIO_RING_F_INDIRECT  28

#define VIRTIO_STATUS_ACK         0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

#define HVR_VIRTIO_MAX_QUEUES 4
#define HVR_VIRTIO_MAX_FDS    2

typedef struct _HvrVirtioDev HvrVirtioDev;

typedef struct {
    const char *name;
    uint16_t type;              /* virtio device type: 1 net, 2 blk, 3 console, 4 rng */
    uint32_t class_code;
    unsigned nqueues;
    uint16_t queue_size;
    uint64_t features;          /* device features (VERSION_1 is added) */
    unsigned config_size;       /* bytes of device config */
    /* All handlers run with dev->lock held, on the I/O thread unless noted. */
    void (*queue_notify)(HvrVirtioDev *dev, unsigned q);
    void (*fd_ready)(HvrVirtioDev *dev, int fd);   /* extra fds */
    void (*wake)(HvrVirtioDev *dev);               /* hvr_virtio_wake() */
    void (*reset)(HvrVirtioDev *dev);              /* on a vCPU thread */
    void (*config_write)(HvrVirtioDev *dev, unsigned off, unsigned size, uint64_t val);
    void (*stats)(HvrVirtioDev *dev, GString *out);
    void (*free)(HvrVirtioDev *dev);
} HvrVirtioModel;

struct _HvrVirtioDev {
    const HvrVirtioModel *model;
    HvrMachine *m;
    HvrPciDev pci;
    void *state;                /* the model's own state */
    GMutex lock;
    uint8_t config[256];        /* device config (model writes, under lock) */

    /* transport state, lock */
    uint32_t dfeat_sel, gfeat_sel;
    uint64_t driver_features;
    uint8_t status;
    uint8_t isr;
    uint8_t config_gen;
    uint16_t queue_sel;
    uint16_t msix_config;
    struct {
        HvrVirtqueue vq;
        uint16_t vector;
        uint16_t enable;
        int notify_fd;
        bool ioeventfd;
        bool broken;
        uint64_t kicks;
    } q[HVR_VIRTIO_MAX_QUEUES];
    unsigned nvectors;
    struct {
        uint32_t addr_lo, addr_hi, data, ctrl;
        int irqfd;
        int gsi;
    } msix[HVR_VIRTIO_MAX_QUEUES + 1];
    uint64_t pba;
    bool msix_enabled, msix_masked;
    uint64_t interrupts;
    int error_logged;

    /* I/O thread */
    GThread *thread;
    int wake_fd;
    bool stopping;              /* lock */
    int extra_fd[HVR_VIRTIO_MAX_FDS];
    bool extra_armed[HVR_VIRTIO_MAX_FDS];  /* lock: poll for POLLIN */
};

/* Create the transport for @model in PCI @slot; hvr_virtio_start() adds it
 * to the machine, whose hvr_machine_run() starts its I/O thread (through
 * HvrDevice.start, after the sandbox).  The model's state must be set in
 * dev->state by the caller before hvr_virtio_start(). */
HvrVirtioDev *hvr_virtio_new(HvrMachine *m, const HvrVirtioModel *model, int slot,
                             GError **error);
gboolean hvr_virtio_start(HvrVirtioDev *dev, GError **error);
/* Add an fd the I/O thread polls (armed = polled for input). */
void hvr_virtio_add_fd(HvrVirtioDev *dev, int fd, bool armed);
void hvr_virtio_arm_fd(HvrVirtioDev *dev, int fd, bool armed);   /* lock held */
/* Wake the I/O thread (any thread, lock not required). */
void hvr_virtio_wake(HvrVirtioDev *dev);
/* Signal the guest that queue @q has used buffers (lock held). */
void hvr_virtio_queue_interrupt(HvrVirtioDev *dev, unsigned q);
/* Guest error on queue @q: DEVICE_NEEDS_RESET + config interrupt (lock held). */
void hvr_virtio_queue_error(HvrVirtioDev *dev, unsigned q, const char *why);
/* Handles one popped element; returns the bytes it wrote into the
 * element's device-writable buffers (the used length). */
typedef uint32_t (*HvrVirtioElemFunc)(HvrVirtioDev *dev, HvrVqElem *elem);
/* Pops every available element of queue @q into @elem, hands each to @fn
 * and pushes it back used; then signals the guest once if anything was
 * used, and puts the queue in its error state when the ring is malformed
 * (lock held). */
void hvr_virtio_queue_drain(HvrVirtioDev *dev, unsigned q, HvrVqElem *elem,
                            HvrVirtioElemFunc fn);
/* TRUE when the driver is running and queue @q is usable (lock held). */
bool hvr_virtio_queue_ready(HvrVirtioDev *dev, unsigned q);

/* BAR0 access (exposed for tests). */
void hvr_virtio_bar_access(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val);

#endif
