/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver_voluser.c: which domain uses a storage volume, for the
 * storage driver's delete and shrink refusals (the HyveVolUserFunc that
 * hyve_driver_new installs): running domains by their live disks, starting
 * ones by the definition being started, files compared by inode.
 */
#include "hyve-config.h"

#include <string.h>
#include <sys/stat.h>
#include "hyve_domain_obj.h"
#include "hyve_driver_priv.h"
#include "hyve_storage.h"

/* Whether @other names the file @path (stat in @path_st when @have_st):
 * the same inode (block devices: the same device), so that "a//b", a path
 * through a symlinked directory or another node of the same device match
 * too; when either cannot be stat'ed, the same string. */
static gboolean
same_file(const char *path, const struct stat *path_st, gboolean have_st, const char *other)
{
    struct stat o;

    if (!other)
        return FALSE;
    if (!have_st || stat(other, &o) < 0)
        return strcmp(path, other) == 0;
    if (S_ISBLK(path_st->st_mode) && S_ISBLK(o.st_mode))
        return path_st->st_rdev == o.st_rdev;
    return path_st->st_dev == o.st_dev && path_st->st_ino == o.st_ino;
}

/* With obj->lock held: adds the source paths of @def's disks to @paths;
 * TRUE when a volume disk names the volume @vol (@by_name: always; else
 * only a volume disk with no resolved path). */
static gboolean
collect_disks_locked(const HyveDomainDef *def, const HyveVolIdent *vol, gboolean is_vol,
                     gboolean by_name, GPtrArray *paths)
{
    gboolean named = FALSE;

    for (guint j = 0; def && j < def->disks->len; j++) {
        const HyveDiskDef *d = g_ptr_array_index(def->disks, j);

        if (d->path)
            g_ptr_array_add(paths, g_strdup(d->path));
        if ((by_name || !d->path) && is_vol && d->type == HYVE_DISK_TYPE_VOLUME &&
            g_strcmp0(d->pool, vol->pool) == 0 && g_strcmp0(d->volume, vol->name) == 0)
            named = TRUE;
    }
    return named;
}

/* HyveVolUserFunc: the first domain that runs or is starting with a disk
 * on @path. A running domain: its disks' source paths, for a volume disk
 * the path resolved at its start (kept in the live definition) or, for a
 * domain reattached after a daemon restart, its (pool, volume) names
 * matched against the volume at @path (by lookup: a volume being deleted
 * or resized is still found by path). A starting domain (obj->start_def,
 * set before its volume disks are resolved, see hyve_process_run.c): the
 * source paths and (pool, volume) names of the definition being started.
 * Paths are compared as files (same_file), outside the domain locks.
 * Called by the storage code with no storage lock held; no storage call is
 * made under a domain lock. */
char *
hyve_driver_volume_user(const char *path, gpointer user_data)
{
    HyveDriver *drv = user_data;
    g_autoptr(GPtrArray) all = hyve_domain_list_export(hyve_driver_get_domains(drv), 0);
    HyveVolIdent vol = { 0 };
    gboolean is_vol = hyve_storage_vol_lookup_by_path(hyve_driver_get_storage(drv), path,
                                                      &vol, NULL);
    struct stat path_st;
    gboolean have_st = stat(path, &path_st) == 0;
    char *user = NULL;

    for (guint i = 0; !user && i < all->len; i++) {
        HyveDomainObj *obj = g_ptr_array_index(all, i);
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        gboolean named = FALSE;

        g_mutex_lock(&obj->lock);
        if (obj->run)
            named = collect_disks_locked(obj->def, &vol, is_vol, FALSE, paths);
        if (obj->start_def)
            named |= collect_disks_locked(obj->start_def, &vol, is_vol, TRUE, paths);
        g_mutex_unlock(&obj->lock);
        for (guint j = 0; !named && j < paths->len; j++)
            named = same_file(path, &path_st, have_st, g_ptr_array_index(paths, j));
        if (named)
            user = g_strdup(obj->name);
    }
    hyve_vol_ident_clear(&vol);
    return user;
}
