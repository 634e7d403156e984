/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_hostile.c: clients that try to make the server hold
 * resources: descriptors (CALL_WITH_FDS), unauthenticated connections,
 * memory through declared packet lengths; socket activation descriptors.
 * Replies, streams, events, read-only: test_daemon_flow.c.
 */
#include "hyve-config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "test_daemon_util.h"
#include "hyved_client_priv.h"

/* ---- fd passing ---------------------------------------------------------- */

/* Sends the header + payload of a CALL_WITH_FDS SUPPORTS_FEATURE(10)
 * announcing @nfds descriptors. */
static void
send_call_with_fds(int fd, guint32 nfds, guint32 serial)
{
    guint32 words[9] = {
        GUINT32_TO_BE(28 + 8), GUINT32_TO_BE(HYVED_PROGRAM_REMOTE), GUINT32_TO_BE(1),
        GUINT32_TO_BE(REMOTE_PROC_CONNECT_SUPPORTS_FEATURE),
        GUINT32_TO_BE(HYVED_TYPE_CALL_WITH_FDS), GUINT32_TO_BE(serial), 0,
        GUINT32_TO_BE(nfds), GUINT32_TO_BE(10),
    };
    ck_assert(test_send_raw(fd, words, sizeof(words)));
}

/* One byte carrying @n copies of @pass (n may be 0). */
static gboolean
send_fd_byte(int fd, int pass, guint n)
{
    union { char buf[CMSG_SPACE(sizeof(int) * 64)]; struct cmsghdr align; } ctl;
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (n > 0) {
        struct cmsghdr *c;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        for (guint i = 0; i < n; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &pass, sizeof(int));
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) == 1;
}

/* TRUE when every copy of the pipe's write end is closed (EOF in time). */
static gboolean
pipe_sees_eof(int rd, int timeout_ms)
{
    struct pollfd pfd = { .fd = rd, .events = POLLIN };
    char junk;

    return poll(&pfd, 1, timeout_ms) == 1 && read(rd, &junk, 1) == 0;
}

typedef struct {
    const char *name;
    gboolean authenticate;      /* AUTH_LIST first (rw socket with polkit: root bypass) */
    guint32 announced;
    guint bytes;                /* fd bytes sent */
    guint per_byte;             /* descriptors on each byte */
    gboolean dropped;           /* else: an OK reply and the stream stays in sync */
} FdCase;

static const FdCase fd_cases[] = {
    { "one-per-byte", TRUE, 3, 3, 1, FALSE },
    { "many-on-one-byte", TRUE, 32, 1, 32, TRUE },
    { "two-on-one-byte", TRUE, 2, 1, 2, TRUE },
    { "byte-without-fd", TRUE, 2, 2, 0, TRUE },
    { "too-many-announced", TRUE, HYVED_NUM_FDS_MAX + 1, 0, 0, TRUE },
    { "before-auth", FALSE, 1, 1, 1, TRUE },
};

START_TEST(test_fd_case)
{
    const FdCase *tc = &fd_cases[_i];
    gboolean root = geteuid() == 0;
    TestServer *ts = test_server_start(root ? HYVED_AUTH_POLKIT : HYVED_AUTH_NONE, NULL);
    int fd = test_connect(ts->sock_rw);
    int p[2];

    if (!tc->authenticate && !root) {
        close(fd);
        test_server_stop(ts);
        return;     /* an unauthenticated rw client needs polkit auth, i.e. root here */
    }
    if (tc->authenticate) {
        TestReply rep;
        remote_auth_list_ret auth = { 0 };

        ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 0, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &rep));
        ck_assert_msg(!rep.is_error, "%s: AUTH_LIST failed", tc->name);
        xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    }
    ck_assert(pipe2(p, O_CLOEXEC) == 0);
    send_call_with_fds(fd, tc->announced, 5);
    for (guint i = 0; i < tc->bytes; i++)
        send_fd_byte(fd, p[1], tc->per_byte);
    close(p[1]);
    if (tc->dropped) {
        ck_assert_msg(test_wait_eof(fd, 5000, NULL), "%s: client not dropped", tc->name);
    } else {
        HyvedHeader hdr;
        ck_assert_msg(test_recv(fd, &hdr, NULL, 5000, NULL) && hdr.serial == 5 &&
                      hdr.status == HYVED_STATUS_OK, "%s: no OK reply", tc->name);
    }
    ck_assert_msg(pipe_sees_eof(p[0], 5000), "%s: the server kept a passed descriptor", tc->name);
    if (!tc->dropped) {
        TestReply rep;
        remote_auth_list_ret auth = { 0 };

        ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 6, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &auth, &rep));
        ck_assert_msg(!rep.is_error, "%s: out of sync after the fds", tc->name);
        xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
    }
    close(p[0]);
    close(fd);
    test_server_stop(ts);
}
END_TEST

