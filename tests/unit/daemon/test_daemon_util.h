/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_util.h: an in-process virtbhyved server (real driver on a
 * temporary directory, real listeners, its own I/O thread) and a raw
 * packet-level client for the daemon unit tests.
 */
#pragma once

#include "hyved_server.h"
#include "test_common.h"

typedef struct {
    char *dir;
    char *sock_rw;
    char *sock_ro;
    HyvedConfig cfg;
    HyveDriver *driver;
    HyvedServer *server;
    GMainContext *ctx;
    GThread *thread;
} TestServer;

/* @rw_auth: auth of the rw socket. @tweak may adjust the config first. */
TestServer *test_server_start(HyvedAuth rw_auth, void (*tweak)(HyvedConfig *cfg));
/* Same on @ctx (NULL: a new context), e.g. g_main_context_default() as
 * virtbhyved runs: the context every thread without one of its own uses. */
TestServer *test_server_start_on(HyvedAuth rw_auth, void (*tweak)(HyvedConfig *cfg),
                                 GMainContext *ctx);
void test_server_stop(TestServer *ts);
/* Ends the server's I/O thread only (its main loop returns, as the
 * daemon's before hyved_server_free); test_server_stop does the rest. */
void test_server_stop_loop(TestServer *ts);

int test_connect(const char *path);
/* Sends a packet with the given header and XDR args (filter NULL = empty). */
gboolean test_send(int fd, guint32 prog, gint32 proc, gint32 type, guint32 serial,
                   gint32 status, xdrproc_t filter, void *args);
gboolean test_send_raw(int fd, const void *data, gsize len);
/* Reads exactly @len bytes within @timeout_ms; FALSE on timeout or EOF/error
 * (then *eof, if given, is TRUE). */
gboolean test_read_full(int fd, void *buf, gsize len, int timeout_ms, gboolean *eof);
/* Receives one packet; FALSE on EOF, error or @timeout_ms without data.
 * *eof tells EOF apart from a timeout (may be NULL). */
gboolean test_recv(int fd, HyvedHeader *hdr, GBytes **payload, int timeout_ms, gboolean *eof);
/* Waits for EOF (draining whatever arrives), TRUE if it came in time. */
gboolean test_wait_eof(int fd, int timeout_ms, guint *packets);

/* Does CALL @proc with @args and waits for its reply. On success decodes
 * the ret into @ret (zeroed, @ret_filter); on an error reply fills @err. */
typedef struct {
    gboolean is_error;
    int code;
    int domain;
    char *message;
} TestReply;
gboolean test_call(int fd, gint32 proc, guint32 serial, xdrproc_t args_filter, void *args,
                   xdrproc_t ret_filter, void *ret, TestReply *reply);
void test_reply_clear(TestReply *reply);

/* AUTH_LIST + CONNECT_OPEN(name, flags); asserts success. */
void test_open(int fd, const char *name, guint flags);

/* test_daemon_scenarios.c */
#include <check.h>
void test_daemon_add_scenarios(TCase *tc);

/* test_daemon_hostile.c */
void test_daemon_add_hostile(TCase *tc);
/* test_daemon_flow.c */
void test_daemon_add_flow(TCase *tc);
