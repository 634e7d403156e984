/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_status.c: the status file of a running domain
 * (<state_dir>/<name>.xml) and reattaching to the runners it names when
 * the driver starts:
 *
 *   <domstatus state='1' reason='1' pid='P' starttime='T' id='I'
 *              [transient='yes'] [autostarted='yes'] [powerbutton='yes']
 *              [reboot='yes'] [updated='yes']>
 *     <domain ...> (the live definition, as --inactive formats it) </domain>
 *   </domstatus>
 *
 * A runner is reattached only if its pid is alive, its /proc start time
 * matches and its command line is [runner, "-c", <name>.conf]; otherwise
 * the domain ends SHUTOFF (reason from the exit file), with its STOPPED
 * event queued, and the run files are removed. A reattached domain's
 * <interface type='network'> NICs take their network ports again (the
 * file, written like --inactive XML, has no bridge='': the network says).
 */
#include "hyve-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve/runner-exit.h"
#include "hyve_domain_parse_priv.h"
#include "hyve_driver_priv.h"
#include "hyve_netdev.h"
#include "hyve_cgroup.h"
#include "hyve_machined.h"
#include "hyve_process.h"
#include "hyve_runner_control.h"

/* Serialises status writers (a job holder and a live metadata change may
 * save the same domain at once): taken before obj->lock, never inside it. */
static GMutex status_lock;

void
hyve_process_status_save(HyveDomainObj *obj)
{
    g_autoptr(GError) err = NULL;

    if (!hyve_process_status_save_checked(obj, &err))
        g_warning("cannot save status of domain %s: %s", obj->name, err->message);
}

gboolean
hyve_process_status_save_checked(HyveDomainObj *obj, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&status_lock);
    g_autofree char *path = NULL, *dom = NULL, *text = NULL;
    g_autoptr(GString) ptys = NULL;
    HyveDomainRun *run;

    g_mutex_lock(&obj->lock);
    run = obj->run;
    if (!run || run->stopping || obj->id <= 0) {
        g_mutex_unlock(&obj->lock);
        return TRUE;
    }
    path = g_strdup(run->paths.status);
    dom = hyve_domain_def_format(obj->def, -1, HYVE_DOMAIN_XML_INACTIVE);
    /* the pty paths (the inactive format has none): a runner that does not
     * answer at a reattach keeps its consoles */
    ptys = g_string_new(NULL);
    for (guint i = 0; i < obj->def->serials->len; i++) {
        HyveChrDef *c = g_ptr_array_index(obj->def->serials, i);
        g_autofree char *esc = NULL;

        if (c->type != HYVE_CHR_TYPE_PTY || !c->path)
            continue;
        esc = g_markup_escape_text(c->path, -1);
        g_string_append_printf(ptys, "  <pty serial='%u' path='%s'/>\n", i, esc);
    }
    text = g_strdup_printf("<domstatus state='%d' reason='%d' pid='%d' starttime='%"
                           G_GUINT64_FORMAT "' id='%d'%s%s%s%s%s>\n%s%s</domstatus>\n",
                           obj->state, obj->reason, (int)run->pid, run->start_time, obj->id,
                           obj->persistent ? "" : " transient='yes'",
                           run->autostarted ? " autostarted='yes'" : "",
                           run->host_powerdown ? " powerbutton='yes'" : "",
                           run->reboot_pending ? " reboot='yes'" : "",
                           run->updated ? " updated='yes'" : "", dom, ptys->str);
    g_mutex_unlock(&obj->lock);
    return hyve_file_write_atomic(path, text, error);
}

void
hyve_process_status_remove(const char *path)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&status_lock);

    if (path && unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}

/* ---- reattach --------------------------------------------------------------- */

typedef struct {
    int state, reason, id;
    pid_t pid;
    guint64 start_time;
    gboolean transient, autostarted, powerbutton, reboot, updated;
    HyveDomainDef *def;
} HyveStatus;

