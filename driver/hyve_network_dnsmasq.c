/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_dnsmasq.c: the dnsmasq of a virtual network (DHCP, DNS, RA).
 *
 * The config text follows the order libvirt's network driver writes its
 * dnsmasq config in, so a network behaves the same under hyve: header,
 * DNS options, pid file, interface binding, isolation, records, DHCP
 * ranges, lease limit, host files, MTU, router advertisements, then the
 * user's <dnsmasq:option> lines verbatim. Unlike libvirt there is no leases
 * helper: dnsmasq keeps its own lease file (--dhcp-leasefile), read by
 * hyve_network_leases.c. Golden texts: tests/unit/driver/network/dnsmasq/.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <glib/gstdio.h>

#include "hyve_cgroup.h"
#include "hyve_error.h"
#include "hyve_network_priv.h"

char *
hyve_dnsmasq_file(const char *dir, const char *name, const char *ext)
{
    return g_strdup_printf("%s/%s.%s", dir, name, ext);
}

static gboolean
ip_has_dhcp(const HyveNetIpDef *ip)
{
    return ip->ranges->len > 0 || ip->hosts->len > 0;
}

gboolean
hyve_dnsmasq_needed(const HyveNetworkDef *def)
{
    if (!hyve_net_def_has_own_bridge(def) || def->ips->len == 0)
        return FALSE;
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        if (ip_has_dhcp(ip) || ip->tftp_root)
            return TRUE;
    }
    return def->dns.enable != HYVE_TRISTATE_NO;
}

/* dnsmasq's lease time argument: "infinite" or N with the largest whole
 * unit (h, m, s); NULL when the lease time is not set. */
static char *
lease_time_string(guint64 secs, gboolean infinite)
{
    if (infinite)
        return g_strdup("infinite");
    if (secs == 0)
        return NULL;
    if (secs % 3600 == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT "h", secs / 3600);
    if (secs % 60 == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT "m", secs / 60);
    return g_strdup_printf("%" G_GUINT64_FORMAT "s", secs);
}

/* Addresses from start to end, both included (IPv6: the low 64 bits, the
 * high ones being equal inside one subnet); capped at G_MAXINT. */
static guint64
range_size(int family, const char *start, const char *end)
{
    guint8 s[16] = { 0 }, e[16] = { 0 };
    guint64 a = 0, b = 0;
    int len = family == AF_INET ? 4 : 8, off = family == AF_INET ? 0 : 8;

    if (inet_pton(family, start, s) != 1 || inet_pton(family, end, e) != 1)
        return 0;
    for (int i = 0; i < len; i++) {
        a = (a << 8) | s[off + i];
        b = (b << 8) | e[off + i];
    }
    if (b < a)
        return 0;
    return MIN(b - a + 1, (guint64)G_MAXINT);
}

static char *
prefix_to_netmask(guint prefix)
{
    struct in_addr m;
    char buf[INET_ADDRSTRLEN];

    m.s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - MIN(prefix, 32u)));
    inet_ntop(AF_INET, &m, buf, sizeof(buf));
    return g_strdup(buf);
}

/* The reverse-DNS zone of @ip's subnet ("122.168.192.in-addr.arpa"), or
 * NULL when the prefix is not on an octet (IPv4) or nibble (IPv6) boundary. */
static char *
ptr_domain(const HyveNetIpDef *ip)
{
    guint8 a[16];
    GString *s;

    if (ip->prefix == 0 || inet_pton(ip->family, ip->address, a) != 1 ||
        ip->prefix % (ip->family == AF_INET ? 8 : 4))
        return NULL;
    s = g_string_new(NULL);
    if (ip->family == AF_INET) {
        for (int i = (int)ip->prefix / 8 - 1; i >= 0; i--)
            g_string_append_printf(s, "%u.", a[i]);
        g_string_append(s, "in-addr.arpa");
    } else {
        for (int n = (int)ip->prefix / 4 - 1; n >= 0; n--)
            g_string_append_printf(s, "%x.", n % 2 ? a[n / 2] & 0xf : a[n / 2] >> 4);
        g_string_append(s, "ip6.arpa");
    }
    return g_string_free(s, FALSE);
}

