/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_domain.h: fixture and helpers of test_network_domain.c
 * (included by it only). Domains with <interface type='network'> through
 * the real driver, the real network driver and the real bhyve-runner: the
 * tap joins the network's bridge, the live XML names it, the network counts
 * the port once per running NIC and drops it on every stop path (destroy,
 * guest power-off, restart, failed start, reattach), start refusals, and
 * virDomainInterfaceAddresses (lease, arp, agent, wrong source/state).
 *
 * Root only, inside a network and mount namespace of its own made first
 * (sysfs remounted there; lo up): nothing touches the host's interfaces.
 * Skipped (77) when not root, without the namespaces, /dev/kvm or a built
 * bhyve-runner (<build>/bhyve-runner/bhyve-runner, found from this binary).
 */
#pragma once

#include "test_domain_process.h"

#include <sched.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "hyve_network.h"

#define MAC1 "52:54:00:aa:bb:01"
#define MAC2 "52:54:00:aa:bb:02"

/* A network and mount namespace of our own: / private, a fresh sysfs that
 * shows this namespace, lo up. FALSE (with why) when they cannot be made. */
static inline gboolean
enter_namespaces(char **why)
{
    struct ifreq ifr = { 0 };
    int s;

    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
        *why = g_strdup_printf("namespaces: %s", g_strerror(errno));
        return FALSE;
    }
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_strlcpy(ifr.ifr_name, "lo", IFNAMSIZ);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        *why = g_strdup_printf("lo up: %s", g_strerror(errno));
        return FALSE;
    }
    close(s);
    return TRUE;
}

/* ---- fixture ------------------------------------------------------------- */

/* Every test in namespaces of its own (a failed test's bridges go with
 * them), entered in the test's process. */
static inline void
net_setup(void)
{
    g_autofree char *why = NULL;

    ck_assert_msg(enter_namespaces(&why), "%s", why);
    tmpdir = test_tmpdir_new("hyve-netdom-XXXXXX");
    events = g_ptr_array_new_with_free_func(g_free);
    drv = open_driver();
}

/* Every network still active is stopped (its dnsmasq would keep running). */
static inline void
stop_networks(void)
{
    g_autoptr(GPtrArray) list = NULL;

    if (!drv || !hyve_driver_get_networks(drv))
        return;
    list = hyve_networks_list(hyve_driver_get_networks(drv), 2 /* ACTIVE */, NULL);
    for (guint i = 0; list && i < list->len; i++)
        hyve_networks_destroy(hyve_driver_get_networks(drv), g_ptr_array_index(list, i), NULL);
}

static inline void
net_teardown(void)
{
    stop_networks();
    teardown();
}

/* Live bhyve-runners of this test (dnsmasq also names the test's run
 * directory: not counted). */
static inline guint
test_runners(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    g_autofree char *conf = g_strdup_printf("-c %s/run/", tmpdir);
    const char *ent;
    guint n = 0;

    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;
        char state = 0;

        if (!g_ascii_isdigit(ent[0]) || !g_file_get_contents(path, &cmd, &len, NULL))
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (g_str_has_prefix(cmd, runner_path) && strstr(cmd, conf) &&
            hyve_proc_stat(atoi(ent), NULL, NULL, NULL, &state) && state != 'Z')
            n++;
    }
    return n;
}

/* ---- helpers ------------------------------------------------------------- */

/* Defines network @name (isolated, bridge @bridge, 10.77.@octet.0/24 with
 * DHCP) and starts it unless @start is FALSE. */
static inline void
net_define(const char *name, const char *bridge, int octet, gboolean start)
{
    g_autofree char *xml = g_strdup_printf(
        "<network><name>%s</name><bridge name='%s'/>"
        "<ip address='10.77.%d.1' netmask='255.255.255.0'><dhcp>"
        "<range start='10.77.%d.2' end='10.77.%d.254'/></dhcp></ip></network>",
        name, bridge, octet, octet, octet);
    HyveNetworks *nets = hyve_driver_get_networks(drv);
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetObj) net = NULL;

    ck_assert_msg(nets, "the driver has no network driver");
    net = hyve_networks_define_xml(nets, xml, 0, &err);
    ck_assert_msg(net, "define network %s: %s", name, err ? err->message : "");
    if (start)
        ck_assert_msg(hyve_networks_start(nets, net, &err), "start network %s: %s", name,
                      err ? err->message : "");
}

