/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_client_priv.h: the server, listener and client structures, shared
 * by hyved_server.c, hyved_listener.c, hyved_client*.c, hyved_events.c and
 * the stream files hyved_stream.c, hyved_stream_framed.c and
 * hyved_stream_abort.c (through hyved_stream_priv.h) only.
 */
#pragma once

#include <gio/gio.h>
#include "hyved_server.h"

G_BEGIN_DECLS

/* One listening socket, in server->listeners. Set up before
 * hyved_server_run, then touched on the I/O thread only; no lock. */
typedef struct {
    GSocket *socket;
    GSource *source;                /* accept watch, NULL while paused */
    GSource *pause_source;          /* accept paused (EMFILE): resume timer */
    char *path;                     /* immutable */
    gboolean readonly;              /* immutable */
    HyvedAuth auth;                 /* immutable */
    gboolean unlink_at_exit;        /* immutable */
} HyvedListener;

struct _HyvedServer {
    /* immutable after hyved_server_new, read from any thread: */
    const HyvedConfig *cfg;
    HyveDriver *driver;             /* has its own locks */
    gboolean privileged;
    char *default_uri;
    GMainContext *ctx;              /* the I/O thread's context */
    GMainLoop *loop;
    GThreadPool *workers;           /* thread-safe itself */
    GThreadPool *prio_workers;      /* thread-safe itself; NULL when prio_workers = 0:
                                     * reads (and domain destroy) go here while
                                     * every worker is busy */
    gint busy_workers;              /* atomic: calls running or queued in workers */
    gint busy_prio;                 /* atomic: the same in prio_workers */

    /* I/O thread only (set up before hyved_server_run): */
    GPtrArray *listeners;           /* HyvedListener* */
    GSource *idle_source;
    guint idle_timeout;             /* seconds, 0 = never */

    GMutex lock;                    /* guards the fields marked [lock] */
    GPtrArray *clients;             /* [lock] HyvedClient* (one reference each) */
    guint64 next_client_id;         /* [lock] */
    guint n_unauth;                 /* [lock] clients with unauth_counted set */
    gint64 last_activity;           /* [lock] monotonic us: the server's start, the
                                     * last client connect or disconnect, the end of
                                     * the last call, the last idle check that found
                                     * the daemon busy (the idle timeout counts from it) */
};

/* One event registration, an element of HyvedClient.events: guarded by
 * that client's lock like the array. */
typedef struct {
    HyvedEventKind kind;
    int event_id;
    int callback_id;
    gboolean legacy;
    gboolean has_filter;
    guint8 uuid[HYVE_UUID_LEN];
} HyvedEventReg;

struct _HyvedClient {
    gint refcount;                  /* atomic */

    /* immutable once the client is in server->clients, read from any thread: */
    HyvedServer *server;
    guint64 id;                     /* set under server->lock when registered */
    gboolean ro_socket;
    HyvedAuth auth;
    uid_t uid;                      /* peer credentials (SO_PEERCRED) */
    gid_t gid;
    pid_t pid;
    guint64 start_time;             /* of pid, read at accept (polkit sockets); 0 unknown */

    int fd;                         /* written by the I/O thread only (-1 once
                                     * closed); elsewhere an unlocked hint */

    /* I/O thread only */
    GSource *source;
    gpointer fd_tag;
    GIOCondition cur_events;
    guint8 *rx;                     /* bytes read, not handled yet: rx[rx_start, rx_end) */
    gsize rx_start;
    gsize rx_end;
    gsize pkt_alloc;                /* rx's size: grows as a large packet arrives */
    gsize pkt_have;                 /* for diagnostics (tests): bytes of the packet at
                                     * rx's head read so far, length word excluded */
    guint64 rx_pos;                 /* stream offset of rx[rx_start] */
    GArray *rx_fds;                 /* HyvedRxFd: passed descriptors not claimed yet */
    guint8 *pkt;                    /* a CALL_WITH_FDS packet (no length word) ... */
    guint32 pkt_len;
    guint fds_wanted;               /* ... still waiting for this many fd bytes */
    GArray *fds;                    /* int: its descriptors so far */
    GSource *ka_source;
    guint streams_full;             /* streams whose client data buffer is full:
                                     * reading from the client paused */
    gint64 last_rx;                 /* monotonic us */
    guint ka_unanswered;

