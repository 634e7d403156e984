/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_config.c: virtbhyved.conf parsing (good files set the right
 * fields, bad files fail with CONF_SYNTAX naming file:line), the shipped
 * daemon/virtbhyved.conf, and the path layout for system/session/--root.
 */
#include "hyve-config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hyved_config.h"
#include "hyved_notify.h"
#include "test_common.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    const char *name;
    const char *text;
    gboolean ok;
    const char *expect;        /* ok: "field=value" checked below; bad: message substring */
} ConfCase;

static const ConfCase conf_cases[] = {
    { "empty", "", TRUE, "max_client_requests=5" },
    { "comments", "# c\n\n   # indented\n", TRUE, "max_workers=20" },
    { "ints", "max_clients = 7\nmax_workers=3\nmax_client_requests = 2 # trailing\n", TRUE,
      "max_clients=7" },
    { "workers", "max_workers=3\n", TRUE, "max_workers=3" },
    { "queue-default", "", TRUE, "max_client_queue=16777216" },
    { "prio-default", "", TRUE, "prio_workers=5" },
    { "streams-default", "", TRUE, "max_client_streams=64" },
    { "kernel-cache-default", "", TRUE, "kernel_cache=1" },
    { "streams", "max_client_streams = 2\n", TRUE, "max_client_streams=2" },
    { "streams-zero", "max_client_streams = 0\n", FALSE,
      "test.conf:1: 'max_client_streams' = 0 is out of range [1..10000]" },
    { "prio-off", "prio_workers = 0\n", TRUE, "prio_workers=0" },
    { "prio-range", "prio_workers = 1001\n", FALSE,
      "test.conf:1: 'prio_workers' = 1001 is out of range [0..1000]" },
    { "queue", "max_client_queue = 65536\n", TRUE, "max_client_queue=65536" },
    { "queue-big", "max_client_queue = 1073741824\n", TRUE, "max_client_queue=1073741824" },
    { "queue-small", "max_client_queue = 4095\n", FALSE,
      "test.conf:1: 'max_client_queue' = 4095 is out of range [4096..1073741824]" },
    { "queue-string", "max_client_queue = \"1M\"\n", FALSE,
      "test.conf:1: 'max_client_queue' expects an integer" },
    { "keepalive-off", "keepalive_interval = -1\n", TRUE, "keepalive_interval=-1" },
    { "keepalive-count", "keepalive_count = 0\n", TRUE, "keepalive_count=0" },
    { "perms", "unix_sock_rw_perms = \"0770\"\n", TRUE, "unix_sock_rw_perms=504" },
    { "ro-perms", "unix_sock_ro_perms = \"0777\"\n", TRUE, "unix_sock_ro_perms=511" },
    { "auth-none", "auth_unix_rw = \"none\"\n", TRUE, "auth_unix_rw=0" },
    { "auth-ro-polkit", "auth_unix_ro = \"polkit\"\n", TRUE, "auth_unix_ro=2" },
    { "group", "unix_sock_group = \"libvirt\"\n", TRUE, "unix_sock_group=libvirt" },
    { "runner", "runner_path = \"/opt/x/bhyve-runner\"\n", TRUE, "runner_path=/opt/x/bhyve-runner" },
    { "loglevel", "log_level = 1\n", TRUE, "log_level=1" },
    { "kernel-cache-off", "kernel_cache = 0\n", TRUE, "kernel_cache=0" },
    { "kernel-cache-range", "kernel_cache = 2\n", FALSE, "test.conf:1: 'kernel_cache' = 2 is out of range" },
    { "idle-timeout-default", "", TRUE, "idle_timeout=-1" },
    { "busy-poll-default", "", TRUE, "busy_poll_us=100" },
    { "busy-poll-off", "busy_poll_us = 0\n", TRUE, "busy_poll_us=0" },
    { "busy-poll-range", "busy_poll_us = 10001\n", FALSE,
      "test.conf:1: 'busy_poll_us' = 10001 is out of range [0..10000]" },
    { "idle-timeout", "idle_timeout = 5\n", TRUE, "idle_timeout=5" },
    { "idle-timeout-never", "idle_timeout = 0\n", TRUE, "idle_timeout=0" },
    { "idle-timeout-negative", "idle_timeout = -1\n", FALSE,
      "test.conf:1: 'idle_timeout' = -1 is out of range [0..31536000]" },
    { "crlf", "max_clients = 9\r\n", TRUE, "max_clients=9" },
    { "unknown-key", "max_clients = 1\nbogus = 1\n", FALSE, "test.conf:2: unknown setting 'bogus'" },
    { "string-for-int", "\n\nmax_clients = \"5\"\n", FALSE, "test.conf:3: 'max_clients' expects an integer" },
    { "int-for-string", "auth_unix_rw = 1\n", FALSE, "test.conf:1: 'auth_unix_rw' expects a quoted string" },
    { "bad-auth", "# x\nauth_unix_rw = \"sasl\"\n", FALSE, "test.conf:2: 'auth_unix_rw' = \"sasl\"" },
    { "bad-perms", "unix_sock_rw_perms = \"0999\"\n", FALSE, "test.conf:1: 'unix_sock_rw_perms'" },
    { "perms-too-big", "unix_sock_ro_perms = \"7777\"\n", FALSE, "test.conf:1: 'unix_sock_ro_perms'" },
    { "zero-clients", "max_clients = 0\n", FALSE, "test.conf:1: 'max_clients' = 0 is out of range" },
    { "zero-interval", "keepalive_interval = 0\n", FALSE, "test.conf:1: 'keepalive_interval' must be -1" },
    { "log-range", "log_level = 5\n", FALSE, "test.conf:1: 'log_level' = 5 is out of range" },
    { "relative-runner", "runner_path = \"bin/r\"\n", FALSE, "must be an absolute path" },
    { "unterminated", "unix_sock_group = \"abc\n", FALSE, "test.conf:1: unterminated string" },
    { "no-equals", "max_clients 5\n", FALSE, "test.conf:1: expected '=' after 'max_clients'" },
    { "junk-after", "max_clients = 5 6\n", FALSE, "test.conf:1: unexpected text" },
    { "list", "max_clients = [1]\n", FALSE, "test.conf:1: lists are not supported" },
    { "no-name", "= 5\n", FALSE, "test.conf:1: expected a setting name" },
    { "line-after-comments", "# a\n# b\n\nfoo = \"x\"\n", FALSE, "test.conf:4: unknown setting 'foo'" },
};

