/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_server.c: the server: its clients, the worker pool that runs
 * calls, the main loop and the idle timeout. Listening sockets and
 * accept(): hyved_listener.c.
 */
#include "hyve-config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hyved_client_priv.h"
#include "hyve_network.h"

/* One call, owned by one thread at a time: built on the I/O thread, handed
 * to a worker by g_thread_pool_push(), freed there. No lock. */
typedef struct {
    HyvedClient *client;        /* one reference */
    HyvedHeader hdr;
    guint8 *pkt;
    guint32 pkt_len;
    gsize payload_offset;
    GArray *fds;
} HyvedJob;

/* ---- calls -------------------------------------------------------------- */

/* Any thread: something happened; the idle timeout counts from now. */
static void
server_touch(HyvedServer *server)
{
    g_mutex_lock(&server->lock);
    server->last_activity = g_get_monotonic_time();
    g_mutex_unlock(&server->lock);
}

static void
job_free(HyvedJob *job)
{
    if (job->fds) {
        /* No procedure keeps passed descriptors yet: close them all. */
        for (guint i = 0; i < job->fds->len; i++)
            close(g_array_index(job->fds, int, i));
        g_array_free(job->fds, TRUE);
    }
    g_free(job->pkt);
    hyved_client_unref(job->client);
    g_free(job);
}

/* Any thread: dispatches one call and queues (or sends) its reply. */
static void
call_run(HyvedClient *client, const HyvedHeader *hdr, const guint8 *payload, gsize len)
{
    GBytes *reply = hyved_dispatch_call(client->server, client, hdr, payload, len);
    gsize size = 0;
    const guint8 *bytes = g_bytes_get_data(reply, &size);
    /* status word of the reply: after length, prog, vers, proc, type, serial */
    gboolean ok = size >= 28 && GUINT32_FROM_BE(*(const guint32 *) (bytes + 24)) == HYVED_STATUS_OK;

    g_mutex_lock(&client->lock);
    hyved_client_enqueue_reply_locked(client, reply);
    hyved_streams_call_done_locked(client, hdr->serial, ok);
    hyved_client_unlock(client);
}

static void
job_run(HyvedJob *job)
{
    call_run(job->client, &job->hdr, job->pkt + job->payload_offset,
             job->pkt_len - job->payload_offset);
    job_free(job);
}

static void
worker_func(gpointer data, gpointer user_data)
{
    HyvedServer *server = user_data;

    job_run(data);
    /* a call whose client left meanwhile (a domain create) restarts the
     * idle timeout when it ends */
    server_touch(server);
    g_atomic_int_dec_and_test(&server->busy_workers);
}

static void
prio_worker_func(gpointer data, gpointer user_data)
{
    HyvedServer *server = user_data;

    job_run(data);
    server_touch(server);
    g_atomic_int_dec_and_test(&server->busy_prio);
}

/* Calls that may jump to the priority workers (as libvirt's "priority:
 * high" ones) while every worker is busy: destroying a domain, so that an
 * administrator can still kill what is stuck. Looking needs no worker:
 * the cheap reads are HYVED_PROC_INLINE and run on the I/O thread. The
 * other reads may contact a runner or wait for a domain job (statistics,
 * vCPU and memory queries, ...): as priority calls, a polling client and
 * a silent runner would fill the priority workers too. */
static gboolean
proc_is_priority(const HyvedProcedure *proc)
{
    return proc->proc == REMOTE_PROC_DOMAIN_DESTROY || proc->proc == REMOTE_PROC_DOMAIN_DESTROY_FLAGS;
}

/* Whether @proc runs on the I/O thread now; TRUE leaves the driver's
 * config writers held off until hyve_driver_inline_end. */
static gboolean
inline_begin(HyvedServer *server, const HyvedProcedure *proc)
{
    if (!(proc->flags & HYVED_PROC_INLINE))
        return FALSE;
    return !server->driver || hyve_driver_inline_try_begin(server->driver);
}

