/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io_frames.c (storage-io, with test_storage_io.c): the
 * upload/download thread bodies driven over a socketpair as the daemon
 * speaks to them: a 64 MiB sparse image round-trips bit-exactly keeping
 * its holes, offset/length honoured, overlong or hostile frames answered
 * with an ERROR frame with the right code and message, aborts and early
 * FINISH.
 */

#include "test_storage_io.h"

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
      "39 38 Unexpected stream hole" },
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

void
storage_io_add_frame_tests(TCase *tc)
{
    tcase_add_test(tc, test_round_trip);
    tcase_add_loop_test(tc, test_download_range, 0, G_N_ELEMENTS(range_cases));
    tcase_add_loop_test(tc, test_upload_range, 0, G_N_ELEMENTS(upload_cases));
    tcase_add_loop_test(tc, test_bad_frames, 0, G_N_ELEMENTS(bad_cases));
    tcase_add_loop_test(tc, test_abort, 0, G_N_ELEMENTS(abort_cases));
    tcase_add_test(tc, test_download_early_finish);
}
