/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_events.c: per-client event registrations and the fan-out of driver
 * events to the clients that registered for them.
 *
 * Each event is encoded once per wire form (legacy / callback). Callback
 * messages start their payload with the callbackID, which is patched per
 * registration into a copy; every packet then goes through the client's
 * output queue, so a client sees its events in the order they happened.
 */
#include "hyve-config.h"

#include <string.h>

#include "hyved_client_priv.h"
#include "hyve_network.h"


/* Offset of the first payload word: length word + 24-byte header. */
#define HYVED_PAYLOAD_OFFSET (HYVED_MESSAGE_LEN_MAX + HYVED_MESSAGE_HEADER_MAX)

/* Event registrations one connection may hold: each is one MESSAGE per
 * matching event, so one define must not fan out into unbounded traffic.
 * libvirt has no such cap; past it: OPERATION_FAILED from RPC. */
#define HYVED_CLIENT_EVENTS_MAX 1024

void
hyved_events_client_init(HyvedClient *client)
{
    client->events = g_array_new(FALSE, TRUE, sizeof(HyvedEventReg));
    client->next_callback_id = 1;
}

void
hyved_events_client_clear(HyvedClient *client)
{
    g_array_set_size(client->events, 0);
}

int
hyved_client_add_event_callback(HyvedClient *client, HyvedEventKind kind, int event_id,
                                const guint8 *filter_uuid, gboolean legacy, GError **error)
{
    HyvedEventReg reg = { .kind = kind, .event_id = event_id, .legacy = legacy };
    int id;

    g_mutex_lock(&client->lock);
    if (client->events->len >= HYVED_CLIENT_EVENTS_MAX) {
        g_mutex_unlock(&client->lock);
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_FAILED,
                       "too many event registrations on this connection (max %d)",
                       HYVED_CLIENT_EVENTS_MAX);
        return -1;
    }
    if (legacy) {
        for (guint i = 0; i < client->events->len; i++) {
            HyvedEventReg *r = &g_array_index(client->events, HyvedEventReg, i);
            if (r->legacy && r->kind == kind && r->event_id == event_id) {
                g_mutex_unlock(&client->lock);
                hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_INVALID,
                               "domain event %d already registered", event_id);
                return -1;
            }
        }
    }
    if (filter_uuid) {
        reg.has_filter = TRUE;
        memcpy(reg.uuid, filter_uuid, HYVE_UUID_LEN);
    }
    id = reg.callback_id = client->next_callback_id++;
    g_array_append_val(client->events, reg);
    g_mutex_unlock(&client->lock);
    return id;
}

static gboolean
remove_where(HyvedClient *client, HyvedEventKind kind, gboolean legacy, int key)
{
    gboolean found = FALSE;

    g_mutex_lock(&client->lock);
    for (guint i = 0; i < client->events->len; i++) {
        HyvedEventReg *r = &g_array_index(client->events, HyvedEventReg, i);
        if (r->kind == kind && r->legacy == legacy &&
            (legacy ? r->event_id : r->callback_id) == key) {
            g_array_remove_index(client->events, i);
            found = TRUE;
            break;
        }
    }
    g_mutex_unlock(&client->lock);
    return found;
}

static const char *const kind_names[HYVED_EVENT_KIND_LAST] = {
    "domain", "network", "storage pool", "node device", "secret",
};

gboolean
hyved_client_remove_event_callback(HyvedClient *client, HyvedEventKind kind,
                                   int callback_id, GError **error)
{
    if (remove_where(client, kind, FALSE, callback_id))
        return TRUE;
    hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_INVALID,
                   "%s event callback %d not registered", kind_names[kind], callback_id);
    return FALSE;
}

gboolean
hyved_client_remove_legacy_event(HyvedClient *client, HyvedEventKind kind,
                                 int event_id, GError **error)
{
    if (remove_where(client, kind, TRUE, event_id))
        return TRUE;
    hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_OPERATION_INVALID,
                   "%s event %d not registered", kind_names[kind], event_id);
    return FALSE;
}

/* ---- fan-out ------------------------------------------------------------ */

typedef struct {
    const HyveDomainEvent *event;
    GBytes *legacy;         /* NULL: this event id has no legacy form */
    GBytes *callback;       /* callbackID 0, patched per registration */
} HyvedEventPackets;

