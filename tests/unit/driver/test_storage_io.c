/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io.c: the storage driver's data paths on real files in a
 * temporary directory:
 *   - hyve_storage_copy_sparse / hyve_storage_wipe_path: contents equal,
 *     holes kept (the SEEK_DATA maps compared), lengths shorter and longer
 *     than the source, destinations holding old data, errors;
 *   - the upload/download thread bodies driven over a socketpair with the
 *     frames of hyve_stream_frame.h, as the daemon speaks them: a 64 MiB
 *     sparse image round-trips bit-exactly keeping its holes, non-sparse
 *     downloads send zeros, offset/length are honoured, and overlong or
 *     hostile input gets an ERROR frame with the right code and message;
 *   - the public API on a dir pool (hyve_storage_vol_upload/download), a
 *     transfer aborted mid-way releasing the volume.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyve_storage_priv.h"
#include "hyve_stream_frame.h"
#include "test_common.h"

/* The thread bodies of driver/hyve_storage_transfer.c are declared in
 * hyve_storage_priv.h. */

#define KiB 1024ull
#define MiB (1024ull * 1024)

static char *tmpdir;

static void
setup(void)
{
    tmpdir = test_tmpdir_new("hyve-storage-io-XXXXXX");
}

static void
teardown(void)
{
    test_tree_remove(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

/* ---- files ---------------------------------------------------------------- */

typedef struct {
    guint64 off, len;
} Extent;

#define END { 0, 0 }

/* Deterministic bytes for absolute file offset @off (never all zero). */
static void
pattern(char *buf, gsize len, guint64 off)
{
    for (gsize i = 0; i < len; i++) {
        guint64 x = (off + i) * 0x9E3779B97F4A7C15ull;

        buf[i] = (char)((x >> 56) | 1);
    }
}

/* A sparse file of @size with pattern data in @islands (ends with {0,0}). */
static char *
make_image(const char *name, guint64 size, const Extent *islands)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    ck_assert_msg(fd >= 0, "%s: %s", path, g_strerror(errno));
    ck_assert_int_eq(ftruncate(fd, size), 0);
    for (const Extent *e = islands; e && e->len; e++) {
        g_autofree char *buf = g_malloc(e->len);

        pattern(buf, e->len, e->off);
        ck_assert_int_eq(pwrite(fd, buf, e->len, e->off), (ssize_t)e->len);
    }
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
    return path;
}

/* A file of @size bytes of 0xab, fully allocated. */
static char *
make_junk(const char *name, guint64 size)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autofree char *buf = g_malloc(size ? size : 1);

    memset(buf, 0xab, size);
    ck_assert(g_file_set_contents(path, buf, size, NULL));
    return path;
}

/* The data extents of @path (SEEK_DATA/SEEK_HOLE) within [from, to). */
static GArray *
data_map(const char *path, guint64 from, guint64 to)
{
    GArray *map = g_array_new(FALSE, FALSE, sizeof(Extent));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    guint64 pos = from;

    ck_assert_msg(fd >= 0, "%s: %s", path, g_strerror(errno));
    while (pos < to) {
        off_t data = lseek(fd, pos, SEEK_DATA), hole;
        Extent e;

        if (data < 0 || (guint64)data >= to)
            break;
        hole = lseek(fd, data, SEEK_HOLE);
        ck_assert(hole > data);
        e.off = data - from;
        e.len = MIN((guint64)hole, to) - data;
        g_array_append_val(map, e);
        pos = hole;
    }
    close(fd);
    return map;
}

/* Extents widened to whole 4 KiB blocks (what a file system allocates). */
static GArray *
map_round(GArray *map)
{
    for (guint i = 0; i < map->len; i++) {
        Extent *e = &g_array_index(map, Extent, i);
        guint64 end = (e->off + e->len + 4 * KiB - 1) / (4 * KiB) * (4 * KiB);

        e->off = e->off / (4 * KiB) * (4 * KiB);
        e->len = end - e->off;
    }
    return map;
}

static char *
map_string(GArray *map)
{
    GString *s = g_string_new("");

    for (guint i = 0; i < map->len; i++) {
        Extent *e = &g_array_index(map, Extent, i);

        g_string_append_printf(s, "[%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT "]", e->off,
                               e->len);
    }
    g_array_unref(map);
    return g_string_free(s, FALSE);
}

static guint64
file_size(const char *path)
{
    struct stat sb;

    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_size;
}

static guint64
file_blocks(const char *path)
{
    struct stat sb;

    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_blocks;
}

/* Bytes [aoff, aoff+len) of @a equal [boff, boff+len) of @b, where a NULL
 * @b means zeros. */
static void
assert_same(const char *what, const char *a, guint64 aoff, const char *b, guint64 boff,
            guint64 len)
{
    g_autofree char *x = g_malloc(MiB), *y = g_malloc0(MiB);
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = b ? open(b, O_RDONLY | O_CLOEXEC) : -1;

    ck_assert_msg(fa >= 0 && (!b || fb >= 0), "%s: open", what);
    for (guint64 done = 0; done < len;) {
        gsize n = MIN(MiB, len - done);

        ck_assert_msg(pread(fa, x, n, aoff + done) == (ssize_t)n, "%s: short read of %s at %"
                      G_GUINT64_FORMAT, what, a, aoff + done);
        if (b)
            ck_assert_msg(pread(fb, y, n, boff + done) == (ssize_t)n, "%s: short read of %s",
                          what, b);
        ck_assert_msg(memcmp(x, y, n) == 0, "%s: %s differs from %s near %" G_GUINT64_FORMAT,
                      what, a, b ? b : "zeros", aoff + done);
        done += n;
    }
    close(fa);
    if (fb >= 0)
        close(fb);
}

/* ---- copy_sparse ---------------------------------------------------------- */

typedef enum { DST_FRESH, DST_JUNK, DST_EMPTY } DstKind;

typedef struct {
    const char *name;
    guint64 src_size;
    Extent islands[6];
    DstKind dst;
    guint64 dst_size;
    guint64 length;
} CopyCase;

#define ISLANDS { { 0, 64 * KiB }, { MiB + 4 * KiB, 300 * KiB }, { 5 * MiB, MiB + 8 * KiB }, \
                  { 12 * MiB - 4 * KiB, 8 * KiB }, END }

