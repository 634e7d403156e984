/* hvr_chardev.c: pty, stdio, null, unix socket and file backends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <glib-unix.h>

#include "hvr_chardev.h"
#include "hvr_error.h"
#include "hvr_sandbox.h"

typedef enum { HVR_CHR_NULL, HVR_CHR_PTY, HVR_CHR_STDIO, HVR_CHR_UNIX, HVR_CHR_FILE } HvrChrKind;

struct _HvrChardev {
    HvrChrKind kind;
    char *label;
    char *path;
    int in_fd;              /* -1 if no input */
    int listen_fd;          /* unix: listening socket */
    GMutex lock;            /* guards out_fd, client_fd, bytes_out */
    int out_fd;
    uint64_t bytes_out;
    GMainContext *ctx;
    GSource *in_src;
    GSource *listen_src;
    HvrChardevRx rx;
    void *rx_opaque;
};

static gboolean hvr_chardev_readable(int fd, GIOCondition cond, gpointer data);

static void
hvr_chardev_watch_input(HvrChardev *chr)
{
    if (!chr->ctx || chr->in_fd < 0 || chr->in_src)
        return;
    chr->in_src = g_unix_fd_source_new(chr->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(chr->in_src, (GSourceFunc)(void (*)(void))hvr_chardev_readable, chr, NULL);
    g_source_attach(chr->in_src, chr->ctx);
}

static void
hvr_chardev_drop_client(HvrChardev *chr)
{
    if (chr->in_src) {
        g_source_destroy(chr->in_src);
        g_source_unref(chr->in_src);
        chr->in_src = NULL;
    }
    g_mutex_lock(&chr->lock);
    if (chr->out_fd >= 0)
        close(chr->out_fd);
    chr->out_fd = -1;
    chr->in_fd = -1;
    g_mutex_unlock(&chr->lock);
}

static gboolean
hvr_chardev_readable(int fd, GIOCondition cond, gpointer data)
{
    HvrChardev *chr = data;
    uint8_t buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n > 0) {
        if (chr->rx)
            chr->rx(chr->rx_opaque, buf, n);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (chr->kind == HVR_CHR_UNIX) {
        g_source_unref(chr->in_src);
        chr->in_src = NULL;
        g_mutex_lock(&chr->lock);
        close(chr->out_fd);
        chr->out_fd = chr->in_fd = -1;
        g_mutex_unlock(&chr->lock);
        return G_SOURCE_REMOVE;
    }
    if (chr->kind == HVR_CHR_PTY)
        return G_SOURCE_CONTINUE;   /* EIO until a reader opens the pty */
    g_source_unref(chr->in_src);
    chr->in_src = NULL;
    return G_SOURCE_REMOVE;
}

static gboolean
hvr_chardev_accept(int fd, GIOCondition cond, gpointer data)
{
    HvrChardev *chr = data;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (c < 0)
        return G_SOURCE_CONTINUE;
    hvr_chardev_drop_client(chr);
    g_mutex_lock(&chr->lock);
    chr->out_fd = c;
    chr->in_fd = c;
    g_mutex_unlock(&chr->lock);
    hvr_chardev_watch_input(chr);
    return G_SOURCE_CONTINUE;
}

static int
hvr_chardev_open_pty(HvrChardev *chr, GError **error)
{
    struct termios tio;
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "%s: cannot create a pty: %s",
                    chr->label, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    chr->path = g_strdup(ptsname(fd));
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    return fd;
}

static int
hvr_chardev_listen(HvrChardev *chr, GError **error)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(chr->path) >= sizeof(sun.sun_path)) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "%s: socket path %s is too long", chr->label, chr->path);
        return -1;
    }
    strcpy(sun.sun_path, chr->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(chr->path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 4) < 0) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_SYSTEM, "%s: cannot listen on %s: %s",
                    chr->label, chr->path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

