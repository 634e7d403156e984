/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_stream_queue.c: stream data and max_client_queue. Stream
 * data is flow-controlled by the stream itself (the fd is not read while
 * HYVED_STREAM_BACKLOG bytes are queued to the client), so it does not
 * count against max_client_queue: a slow but reading client of a stream
 * bigger than that cap gets all of it, and the daemon's queue for it stays
 * bounded by the backlog. Replies and events still count (scenario
 * "queue-cap" in test_daemon_scenarios.c).
 * TCase "room": max_client_streams, streams open or opening per client.
 */
#include "hyve-config.h"

#include <check.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hyved_client_priv.h"
#include "hyved_stream_priv.h"
#include "test_daemon_util.h"

#define SERIAL 60

typedef struct {
    const char *name;
    gsize queue_cap;            /* max_client_queue */
    gsize total;                /* bytes the fd delivers */
    guint pause_ms;             /* the client reads nothing this long first */
} QueueCase;

static const QueueCase queue_cases[] = {
    { "cap-4k-4mib", 4096, 4u << 20, 400 },
    { "cap-64k-3mib", 64 * 1024, 3u << 20, 300 },
    { "cap-default-2mib", 16u << 20, 2u << 20, 200 },
};

static gsize current_cap;

static void
tweak(HyvedConfig *cfg)
{
    cfg->max_client_queue = current_cap;
}

static void
tweak_streams(HyvedConfig *cfg)
{
    cfg->max_client_streams = 3;
}

static int notified;

static void
count_notify(gpointer data)
{
    g_atomic_int_inc(&notified);
}

/* TRUE when @fd reads EOF within a second (its peer was closed). */
static gboolean
peer_closed(int fd)
{
    char c;

    for (int i = 0; i < 100; i++) {
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

        if (n == 0)
            return TRUE;
        g_usleep(10000);
    }
    return FALSE;
}

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;

    if (!*out)
        *out = hyved_client_ref(client);
}

typedef struct {
    int fd;
    gsize total;
} Writer;

/* The fd's other side: @total bytes of a counting pattern, then EOF. */
static gpointer
writer_thread(gpointer data)
{
    Writer *w = data;
    guint8 buf[65536];
    gsize done = 0;

    while (done < w->total) {
        gsize n = MIN(sizeof(buf), w->total - done);
        ssize_t r;

        for (gsize i = 0; i < n; i++)
            buf[i] = (guint8) ((done + i) % 251);
        r = write(w->fd, buf, n);
        if (r <= 0)
            break;
        done += r;
    }
    close(w->fd);
    return GSIZE_TO_POINTER(done);
}

START_TEST(test_slow_reader)
{
    const QueueCase *qc = &queue_cases[_i];
    TestServer *ts;
    HyvedClient *client = NULL;
    HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, SERIAL, 0 };
    g_autoptr(GError) err = NULL;
    HyvedStream *st;
    Writer w;
    GThread *thread;
    gsize peak = 0, got = 0, bad = G_MAXSIZE;
    gboolean eof_packet = FALSE;
    int sp[2];
    int fd;

    current_cap = qc->queue_cap;
    ts = test_server_start(HYVED_AUTH_NONE, tweak);
    fd = test_connect(ts->sock_rw);
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert_msg(client, "%s: no client", qc->name);
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    st = hyved_client_open_stream(client, &call, sp[1], NULL, NULL, NULL, &err);
    ck_assert_msg(st, "%s: open stream: %s", qc->name, err ? err->message : "?");
    g_mutex_lock(&client->lock);
    hyved_streams_call_done_locked(client, SERIAL, TRUE);
    g_mutex_unlock(&client->lock);
    g_main_context_wakeup(ts->ctx);

    w.fd = sp[0];
    w.total = qc->total;
    thread = g_thread_new("writer", writer_thread, &w);

    /* the client does not read for a while: the queue fills to the backlog */
    for (guint t = 0; t < qc->pause_ms; t += 5) {
        g_mutex_lock(&client->lock);
        peak = MAX(peak, client->out_bytes);
        ck_assert_msg(!client->want_close && !client->closed,
                      "%s: client dropped with %zu bytes of stream data queued",
                      qc->name, client->out_bytes);
        g_mutex_unlock(&client->lock);
        g_usleep(5000);
    }
    ck_assert_msg(peak <= HYVED_STREAM_BACKLOG + HYVED_STREAM_PAYLOAD_MAX + 64,
                  "%s: %zu bytes queued, more than the stream backlog", qc->name, peak);
    ck_assert_msg(peak > MIN(qc->queue_cap, (gsize) HYVED_STREAM_BACKLOG / 2),
                  "%s: only %zu bytes queued: the pause did not fill the queue", qc->name, peak);

    /* then it reads everything: all data, in order, then the empty CONTINUE */
    while (!eof_packet) {
        HyvedHeader hdr;
        g_autoptr(GBytes) payload = NULL;
        gboolean eof = FALSE;
        gsize len = 0;
        const guint8 *data;

        ck_assert_msg(test_recv(fd, &hdr, &payload, 5000, &eof),
                      "%s: after %zu bytes: %s", qc->name, got,
                      eof ? "the daemon dropped the client" : "timeout");
        ck_assert_msg(hdr.type == HYVED_TYPE_STREAM && hdr.serial == SERIAL &&
                      hdr.status == HYVED_STATUS_CONTINUE,
                      "%s: packet type %d serial %u status %d", qc->name, hdr.type,
                      hdr.serial, hdr.status);
        data = g_bytes_get_data(payload, &len);
        /* one assertion per packet: check marks every assertion it passes */
        for (gsize i = 0; i < len && bad == G_MAXSIZE; i++)
            if (data[i] != (guint8) ((got + i) % 251))
                bad = got + i;
        ck_assert_msg(bad == G_MAXSIZE, "%s: byte %zu wrong", qc->name, bad);
        got += len;
        eof_packet = (len == 0);
    }
    ck_assert_msg(got == qc->total, "%s: got %zu of %zu bytes", qc->name, got, qc->total);
    ck_assert_msg(GPOINTER_TO_SIZE(g_thread_join(thread)) == qc->total,
                  "%s: writer short", qc->name);

    hyved_stream_unref(st);
    close(fd);
    hyved_client_unref(client);
    test_server_stop(ts);
}
END_TEST

