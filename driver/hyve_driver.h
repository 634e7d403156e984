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
    char *runner_user;        /* issue 7: runners drop to this user after setup
                               * (NULL or "": they keep the daemon's user) */
    gboolean no_kernel_cache; /* runners get no boot.kernel_cache (virtbhyved.conf
                               * kernel_cache = 0: guest text KASLR kept) */
    char *uri;                /* "bhyve:///system" or "bhyve:///session" */
    char *default_pool_path;  /* target of the 'default' storage pool defined on
                               * the first start (NULL: no default pool) */
    gboolean default_network; /* define libvirt's 'default' NAT network (not started)
                               * on the first start (issue 6: the system daemon) */
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
/* The storage driver (hyve_storage.h), created by hyve_driver_new. */
typedef struct _HyveStorage HyveStorage;
HyveStorage *hyve_driver_get_storage(HyveDriver *drv);
/* The network driver (hyve_network.h), created by hyve_driver_new. */
typedef struct _HyveNetworks HyveNetworks;
HyveNetworks *hyve_driver_get_networks(HyveDriver *drv);

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

/* ---- running domains (hyve_driver_lifecycle.c, hyve_process*.c) -------- *
 *
 * Each running domain is one bhyve-runner process, spawned by the driver,
 * supervised through a pidfd and its control socket, and left running when
 * the daemon exits (hyve_driver_free never stops guests). Operations on one
 * domain are serialised by a per-domain job: a second operation waits for
 * the first (up to 30 s, then OPERATION_TIMEOUT "cannot acquire state change
 * lock"). Every function returns FALSE/-1/NULL with @error set on failure.
 * Wrong state -> OPERATION_INVALID with libvirt's messages ("domain is not
 * running", "domain is already running", "domain is not paused", ...).
 * Unsupported flag bits -> INVALID_ARG "unsupported flags (0x%x) in function %s".
 * All of them emit their lifecycle events (see HyveDomainLifecycleEvent and
 * the details below) through the event sink before returning. */

/* libvirt virDomainCreateFlags */
#define HYVE_DOMAIN_START_PAUSED      (1u << 0)
#define HYVE_DOMAIN_START_AUTODESTROY (1u << 1)   /* refused: INVALID_ARG */
#define HYVE_DOMAIN_START_VALIDATE    (1u << 4)   /* create_xml only */
/* libvirt virDomainDestroyFlagsValues */
#define HYVE_DOMAIN_DESTROY_GRACEFUL  (1u << 0)
/* libvirt virDomainShutdownFlagValues / virDomainRebootFlagValues */
#define HYVE_DOMAIN_SHUTDOWN_ACPI_POWER_BTN (1u << 0)
#define HYVE_DOMAIN_SHUTDOWN_GUEST_AGENT    (1u << 1)
#define HYVE_DOMAIN_SHUTDOWN_INITCTL        (1u << 2)
#define HYVE_DOMAIN_SHUTDOWN_SIGNAL         (1u << 3)
#define HYVE_DOMAIN_SHUTDOWN_PARAVIRT       (1u << 4)

/* libvirt lifecycle event details used by hyve (virDomainEvent*DetailType). */
#define HYVE_EVENT_STARTED_BOOTED       0
#define HYVE_EVENT_SUSPENDED_PAUSED     0
#define HYVE_EVENT_RESUMED_UNPAUSED     0
#define HYVE_EVENT_STOPPED_SHUTDOWN     0
#define HYVE_EVENT_STOPPED_DESTROYED    1
#define HYVE_EVENT_STOPPED_CRASHED      2
#define HYVE_EVENT_STOPPED_FAILED       5
#define HYVE_EVENT_SHUTDOWN_FINISHED    0
#define HYVE_EVENT_SHUTDOWN_GUEST       1
#define HYVE_EVENT_SHUTDOWN_HOST        2
#define HYVE_EVENT_CRASHED_PANICKED     0

/* Starts a defined, inactive domain (virDomainCreateWithFlags): STARTED/BOOTED
 * (then SUSPENDED/PAUSED with START_PAUSED). */
gboolean hyve_driver_domain_start(HyveDriver *drv, HyveDomainObj *obj, guint flags,
                                  GError **error);
