/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage.h: the storage driver's public API (libvirt's virStoragePool*
 * and virStorageVol*), as the daemon's RPC handlers and the domain side see it.
 *
 * One HyveStorage per HyveDriver (hyve_driver_get_storage). Pools are
 * reference-counted objects (HyvePoolObj, g_autoptr works); volumes are
 * named by (pool, volume name) and handed out as HyveVolIdent snapshots,
 * as on the wire (remote_nonnull_storage_vol {pool, name, key}).
 *
 * Everything is thread-safe. Failures set a GError built with
 * hyve_error_set() (which prefixes the code's libvirt text, e.g.
 * "Storage pool not found: "; the texts below are the whole message the
 * client prints): domain HYVE_FROM_STORAGE, libvirt's codes and messages
 * (NO_STORAGE_POOL 49 "Storage pool not found: no storage pool with matching
 * name '%s'" / "... matching uuid '%s'", NO_STORAGE_VOL 50 "Storage volume
 * not found: no storage vol with matching name '%s'" / "... key '%s'" /
 * "... path '%s'", OPERATION_INVALID 55 "storage pool '%s' is not active",
 * "storage pool '%s' is already active", STORAGE_POOL_BUILT...).
 * Unsupported flag bits: INVALID_ARG "unsupported flags (0x%x) in function %s".
 *
 * Files:
 *   <config_dir>/storage/NAME.xml             persistent pool definitions
 *   <config_dir>/storage/autostart/NAME.xml   autostart symlinks
 *   <state_dir>/storage/NAME.xml              live definition of an active pool
 *                                             (transient ones too): a restarted
 *                                             daemon keeps them active
 * All written atomically (temp file, fsync, rename).
 */
#pragma once

#include <glib.h>
#include "hyve_error.h"

G_BEGIN_DECLS

#ifndef HYVE_UUID_LEN
#define HYVE_UUID_LEN 16
#endif

typedef struct _HyveStorage HyveStorage;
typedef struct _HyvePoolObj HyvePoolObj;

/* ---- configuration ----------------------------------------------------- */

typedef struct {
    gboolean privileged;
    const char *config_dir;       /* the driver's config dir; pools go in <it>/storage */
    const char *state_dir;        /* the driver's state dir; live pools in <it>/storage */
    const char *schema_dir;       /* libvirt RelaxNG schemas (storagepool.rng, storagevol.rng) */
    const char *default_pool_path;/* target of the 'default' dir pool made on first start */
} HyveStorageConfig;

/* ---- events (libvirt virStoragePoolEventID / virStoragePoolEventLifecycleType) */

typedef enum {
    HYVE_POOL_EVENT_ID_LIFECYCLE = 0,
    HYVE_POOL_EVENT_ID_REFRESH = 1,
    HYVE_POOL_EVENT_ID_LAST
} HyvePoolEventId;

typedef enum {
    HYVE_POOL_EVENT_DEFINED = 0,
    HYVE_POOL_EVENT_UNDEFINED = 1,
    HYVE_POOL_EVENT_STARTED = 2,
    HYVE_POOL_EVENT_STOPPED = 3,
    HYVE_POOL_EVENT_CREATED = 4,  /* built (pool-build) */
    HYVE_POOL_EVENT_DELETED = 5,  /* pool-delete */
} HyvePoolLifecycleEvent;

typedef struct {
    HyvePoolEventId id;
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
    int event;                    /* LIFECYCLE: HyvePoolLifecycleEvent */
    int detail;                   /* always 0 (libvirt has none) */
} HyvePoolEvent;

/* Same contract as HyveDomainEventSink: no storage lock held, one call at a
 * time, in state-change order; must not call back into state changes. */
typedef void (*HyvePoolEventSink)(const HyvePoolEvent *event, gpointer user_data);

/* ---- lifetime (called by hyve_driver.c) --------------------------------- */

/* Who uses a path: returns the name of a RUNNING domain whose disk is @path
 * (g_free), or NULL. Installed by the domain side. */
typedef char *(*HyveVolUserFunc)(const char *path, gpointer user_data);

/* Makes <config_dir>/storage and <state_dir>/storage, loads every pool
 * definition (a bad file is logged and skipped, never deleted), keeps pools
 * whose state file exists active (refreshing them), and on the very first
 * start (no <config_dir>/storage yet) defines, builds, starts and
 * autostarts the 'default' dir pool at default_pool_path. Autostart pools
 * that are inactive are started (failures logged). */
HyveStorage *hyve_storage_new(const HyveStorageConfig *cfg, GError **error);
void hyve_storage_free(HyveStorage *st);
void hyve_storage_set_event_sink(HyveStorage *st, HyvePoolEventSink sink, gpointer user_data);
void hyve_storage_set_vol_user_func(HyveStorage *st, HyveVolUserFunc func, gpointer user_data);

