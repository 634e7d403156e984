/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_server.c: listeners, accepting clients, the worker pool that runs
 * calls, and the idle timeout.
 */
#include "hyve-config.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gio/gio.h>

#include "hyved_client_priv.h"


typedef struct {
    HyvedClient *client;
    HyvedHeader hdr;
    guint8 *pkt;
    guint32 pkt_len;
    gsize payload_offset;
    GArray *fds;
} HyvedJob;

/* ---- calls -------------------------------------------------------------- */

static void
job_free(HyvedJob *job)
{
    if (job->fds) {
        /* No procedure keeps passed descriptors yet: close them all. */
        for (guint i = 0; i < job->fds->len; i++)
            close(g_array_index(job->fds, int, i));
        g_array_free(job->fds, TRUE);
    }
    g_free(job->pkt);
    hyved_client_unref(job->client);
    g_free(job);
}

static void
job_run(HyvedJob *job)
{
    HyvedClient *client = job->client;
    GBytes *reply = hyved_dispatch_call(client->server, client, &job->hdr,
                                        job->pkt + job->payload_offset,
                                        job->pkt_len - job->payload_offset);

    gsize size = 0;
    const guint8 *bytes = g_bytes_get_data(reply, &size);
    /* status word of the reply: after length, prog, vers, proc, type, serial */
    gboolean ok = size >= 28 && GUINT32_FROM_BE(*(const guint32 *) (bytes + 24)) == HYVED_STATUS_OK;

    g_mutex_lock(&client->lock);
    hyved_client_enqueue_locked(client, reply);
    hyved_streams_call_done_locked(client, job->hdr.serial, ok);
    client->inflight--;
    g_mutex_unlock(&client->lock);
    g_main_context_wakeup(client->server->ctx);
    job_free(job);
}

static void
worker_func(gpointer data, gpointer user_data)
{
    job_run(data);
}

void
hyved_server_queue_call(HyvedServer *server, HyvedClient *client,
                        const HyvedHeader *hdr, guint8 *pkt, guint32 pkt_len,
                        gsize payload_offset, GArray *fds)
{
    HyvedJob *job = g_new0(HyvedJob, 1);
    const HyvedProcedure *proc = NULL;

    job->client = hyved_client_ref(client);
    job->hdr = *hdr;
    job->pkt = pkt;
    job->pkt_len = pkt_len;
    job->payload_offset = payload_offset;
    job->fds = fds;

    g_mutex_lock(&client->lock);
    client->inflight++;
    g_mutex_unlock(&client->lock);

    if (hdr->prog == HYVED_PROGRAM_REMOTE && hdr->vers == HYVED_PROGRAM_VERSION)
        proc = hyved_dispatch_find(hdr->proc);
    /* Errors (unknown program/procedure) and inline procedures are
     * answered right here on the I/O thread. */
    if (!proc || (proc->flags & HYVED_PROC_INLINE) || hdr->status != HYVED_STATUS_OK) {
        job_run(job);
        return;
    }
    g_thread_pool_push(server->workers, job, NULL);
}

/* ---- clients ------------------------------------------------------------ */

void
hyved_server_remove_client(HyvedServer *server, HyvedClient *client)
{
    gboolean found;

    g_mutex_lock(&server->lock);
    found = g_ptr_array_remove(server->clients, client);
    g_mutex_unlock(&server->lock);
    if (found)
        hyved_client_unref(client);
}

guint
hyved_server_num_clients(HyvedServer *server)
{
    guint n;

    g_mutex_lock(&server->lock);
    n = server->clients->len;
    g_mutex_unlock(&server->lock);
    return n;
}

void
hyved_server_foreach_client(HyvedServer *server,
                            void (*func)(HyvedClient *client, gpointer user_data),
                            gpointer user_data)
{
    g_autoptr(GPtrArray) snapshot = g_ptr_array_new_with_free_func((GDestroyNotify) hyved_client_unref);

    g_mutex_lock(&server->lock);
    for (guint i = 0; i < server->clients->len; i++)
        g_ptr_array_add(snapshot, hyved_client_ref(server->clients->pdata[i]));
    g_mutex_unlock(&server->lock);
    for (guint i = 0; i < snapshot->len; i++)
        func(snapshot->pdata[i], user_data);
}

static gboolean listener_accept(GSocket *socket, GIOCondition cond, gpointer data);

static void
listener_watch(HyvedServer *server, HyvedListener *listener)
{
    listener->source = g_socket_create_source(listener->socket, G_IO_IN, NULL);
    g_source_set_callback(listener->source, (GSourceFunc) (void (*)(void)) listener_accept,
                          listener, NULL);
    g_source_attach(listener->source, server->ctx);
}

static gboolean
listener_resume(gpointer data)
{
    HyvedListener *listener = data;

    listener->pause_source = NULL;      /* this timeout, removed on return */
    listener_watch(g_object_get_data(G_OBJECT(listener->socket), "hyved-server"), listener);
    return G_SOURCE_REMOVE;
}

