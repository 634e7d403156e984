/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_bridge.c: the bridge device of a virtual network, on the
 * host, in the caller's network namespace.
 *
 * Links: ioctls on an AF_UNIX socket (SIOCBRADDBR/SIOCBRDELBR; a MAC set
 * with SIOCSIFHWADDR stays the bridge's whatever ports join; MTU; flags;
 * SIOCDEVPRIVATE for forward delay, then STP, as libvirt: the kernel raises
 * the delay to 2 s when STP is on). Addresses (IPv4 with broadcast, IPv6
 * without DAD) by rtnetlink RTM_NEWADDR, so failures carry the errno.
 * Sysctls: /proc/sys/net (per namespace); never /sys (it shows the
 * namespace of whoever mounted it).
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "hyve_error.h"
#include "hyve_network_priv.h"

/* linux/if_bridge.h's old bridge ioctl commands (SIOCDEVPRIVATE). */
#define HYVE_BRCTL_SET_FORWARD_DELAY 8
#define HYVE_BRCTL_SET_STP_STATE 14

#define bridge_sys_error(error, err, ...) \
    hyve_error_set_errno((error), HYVE_FROM_NETWORK, (err), __VA_ARGS__)

gboolean
hyve_net_device_exists(const char *name)
{
    return name && *name && strlen(name) < IFNAMSIZ && if_nametoindex(name) != 0;
}

/* ---- ioctls (each returns 0 or an errno) ------------------------------------- */

static void
ifr_init(struct ifreq *ifr, const char *name)
{
    memset(ifr, 0, sizeof(*ifr));
    g_strlcpy(ifr->ifr_name, name, IFNAMSIZ);
}

static int
link_set_up(int s, const char *name, gboolean up)
{
    struct ifreq ifr;

    ifr_init(&ifr, name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return errno;
    if (!!(ifr.ifr_flags & IFF_UP) == !!up)
        return 0;
    ifr.ifr_flags = up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP);
    return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? errno : 0;
}

/* SIOCSIFHWADDR with @mac, or SIOCSIFMTU with @mtu. */
static int
link_set(int s, const char *name, const guint8 *mac, guint mtu)
{
    struct ifreq ifr;

    ifr_init(&ifr, name);
    if (mac) {
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    } else {
        ifr.ifr_mtu = (int)mtu;
    }
    return ioctl(s, mac ? SIOCSIFHWADDR : SIOCSIFMTU, &ifr) < 0 ? errno : 0;
}

static int
bridge_ctl(int s, const char *name, unsigned long cmd, unsigned long value)
{
    unsigned long args[4] = { cmd, value, 0, 0 };
    struct ifreq ifr;

    ifr_init(&ifr, name);
    ifr.ifr_data = (char *)args;
    return ioctl(s, SIOCDEVPRIVATE, &ifr) < 0 ? errno : 0;
}

/* Deletes bridge @name; an up bridge is taken down first (the kernel
 * refuses to delete it while up). A device that is not a bridge is left
 * alone (EPERM from the kernel). */
static int
bridge_delete(int s, const char *name)
{
    int err = ioctl(s, SIOCBRDELBR, name) < 0 ? errno : 0;

    if (err == EBUSY) {
        err = link_set_up(s, name, FALSE);
        if (err == 0)
            err = ioctl(s, SIOCBRDELBR, name) < 0 ? errno : 0;
    }
    return err;
}

/* ---- addresses: rtnetlink ----------------------------------------------------- */

typedef struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    char attrs[128];
} AddrRequest;

static void
nl_attr(AddrRequest *req, unsigned short type, const void *data, size_t len)
{
    struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));

    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends @req and waits for the kernel's answer: 0 or an errno. */
static int
nl_transact(struct nlmsghdr *req)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    guint32 buf[2048];
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int ret = EPROTO;

    if (fd < 0)
        return errno;
    if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        ret = errno;
        goto out;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = errno;
            goto out;
        }
        for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != req->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            ret = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
            goto out;
        }
    }
 out:
    close(fd);
    return ret;
}

static int
addr_add(int ifindex, const HyveNetIpDef *ip)
{
    static guint32 seq;
    AddrRequest req;
    guint8 addr[16];
    size_t alen = ip->family == AF_INET6 ? 16 : 4;

    if (inet_pton(ip->family, ip->address, addr) != 1)
        return EINVAL;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    req.nh.nlmsg_type = RTM_NEWADDR;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    req.nh.nlmsg_seq = g_atomic_int_add(&seq, 1) + 1;
    req.ifa.ifa_family = (unsigned char)ip->family;
    req.ifa.ifa_prefixlen = (unsigned char)ip->prefix;
    req.ifa.ifa_index = (unsigned int)ifindex;
    req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    req.ifa.ifa_flags = ip->family == AF_INET6 ? IFA_F_NODAD : 0;
    nl_attr(&req, IFA_LOCAL, addr, alen);
    nl_attr(&req, IFA_ADDRESS, addr, alen);
    if (ip->family == AF_INET && ip->prefix < 31) {
        guint32 a, host = ip->prefix ? ~(0xffffffffu << (32 - ip->prefix)) : 0xffffffffu;

        memcpy(&a, addr, 4);
        a = htonl(ntohl(a) | host);
        nl_attr(&req, IFA_BROADCAST, &a, 4);
    }
    return nl_transact(&req.nh);
}

