/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_watch.c: supervision of the runners. One driver thread runs
 * a private GMainContext with one pidfd source per runner; when a runner
 * exits, its source hands (domain, run serial) to a thread pool where
 * hyve_domain_handle_exit() takes the domain's job and does the
 * bookkeeping. The watcher thread itself never blocks on a domain.
 * Also: telling our runners by their command line, and killing one that
 * nobody can track (its status file unreadable) at reattach.
 */
#include "hyve-config.h"

#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve_driver_priv.h"
#include "hyve_process.h"

struct _HyveProcessMgr {
    HyveDriver *drv;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GThreadPool *pool;
    GMutex lock;                /* guards HyveDomainRun.watch of every run */
    gint stopping;              /* atomic */
    gboolean stopped;           /* thread joined, pool freed */
};

typedef struct {
    HyveProcessMgr *mgr;
    HyveDomainObj *obj;         /* a reference */
    guint64 serial;
} HyveExitTask;

static void
exit_task_free(HyveExitTask *t)
{
    hyve_domain_obj_unref(t->obj);
    g_free(t);
}

static void
exit_task_run(gpointer data, gpointer user_data)
{
    HyveExitTask *t = data;

    (void)user_data;
    if (!g_atomic_int_get(&t->mgr->stopping))
        hyve_domain_handle_exit(t->mgr->drv, t->obj, t->serial);
    exit_task_free(t);
}

static gboolean
on_pidfd(gint fd, GIOCondition cond, gpointer data)
{
    HyveExitTask *w = data;
    HyveExitTask *t = g_new0(HyveExitTask, 1);

    (void)fd;
    (void)cond;
    t->mgr = w->mgr;
    t->obj = hyve_domain_obj_ref(w->obj);
    t->serial = w->serial;
    g_thread_pool_push(w->mgr->pool, t, NULL);
    return G_SOURCE_REMOVE;
}

static gpointer
watch_thread(gpointer data)
{
    HyveProcessMgr *mgr = data;

    g_main_context_push_thread_default(mgr->ctx);
    g_main_loop_run(mgr->loop);
    g_main_context_pop_thread_default(mgr->ctx);
    return NULL;
}

HyveProcessMgr *
hyve_process_mgr_new(HyveDriver *drv)
{
    HyveProcessMgr *mgr = g_new0(HyveProcessMgr, 1);

    mgr->drv = drv;
    g_mutex_init(&mgr->lock);
    mgr->ctx = g_main_context_new();
    mgr->loop = g_main_loop_new(mgr->ctx, FALSE);
    mgr->pool = g_thread_pool_new(exit_task_run, mgr, -1, FALSE, NULL);
    mgr->thread = g_thread_new("hyve-watch", watch_thread, mgr);
    return mgr;
}

gboolean
hyve_process_mgr_stopping(HyveProcessMgr *mgr)
{
    return g_atomic_int_get(&mgr->stopping);
}

static gboolean
quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void
hyve_process_mgr_stop(HyveProcessMgr *mgr)
{
    GSource *quit;

    if (!mgr || mgr->stopped)
        return;
    mgr->stopped = TRUE;
    g_atomic_int_set(&mgr->stopping, 1);
    quit = g_idle_source_new();
    g_source_set_callback(quit, quit_loop, mgr->loop, NULL);
    g_source_attach(quit, mgr->ctx);
    g_source_unref(quit);
    g_thread_join(mgr->thread);
    /* queued handlers see "stopping" and do nothing; running ones finish */
    g_thread_pool_free(mgr->pool, FALSE, TRUE);
}

void
hyve_process_mgr_free(HyveProcessMgr *mgr)
{
    if (!mgr)
        return;
    hyve_process_mgr_stop(mgr);
    g_main_loop_unref(mgr->loop);
    g_main_context_unref(mgr->ctx);
    g_mutex_clear(&mgr->lock);
    g_free(mgr);
}

void
hyve_process_watch(HyveProcessMgr *mgr, HyveDomainObj *obj, HyveDomainRun *run)
{
    HyveExitTask *w;
    GSource *src;

    if (run->pidfd < 0) {
        g_warning("runner %d of domain %s has no pidfd: not watched", (int)run->pid, obj->name);
        return;
    }
    w = g_new0(HyveExitTask, 1);
    w->mgr = mgr;
    w->obj = hyve_domain_obj_ref(obj);
    w->serial = run->serial;
    src = g_unix_fd_source_new(run->pidfd, G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_pidfd, w,
                          (GDestroyNotify)exit_task_free);
    g_mutex_lock(&mgr->lock);
    if (run->watch) {
        g_source_destroy(run->watch);
        g_source_unref(run->watch);
    }
    run->watch = src;
    g_source_attach(src, mgr->ctx);
    g_mutex_unlock(&mgr->lock);
}

