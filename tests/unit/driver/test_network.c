/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network.c: the network driver's core through its public API
 * (hyve_network.h) in a temporary directory: lifecycle and event order,
 * transient networks, undefine of an active network, redefinition while
 * active, persistence across hyve_networks_free + hyve_networks_new,
 * the default network on the first start only, autostart, config files
 * that cannot be loaded. Networks started here use forward mode='bridge'
 * (nothing on the host is touched); the cases that make real bridges are
 * in test_network_ops.c (root only, in a network namespace of our own).
 */
#include "test_network.h"

#include <dirent.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <grp.h>
#include "test_driver_common.h"

char *tmp, *cfg_dir, *state_dir;
HyveNetworks *nets;
gboolean in_netns;
static GPtrArray *events;       /* "EVENT NAME" */
static GMutex events_lock;

static void
sink(const HyveNetEvent *ev, gpointer data)
{
    static const char *const names[] = { "DEFINED", "UNDEFINED", "STARTED", "STOPPED" };

    (void)data;
    ck_assert_int_eq(ev->detail, 0);
    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, g_strdup_printf("%s %s", ev->event >= 0 && ev->event < 4 ?
                                            names[ev->event] : "?", ev->name));
    g_mutex_unlock(&events_lock);
}

char *
take_events(void)
{
    char *s;

    g_mutex_lock(&events_lock);
    g_ptr_array_add(events, NULL);
    s = g_strjoinv(",", (char **)events->pdata);
    g_ptr_array_set_size(events, 0);
    g_mutex_unlock(&events_lock);
    return s;
}

HyveNetworks *
open_nets(gboolean define_default)
{
    HyveNetworkConfig cfg = { 0 };
    g_autoptr(GError) err = NULL;
    HyveNetworks *n;

    cfg.privileged = TRUE;
    cfg.config_dir = cfg_dir;
    cfg.state_dir = state_dir;
    cfg.schema_dir = HYVE_LIBVIRT_SCHEMA_DIR;
    cfg.define_default = define_default;
    n = hyve_networks_new(&cfg, &err);
    ck_assert_msg(n, "hyve_networks_new: %s", err ? err->message : "");
    hyve_networks_set_event_sink(n, sink, NULL);
    return n;
}

void
reopen(void)
{
    hyve_networks_free(nets);
    nets = open_nets(FALSE);
}

void
setup(void)
{
    tmp = test_tmpdir_new("hyve-net-XXXXXX");
    cfg_dir = g_build_filename(tmp, "etc", NULL);
    state_dir = g_build_filename(tmp, "run", NULL);
    events = g_ptr_array_new_with_free_func(g_free);
    nets = open_nets(FALSE);
}

void
teardown(void)
{
    g_autoptr(GPtrArray) active = hyve_networks_list(nets, 2u, NULL);

    /* never leave a bridge, table or dnsmasq behind */
    for (guint i = 0; active && i < active->len; i++)
        hyve_networks_destroy(nets, g_ptr_array_index(active, i), NULL);
    hyve_networks_free(nets);
    nets = NULL;
    test_tree_remove(tmp);
    g_clear_pointer(&tmp, g_free);
    g_clear_pointer(&cfg_dir, g_free);
    g_clear_pointer(&state_dir, g_free);
    g_clear_pointer(&events, g_ptr_array_unref);
}

char *
bridge_xml(const char *name, const char *uuid, const char *bridge)
{
    g_autofree char *u = uuid ? g_strdup_printf("<uuid>%s</uuid>", uuid) : g_strdup("");

    return g_strdup_printf("<network><name>%s</name>%s<forward mode='bridge'/>"
                           "<bridge name='%s'/></network>", name, u, bridge);
}

char *
nat_xml(const char *name, const char *bridge, int n)
{
    return g_strdup_printf("<network><name>%s</name><bridge name='%s'/><forward/>"
                           "<ip address='10.%d.0.1' netmask='255.255.255.0'><dhcp>"
                           "<range start='10.%d.0.2' end='10.%d.0.254'/></dhcp></ip>"
                           "</network>", name, bridge, n, n, n);
}

HyveNetObj *
define(const char *xml)
{
    g_autoptr(GError) err = NULL;
    HyveNetObj *n = hyve_networks_define_xml(nets, xml, 0, &err);

    ck_assert_msg(n, "define %s: %s", xml, err ? err->message : "");
    return n;
}