static const CopyCase copy_cases[] = {
    { "same length", 16 * MiB, ISLANDS, DST_FRESH, 16 * MiB, 16 * MiB },
    { "shorter length, cut in an island", 16 * MiB, ISLANDS, DST_FRESH, 16 * MiB,
      5 * MiB + 123 },
    { "longer length: tail is a hole", 16 * MiB, ISLANDS, DST_FRESH, 32 * MiB, 32 * MiB },
    { "destination with old data", 16 * MiB, ISLANDS, DST_JUNK, 16 * MiB, 16 * MiB },
    { "old data, longer length", 16 * MiB, ISLANDS, DST_JUNK, 20 * MiB, 20 * MiB },
    { "empty destination grows", 16 * MiB, ISLANDS, DST_EMPTY, 0, 16 * MiB },
    { "source ends in data", 8 * MiB, { { 7 * MiB, MiB }, END }, DST_FRESH, 8 * MiB, 8 * MiB },
    { "source all data", 3 * MiB, { { 0, 3 * MiB }, END }, DST_FRESH, 3 * MiB, 3 * MiB },
    { "source all hole", 4 * MiB, { END }, DST_JUNK, 4 * MiB, 4 * MiB },
    { "zero length", 4 * MiB, ISLANDS, DST_JUNK, MiB, 0 },
};

START_TEST(test_copy_sparse)
{
    const CopyCase *c = &copy_cases[_i];
    g_autofree char *src = make_image("src", c->src_size, c->islands);
    g_autofree char *dst = NULL;
    g_autoptr(GError) err = NULL;
    guint64 copied = MIN(c->length, c->src_size);
    guint64 size = MAX(c->dst_size, c->length);

    if (c->dst == DST_JUNK)
        dst = make_junk("dst", c->dst_size);
    else
        dst = make_image("dst", c->dst_size, NULL);
    ck_assert_msg(hyve_storage_copy_sparse(src, dst, c->length, &err), "%s: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(file_size(dst) == size, "%s: size %" G_GUINT64_FORMAT, c->name,
                  file_size(dst));
    assert_same(c->name, dst, 0, src, 0, copied);
    if (c->dst == DST_JUNK && c->length < c->dst_size) {
        /* what lies past @length keeps its old data */
        g_autofree char *junk = make_junk("junk", c->dst_size);

        assert_same(c->name, dst, c->length, junk, c->length, c->dst_size - c->length);
    }
    assert_same(c->name, dst, copied, NULL, 0, c->length - copied);
    if (c->dst != DST_JUNK) {
        /* a fresh destination gets exactly the source's data extents */
        g_autofree char *want = map_string(map_round(data_map(src, 0, copied)));
        g_autofree char *got = map_string(data_map(dst, 0, size));

        ck_assert_msg(g_str_equal(want, got), "%s: holes: want %s got %s", c->name, want, got);
    }
}
END_TEST

/* ---- wipe ----------------------------------------------------------------- */

typedef struct {
    const char *name;
    guint64 size;
    Extent islands[6];
    guint64 length;
} WipeCase;

static const WipeCase wipe_cases[] = {
    { "sparse file, whole", 16 * MiB, ISLANDS, 16 * MiB },
    { "sparse file, first 5 MiB + 1", 16 * MiB, ISLANDS, 5 * MiB + 1 },
    { "all data", 2 * MiB, { { 0, 2 * MiB }, END }, 2 * MiB },
    { "length past the end", MiB, { { 0, MiB }, END }, 8 * MiB },
};

