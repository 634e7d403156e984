/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_machined.h: registration of running domains with systemd-machined
 * (org.freedesktop.machine1 on the system bus, through GDBus; no
 * libsystemd). Internal to driver/.
 *
 * A runner registered as machine "bhyve-<id>-<name>" (class vm, service
 * "virtbhyved", leader = the runner, root directory "") lives in the
 * transient scope machined creates for it,
 * machine.slice/machine-bhyve\x2d<id>\x2d<name>.scope, with Delegate=yes
 * and the domain's limits as the scope's TasksMax= and MemoryMax= (the same
 * values hyve_cgroup.h writes to pids.max and memory.max without
 * machined). The scope is ordered After=virtbhyved.service and
 * Before=bhyve-guests.service: at host shutdown bhyve-guests shuts the
 * guests down before systemd stops what is left in their scopes.
 * `machinectl list` shows the domain; when the runner exits the scope
 * empties and machined forgets the machine (hyve_machined_terminate
 * hurries that for a domain that starts again under the same name).
 * A daemon restart keeps the scopes (KillMode=process; they are not the
 * daemon's cgroup): a reattached runner stays registered, once.
 *
 * Used only by the system daemon at its standard state directory (a daemon
 * with --root, e.g. a test's, or a session daemon keeps its own cgroup
 * layout): HYVE_MACHINED=0 disables it, =1 forces it for any daemon.
 * Unavailable (no system bus, machined masked or missing, not running
 * under systemd) -> the domain starts in hyve's own cgroup layout; one
 * log line per daemon says why.
 */
#pragma once

#include <sys/types.h>
#include <glib.h>

G_BEGIN_DECLS

/* Whether a daemon with state directory @state_dir and @privileged uses
 * machined at all (@env: the value of HYVE_MACHINED, NULL = unset). */
gboolean hyve_machined_wanted(gboolean privileged, const char *state_dir, const char *env);

/* The machine name of domain @name with id @id: "bhyve-<id>-<name>", a
 * valid host name as machined wants (other bytes of @name become '-', see
 * hyve_machined.c), at most 64 bytes. */
char *hyve_machined_name(int id, const char *name);

/* Registers @leader as machine @machine (@uuid: 16 bytes) with the scope
 * properties above. FALSE with @error when machined is unavailable or
 * refuses; the caller logs that once (hyve_machined_warn_once). A name still
 * held by a machine that is going away is retried for up to 3 s. */
gboolean hyve_machined_register(const char *machine, const guint8 *uuid, pid_t leader,
                                guint64 tasks_max, guint64 memory_max, GError **error);

/* Best effort: asks machined to terminate @machine (its scope; nothing is
 * left in it once the runner was reaped). Unknown machines are fine. The
 * call is sent without waiting for the answer. After a connect (5 s) or
 * call (10 s) timeout machined is not asked for 30 s (G_IO_ERROR_TIMED_OUT). */
void hyve_machined_terminate(const char *machine);

/* Forgets a timeout: machined is asked again at the next call (tests). */
void hyve_machined_forget_timeout(void);

/* Logs a refusal of this machine by machined (G_IO_ERROR_INVALID_ARGUMENT:
 * a name it does not take, MachineExists) each time; machined being
 * unavailable the first time only (again after a registration worked),
 * at debug level afterwards. */
void hyve_machined_warn_once(const char *machine, const GError *error);

G_END_DECLS
