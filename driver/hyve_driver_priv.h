/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_driver_priv.h: what driver/ files share about HyveDriver. */
#pragma once

#include "hyve_driver.h"
#include "hyve_domain_obj.h"

HyveDomainList *hyve_driver_get_domains(HyveDriver *drv);
/* Delivers an event to the sink; call with no driver or object lock held. */
void hyve_driver_emit(HyveDriver *drv, HyveDomainEventId id, const char *name,
                      const guint8 *uuid, int dom_id, int event, int detail,
                      const char *nsuri);
