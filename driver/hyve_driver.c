/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_driver.c: driver lifetime and the domain API entry points of
 * hyve_driver.h. Entry points stay thin: flags -> lookup -> act and queue
 * the event (under the list lock for anything that writes the config
 * directory) -> unlock -> flush the queue to the sink. Events are queued in
 * the order the changes happened and delivered in queue order by one
 * flusher at a time, so clients see them in state-change order.
 * Host functions are wrappers of hyve_host_*.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "hyve_domain_obj.h"
#include "hyve_driver_priv.h"
#include "hyve_host.h"
#include "hyve_network.h"
#include "hyve_process.h"
#include "hyve_storage.h"

struct _HyveDriver {
    HyveDriverConfig cfg;            /* immutable after hyve_driver_new */
    HyveDomainParseOptions opts;     /* immutable; points into cfg */
    HyveDomainList *domains;         /* has its own lock */

    GMutex event_lock;               /* guards the fields marked [event_lock] */
    HyveDomainEventSink sink;        /* [event_lock] */
    gpointer sink_data;              /* [event_lock] */
    GQueue pending;                  /* [event_lock] HyveDomainEvent*, oldest first */
    GMutex flush_lock;               /* held while delivering: one flusher at a time */
    GMutex config_lock;              /* held by persistent-config writers (file I/O
                                      * under the list/obj locks); see
                                      * hyve_driver_inline_try_begin */
    HyveProcessMgr *procs;           /* runner supervision (hyve_process_watch.c) */
    HyveStorage *storage;            /* pools and volumes (hyve_storage.h) */
    HyveNetworks *networks;          /* virtual networks (hyve_network.h) */
};

void
hyve_driver_config_clear(HyveDriverConfig *cfg)
{
    if (!cfg)
        return;
    g_clear_pointer(&cfg->config_dir, g_free);
    g_clear_pointer(&cfg->state_dir, g_free);
    g_clear_pointer(&cfg->log_dir, g_free);
    g_clear_pointer(&cfg->cache_dir, g_free);
    g_clear_pointer(&cfg->schema_dir, g_free);
    g_clear_pointer(&cfg->runner_path, g_free);
    g_clear_pointer(&cfg->runner_user, g_free);
    g_clear_pointer(&cfg->uri, g_free);
    g_clear_pointer(&cfg->default_pool_path, g_free);
}

static void
event_free(HyveDomainEvent *ev)
{
    g_free(ev->name);
    g_free(ev->nsuri);
    g_free(ev);
}

static gboolean
make_dir(const char *dir, GError **error)
{
    if (!dir)
        return TRUE;
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int err = errno;

        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot create directory '%s': %s", dir, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

HyveDriver *
hyve_driver_new(const HyveDriverConfig *cfg, GError **error)
{
    HyveDriver *drv;
    HyveStorageConfig scfg = { 0 };
    HyveNetworkConfig ncfg;
    HyveStorage *storage;
    HyveNetworks *networks;

    if (!cfg->config_dir) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "driver configuration has no config_dir");
        return NULL;
    }
    if (!make_dir(cfg->config_dir, error) || !make_dir(cfg->state_dir, error))
        return NULL;
    /* GLib makes the C locale of g_ascii_strto*() on first use under a
     * g_once; threads waiting for it can return with errno set, which
     * g_ascii_string_to_*() then takes for a failure. Make it now, before
     * any worker thread parses numbers. */
    (void) g_ascii_strtoull("0", NULL, 10);
    scfg.privileged = cfg->privileged;
    scfg.config_dir = cfg->config_dir;
    scfg.state_dir = cfg->state_dir;
    scfg.schema_dir = cfg->schema_dir ? cfg->schema_dir : HYVE_LIBVIRT_SCHEMA_DIR;
    scfg.default_pool_path = cfg->default_pool_path;   /* NULL: no default pool */
    if (!(storage = hyve_storage_new(&scfg, error)))
        return NULL;
    /* before runners are reattached (their NICs take their ports again) */
    ncfg = (HyveNetworkConfig){ cfg->privileged, cfg->config_dir, cfg->state_dir,
                                scfg.schema_dir, cfg->default_network };
    if (!(networks = hyve_networks_new(&ncfg, error))) {
        hyve_storage_free(storage);
        return NULL;
    }

    drv = g_new0(HyveDriver, 1);
    drv->cfg.privileged = cfg->privileged;
    drv->cfg.config_dir = g_strdup(cfg->config_dir);
    drv->cfg.state_dir = g_strdup(cfg->state_dir);
    drv->cfg.log_dir = g_strdup(cfg->log_dir);
    drv->cfg.cache_dir = g_strdup(cfg->cache_dir);
    drv->cfg.schema_dir = g_strdup(cfg->schema_dir ? cfg->schema_dir : HYVE_LIBVIRT_SCHEMA_DIR);
    drv->cfg.runner_user = g_strdup(cfg->runner_user);
    drv->cfg.no_kernel_cache = cfg->no_kernel_cache;
    drv->cfg.runner_path = g_strdup(cfg->runner_path);
    drv->cfg.uri = g_strdup(cfg->uri);
    drv->cfg.default_pool_path = g_strdup(cfg->default_pool_path);
    drv->cfg.default_network = cfg->default_network;
    drv->opts.schema_dir = drv->cfg.schema_dir;
    drv->opts.emulator = HYVE_EMULATOR_PATH;
    drv->opts.alt_emulator = drv->cfg.runner_path;
    g_mutex_init(&drv->event_lock);
    g_mutex_init(&drv->flush_lock);
    g_mutex_init(&drv->config_lock);
    g_queue_init(&drv->pending);
    drv->domains = hyve_domain_list_new();
    hyve_domain_config_load_all(drv->cfg.config_dir, &drv->opts, drv->domains);
    drv->storage = storage;
    drv->networks = networks;
    hyve_storage_set_vol_user_func(storage, hyve_driver_volume_user, drv);
    drv->procs = hyve_process_mgr_new(drv);
    /* runners that outlived the previous daemon; raises next_id */
    hyve_process_reattach_all(drv);
    return drv;
}