/* virDomainCreateXML: a transient domain (no config file) that vanishes when
 * it stops; a persistent domain of that name/uuid that is inactive is started
 * with this definition instead (as libvirt). Returns a new reference. */
HyveDomainObj *hyve_driver_create_xml(HyveDriver *drv, const char *xml, guint flags,
                                      GError **error);
/* Hard stop (the runner is told to power off, killed if it does not exit at
 * once; GRACEFUL: never SIGKILL, OPERATION_FAILED if it does not stop in
 * time). STOPPED/DESTROYED. */
gboolean hyve_driver_domain_destroy(HyveDriver *drv, HyveDomainObj *obj, guint flags,
                                    GError **error);
/* Presses the ACPI power button and returns at once; the domain stops when
 * the guest powers off. flags 0 or ACPI_POWER_BTN; any other mode:
 * NO_SUPPORT naming the mode. */
gboolean hyve_driver_domain_shutdown(HyveDriver *drv, HyveDomainObj *obj, guint flags,
                                     GError **error);
/* ACPI reboot: power button now, start again when the guest powers off
 * (same id; REBOOT event). Same flags rule as shutdown. */
gboolean hyve_driver_domain_reboot(HyveDriver *drv, HyveDomainObj *obj, guint flags,
                                   GError **error);
/* Hard reset (REBOOT event; the domain keeps running with the same id). */
gboolean hyve_driver_domain_reset(HyveDriver *drv, HyveDomainObj *obj, guint flags,
                                  GError **error);
gboolean hyve_driver_domain_suspend(HyveDriver *drv, HyveDomainObj *obj, GError **error);
gboolean hyve_driver_domain_resume(HyveDriver *drv, HyveDomainObj *obj, GError **error);

/* Daemon start-up: starts every autostart domain that is not running, in
 * name order; failures are logged, never fatal. Call once, after the event
 * sink is set (hyve_driver_new already reattached running domains). */
void hyve_driver_autostart(HyveDriver *drv);

/* Opens the domain's character device @dev_name (NULL: the first console,
 * i.e. serial0; else an alias "serial0", "serial1", "console0") for a
 * console stream: returns a non-blocking fd in raw mode (the pty of a
 * 'pty' serial). OPERATION_INVALID "domain is not running";
 * INTERNAL_ERROR "cannot find character device %s"; OPERATION_UNSUPPORTED
 * "character device %s is not using a PTY". Who holds the console (FORCE)
 * is the daemon's business. */
int hyve_driver_domain_open_console(HyveDriver *drv, HyveDomainObj *obj,
                                    const char *dev_name, GError **error);

/* ---- running-domain queries (hyve_driver_stats.c) ---------------------- */

typedef struct {
    guint number;
    int state;                    /* libvirt virVcpuState: 1 RUNNING */
    guint64 cpu_time_ns;
    int cpu;                      /* host CPU it last ran on, -1 unknown */
} HyveVcpuInfo;
/* Per vCPU of a running domain (OPERATION_INVALID when inactive). */
GArray *hyve_driver_domain_get_vcpus(HyveDriver *drv, HyveDomainObj *obj, GError **error);

/* virDomainBlockStats: @path is a disk target ("vda") or source path.
 * INVALID_ARG "invalid path: %s" when no disk matches. -1 = unknown. */
typedef struct {
    gint64 rd_req, rd_bytes, wr_req, wr_bytes, errs;
} HyveBlockStats;
gboolean hyve_driver_domain_block_stats(HyveDriver *drv, HyveDomainObj *obj,
                                        const char *path, HyveBlockStats *stats,
                                        GError **error);
/* virDomainInterfaceStats: @device is the target dev, alias or MAC.
 * INVALID_ARG "invalid path, '%s' is not a known interface". */
typedef struct {
    gint64 rx_bytes, rx_packets, rx_errs, rx_drop;
    gint64 tx_bytes, tx_packets, tx_errs, tx_drop;
} HyveInterfaceStats;
gboolean hyve_driver_domain_interface_stats(HyveDriver *drv, HyveDomainObj *obj,
                                            const char *device, HyveInterfaceStats *stats,
                                            GError **error);
