/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_backend_dir.c: the 'dir' pool backend. A pool is a directory;
 * its volumes are the regular files in it (not hidden ones, not
 * subdirectories). Volumes are raw files: created with O_EXCL, sized with
 * ftruncate (sparse) and allocated with fallocate; a failed create removes
 * what it made. Also hyve_storage_backend_for().
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <glib/gstdio.h>

#include "hyve_storage_priv.h"

#define DIR_POOL_DEFAULT_MODE 0711
#define DIR_VOL_DEFAULT_MODE 0600

static gboolean
dir_check_def(HyvePoolDef *def, GError **error)
{
    if (!def->target_path || !*def->target_path) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR, "%s",
                       "missing storage pool target path");
        return FALSE;
    }
    if (!g_path_is_absolute(def->target_path)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "storage pool target path '%s' must be absolute", def->target_path);
        return FALSE;
    }
    return TRUE;            /* the parser cleaned the path (hyve_storage_sanitize_path) */
}

static char *
dir_real_path(const char *path)
{
    char *real = realpath(path, NULL);
    char *ret;

    if (!real)
        return hyve_storage_sanitize_path(path);
    ret = g_strdup(real);
    free(real);
    return ret;
}

static gboolean
dir_same_source(const HyvePoolDef *a, const HyvePoolDef *b)
{
    g_autofree char *ra = NULL;
    g_autofree char *rb = NULL;

    if (!a->target_path || !b->target_path)
        return FALSE;
    ra = dir_real_path(a->target_path);
    rb = dir_real_path(b->target_path);
    return g_strcmp0(ra, rb) == 0;
}

