/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver.h: the hypervisor driver's public API, as the daemon's RPC
 * handlers see it. Everything here is thread-safe: handlers run on worker
 * threads and may call any function concurrently.
 *
 * Objects handed out (HyveDomainObj) are reference counted; every lookup
 * returns a new reference the caller drops with hyve_domain_obj_unref()
 * (g_autoptr(HyveDomainObj) works). Failures set a GError built with
 * hyve_error_set() (see hyve_error.h), carrying the libvirt error code
 * and domain clients expect.
 */
#pragma once

#include <glib.h>
#include "hyve_error.h"

G_BEGIN_DECLS

#define HYVE_UUID_LEN 16
#define HYVE_UUID_STRING_LEN 37

typedef struct _HyveDriver HyveDriver;
typedef struct _HyveDomainObj HyveDomainObj;

/* ---- configuration ---------------------------------------------------- */

typedef struct {
    gboolean privileged;      /* system (root) vs session daemon */
    char *config_dir;         /* persistent domain XML: <config_dir>/<name>.xml,
                               * autostart links in <config_dir>/autostart/ */
    char *state_dir;          /* run-time state (run dir)/bhyve */
    char *log_dir;            /* per-domain logs */
    char *cache_dir;
    char *schema_dir;         /* libvirt RelaxNG schemas */
    char *runner_path;        /* bhyve-runner binary (used from the domains issue on) */
    char *uri;                /* "bhyve:///system" or "bhyve:///session" */
} HyveDriverConfig;

void hyve_driver_config_clear(HyveDriverConfig *cfg);

/* ---- domain states (libvirt virDomainState / reasons) ------------------ */

typedef enum {
    HYVE_DOMAIN_STATE_NOSTATE = 0,
    HYVE_DOMAIN_STATE_RUNNING = 1,
    HYVE_DOMAIN_STATE_BLOCKED = 2,
    HYVE_DOMAIN_STATE_PAUSED = 3,
    HYVE_DOMAIN_STATE_SHUTDOWN = 4,
    HYVE_DOMAIN_STATE_SHUTOFF = 5,
    HYVE_DOMAIN_STATE_CRASHED = 6,
    HYVE_DOMAIN_STATE_PMSUSPENDED = 7,
    HYVE_DOMAIN_STATE_LAST
} HyveDomainState;

/* ---- events ----------------------------------------------------------- */

/* libvirt virDomainEventID */
typedef enum {
    HYVE_DOMAIN_EVENT_ID_LIFECYCLE = 0,
    HYVE_DOMAIN_EVENT_ID_REBOOT = 1,
    HYVE_DOMAIN_EVENT_ID_METADATA_CHANGE = 23,
    HYVE_DOMAIN_EVENT_ID_LAST = 27
} HyveDomainEventId;

/* libvirt virDomainEventType (LIFECYCLE "event" field) */
typedef enum {
    HYVE_DOMAIN_EVENT_DEFINED = 0,
    HYVE_DOMAIN_EVENT_UNDEFINED = 1,
    HYVE_DOMAIN_EVENT_STARTED = 2,
    HYVE_DOMAIN_EVENT_SUSPENDED = 3,
    HYVE_DOMAIN_EVENT_RESUMED = 4,
    HYVE_DOMAIN_EVENT_STOPPED = 5,
    HYVE_DOMAIN_EVENT_SHUTDOWN = 6,
    HYVE_DOMAIN_EVENT_PMSUSPENDED = 7,
    HYVE_DOMAIN_EVENT_CRASHED = 8,
} HyveDomainLifecycleEvent;

/* A domain event as produced by the driver. The daemon fans it out to
 * every connection whose registration matches (event id + optional domain
 * filter by UUID). */
typedef struct {
    HyveDomainEventId id;
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
    int dom_id;                   /* -1 when inactive, at the time of the event */
    int event;                    /* LIFECYCLE: HyveDomainLifecycleEvent */
    int detail;                   /* LIFECYCLE: detail; METADATA_CHANGE: type */
    char *nsuri;                  /* METADATA_CHANGE: namespace URI or NULL */
} HyveDomainEvent;

/* Called with no driver or domain lock held, one call at a time, in the
 * order the state changes happened (events are queued under the lock that
 * serialises the change and delivered in queue order, by the thread that
 * caused the event or by another driver thread delivering before it).
 * Must not block for long (queue and return) and must not call driver
 * functions that change state (they deliver events themselves: deadlock). */
typedef void (*HyveDomainEventSink)(const HyveDomainEvent *event, gpointer user_data);

/* ---- driver lifetime --------------------------------------------------- */

/* Creates the driver: makes its directories, loads every <config_dir>/NAME.xml
 * (a file that fails to load is logged and skipped, never deleted). */
HyveDriver *hyve_driver_new(const HyveDriverConfig *cfg, GError **error);
void hyve_driver_free(HyveDriver *drv);
void hyve_driver_set_event_sink(HyveDriver *drv, HyveDomainEventSink sink,
                                gpointer user_data);
const HyveDriverConfig *hyve_driver_get_config(HyveDriver *drv);

/* ---- host ------------------------------------------------------------- */

typedef struct {
    char model[32];               /* "x86_64" */
    guint64 memory_kib;
    int cpus;
    int mhz;
    int nodes;
    int sockets;                  /* per node */
    int cores;                    /* per socket */
    int threads;                  /* per core */
} HyveNodeInfo;

gboolean hyve_driver_node_get_info(HyveDriver *drv, HyveNodeInfo *info, GError **error);
char *hyve_driver_get_capabilities(HyveDriver *drv, GError **error);
/* All four may be NULL; a non-NULL value that hyve cannot provide is an
 * error (CONFIG_UNSUPPORTED / INVALID_ARG, as libvirt). */
