/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_connect.c: authentication, CONNECT_OPEN/CLOSE, feature
 * negotiation and the other per-connection procedures (libvirt-rpc.md
 * §3.1, §4). The event (de)registration procedures are in
 * hyved_remote_event.c.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_server.h"
#include "hyved_polkit.h"
#include "hyved_remote_util.h"


/* libvirt virDrvFeature numbers */
enum {
    HYVED_FEATURE_FD_PASSING = 8,
    HYVED_FEATURE_TYPED_PARAM_STRING = 9,
    HYVED_FEATURE_PROGRAM_KEEPALIVE = 10,
    HYVED_FEATURE_REMOTE_EVENT_CALLBACK = 14,
    HYVED_FEATURE_REMOTE_CLOSE_CALLBACK = 15,
};

#define HYVED_CONNECT_RO (1u << 0)

static gboolean
hyved_remote_auth_list(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                       void *args, void *retp, GError **error)
{
    remote_auth_list_ret *ret = retp;
    remote_auth_type type = REMOTE_AUTH_NONE;

    if (hyved_client_get_auth(client) == HYVED_AUTH_POLKIT) {
        if (hyved_client_get_uid(client) == 0)
            hyved_client_set_authenticated(client);     /* root bypasses polkit */
        else if (!hyved_client_is_authenticated(client))
            type = REMOTE_AUTH_POLKIT;
    }
    ret->types.types_len = 1;
    ret->types.types_val = g_new0(remote_auth_type, 1);
    ret->types.types_val[0] = type;
    return TRUE;
}

static gboolean
hyved_remote_auth_polkit(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                         void *args, void *retp, GError **error)
{
    remote_auth_polkit_ret *ret = retp;
    const char *action;

    if (hyved_client_is_authenticated(client)) {
        ret->complete = 1;
        return TRUE;
    }
    if (hyved_client_get_auth(client) != HYVED_AUTH_POLKIT) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_AUTH_FAILED,
                       "polkit authentication is not enabled on this socket");
        return FALSE;
    }
    action = hyved_client_on_readonly_socket(client) ?
        HYVED_POLKIT_ACTION_MONITOR : HYVED_POLKIT_ACTION_MANAGE;
    if (!hyved_polkit_check(hyved_client_get_pid(client), hyved_client_get_uid(client),
                            hyved_client_get_start_time(client), action, error)) {
        g_message("polkit: pid %d uid %d refused %s", (int) hyved_client_get_pid(client),
                  (int) hyved_client_get_uid(client), action);
        return FALSE;
    }
    hyved_client_set_authenticated(client);
    ret->complete = 1;
    return TRUE;
}

static gboolean
hyved_remote_connect_supports_feature(HyvedServer *server, HyvedClient *client,
                                      const HyvedHeader *hdr, void *argsp, void *retp,
                                      GError **error)
{
    remote_connect_supports_feature_args *args = argsp;
    remote_connect_supports_feature_ret *ret = retp;

    switch (args->feature) {
    case HYVED_FEATURE_PROGRAM_KEEPALIVE:
        /* Answer 1 only when we will also keep up our side. */
        if (hyved_server_get_config(server)->keepalive_interval > 0) {
            ret->supported = 1;
            hyved_client_enable_keepalive(client);
        }
        break;
    case HYVED_FEATURE_FD_PASSING:
    case HYVED_FEATURE_TYPED_PARAM_STRING:
    case HYVED_FEATURE_REMOTE_EVENT_CALLBACK:
    case HYVED_FEATURE_REMOTE_CLOSE_CALLBACK:
        ret->supported = 1;
        break;
    default:
        ret->supported = 0;     /* migration features: bhyve has none */
        break;
    }
    return TRUE;
}

/* Which names a connection may open; NULL/"" mean the daemon's default. */
static gboolean
uri_accepted(HyvedServer *server, const char *name)
{
    if (g_str_equal(name, "bhyve:///session"))
        return TRUE;
    if (g_str_equal(name, "bhyve:///system"))
        return hyved_server_is_privileged(server);
    return FALSE;
}