/* define(@xml), then g_free(@xml) */
static HyveNetObj *
define_owned(char *xml)
{
    HyveNetObj *n = define(xml);

    g_free(xml);
    return n;
}

HyveNetObj *
lookup(const char *name)
{
    return hyve_networks_lookup_by_name(nets, name, NULL);
}

void
check_error(const char *what, const GError *err, int code, const char *message)
{
    test_check_error_from(what, err, HYVE_FROM_NETWORK, "NETWORK", code, message);
}

char *
list_names(guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) l = hyve_networks_list(nets, flags, &err);
    g_autoptr(GString) s = g_string_new(NULL);

    ck_assert_msg(l, "list 0x%x: %s", flags, err ? err->message : "");
    for (guint i = 0; i < l->len; i++) {
        HyveNetIdent id = { 0 };

        hyve_net_obj_get_ident(g_ptr_array_index(l, i), &id);
        g_string_append_printf(s, "%s%s", i ? "," : "", id.name);
        hyve_net_ident_clear(&id);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

char *
net_file(const char *dir, const char *name)
{
    g_autofree char *f = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, g_str_equal(dir, cfg_dir) ? "networks" : "network", f, NULL);
}

const char *
spare_device(void)
{
    static char name[IF_NAMESIZE + 1];
    struct if_nameindex *all = if_nameindex(), *i;

    name[0] = 0;
    for (i = all; i && i->if_index; i++) {
        if (!g_str_equal(i->if_name, "lo")) {
            g_strlcpy(name, i->if_name, sizeof(name));
            break;
        }
    }
    if (all)
        if_freenameindex(all);
    return name[0] ? name : NULL;
}

static gboolean
file_has(const char *path, const char *text)
{
    g_autofree char *data = NULL;

    return g_file_get_contents(path, &data, NULL, NULL) && strstr(data, text);
}

static char *
live_xml_of(HyveNetObj *n, guint flags)
{
    g_autoptr(GError) err = NULL;
    char *x = hyve_net_obj_get_xml(n, flags, &err);

    ck_assert_msg(x, "xml: %s", err ? err->message : "");
    return x;
}

/* ---- lifecycle --------------------------------------------------------------- */

START_TEST(test_lifecycle)
{
    g_autoptr(HyveNetObj) n = define_owned(bridge_xml("n1", UUID_A, "hygone0"));
    g_autofree char *conf = net_file(cfg_dir, "n1"), *status = net_file(state_dir, "n1");
    g_autofree char *ev = take_events(), *xml = NULL, *br = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_str_eq(ev, "DEFINED n1");
    ck_assert_msg(file_has(conf, "virsh net-edit n1") && file_has(conf, "<name>n1</name>"),
                  "config file %s", conf);
    ck_assert(!hyve_net_obj_is_active(n) && hyve_net_obj_is_persistent(n));
    ck_assert(!hyve_net_obj_get_autostart(n));
    OK(hyve_networks_start(nets, n, error));
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "STARTED n1");
    ck_assert(hyve_net_obj_is_active(n));
    ck_assert_msg(file_has(status, "<networkstatus persistent='yes'"), "status %s", status);
    OK((xml = hyve_net_obj_get_xml(n, 0, error)) != NULL);
    ck_assert_msg(strstr(xml, "<forward mode='bridge'") && strstr(xml, UUID_A), "%s", xml);
    OK((br = hyve_net_obj_get_bridge_name(n, error)) != NULL);
    ck_assert_str_eq(br, "hygone0");
    ck_assert(!hyve_networks_start(nets, n, &err));
    check_error("start twice", err, HYVE_ERR_OPERATION_INVALID,
                "Requested operation is not valid: network is already active");
    g_clear_error(&err);
    OK(hyve_networks_destroy(nets, n, error));
    ck_assert(!g_file_test(status, G_FILE_TEST_EXISTS));
    ck_assert(!hyve_net_obj_is_active(n));
    OK(hyve_networks_undefine(nets, n, error));
    ck_assert(!g_file_test(conf, G_FILE_TEST_EXISTS));
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "STOPPED n1,UNDEFINED n1");
    ck_assert(!hyve_networks_lookup_by_name(nets, "n1", &err));
    check_error("lookup", err, HYVE_ERR_NO_NETWORK,
                "Network not found: no network with matching name 'n1'");
    g_clear_error(&err);
    ck_assert(!hyve_networks_start(nets, n, &err));
    check_error("start removed", err, HYVE_ERR_NO_NETWORK, "Network not found: no network "
                "with matching uuid '" UUID_A "' (n1)");
}
END_TEST

