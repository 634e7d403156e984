/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_machined.c: CreateMachineWithNetwork / CreateMachine /
 * TerminateMachine of org.freedesktop.machine1.Manager over a private
 * GDBus connection to the system bus (see hyve_machined.h). Its errors are
 * only logged: they never fail a domain start.
 */
#include "hyve-config.h"

#include <string.h>

#include <gio/gio.h>

#include "hyve_machined.h"

#define MACHINED_NAME "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_IFACE "org.freedesktop.machine1.Manager"
#define MACHINED_TIMEOUT_MS 10000
#define MACHINED_CONNECT_MS 5000
#define MACHINED_SKIP_US (30 * G_USEC_PER_SEC)
#define MACHINED_NAME_MAX 64
#define MACHINED_EXISTS_WAIT_US (3 * G_USEC_PER_SEC)

static GMutex bus_lock;
static GDBusConnection *bus;    /* [bus_lock] private, NULL until first use or after close */
static gint64 skip_until;       /* [bus_lock] monotonic: machined timed out, not asked */
static gint warned;

gboolean
hyve_machined_wanted(gboolean privileged, const char *state_dir, const char *env)
{
    g_autofree char *system_state = g_build_filename(HYVE_RUNSTATEDIR, "libvirt", "bhyve",
                                                     NULL);

    if (env && *env)
        return g_str_equal(env, "1");
    return privileged && state_dir && g_str_equal(state_dir, system_state);
}

/*
 * systemd's machined accepts a machine name only if it is a valid host
 * name (hostname_is_valid): letters, digits, '-' and '.', no leading or
 * trailing '-'/'.', no '.' after '.' or '-', no '-' after '.', at most 64
 * bytes. Every other byte of @name ('_', spaces, UTF-8, ...) becomes a
 * '-'; a run of separators becomes one ('.' if it held a '.').
 */
char *
hyve_machined_name(int id, const char *name)
{
    GString *s = g_string_new(NULL);
    size_t prefix;
    char sep = 0;

    g_string_printf(s, "bhyve-%d-", id);
    prefix = s->len;
    for (const char *p = name; *p; p++) {
        char c = *p;

        if (!g_ascii_isalnum(c)) {
            if (c == '.' || !sep)
                sep = c == '.' ? '.' : '-';
            continue;
        }
        if (sep && s->len > prefix) {
            if (s->len + 2 > MACHINED_NAME_MAX)
                break;
            g_string_append_c(s, sep);
        } else if (s->len + 1 > MACHINED_NAME_MAX) {
            break;
        }
        sep = 0;
        g_string_append_c(s, c);
    }
    if (s->len == prefix)
        g_string_truncate(s, prefix - 1);       /* "bhyve-<id>" */
    return g_string_free(s, FALSE);
}

/* After a connect or call that timed out, machined is not asked for
 * MACHINED_SKIP_US: a hung machined costs one start its timeout, not each. */
static void
note_timeout(const GError *error)
{
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return;
    g_mutex_lock(&bus_lock);
    skip_until = g_get_monotonic_time() + MACHINED_SKIP_US;
    g_mutex_unlock(&bus_lock);
}

void
hyve_machined_forget_timeout(void)
{
    g_mutex_lock(&bus_lock);
    skip_until = 0;
    g_mutex_unlock(&bus_lock);
}

typedef struct {
    GDBusConnection *conn;
    GError *error;
    gboolean done;
} ConnectWait;

static void
connected(GObject *source, GAsyncResult *result, gpointer data)
{
    ConnectWait *w = data;

    (void)source;
    w->conn = g_dbus_connection_new_for_address_finish(result, &w->error);
    w->done = TRUE;
}

static gboolean
connect_expired(gpointer data)
{
    g_cancellable_cancel(data);
    return G_SOURCE_REMOVE;
}

/* Connects to @address within MACHINED_CONNECT_MS (a bus that accepts
 * but never authenticates must not hold a domain start). */
