/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream_priv.h: the stream structure and the helpers shared by
 * hyved_stream.c (the source, lifetime), hyved_stream_raw.c (raw mode),
 * hyved_stream_framed.c (framed mode) and hyved_stream_abort.c (the daemon
 * ends a stream); included by those files only.
 *
 * Lifetime: the client's lists (pending_streams, streams) hold one
 * reference each; handles from hyved_client_open_stream one more. The
 * stream borrows its client: st->client may only be used while the stream
 * is linked (in one of the client's lists, flag "linked" under st->lock),
 * since a client is never freed with streams in its lists.
 */
#pragma once

#include "hyved_client_priv.h"
#include "hyve_stream_frame.h"

G_BEGIN_DECLS

/* Stop reading the fd while this much is queued to the client. */
#define HYVED_STREAM_BACKLOG (1024 * 1024)

/* Stop reading from the client while a stream holds this much of its data
 * not yet written to the fd (back-pressure, as libvirtd). */
#define HYVED_STREAM_WBUF_MAX (1024 * 1024)

/* A framed stream aborted by its client waits this long for the transfer
 * side to close its end (having released the volume) before the abort is
 * confirmed anyway. */
#define HYVED_STREAM_ABORT_WAIT (5 * G_TIME_SPAN_SECOND)

/* A raw stream finished by its client with data still queued (wbuf) for
 * the fd fails the finish when the fd takes none of it for this long. */
#define HYVED_STREAM_FINISH_WAIT (5 * G_TIME_SPAN_SECOND)
/* ... and in any case this long after the finish (a reader that takes a
 * byte now and then cannot hold the finish, and the console, for ever) */
#define HYVED_STREAM_FINISH_MAX (60 * G_TIME_SPAN_SECOND)

/* Created by a worker's handler and handed to the I/O thread through
 * client->pending_streams (under client->lock); from then on its mutable
 * fields belong to the I/O thread only. No lock of its own. */
struct _HyvedStream {
    GSource base;               /* first: the stream is its own GSource */
    HyvedClient *client;        /* immutable; borrowed, valid while linked */
    GMainContext *ctx;          /* immutable: the I/O thread's (a reference) */
    HyvedHeader hdr;            /* immutable: STREAM, CONTINUE, proc/serial of the call */
    HyvedStreamEndFunc end;     /* immutable */
    gpointer end_data;          /* immutable, freed with end_notify at finalize */
    GDestroyNotify end_notify;
    GMutex lock;                /* guards linked */
    gboolean linked;            /* [lock] in client->pending_streams or ->streams */
    gboolean abort_pending;     /* [client->lock] aborted by the daemon while pending:
                                 * ended right after the call's reply */
    GError *abort_error;        /* [client->lock] what the client is told then */
    gboolean ended;             /* I/O thread: end callback called */
    int fd;                     /* I/O thread */
    gpointer tag;               /* I/O thread: NULL while cur is 0 */
    GIOCondition cur;           /* I/O thread: events polled */
    gboolean eof;               /* I/O thread: EOF sent to the client */
    GByteArray *wbuf;           /* I/O thread: client data not yet written to fd */
    gboolean full;              /* I/O thread: wbuf at HYVED_STREAM_WBUF_MAX, counted
                                 * in client->streams_full */
    gboolean wfailed;           /* I/O thread: writing to fd failed, client data dropped */
    int werrno;                 /* I/O thread: why (errno) */
    guint64 dropped;            /* I/O thread: client data bytes dropped so far */
    /* raw mode */
    gboolean draining;          /* I/O thread: the client finished with data in wbuf:
                                 * the fd is written, not read, until wbuf is empty,
                                 * a write fails or drain_deadline passes; then the
                                 * finish is confirmed or reported failed */
    gint64 drain_deadline;      /* I/O thread: monotonic, HYVED_STREAM_FINISH_WAIT after
                                 * the finish or the last progress */
    gint64 drain_limit;         /* I/O thread: monotonic, HYVED_STREAM_FINISH_MAX after
                                 * the finish: drain_deadline never passes it */
    gsize drain_left;           /* I/O thread: wbuf's length at the last progress */
    /* framed mode (hyve_stream_frame.h on fd) */
    gboolean framed;            /* immutable */
    gboolean finishing;         /* I/O thread: client finished, FINISH queued, awaiting
                                 * DONE/ERROR */
    gboolean aborting;          /* I/O thread: the client aborted; our write side is shut,
                                 * what the fd sends is dropped until EOF (or the source's
                                 * ready time, HYVED_STREAM_ABORT_WAIT), then the abort is
                                 * confirmed */
    HyveFrameHeader rhdr;       /* I/O thread: the frame being read */
    gsize rhave;                /* I/O thread: bytes of it (header + payload) read */
    guint8 *rpayload;           /* I/O thread: its payload (DATA, ERROR) */
};

/* hyved_stream.c */
/* I/O thread, no lock held: tells the owner (end callback), once. */
void hyved_stream_fire_end(HyvedStream *st);
/* With client->lock held (st linked): the stream leaves the client's lists. */
void hyved_stream_unlink(HyvedStream *st);
/* I/O thread, unlinked: stops the I/O, closes the fd, tells the owner,
 * drops the list's reference. */
void hyved_stream_destroy(HyvedStream *st);
GBytes *hyved_stream_error_packet(HyvedStream *st, const GError *err);
GBytes *hyved_stream_status_packet(HyvedStream *st, gint32 status, const void *data, gsize len);
/* I/O thread: writes what wbuf holds, then updates back-pressure. */
gboolean hyved_stream_write_update(HyvedStream *st);
HyvedStream *hyved_stream_open(HyvedClient *client, const HyvedHeader *call, int fd,
                               gboolean framed, HyvedStreamEndFunc end, gpointer end_data,
                               GDestroyNotify end_notify, GError **error);
/* Any thread: runs @func on the I/O thread later (never in the caller,
 * which may hold locks the callback's owner code takes). */
void hyved_stream_defer(HyvedStream *st, GSourceFunc func, gpointer data, GDestroyNotify notify);

/* hyved_stream_raw.c */
/* I/O thread: the stream ends on the daemon's side, if still live: @pkt
 * (owned, may be NULL) goes to the client after the fd is closed and the
 * owner told. */
void hyved_stream_end(HyvedStream *st, GBytes *pkt);
/* I/O thread: one read from the fd of a raw stream, to the client. */
void hyved_stream_raw_read(HyvedStream *st);
/* I/O thread, draining: ends the stream (TRUE) once wbuf is written out (the
 * finish confirmed), a write failed or the deadline passed (reported). */
gboolean hyved_stream_raw_drain(HyvedStream *st);
/* I/O thread: a STREAM or STREAM_HOLE packet for a raw stream. */
void hyved_stream_raw_client_packet(HyvedStream *st, const HyvedHeader *hdr,
                                    const guint8 *payload, gsize len);

/* hyved_stream_framed.c */
/* I/O thread: frames from the fd, a bounded batch, while the client's
 * queue has room. */
void hyved_stream_framed_read(HyvedStream *st);
/* I/O thread: a client-aborted framed stream (st->aborting) is ready: reads
 * and drops what the fd has; at EOF or past the deadline, confirms the
 * abort and ends the stream. */
void hyved_stream_framed_drain(HyvedStream *st);
/* I/O thread: a STREAM or STREAM_HOLE packet for a framed stream. */
void hyved_stream_framed_client_packet(HyvedStream *st, const HyvedHeader *hdr,
                                       const guint8 *payload, gsize len);

G_END_DECLS
