/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_netdev.c: the tap behind an <interface type='bridge'> or
 * <interface type='network'>, and the network ports of the latter.
 *
 * The tap is created with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (bhyve-runner
 * sets the header size and offloads on the descriptor it inherits) and is
 * not persistent, so it disappears with the runner's last descriptor. The
 * name is the definition's <target dev> when that is free (IFF_TUN_EXCL: an
 * existing device of that name is never taken over), else the kernel picks
 * the first free vnetN. As libvirt does, the host side gets the guest MAC
 * with its first byte set to 0xFE, so the bridge never adopts the guest's
 * address as its own. Interface ioctls go through an AF_UNIX socket (no
 * network socket is opened); everything happens in the caller's network
 * namespace.
 *
 * A type='network' NIC asks its network for a port when the domain starts
 * (hyve_networks_port_acquire gives the bridge to join, and counts the
 * port); the live definition's net->bridge records the port, so whoever
 * ends the run releases exactly the ports that were taken.
 */
#include "hyve-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "hyve_error.h"
#include "hyve_netdev.h"

#define TUN_DEVICE "/dev/net/tun"

static void G_GNUC_PRINTF(3, 4)
netdev_system_error(GError **error, int err, const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR, "%s: %s", what,
                   g_strerror(err));
}

/* TUNSETIFF with @name (may contain %d); on success @name holds the
 * kernel's name. Returns 0 or -errno. */
static int
tap_attach(int fd, char name[IFNAMSIZ], gboolean exclusive)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (exclusive ? IFF_TUN_EXCL : 0);
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return -errno;
    g_strlcpy(name, ifr.ifr_name, IFNAMSIZ);
    return 0;
}

/* Opens the tap; returns its descriptor and name, or -1 with @error set. */
static int
tap_create(const char *wanted, char name[IFNAMSIZ], GError **error)
{
    int fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC);
    int r = -EEXIST;

    if (fd < 0) {
        netdev_system_error(error, errno, "cannot open %s", TUN_DEVICE);
        return -1;
    }
    /* a chosen name is only used when free: never join an existing tap */
    if (wanted && strlen(wanted) < IFNAMSIZ && !strchr(wanted, '%') &&
        if_nametoindex(wanted) == 0) {
        g_strlcpy(name, wanted, IFNAMSIZ);
        r = tap_attach(fd, name, TRUE);
    }
    if (r == -EEXIST || r == -EBUSY || r == -EINVAL) {
        g_strlcpy(name, "vnet%d", IFNAMSIZ);
        r = tap_attach(fd, name, TRUE);
    }
    if (r < 0) {
        netdev_system_error(error, -r, "cannot create tap device %s", wanted ? wanted : "vnetN");
        close(fd);
        return -1;
    }
    return fd;
}

static gboolean
tap_configure(const char *name, const HyveNetDef *net, const char *bridge, GError **error)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    gboolean ok = FALSE;

    if (s < 0) {
        netdev_system_error(error, errno, "cannot open a socket to configure %s", name);
        return FALSE;
    }

    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, net->mac, HYVE_MAC_LEN);
    ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
    if (net->mac_set && ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
        netdev_system_error(error, errno, "cannot set the MAC address of %s", name);
        goto out;
    }

    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, bridge, IFNAMSIZ);
    ifr.ifr_ifindex = (int)if_nametoindex(name);
    if (ifr.ifr_ifindex == 0 || ioctl(s, SIOCBRADDIF, &ifr) < 0) {
        int err = ifr.ifr_ifindex == 0 ? ENODEV : errno;

        if (err == EOPNOTSUPP || err == EINVAL)
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                           "cannot attach %s to '%s': it is not a bridge", name, bridge);
        else
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                           "cannot attach %s to bridge '%s': %s", name, bridge,
                           g_strerror(err));
        goto out;
    }

    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        netdev_system_error(error, errno, "cannot get the flags of %s", name);
        goto out;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        netdev_system_error(error, errno, "cannot set %s up", name);
        goto out;
    }
    ok = TRUE;
 out:
    close(s);
    return ok;
}

