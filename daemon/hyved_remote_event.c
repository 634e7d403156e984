/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_event.c: the event (de)registration procedures
 * (hyved_event_procs). Registrations are bookkept per connection in
 * hyved_events.c; delivery happens there too.
 */
#include "hyve-config.h"

#include "hyved_server.h"
#include "hyved_remote_util.h"

/* Number of event ids libvirt 9.0 defines per object kind. */
static const int event_id_count[HYVED_EVENT_KIND_LAST] = {
    [HYVED_EVENT_DOMAIN] = HYVE_DOMAIN_EVENT_ID_LAST,   /* 27 */
    [HYVED_EVENT_NETWORK] = 1,                          /* LIFECYCLE */
    [HYVED_EVENT_STORAGE_POOL] = 2,                     /* LIFECYCLE, REFRESH */
    [HYVED_EVENT_NODE_DEVICE] = 2,                      /* LIFECYCLE, UPDATE */
    [HYVED_EVENT_SECRET] = 2,                           /* LIFECYCLE, VALUE_CHANGED */
};

static const char *const event_kind_word[HYVED_EVENT_KIND_LAST] = {
    [HYVED_EVENT_DOMAIN] = "",
    [HYVED_EVENT_NETWORK] = "network ",
    [HYVED_EVENT_STORAGE_POOL] = "storage pool ",
    [HYVED_EVENT_NODE_DEVICE] = "node device ",
    [HYVED_EVENT_SECRET] = "secret ",
};

static gboolean
check_event_id(HyvedEventKind kind, int event_id, GError **error)
{
    if (event_id >= 0 && event_id < event_id_count[kind])
        return TRUE;
    hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INVALID_ARG,
                   "unsupported %sevent ID %d", event_kind_word[kind], event_id);
    return FALSE;
}

static gboolean
register_callback(HyvedClient *client, HyvedEventKind kind, int event_id,
                  const guint8 *uuid, int *callback_id, GError **error)
{
    int id;

    if (!check_event_id(kind, event_id, error))
        return FALSE;
    if ((id = hyved_client_add_event_callback(client, kind, event_id, uuid, FALSE, error)) < 0)
        return FALSE;
    *callback_id = id;
    return TRUE;
}

/* ---- domain: callback style (316/317) ------------------------------------ */

static gboolean
domain_callback_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                         void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_callback_register_any_args *args = argsp;
    remote_connect_domain_event_callback_register_any_ret *ret = retp;
    const guint8 *uuid = args->dom ? (const guint8 *) args->dom->uuid : NULL;

    return register_callback(client, HYVED_EVENT_DOMAIN, args->eventID, uuid,
                             &ret->callbackID, error);
}

static gboolean
domain_callback_deregister(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                           void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_callback_deregister_any_args *args = argsp;

    return hyved_client_remove_event_callback(client, HYVED_EVENT_DOMAIN, args->callbackID, error);
}

/* ---- domain: legacy styles (167/168, 105/106) ---------------------------- */

static gboolean
domain_legacy_register_any(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                           void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_register_any_args *args = argsp;

    if (!check_event_id(HYVED_EVENT_DOMAIN, args->eventID, error))
        return FALSE;
    return hyved_client_add_event_callback(client, HYVED_EVENT_DOMAIN, args->eventID,
                                           NULL, TRUE, error) >= 0;
}

static gboolean
domain_legacy_deregister_any(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                             void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_deregister_any_args *args = argsp;

    if (!check_event_id(HYVED_EVENT_DOMAIN, args->eventID, error))
        return FALSE;
    return hyved_client_remove_legacy_event(client, HYVED_EVENT_DOMAIN, args->eventID, error);
}

static gboolean
domain_legacy_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                       void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_register_ret *ret = retp;

    if (hyved_client_add_event_callback(client, HYVED_EVENT_DOMAIN, HYVE_DOMAIN_EVENT_ID_LIFECYCLE,
                                        NULL, TRUE, error) < 0)
        return FALSE;
    ret->cb_registered = 1;
    return TRUE;
}

static gboolean
domain_legacy_deregister(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                         void *argsp, void *retp, GError **error)
{
    remote_connect_domain_event_deregister_ret *ret = retp;

    if (!hyved_client_remove_legacy_event(client, HYVED_EVENT_DOMAIN,
                                          HYVE_DOMAIN_EVENT_ID_LIFECYCLE, error))
        return FALSE;
    ret->cb_registered = 0;
    return TRUE;
}

/* ---- networks, pools, node devices, secrets ------------------------------ */

static gboolean
network_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                 void *argsp, void *retp, GError **error)
{
    remote_connect_network_event_register_any_args *args = argsp;
    remote_connect_network_event_register_any_ret *ret = retp;
    const guint8 *uuid = args->net ? (const guint8 *) args->net->uuid : NULL;

    return register_callback(client, HYVED_EVENT_NETWORK, args->eventID, uuid,
                             &ret->callbackID, error);
}

