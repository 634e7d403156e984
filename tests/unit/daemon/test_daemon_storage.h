/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_storage.h: what test_daemon_storage_stream.c (framed streams,
 * main) and test_daemon_storage_rpc.c (TCase "rpc") share; both are linked
 * into the daemon-storage-stream executable.
 */
#pragma once

#include <check.h>
#include <glib.h>

#define SERIAL 70

/* test_daemon_storage_stream.c: a client STREAM_HOLE payload. */
void hole_payload(guint8 buf[12], gint64 length, guint32 flags);

/* test_daemon_storage_rpc.c: adds the "rpc" tests to @tc. */
void test_daemon_storage_add_rpc(TCase *tc);