    GMutex lock;                    /* guards everything below */
    gboolean closed;
    gboolean wake;                  /* something was queued for the I/O thread:
                                     * hyved_client_unlock() wakes it */
    gboolean want_close;            /* ask the I/O thread to drop us */
    gboolean corked;                /* the I/O thread is handling a batch of calls:
                                     * replies are queued and leave together at
                                     * hyved_client_uncork (one wakeup of the
                                     * client for the batch, not one per reply) */
    GQueue outq;                    /* GBytes* */
    gsize out_bytes;
    gsize out_offset;               /* into the head packet */
    guint inflight;                 /* calls read whose reply is not written yet */
    GQueue reply_marks;             /* the replies in outq (not owned), in order */
    GQueue stream_marks;            /* stream data packets in outq (not owned), in order */
    gsize out_stream_bytes;         /* their bytes: flow-controlled by the streams
                                     * (HYVED_STREAM_BACKLOG), so not counted
                                     * against max_client_queue */
    gboolean authenticated;
    gboolean unauth_counted;        /* counted in server->n_unauth */
    gboolean opened;
    gboolean readonly;
    char *uri;
    gboolean keepalive;
    gboolean close_callback;
    GArray *events;                 /* HyvedEventReg */
    int next_callback_id;
    GPtrArray *pending_streams;     /* HyvedStream*, until the call's reply is queued */
    GPtrArray *streams;             /* HyvedStream*, live */
};

/* A descriptor passed with the byte at stream offset pos (the last byte of
 * the recvmsg() that brought it: the kernel ends a read after data that
 * carries descriptors). */
typedef struct {
    int fd;
    guint64 pos;
} HyvedRxFd;

/* hyved_client.c */
HyvedClient *hyved_client_new(HyvedServer *server, int fd, const HyvedListener *listener);
void hyved_client_start(HyvedClient *client);          /* attach its source */
void hyved_client_close(HyvedClient *client);          /* I/O thread */
/* Enqueue with client->lock held. When nothing is queued ahead of @pkt it
 * is written at once (non-blocking) from the calling thread; what does not
 * fit stays queued for the I/O thread, and client->wake is set. */
void hyved_client_enqueue_locked(HyvedClient *client, GBytes *pkt);
/* Drops client->lock; wakes the I/O thread when an enqueue under the lock
 * left it work (client->wake) and the caller is not the I/O thread. */
void hyved_client_unlock(HyvedClient *client);
/* Same for the reply to a call: the call stops counting against
 * max_client_requests once the reply is written to the socket. */
void hyved_client_enqueue_reply_locked(HyvedClient *client, GBytes *reply);
/* Stream data (STREAM/CONTINUE with data, STREAM_HOLE) read from a stream's
 * fd, which stops reading at HYVED_STREAM_BACKLOG queued bytes: the
 * max_client_queue cap counts only what is not stream data. Any thread. */
void hyved_client_enqueue_stream_data(HyvedClient *client, GBytes *pkt);
/* I/O thread, around a batch of calls read at once: between the two, every
 * packet for the client is queued (none is written from the enqueuing
 * thread); uncork writes the queue, several packets per sendmsg(), and
 * returns FALSE when the connection must be dropped. */
void hyved_client_cork(HyvedClient *client);
gboolean hyved_client_uncork(HyvedClient *client);

/* hyved_client_state.c: with client->lock held: FALSE (OPERATION_FAILED)
 * when the client has max_client_streams streams open or opening. */
gboolean hyved_client_stream_room_locked(HyvedClient *client, GError **error);

/* hyved_client_read.c */
/* I/O thread: handles the whole packets already read, then (@readable)
 * reads what the socket has, one recvmsg() at a time, up to a bounded
 * batch of packets; FALSE when the connection must be dropped. */
gboolean hyved_client_read(HyvedClient *client, gboolean readable);
/* I/O thread: TRUE when a whole packet waits in client->rx (reading may
 * have been paused with it there). */
gboolean hyved_client_rx_ready(HyvedClient *client);

/* hyved_stream.c */
void hyved_streams_client_init(HyvedClient *client);
void hyved_streams_client_close(HyvedClient *client);          /* I/O thread */
/* With client->lock held, after the reply to call @serial was queued. */
void hyved_streams_call_done_locked(HyvedClient *client, guint32 serial, gboolean ok);
/* I/O thread: a STREAM packet from the client. */
void hyved_stream_packet(HyvedClient *client, const HyvedHeader *hdr,
                         const guint8 *payload, gsize len);

/* hyved_listener.c */
void hyved_listener_free(HyvedListener *listener);

/* hyved_server.c */
void hyved_server_add_client(HyvedServer *server, int fd, const HyvedListener *listener);
void hyved_server_remove_client(HyvedServer *server, HyvedClient *client);
/* With client->lock held: the client no longer counts as unauthenticated. */
void hyved_server_uncount_unauth_locked(HyvedServer *server, HyvedClient *client);
/* I/O thread: runs one CALL: inline procedures right here, from @pkt as
 * it is (borrowed), the others on a worker with a copy of it. @fds: taken. */
void hyved_server_queue_call(HyvedServer *server, HyvedClient *client,
                             const HyvedHeader *hdr, const guint8 *pkt, guint32 pkt_len,
                             gsize payload_offset, GArray *fds);

G_END_DECLS