START_TEST(test_wipe)
{
    const WipeCase *c = &wipe_cases[_i];
    g_autofree char *path = make_image("vol", c->size, c->islands);
    g_autofree char *orig = make_image("orig", c->size, c->islands);
    g_autoptr(GError) err = NULL;
    guint64 zeroed = MIN(c->length, c->size);

    ck_assert_msg(hyve_storage_wipe_path(path, c->length, &err), "%s: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(file_size(path) == c->size, "%s: size changed", c->name);
    assert_same(c->name, path, 0, NULL, 0, zeroed);
    assert_same(c->name, path, zeroed, orig, zeroed, c->size - zeroed);
    if (zeroed == c->size)
        ck_assert_msg(file_blocks(path) == 0, "%s: %" G_GUINT64_FORMAT " blocks still allocated",
                      c->name, file_blocks(path));
}
END_TEST

START_TEST(test_io_errors)
{
    g_autofree char *missing = g_build_filename(tmpdir, "missing", NULL);
    g_autofree char *src = make_image("src", MiB, NULL);
    g_autoptr(GError) err = NULL;
    HyveErrorFrom from = 0;
    g_autofree char *want = g_strdup_printf("cannot open '%s': %s", missing, g_strerror(ENOENT));

    ck_assert(!hyve_storage_wipe_path(missing, MiB, &err));
    ck_assert(hyve_error_from_quark(err->domain, &from));
    ck_assert_int_eq(from, HYVE_FROM_STORAGE);
    ck_assert_int_eq(err->code, HYVE_ERR_SYSTEM_ERROR);
    ck_assert_str_eq(err->message, want);
    g_clear_error(&err);
    ck_assert(!hyve_storage_copy_sparse(missing, src, MiB, &err));
    ck_assert_str_eq(err->message, want);
    g_clear_error(&err);
    ck_assert(!hyve_storage_copy_sparse(src, missing, MiB, &err));
    ck_assert_str_eq(err->message, want);
    g_clear_error(&err);
    ck_assert(!hyve_storage_copy_sparse(src, tmpdir, MiB, &err));
    ck_assert_int_eq(err->code, HYVE_ERR_SYSTEM_ERROR);
    ck_assert_msg(strstr(err->message, tmpdir), "%s", err->message);
}
END_TEST

/* ---- the frame protocol ------------------------------------------------- */

typedef struct {
    int sock, file;
    char *path;
    guint64 offset, length;
    guint flags;
    gboolean upload;
    int settled;
    gboolean finished;
} Core;

/* How often the running thread body settled (one at a time per test);
 * checked only for core_start()'s threads, not the API's. */
static gint settled;
static gboolean track_settle;

static void
core_settle(gboolean finished, gpointer data)
{
    Core *c = data;

    c->settled++;
    c->finished = finished;
    g_atomic_int_inc(&settled);
}

static gpointer
core_thread(gpointer data)
{
    Core *c = data;
    gboolean ok;

    if (c->upload)
        ok = hyve_storage_transfer_upload_run(c->sock, c->file, c->path, c->offset, c->length,
                                              c->flags, core_settle, c);
    else
        ok = hyve_storage_transfer_download_run(c->sock, c->file, c->path, c->offset,
                                                c->length, c->flags, core_settle, c);
    ck_assert_int_eq(c->settled, 1);
    ck_assert_int_eq(c->finished, ok);
    close(c->sock);
    close(c->file);
    g_free(c->path);
    g_free(c);
    return GINT_TO_POINTER(ok);
}

/* Runs a thread body on @path as the transfer thread would; returns the
 * daemon's end. */
static int
core_start(gboolean upload, const char *path, guint64 offset, guint64 length, guint flags,
           GThread **thread)
{
    Core *c = g_new0(Core, 1);
    int fds[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    c->file = open(path, (upload ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    ck_assert_msg(c->file >= 0, "%s: %s", path, g_strerror(errno));
    c->sock = fds[1];
    c->path = g_strdup(path);
    c->offset = offset;
    c->length = length;
    c->flags = flags;
    c->upload = upload;
    g_atomic_int_set(&settled, 0);
    track_settle = TRUE;
    *thread = g_thread_new("test-core", core_thread, c);
    return fds[0];
}

static void
wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    ck_assert_msg(poll(&p, 1, 60000) == 1, "no frame within 60 s");
}

/* Exactly @len bytes; FALSE on EOF/reset. */
static gboolean
rd(int fd, void *buf, gsize len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n;

        wait_readable(fd);
        n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= n;
    }
    return TRUE;
}

/* FALSE when the thread's end is gone (EPIPE). */
static gboolean
wr(int fd, const void *buf, gsize len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return FALSE;
        ck_assert_msg(n > 0, "send: %s", g_strerror(errno));
        p += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
wr_frame(int fd, guint32 type, guint64 len, const void *payload, gsize plen)
{
    HyveFrameHeader h = { .type = type, .len = len };

    return wr(fd, &h, sizeof(h)) && (plen == 0 || wr(fd, payload, plen));
}

/* The next frame from the thread (payload g_free'd by the caller);
 * FALSE on EOF. Payload lengths are checked against the contract. */
static gboolean
rd_frame(int fd, HyveFrameHeader *h, char **payload)
{
    *payload = NULL;
    if (!rd(fd, h, sizeof(*h)))
        return FALSE;
    ck_assert_int_eq(h->reserved, 0);
    ck_assert_msg(h->type >= HYVE_FRAME_DATA && h->type <= HYVE_FRAME_ERROR &&
                  h->type != HYVE_FRAME_FINISH, "frame type %u from the driver", h->type);
    if (h->type == HYVE_FRAME_DATA || h->type == HYVE_FRAME_ERROR) {
        ck_assert_msg(h->len <= (h->type == HYVE_FRAME_DATA ? HYVE_FRAME_DATA_MAX
                                                            : HYVE_FRAME_ERROR_MAX),
                      "frame %u of %" G_GUINT64_FORMAT " bytes", h->type, h->len);
        ck_assert_msg(h->type != HYVE_FRAME_DATA || h->len > 0, "empty DATA frame");
        *payload = g_malloc(h->len + 1);
        ck_assert_msg(rd(fd, *payload, h->len), "EOF inside a frame");
        (*payload)[h->len] = 0;
    } else {
        ck_assert_msg(h->type == HYVE_FRAME_HOLE || h->len == 0, "frame %u with length", h->type);
    }
    return TRUE;
}

/* Reads frames until DONE, EOF of the socket or ERROR: the ERROR as
 * "code domain message", "DONE", or "EOF" (data frames skipped). */
static char *
rd_outcome(int fd)
{
    HyveFrameHeader h;
    char *payload = NULL;

    while (rd_frame(fd, &h, &payload)) {
        /* the volume is released before the client hears the outcome */
        if (track_settle && (h.type == HYVE_FRAME_ERROR || h.type == HYVE_FRAME_DONE))
            ck_assert_msg(g_atomic_int_get(&settled) == 1, "frame %u before settling", h.type);
        if (h.type == HYVE_FRAME_ERROR) {
            HyveFrameError fe;
            char *line;

            ck_assert_uint_ge(h.len, sizeof(fe));
            memcpy(&fe, payload, sizeof(fe));
            line = g_strdup_printf("%d %d %s", fe.code, fe.domain, payload + sizeof(fe));
            g_free(payload);
            /* then the thread closes its end */
            while (rd_frame(fd, &h, &payload))
                ck_abort_msg("frame %u after ERROR", h.type);
            return line;
        }
        g_free(payload);
        if (h.type == HYVE_FRAME_DONE)
            return g_strdup("DONE");
    }
    return g_strdup("EOF");
}

/* Sends [from, to) of @src as an upload would: DATA frames of varying
 * sizes (at most HYVE_FRAME_DATA_MAX) for data, and with @sparse HOLE
 * frames for holes (else zeros as DATA). */
static gboolean
send_image(int fd, const char *src, guint64 from, guint64 to, gboolean sparse)
{
    g_autofree char *buf = g_malloc0(HYVE_FRAME_DATA_MAX);
    g_autoptr(GArray) map = data_map(src, from, to);
    int sfd = open(src, O_RDONLY | O_CLOEXEC);
    guint64 pos = from;
    guint frame = 0;

    ck_assert(sfd >= 0);
    for (guint i = 0; i <= map->len; i++) {
        guint64 doff = i < map->len ? from + g_array_index(map, Extent, i).off : to;
        guint64 dend = i < map->len ? doff + g_array_index(map, Extent, i).len : to;

        for (guint64 p = pos; p < dend;) {
            gboolean hole = p < doff;
            guint64 chunk = frame++ % 2 ? 65536 + 7 : HYVE_FRAME_DATA_MAX;
            guint64 n = MIN((hole ? doff : dend) - p, chunk);

            if (hole && sparse) {
                n = doff - p;
                if (!wr_frame(fd, HYVE_FRAME_HOLE, n, NULL, 0))
                    goto gone;
            } else {
                if (hole)
                    memset(buf, 0, n);
                else
                    ck_assert_int_eq(pread(sfd, buf, n, p), (ssize_t)n);
                if (!wr_frame(fd, HYVE_FRAME_DATA, n, buf, n))
                    goto gone;
            }
            p += n;
        }
        pos = dend;
    }
    close(sfd);
    return TRUE;
 gone:
    close(sfd);
    return FALSE;
}

typedef struct {
    guint64 total;
    guint holes;                  /* HOLE frames */
    char *map;                    /* DATA extents as map_string() */
} Received;

/* Receives a download into the new file @out until EOF, finishes, and
 * expects DONE. */
static void
recv_image(int fd, const char *out, Received *r)
{
    g_autoptr(GArray) map = g_array_new(FALSE, FALSE, sizeof(Extent));
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    HyveFrameHeader h;
    g_autofree char *outcome = NULL;

    ck_assert(ofd >= 0);
    memset(r, 0, sizeof(*r));
    for (;;) {
        g_autofree char *payload = NULL;

        ck_assert_msg(rd_frame(fd, &h, &payload), "socket closed before EOF");
        ck_assert_msg(h.type != HYVE_FRAME_ERROR, "ERROR frame: %s",
                      payload + sizeof(HyveFrameError));
        if (h.type == HYVE_FRAME_EOF)
            break;
        ck_assert_msg(h.type == HYVE_FRAME_DATA || h.type == HYVE_FRAME_HOLE, "frame %u",
                      h.type);
        if (h.type == HYVE_FRAME_DATA) {
            Extent *last = map->len ? &g_array_index(map, Extent, map->len - 1) : NULL;

            ck_assert_int_eq(pwrite(ofd, payload, h.len, r->total), (ssize_t)h.len);
            if (last && last->off + last->len == r->total) {
                last->len += h.len;
            } else {
                Extent e = { r->total, h.len };

                g_array_append_val(map, e);
            }
        } else {
            ck_assert_msg(h.len > 0, "empty HOLE frame");
            r->holes++;
        }
        r->total += h.len;
    }
    ck_assert_int_eq(ftruncate(ofd, r->total), 0);
    close(ofd);
    r->map = map_string(g_steal_pointer(&map));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
}

static gboolean
join(GThread *thread)
{
    gboolean ok = GPOINTER_TO_INT(g_thread_join(thread));

    ck_assert_int_eq(g_atomic_int_get(&settled), 1);
    return ok;
}

#define IMAGE_SIZE (64 * MiB)
static const Extent image_islands[] = {
    { 0, 64 * KiB }, { MiB + 4 * KiB, 300 * KiB }, { 10 * MiB, MiB + 8 * KiB },
    { 33 * MiB - 4 * KiB, 8 * KiB }, { 63 * MiB, 512 * KiB }, END,
};

/* A 64 MiB image with five islands of data (and a trailing hole) goes up
 * sparse into a volume full of old data, and comes back down, sparse and
 * not: bit-exact, holes kept, holes sent as HOLE frames or zeros. */
START_TEST(test_round_trip)
{
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *vol = make_junk("vol", IMAGE_SIZE);
    g_autofree char *out = g_build_filename(tmpdir, "out", NULL);
    g_autofree char *src_map = map_string(data_map(src, 0, IMAGE_SIZE));
    g_autofree char *vol_map = NULL;
    g_autofree char *outcome = NULL;
    GThread *thread;
    Received r;
    int fd;

    fd = core_start(TRUE, vol, 0, 0, HYVE_VOL_TRANSFER_SPARSE, &thread);
    ck_assert(send_image(fd, src, 0, IMAGE_SIZE, TRUE));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    ck_assert(join(thread));
    close(fd);
    ck_assert_uint_eq(file_size(vol), IMAGE_SIZE);
    assert_same("upload", vol, 0, src, 0, IMAGE_SIZE);
    vol_map = map_string(data_map(vol, 0, IMAGE_SIZE));
    ck_assert_str_eq(vol_map, src_map);

    /* sparse download: the data as DATA frames, each hole as HOLE frames */
    fd = core_start(FALSE, vol, 0, IMAGE_SIZE, HYVE_VOL_TRANSFER_SPARSE, &thread);
    recv_image(fd, out, &r);
    ck_assert(join(thread));
    close(fd);
    ck_assert_uint_eq(r.total, IMAGE_SIZE);
    ck_assert_str_eq(r.map, src_map);
    ck_assert_uint_eq(r.holes, 5);
    assert_same("sparse download", out, 0, src, 0, IMAGE_SIZE);
    g_free(r.map);
    g_free(vol_map);
    vol_map = map_string(data_map(out, 0, IMAGE_SIZE));
    ck_assert_str_eq(vol_map, src_map);

    /* plain download: all DATA, zeros for holes */
    fd = core_start(FALSE, vol, 0, IMAGE_SIZE, 0, &thread);
    recv_image(fd, out, &r);
    ck_assert(join(thread));
    close(fd);
    ck_assert_uint_eq(r.total, IMAGE_SIZE);
    ck_assert_uint_eq(r.holes, 0);
    ck_assert_str_eq(r.map, "[0+67108864]");
    g_free(r.map);
    assert_same("plain download", out, 0, src, 0, IMAGE_SIZE);
}
END_TEST

/* Downloads of a part of the image: what comes is exactly that part. */
typedef struct {
    const char *name;
    guint64 offset, length;
    gboolean sparse;
    guint holes;
} RangeCase;

static const RangeCase range_cases[] = {
    { "sparse, inside islands", 3 * MiB + 5, 8 * MiB, TRUE, 1 },
    { "plain, 100 bytes", 10 * MiB + 100, 100, FALSE, 0 },
    { "sparse, only a hole", 63 * MiB + 512 * KiB, 512 * KiB, TRUE, 1 },
    { "sparse, only data", 10 * MiB + 1, 2 * 262120 + 3, TRUE, 0 },
    { "sparse, nothing at the end", IMAGE_SIZE, 0, TRUE, 0 },
    { "plain, whole from 1", 1, IMAGE_SIZE - 1, FALSE, 0 },
};

START_TEST(test_download_range)
{
    const RangeCase *c = &range_cases[_i];
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *out = g_build_filename(tmpdir, "out", NULL);
    GThread *thread;
    Received r;
    int fd = core_start(FALSE, src, c->offset, c->length,
                        c->sparse ? HYVE_VOL_TRANSFER_SPARSE : 0, &thread);

    recv_image(fd, out, &r);
    ck_assert_msg(join(thread), "%s", c->name);
    close(fd);
    ck_assert_msg(r.total == c->length, "%s: %" G_GUINT64_FORMAT " bytes", c->name, r.total);
    ck_assert_msg(r.holes == c->holes, "%s: %u holes", c->name, r.holes);
    assert_same(c->name, out, 0, src, c->offset, c->length);
    if (c->sparse) {
        g_autofree char *want = map_string(data_map(src, c->offset, c->offset + c->length));

        ck_assert_msg(g_str_equal(r.map, want), "%s: %s, want %s", c->name, r.map, want);
    }
    g_free(r.map);
}
END_TEST

/* An upload at an offset with a length writes exactly there; past the
 * file's end the file grows at FINISH (a hole at the end too). */
typedef struct {
    const char *name;
    guint64 vol_size, offset, length, sent;
    gboolean sparse;
} UploadCase;

static const UploadCase upload_cases[] = {
    { "middle, exact length", 16 * MiB, 3 * MiB + 7, 5 * MiB, 5 * MiB, TRUE },
    { "middle, less than length", 16 * MiB, MiB, 8 * MiB, 3 * MiB + 1, FALSE },
    { "no length, grows the file", 4 * MiB, 2 * MiB, 0, 6 * MiB, TRUE },
    { "empty file, hole at the end", 0, 0, 0, 64 * MiB, TRUE },
    { "plain, from 0", 2 * MiB, 0, 0, 2 * MiB, FALSE },
};

START_TEST(test_upload_range)
{
    const UploadCase *c = &upload_cases[_i];
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *vol = make_junk("vol", c->vol_size);
    g_autofree char *junk = make_junk("junk", c->vol_size);
    g_autofree char *outcome = NULL;
    guint64 end = c->offset + c->sent;
    GThread *thread;
    int fd = core_start(TRUE, vol, c->offset, c->length,
                        c->sparse ? HYVE_VOL_TRANSFER_SPARSE : 0, &thread);

    /* the image's bytes [0, sent) land at [offset, offset+sent) */
    ck_assert(send_image(fd, src, 0, c->sent, c->sparse));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_msg(g_str_equal(outcome, "DONE"), "%s: %s", c->name, outcome);
    ck_assert_msg(join(thread), "%s", c->name);
    close(fd);
    ck_assert_msg(file_size(vol) == MAX(c->vol_size, end), "%s: size %" G_GUINT64_FORMAT,
                  c->name, file_size(vol));
    assert_same(c->name, vol, 0, junk, 0, MIN(c->offset, c->vol_size));
    assert_same(c->name, vol, c->offset, src, 0, c->sent);
    if (end < c->vol_size)
        assert_same(c->name, vol, end, junk, end, c->vol_size - end);
}
END_TEST

/* What the daemon must never send, and what exceeds the request: an ERROR
 * frame with libvirt's code, domain STORAGE and the message; the thread
 * then closes its end. */
typedef enum { BAD_OVERLONG_DATA, BAD_OVERLONG_HOLE, BAD_HOLE_NOT_SPARSE, BAD_HUGE_DATA,
               BAD_HUGE_HOLE, BAD_TYPE, BAD_DOWNLOAD_DATA } BadKind;

typedef struct {
    const char *name;
    BadKind kind;
    const char *error;            /* "code domain message-prefix" */
} BadCase;

static const BadCase bad_cases[] = {
    { "data past length", BAD_OVERLONG_DATA,
      "38 18 cannot write to stream: No space left on device" },
    { "hole past length", BAD_OVERLONG_HOLE,
      "38 18 cannot write to stream: No space left on device" },
    { "hole in a plain upload", BAD_HOLE_NOT_SPARSE,
      "39 18 unexpected stream hole: the upload of '" },
    { "hostile DATA length", BAD_HUGE_DATA,
      "39 18 stream data frame of 1099511627776 bytes is longer than the limit" },
    { "hostile HOLE length", BAD_HUGE_HOLE,
      "39 18 stream hole of 9223372036854775807 bytes goes past the largest file offset" },
    { "unknown frame", BAD_TYPE, "39 18 unexpected stream frame type 99 in an upload" },
    { "DATA in a download", BAD_DOWNLOAD_DATA,
      "39 18 unexpected stream frame type 1 in a download" },
};

START_TEST(test_bad_frames)
{
    const BadCase *c = &bad_cases[_i];
    g_autofree char *src = make_image("src", 4 * MiB, image_islands);
    g_autofree char *vol = make_junk("vol", 4 * MiB);
    g_autofree char *outcome = NULL;
    gboolean upload = c->kind != BAD_DOWNLOAD_DATA;
    guint flags = c->kind == BAD_HOLE_NOT_SPARSE ? 0 : HYVE_VOL_TRANSFER_SPARSE;
    GThread *thread;
    int fd = core_start(upload, vol, MiB, upload ? MiB : 2 * MiB, flags, &thread);
    char byte = 1;

    switch (c->kind) {
    case BAD_OVERLONG_DATA:       /* 1 MiB + 1: what fits is written */
        ck_assert(send_image(fd, src, 0, MiB, TRUE));
        wr_frame(fd, HYVE_FRAME_DATA, 1, &byte, 1);
        break;
    case BAD_OVERLONG_HOLE:
        ck_assert(send_image(fd, src, 0, MiB, TRUE));
        wr_frame(fd, HYVE_FRAME_HOLE, 4096, NULL, 0);
        break;
    case BAD_HOLE_NOT_SPARSE:
        wr_frame(fd, HYVE_FRAME_HOLE, 4096, NULL, 0);
        break;
    case BAD_HUGE_DATA:
        wr_frame(fd, HYVE_FRAME_DATA, 1ull << 40, &byte, 1);
        break;
    case BAD_HUGE_HOLE:
        close(fd);                /* no length limit here */
        ck_assert(!join(thread));
        fd = core_start(TRUE, vol, MiB, 0, flags, &thread);
        wr_frame(fd, HYVE_FRAME_HOLE, G_MAXINT64, NULL, 0);
        break;
    case BAD_TYPE:
        wr_frame(fd, 99, 0, NULL, 0);
        break;
    case BAD_DOWNLOAD_DATA:
        wr_frame(fd, HYVE_FRAME_DATA, 1, &byte, 1);
        break;
    }
    outcome = rd_outcome(fd);
    ck_assert_msg(g_str_has_prefix(outcome, c->error), "%s: %s", c->name, outcome);
    close(fd);
    ck_assert_msg(!join(thread), "%s: thread reported success", c->name);
    if (c->kind == BAD_OVERLONG_DATA)
        assert_same(c->name, vol, MiB, src, 0, MiB);
}
END_TEST

/* The daemon closing its end (client abort) stops the thread quietly,
 * whatever it was doing; uploaded data stays written. */
typedef enum { ABORT_UPLOAD_START, ABORT_UPLOAD_MIDWAY, ABORT_DOWNLOAD_MIDWAY,
               ABORT_DOWNLOAD_AT_EOF } AbortKind;

static const struct {
    const char *name;
    AbortKind kind;
} abort_cases[] = {
    { "upload, nothing sent", ABORT_UPLOAD_START },
    { "upload, half sent", ABORT_UPLOAD_MIDWAY },
    { "download, first frame read", ABORT_DOWNLOAD_MIDWAY },
    { "download, after EOF", ABORT_DOWNLOAD_AT_EOF },
};

START_TEST(test_abort)
{
    gboolean upload = abort_cases[_i].kind <= ABORT_UPLOAD_MIDWAY;
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *vol = make_image("vol", IMAGE_SIZE, NULL);
    GThread *thread;
    int fd = core_start(upload, upload ? vol : src, 0, IMAGE_SIZE, 0, &thread);
    HyveFrameHeader h;
    g_autofree char *payload = NULL;

    switch (abort_cases[_i].kind) {
    case ABORT_UPLOAD_START:
        break;
    case ABORT_UPLOAD_MIDWAY:
        ck_assert(send_image(fd, src, 0, 11 * MiB, FALSE));
        break;
    case ABORT_DOWNLOAD_MIDWAY:
        ck_assert(rd_frame(fd, &h, &payload));
        ck_assert_int_eq(h.type, HYVE_FRAME_DATA);
        break;
    case ABORT_DOWNLOAD_AT_EOF:
        do {
            g_free(payload);
            ck_assert(rd_frame(fd, &h, &payload));
        } while (h.type == HYVE_FRAME_DATA);
        ck_assert_int_eq(h.type, HYVE_FRAME_EOF);
        break;
    }
    close(fd);
    ck_assert_msg(!join(thread), "%s: thread reported success", abort_cases[_i].name);
    if (abort_cases[_i].kind == ABORT_UPLOAD_MIDWAY)
        assert_same(abort_cases[_i].name, vol, 0, src, 0, 11 * MiB);
}
END_TEST

/* A client finishing a download before its end gets DONE. */
START_TEST(test_download_early_finish)
{
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *outcome = NULL;
    GThread *thread;
    int fd = core_start(FALSE, src, 0, IMAGE_SIZE, 0, &thread);
    HyveFrameHeader h;
    g_autofree char *payload = NULL;

    ck_assert(rd_frame(fd, &h, &payload));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    ck_assert(join(thread));
    close(fd);
}
END_TEST

/* ---- block devices (loop devices; root only, skipped elsewhere) --------- */

static char *loopdev;

/* A loop device over @file, or NULL (not root, no loop support). */
static char *
loop_attach(const char *file)
{
    const char *argv[] = { "losetup", "--find", "--show", file, NULL };
    g_autofree char *out = NULL;
    int status = -1;

    if (geteuid() != 0 ||
        !g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL))
        return NULL;
    return g_strdup(g_strstrip(out));
}

static void
loop_teardown(void)
{
    if (loopdev) {
        const char *argv[] = { "losetup", "--detach", loopdev, NULL };

        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     NULL, NULL);
        g_clear_pointer(&loopdev, g_free);
    }
    teardown();
}

typedef enum { BLK_COPY_FROM, BLK_COPY_TO, BLK_WIPE, BLK_DOWNLOAD, BLK_UPLOAD } BlockKind;

static const struct {
    const char *name;
    BlockKind kind;
} block_cases[] = {
    { "copy from a block device: zero blocks become holes", BLK_COPY_FROM },
    { "copy to a block device: holes zeroed", BLK_COPY_TO },
    { "wipe a block device", BLK_WIPE },
    { "sparse download of a block device: all data", BLK_DOWNLOAD },
    { "sparse upload to a block device: holes zeroed", BLK_UPLOAD },
};

START_TEST(test_block)
{
    BlockKind kind = block_cases[_i].kind;
    const char *name = block_cases[_i].name;
    g_autofree char *src = make_image("src", 16 * MiB, (Extent[]) ISLANDS);
    g_autofree char *junk = make_junk("junk", 16 * MiB);
    g_autofree char *file = g_build_filename(tmpdir, "file", NULL);
    g_autoptr(GError) err = NULL;
    gboolean from_src = kind == BLK_COPY_FROM || kind == BLK_DOWNLOAD;

    loopdev = loop_attach(from_src ? src : junk);
    if (!loopdev)
        return;                   /* not root or no loop devices: nothing to test */
    switch (kind) {
    case BLK_COPY_FROM: {
        g_autofree char *want = NULL, *got = NULL;

        g_free(make_image("file", 16 * MiB, NULL));
        ck_assert_msg(hyve_storage_copy_sparse(loopdev, file, 16 * MiB, &err), "%s: %s", name,
                      err ? err->message : "");
        assert_same(name, file, 0, src, 0, 16 * MiB);
        want = map_string(data_map(src, 0, 16 * MiB));
        got = map_string(data_map(file, 0, 16 * MiB));
        ck_assert_msg(g_str_equal(want, got), "%s: want %s got %s", name, want, got);
        break;
    }
    case BLK_COPY_TO:
        ck_assert_msg(hyve_storage_copy_sparse(src, loopdev, 16 * MiB, &err), "%s: %s", name,
                      err ? err->message : "");
        assert_same(name, loopdev, 0, src, 0, 16 * MiB);
        break;
    case BLK_WIPE:
        ck_assert_msg(hyve_storage_wipe_path(loopdev, 16 * MiB, &err), "%s: %s", name,
                      err ? err->message : "");
        assert_same(name, loopdev, 0, NULL, 0, 16 * MiB);
        break;
    case BLK_DOWNLOAD: {
        GThread *thread;
        Received r;
        int fd = core_start(FALSE, loopdev, 0, 16 * MiB, HYVE_VOL_TRANSFER_SPARSE, &thread);

        recv_image(fd, file, &r);
        ck_assert(join(thread));
        close(fd);
        ck_assert_uint_eq(r.total, 16 * MiB);
        ck_assert_str_eq(r.map, "[0+16777216]");
        g_free(r.map);
        assert_same(name, file, 0, src, 0, 16 * MiB);
        break;
    }
    case BLK_UPLOAD: {
        GThread *thread;
        g_autofree char *outcome = NULL;
        int fd = core_start(TRUE, loopdev, 0, 0, HYVE_VOL_TRANSFER_SPARSE, &thread);

        ck_assert(send_image(fd, src, 0, 16 * MiB, TRUE));
        ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
        outcome = rd_outcome(fd);
        ck_assert_str_eq(outcome, "DONE");
        ck_assert(join(thread));
        close(fd);
        assert_same(name, loopdev, 0, src, 0, 16 * MiB);
        /* past the device's end: ERROR, not a grown file */
        fd = core_start(TRUE, loopdev, 16 * MiB - 4096, 0, HYVE_VOL_TRANSFER_SPARSE, &thread);
        wr_frame(fd, HYVE_FRAME_HOLE, 8192, NULL, 0);
        g_free(outcome);
        outcome = rd_outcome(fd);
        ck_assert_msg(g_str_has_prefix(outcome, "38 18 cannot zero '"), "%s", outcome);
        close(fd);
        ck_assert(!join(thread));
        break;
    }
    }
}
END_TEST

/* ---- the public API on a dir pool --------------------------------------- */

static HyveStorage *st;
static HyvePoolObj *pool;
static GPtrArray *events;         /* "ID EVENT NAME", guarded by events_lock */
static GMutex events_lock;

static void
event_sink(const HyvePoolEvent *ev, gpointer data)
{
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, g_strdup_printf("%d %d %s", ev->id, ev->event, ev->name));
    g_mutex_unlock(&events_lock);
}

