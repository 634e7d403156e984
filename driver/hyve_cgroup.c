/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_cgroup.c: the per-domain cgroup v2 directories (see hyve_cgroup.h
 * for the layout) and their limits, and the descriptor limit children get
 * back. Creation and the removal of instance directories are serialised by
 * one lock, so a start never sees its instance directory vanish under it;
 * waiting for an exiting runner to leave its own cgroup happens outside it.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyve_cgroup.h"
#include "hyve_error.h"

#define HYVE_CGROUP_TOP "hyve"
#define HYVE_CGROUP_MAX_NAME 200

static GMutex cgroup_lock;

char *
hyve_cgroup_find_root(const char *mounts_text, const char *env)
{
    g_auto(GStrv) lines = NULL;
    const char *prefer[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
    char *found = NULL;

    if (env)
        return *env ? g_strdup(env) : NULL;
    lines = g_strsplit(mounts_text ? mounts_text : "", "\n", -1);
    for (guint p = 0; p < G_N_ELEMENTS(prefer) && !found; p++) {
        for (guint i = 0; lines[i]; i++) {
            g_auto(GStrv) f = g_strsplit(lines[i], " ", 5);

            /* the last mount of a point wins (it hides the others) */
            if (g_strv_length(f) >= 4 && g_str_equal(f[1], prefer[p])) {
                g_clear_pointer(&found, g_free);
                if (g_str_equal(f[2], "cgroup2"))
                    found = g_strdup(f[1]);
            }
        }
    }
    return found;
}

const char *
hyve_cgroup_root(void)
{
    static char *root;
    static gsize once;

    if (g_once_init_enter(&once)) {
        g_autofree char *mounts = NULL;
        const char *why = NULL;

        g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL);
        root = hyve_cgroup_find_root(mounts, g_getenv("HYVE_CGROUP_ROOT"));
        if (!root)
            why = "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified";
        else if (access(root, W_OK) < 0)
            why = "the cgroup2 hierarchy is not writable";
        if (why) {
            g_debug("per-domain cgroups unavailable (%s%s%s): runners stay in the daemon's "
                    "cgroup", why, root ? ": " : "", root ? root : "");
            g_clear_pointer(&root, g_free);
        }
        g_once_init_leave(&once, 1);
    }
    return root;
}

char *
hyve_cgroup_escape(const char *text, gboolean slash_as_dash)
{
    GString *s = g_string_new(NULL);

    for (const char *p = text; *p; p++) {
        guchar c = (guchar)*p;

        if (slash_as_dash && c == '/') {
            if (s->len && s->str[s->len - 1] != '-')
                g_string_append_c(s, '-');
        } else if (g_ascii_isalnum(c) || c == '_' || c == ':' || (c == '.' && s->len) ||
                   (c == '-' && !slash_as_dash)) {
            g_string_append_c(s, (char)c);
        } else {
            g_string_append_printf(s, "\\x%02x", c);
        }
    }
    if (slash_as_dash && s->len && s->str[s->len - 1] == '-')
        g_string_truncate(s, s->len - 1);
    if (!s->len)
        g_string_append(s, "-");
    if (s->len > HYVE_CGROUP_MAX_NAME) {
        g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);

        g_string_printf(s, "h-%.32s", sum);
    }
    return g_string_free(s, FALSE);
}

char *
hyve_cgroup_vm_path(const char *root, const char *state_dir, const char *name)
{
    g_autofree char *inst = hyve_cgroup_escape(state_dir, TRUE);
    g_autofree char *vm = hyve_cgroup_escape(name, FALSE);
    g_autofree char *leaf = g_strconcat("vm-", vm, NULL);

    return g_build_filename(root, HYVE_CGROUP_TOP, inst, leaf, NULL);
}

/* Enables memory, cpu and pids for the children of @dir where it offers them.
 * A refusal (e.g. EBUSY: a non-root cgroup that holds processes, as a
 * container's root does) only costs the accounting: logged, not fatal. */
static void
enable_controllers(const char *dir)
{
    static const char *const wanted[] = { "memory", "cpu", "pids" };
    g_autofree char *cpath = g_build_filename(dir, "cgroup.controllers", NULL);
    g_autofree char *spath = g_build_filename(dir, "cgroup.subtree_control", NULL);
    g_autofree char *offered = NULL, *enabled = NULL;
    g_auto(GStrv) have = NULL, on = NULL;
    g_autoptr(GString) add = g_string_new(NULL);
    int fd;

    if (!g_file_get_contents(cpath, &offered, NULL, NULL))
        return;     /* not a cgroup level we can configure */
    g_file_get_contents(spath, &enabled, NULL, NULL);
    have = g_strsplit_set(g_strstrip(offered), " \n", -1);
    on = g_strsplit_set(enabled ? g_strstrip(enabled) : "", " \n", -1);
    for (guint i = 0; i < G_N_ELEMENTS(wanted); i++)
        if (g_strv_contains((const char *const *)have, wanted[i]) &&
            !g_strv_contains((const char *const *)on, wanted[i]))
            g_string_append_printf(add, "%s+%s", add->len ? " " : "", wanted[i]);
    if (!add->len)
        return;
    fd = open(spath, O_WRONLY | O_TRUNC | O_CLOEXEC);   /* as a shell redirection */
    if (fd < 0 || write(fd, add->str, add->len) != (ssize_t)add->len)
        g_warning("cannot enable cgroup controllers '%s' in %s: %s (domains below it go "
                  "without that accounting)", add->str, spath, g_strerror(errno));
    if (fd >= 0)
        close(fd);
}