START_TEST(test_transient)
{
    g_autofree char *x = bridge_xml("t1", NULL, "hygone1");
    g_autofree char *status = net_file(state_dir, "t1"), *ev = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(HyveNetObj) t = hyve_networks_create_xml(nets, x, 0, &err);

    ck_assert_msg(t, "create: %s", err ? err->message : "");
    ev = take_events();
    ck_assert_str_eq(ev, "STARTED t1");     /* no DEFINED */
    ck_assert(hyve_net_obj_is_active(t) && !hyve_net_obj_is_persistent(t));
    ck_assert(file_has(status, "<networkstatus persistent='no'"));
    g_autofree char *conf = net_file(cfg_dir, "t1");
    ck_assert(!g_file_test(conf, G_FILE_TEST_EXISTS));
    OK(hyve_networks_destroy(nets, t, error));
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "STOPPED t1");     /* it vanishes without UNDEFINED */
    ck_assert(!lookup("t1"));
    ck_assert(!g_file_test(status, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_undefine_active)
{
    g_autoptr(HyveNetObj) n = define_owned(bridge_xml("p1", NULL, "hygone2"));
    g_autofree char *conf = net_file(cfg_dir, "p1"), *status = net_file(state_dir, "p1");
    g_autofree char *ev = NULL, *l = NULL;

    OK(hyve_networks_set_autostart(nets, n, TRUE, error));
    OK(hyve_networks_start(nets, n, error));
    OK(hyve_networks_undefine(nets, n, error));
    ev = take_events();
    ck_assert_str_eq(ev, "DEFINED p1,STARTED p1,UNDEFINED p1");
    ck_assert(hyve_net_obj_is_active(n) && !hyve_net_obj_is_persistent(n));
    ck_assert(!hyve_net_obj_get_autostart(n));
    ck_assert(!g_file_test(conf, G_FILE_TEST_EXISTS));
    ck_assert(file_has(status, "<networkstatus persistent='no' autostart='no'"));
    l = list_names(8u);
    ck_assert_str_eq(l, "p1");
    OK(hyve_networks_destroy(nets, n, error));
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "STOPPED p1");
    ck_assert(!lookup("p1"));
}
END_TEST

START_TEST(test_redefine_active)
{
    g_autoptr(HyveNetObj) n = define_owned(bridge_xml("r1", UUID_A, "hygone3"));
    g_autoptr(HyveNetObj) again = NULL;
    g_autofree char *live = NULL, *inactive = NULL, *after = NULL, *ev = NULL;

    OK(hyve_networks_start(nets, n, error));
    again = define("<network><name>r1</name><uuid>" UUID_A "</uuid>"
                   "<bridge name='hyiso3'/></network>");
    ck_assert_ptr_eq(again, n);
    ev = take_events();
    ck_assert_str_eq(ev, "DEFINED r1,STARTED r1,DEFINED r1");
    OK((live = hyve_net_obj_get_xml(n, 0, error)) != NULL);
    OK((inactive = hyve_net_obj_get_xml(n, HYVE_NET_XML_INACTIVE, error)) != NULL);
    ck_assert_msg(strstr(live, "mode='bridge'") && strstr(live, "hygone3"), "%s", live);
    ck_assert_msg(!strstr(inactive, "<forward") && strstr(inactive, "hyiso3"), "%s", inactive);
    OK(hyve_networks_destroy(nets, n, error));
    OK((after = hyve_net_obj_get_xml(n, 0, error)) != NULL);
    ck_assert_msg(strstr(after, "hyiso3") && !strstr(after, "<forward"), "%s", after);
    g_free(ev);
    ev = take_events();
    /* create over the inactive persistent network: the XML is the live
     * definition, the persistent one stays */
    g_autofree char *cx = bridge_xml("r1", UUID_A, "hygone9"), *l2 = NULL, *i2 = NULL;
    g_autoptr(HyveNetObj) c = NULL;
    OK((c = hyve_networks_create_xml(nets, cx, 0, error)) != NULL);
    ck_assert_ptr_eq(c, n);
    ck_assert(hyve_net_obj_is_active(n) && hyve_net_obj_is_persistent(n));
    l2 = live_xml_of(n, 0);
    i2 = live_xml_of(n, HYVE_NET_XML_INACTIVE);
    ck_assert_msg(strstr(l2, "hygone9") && strstr(i2, "hyiso3"), "%s / %s", l2, i2);
    OK(hyve_networks_destroy(nets, n, error));
    g_autoptr(HyveNetObj) still = lookup("r1");
    ck_assert(still && hyve_net_obj_is_persistent(n) && !hyve_net_obj_is_active(n));
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "STARTED r1,STOPPED r1");
}
END_TEST

