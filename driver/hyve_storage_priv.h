/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_priv.h: what driver/hyve_storage*.c share.
 *
 *   hyve_storage.c            HyveStorage: new/free, pool list, lookups, events
 *   hyve_storage_pool_obj.c   HyvePoolObj: refs, getters, checks, volume
 *                             refresh, stopped
 *   hyve_storage_files.c      config/state files, autostart links, start-up
 *                             loading, default pool, autostart
 *   hyve_storage_pool.c       pool define, create, start (+ shared helpers)
 *   hyve_storage_pool_ops.c   pool build, delete, destroy, undefine, refresh,
 *                             autostart
 *   hyve_storage_vol.c        volume lookups/info/XML/path, volume marks
 *                             (building / in use), vol acquire/release
 *   hyve_storage_vol_ops.c    volume create, clone, delete, wipe, resize
 *   hyve_storage_def.c        pool XML;  hyve_storage_voldef.c  volume XML
 *   hyve_storage_backend_dir.c, hyve_storage_backend_logical.c  backends
 *   hyve_storage_lvm.c        LVM tool runner, vgs/lvs parsers (logical backend)
 *   hyve_storage_io.c         sparse-aware copy and wipe of a path
 *   hyve_storage_transfer.c   upload/download API: start, track, stop threads
 *   hyve_storage_transfer_run.c  the thread bodies (hyve_stream_frame.h)
 *
 * Locking: st->lock (the pool list) before pool->lock; never the other way.
 * No lock is held while a backend runs or while data is copied: an
 * operation marks what it works on (pool->async_jobs, vol->building,
 * vol->in_use) under pool->lock, drops the lock, works, then retakes it to
 * publish the result and clear the mark. Pool destroy/undefine/delete and
 * volume delete/resize/wipe check those marks and refuse (OPERATION_INVALID).
 */
#pragma once

#include "hyve_storage.h"
#include "hyve_storage_def.h"

G_BEGIN_DECLS

/* Refuses flag bits outside @supported (libvirt's INVALID_ARG text) from
 * domain STORAGE; in a function with GError **error. */
#define HYVE_STORAGE_CHECK_FLAGS(flags, supported, ret) \
    do { \
        if ((flags) & ~(guint)(supported)) { \
            hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_INVALID_ARG, \
                           "unsupported flags (0x%x) in function %s", \
                           (flags) & ~(guint)(supported), __func__); \
            return ret; \
        } \
    } while (0)

/* ---- backends ---------------------------------------------------------- *
 * Called with no lock held, on private copies of the definitions. Every
 * function reports its own errors (domain STORAGE). Absent = NO_SUPPORT
 * reported by the caller. */
typedef struct {
    HyvePoolType type;
    /* Fills defaults the XML left out (logical: source_name = pool name,
     * target_path = /dev/<vg>) and checks backend rules (dir: target path
     * absolute; logical: source_format NULL or "lvm2"). At define time. */
    gboolean (*check_def)(HyvePoolDef *def, GError **error);
    /* Two defs naming the same storage (same directory, same VG). */
    gboolean (*same_source)(const HyvePoolDef *a, const HyvePoolDef *b);
    gboolean (*build)(const HyvePoolDef *def, guint flags, GError **error);
    gboolean (*start)(const HyvePoolDef *def, GError **error);
    gboolean (*stop)(const HyvePoolDef *def, GError **error);
    gboolean (*delete_pool)(const HyvePoolDef *def, guint flags, GError **error);
    /* Rescans: sets def->capacity/allocation/available and returns every
     * volume found (HyveVolDef*, free func set) with key, target_path,
     * type, capacity, allocation, physical, format filled in. */
    GPtrArray *(*refresh)(HyvePoolDef *def, GError **error);
    /* Sets vol->key, target_path and type for a new volume named vol->name. */
    gboolean (*vol_prepare)(const HyvePoolDef *pool, HyveVolDef *vol, GError **error);
    /* Creates it with vol->capacity, allocating vol->allocation bytes; on
     * failure nothing is left behind. Then re-reads sizes into @vol. */
    gboolean (*vol_create)(const HyvePoolDef *pool, HyveVolDef *vol, GError **error);
    gboolean (*vol_delete)(const HyvePoolDef *pool, const HyveVolDef *vol, guint flags,
                           GError **error);
    /* New capacity (already computed from DELTA, checked against SHRINK). */
    gboolean (*vol_resize)(const HyvePoolDef *pool, HyveVolDef *vol, guint64 capacity,
                           guint flags, GError **error);
    /* Re-reads capacity/allocation/physical. */
    gboolean (*vol_refresh)(const HyvePoolDef *pool, HyveVolDef *vol, GError **error);
} HyveStorageBackend;

