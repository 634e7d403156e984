/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_backend_logical.c: LVM volume groups as pools, logical
 * volumes as (always fully allocated) block volumes at /dev/VG/NAME.
 *
 * Everything goes through the LVM tools, run by hyve_lvm_run
 * (hyve_storage_lvm.c, with the vgs/lvs output parsers) with an argv (never
 * a shell), LC_ALL=C, stdin /dev/null; a failing command's stderr ends up
 * in the error, as libvirt's virCommand reports it. Without udev (no
 * /run/udev/control: containers, the lab) the tools run with
 * DM_DISABLE_UDEV=1 and --config 'activation{udev_sync=0 udev_rules=0}',
 * so LVM makes the device nodes itself and never waits for udev.
 */
#include "hyve-config.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "hyve_storage_priv.h"

#define LVS_FIELDS "lv_name,lv_size,lv_attr"

#define RUN(error, ...) \
    hyve_lvm_run((const char *const[]){ __VA_ARGS__, NULL }, NULL, NULL, NULL, error)

/* ---- the backend --------------------------------------------------------- */

static gboolean
logical_check_def(HyvePoolDef *def, GError **error)
{
    if (!def->source_name)
        def->source_name = g_strdup(def->name);
    if (!hyve_lvm_name_valid(def->source_name)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "invalid volume group name '%s'", def->source_name);
        return FALSE;
    }
    if (def->source_format && !g_str_equal(def->source_format, "lvm2")) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "storage pool format '%s' is not supported by hyve (supported: lvm2)",
                       def->source_format);
        return FALSE;
    }
    for (gsize i = 0; def->source_devices && def->source_devices[i]; i++) {
        if (def->source_devices[i][0] != '/') {
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "source device path '%s' is not absolute", def->source_devices[i]);
            return FALSE;
        }
    }
    g_free(def->target_path);
    def->target_path = g_strdup_printf("/dev/%s", def->source_name);
    return TRUE;
}

static gboolean
logical_same_source(const HyvePoolDef *a, const HyvePoolDef *b)
{
    if (g_strcmp0(a->source_name ? a->source_name : a->name,
                  b->source_name ? b->source_name : b->name) == 0)
        return TRUE;
    for (gsize i = 0; a->source_devices && a->source_devices[i]; i++) {
        if (b->source_devices &&
            g_strv_contains((const char *const *)b->source_devices, a->source_devices[i]))
            return TRUE;
    }
    return FALSE;
}

/* Without OVERWRITE a device must carry no signature (blkid -p: exit 2 =
 * nothing found), as libvirt's virStorageBackendDeviceIsEmpty. */
static gboolean
check_device_empty(const char *dev, GError **error)
{
    static const int ok[] = { 2, 0 };
    g_autofree char *out = NULL;
    int st = 0;

    /* the first of TYPE (a filesystem, a PV...) and PTTYPE (a partition table) */
    if (!hyve_lvm_run((const char *const[]){ "blkid", "-p", "-o", "value", "-s", "TYPE",
                                        "-s", "PTTYPE", dev, NULL }, ok, &out, &st, error))
        return FALSE;
    if (st == 2)
        return TRUE;
    out[strcspn(out, "\n")] = '\0';
    if (g_str_equal(out, "LVM2_member"))
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_STORAGE_POOL_BUILT,
                       "Device '%s' already formatted using '%s'", dev, out);
    else
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_OPERATION_INVALID,
                       "Format of device '%s' does not match the expected format '%s', "
                       "forced overwrite is necessary", dev, "LVM2_member");
    return FALSE;
}

static gboolean
logical_build(const HyvePoolDef *def, guint flags, GError **error)
{
    g_autoptr(GPtrArray) vgcreate = g_ptr_array_new();
    gsize done = 0, n = def->source_devices ? g_strv_length(def->source_devices) : 0;
    gboolean overwrite = (flags & HYVE_POOL_BUILD_OVERWRITE) != 0;

    HYVE_STORAGE_CHECK_FLAGS(flags, HYVE_POOL_BUILD_NO_OVERWRITE | HYVE_POOL_BUILD_OVERWRITE,
                             FALSE);
    if (n == 0) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_XML_ERROR,
                       "missing storage pool source device name");
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        if (!overwrite && !check_device_empty(def->source_devices[i], error))
            return FALSE;
    }
    g_ptr_array_add(vgcreate, "vgcreate");
    g_ptr_array_add(vgcreate, def->source_name);
    for (; done < n; done++) {
        const char *dev = def->source_devices[done];
        gboolean ok = overwrite ? RUN(error, "pvcreate", "-ff", "-y", dev)
                                : RUN(error, "pvcreate", dev);

        if (!ok)
            break;
        g_ptr_array_add(vgcreate, def->source_devices[done]);
    }
    g_ptr_array_add(vgcreate, NULL);
    if (done == n && hyve_lvm_run((const char *const *)vgcreate->pdata, NULL, NULL, NULL, error))
        return TRUE;
    /* undo the PVs made here; the first error stays */
    for (gsize i = 0; i < done; i++)
        RUN(NULL, "pvremove", "-y", def->source_devices[i]);
    return FALSE;
}

static gboolean
logical_start(const HyvePoolDef *def, GError **error)
{
    /* a missing VG: vgchange says so ("Volume group "x" not found") */
    return RUN(error, "vgchange", "-aly", def->source_name);
}

static gboolean
logical_stop(const HyvePoolDef *def, GError **error)
{
    return RUN(error, "vgchange", "-aln", def->source_name);
}

