/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_driver_priv.h: what driver/ files share about HyveDriver. */
#pragma once

#include "hyve_driver.h"
#include "hyve_domain_obj.h"

/* In an API entry point with a GError **error: refuses flag bits outside
 * @supported with libvirt's INVALID_ARG "unsupported flags (0x%x) in
 * function %s" and returns @ret. */
#define CHECK_FLAGS(flags, supported, ret) \
    do { \
        if ((flags) & ~(guint)(supported)) { \
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INVALID_ARG, \
                           "unsupported flags (0x%x) in function %s", \
                           (flags) & ~(guint)(supported), __func__); \
            return ret; \
        } \
    } while (0)

HyveDomainList *hyve_driver_get_domains(HyveDriver *drv);
/* Queues an event (copied). Call with the domain list lock held, right
 * after the change it reports, so the queue is in state-change order. */
void hyve_driver_queue_event(HyveDriver *drv, HyveDomainEventId id, const char *name,
                             const guint8 *uuid, int dom_id, int event, int detail,
                             const char *nsuri);
/* Delivers queued events to the sink in order; call with no driver or
 * object lock held. */
void hyve_driver_flush_events(HyveDriver *drv);
/* With obj->lock held: NO_DOMAIN (libvirt's message) if @obj was undefined
 * (no longer in the list) meanwhile. */
gboolean hyve_driver_check_removed_locked(HyveDomainObj *obj, GError **error);

/* The persistent-config writers (define, undefine, set_metadata,
 * set_autostart) write and fsync files with the list/obj locks held; they
 * take the driver's config lock first (after any job, before any list or
 * object lock, and never wait for a job while holding it); see
 * hyve_driver_inline_try_begin() in hyve_driver.h. */
void hyve_driver_config_lock(HyveDriver *drv);
void hyve_driver_config_unlock(HyveDriver *drv);

/* hyve_driver_voluser.c: the HyveVolUserFunc (hyve_storage.h) installed
 * for the storage driver, @user_data the HyveDriver. */
char *hyve_driver_volume_user(const char *path, gpointer user_data);
