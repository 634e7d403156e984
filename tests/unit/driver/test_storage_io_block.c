/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io_block.c (storage-io, with test_storage_io.c): sparse
 * copy to and from a block device, wipe of one, and uploads and downloads
 * on one, on loop devices over files in the temporary directory (root
 * only, skipped elsewhere).
 */

#include "test_storage_io.h"

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

/* A block device cannot grow: through the API, an upload past its end is
 * refused at the start (a file would grow); a download's length past the
 * end stops at the end. The volume of a dir pool is pointed at a loop
 * device (logical pools need device-mapper, absent here). */
START_TEST(test_block_api_range)
{
    g_autofree char *junk = make_junk("junk", MiB);
    g_autofree char *pool_dir = g_build_filename(tmpdir, "pool", NULL);
    g_autofree char *cfg_dir = g_build_filename(tmpdir, "config", NULL);
    g_autofree char *state_dir = g_build_filename(tmpdir, "state", NULL);
    g_autofree char *xml = g_strdup_printf("<pool type='dir'><name>p</name><target><path>%s"
                                           "</path></target></pool>", pool_dir);
    HyveStorageConfig cfg = { .privileged = TRUE, .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR,
                              .config_dir = cfg_dir, .state_dir = state_dir };
    g_autoptr(GError) err = NULL;
    g_autofree char *outcome = NULL;
    HyveStorage *st;
    HyvePoolObj *pool;
    HyveFrameHeader h;
    guint64 got = 0;
    int fd;

    loopdev = loop_attach(junk);
    if (!loopdev)
        return;                   /* not root or no loop devices: nothing to test */
    st = hyve_storage_new(&cfg, &err);
    ck_assert_msg(st, "storage: %s", err ? err->message : "?");
    pool = hyve_storage_pool_define_xml(st, xml, 0, &err);
    ck_assert(pool && hyve_storage_pool_build(st, pool, 0, &err) &&
              hyve_storage_pool_start(st, pool, 0, &err));
    ck_assert(hyve_storage_vol_create_xml(st, pool, "<volume><name>disk</name><capacity>4096"
                                          "</capacity></volume>", 0, NULL, &err));
    g_mutex_lock(&pool->lock);
    HyveVolObj *vol = hyve_pool_obj_find_vol_locked(pool, "disk");
    g_free(vol->def->target_path);
    vol->def->target_path = g_strdup(loopdev);
    g_mutex_unlock(&pool->lock);

    ck_assert_int_eq(hyve_storage_vol_upload(st, pool, "disk", MiB - 4096, 8192, 0, &err), -1);
    ck_assert_msg(err->code == HYVE_ERR_INVALID_ARG &&
                  strstr(err->message, "is beyond the end of block device volume 'disk'"),
                  "upload past the end: %d %s", err->code, err->message);
    g_clear_error(&err);
    ck_assert_int_eq(hyve_storage_vol_upload(st, pool, "disk", MiB + 1, 0, 0, &err), -1);
    ck_assert_int_eq(err->code, HYVE_ERR_INVALID_ARG);
    g_clear_error(&err);
    fd = hyve_storage_vol_download(st, pool, "disk", MiB - 4096, 64 * MiB, 0, &err);
    ck_assert_msg(fd >= 0, "download: %s", err ? err->message : "?");
    for (;;) {
        g_autofree char *payload = NULL;

        ck_assert(rd_frame(fd, &h, &payload));
        if (h.type != HYVE_FRAME_DATA)
            break;
        got += h.len;
    }
    ck_assert_uint_eq(h.type, HYVE_FRAME_EOF);
    ck_assert_uint_eq(got, 4096);
    ck_assert(wr_frame(fd, HYVE_FRAME_FINISH, 0, NULL, 0));
    outcome = rd_outcome(fd);
    ck_assert_str_eq(outcome, "DONE");
    close(fd);
    hyve_pool_obj_unref(pool);
    hyve_storage_free(st);
}
END_TEST

void
storage_io_add_block_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, setup, loop_teardown);
    tcase_add_loop_test(tc, test_block, 0, G_N_ELEMENTS(block_cases));
    tcase_add_test(tc, test_block_api_range);
}