static guint
count_events(const char *line)
{
    guint n = 0;

    g_mutex_lock(&events_lock);
    for (guint i = 0; i < events->len; i++)
        n += g_str_equal(events->pdata[i], line);
    g_mutex_unlock(&events_lock);
    return n;
}

static void
api_setup(void)
{
    g_autofree char *cfg_dir = NULL, *state_dir = NULL, *pool_dir = NULL, *xml = NULL;
    HyveStorageConfig cfg = { .privileged = TRUE, .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR };
    g_autoptr(GError) err = NULL;
    HyveVolIdent id = { 0 };

    setup();
    cfg_dir = g_build_filename(tmpdir, "config", NULL);
    state_dir = g_build_filename(tmpdir, "state", NULL);
    pool_dir = g_build_filename(tmpdir, "pool", NULL);
    cfg.config_dir = cfg_dir;
    cfg.state_dir = state_dir;
    st = hyve_storage_new(&cfg, &err);
    ck_assert_msg(st, "hyve_storage_new: %s", err ? err->message : "?");
    events = g_ptr_array_new_with_free_func(g_free);
    hyve_storage_set_event_sink(st, event_sink, NULL);
    xml = g_strdup_printf("<pool type='dir'><name>p</name><target><path>%s</path></target>"
                          "</pool>", pool_dir);
    pool = hyve_storage_pool_define_xml(st, xml, 0, &err);
    ck_assert_msg(pool, "define: %s", err ? err->message : "?");
    ck_assert_msg(hyve_storage_pool_build(st, pool, 0, &err), "build: %s", err->message);
    ck_assert_msg(hyve_storage_pool_start(st, pool, 0, &err), "start: %s", err->message);
    ck_assert_msg(hyve_storage_vol_create_xml(st, pool, "<volume><name>disk</name>"
                                              "<capacity unit='MiB'>64</capacity>"
                                              "<allocation>0</allocation></volume>",
                                              0, &id, &err), "create: %s", err->message);
    hyve_vol_ident_clear(&id);
}

