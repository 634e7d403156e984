/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto_fakesrv.h: a minimal RPC responder built only on daemon/protocol
 * (hyved_packet + the rpcgen filters), so the stock virsh 9.0 client can
 * decode what our structs encode and we can decode what it sends. It is a
 * protocol test rig, not the daemon: replies are canned per procedure.
 */
#pragma once

#include <glib.h>
#include "hyved_packet.h"
#include "hyved_protocol.h"

typedef struct _ProtoFakeConn ProtoFakeConn;

/* Fills @ret (zeroed, never xdr_free'd: point it at static data) from
 * @args; returns FALSE to answer with an error instead. May queue events. */
typedef gboolean (*ProtoFakeHandler)(ProtoFakeConn *conn, void *args, void *ret);

typedef struct {
    gint32 proc;
    const char *name;
    xdrproc_t args_filter;   /* NULL: empty */
    gsize args_size;
    xdrproc_t ret_filter;    /* NULL: empty */
    gsize ret_size;
    ProtoFakeHandler handler;   /* NULL: empty reply */
} ProtoFakeProc;

typedef struct _ProtoFakeServer ProtoFakeServer;

/* Listens on a fresh unix socket in a private temp dir and serves one
 * client connection after another on a thread until stopped. Features
 * whose bit is set in @features are answered 1 (14: event callbacks,
 * 15: close callback), all others 0. */
ProtoFakeServer *proto_fake_server_start(const ProtoFakeProc *procs, gsize nprocs,
                                         guint features);
const char *proto_fake_server_uri(ProtoFakeServer *srv);
/* Lines logged by handlers and the dispatcher ("UNKNOWN 243", ...). */
char *proto_fake_server_stop(ProtoFakeServer *srv);

/* For handlers. */
void proto_fake_log(ProtoFakeConn *conn, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Queues an event MESSAGE, sent once the client is idle (300 ms) after the reply. */
void proto_fake_queue_event(ProtoFakeConn *conn, gint32 proc, xdrproc_t filter, void *msg);