static void
listener_pause(HyvedServer *server, HyvedListener *listener)
{
    g_source_unref(listener->source);   /* destroyed by returning G_SOURCE_REMOVE */
    listener->source = NULL;
    listener->pause_source = g_timeout_source_new_seconds(1);
    g_source_set_callback(listener->pause_source, listener_resume, listener, NULL);
    g_source_attach(listener->pause_source, server->ctx);
    g_source_unref(listener->pause_source);
}

static gboolean
listener_accept(GSocket *socket, GIOCondition cond, gpointer data)
{
    HyvedListener *listener = data;
    HyvedServer *server = g_object_get_data(G_OBJECT(socket), "hyved-server");
    HyvedClient *client;
    int fd = accept4(g_socket_get_fd(socket), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays readable: pause this listener
             * for a second instead of spinning. */
            g_warning("accept on %s failed: %s; pausing it for 1 s", listener->path,
                      g_strerror(errno));
            listener_pause(server, listener);
            return G_SOURCE_REMOVE;
        }
        if (errno != EAGAIN && errno != EINTR)
            g_warning("accept on %s failed: %s", listener->path, g_strerror(errno));
        return G_SOURCE_CONTINUE;
    }

    g_mutex_lock(&server->lock);
    if (server->clients->len >= server->cfg->max_clients) {
        g_mutex_unlock(&server->lock);
        g_message("too many clients (max_clients = %u), closing a new connection",
                  server->cfg->max_clients);
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    client = hyved_client_new(server, fd, listener);
    client->id = ++server->next_client_id;
    g_ptr_array_add(server->clients, client);   /* the list's reference */
    g_mutex_unlock(&server->lock);

    g_debug("client %" G_GUINT64_FORMAT ": connected on %s (pid %d uid %d)",
            client->id, listener->path, (int) client->pid, (int) client->uid);
    hyved_client_start(client);
    return G_SOURCE_CONTINUE;
}

/* ---- listeners ---------------------------------------------------------- */

static void
listener_free(HyvedListener *listener)
{
    if (listener->source) {
        g_source_destroy(listener->source);
        g_source_unref(listener->source);
    }
    if (listener->pause_source)
        g_source_destroy(listener->pause_source);
    if (listener->unlink_at_exit && listener->path)
        unlink(listener->path);
    g_clear_object(&listener->socket);
    g_free(listener->path);
    g_free(listener);
}

static gboolean
server_add_listener(HyvedServer *server, GSocket *socket, const char *path,
                    gboolean readonly, HyvedAuth auth, gboolean owned)
{
    HyvedListener *listener = g_new0(HyvedListener, 1);

    listener->socket = socket;
    listener->path = g_strdup(path);
    listener->readonly = readonly;
    listener->auth = auth;
    listener->unlink_at_exit = owned;
    g_socket_set_blocking(socket, FALSE);
    g_object_set_data(G_OBJECT(socket), "hyved-server", server);
    listener_watch(server, listener);
    g_ptr_array_add(server->listeners, listener);
    return TRUE;
}

gboolean
hyved_server_check_not_running(const char *path, GError **error)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;

    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
    close(fd);
    if (rc == 0) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_FAILED,
                       "another daemon is already listening on %s", path);
        return FALSE;
    }
    return TRUE;
}

/* A socket file left by a daemon that died: remove it, unless something
 * still answers on it. */
static gboolean
remove_stale_socket(const char *path, GError **error)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return TRUE;
    if (!S_ISSOCK(st.st_mode)) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_FAILED,
                       "%s exists and is not a socket", path);
        return FALSE;
    }
    if (!hyved_server_check_not_running(path, error))
        return FALSE;
    if (unlink(path) < 0 && errno != ENOENT) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                       "cannot remove stale socket %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

gboolean
hyved_server_add_unix_listener(HyvedServer *server, const char *path,
                               gboolean readonly, HyvedAuth auth,
                               guint perms, const char *group, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autofree char *dir = g_path_get_dirname(path);
    GSocket *socket;

    if (strlen(path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INVALID_ARG,
                       "socket path %s is too long", path);
        return FALSE;
    }
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                       "cannot create %s: %s", dir, g_strerror(errno));
        return FALSE;
    }
    if (!remove_stale_socket(path, error))
        return FALSE;

    socket = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &local);
    if (!socket)
        goto fail;
    addr = g_unix_socket_address_new(path);
    g_socket_set_listen_backlog(socket, 128);
    if (!g_socket_bind(socket, addr, FALSE, &local) ||
        !g_socket_listen(socket, &local)) {
        g_object_unref(socket);
        goto fail;
    }
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr || chown(path, (uid_t) -1, gr->gr_gid) < 0)
            g_warning("cannot give %s to group '%s': %s", path, group,
                      gr ? g_strerror(errno) : "no such group");
    }
    if (chmod(path, perms) < 0)
        g_warning("cannot chmod %s to %o: %s", path, perms, g_strerror(errno));
    g_debug("listening on %s (%s, auth %s, mode %o)", path, readonly ? "ro" : "rw",
            auth == HYVED_AUTH_POLKIT ? "polkit" : "none", perms);
    return server_add_listener(server, socket, path, readonly, auth, TRUE);

 fail:
    hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                   "cannot listen on %s: %s", path, local->message);
    return FALSE;
}

