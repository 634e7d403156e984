/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_leases.c: dnsmasq's lease file (part of network-dnsmasq).
 *
 * The parser as a table (lease file text, MAC filter -> every field of the
 * leases kept); the reader (missing file, unreadable file, a file dnsmasq
 * keeps rewriting in place while it is read). As root, in the namespaces
 * main() entered: a bridge made with ip(8), the real dnsmasq started with
 * our config, a real DHCP exchange by busybox udhcpc from a second network
 * namespace behind a veth pair, the lease read back, dnsmasq stopped; and
 * a second dnsmasq on the same bridge failing with dnsmasq's own message.
 * Every process started is stopped again, on failure too.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_network_dnsmasq.h"

#define LEASE_NET_XML \
    "<network><name>lnet</name><bridge name='virbr0'/><forward/>" \
    "<ip address='192.168.122.1' prefix='24'><dhcp>" \
    "<range start='192.168.122.2' end='192.168.122.254'/>" \
    "<host mac='52:54:00:11:22:33' ip='192.168.122.77'/></dhcp></ip>" \
    "<ip address='10.9.0.1' prefix='16'/>" \
    "<ip family='ipv6' address='fd00:9::1' prefix='64'/></network>"

#define NOW 1700000000

/* One line per lease: "TYPE MAC IP/PREFIX HOST CLIENTID IAID EXPIRY IFACE",
 * '-' for NULL. */
static char *
summary(GPtrArray *leases)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < leases->len; i++) {
        const HyveNetLease *l = g_ptr_array_index(leases, i);

        g_string_append_printf(s, "%d %s %s/%u %s %s %s %" G_GINT64_FORMAT " %s\n", l->type,
                               l->mac ? l->mac : "-", l->ipaddr, l->prefix,
                               l->hostname ? l->hostname : "-", l->clientid ? l->clientid : "-",
                               l->iaid ? l->iaid : "-", l->expirytime, l->iface);
    }
    return g_string_free(s, FALSE);
}

typedef struct {
    const char *name;
    const char *text;
    const char *mac;            /* filter, or NULL */
    const char *want;           /* summary() */
} ParseCase;

#define V4A "2795721618 52:54:00:11:22:33 192.168.122.50 guesty 01:52:54:00:11:22:33\n"
#define V4A_OUT "0 52:54:00:11:22:33 192.168.122.50/24 guesty 01:52:54:00:11:22:33 - " \
                "2795721618 virbr0\n"
#define DUID "duid 00:01:00:01:2c:8d:2e:7b:52:54:00:aa:bb:cc\n"
#define V6LL "2795721700 1234567 fd00:9::50 guest6 00:03:00:01:52:54:00:11:22:33\n"
#define V6LL_OUT "1 52:54:00:11:22:33 fd00:9::50/64 guest6 00:03:00:01:52:54:00:11:22:33 " \
                 "1234567 2795721700 virbr0\n"