static char *
field_string(const HyvedConfig *c, const char *field)
{
#define F(name, fmt, val) if (g_str_equal(field, name)) return g_strdup_printf(fmt, val)
    F("max_clients", "%u", c->max_clients);
    F("max_workers", "%u", c->max_workers);
    F("max_client_requests", "%u", c->max_client_requests);
    F("max_client_queue", "%zu", c->max_client_queue);
    F("prio_workers", "%u", c->prio_workers);
    F("max_client_streams", "%u", c->max_client_streams);
    F("keepalive_interval", "%d", c->keepalive_interval);
    F("keepalive_count", "%u", c->keepalive_count);
    F("unix_sock_rw_perms", "%u", c->unix_sock_rw_perms);
    F("unix_sock_ro_perms", "%u", c->unix_sock_ro_perms);
    F("auth_unix_rw", "%d", (int) c->auth_unix_rw);
    F("auth_unix_ro", "%d", (int) c->auth_unix_ro);
    F("unix_sock_group", "%s", c->unix_sock_group);
    F("runner_path", "%s", c->runner_path);
    F("log_level", "%d", c->log_level);
    F("kernel_cache", "%d", c->kernel_cache);
    F("idle_timeout", "%d", c->idle_timeout);
    F("busy_poll_us", "%u", c->busy_poll_us);
#undef F
    return NULL;
}