static gboolean
dir_build(const HyvePoolDef *def, guint flags, GError **error)
{
    g_autofree char *parent = g_path_get_dirname(def->target_path);
    int mode = def->perms.mode, err;
    struct stat sb;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_POOL_BUILD_NO_OVERWRITE | HYVE_POOL_BUILD_OVERWRITE,
                             FALSE);
    if ((flags & HYVE_POOL_BUILD_NO_OVERWRITE) && (flags & HYVE_POOL_BUILD_OVERWRITE)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG, "%s",
                       "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                       "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive");
        return FALSE;
    }
    /* As libvirt's dir backend: missing parents are made 0755; an existing
     * directory is fine and keeps its mode unless <permissions> give one
     * (the default 0711 is for a directory made here); the overwrite flags
     * only matter for backends that format something. */
    if (g_mkdir_with_parents(parent, 0755) < 0) {
        hyve_storage_sys_error(error, errno, "cannot create path '%s'", parent);
        return FALSE;
    }
    if (mkdir(def->target_path, mode >= 0 ? mode : DIR_POOL_DEFAULT_MODE) == 0) {
        if (mode < 0)
            mode = DIR_POOL_DEFAULT_MODE;     /* made here: not the umask's mode */
    } else if (errno != EEXIST) {
        hyve_storage_sys_error(error, errno, "cannot create path '%s'", def->target_path);
        return FALSE;
    }
    err = stat(def->target_path, &sb) < 0 ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
    if (err) {
        hyve_storage_sys_error(error, err, "cannot create path '%s'", def->target_path);
        return FALSE;
    }
    if (mode >= 0 && chmod(def->target_path, mode) < 0) {
        hyve_storage_sys_error(error, errno, "cannot set mode of '%s'", def->target_path);
        return FALSE;
    }
    if ((def->perms.uid >= 0 || def->perms.gid >= 0) &&
        chown(def->target_path, def->perms.uid >= 0 ? (uid_t)def->perms.uid : (uid_t)-1,
              def->perms.gid >= 0 ? (gid_t)def->perms.gid : (gid_t)-1) < 0) {
        hyve_storage_sys_error(error, errno, "cannot chown '%s'", def->target_path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
dir_start(const HyvePoolDef *def, GError **error)
{
    DIR *d = opendir(def->target_path);

    if (!d) {
        hyve_storage_sys_error(error, errno, "cannot open directory '%s'", def->target_path);
        return FALSE;
    }
    closedir(d);
    return TRUE;
}

static gboolean
dir_stop(const HyvePoolDef *def, GError **error)
{
    (void)def;
    (void)error;
    return TRUE;
}

static gboolean
dir_delete_pool(const HyvePoolDef *def, guint flags, GError **error)
{
    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    if (rmdir(def->target_path) < 0) {
        int err = errno;

        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_FAILED,
                       "failed to remove pool '%s': %s", def->target_path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

/* Sizes (and format, from the file's first bytes) of an open volume. */
static void
dir_vol_fill(HyveVolDef *vol, int fd, const struct stat *sb)
{
    guint8 head[32];
    ssize_t n;

    vol->type = HYVE_VOL_TYPE_FILE;
    vol->capacity = sb->st_size;
    vol->allocation = (guint64)sb->st_blocks * 512;
    vol->physical = sb->st_size;
    vol->perms.mode = sb->st_mode & 07777;
    vol->perms.uid = sb->st_uid;
    vol->perms.gid = sb->st_gid;
    g_free(vol->format);
    vol->format = g_strdup("raw");
    if (fd < 0)
        return;
    n = pread(fd, head, sizeof(head), 0);
    if (n >= 32 && memcmp(head, "QFI\xfb", 4) == 0) {
        guint64 size = 0;

        /* qcow2: the virtual size is a big-endian 64-bit value at 24. */
        for (int i = 24; i < 32; i++)
            size = (size << 8) | head[i];
        g_free(vol->format);
        vol->format = g_strdup("qcow2");
        vol->capacity = size;
    }
}

static gboolean
dir_vol_stat(const char *path, HyveVolDef *vol, GError **error)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb) < 0) {
        hyve_storage_sys_error(error, errno, "cannot stat file '%s'", path);
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    dir_vol_fill(vol, fd, &sb);
    close(fd);
    return TRUE;
}

static GPtrArray *
dir_refresh(HyvePoolDef *def, GError **error)
{
    g_autoptr(GPtrArray) vols = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_vol_def_free);
    struct statvfs vfs;
    struct dirent *ent;
    DIR *d = opendir(def->target_path);

    if (!d) {
        hyve_storage_sys_error(error, errno, "cannot open directory '%s'", def->target_path);
        return NULL;
    }
    while ((errno = 0, ent = readdir(d))) {
        struct stat sb;
        int fd;

        if (ent->d_name[0] == '.')
            continue;
        /* Symlinks to files count, as in libvirt; dangling ones do not. */
        fd = openat(dirfd(d), ent->d_name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            close(fd);
            continue;
        }
        HyveVolDef *vol = g_new0(HyveVolDef, 1);
        vol->name = g_strdup(ent->d_name);
        vol->target_path = g_build_filename(def->target_path, ent->d_name, NULL);
        vol->key = g_strdup(vol->target_path);
        dir_vol_fill(vol, fd, &sb);
        close(fd);
        g_ptr_array_add(vols, vol);
    }
    closedir(d);

    if (statvfs(def->target_path, &vfs) < 0) {
        hyve_storage_sys_error(error, errno, "cannot statvfs path '%s'", def->target_path);
        return NULL;
    }
    def->capacity = (guint64)vfs.f_blocks * vfs.f_frsize;
    def->available = (guint64)vfs.f_bavail * vfs.f_frsize;
    def->allocation = (guint64)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    return g_steal_pointer(&vols);
}

static gboolean
dir_vol_prepare(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    if (!vol->name || !*vol->name || strchr(vol->name, '/')) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "volume name '%s' cannot contain '/'", vol->name ? vol->name : "");
        return FALSE;
    }
    if (vol->name[0] == '.') {
        /* Hidden files are not volumes of a dir pool (never listed). */
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG,
                       "volume name '%s' cannot start with '.'", vol->name);
        return FALSE;
    }
    g_free(vol->target_path);
    g_free(vol->key);
    vol->target_path = g_build_filename(pool->target_path, vol->name, NULL);
    vol->key = g_strdup(vol->target_path);
    vol->type = HYVE_VOL_TYPE_FILE;
    return TRUE;
}

static gboolean
dir_size_ok(guint64 size, const char *path, GError **error)
{
    if (size > G_MAXINT64) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot set size of file '%s' to %" G_GUINT64_FORMAT " bytes: %s",
                       path, size, g_strerror(EFBIG));
        return FALSE;
    }
    return TRUE;
}