static void
api_teardown(void)
{
    g_clear_pointer(&pool, hyve_pool_obj_unref);
    g_clear_pointer(&st, hyve_storage_free);
    g_clear_pointer(&events, g_ptr_array_unref);
    teardown();
}

static char *
vol_path(const char *name)
{
    return g_build_filename(tmpdir, "pool", name, NULL);
}

/* Upload sparse and download sparse through hyve_storage_vol_upload/
 * download: bit-exact, holes kept; the volume is released and its sizes
 * re-read (REFRESH) by the time the client hears DONE. */
START_TEST(test_api_round_trip)
{
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *out = g_build_filename(tmpdir, "out", NULL);
    g_autofree char *path = vol_path("disk");
    g_autofree char *src_map = map_string(data_map(src, 0, IMAGE_SIZE));
    g_autofree char *vol_map = NULL, *outcome = NULL;
    g_autoptr(GError) err = NULL;
    HyveVolInfo info;
    Received r;
    int fd;

    ck_assert(hyve_storage_vol_get_info(st, pool, "disk", 0, &info, &err));
    ck_assert_uint_eq(info.allocation, 0);
    fd = hyve_storage_vol_upload(st, pool, "disk", 0, 0, HYVE_VOL_TRANSFER_SPARSE, &err);
    ck_assert_msg(fd >= 0, "upload: %s", err ? err->message : "?");
    ck_assert(send_image(fd, src, 0, IMAGE_SIZE, TRUE));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    close(fd);
    ck_assert_uint_eq(count_events("1 0 p"), 1);
    ck_assert(hyve_storage_vol_get_info(st, pool, "disk", 0, &info, &err));
    ck_assert_uint_eq(info.capacity, IMAGE_SIZE);
    ck_assert_uint_eq(info.allocation, file_blocks(path) * 512);
    ck_assert_uint_ge(info.allocation, 64 * KiB + 300 * KiB + MiB + 8 * KiB + 8 * KiB + 512 * KiB);
    ck_assert_uint_lt(info.allocation, 4 * MiB);
    vol_map = map_string(data_map(path, 0, IMAGE_SIZE));
    ck_assert_str_eq(vol_map, src_map);
    assert_same("api upload", path, 0, src, 0, IMAGE_SIZE);

    fd = hyve_storage_vol_download(st, pool, "disk", 0, 0, HYVE_VOL_TRANSFER_SPARSE, &err);
    ck_assert_msg(fd >= 0, "download: %s", err ? err->message : "?");
    recv_image(fd, out, &r);
    close(fd);
    ck_assert_uint_eq(r.total, IMAGE_SIZE);
    ck_assert_uint_eq(r.holes, 5);
    ck_assert_str_eq(r.map, src_map);
    g_free(r.map);
    assert_same("api download", out, 0, src, 0, IMAGE_SIZE);
    /* released before DONE: deleting right away works; downloads send no REFRESH */
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "disk", 0, &err), "delete: %s",
                  err ? err->message : "?");
    ck_assert_uint_eq(count_events("1 0 p"), 1);
}
END_TEST