extern const HyveStorageBackend hyve_storage_backend_dir;
extern const HyveStorageBackend hyve_storage_backend_logical;
/* NULL for types hyve does not support. */
const HyveStorageBackend *hyve_storage_backend_for(HyvePoolType type);

/* ---- objects ------------------------------------------------------------ */

typedef struct {
    HyveVolDef *def;
    guint building;               /* being created/cloned: listed, not usable */
    guint in_use;                 /* transfers, wipes in progress */
    gboolean deleting;            /* (F1b) building is set by a delete */
} HyveVolObj;

struct _HyvePoolObj {
    gint refs;                    /* atomic */
    HyveStorage *st;              /* borrowed; outlives every pool */
    GMutex lock;                  /* guards everything below */
    HyvePoolDef *def;             /* live definition when active, else the config */
    HyvePoolDef *new_def;         /* config redefined while active; becomes def at stop */
    const HyveStorageBackend *backend;
    gboolean active;
    gboolean persistent;
    gboolean autostart;
    gboolean removed;             /* no longer in the list */
    guint async_jobs;             /* volume builds, transfers, wipes running */
    GPtrArray *vols;              /* HyveVolObj* (free func set), sorted by name; empty when inactive */
};

struct _HyveStorage {
    char *config_dir;             /* <driver config>/storage */
    char *autostart_dir;          /* <config_dir>/autostart */
    char *state_dir;              /* <driver state>/storage */
    char *schema_dir;
    char *default_pool_path;
    gboolean privileged;

    GMutex lock;                  /* guards pools */
    GPtrArray *pools;             /* HyvePoolObj* references, sorted by name */

    GMutex event_lock;            /* guards sink, sink_data, pending */
    HyvePoolEventSink sink;
    gpointer sink_data;
    GQueue pending;               /* HyvePoolEvent* */
    GMutex flush_lock;

    HyveVolUserFunc vol_user;     /* set once before use */
    gpointer vol_user_data;
};

/* hyve_storage.c (events, list), hyve_storage_files.c (files),
 * hyve_storage_pool_obj.c (check, refresh, stopped) */
void hyve_storage_queue_event(HyveStorage *st, HyvePoolEventId id, const HyvePoolDef *def,
                              int event);
void hyve_storage_flush_events(HyveStorage *st);
/* Writes <state_dir>/NAME.xml (live def) atomically / removes it. */
gboolean hyve_storage_save_state(HyveStorage *st, const HyvePoolDef *def, GError **error);
void hyve_storage_remove_state(HyveStorage *st, const char *name);
/* Writes <config_dir>/NAME.xml atomically. */
gboolean hyve_storage_save_config(HyveStorage *st, const HyvePoolDef *def, GError **error);
/* With pool->lock held: NO_STORAGE_POOL if the pool was undefined meanwhile;
 * with @need_active also OPERATION_INVALID "storage pool '%s' is not active". */
gboolean hyve_pool_obj_check_locked(HyvePoolObj *pool, gboolean need_active, GError **error);
/* Runs the backend refresh and replaces pool->vols (keeping the marks of
 * volumes still present); call with pool->lock held (refresh is quick:
 * stat/readdir or one lvs). */
gboolean hyve_pool_obj_refresh_locked(HyvePoolObj *pool, GError **error);
/* Core internals shared by hyve_storage.c and hyve_storage_pool.c (added
 * by "core"): a new object (takes @def; one reference, not listed); with
 * st->lock held: finding (new reference or NULL), listing (takes a new
 * reference, keeps the list sorted), unlisting (sets pool->removed);
 * the config file and autostart link of @name. */
HyvePoolObj *hyve_pool_obj_new(HyveStorage *st, HyvePoolDef *def,
                               const HyveStorageBackend *backend);
