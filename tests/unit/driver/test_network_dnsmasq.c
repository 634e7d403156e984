/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_network_dnsmasq.c: a network's dnsmasq (network-dnsmasq, with
 * test_network_leases.c).
 *
 * Golden cases: network/dnsmasq/<case>.xml is parsed (schema-validated)
 * and its dnsmasq config compared with <case>.conf (state dir
 * /run/hyve/network); hyve_dnsmasq_start() with a fake dnsmasq first in
 * PATH must write that config (0600), <case>.hostsfile and
 * <case>.addnhosts (absent golden = empty file) and pass dnsmasq's pid
 * back; the real dnsmasq then checks the written config's syntax
 * (dnsmasq --test). HYVE_REGENERATE=1 rewrites the golden files.
 * Also: when a network needs a dnsmasq, start failures (exit status with
 * dnsmasq's stderr, no pid file), and the alive/stop checks refusing a
 * process that is not a dnsmasq.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_network_dnsmasq.h"

#define GOLDEN_STATE_DIR "/run/hyve/network"
#define REAL_DNSMASQ "/usr/sbin/dnsmasq"

const char *dnsmasq_test_pid_dir;

static const char *const golden[] = {
    "default-nat", "isolated", "ipv6", "ipv6-ra-only", "static-hosts", "static-only",
    "dns-full", "dns-disabled", "dns-only", "tftp-bootp", "mtu", "lease-times",
    "dnsmasq-options",
};

static gboolean
not_in_use(const char *bridge, gpointer data)
{
    (void)bridge;
    (void)data;
    return FALSE;
}

HyveNetworkDef *
dnsmasq_test_def(const char *what, const char *xml)
{
    g_autoptr(GError) err = NULL;
    HyveNetworkDef *def = hyve_net_def_parse_string(xml, HYVE_LIBVIRT_SCHEMA_DIR, TRUE, &err);

    ck_assert_msg(def, "%s: rejected: %s", what, err ? err->message : "");
    ck_assert_msg(hyve_net_def_assign_bridge(def, not_in_use, NULL, &err), "%s: %s", what,
                  err ? err->message : "");
    return def;
}

gboolean
dnsmasq_test_run(const char *const *argv, char **out)
{
    g_autofree char *so = NULL, *se = NULL;
    int ws = 0;
    gboolean ok = g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                               &so, &se, &ws, NULL) && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;

    if (out)
        *out = g_strconcat(so ? so : "", se ? se : "", NULL);
    return ok;
}

static HyveNetworkDef *
golden_def(const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/%s.xml", DNSMASQ_GOLDEN_DIR, name);
    g_autofree char *xml = test_read_file(path);

    ck_assert_msg(xml, "%s: cannot read %s", name, path);
    return dnsmasq_test_def(name, xml);
}

/* Compares @got with golden file @name.@ext (a missing one means empty);
 * HYVE_REGENERATE=1 writes it instead (nothing for an empty text). */
static void
check_golden(const char *name, const char *ext, const char *got)
{
    g_autofree char *path = g_strdup_printf("%s/%s.%s", DNSMASQ_GOLDEN_DIR, name, ext);
    g_autofree char *want = NULL;

    if (test_regenerate()) {
        if (*got)
            ck_assert_msg(g_file_set_contents(path, got, -1, NULL), "%s: cannot write", path);
        else
            g_unlink(path);
        return;
    }
    want = test_read_file(path);
    ck_assert_msg(g_str_equal(want ? want : "", got), "%s.%s differs:\n--- want\n%s--- got\n%s",
                  name, ext, want ? want : "", got);
}

START_TEST(test_conf_golden)
{
    const char *name = golden[_i];
    g_autoptr(HyveNetworkDef) def = golden_def(name);
    g_autofree char *conf = hyve_dnsmasq_conf_text(def, GOLDEN_STATE_DIR);

    ck_assert_msg(hyve_dnsmasq_needed(def), "%s: needs no dnsmasq?", name);
    check_golden(name, "conf", conf);
}
END_TEST

/* A fake dnsmasq: FAKE_MODE ok (a sleep stands for the daemon, its pid in
 * the config's pid-file, argv saved in $FAKE_ARGS), fail (stderr + exit 2),
 * nopid (exit 0, no pid file). */
