/*
 * hvr_sandbox.h: least privilege for a running VM (`sandbox=true`,
 * bhyve-runner.conf(5) SANDBOX).
 *
 * Design note: the runner does all its setup with the rights it was started
 * with (config, /dev/kvm, disks, kernel/initrd, taps, ptys, sockets, log and
 * exit file all opened by path), then main.c calls hvr_sandbox_enter() once,
 * while the process is still single-threaded (hvr_machine_new() starts no
 * thread; device I/O threads, the GLib worker and the vCPUs all start in
 * hvr_machine_run() and inherit everything below).  In this order:
 *   1. new mount namespace (plus a user namespace when not root; skipped
 *      with one log line when the kernel refuses it) whose root is an empty
 *      read-only tmpfs: pivot_root, old root detached (MS_MOVE + chroot when
 *      the old root is an initramfs, which cannot be pivoted);
 *   2. sandbox.gid / sandbox.uid: setgroups(0), setresgid, setresuid;
 *   3. capability bounding and ambient sets emptied, then every capability
 *      dropped, PR_SET_NO_NEW_PRIVS;
 *   4. the libseccomp allow-list of hvr_sandbox_filter.c, synchronised to
 *      every thread (TSYNC), default action SCMP_ACT_TRAP: the SIGSYS
 *      handler writes the syscall number to stderr and "status=4
 *      reason=error" to the exit file (pre-opened) with async-signal-safe
 *      calls, then _exit(4).  Opening a file by path is not a violation:
 *      open/openat/openat2 answer ENOENT.
 * After that nothing may be opened, created or removed by path: main.c,
 * hvr_control.c and hvr_chardev.c ask hvr_sandbox_active() before unlinking
 * their sockets (whoever started the runner removes them), and the exit file
 * is opened during setup (hvr_exit_file_open()).
 *
 * Builds with -Db_sanitize (HVR_SANITIZE) allow what the ASan/UBSan
 * runtimes need and answer ENOENT/EPERM instead of trapping on their
 * optional calls (readlink, stat, fork, ptrace); LeakSanitizer's exit-time check
 * cannot run without /proc, so hvr_sandbox_enter() runs it once before.
 *
 * Thread-safety: hvr_sandbox_enter() must be called by the only thread;
 * hvr_sandbox_active() from any thread once it returned.
 */
#ifndef HVR_SANDBOX_H
#define HVR_SANDBOX_H

#include <glib.h>
#include <sys/types.h>

#include "hvr_config.h"

/* Reject sandbox settings this process cannot honour (before any setup):
 * sandbox.uid/gid 0 (a "switch" to root; without the keys the runner
 * keeps the user it was started as), and a uid/gid switch without root
 * unless it names the current ids. */
gboolean hvr_sandbox_check(const HvrConfig *cfg, GError **error);

/* Steps 1-4 above.  @exit_fd: the pre-opened exit file (or -1), written by
 * the SIGSYS handler.  On error the process may be partially confined and
 * must exit. */
gboolean hvr_sandbox_enter(const HvrConfig *cfg, int exit_fd, GError **error);

gboolean hvr_sandbox_active(void);

/* The seccomp filter hvr_sandbox_enter() loads in process @pid (0: this
 * one; the filter names it: tgkill only within the process), without
 * loading it: libseccomp's PFC text (@bpf FALSE) or the raw BPF program
 * (@bpf TRUE, struct sock_filter array) written to @fd.  Also returns the
 * number of system calls with at least one ALLOW rule in @n_allowed (may
 * be NULL). */
gboolean hvr_sandbox_filter_export(int fd, gboolean bpf, pid_t pid, guint *n_allowed,
                                   GError **error);

/* hvr_sandbox_filter.c, used by hvr_sandbox_enter(): build and load the
 * filter, install the SIGSYS handler. */
gboolean hvr_sandbox_filter_load(int exit_fd, GError **error);

#endif