void
hyved_server_queue_call(HyvedServer *server, HyvedClient *client,
                        const HyvedHeader *hdr, const guint8 *pkt, guint32 pkt_len,
                        gsize payload_offset, GArray *fds)
{
    const HyvedProcedure *proc = NULL;
    HyvedJob *job;
    gboolean gated = FALSE;

    g_mutex_lock(&client->lock);
    client->inflight++;
    g_mutex_unlock(&client->lock);

    if (hdr->prog == HYVED_PROGRAM_REMOTE && hdr->vers == HYVED_PROGRAM_VERSION)
        proc = hyved_dispatch_find(hdr->proc);
    /* Errors (unknown program/procedure) and inline procedures are
     * answered right here on the I/O thread, from the read buffer; an
     * inline one only while no persistent-config writer holds the locks
     * it takes across file writes (else a worker answers it). */
    if (!proc || hdr->status != HYVED_STATUS_OK || (gated = inline_begin(server, proc))) {
        call_run(client, hdr, pkt + payload_offset, pkt_len - payload_offset);
        if (gated && server->driver)
            hyve_driver_inline_end(server->driver);
        if (fds) {
            /* no procedure keeps passed descriptors yet */
            for (guint i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
            g_array_free(fds, TRUE);
        }
        return;
    }

    job = g_new0(HyvedJob, 1);
    job->client = hyved_client_ref(client);
    job->hdr = *hdr;
    job->pkt = g_memdup2(pkt, pkt_len);
    job->pkt_len = pkt_len;
    job->payload_offset = payload_offset;
    job->fds = fds;
    /* every worker taken (running or queued): a destroy goes to the
     * priority workers instead of waiting behind them */
    if (server->prio_workers && proc_is_priority(proc) &&
        (guint) g_atomic_int_get(&server->busy_workers) >= server->cfg->max_workers) {
        g_atomic_int_inc(&server->busy_prio);
        g_thread_pool_push(server->prio_workers, job, NULL);
        return;
    }
    g_atomic_int_inc(&server->busy_workers);
    g_thread_pool_push(server->workers, job, NULL);
}

/* ---- clients ------------------------------------------------------------ */

/* A session daemon serves its own user only. Its socket (mode 0700 in a
 * 0700 directory) already keeps the others out, but root, or a socket
 * file made reachable by mistake, would get through that. */
static gboolean
session_peer_allowed(HyvedServer *server, int fd)
{
    struct ucred cred = { .pid = -1, .uid = (uid_t) -1, .gid = (gid_t) -1 };
    socklen_t len = sizeof(cred);

    if (server->privileged)
        return TRUE;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        g_message("session daemon: cannot read a new client's credentials (%s), "
                  "closing the connection", g_strerror(errno));
        return FALSE;
    }
    if (cred.uid != geteuid()) {
        g_message("session daemon of uid %d: refusing a client of uid %d (pid %d)",
                  (int) geteuid(), (int) cred.uid, (int) cred.pid);
        return FALSE;
    }
    return TRUE;
}

/* I/O thread: the connection @fd accepted on @listener becomes a client,
 * unless max_clients are connected already (then it is closed). */
void
hyved_server_add_client(HyvedServer *server, int fd, const HyvedListener *listener)
{
    HyvedClient *client;

    if (!session_peer_allowed(server, fd)) {
        close(fd);
        return;
    }
    g_mutex_lock(&server->lock);
    if (server->clients->len >= server->cfg->max_clients) {
        g_mutex_unlock(&server->lock);
        g_message("too many clients (max_clients = %u), closing a new connection",
                  server->cfg->max_clients);
        close(fd);
        return;
    }
    if (listener->auth != HYVED_AUTH_NONE && server->cfg->max_anonymous_clients &&
        server->n_unauth >= server->cfg->max_anonymous_clients) {
        g_mutex_unlock(&server->lock);
        g_message("too many unauthenticated clients (max_anonymous_clients = %u), "
                  "closing a new connection", server->cfg->max_anonymous_clients);
        close(fd);
        return;
    }
    client = hyved_client_new(server, fd, listener);
    client->id = ++server->next_client_id;
    if (!client->authenticated) {
        client->unauth_counted = TRUE;
        server->n_unauth++;
    }
    g_ptr_array_add(server->clients, client);   /* the list's reference */
    server->last_activity = g_get_monotonic_time();
    g_mutex_unlock(&server->lock);

    g_debug("client %" G_GUINT64_FORMAT ": connected on %s (pid %d uid %d)",
            client->id, listener->path, (int) client->pid, (int) client->uid);
    hyved_client_start(client);
}

void
hyved_server_remove_client(HyvedServer *server, HyvedClient *client)
{
    gboolean found;

    g_mutex_lock(&server->lock);
    found = g_ptr_array_remove(server->clients, client);
    if (found)
        server->last_activity = g_get_monotonic_time();
    g_mutex_unlock(&server->lock);
    if (found)
        hyved_client_unref(client);
}

void
hyved_server_uncount_unauth_locked(HyvedServer *server, HyvedClient *client)
{
    if (!client->unauth_counted)
        return;
    client->unauth_counted = FALSE;
    g_mutex_lock(&server->lock);
    server->n_unauth--;
    g_mutex_unlock(&server->lock);
}

guint
hyved_server_num_clients(HyvedServer *server)
{
    guint n;

    g_mutex_lock(&server->lock);
    n = server->clients->len;
    g_mutex_unlock(&server->lock);
    return n;
}

