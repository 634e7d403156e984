/* hvr_kernel_cache.c: the decompressed-kernel cache directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvr_error.h"
#include "hvr_kernel.h"
#include "hvr_machine.h"

/* Cache file: this header, then the vmlinux's first elf_len bytes. */
#define CACHE_MAGIC     "HYVEVMLX"
#define CACHE_VERSION   1
#define CACHE_HDR_SIZE  64
#define CACHE_ELF_HDR   65536   /* ELF + program headers are read from here */

static void st64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint64_t ld64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void
hvr_kernel_id_from_stat(const struct stat *st, HvrKernelId *id)
{
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
    id->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ULL + st->st_ctim.tv_nsec;
}

static void
cache_header(uint8_t h[CACHE_HDR_SIZE], const HvrKernelId *id, uint64_t elf_len)
{
    memset(h, 0, CACHE_HDR_SIZE);
    memcpy(h, CACHE_MAGIC, 8);
    h[8] = CACHE_VERSION;
    st64(h + 16, id->dev);
    st64(h + 24, id->ino);
    st64(h + 32, id->size);
    st64(h + 40, id->mtime_ns);
    st64(h + 48, id->ctime_ns);
    st64(h + 56, elf_len);
}

char *
hvr_kernel_cache_name(const HvrKernelId *id)
{
    uint8_t h[CACHE_HDR_SIZE];
    g_autofree char *sum = NULL;

    cache_header(h, id, 0);
    sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, h, sizeof(h));
    return g_strconcat("vmlinux-", sum, NULL);
}

/* A file or directory the runner trusts: ours, not writable by others. */
static gboolean
cache_trusted(int fd, gboolean dir, GError **error)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "fstat: %s", g_strerror(errno));
        return FALSE;
    }
    if ((dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_OPERATION_INVALID,
                    "not a %s owned by uid %u and writable only by it",
                    dir ? "directory" : "regular file", (unsigned)geteuid());
        return FALSE;
    }
    return TRUE;
}

static gboolean
pread_all(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
    while (len) {
        ssize_t r = pread(fd, buf, MIN(len, (uint64_t)1 << 30), off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return FALSE;
        buf += r;
        off += r;
        len -= r;
    }
    return TRUE;
}

static gboolean
write_all(int fd, const uint8_t *buf, uint64_t len)
{
    while (len) {
        ssize_t r = write(fd, buf, MIN(len, (uint64_t)1 << 30));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return FALSE;
        buf += r;
        len -= r;
    }
    return TRUE;
}

/* Where the kernel proper may end: below the 32-bit hole and inside what
 * the bzImage says it needs (0x1000000 + init_size), so the initrd that is
 * placed above that never collides with a segment (a cache file or payload
 * that asks for more falls back to the bzImage). */
static uint64_t
kernel_top(const HvrMem *mem, const HvrBzImage *bz)
{
    return MIN(mem->lowmem, 0x1000000ULL + bz->init_size);
}

/* Hit: validate the cache file @fd against the kernel and pread its
 * segments into guest RAM. */
static gboolean
cache_read(HvrMem *mem, int fd, const HvrKernelId *id, uint64_t top, HvrElf *elf,
           GError **error)
{
    uint8_t want[CACHE_HDR_SIZE], got[CACHE_HDR_SIZE];
    g_autofree uint8_t *hdr = NULL;
    uint64_t elf_len, hdr_len;
    struct stat st;
    unsigned i;

    if (!cache_trusted(fd, FALSE, error))
        return FALSE;
    if (fstat(fd, &st) < 0 || st.st_size < CACHE_HDR_SIZE ||
        !pread_all(fd, got, CACHE_HDR_SIZE, 0)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED, "truncated cache file");
        return FALSE;
    }
    elf_len = ld64(got + 56);
    cache_header(want, id, elf_len);
    if (memcmp(want, got, CACHE_HDR_SIZE) != 0 ||
        (uint64_t)st.st_size - CACHE_HDR_SIZE != elf_len) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED,
                    "cache file header does not match the kernel file");
        return FALSE;
    }
    hdr_len = MIN(elf_len, CACHE_ELF_HDR);
    hdr = g_malloc(hdr_len ? hdr_len : 1);
    if (!pread_all(fd, hdr, hdr_len, CACHE_HDR_SIZE)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED, "cannot read the cache file");
        return FALSE;
    }
    if (!hvr_elf_parse(hdr, hdr_len, elf_len, top, elf, error))
        return FALSE;
    for (i = 0; i < elf->n; i++) {
        const HvrElfLoad *l = &elf->load[i];
        uint8_t *dst = hvr_mem_gpa(mem, l->paddr, l->memsz);

        if (!dst || !pread_all(fd, dst, l->filesz, CACHE_HDR_SIZE + l->offset)) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_READ_FAILED, "cannot read the cache file");
            return FALSE;
        }
        memset(dst + l->filesz, 0, l->memsz - l->filesz);
    }
    return TRUE;
}

/* Miss: decompress, validate, load into guest RAM, then store (temp file,
 * fdatasync, rename). FALSE (@error) only when nothing was loaded. */