/* ---- pools ------------------------------------------------------------ */

HyvePoolObj *hyve_pool_obj_ref(HyvePoolObj *pool);
void hyve_pool_obj_unref(HyvePoolObj *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyvePoolObj, hyve_pool_obj_unref)

typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
} HyvePoolIdent;
void hyve_pool_ident_clear(HyvePoolIdent *ident);
void hyve_pool_obj_get_ident(HyvePoolObj *pool, HyvePoolIdent *ident);

/* libvirt VIR_CONNECT_LIST_STORAGE_POOLS_* (INACTIVE 1, ACTIVE 2, PERSISTENT 4,
 * TRANSIENT 8, AUTOSTART 16, NO_AUTOSTART 32, type bits DIR 64 ... LOGICAL 512
 * ... ISCSI_DIRECT 524288); 0 = all. GPtrArray of HyvePoolObj references
 * (free func set), sorted by name. */
GPtrArray *hyve_storage_list_pools(HyveStorage *st, guint flags, GError **error);
int hyve_storage_num_pools(HyveStorage *st, gboolean active);

HyvePoolObj *hyve_storage_pool_lookup_by_name(HyveStorage *st, const char *name, GError **error);
HyvePoolObj *hyve_storage_pool_lookup_by_uuid(HyveStorage *st, const guint8 uuid[HYVE_UUID_LEN],
                                              GError **error);
/* The pool holding @path as its target directory (NO_STORAGE_POOL
 * "Storage pool not found: no storage pool with matching target path '%s'"). */
HyvePoolObj *hyve_storage_pool_lookup_by_target_path(HyveStorage *st, const char *path,
                                                     GError **error);

/* virStoragePoolDefineXML: flags VALIDATE 1 (against storagepool.rng; the
 * definition is always checked for hyve's own rules). Unsupported types in
 * valid XML: CONFIG_UNSUPPORTED "storage pool type '%s' is not supported by
 * hyve (supported: dir, logical)". Same name with another UUID, or same
 * UUID with another name: STORAGE_POOL... as libvirt (OPERATION_FAILED
 * "pool '%s' is already defined with uuid %s" / "pool '%s' already exists
 * with uuid %s"); two pools may not share a target path or VG
 * (OPERATION_FAILED "Storage source conflict with pool: '%s'"). Redefining
 * an existing pool replaces its inactive definition (active pools keep the
 * live one until they stop). DEFINED event. New reference. */
#define HYVE_POOL_DEFINE_VALIDATE (1u << 0)
HyvePoolObj *hyve_storage_pool_define_xml(HyveStorage *st, const char *xml, guint flags,
                                          GError **error);
/* virStoragePoolCreateXML: a transient pool, started (flags: BUILD 1,
 * BUILD_OVERWRITE 2, BUILD_NO_OVERWRITE 4 = libvirt's
 * VIR_STORAGE_POOL_CREATE_WITH_BUILD*). STARTED event. */
#define HYVE_POOL_CREATE_WITH_BUILD              (1u << 0)
#define HYVE_POOL_CREATE_WITH_BUILD_OVERWRITE    (1u << 1)
#define HYVE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE (1u << 2)
HyvePoolObj *hyve_storage_pool_create_xml(HyveStorage *st, const char *xml, guint flags,
                                          GError **error);
/* virStoragePoolCreate (start); same flags as create_xml. STARTED. */
gboolean hyve_storage_pool_start(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error);
/* virStoragePoolBuild: flags NEW 0, REPAIR 1, RESIZE 2 (both: NO_SUPPORT),
 * NO_OVERWRITE 4, OVERWRITE 8 (exclusive: INVALID_ARG). Pool must be
 * inactive. dir: mkdir -p + permissions; logical: pvcreate+vgcreate on the
 * source devices (NO_OVERWRITE refuses a device that holds any signature,
 * OVERWRITE wipes it). CREATED event. */
#define HYVE_POOL_BUILD_REPAIR       (1u << 0)
#define HYVE_POOL_BUILD_RESIZE       (1u << 1)
#define HYVE_POOL_BUILD_NO_OVERWRITE (1u << 2)
#define HYVE_POOL_BUILD_OVERWRITE    (1u << 3)
gboolean hyve_storage_pool_build(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error);
/* virStoragePoolDestroy: stops it (OPERATION_INVALID "pool '%s' has
 * asynchronous jobs running." while a volume is being built or transferred).
 * STOPPED; a transient pool then vanishes (no UNDEFINED event). */