START_TEST(test_conf_case)
{
    const ConfCase *tc = &conf_cases[_i];
    g_auto(HyvedConfig) cfg = { 0 };
    g_autoptr(GError) err = NULL;
    gboolean ok;

    hyved_config_init(&cfg, TRUE);
    ok = hyved_config_parse(&cfg, "test.conf", tc->text, strlen(tc->text), &err);
    if (tc->ok) {
        g_auto(GStrv) kv = g_strsplit(tc->expect, "=", 2);
        g_autofree char *got = NULL;

        ck_assert_msg(ok, "%s: parse failed: %s", tc->name, err ? err->message : "?");
        got = field_string(&cfg, kv[0]);
        ck_assert_msg(got && g_str_equal(got, kv[1]), "%s: %s is '%s', expected '%s'",
                      tc->name, kv[0], got ? got : "(null)", kv[1]);
    } else {
        HyveErrorFrom from = 0;

        ck_assert_msg(!ok, "%s: parse succeeded but should fail", tc->name);
        ck_assert_msg(err && strstr(err->message, tc->expect), "%s: message '%s' lacks '%s'",
                      tc->name, err ? err->message : "(none)", tc->expect);
        ck_assert_msg(hyve_error_from_quark(err->domain, &from) && from == HYVE_FROM_CONF &&
                      err->code == HYVE_ERR_CONF_SYNTAX,
                      "%s: error domain/code %d/%d, expected CONF/CONF_SYNTAX", tc->name,
                      (int) from, err->code);
    }
}
END_TEST

START_TEST(test_shipped_conf)
{
    g_auto(HyvedConfig) cfg = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_build_filename(HYVE_SOURCE_ROOT, "daemon", "virtbhyved.conf", NULL);

    hyved_config_init(&cfg, TRUE);
    ck_assert_msg(hyved_config_load(&cfg, path, TRUE, &err), "shipped conf: %s",
                  err ? err->message : "?");
    /* everything in it is commented out: defaults stay */
    ck_assert_msg(cfg.auth_unix_rw == HYVED_AUTH_POLKIT && cfg.max_client_requests == 5 &&
                  cfg.keepalive_interval == 5, "shipped conf: changed a default");
}
END_TEST

START_TEST(test_missing_conf)
{
    g_auto(HyvedConfig) cfg = { 0 };
    g_autoptr(GError) err = NULL;

    hyved_config_init(&cfg, FALSE);
    ck_assert_msg(cfg.auth_unix_rw == HYVED_AUTH_NONE, "session default auth must be none");
    ck_assert_msg(hyved_config_load(&cfg, "/nonexistent/virtbhyved.conf", FALSE, &err),
                  "optional missing conf must be fine");
    ck_assert_msg(!hyved_config_load(&cfg, "/nonexistent/virtbhyved.conf", TRUE, &err) &&
                  err && strstr(err->message, "/nonexistent/virtbhyved.conf"),
                  "explicit missing conf must fail naming the file");
}
END_TEST

typedef struct {
    const char *name;
    gboolean privileged;
    const char *root;
    const char *sock_rw, *sock_ro, *config_file, *config_dir, *state_dir, *log_dir;
} PathCase;

static const PathCase path_cases[] = {
    { "system", TRUE, NULL, "/run/libvirt/virtbhyved-sock", "/run/libvirt/virtbhyved-sock-ro",
      HYVED_SYSCONFDIR "/libvirt/virtbhyved.conf", HYVED_SYSCONFDIR "/libvirt/bhyve",
      "/run/libvirt/bhyve", HYVED_LOCALSTATEDIR "/log/libvirt/bhyve" },
    { "system-root", TRUE, "/tmp/r", "/tmp/r/run/libvirt/virtbhyved-sock",
      "/tmp/r/run/libvirt/virtbhyved-sock-ro", "/tmp/r" HYVED_SYSCONFDIR "/libvirt/virtbhyved.conf",
      "/tmp/r" HYVED_SYSCONFDIR "/libvirt/bhyve", "/tmp/r/run/libvirt/bhyve",
      "/tmp/r" HYVED_LOCALSTATEDIR "/log/libvirt/bhyve" },
    { "session", FALSE, NULL, "/xdg/run/libvirt/virtbhyved-sock", NULL,
      "/xdg/config/libvirt/virtbhyved.conf", "/xdg/config/libvirt/bhyve",
      "/xdg/run/libvirt/bhyve", "/xdg/cache/libvirt/bhyve/log" },
    { "session-root", FALSE, "/tmp/s", "/tmp/s/run/libvirt/virtbhyved-sock", NULL,
      "/tmp/s/.config/libvirt/virtbhyved.conf", "/tmp/s/.config/libvirt/bhyve",
      "/tmp/s/run/libvirt/bhyve", "/tmp/s/.cache/libvirt/bhyve/log" },
};

