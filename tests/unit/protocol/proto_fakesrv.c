/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto_fakesrv.c: see proto_fakesrv.h. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib/gstdio.h>

#include "proto_fakesrv.h"
#include "test_common.h"

struct _ProtoFakeServer {
    const ProtoFakeProc *procs;
    gsize nprocs;
    guint features;      /* bit n set: answer SUPPORTS_FEATURE(n) with 1 */
    int listen_fd;
    char *dir;
    char *path;
    char *uri;
    GThread *thread;
    GMutex lock;
    GString *log;
    gboolean stopping;
};

struct _ProtoFakeConn {
    ProtoFakeServer *srv;
    int fd;
    GPtrArray *events;   /* GBytes, sent after the current reply */
};

void
proto_fake_log(ProtoFakeConn *conn, const char *fmt, ...)
{
    va_list ap;

    g_mutex_lock(&conn->srv->lock);
    va_start(ap, fmt);
    g_string_append_vprintf(conn->srv->log, fmt, ap);
    va_end(ap);
    g_string_append_c(conn->srv->log, '\n');
    g_mutex_unlock(&conn->srv->lock);
}

void
proto_fake_queue_event(ProtoFakeConn *conn, gint32 proc, xdrproc_t filter, void *msg)
{
    HyvedHeader h = { HYVED_PROGRAM_REMOTE, 1, proc, HYVED_TYPE_MESSAGE, 0, HYVED_STATUS_OK };
    g_autoptr(GError) error = NULL;
    GBytes *pkt = hyved_packet_encode(&h, filter, msg, &error);

    g_assert_no_error(error);
    g_ptr_array_add(conn->events, pkt);
}

static gboolean
read_full(int fd, guint8 *buf, gsize len)
{
    while (len) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        buf += n;
        len -= n;
    }
    return TRUE;
}

static void
send_bytes(ProtoFakeConn *conn, GBytes *pkt)
{
    gsize len;
    const guint8 *p = g_bytes_get_data(pkt, &len);

    while (len) {
        ssize_t n = write(conn->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= n;
    }
}

static gboolean
feature_handler(ProtoFakeConn *conn, void *args, void *ret)
{
    remote_connect_supports_feature_args *a = args;
    remote_connect_supports_feature_ret *r = ret;

    r->supported = a->feature >= 0 && a->feature < 32 && (conn->srv->features >> a->feature) & 1;
    return TRUE;
}

static gboolean
auth_list_handler(ProtoFakeConn *conn, void *args, void *ret)
{
    static remote_auth_type none[] = { REMOTE_AUTH_NONE };
    remote_auth_list_ret *r = ret;

    r->types.types_len = 1;
    r->types.types_val = none;
    return TRUE;
}

static const ProtoFakeProc builtin_procs[] = {
    { REMOTE_PROC_AUTH_LIST, "AUTH_LIST", NULL, 0,
      (xdrproc_t)xdr_remote_auth_list_ret, sizeof(remote_auth_list_ret), auth_list_handler },
    { REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, "SUPPORTS_FEATURE",
      (xdrproc_t)xdr_remote_connect_supports_feature_args,
      sizeof(remote_connect_supports_feature_args),
      (xdrproc_t)xdr_remote_connect_supports_feature_ret,
      sizeof(remote_connect_supports_feature_ret), feature_handler },
    { REMOTE_PROC_CONNECT_OPEN, "CONNECT_OPEN", (xdrproc_t)xdr_remote_connect_open_args,
      sizeof(remote_connect_open_args), NULL, 0, NULL },
    { REMOTE_PROC_CONNECT_CLOSE, "CONNECT_CLOSE", NULL, 0, NULL, 0, NULL },
};

static const ProtoFakeProc *
find_proc(ProtoFakeServer *srv, gint32 proc)
{
    gsize i;

    for (i = 0; i < srv->nprocs; i++)
        if (srv->procs[i].proc == proc)
            return &srv->procs[i];
    for (i = 0; i < G_N_ELEMENTS(builtin_procs); i++)
        if (builtin_procs[i].proc == proc)
            return &builtin_procs[i];
    return NULL;
}

static void
serve_call(ProtoFakeConn *conn, const HyvedHeader *h, const guint8 *payload, gsize len)
{
    const ProtoFakeProc *p = find_proc(conn->srv, h->proc);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) reply = NULL;
    g_autofree void *args = NULL;
    g_autofree void *ret = NULL;
    HyvedHeader rh = *h;

    if (!p) {
        g_autofree char *msg = g_strdup_printf("unknown procedure: %d", h->proc);
        proto_fake_log(conn, "UNKNOWN %d", h->proc);
        reply = hyved_packet_encode_error(h, 39, 7, msg);
        send_bytes(conn, reply);
        return;
    }
    args = g_malloc0(MAX(p->args_size, 1));
    ret = g_malloc0(MAX(p->ret_size, 1));
    if (!hyved_packet_decode_payload(payload, len, p->args_filter, args, &error)) {
        proto_fake_log(conn, "BADARGS %s: %s", p->name, error->message);
        reply = hyved_packet_encode_error(h, 39, 7, error->message);
        send_bytes(conn, reply);
        return;
    }
    rh.type = HYVED_TYPE_REPLY;
    if (p->handler && !p->handler(conn, args, ret)) {
        reply = hyved_packet_encode_error(h, 3, 57, "this operation is not supported");
    } else {
        reply = hyved_packet_encode(&rh, p->ret_filter, ret, &error);
        if (!reply) {
            proto_fake_log(conn, "BADRET %s: %s", p->name, error->message);
            reply = hyved_packet_encode_error(h, 1, 57, error->message);
        }
    }
    if (p->args_filter)
        xdr_free(p->args_filter, args);
    send_bytes(conn, reply);
}

