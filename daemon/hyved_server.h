/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_server.h: the RPC server (listeners, clients, workers) as seen by
 * main.c, the dispatcher, the connect/event handlers and the unit tests.
 *
 * Threading: one GMainContext thread (the "I/O thread") owns every socket
 * and does all reads, one recvmsg() into a per-client buffer at a time.
 * Calls marked HYVED_PROC_INLINE (cheap reads that never block) run right
 * there; the others are decoded and run on a GThreadPool. Their replies,
 * event MESSAGEs and keepalive packets all go through hyved_client_enqueue(),
 * the only writer path: under the client lock, a packet with nothing queued
 * ahead of it is written at once (non-blocking) by the thread that made it;
 * otherwise (or what did not fit) it is appended to the client's output
 * queue (FIFO) and the I/O thread is woken to write it on POLLOUT.
 */
#pragma once

#include <sys/types.h>
#include "hyved_dispatch.h"
#include "hyved_config.h"
#include "hyve_storage.h"
#include "hyve_network.h"

G_BEGIN_DECLS

/* ---- server -------------------------------------------------------------- */

/* @ctx: the context to run in (NULL = a new one). @cfg and @driver are
 * borrowed and must outlive the server. */
HyvedServer *hyved_server_new(const HyvedConfig *cfg, HyveDriver *driver,
                              gboolean privileged, GMainContext *ctx, GError **error);
void hyved_server_free(HyvedServer *server);

/* FALSE (OPERATION_FAILED) when a daemon already answers on @path. */
gboolean hyved_server_check_not_running(const char *path, GError **error);
/* Creates (after removing a stale file) and listens on a UNIX socket. */
gboolean hyved_server_add_unix_listener(HyvedServer *server, const char *path,
                                        gboolean readonly, HyvedAuth auth,
                                        guint perms, const char *group, GError **error);
/* Adopts an already listening socket (systemd socket activation). It is
 * not unlinked at exit. */
gboolean hyved_server_add_listener_fd(HyvedServer *server, int fd, const char *path,
                                      gboolean readonly, HyvedAuth auth, GError **error);

/* systemd socket activation: when LISTEN_PID is this process, takes the
 * LISTEN_FDS descriptors from @first on that are listening AF_UNIX stream
 * sockets (others are left alone, never closed) and unsets LISTEN_*.
 * Call before anything else opens descriptors. */
GArray *hyved_activation_take_fds(int first);

/* Exit the loop once nothing happened for @seconds (0 = never): no client
 * connected or left, no call ran or waited on a worker, no domain ran and
 * no network was active in that time. Session mode: clients of another
 * uid than the daemon's are refused at accept. */
void hyved_server_set_idle_timeout(HyvedServer *server, guint seconds);
void hyved_server_run(HyvedServer *server);
void hyved_server_quit(HyvedServer *server);          /* any thread */
guint hyved_server_num_clients(HyvedServer *server);  /* any thread */
const HyvedConfig *hyved_server_get_config(HyvedServer *server);
gboolean hyved_server_is_privileged(HyvedServer *server);
const char *hyved_server_get_default_uri(HyvedServer *server);

/* Calls @func(client, user_data) with a reference on every connected client. */
void hyved_server_foreach_client(HyvedServer *server,
                                 void (*func)(HyvedClient *client, gpointer user_data),
                                 gpointer user_data);

/* ---- client (beyond what hyved_dispatch.h exposes) ---------------------- */

HyvedClient *hyved_client_ref(HyvedClient *client);
void hyved_client_unref(HyvedClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyvedClient, hyved_client_unref)

/* The single writer path. Takes ownership of @pkt. Any thread. */
void hyved_client_enqueue(HyvedClient *client, GBytes *pkt);

HyvedServer *hyved_client_get_server(HyvedClient *client);
gboolean hyved_client_is_authenticated(HyvedClient *client);
void hyved_client_set_authenticated(HyvedClient *client);
HyvedAuth hyved_client_get_auth(HyvedClient *client);       /* of its socket */
gboolean hyved_client_on_readonly_socket(HyvedClient *client);
pid_t hyved_client_get_pid(HyvedClient *client);
/* Start time of that pid read when the client connected (0: unknown). */
guint64 hyved_client_get_start_time(HyvedClient *client);
int hyved_client_get_fd(HyvedClient *client);
/* CONNECT_OPEN / CONNECT_CLOSE bookkeeping. */
gboolean hyved_client_set_open(HyvedClient *client, const char *uri,
                               gboolean readonly, GError **error);