/* Waits (at most 10 s) until "disk" is free again: a transfer whose
 * client went away must release it. */
static void
wait_released(const char *what)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr(GError) err = NULL;

        if (hyve_storage_vol_acquire(st, pool, "disk", HYVE_VOL_USE_WRITE, NULL, NULL, &err)) {
            hyve_storage_vol_release(st, pool, "disk", FALSE);
            return;
        }
        ck_assert_msg(strstr(err->message, "is in use by a transfer"), "%s: %s", what,
                      err->message);
        ck_assert_msg(g_get_monotonic_time() < deadline, "%s: still in use after 10 s", what);
        g_usleep(10000);
    }
}

static const struct {
    const char *name;
    gboolean upload;
    guint64 before_close;         /* bytes sent (upload) or frames read (download) */
} api_abort_cases[] = {
    { "upload, nothing sent", TRUE, 0 },
    { "upload, 11 MiB sent", TRUE, 11 * MiB },
    { "download, nothing read", FALSE, 0 },
    { "download, 3 frames read", FALSE, 3 },
};

START_TEST(test_api_abort)
{
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autofree char *path = vol_path("disk");
    g_autoptr(GError) err = NULL;
    int fd;

    if (api_abort_cases[_i].upload)
        fd = hyve_storage_vol_upload(st, pool, "disk", 0, 0, 0, &err);
    else
        fd = hyve_storage_vol_download(st, pool, "disk", 0, 0, 0, &err);
    ck_assert_msg(fd >= 0, "%s: %s", api_abort_cases[_i].name, err ? err->message : "?");
    /* while it runs, it counts: no second writer, no pool destroy */
    ck_assert_int_eq(hyve_storage_vol_upload(st, pool, "disk", 0, 0, 0, &err), -1);
    ck_assert_str_eq(err->message, "Requested operation is not valid: "
                     "volume 'disk' is in use by a transfer");
    g_clear_error(&err);
    ck_assert(!hyve_storage_pool_destroy(st, pool, &err));
    ck_assert_int_eq(err->code, HYVE_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    if (api_abort_cases[_i].upload) {
        ck_assert(send_image(fd, src, 0, api_abort_cases[_i].before_close, FALSE));
    } else {
        for (guint64 i = 0; i < api_abort_cases[_i].before_close; i++) {
            HyveFrameHeader h;
            g_autofree char *payload = NULL;

            ck_assert(rd_frame(fd, &h, &payload));
            ck_assert_int_eq(h.type, HYVE_FRAME_DATA);
        }
    }
    close(fd);
    wait_released(api_abort_cases[_i].name);
    /* what was sent stays written, as libvirt */
    if (api_abort_cases[_i].upload)
        assert_same(api_abort_cases[_i].name, path, 0, src, 0, api_abort_cases[_i].before_close);
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "disk", 0, &err), "%s: delete: %s",
                  api_abort_cases[_i].name, err ? err->message : "");
    ck_assert_uint_eq(count_events("1 0 p"), 0);
}
END_TEST