static gboolean
dir_vol_create(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    int mode = vol->perms.mode >= 0 ? vol->perms.mode : DIR_VOL_DEFAULT_MODE;
    guint64 alloc = MIN(vol->allocation, vol->capacity);
    struct stat sb;
    int fd, err;

    (void)pool;
    if (!dir_size_ok(vol->capacity, vol->target_path, error))
        return FALSE;
    fd = open(vol->target_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        hyve_storage_sys_error(error, errno, "cannot create volume file '%s'", vol->target_path);
        return FALSE;
    }
    if (fchmod(fd, mode) < 0) {
        hyve_storage_sys_error(error, errno, "cannot set mode of '%s'", vol->target_path);
        goto fail;
    }
    if ((vol->perms.uid >= 0 || vol->perms.gid >= 0) &&
        fchown(fd, vol->perms.uid >= 0 ? (uid_t)vol->perms.uid : (uid_t)-1,
               vol->perms.gid >= 0 ? (gid_t)vol->perms.gid : (gid_t)-1) < 0) {
        hyve_storage_sys_error(error, errno, "cannot chown '%s'", vol->target_path);
        goto fail;
    }
    if (ftruncate(fd, (off_t)vol->capacity) < 0) {
        err = errno;
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot set size of file '%s' to %" G_GUINT64_FORMAT " bytes: %s",
                       vol->target_path, vol->capacity, g_strerror(err));
        goto fail;
    }
    if (hyve_storage_fd_allocate(fd, 0, alloc) < 0) {
        err = errno;
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot allocate %" G_GUINT64_FORMAT " bytes in file '%s': %s",
                       alloc, vol->target_path, g_strerror(err));
        goto fail;
    }
    if (fstat(fd, &sb) < 0) {
        hyve_storage_sys_error(error, errno, "cannot stat file '%s'", vol->target_path);
        goto fail;
    }
    dir_vol_fill(vol, -1, &sb);
    close(fd);
    return TRUE;

fail:
    close(fd);
    unlink(vol->target_path);
    return FALSE;
}

static gboolean
dir_vol_delete(const HyvePoolDef *pool, const HyveVolDef *vol, guint flags, GError **error)
{
    (void)pool;
    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    if (unlink(vol->target_path) < 0 && errno != ENOENT) {
        hyve_storage_sys_error(error, errno, "cannot unlink file '%s'", vol->target_path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
dir_vol_resize(const HyvePoolDef *pool, HyveVolDef *vol, guint64 capacity, guint flags,
               GError **error)
{
    struct stat sb;
    int fd, err;

    (void)pool;
    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_VOL_RESIZE_ALLOCATE | HYVE_VOL_RESIZE_SHRINK |
                             HYVE_VOL_RESIZE_DELTA, FALSE);
    if (!dir_size_ok(capacity, vol->target_path, error))
        return FALSE;
    fd = hyve_storage_open_vol(vol->target_path, O_RDWR, error);
    if (fd < 0)
        return FALSE;
    if (fstat(fd, &sb) < 0) {
        hyve_storage_sys_error(error, errno, "cannot stat file '%s'", vol->target_path);
        close(fd);
        return FALSE;
    }
    if ((flags & HYVE_VOL_RESIZE_ALLOCATE) && capacity > (guint64)sb.st_size &&
        hyve_storage_fd_allocate(fd, sb.st_size, capacity - sb.st_size) < 0) {
        err = errno;
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot allocate %" G_GUINT64_FORMAT " bytes in file '%s': %s",
                       capacity - (guint64)sb.st_size, vol->target_path, g_strerror(err));
        if (ftruncate(fd, sb.st_size) < 0)
            g_warning("cannot restore the size of '%s': %s", vol->target_path,
                      g_strerror(errno));
        close(fd);
        return FALSE;
    }
    if (ftruncate(fd, (off_t)capacity) < 0) {
        err = errno;
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot resize file '%s' to %" G_GUINT64_FORMAT " bytes: %s",
                       vol->target_path, capacity, g_strerror(err));
        close(fd);
        return FALSE;
    }
    if (fstat(fd, &sb) == 0)
        dir_vol_fill(vol, fd, &sb);
    close(fd);
    return TRUE;
}

static gboolean
dir_vol_refresh(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    (void)pool;
    return dir_vol_stat(vol->target_path, vol, error);
}

const HyveStorageBackend hyve_storage_backend_dir = {
    .type = HYVE_POOL_TYPE_DIR,
    .check_def = dir_check_def,
    .same_source = dir_same_source,
    .build = dir_build,
    .start = dir_start,
    .stop = dir_stop,
    .delete_pool = dir_delete_pool,
    .refresh = dir_refresh,
    .vol_prepare = dir_vol_prepare,
    .vol_create = dir_vol_create,
    .vol_delete = dir_vol_delete,
    .vol_resize = dir_vol_resize,
    .vol_refresh = dir_vol_refresh,
};

const HyveStorageBackend *
hyve_storage_backend_for(HyvePoolType type)
{
    switch (type) {
    case HYVE_POOL_TYPE_DIR:
        return &hyve_storage_backend_dir;
    case HYVE_POOL_TYPE_LOGICAL:
        return &hyve_storage_backend_logical;
    default:
        return NULL;
    }
}
