/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_files.c: what the storage driver keeps on disk and how it
 * comes back at start-up. Pool configs (<config_dir>/NAME.xml, atomic
 * replace), autostart links (autostart/NAME.xml -> ../NAME.xml), live
 * state files of active pools (<state_dir>/NAME.xml); at start-up
 * (hyve_storage_load) every config is loaded, pools active before a daemon
 * restart are taken up again from their state files, the default pool is
 * made on the very first start, and autostart pools are started. Files that
 * cannot be loaded are logged and kept.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "hyve_domain_obj.h"
#include "hyve_storage_priv.h"

/* ---- files ---------------------------------------------------------------- */

static char *
def_file(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, file, NULL);
}


gboolean
hyve_storage_save_config(HyveStorage *st, const HyvePoolDef *def, GError **error)
{
    g_autoptr(HyvePoolDef) copy = hyve_pool_def_copy(def);
    g_autofree char *path = def_file(st->config_dir, def->name);
    g_autofree char *xml = NULL, *data = NULL;
    /* "--" may not appear inside an XML comment: a name with it would make
     * the file unreadable at the next start */
    g_autofree char *named = hyve_config_comment_name(def->name, def->uuid);

    copy->capacity = copy->allocation = copy->available = 0;
    xml = hyve_pool_def_format(copy);
    if (g_mkdir_with_parents(st->config_dir, 0700) < 0)
        return hyve_storage_sys_error(error, errno,
                                      "cannot create config directory '%s'", st->config_dir);
    data = g_strdup_printf(
        "<!--\n"
        "WARNING: THIS FILE IS WRITTEN BY HYVE (virtbhyved). EDITS ARE OVERWRITTEN.\n"
        "Change this configuration with:\n"
        "  virsh pool-edit %s\n"
        "or another application using the libvirt API.\n"
        "-->\n\n%s", named, xml);
    return hyve_file_write_atomic(path, data, error);
}

gboolean
hyve_storage_save_state(HyveStorage *st, const HyvePoolDef *def, GError **error)
{
    g_autofree char *path = NULL, *xml = NULL;

    if (!st->state_dir)
        return TRUE;
    path = def_file(st->state_dir, def->name);
    xml = hyve_pool_def_format(def);
    if (g_mkdir_with_parents(st->state_dir, 0700) < 0)
        return hyve_storage_sys_error(error, errno,
                                      "cannot create state directory '%s'", st->state_dir);
    return hyve_file_write_atomic(path, xml, error);
}

void
hyve_storage_remove_state(HyveStorage *st, const char *name)
{
    g_autofree char *path = NULL;

    if (!st->state_dir)
        return;
    path = def_file(st->state_dir, name);
    if (unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove state file '%s': %s", path, g_strerror(errno));
}

gboolean
hyve_storage_set_autostart_link(HyveStorage *st, const char *name, gboolean on, GError **error)
{
    g_autofree char *link = def_file(st->autostart_dir, name);
    g_autofree char *target = g_strdup_printf("../%s.xml", name);

    if (!on) {
        if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR)
            return hyve_storage_sys_error(error, errno, "Failed to delete symlink '%s'", link);
        return TRUE;
    }
    if (g_mkdir_with_parents(st->autostart_dir, 0700) < 0)
        return hyve_storage_sys_error(error, errno, "cannot create autostart directory '%s'",
                         st->autostart_dir);
    if (symlink(target, link) < 0 && errno != EEXIST)
        return hyve_storage_sys_error(error, errno,
                                      "Failed to create symlink '%s' to '%s'", link, target);
    return TRUE;
}

gboolean
hyve_storage_delete_config(HyveStorage *st, const char *name, GError **error)
{
    g_autofree char *path = def_file(st->config_dir, name);

    if (!hyve_storage_set_autostart_link(st, name, FALSE, error))
        return FALSE;
    if (unlink(path) < 0 && errno != ENOENT)
        return hyve_storage_sys_error(error, errno, "cannot remove config %s", path);
    return TRUE;
}

/* ---- start-up ------------------------------------------------------------- */

/* <dir>/<file>: a pool definition whose name matches the file name and
 * whose type hyve supports. */
