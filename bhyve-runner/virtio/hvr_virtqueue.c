/* hvr_virtqueue.c: split ring parsing with guest-input validation. */
#include <string.h>

#include "hvr_virtqueue.h"

typedef struct {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} HvrDesc;

static inline uint16_t
ld16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return GUINT16_FROM_LE(v);
}

static void
hvr_vq_read_desc(const uint8_t *table, unsigned i, HvrDesc *d)
{
    const uint8_t *p = table + 16 * (size_t)i;
    uint64_t a;
    uint32_t l;

    memcpy(&a, p, 8);
    memcpy(&l, p + 8, 4);
    d->addr = GUINT64_FROM_LE(a);
    d->len = GUINT32_FROM_LE(l);
    d->flags = ld16(p + 12);
    d->next = ld16(p + 14);
}

const char *
hvr_vq_check_layout(const HvrVirtqueue *vq)
{
    uint64_t n = vq->size;

    if (n == 0 || n > HVR_VQ_MAX_SIZE || (n & (n - 1)))
        return "queue size is not a power of two up to 1024";
    if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3))
        return "misaligned ring address";
    if (!hvr_mem_gpa(vq->mem, vq->desc, 16 * n))
        return "descriptor table outside guest RAM";
    if (!hvr_mem_gpa(vq->mem, vq->avail, 6 + 2 * n))
        return "available ring outside guest RAM";
    if (!hvr_mem_gpa(vq->mem, vq->used, 6 + 8 * n))
        return "used ring outside guest RAM";
    return NULL;
}

uint16_t
hvr_vq_avail_idx(HvrVirtqueue *vq)
{
    uint16_t *p = hvr_mem_gpa(vq->mem, vq->avail + 2, 2);

    return GUINT16_FROM_LE(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

bool
hvr_vq_has_avail(HvrVirtqueue *vq)
{
    return vq->ready && hvr_vq_avail_idx(vq) != vq->last_avail;
}

/* Append one buffer; enforce readable-before-writable. */
static const char *
hvr_vq_add(HvrVirtqueue *vq, HvrVqElem *e, const HvrDesc *d)
{
    void *host;

    if (e->nout + e->nin >= HVR_VQ_MAX_SEGS)
        return "too many segments in a chain";
    if (d->len == 0)
        return NULL;     /* empty buffers are legal and carry nothing */
    host = hvr_mem_gpa(vq->mem, d->addr, d->len);
    if (!host)
        return "descriptor buffer outside guest RAM";
    if (d->flags & VRING_DESC_F_WRITE) {
        e->iov[e->nout + e->nin].iov_base = host;
        e->iov[e->nout + e->nin].iov_len = d->len;
        e->nin++;
        e->in_len += d->len;
    } else {
        if (e->nin)
            return "device-readable descriptor after a device-writable one";
        e->iov[e->nout].iov_base = host;
        e->iov[e->nout].iov_len = d->len;
        e->nout++;
        e->out_len += d->len;
    }
    return NULL;
}

static const char *
hvr_vq_walk_indirect(HvrVirtqueue *vq, HvrVqElem *e, const HvrDesc *ind)
{
    const uint8_t *table;
    unsigned n, i, steps;
    HvrDesc d;
    const char *why;

    if (!vq->indirect)
        return "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC";
    if (ind->flags & VRING_DESC_F_NEXT)
        return "indirect descriptor with NEXT flag";
    if (ind->len == 0 || (ind->len & 15) || ind->len / 16 > HVR_VQ_MAX_SIZE)
        return "bad indirect table length";
    n = ind->len / 16;
    table = hvr_mem_gpa(vq->mem, ind->addr, ind->len);
    if (!table)
        return "indirect table outside guest RAM";
    i = 0;
    for (steps = 0;; steps++) {
        if (steps >= n)
            return "loop in indirect descriptor chain";
        hvr_vq_read_desc(table, i, &d);
        if (d.flags & VRING_DESC_F_INDIRECT)
            return "nested indirect descriptor";
        if ((why = hvr_vq_add(vq, e, &d)))
            return why;
        if (!(d.flags & VRING_DESC_F_NEXT))
            return NULL;
        if (d.next >= n)
            return "indirect descriptor index out of range";
        i = d.next;
    }
}

int
hvr_vq_pop(HvrVirtqueue *vq, HvrVqElem *e, const char **why)
{
    const uint8_t *table;
    uint16_t avail_idx, head, i;
    unsigned steps;
    HvrDesc d;

    *why = NULL;
    if (!vq->ready)
        return 0;
    avail_idx = hvr_vq_avail_idx(vq);
    if (avail_idx == vq->last_avail)
        return 0;
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
        *why = "available index moved by more than the queue size";
        return -1;
    }
    head = ld16(hvr_mem_gpa(vq->mem, vq->avail + 4 + 2 * (uint64_t)(vq->last_avail % vq->size), 2));
    if (head >= vq->size) {
        *why = "available ring entry out of range";
        return -1;
    }
    table = hvr_mem_gpa(vq->mem, vq->desc, 16 * (uint64_t)vq->size);
    e->head = head;
    e->nout = e->nin = 0;
    e->out_len = e->in_len = 0;
    i = head;
    for (steps = 0;; steps++) {
        if (steps >= vq->size) {
            *why = "loop in descriptor chain";
            return -1;
        }
        hvr_vq_read_desc(table, i, &d);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (steps > 0 || (d.flags & VRING_DESC_F_NEXT)) {
                *why = "indirect descriptor inside a chain";
                return -1;
            }
            if ((*why = hvr_vq_walk_indirect(vq, e, &d)))
                return -1;
            break;
        }
        if ((*why = hvr_vq_add(vq, e, &d)))
            return -1;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= vq->size) {
            *why = "descriptor index out of range";
            return -1;
        }
        i = d.next;
    }
    vq->last_avail++;
    return 1;
}