HvrChardev *
hvr_chardev_new(const char *spec, const char *label, GError **error)
{
    g_autoptr(HvrChardev) chr = g_new0(HvrChardev, 1);
    int fd;

    g_mutex_init(&chr->lock);
    chr->label = g_strdup(label);
    chr->in_fd = chr->out_fd = chr->listen_fd = -1;

    if (g_str_equal(spec, "null")) {
        chr->kind = HVR_CHR_NULL;
        chr->path = g_strdup("null");
    } else if (g_str_equal(spec, "pty")) {
        chr->kind = HVR_CHR_PTY;
        if ((fd = hvr_chardev_open_pty(chr, error)) < 0)
            return NULL;
        chr->in_fd = chr->out_fd = fd;
    } else if (g_str_equal(spec, "stdio")) {
        chr->kind = HVR_CHR_STDIO;
        chr->path = g_strdup("stdio");
        chr->in_fd = dup(STDIN_FILENO);
        chr->out_fd = dup(STDOUT_FILENO);
    } else if (g_str_has_prefix(spec, "unix:")) {
        chr->kind = HVR_CHR_UNIX;
        chr->path = g_strdup(spec + 5);
        if ((chr->listen_fd = hvr_chardev_listen(chr, error)) < 0)
            return NULL;
    } else if (g_str_has_prefix(spec, "file:")) {
        chr->kind = HVR_CHR_FILE;
        chr->path = g_strdup(spec + 5);
        chr->out_fd = open(chr->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (chr->out_fd < 0) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_OPEN_FAILED, "%s: cannot open %s: %s",
                        label, chr->path, g_strerror(errno));
            return NULL;
        }
    } else {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONFIG_UNSUPPORTED,
                    "%s: unknown backend '%s'", label, spec);
        return NULL;
    }
    return g_steal_pointer(&chr);
}

void
hvr_chardev_free(HvrChardev *chr)
{
    if (!chr)
        return;
    if (chr->in_src) {
        g_source_destroy(chr->in_src);
        g_source_unref(chr->in_src);
    }
    if (chr->listen_src) {
        g_source_destroy(chr->listen_src);
        g_source_unref(chr->listen_src);
    }
    if (chr->out_fd >= 0)
        close(chr->out_fd);
    if (chr->in_fd >= 0 && chr->in_fd != chr->out_fd)
        close(chr->in_fd);
    if (chr->listen_fd >= 0) {
        close(chr->listen_fd);
        if (!hvr_sandbox_active())      /* sandboxed: no path to unlink */
            unlink(chr->path);
    }
    g_mutex_clear(&chr->lock);
    g_free(chr->label);
    g_free(chr->path);
    g_free(chr);
}

void
hvr_chardev_attach(HvrChardev *chr, GMainContext *ctx, HvrChardevRx fn, void *opaque)
{
    chr->ctx = ctx;
    chr->rx = fn;
    chr->rx_opaque = opaque;
    if (chr->listen_fd >= 0 && !chr->listen_src) {
        chr->listen_src = g_unix_fd_source_new(chr->listen_fd, G_IO_IN);
        g_source_set_callback(chr->listen_src, (GSourceFunc)(void (*)(void))hvr_chardev_accept, chr, NULL);
        g_source_attach(chr->listen_src, ctx);
    }
    hvr_chardev_watch_input(chr);
}

void
hvr_chardev_write(HvrChardev *chr, const uint8_t *buf, size_t len)
{
    g_mutex_lock(&chr->lock);
    chr->bytes_out += len;
    while (chr->out_fd >= 0 && len > 0) {
        ssize_t n = write(chr->out_fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;      /* EAGAIN (nobody reads) or error: drop */
        buf += n;
        len -= n;
    }
    g_mutex_unlock(&chr->lock);
}

const char *
hvr_chardev_path(HvrChardev *chr)
{
    return chr->path;
}

uint64_t
hvr_chardev_bytes_out(HvrChardev *chr)
{
    uint64_t n;

    g_mutex_lock(&chr->lock);
    n = chr->bytes_out;
    g_mutex_unlock(&chr->lock);
    return n;
}