static gint64
attr_int(xmlNodePtr node, const char *name)
{
    g_autofree char *v = hyve_xml_attr(node, name);
    guint64 n;

    return v && hyve_parse_uint(v, G_MAXINT64, &n) ? (gint64)n : -1;
}

static gboolean
attr_yes(xmlNodePtr node, const char *name)
{
    g_autofree char *v = hyve_xml_attr(node, name);

    return v && g_str_equal(v, "yes");
}

static gboolean
status_parse(HyveDriver *drv, const char *path, HyveStatus *st, GError **error)
{
    g_autofree char *text = NULL, *domxml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root, dom;
    xmlBufferPtr buf;
    gint64 id, pid;

    if (!g_file_get_contents(path, &text, NULL, error) ||
        !(doc = hyve_xml_parse_string(text, path, error)))
        return FALSE;
    root = xmlDocGetRootElement(doc);
    dom = root ? hyve_xml_child(root, "domain") : NULL;
    if (!root || !g_str_equal((const char *)root->name, "domstatus") || !dom) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "%s is not a domain status file", path);
        return FALSE;
    }
    st->state = (int)CLAMP(attr_int(root, "state"), -1, G_MAXINT);
    st->reason = (int)CLAMP(attr_int(root, "reason"), -1, G_MAXINT);
    /* ids and pids out of range are invalid (never truncated into range) */
    id = attr_int(root, "id");
    st->id = id >= 1 && id <= G_MAXINT ? (int)id : -1;
    pid = attr_int(root, "pid");
    st->pid = pid >= 1 && pid <= G_MAXINT ? (pid_t)pid : -1;
    st->start_time = (guint64)attr_int(root, "starttime");
    st->transient = attr_yes(root, "transient");
    st->autostarted = attr_yes(root, "autostarted");
    st->powerbutton = attr_yes(root, "powerbutton");
    st->reboot = attr_yes(root, "reboot");
    st->updated = attr_yes(root, "updated");
    buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, dom, 0, 0);
    domxml = g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    st->def = hyve_domain_def_parse_string(domxml, hyve_driver_get_parse_options(drv), error);
    if (!st->def)
        return FALSE;
    for (xmlNodePtr n = root->children; n; n = n->next) {
        g_autofree char *p = NULL;
        gint64 i;

        if (n->type != XML_ELEMENT_NODE || !g_str_equal((const char *)n->name, "pty"))
            continue;
        i = attr_int(n, "serial");
        p = hyve_xml_attr(n, "path");
        if (p && g_str_has_prefix(p, "/dev/") && i >= 0 && i < st->def->serials->len) {
            HyveChrDef *c = g_ptr_array_index(st->def->serials, i);

            if (c->type == HYVE_CHR_TYPE_PTY) {
                g_free(c->path);
                c->path = g_steal_pointer(&p);
            }
        }
    }
    return TRUE;
}

/* Is @pid (opened as @pidfd) the runner of @paths, started at @start_time? */
static gboolean
runner_verify(HyveDriver *drv, pid_t pid, guint64 start_time, const HyveRunnerPaths *paths,
              pid_t *ppid)
{
    guint64 st = 0;
    char state = 0;

    return hyve_proc_stat(pid, &st, ppid, NULL, &state) && st == start_time && state != 'Z' &&
           hyve_process_cmdline_is_runner(hyve_driver_get_config(drv)->runner_path, pid,
                                          paths->config);
}

/* With list->lock held: does a domain have id @id? */
static gboolean
id_in_use_locked(HyveDomainList *list, int id)
{
    g_autoptr(HyveDomainObj) user = hyve_domain_list_find_id_locked(list, id);

    return user != NULL;
}

/* The machined name runner @pid was registered under at its start (the
 * same name hyve_process_place_runner made from the id and name of that
 * start), when its cgroup is a machine.slice scope; NULL otherwise. */
static char *
reattached_machine(pid_t pid, int id, const char *name)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cgroup", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (id <= 0 || !g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (g_str_has_prefix(lines[i], "0::/machine.slice/"))
            return hyve_machined_name(id, name);
    return NULL;
}

