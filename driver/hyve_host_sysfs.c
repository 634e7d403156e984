/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_host_sysfs.c: reading the host's /proc and /sys files: whole files,
 * integers, CPU lists, meminfo values and the online CPU set.
 *
 * Every path is read below $HYVE_HOST_ROOT when that is set (the unit
 * tests point it at a fake /proc + /sys tree); unset means the real host.
 */
#include "hyve-config.h"

#include <string.h>
#include <unistd.h>

#include "hyve_host_priv.h"

char *
hyve_host_path(const char *path)
{
    const char *root = g_getenv("HYVE_HOST_ROOT");

    return g_strconcat(root ? root : "", path, NULL);
}

/* Whole file, or NULL (errno-style reason in @error when asked). */
char *
hyve_host_read(const char *path, GError **error)
{
    g_autofree char *full = hyve_host_path(path);
    g_autoptr(GError) local = NULL;
    char *data = NULL;

    if (!g_file_get_contents(full, &data, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_NONE, HYVE_ERR_SYSTEM_ERROR, "%s", local->message);
        return NULL;
    }
    return data;
}

gboolean
hyve_host_read_int(const char *path, gint64 *value)
{
    g_autofree char *data = hyve_host_read(path, NULL);
    char *end = NULL;

    if (!data)
        return FALSE;
    *value = g_ascii_strtoll(g_strstrip(data), &end, 10);
    return end != data && *end == '\0';
}

/* "0-3,8,10-11" -> sorted unique CPU numbers; NULL when malformed. */
static GArray *
hyve_host_parse_cpulist(const char *text)
{
    g_autoptr(GArray) cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        char *item = g_strstrip(parts[i]);
        char *end = NULL;
        guint64 lo, hi;

        if (!*item)
            continue;
        if (!g_ascii_isdigit(*item))
            return NULL;
        lo = g_ascii_strtoull(item, &end, 10);
        hi = lo;
        if (*end == '-') {
            const char *rest = end + 1;
            if (!g_ascii_isdigit(*rest))
                return NULL;
            hi = g_ascii_strtoull(rest, &end, 10);
        }
        if (*end != '\0' || hi < lo || hi > 65535)
            return NULL;
        for (guint64 c = lo; c <= hi; c++) {
            guint v = (guint)c;
            g_array_append_val(cpus, v);
        }
    }
    return g_steal_pointer(&cpus);
}

GArray *
hyve_host_read_cpulist(const char *path)
{
    g_autofree char *data = hyve_host_read(path, NULL);

    return data ? hyve_host_parse_cpulist(data) : NULL;
}

/* Value in kB of @key ("MemTotal") in a meminfo file, also the per-node
 * form "Node 0 MemTotal:  123 kB". */
gboolean
hyve_host_meminfo_value(const char *meminfo, const char *key, guint64 *kib)
{
    g_auto(GStrv) lines = g_strsplit(meminfo, "\n", -1);
    size_t keylen = strlen(key);

    for (guint i = 0; lines[i]; i++) {
        const char *line = lines[i];

        if (g_str_has_prefix(line, "Node ")) {
            line = strchr(line + 5, ' ');
            if (!line)
                continue;
            line++;
        }
        if (strncmp(line, key, keylen) == 0 && line[keylen] == ':') {
            *kib = g_ascii_strtoull(line + keylen + 1, NULL, 10);
            return TRUE;
        }
    }
    return FALSE;
}

GArray *
hyve_host_online_cpus(void)
{
    GArray *online = hyve_host_read_cpulist("/sys/devices/system/cpu/online");
    long n;

    if (online && online->len > 0)
        return online;
    if (online)
        g_array_unref(online);
    /* No sysfs: assume CPUs 0..n-1. */
    n = sysconf(_SC_NPROCESSORS_ONLN);
    online = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < (guint)MAX(n, 1); i++)
        g_array_append_val(online, i);
    return online;
}