void hyved_client_set_closed(HyvedClient *client);
/* SUPPORTS_FEATURE(PROGRAM_KEEPALIVE) answered 1: start our PINGs. */
void hyved_client_enable_keepalive(HyvedClient *client);
void hyved_client_set_close_callback(HyvedClient *client, gboolean registered);

/* Streams (hyved_stream.c; framed mode in hyved_stream_framed.c, the
 * daemon's abort in hyved_stream_abort.c), for handlers such as
 * DOMAIN_OPEN_CONSOLE:
 * ties @fd (taken over, made non-blocking; e.g. a console pty) to the
 * stream of the call @call. It starts once the handler's successful reply
 * is queued (never before it) and is dropped if the call fails. fd data ->
 * STREAM/CONTINUE packets; client data -> written to fd; fd EOF -> empty
 * CONTINUE; client finish/abort -> STREAM/OK confirm, fd closed. */
gboolean hyved_client_add_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                                 GError **error);

/* The same, for an owner that needs to know the stream: returns a new
 * reference (NULL + @error on failure; @fd is closed either way then).
 * @end (may be NULL) is called once, on the I/O thread with no lock held,
 * when the stream ends for any reason: fd EOF (after the empty CONTINUE is
 * queued), client finish/abort, client gone, the opening call failed, or
 * hyved_stream_abort. @end_notify frees @end_data when the stream is freed
 * (also on failure here). The end callback may take locks the caller of
 * hyved_client_open_stream holds (it never runs inside it). */
typedef struct _HyvedStream HyvedStream;
typedef void (*HyvedStreamEndFunc)(HyvedStream *stream, gpointer end_data);
HyvedStream *hyved_client_open_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                                      HyvedStreamEndFunc end, gpointer end_data,
                                      GDestroyNotify end_notify, GError **error);
HyvedStream *hyved_stream_ref(HyvedStream *stream);
void hyved_stream_unref(HyvedStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyvedStream, hyved_stream_unref)
/* FALSE (OPERATION_FAILED) when the client may not open another stream
 * (max_client_streams): for handlers that set up costly things (a transfer
 * thread) before hyved_client_open_*stream, which checks it again. */
gboolean hyved_client_check_stream_room(HyvedClient *client, GError **error);
/* Framed streams (volume upload/download): the same, but @fd (a socket)
 * speaks hyve_stream_frame.h with a driver transfer thread: client data and
 * STREAM_HOLE packets -> DATA/HOLE frames; client finish -> FINISH frame,
 * confirmed (STREAM/OK) only when the fd answers DONE; fd DATA/HOLE/EOF ->
 * STREAM/CONTINUE data, STREAM_HOLE packets, the empty CONTINUE; an ERROR
 * frame -> STREAM/ERROR with its code, domain and message; client abort ->
 * the fd's write side shut, what it still sends dropped, STREAM/OK once the
 * transfer side closed its end (it released the volume; 5 s at most); the
 * fd closing before DONE/ERROR, or a malformed frame -> STREAM/ERROR
 * (INTERNAL_ERROR). */
HyvedStream *hyved_client_open_framed_stream(HyvedClient *client, const HyvedHeader *call,
                                             int fd, HyvedStreamEndFunc end,
                                             gpointer end_data, GDestroyNotify end_notify,
                                             GError **error);
gboolean hyved_client_add_framed_stream(HyvedClient *client, const HyvedHeader *call, int fd,
                                        GError **error);
/* Any thread: the daemon ends the stream (e.g. a console taken over): the
 * client gets a STREAM/ERROR packet carrying @error (after the reply of the
 * call that opened the stream, if that is not queued yet), the fd is closed,
 * later client packets for it are dropped. No-op when it ended already. */
void hyved_stream_abort(HyvedStream *stream, const GError *error);

/* Event fan-out (hyved_events.c). */
void hyved_events_sink(const HyveDomainEvent *event, gpointer server);
/* Storage pool events (a HyvePoolEventSink). */
void hyved_events_pool_sink(const HyvePoolEvent *event, gpointer server);
/* Network lifecycle events (a HyveNetEventSink). */
void hyved_events_network_sink(const HyveNetEvent *event, gpointer server);
/* Called with the client lock held by hyved_client: drop all registrations. */
void hyved_events_client_init(HyvedClient *client);
void hyved_events_client_clear(HyvedClient *client);

/* Dispatch one CALL (hyved_dispatch.c). Returns the reply packet. */
GBytes *hyved_dispatch_call(HyvedServer *server, HyvedClient *client,
                            const HyvedHeader *hdr, const guint8 *payload, gsize len);
/* Error reply for a GError raised by the daemon or the driver. */
GBytes *hyved_dispatch_error_reply(const HyvedHeader *call, const GError *err);

G_END_DECLS
