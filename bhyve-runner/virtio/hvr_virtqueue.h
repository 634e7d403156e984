/*
 * hvr_virtqueue.h: split virtqueue (VIRTIO 1.x) with full validation of
 * everything the guest controls.
 *
 * Design note: the descriptor table, available ring and used ring live in
 * guest RAM and may change under our feet.  Every index read from the guest
 * is reduced or checked against the queue size, every descriptor's
 * [addr, addr+len) must lie entirely inside guest RAM (hvr_mem_gpa), chains
 * are bounded by the queue size (loop detection), indirect tables must be
 * negotiated, a multiple of 16 bytes, not nested and bounded too, and a
 * device-readable descriptor after a device-writable one is rejected.  Any
 * violation makes hvr_vq_pop() return -1 with a static reason: the caller
 * puts its device into the error state (DEVICE_NEEDS_RESET) and logs once.
 * Nothing guest-controlled can abort the process.
 *
 * Thread-safety: a queue is used by one thread at a time (its device's I/O
 * thread, under the device lock); the guest is the other party, synchronised
 * by the acquire/release ordering on avail.idx / used.idx.
 */
#ifndef HVR_VIRTQUEUE_H
#define HVR_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hvr_mem.h"

#define HVR_VQ_MAX_SIZE 1024
#define HVR_VQ_MAX_SEGS (HVR_VQ_MAX_SIZE * 2)

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

typedef struct {
    const HvrMem *mem;
    uint16_t size;              /* power of two, <= HVR_VQ_MAX_SIZE */
    uint64_t desc, avail, used; /* guest-physical */
    uint16_t last_avail;
    uint16_t used_idx;
    bool indirect;              /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
    bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX: avail flags ignored
                                 * (set by a model that checks used_event) */
    bool ready;
} HvrVirtqueue;

typedef struct {
    uint16_t head;
    unsigned nout;              /* device-readable segments: iov[0..nout) */
    unsigned nin;               /* device-writable: iov[nout..nout+nin) */
    size_t out_len, in_len;
    struct iovec iov[HVR_VQ_MAX_SEGS];
} HvrVqElem;

/* Check alignment and that the three areas lie in guest RAM.  Returns NULL
 * or a reason. */
const char *hvr_vq_check_layout(const HvrVirtqueue *vq);
/* 1 = element returned, 0 = ring empty, -1 = guest error (*why set). */
int hvr_vq_pop(HvrVirtqueue *vq, HvrVqElem *e, const char **why);
/* Put a processed element into the used ring (does not interrupt). */
void hvr_vq_push(HvrVirtqueue *vq, uint16_t head, uint32_t len);
/* TRUE if the driver wants an interrupt (avail.flags NO_INTERRUPT clear). */
bool hvr_vq_should_notify(HvrVirtqueue *vq);
/* TRUE when descriptors are waiting. */
bool hvr_vq_has_avail(HvrVirtqueue *vq);
/* The driver's avail.idx as it is now (acquire). */
uint16_t hvr_vq_avail_idx(HvrVirtqueue *vq);

/* VIRTIO_RING_F_EVENT_IDX, device side (a model that negotiated it sets
 * vq->event_idx).  avail_event (after the used ring) asks the driver for a
 * kick once it makes entry @idx available; a full barrier follows, so a
 * re-read of avail.idx afterwards cannot miss a buffer the driver added
 * without kicking.  Callers re-check hvr_vq_has_avail() after it. */
void hvr_vq_set_avail_event(HvrVirtqueue *vq, uint16_t idx);
/* After the entries [@old, used_idx) were pushed: does the driver want an
 * interrupt for them?  With event_idx: used.idx passed the driver's
 * used_event (read after a full barrier that orders it behind the used.idx
 * store); without: avail.flags NO_INTERRUPT clear.  FALSE if nothing was
 * pushed.  hvr_virtio_queue_interrupt() still applies hvr_vq_should_notify. */
bool hvr_vq_need_signal(HvrVirtqueue *vq, uint16_t old);

/* Copy helpers over iovec arrays; return bytes copied. */
size_t hvr_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t hvr_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);
/* Describe [skip, skip+len) of @iov in @dst (at most @max entries);
 * returns the number of entries. */
unsigned hvr_iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len,
                       struct iovec *dst, unsigned max);

#endif