static gboolean
pool_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
              void *argsp, void *retp, GError **error)
{
    remote_connect_storage_pool_event_register_any_args *args = argsp;
    remote_connect_storage_pool_event_register_any_ret *ret = retp;
    const guint8 *uuid = args->pool ? (const guint8 *) args->pool->uuid : NULL;

    return register_callback(client, HYVED_EVENT_STORAGE_POOL, args->eventID, uuid,
                             &ret->callbackID, error);
}

static gboolean
nodedev_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                 void *argsp, void *retp, GError **error)
{
    remote_connect_node_device_event_register_any_args *args = argsp;
    remote_connect_node_device_event_register_any_ret *ret = retp;

    /* Node devices have no UUID; a name filter would apply here once
     * something emits node device events. */
    return register_callback(client, HYVED_EVENT_NODE_DEVICE, args->eventID, NULL,
                             &ret->callbackID, error);
}

static gboolean
secret_register(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                void *argsp, void *retp, GError **error)
{
    remote_connect_secret_event_register_any_args *args = argsp;
    remote_connect_secret_event_register_any_ret *ret = retp;
    const guint8 *uuid = args->secret ? (const guint8 *) args->secret->uuid : NULL;

    return register_callback(client, HYVED_EVENT_SECRET, args->eventID, uuid,
                             &ret->callbackID, error);
}

/* The four deregister_any_args structs are all { int callbackID; }. */
#define DEFINE_DEREGISTER(fn, kind, argtype)                                        \
    static gboolean                                                                 \
    fn(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,            \
       void *argsp, void *retp, GError **error)                                     \
    {                                                                               \
        argtype *args = argsp;                                                      \
        return hyved_client_remove_event_callback(client, kind, args->callbackID, error); \
    }

DEFINE_DEREGISTER(network_deregister, HYVED_EVENT_NETWORK,
                  remote_connect_network_event_deregister_any_args)
DEFINE_DEREGISTER(pool_deregister, HYVED_EVENT_STORAGE_POOL,
                  remote_connect_storage_pool_event_deregister_any_args)
DEFINE_DEREGISTER(nodedev_deregister, HYVED_EVENT_NODE_DEVICE,
                  remote_connect_node_device_event_deregister_any_args)
DEFINE_DEREGISTER(secret_deregister, HYVED_EVENT_SECRET,
                  remote_connect_secret_event_deregister_any_args)

#define EV HYVED_PROC_INLINE

const HyvedProcedure hyved_event_procs[] = {
    HYVED_PROC_AR(CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
                  connect_domain_event_callback_register_any, domain_callback_register, EV),
    HYVED_PROC_A(CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
                 connect_domain_event_callback_deregister_any, domain_callback_deregister, EV),
    HYVED_PROC_A(CONNECT_DOMAIN_EVENT_REGISTER_ANY, connect_domain_event_register_any,
                 domain_legacy_register_any, EV),
    HYVED_PROC_A(CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, connect_domain_event_deregister_any,
                 domain_legacy_deregister_any, EV),
    HYVED_PROC_R(CONNECT_DOMAIN_EVENT_REGISTER, connect_domain_event_register,
                 domain_legacy_register, EV),
    HYVED_PROC_R(CONNECT_DOMAIN_EVENT_DEREGISTER, connect_domain_event_deregister,
                 domain_legacy_deregister, EV),
    HYVED_PROC_AR(CONNECT_NETWORK_EVENT_REGISTER_ANY, connect_network_event_register_any,
                  network_register, EV),
    HYVED_PROC_A(CONNECT_NETWORK_EVENT_DEREGISTER_ANY, connect_network_event_deregister_any,
                 network_deregister, EV),
    HYVED_PROC_AR(CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, connect_storage_pool_event_register_any,
                  pool_register, EV),
    HYVED_PROC_A(CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY,
                 connect_storage_pool_event_deregister_any, pool_deregister, EV),
    HYVED_PROC_AR(CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY, connect_node_device_event_register_any,
                  nodedev_register, EV),
    HYVED_PROC_A(CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY,
                 connect_node_device_event_deregister_any, nodedev_deregister, EV),
    HYVED_PROC_AR(CONNECT_SECRET_EVENT_REGISTER_ANY, connect_secret_event_register_any,
                  secret_register, EV),
    HYVED_PROC_A(CONNECT_SECRET_EVENT_DEREGISTER_ANY, connect_secret_event_deregister_any,
                 secret_deregister, EV),
};
const size_t hyved_event_nprocs = G_N_ELEMENTS(hyved_event_procs);
