/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_stream_abort.c: the daemon ends a stream of hyved_stream.c itself
 * (hyved_stream_abort, any thread: a console taken over with FORCE): the
 * client gets a STREAM/ERROR packet carrying the error, after the reply of
 * the call that opened it; the owner's end callback runs as for any end.
 */
#include "hyve-config.h"

#include "hyved_stream_priv.h"

/* ---- the daemon ends a stream ------------------------------------------- */

typedef struct {
    HyvedStream *st;            /* a reference */
    GError *error;
} HyvedStreamAbort;

static void
stream_abort_free(gpointer data)
{
    HyvedStreamAbort *a = data;

    g_source_unref(&a->st->base);
    g_clear_error(&a->error);
    g_free(a);
}

/* I/O thread. */
static gboolean
stream_abort_io(gpointer data)
{
    HyvedStreamAbort *a = data;
    HyvedStream *st = a->st;
    g_autoptr(HyvedClient) client = NULL;
    GBytes *pkt = NULL;
    gboolean live;

    g_mutex_lock(&st->lock);
    if (st->linked)
        client = hyved_client_ref(st->client);
    g_mutex_unlock(&st->lock);
    if (!client)
        return G_SOURCE_REMOVE;         /* ended already */

    g_mutex_lock(&client->lock);
    live = g_ptr_array_remove(client->streams, st);
    if (live) {
        /* even after EOF: a client waiting for its finish to be confirmed
         * gets this error instead */
        hyved_stream_unlink(st);
        /* a framed stream the client aborted gets the confirmation it waits for */
        pkt = st->aborting ? hyved_stream_status_packet(st, HYVED_STATUS_OK, NULL, 0)
                           : hyved_stream_error_packet(st, a->error);
    } else if (!st->abort_pending) {
        /* still pending: ends once the reply of its call is queued */
        st->abort_pending = TRUE;
        st->abort_error = g_steal_pointer(&a->error);
    }
    g_mutex_unlock(&client->lock);
    if (live) {
        /* fd closed and end callback run before the client can see the
         * packet (it may be written at once) */
        hyved_stream_destroy(st);     /* the list's reference */
        hyved_client_enqueue(client, pkt);
    }
    return G_SOURCE_REMOVE;
}

void
hyved_stream_abort(HyvedStream *st, const GError *error)
{
    HyvedStreamAbort *a = g_new0(HyvedStreamAbort, 1);

    a->st = hyved_stream_ref(st);
    a->error = error ? g_error_copy(error) : NULL;
    hyved_stream_defer(st, stream_abort_io, a, stream_abort_free);
}