static void
reattach_live(HyveDriver *drv, HyveStatus *st, HyveDomainRun *run)
{
    HyveDomainList *list = hyve_driver_get_domains(drv);
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;

    g_autofree char *state = NULL;
    /* before its id may change below: the name of its start */
    g_autofree char *machine = reattached_machine(run->pid, st->id, st->def->name);

    /* its network NICs count their ports again (dropped if it is not kept) */
    hyve_netdev_reattach_ports(hyve_driver_get_networks(drv), st->def);
    /* the runner's own word on its state, not the status file's (it may
     * have been paused or resumed while no daemon ran); a runner that does
     * not answer stays tracked with the state of the file */
    state = hyve_runner_control(run->paths.control, st->def->name, "status",
                                HYVE_RUNNER_CONTROL_TIMEOUT_MS, &err);
    if (state && g_str_equal(state, "paused") && st->state != HYVE_DOMAIN_STATE_PAUSED) {
        st->state = HYVE_DOMAIN_STATE_PAUSED;
        st->reason = HYVE_REASON_PAUSED_USER;
    } else if (state && g_str_equal(state, "running") &&
               st->state != HYVE_DOMAIN_STATE_RUNNING) {
        st->state = HYVE_DOMAIN_STATE_RUNNING;
        st->reason = HYVE_REASON_RUNNING_UNPAUSED;
    } else if (!state) {
        g_warning("domain %s: bhyve-runner %d does not answer: state from its status file",
                  st->def->name, (int)run->pid);
    }
    g_clear_error(&err);
    if (!hyve_process_query_consoles(run, st->def->name, st->def, &err))
        g_warning("domain %s: %s (pty paths from the status file)", st->def->name,
                  err->message);
    g_mutex_lock(&list->lock);
    obj = hyve_domain_list_find_uuid_locked(list, st->def->uuid);
    if (!obj && (obj = hyve_domain_list_find_name_locked(list, st->def->name))) {
        /* cannot happen through the API; never let two domains share a name */
        g_mutex_unlock(&list->lock);
        g_warning("domain %s: runner %d left alone: a domain of that name with another "
                  "uuid is defined", st->def->name, (int)run->pid);
        hyve_netdev_release_def(hyve_driver_get_networks(drv), st->def);
        hyve_domain_run_free(run);
        return;
    }
    if (!obj) {
        obj = hyve_domain_obj_new(g_steal_pointer(&st->def));
        obj->persistent = FALSE;
        hyve_domain_list_add_locked(list, obj);
    }
    g_mutex_lock(&obj->lock);
    if (obj->run) {
        /* a second status file for a domain already reattached */
        pid_t other = obj->run->pid;

        g_mutex_unlock(&obj->lock);
        g_mutex_unlock(&list->lock);
        g_warning("domain %s: runner %d not reattached: the domain is already running as "
                  "pid %d", obj->name, (int)run->pid, (int)other);
        hyve_netdev_release_def(hyve_driver_get_networks(drv), st->def);
        hyve_domain_run_free(run);
        return;
    }
    g_mutex_unlock(&obj->lock);
    if (st->id <= 0 || id_in_use_locked(list, st->id)) {
        int id = st->id;

        if (st->id <= 0)
            st->id = 1;
        while (id_in_use_locked(list, st->id))
            st->id = st->id == G_MAXINT ? 1 : st->id + 1;
        g_warning("domain %s: id %d of its status file is in use: now id %d", obj->name, id,
                  st->id);
    }
    g_mutex_lock(&obj->lock);
    if (st->def) {
        hyve_domain_def_free(obj->new_def);
        obj->new_def = obj->persistent ? obj->def : NULL;
        if (!obj->persistent)
            hyve_domain_def_free(obj->def);
        obj->def = g_steal_pointer(&st->def);
    }
    obj->id = st->id;
    obj->state = st->state == HYVE_DOMAIN_STATE_PAUSED ? HYVE_DOMAIN_STATE_PAUSED :
                 HYVE_DOMAIN_STATE_RUNNING;
    obj->reason = st->reason;
    run->host_powerdown = st->powerbutton;
    run->reboot_pending = st->reboot;
    run->autostarted = st->autostarted;
    run->updated = st->updated;
    run->machine = g_steal_pointer(&machine);   /* a later destroy terminates it */
    obj->run = run;
    g_mutex_unlock(&obj->lock);
    if (st->id >= list->next_id)
        list->next_id = st->id == G_MAXINT ? 1 : st->id + 1;
    g_mutex_unlock(&list->lock);
    hyve_process_log_line(run->paths.log, "reattached to pid %d, id %d", (int)run->pid, st->id);
    hyve_process_watch(hyve_driver_get_process_mgr(drv), obj, run);
    hyve_process_status_save(obj);     /* the state the runner told, a new id */
}