static GDBusConnection *
connect_bus(const char *address, GError **error)
{
    GMainContext *ctx = g_main_context_new();
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    GSource *timer = g_timeout_source_new(MACHINED_CONNECT_MS);
    ConnectWait w = { NULL, NULL, FALSE };

    g_main_context_push_thread_default(ctx);
    g_source_set_callback(timer, connect_expired, cancel, NULL);
    g_source_attach(timer, ctx);
    g_dbus_connection_new_for_address(address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL,
                                      cancel, connected, &w);
    while (!w.done)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(timer);
    g_source_unref(timer);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    if (!w.conn) {
        if (g_cancellable_is_cancelled(cancel)) {
            g_clear_error(&w.error);
            g_set_error(&w.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "no system bus connection within %d ms", MACHINED_CONNECT_MS);
        }
        g_propagate_error(error, w.error);
        return NULL;
    }
    g_dbus_connection_set_exit_on_close(w.conn, FALSE);
    return w.conn;
}

/* The private system bus connection (re-made after the bus went away),
 * connected outside bus_lock; NULL while machined is skipped. */
static GDBusConnection *
get_bus(GError **error)
{
    g_autofree char *address = NULL;
    GDBusConnection *conn;

    g_mutex_lock(&bus_lock);
    if (bus && g_dbus_connection_is_closed(bus))
        g_clear_object(&bus);
    if (g_get_monotonic_time() < skip_until) {
        g_mutex_unlock(&bus_lock);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "not asked for %d s after a timeout",
                    (int)(MACHINED_SKIP_US / G_USEC_PER_SEC));
        return NULL;
    }
    if (bus) {
        conn = g_object_ref(bus);
        g_mutex_unlock(&bus_lock);
        return conn;
    }
    g_mutex_unlock(&bus_lock);

    address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, error);
    if (!address || !(conn = connect_bus(address, error))) {
        if (error)
            note_timeout(*error);
        return NULL;
    }
    g_mutex_lock(&bus_lock);
    if (bus && !g_dbus_connection_is_closed(bus)) {
        g_object_unref(conn);   /* another start connected meanwhile */
        conn = g_object_ref(bus);
    } else {
        g_clear_object(&bus);
        bus = g_object_ref(conn);
    }
    g_mutex_unlock(&bus_lock);
    return conn;
}

static GVariant *
scope_properties(guint64 tasks_max, guint64 memory_max)
{
    GVariantBuilder b;
    const char *after[] = { "virtbhyved.service", NULL };
    const char *before[] = { "bhyve-guests.service", NULL };

    g_variant_builder_init(&b, G_VARIANT_TYPE("a(sv)"));
    g_variant_builder_add(&b, "(sv)", "Slice", g_variant_new_string("machine.slice"));
    g_variant_builder_add(&b, "(sv)", "Delegate", g_variant_new_boolean(TRUE));
    g_variant_builder_add(&b, "(sv)", "After", g_variant_new_strv(after, -1));
    g_variant_builder_add(&b, "(sv)", "Before", g_variant_new_strv(before, -1));
    if (tasks_max)
        g_variant_builder_add(&b, "(sv)", "TasksMax", g_variant_new_uint64(tasks_max));
    if (memory_max)
        g_variant_builder_add(&b, "(sv)", "MemoryMax", g_variant_new_uint64(memory_max));
    return g_variant_builder_end(&b);
}

