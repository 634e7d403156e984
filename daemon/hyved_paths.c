/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_paths.c: where the daemon keeps its sockets, configuration, state
 * and logs, for system and session mode, optionally relocated under --root.
 *
 * System:  HYVED_SYSCONFDIR/libvirt/virtbhyved.conf, …/libvirt/bhyve,
 *          /run/libvirt/virtbhyved-sock(-ro), /run/libvirt/bhyve,
 *          HYVED_LOCALSTATEDIR/log/libvirt/bhyve, …/cache/libvirt/bhyve,
 *          …/lib/libvirt/bhyve/images (the 'default' storage pool).
 * Session: $XDG_CONFIG_HOME/libvirt/{virtbhyved.conf,bhyve},
 *          $XDG_RUNTIME_DIR/libvirt/{virtbhyved-sock,bhyve},
 *          $XDG_CACHE_HOME/libvirt/bhyve{,/log}, $XDG_DATA_HOME/libvirt/images.
 * --root DIR: system paths are prefixed with DIR; in session mode the XDG
 *          directories become DIR/.config, DIR/run, DIR/.cache and
 *          DIR/.local/share.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_config.h"

#ifndef HYVED_SYSCONFDIR
# define HYVED_SYSCONFDIR "/etc"
#endif
#ifndef HYVED_LOCALSTATEDIR
# define HYVED_LOCALSTATEDIR "/var"
#endif

static char *
rooted(const char *root, const char *path)
{
    if (!root)
        return g_strdup(path);
    return g_build_filename(root, path, NULL);
}

gboolean
hyved_paths_init(HyvedPaths *paths, gboolean privileged, const char *root, GError **error)
{
    memset(paths, 0, sizeof(*paths));
    paths->privileged = privileged;

    if (root && !g_path_is_absolute(root)) {
        hyve_error_set(error, HYVE_FROM_CONF, HYVE_ERR_INVALID_ARG,
                       "--root '%s' must be an absolute path", root);
        return FALSE;
    }

    if (privileged) {
        g_autofree char *etc = rooted(root, HYVED_SYSCONFDIR "/libvirt");
        g_autofree char *run = rooted(root, HYVE_RUNSTATEDIR "/libvirt");
        g_autofree char *var = rooted(root, HYVED_LOCALSTATEDIR);

        paths->config_file = g_build_filename(etc, "virtbhyved.conf", NULL);
        paths->config_dir = g_build_filename(etc, "bhyve", NULL);
        paths->run_dir = g_strdup(run);
        paths->sock_rw = g_build_filename(run, "virtbhyved-sock", NULL);
        paths->sock_ro = g_build_filename(run, "virtbhyved-sock-ro", NULL);
        paths->state_dir = g_build_filename(run, "bhyve", NULL);
        paths->log_dir = g_build_filename(var, "log", "libvirt", "bhyve", NULL);
        paths->cache_dir = g_build_filename(var, "cache", "libvirt", "bhyve", NULL);
        paths->pool_dir = g_build_filename(var, "lib", "libvirt", "bhyve", "images", NULL);
    } else {
        g_autofree char *config_home = NULL;
        g_autofree char *runtime = NULL;
        g_autofree char *cache_home = NULL;
        g_autofree char *data_home = NULL;
        g_autofree char *run = NULL;

        if (root) {
            config_home = g_build_filename(root, ".config", NULL);
            runtime = g_build_filename(root, "run", NULL);
            cache_home = g_build_filename(root, ".cache", NULL);
            data_home = g_build_filename(root, ".local", "share", NULL);
        } else {
            /* g_get_user_runtime_dir() already falls back to the cache dir
             * (~/.cache) when XDG_RUNTIME_DIR is unset, as libvirt does. */
            config_home = g_strdup(g_get_user_config_dir());
            runtime = g_strdup(g_get_user_runtime_dir());
            cache_home = g_strdup(g_get_user_cache_dir());
            data_home = g_strdup(g_get_user_data_dir());
        }
        run = g_build_filename(runtime, "libvirt", NULL);
        paths->config_file = g_build_filename(config_home, "libvirt", "virtbhyved.conf", NULL);
        paths->config_dir = g_build_filename(config_home, "libvirt", "bhyve", NULL);
        paths->run_dir = g_strdup(run);
        paths->sock_rw = g_build_filename(run, "virtbhyved-sock", NULL);
        paths->sock_ro = NULL;
        paths->state_dir = g_build_filename(run, "bhyve", NULL);
        paths->log_dir = g_build_filename(cache_home, "libvirt", "bhyve", "log", NULL);
        paths->cache_dir = g_build_filename(cache_home, "libvirt", "bhyve", NULL);
        paths->pool_dir = g_build_filename(data_home, "libvirt", "images", NULL);
    }
    return TRUE;
}

void
hyved_paths_clear(HyvedPaths *paths)
{
    g_clear_pointer(&paths->config_file, g_free);
    g_clear_pointer(&paths->config_dir, g_free);
    g_clear_pointer(&paths->run_dir, g_free);
    g_clear_pointer(&paths->sock_rw, g_free);
    g_clear_pointer(&paths->sock_ro, g_free);
    g_clear_pointer(&paths->state_dir, g_free);
    g_clear_pointer(&paths->log_dir, g_free);
    g_clear_pointer(&paths->cache_dir, g_free);
    g_clear_pointer(&paths->pool_dir, g_free);
}
