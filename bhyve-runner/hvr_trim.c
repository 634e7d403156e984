/* hvr_trim.c: give back what only the setup needed, before the VM runs.
 *
 * Setup (option parsing, config, ELF loading of GLib and friends, reading
 * the kernel and initrd, ACPI tables) touches far more library code than
 * the running VM does; every such page stays mapped and counts in the
 * runner's RSS (measured in the lab: ~2.9 MiB of the ~3.1 MiB overhead
 * were file-backed pages of libc, GLib, libm, ld.so).  Dropping the page
 * table entries of read-only, unmodified file mappings costs nothing: the
 * pages stay in the page cache, and the ones the run loop needs fault back
 * in on first use.  Mappings holding private copies (relocated RELRO data,
 * anything writable) are never touched: MADV_DONTNEED would throw their
 * contents away.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "hvr_mem.h"

typedef struct {
    uintptr_t start, end;
} HvrSpan;

/* One smaps entry header: "start-end perms offset dev inode [path]". */
static gboolean
hvr_trim_parse_head(const char *line, HvrSpan *span, gboolean *candidate)
{
    unsigned long start, end, inode;
    char perms[5];

    if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, perms, &inode) != 4)
        return FALSE;
    span->start = start;
    span->end = end;
    /* read-only private file mapping: r--p or r-xp */
    *candidate = inode != 0 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p';
    return TRUE;
}

unsigned
hvr_trim_setup_pages(void)
{
    g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(HvrSpan));
    FILE *f = fopen("/proc/self/smaps", "re");
    char line[512];
    HvrSpan cur = { 0, 0 };
    gboolean candidate = FALSE;
    unsigned i, n = 0;

    (void)malloc_trim(0);
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long kb;

        if (strchr(line, '-') && hvr_trim_parse_head(line, &cur, &candidate))
            continue;
        if (candidate && sscanf(line, "Anonymous: %lu kB", &kb) == 1) {
            if (kb == 0)
                g_array_append_val(spans, cur);
            candidate = FALSE;
        }
    }
    fclose(f);
    for (i = 0; i < spans->len; i++) {
        HvrSpan *s = &g_array_index(spans, HvrSpan, i);

        if (madvise((void *)s->start, s->end - s->start, MADV_DONTNEED) == 0)
            n++;
    }
    return n;
}