static const ParseCase parse_cases[] = {
    { "empty", "", NULL, "" },
    { "v4", V4A, NULL, V4A_OUT },
    { "stars", "2795721618 52:54:00:11:22:34 192.168.122.51 * *\n", NULL,
      "0 52:54:00:11:22:34 192.168.122.51/24 - - - 2795721618 virbr0\n" },
    { "infinite", "0 52:54:00:11:22:35 192.168.122.52 forever *\n", NULL,
      "0 52:54:00:11:22:35 192.168.122.52/24 forever - - 0 virbr0\n" },
    { "expired", "1600000000 52:54:00:11:22:36 192.168.122.53 old *\n"
                 "1699999999 52:54:00:11:22:37 192.168.122.54 justgone *\n"
                 "1700000000 52:54:00:11:22:38 192.168.122.55 now *\n", NULL,
      "0 52:54:00:11:22:38 192.168.122.55/24 now - - 1700000000 virbr0\n" },
    { "upper-case-mac", "2795721618 52:54:00:AA:BB:CC 192.168.122.56 up *\n", NULL,
      "0 52:54:00:aa:bb:cc 192.168.122.56/24 up - - 2795721618 virbr0\n" },
    { "v6-duid-ll", V4A DUID V6LL, NULL, V4A_OUT V6LL_OUT },
    { "v6-duid-llt-temporary", DUID "0 T77 fd00:9::51 * 00:01:00:01:2c:8d:2e:7b:52:54:00:aa:bb:cd\n",
      NULL, "1 52:54:00:aa:bb:cd fd00:9::51/64 - 00:01:00:01:2c:8d:2e:7b:52:54:00:aa:bb:cd 77 0 "
            "virbr0\n" },
    { "v6-duid-en", DUID "2795721618 5 fd00:9::52 en 00:02:00:00:ab:11:01:02:03:04\n", NULL,
      "1 - fd00:9::52/64 en 00:02:00:00:ab:11:01:02:03:04 5 2795721618 virbr0\n" },
    { "v6-no-duid", DUID "2795721618 6 fd00:9::53 nod *\n", NULL,
      "1 - fd00:9::53/64 nod - 6 2795721618 virbr0\n" },
    { "second-v4-ip-prefix-not-used", "0 52:54:00:11:22:39 10.9.0.5 * *\n", NULL,
      "0 52:54:00:11:22:39 10.9.0.5/24 - - - 0 virbr0\n" },
    { "malformed", "garbage\n"
                   "2795721618 52:54:00:11:22 192.168.122.9 shortmac *\n"
                   "27957x1618 52:54:00:11:22:40 192.168.122.9 badexpiry *\n"
                   "-1 52:54:00:11:22:40 192.168.122.9 negative *\n"
                   "2795721618 52:54:00:11:22:40 300.1.1.1 badip *\n"
                   "2795721618 52:54:00:11:22:40 192.168.122.9 four\n"
                   "2795721618 52:54:00:11:22:40 192.168.122.9 six * extra\n"
                   "2795721618 zz:54:00:11:22:40 192.168.122.9 hexmac *\n"
                   "2795721618 x12 fd00:9::60 badiaid *\n"
                   "duid\n"
                   "\n   \n"
                   V4A, NULL, V4A_OUT },
    { "truncated-file", V4A "2795721618 52:54:00:11:22:41 192.16", NULL, V4A_OUT },
    { "truncated-mid-field", V4A "17957", NULL, V4A_OUT },
    { "crlf-tabs", "2795721618\t52:54:00:11:22:33  192.168.122.50 guesty 01:52:54:00:11:22:33\r\n",
      NULL, V4A_OUT },
    { "filter-match", "2795721618 52:54:00:11:22:34 192.168.122.51 * *\n" V4A, "52:54:00:11:22:33",
      V4A_OUT },
    { "filter-case", V4A, "52:54:00:11:22:33", V4A_OUT },
    { "filter-upper", "2795721618 52:54:00:aa:bb:cc 192.168.122.56 up *\n", "52:54:00:AA:BB:CC",
      "0 52:54:00:aa:bb:cc 192.168.122.56/24 up - - 2795721618 virbr0\n" },
    { "filter-none", V4A, "52:54:00:99:99:99", "" },
    { "filter-v6", V4A DUID V6LL "2795721618 6 fd00:9::53 nod *\n", "52:54:00:11:22:33",
      V4A_OUT V6LL_OUT },
    { "filter-expired", "1600000000 52:54:00:11:22:33 192.168.122.53 old *\n",
      "52:54:00:11:22:33", "" },
};

START_TEST(test_parse)
{
    const ParseCase *c = &parse_cases[_i];
    g_autoptr(HyveNetworkDef) def = dnsmasq_test_def(c->name, LEASE_NET_XML);
    g_autoptr(GPtrArray) leases = hyve_dnsmasq_leases_parse(c->text, def, c->mac, NOW);
    g_autofree char *got = summary(leases);

    ck_assert_msg(g_str_equal(got, c->want), "%s:\n--- want\n%s--- got\n%s", c->name, c->want,
                  got);
}
END_TEST

START_TEST(test_read_files)
{
    g_autoptr(HyveNetworkDef) def = dnsmasq_test_def("read", LEASE_NET_XML);
    g_autofree char *dir = test_tmpdir_new("hyve-leases-XXXXXX");
    g_autofree char *path = hyve_dnsmasq_file(dir, "lnet", "leases");
    g_autoptr(GPtrArray) none = NULL, one = NULL, bad = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL;

    none = hyve_dnsmasq_leases_read(dir, def, NULL, &err);
    ck_assert_msg(none && none->len == 0 && !err, "missing file: not an empty list");
    ck_assert(g_file_set_contents(path, V4A, -1, NULL));
    one = hyve_dnsmasq_leases_read(dir, def, "52:54:00:11:22:33", &err);
    ck_assert_msg(one && !err, "read: %s", err ? err->message : "");
    got = summary(one);
    ck_assert_str_eq(got, V4A_OUT);
    /* a directory where the file should be: an error naming the file */
    ck_assert_int_eq(g_unlink(path), 0);
    ck_assert_int_eq(g_mkdir(path, 0700), 0);
    bad = hyve_dnsmasq_leases_read(dir, def, NULL, &err);
    ck_assert_msg(!bad && err && err->code == HYVE_ERR_SYSTEM_ERROR, "directory read");
    ck_assert_msg(strstr(err->message, path), "message: %s", err->message);
    test_tree_remove(dir);
}
END_TEST

typedef struct {
    const char *path;
    volatile gboolean stop;
} Rewriter;

