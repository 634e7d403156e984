/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_config.c: persistent domain configuration on disk.
 *
 *   <config_dir>/<name>.xml                one file per persistent domain
 *   <config_dir>/autostart/<name>.xml      symlink -> ../<name>.xml
 *
 * Files are replaced atomically: write <file>.new in the same directory,
 * fsync it, rename over the old file, fsync the directory. A failure at
 * any step leaves the previous file untouched (a <file>.new left by a
 * killed daemon is removed when the next one loads the directory).
 * Callers serialize writes (HyveDomainList.lock).
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hyve_domain_obj.h"

#define sys_error(error, err, ...) \
    hyve_error_set_errno((error), HYVE_FROM_BHYVE, (err), __VA_ARGS__)

static gboolean
write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

gboolean
hyve_file_remove_stale_temp(const char *dir, const char *entry)
{
    g_autofree char *path = NULL;

    if (!g_str_has_suffix(entry, ".xml.new") && !g_str_has_suffix(entry, ".xml" HYVE_FILE_TRASH_SUFFIX))
        return FALSE;
    path = g_build_filename(dir, entry, NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return FALSE;
    if (unlink(path) < 0)
        g_warning("cannot remove stale temporary file '%s': %s", path, g_strerror(errno));
    return TRUE;
}

/* Files whose name went away, their data still to free: the unlink runs on
 * this thread, off the caller's path (on a filesystem mounted with
 * "discard", freeing a file's blocks waits for the device: 0.1-0.3 ms of an
 * undefine's ~0.2-0.4 ms). */
static GThreadPool *reaper;

static void
reap(gpointer data, gpointer user_data G_GNUC_UNUSED)
{
    char *trash = data;

    if (unlink(trash) < 0 && errno != ENOENT)
        g_warning("cannot remove '%s': %s", trash, g_strerror(errno));
    g_free(trash);
}

int
hyve_file_remove(const char *path)
{
    static gsize once;
    struct stat st;
    g_autofree char *trash = g_strdup_printf("%s" HYVE_FILE_TRASH_SUFFIX, path);

    if (g_once_init_enter(&once)) {
        reaper = g_thread_pool_new(reap, NULL, 1, TRUE, NULL);   /* its thread starts now */
        g_once_init_leave(&once, 1);
    }
    /* the name goes at once (rename is atomic); a daemon stopped before
     * the reaper ran leaves <file>.xml.del, removed at the next load.
     * Anything but a regular file is unlinked here (and fails as before). */
    if (!reaper || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || rename(path, trash) < 0)
        return unlink(path) < 0 && errno != ENOENT ? errno : 0;
    g_thread_pool_push(reaper, g_steal_pointer(&trash), NULL);
    return 0;
}

gboolean
hyve_file_write_atomic(const char *path, const char *data, GError **error)
{
    g_autofree char *tmp = g_strdup_printf("%s.new", path);
    g_autofree char *dir = g_path_get_dirname(path);
    int fd, err;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sys_error(error, errno, "cannot create file '%s'", tmp);
    if (!write_all(fd, data, strlen(data))) {
        err = errno;
        close(fd);
        unlink(tmp);
        return sys_error(error, err, "cannot write data to file '%s'", tmp);
    }
    if (fsync(fd) < 0) {
        err = errno;
        close(fd);
        unlink(tmp);
        return sys_error(error, err, "cannot sync file '%s'", tmp);
    }
    if (close(fd) < 0) {
        err = errno;
        unlink(tmp);
        return sys_error(error, err, "cannot save file '%s'", tmp);
    }
    if (rename(tmp, path) < 0) {
        err = errno;
        unlink(tmp);
        return sys_error(error, err, "cannot rename file '%s' as '%s'", tmp, path);
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) < 0) {
            err = errno;
            close(fd);
            return sys_error(error, err, "cannot sync directory '%s'", dir);
        }
        close(fd);
    }
    return TRUE;
}

char *
hyve_domain_config_path(const char *config_dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(config_dir, file, NULL);
}

static char *
autostart_link(const char *config_dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(config_dir, "autostart", file, NULL);
}

char *
hyve_config_comment_name(const char *name, const guint8 uuid[HYVE_UUID_LEN])
{
    char s[HYVE_UUID_STRING_LEN];

    if (name && *name && *name != '-' && !strstr(name, "--") &&
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
               "._+:@,=/-") == strlen(name))
        return g_strdup(name);
    hyve_uuid_format(uuid, s);
    return g_strdup(s);
}

