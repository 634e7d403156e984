/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_listener.c: the server's listening sockets (bound here or
 * inherited), removing a stale socket file, refusing to start beside a
 * live daemon, and accept() on the I/O thread, paused for a second when
 * the process runs out of descriptors.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gio/gio.h>

#include "hyved_client_priv.h"

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

    hyved_server_add_client(server, fd, listener);
    return G_SOURCE_CONTINUE;
}

void
hyved_listener_free(HyvedListener *listener)
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

/* ---- systemd socket activation ------------------------------------------- */

/* A listening AF_UNIX stream socket, the only kind we adopt. */
static gboolean
activation_fd_ok(int fd)
{
    struct stat st;
    struct sockaddr_un sun = { 0 };
    socklen_t len = sizeof(sun);
    int type = 0, listening = 0;
    socklen_t ilen = sizeof(int);

    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return FALSE;
    if (getsockname(fd, (struct sockaddr *) &sun, &len) < 0 || sun.sun_family != AF_UNIX)
        return FALSE;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 || type != SOCK_STREAM)
        return FALSE;
    ilen = sizeof(int);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) == 0 && listening;
}

GArray *
hyved_activation_take_fds(int first)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
    const char *pid_s = g_getenv("LISTEN_PID");
    const char *fds_s = g_getenv("LISTEN_FDS");
    gint64 n;

    if (!pid_s || !fds_s || g_ascii_strtoll(pid_s, NULL, 10) != getpid())
        return fds;     /* not meant for us: leave the environment alone too */
    n = g_ascii_strtoll(fds_s, NULL, 10);
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    for (int fd = first; n > 0 && n <= 64 && fd < first + n; fd++) {
        if (!activation_fd_ok(fd)) {
            g_warning("inherited fd %d is not a listening UNIX socket; leaving it alone", fd);
            continue;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        g_array_append_val(fds, fd);
    }
    return fds;
}