/* Rewrites the file in place as dnsmasq does: truncate, one write. */
static gpointer
rewriter(gpointer data)
{
    Rewriter *r = data;
    int fd = open(r->path, O_WRONLY | O_CLOEXEC);
    const char text[] = V4A V4A V4A;

    g_assert(fd >= 0);
    while (!r->stop) {
        g_assert(ftruncate(fd, 0) == 0);
        g_assert(pwrite(fd, text, sizeof(text) - 1, 0) == (ssize_t)sizeof(text) - 1);
        g_usleep(300);
    }
    close(fd);
    return NULL;
}

START_TEST(test_read_while_rewritten)
{
    g_autoptr(HyveNetworkDef) def = dnsmasq_test_def("rewrite", LEASE_NET_XML);
    g_autofree char *dir = test_tmpdir_new("hyve-leases-XXXXXX");
    g_autofree char *path = hyve_dnsmasq_file(dir, "lnet", "leases");
    Rewriter r = { path, FALSE };
    GThread *t;
    guint bad = 0, empty = 0;

    ck_assert(g_file_set_contents(path, V4A V4A V4A, -1, NULL));
    t = g_thread_new("rewriter", rewriter, &r);
    for (int i = 0; i < 300; i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GPtrArray) l = hyve_dnsmasq_leases_read(dir, def, NULL, &err);

        /* a partial list is the bug; an empty one means the writer was
         * descheduled between its truncate and its write for longer than
         * the reader waits (seen on a loaded 2-core CI machine): the file
         * really was empty then */
        if (l && l->len == 0)
            empty++;
        else if (!l || l->len != 3)
            bad++;
    }
    r.stop = TRUE;
    g_thread_join(t);
    ck_assert_msg(bad == 0, "%u of 300 reads saw a half-written file (%u empty)", bad, empty);
    test_tree_remove(dir);
}
END_TEST

/* ---- root: the real dnsmasq --------------------------------------------------- */

#define RUN(...) run_step(err, (const char *[]){ __VA_ARGS__, NULL })

/* Runs one command; on failure appends it and its output to @err. */
static gboolean
run_step(GString *err, const char *const *argv)
{
    g_autofree char *out = NULL, *cmd = g_strjoinv(" ", (char **)argv);

    if (dnsmasq_test_run(argv, &out))
        return TRUE;
    g_string_append_printf(err, "'%s' failed: %s\n", cmd, out);
    return FALSE;
}

/* `unshare -n sleep 60`: a second network namespace standing for the
 * guest; its pid is written down for main's clean-up. 0 on failure. */