/* Queued events go out once the client has been quiet for a moment: the
 * 9.0 client maps a callback id only after it processed the REGISTER
 * reply, and drops an event that overtakes that (seen with virsh). */
static void
flush_events_when_idle(ProtoFakeConn *conn)
{
    struct pollfd pfd = { conn->fd, POLLIN, 0 };
    guint i;

    if (conn->events->len == 0 || poll(&pfd, 1, 300) != 0)
        return;
    for (i = 0; i < conn->events->len; i++)
        send_bytes(conn, conn->events->pdata[i]);
    g_ptr_array_set_size(conn->events, 0);
}

static void
serve_conn(ProtoFakeServer *srv, int fd)
{
    ProtoFakeConn conn = { srv, fd, g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref) };

    for (;;) {
        guint8 lenbuf[4];
        guint32 total;
        g_autofree guint8 *body = NULL;
        HyvedHeader h;

        flush_events_when_idle(&conn);
        if (!read_full(fd, lenbuf, 4) || !hyved_packet_parse_length(lenbuf, &total, NULL))
            break;
        body = g_malloc(total - 4);
        if (!read_full(fd, body, total - 4) ||
            !hyved_packet_decode_header(body, total - 4, &h, NULL))
            break;
        if (h.prog == HYVED_PROGRAM_REMOTE && h.type == HYVED_TYPE_CALL)
            serve_call(&conn, &h, body + 24, total - 28);
    }
    g_ptr_array_unref(conn.events);
    close(fd);
}

static gpointer
server_thread(gpointer data)
{
    ProtoFakeServer *srv = data;

    for (;;) {
        int fd = accept(srv->listen_fd, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        serve_conn(srv, fd);
    }
    return NULL;
}

ProtoFakeServer *
proto_fake_server_start(const ProtoFakeProc *procs, gsize nprocs, guint features)
{
    ProtoFakeServer *srv = g_new0(ProtoFakeServer, 1);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    srv->procs = procs;
    srv->nprocs = nprocs;
    srv->features = features;
    srv->log = g_string_new(NULL);
    g_mutex_init(&srv->lock);
    srv->dir = test_tmpdir_new("hyve-proto-XXXXXX");
    srv->path = g_build_filename(srv->dir, "sock", NULL);
    srv->uri = g_strdup_printf("bhyve+unix:///system?socket=%s", srv->path);
    g_assert(strlen(srv->path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, srv->path);
    srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert(srv->listen_fd >= 0);
    g_assert(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    g_assert(listen(srv->listen_fd, 4) == 0);
    srv->thread = g_thread_new("fake-rpc", server_thread, srv);
    return srv;
}

const char *
proto_fake_server_uri(ProtoFakeServer *srv)
{
    return srv->uri;
}

char *
proto_fake_server_stop(ProtoFakeServer *srv)
{
    char *log;

    shutdown(srv->listen_fd, SHUT_RDWR);
    close(srv->listen_fd);
    g_thread_join(srv->thread);
    test_tree_remove(srv->dir);
    log = g_string_free(srv->log, FALSE);
    g_mutex_clear(&srv->lock);
    g_free(srv->dir);
    g_free(srv->path);
    g_free(srv->uri);
    g_free(srv);
    return log;
}