static GBytes *
encode_message(gint32 proc, xdrproc_t filter, void *msg)
{
    g_autoptr(GError) err = NULL;
    HyvedHeader hdr = {
        .prog = HYVED_PROGRAM_REMOTE, .vers = HYVED_PROGRAM_VERSION, .proc = proc,
        .type = HYVED_TYPE_MESSAGE, .serial = 0, .status = HYVED_STATUS_OK,
    };
    GBytes *pkt = hyved_packet_encode(&hdr, filter, msg, &err);

    if (!pkt)
        g_warning("cannot encode event %d: %s", proc, err->message);
    return pkt;
}

static void
encode_event(const HyveDomainEvent *ev, HyvedEventPackets *out)
{
    remote_nonnull_domain dom = { .name = ev->name, .id = ev->dom_id };

    memcpy(dom.uuid, ev->uuid, HYVE_UUID_LEN);
    switch ((int) ev->id) {
    case HYVE_DOMAIN_EVENT_ID_LIFECYCLE: {
        remote_domain_event_callback_lifecycle_msg cb = {
            .callbackID = 0, .msg = { .dom = dom, .event = ev->event, .detail = ev->detail },
        };
        out->legacy = encode_message(REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE,
                                     (xdrproc_t) xdr_remote_domain_event_lifecycle_msg, &cb.msg);
        out->callback = encode_message(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                                       (xdrproc_t) xdr_remote_domain_event_callback_lifecycle_msg, &cb);
        break;
    }
    case HYVE_DOMAIN_EVENT_ID_REBOOT: {
        remote_domain_event_callback_reboot_msg cb = { .callbackID = 0, .msg = { .dom = dom } };
        out->legacy = encode_message(REMOTE_PROC_DOMAIN_EVENT_REBOOT,
                                     (xdrproc_t) xdr_remote_domain_event_reboot_msg, &cb.msg);
        out->callback = encode_message(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
                                       (xdrproc_t) xdr_remote_domain_event_callback_reboot_msg, &cb);
        break;
    }
    case HYVE_DOMAIN_EVENT_ID_METADATA_CHANGE: {
        char *nsuri = ev->nsuri;
        remote_domain_event_callback_metadata_change_msg cb = {
            .callbackID = 0, .dom = dom, .type = ev->detail, .nsuri = nsuri ? &nsuri : NULL,
        };
        out->callback = encode_message(REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE,
                                       (xdrproc_t) xdr_remote_domain_event_callback_metadata_change_msg,
                                       &cb);
        break;
    }
    default:
        g_debug("domain event id %d has no wire encoding yet; dropped", ev->id);
        break;
    }
}

static GBytes *
with_callback_id(GBytes *pkt, int callback_id)
{
    gsize size = 0;
    const guint8 *data = g_bytes_get_data(pkt, &size);
    guint8 *copy = g_memdup2(data, size);
    guint32 be = GUINT32_TO_BE((guint32) callback_id);

    memcpy(copy + HYVED_PAYLOAD_OFFSET, &be, 4);
    return g_bytes_new_take(copy, size);
}

static void
deliver_to_client(HyvedClient *client, gpointer data)
{
    HyvedEventPackets *pk = data;
    const HyveDomainEvent *ev = pk->event;

    g_mutex_lock(&client->lock);
    for (guint i = 0; !client->closed && i < client->events->len; i++) {
        HyvedEventReg *r = &g_array_index(client->events, HyvedEventReg, i);

        if (r->kind != HYVED_EVENT_DOMAIN || r->event_id != (int) ev->id)
            continue;
        if (r->has_filter && memcmp(r->uuid, ev->uuid, HYVE_UUID_LEN) != 0)
            continue;
        if (r->legacy && pk->legacy)
            hyved_client_enqueue_locked(client, g_bytes_ref(pk->legacy));
        else if (!r->legacy && pk->callback)
            hyved_client_enqueue_locked(client, with_callback_id(pk->callback, r->callback_id));
    }
    hyved_client_unlock(client);
}