static HyvePoolDef *
read_def(const char *dir, const char *file, const HyveStorageBackend **backend, GError **error)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *xml = NULL, *expect = NULL;
    g_autoptr(HyvePoolDef) def = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &xml, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED, "%s",
                       local->message);
        return NULL;
    }
    if (!(def = hyve_pool_def_parse(xml, FALSE, NULL, error)))
        return NULL;
    expect = g_strdup_printf("%s.xml", def->name);
    if (!g_str_equal(expect, file)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "Storage pool config filename '%s' does not match pool name '%s'",
                       path, def->name);
        return NULL;
    }
    if (!(*backend = hyve_storage_backend_for(def->type))) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage pool type '%s' is not supported by hyve (supported: dir, "
                       "logical)", hyve_pool_type_to_string(def->type));
        return NULL;
    }
    if ((*backend)->check_def && !(*backend)->check_def(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

static gboolean
load_config(HyveStorage *st, const char *file, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def = read_def(st->config_dir, file, &backend, error);
    g_autoptr(HyvePoolObj) dup = NULL, pool = NULL;
    g_autofree char *link = NULL;

    if (!def)
        return FALSE;
    g_mutex_lock(&st->lock);
    if ((dup = hyve_storage_find_uuid_locked(st, def->uuid)) ||
        (dup = hyve_storage_find_name_locked(st, def->name))) {
        g_mutex_unlock(&st->lock);
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "pool '%s' is defined twice (same name or uuid)", def->name);
        hyve_pool_def_free(def);
        return FALSE;
    }
    link = def_file(st->autostart_dir, def->name);
    pool = hyve_pool_obj_new(st, def, backend);
    pool->persistent = TRUE;
    pool->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
    hyve_storage_add_locked(st, pool);
    g_mutex_unlock(&st->lock);
    return TRUE;
}

/* A pool that was active when the previous daemon stopped: its live
 * definition becomes current again, the backend starts (idempotent) and
 * the pool is refreshed; on failure it is inactive (transient: gone). */
static gboolean
load_state(HyveStorage *st, const char *file, GError **error)
{
    const HyveStorageBackend *backend = NULL;
    HyvePoolDef *def = read_def(st->state_dir, file, &backend, error);
    g_autoptr(HyvePoolDef) copy = NULL;
    g_autoptr(HyvePoolObj) pool = NULL;
    gboolean ok;

    if (!def)
        return FALSE;
    copy = hyve_pool_def_copy(def);
    g_mutex_lock(&st->lock);
    if ((pool = hyve_storage_find_name_locked(st, def->name))) {
        g_mutex_lock(&pool->lock);
        if (memcmp(pool->def->uuid, def->uuid, HYVE_UUID_LEN) != 0) {
            g_mutex_unlock(&pool->lock);
            g_mutex_unlock(&st->lock);
            hyve_pool_def_free(def);
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                           "the state file has another uuid than the pool's config");
            return FALSE;
        }
        pool->new_def = pool->def;
        pool->def = def;
        pool->backend = backend;
        g_mutex_unlock(&pool->lock);
    } else {
        pool = hyve_pool_obj_new(st, def, backend);
        hyve_storage_add_locked(st, pool);
    }
    g_mutex_unlock(&st->lock);

    ok = !backend->start || backend->start(copy, error);
    g_mutex_lock(&st->lock);
    g_mutex_lock(&pool->lock);
    pool->active = TRUE;
    ok = ok && hyve_pool_obj_refresh_locked(pool, error);
    if (ok)
        ok = hyve_storage_save_state(st, pool->def, error);
    if (!ok)
        hyve_pool_obj_stopped_locked(pool);
    g_mutex_unlock(&pool->lock);
    g_mutex_unlock(&st->lock);
    return ok;
}

/* Every *.xml of @dir through @load; failures are logged, files kept.
 * A <name>.xml.new left by a daemon killed in hyve_file_write_atomic()
 * is removed: the <name>.xml beside it is the last complete version. */
static void
load_dir(HyveStorage *st, const char *dir,
         gboolean (*load)(HyveStorage *, const char *, GError **), const char *what)
{
    g_autoptr(GDir) d = dir ? g_dir_open(dir, 0, NULL) : NULL;
    const char *file;

    while (d && (file = g_dir_read_name(d))) {
        g_autoptr(GError) err = NULL;

        if (hyve_file_remove_stale_temp(dir, file))
            continue;
        if (g_str_has_suffix(file, ".xml") && !load(st, file, &err))
            g_warning("storage: %s %s/%s: %s", what, dir, file, err->message);
    }
}

static void
make_default_pool(HyveStorage *st)
{
    g_autofree char *path = g_markup_escape_text(st->default_pool_path, -1);
    g_autofree char *xml = g_strdup_printf(
        "<pool type='dir'>\n  <name>default</name>\n  <target>\n    <path>%s</path>\n"
        "    <permissions>\n      <mode>0711</mode>\n    </permissions>\n  </target>\n"
        "</pool>\n", path);
    g_autoptr(HyvePoolObj) pool = NULL;
    g_autoptr(GError) err = NULL;

    if (!(pool = hyve_storage_pool_define_xml(st, xml, 0, &err)) ||
        !hyve_storage_pool_set_autostart(st, pool, TRUE, &err) ||
        !hyve_storage_pool_build(st, pool, 0, &err) ||
        !hyve_storage_pool_start(st, pool, 0, &err))
        g_warning("storage: default pool at %s: %s", st->default_pool_path, err->message);
}

static void
autostart_pools(HyveStorage *st)
{
    g_autoptr(GPtrArray) list = hyve_storage_list_pools(st, 1u | 16u, NULL);

    for (guint i = 0; list && i < list->len; i++) {
        HyvePoolObj *pool = g_ptr_array_index(list, i);
        g_autoptr(GError) err = NULL;

        if (!hyve_storage_pool_start(st, pool, 0, &err))
            g_warning("storage: autostart: %s", err->message);
    }
}

void
hyve_storage_load(HyveStorage *st, gboolean first_start)
{
    load_dir(st, st->config_dir, load_config, "pool config skipped:");
    load_dir(st, st->state_dir, load_state, "pool not kept active:");
    if (first_start && st->default_pool_path)
        make_default_pool(st);
    autostart_pools(st);
}