static GVariant *
create_call(GDBusConnection *conn, const char *machine, const guint8 *uuid, pid_t leader,
            guint64 tasks_max, guint64 memory_max, gboolean with_network, GError **error)
{
    GVariantBuilder args;
    GVariant *id = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, uuid, 16, 1);

    g_variant_builder_init(&args, G_VARIANT_TYPE_TUPLE);
    g_variant_builder_add(&args, "s", machine);
    g_variant_builder_add_value(&args, id);
    g_variant_builder_add(&args, "s", "virtbhyved");
    g_variant_builder_add(&args, "s", "vm");
    g_variant_builder_add(&args, "u", (guint32)leader);
    g_variant_builder_add(&args, "s", "");
    if (with_network)
        g_variant_builder_add_value(&args, g_variant_new_array(G_VARIANT_TYPE_INT32, NULL, 0));
    g_variant_builder_add_value(&args, scope_properties(tasks_max, memory_max));
    return g_dbus_connection_call_sync(conn, MACHINED_NAME, MACHINED_PATH, MACHINED_IFACE,
                                       with_network ? "CreateMachineWithNetwork" :
                                       "CreateMachine",
                                       g_variant_builder_end(&args), G_VARIANT_TYPE("(o)"),
                                       G_DBUS_CALL_FLAGS_NONE, MACHINED_TIMEOUT_MS, NULL,
                                       error);
}

static gboolean
error_is(const GError *error, const char *name)
{
    g_autofree char *remote = error ? g_dbus_error_get_remote_error(error) : NULL;

    return remote && g_str_equal(remote, name);
}

gboolean
hyve_machined_register(const char *machine, const guint8 *uuid, pid_t leader,
                       guint64 tasks_max, guint64 memory_max, GError **error)
{
    g_autoptr(GDBusConnection) conn = get_bus(error);
    gint64 deadline = g_get_monotonic_time() + MACHINED_EXISTS_WAIT_US;
    gboolean with_network = TRUE;

    if (!conn)
        return FALSE;
    for (;;) {
        g_autoptr(GError) local = NULL;
        g_autoptr(GVariant) reply = create_call(conn, machine, uuid, leader, tasks_max,
                                                memory_max, with_network, &local);

        if (reply) {
            g_debug("registered %s (leader %d) with systemd-machined", machine, (int)leader);
            g_atomic_int_set(&warned, 0);       /* a later outage is worth a warning */
            return TRUE;
        }
        if (with_network && error_is(local, "org.freedesktop.DBus.Error.UnknownMethod")) {
            with_network = FALSE;       /* machined before systemd 209 */
            continue;
        }
        /* the previous run of this domain (same id after a reboot) is
         * still going away */
        if (error_is(local, "org.freedesktop.machine1.MachineExists") &&
            g_get_monotonic_time() < deadline) {
            g_usleep(50000);
            continue;
        }
        note_timeout(local);
        if (error_is(local, "org.freedesktop.machine1.MachineExists") ||
            error_is(local, "org.freedesktop.DBus.Error.InvalidArgs")) {
            /* machined is there and refused this machine */
            g_dbus_error_strip_remote_error(local);
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "systemd-machined refused machine %s: %s", machine, local->message);
            return FALSE;
        }
        g_dbus_error_strip_remote_error(local);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
}

void
hyve_machined_terminate(const char *machine)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GDBusConnection) conn = get_bus(&local);
    g_autoptr(GDBusMessage) msg = NULL;

    if (!conn)
        return;
    /* no reply awaited: a hung machined must not hold a domain's stop
     * (a later CreateMachine on this connection comes after it) */
    msg = g_dbus_message_new_method_call(MACHINED_NAME, MACHINED_PATH, MACHINED_IFACE,
                                         "TerminateMachine");
    g_dbus_message_set_body(msg, g_variant_new("(s)", machine));
    g_dbus_message_set_flags(msg, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED |
                             G_DBUS_MESSAGE_FLAGS_NO_AUTO_START);
    if (!g_dbus_connection_send_message(conn, msg, G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL,
                                        &local))
        g_debug("cannot terminate machine %s: %s", machine, local->message);
}

void
hyve_machined_warn_once(const char *machine, const GError *error)
{
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        g_warning("%s: the domain runs in hyve's own cgroups", error->message);
    else if (g_atomic_int_compare_and_exchange(&warned, 0, 1))
        g_warning("systemd-machined unavailable (%s): domains are not registered as machines "
                  "and run in hyve's own cgroups", error ? error->message : "unknown error");
    else
        g_debug("machine %s not registered: %s", machine, error ? error->message : "?");
}