static gboolean
make_dir(const char *dir, GError **error)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return hyve_error_set_errno(error, HYVE_FROM_BHYVE, errno, "cannot create cgroup '%s'",
                                    dir);
    }
    return TRUE;
}

gboolean
hyve_cgroup_create(const char *root, const char *vm_path, GError **error)
{
    g_autofree char *inst = g_path_get_dirname(vm_path);
    g_autofree char *top = g_path_get_dirname(inst);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cgroup_lock);

    if (!g_str_equal(top, root) && !make_dir(top, error))
        return FALSE;
    enable_controllers(root);
    if (!g_str_equal(top, root))
        enable_controllers(top);
    if (!make_dir(inst, error))
        return FALSE;
    enable_controllers(inst);
    return make_dir(vm_path, error);
}

guint64
hyve_cgroup_pids_max(guint vcpus, guint disks, guint other_devices)
{
    /* main thread + GLib worker, the vCPUs, per disk its I/O thread and
     * two helpers, one I/O thread per other device, and a margin */
    return 2 + (guint64)vcpus + 3 * (guint64)disks + other_devices + HYVE_CGROUP_PIDS_MARGIN;
}

guint64
hyve_cgroup_memory_max(guint64 memory_kib)
{
    guint64 guest = memory_kib * 1024;

    return guest + HYVE_CGROUP_VMM_MEMORY + guest / HYVE_CGROUP_VMM_MEMORY_DIV;
}

/* @file of @vm_path := @value, if the kernel offers that file there. */
static gboolean
write_limit(const char *vm_path, const char *file, guint64 value, GError **error)
{
    g_autofree char *path = g_build_filename(vm_path, file, NULL);
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", value);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    gboolean ok;

    if (fd < 0 && errno == ENOENT)
        return TRUE;        /* controller not enabled here */
    ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (!ok)
        hyve_error_set_errno(error, HYVE_FROM_BHYVE, errno, "cannot set cgroup limit '%s'",
                             path);
    if (fd >= 0)
        close(fd);
    return ok;
}

gboolean
hyve_cgroup_set_limits(const char *vm_path, guint64 pids_max, guint64 memory_max,
                       GError **error)
{
    return write_limit(vm_path, "pids.max", pids_max, error) &&
           write_limit(vm_path, "memory.max", memory_max, error);
}

gboolean
hyve_cgroup_remove(const char *root, const char *vm_path)
{
    g_autofree char *inst = g_path_get_dirname(vm_path);
    g_autoptr(GMutexLocker) locker = NULL;
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    (void)root;
    /* a runner that is exiting may still populate it for a moment; only
     * this domain's job touches its directory, so no lock while waiting */
    while (rmdir(vm_path) < 0) {
        if (errno == ENOENT)
            break;
        if (errno != EBUSY || g_get_monotonic_time() >= deadline) {
            g_warning("cannot remove cgroup %s: %s", vm_path, g_strerror(errno));
            return FALSE;
        }
        g_usleep(10000);
    }
    /* the instance directory goes with its last domain (not while a start
     * below it is between creating it and its own directory) */
    locker = g_mutex_locker_new(&cgroup_lock);
    if (rmdir(inst) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY &&
        errno != EEXIST)
        g_debug("cannot remove cgroup %s: %s", inst, g_strerror(errno));
    return TRUE;
}

void
hyve_cgroup_sweep(const char *root, const char *state_dir)
{
    g_autofree char *probe = hyve_cgroup_vm_path(root, state_dir, "x");
    g_autofree char *inst = g_path_get_dirname(probe);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cgroup_lock);
    g_autoptr(GDir) d = g_dir_open(inst, 0, NULL);
    const char *name;
    guint removed = 0;

    if (!d)
        return;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = NULL;

        if (!g_str_has_prefix(name, "vm-"))
            continue;
        path = g_build_filename(inst, name, NULL);
        /* a populated cgroup (a reattached runner) refuses: EBUSY */
        if (rmdir(path) == 0)
            removed++;
    }
    if (removed)
        g_message("removed %u cgroup(s) of domains no longer running below %s", removed, inst);
    rmdir(inst);
}

static gboolean
read_u64_key(const char *path, const char *key, guint64 *value)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lines[i], " ", 2);

        if (!key && kv[0] && *kv[0])
            return g_ascii_string_to_unsigned(kv[0], 10, 0, G_MAXUINT64, value, NULL);
        if (key && g_strv_length(kv) == 2 && g_str_equal(kv[0], key))
            return g_ascii_string_to_unsigned(kv[1], 10, 0, G_MAXUINT64, value, NULL);
    }
    return FALSE;
}

gboolean
hyve_cgroup_memory_current(const char *vm_path, guint64 *bytes)
{
    g_autofree char *path = g_build_filename(vm_path, "memory.current", NULL);

    return read_u64_key(path, NULL, bytes);
}

gboolean
hyve_cgroup_cpu_usage(const char *vm_path, guint64 *usec)
{
    g_autofree char *path = g_build_filename(vm_path, "cpu.stat", NULL);

    return read_u64_key(path, "usage_usec", usec);
}

/* ---- the descriptor limit of children ------------------------------------- */

static struct rlimit nofile_orig;
static gboolean nofile_raised;

void
hyve_rlimit_nofile_raise(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    nofile_orig = rl;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        g_debug("cannot raise the descriptor limit: %s", g_strerror(errno));
    else
        nofile_raised = TRUE;
}

void
hyve_rlimit_child_restore(void)
{
    if (nofile_raised)
        setrlimit(RLIMIT_NOFILE, &nofile_orig);
}

void
hyve_child_setup_rlimits(gpointer data)
{
    (void)data;
    hyve_rlimit_child_restore();
}
