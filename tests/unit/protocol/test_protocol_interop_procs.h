/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_protocol_interop_procs.h: the procedure table of the fake server
 * that test_protocol_interop.c runs the stock clients against, and what
 * its two handler files share.
 */
#pragma once

#include "proto_fakesrv.h"

extern const ProtoFakeProc interop_procs[];
extern const gsize interop_nprocs;

/* Handlers see their args and ret structs as `a` and `r`. */
#define RET(type) type *r = ret
#define ARGS(type) type *a = args

/* The objects every reply names (test_protocol_interop_procs.c). */
extern const guint8 vm1_uuid[16];
extern const guint8 net_uuid[16];
extern const guint8 pool_uuid[16];
remote_nonnull_domain vm1(void);

/* Event registrations (test_protocol_interop_events.c). */
gboolean h_event_legacy(ProtoFakeConn *c, void *args, void *ret);
gboolean h_event_callback(ProtoFakeConn *c, void *args, void *ret);
gboolean h_net_event(ProtoFakeConn *c, void *args, void *ret);
gboolean h_pool_event(ProtoFakeConn *c, void *args, void *ret);
gboolean h_nodedev_event(ProtoFakeConn *c, void *args, void *ret);
gboolean h_secret_event(ProtoFakeConn *c, void *args, void *ret);
gboolean h_close_callback(ProtoFakeConn *c, void *args, void *ret);