HyvePoolObj *hyve_storage_find_name_locked(HyveStorage *st, const char *name);
HyvePoolObj *hyve_storage_find_uuid_locked(HyveStorage *st, const guint8 uuid[HYVE_UUID_LEN]);
void hyve_storage_add_locked(HyveStorage *st, HyvePoolObj *pool);
void hyve_storage_remove_locked(HyveStorage *st, HyvePoolObj *pool);
gboolean hyve_storage_delete_config(HyveStorage *st, const char *name, GError **error);
gboolean hyve_storage_set_autostart_link(HyveStorage *st, const char *name, gboolean on,
                                         GError **error);
/* With st->lock and pool->lock held: the pool stopped (or failed to start):
 * inactive, no volumes, sizes 0, the config becomes current again
 * (new_def), state file removed; a transient pool leaves the list. */
void hyve_pool_obj_stopped_locked(HyvePoolObj *pool);
/* SYSTEM_ERROR "<fmt>: <strerror(err)>" from domain STORAGE; evaluates to FALSE. */
#define hyve_storage_sys_error(error, err, ...) \
    hyve_error_set_errno((error), HYVE_FROM_STORAGE, (err), __VA_ARGS__)
/* hyve_storage_files.c: start-up (from hyve_storage_new): loads every pool
 * config, takes up pools active before a restart from their state files,
 * makes the default pool on the @first_start, starts autostart pools.
 * Failures are logged, files kept. */
void hyve_storage_load(HyveStorage *st, gboolean first_start);
/* hyve_storage_pool.c, shared with hyve_storage_pool_ops.c: the mutex that
 * serialises pool-level operations (held across each, backend included);
 * with pool->lock held, OPERATION_INVALID "storage pool '%s' is <what>"
 * when the pool is active (NO_STORAGE_POOL when undefined); a backend
 * build (NO_SUPPORT when the backend has none). */
extern GMutex hyve_storage_pool_ops;
gboolean hyve_pool_obj_check_inactive_locked(HyvePoolObj *pool, const char *what,
                                             GError **error);
gboolean hyve_storage_pool_run_build(const HyveStorageBackend *backend, const HyvePoolDef *def,
                                     guint flags, GError **error);
/* hyve_storage_transfer.c (called by hyve_storage_free): ends @st's running
 * transfers and waits for their threads. */
void hyve_storage_transfers_stop(HyveStorage *st);

/* hyve_storage_vol.c */
HyveVolObj *hyve_pool_obj_find_vol_locked(HyvePoolObj *pool, const char *name);
void hyve_vol_obj_free(HyveVolObj *vol);
typedef enum {
    HYVE_VOL_USE_READ,            /* download */
    HYVE_VOL_USE_WRITE,           /* upload, wipe */
} HyveVolUse;
/* Marks (pool, name) in use (vol->in_use++, pool->async_jobs++) after the
 * usual checks (pool active, volume exists and is not being built).
 * Uploading into a volume a running domain uses is allowed, as libvirt.
 * Returns its path and capacity. */
gboolean hyve_storage_vol_acquire(HyveStorage *st, HyvePoolObj *pool, const char *name,
                                  HyveVolUse use, char **path, guint64 *capacity,
                                  GError **error);
/* Undoes acquire; @refresh: re-read the volume's sizes and queue the pool's
 * REFRESH event (after an upload). */
void hyve_storage_vol_release(HyveStorage *st, HyvePoolObj *pool, const char *name,
                              gboolean refresh);
/* Name of a running domain using @path (through st->vol_user), or NULL. */
char *hyve_storage_path_user(HyveStorage *st, const char *path);
/* Shared by hyve_storage_vol.c and hyve_storage_vol_ops.c: fill @out
 * (pool name, volume name, key); CONFIG_UNSUPPORTED unless the format is
 * raw (@what: "cloning", ...); with pool->lock held, the active pool's
 * volume @name (NO_STORAGE_VOL); a private busy mark (in_use, async_jobs)
 * and its undo, which takes pool->lock and copies @fresh's sizes if given;
 * re-read a volume's sizes with no lock held (FALSE when it cannot). */
void hyve_vol_ident_set(HyveVolIdent *out, const HyvePoolDef *pool, const HyveVolDef *vol);
gboolean hyve_vol_check_raw(const HyveVolDef *def, const char *what, GError **error);
HyveVolObj *hyve_vol_get_locked(HyvePoolObj *pool, const char *name, GError **error);
void hyve_vol_mark_locked(HyvePoolObj *pool, HyveVolObj *vol);
void hyve_vol_unmark(HyvePoolObj *pool, const char *name, const HyveVolDef *fresh);
gboolean hyve_vol_refresh_copy(HyvePoolObj *pool, const char *name, HyveVolDef **vdef_out);
/* (F1b) With pool->lock held: OPERATION_INVALID when @vol is being built
 * ("volume '%s' is still being allocated."), being deleted ("volume '%s'
 * is being deleted.") or, with @need_idle, in use by a transfer or wipe
 * ("volume '%s' is still in use.", libvirt's text). */
