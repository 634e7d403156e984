/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_pty.h: the pty paths a runner reports (`consoles` on its
 * control socket) are not trusted: a compromised runner could name any
 * file for the daemon (root) to open as a console. Internal to driver/;
 * implemented in hyve_process_console.c.
 *
 * Accepted: exactly /dev/pts/N (N decimal, no leading '+'/'-', at most 9
 * digits) whose master the runner holds (it opens its ptys before the
 * sandbox and keeps the masters): a descriptor in /proc/<runner>/fd linked
 * to /dev/ptmx or /dev/pts/ptmx with "tty-index: N" in its fdinfo; only
 * then opened with O_NOCTTY|O_CLOEXEC|O_NOFOLLOW and fstat'ed: a character
 * device with a pty slave major (136-143, UNIX98_PTY_SLAVE) and index N.
 * Anything else: INTERNAL_ERROR "runner reported an invalid console path".
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* @path has the shape /dev/pts/N. */
gboolean hyve_process_pty_path_ok(const char *path);

/* Does process @runner hold the master of pty @index? */
gboolean hyve_process_pty_held_by(pid_t runner, guint64 index);

/* Opens @path, a pty whose master @runner holds, read-write, non-blocking
 * (after the checks above); the descriptor or -1 with @error set (@domain
 * names the domain in it). */
int hyve_process_pty_open(const char *path, pid_t runner, const char *domain, GError **error);

G_END_DECLS