/* Forgets every run (closes pidfds) without touching the runners. */
static void
hyve_driver_detach_runs(HyveDriver *drv)
{
    g_autoptr(GPtrArray) all = hyve_domain_list_export(drv->domains, 0);

    for (guint i = 0; i < all->len; i++) {
        HyveDomainObj *obj = g_ptr_array_index(all, i);
        HyveDomainRun *run;

        g_mutex_lock(&obj->lock);
        run = g_steal_pointer(&obj->run);
        g_mutex_unlock(&obj->lock);
        if (run) {
            hyve_process_unwatch(drv->procs, run);
            hyve_domain_run_free(run);
        }
    }
}

void
hyve_driver_free(HyveDriver *drv)
{
    if (!drv)
        return;
    /* stop watching; runners keep running (the next driver reattaches) */
    hyve_process_mgr_stop(drv->procs);
    hyve_driver_detach_runs(drv);
    hyve_process_mgr_free(drv->procs);
    hyve_storage_free(drv->storage);
    hyve_networks_free(drv->networks);
    hyve_domain_list_free(drv->domains);
    g_queue_clear_full(&drv->pending, (GDestroyNotify)event_free);
    g_mutex_clear(&drv->event_lock);
    g_mutex_clear(&drv->flush_lock);
    g_mutex_clear(&drv->config_lock);
    hyve_driver_config_clear(&drv->cfg);
    g_free(drv);
}

/* Takes flush_lock too: a flusher calls the sink it copied with no lock
 * held but flush_lock, so once this returns the old sink is not running
 * and will not be called again (its data may be freed). Must not be
 * called from inside a sink. */
void
hyve_driver_set_event_sink(HyveDriver *drv, HyveDomainEventSink sink, gpointer user_data)
{
    g_mutex_lock(&drv->flush_lock);
    g_mutex_lock(&drv->event_lock);
    drv->sink = sink;
    drv->sink_data = user_data;
    g_mutex_unlock(&drv->event_lock);
    g_mutex_unlock(&drv->flush_lock);
}

const HyveDriverConfig *
hyve_driver_get_config(HyveDriver *drv)
{
    return &drv->cfg;
}

HyveStorage *
hyve_driver_get_storage(HyveDriver *drv)
{
    return drv->storage;
}

HyveNetworks *
hyve_driver_get_networks(HyveDriver *drv)
{
    return drv->networks;
}

HyveDomainList *
hyve_driver_get_domains(HyveDriver *drv)
{
    return drv->domains;
}

HyveProcessMgr *
hyve_driver_get_process_mgr(HyveDriver *drv)
{
    return drv->procs;
}

const HyveDomainParseOptions *
hyve_driver_get_parse_options(HyveDriver *drv)
{
    return &drv->opts;
}