/* ---- persistence -------------------------------------------------------------- */

START_TEST(test_restart)
{
    const char *dev = spare_device();
    g_autofree char *gone_status = net_file(state_dir, "gone"), *ev = NULL;
    g_autoptr(HyveNetObj) keep = define_owned(bridge_xml("keep", NULL, "lo"));
    g_autoptr(HyveNetObj) gone = define_owned(bridge_xml("gone", NULL, "hygone4"));
    g_autoptr(HyveNetObj) autos = define_owned(bridge_xml("auto", NULL, "hygone6"));
    g_autoptr(HyveNetObj) ab = define("<network><name>a--b</name><bridge name='hyab0'/>"
                                      "</network>");
    g_autoptr(HyveNetObj) tgone = NULL, tkeep = NULL, k = NULL, g = NULL, a = NULL, t = NULL;
    g_autoptr(HyveNetObj) abn = NULL;
    g_autofree char *x1 = bridge_xml("tgone", NULL, "hygone5");
    g_autofree char *x2 = dev ? bridge_xml("tkeep", NULL, dev) : NULL;

    OK(hyve_networks_start(nets, keep, error));
    OK(hyve_networks_start(nets, gone, error));
    OK(hyve_networks_set_autostart(nets, autos, TRUE, error));
    OK((tgone = hyve_networks_create_xml(nets, x1, 0, error)) != NULL);
    if (x2)
        OK((tkeep = hyve_networks_create_xml(nets, x2, 0, error)) != NULL);
    ev = take_events();
    reopen();
    g_free(ev);
    ev = take_events();
    ck_assert_str_eq(ev, "");       /* nothing is sent for the restart or autostart */
    ck_assert((k = lookup("keep")) && hyve_net_obj_is_active(k) &&
              hyve_net_obj_is_persistent(k));
    ck_assert((g = lookup("gone")) && !hyve_net_obj_is_active(g) &&
              hyve_net_obj_is_persistent(g));
    ck_assert(!g_file_test(gone_status, G_FILE_TEST_EXISTS));
    ck_assert((a = lookup("auto")) && hyve_net_obj_is_active(a) &&
              hyve_net_obj_get_autostart(a));
    ck_assert(!lookup("tgone"));
    ck_assert((abn = lookup("a--b")) && !hyve_net_obj_is_active(abn));
    if (dev) {
        ck_assert((t = lookup("tkeep")) && hyve_net_obj_is_active(t) &&
                  !hyve_net_obj_is_persistent(t));
    } else {
        fprintf(stderr, "test_restart: no spare device, transient survival not checked\n");
    }
    /* the old objects are detached from the freed list */
    ck_assert(!hyve_networks_destroy(nets, keep, NULL));
}
END_TEST

START_TEST(test_default_network)
{
    g_autoptr(HyveNetObj) d = NULL;
    g_autofree char *xml = NULL, *conf = NULL;

    /* a fresh config dir without define_default: no default network */
    hyve_networks_free(nets);
    test_tree_remove(cfg_dir);
    nets = open_nets(FALSE);
    ck_assert(!lookup("default"));
    /* not the first start any more: still none */
    hyve_networks_free(nets);
    nets = open_nets(TRUE);
    ck_assert(!lookup("default"));
    /* first start with define_default */
    hyve_networks_free(nets);
    test_tree_remove(cfg_dir);
    nets = open_nets(TRUE);
    ck_assert((d = lookup("default")) != NULL);
    ck_assert(!hyve_net_obj_is_active(d) && hyve_net_obj_is_persistent(d) &&
              !hyve_net_obj_get_autostart(d));
    OK((xml = hyve_net_obj_get_xml(d, 0, error)) != NULL);
    ck_assert_msg(strstr(xml, "<bridge name='virbr0'") && strstr(xml, "192.168.122.1") &&
                  strstr(xml, "<forward mode='nat'"), "%s", xml);
    conf = net_file(cfg_dir, "default");
    ck_assert(g_file_test(conf, G_FILE_TEST_IS_REGULAR));
    /* undefined, it is not made again */
    OK(hyve_networks_undefine(nets, d, error));
    hyve_networks_free(nets);
    nets = open_nets(TRUE);
    ck_assert(!lookup("default"));
}
END_TEST