static gboolean
logical_delete_pool(const HyvePoolDef *def, guint flags, GError **error)
{
    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    if (!RUN(error, "vgremove", "-f", def->source_name))
        return FALSE;
    for (gsize i = 0; def->source_devices && def->source_devices[i]; i++) {
        if (!RUN(error, "pvremove", "-y", def->source_devices[i]))
            return FALSE;
    }
    return TRUE;
}

static char *
lvs_output(const char *target, GError **error)
{
    g_autofree char *out = NULL;

    if (!hyve_lvm_run((const char *const[]){ "lvs", "--noheadings", "--units", "b", "--nosuffix",
                                        "--separator", "#", "-o", LVS_FIELDS, target, NULL },
                 NULL, &out, NULL, error))
        return NULL;
    return g_steal_pointer(&out);
}

/* Permissions of the device node, as libvirt shows them. */
static void
stat_perms(HyveVolDef *vol)
{
    struct stat sb;

    if (vol->target_path && stat(vol->target_path, &sb) == 0) {
        vol->perms.mode = sb.st_mode & 0777;
        vol->perms.uid = sb.st_uid;
        vol->perms.gid = sb.st_gid;
    }
}

static GPtrArray *
logical_refresh(HyvePoolDef *def, GError **error)
{
    g_autofree char *vgs = NULL, *lvs = NULL;
    g_autoptr(GPtrArray) vols = NULL;
    guint64 size, avail;

    if (!hyve_lvm_run((const char *const[]){ "vgs", "--noheadings", "--units", "b", "--nosuffix",
                                        "--separator", "#", "-o", "vg_name,vg_size,vg_free",
                                        def->source_name, NULL },
                 NULL, &vgs, NULL, error) ||
        !hyve_lvm_parse_vgs(vgs, def->source_name, &size, &avail, error) ||
        !(lvs = lvs_output(def->source_name, error)) ||
        !(vols = hyve_lvm_parse_lvs(lvs, def->target_path, error)))
        return NULL;
    def->capacity = size;
    def->available = avail;
    def->allocation = size - avail;
    for (guint i = 0; i < vols->len; i++)
        stat_perms(vols->pdata[i]);
    return g_steal_pointer(&vols);
}

static gboolean
logical_vol_prepare(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    if (!hyve_lvm_name_valid(vol->name)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "invalid logical volume name '%s'", vol->name);
        return FALSE;
    }
    g_free(vol->target_path);
    g_free(vol->key);
    vol->target_path = g_build_filename(pool->target_path, vol->name, NULL);
    vol->key = g_strdup(vol->target_path);
    vol->type = HYVE_VOL_TYPE_BLOCK;
    return TRUE;
}

static gboolean
logical_vol_refresh(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    g_autofree char *lv = g_strdup_printf("%s/%s", pool->source_name, vol->name);
    g_autofree char *out = lvs_output(lv, error);
    g_autoptr(GPtrArray) vols = out ? hyve_lvm_parse_lvs(out, pool->target_path, error) : NULL;
    HyveVolDef *found;

    if (!vols)
        return FALSE;
    if (vols->len != 1 || !g_str_equal((found = vols->pdata[0])->name, vol->name)) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INTERNAL_ERROR,
                       "lvs did not report logical volume '%s'", lv);
        return FALSE;
    }
    vol->capacity = vol->allocation = vol->physical = found->capacity;
    vol->type = HYVE_VOL_TYPE_BLOCK;
    stat_perms(vol);
    return TRUE;
}

/* "<bytes>b" for -L: LVM wants whole 512-byte sectors (and then rounds up
 * to its extent size itself). */
static char *
lvm_size(guint64 bytes)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT "b", (bytes + 511) / 512 * 512);
}

static gboolean
logical_vol_create(const HyvePoolDef *pool, HyveVolDef *vol, GError **error)
{
    g_autofree char *size = lvm_size(vol->capacity);
    g_autofree char *lv = g_strdup_printf("%s/%s", pool->source_name, vol->name);

    if (!RUN(error, "lvcreate", "--yes", "-n", vol->name, "-L", size, pool->source_name))
        return FALSE;
    if (logical_vol_refresh(pool, vol, error))
        return TRUE;
    RUN(NULL, "lvremove", "-f", lv);
    return FALSE;
}

static gboolean
logical_vol_delete(const HyvePoolDef *pool, const HyveVolDef *vol, guint flags, GError **error)
{
    g_autofree char *lv = g_strdup_printf("%s/%s", pool->source_name, vol->name);

    HYVE_STORAGE_CHECK_FLAGS(flags, 0, FALSE);
    return RUN(error, "lvremove", "-f", lv);
}

static gboolean
logical_vol_resize(const HyvePoolDef *pool, HyveVolDef *vol, guint64 capacity, guint flags,
                   GError **error)
{
    g_autofree char *lv = g_strdup_printf("%s/%s", pool->source_name, vol->name);
    g_autofree char *size = lvm_size(capacity);
    gboolean ok;

    if (capacity < vol->capacity)
        ok = RUN(error, "lvresize", "-f", "-L", size, lv);
    else
        ok = RUN(error, "lvresize", "-L", size, lv);
    return ok && logical_vol_refresh(pool, vol, error);
}

const HyveStorageBackend hyve_storage_backend_logical = {
    .type = HYVE_POOL_TYPE_LOGICAL,
    .check_def = logical_check_def,
    .same_source = logical_same_source,
    .build = logical_build,
    .start = logical_start,
    .stop = logical_stop,
    .delete_pool = logical_delete_pool,
    .refresh = logical_refresh,
    .vol_prepare = logical_vol_prepare,
    .vol_create = logical_vol_create,
    .vol_delete = logical_vol_delete,
    .vol_resize = logical_vol_resize,
    .vol_refresh = logical_vol_refresh,
};