static const char fake_script[] =
    "#!/bin/sh\n"
    "printf '%s\\n' \"$@\" > \"$FAKE_ARGS\"\n"
    "case \"$FAKE_MODE\" in\n"
    "fail) echo 'dnsmasq: failed to create listening socket for port 53: Address in use' >&2; exit 2;;\n"
    "nopid) exit 0;;\n"
    "esac\n"
    "conf=${1#--conf-file=}\n"
    "pidf=$(sed -n 's/^pid-file=//p' \"$conf\")\n"
    "sleep 30 </dev/null >/dev/null 2>&1 &\n"
    "echo $! > \"$pidf\"\n";

/* A temporary directory with bin/dnsmasq = the fake, first in PATH. */
static char *
fake_setup(const char *mode)
{
    char *tmp = test_tmpdir_new("hyve-dnsmasq-XXXXXX");
    g_autofree char *bin = g_build_filename(tmp, "bin", NULL);
    g_autofree char *fake = g_build_filename(bin, "dnsmasq", NULL);
    g_autofree char *args = g_build_filename(tmp, "args", NULL);
    g_autofree char *path = g_strdup_printf("%s:%s", bin, g_getenv("PATH"));

    ck_assert_int_eq(g_mkdir(bin, 0755), 0);
    ck_assert(g_file_set_contents(fake, fake_script, -1, NULL));
    ck_assert_int_eq(chmod(fake, 0755), 0);
    g_setenv("PATH", path, TRUE);
    g_setenv("FAKE_MODE", mode, TRUE);
    g_setenv("FAKE_ARGS", args, TRUE);
    return tmp;
}

static char *
read_in(const char *dir, const char *name, const char *ext)
{
    g_autofree char *path = hyve_dnsmasq_file(dir, name, ext);
    char *text = test_read_file(path);

    ck_assert_msg(text, "%s not written", path);
    return text;
}

