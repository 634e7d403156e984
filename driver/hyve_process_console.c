/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process_console.c: the ptys a runner reports, the pty of a running
 * domain's serial port for a console stream (the path the runner reported, checked again before the
 * daemon opens it: hyve_process_pty.h), and autostart at daemon start-up.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "hyve_driver_priv.h"
#include "hyve_process.h"
#include "hyve_process_pty.h"
#include "hyve_runner_control.h"

/* Linux UNIX98_PTY_SLAVE_MAJOR .. + UNIX98_PTY_MAJOR_COUNT - 1 */
#define PTY_SLAVE_MAJOR_FIRST 136
#define PTY_SLAVE_MAJOR_LAST 143

gboolean
hyve_process_pty_path_ok(const char *path)
{
    const char *n;
    gsize len;

    if (!path || !g_str_has_prefix(path, "/dev/pts/"))
        return FALSE;
    n = path + strlen("/dev/pts/");
    len = strlen(n);
    if (len == 0 || len > 9)
        return FALSE;
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isdigit(n[i]))
            return FALSE;
    return TRUE;
}

static int
invalid_path(const char *path, const char *domain, const char *why, GError **error)
{
    g_autofree char *shown = g_strescape(path ? path : "", NULL);

    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                   "runner reported an invalid console path '%s' for domain %s (%s)", shown,
                   domain, why);
    return -1;
}

/* The tty index of the pty master @fd of @runner, or -1 when @fd is not a
 * pty master (its link names /dev/ptmx or /dev/pts/ptmx and its fdinfo has a
 * "tty-index:" line, which the kernel prints only for pty masters). */
static gint64
master_index(pid_t runner, const char *fd)
{
    g_autofree char *link = g_strdup_printf("/proc/%d/fd/%s", (int)runner, fd);
    g_autofree char *info_path = g_strdup_printf("/proc/%d/fdinfo/%s", (int)runner, fd);
    g_autofree char *target = g_file_read_link(link, NULL);
    g_autofree char *info = NULL;
    g_auto(GStrv) lines = NULL;
    guint64 n;

    if (!target || (!g_str_equal(target, "/dev/ptmx") && !g_str_equal(target, "/dev/pts/ptmx")))
        return -1;
    if (!g_file_get_contents(info_path, &info, NULL, NULL))
        return -1;
    lines = g_strsplit(info, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        const char *v;

        if (!g_str_has_prefix(lines[i], "tty-index:"))
            continue;
        v = lines[i] + strlen("tty-index:");
        while (*v == '\t' || *v == ' ')
            v++;
        if (g_ascii_string_to_unsigned(v, 10, 0, G_MAXINT32, &n, NULL))
            return (gint64)n;
        return -1;
    }
    return -1;
}

gboolean
hyve_process_pty_held_by(pid_t runner, guint64 index)
{
    g_autofree char *fds = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *e;

    if (runner <= 0)
        return FALSE;
    fds = g_strdup_printf("/proc/%d/fd", (int)runner);
    if (!(dir = g_dir_open(fds, 0, NULL)))
        return FALSE;
    while ((e = g_dir_read_name(dir)))
        if (master_index(runner, e) == (gint64)index)
            return TRUE;
    return FALSE;
}

int
hyve_process_pty_open(const char *path, pid_t runner, const char *domain, GError **error)
{
    struct stat st;
    guint64 index;
    int fd;

    if (!hyve_process_pty_path_ok(path))
        return invalid_path(path, domain, "not /dev/pts/N", error);
    index = g_ascii_strtoull(path + strlen("/dev/pts/"), NULL, 10);
    /* before opening it: an admin's terminal is never opened */
    if (!hyve_process_pty_held_by(runner, index))
        return invalid_path(path, domain, "the runner does not hold its master", error);
    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ELOOP)
            return invalid_path(path, domain, "a symbolic link", error);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot open pty %s of domain %s: %s", path, domain, g_strerror(errno));
        return -1;
    }
    /* the device opened is pty slave @index (minor + 256 per major past the first) */
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
        major(st.st_rdev) < PTY_SLAVE_MAJOR_FIRST || major(st.st_rdev) > PTY_SLAVE_MAJOR_LAST ||
        (guint64)(major(st.st_rdev) - PTY_SLAVE_MAJOR_FIRST) * 256 + minor(st.st_rdev) != index) {
        close(fd);
        return invalid_path(path, domain, "not a pty", error);
    }
    return fd;
}

gboolean
hyve_process_query_consoles(HyveDomainRun *run, const char *name, HyveDomainDef *def,
                            GError **error)
{
    g_autofree char *reply = hyve_runner_control(run->paths.control, name, "consoles",
                                                 HYVE_RUNNER_CONTROL_TIMEOUT_MS, error);
    g_autoptr(GHashTable) pairs = NULL;

    if (!reply)
        return FALSE;
    pairs = hyve_runner_parse_pairs(reply);
    for (guint i = 0; i < def->serials->len; i++) {
        HyveChrDef *c = g_ptr_array_index(def->serials, i);
        g_autofree char *key = g_strdup_printf("com%d", c->port + 1);
        const char *path = g_hash_table_lookup(pairs, key);

        if (c->type != HYVE_CHR_TYPE_PTY || !path)
            continue;
        /* the daemon opens it as root later: only a pty name is taken */
        if (!hyve_process_pty_path_ok(path)) {
            g_autofree char *shown = g_strescape(path, NULL);

            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "runner reported an invalid console path '%s' for domain %s "
                           "(not /dev/pts/N)", shown, name);
            return FALSE;
        }
        g_free(c->path);
        c->path = g_strdup(path);
    }
    return TRUE;
}