gboolean hyve_storage_pool_destroy(HyveStorage *st, HyvePoolObj *pool, GError **error);
/* virStoragePoolDelete: inactive pool only; dir: rmdir (must be empty:
 * OPERATION_FAILED with the errno text); logical: vgremove+pvremove.
 * flags NORMAL 0, ZEROED 1 (NO_SUPPORT). DELETED event. */
gboolean hyve_storage_pool_delete(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error);
/* virStoragePoolUndefine: an active pool is refused as libvirt does
 * (OPERATION_INVALID "storage pool '%s' is still active"); transient:
 * OPERATION_INVALID "storage pool '%s' is not persistent". UNDEFINED. */
gboolean hyve_storage_pool_undefine(HyveStorage *st, HyvePoolObj *pool, GError **error);
/* virStoragePoolRefresh (flags 0): rescans volumes and sizes. REFRESH event. */
gboolean hyve_storage_pool_refresh(HyveStorage *st, HyvePoolObj *pool, guint flags, GError **error);

typedef struct {
    int state;                    /* libvirt virStoragePoolState: 0 INACTIVE, 2 RUNNING */
    guint64 capacity, allocation, available;   /* bytes; 0 when inactive */
} HyvePoolInfo;
void hyve_pool_obj_get_info(HyvePoolObj *pool, HyvePoolInfo *info);
/* flags: VIR_STORAGE_XML_INACTIVE 1 (the persistent/new definition). */
char *hyve_pool_obj_get_xml(HyvePoolObj *pool, guint flags, GError **error);
gboolean hyve_pool_obj_is_active(HyvePoolObj *pool);
gboolean hyve_pool_obj_is_persistent(HyvePoolObj *pool);
gboolean hyve_pool_obj_get_autostart(HyvePoolObj *pool);
/* Transient: OPERATION_INVALID "cannot set autostart for transient pool". */
gboolean hyve_storage_pool_set_autostart(HyveStorage *st, HyvePoolObj *pool, gboolean autostart,
                                         GError **error);

/* ---- volumes ---------------------------------------------------------- */

typedef struct {
    char *pool;                   /* pool name */
    char *name;
    char *key;                    /* the volume's path (dir and logical alike) */
} HyveVolIdent;
void hyve_vol_ident_clear(HyveVolIdent *ident);
void hyve_vol_ident_free(HyveVolIdent *ident);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveVolIdent, hyve_vol_ident_free)

/* Every function below that takes (pool, name) fails with OPERATION_INVALID
 * "storage pool '%s' is not active" on an inactive pool and NO_STORAGE_VOL
 * when @name is not in it. */

/* Array of HyveVolIdent* (free func set), sorted by name. flags 0. */
GPtrArray *hyve_storage_pool_list_volumes(HyveStorage *st, HyvePoolObj *pool, guint flags,
                                          GError **error);
int hyve_storage_pool_num_volumes(HyveStorage *st, HyvePoolObj *pool, GError **error);

gboolean hyve_storage_vol_lookup_by_name(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                         HyveVolIdent *out, GError **error);
/* Over every active pool. */
gboolean hyve_storage_vol_lookup_by_key(HyveStorage *st, const char *key, HyveVolIdent *out,
                                        GError **error);
gboolean hyve_storage_vol_lookup_by_path(HyveStorage *st, const char *path, HyveVolIdent *out,
                                         GError **error);

/* virStorageVolCreateXML: flags PREALLOC_METADATA 1 (NO_SUPPORT for raw: as
 * libvirt, INVALID_ARG... "metadata preallocation is not supported for raw
 * volumes"), REFLINK 2 (NO_SUPPORT), VALIDATE 4. Raw only: any other
 * <format> CONFIG_UNSUPPORTED "storage volume format '%s' is not supported
 * by hyve (supported: raw)". capacity required; allocation 0 = sparse,
 * otherwise the first <allocation> bytes really allocated (fallocate;
 * allocation > capacity is clamped as libvirt). Name taken:
 * STORAGE_VOL_EXIST (90) "storage volume '%s' exists already". Not enough
 * space: the backend's error (e.g. ENOSPC from fallocate) and nothing is
 * left behind. A volume being built is listed but refuses other operations
 * until done ("volume '%s' is still being allocated."). */
#define HYVE_VOL_CREATE_PREALLOC_METADATA (1u << 0)
#define HYVE_VOL_CREATE_REFLINK           (1u << 1)
#define HYVE_VOL_CREATE_VALIDATE          (1u << 2)
gboolean hyve_storage_vol_create_xml(HyveStorage *st, HyvePoolObj *pool, const char *xml,
                                     guint flags, HyveVolIdent *out, GError **error);
