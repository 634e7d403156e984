/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io_api.c (storage-io, with test_storage_io.c): transfers
 * through the public API on a dir pool (hyve_storage_vol_upload/download):
 * a sparse round trip with the pool's REFRESH event, a transfer aborted
 * mid-way releasing the volume, transfers ended by hyve_storage_free, and
 * the refusals with their codes and messages.
 */

#include "test_storage_io.h"

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
        ck_assert_msg(strstr(err->message, "is still in use."), "%s: %s", what,
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
                     "volume 'disk' is still in use.");
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
    { "download offset past the end", FALSE, "disk", 64 * MiB + 1, 0, 0, HYVE_ERR_INVALID_ARG,
      "invalid argument: offset 67108865 is beyond the end of volume 'disk' "
      "(capacity 67108864 bytes)" },
    { "huge length", TRUE, "disk", 1, G_MAXUINT64, 0, HYVE_ERR_INVALID_ARG,
      "invalid argument: offset 1 plus length 18446744073709551615 is beyond the largest "
      "file offset (volume 'disk')" },
    { "huge offset", TRUE, "disk", G_MAXUINT64, 0, 0, HYVE_ERR_INVALID_ARG,
      "invalid argument: offset 18446744073709551615 plus length 0 is beyond the largest" },
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

/* As libvirt's fd streams: an upload into a file may start and end past
 * its end (the file grows; the refresh at the end shows the new capacity);
 * a download's length past the end stops at the end. */
START_TEST(test_api_past_end)
{
    g_autofree char *path = vol_path("disk");
    g_autofree char *data = g_malloc(8192);
    g_autofree char *outcome = NULL;
    g_autoptr(GError) err = NULL;
    guint64 got = 0;
    HyveVolInfo info;
    HyveFrameHeader h;
    int fd;

    memset(data, 'z', 8192);
    fd = hyve_storage_vol_upload(st, pool, "disk", 64 * MiB + 4096, 16 * MiB, 0, &err);
    ck_assert_msg(fd >= 0, "upload past the end: %s", err ? err->message : "?");
    ck_assert(wr_frame(fd, HYVE_FRAME_DATA, 8192, data, 8192));
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    close(fd);
    ck_assert_uint_eq(file_size(path), 64 * MiB + 12288);
    ck_assert(hyve_storage_vol_get_info(st, pool, "disk", 0, &info, &err));
    ck_assert_uint_eq(info.capacity, 64 * MiB + 12288);
    /* 4 KiB of zeros (the gap), then the data; the length ends at the end */
    fd = hyve_storage_vol_download(st, pool, "disk", 64 * MiB, 1024 * MiB, 0, &err);
    ck_assert_msg(fd >= 0, "download past the end: %s", err ? err->message : "?");
    for (;;) {
        g_autofree char *payload = NULL;

        ck_assert(rd_frame(fd, &h, &payload));
        if (h.type != HYVE_FRAME_DATA)
            break;
        for (guint64 i = 0; i < h.len; i++)
            ck_assert_int_eq(payload[i], got + i < 4096 ? 0 : 'z');
        got += h.len;
    }
    ck_assert_uint_eq(h.type, HYVE_FRAME_EOF);
    ck_assert_uint_eq(got, 12288);
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    g_free(outcome);
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    close(fd);
}
END_TEST

void
storage_io_add_api_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, api_setup, api_teardown);
    tcase_add_test(tc, test_api_round_trip);
    tcase_add_loop_test(tc, test_api_abort, 0, G_N_ELEMENTS(api_abort_cases));
    tcase_add_test(tc, test_api_stop);
    tcase_add_loop_test(tc, test_api_errors, 0, G_N_ELEMENTS(api_error_cases));
    tcase_add_test(tc, test_api_past_end);
}