/* Stopping the storage (daemon shutdown) ends running transfers as
 * aborts: their volumes are released when it returns, the daemon's ends
 * see EOF. */
START_TEST(test_api_stop)
{
    g_autofree char *src = make_image("src", IMAGE_SIZE, image_islands);
    g_autoptr(GError) err = NULL;
    int up, down[2];
    HyveFrameHeader h;
    HyveVolIdent id = { 0 };

    ck_assert_msg(hyve_storage_vol_create_xml(st, pool, "<volume><name>other</name>"
                                              "<capacity>1048576</capacity></volume>",
                                              0, &id, &err), "create: %s", err->message);
    hyve_vol_ident_clear(&id);
    up = hyve_storage_vol_upload(st, pool, "other", 0, 0, 0, &err);
    ck_assert_msg(up >= 0, "upload: %s", err ? err->message : "?");
    ck_assert(send_image(up, src, 0, MiB, FALSE));
    for (int i = 0; i < 2; i++) {
        g_autofree char *payload = NULL;

        /* plain (DATA frames of zeros) and sparse (one HOLE, then EOF) */
        down[i] = hyve_storage_vol_download(st, pool, "disk", 0, 0, i, &err);
        ck_assert_msg(down[i] >= 0, "download: %s", err ? err->message : "?");
        ck_assert(rd_frame(down[i], &h, &payload));
        ck_assert_int_eq(h.type, i ? HYVE_FRAME_HOLE : HYVE_FRAME_DATA);
    }
    hyve_storage_transfers_stop(st);
    ck_assert_msg(hyve_storage_vol_acquire(st, pool, "disk", HYVE_VOL_USE_WRITE, NULL, NULL,
                                           &err), "disk: %s", err ? err->message : "");
    hyve_storage_vol_release(st, pool, "disk", FALSE);
    ck_assert_msg(hyve_storage_pool_destroy(st, pool, &err), "destroy: %s",
                  err ? err->message : "");
    /* the plain one was cut in the middle of a frame: bytes, then EOF */
    for (;;) {
        char buf[65536];
        ssize_t n;

        wait_readable(down[0]);
        n = recv(down[0], buf, sizeof(buf), 0);
        if (n <= 0)
            break;
    }
    close(down[0]);
    /* the sparse one had sent its HOLE and EOF: then EOF, no DONE, no ERROR */
    {
        g_autofree char *outcome = rd_outcome(down[1]);

        ck_assert_str_eq(outcome, "EOF");
        close(down[1]);
    }
    ck_assert(!rd(up, &h, 1));
    close(up);
    ck_assert_uint_eq(count_events("1 0 p"), 0);
}
END_TEST