int
hyve_netdev_tap_open(const HyveNetDef *net, char **ifname, GError **error)
{
    const char *bridge = net->type == HYVE_NET_TYPE_BRIDGE ? net->source :
                         net->type == HYVE_NET_TYPE_NETWORK ? net->bridge : NULL;
    char name[IFNAMSIZ] = "";
    int fd;

    if (!bridge) {
        if (net->type == HYVE_NET_TYPE_NETWORK)
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "interface on network '%s' has no bridge",
                           net->source ? net->source : "");
        else
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "interface without a bridge");
        return -1;
    }
    if (strlen(bridge) >= IFNAMSIZ || if_nametoindex(bridge) == 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_OPERATION_FAILED,
                       "bridge '%s' does not exist", bridge);
        return -1;
    }
    if ((fd = tap_create(net->target_dev, name, error)) < 0)
        return -1;
    if (!tap_configure(name, net, bridge, error)) {
        close(fd);          /* not persistent: the tap goes with it */
        return -1;
    }
    *ifname = g_strdup(name);
    return fd;
}

/* ---- network ports ---------------------------------------------------------- */

static gboolean
acquire_ports(HyveNetworks *nets, HyveDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->nets->len; i++) {
        HyveNetDef *net = g_ptr_array_index(def->nets, i);

        if (net->type != HYVE_NET_TYPE_NETWORK)
            continue;
        g_clear_pointer(&net->bridge, g_free);
        if (!nets) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_NO_NETWORK,
                           "no network with matching name '%s'",
                           net->source ? net->source : "");
            return FALSE;
        }
        if (!(net->bridge = hyve_networks_port_acquire(nets, net->source, FALSE, error)))
            return FALSE;
    }
    return TRUE;
}

GArray *
hyve_netdev_open_all(HyveNetworks *nets, HyveDomainDef *def, GError **error)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));

    if (!acquire_ports(nets, def, error))
        goto fail;
    for (guint i = 0; i < def->nets->len; i++) {
        HyveNetDef *net = g_ptr_array_index(def->nets, i);
        char *ifname = NULL;
        int fd = hyve_netdev_tap_open(net, &ifname, error);

        if (fd < 0)
            goto fail;
        g_array_append_val(fds, fd);
        g_free(net->target_dev);
        net->target_dev = ifname;
    }
    return fds;

 fail:
    for (guint j = 0; j < fds->len; j++)
        close(g_array_index(fds, int, j));
    g_array_unref(fds);
    hyve_netdev_release_def(nets, def);
    return NULL;
}

GPtrArray *
hyve_netdev_take_ports(HyveDomainDef *def)
{
    GPtrArray *ports = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; def && i < def->nets->len; i++) {
        HyveNetDef *net = g_ptr_array_index(def->nets, i);

        if (net->type == HYVE_NET_TYPE_NETWORK && net->bridge) {
            g_clear_pointer(&net->bridge, g_free);
            g_ptr_array_add(ports, g_strdup(net->source));
        }
    }
    return ports;
}

void
hyve_netdev_release_ports(HyveNetworks *nets, GPtrArray *ports)
{
    if (!ports)
        return;
    for (guint i = 0; nets && i < ports->len; i++)
        hyve_networks_port_release(nets, g_ptr_array_index(ports, i));
    g_ptr_array_unref(ports);
}

void
hyve_netdev_release_def(HyveNetworks *nets, HyveDomainDef *def)
{
    hyve_netdev_release_ports(nets, hyve_netdev_take_ports(def));
}

void
hyve_netdev_reattach_ports(HyveNetworks *nets, HyveDomainDef *def)
{
    for (guint i = 0; i < def->nets->len; i++) {
        HyveNetDef *net = g_ptr_array_index(def->nets, i);
        g_autoptr(GError) err = NULL;

        if (net->type != HYVE_NET_TYPE_NETWORK)
            continue;
        g_clear_pointer(&net->bridge, g_free);
        if (nets)
            net->bridge = hyve_networks_port_acquire(nets, net->source, TRUE, &err);
        if (!net->bridge)
            g_warning("domain %s: interface %s keeps no port on network '%s': %s", def->name,
                      net->target_dev ? net->target_dev : "?", net->source,
                      err ? err->message : "the network is not active");
    }
}
