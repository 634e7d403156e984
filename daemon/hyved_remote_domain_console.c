/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_remote_domain_console.c: DOMAIN_OPEN_CONSOLE (libvirt-rpc.md §2.8,
 * §3 "virsh console") and who holds a domain's console.
 *
 * The driver opens the console's pty (hyve_driver_domain_open_console);
 * the fd becomes the stream of the call (hyved_client_open_stream). A
 * domain has at most one console holder, daemon-wide, as libvirt's
 * chrdev table: a second open fails unless it has FORCE, which aborts the
 * holder's stream (its client gets "stream had I/O failure", what libvirtd
 * sends when a console is taken over) and takes its place. The holder is
 * released when its stream ends (guest gone: EOF; client finish, abort or
 * disconnect).
 */
#include "hyve-config.h"

#include <unistd.h>

#include "hyved_remote_util.h"
#include "hyved_server.h"

/* libvirt virDomainConsoleFlags */
#define HYVED_CONSOLE_FORCE (1u << 0)
#define HYVED_CONSOLE_SAFE  (1u << 1)   /* every hyve console is safe */

/* Holders: "<server>/<uuid>" -> HyvedStream (a reference). The server is
 * part of the key so that servers in one process (unit tests) do not share. */
static GMutex console_lock;
static GHashTable *console_holders;     /* [console_lock] */

static char *
console_key(HyvedServer *server, HyveDomainObj *obj)
{
    HyveDomainIdent ident = { 0 };
    GString *key = g_string_new(NULL);

    hyve_domain_obj_get_ident(obj, &ident);
    g_string_append_printf(key, "%p/", (void *) server);
    for (guint i = 0; i < HYVE_UUID_LEN; i++)
        g_string_append_printf(key, "%02x", ident.uuid[i]);
    hyve_domain_ident_clear(&ident);
    return g_string_free(key, FALSE);
}

/* [console_lock] */
static GHashTable *
console_table(void)
{
    if (!console_holders)
        console_holders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                (GDestroyNotify) hyved_stream_unref);
    return console_holders;
}

/* Stream end callback (I/O thread, no lock held): release the console if
 * this stream still holds it. */
static void
console_stream_ended(HyvedStream *stream, gpointer key)
{
    gpointer held_key = NULL;
    gpointer held = NULL;

    g_mutex_lock(&console_lock);
    if (g_hash_table_lookup(console_table(), key) == stream)
        g_hash_table_steal_extended(console_table(), key, &held_key, &held);
    g_mutex_unlock(&console_lock);
    g_free(held_key);
    hyved_stream_unref(held);
}

static gboolean
console_busy(const char *key)
{
    gboolean busy;

    g_mutex_lock(&console_lock);
    busy = g_hash_table_contains(console_table(), key);
    g_mutex_unlock(&console_lock);
    return busy;
}

static void
console_set_busy_error(GError **error)
{
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                   "Active console session exists for this domain");
}

static gboolean
hyved_remote_domain_open_console(HyvedServer *server, HyvedClient *client,
                                 const HyvedHeader *hdr, void *argsp, void *retp,
                                 GError **error)
{
    remote_domain_open_console_args *args = argsp;
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(HyvedStream) old = NULL;
    g_autoptr(HyvedStream) stream = NULL;
    g_autofree char *key = NULL;
    gboolean force = (args->flags & HYVED_CONSOLE_FORCE) != 0;
    int fd;

    if (!hyved_check_flags_here(args->flags, HYVED_CONSOLE_FORCE | HYVED_CONSOLE_SAFE, error))
        return FALSE;
    obj = hyved_domain_lookup(server, &args->dom, error);
    if (!obj)
        return FALSE;
    key = console_key(server, obj);
    /* refuse before touching the pty; checked again below under the lock
     * (the driver call may wait for the domain, not with the lock held) */
    if (!force && console_busy(key)) {
        console_set_busy_error(error);
        return FALSE;
    }
    fd = hyve_driver_domain_open_console(hyved_server_get_driver(server), obj,
                                         hyved_opt_string(args->dev_name), error);
    if (fd < 0)
        return FALSE;

    g_mutex_lock(&console_lock);
    if (!force && g_hash_table_contains(console_table(), key)) {
        g_mutex_unlock(&console_lock);
        close(fd);
        console_set_busy_error(error);
        return FALSE;
    }
    stream = hyved_client_open_stream(client, hdr, fd, console_stream_ended,
                                      g_strdup(key), g_free, error);
    if (!stream) {
        g_mutex_unlock(&console_lock);
        return FALSE;
    }
    old = g_hash_table_lookup(console_table(), key);
    if (old)
        hyved_stream_ref(old);
    g_hash_table_replace(console_table(), g_strdup(key), hyved_stream_ref(stream));
    g_mutex_unlock(&console_lock);

    if (old) {
        g_autoptr(GError) taken = NULL;

        g_debug("console of %s taken over (FORCE)", key);
        hyve_error_set(&taken, HYVE_FROM_STREAMS, HYVE_ERR_RPC, "stream had I/O failure");
        hyved_stream_abort(old, taken);
    }
    return TRUE;
}

const HyvedProcedure hyved_domain_console_procs[] = {
    HYVED_PROC_WRITE_A(DOMAIN_OPEN_CONSOLE, domain_open_console,
                       hyved_remote_domain_open_console, "virDomainOpenConsole"),
};
const size_t hyved_domain_console_nprocs = G_N_ELEMENTS(hyved_domain_console_procs);
