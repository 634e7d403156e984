/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_client_state.c: per-connection state that handlers query and
 * change (auth, open, read-only, close callback), and our keepalive PINGs.
 */
#include "hyve-config.h"

#include "hyved_client_priv.h"

/* ---- keepalive ----------------------------------------------------------- */

static gboolean
client_keepalive_tick(gpointer data)
{
    HyvedClient *client = data;
    const HyvedConfig *cfg = client->server->cfg;
    gint64 now = g_get_monotonic_time();
    HyvedHeader ping = {
        .prog = HYVED_PROGRAM_KEEPALIVE, .vers = HYVED_PROGRAM_VERSION,
        .proc = HYVED_KEEPALIVE_PROC_PING, .type = HYVED_TYPE_MESSAGE,
        .serial = 0, .status = HYVED_STATUS_OK,
    };

    if (client->fd < 0)
        return G_SOURCE_REMOVE;
    if (now - client->last_rx < (gint64) cfg->keepalive_interval * G_USEC_PER_SEC)
        return G_SOURCE_CONTINUE;
    if (client->ka_unanswered >= cfg->keepalive_count) {
        g_message("client %" G_GUINT64_FORMAT ": no answer to %u keepalive PINGs, dropping it",
                  client->id, client->ka_unanswered);
        g_mutex_lock(&client->lock);
        client->want_close = TRUE;
        g_mutex_unlock(&client->lock);
        g_main_context_wakeup(client->server->ctx);
        return G_SOURCE_CONTINUE;
    }
    client->ka_unanswered++;
    hyved_client_enqueue(client, hyved_packet_encode(&ping, NULL, NULL, NULL));
    return G_SOURCE_CONTINUE;
}

static gboolean
client_keepalive_start(gpointer data)
{
    HyvedClient *client = data;
    const HyvedConfig *cfg = client->server->cfg;

    if (client->fd < 0 || client->ka_source || cfg->keepalive_interval <= 0)
        return G_SOURCE_REMOVE;
    client->ka_source = g_timeout_source_new_seconds(cfg->keepalive_interval);
    g_source_set_callback(client->ka_source, client_keepalive_tick,
                          hyved_client_ref(client), (GDestroyNotify) hyved_client_unref);
    g_source_attach(client->ka_source, client->server->ctx);
    return G_SOURCE_REMOVE;
}

void
hyved_client_enable_keepalive(HyvedClient *client)
{
    g_mutex_lock(&client->lock);
    client->keepalive = TRUE;
    g_mutex_unlock(&client->lock);
    /* The timer belongs to the I/O thread: started there, never in the
     * caller (g_main_context_invoke() would run it in a worker that can
     * acquire the context once the main loop ended, beside the shutdown
     * closing this client). */
    {
        GSource *idle = g_idle_source_new();

        g_source_set_callback(idle, client_keepalive_start, hyved_client_ref(client),
                              (GDestroyNotify) hyved_client_unref);
        g_source_set_name(idle, "hyved-keepalive-start");
        g_source_attach(idle, client->server->ctx);
        g_source_unref(idle);
    }
}

/* ---- state accessors ------------------------------------------------------- */

#define LOCKED_GET(type, field)                 \
    type v;                                     \
    g_mutex_lock(&client->lock);                \
    v = client->field;                          \
    g_mutex_unlock(&client->lock);              \
    return v

HyvedServer *hyved_client_get_server(HyvedClient *client) { return client->server; }
HyvedAuth hyved_client_get_auth(HyvedClient *client) { return client->auth; }
gboolean hyved_client_on_readonly_socket(HyvedClient *client) { return client->ro_socket; }
pid_t hyved_client_get_pid(HyvedClient *client) { return client->pid; }
guint64 hyved_client_get_start_time(HyvedClient *client) { return client->start_time; }
uid_t hyved_client_get_uid(HyvedClient *client) { return client->uid; }
int hyved_client_get_fd(HyvedClient *client) { return client->fd; }
gboolean hyved_client_is_authenticated(HyvedClient *client) { LOCKED_GET(gboolean, authenticated); }
gboolean hyved_client_is_readonly(HyvedClient *client) { LOCKED_GET(gboolean, readonly); }
gboolean hyved_client_is_open(HyvedClient *client) { LOCKED_GET(gboolean, opened); }

const char *
hyved_client_get_uri(HyvedClient *client)
{
    /* Set once by CONNECT_OPEN and only freed with the client. */
    LOCKED_GET(const char *, uri);
}

void
hyved_client_set_authenticated(HyvedClient *client)
{
    g_mutex_lock(&client->lock);
    client->authenticated = TRUE;
    hyved_server_uncount_unauth_locked(client->server, client);
    g_mutex_unlock(&client->lock);
}

gboolean
hyved_client_set_open(HyvedClient *client, const char *uri, gboolean readonly, GError **error)
{
    g_mutex_lock(&client->lock);
    if (client->opened || client->uri) {
        g_mutex_unlock(&client->lock);
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_INTERNAL_ERROR, "connection already open");
        return FALSE;
    }
    client->opened = TRUE;
    client->uri = g_strdup(uri);
    if (readonly)
        client->readonly = TRUE;
    g_mutex_unlock(&client->lock);
    return TRUE;
}

void
hyved_client_set_closed(HyvedClient *client)
{
    g_mutex_lock(&client->lock);
    client->opened = FALSE;
    client->close_callback = FALSE;
    hyved_events_client_clear(client);
    g_mutex_unlock(&client->lock);
}

void
hyved_client_set_close_callback(HyvedClient *client, gboolean registered)
{
    g_mutex_lock(&client->lock);
    client->close_callback = registered;
    g_mutex_unlock(&client->lock);
}

/* ---- streams --------------------------------------------------------------- */

gboolean
hyved_client_stream_room_locked(HyvedClient *client, GError **error)
{
    guint max = client->server->cfg->max_client_streams;

    if (client->streams->len + client->pending_streams->len < max)
        return TRUE;
    hyve_error_set(error, HYVE_FROM_STREAMS, HYVE_ERR_OPERATION_FAILED,
                   "too many streams on this connection (max_client_streams = %u)", max);
    return FALSE;
}

gboolean
hyved_client_check_stream_room(HyvedClient *client, GError **error)
{
    gboolean ok;

    g_mutex_lock(&client->lock);
    ok = hyved_client_stream_room_locked(client, error);
    g_mutex_unlock(&client->lock);
    return ok;
}