/* ---- sysctls -------------------------------------------------------------------- */

static int
sysctl_write(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    size_t len = strlen(value);
    int err = 0;

    if (fd < 0)
        return errno;
    if (write(fd, value, len) != (ssize_t)len)
        err = errno ? errno : EIO;
    if (close(fd) < 0 && err == 0)
        err = errno;
    return err;
}

/* libvirt's networkSetIPv6Sysctls: IPv6 off on a bridge without an IPv6
 * <ip>; no router advertisements or autoconfiguration taken from guests. */
static gboolean
bridge_ipv6_sysctls(const HyveNetworkDef *def, GError **error)
{
    gboolean v6 = hyve_net_def_first_ip(def, AF_INET6) != NULL;
    g_autofree char *dir = g_strdup_printf("/proc/sys/net/ipv6/conf/%s", def->bridge);
    g_autofree char *disable = g_build_filename(dir, "disable_ipv6", NULL);
    int err;

    err = sysctl_write(disable, v6 ? "0\n" : "1\n");
    if (err == ENOENT && !v6)
        return TRUE;    /* a kernel without IPv6 */
    if (err) {
        bridge_sys_error(error, err, "cannot write to %s to %s IPv6 on bridge %s", disable,
                         v6 ? "enable" : "disable", def->bridge);
        return FALSE;
    }
    for (guint i = 0; i < 2; i++) {
        g_autofree char *path = g_build_filename(dir, i == 0 ? "accept_ra" : "autoconf", NULL);

        if ((err = sysctl_write(path, "0\n"))) {
            bridge_sys_error(error, err, "cannot disable %s", path);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
enable_forwarding(const HyveNetworkDef *def, GError **error)
{
    const char *paths[] = { "/proc/sys/net/ipv4/ip_forward",
                            "/proc/sys/net/ipv6/conf/all/forwarding" };
    guint n = hyve_net_def_first_ip(def, AF_INET6) ? 2 : 1;

    if (def->forward == HYVE_NET_FORWARD_NONE)
        return TRUE;
    for (guint i = 0; i < n; i++) {
        int err = sysctl_write(paths[i], "1\n");

        if (err) {
            bridge_sys_error(error, err, "cannot enable %s", paths[i]);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- start / stop ------------------------------------------------------------------ */

static gboolean
bridge_configure(int s, const HyveNetworkDef *def, GError **error)
{
    const char *br = def->bridge;
    gboolean stp = def->stp != HYVE_TRISTATE_NO;
    int ifindex, err;

    if (def->mac_set && (err = link_set(s, br, def->mac, 0))) {
        bridge_sys_error(error, err, "Cannot set interface MAC on '%s'", br);
        return FALSE;
    }
    if (def->mtu && (err = link_set(s, br, NULL, def->mtu))) {
        bridge_sys_error(error, err, "Cannot set interface MTU on '%s'", br);
        return FALSE;
    }
    /* clock_t units (1/100 s) */
    if ((err = bridge_ctl(s, br, HYVE_BRCTL_SET_FORWARD_DELAY, (unsigned long)def->delay * 100))) {
        bridge_sys_error(error, err, "Unable to set STP delay on %s", br);
        return FALSE;
    }
    if ((err = bridge_ctl(s, br, HYVE_BRCTL_SET_STP_STATE, stp ? 1 : 0))) {
        bridge_sys_error(error, err, "Unable to %s STP on %s", stp ? "enable" : "disable", br);
        return FALSE;
    }
    if (!bridge_ipv6_sysctls(def, error))
        return FALSE;
    ifindex = (int)if_nametoindex(br);
    if (ifindex == 0) {
        bridge_sys_error(error, errno, "cannot find bridge %s", br);
        return FALSE;
    }
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);

        if ((err = addr_add(ifindex, ip))) {
            bridge_sys_error(error, err, "Error adding IP address %s/%u to %s", ip->address,
                             ip->prefix, br);
            return FALSE;
        }
    }
    if ((err = link_set_up(s, br, TRUE))) {
        bridge_sys_error(error, err, "Cannot set interface flags on '%s'", br);
        return FALSE;
    }
    return enable_forwarding(def, error);
}

gboolean
hyve_net_bridge_start(const HyveNetworkDef *def, GError **error)
{
    int s, err;
    gboolean ok;

    if (!def->bridge || !*def->bridge) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                       "network '%s' does not have a bridge name.", def->name);
        return FALSE;
    }
    if (strlen(def->bridge) >= IFNAMSIZ) {
        bridge_sys_error(error, EINVAL, "error creating bridge interface %s", def->bridge);
        return FALSE;
    }
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        bridge_sys_error(error, errno, "cannot open a socket to create bridge %s", def->bridge);
        return FALSE;
    }
    if (ioctl(s, SIOCBRADDBR, def->bridge) < 0) {
        err = errno;
        close(s);
        bridge_sys_error(error, err, "error creating bridge interface %s", def->bridge);
        return FALSE;
    }
    ok = bridge_configure(s, def, error);
    if (!ok)
        bridge_delete(s, def->bridge);
    close(s);
    return ok;
}

gboolean
hyve_net_bridge_stop(const HyveNetworkDef *def, GError **error)
{
    int s, err;

    if (!def->bridge || !*def->bridge || strlen(def->bridge) >= IFNAMSIZ)
        return TRUE;
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        bridge_sys_error(error, errno, "cannot open a socket to delete bridge %s", def->bridge);
        return FALSE;
    }
    err = bridge_delete(s, def->bridge);
    close(s);
    if (err == 0 || err == ENXIO || err == ENODEV)
        return TRUE;
    bridge_sys_error(error, err, "Unable to delete bridge %s", def->bridge);
    return FALSE;
}