static gboolean
cache_fill(HvrMem *mem, int dfd, const char *name, const HvrKernelId *id,
           const uint8_t *kdata, size_t klen, const HvrBzImage *bz, HvrElf *elf,
           size_t *elf_len, GError **store_error, GError **error)
{
    g_autofree uint8_t *out = NULL;
    g_autofree char *tmp = NULL;
    uint8_t h[CACHE_HDR_SIZE];
    unsigned i;
    int fd;
    gboolean ok;

    if (!(out = hvr_kernel_decompress(kdata, klen, bz, mem->lowmem, elf_len, error)) ||
        !hvr_elf_parse(out, *elf_len, *elf_len, kernel_top(mem, bz), elf, error))
        return FALSE;
    for (i = 0; i < elf->n; i++) {
        const HvrElfLoad *l = &elf->load[i];
        uint8_t *dst = hvr_mem_gpa(mem, l->paddr, l->memsz);

        memcpy(dst, out + l->offset, l->filesz);
        memset(dst + l->filesz, 0, l->memsz - l->filesz);
    }
    tmp = g_strdup_printf(".%s.%d.%08x", name, (int)getpid(), g_random_int());
    /* from here on the vmlinux is in guest RAM: a failed store is reported
     * in @store_error and the boot goes on from RAM */
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(store_error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot create %s: %s", tmp,
                    g_strerror(errno));
        return TRUE;
    }
    cache_header(h, id, elf->file_end);
    /* on disk before the rename: after a host crash the name holds the
     * whole file or nothing (a hit checks headers, not every byte) */
    ok = write_all(fd, h, sizeof(h)) && write_all(fd, out, elf->file_end) &&
         fdatasync(fd) == 0;
    if (!ok)
        g_set_error(store_error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot write %s: %s", tmp,
                    g_strerror(errno ? errno : ENOSPC));
    if (close(fd) < 0 && ok) {
        g_set_error(store_error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot write %s: %s", tmp,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (ok && renameat(dfd, tmp, dfd, name) < 0) {
        g_set_error(store_error, HVR_ERROR, HVR_ERROR_SYSTEM, "cannot rename %s: %s", tmp,
                    g_strerror(errno));
        ok = FALSE;
    }
    if (!ok)
        (void)unlinkat(dfd, tmp, 0);
    return TRUE;
}

/* Removes @name only while it is still the file @fd read (another runner
 * may have replaced it meanwhile). */
static void
cache_remove(int dfd, const char *name, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) == 0 && fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        (void)unlinkat(dfd, name, 0);
}

HvrKernelBoot
hvr_kernel_cache_load(HvrMem *mem, const char *dir, const char *kernel,
                      const struct stat *kst, const uint8_t *kdata, size_t klen,
                      const HvrBzImage *bz, HvrElf *elf)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) store_err = NULL;
    g_autofree char *name = NULL;
    HvrKernelId id;
    int dfd, fd;
    gint64 t0 = g_get_monotonic_time();
    size_t elf_len = 0;
    HvrKernelBoot res = HVR_KERNEL_BZIMAGE;

    hvr_kernel_id_from_stat(kst, &id);
    name = hvr_kernel_cache_name(&id);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        hvr_log("kernel: cache %s unusable (%s); booting the bzImage", dir, g_strerror(errno));
        return HVR_KERNEL_BZIMAGE;
    }
    if (!cache_trusted(dfd, TRUE, &err)) {
        hvr_log("kernel: cache %s unusable (%s); booting the bzImage", dir, err->message);
        close(dfd);
        return HVR_KERNEL_BZIMAGE;
    }
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (cache_read(mem, fd, &id, kernel_top(mem, bz), elf, &err)) {
            hvr_log("kernel: booting the cached vmlinux of %s", kernel);
            res = HVR_KERNEL_CACHE_HIT;
        } else {
            hvr_log("kernel: cache file %s/%s removed (%s); booting the bzImage", dir, name,
                    err->message);
            cache_remove(dfd, name, fd);
        }
        close(fd);
    } else if (errno != ENOENT) {
        hvr_log("kernel: cannot open %s/%s (%s); booting the bzImage", dir, name,
                g_strerror(errno));
    } else if (faccessat(dfd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
        /* nowhere to store it: decompressing here would only add to the boot */
        hvr_log("kernel: cache %s not writable (%s); booting the bzImage", dir,
                g_strerror(errno));
    } else if (cache_fill(mem, dfd, name, &id, kdata, klen, bz, elf, &elf_len, &store_err,
                          &err)) {
        if (store_err)
            hvr_log("kernel: decompressed %s, not stored in the cache (%s); booting it",
                    kernel, store_err->message);
        else
            hvr_log("kernel: decompressed %s into the cache (%zu MiB, %d ms)", kernel,
                    elf_len >> 20, (int)((g_get_monotonic_time() - t0) / 1000));
        res = HVR_KERNEL_CACHE_MISS;
    } else {
        hvr_log("kernel: not cached (%s); booting the bzImage", err->message);
    }
    close(dfd);
    return res;
}