void
hvr_vq_push(HvrVirtqueue *vq, uint16_t head, uint32_t len)
{
    uint8_t *used = hvr_mem_gpa(vq->mem, vq->used, 6 + 8 * (uint64_t)vq->size);
    uint8_t *ent = used + 4 + 8 * (size_t)(vq->used_idx % vq->size);
    uint32_t id = GUINT32_TO_LE(head), l = GUINT32_TO_LE(len);
    uint16_t idx;

    memcpy(ent, &id, 4);
    memcpy(ent + 4, &l, 4);
    vq->used_idx++;
    idx = GUINT16_TO_LE(vq->used_idx);
    __atomic_store_n((uint16_t *)(used + 2), idx, __ATOMIC_RELEASE);
}

bool
hvr_vq_should_notify(HvrVirtqueue *vq)
{
    const uint16_t *flags = hvr_mem_gpa(vq->mem, vq->avail, 2);

    if (vq->event_idx)
        return true;        /* the device MUST ignore flags (virtio 1.x 2.7.7.2) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return !(GUINT16_FROM_LE(__atomic_load_n(flags, __ATOMIC_ACQUIRE)) & 1);
}

void
hvr_vq_set_avail_event(HvrVirtqueue *vq, uint16_t idx)
{
    uint8_t *u = hvr_mem_gpa(vq->mem, vq->used, 6 + 8 * (uint64_t)vq->size);

    if (u)
        __atomic_store_n((uint16_t *)(u + 4 + 8 * (size_t)vq->size),
                         GUINT16_TO_LE(idx), __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool
hvr_vq_need_signal(HvrVirtqueue *vq, uint16_t old)
{
    const uint8_t *a;
    uint16_t ev;

    if (vq->used_idx == old)
        return false;
    if (!vq->event_idx)
        return hvr_vq_should_notify(vq);
    a = hvr_mem_gpa(vq->mem, vq->avail, 6 + 2 * (uint64_t)vq->size);
    if (!a)
        return false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    ev = GUINT16_FROM_LE(__atomic_load_n((const uint16_t *)(a + 4 + 2 * (size_t)vq->size),
                                         __ATOMIC_ACQUIRE));
    /* used.idx moved from @old past ev (the spec's vring_need_event) */
    return (uint16_t)(vq->used_idx - ev - 1) < (uint16_t)(vq->used_idx - old);
}

size_t
hvr_iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
    size_t done = 0;
    unsigned i;

    for (i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        l = MIN(l - skip, len - done);
        memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, l);
        done += l;
        skip = 0;
    }
    return done;
}

size_t
hvr_iov_from_buf(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
    size_t done = 0;
    unsigned i;

    for (i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        l = MIN(l - skip, len - done);
        memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, l);
        done += l;
        skip = 0;
    }
    return done;
}

unsigned
hvr_iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len,
              struct iovec *dst, unsigned max)
{
    unsigned i, k = 0;

    for (i = 0; i < n && len > 0 && k < max; i++) {
        size_t l = iov[i].iov_len;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        l = MIN(l - skip, len);
        dst[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
        dst[k].iov_len = l;
        k++;
        len -= l;
        skip = 0;
    }
    return k;
}