START_TEST(test_start_fake)
{
    const char *name = golden[_i];
    g_autoptr(HyveNetworkDef) def = golden_def(name);
    g_autofree char *tmp = fake_setup("ok");
    g_autofree char *dir = g_build_filename(tmp, "state", "network", NULL);
    g_autofree char *conf = NULL, *want = NULL, *args = NULL, *want_args = NULL;
    g_autofree char *hosts = NULL, *addn = NULL, *check = NULL, *confpath = NULL;
    g_autofree char *pidfile = NULL;
    g_autoptr(GError) err = NULL;
    struct stat st;
    pid_t pid = -1;

    ck_assert_msg(hyve_dnsmasq_start(def, dir, &pid, &err), "%s: %s", name,
                  err ? err->message : "");
    ck_assert_msg(pid > 0, "%s: no pid", name);
    confpath = hyve_dnsmasq_file(dir, def->name, "conf");
    pidfile = hyve_dnsmasq_file(dir, def->name, "pid");
    ck_assert_int_eq(stat(confpath, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == 0600, "%s: conf mode %o", name, st.st_mode & 0777);
    conf = read_in(dir, def->name, "conf");
    want = hyve_dnsmasq_conf_text(def, dir);
    ck_assert_msg(g_str_equal(conf, want), "%s: written config differs", name);
    args = test_read_file(g_getenv("FAKE_ARGS"));
    want_args = g_strdup_printf("--conf-file=%s/%s.conf\n--dhcp-leasefile=%s/%s.leases\n", dir,
                                def->name, dir, def->name);
    ck_assert_msg(g_str_equal(args ? args : "", want_args), "%s: argv\n%s", name, args);
    hosts = read_in(dir, def->name, "hostsfile");
    addn = read_in(dir, def->name, "addnhosts");
    check_golden(name, "hostsfile", hosts);
    check_golden(name, "addnhosts", addn);

    /* the fake's daemon is a sleep: not a dnsmasq, so neither alive nor
     * killed by stop (a stale pid must not hit another process) */
    ck_assert_msg(!hyve_dnsmasq_alive(pid, def, dir), "%s: a sleep taken for dnsmasq", name);
    hyve_dnsmasq_stop(pid, dir, def->name);
    ck_assert_msg(kill(pid, 0) == 0, "%s: stop killed a process that is not dnsmasq", name);
    ck_assert_msg(!g_file_test(pidfile, G_FILE_TEST_EXISTS), "%s: pid file left", name);
    kill(pid, SIGKILL);

    /* the real dnsmasq accepts the written config */
    if (g_file_test(REAL_DNSMASQ, G_FILE_TEST_IS_EXECUTABLE)) {
        g_autofree char *arg = g_strdup_printf("--conf-file=%s", confpath);
        const char *argv[] = { REAL_DNSMASQ, "--test", arg, NULL };

        ck_assert_msg(dnsmasq_test_run(argv, &check), "%s: dnsmasq --test: %s", name, check);
        ck_assert_msg(strstr(check, "syntax check OK"), "%s: %s", name, check);
    }

    hyve_dnsmasq_remove_files(dir, def->name);
    for (const char *const *e = (const char *const[]){ "conf", "hostsfile", "addnhosts", "pid",
                                                      "leases", NULL }; *e; e++) {
        g_autofree char *p = hyve_dnsmasq_file(dir, def->name, *e);

        ck_assert_msg(!g_file_test(p, G_FILE_TEST_EXISTS), "%s: %s left", name, p);
    }
    test_tree_remove(tmp);
}
END_TEST

typedef struct {
    const char *mode;
    const char *message;        /* substring of the error message */
} StartFailCase;

static const StartFailCase start_fail[] = {
    { "fail", "unexpected exit status 2: dnsmasq: failed to create listening socket for port 53: "
              "Address in use" },
    { "nopid", "left no pid in " },
};

START_TEST(test_start_failure)
{
    const StartFailCase *c = &start_fail[_i];
    g_autoptr(HyveNetworkDef) def = golden_def("default-nat");
    g_autofree char *tmp = fake_setup(c->mode);
    g_autofree char *dir = g_build_filename(tmp, "network", NULL);
    g_autoptr(GError) err = NULL;
    pid_t pid = 42;

    ck_assert_msg(!hyve_dnsmasq_start(def, dir, &pid, &err), "%s: started", c->mode);
    ck_assert_msg(err && err->code == HYVE_ERR_INTERNAL_ERROR, "%s: code %d", c->mode,
                  err ? err->code : -1);
    ck_assert_msg(g_error_matches(err, hyve_error_quark(HYVE_FROM_NETWORK), HYVE_ERR_INTERNAL_ERROR),
                  "%s: error domain", c->mode);
    ck_assert_msg(strstr(err->message, c->message), "%s: message '%s'", c->mode, err->message);
    ck_assert_int_eq(pid, 0);
    test_tree_remove(tmp);
}
END_TEST

typedef struct {
    const char *name;
    gboolean needed;
    const char *body;           /* inside <network><name>n</name>...</network> */
} NeededCase;

#define IP4 "<ip address='192.168.60.1' prefix='24'>"
static const NeededCase needed[] = {
    { "nat-dhcp", TRUE, "<forward/>" IP4 "<dhcp><range start='192.168.60.2' end='192.168.60.9'/>"
                        "</dhcp></ip>" },
    { "no-ip", FALSE, "<forward/>" },
    { "ip-dns-only", TRUE, "<forward/>" IP4 "</ip>" },
    { "dns-off", FALSE, "<forward/><dns enable='no'/>" IP4 "</ip>" },
    { "dns-off-tftp", TRUE, "<forward/><dns enable='no'/>" IP4 "<tftp root='/srv'/></ip>" },
    { "dns-off-range", TRUE, "<dns enable='no'/>" IP4 "<dhcp><range start='192.168.60.2' "
                             "end='192.168.60.9'/></dhcp></ip>" },
    { "dns-off-host", TRUE, "<dns enable='no'/>" IP4 "<dhcp><host mac='52:54:00:00:00:09' "
                            "ip='192.168.60.9'/></dhcp></ip>" },
    { "open", TRUE, "<forward mode='open'/>" IP4 "</ip>" },
    { "host-bridge", FALSE, "<bridge name='br0'/><forward mode='bridge'/>" },
};

START_TEST(test_needed)
{
    const NeededCase *c = &needed[_i];
    g_autofree char *xml = g_strdup_printf("<network><name>n</name>%s</network>", c->body);
    g_autoptr(HyveNetworkDef) def = dnsmasq_test_def(c->name, xml);

    ck_assert_msg(hyve_dnsmasq_needed(def) == c->needed, "%s: needed %d", c->name,
                  !c->needed);
}
END_TEST

START_TEST(test_alive_refusals)
{
    pid_t gone = fork();        /* a pid that no longer exists, once reaped */
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autofree char *file = NULL;

    if (gone == 0)
        _exit(0);
    ck_assert_int_gt(gone, 0);
    ck_assert_int_eq(waitpid(gone, NULL, 0), gone);
    def = golden_def("default-nat");
    file = hyve_dnsmasq_file("/a/b", "net", "leases");
    ck_assert_str_eq(file, "/a/b/net.leases");
    ck_assert(!hyve_dnsmasq_alive(0, def, "/tmp"));
    ck_assert(!hyve_dnsmasq_alive(-1, def, "/tmp"));
    ck_assert(!hyve_dnsmasq_alive(getpid(), def, "/tmp"));
    ck_assert(!hyve_dnsmasq_alive(getpid(), NULL, NULL));
    ck_assert(!hyve_dnsmasq_alive(gone, def, "/tmp"));
    hyve_dnsmasq_stop(0, "/nonexistent", "net");      /* a no-op */
}
END_TEST

/* ---- main ------------------------------------------------------------------ */

/* Private network and mount namespaces, lo up: nothing the real dnsmasq
 * cases do can reach the host's interfaces. */
static gboolean
enter_namespaces(void)
{
    const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };
    g_autofree char *out = NULL;

    if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
        fprintf(stderr, "unshare: %s\n", g_strerror(errno));
        return FALSE;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "making / private: %s\n", g_strerror(errno));
        return FALSE;
    }
    if (!dnsmasq_test_run(lo, &out)) {
        fprintf(stderr, "lo up: %s\n", out);
        return FALSE;
    }
    return TRUE;
}