#define CHECK_PATH(field)                                                          \
    ck_assert_msg(g_strcmp0(p.field, tc->field) == 0, "%s: " #field " is %s, expected %s", \
                  tc->name, p.field ? p.field : "(null)", tc->field ? tc->field : "(null)")

START_TEST(test_paths)
{
    const PathCase *tc = &path_cases[_i];
    g_auto(HyvedPaths) p = { 0 };
    g_autoptr(GError) err = NULL;

    ck_assert_msg(hyved_paths_init(&p, tc->privileged, tc->root, &err), "%s: %s", tc->name,
                  err ? err->message : "?");
    CHECK_PATH(sock_rw);
    CHECK_PATH(sock_ro);
    CHECK_PATH(config_file);
    CHECK_PATH(config_dir);
    CHECK_PATH(state_dir);
    CHECK_PATH(log_dir);
}
END_TEST

START_TEST(test_relative_root)
{
    g_auto(HyvedPaths) p = { 0 };
    g_autoptr(GError) err = NULL;

    ck_assert_msg(!hyved_paths_init(&p, TRUE, "rel/dir", &err), "relative --root must fail");
}
END_TEST

/* sd_notify datagrams reach a path socket and an abstract one. */
START_TEST(test_notify)
{
    for (int abstract = 0; abstract < 2; abstract++) {
        g_autofree char *dir = test_tmpdir_new("hyved-notify-XXXXXX");
        g_autofree char *path = g_build_filename(dir, "n", NULL);
        g_autofree char *env = abstract ? g_strdup_printf("@%s", path) : g_strdup(path);
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        char buf[64] = { 0 };

        strcpy(sun.sun_path, path);
        if (abstract) {
            /* "@name" = abstract socket "\0name" */
            memset(sun.sun_path, 0, sizeof(sun.sun_path));
            memcpy(sun.sun_path + 1, path, strlen(path));
            len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
        }
        ck_assert(bind(fd, (struct sockaddr *) &sun, len) == 0);
        g_setenv("NOTIFY_SOCKET", env, TRUE);
        ck_assert_msg(hyved_notify("READY=1"), "notify (%s) failed", env);
        ck_assert_msg(recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT) == 7 &&
                      g_str_equal(buf, "READY=1"), "notify (%s): got '%s'", env, buf);
        close(fd);
        test_tree_remove(dir);
    }
    g_unsetenv("NOTIFY_SOCKET");
    ck_assert_msg(!hyved_notify("READY=1"), "notify without NOTIFY_SOCKET must be a no-op");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("daemon-config");
    TCase *tc = tcase_create("config");

    /* The session cases read the XDG variables. */
    g_setenv("XDG_RUNTIME_DIR", "/xdg/run", TRUE);
    g_setenv("XDG_CONFIG_HOME", "/xdg/config", TRUE);
    g_setenv("XDG_CACHE_HOME", "/xdg/cache", TRUE);

    tcase_add_loop_test(tc, test_conf_case, 0, G_N_ELEMENTS(conf_cases));
    tcase_add_test(tc, test_shipped_conf);
    tcase_add_test(tc, test_missing_conf);
    tcase_add_loop_test(tc, test_paths, 0, G_N_ELEMENTS(path_cases));
    tcase_add_test(tc, test_relative_root);
    tcase_add_test(tc, test_notify);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
