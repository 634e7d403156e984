/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_polkit.h: polkit authorization of UNIX socket peers (libvirt-rpc.md §4.2).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define HYVED_POLKIT_ACTION_MANAGE  "org.hyve.unix.manage"
#define HYVED_POLKIT_ACTION_MONITOR "org.hyve.unix.monitor"

/* Start time (field 22 of /proc/<pid>/stat, clock ticks since boot);
 * 0 when unknown. */
guint64 hyved_polkit_process_start_time(pid_t pid);

/* Asks polkitd (system bus, org.freedesktop.PolicyKit1) whether process
 * @pid/@uid started at @start_time (all three read when the client
 * connected: a pid alone may have been reused since) may perform
 * @action_id. Root is always allowed; @start_time 0 (unknown) is refused.
 * Errors use domain POLKIT (60): AUTH_CANCELLED (79), AUTH_UNAVAILABLE
 * (94), AUTH_FAILED (45). Blocks: call from a worker thread. */
gboolean hyved_polkit_check(pid_t pid, uid_t uid, guint64 start_time,
                            const char *action_id, GError **error);

G_END_DECLS