/* ---- unauthenticated clients, declared lengths ------------------------- */

static void
two_anonymous(HyvedConfig *cfg)
{
    cfg->max_anonymous_clients = 2;
}

/* FALSE when the server closed @fd: a keepalive PING gets no PONG (a PING
 * does not authenticate anyone, unlike AUTH_LIST as root). */
static gboolean
alive(int fd)
{
    HyvedHeader hdr;

    return test_send(fd, HYVED_PROGRAM_KEEPALIVE, HYVED_KEEPALIVE_PROC_PING,
                     HYVED_TYPE_MESSAGE, 0, 0, NULL, NULL) &&
           test_recv(fd, &hdr, NULL, 3000, NULL) && hdr.proc == HYVED_KEEPALIVE_PROC_PONG;
}

/* AUTH_LIST: authenticates root on a polkit socket (the bypass). */
static gboolean
answers(int fd, guint32 serial)
{
    remote_auth_list_ret ret = { 0 };
    TestReply rep = { 0 };
    gboolean ok = test_call(fd, REMOTE_PROC_AUTH_LIST, serial, NULL, NULL,
                            (xdrproc_t) xdr_remote_auth_list_ret, &ret, &rep);

    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &ret);
    test_reply_clear(&rep);
    return ok;
}

START_TEST(test_anonymous_cap)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, two_anonymous);
    int a = test_connect(ts->sock_rw);
    int b = test_connect(ts->sock_rw);
    int ro = test_connect(ts->sock_ro);      /* auth none: not anonymous */
    int c = test_connect(ts->sock_rw);

    ck_assert_msg(test_wait_eof(c, 3000, NULL), "anonymous-cap: third unauthenticated client kept");
    close(c);
    ck_assert_msg(alive(ro), "anonymous-cap: read-only (auth none) client dropped");
    ck_assert_msg(alive(a) && alive(b), "anonymous-cap: first two clients dropped");
    close(a);
    g_usleep(300 * 1000);
    c = test_connect(ts->sock_rw);
    ck_assert_msg(answers(c, 2), "anonymous-cap: no slot after one anonymous client left");
    {
        /* as root, AUTH_LIST authenticated c (polkit bypass): it no longer
         * counts and d still fits; otherwise b and c fill the cap */
        int d = test_connect(ts->sock_rw);
        int e = test_connect(ts->sock_rw);
        if (geteuid() == 0) {
            ck_assert_msg(answers(d, 3), "anonymous-cap: authenticated client still counted");
            ck_assert_msg(test_wait_eof(e, 3000, NULL), "anonymous-cap: cap not enforced again");
        } else {
            ck_assert_msg(test_wait_eof(d, 3000, NULL), "anonymous-cap: cap not enforced again");
        }
        close(d);
        close(e);
    }
    close(b);
    close(c);
    close(ro);
    test_server_stop(ts);
}
END_TEST

static void
grab_client(HyvedClient *client, gpointer data)
{
    HyvedClient **out = data;
    if (!*out)
        *out = hyved_client_ref(client);
}