/* First <ip> of @family with DHCP ranges or hosts. */
static const HyveNetIpDef *
dhcp_ip(const HyveNetworkDef *def, int family)
{
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        if (ip->family == family && ip_has_dhcp(ip))
            return ip;
    }
    return NULL;
}

static void
conf_dhcp(GString *c, const HyveNetIpDef *ip, guint64 *nleases)
{
    if (!ip)
        return;
    for (guint r = 0; r < ip->ranges->len; r++) {
        const HyveNetDhcpRange *range = g_ptr_array_index(ip->ranges, r);
        g_autofree char *lt = lease_time_string(range->lease_secs, range->lease_infinite);

        if (ip->family == AF_INET6) {
            g_string_append_printf(c, "dhcp-range=%s,%s,%u", range->start, range->end,
                                   ip->prefix);
        } else {
            g_autofree char *mask = prefix_to_netmask(ip->prefix);

            g_string_append_printf(c, "dhcp-range=%s,%s,%s", range->start, range->end, mask);
        }
        if (lt)
            g_string_append_printf(c, ",%s", lt);
        g_string_append_c(c, '\n');
        *nleases += range_size(ip->family, range->start, range->end);
    }
    /* static hosts only: dnsmasq serves DHCP on a subnet only with a range */
    if (ip->ranges->len == 0 && ip->hosts->len > 0) {
        g_string_append_printf(c, "dhcp-range=%s,static", ip->address);
        if (ip->family == AF_INET6)
            g_string_append_printf(c, ",%u", ip->prefix);
        g_string_append_c(c, '\n');
    }
    if (ip->family == AF_INET) {
        g_string_append(c, "dhcp-no-override\ndhcp-authoritative\n");
        if (ip->bootp_file && ip->bootp_server)
            g_string_append_printf(c, "dhcp-boot=%s,,%s\n", ip->bootp_file, ip->bootp_server);
        else if (ip->bootp_file)
            g_string_append_printf(c, "dhcp-boot=%s\n", ip->bootp_file);
    }
}

static void
conf_dns_records(GString *c, const HyveNetDnsDef *dns)
{
    for (guint i = 0; i < dns->txts->len; i++) {
        const HyveNetDnsTxt *t = g_ptr_array_index(dns->txts, i);

        g_string_append_printf(c, "txt-record=%s,%s\n", t->name, t->value);
    }
    for (guint i = 0; i < dns->srvs->len; i++) {
        const HyveNetDnsSrv *s = g_ptr_array_index(dns->srvs, i);

        g_string_append_printf(c, "srv-host=_%s._%s", s->service, s->protocol);
        if (s->domain)
            g_string_append_printf(c, ".%s", s->domain);
        /* no target or "." = the service is not available here */
        if (s->target && !g_str_equal(s->target, ".")) {
            g_string_append_printf(c, ",%s", s->target);
            /* positional: an omitted port before a given priority/weight is 1 */
            if (s->port || s->priority || s->weight)
                g_string_append_printf(c, ",%u", s->port ? s->port : 1);
            if (s->priority || s->weight)
                g_string_append_printf(c, ",%u", s->priority);
            if (s->weight)
                g_string_append_printf(c, ",%u", s->weight);
        }
        g_string_append_c(c, '\n');
    }
}

