/* hvr_mem.c: guest RAM allocation and guest-physical translation. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "hvr_error.h"
#include "hvr_mem.h"

static void
hvr_mem_split(HvrMem *mem)
{
    mem->lowmem = MIN(mem->size, HVR_LOWMEM_LIMIT);
    mem->highmem = mem->size - mem->lowmem;
}

#define HVR_MEM_ALIGN (2ULL << 20)

/*
 * Maps @size bytes starting on a 2 MiB boundary. KVM backs guest memory
 * with 2 MiB nested pages only where the guest-physical and host-virtual
 * addresses agree modulo 2 MiB; a plain mmap() of guest RAM is only 4 KiB
 * aligned, which costs one nested-page fault per 4 KiB touched (measured
 * in the lab: ~28k faults before init instead of ~60). Over-map by 2 MiB
 * and drop the tail. The head slack stays mapped PROT_NONE (*guard bytes):
 * unmapped, it would let the next mapping (a thread stack, mmap grows
 * down) end exactly on a 2 MiB boundary, where THP "always" backs the
 * stack's top with a whole huge page (+2 MiB RSS measured in the lab).
 */
static void *
hvr_mem_map_aligned(uint64_t size, int flags, uint64_t *guard)
{
    uint8_t *p, *start;
    uint64_t head, tail;

    p = mmap(NULL, size + HVR_MEM_ALIGN, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return MAP_FAILED;
    start = (uint8_t *)(((uintptr_t)p + HVR_MEM_ALIGN - 1) & ~(uintptr_t)(HVR_MEM_ALIGN - 1));
    head = start - p;
    tail = HVR_MEM_ALIGN - head;
    if (head)
        mprotect(p, head, PROT_NONE);
    if (tail)
        munmap(start + size, tail);
    *guard = head;
    return start;
}

HvrMem *
hvr_mem_new(uint64_t size, bool hugepages, bool mergeable, GError **error)
{
    g_autofree HvrMem *mem = g_new0(HvrMem, 1);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p;

    if (hugepages) {
        /* No MAP_NORESERVE: reserve the huge pages now, so that a short
         * pool fails here with ENOMEM instead of SIGBUS in the guest. */
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
        size = (size + HVR_MEM_ALIGN - 1) & ~(HVR_MEM_ALIGN - 1);
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    } else {
        p = hvr_mem_map_aligned(size, flags, &mem->guard);
    }
    if (p == MAP_FAILED) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "cannot map %" G_GUINT64_FORMAT " MiB of guest memory%s: %s",
                    size >> 20, hugepages ? " with huge pages" : "", g_strerror(errno));
        return NULL;
    }
    if (mergeable && madvise(p, size, MADV_MERGEABLE) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "cannot mark guest memory mergeable (KSM): %s", g_strerror(errno));
        munmap((uint8_t *)p - mem->guard, size + mem->guard);
        return NULL;
    }
    /* Advice only: transparent huge pages may be disabled (EINVAL), and
     * KSM merges 4 KiB pages, so mergeable memory does not ask for them.
     * A forked child (e.g. a tap helper) never needs guest RAM. */
    if (!hugepages && !mergeable)
        (void)madvise(p, size, MADV_HUGEPAGE);
    (void)madvise(p, size, MADV_DONTFORK);
    mem->host = p;
    mem->size = size;
    mem->owned = true;
    hvr_mem_split(mem);
    return g_steal_pointer(&mem);
}

HvrMem *
hvr_mem_new_from(uint8_t *host, uint64_t size)
{
    HvrMem *mem = g_new0(HvrMem, 1);

    mem->host = host;
    mem->size = size;
    hvr_mem_split(mem);
    return mem;
}

void
hvr_mem_free(HvrMem *mem)
{
    if (!mem)
        return;
    if (mem->owned)
        munmap(mem->host - mem->guard, mem->size + mem->guard);
    g_free(mem);
}

void *
hvr_mem_gpa(const HvrMem *mem, uint64_t gpa, uint64_t len)
{
    if (len > mem->size)
        return NULL;
    if (gpa < mem->lowmem) {
        if (len > mem->lowmem - gpa)
            return NULL;
        return mem->host + gpa;
    }
    if (gpa >= HVR_HIGHMEM_BASE && gpa - HVR_HIGHMEM_BASE < mem->highmem) {
        uint64_t off = gpa - HVR_HIGHMEM_BASE;

        if (len > mem->highmem - off)
            return NULL;
        return mem->host + mem->lowmem + off;
    }
    return NULL;
}