/* Refusals leave the volume free (a delete works after each). */
typedef struct {
    const char *name;
    gboolean upload;
    const char *vol;
    guint64 offset, length;
    guint flags;
    int code;
    const char *message;
} ApiErrorCase;

static const ApiErrorCase api_error_cases[] = {
    { "upload flag 2", TRUE, "disk", 0, 0, 2, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x2) in function hyve_storage_vol_upload" },
    { "download flag 4", FALSE, "disk", 0, 0, 4, HYVE_ERR_INVALID_ARG,
      "invalid argument: unsupported flags (0x4) in function hyve_storage_vol_download" },
    { "upload offset past the end", TRUE, "disk", 64 * MiB + 1, 0, 0, HYVE_ERR_INVALID_ARG,
      "invalid argument: offset 67108865 is beyond the end of volume 'disk' "
      "(capacity 67108864 bytes)" },
    { "download length past the end", FALSE, "disk", MiB, 63 * MiB + 1, 1,
      HYVE_ERR_INVALID_ARG, "invalid argument: offset 1048576 plus length 66060289 is "
      "beyond the end of volume 'disk' (capacity 67108864 bytes)" },
    { "huge length", TRUE, "disk", 1, G_MAXUINT64, 0, HYVE_ERR_INVALID_ARG,
      "invalid argument: offset 1 plus length 18446744073709551615 is beyond the end" },
    { "no such volume", FALSE, "nope", 0, 0, 0, HYVE_ERR_NO_STORAGE_VOL,
      "no storage vol with matching name 'nope'" },
};

START_TEST(test_api_errors)
{
    const ApiErrorCase *c = &api_error_cases[_i];
    g_autoptr(GError) err = NULL;
    int fd = c->upload
        ? hyve_storage_vol_upload(st, pool, c->vol, c->offset, c->length, c->flags, &err)
        : hyve_storage_vol_download(st, pool, c->vol, c->offset, c->length, c->flags, &err);
    HyveErrorFrom from = 0;

    ck_assert_msg(fd == -1 && err, "%s: started", c->name);
    ck_assert(hyve_error_from_quark(err->domain, &from));
    ck_assert_msg(from == HYVE_FROM_STORAGE && err->code == c->code &&
                  strstr(err->message, c->message),
                  "%s: %d %d %s", c->name, err->code, from, err->message);
    g_clear_error(&err);
    ck_assert_msg(hyve_storage_vol_delete(st, pool, "disk", 0, &err), "%s: delete: %s",
                  c->name, err ? err->message : "");
}
END_TEST

static Suite *
storage_io_suite(void)
{
    Suite *s = suite_create("storage-io");
    TCase *tc = tcase_create("io");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_copy_sparse, 0, G_N_ELEMENTS(copy_cases));
    tcase_add_loop_test(tc, test_wipe, 0, G_N_ELEMENTS(wipe_cases));
    tcase_add_test(tc, test_io_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("frames");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_loop_test(tc, test_download_range, 0, G_N_ELEMENTS(range_cases));
    tcase_add_loop_test(tc, test_upload_range, 0, G_N_ELEMENTS(upload_cases));
    tcase_add_loop_test(tc, test_bad_frames, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_loop_test(tc, test_abort, 0, G_N_ELEMENTS(abort_cases));
    tcase_add_test(tc, test_download_early_finish);
    suite_add_tcase(s, tc);

    tc = tcase_create("block");
    tcase_add_checked_fixture(tc, setup, loop_teardown);
    tcase_add_loop_test(tc, test_block, 0, G_N_ELEMENTS(block_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_checked_fixture(tc, api_setup, api_teardown);
    tcase_add_test(tc, test_api_round_trip);
    tcase_add_loop_test(tc, test_api_abort, 0, G_N_ELEMENTS(api_abort_cases));
    tcase_add_test(tc, test_api_stop);
    tcase_add_loop_test(tc, test_api_errors, 0, G_N_ELEMENTS(api_error_cases));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return test_suite_run(storage_io_suite());
}
