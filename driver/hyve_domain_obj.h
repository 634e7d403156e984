/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_obj.h: domain objects, the domain list, and the on-disk
 * configuration. Internal to driver/.
 *
 * Lock order: HyveDomainList.lock, then HyveDomainObj.lock. Never take the
 * list lock while holding an object lock. Events are queued under the list
 * lock and delivered after both are dropped (hyve_driver_priv.h).
 */
#pragma once

#include <glib.h>
#include "hyve_driver.h"
#include "hyve_domain_def.h"

G_BEGIN_DECLS

struct _HyveDomainObj {
    gint refs;                  /* atomic */
    GMutex lock;                /* guards every field below marked [obj] */

    /* immutable after creation, read without a lock: */
    char *name;
    guint8 uuid[HYVE_UUID_LEN];

    HyveDomainDef *def;         /* [obj] current definition (live one while running);
                                 * replaced whole, never edited in place */
    HyveDomainDef *new_def;     /* [obj] persistent definition for the next start
                                 * while running (NULL otherwise) */
    int id;                     /* [obj] -1 while inactive */
    HyveDomainState state;      /* [obj] */
    int reason;                 /* [obj] libvirt state reason */
    gboolean persistent;        /* [obj] has a config file */
    gboolean autostart;         /* [obj] autostart link exists */
    gboolean removed;           /* [obj] undefined: no longer in the list */

    /* Running domains (hyve_process.h, hyve_driver_lifecycle.c): */
    struct _HyveDomainRun *run; /* [obj] the runner of an active domain, NULL otherwise */
    gboolean job_active;        /* [obj] an operation on the domain is in progress */
    GCond job_cond;             /* with obj->lock: signalled when job_active clears */
    HyveDomainDef *start_def;   /* [obj] while a start is under way (hyve_domain_run_start,
                                 * hyve_domain_restart): a copy of the definition being
                                 * started, set before its volume disks are resolved and
                                 * cleared once the domain runs (obj->run set) or the start
                                 * failed; the storage's vol-user check counts its disks as
                                 * used. NULL otherwise */
};

/* Takes ownership of @def. state SHUTOFF, id -1, one reference. */
HyveDomainObj *hyve_domain_obj_new(HyveDomainDef *def);
/* With obj->lock held: @def (taken) becomes the persistent definition,
 * new_def while the domain runs, def otherwise. */
void hyve_domain_obj_set_persistent_def_locked(HyveDomainObj *obj, HyveDomainDef *def);

typedef struct {
    GMutex lock;                /* guards both tables, next_id, and serializes
                                 * writes to the config directory */
    GHashTable *by_name;        /* [lock] name -> HyveDomainObj (one ref) */
    GHashTable *by_uuid;        /* [lock] uuid string -> HyveDomainObj (one ref) */
    int next_id;                /* [lock] next id for a started domain */
} HyveDomainList;

HyveDomainList *hyve_domain_list_new(void);
void hyve_domain_list_free(HyveDomainList *list);
/* *_locked: caller holds list->lock; they return a new reference or NULL. */
HyveDomainObj *hyve_domain_list_find_uuid_locked(HyveDomainList *list,
                                                 const guint8 uuid[HYVE_UUID_LEN]);
HyveDomainObj *hyve_domain_list_find_name_locked(HyveDomainList *list, const char *name);
void hyve_domain_list_add_locked(HyveDomainList *list, HyveDomainObj *obj);
void hyve_domain_list_remove_locked(HyveDomainList *list, HyveDomainObj *obj);
HyveDomainObj *hyve_domain_list_find_id(HyveDomainList *list, int id);
HyveDomainObj *hyve_domain_list_find_id_locked(HyveDomainList *list, int id);
/* Libvirt VIR_CONNECT_LIST_DOMAINS_* semantics; caller checked the bits. */
GPtrArray *hyve_domain_list_export(HyveDomainList *list, guint flags);
#define HYVE_LIST_DOMAINS_ALL_FLAGS 0xffffu

/* ---- hyve_domain_config.c ---------------------------------------------- */
gboolean hyve_file_write_atomic(const char *path, const char *data, GError **error);
/* Removes @path (ENOENT is no error): renamed to <path>.del at once, which
 * a background thread unlinks, so the caller does not wait for the blocks
 * to be freed (with "discard", the device). Returns 0 or an errno value. */
#define HYVE_FILE_TRASH_SUFFIX ".del"
int hyve_file_remove(const char *path);
/* For directory scans: TRUE when @entry of @dir is a temporary file of
 * hyve_file_write_atomic() (<file>.new) left by a daemon killed while
 * writing it, or a <file>.del that hyve_file_remove's thread had not
 * removed yet; it is removed (the <file> beside it, if any, is the last
 * complete version). */
gboolean hyve_file_remove_stale_temp(const char *dir, const char *entry);
/* What a config file's header comment names the object by (as libvirt's
 * virXMLPickShellSafeComment): @name when it is safe both in an XML
 * comment (no "--") and on a shell command line (letters, digits and
 * ._+:@,=/-, no leading '-'), else the UUID. Freed by the caller. */
char *hyve_config_comment_name(const char *name, const guint8 uuid[HYVE_UUID_LEN]);
char *hyve_domain_config_path(const char *config_dir, const char *name);
gboolean hyve_domain_config_save(const char *config_dir, const HyveDomainDef *def,
                                 GError **error);
/* Removes the config file and the autostart link. */
gboolean hyve_domain_config_delete(const char *config_dir, const char *name, GError **error);
gboolean hyve_domain_autostart_set(const char *config_dir, const char *name,
                                   gboolean autostart, GError **error);
gboolean hyve_domain_autostart_get(const char *config_dir, const char *name);
/* Loads every <config_dir>/<name>.xml into @list; broken files are
 * logged and skipped, never deleted. Returns how many were loaded. */
guint hyve_domain_config_load_all(const char *config_dir, const HyveDomainParseOptions *opts,
                                  HyveDomainList *list);

G_END_DECLS
