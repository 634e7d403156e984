/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_polkit.c: one CheckAuthorization call to polkitd per AUTH_POLKIT.
 */
#include "hyve-config.h"

#include <string.h>
#include <gio/gio.h>

#include "hyve_error.h"
#include "hyved_polkit.h"


/* Time we give polkitd (and an authentication agent) to answer. */
#define HYVED_POLKIT_TIMEOUT_MS (120 * 1000)

guint64
hyved_polkit_process_start_time(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
    g_autofree char *data = NULL;
    g_auto(GStrv) fields = NULL;
    const char *p;

    if (pid <= 0 || !g_file_get_contents(path, &data, NULL, NULL))
        return 0;
    /* Field 2 (comm) is in parentheses and may contain spaces: split after
     * the last ')'. Field 3 is then the first token; field 22 the 20th. */
    if (!(p = strrchr(data, ')')))
        return 0;
    fields = g_strsplit_set(p + 1, " \n", -1);
    {
        guint n = 0;
        for (guint i = 0; fields[i]; i++) {
            if (!*fields[i])
                continue;
            if (++n == 20)
                return g_ascii_strtoull(fields[i], NULL, 10);
        }
    }
    return 0;
}

gboolean
hyved_polkit_check(pid_t pid, uid_t uid, guint64 start_time, const char *action_id,
                   GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GDBusConnection) bus = NULL;
    g_autofree char *address = NULL;
    g_autoptr(GVariant) reply = NULL;
    g_autoptr(GVariant) details = NULL;
    GVariantBuilder subject_details;
    gboolean authorized = FALSE;
    gboolean challenge = FALSE;
    const char *dismissed = NULL;

    if (uid == 0)
        return TRUE;

    if (start_time == 0) {
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_FAILED,
                       "cannot determine the start time of process %d", (int) pid);
        return FALSE;
    }

    /* A private connection per check: no process-wide singleton that
     * would raise SIGTERM when the bus goes away (exit-on-close), and a
     * restarted bus is picked up. Honours DBUS_SYSTEM_BUS_ADDRESS. */
    address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &local);
    if (address)
        bus = g_dbus_connection_new_for_address_sync(address,
            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &local);
    if (!bus) {
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_UNAVAILABLE,
                       "polkit is unreachable: cannot connect to the system bus: %s",
                       local->message);
        return FALSE;
    }

    g_variant_builder_init(&subject_details, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&subject_details, "{sv}", "pid", g_variant_new_uint32(pid));
    g_variant_builder_add(&subject_details, "{sv}", "start-time", g_variant_new_uint64(start_time));
    g_variant_builder_add(&subject_details, "{sv}", "uid", g_variant_new_int32(uid));

    reply = g_dbus_connection_call_sync(bus,
        "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
        "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
        g_variant_new("((sa{sv})sa{ss}us)", "unix-process", &subject_details,
                      action_id, NULL, (guint32) 1, ""),
        G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE,
        HYVED_POLKIT_TIMEOUT_MS, NULL, &local);
    if (!reply) {
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_UNAVAILABLE,
                       "polkit is unreachable: %s", local->message);
        return FALSE;
    }

    g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, &details);
    if (authorized) {
        g_debug("polkit: pid %d uid %d authorized for %s", (int) pid, (int) uid, action_id);
        return TRUE;
    }
    g_variant_lookup(details, "polkit.dismissed", "&s", &dismissed);
    if (dismissed && g_str_equal(dismissed, "true"))
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_CANCELLED,
                       "user cancelled authentication process");
    else if (challenge)
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_UNAVAILABLE,
                       "no polkit agent available to authenticate action '%s'", action_id);
    else
        hyve_error_set(error, HYVE_FROM_POLKIT, HYVE_ERR_AUTH_FAILED, "access denied by policy");
    return FALSE;
}
