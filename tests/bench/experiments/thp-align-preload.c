/* thp-align-preload.c: experiment used by the 2026-11-26 benchmark, not part
 * of any build.  An LD_PRELOAD library that makes bhyve-runner's guest RAM
 * mapping (any anonymous, accessible mmap of 64 MiB or more) start on a 2 MiB
 * boundary and marks it MADV_HUGEPAGE, as QEMU does for its RAM blocks.
 *
 * KVM maps guest memory with 2 MiB nested (NPT/EPT) pages only where the
 * guest-physical and host-virtual addresses are congruent modulo 2 MiB;
 * Linux 6.1 does not align large anonymous mappings by itself, so without
 * this every guest page is a 4 KiB NPT fault (pages_2m = 0 in KVM's
 * debugfs).  THPX_DROP_NORESERVE=1 drops MAP_NORESERVE, THPX_POPULATE=1
 * prefaults the whole mapping (MADV_POPULATE_WRITE).
 *
 *   gcc -O2 -shared -fPIC -o thp-align.so thp-align-preload.c
 *   printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' $PWD/thp-align.so \
 *       $PWD/../../../build/bhyve-runner/bhyve-runner > runner-thp
 *   chmod +x runner-thp
 *   tests/bench/bench-runner --also-runner thp=$PWD/runner-thp
 *
 * The runner is built with _FILE_OFFSET_BITS=64, so it calls mmap64: both
 * names are interposed. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    const size_t A = 2UL << 20;
    if (!addr && (flags & MAP_ANONYMOUS) && len >= (64UL << 20) && prot != PROT_NONE) {
        int f = flags;
        if (getenv("THPX_DROP_NORESERVE")) f &= ~MAP_NORESERVE;
        char *p = (char *)syscall(SYS_mmap, NULL, len + A, prot, f, fd, off);
        if (p == MAP_FAILED)
            return p;
        uintptr_t a = ((uintptr_t)p + A - 1) & ~(A - 1);
        if (a > (uintptr_t)p)
            syscall(SYS_munmap, p, a - (uintptr_t)p);
        if ((uintptr_t)p + len + A > a + len)
            syscall(SYS_munmap, a + len, (uintptr_t)p + len + A - (a + len));
        syscall(SYS_madvise, a, len, MADV_HUGEPAGE);
        if (getenv("THPX_POPULATE"))
            syscall(SYS_madvise, a, len, 23 /* MADV_POPULATE_WRITE */);
        return (void *)a;
    }
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}