static pid_t
start_guest_ns(GString *err)
{
    const char *argv[] = { "unshare", "-n", "sleep", "60", NULL };
    g_autofree char *self = g_file_read_link("/proc/self/ns/net", NULL);
    g_autofree char *mark = NULL;
    GPid pid = 0;

    if (!g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                       NULL, NULL, &pid, NULL)) {
        g_string_append(err, "cannot run unshare\n");
        return 0;
    }
    mark = g_strdup_printf("%s/%d", dnsmasq_test_pid_dir, pid);
    g_file_set_contents(mark, "", 0, NULL);
    for (int i = 0; i < 500; i++) {
        g_autofree char *nsp = g_strdup_printf("/proc/%d/ns/net", pid);
        g_autofree char *exep = g_strdup_printf("/proc/%d/exe", pid);
        g_autofree char *ns = g_file_read_link(nsp, NULL);
        g_autofree char *exe = g_file_read_link(exep, NULL);

        if (ns && exe && !g_str_equal(ns, self) && g_str_has_suffix(exe, "/sleep"))
            return pid;
        g_usleep(10000);
    }
    g_string_append(err, "the guest namespace did not come up\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

static void
stop_guest_ns(pid_t pid)
{
    g_autofree char *mark = g_strdup_printf("%s/%d", dnsmasq_test_pid_dir, pid);

    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    g_unlink(mark);
}

/* Kills a dnsmasq a failed step left running (by pid, only a dnsmasq). */
static void
kill_dnsmasq(pid_t pid)
{
    if (pid > 0 && hyve_dnsmasq_alive(pid, NULL, NULL))
        kill(pid, SIGKILL);
}

/* The whole exchange; what went wrong is appended to @err. */
static void
dhcp_exchange(GString *err, const char *dir, HyveNetworkDef *def, pid_t *pid, pid_t *guest)
{
    g_autoptr(HyveNetworkDef) other = dnsmasq_test_def("other", LEASE_NET_XML);
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GPtrArray) leases = NULL;
    g_autofree char *pidstr = NULL, *got = NULL, *pidfile = NULL;
    const char *want = "0 52:54:00:11:22:33 192.168.122.77/24 guesty";
    pid_t second = 0;

    if (!RUN("ip", "link", "add", "virbr0", "type", "bridge") ||
        !RUN("ip", "addr", "add", "192.168.122.1/24", "dev", "virbr0") ||
        !RUN("ip", "link", "set", "virbr0", "up"))
        return;
    if (!hyve_dnsmasq_start(def, dir, pid, &gerr)) {
        g_string_append_printf(err, "start: %s\n", gerr->message);
        return;
    }
    if (kill(*pid, 0) < 0 || !hyve_dnsmasq_alive(*pid, def, dir))
        g_string_append_printf(err, "dnsmasq %d not alive after start\n", *pid);
    g_free(other->name);
    other->name = g_strdup("othernet");
    if (hyve_dnsmasq_alive(*pid, other, dir))
        g_string_append(err, "alive for another network's config\n");

    /* a second dnsmasq on the same bridge: port 53 is taken */
    if (hyve_dnsmasq_start(other, dir, &second, &gerr)) {
        g_string_append(err, "a second dnsmasq on virbr0 started\n");
        kill_dnsmasq(second);
    } else if (!strstr(gerr->message, "Address already in use") ||
               gerr->code != HYVE_ERR_INTERNAL_ERROR) {
        g_string_append_printf(err, "second dnsmasq: %d %s\n", gerr->code, gerr->message);
    }
    g_clear_error(&gerr);

    if (!(*guest = start_guest_ns(err)))
        return;
    pidstr = g_strdup_printf("%d", *guest);
    if (!RUN("ip", "link", "add", "vnet9", "type", "veth", "peer", "name", "guest0") ||
        !RUN("ip", "link", "set", "vnet9", "master", "virbr0", "up") ||
        !RUN("ip", "link", "set", "guest0", "netns", pidstr) ||
        !RUN("nsenter", "-t", pidstr, "-n", "ip", "link", "set", "guest0", "address",
             "52:54:00:11:22:33", "up") ||
        !RUN("nsenter", "-t", pidstr, "-n", "busybox", "udhcpc", "-i", "guest0", "-n", "-q",
             "-t", "5", "-T", "3", "-x", "hostname:guesty", "-s", "/bin/true"))
        return;
    for (int i = 0; i < 100; i++) {
        g_clear_pointer(&leases, g_ptr_array_unref);
        g_clear_pointer(&got, g_free);
        leases = hyve_dnsmasq_leases_read(dir, def, "52:54:00:11:22:33", &gerr);
        got = leases ? summary(leases) : g_strdup(gerr->message);
        if (leases && leases->len == 1)
            break;
        g_usleep(20000);
    }
    if (!leases || leases->len != 1 || !g_str_has_prefix(got, want) ||
        !strstr(got, " virbr0\n") ||
        ((HyveNetLease *)g_ptr_array_index(leases, 0))->expirytime <= g_get_real_time() / 1000000)
        g_string_append_printf(err, "leases: want '%s ...', got '%s'\n", want, got);

    pidfile = hyve_dnsmasq_file(dir, def->name, "pid");
    hyve_dnsmasq_stop(*pid, dir, def->name);
    if (hyve_dnsmasq_alive(*pid, NULL, NULL))
        g_string_append(err, "dnsmasq still running after stop\n");
    if (g_file_test(pidfile, G_FILE_TEST_EXISTS))
        g_string_append(err, "pid file left after stop\n");
}

START_TEST(test_real_dhcp)
{
    g_autoptr(HyveNetworkDef) def = dnsmasq_test_def("real", LEASE_NET_XML);
    g_autofree char *tmp = test_tmpdir_new("hyve-dnsmasq-real-XXXXXX");
    g_autofree char *dir = g_build_filename(tmp, "network", NULL);
    g_autoptr(GString) err = g_string_new(NULL);
    pid_t pid = 0, guest = 0;

    dhcp_exchange(err, dir, def, &pid, &guest);
    /* always: nothing of ours keeps running */
    kill_dnsmasq(pid);
    stop_guest_ns(guest);
    {
        g_autoptr(GString) ignored = g_string_new(NULL);

        run_step(ignored, (const char *[]){ "ip", "link", "del", "virbr0", NULL });
    }
    test_tree_remove(tmp);
    ck_assert_msg(err->len == 0, "real dnsmasq:\n%s", err->str);
}
END_TEST

void
network_leases_add_tests(Suite *s, gboolean root)
{
    TCase *tc = tcase_create("leases");
    TCase *real = tcase_create("real-dnsmasq");

    tcase_add_loop_test(tc, test_parse, 0, G_N_ELEMENTS(parse_cases));
    tcase_add_test(tc, test_read_files);
    tcase_add_test(tc, test_read_while_rewritten);
    suite_add_tcase(s, tc);
    if (root) {
        tcase_set_timeout(real, 90);
        tcase_add_test(real, test_real_dhcp);
        suite_add_tcase(s, real);
    }
}
