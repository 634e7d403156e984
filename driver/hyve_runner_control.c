/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_runner_control.c: one request/reply exchange with a bhyve-runner's
 * control socket. A fresh connection per request keeps the runner's side
 * simple and makes a daemon restart invisible to it.
 */
#include "hyve-config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hyve_error.h"
#include "hyve_runner_control.h"

#define HYVE_RUNNER_REPLY_MAX (64 * 1024)

static gboolean
wait_fd(int fd, short events, gint64 deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = events };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        int rc;

        if (left <= 0)
            return FALSE;
        rc = poll(&pfd, 1, (int)MIN(left, G_MAXINT));
        if (rc > 0)
            return TRUE;
        if (rc == 0)
            return FALSE;
        if (errno != EINTR)
            return FALSE;
    }
}

static int
connect_socket(const char *path, GError **error, const char *what)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "control socket path '%s' of domain %s is too long", path, what);
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int err = errno;

        if (fd >= 0)
            close(fd);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "cannot talk to bhyve-runner of domain %s: %s", what, g_strerror(err));
        return -1;
    }
    return fd;
}

static char *
parse_reply(const char *line, const char *what, const char *request, GError **error)
{
    if (strcmp(line, "ok") == 0)
        return g_strdup("");
    if (g_str_has_prefix(line, "ok "))
        return g_strdup(line + 3);
    if (g_str_has_prefix(line, "error ")) {
        char *end = NULL;
        gint64 code = g_ascii_strtoll(line + 6, &end, 10);

        if (end && end != line + 6 && code > 0 && code < 1000) {
            while (*end == ' ')
                end++;
            hyve_error_set(error, HYVE_FROM_BHYVE, (int)code, "%s", end);
            return NULL;
        }
    }
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                   "bhyve-runner of domain %s answered '%s' with '%.200s'", what, request, line);
    return NULL;
}

char *
hyve_runner_control(const char *socket_path, const char *what, const char *request,
                    int timeout_ms, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autofree char *msg = g_strconcat(request, "\n", NULL);
    g_autoptr(GString) reply = g_string_new(NULL);
    size_t len = strlen(msg), off = 0;
    char *nl;
    int fd;

    fd = connect_socket(socket_path, error, what);
    if (fd < 0)
        return NULL;
    while (off < len) {
        ssize_t n;

        if (!wait_fd(fd, POLLOUT, deadline))
            goto timeout;
        n = send(fd, msg + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            goto io_error;
        off += (size_t)n;
    }
    while (!(nl = memchr(reply->str, '\n', reply->len))) {
        char buf[4096];
        ssize_t n;

        if (reply->len > HYVE_RUNNER_REPLY_MAX) {
            errno = EMSGSIZE;
            goto io_error;
        }
        if (!wait_fd(fd, POLLIN, deadline))
            goto timeout;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            goto io_error;
        if (n == 0) {
            errno = ECONNRESET;
            goto io_error;
        }
        g_string_append_len(reply, buf, n);
    }
    close(fd);
    *nl = '\0';
    return parse_reply(reply->str, what, request, error);

 timeout:
    close(fd);
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                   "cannot talk to bhyve-runner of domain %s: no answer to '%s' in %d ms",
                   what, request, timeout_ms);
    return NULL;
 io_error:
    {
        int err = errno;

        close(fd);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "cannot talk to bhyve-runner of domain %s: %s", what, g_strerror(err));
    }
    return NULL;
}

GHashTable *
hyve_runner_parse_pairs(const char *payload)
{
    GHashTable *pairs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) tokens = g_strsplit(payload ? payload : "", " ", -1);

    for (char **t = tokens; *t; t++) {
        char *eq = strchr(*t, '=');

        if (!eq || eq == *t)
            continue;
        g_hash_table_replace(pairs, g_strndup(*t, eq - *t), g_strdup(eq + 1));
    }
    return pairs;
}

gint64
hyve_runner_pairs_get(GHashTable *pairs, const char *key, gint64 fallback)
{
    const char *v = g_hash_table_lookup(pairs, key);
    char *end = NULL;
    gint64 n;

    if (!v || !*v)
        return fallback;
    n = g_ascii_strtoll(v, &end, 10);
    return (end && *end == '\0') ? n : fallback;
}