/* With obj->lock held: the serial @dev_name names (NULL: the console). */
static HyveChrDef *
find_chr_locked(HyveDomainObj *obj, const char *dev_name)
{
    GPtrArray *serials = obj->def->serials;
    guint64 n;

    if (!dev_name)
        return serials->len > 0 ? g_ptr_array_index(serials, 0) : NULL;
    if (g_str_equal(dev_name, "console0"))
        return obj->def->console && serials->len > 0 ? g_ptr_array_index(serials, 0) : NULL;
    if (g_str_has_prefix(dev_name, "serial") && dev_name[6] &&
        g_ascii_string_to_unsigned(dev_name + 6, 10, 0, G_MAXUINT, &n, NULL) &&
        n < serials->len)
        return g_ptr_array_index(serials, n);
    return NULL;
}

/* The pty paths are unknown (the runner did not answer at reattach): asks
 * the runner again and, if the definition did not change meanwhile, stores
 * them in the live definition. Returns the path of @dev_name or NULL. */
static char *
retry_consoles(HyveDomainObj *obj, const char *dev_name)
{
    g_autoptr(HyveDomainDef) copy = NULL;
    HyveDomainRun tmp = { .pidfd = -1 };
    g_autoptr(GError) err = NULL;
    HyveDomainDef *seen;
    HyveChrDef *chr;
    char *path = NULL;
    gboolean ok;

    g_mutex_lock(&obj->lock);
    seen = obj->def;
    copy = obj->run ? hyve_domain_def_copy(obj->def, NULL) : NULL;
    tmp.paths.control = obj->run && copy ? g_strdup(obj->run->paths.control) : NULL;
    g_mutex_unlock(&obj->lock);
    if (!copy || !tmp.paths.control)
        return NULL;
    ok = hyve_process_query_consoles(&tmp, obj->name, copy, &err);
    g_free(tmp.paths.control);
    if (!ok) {
        g_warning("domain %s: %s", obj->name, err->message);
        return NULL;
    }
    g_mutex_lock(&obj->lock);
    if (obj->def == seen && obj->run) {
        obj->def = g_steal_pointer(&copy);
        hyve_domain_def_free(seen);
    }
    chr = find_chr_locked(obj, dev_name);
    path = chr && chr->type == HYVE_CHR_TYPE_PTY ? g_strdup(chr->path) : NULL;
    g_mutex_unlock(&obj->lock);
    if (path)
        hyve_process_status_save(obj);
    return path;
}

int
hyve_driver_domain_open_console(HyveDriver *drv, HyveDomainObj *obj, const char *dev_name,
                                GError **error)
{
    g_autofree char *path = NULL;
    const char *what = dev_name ? dev_name : "serial0";
    struct termios tio;
    HyveChrDef *chr;
    gboolean pty;
    pid_t runner;
    int fd;

    (void)drv;
    g_mutex_lock(&obj->lock);
    if (obj->id <= 0 || !obj->run) {
        g_mutex_unlock(&obj->lock);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_INVALID,
                       "domain is not running");
        return -1;
    }
    chr = find_chr_locked(obj, dev_name);
    pty = chr && chr->type == HYVE_CHR_TYPE_PTY;
    path = chr ? g_strdup(chr->path) : NULL;
    runner = obj->run->pid;
    g_mutex_unlock(&obj->lock);
    if (!chr) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "cannot find character device %s", dev_name ? dev_name : "<null>");
        return -1;
    }
    if (!pty) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_UNSUPPORTED,
                       "character device %s is not using a PTY", what);
        return -1;
    }
    if (!path)
        path = retry_consoles(obj, dev_name);
    if (!path) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "character device %s of domain %s has no pty", what, obj->name);
        return -1;
    }
    if ((fd = hyve_process_pty_open(path, runner, obj->name, error)) < 0)
        return -1;
    if (tcgetattr(fd, &tio) < 0 || (cfmakeraw(&tio), tcsetattr(fd, TCSANOW, &tio) < 0)) {
        int err = errno;

        close(fd);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot set pty %s of domain %s to raw mode: %s", path, obj->name,
                       g_strerror(err));
        return -1;
    }
    return fd;
}

/* libvirt VIR_CONNECT_LIST_DOMAINS_INACTIVE | _AUTOSTART */
#define LIST_INACTIVE_AUTOSTART ((1u << 1) | (1u << 10))

void
hyve_driver_autostart(HyveDriver *drv)
{
    g_autoptr(GPtrArray) doms = hyve_driver_list_domains(drv, LIST_INACTIVE_AUTOSTART, NULL);

    /* flush what reattach queued (runners that died while no daemon ran) */
    hyve_driver_flush_events(drv);
    for (guint i = 0; doms && i < doms->len; i++) {
        HyveDomainObj *obj = g_ptr_array_index(doms, i);
        g_autoptr(GError) err = NULL;
        gboolean start;

        if (!hyve_domain_job_begin(obj, FALSE, &err)) {
            g_warning("cannot autostart domain %s: %s", obj->name, err->message);
            continue;
        }
        g_mutex_lock(&obj->lock);
        start = obj->id <= 0 && obj->autostart;
        g_mutex_unlock(&obj->lock);
        if (start && hyve_domain_run_start(drv, obj, NULL, HYVE_START_BOOT, FALSE, &err)) {
            g_mutex_lock(&obj->lock);
            if (obj->run)
                obj->run->autostarted = TRUE;
            g_mutex_unlock(&obj->lock);
            hyve_process_status_save(obj);
            g_message("autostarted domain %s", obj->name);
        } else if (start) {
            g_warning("cannot autostart domain %s: %s", obj->name, err->message);
        }
        hyve_domain_job_end(obj);
    }
}