/* virDomainInterfaceAddresses (issue 6). @source: 0 LEASE (dnsmasq leases of
 * the domain's <interface type='network'> NICs; NICs without a lease and
 * bridge NICs are left out), 2 ARP (the host's neighbour table, /proc/net/arp,
 * matched by guest MAC, every NIC); 1 AGENT -> NO_SUPPORT (hyve has no guest
 * agent); others INVALID_ARG "Unknown IP address data source %d". The
 * domain must be running: OPERATION_INVALID "domain is not running".
 * GPtrArray of HyveDomainIface* (free func set). */
typedef struct {
    int type;                     /* 0 IPv4, 1 IPv6 */
    char *addr;
    guint prefix;
} HyveDomainIpAddr;
typedef struct {
    char *name;                   /* the tap (target dev), e.g. "vnet0" */
    char *hwaddr;                 /* guest MAC "52:54:00:.." */
    GArray *addrs;                /* HyveDomainIpAddr (clear func frees addr) */
} HyveDomainIface;
void hyve_domain_iface_free(HyveDomainIface *iface);
GPtrArray *hyve_driver_domain_interface_addresses(HyveDriver *drv, HyveDomainObj *obj,
                                                  guint source, guint flags, GError **error);
/* virDomainMemoryStats: tags are VIR_DOMAIN_MEMORY_STAT_* (6 ACTUAL_BALLOON,
 * 7 RSS, ...); at most @nr_stats entries. */
typedef struct {
    int tag;
    guint64 val;
} HyveMemoryStat;
GArray *hyve_driver_domain_memory_stats(HyveDriver *drv, HyveDomainObj *obj,
                                        guint nr_stats, GError **error);
/* virDomainGetBlockInfo (works on inactive domains too). */
typedef struct {
    guint64 capacity, allocation, physical;
} HyveBlockInfo;
gboolean hyve_driver_domain_get_block_info(HyveDriver *drv, HyveDomainObj *obj,
                                           const char *path, HyveBlockInfo *info,
                                           GError **error);

/* Typed parameters (libvirt virTypedParameterType values). */
typedef enum {
    HYVE_PARAM_INT = 1,
    HYVE_PARAM_UINT = 2,
    HYVE_PARAM_LLONG = 3,
    HYVE_PARAM_ULLONG = 4,
    HYVE_PARAM_DOUBLE = 5,
    HYVE_PARAM_BOOLEAN = 6,
    HYVE_PARAM_STRING = 7,
} HyveParamType;
typedef struct {
    char *field;
    HyveParamType type;
    union {
        gint32 i;
        guint32 ui;
        gint64 l;
        guint64 ul;
        double d;
        gboolean b;
        char *s;
    } v;
} HyveTypedParam;
void hyve_typed_param_free(HyveTypedParam *p);
typedef struct {
    HyveDomainObj *obj;           /* a reference */
    GPtrArray *params;            /* HyveTypedParam*, free func set */
} HyveDomainStatsRecord;
void hyve_domain_stats_record_free(HyveDomainStatsRecord *rec);
/* virConnectGetAllDomainStats / virDomainListGetStats: @stats is a mask of
 * VIR_DOMAIN_STATS_* groups (0 = all hyve supports: STATE 1, CPU_TOTAL 2,
 * BALLOON 4, VCPU 8, INTERFACE 16, BLOCK 32); @doms NULL = every domain
 * matching @flags (VIR_CONNECT_GET_ALL_DOMAINS_STATS_* filters). Returns
 * HyveDomainStatsRecord*, free func set. */
GPtrArray *hyve_driver_get_all_domain_stats(HyveDriver *drv, GPtrArray *doms,
                                            guint stats, guint flags, GError **error);

/* For the daemon's I/O thread: it runs a cheap call inline only when
 * hyve_driver_inline_try_begin() says no persistent-config writer (define,
 * undefine, set_metadata, set_autostart: they fsync with the list/obj locks
 * held) is at work; it then keeps writers out until hyve_driver_inline_end().
 * Otherwise the call goes to a worker, so one client's define does not
 * freeze every client's I/O. */
gboolean hyve_driver_inline_try_begin(HyveDriver *drv);
void hyve_driver_inline_end(HyveDriver *drv);

G_END_DECLS