/* Whatever a failed case left: every dnsmasq in our network namespace, and
 * the helper processes whose pids the cases wrote down. */
static void
stop_leftovers(void)
{
    g_autofree char *self = g_file_read_link("/proc/self/ns/net", NULL);
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    g_autoptr(GDir) pids = g_dir_open(dnsmasq_test_pid_dir, 0, NULL);
    const char *e;

    while (self && d && (e = g_dir_read_name(d))) {
        pid_t pid = (pid_t)g_ascii_strtoll(e, NULL, 10);
        g_autofree char *nsp = g_strdup_printf("/proc/%s/ns/net", e);
        g_autofree char *exep = g_strdup_printf("/proc/%s/exe", e);
        g_autofree char *ns = NULL, *exe = NULL;

        if (pid <= 0 || !(ns = g_file_read_link(nsp, NULL)) ||
            !(exe = g_file_read_link(exep, NULL)))
            continue;
        if (g_str_equal(ns, self) && g_str_has_suffix(exe, "/dnsmasq")) {
            fprintf(stderr, "stopping leftover dnsmasq %d\n", (int)pid);
            kill(pid, SIGKILL);
        }
    }
    while (pids && (e = g_dir_read_name(pids))) {
        pid_t pid = (pid_t)g_ascii_strtoll(e, NULL, 10);

        if (pid > 0 && kill(pid, SIGKILL) == 0)
            fprintf(stderr, "stopped leftover helper %d\n", (int)pid);
    }
}

int
main(void)
{
    Suite *s = suite_create("network-dnsmasq");
    TCase *tc = tcase_create("dnsmasq");
    gboolean root = geteuid() == 0;
    g_autofree char *pid_dir = g_dir_make_tmp("hyve-dnsmasq-pids-XXXXXX", NULL);
    int rc;

    if (!pid_dir)
        return EXIT_FAILURE;
    dnsmasq_test_pid_dir = pid_dir;
    if (root && !enter_namespaces())
        return EXIT_FAILURE;
    if (!root)
        fprintf(stderr, "SKIP: not root: the cases with the real dnsmasq are skipped\n");
    tcase_add_loop_test(tc, test_conf_golden, 0, G_N_ELEMENTS(golden));
    tcase_add_loop_test(tc, test_start_fake, 0, G_N_ELEMENTS(golden));
    tcase_add_loop_test(tc, test_start_failure, 0, G_N_ELEMENTS(start_fail));
    tcase_add_loop_test(tc, test_needed, 0, G_N_ELEMENTS(needed));
    tcase_add_test(tc, test_alive_refusals);
    suite_add_tcase(s, tc);
    network_leases_add_tests(s, root);
    rc = test_suite_run(s);
    stop_leftovers();
    g_rmdir(pid_dir);
    return rc;
}