/* connections='N' of the network's live XML (0 when absent). */
static inline guint
net_connections(const char *name)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetObj) net = hyve_networks_lookup_by_name(hyve_driver_get_networks(drv),
                                                             name, &err);
    g_autofree char *xml = NULL;
    const char *p;

    ck_assert_msg(net, "lookup %s: %s", name, err ? err->message : "");
    xml = hyve_net_obj_get_xml(net, 0, &err);
    ck_assert_msg(xml, "network XML %s: %s", name, err ? err->message : "");
    p = strstr(xml, "connections='");
    return p ? (guint)g_ascii_strtoull(p + 13, NULL, 10) : 0;
}

/* A spinning (or @action) guest with @nics inside <devices>. */
static inline HyveDomainObj *
define_nic_guest(const char *name, const char *action, const char *extra, const char *nics)
{
    g_autoptr(GByteArray) img = guest_image(action);
    g_autofree char *kernel = g_strdup_printf("%s/%s.bzImage", tmpdir, name);
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    HyveDomainObj *obj;

    ck_assert(g_file_set_contents(kernel, (char *)img->data, img->len, NULL));
    xml = g_strdup_printf("<domain type='bhyve'><name>%s</name><memory unit='MiB'>64</memory>"
                          "<os><type>hvm</type><kernel>%s</kernel></os>%s<devices>%s"
                          "<serial type='pty'/></devices></domain>",
                          name, kernel, extra ? extra : "", nics);
    obj = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(obj, "define %s: %s", name, err ? err->message : "");
    return obj;
}

static inline char *
nic(const char *type, const char *source, const char *mac)
{
    return g_strdup_printf("<interface type='%s'><mac address='%s'/><source %s='%s'/>"
                           "<model type='virtio'/></interface>",
                           type, mac, g_str_equal(type, "network") ? "network" : "bridge",
                           source);
}

/* The bridge @ifname is attached to ("" when none); NULL when it does not exist. */
static inline char *
iface_master(const char *ifname)
{
    g_autofree char *dir = g_strdup_printf("/sys/class/net/%s", ifname);
    g_autofree char *link = g_strdup_printf("%s/master", dir);
    g_autofree char *target = NULL;

    if (!g_file_test(dir, G_FILE_TEST_EXISTS))
        return NULL;
    target = g_file_read_link(link, NULL);
    return target ? g_path_get_basename(target) : g_strdup("");
}

static inline void
wait_iface_gone(const char *ifname)
{
    for (int i = 0; i < 250 && if_nametoindex(ifname) != 0; i++)
        g_usleep(20000);
    ck_assert_msg(if_nametoindex(ifname) == 0, "%s still exists", ifname);
}

static inline char *
live_xml(HyveDomainObj *obj, guint flags)
{
    g_autoptr(GError) err = NULL;
    char *xml = hyve_domain_obj_get_xml(obj, flags, &err);

    ck_assert_msg(xml, "domain XML: %s", err ? err->message : "");
    return xml;
}

static inline void
destroy_ok(HyveDomainObj *obj)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyve_driver_domain_destroy(drv, obj, 0, &err), "destroy %s: %s", obj->name,
                  err ? err->message : "");
}



/* After the run: processes a failed test left (a failing test skips its
 * teardown): runners and dnsmasq whose command line names one of this
 * program's directories. */
static inline void
kill_strays(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(ent[0]) || atoi(ent) == getpid() ||
            !g_file_get_contents(path, &cmd, &len, NULL))
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (strstr(cmd, "/hyve-netdom-")) {
            g_print("killing %s left by a failed test: %s\n", ent, cmd);
            kill(atoi(ent), SIGKILL);
        }
    }
}
