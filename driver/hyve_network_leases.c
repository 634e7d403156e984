/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_leases.c: dnsmasq's own lease file (--dhcp-leasefile).
 *
 * dnsmasq writes one line per lease:
 *   IPv4: "EXPIRY MAC IP HOSTNAME|* CLIENTID|*"
 *   then, with DHCPv6, "duid SERVER-DUID" followed by
 *   IPv6: "EXPIRY [T]IAID IP6 HOSTNAME|* CLIENT-DUID|*"
 * EXPIRY is in epoch seconds, 0 for an infinite lease. The family of a line
 * is that of its address. dnsmasq rewrites the file in place (truncate +
 * write), so a reader may catch it half written: the read is repeated
 * while the file changes under it, and lines that do not parse are skipped.
 * Leases carry libvirt's virNetworkDHCPLease fields (hyve_network.h).
 */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "hyve_error.h"
#include "hyve_network_priv.h"

/* hyve_net_lease_free() lives in hyve_network.c (core). */

/* "52:54:00:ab:cd:ef" (either case) -> the 6 bytes. */
static gboolean
parse_mac(const char *s, guint8 out[6])
{
    if (strlen(s) != 17)
        return FALSE;
    for (int i = 0; i < 6; i++) {
        const char *p = s + i * 3;

        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]) || (i < 5 && p[2] != ':'))
            return FALSE;
        out[i] = (guint8)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
    }
    return TRUE;
}

static char *
format_mac(const guint8 m[6])
{
    return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The Ethernet MAC inside a client DUID of type LLT (1) or LL (3) with
 * hardware type 1, as "xx:..:xx" hex bytes; NULL for other DUIDs. */
static char *
mac_from_duid(const char *duid)
{
    g_auto(GStrv) parts = g_strsplit(duid, ":", -1);
    guint n = g_strv_length(parts), off;
    guint8 b[32];

    if (n < 10 || n > G_N_ELEMENTS(b))
        return NULL;
    for (guint i = 0; i < n; i++) {
        if (strlen(parts[i]) != 2 || !g_ascii_isxdigit(parts[i][0]) ||
            !g_ascii_isxdigit(parts[i][1]))
            return NULL;
        b[i] = (guint8)(g_ascii_xdigit_value(parts[i][0]) << 4 |
                        g_ascii_xdigit_value(parts[i][1]));
    }
    if (b[0] != 0 || b[2] != 0 || b[3] != 1)
        return NULL;
    off = b[1] == 1 ? 8 : b[1] == 3 ? 4 : 0;      /* LLT has a 4-byte time */
    if (!off || n != off + 6)
        return NULL;
    return format_mac(b + off);
}

static gboolean
parse_expiry(const char *s, gint64 *out)
{
    if (!*s || strlen(s) > 18)
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return FALSE;
    }
    *out = g_ascii_strtoll(s, NULL, 10);
    return TRUE;
}

static char *
star_null(const char *s)
{
    return g_str_equal(s, "*") ? NULL : g_strdup(s);
}

/* One lease line split in fields; NULL when it is not a lease. */
static HyveNetLease *
parse_line(char **f, const HyveNetworkDef *def)
{
    g_autoptr(HyveNetLease) l = g_new0(HyveNetLease, 1);
    const HyveNetIpDef *ip;
    guint8 addr[16], mac[6];
    int family;

    if (g_strv_length(f) != 5 || !parse_expiry(f[0], &l->expirytime))
        return NULL;
    if (inet_pton(AF_INET, f[2], addr) == 1) {
        family = AF_INET;
        if (!parse_mac(f[1], mac))
            return NULL;
        l->mac = format_mac(mac);
    } else if (inet_pton(AF_INET6, f[2], addr) == 1) {
        const char *iaid = f[1][0] == 'T' ? f[1] + 1 : f[1];    /* T = temporary address */
        gint64 v;

        family = AF_INET6;
        if (!parse_expiry(iaid, &v))
            return NULL;
        l->iaid = g_strdup(iaid);
        if (!g_str_equal(f[4], "*"))
            l->mac = mac_from_duid(f[4]);
    } else {
        return NULL;
    }
    l->type = family == AF_INET ? 0 : 1;
    l->ipaddr = g_strdup(f[2]);
    l->hostname = star_null(f[3]);
    l->clientid = star_null(f[4]);
    l->iface = g_strdup(def && def->bridge ? def->bridge : "");
    ip = def ? hyve_net_def_first_ip(def, family) : NULL;
    l->prefix = ip ? ip->prefix : 0;
    return g_steal_pointer(&l);
}

GPtrArray *
hyve_dnsmasq_leases_parse(const char *text, const HyveNetworkDef *def, const char *mac,
                          gint64 now)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_net_lease_free);
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    g_autofree char *want = mac ? g_ascii_strdown(mac, -1) : NULL;

    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) raw = g_strsplit_set(lines[i], " \t\r", -1);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        g_auto(GStrv) f = NULL;
        HyveNetLease *l;

        for (guint j = 0; raw[j]; j++) {
            if (*raw[j])
                g_strv_builder_add(b, raw[j]);
        }
        f = g_strv_builder_end(b);
        if (!f[0] || g_str_equal(f[0], "duid"))
            continue;
        if (!(l = parse_line(f, def)))
            continue;                         /* malformed or cut short */
        if ((l->expirytime > 0 && l->expirytime < now) ||
            (want && (!l->mac || !g_str_equal(l->mac, want)))) {
            hyve_net_lease_free(l);
            continue;
        }
        g_ptr_array_add(out, l);
    }
    return out;
}

static gboolean
same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

GPtrArray *
hyve_dnsmasq_leases_read(const char *dir, const HyveNetworkDef *def, const char *mac,
                         GError **error)
{
    g_autofree char *path = hyve_dnsmasq_file(dir, def->name, "leases");
    g_autofree char *text = NULL;

    for (int attempt = 0; attempt < 10; attempt++) {
        struct stat before, after;
        g_autoptr(GError) err = NULL;

        if (stat(path, &before) < 0) {
            int e = errno;

            if (e == ENOENT)
                return hyve_dnsmasq_leases_parse("", def, mac, g_get_real_time() / G_USEC_PER_SEC);
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_SYSTEM_ERROR,
                           "cannot read leases file %s: %s", path, g_strerror(e));
            return NULL;
        }
        g_clear_pointer(&text, g_free);
        if (!g_file_get_contents(path, &text, NULL, &err)) {
            if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                continue;
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_SYSTEM_ERROR,
                           "cannot read leases file %s: %s", path, err->message);
            return NULL;
        }
        /* unchanged during the read and not cut short: a consistent
         * snapshot; an empty file is read again for a while, dnsmasq may
         * be between its truncate and its write (a busy host can hold it
         * there for milliseconds) */
        if (stat(path, &after) == 0 && same_stat(&before, &after) &&
            (gsize)after.st_size == strlen(text) &&
            ((*text && g_str_has_suffix(text, "\n")) || (!*text && attempt >= 4)))
            break;
        g_usleep(10 * 1000);
    }
    return hyve_dnsmasq_leases_parse(text, def, mac, g_get_real_time() / G_USEC_PER_SEC);
}