gboolean
hyved_server_add_listener_fd(HyvedServer *server, int fd, const char *path,
                             gboolean readonly, HyvedAuth auth, GError **error)
{
    g_autoptr(GError) local = NULL;
    GSocket *socket = g_socket_new_from_fd(fd, &local);

    if (!socket) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                       "cannot use inherited socket %d (%s): %s", fd, path, local->message);
        return FALSE;
    }
    return server_add_listener(server, socket, path, readonly, auth, FALSE);
}

/* ---- server ------------------------------------------------------------- */

HyvedServer *
hyved_server_new(const HyvedConfig *cfg, HyveDriver *driver, gboolean privileged,
                 GMainContext *ctx, GError **error)
{
    HyvedServer *server = g_new0(HyvedServer, 1);
    GError *local = NULL;

    server->cfg = cfg;
    server->driver = driver;
    server->privileged = privileged;
    server->default_uri = g_strdup(privileged ? "bhyve:///system" : "bhyve:///session");
    server->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_new();
    server->loop = g_main_loop_new(server->ctx, FALSE);
    server->listeners = g_ptr_array_new_with_free_func((GDestroyNotify) listener_free);
    server->clients = g_ptr_array_new();
    g_mutex_init(&server->lock);
    server->workers = g_thread_pool_new(worker_func, server, cfg->max_workers, FALSE, &local);
    if (!server->workers) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                       "cannot start worker threads: %s", local->message);
        g_error_free(local);
        hyved_server_free(server);
        return NULL;
    }
    if (driver)
        hyve_driver_set_event_sink(driver, hyved_events_sink, server);
    return server;
}

static gboolean
server_idle_tick(gpointer data)
{
    HyvedServer *server = data;

    if (hyved_server_num_clients(server) > 0 ||
        (server->driver && hyve_driver_num_domains(server->driver, TRUE) > 0)) {
        server->idle_seconds = 0;
        return G_SOURCE_CONTINUE;
    }
    if (++server->idle_seconds >= server->idle_timeout) {
        g_message("no clients for %u seconds, exiting", server->idle_timeout);
        g_main_loop_quit(server->loop);
    }
    return G_SOURCE_CONTINUE;
}

void
hyved_server_set_idle_timeout(HyvedServer *server, guint seconds)
{
    server->idle_timeout = seconds;
    if (server->idle_source || seconds == 0)
        return;
    server->idle_source = g_timeout_source_new_seconds(1);
    g_source_set_callback(server->idle_source, server_idle_tick, server, NULL);
    g_source_attach(server->idle_source, server->ctx);
}

void
hyved_server_run(HyvedServer *server)
{
    g_main_loop_run(server->loop);
}

void
hyved_server_quit(HyvedServer *server)
{
    g_main_loop_quit(server->loop);
    g_main_context_wakeup(server->ctx);
}

void
hyved_server_free(HyvedServer *server)
{
    if (!server)
        return;
    if (server->driver)
        hyve_driver_set_event_sink(server->driver, NULL, NULL);
    if (server->idle_source) {
        g_source_destroy(server->idle_source);
        g_source_unref(server->idle_source);
    }
    g_ptr_array_free(server->listeners, TRUE);
    /* Drop the connections, then let running calls finish. */
    while (server->clients && hyved_server_num_clients(server) > 0) {
        HyvedClient *client;
        g_mutex_lock(&server->lock);
        client = hyved_client_ref(server->clients->pdata[0]);
        g_mutex_unlock(&server->lock);
        hyved_client_close(client);
        hyved_server_remove_client(server, client);
        hyved_client_unref(client);
    }
    if (server->workers)
        g_thread_pool_free(server->workers, FALSE, TRUE);
    g_ptr_array_free(server->clients, TRUE);
    g_main_loop_unref(server->loop);
    g_main_context_unref(server->ctx);
    g_mutex_clear(&server->lock);
    g_free(server->default_uri);
    g_free(server);
}

HyveDriver *hyved_server_get_driver(HyvedServer *server) { return server->driver; }
const HyvedConfig *hyved_server_get_config(HyvedServer *server) { return server->cfg; }
gboolean hyved_server_is_privileged(HyvedServer *server) { return server->privileged; }
const char *hyved_server_get_default_uri(HyvedServer *server) { return server->default_uri; }
