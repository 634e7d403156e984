/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_stream_frame.h: the framed byte stream between the daemon's stream
 * code (daemon/hyved_stream_framed.c, I/O thread, non-blocking) and a driver
 * transfer thread (driver/hyve_storage_transfer.c, blocking I/O) over a
 * SOCK_STREAM socketpair, for volume upload/download.
 *
 * Libvirt streams carry data, holes (STREAM_HOLE packets), EOF, finish and
 * errors; a plain byte pipe cannot carry holes or errors, hence frames.
 * Every frame is a HyveFrameHeader (host byte order: both ends are on the
 * same machine) followed by `len` payload bytes for DATA and ERROR frames.
 *
 * Daemon -> driver (upload):
 *   DATA   payload = bytes the client sent (len <= HYVE_FRAME_DATA_MAX)
 *   HOLE   len = hole length (client STREAM_HOLE), no payload
 *   FINISH the client finished (STREAM OK): the driver flushes and answers
 *          DONE or ERROR; the daemon confirms the client's finish only then
 * Driver -> daemon (download):
 *   DATA, HOLE as above (the daemon sends STREAM CONTINUE / STREAM_HOLE)
 *   EOF    no more data: the daemon sends the empty STREAM CONTINUE
 *   (then the client finishes: daemon sends FINISH, driver answers DONE)
 * Either direction's answers from the driver:
 *   DONE   finish completed: daemon sends STREAM OK
 *   ERROR  payload = HyveFrameError + message (UTF-8, not NUL-terminated):
 *          the daemon sends STREAM ERROR with that code/domain/message and
 *          ends the stream; the driver closes its end after it.
 * Abort: the daemon shuts down its write side (client abort) or closes its
 * end (client gone). The driver sees EOF/EPIPE without FINISH, stops,
 * releases the volume (uploaded data stays written, as libvirt) and closes
 * its end; on a client abort the daemon drops what still arrives and
 * confirms the abort only once that end is closed (5 s at most), so the
 * volume is free when the client hears back.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    HYVE_FRAME_DATA = 1,
    HYVE_FRAME_HOLE = 2,
    HYVE_FRAME_EOF = 3,
    HYVE_FRAME_FINISH = 4,
    HYVE_FRAME_DONE = 5,
    HYVE_FRAME_ERROR = 6,
} HyveFrameType;

typedef struct {
    guint32 type;                 /* HyveFrameType */
    guint32 reserved;             /* 0 */
    guint64 len;                  /* DATA/ERROR: payload bytes; HOLE: hole length */
} HyveFrameHeader;

typedef struct {
    gint32 code;                  /* libvirt virErrorNumber */
    gint32 domain;                /* libvirt virErrorDomain */
} HyveFrameError;

/* Largest DATA payload either side sends (libvirt's stream packet limit,
 * VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX). */
#define HYVE_FRAME_DATA_MAX 262120
/* Largest ERROR payload (message is truncated to fit). */
#define HYVE_FRAME_ERROR_MAX 4096

G_STATIC_ASSERT(sizeof(HyveFrameHeader) == 16);

G_END_DECLS
