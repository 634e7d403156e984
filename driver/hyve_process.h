/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process.h: the bhyve-runner process of a running domain: spawn,
 * supervision (pidfd), exit decoding, status file, reattach after a daemon
 * restart. Internal to driver/; hyve_driver_lifecycle.c builds the public
 * operations of hyve_driver.h on it.
 *
 * A HyveDomainRun belongs to its HyveDomainObj (obj->run, under obj->lock)
 * from the successful spawn until the stop bookkeeping is done. Readers
 * (stats, consoles) copy what they need under obj->lock and talk to the
 * runner without any lock held.
 *
 * Who does what:
 *   hyve_process.c         spawn a runner and wait until it runs, reap it,
 *                          remove its files, /proc facts
 *   hyve_process_sandbox.c the runner user's ids, the domain's cgroup
 *                          (hyve_cgroup.c), the exec itself
 *   hyve_process_watch.c   the supervision thread (one GMainContext, one
 *                          pidfd source per runner) and the exit handlers'
 *                          thread pool; telling our runners, killing untracked ones
 *   hyve_process_status.c  the status file and reattach at driver start
 *   hyve_process_exit.c    a runner that exited on its own: exit status ->
 *                          events, on_poweroff/on_reboot/on_crash; one that
 *                          ended unwatched (reattach); a failed start's log tail
 *   hyve_process_run.c     the per-domain job; publishing and retiring a run
 *                          (state, id, definitions, events)
 *   hyve_driver_lifecycle.c, hyve_process_console.c: the public operations
 *                          of hyve_driver.h (console and autostart in the latter)
 *
 * Locks: domain list lock, then obj->lock. Neither is ever held across
 * control-socket I/O, a spawn or a wait; the per-domain job (obj->job_active)
 * serialises everything that changes a domain's run.
 */
#pragma once

#include <sys/types.h>
#include <glib.h>
#include "hyve_domain_obj.h"
#include "hyve_runner_config.h"

G_BEGIN_DECLS

typedef struct _HyveProcessMgr HyveProcessMgr;

typedef struct _HyveDomainRun {
    pid_t pid;
    guint64 start_time;         /* /proc/<pid>/stat field 22: with pid, names the process */
    int pidfd;                  /* -1 when none */
    HyveRunnerPaths paths;
    /* further fields: owned by hyve_process.c / hyve_driver_lifecycle.c.
     * All [obj] (under obj->lock) except where noted. */
    guint64 serial;             /* immutable: unique per spawn, names this run to the watcher */
    gboolean is_child;          /* immutable: our child, reaped with waitpid */
    gboolean host_powerdown;    /* the host pressed the power button during this run */
    gboolean reboot_pending;    /* virsh reboot: start again when the guest powers off */
    gboolean autostarted;       /* started by hyve_driver_autostart */
    gboolean updated;           /* persistent definition redefined while running */
    gboolean stopping;          /* its files are being removed: no more status saves */
    GSource *watch;             /* [watcher lock] the pidfd source, NULL when not watched */
    char *machine;              /* immutable: its systemd-machined name (hyve_machined.h),
                                 * NULL when not registered (reattach: rebuilt when the
                                 * runner's cgroup is under machine.slice) */
} HyveDomainRun;

void hyve_domain_run_free(HyveDomainRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveDomainRun, hyve_domain_run_free)

/* ---- hooks in hyve_driver.c ---------------------------------------------- */
HyveProcessMgr *hyve_driver_get_process_mgr(HyveDriver *drv);
const HyveDomainParseOptions *hyve_driver_get_parse_options(HyveDriver *drv);

/* ---- hyve_process.c -------------------------------------------------------- */

/* How the runner of a domain ended. */
typedef struct {
    int status;                 /* HyveRunnerExit 0..4, -1 when killed or unknown */
    int signal;                 /* signal that killed it, 0 when none/unknown */
} HyveRunnerEnd;

/* Spawns bhyve-runner for the live definition @def (its pty paths and tap
 * names are filled in) and waits until it runs (or is paused, with
 * @paused). Called with the domain's job held and no lock. A runner that
 * exits meanwhile -> OPERATION_FAILED with the tail of its log. @id: the
 * domain id it will run with (its machine name, hyve_machined.h).
 * Placement before the runner executes: registered with machined (its
 * scope), else its own cgroup (hyve_cgroup.h), else the daemon's. */
HyveDomainRun *hyve_process_spawn(HyveDriver *drv, HyveDomainDef *def, int id,
                                  gboolean paused, GError **error);
/* Waits up to @timeout_ms for the runner to exit; TRUE when it did. */
gboolean hyve_process_wait_exit(HyveDomainRun *run, int timeout_ms);
/* After the runner exited: its end (wait status for a child, else the
 * exit file; nothing -> killed). */
HyveRunnerEnd hyve_process_reap(HyveDomainRun *run);
/* Removes the run files (config, control socket, pid, exit, status),
 * logs a "stopped" line with @why and closes the pidfd. For a published
 * run: only once run->stopping is set. */
