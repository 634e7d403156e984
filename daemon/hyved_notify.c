/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_notify.c: the sd_notify(3) datagram protocol, without libsystemd:
 * one "KEY=VALUE\n..." datagram to $NOTIFY_SOCKET (a path, or an abstract
 * socket name when it starts with '@').
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hyved_notify.h"

gboolean
hyved_notify(const char *state)
{
    const char *path = g_getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    socklen_t len;
    size_t plen;
    int fd;
    gboolean ok;

    if (!path || (path[0] != '/' && path[0] != '@'))
        return FALSE;
    plen = strlen(path);
    if (plen >= sizeof(sun.sun_path))
        return FALSE;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@')
        sun.sun_path[0] = '\0';
    len = offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/' ? 1 : 0);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FALSE;
    ok = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sun, len) >= 0;
    if (!ok)
        g_debug("sd_notify to %s failed: %s", path, g_strerror(errno));
    close(fd);
    return ok;
}