START_TEST(test_autostart_links)
{
    g_autoptr(HyveNetObj) n = define_owned(bridge_xml("as", NULL, "hygone7"));
    g_autofree char *link = g_build_filename(cfg_dir, "networks", "autostart", "as.xml", NULL);
    g_autofree char *target = NULL, *l = NULL;

    OK(hyve_networks_set_autostart(nets, n, TRUE, error));
    target = g_file_read_link(link, NULL);
    ck_assert_str_eq(target, "../as.xml");
    ck_assert(hyve_net_obj_get_autostart(n));
    l = list_names(16u);
    ck_assert_str_eq(l, "as");
    OK(hyve_networks_set_autostart(nets, n, FALSE, error));
    ck_assert(!g_file_test(link, G_FILE_TEST_EXISTS) && !hyve_net_obj_get_autostart(n));
    /* autostart after a restart, with the link back */
    OK(hyve_networks_set_autostart(nets, n, TRUE, error));
    reopen();
    g_autoptr(HyveNetObj) again = lookup("as");
    ck_assert(again && hyve_net_obj_is_active(again));
    /* undefine removes the link */
    OK(hyve_networks_destroy(nets, again, error));
    OK(hyve_networks_undefine(nets, again, error));
    ck_assert(!g_file_test(link, G_FILE_TEST_EXISTS) &&
              !g_file_test(link, G_FILE_TEST_IS_SYMLINK));
}
END_TEST

START_TEST(test_bad_config)
{
    g_autoptr(HyveNetObj) n = define_owned(bridge_xml("good", NULL, "hygone8"));
    g_autofree char *bad = net_file(cfg_dir, "bad"), *other = net_file(cfg_dir, "other");
    g_autofree char *l = NULL;

    ck_assert(g_file_set_contents(bad, "<network><name>bad", -1, NULL));
    ck_assert(g_file_set_contents(other, "<network><name>notother</name>"
                                  "<bridge name='hyo0'/></network>", -1, NULL));
    reopen();
    l = list_names(0);
    ck_assert_str_eq(l, "good");
    ck_assert(g_file_test(bad, G_FILE_TEST_EXISTS) && g_file_test(other, G_FILE_TEST_EXISTS));
}
END_TEST

/* ---- bridge names, privileges ------------------------------------------------------ */

START_TEST(test_bridge_autopick)
{
#define AUTO_XML(name) "<network><name>" name "</name><bridge name='hyauto%d'/></network>"
    g_autofree char *x1 = g_strdup(AUTO_XML("b1")), *x2 = g_strdup(AUTO_XML("b2"));
    g_autofree char *x3 = g_strdup(AUTO_XML("b3")), *br1 = NULL, *br3 = NULL, *xml = NULL;
    g_autoptr(HyveNetObj) b1 = define(x1), b2 = define(x2), b3 = NULL, d = NULL;

    OK((br1 = hyve_net_obj_get_bridge_name(b1, error)) != NULL);
    ck_assert_str_eq(br1, "hyauto0");
    xml = hyve_net_obj_get_xml(b2, 0, NULL);
    ck_assert_msg(strstr(xml, "<bridge name='hyauto1'") && strstr(xml, "<mac address='52:54:00:"),
                  "%s", xml);
    OK(hyve_networks_undefine(nets, b1, error));
    b3 = define(x3);
    OK((br3 = hyve_net_obj_get_bridge_name(b3, error)) != NULL);
    ck_assert_str_eq(br3, "hyauto0");       /* free again */
    if (in_netns) {
        /* a host device of that name is skipped too */
        d = define("<network><name>b4</name><bridge name='hydummy%d'/></network>");
        g_free(xml);
        xml = hyve_net_obj_get_xml(d, 0, NULL);
        ck_assert_msg(strstr(xml, "<bridge name='hydummy1'"), "%s", xml);
    }
}
END_TEST

/* Without CAP_NET_ADMIN a start fails with the system error (the session
 * daemon's case); as root the check runs in a child that drops to nobody. */
