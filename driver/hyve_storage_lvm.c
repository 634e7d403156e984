/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_lvm.c: the LVM tools as the logical backend
 * (hyve_storage_backend_logical.c) uses them: hyve_lvm_run runs one tool
 * with an argv (never a shell), LC_ALL=C, stdin /dev/null, PATH extended
 * by /usr/sbin:/sbin, and without udev (no /run/udev/control) with
 * DM_DISABLE_UDEV=1 and --config 'activation{udev_sync=0 udev_rules=0}';
 * a failing command's stderr ends up in the error, as libvirt's virCommand
 * reports it. Also the pure parts (unit-tested without LVM): LVM's name
 * rule and the parsers of `vgs`/`lvs` output.
 */
#include "hyve-config.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "hyve_cgroup.h"
#include "hyve_storage_priv.h"

/* ---- running the tools ---------------------------------------------------- */

#define LVM_UDEV_OFF "activation{udev_sync=0 udev_rules=0}"

/* Runs @args (args[0]: an LVM tool or blkid, looked up in PATH, /usr/sbin,
 * /sbin). Exit status 0 or one in @ok_status (0-terminated) is success;
 * *out gets stdout, *status the exit status (both optional). */
gboolean
hyve_lvm_run(const char *const *args, const int *ok_status, char **out, int *status,
             GError **error)
{
    gboolean udev = g_file_test("/run/udev/control", G_FILE_TEST_EXISTS);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) envp = g_get_environ(), argv = NULL;
    g_autofree char *std_out = NULL, *std_err = NULL, *cmd = NULL, *path = NULL;
    g_autoptr(GError) err = NULL;
    int ws = 0, st = -1;
    gboolean ok = FALSE;

    g_strv_builder_add(b, args[0]);
    if (!udev && !g_str_equal(args[0], "blkid"))
        g_strv_builder_addv(b, (const char *[]){ "--config", LVM_UDEV_OFF, NULL });
    g_strv_builder_addv(b, (const char **)args + 1);
    argv = g_strv_builder_end(b);
    cmd = g_strjoinv(" ", argv);
    path = g_strdup_printf("%s:/usr/sbin:/sbin", g_environ_getenv(envp, "PATH") ?: "/usr/bin");
    envp = g_environ_setenv(envp, "PATH", path, TRUE);
    envp = g_environ_setenv(envp, "LC_ALL", "C", TRUE);
    envp = g_environ_setenv(envp, "LVM_SUPPRESS_FD_WARNINGS", "1", TRUE);
    if (!udev)
        envp = g_environ_setenv(envp, "DM_DISABLE_UDEV", "1", TRUE);
    if (!g_spawn_sync(NULL, argv, envp, G_SPAWN_SEARCH_PATH_FROM_ENVP |
                      G_SPAWN_STDIN_FROM_DEV_NULL, hyve_child_setup_rlimits, NULL,
                      &std_out, &std_err, &ws, &err)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                       "Cannot run '%s': %s", cmd, err->message);
        return FALSE;
    }
    g_strchomp(std_err);
    if (WIFEXITED(ws)) {
        st = WEXITSTATUS(ws);
        ok = st == 0;
        for (const int *o = ok_status; o && *o; o++)
            ok = ok || st == *o;
    }
    if (status)
        *status = st;
    if (ok && out)
        *out = g_steal_pointer(&std_out);
    if (!ok)
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                       "Child process (%s) unexpected %s %d%s%s", cmd,
                       WIFEXITED(ws) ? "exit status" : "fatal signal",
                       WIFEXITED(ws) ? st : WTERMSIG(ws), *std_err ? ": " : "", std_err);
    return ok;
}

/* ---- pure parts ---------------------------------------------------------- */

/* LVM's rule for VG and LV names: [A-Za-z0-9+_.-], not starting with '-',
 * not "." or "..". (Keeps every name from being read as an option.) */
gboolean
hyve_lvm_name_valid(const char *name)
{
    if (!name || !*name || name[0] == '-' || g_str_equal(name, ".") || g_str_equal(name, ".."))
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("+_.-", *p))
            return FALSE;
    }
    return strlen(name) < 128;
}

static gboolean
parse_u64(const char *s, guint64 *out)
{
    return g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, out, NULL);
}

static void
malformed(GError **error, const char *tool, const char *line)
{
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                   "cannot parse %s output: '%s'", tool, line);
}

/* "  VG#SIZE#FREE" */
gboolean
hyve_lvm_parse_vgs(const char *out, const char *vg, guint64 *size, guint64 *free_bytes,
                   GError **error)
{
    g_auto(GStrv) lines = g_strsplit(out ? out : "", "\n", -1);

    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(g_strstrip(lines[i]), "#", -1);

        if (!*lines[i])
            continue;
        if (g_strv_length(f) != 3 || !parse_u64(f[1], size) || !parse_u64(f[2], free_bytes) ||
            *free_bytes > *size) {
            malformed(error, "vgs", lines[i]);
            return FALSE;
        }
        if (g_str_equal(f[0], vg))
            return TRUE;
    }
    hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                   "cannot find logical volume group name '%s'", vg);
    return FALSE;
}

static gint
vol_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(HyveVolDef *const *)a)->name, (*(HyveVolDef *const *)b)->name);
}

/* "  NAME#SIZE#ATTR" lines into volumes at @vg_dir/NAME; thin pools
 * (attr 't') and hidden LVs ([name]) are no volumes. Sorted by name. */
GPtrArray *
hyve_lvm_parse_lvs(const char *out, const char *vg_dir, GError **error)
{
    g_autoptr(GPtrArray) vols = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_def_free);
    g_auto(GStrv) lines = g_strsplit(out ? out : "", "\n", -1);

    for (gsize i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(g_strstrip(lines[i]), "#", -1);
        HyveVolDef *v;
        guint64 size;

        if (!*lines[i])
            continue;
        if (g_strv_length(f) != 3 || !*f[0] || !parse_u64(f[1], &size) || strlen(f[2]) < 5) {
            malformed(error, "lvs", lines[i]);
            return NULL;
        }
        if (f[2][0] == 't' || f[0][0] == '[')
            continue;
        v = g_new0(HyveVolDef, 1);
        v->name = g_strdup(f[0]);
        v->target_path = g_build_filename(vg_dir, f[0], NULL);
        v->key = g_strdup(v->target_path);
        v->type = HYVE_VOL_TYPE_BLOCK;
        v->capacity = v->allocation = v->physical = size;
        v->format = g_strdup("raw");
        v->perms.mode = -1;
        v->perms.uid = v->perms.gid = -1;
        g_ptr_array_add(vols, v);
    }
    g_ptr_array_sort(vols, vol_cmp);
    return g_steal_pointer(&vols);
}
