/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_stats_priv.h: what hyved_remote_domain_stats.c and
 * hyved_remote_domain_params.c share and nothing else uses.
 */
#pragma once

#include "hyved_remote_util.h"

G_BEGIN_DECLS

#define HYVED_LOOKUP_OR_FAIL(obj, server, wire, error) \
    g_autoptr(HyveDomainObj) obj = hyved_domain_lookup((server), (wire), (error)); \
    if (!obj) \
        return FALSE

/* libvirt's public-API argument checks (virCheck*Arg): INVALID_ARG from DOMAIN. */
gboolean hyved_stats_check_arg(gboolean ok, const char *arg, const char *rule, const char *api,
                               GError **error);

/* ---- hyved_remote_domain_params.c: procedures of hyved_domain_stats_procs */
gboolean hyved_remote_domain_block_stats_flags(HyvedServer *server, HyvedClient *client,
                                               const HyvedHeader *hdr, void *argsp, void *retp,
                                               GError **error);
gboolean hyved_remote_connect_get_all_domain_stats(HyvedServer *server, HyvedClient *client,
                                                   const HyvedHeader *hdr, void *argsp,
                                                   void *retp, GError **error);

G_END_DECLS
