/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_storage_def.h: storage pool and volume definitions, parsed from and
 * formatted to libvirt's XML (storagepool.rng, storagevol.rng).
 *
 * Parsing accepts every document libvirt's schema accepts for the elements
 * hyve models and refuses, with the exact problem, what hyve cannot do:
 *   - malformed XML / wrong root: XML_ERROR (27) from STORAGE
 *     ("(storage_source_specification):1: ..." style text is not needed:
 *     libxml2's message is enough);
 *   - a missing <name>: NO_NAME (21), as libvirt;
 *   - bad sizes (not a number, unknown unit, overflow of 64 bits):
 *     XML_ERROR "invalid capacity value" / "unknown suffix '%s'" /
 *     OVERFLOW "value too large: %s";
 *   - pool types other than dir/logical: CONFIG_UNSUPPORTED "storage pool
 *     type '%s' is not supported by hyve (supported: dir, logical)";
 *   - volume formats other than raw: CONFIG_UNSUPPORTED "storage volume
 *     format '%s' is not supported by hyve (supported: raw)";
 *   - <backingStore>, <encryption>: CONFIG_UNSUPPORTED naming them.
 * The VALIDATE flags of the API validate the text against the installed
 * RelaxNG schema first (XML_INVALID_SCHEMA 92 with libxml2's message).
 *
 * Formatting produces documents that pass virt-xml-validate.
 */
#pragma once

#include <glib.h>
#include "hyve_error.h"
#include "hyve_storage.h"

G_BEGIN_DECLS

/* libvirt virStoragePoolType order (names as in XML). */
typedef enum {
    HYVE_POOL_TYPE_DIR = 0,
    HYVE_POOL_TYPE_FS,
    HYVE_POOL_TYPE_NETFS,
    HYVE_POOL_TYPE_LOGICAL,
    HYVE_POOL_TYPE_DISK,
    HYVE_POOL_TYPE_ISCSI,
    HYVE_POOL_TYPE_ISCSI_DIRECT,
    HYVE_POOL_TYPE_SCSI,
    HYVE_POOL_TYPE_MPATH,
    HYVE_POOL_TYPE_RBD,
    HYVE_POOL_TYPE_SHEEPDOG,
    HYVE_POOL_TYPE_GLUSTER,
    HYVE_POOL_TYPE_ZFS,
    HYVE_POOL_TYPE_VSTORAGE,
    HYVE_POOL_TYPE_LAST
} HyvePoolType;

const char *hyve_pool_type_to_string(HyvePoolType type);
int hyve_pool_type_from_string(const char *s);       /* -1 unknown */

/* <permissions>: mode (-1 = unset), owner/group (-1 = unset), label ignored. */
typedef struct {
    int mode;
    gint64 uid;
    gint64 gid;
} HyveStoragePerms;

typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];   /* generated when absent */
    HyvePoolType type;            /* dir or logical once parsed */
    /* <source> (logical) */
    char *source_name;            /* volume group; defaults to the pool name */
    char **source_devices;        /* NULL-terminated PV paths (<device path=.../>), may be empty */
    char *source_format;          /* "lvm2" or NULL */
    /* <target> */
    char *target_path;            /* dir: the directory (required);
                                   * logical: /dev/<vg> (defaulted when absent) */
    HyveStoragePerms perms;
    /* live sizes, formatted in <capacity>/<allocation>/<available> (bytes) */
    guint64 capacity, allocation, available;
} HyvePoolDef;

void hyve_pool_def_free(HyvePoolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyvePoolDef, hyve_pool_def_free)
HyvePoolDef *hyve_pool_def_copy(const HyvePoolDef *def);

/* @schema_dir may be NULL when @validate is FALSE. */
HyvePoolDef *hyve_pool_def_parse(const char *xml, gboolean validate, const char *schema_dir,
                                 GError **error);
/* Always includes <uuid>, sizes, <target>; <source> as parsed. */
char *hyve_pool_def_format(const HyvePoolDef *def);

/* libvirt virStorageVolType. */
typedef enum {
    HYVE_VOL_TYPE_FILE = 0,
    HYVE_VOL_TYPE_BLOCK = 1,
    HYVE_VOL_TYPE_DIR = 2,
} HyveVolType;

typedef struct {
    char *name;
    char *key;                    /* set by the backend: the path */
    HyveVolType type;             /* from <volume type='...'>, else by backend */
    guint64 capacity;             /* bytes */
    guint64 allocation;           /* bytes */
    gboolean has_allocation;      /* <allocation> present in the input */
    guint64 physical;             /* bytes; backends fill it */
    char *target_path;            /* set by the backend */
    char *format;                 /* "raw" when absent; only raw accepted on create.
                                   * Backends may set other names when they find a
                                   * file of another format in a pool (reported,
                                   * never created) */
    HyveStoragePerms perms;
} HyveVolDef;

void hyve_vol_def_free(HyveVolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveVolDef, hyve_vol_def_free)
HyveVolDef *hyve_vol_def_copy(const HyveVolDef *def);

/* Parses a volume for creation in a pool of @pool_type: <capacity> required
 * (XML_ERROR "missing capacity element"), names with '/' refused
 * (XML_ERROR "volume name '%s' cannot contain '/'"), format checked against
 * what the pool type allows (dir: raw; logical: none/raw). */
HyveVolDef *hyve_vol_def_parse(const char *xml, HyvePoolType pool_type, gboolean validate,
                               const char *schema_dir, GError **error);
/* <volume type='file|block'> with name, key, capacity, allocation,
 * physical, <target><path>, <format type='raw'/> (dir pools), permissions. */
char *hyve_vol_def_format(const HyveVolDef *def, HyvePoolType pool_type);

/* "1073741824" with @unit "bytes"/"b"/"KiB"/"K"/"KB"/"MiB"/"M"/"MB"/.../"EiB"
 * (libvirt's scaled integers; NULL unit = bytes). */
gboolean hyve_storage_parse_size(const char *value, const char *unit, guint64 *out,
                                 GError **error);

G_END_DECLS
