/* hvr_control.c: control socket with typed request handlers. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "hvr_control.h"
#include "hvr_error.h"
#include "hvr_pm.h"
#include "hvr_sandbox.h"
#include "hyve/runner-exit.h"

struct _HvrControl {
    HvrMachine *m;
    char *path;
    int fd;
    GSource *src;
    GPtrArray *clients;     /* HvrControlClient*, main thread only */
};

typedef struct {
    HvrControl *c;
    int fd;
    GSource *src;
    GString *buf;
} HvrControlClient;

typedef char *(*HvrControlFn)(HvrMachine *m, GError **error);

static char *
hvr_control_powerdown(HvrMachine *m, GError **error)
{
    return g_strdup(hvr_pm_power_button(m->pm) ? "ok" : "ok pending");
}

static char *
hvr_control_poweroff(HvrMachine *m, GError **error)
{
    hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_POWEROFF, "poweroff requested on the control socket");
    return g_strdup("ok");
}

static char *
hvr_control_reset(HvrMachine *m, GError **error)
{
    hvr_machine_request_exit(m, HYVE_RUNNER_EXIT_REBOOT, "reset requested on the control socket");
    return g_strdup("ok");
}

static char *
hvr_control_pause(HvrMachine *m, GError **error)
{
    return hvr_machine_pause(m, error) ? g_strdup("ok") : NULL;
}

static char *
hvr_control_resume(HvrMachine *m, GError **error)
{
    return hvr_machine_resume(m, error) ? g_strdup("ok") : NULL;
}

static char *
hvr_control_status(HvrMachine *m, GError **error)
{
    return g_strdup_printf("ok %s", hvr_machine_state_string(m));
}

static char *
hvr_control_stats(HvrMachine *m, GError **error)
{
    g_autoptr(GString) s = g_string_new("ok ");

    hvr_machine_format_stats(m, s);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
hvr_control_consoles(HvrMachine *m, GError **error)
{
    g_autoptr(GString) s = g_string_new("ok");
    guint i;

    for (i = 0; i < m->consoles->len; i++)
        g_string_append_printf(s, " %s", (char *)g_ptr_array_index(m->consoles, i));
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static const struct {
    const char *name;
    HvrControlFn fn;
} hvr_control_requests[] = {
    { "consoles", hvr_control_consoles },
    { "powerdown", hvr_control_powerdown },
    { "poweroff", hvr_control_poweroff },
    { "reset", hvr_control_reset },
    { "pause", hvr_control_pause },
    { "resume", hvr_control_resume },
    { "status", hvr_control_status },
    { "stats", hvr_control_stats },
};

char *
hvr_control_handle(HvrMachine *m, const char *line)
{
    g_autoptr(GError) err = NULL;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(hvr_control_requests); i++) {
        char *reply;

        if (!g_str_equal(line, hvr_control_requests[i].name))
            continue;
        reply = hvr_control_requests[i].fn(m, &err);
        if (reply)
            return reply;
        return g_strdup_printf("error %d %s", err->code, err->message);
    }
    return g_strdup_printf("error %d unknown request '%.64s'", 84 /* VIR_ERR_OPERATION_UNSUPPORTED */, line);
}

static void
hvr_control_client_free(HvrControlClient *cl)
{
    g_source_destroy(cl->src);
    g_source_unref(cl->src);
    close(cl->fd);
    g_string_free(cl->buf, TRUE);
    g_free(cl);
}

static gboolean
hvr_control_client_io(int fd, GIOCondition cond, gpointer data)
{
    HvrControlClient *cl = data;
    char tmp[512];
    ssize_t n = read(fd, tmp, sizeof(tmp));
    char *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0 || cl->buf->len + n > 4096) {
        g_ptr_array_remove(cl->c->clients, cl);
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(cl->buf, tmp, n);
    while ((nl = memchr(cl->buf->str, '\n', cl->buf->len))) {
        g_autofree char *line = g_strndup(cl->buf->str, nl - cl->buf->str);
        g_autofree char *reply = NULL;
        g_autofree char *out = NULL;
        size_t off = 0, len;

        g_string_erase(cl->buf, 0, nl - cl->buf->str + 1);
        g_strstrip(line);
        if (!*line)
            continue;
        reply = hvr_control_handle(cl->c->m, line);
        out = g_strconcat(reply, "\n", NULL);
        len = strlen(out);
        while (off < len) {
            ssize_t w = write(fd, out + off, len - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += w;
        }
    }
    return G_SOURCE_CONTINUE;
}

static gboolean
hvr_control_accept(int fd, GIOCondition cond, gpointer data)
{
    HvrControl *c = data;
    HvrControlClient *cl;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    cl = g_new0(HvrControlClient, 1);
    cl->c = c;
    cl->fd = cfd;
    cl->buf = g_string_new(NULL);
    cl->src = g_unix_fd_source_new(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(cl->src, (GSourceFunc)(void (*)(void))hvr_control_client_io, cl, NULL);
    g_source_attach(cl->src, c->m->ctx);
    g_ptr_array_add(c->clients, cl);
    return G_SOURCE_CONTINUE;
}

HvrControl *
hvr_control_new(HvrMachine *m, const char *path, GError **error)
{
    g_autoptr(HvrControl) c = g_new0(HvrControl, 1);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    c->m = m;
    c->fd = -1;
    c->path = g_strdup(path);
    c->clients = g_ptr_array_new_with_free_func((GDestroyNotify)hvr_control_client_free);
    if (strlen(path) >= sizeof(sun.sun_path)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "control socket path %s is too long", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(path);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(c->fd, 8) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM,
                    "cannot listen on control socket %s: %s", path, g_strerror(errno));
        return NULL;
    }
    c->src = g_unix_fd_source_new(c->fd, G_IO_IN);
    g_source_set_callback(c->src, (GSourceFunc)(void (*)(void))hvr_control_accept, c, NULL);
    g_source_attach(c->src, m->ctx);
    return g_steal_pointer(&c);
}

void
hvr_control_free(HvrControl *c)
{
    if (!c)
        return;
    g_ptr_array_unref(c->clients);
    if (c->src) {
        g_source_destroy(c->src);
        g_source_unref(c->src);
    }
    if (c->fd >= 0) {
        close(c->fd);
        if (!hvr_sandbox_active())      /* sandboxed: no path to unlink */
            unlink(c->path);
    }
    g_free(c->path);
    g_free(c);
}