void
hyve_process_unwatch(HyveProcessMgr *mgr, HyveDomainRun *run)
{
    g_mutex_lock(&mgr->lock);
    if (run->watch) {
        g_source_destroy(run->watch);
        g_source_unref(run->watch);
        run->watch = NULL;
    }
    g_mutex_unlock(&mgr->lock);
}

/* ---- runners of ours that nobody tracks ---------------------------------- */

gboolean
hyve_process_cmdline_is_runner(const char *runner_path, pid_t pid, const char *config)
{
    g_autofree char *cmdpath = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *cmd = NULL, *base_cmd = NULL, *base_runner = NULL;
    gsize len = 0;
    const char *a1, *a2;

    if (pid <= 0 || !g_file_get_contents(cmdpath, &cmd, &len, NULL) || len == 0 ||
        cmd[len - 1] != '\0')
        return FALSE;
    a1 = cmd + strlen(cmd) + 1;
    if (a1 >= cmd + len)
        return FALSE;
    a2 = a1 + strlen(a1) + 1;
    if (a2 >= cmd + len || a2 + strlen(a2) + 1 != cmd + len)
        return FALSE;
    base_cmd = g_path_get_basename(cmd);
    base_runner = g_path_get_basename(runner_path ? runner_path : "bhyve-runner");
    return (g_strcmp0(cmd, runner_path) == 0 || g_str_equal(base_cmd, base_runner)) &&
           g_str_equal(a1, "-c") && g_str_equal(a2, config);
}

pid_t
hyve_process_pidfile_runner(const char *runner_path, const HyveRunnerPaths *paths)
{
    g_autofree char *text = NULL;
    guint64 pid = 0;
    char state = 0;

    if (!g_file_get_contents(paths->pidfile, &text, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT, &pid, NULL))
        return 0;
    if (!hyve_proc_stat((pid_t)pid, NULL, NULL, NULL, &state) || state == 'Z' ||
        !hyve_process_cmdline_is_runner(runner_path, (pid_t)pid, paths->config))
        return 0;
    return (pid_t)pid;
}

void
hyve_process_kill_untracked(HyveDriver *drv, const char *dir, const char *file)
{
    const HyveDriverConfig *cfg = hyve_driver_get_config(drv);
    HyveDomainList *list = hyve_driver_get_domains(drv);
    g_autofree char *name = g_strndup(file, strlen(file) - 4);
    g_autoptr(HyveDomainObj) obj = NULL;
    HyveDomainRun tmp = { .pidfd = -1 };
    gboolean tracked = FALSE;
    pid_t pid;

    g_mutex_lock(&list->lock);
    if ((obj = hyve_domain_list_find_name_locked(list, name))) {
        g_mutex_lock(&obj->lock);
        tracked = obj->run != NULL;
        g_mutex_unlock(&obj->lock);
    }
    g_mutex_unlock(&list->lock);
    if (tracked)
        return;
    hyve_runner_paths_init(&tmp.paths, dir, cfg->log_dir ? cfg->log_dir : dir, name);
    pid = hyve_process_pidfile_runner(cfg->runner_path, &tmp.paths);
    if (pid > 0) {
        guint64 start = 0;
        pid_t ppid = 0;
        char state = 0;

        g_warning("domain %s: bhyve-runner %d cannot be reattached (no readable status "
                   "file): killing it (SIGKILL) so that it never runs twice", name, (int)pid);
        tmp.pid = pid;
        tmp.pidfd = hyve_pidfd_open(pid);
        hyve_proc_stat(pid, &start, &ppid, NULL, &state);
        kill(pid, SIGKILL);
        hyve_process_wait_exit(&tmp, 10000);
        if (ppid == getpid())
            waitpid(pid, NULL, 0);
        hyve_process_log_line(tmp.paths.log, "bhyve-runner %d killed: no readable status file",
                              (int)pid);
    }
    hyve_process_cleanup(&tmp, pid > 0 ? "killed: not reattachable" : "stale run files");
    hyve_runner_paths_clear(&tmp.paths);
}