gboolean hyve_vol_check_ready_locked(const HyveVolObj *vol, gboolean need_idle,
                                     GError **error);

/* hyve_storage_io.c: on paths (regular files or block devices). */
/* Copies @length bytes of @src to @dst from offset 0, skipping holes of
 * @src (SEEK_DATA/SEEK_HOLE; a block device source is read fully and runs
 * of zeros are not written when @dst was freshly created sparse). */
gboolean hyve_storage_copy_sparse(const char *src, const char *dst, guint64 length,
                                  GError **error);
/* Zeroes [0, length): a fully allocated file stays allocated (ZERO_RANGE
 * or zero writes), a sparse file gets holes punched (PUNCH_HOLE); block
 * devices BLKZEROOUT (or zero writes). */
gboolean hyve_storage_wipe_path(const char *path, guint64 length, GError **error);

/* Shared by hyve_storage_io.c and hyve_storage_transfer.c: zero a range
 * of an open file/block device (keeping files sparse); size and kind. */
gboolean hyve_storage_fd_zero(int fd, const char *path, guint64 off, guint64 len,
                              GError **error);
gboolean hyve_storage_fd_size(int fd, const char *path, gboolean *is_block, guint64 *size,
                              GError **error);
/* Opening a volume's path
 * (@oflags O_RDONLY/O_WRONLY/O_RDWR; CLOEXEC, NOCTTY added): O_NONBLOCK
 * while opening so a FIFO never blocks, then only a regular file or a
 * block device is kept (else OPERATION_INVALID naming the path), blocking
 * again; symlinks followed (as libvirt). -1 with *error set. Allocating
 * [off, off+len) of a file (fallocate, else written zeros): 0 or -1/errno. */
int hyve_storage_open_vol(const char *path, int oflags, GError **error);
int hyve_storage_fd_allocate(int fd, guint64 off, guint64 len);

/* hyve_storage_transfer_run.c: the thread bodies (exported for the unit test):
 * they run the protocol of hyve_stream_frame.h on @sock for the open @file
 * (@path for messages) and return TRUE when FINISH was handled (the data is
 * on disk). Upload: @length 0 = no limit. Download: @length bytes from
 * @offset. @settle (may be NULL) runs once when the work on the file is
 * over, before the last frame (DONE or ERROR) goes out, or when the daemon
 * is gone: the volume is released before the client hears the outcome. */
typedef void (*HyveTransferSettle)(gboolean finished, gpointer data);
gboolean hyve_storage_transfer_upload_run(int sock, int file, const char *path,
                                          guint64 offset, guint64 length, guint flags,
                                          HyveTransferSettle settle, gpointer data);
gboolean hyve_storage_transfer_download_run(int sock, int file, const char *path,
                                            guint64 offset, guint64 length, guint flags,
                                            HyveTransferSettle settle, gpointer data);

/* hyve_storage_lvm.c: runs @args (args[0]: an LVM tool or blkid, looked
 * up in PATH, /usr/sbin, /sbin). Exit status 0 or one in @ok_status
 * (0-terminated) is success; *out gets stdout, *status the exit status
 * (both optional). */
gboolean hyve_lvm_run(const char *const *args, const int *ok_status, char **out, int *status,
                      GError **error);
/* hyve_storage_lvm.c: pure parsers of `vgs`/`lvs` output
 * (--noheadings --units b --nosuffix --separator '#'), and LVM's name rule. */
gboolean hyve_lvm_parse_vgs(const char *out, const char *vg, guint64 *size, guint64 *free_bytes,
                            GError **error);
GPtrArray *hyve_lvm_parse_lvs(const char *out, const char *vg_dir, GError **error);
gboolean hyve_lvm_name_valid(const char *name);

/* hyve_storage_def.c: "//a//b/" -> "/a/b" (target paths are stored and
 * compared cleaned, as libvirt). */
char *hyve_storage_sanitize_path(const char *path);

G_END_DECLS