START_TEST(test_stream_room)
{
    TestServer *ts = test_server_start(HYVED_AUTH_NONE, tweak_streams);
    HyvedClient *client = NULL;
    HyvedStream *st[3];
    HyvedStream *extra;
    int peers[4];
    int fd = test_connect(ts->sock_rw);

    notified = 0;
    test_open(fd, "bhyve:///system", 0);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client);
    for (guint i = 0; i < 4; i++) {
        HyvedHeader call = { HYVED_PROGRAM_REMOTE, 1, 201, HYVED_TYPE_CALL, 100 + i, 0 };
        g_autoptr(GError) err = NULL;
        int sp[2];

        ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
        peers[i] = sp[0];
        extra = hyved_client_open_stream(client, &call, sp[1], NULL, NULL, count_notify, &err);
        if (i < 3) {
            ck_assert_msg(extra, "room: stream %u refused: %s", i, err ? err->message : "?");
            st[i] = extra;
            continue;
        }
        ck_assert_msg(!extra && err && err->code == HYVE_ERR_OPERATION_FAILED &&
                      strstr(err->message, "max_client_streams = 3"),
                      "room: the 4th stream must fail with OPERATION_FAILED, got %s",
                      err ? err->message : "a stream");
    }
    ck_assert_msg(peer_closed(peers[3]), "room: the refused stream's fd is still open");
    ck_assert_msg(g_atomic_int_get(&notified) == 1, "room: end_notify ran %d times",
                  g_atomic_int_get(&notified));
    ck_assert_msg(!hyved_client_check_stream_room(client, NULL), "room: check says there is room");

    /* one call fails: its stream is dropped and there is room again */
    g_mutex_lock(&client->lock);
    hyved_streams_call_done_locked(client, 100, FALSE);
    g_mutex_unlock(&client->lock);
    ck_assert_msg(hyved_client_check_stream_room(client, NULL), "room: no room after one ended");

    for (guint i = 0; i < 3; i++)
        hyved_stream_unref(st[i]);
    for (guint i = 0; i < 4; i++)
        close(peers[i]);
    close(fd);
    hyved_client_unref(client);
    test_server_stop(ts);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("daemon-stream-queue");
    TCase *tc = tcase_create("queue");

    tcase_set_timeout(tc, 60);
    TCase *room = tcase_create("room");

    tcase_add_loop_test(tc, test_slow_reader, 0, G_N_ELEMENTS(queue_cases));
    suite_add_tcase(s, tc);
    tcase_set_timeout(room, 60);
    tcase_add_test(room, test_stream_room);
    suite_add_tcase(s, room);
    return test_suite_run(s);
}