void
hyve_driver_queue_event(HyveDriver *drv, HyveDomainEventId id, const char *name,
                        const guint8 *uuid, int dom_id, int event, int detail,
                        const char *nsuri)
{
    HyveDomainEvent *ev = g_new0(HyveDomainEvent, 1);

    ev->id = id;
    ev->name = g_strdup(name);
    memcpy(ev->uuid, uuid, HYVE_UUID_LEN);
    ev->dom_id = dom_id;
    ev->event = event;
    ev->detail = detail;
    ev->nsuri = g_strdup(nsuri);
    g_mutex_lock(&drv->event_lock);
    g_queue_push_tail(&drv->pending, ev);
    g_mutex_unlock(&drv->event_lock);
}

/* Returns when every event queued before the call has been delivered
 * (by this thread or by the flusher it waited for). */
void
hyve_driver_flush_events(HyveDriver *drv)
{
    g_mutex_lock(&drv->flush_lock);
    for (;;) {
        HyveDomainEventSink sink;
        gpointer data;
        HyveDomainEvent *ev;

        g_mutex_lock(&drv->event_lock);
        ev = g_queue_pop_head(&drv->pending);
        sink = drv->sink;
        data = drv->sink_data;
        g_mutex_unlock(&drv->event_lock);
        if (!ev)
            break;
        if (sink)
            sink(ev, data);
        event_free(ev);
    }
    g_mutex_unlock(&drv->flush_lock);
}

gboolean
hyve_driver_check_removed_locked(HyveDomainObj *obj, GError **error)
{
    char s[HYVE_UUID_STRING_LEN];

    if (!obj->removed)
        return TRUE;
    hyve_uuid_format(obj->uuid, s);
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN,
                   "no domain with matching uuid '%s' (%s)", s, obj->name);
    return FALSE;
}

/* ---- lookups ------------------------------------------------------------- */

HyveDomainObj *
hyve_driver_lookup_by_uuid(HyveDriver *drv, const guint8 uuid[HYVE_UUID_LEN], GError **error)
{
    HyveDomainObj *obj;

    g_mutex_lock(&drv->domains->lock);
    obj = hyve_domain_list_find_uuid_locked(drv->domains, uuid);
    g_mutex_unlock(&drv->domains->lock);
    if (!obj) {
        char s[HYVE_UUID_STRING_LEN];

        hyve_uuid_format(uuid, s);
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN,
                       "no domain with matching uuid '%s'", s);
    }
    return obj;
}

HyveDomainObj *
hyve_driver_lookup_by_name(HyveDriver *drv, const char *name, GError **error)
{
    HyveDomainObj *obj;

    g_mutex_lock(&drv->domains->lock);
    obj = hyve_domain_list_find_name_locked(drv->domains, name);
    g_mutex_unlock(&drv->domains->lock);
    if (!obj)
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN,
                       "no domain with matching name '%s'", name);
    return obj;
}

HyveDomainObj *
hyve_driver_lookup_by_id(HyveDriver *drv, int id, GError **error)
{
    HyveDomainObj *obj = hyve_domain_list_find_id(drv->domains, id);

    if (!obj)
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_DOMAIN,
                       "no domain with matching id %d", id);
    return obj;
}

/* ---- define / undefine --------------------------------------------------- */

/* With the domain list locked: @def_in (taken) updates the domain with its
 * UUID or becomes a new one, after its config file is written. Returns
 * the object (a new reference) and the event's id and detail. */
static HyveDomainObj *
hyve_driver_define_locked(HyveDriver *drv, HyveDomainDef *def_in, int *dom_id, int *detail,
                          GError **error)
{
    g_autoptr(HyveDomainDef) def = def_in;
    g_autoptr(HyveDomainObj) obj = NULL;

    if ((obj = hyve_domain_list_find_uuid_locked(drv->domains, def->uuid))) {
        if (!g_str_equal(obj->name, def->name)) {
            char s[HYVE_UUID_STRING_LEN];

            hyve_uuid_format(obj->uuid, s);
            hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_FAILED,
                           "domain '%s' is already defined with uuid %s", obj->name, s);
            return NULL;
        }
    } else if ((obj = hyve_domain_list_find_name_locked(drv->domains, def->name))) {
        char s[HYVE_UUID_STRING_LEN];

        hyve_uuid_format(obj->uuid, s);
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_OPERATION_FAILED,
                       "domain '%s' already exists with uuid %s", def->name, s);
        return NULL;
    }
    if (!hyve_domain_config_save(drv->cfg.config_dir, def, error))
        return NULL;
    if (obj) {
        g_mutex_lock(&obj->lock);
        hyve_domain_obj_set_persistent_def_locked(obj, g_steal_pointer(&def));
        obj->persistent = TRUE;
        *dom_id = obj->id;
        g_mutex_unlock(&obj->lock);
        *detail = 1;    /* VIR_DOMAIN_EVENT_DEFINED_UPDATED */
    } else {
        obj = hyve_domain_obj_new(g_steal_pointer(&def));
        obj->persistent = TRUE;
        obj->autostart = hyve_domain_autostart_get(drv->cfg.config_dir, obj->name);
        hyve_domain_list_add_locked(drv->domains, obj);
        *dom_id = -1;
        *detail = 0;    /* VIR_DOMAIN_EVENT_DEFINED_ADDED */
    }
    return g_steal_pointer(&obj);
}