void
hyved_server_foreach_client(HyvedServer *server,
                            void (*func)(HyvedClient *client, gpointer user_data),
                            gpointer user_data)
{
    g_autoptr(GPtrArray) snapshot = g_ptr_array_new_with_free_func((GDestroyNotify) hyved_client_unref);

    g_mutex_lock(&server->lock);
    for (guint i = 0; i < server->clients->len; i++)
        g_ptr_array_add(snapshot, hyved_client_ref(server->clients->pdata[i]));
    g_mutex_unlock(&server->lock);
    for (guint i = 0; i < snapshot->len; i++)
        func(snapshot->pdata[i], user_data);
}

/* ---- server ------------------------------------------------------------- */

/* Busy polling, as KVM's halt polling does for vCPUs: after the I/O
 * thread handled something it keeps polling its descriptors without
 * sleeping for up to busy_poll_us, and only then blocks in poll(). A client
 * that sends calls back to back (a script, virsh with a batch, a GUI
 * refreshing its lists) finds the thread awake, so neither side pays for a
 * sleep and a wakeup per call: on a virtualized host a cross-CPU wakeup
 * (an IPI, a vCPU leaving HLT) costs more than the call itself (measured:
 * python lookups by name 2.5x faster with 100 us). An idle daemon never
 * spins: the window opens only when poll() found something. Nor does it
 * spin while a worker runs a call: the next call cannot come before that
 * reply, and the worker (or the client it wakes) needs the CPU more (a
 * spinning I/O thread made python's undefine loop 20% slower). The spin
 * yields to other runnable threads and never delays a timer. GLib's poll
 * function takes no user data: the server whose loop runs on this thread
 * is found through poll_server, set by hyved_server_run (a context
 * iterated elsewhere polls plainly). */
static __thread HyvedServer *poll_server;

static gint
server_poll(GPollFD *fds, guint nfds, gint timeout)
{
    static __thread gint64 spin_until;      /* monotonic us */
    HyvedServer *server = poll_server;
    gint64 now = g_get_monotonic_time();
    gint r;

    if (server && timeout != 0 && now < spin_until &&
        g_atomic_int_get(&server->busy_workers) == 0 &&
        g_atomic_int_get(&server->busy_prio) == 0) {
        gint64 end = spin_until, deadline = now + (gint64) timeout * 1000;

        if (timeout > 0 && deadline < end)
            end = deadline;
        do {
            r = g_poll(fds, nfds, 0);
            if (r != 0)
                goto out;
            sched_yield();
        } while (g_get_monotonic_time() < end);
        /* what is left of the caller's timeout */
        if (timeout > 0) {
            gint64 left = deadline - g_get_monotonic_time();

            timeout = left > 0 ? (gint) ((left + 999) / 1000) : 0;
        }
    }
    r = g_poll(fds, nfds, timeout);
out:
    if (r > 0 && server)
        spin_until = g_get_monotonic_time() + server->cfg->busy_poll_us;
    return r;
}

HyvedServer *
hyved_server_new(const HyvedConfig *cfg, HyveDriver *driver, gboolean privileged,
                 GMainContext *ctx, GError **error)
{
    HyvedServer *server = g_new0(HyvedServer, 1);
    GError *local = NULL;

    server->cfg = cfg;
    server->driver = driver;
    server->privileged = privileged;
    server->default_uri = g_strdup(privileged ? "bhyve:///system" : "bhyve:///session");
    server->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_new();
    server->loop = g_main_loop_new(server->ctx, FALSE);
    if (cfg->busy_poll_us > 0)
        g_main_context_set_poll_func(server->ctx, server_poll);
    server->listeners = g_ptr_array_new_with_free_func((GDestroyNotify) hyved_listener_free);
    server->clients = g_ptr_array_new();
    server->last_activity = g_get_monotonic_time();
    g_mutex_init(&server->lock);
    server->workers = g_thread_pool_new(worker_func, server, cfg->max_workers, FALSE, &local);
    if (server->workers && cfg->prio_workers)
        server->prio_workers = g_thread_pool_new(prio_worker_func, server, cfg->prio_workers,
                                                 FALSE, &local);
    if (!server->workers || (cfg->prio_workers && !server->prio_workers)) {
        hyve_error_set(error, HYVE_FROM_RPC, HYVE_ERR_SYSTEM_ERROR,
                       "cannot start worker threads: %s", local->message);
        g_error_free(local);
        hyved_server_free(server);
        return NULL;
    }
    if (driver) {
        HyveStorage *storage = hyve_driver_get_storage(driver);
        HyveNetworks *nets = hyve_driver_get_networks(driver);

        hyve_driver_set_event_sink(driver, hyved_events_sink, server);
        if (storage)
            hyve_storage_set_event_sink(storage, hyved_events_pool_sink, server);
        if (nets)
            hyve_networks_set_event_sink(nets, hyved_events_network_sink, server);
    }
    return server;
}

