/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hyve-config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_daemon_util.h"

static gpointer
server_thread(gpointer data)
{
    TestServer *ts = data;

    g_main_context_push_thread_default(ts->ctx);
    hyved_server_run(ts->server);
    g_main_context_pop_thread_default(ts->ctx);
    return NULL;
}

TestServer *
test_server_start(HyvedAuth rw_auth, void (*tweak)(HyvedConfig *cfg))
{
    return test_server_start_on(rw_auth, tweak, NULL);
}

TestServer *
test_server_start_on(HyvedAuth rw_auth, void (*tweak)(HyvedConfig *cfg), GMainContext *ctx)
{
    TestServer *ts = g_new0(TestServer, 1);
    HyveDriverConfig dcfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *etc = NULL, *state = NULL, *log = NULL, *cache = NULL;

    ts->dir = test_tmpdir_new("hyved-test-XXXXXX");
    etc = g_build_filename(ts->dir, "etc", NULL);
    state = g_build_filename(ts->dir, "state", NULL);
    log = g_build_filename(ts->dir, "log", NULL);
    cache = g_build_filename(ts->dir, "cache", NULL);
    ts->sock_rw = g_build_filename(ts->dir, "sock", NULL);
    ts->sock_ro = g_build_filename(ts->dir, "sock-ro", NULL);

    hyved_config_init(&ts->cfg, TRUE);
    if (tweak)
        tweak(&ts->cfg);

    dcfg.privileged = TRUE;
    dcfg.config_dir = etc;
    dcfg.state_dir = state;
    dcfg.log_dir = log;
    dcfg.cache_dir = cache;
    dcfg.runner_path = (char *) "/bin/false";
    dcfg.uri = (char *) "bhyve:///system";
    ts->driver = hyve_driver_new(&dcfg, &err);
    ck_assert_msg(ts->driver, "driver: %s", err ? err->message : "?");

    ts->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_new();
    ts->server = hyved_server_new(&ts->cfg, ts->driver, TRUE, ts->ctx, &err);
    ck_assert_msg(ts->server, "server: %s", err ? err->message : "?");
    ck_assert_msg(hyved_server_add_unix_listener(ts->server, ts->sock_rw, FALSE, rw_auth,
                                                 0600, NULL, &err), "rw: %s", err ? err->message : "?");
    ck_assert_msg(hyved_server_add_unix_listener(ts->server, ts->sock_ro, TRUE, HYVED_AUTH_NONE,
                                                 0600, NULL, &err), "ro: %s", err ? err->message : "?");
    ts->thread = g_thread_new("hyved-test-io", server_thread, ts);
    return ts;
}

void
test_server_stop_loop(TestServer *ts)
{
    if (!ts->thread)
        return;
    hyved_server_quit(ts->server);
    g_thread_join(ts->thread);
    ts->thread = NULL;
}

void
test_server_stop(TestServer *ts)
{
    test_server_stop_loop(ts);
    hyved_server_free(ts->server);
    ck_assert_msg(!g_file_test(ts->sock_rw, G_FILE_TEST_EXISTS), "socket file left behind");
    hyve_driver_free(ts->driver);
    g_main_context_unref(ts->ctx);
    hyved_config_clear(&ts->cfg);
    test_tree_remove(ts->dir);
    g_free(ts->dir);
    g_free(ts->sock_rw);
    g_free(ts->sock_ro);
    g_free(ts);
}

int
test_connect(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    ck_assert_msg(connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0,
                  "connect %s: %s", path, g_strerror(errno));
    return fd;
}

gboolean
test_send_raw(int fd, const void *data, gsize len)
{
    const guint8 *p = data;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}

gboolean
test_send(int fd, guint32 prog, gint32 proc, gint32 type, guint32 serial,
          gint32 status, xdrproc_t filter, void *args)
{
    HyvedHeader hdr = { prog, HYVED_PROGRAM_VERSION, proc, type, serial, status };
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) pkt = hyved_packet_encode(&hdr, filter, args, &err);
    gsize len = 0;
    const void *data;

    ck_assert_msg(pkt, "encode: %s", err ? err->message : "?");
    data = g_bytes_get_data(pkt, &len);
    return test_send_raw(fd, data, len);
}

gboolean
test_read_full(int fd, void *buf, gsize len, int timeout_ms, gboolean *eof)
{
    gsize have = 0;
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;

    if (eof)
        *eof = FALSE;
    while (have < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int left = (int) ((deadline - g_get_monotonic_time()) / 1000);
        ssize_t n;

        if (left < 0 || poll(&pfd, 1, left) <= 0)
            return FALSE;
        n = read(fd, (guint8 *) buf + have, len - have);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            if (eof)
                *eof = TRUE;
            return FALSE;
        }
        if (n > 0)
            have += n;
    }
    return TRUE;
}