/* ---- route collision ---------------------------------------------------------------- */

/* The <ip> of @family whose subnet is @dest/@prefix, or NULL. */
static const HyveNetIpDef *
ip_with_subnet(const HyveNetworkDef *def, int family, const guint8 *dest, guint prefix)
{
    for (guint i = 0; i < def->ips->len; i++) {
        const HyveNetIpDef *ip = g_ptr_array_index(def->ips, i);
        guint8 net[16];

        if (ip->family != family || ip->prefix != prefix)
            continue;
        hyve_net_ip_subnet(ip, net);
        if (memcmp(net, dest, family == AF_INET ? 4 : 16) == 0)
            return ip;
    }
    return NULL;
}

/* One line of /proc/net/route ("Iface Destination Gateway Flags RefCnt Use
 * Metric Mask ...", addresses as the kernel's 32-bit values in hex, whose
 * bytes are the address on this host) or /proc/net/ipv6_route ("DEST
 * PREFIX SRC SRCPREFIX NEXTHOP METRIC REFCNT USE FLAGS IFACE", addresses
 * as 32 hex digits in network order): the interface when the route's
 * destination is the subnet of one of def's <ip>, else NULL. */
static char *
route_line_collision(const HyveNetworkDef *def, int family, const char *line)
{
    g_auto(GStrv) w = g_strsplit_set(line, " \t", -1);
    guint n = 0, prefix = 0;
    guint8 dest[16];

    for (guint j = 0; w[j]; j++)        /* drop the empty words */
        if (*w[j])
            w[n++] = w[j];
        else
            g_free(w[j]);
    w[n] = NULL;
    if (family == AF_INET && n >= 8) {
        guint32 d = (guint32)g_ascii_strtoull(w[1], NULL, 16);
        guint32 m = ntohl((guint32)g_ascii_strtoull(w[7], NULL, 16));

        prefix = m ? 32 - (guint)__builtin_ctz(m) : 0;
        if (prefix && m == 0xffffffffu << (32 - prefix) && ip_with_subnet(def, AF_INET,
                                                                          (guint8 *)&d, prefix))
            return g_strdup(w[0]);
    } else if (family == AF_INET6 && n >= 10 && strlen(w[0]) == 32) {
        for (guint i = 0; i < 16; i++) {
            int hi = g_ascii_xdigit_value(w[0][2 * i]), lo = g_ascii_xdigit_value(w[0][2 * i + 1]);

            if (hi < 0 || lo < 0)
                return NULL;
            dest[i] = (guint8)(hi << 4 | lo);
        }
        prefix = (guint)g_ascii_strtoull(w[1], NULL, 16);
        if (prefix && prefix <= 128 && ip_with_subnet(def, AF_INET6, dest, prefix))
            return g_strdup(w[9]);
    }
    return NULL;
}

gboolean
hyve_net_route_collision_check(const HyveNetworkDef *def, GError **error)
{
    const char *files[] = { "/proc/net/route", "/proc/net/ipv6_route" };

    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        int family = i == 0 ? AF_INET : AF_INET6;
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (!hyve_net_def_first_ip(def, family) ||
            !g_file_get_contents(files[i], &text, NULL, NULL))
            continue;   /* as libvirt: an unreadable table is no collision */
        lines = g_strsplit(text, "\n", -1);
        for (guint l = family == AF_INET ? 1 : 0; lines[0] && lines[l]; l++) {
            g_autofree char *iface = route_line_collision(def, family, lines[l]);

            if (iface) {
                hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_INTERNAL_ERROR,
                               "Network is already in use by interface %s", iface);
                return FALSE;
            }
        }
    }
    return TRUE;
}