void
hyve_driver_config_lock(HyveDriver *drv)
{
    g_mutex_lock(&drv->config_lock);
}

void
hyve_driver_config_unlock(HyveDriver *drv)
{
    g_mutex_unlock(&drv->config_lock);
}

gboolean
hyve_driver_inline_try_begin(HyveDriver *drv)
{
    return g_mutex_trylock(&drv->config_lock);
}

void
hyve_driver_inline_end(HyveDriver *drv)
{
    g_mutex_unlock(&drv->config_lock);
}

HyveDomainObj *
hyve_driver_define_xml(HyveDriver *drv, const char *xml, guint flags, GError **error)
{
    HyveDomainDef *def;
    HyveDomainObj *obj;
    int detail = 0, dom_id = -1;

    CHECK_FLAGS(flags, HYVE_DOMAIN_DEFINE_VALIDATE, NULL);
    /* The schema is always checked, with or without VALIDATE. */
    if (!(def = hyve_domain_def_parse_string(xml, &drv->opts, error)))
        return NULL;

    /* Redefining an existing domain takes its job first (a start, create or
     * exit handling in progress finishes before its definition changes);
     * the job is waited for without the list lock, then the lookup is
     * done again: the domain may have been removed (a failed create). */
    for (int tries = 0;; tries++) {
        g_autoptr(HyveDomainObj) held = NULL;
        g_autoptr(GError) job_err = NULL;

        g_mutex_lock(&drv->domains->lock);
        held = hyve_domain_list_find_uuid_locked(drv->domains, def->uuid);
        if (!held)
            held = hyve_domain_list_find_name_locked(drv->domains, def->name);
        g_mutex_unlock(&drv->domains->lock);
        if (held && !hyve_domain_job_begin(held, FALSE, &job_err)) {
            if (job_err->code == HYVE_ERR_NO_DOMAIN && tries < 100)
                continue;
            hyve_domain_def_free(def);
            g_propagate_error(error, g_steal_pointer(&job_err));
            return NULL;
        }
        hyve_driver_config_lock(drv);
        g_mutex_lock(&drv->domains->lock);
        if (held) {
            g_autoptr(HyveDomainObj) again = hyve_domain_list_find_uuid_locked(drv->domains,
                                                                               def->uuid);

            if (!again)
                again = hyve_domain_list_find_name_locked(drv->domains, def->name);
            if (again != held && tries < 100) {
                g_mutex_unlock(&drv->domains->lock);
                hyve_driver_config_unlock(drv);
                hyve_domain_job_end(held);
                continue;
            }
        }
        obj = hyve_driver_define_locked(drv, def, &dom_id, &detail, error);
        if (obj)
            hyve_driver_queue_event(drv, HYVE_DOMAIN_EVENT_ID_LIFECYCLE, obj->name, obj->uuid,
                                    dom_id, HYVE_DOMAIN_EVENT_DEFINED, detail, NULL);
        g_mutex_unlock(&drv->domains->lock);
        hyve_driver_config_unlock(drv);
        if (held)
            hyve_domain_job_end(held);
        break;
    }
    if (obj && dom_id > 0)
        hyve_process_status_save(obj);     /* "updated" survives a daemon restart */
    hyve_driver_flush_events(drv);
    return obj;
}

/* ---- listing ------------------------------------------------------------- */

GPtrArray *
hyve_driver_list_domains(HyveDriver *drv, guint flags, GError **error)
{
    CHECK_FLAGS(flags, HYVE_LIST_DOMAINS_ALL_FLAGS, NULL);
    return hyve_domain_list_export(drv->domains, flags);
}

int
hyve_driver_num_domains(HyveDriver *drv, gboolean active)
{
    g_autoptr(GPtrArray) list = hyve_domain_list_export(drv->domains, active ? 1 : 2);

    return (int)list->len;
}