gboolean
test_recv(int fd, HyvedHeader *hdr, GBytes **payload, int timeout_ms, gboolean *eof)
{
    guint8 lenbuf[4];
    guint32 total = 0;
    g_autofree guint8 *body = NULL;
    g_autoptr(GError) err = NULL;

    if (eof)
        *eof = FALSE;
    if (!test_read_full(fd, lenbuf, 4, timeout_ms, eof))
        return FALSE;
    ck_assert_msg(hyved_packet_parse_length(lenbuf, &total, &err), "server sent bad length: %s",
                  err ? err->message : "?");
    body = g_malloc(total - 4);
    if (!test_read_full(fd, body, total - 4, timeout_ms, eof))
        return FALSE;
    ck_assert_msg(hyved_packet_decode_header(body, total - 4, hdr, &err),
                  "server sent bad header: %s", err ? err->message : "?");
    if (payload)
        *payload = g_bytes_new(body + HYVED_MESSAGE_HEADER_MAX, total - 4 - HYVED_MESSAGE_HEADER_MAX);
    return TRUE;
}

gboolean
test_wait_eof(int fd, int timeout_ms, guint *packets)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
    guint n = 0;

    while (g_get_monotonic_time() < deadline) {
        HyvedHeader hdr;
        gboolean eof = FALSE;
        int left = (int) ((deadline - g_get_monotonic_time()) / 1000);

        if (test_recv(fd, &hdr, NULL, MAX(left, 1), &eof)) {
            n++;
            continue;
        }
        if (packets)
            *packets = n;
        return eof;
    }
    if (packets)
        *packets = n;
    return FALSE;
}

void
test_reply_clear(TestReply *reply)
{
    g_clear_pointer(&reply->message, g_free);
}

gboolean
test_call(int fd, gint32 proc, guint32 serial, xdrproc_t args_filter, void *args,
          xdrproc_t ret_filter, void *ret, TestReply *reply)
{
    HyvedHeader hdr;
    g_autoptr(GBytes) payload = NULL;
    g_autoptr(GError) err = NULL;
    gsize len = 0;
    const guint8 *data;

    memset(reply, 0, sizeof(*reply));
    ck_assert_msg(test_send(fd, HYVED_PROGRAM_REMOTE, proc, HYVED_TYPE_CALL, serial,
                            HYVED_STATUS_OK, args_filter, args), "send proc %d", proc);
    /* Skip event MESSAGEs that may arrive before the reply. */
    do {
        g_clear_pointer(&payload, g_bytes_unref);
        if (!test_recv(fd, &hdr, &payload, 10000, NULL))
            return FALSE;
    } while (hdr.type == HYVED_TYPE_MESSAGE);

    ck_assert_msg(hdr.type == HYVED_TYPE_REPLY && hdr.serial == serial && hdr.proc == proc &&
                  hdr.prog == HYVED_PROGRAM_REMOTE,
                  "reply header for proc %d: type %d serial %u proc %d", proc, hdr.type,
                  hdr.serial, hdr.proc);
    data = g_bytes_get_data(payload, &len);
    if (hdr.status == HYVED_STATUS_ERROR) {
        remote_error e = { 0 };
        ck_assert_msg(hyved_packet_decode_payload(data, len, (xdrproc_t) xdr_remote_error, &e, &err),
                      "proc %d: undecodable error: %s", proc, err ? err->message : "?");
        reply->is_error = TRUE;
        reply->code = e.code;
        reply->domain = e.domain;
        reply->message = g_strdup(e.message ? *e.message : "");
        ck_assert_msg(e.level == 2, "proc %d: error level %d", proc, e.level);
        xdr_free((xdrproc_t) xdr_remote_error, (char *) &e);
        return TRUE;
    }
    ck_assert_msg(hdr.status == HYVED_STATUS_OK, "proc %d: status %d", proc, hdr.status);
    if (ret_filter)
        ck_assert_msg(hyved_packet_decode_payload(data, len, ret_filter, ret, &err),
                      "proc %d: undecodable ret: %s", proc, err ? err->message : "?");
    else
        ck_assert_msg(len == 0, "proc %d: %zu unexpected payload bytes", proc, len);
    return TRUE;
}

void
test_open(int fd, const char *name, guint flags)
{
    remote_auth_list_ret auth = { 0 };
    char *n = (char *) name;
    remote_connect_open_args open = { .name = name ? &n : NULL, .flags = flags };
    TestReply r;

    ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 0, NULL, NULL,
                        (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r));
    ck_assert_msg(!r.is_error, "AUTH_LIST failed: %s", r.message);
    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_OPEN, 1, (xdrproc_t) xdr_remote_connect_open_args,
                        &open, NULL, NULL, &r));
    ck_assert_msg(!r.is_error, "CONNECT_OPEN failed: %s", r.message);
}