void
hyved_events_sink(const HyveDomainEvent *event, gpointer data)
{
    HyvedServer *server = data;
    HyvedEventPackets pk = { .event = event };
    /* Serialise fan-outs so that every client sees events in one order. */
    static GMutex sink_lock;

    g_mutex_lock(&sink_lock);
    encode_event(event, &pk);
    if (pk.legacy || pk.callback)
        hyved_server_foreach_client(server, deliver_to_client, &pk);
    g_mutex_unlock(&sink_lock);
    g_clear_pointer(&pk.legacy, g_bytes_unref);
    g_clear_pointer(&pk.callback, g_bytes_unref);
}

/* ---- storage pool and network events ------------------------------------- */

typedef struct {
    HyvedEventKind kind;
    int event_id;
    const guint8 *uuid;
    GBytes *callback;       /* callbackID 0, patched per registration */
} HyvedObjectEventPacket;

/* Callback registrations only (pools and networks have no legacy form). */
static void
deliver_object_event(HyvedClient *client, gpointer data)
{
    HyvedObjectEventPacket *pk = data;

    g_mutex_lock(&client->lock);
    for (guint i = 0; !client->closed && i < client->events->len; i++) {
        HyvedEventReg *r = &g_array_index(client->events, HyvedEventReg, i);

        if (r->kind != pk->kind || r->event_id != pk->event_id || r->legacy)
            continue;
        if (r->has_filter && memcmp(r->uuid, pk->uuid, HYVE_UUID_LEN) != 0)
            continue;
        hyved_client_enqueue_locked(client, with_callback_id(pk->callback, r->callback_id));
    }
    hyved_client_unlock(client);
}

void
hyved_events_pool_sink(const HyvePoolEvent *event, gpointer data)
{
    HyvedServer *server = data;
    remote_nonnull_storage_pool pool = { .name = event->name };
    HyvedObjectEventPacket pk = {
        .kind = HYVED_EVENT_STORAGE_POOL, .event_id = event->id, .uuid = event->uuid,
    };
    static GMutex sink_lock;

    memcpy(pool.uuid, event->uuid, HYVE_UUID_LEN);
    if (event->id == HYVE_POOL_EVENT_ID_LIFECYCLE) {
        remote_storage_pool_event_lifecycle_msg msg = {
            .callbackID = 0, .pool = pool, .event = event->event, .detail = event->detail,
        };
        pk.callback = encode_message(REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE,
                                     (xdrproc_t) xdr_remote_storage_pool_event_lifecycle_msg,
                                     &msg);
    } else if (event->id == HYVE_POOL_EVENT_ID_REFRESH) {
        remote_storage_pool_event_refresh_msg msg = { .callbackID = 0, .pool = pool };
        pk.callback = encode_message(REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH,
                                     (xdrproc_t) xdr_remote_storage_pool_event_refresh_msg,
                                     &msg);
    } else {
        g_debug("storage pool event id %d has no wire encoding; dropped", event->id);
    }
    if (!pk.callback)
        return;
    /* one order for every client, as domain events */
    g_mutex_lock(&sink_lock);
    hyved_server_foreach_client(server, deliver_object_event, &pk);
    g_mutex_unlock(&sink_lock);
    g_bytes_unref(pk.callback);
}

/* ---- network events ------------------------------------------------------- */

/* The network sink (a HyveNetEventSink); hyved_server.c installs it. */

void
hyved_events_network_sink(const HyveNetEvent *event, gpointer data)
{
    HyvedServer *server = data;
    remote_network_event_lifecycle_msg msg = {
        .callbackID = 0, .net = { .name = event->name }, .event = event->event,
        .detail = event->detail,
    };
    HyvedObjectEventPacket pk = {
        .kind = HYVED_EVENT_NETWORK, .event_id = 0 /* VIR_NETWORK_EVENT_ID_LIFECYCLE */,
        .uuid = event->uuid,
    };
    static GMutex sink_lock;

    memcpy(msg.net.uuid, event->uuid, HYVE_UUID_LEN);
    pk.callback = encode_message(REMOTE_PROC_NETWORK_EVENT_LIFECYCLE,
                                 (xdrproc_t) xdr_remote_network_event_lifecycle_msg, &msg);
    if (!pk.callback)
        return;
    /* one order for every client, as domain and pool events */
    g_mutex_lock(&sink_lock);
    hyved_server_foreach_client(server, deliver_object_event, &pk);
    g_mutex_unlock(&sink_lock);
    g_bytes_unref(pk.callback);
}
