/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_netdev.c: hyve_netdev_tap_open() on a real kernel, inside a network
 * namespace of its own (and a mount namespace with a fresh /sys, so that
 * /sys/class/net shows that namespace). The host's network namespace is
 * never touched: if the namespaces cannot be made, nothing runs. Needs root
 * (CAP_NET_ADMIN, CAP_SYS_ADMIN); skipped (77) otherwise.
 */
#include "hyve-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hyve_error.h"
#include "hyve_netdev.h"
#include "test_common.h"

static char *
sysfs_read(const char *ifname, const char *attr)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/%s", ifname, attr);
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return NULL;
    return g_strchomp(data);
}

static gboolean
iface_exists(const char *ifname)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s", ifname);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static gint
str_ptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names in /sys/class/net, space separated. */
static char *
iface_list(void)
{
    g_autoptr(GDir) d = g_dir_open("/sys/class/net", 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *e;

    ck_assert(d);
    while ((e = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(e));
    g_ptr_array_sort(names, str_ptr_cmp);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static HyveNetDef *
net_new(HyveNetType type, const char *source, const char *target)
{
    HyveNetDef *n = g_new0(HyveNetDef, 1);
    static const guint8 mac[HYVE_MAC_LEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

    n->type = type;
    n->source = g_strdup(source);
    n->target_dev = g_strdup(target);
    memcpy(n->mac, mac, HYVE_MAC_LEN);
    n->mac_set = TRUE;
    n->model = g_strdup("virtio");
    return n;
}

static void
wait_gone(const char *ifname)
{
    for (int i = 0; i < 100 && iface_exists(ifname); i++)
        g_usleep(20000);
    ck_assert_msg(!iface_exists(ifname), "%s still exists after its descriptor closed", ifname);
}

/* A tap on br0: attached, up, host MAC fe:.., vnet header, close-on-exec,
 * gone once closed. */
START_TEST(test_bridge)
{
    HyveNetDef *net = net_new(HYVE_NET_TYPE_BRIDGE, "br0", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *ifname = NULL, *master = NULL, *masterpath = NULL;
    g_autofree char *flags = NULL, *addr = NULL, *tunflags = NULL;
    int fd = hyve_netdev_tap_open(net, &ifname, &err);

    ck_assert_msg(fd >= 0, "bridge: %s", err ? err->message : "");
    ck_assert_msg(g_str_has_prefix(ifname, "vnet"), "bridge: name '%s'", ifname);
    ck_assert_msg(fcntl(fd, F_GETFD) & FD_CLOEXEC, "bridge: descriptor not close-on-exec");
    masterpath = g_strdup_printf("/sys/class/net/%s/master", ifname);
    master = g_file_read_link(masterpath, NULL);
    ck_assert_msg(master && g_str_has_suffix(master, "/br0"), "bridge: master of %s is '%s'",
                  ifname, master ? master : "(none)");
    flags = sysfs_read(ifname, "flags");
    ck_assert_msg(flags && (g_ascii_strtoull(flags, NULL, 16) & 0x1), "bridge: %s not up (%s)",
                  ifname, flags ? flags : "?");
    addr = sysfs_read(ifname, "address");
    ck_assert_msg(addr && g_str_equal(addr, "fe:54:00:12:34:56"), "bridge: host MAC '%s'", addr);
    tunflags = sysfs_read(ifname, "tun_flags");
    ck_assert_msg(tunflags && g_ascii_strtoull(tunflags, NULL, 16) == 0x5002,
                  "bridge: tun_flags %s, expected TAP|NO_PI|VNET_HDR (0x5002), not persistent",
                  tunflags ? tunflags : "?");
    close(fd);
    wait_gone(ifname);
    hyve_domain_net_def_free(net);
}
END_TEST

/* <target dev> is used when free; a name in use is never taken over. */
START_TEST(test_target_dev)
{
    HyveNetDef *net = net_new(HYVE_NET_TYPE_BRIDGE, "br0", "hyvetest0");
    g_autoptr(GError) err = NULL;
    g_autofree char *a = NULL, *b = NULL, *master = NULL;
    int fa = hyve_netdev_tap_open(net, &a, &err), fb;

    ck_assert_msg(fa >= 0, "target: %s", err ? err->message : "");
    ck_assert_str_eq(a, "hyvetest0");
    fb = hyve_netdev_tap_open(net, &b, &err);
    ck_assert_msg(fb >= 0, "target (second): %s", err ? err->message : "");
    ck_assert_msg(g_str_has_prefix(b, "vnet"), "target in use: got '%s'", b);
    master = g_file_read_link("/sys/class/net/hyvetest0/master", NULL);
    ck_assert_msg(master && g_str_has_suffix(master, "/br0"), "target: master '%s'", master);
    close(fa);
    close(fb);
    wait_gone(a);
    wait_gone(b);
    hyve_domain_net_def_free(net);
}
END_TEST

static const struct {
    const char *name;
    HyveNetType type;
    const char *source;
    const char *error;      /* "<code> <domain> <message>" */
} failures[] = {
    { "missing-bridge", HYVE_NET_TYPE_BRIDGE, "nobr0",
      "9 57 operation failed: bridge 'nobr0' does not exist" },
    { "not-a-bridge", HYVE_NET_TYPE_BRIDGE, "lo",
      "9 57 operation failed: cannot attach hyvetest1 to 'lo': it is not a bridge" },
    /* a network NIC whose port was not taken (no bridge resolved) */
    { "network", HYVE_NET_TYPE_NETWORK, "default",
      "1 57 internal error: interface on network 'default' has no bridge" },
};

/* Exact errors, and no tap is left behind. */
START_TEST(test_failure)
{
    HyveNetDef *net = net_new(failures[_i].type, failures[_i].source, "hyvetest1");
    g_autoptr(GError) err = NULL;
    g_autofree char *ifname = NULL, *before = iface_list(), *after = NULL, *line = NULL;
    HyveErrorFrom from = 0;
    int fd = hyve_netdev_tap_open(net, &ifname, &err);

    ck_assert_msg(fd < 0 && err, "%s: tap opened (%s)", failures[_i].name, ifname);
    ck_assert_msg(!ifname, "%s: name set on failure", failures[_i].name);
    ck_assert(hyve_error_from_quark(err->domain, &from));
    line = g_strdup_printf("%d %d %s", err->code, (int)from, err->message);
    ck_assert_msg(g_str_equal(line, failures[_i].error), "%s:\n  got:  %s\n  want: %s",
                  failures[_i].name, line, failures[_i].error);
    for (int i = 0; i < 100; i++) {
        g_free(after);
        after = iface_list();
        if (g_str_equal(before, after))
            break;
        g_usleep(20000);
    }
    ck_assert_msg(g_str_equal(before, after), "%s: interfaces before '%s', after '%s'",
                  failures[_i].name, before, after);
    hyve_domain_net_def_free(net);
}
END_TEST

/* Without CAP_NET_ADMIN (a child running as nobody): SYSTEM_ERROR with the
 * errno text. */
START_TEST(test_unprivileged)
{
    int fds[2];
    char buf[512] = "";
    ssize_t n;
    pid_t pid;

    ck_assert(pipe(fds) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        HyveNetDef *net = net_new(HYVE_NET_TYPE_BRIDGE, "br0", NULL);
        g_autoptr(GError) err = NULL;
        g_autofree char *ifname = NULL, *line = NULL;
        HyveErrorFrom from = 0;

        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
            _exit(2);
        if (hyve_netdev_tap_open(net, &ifname, &err) >= 0)
            line = g_strdup("opened");
        else {
            hyve_error_from_quark(err->domain, &from);
            line = g_strdup_printf("%d %d %s", err->code, (int)from, err->message);
        }
        (void)!write(fds[1], line, strlen(line));
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    ck_assert_msg(n > 0, "unprivileged: no result from the child");
    ck_assert_str_eq(buf, "38 57 cannot create tap device vnetN: Operation not permitted");
}
END_TEST

/* A network and a mount namespace of our own, with /sys remounted. */
static gboolean
enter_namespaces(void)
{
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
        fprintf(stderr, "unshare: %s\n", g_strerror(errno));
        return FALSE;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        umount2("/sys", MNT_DETACH) < 0 ||
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        fprintf(stderr, "remounting /sys: %s\n", g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

int
main(void)
{
    Suite *s = suite_create("driver-netdev");
    TCase *tc = tcase_create("tap");

    if (geteuid() != 0) {
        fprintf(stderr, "SKIP: needs root (network namespace, tap devices)\n");
        return 77;
    }
    if (!enter_namespaces())
        return 77;
    /* the namespace starts with only lo; br0 exists for the whole run */
    if (system("ip link add br0 type bridge && ip link set br0 up") != 0) {
        fprintf(stderr, "cannot create br0 in the test namespace\n");
        return EXIT_FAILURE;
    }
    tcase_add_test(tc, test_bridge);
    tcase_add_test(tc, test_target_dev);
    tcase_add_loop_test(tc, test_failure, 0, G_N_ELEMENTS(failures));
    tcase_add_test(tc, test_unprivileged);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