/* What keeps the daemon up besides its clients: calls running or queued
 * on either worker pool (a client may send a domain create and leave),
 * running domains, active networks (a clean exit would tear transient
 * networks down). A domain start runs in a worker until the domain is
 * active. */
static gboolean
server_busy(HyvedServer *server)
{
    HyveNetworks *nets = server->driver ? hyve_driver_get_networks(server->driver) : NULL;

    return g_atomic_int_get(&server->busy_workers) > 0 ||
        g_atomic_int_get(&server->busy_prio) > 0 ||
        (server->driver && hyve_driver_num_domains(server->driver, TRUE) > 0) ||
        (nets && hyve_networks_num(nets, TRUE) > 0);
}

/* Once a second: exits when nothing happened for idle_timeout seconds.
 * Connects and disconnects set last_activity themselves, so a client that
 * came and went between two checks still counts. */
static gboolean
server_idle_tick(gpointer data)
{
    HyvedServer *server = data;
    gboolean busy = server_busy(server);
    gint64 now = g_get_monotonic_time();
    gint64 idle;

    if (server->idle_timeout == 0)
        return G_SOURCE_CONTINUE;
    g_mutex_lock(&server->lock);
    if (busy || server->clients->len > 0)
        server->last_activity = now;
    idle = now - server->last_activity;
    g_mutex_unlock(&server->lock);
    if (idle >= (gint64) server->idle_timeout * G_USEC_PER_SEC) {
        g_message("idle for %u seconds (no clients, calls, running domains or "
                  "active networks), exiting", server->idle_timeout);
        g_main_loop_quit(server->loop);
    }
    return G_SOURCE_CONTINUE;
}

void
hyved_server_set_idle_timeout(HyvedServer *server, guint seconds)
{
    server->idle_timeout = seconds;
    server_touch(server);
    if (server->idle_source || seconds == 0)
        return;
    /* not g_timeout_source_new_seconds: its ticks may come late by up to
     * a second (grouped with other wakeups) */
    server->idle_source = g_timeout_source_new(1000);
    g_source_set_callback(server->idle_source, server_idle_tick, server, NULL);
    g_source_attach(server->idle_source, server->ctx);
}

void
hyved_server_run(HyvedServer *server)
{
    HyvedServer *outer = poll_server;

    poll_server = server;
    g_main_loop_run(server->loop);
    poll_server = outer;
}

void
hyved_server_quit(HyvedServer *server)
{
    g_main_loop_quit(server->loop);
    g_main_context_wakeup(server->ctx);
}

void
hyved_server_free(HyvedServer *server)
{
    if (!server)
        return;
    if (server->cfg->busy_poll_us > 0)
        g_main_context_set_poll_func(server->ctx, NULL);    /* back to g_poll */
    if (server->driver) {
        HyveStorage *storage = hyve_driver_get_storage(server->driver);
        HyveNetworks *nets = hyve_driver_get_networks(server->driver);

        hyve_driver_set_event_sink(server->driver, NULL, NULL);
        if (storage)
            hyve_storage_set_event_sink(storage, NULL, NULL);
        if (nets)
            hyve_networks_set_event_sink(nets, NULL, NULL);
    }
    if (server->idle_source) {
        g_source_destroy(server->idle_source);
        g_source_unref(server->idle_source);
    }
    g_ptr_array_free(server->listeners, TRUE);
    /* Drop the connections, then let running calls finish. */
    while (server->clients && hyved_server_num_clients(server) > 0) {
        HyvedClient *client;
        g_mutex_lock(&server->lock);
        client = hyved_client_ref(server->clients->pdata[0]);
        g_mutex_unlock(&server->lock);
        hyved_client_close(client);
        hyved_server_remove_client(server, client);
        hyved_client_unref(client);
    }
    if (server->workers)
        g_thread_pool_free(server->workers, FALSE, TRUE);
    if (server->prio_workers)
        g_thread_pool_free(server->prio_workers, FALSE, TRUE);
    g_ptr_array_free(server->clients, TRUE);
    g_main_loop_unref(server->loop);
    g_main_context_unref(server->ctx);
    g_mutex_clear(&server->lock);
    g_free(server->default_uri);
    g_free(server);
}

HyveDriver *hyved_server_get_driver(HyvedServer *server) { return server->driver; }
const HyvedConfig *hyved_server_get_config(HyvedServer *server) { return server->cfg; }
gboolean hyved_server_is_privileged(HyvedServer *server) { return server->privileged; }
const char *hyved_server_get_default_uri(HyvedServer *server) { return server->default_uri; }