char *hyve_driver_get_domain_capabilities(HyveDriver *drv, const char *emulator,
                                          const char *arch, const char *machine,
                                          const char *virttype, guint flags,
                                          GError **error);
char *hyve_driver_get_sysinfo(HyveDriver *drv, guint flags, GError **error);
char *hyve_driver_get_hostname(HyveDriver *drv, GError **error);
int hyve_driver_get_max_vcpus(HyveDriver *drv, const char *type, GError **error);
guint64 hyve_driver_get_version(HyveDriver *drv);      /* major*1e6+minor*1e3+micro */
guint64 hyve_driver_node_get_free_memory(HyveDriver *drv, GError **error);   /* bytes */

/* Typed name/value pairs as libvirt's virNodeMemoryStats / virNodeCPUStats. */
typedef struct {
    char field[80];
    guint64 value;
} HyveNodeStat;
/* cell/cpu -1 means all; returns an array of HyveNodeStat. */
GArray *hyve_driver_node_get_memory_stats(HyveDriver *drv, int cell, guint flags, GError **error);
GArray *hyve_driver_node_get_cpu_stats(HyveDriver *drv, int cpu, guint flags, GError **error);
/* Online map: one byte per host CPU (0/1) in *cpumap (g_free), returns count. */
int hyve_driver_node_get_cpu_map(HyveDriver *drv, guint8 **cpumap, guint *online,
                                 guint flags, GError **error);

/* ---- domains ---------------------------------------------------------- */

HyveDomainObj *hyve_domain_obj_ref(HyveDomainObj *obj);
void hyve_domain_obj_unref(HyveDomainObj *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveDomainObj, hyve_domain_obj_unref)

/* Identity snapshot of a domain, as sent on the wire (remote_nonnull_domain). */
typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
    int id;                       /* -1 when inactive */
} HyveDomainIdent;
void hyve_domain_ident_clear(HyveDomainIdent *ident);
void hyve_domain_obj_get_ident(HyveDomainObj *obj, HyveDomainIdent *ident);

/* Lookups: NO_DOMAIN (42, from BHYVE) with libvirt's message when absent. */
HyveDomainObj *hyve_driver_lookup_by_uuid(HyveDriver *drv, const guint8 uuid[HYVE_UUID_LEN], GError **error);
HyveDomainObj *hyve_driver_lookup_by_name(HyveDriver *drv, const char *name, GError **error);
HyveDomainObj *hyve_driver_lookup_by_id(HyveDriver *drv, int id, GError **error);

/* Flags: libvirt VIR_DOMAIN_DEFINE_VALIDATE = 1. Emits DEFINED/ADDED or
 * DEFINED/UPDATED. Returns a new reference. */
#define HYVE_DOMAIN_DEFINE_VALIDATE (1u << 0)
HyveDomainObj *hyve_driver_define_xml(HyveDriver *drv, const char *xml, guint flags, GError **error);
/* Flags: libvirt virDomainUndefineFlagsValues; unsupported bits -> INVALID_ARG.
 * Emits UNDEFINED/REMOVED. */
gboolean hyve_driver_undefine(HyveDriver *drv, HyveDomainObj *obj, guint flags, GError **error);

/* libvirt VIR_CONNECT_LIST_DOMAINS_* filter flags; 0 = all. Returns a
 * GPtrArray of HyveDomainObj references (free func set), sorted by name. */
GPtrArray *hyve_driver_list_domains(HyveDriver *drv, guint flags, GError **error);
int hyve_driver_num_domains(HyveDriver *drv, gboolean active);

/* libvirt VIR_DOMAIN_XML_* flags (SECURE 1, INACTIVE 2, UPDATE_CPU 4, MIGRATABLE 8). */
char *hyve_domain_obj_get_xml(HyveDomainObj *obj, guint flags, GError **error);

typedef struct {
    HyveDomainState state;
    int reason;
    guint64 max_mem_kib;
    guint64 memory_kib;
    guint nr_vcpus;
    guint64 cpu_time_ns;
} HyveDomainInfo;
void hyve_domain_obj_get_info(HyveDomainObj *obj, HyveDomainInfo *info);

char *hyve_domain_obj_get_os_type(HyveDomainObj *obj);          /* "hvm" */
gboolean hyve_domain_obj_is_active(HyveDomainObj *obj);
gboolean hyve_domain_obj_is_persistent(HyveDomainObj *obj);
gboolean hyve_domain_obj_is_updated(HyveDomainObj *obj);
gboolean hyve_domain_obj_get_autostart(HyveDomainObj *obj);
/* Transient domains: OPERATION_INVALID "cannot set autostart for transient domain". */
gboolean hyve_driver_set_autostart(HyveDriver *drv, HyveDomainObj *obj, gboolean autostart, GError **error);

/* libvirt virDomainMetadataType: 0 DESCRIPTION, 1 TITLE, 2 ELEMENT.
 * Flags: VIR_DOMAIN_AFFECT_CURRENT 0, LIVE 1, CONFIG 2.
 * Missing metadata -> NO_DOMAIN_METADATA (80). Emits METADATA_CHANGE. */
char *hyve_domain_obj_get_metadata(HyveDomainObj *obj, int type, const char *uri,
                                   guint flags, GError **error);
gboolean hyve_driver_set_metadata(HyveDriver *drv, HyveDomainObj *obj, int type,
                                  const char *metadata, const char *key,
                                  const char *uri, guint flags, GError **error);

G_END_DECLS