static void
conf_dns_head(GString *c, const HyveNetworkDef *def, gboolean want_dns)
{
    gboolean no_resolv = FALSE;

    if (!want_dns)
        g_string_append(c, "port=0\n");
    for (guint i = 0; want_dns && i < def->dns.forwarders->len; i++) {
        const HyveNetDnsForwarder *f = g_ptr_array_index(def->dns.forwarders, i);

        g_string_append(c, "server=");
        if (f->domain)
            g_string_append_printf(c, "/%s/", f->domain);
        if (f->addr) {
            g_string_append_printf(c, "%s\n", f->addr);
            no_resolv = no_resolv || !f->domain;
        } else {
            g_string_append(c, "#\n");     /* answer locally, never forward */
        }
    }
    if (no_resolv)
        g_string_append(c, "no-resolv\n");
    if (def->domain_name) {
        if (def->domain_local_only == HYVE_TRISTATE_YES)
            g_string_append_printf(c, "local=/%s/\n", def->domain_name);
        g_string_append_printf(c, "domain=%s\nexpand-hosts\n", def->domain_name);
    }
    for (guint i = 0; want_dns && i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        g_autofree char *ptr = NULL;

        /* a prefix off the octet/nibble boundary has no zone: skipped */
        if (ip->localptr && g_str_equal(ip->localptr, "yes") && (ptr = ptr_domain(ip)))
            g_string_append_printf(c, "local=/%s/\n", ptr);
    }
    if (want_dns && def->dns.forward_plain_names == HYVE_TRISTATE_NO)
        g_string_append(c, "domain-needed\nlocal=//\n");
}

char *
hyve_dnsmasq_conf_text(const HyveNetworkDef *def, const char *dir)
{
    GString *c = g_string_new(NULL);
    gboolean want_dns = def->dns.enable != HYVE_TRISTATE_NO, tftp = FALSE;
    const HyveNetIpDef *v4 = dhcp_ip(def, AF_INET), *v6 = dhcp_ip(def, AF_INET6);
    g_autofree char *pidfile = hyve_dnsmasq_file(dir, def->name, "pid");
    g_autofree char *hostsfile = hyve_dnsmasq_file(dir, def->name, "hostsfile");
    g_autofree char *addnhosts = hyve_dnsmasq_file(dir, def->name, "addnhosts");
    guint64 nleases = 0;

    g_string_append_printf(c,
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
        "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n"
        "##    virsh net-edit %s\n"
        "## or other application using the libvirt API.\n"
        "##\n"
        "## dnsmasq conf file created by hyve\n"
        "strict-order\n", def->name);
    conf_dns_head(c, def, want_dns);
    g_string_append_printf(c, "pid-file=%s\n", pidfile);
    g_string_append(c, "except-interface=lo\n");
    /* bind-dynamic + interface only: no answers to queries from elsewhere */
    g_string_append_printf(c, "bind-dynamic\ninterface=%s\n", def->bridge);
    if (def->forward == HYVE_NET_FORWARD_NONE) {
        /* isolated: no default route, no upstream DNS, RA route lifetime 0 */
        g_string_append(c, "dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
    }
    if (want_dns)
        conf_dns_records(c, &def->dns);
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        if (ip->family != AF_INET || !ip->tftp_root)
            continue;
        if (!tftp)
            g_string_append(c, "enable-tftp\n");
        tftp = TRUE;
        g_string_append_printf(c, "tftp-root=%s\n", ip->tftp_root);
    }
    conf_dhcp(c, v4, &nleases);
    conf_dhcp(c, v6, &nleases);
    if (nleases > 0)
        g_string_append_printf(c, "dhcp-lease-max=%" G_GUINT64_FORMAT "\n",
                               MIN(nleases, (guint64)G_MAXINT));
    if (v4 || v6)
        g_string_append_printf(c, "dhcp-hostsfile=%s\n", hostsfile);
    if (want_dns)
        g_string_append_printf(c, "addn-hosts=%s\n", addnhosts);
    if (def->mtu > 0)
        g_string_append_printf(c, "dhcp-option=option:mtu,%u\n", def->mtu);
    if (v6) {
        g_string_append(c, "enable-ra\n");
    } else {
        for (guint i = 0; i < def->ips->len; i++) {
            const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

            if (ip->family == AF_INET6)
                g_string_append_printf(c, "dhcp-range=%s,ra-only\n", ip->address);
        }
    }
    for (guint i = 0; def->dnsmasq_options && i < def->dnsmasq_options->len; i++)
        g_string_append_printf(c, "%s\n", (const char *)g_ptr_array_index(def->dnsmasq_options, i));
    return g_string_free(c, FALSE);
}

