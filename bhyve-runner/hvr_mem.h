/*
 * hvr_mem.h: guest RAM.
 *
 * Design note: RAM is one anonymous private mapping (MAP_NORESERVE, optional
 * MAP_HUGETLB, optional MADV_MERGEABLE) split in two guest ranges: low RAM
 * [0, lowmem) and, above 3 GiB of RAM, high RAM [4 GiB, 4 GiB + highmem).
 * hvr_mem_gpa() is the single bounds-checked translation every device uses
 * for guest-controlled addresses.
 *
 * Thread-safety: immutable after hvr_mem_new(); translation is lock-free and
 * may be called from any thread.  Guest memory contents are shared with the
 * guest: devices must treat them as untrusted and copy before validating.
 */
#ifndef HVR_MEM_H
#define HVR_MEM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define HVR_LOWMEM_LIMIT 0xC0000000ULL
#define HVR_HIGHMEM_BASE 0x100000000ULL

typedef struct {
    uint8_t *host;          /* whole mapping */
    uint64_t size;          /* total RAM */
    uint64_t lowmem;        /* RAM mapped at GPA 0 */
    uint64_t highmem;       /* RAM mapped at 4 GiB */
    bool owned;             /* munmap on free */
    uint64_t guard;         /* PROT_NONE alignment slack kept just below host */
} HvrMem;

HvrMem *hvr_mem_new(uint64_t size, bool hugepages, bool mergeable, GError **error);
/* A view over caller memory (tests). */
HvrMem *hvr_mem_new_from(uint8_t *host, uint64_t size);
void hvr_mem_free(HvrMem *mem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrMem, hvr_mem_free)

/* Host pointer for [gpa, gpa+len) or NULL if not entirely RAM. */
void *hvr_mem_gpa(const HvrMem *mem, uint64_t gpa, uint64_t len);

#endif