void hyve_process_cleanup(HyveDomainRun *run, const char *why);
/* Asks the runner for its consoles and stores the pty paths of @def's
 * serials (live definition). */
gboolean hyve_process_query_consoles(HyveDomainRun *run, const char *name, HyveDomainDef *def,
                                     GError **error);
/* Readies a copy of the definition for a run: clears what an earlier run put
 * into it (pty paths); <currentMemory> = <memory> (no balloon). */
void hyve_process_def_clear_live(HyveDomainDef *def);
/* /proc/<pid>/stat: start time (field 22), parent (4), utime+stime in ns. */
/* Fields of a /proc/.../stat file from field 3 (state) on (split after the
 * last ')': the command name may contain spaces); NULL if unreadable. */
char **hyve_proc_stat_fields(const char *path);
/* Clock ticks (utime, stime) -> nanoseconds. */
guint64 hyve_proc_ticks_to_ns(guint64 ticks);
gboolean hyve_proc_stat(pid_t pid, guint64 *start_time, pid_t *ppid, guint64 *cpu_ns,
                        char *state);
/* Appends a timestamped line to the log file. */
void hyve_process_log_line(const char *log_path, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
int hyve_pidfd_open(pid_t pid);
/* Is /proc/<pid>/cmdline [runner, "-c", @config]? */
gboolean hyve_process_cmdline_is_runner(const char *runner_path, pid_t pid, const char *config);
/* The live runner <name>.pid names, if its command line is ours for
 * <name>.conf; else 0. */
pid_t hyve_process_pidfile_runner(const char *runner_path, const HyveRunnerPaths *paths);
guint64 hyve_process_next_serial(void);

/* ---- hyve_process_sandbox.c ------------------------------------------------- */
/* The uid and primary gid of @user; INTERNAL_ERROR "runner user '@user'
 * does not exist ..." when there is none, SYSTEM_ERROR when the lookup fails. */
gboolean hyve_process_runner_ids(const char *user, guint32 *uid, guint32 *gid,
                                 GError **error);
/* Fills @in's sandbox fields: sandbox=true always, the ids of @user when
 * it is set and the daemon runs as root (@euid 0; a non-root daemon cannot
 * switch users: @user is then ignored, said once); a missing user fails.
 * _input: the same with the driver's runner_user and geteuid(). */
gboolean hyve_process_sandbox_fill(HyveRunnerInput *in, const char *user, uid_t euid,
                                   GError **error);
gboolean hyve_process_sandbox_input(HyveDriver *drv, HyveRunnerInput *in, GError **error);
/* The cgroup of the runner whose files are @paths (hyve_cgroup.h), NULL
 * when per-domain cgroups are unavailable; its removal (any stop path). */
char *hyve_process_cgroup_path(const HyveRunnerPaths *paths);
void hyve_process_cgroup_remove(const HyveRunnerPaths *paths);
/* Called with the pid of the forked runner, held before its exec: puts
 * it where it belongs (machined's scope, a cgroup). FALSE + @error: the
 * child is killed and the start fails. */
typedef gboolean (*HyveRunnerPlaceFunc)(pid_t pid, gpointer data, GError **error);
/* Forks the runner of @run (taps dup2()ed onto 3, 4, ..., @logfd as
 * stdout/stderr, stdin /dev/null, its own session, every other descriptor
 * closed), lets @place place it while it waits, then lets it execute;
 * fills run->pid, pidfd, start_time, is_child. */
gboolean hyve_process_exec_runner(HyveDriver *drv, HyveDomainRun *run, GArray *taps, int logfd,
                                  HyveRunnerPlaceFunc place, gpointer place_data,
                                  GError **error);
/* Where a held runner goes (a HyveRunnerPlaceFunc, @data a
 * HyveRunnerPlacement): machined's scope for the system daemon when
 * machined answers (hyve_machined.h; run->machine is set), else the
 * domain's own cgroup created with its limits (->cgroup is set: the caller
 * removes it when the start fails), else (no cgroups) the daemon's. */
typedef struct {
    HyveDriver *drv;
    const HyveDomainDef *def;
    HyveDomainRun *run;
    int id;
    char *cgroup;
} HyveRunnerPlacement;
gboolean hyve_process_place_runner(pid_t pid, gpointer data, GError **error);
/* Writes @pid into @cgroup's cgroup.procs. */
gboolean hyve_process_cgroup_enter(const char *cgroup, pid_t pid, GError **error);

/* ---- hyve_process_watch.c ------------------------------------------------- */
HyveProcessMgr *hyve_process_mgr_new(HyveDriver *drv);
/* Stops watching (no handler runs after it returns); runners keep running.
 * Runs may still be unwatched/freed between stop and free. */
void hyve_process_mgr_stop(HyveProcessMgr *mgr);
void hyve_process_mgr_free(HyveProcessMgr *mgr);
/* Watches @run's pidfd: when it exits, hyve_domain_handle_exit(drv, obj,
 * run->serial) runs on a pool thread. */
void hyve_process_watch(HyveProcessMgr *mgr, HyveDomainObj *obj, HyveDomainRun *run);
void hyve_process_unwatch(HyveProcessMgr *mgr, HyveDomainRun *run);
/* TRUE once hyve_process_mgr_free began: exit handlers do nothing then. */
gboolean hyve_process_mgr_stopping(HyveProcessMgr *mgr);

/* ---- hyve_process_status.c ------------------------------------------------- */
/* Writes the status file of a running domain (no lock held; callers hold
 * the job, or changed only the live definition). Failures are logged. */
void hyve_process_status_save(HyveDomainObj *obj);
/* The same, failures returned (a start that cannot save its status fails). */
gboolean hyve_process_status_save_checked(HyveDomainObj *obj, GError **error);
/* Removes a status file, ordered with the saves. */
void hyve_process_status_remove(const char *path);
/* At driver creation (no other thread yet): reattaches every live runner
 * of <state_dir>, marks the others SHUTOFF (events queued) and removes
 * their files; raises list->next_id above every id in use. */
void hyve_process_reattach_all(HyveDriver *drv);
/* hyve_process_watch.c: at reattach, for <dir>/@pidfile_name with no
 * reattached domain: a live runner of ours it names is SIGKILLed (never left
 * running untracked), the run files are removed. */
void hyve_process_kill_untracked(HyveDriver *drv, const char *dir, const char *pidfile_name);

/* ---- hyve_driver_lifecycle.c: shared by the lifecycle files --------------- */
/* Begins the domain's job (waits up to 30 s: OPERATION_TIMEOUT); NO_DOMAIN
 * when it was undefined meanwhile. @wait_forever: the exit handler. */
gboolean hyve_domain_job_begin(HyveDomainObj *obj, gboolean wait_forever, GError **error);
void hyve_domain_job_end(HyveDomainObj *obj);

typedef enum {
    HYVE_START_BOOT,            /* a new start: new id, STARTED/BOOTED */
    HYVE_START_REBOOT,          /* same id, REBOOT event */
    HYVE_START_RESTART,         /* same id, STARTED/BOOTED (on_poweroff restart) */
} HyveStartKind;
/* With the job held: spawns the runner for @live (taken; NULL = a copy of
 * the current definition) and publishes the run. For REBOOT/RESTART the old
 * run must have been stopped with hyve_domain_run_stop(.., keep = TRUE). */
gboolean hyve_domain_run_start(HyveDriver *drv, HyveDomainObj *obj, HyveDomainDef *live,
                               HyveStartKind kind, gboolean paused, GError **error);

typedef struct {
    int event;
    int detail;
} HyveEventSpec;
/* With the job held and the runner gone (reaped): the stop bookkeeping.
 * Queues @pre events (n_pre of them, current id) and, unless @keep, the
 * domain becomes SHUTOFF/@reason with STOPPED/@stopped_detail (id -1),
 * a transient domain leaves the list, new_def becomes def.
 * With @keep (a restart follows) only the run is dropped. */
void hyve_domain_run_stop(HyveDriver *drv, HyveDomainObj *obj, const HyveEventSpec *pre,
                          guint n_pre, int reason, int stopped_detail, gboolean keep,
                          const char *why);

/* With the job held and the old runner reaped: drops the run (queueing
 * @pre) and starts the domain again with the same id and live definition.
 * A failed start leaves it SHUTOFF/FAILED (STOPPED/FAILED) and FALSE. */
gboolean hyve_domain_restart(HyveDriver *drv, HyveDomainObj *obj, HyveStartKind kind,
                             gboolean paused, const HyveEventSpec *pre, guint n_pre,
                             const char *why, GError **error);

/* ---- hyve_process_exit.c ----------------------------------------------- */
/* A runner exited on its own (pool thread, no lock held). */
void hyve_domain_handle_exit(HyveDriver *drv, HyveDomainObj *obj, guint64 serial);
/* At reattach: the runner @pid (started at @start_time) of the domain @def
 * ended while no driver watched it: the domain is SHUTOFF (reason from the
 * exit file), STOPPED queued, its run files removed. */
void hyve_process_end_unwatched(HyveDriver *drv, const HyveDomainDef *def, pid_t pid,
                                guint64 start_time, HyveRunnerPaths *paths);
/* The last 4 KiB the runner wrote to @log_path since @offset (only those
 * are read), stripped; "(no output)" when none. */
char *hyve_process_log_tail(const char *log_path, off_t offset);

/* libvirt state reasons used by hyve */
#define HYVE_REASON_RUNNING_BOOTED 1
#define HYVE_REASON_RUNNING_UNPAUSED 5
#define HYVE_REASON_PAUSED_USER 1
#define HYVE_REASON_SHUTOFF_UNKNOWN 0
#define HYVE_REASON_SHUTOFF_SHUTDOWN 1
#define HYVE_REASON_SHUTOFF_DESTROYED 2
#define HYVE_REASON_SHUTOFF_CRASHED 3
#define HYVE_REASON_SHUTOFF_FAILED 6
#define HYVE_REASON_SHUTOFF_DAEMON 8

G_END_DECLS
