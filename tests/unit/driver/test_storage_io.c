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
 *
 * One test program (storage-io) in five files sharing test_storage_io.h:
 * this one (file helpers, copy and wipe, the suite), test_storage_io_wire.c
 * (the daemon's side of the frame protocol, for the tests),
 * test_storage_io_frames.c (thread bodies over a socketpair),
 * test_storage_io_block.c (loop devices) and test_storage_io_api.c (the
 * public API on a dir pool).
 */

#include "test_storage_io.h"

char *tmpdir;

void
setup(void)
{
    tmpdir = test_tmpdir_new("hyve-storage-io-XXXXXX");
}

void
teardown(void)
{
    test_tree_remove(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

/* ---- files ---------------------------------------------------------------- */

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
char *
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
char *
make_junk(const char *name, guint64 size)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autofree char *buf = g_malloc(size ? size : 1);

    memset(buf, 0xab, size);
    ck_assert(g_file_set_contents(path, buf, size, NULL));
    return path;
}

/* The data extents of @path (SEEK_DATA/SEEK_HOLE) within [from, to). */
GArray *
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

char *
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

guint64
file_size(const char *path)
{
    struct stat sb;

    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_size;
}

guint64
file_blocks(const char *path)
{
    struct stat sb;

    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_blocks;
}

/* Bytes [aoff, aoff+len) of @a equal [boff, boff+len) of @b, where a NULL
 * @b means zeros. */
void
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

/* As libvirt: a sparse file becomes holes, a fully allocated one stays
 * allocated (a preallocated volume keeps its allocation). */
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
    { "all data, first 1 MiB + 1", 2 * MiB, { { 0, 2 * MiB }, END }, MiB + 1 },
    { "length past the end", MiB, { { 0, MiB }, END }, 8 * MiB },
};

START_TEST(test_wipe)
{
    const WipeCase *c = &wipe_cases[_i];
    g_autofree char *path = make_image("vol", c->size, c->islands);
    g_autofree char *orig = make_image("orig", c->size, c->islands);
    g_autoptr(GError) err = NULL;
    guint64 zeroed = MIN(c->length, c->size);
    guint64 blocks = file_blocks(path);

    ck_assert_msg(hyve_storage_wipe_path(path, c->length, &err), "%s: %s", c->name,
                  err ? err->message : "");
    ck_assert_msg(file_size(path) == c->size, "%s: size changed", c->name);
    assert_same(c->name, path, 0, NULL, 0, zeroed);
    assert_same(c->name, path, zeroed, orig, zeroed, c->size - zeroed);
    if (blocks * 512 >= c->size)
        ck_assert_msg(file_blocks(path) >= blocks, "%s: allocation %" G_GUINT64_FORMAT " -> %"
                      G_GUINT64_FORMAT " blocks", c->name, blocks, file_blocks(path));
    else if (zeroed == c->size)
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
    ck_assert_int_eq(err->code, HYVE_ERR_OPERATION_INVALID);
    ck_assert_msg(strstr(err->message, tmpdir), "%s", err->message);
}
END_TEST

/* A FIFO where a volume's file was: refused at once, naming it (a blocking
 * open would hang the worker; SIGALRM ends the test if it does). */
START_TEST(test_io_fifo)
{
    g_autofree char *fifo = g_build_filename(tmpdir, "fifo", NULL);
    g_autofree char *src = make_image("src", MiB, NULL);
    g_autofree char *want = g_strdup_printf("'%s' is not a regular file or a block device",
                                            fifo);
    g_autoptr(GError) err = NULL;

    ck_assert(mkfifo(fifo, 0600) == 0);
    alarm(20);
    for (int i = 0; i < 4; i++) {
        int fd = -1;
        gboolean ok = i == 0 ? hyve_storage_wipe_path(fifo, MiB, &err)
                    : i == 1 ? hyve_storage_copy_sparse(fifo, src, MiB, &err)
                    : i == 2 ? hyve_storage_copy_sparse(src, fifo, MiB, &err)
                    : (fd = hyve_storage_open_vol(fifo, O_RDONLY, &err)) >= 0;

        ck_assert_msg(!ok && err, "fifo case %d: accepted", i);
        ck_assert_msg(err->code == HYVE_ERR_OPERATION_INVALID && strstr(err->message, want),
                      "fifo case %d: %d %s", i, err->code, err->message);
        g_clear_error(&err);
    }
    alarm(0);
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
    tcase_add_test(tc, test_io_fifo);
    suite_add_tcase(s, tc);

    tc = tcase_create("frames");
    tcase_add_checked_fixture(tc, setup, teardown);
    storage_io_add_frame_tests(tc);
    suite_add_tcase(s, tc);

    tc = tcase_create("block");
    storage_io_add_block_tests(tc);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    storage_io_add_api_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return test_suite_run(storage_io_suite());
}