START_TEST(test_declared_length)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, NULL);
    int unauth = test_connect(ts->sock_rw);
    int slow = test_connect(ts->sock_ro);
    guint32 len = GUINT32_TO_BE(1024 * 1024);
    guint32 big = GUINT32_TO_BE(32 * 1024 * 1024);
    g_autofree guint8 *chunk = g_malloc0(100 * 1024);
    HyvedClient *client = NULL;
    gsize alloc, have;

    /* before authentication: more than 64 KiB announced -> dropped */
    ck_assert(test_send_raw(unauth, &len, 4));
    ck_assert_msg(test_wait_eof(unauth, 3000, NULL), "declared-length: 1 MiB before auth kept");
    close(unauth);

    /* auth none but not opened yet: the same */
    ck_assert(test_send_raw(slow, &len, 4));
    ck_assert_msg(test_wait_eof(slow, 3000, NULL), "declared-length: 1 MiB before open kept");
    close(slow);

    /* opened: 32 MiB announced, 100 KiB sent: the buffer follows what
     * arrived */
    slow = test_connect(ts->sock_ro);
    test_open(slow, "bhyve:///system", 0);
    ck_assert(test_send_raw(slow, &big, 4));
    ck_assert(test_send_raw(slow, chunk, 100 * 1024));
    g_usleep(300 * 1000);
    hyved_server_foreach_client(ts->server, grab_client, &client);
    ck_assert(client != NULL);
    alloc = client->pkt_alloc;
    have = client->pkt_have;
    hyved_client_unref(client);
    ck_assert_msg(have == 100 * 1024 && alloc <= 256 * 1024,
                  "declared-length: %zu bytes in, %zu allocated", have, alloc);
    close(slow);
    test_server_stop(ts);
}
END_TEST

/* ---- socket activation ------------------------------------------------------ */

START_TEST(test_activation_fds)
{
    g_autofree char *dir = g_dir_make_tmp("hyved-act-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int p[2], sp[2], lsock, devnull;
    int src[5];
    const int base = 200;
    g_autofree char *pid = g_strdup_printf("%d", (int) getpid());
    g_autofree char *other_pid = g_strdup_printf("%d", (int) getpid() + 1);
    GArray *got;

    ck_assert(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    devnull = open("/dev/null", O_RDONLY);
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    ck_assert(devnull >= 0 && lsock >= 0 &&
              bind(lsock, (struct sockaddr *) &sun, sizeof(sun)) == 0 && listen(lsock, 4) == 0);
    src[0] = p[0]; src[1] = devnull; src[2] = sp[0]; src[3] = lsock; src[4] = p[1];
    for (int i = 0; i < 5; i++)
        ck_assert(dup2(src[i], base + i) == base + i);

    /* LISTEN_PID of another process: nothing taken, environment kept */
    g_setenv("LISTEN_PID", other_pid, TRUE);
    g_setenv("LISTEN_FDS", "5", TRUE);
    got = hyved_activation_take_fds(base);
    ck_assert_msg(got->len == 0 && g_getenv("LISTEN_FDS"), "activation: took fds of another pid");
    g_array_unref(got);

    /* ours: only the listening UNIX socket is taken, nothing is closed */
    g_setenv("LISTEN_PID", pid, TRUE);
    got = hyved_activation_take_fds(base);
    ck_assert_msg(got->len == 1 && g_array_index(got, int, 0) == base + 3,
                  "activation: took %u fds (first %d), expected only fd %d", got->len,
                  got->len ? g_array_index(got, int, 0) : -1, base + 3);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fcntl(base + i, F_GETFD) >= 0, "activation: fd %d (kind %d) closed",
                      base + i, i);
    ck_assert_msg(!g_getenv("LISTEN_PID") && !g_getenv("LISTEN_FDS"),
                  "activation: LISTEN_* left in the environment");
    g_array_unref(got);
    for (int i = 0; i < 5; i++) {
        close(base + i);
        close(src[i]);
    }
    close(sp[1]);
    unlink(path);
    rmdir(dir);
}
END_TEST

void
test_daemon_add_hostile(TCase *tc)
{
    tcase_add_loop_test(tc, test_fd_case, 0, G_N_ELEMENTS(fd_cases));
    tcase_add_test(tc, test_anonymous_cap);
    tcase_add_test(tc, test_declared_length);
    tcase_add_test(tc, test_activation_fds);
    test_daemon_add_flow(tc);
}