static void
hosts_of(GString *s, const HyveNetIpDef *ip)
{
    for (guint i = 0; ip && i < ip->hosts->len; i++) {
        const HyveNetDhcpHost *h = g_ptr_array_index(ip->hosts, i);
        g_autofree char *lt = lease_time_string(h->lease_secs, h->lease_infinite);

        if (!h->ip)
            continue;                       /* name-only hosts: nothing to hand out */
        if (ip->family == AF_INET6) {
            if (!h->id && !h->name)
                continue;
            if (h->id)
                g_string_append_printf(s, "id:%s,", h->id);
            if (h->name)
                g_string_append_printf(s, "%s,", h->name);
            g_string_append_printf(s, "[%s]", h->ip);
        } else if (h->mac) {
            g_string_append_printf(s, "%s,%s", h->mac, h->ip);
            if (h->name)
                g_string_append_printf(s, ",%s", h->name);
        } else if (h->name) {
            g_string_append_printf(s, "%s,%s", h->name, h->ip);
        } else {
            continue;
        }
        if (lt)
            g_string_append_printf(s, ",%s", lt);
        g_string_append_c(s, '\n');
    }
}

/* dhcp-hostsfile: "MAC,IP[,NAME][,LEASETIME]", "NAME,IP", v6
 * "id:DUID,[NAME,][IP6]" (dnsmasq tells the fields apart by their form). */
static char *
hostsfile_text(const HyveNetworkDef *def)
{
    GString *s = g_string_new(NULL);

    hosts_of(s, dhcp_ip(def, AF_INET));
    hosts_of(s, dhcp_ip(def, AF_INET6));
    return g_string_free(s, FALSE);
}

/* addn-hosts: one "IP\tname1\tname2" line per address, in first-seen order. */
static char *
addnhosts_text(const HyveNetworkDef *def)
{
    g_autoptr(GPtrArray) ips = g_ptr_array_new();
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                        (GDestroyNotify)g_ptr_array_unref);
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < def->dns.hosts->len; i++) {
        const HyveNetDnsHost *h = g_ptr_array_index(def->dns.hosts, i);
        GPtrArray *list = g_hash_table_lookup(names, h->ip);

        if (!h->ip)
            continue;
        if (!list) {
            list = g_ptr_array_new();
            g_hash_table_insert(names, h->ip, list);
            g_ptr_array_add(ips, h->ip);
        }
        for (guint j = 0; j < h->hostnames->len; j++)
            g_ptr_array_add(list, g_ptr_array_index(h->hostnames, j));
    }
    for (guint i = 0; i < ips->len; i++) {
        GPtrArray *list = g_hash_table_lookup(names, g_ptr_array_index(ips, i));

        g_string_append(s, g_ptr_array_index(ips, i));
        for (guint j = 0; j < list->len; j++)
            g_string_append_printf(s, "\t%s", (const char *)g_ptr_array_index(list, j));
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

/* dnsmasq reads the host files after it dropped to an unprivileged user
 * (at start and on SIGHUP): @dir and the directories above it must be
 * searchable by others. Adds only o+x (no listing) where our own
 * directories lack it. */
static void
make_searchable(const char *dir)
{
    g_autofree char *d = g_strdup(dir);

    while (d[0] == '/' && d[1]) {
        struct stat st;
        char *slash;

        if (stat(d, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
            !(st.st_mode & S_IXOTH))
            chmod(d, (st.st_mode & 07777) | S_IXOTH);
        slash = strrchr(d, '/');
        if (slash == d)
            break;
        *slash = '\0';
    }
}

static gboolean
write_file(const char *path, const char *text, int mode, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, mode, &err)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_SYSTEM_ERROR,
                       "couldn't write dnsmasq file '%s': %s", path, err->message);
        return FALSE;
    }
    /* the mode above went through the umask: a daemon started with 077
     * would leave the host files unreadable to dnsmasq's user */
    if (chmod(path, mode) < 0) {
        hyve_error_set_errno(error, HYVE_FROM_NETWORK, errno,
                             "couldn't set the mode of dnsmasq file '%s'", path);
        return FALSE;
    }
    return TRUE;
}