/* virStorageVolCreateXMLFrom: clone of (@src_pool, @src_name), which may be
 * in another pool; copies data, keeping holes (sparse-aware: SEEK_DATA/
 * SEEK_HOLE), up to the new volume's capacity (larger capacity: the rest is
 * a hole). */
gboolean hyve_storage_vol_create_xml_from(HyveStorage *st, HyvePoolObj *pool, const char *xml,
                                          HyvePoolObj *src_pool, const char *src_name,
                                          guint flags, HyveVolIdent *out, GError **error);
/* virStorageVolDelete: flags NORMAL 0, ZEROED 1 (NO_SUPPORT), WITH_SNAPSHOTS 2
 * (NO_SUPPORT). A volume used by a running domain: OPERATION_INVALID
 * "storage volume '%s' is in use by domain '%s'". */
gboolean hyve_storage_vol_delete(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                 guint flags, GError **error);
/* virStorageVolWipe(Pattern): algorithm 0 ZERO (others: NO_SUPPORT "wiping
 * algorithm %d is not supported"), flags 0. Zeroes the whole capacity and
 * keeps a sparse file sparse (punches holes instead of writing zeros). */
gboolean hyve_storage_vol_wipe(HyveStorage *st, HyvePoolObj *pool, const char *name,
                               guint algorithm, guint flags, GError **error);
/* virStorageVolResize: flags ALLOCATE 1, DELTA 2, SHRINK 4. Shrinking without
 * SHRINK: INVALID_ARG "Can't shrink capacity below current capacity unless
 * shrink flag explicitly specified"; with it, refused while a running domain
 * uses the volume (as delete). Growing past the pool's free space with
 * ALLOCATE: OPERATION_FAILED "Not enough space left in storage pool" (libvirt's
 * code). A file is never shrunk below its allocated bytes: INVALID_ARG "can't
 * shrink capacity below existing allocation" (checked first, as libvirt). */
#define HYVE_VOL_RESIZE_ALLOCATE (1u << 0)
#define HYVE_VOL_RESIZE_DELTA    (1u << 1)
#define HYVE_VOL_RESIZE_SHRINK   (1u << 2)
gboolean hyve_storage_vol_resize(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                 guint64 capacity, guint flags, GError **error);

typedef struct {
    int type;                     /* libvirt virStorageVolType: 0 FILE, 1 BLOCK */
    guint64 capacity, allocation, physical;  /* bytes */
} HyveVolInfo;
/* flags: VIR_STORAGE_VOL_GET_PHYSICAL 1 (allocation := physical size). */
gboolean hyve_storage_vol_get_info(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                   guint flags, HyveVolInfo *info, GError **error);
/* flags 0 (libvirt has none for volumes). Validates against storagevol.rng. */
char *hyve_storage_vol_get_xml(HyveStorage *st, HyvePoolObj *pool, const char *name,
                               guint flags, GError **error);
char *hyve_storage_vol_get_path(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                GError **error);

/* ---- upload / download (hyve_storage_transfer.c) ------------------------ *
 *
 * Starts a transfer thread for virStorageVolUpload/Download and returns the
 * daemon's end of a socketpair (SOCK_STREAM, CLOEXEC) carrying the framed
 * protocol of hyve_stream_frame.h; the thread owns the other end and the
 * volume's file. @offset/@length in bytes. Upload: length 0 = no limit; a
 * file volume may grow past its capacity (as libvirt), a block device
 * volume refuses data past its end (INVALID_ARG). Download: length 0 = to
 * the end; a length past the end stops at the end; an offset past the end
 * is INVALID_ARG. flags: SPARSE_STREAM 1
 * (VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM / _DOWNLOAD_SPARSE_STREAM).
 * While the transfer runs the pool counts an asynchronous job (no destroy)
 * and the volume refuses delete/resize/wipe and a second writer
 * (OPERATION_INVALID "volume '%s' is still in use."). An upload that
 * finished (FINISH frame) refreshes the pool (REFRESH event). */
#define HYVE_VOL_TRANSFER_SPARSE (1u << 0)
int hyve_storage_vol_upload(HyveStorage *st, HyvePoolObj *pool, const char *name,
                            guint64 offset, guint64 length, guint flags, GError **error);
int hyve_storage_vol_download(HyveStorage *st, HyvePoolObj *pool, const char *name,
                              guint64 offset, guint64 length, guint flags, GError **error);

/* ---- for the domain side ------------------------------------------------ */

/* <disk type='volume'><source pool='P' volume='V'/>: the volume's path.
 * NO_STORAGE_POOL / NO_STORAGE_VOL as above; inactive pool:
 * OPERATION_INVALID "storage pool '%s' containing volume '%s' is not active". */
char *hyve_storage_resolve_volume(HyveStorage *st, const char *pool, const char *volume,
                                  GError **error);

G_END_DECLS
