/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_pty.h: the pty paths a runner reports (`consoles` on its
 * control socket) are not trusted: a compromised runner could name any
 * file for the daemon (root) to open as a console. Internal to driver/;
 * implemented in hyve_process_console.c.
 *
 * Accepted: exactly /dev/pts/N (N decimal, no leading '+'/'-', at most 9
 * digits), opened with O_NOCTTY|O_CLOEXEC|O_NOFOLLOW and fstat'ed: a
 * character device with a pty slave major (136-143, UNIX98_PTY_SLAVE).
 * Anything else: INTERNAL_ERROR "runner reported an invalid console path".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @path has the shape /dev/pts/N. */
gboolean hyve_process_pty_path_ok(const char *path);

/* Opens @path read-write, non-blocking (after the checks above); the
 * descriptor or -1 with @error set (@domain names the domain in it). */
int hyve_process_pty_open(const char *path, const char *domain, GError **error);

G_END_DECLS