/* Writes the config (0600, read by dnsmasq as root at start) and the two
 * host files (0644: dnsmasq re-reads them after dropping privileges). */
static gboolean
write_files(const HyveNetworkDef *def, const char *dir, GError **error)
{
    g_autofree char *conf = hyve_dnsmasq_file(dir, def->name, "conf");
    g_autofree char *hosts = hyve_dnsmasq_file(dir, def->name, "hostsfile");
    g_autofree char *addn = hyve_dnsmasq_file(dir, def->name, "addnhosts");
    g_autofree char *conf_text = hyve_dnsmasq_conf_text(def, dir);
    g_autofree char *hosts_text = hostsfile_text(def);
    g_autofree char *addn_text = addnhosts_text(def);

    if (g_mkdir_with_parents(dir, 0755) < 0) {
        int e = errno;

        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_SYSTEM_ERROR,
                       "cannot create directory %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    make_searchable(dir);
    return write_file(conf, conf_text, 0600, error) &&
           write_file(hosts, hosts_text, 0644, error) &&
           write_file(addn, addn_text, 0644, error);
}

static gboolean
read_pid(const char *path, pid_t *pid)
{
    g_autofree char *text = NULL;
    char *end = NULL;
    gint64 v;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return FALSE;
    g_strstrip(text);
    v = g_ascii_strtoll(text, &end, 10);
    if (!*text || *end || v <= 0 || v > G_MAXINT)
        return FALSE;
    *pid = (pid_t)v;
    return TRUE;
}

static gboolean is_ours(pid_t pid, const char *dir, const char *name);

/* dnsmasq exited 0 but its pid file is unreadable: a daemon it left must
 * not run on unseen, so every dnsmasq with this network's config goes. */
static void
kill_strays(const char *dir, const char *name)
{
    g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
    const char *e;

    while (proc && (e = g_dir_read_name(proc))) {
        pid_t pid = (pid_t)g_ascii_strtoll(e, NULL, 10);

        if (pid > 0 && is_ours(pid, dir, name)) {
            g_warning("network %s: killing dnsmasq %d that wrote no pid file", name, (int)pid);
            kill(pid, SIGKILL);
        }
    }
}

gboolean
hyve_dnsmasq_start(const HyveNetworkDef *def, const char *dir, pid_t *pid, GError **error)
{
    g_autofree char *bin = g_find_program_in_path("dnsmasq");
    g_autofree char *conf = hyve_dnsmasq_file(dir, def->name, "conf");
    g_autofree char *leases = hyve_dnsmasq_file(dir, def->name, "leases");
    g_autofree char *pidfile = hyve_dnsmasq_file(dir, def->name, "pid");
    g_autofree char *conf_arg = g_strdup_printf("--conf-file=%s", conf);
    g_autofree char *lease_arg = g_strdup_printf("--dhcp-leasefile=%s", leases);
    g_autofree char *out = NULL, *err_text = NULL;
    g_autoptr(GError) err = NULL;
    int ws = 0;

    if (!bin)
        bin = g_strdup("/usr/sbin/dnsmasq");
    char *argv[] = { bin, conf_arg, lease_arg, NULL };

    *pid = 0;
    if (!write_files(def, dir, error))
        return FALSE;
    g_unlink(pidfile);
    /* dnsmasq daemonizes: the first process exits once the daemon has
     * written its pid file (or with the daemon's start-up error) */
    if (!g_spawn_sync("/", argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, hyve_child_setup_rlimits,
                      NULL, &out, &err_text, &ws, &err)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "Cannot run '%s': %s", bin, err->message);
        return FALSE;
    }
    g_strstrip(err_text);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "Child process (%s %s %s) unexpected %s %d%s%s", bin, conf_arg,
                       lease_arg, WIFEXITED(ws) ? "exit status" : "fatal signal",
                       WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws),
                       *err_text ? ": " : "", err_text);
        return FALSE;
    }
    if (!read_pid(pidfile, pid)) {
        kill_strays(dir, def->name);
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "dnsmasq for network '%s' left no pid in %s", def->name, pidfile);
        return FALSE;
    }
    return TRUE;
}