static gboolean
hyved_remote_connect_open(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                          void *argsp, void *retp, GError **error)
{
    remote_connect_open_args *args = argsp;
    const char *name = hyved_opt_string(args->name);
    const char *uri;

    /* Other bits are client-side open flags (NO_ALIASES 2, and 4 seen
     * from session clients); libvirtd ignores them too. */
    if (!name || !*name) {
        uri = hyved_server_get_default_uri(server);
    } else if (uri_accepted(server, name)) {
        uri = name;
    } else {
        /* libvirt's virConnectOpen when no driver claims the URI. */
        if (g_str_equal(name, "bhyve:///system"))
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_NO_CONNECT,
                           "this unprivileged virtbhyved only serves bhyve:///session, not '%s'",
                           name);
        else
            hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_NO_CONNECT,
                           "virtbhyved serves bhyve:///system and bhyve:///session, not '%s'",
                           name);
        return FALSE;
    }
    return hyved_client_set_open(client, uri, (args->flags & HYVED_CONNECT_RO) != 0, error);
}

static gboolean
hyved_remote_connect_close(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                           void *args, void *ret, GError **error)
{
    hyved_client_set_closed(client);
    return TRUE;
}

static gboolean
hyved_remote_connect_get_uri(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                             void *args, void *retp, GError **error)
{
    remote_connect_get_uri_ret *ret = retp;

    ret->uri = g_strdup(hyved_client_get_uri(client));
    return TRUE;
}

static gboolean
hyved_remote_connect_is_secure(HyvedServer *server, HyvedClient *client, const HyvedHeader *hdr,
                               void *args, void *retp, GError **error)
{
    remote_connect_is_secure_ret *ret = retp;

    ret->secure = 1;    /* UNIX socket: local only */
    return TRUE;
}

static gboolean
hyved_remote_connect_register_close_callback(HyvedServer *server, HyvedClient *client,
                                             const HyvedHeader *hdr, void *args, void *ret,
                                             GError **error)
{
    hyved_client_set_close_callback(client, hdr->proc == REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK);
    return TRUE;
}

#define PROC_VOID(NAME, fn, pflags) \
    { REMOTE_PROC_##NAME, #NAME, (xdrproc_t) (void (*)(void)) xdr_void, 0, \
      (xdrproc_t) (void (*)(void)) xdr_void, 0, (fn), (pflags) }

const HyvedProcedure hyved_connect_procs[] = {
    HYVED_PROC_R(AUTH_LIST, auth_list, hyved_remote_auth_list,
                 HYVED_PROC_NO_AUTH | HYVED_PROC_NO_OPEN | HYVED_PROC_INLINE),
    HYVED_PROC_R(AUTH_POLKIT, auth_polkit, hyved_remote_auth_polkit,
                 HYVED_PROC_NO_AUTH | HYVED_PROC_NO_OPEN),
    HYVED_PROC_AR(CONNECT_SUPPORTS_FEATURE, connect_supports_feature,
                  hyved_remote_connect_supports_feature, HYVED_PROC_NO_OPEN | HYVED_PROC_INLINE),
    HYVED_PROC_A(CONNECT_OPEN, connect_open, hyved_remote_connect_open,
                 HYVED_PROC_NO_OPEN | HYVED_PROC_INLINE),
    PROC_VOID(CONNECT_CLOSE, hyved_remote_connect_close, HYVED_PROC_INLINE),
    HYVED_PROC_R(CONNECT_GET_URI, connect_get_uri, hyved_remote_connect_get_uri, HYVED_PROC_INLINE),
    HYVED_PROC_R(CONNECT_IS_SECURE, connect_is_secure, hyved_remote_connect_is_secure,
                 HYVED_PROC_INLINE),
    PROC_VOID(CONNECT_REGISTER_CLOSE_CALLBACK, hyved_remote_connect_register_close_callback,
              HYVED_PROC_INLINE),
    PROC_VOID(CONNECT_UNREGISTER_CLOSE_CALLBACK, hyved_remote_connect_register_close_callback,
              HYVED_PROC_INLINE),
};
const size_t hyved_connect_nprocs = G_N_ELEMENTS(hyved_connect_procs);