static void
reattach_one(HyveDriver *drv, const char *path)
{
    const HyveDriverConfig *cfg = hyve_driver_get_config(drv);
    HyveStatus st = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveDomainRun) run = g_new0(HyveDomainRun, 1);
    g_autofree char *base_file = NULL, *base_status = NULL;
    pid_t ppid = 0;

    run->pidfd = -1;
    if (!status_parse(drv, path, &st, &err)) {
        g_warning("cannot reattach from %s: %s", path, err->message);
        hyve_domain_def_free(st.def);
        return;
    }
    hyve_runner_paths_init(&run->paths, cfg->state_dir,
                           cfg->log_dir ? cfg->log_dir : cfg->state_dir, st.def->name);
    base_file = g_path_get_basename(path);
    base_status = g_path_get_basename(run->paths.status);
    if (!g_str_equal(base_file, base_status)) {
        /* a stray copy names another domain's files: it never touches them
         * (the domain's own status file decides) */
        g_warning("%s: status of domain %s, whose status file is %s: ignored", path,
                  st.def->name, run->paths.status);
        hyve_domain_def_free(st.def);
        return;
    }
    /* an invalid id never leaves a live runner untracked: it gets a new one */
    if (st.pid > 0)
        run->pidfd = hyve_pidfd_open(st.pid);
    if (run->pidfd >= 0 && runner_verify(drv, st.pid, st.start_time, &run->paths, &ppid)) {
        run->pid = st.pid;
        run->start_time = st.start_time;
        run->is_child = ppid == getpid();
        run->serial = hyve_process_next_serial();
        reattach_live(drv, &st, g_steal_pointer(&run));
    } else {
        hyve_process_end_unwatched(drv, st.def, st.pid, st.start_time, &run->paths);
    }
    hyve_domain_def_free(st.def);
}

static gint
cmp_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
hyve_process_reattach_all(HyveDriver *drv)
{
    const char *dir = hyve_driver_get_config(drv)->state_dir;
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!d)
        return;
    while ((name = g_dir_read_name(d)))
        /* names may begin with '.' (a domain ".x"); temp files end in .new */
        if (g_str_has_suffix(name, ".xml"))
            g_ptr_array_add(files, g_build_filename(dir, name, NULL));
    g_ptr_array_sort(files, cmp_paths);
    for (guint i = 0; i < files->len; i++)
        reattach_one(drv, g_ptr_array_index(files, i));

    /* Then the pid files no reattached domain owns: a runner whose status
     * file is missing (the daemon died during its start) or unreadable. A
     * live runner of ours is killed, never left running untracked (it could
     * end up running twice); the run files go. */
    g_dir_rewind(d);
    while ((name = g_dir_read_name(d)))
        if (g_str_has_suffix(name, ".pid") && strlen(name) > 4)
            hyve_process_kill_untracked(drv, dir, name);
    /* cgroups no runner uses any more (a daemon killed mid-start) */
    if (hyve_cgroup_root())
        hyve_cgroup_sweep(hyve_cgroup_root(), dir);
}