/* TRUE when /proc/PID/cmdline has the argument @arg. */
static gboolean
cmdline_has(pid_t pid, const char *arg)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, NULL))
        return FALSE;
    for (gsize off = 0; off < len; off += strlen(text + off) + 1) {
        if (g_str_equal(text + off, arg))
            return TRUE;
    }
    return FALSE;
}

/* TRUE when @pid runs a program named dnsmasq (a zombie has no exe). */
static gboolean
exe_is_dnsmasq(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/exe", (int)pid);
    g_autofree char *target = g_file_read_link(path, NULL);
    g_autofree char *base = NULL;

    if (!target)
        return FALSE;
    if (g_str_has_suffix(target, " (deleted)"))     /* replaced by an upgrade */
        target[strlen(target) - strlen(" (deleted)")] = '\0';
    base = g_path_get_basename(target);
    return g_str_equal(base, "dnsmasq");
}

/* TRUE when @pid is a dnsmasq started with network @name's config in @dir. */
static gboolean
is_ours(pid_t pid, const char *dir, const char *name)
{
    g_autofree char *conf = hyve_dnsmasq_file(dir, name, "conf");
    g_autofree char *arg = g_strdup_printf("--conf-file=%s", conf);

    return pid > 0 && exe_is_dnsmasq(pid) && cmdline_has(pid, arg);
}

gboolean
hyve_dnsmasq_alive(pid_t pid, const HyveNetworkDef *def, const char *dir)
{
    if (!def || !dir)
        return pid > 0 && exe_is_dnsmasq(pid);
    return is_ours(pid, dir, def->name);
}

/* Waits up to @ms for @pid to be gone (or a zombie, for a child of ours). */
static gboolean
wait_gone(pid_t pid, int ms)
{
    for (int t = 0; t <= ms; t += 10) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return TRUE;
        if (!exe_is_dnsmasq(pid))
            return TRUE;
        g_usleep(10 * 1000);
    }
    return FALSE;
}

void
hyve_dnsmasq_stop(pid_t pid, const char *dir, const char *name)
{
    g_autofree char *pidfile = NULL;

    if (pid <= 0)
        return;
    /* only our dnsmasq: a stale pid may belong to anything by now */
    if (is_ours(pid, dir, name) && kill(pid, SIGTERM) == 0 && !wait_gone(pid, 2000)) {
        kill(pid, SIGKILL);
        wait_gone(pid, 1000);
    }
    pidfile = hyve_dnsmasq_file(dir, name, "pid");
    g_unlink(pidfile);
}

void
hyve_dnsmasq_remove_files(const char *dir, const char *name)
{
    static const char *const exts[] = { "conf", "hostsfile", "addnhosts", "pid", "leases" };

    for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
        g_autofree char *path = hyve_dnsmasq_file(dir, name, exts[i]);

        g_unlink(path);
    }
}
