/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_storage_io.h: what the files of the storage-io test program
 * (test_storage_io.c, test_storage_io_wire.c, test_storage_io_frames.c,
 * test_storage_io_block.c, test_storage_io_api.c) share: sizes, extents, the file helpers of
 * test_storage_io.c, the frame helpers of test_storage_io_wire.c, and the
 * functions that add each file's tests to main()'s test cases (in the
 * order the suite calls them, so the run order stays the same).
 */
#pragma once

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

/* The thread bodies of driver/hyve_storage_transfer_run.c are declared in
 * hyve_storage_priv.h. */

#define KiB 1024ull
#define MiB (1024ull * 1024)

typedef struct {
    guint64 off, len;
} Extent;

#define END { 0, 0 }

#define ISLANDS { { 0, 64 * KiB }, { MiB + 4 * KiB, 300 * KiB }, { 5 * MiB, MiB + 8 * KiB }, \
                  { 12 * MiB - 4 * KiB, 8 * KiB }, END }

#define IMAGE_SIZE (64 * MiB)
extern const Extent image_islands[];

/* test_storage_io.c: the fixture (a temporary directory) and file helpers. */
extern char *tmpdir;
void setup(void);
void teardown(void);
char *make_image(const char *name, guint64 size, const Extent *islands);
char *make_junk(const char *name, guint64 size);
GArray *data_map(const char *path, guint64 from, guint64 to);
char *map_string(GArray *map);
guint64 file_size(const char *path);
guint64 file_blocks(const char *path);
void assert_same(const char *what, const char *a, guint64 aoff, const char *b, guint64 boff,
                 guint64 len);

/* test_storage_io_wire.c: the daemon's side of the frame protocol. */
extern gint settled;
int core_start(gboolean upload, const char *path, guint64 offset, guint64 length, guint flags,
               GThread **thread);
void wait_readable(int fd);
gboolean rd(int fd, void *buf, gsize len);
gboolean wr_frame(int fd, guint32 type, guint64 len, const void *payload, gsize plen);
gboolean rd_frame(int fd, HyveFrameHeader *h, char **payload);
char *rd_outcome(int fd);
gboolean send_image(int fd, const char *src, guint64 from, guint64 to, gboolean sparse);
typedef struct {
    guint64 total;
    guint holes;                  /* HOLE frames */
    char *map;                    /* DATA extents as map_string() */
} Received;
void recv_image(int fd, const char *out, Received *r);
gboolean join(GThread *thread);

/* The tests of the other files, into main()'s test cases. */
void storage_io_add_frame_tests(TCase *tc);     /* "frames" (fixture set) */
void storage_io_add_block_tests(TCase *tc);     /* "block" (with its fixture) */
void storage_io_add_api_tests(TCase *tc);       /* "api" (with its fixture) */
