/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_cgroup.h: one cgroup v2 per running domain (issue 7). Internal to
 * driver/.
 *
 * Location: a dedicated directory `hyve` at the top of the cgroup2
 * hierarchy, one directory per daemon instance below it (named after the
 * daemon's state directory, so daemons with different --root never share
 * one), one per domain below that:
 *
 *   <root>/hyve/<instance>/vm-<name>
 *   e.g. /sys/fs/cgroup/hyve/run-libvirt-bhyve/vm-web1
 *
 * (like libvirt's /machine partition without systemd-machined: outside the
 * daemon's own cgroup, so `systemctl restart virtbhyved` never touches the
 * VMs, and the daemon's cgroup keeps no children, which cgroup v2's "no
 * internal processes" rule would forbid once controllers are enabled).
 * Names are escaped: bytes other than [A-Za-z0-9_.:] (and '-' in a domain
 * name) -> \xNN, a leading '.' too; in the instance name '/' -> '-';
 * an instance name over 200 bytes is replaced by a hash. The path is a
 * pure function of (root, state dir, domain name): the cleanup after a
 * crash or a reattach finds the directory without any saved state.
 *
 * Controllers: memory, cpu and pids are enabled in cgroup.subtree_control of
 * every level from the root down to the instance directory where that
 * level's cgroup.controllers offers them (a hybrid host's unified
 * hierarchy usually offers none: placement only; cpu.stat's usage_usec
 * exists in every v2 cgroup regardless). A level that refuses (a
 * container's non-root top cgroup holding processes: EBUSY) costs only the
 * accounting: one warning, the domain still starts.
 *
 * The root: $HYVE_CGROUP_ROOT when set ("" = no cgroups, for tests and
 * administrators), else the cgroup2 mount at /sys/fs/cgroup (pure v2) or
 * /sys/fs/cgroup/unified (hybrid) from /proc/self/mounts, if writable.
 * Unavailable -> NULL and one debug line; runners then stay in the
 * daemon's cgroup.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The writable cgroup2 root runners go below, or NULL (decided once per
 * process; the debug line is logged once). */
const char *hyve_cgroup_root(void);
/* The same decision for @mounts_text (a /proc/self/mounts text) and the
 * value of HYVE_CGROUP_ROOT (@env, NULL = unset): the mount point, or NULL. */
char *hyve_cgroup_find_root(const char *mounts_text, const char *env);

/* <root>/hyve/<instance of @state_dir>/vm-<@name>. */
char *hyve_cgroup_vm_path(const char *root, const char *state_dir, const char *name);
/* One path component for @text (escaping as described above). */
char *hyve_cgroup_escape(const char *text, gboolean slash_as_dash);

/* Creates the domain's cgroup @vm_path below @root (the levels above as
 * needed; an existing one is reused) with the controllers the parents
 * offer. SYSTEM_ERROR naming the directory that cannot be made. */
gboolean hyve_cgroup_create(const char *root, const char *vm_path, GError **error);
/* Limits of a domain's cgroup, for a runner that turned hostile: pids.max
 * bounds its threads (it cannot fork: seccomp), memory.max its memory.
 * Threads of a runner: main + GLib worker (2), one per vCPU, per virtio
 * disk an I/O thread and 2 helpers (3), one I/O thread per other device
 * (interface, serial/console, rng), plus HYVE_CGROUP_PIDS_MARGIN for
 * sanitizer runtimes and later devices: e.g. 2 vCPUs, 1 disk, 1 interface,
 * 1 serial -> 2 + 2 + 3 + 2 + 32 = 41. memory.max = guest memory +
 * HYVE_CGROUP_VMM_MEMORY (the runner's own heap, device buffers, the
 * disks' page cache, which the kernel reclaims first) + guest memory /
 * HYVE_CGROUP_VMM_MEMORY_DIV (KVM's page tables for the guest, charged to
 * the cgroup: about 0.2% of guest memory with 4 KiB pages, 1/64 leaves room). */
#define HYVE_CGROUP_PIDS_MARGIN 32
#define HYVE_CGROUP_VMM_MEMORY (G_GUINT64_CONSTANT(256) << 20)
#define HYVE_CGROUP_VMM_MEMORY_DIV 64
guint64 hyve_cgroup_pids_max(guint vcpus, guint disks, guint other_devices);
guint64 hyve_cgroup_memory_max(guint64 memory_kib);
/* Writes pids.max and memory.max of @vm_path where the kernel offers them
 * (the controller is enabled by the parent; missing files are skipped).
 * SYSTEM_ERROR when an offered one cannot be written. */
gboolean hyve_cgroup_set_limits(const char *vm_path, guint64 pids_max, guint64 memory_max,
                                GError **error);

/* Removes @vm_path (waiting up to 2 s for a runner that is still exiting
 * to leave it) and then its instance directory if that is empty. A
 * missing directory is fine; failures are logged. */
gboolean hyve_cgroup_remove(const char *root, const char *vm_path);

/* At daemon start (no domain starting yet): removes the empty domain
 * cgroups of @state_dir's instance (left by a daemon killed during a start
 * or a stop) and the instance directory if that leaves it empty; populated
 * ones (runners that were reattached) cannot be removed and stay. */
void hyve_cgroup_sweep(const char *root, const char *state_dir);

/* Statistics of @vm_path: memory.current (bytes) and cpu.stat usage_usec;
 * FALSE for each one that is unavailable. */
gboolean hyve_cgroup_memory_current(const char *vm_path, guint64 *bytes);
gboolean hyve_cgroup_cpu_usage(const char *vm_path, guint64 *usec);

/* The daemon raises its soft RLIMIT_NOFILE to the hard limit at start
 * (hyve_rlimit_nofile_raise(), before any thread); every child it spawns
 * (runners, dnsmasq, nft) gets the original soft limit back before exec:
 * hyve_rlimit_child_restore() (async-signal-safe), or
 * hyve_child_setup_rlimits() as a GSpawnChildSetupFunc. */
void hyve_rlimit_nofile_raise(void);
void hyve_rlimit_child_restore(void);
void hyve_child_setup_rlimits(gpointer data);

G_END_DECLS