gboolean
hyve_domain_config_save(const char *config_dir, const HyveDomainDef *def, GError **error)
{
    g_autofree char *path = hyve_domain_config_path(config_dir, def->name);
    g_autofree char *xml = hyve_domain_def_format(def, -1, HYVE_DOMAIN_XML_INACTIVE |
                                                  HYVE_DOMAIN_XML_SECURE);
    g_autofree char *data = NULL;
    /* "--" may not appear inside an XML comment: a name with it would make
     * the file unreadable at the next start */
    g_autofree char *named = hyve_config_comment_name(def->name, def->uuid);

    if (g_mkdir_with_parents(config_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create config directory '%s'", config_dir);
    data = g_strdup_printf(
        "<!--\n"
        "WARNING: THIS FILE IS WRITTEN BY HYVE (virtbhyved). EDITS ARE OVERWRITTEN.\n"
        "Change this configuration with:\n"
        "  virsh -c bhyve:///system edit %s\n"
        "or another application using the libvirt API.\n"
        "-->\n\n%s", named, xml);
    return hyve_file_write_atomic(path, data, error);
}

gboolean
hyve_domain_config_delete(const char *config_dir, const char *name, GError **error)
{
    g_autofree char *path = hyve_domain_config_path(config_dir, name);
    g_autofree char *link = autostart_link(config_dir, name);
    int err;

    if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR)
        return sys_error(error, errno, "Failed to delete autostart link '%s'", link);
    if ((err = hyve_file_remove(path)) != 0)
        return sys_error(error, err, "cannot remove config %s", path);
    return TRUE;
}

gboolean
hyve_domain_autostart_set(const char *config_dir, const char *name, gboolean autostart,
                          GError **error)
{
    g_autofree char *link = autostart_link(config_dir, name);
    g_autofree char *dir = g_build_filename(config_dir, "autostart", NULL);
    g_autofree char *target = g_strdup_printf("../%s.xml", name);

    if (!autostart) {
        if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR)
            return sys_error(error, errno, "Failed to delete symlink '%s'", link);
        return TRUE;
    }
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return sys_error(error, errno, "cannot create autostart directory '%s'", dir);
    if (symlink(target, link) < 0 && errno != EEXIST)
        return sys_error(error, errno, "Failed to create symlink '%s' to '%s'", link, target);
    return TRUE;
}

gboolean
hyve_domain_autostart_get(const char *config_dir, const char *name)
{
    g_autofree char *link = autostart_link(config_dir, name);

    return g_file_test(link, G_FILE_TEST_EXISTS);
}

static gboolean
load_one(const char *config_dir, const char *file, const HyveDomainParseOptions *opts,
         HyveDomainList *list, GError **error)
{
    g_autofree char *path = g_build_filename(config_dir, file, NULL);
    g_autofree char *xml = NULL;
    g_autofree char *expect = NULL;
    g_autoptr(HyveDomainDef) def = NULL;
    g_autoptr(HyveDomainObj) dup = NULL;
    g_autoptr(GError) local = NULL;
    HyveDomainObj *obj;

    if (!g_file_get_contents(path, &xml, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED, "%s", local->message);
        return FALSE;
    }
    if (!(def = hyve_domain_def_parse_string(xml, opts, error)))
        return FALSE;
    expect = g_strdup_printf("%s.xml", def->name);
    if (!g_str_equal(expect, file)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "Domain config filename '%s' does not match domain name '%s'",
                       path, def->name);
        return FALSE;
    }
    g_mutex_lock(&list->lock);
    if ((dup = hyve_domain_list_find_uuid_locked(list, def->uuid)) ||
        (dup = hyve_domain_list_find_name_locked(list, def->name))) {
        g_mutex_unlock(&list->lock);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "domain '%s' in '%s' clashes with domain '%s'",
                       def->name, path, dup->name);
        return FALSE;
    }
    obj = hyve_domain_obj_new(g_steal_pointer(&def));
    obj->persistent = TRUE;
    obj->autostart = hyve_domain_autostart_get(config_dir, obj->name);
    hyve_domain_list_add_locked(list, obj);
    g_mutex_unlock(&list->lock);
    hyve_domain_obj_unref(obj);
    return TRUE;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

guint
hyve_domain_config_load_all(const char *config_dir, const HyveDomainParseOptions *opts,
                            HyveDomainList *list)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;
    guint loaded = 0;

    if (!(dir = g_dir_open(config_dir, 0, &local))) {
        g_warning("cannot read domain configuration directory: %s", local->message);
        return 0;
    }
    while ((entry = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(config_dir, entry, NULL);

        if (hyve_file_remove_stale_temp(config_dir, entry))
            continue;
        if (g_str_has_suffix(entry, ".xml") &&
            g_file_test(path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(names, g_strdup(entry));
    }
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GError) err = NULL;

        if (load_one(config_dir, g_ptr_array_index(names, i), opts, list, &err))
            loaded++;
        else
            g_warning("skipping domain config '%s/%s': %s", config_dir,
                      (const char *)g_ptr_array_index(names, i), err->message);
    }
    return loaded;
}