START_TEST(test_unprivileged)
{
    int fds[2];
    char buf[512] = { 0 };
    pid_t pid;

    ck_assert(pipe(fds) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        HyveNetworkConfig cfg = { 0 };
        g_autoptr(GError) err = NULL;
        g_autofree char *dir = NULL, *line = NULL;
        HyveNetworks *n = NULL;
        HyveNetObj *u = NULL;

        close(fds[0]);
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                               setresuid(65534, 65534, 65534) < 0))
            _exit(2);
        dir = g_dir_make_tmp("hyve-net-unpriv-XXXXXX", NULL);
        cfg.config_dir = dir;
        cfg.state_dir = dir;
        if (dir && (n = hyve_networks_new(&cfg, &err)) &&
            (u = hyve_networks_define_xml(n, "<network><name>up</name>"
                                          "<bridge name='hyunpriv0'/></network>", 0, &err)) &&
            hyve_networks_start(n, u, &err))
            line = g_strdup("started");
        else
            line = g_strdup_printf("%d %s", err ? err->code : -1, err ? err->message : "?");
        (void)!write(fds[1], line, strlen(line));
        hyve_net_obj_unref(u);
        hyve_networks_free(n);
        if (dir) {
            g_autofree char *rm = g_strdup_printf("rm -rf %s", dir);

            (void)!g_spawn_command_line_sync(rm, NULL, NULL, NULL, NULL);
        }
        _exit(0);
    }
    close(fds[1]);
    (void)!read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    ck_assert_str_eq(buf, "38 error creating bridge interface hyunpriv0: Operation not permitted");
    ck_assert(if_nametoindex("hyunpriv0") == 0);
}
END_TEST

/* ---- main ------------------------------------------------------------------------ */

/* A network and a mount namespace of our own (with /sys remounted and lo
 * up), and a dummy device to stand for a host bridge. */
static gboolean
enter_namespaces(void)
{
    struct ifreq ifr = { 0 };
    int fd;

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
    g_strlcpy(ifr.ifr_name, "lo", IFNAMSIZ);
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
        fprintf(stderr, "lo up: %s\n", g_strerror(errno));
        return FALSE;
    }
    close(fd);
    return system("ip link add hydummy0 type bridge") == 0;
}

/* Every dnsmasq still running in our namespace (a failed case may leave
 * one): stopped by pid, so the namespace goes away with us. */
static void
stop_leftover_dnsmasq(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/ns/net", NULL);
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *e;

    while (self && d && (e = g_dir_read_name(d))) {
        g_autofree char *ns = NULL, *exe = NULL, *nsp = NULL, *exep = NULL;
        pid_t pid = (pid_t)g_ascii_strtoll(e, NULL, 10);

        if (pid <= 0)
            continue;
        nsp = g_strdup_printf("/proc/%d/ns/net", pid);
        exep = g_strdup_printf("/proc/%d/exe", pid);
        ns = g_file_read_link(nsp, NULL);
        exe = g_file_read_link(exep, NULL);
        if (ns && exe && g_str_equal(ns, self) && g_str_has_suffix(exe, "/dnsmasq")) {
            fprintf(stderr, "stopping leftover dnsmasq %d\n", pid);
            kill(pid, SIGKILL);
        }
    }
}

static gboolean
have_tool(const char *name)
{
    g_autofree char *path = g_find_program_in_path(name);
    g_autofree char *sbin = g_build_filename("/usr/sbin", name, NULL);

    return path || g_file_test(sbin, G_FILE_TEST_IS_EXECUTABLE);
}

int
main(void)
{
    Suite *s = suite_create("network-core");
    TCase *tc = tcase_create("core");
    TCase *host = tcase_create("host");
    int rc;

    if (geteuid() != 0)
        fprintf(stderr, "SKIP (host cases): not root, no real bridges are started\n");
    else if (!have_tool("nft") || !have_tool("dnsmasq") || !have_tool("ip"))
        fprintf(stderr, "SKIP (host cases): nft, dnsmasq or ip missing\n");
    else if (!(in_netns = enter_namespaces()))
        fprintf(stderr, "SKIP (host cases): no network namespace of our own\n");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_transient);
    tcase_add_test(tc, test_undefine_active);
    tcase_add_test(tc, test_redefine_active);
    tcase_add_test(tc, test_restart);
    tcase_add_test(tc, test_default_network);
    tcase_add_test(tc, test_autostart_links);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_bridge_autopick);
    tcase_add_test(tc, test_unprivileged);
    network_add_ops_tests(tc);
    suite_add_tcase(s, tc);
    if (in_netns) {
        tcase_add_checked_fixture(host, setup, teardown);
        network_add_host_tests(host);
        suite_add_tcase(s, host);
    }
    rc = test_suite_run(s);
    if (in_netns)
        stop_leftover_dnsmasq();
    return rc;
}
