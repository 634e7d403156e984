/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_daemon_polkit.c: AUTH_LIST/AUTH_POLKIT against a private D-Bus
 * "system" bus (dbus-daemon, DBUS_SYSTEM_BUS_ADDRESS) on which this test
 * plays org.freedesktop.PolicyKit1. The client is a real non-root peer: a
 * child process that drops to uid 65534, connects, hands the socket over
 * and stays alive (its pid and start time are what the daemon sends).
 * Also checks max_client_requests with a call held inside a worker.
 */
#include "hyve-config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <gio/gio.h>

#include "hyved_polkit.h"
#include "test_daemon_util.h"

typedef enum { PK_YES, PK_CHALLENGE, PK_DISMISSED, PK_NO, PK_SLOW_YES } PkMode;

static PkMode pk_mode;
static GMutex pk_lock;
static char *pk_action;
static guint32 pk_pid;
static guint64 pk_start;
static gint32 pk_uid;
static guint32 pk_flags;

static const char pk_xml[] =
    "<node><interface name='org.freedesktop.PolicyKit1.Authority'>"
    "<method name='CheckAuthorization'>"
    "<arg type='(sa{sv})' name='subject' direction='in'/>"
    "<arg type='s' name='action_id' direction='in'/>"
    "<arg type='a{ss}' name='details' direction='in'/>"
    "<arg type='u' name='flags' direction='in'/>"
    "<arg type='s' name='cancellation_id' direction='in'/>"
    "<arg type='(bba{ss})' name='result' direction='out'/>"
    "</method></interface></node>";

static void
pk_method(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
          const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
    g_autoptr(GVariant) subject_details = NULL;
    const char *kind = NULL, *action = NULL, *cancel = NULL;
    GVariantBuilder details;
    gboolean yes = FALSE, challenge = FALSE;

    g_variant_get(params, "((&s@a{sv})&sa{ss}u&s)", &kind, &subject_details, &action, NULL,
                  &pk_flags, &cancel);
    g_mutex_lock(&pk_lock);
    g_free(pk_action);
    pk_action = g_strdup(action);
    pk_pid = 0;
    pk_start = 0;
    pk_uid = -1;
    g_variant_lookup(subject_details, "pid", "u", &pk_pid);
    g_variant_lookup(subject_details, "start-time", "t", &pk_start);
    g_variant_lookup(subject_details, "uid", "i", &pk_uid);
    g_mutex_unlock(&pk_lock);

    g_variant_builder_init(&details, G_VARIANT_TYPE("a{ss}"));
    switch (pk_mode) {
    case PK_SLOW_YES: g_usleep(1500 * 1000); /* fall through */
    case PK_YES: yes = TRUE; break;
    case PK_CHALLENGE: challenge = TRUE; break;
    case PK_DISMISSED: g_variant_builder_add(&details, "{ss}", "polkit.dismissed", "true"); break;
    case PK_NO: break;
    }
    g_dbus_method_invocation_return_value(inv, g_variant_new("((bba{ss}))", yes, challenge, &details));
}

typedef struct {
    GPid bus_pid;
    char *dir;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GDBusConnection *conn;
} FakeBus;

static gpointer
bus_thread(gpointer data)
{
    FakeBus *fb = data;

    g_main_context_push_thread_default(fb->ctx);
    g_main_loop_run(fb->loop);
    g_main_context_pop_thread_default(fb->ctx);
    return NULL;
}

static FakeBus *
fake_bus_start(void)
{
    FakeBus *fb = g_new0(FakeBus, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *conf = NULL, *conf_path = NULL, *addr = NULL;
    g_autoptr(GDBusNodeInfo) node = NULL;
    GVariant *reply;
    GDBusInterfaceVTable vtable = { .method_call = pk_method };
    char *argv[] = { (char *) "dbus-daemon", NULL, (char *) "--nofork", NULL };

    fb->dir = test_tmpdir_new("hyved-bus-XXXXXX");
    addr = g_strdup_printf("unix:path=%s/bus", fb->dir);
    conf = g_strdup_printf(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" "
        "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">"
        "<busconfig><type>system</type><listen>%s</listen><auth>EXTERNAL</auth>"
        "<policy context='default'><allow user='*'/><allow own='*'/>"
        "<allow send_destination='*'/><allow receive_sender='*'/></policy></busconfig>", addr);
    conf_path = g_build_filename(fb->dir, "bus.conf", NULL);
    ck_assert(g_file_set_contents(conf_path, conf, -1, NULL));
    argv[1] = g_strdup_printf("--config-file=%s", conf_path);
    ck_assert_msg(g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &fb->bus_pid, &err),
                  "dbus-daemon: %s", err ? err->message : "?");
    g_free(argv[1]);
    for (int i = 0; i < 100 && !fb->conn; i++) {
        g_clear_error(&err);
        fb->conn = g_dbus_connection_new_for_address_sync(addr,
            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
            NULL, NULL, &err);
        if (!fb->conn)
            g_usleep(50 * 1000);
    }
    ck_assert_msg(fb->conn, "cannot reach the private bus: %s", err ? err->message : "?");

    fb->ctx = g_main_context_new();
    fb->loop = g_main_loop_new(fb->ctx, FALSE);
    g_main_context_push_thread_default(fb->ctx);
    node = g_dbus_node_info_new_for_xml(pk_xml, NULL);
    ck_assert(g_dbus_connection_register_object(fb->conn, "/org/freedesktop/PolicyKit1/Authority",
                                                node->interfaces[0], &vtable, NULL, NULL, &err));
    g_main_context_pop_thread_default(fb->ctx);
    reply = g_dbus_connection_call_sync(fb->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "RequestName",
                                        g_variant_new("(su)", "org.freedesktop.PolicyKit1", 0),
                                        NULL, 0, 5000, NULL, &err);
    ck_assert_msg(reply, "RequestName: %s", err ? err->message : "?");
    g_variant_unref(reply);
    fb->thread = g_thread_new("fake-polkit", bus_thread, fb);
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, TRUE);
    return fb;
}

static void
fake_bus_stop(FakeBus *fb)
{
    g_main_loop_quit(fb->loop);
    g_thread_join(fb->thread);
    g_object_unref(fb->conn);
    kill(fb->bus_pid, SIGTERM);
    waitpid(fb->bus_pid, NULL, 0);
    g_main_loop_unref(fb->loop);
    g_main_context_unref(fb->ctx);
    test_tree_remove(fb->dir);
    g_free(fb->dir);
    g_free(fb);
    g_clear_pointer(&pk_action, g_free);
}

/* A connection whose peer is uid 65534: returns our end, *child = the peer
 * process that must stay alive while it is used. */
static int
connect_as_nobody(const char *path, pid_t *child)
{
    int sp[2];
    pid_t pid;
    char byte;
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                          .msg_controllen = sizeof(ctl.buf) };
    int fd = -1;

    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        struct cmsghdr *c;
        int s;
        close(sp[0]);
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(2);
        s = test_connect(path);
        c = CMSG_FIRSTHDR(&msg);
        if (!c)
            _exit(4);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &s, sizeof(int));
        byte = 0;
        if (sendmsg(sp[1], &msg, 0) != 1)
            _exit(3);
        /* stay alive until the parent is done */
        (void) read(sp[1], &byte, 1);
        _exit(0);
    }
    close(sp[1]);
    ck_assert(recvmsg(sp[0], &msg, 0) == 1);
    {
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        ck_assert_msg(c && c->cmsg_type == SCM_RIGHTS, "no fd from the uid-65534 child");
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    }
    /* sp[0] stays open: the child waits on it until end_child() */
    *child = pid;
    return fd;
}

static void
end_child(pid_t child)
{
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
}

typedef struct {
    const char *name;
    PkMode mode;
    gboolean ro;            /* connect to the ro socket (auth_unix_ro = polkit there) */
    int code, domain;       /* 0: authorized */
    const char *message;
    const char *action;
} PkCase;

static const PkCase pk_cases[] = {
    { "authorized", PK_YES, FALSE, 0, 0, NULL, HYVED_POLKIT_ACTION_MANAGE },
    { "challenge", PK_CHALLENGE, FALSE, 94, 60,
      "authentication unavailable: no polkit agent available to authenticate action "
      "'org.hyve.unix.manage'", HYVED_POLKIT_ACTION_MANAGE },
    { "dismissed", PK_DISMISSED, FALSE, 79, 60, "authentication cancelled: user cancelled",
      HYVED_POLKIT_ACTION_MANAGE },
    { "denied", PK_NO, FALSE, 45, 60, "authentication failed: access denied by policy",
      HYVED_POLKIT_ACTION_MANAGE },
    { "ro-monitor", PK_YES, TRUE, 0, 0, NULL, HYVED_POLKIT_ACTION_MONITOR },
};

static void
ro_polkit(HyvedConfig *cfg)
{
    cfg->auth_unix_ro = HYVED_AUTH_POLKIT;
}

static TestServer *
start_polkit_server(void)
{
    TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, ro_polkit);
    /* test_server_start made the ro socket with auth none: add a polkit one */
    g_autoptr(GError) err = NULL;
    g_autofree char *ro = g_build_filename(ts->dir, "sock-ro-pk", NULL);

    ck_assert(hyved_server_add_unix_listener(ts->server, ro, TRUE, HYVED_AUTH_POLKIT, 0666,
                                             NULL, &err));
    g_free(ts->sock_ro);
    ts->sock_ro = g_steal_pointer(&ro);
    /* let nobody reach the sockets */
    chmod(ts->dir, 0755);
    chmod(ts->sock_rw, 0666);
    return ts;
}

START_TEST(test_polkit_case)
{
    const PkCase *tc = &pk_cases[_i];
    FakeBus *fb = fake_bus_start();
    TestServer *ts = start_polkit_server();
    pid_t child;
    int fd = connect_as_nobody(tc->ro ? ts->sock_ro : ts->sock_rw, &child);
    remote_auth_list_ret auth = { 0 };
    remote_auth_polkit_ret pk = { 0 };
    TestReply r;

    pk_mode = tc->mode;
    ck_assert(test_call(fd, REMOTE_PROC_AUTH_LIST, 0, NULL, NULL,
                        (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r));
    ck_assert_msg(!r.is_error && auth.types.types_len == 1 && auth.types.types_val[0] == 2,
                  "%s: AUTH_LIST did not answer [POLKIT]", tc->name);
    xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);

    /* not authenticated yet */
    ck_assert(test_call(fd, REMOTE_PROC_CONNECT_GET_URI, 1, NULL, NULL, NULL, NULL, &r));
    ck_assert_msg(r.is_error && r.code == 39 && g_str_equal(r.message, "authentication required"),
                  "%s: call before AUTH_POLKIT not refused", tc->name);
    test_reply_clear(&r);

    ck_assert(test_call(fd, REMOTE_PROC_AUTH_POLKIT, 2, NULL, NULL,
                        (xdrproc_t) xdr_remote_auth_polkit_ret, &pk, &r));
    g_mutex_lock(&pk_lock);
    ck_assert_msg(g_strcmp0(pk_action, tc->action) == 0, "%s: action '%s', expected '%s'",
                  tc->name, pk_action, tc->action);
    ck_assert_msg(pk_pid == (guint32) child && pk_uid == 65534 &&
                  pk_start == hyved_polkit_process_start_time(child) && pk_start > 0 &&
                  pk_flags == 1, "%s: subject pid %u uid %d start %" G_GUINT64_FORMAT
                  " flags %u (child %d)", tc->name, pk_pid, pk_uid, pk_start, pk_flags, (int) child);
    g_mutex_unlock(&pk_lock);
    if (tc->code == 0) {
        ck_assert_msg(!r.is_error && pk.complete == 1, "%s: AUTH_POLKIT failed: %s", tc->name,
                      r.message);
        test_open(fd, "bhyve:///system", 0);
    } else {
        ck_assert_msg(r.is_error && r.code == tc->code && r.domain == tc->domain &&
                      g_str_has_prefix(r.message, tc->message),
                      "%s: got %d/%d '%s', expected %d/%d '%s'", tc->name, r.code, r.domain,
                      r.message, tc->code, tc->domain, tc->message);
    }
    test_reply_clear(&r);
    close(fd);
    end_child(child);
    test_server_stop(ts);
    fake_bus_stop(fb);
}
END_TEST

START_TEST(test_no_bus)
{
    TestServer *ts;
    pid_t child;
    int fd;
    TestReply r;

    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/hyved-bus", TRUE);
    ts = start_polkit_server();
    fd = connect_as_nobody(ts->sock_rw, &child);
    ck_assert(test_call(fd, REMOTE_PROC_AUTH_POLKIT, 0, NULL, NULL, NULL, NULL, &r));
    ck_assert_msg(r.is_error && r.code == 94 && r.domain == 60 && strstr(r.message, "polkit"),
                  "no-bus: got %d/%d '%s'", r.code, r.domain, r.message);
    test_reply_clear(&r);
    close(fd);
    end_child(child);
    test_server_stop(ts);
}
END_TEST

static void
one_request(HyvedConfig *cfg)
{
    cfg->max_client_requests = 1;
}

/* With max_client_requests = 1 the daemon must not even read the second
 * call of a client while its first one (a slow AUTH_POLKIT) runs; other
 * clients are served meanwhile. With the default (5) the cheap call
 * overtakes the slow one. */
START_TEST(test_inflight_cap)
{
    for (int limited = 0; limited < 2; limited++) {
        FakeBus *fb = fake_bus_start();
        TestServer *ts = test_server_start(HYVED_AUTH_POLKIT, limited ? one_request : NULL);
        pid_t child;
        int fd, other;
        HyvedHeader h1, h2;
        gint64 t0;

        chmod(ts->dir, 0755);
        chmod(ts->sock_rw, 0666);
        fd = connect_as_nobody(ts->sock_rw, &child);
        other = test_connect(ts->sock_ro);
        pk_mode = PK_SLOW_YES;
        ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, REMOTE_PROC_AUTH_POLKIT, HYVED_TYPE_CALL, 1,
                            0, NULL, NULL));
        g_usleep(200 * 1000);
        ck_assert(test_send(fd, HYVED_PROGRAM_REMOTE, REMOTE_PROC_AUTH_LIST, HYVED_TYPE_CALL, 2,
                            0, NULL, NULL));
        /* another client is not held up by the slow call */
        t0 = g_get_monotonic_time();
        {
            remote_auth_list_ret auth = { 0 };
            TestReply r;
            ck_assert(test_call(other, REMOTE_PROC_AUTH_LIST, 0, NULL, NULL,
                                (xdrproc_t) xdr_remote_auth_list_ret, &auth, &r));
            xdr_free((xdrproc_t) xdr_remote_auth_list_ret, (char *) &auth);
        }
        ck_assert_msg(g_get_monotonic_time() - t0 < 1000 * 1000, "inflight: other client waited");
        ck_assert(test_recv(fd, &h1, NULL, 5000, NULL));
        ck_assert(test_recv(fd, &h2, NULL, 5000, NULL));
        if (limited)
            ck_assert_msg(h1.serial == 1 && h2.serial == 2,
                          "inflight (max 1): replies %u then %u, expected 1 then 2", h1.serial, h2.serial);
        else
            ck_assert_msg(h1.serial == 2 && h2.serial == 1,
                          "inflight (max 5): replies %u then %u, expected 2 then 1", h1.serial, h2.serial);
        close(fd);
        close(other);
        end_child(child);
        test_server_stop(ts);
        fake_bus_stop(fb);
    }
}
END_TEST

/* The subject polkit is asked about is the process that connected, as
 * seen at accept time: the pid and its start time read then, even when
 * that process is gone by AUTH_POLKIT (its pid may be reused). */
START_TEST(test_exited_client)
{
    FakeBus *fb = fake_bus_start();
    TestServer *ts = start_polkit_server();
    pid_t child;
    int fd = connect_as_nobody(ts->sock_rw, &child);
    guint64 start = hyved_polkit_process_start_time(child);
    remote_auth_polkit_ret pk = { 0 };
    TestReply r;

    ck_assert(start > 0);
    for (int i = 0; i < 50 && hyved_server_num_clients(ts->server) == 0; i++)
        g_usleep(20 * 1000);
    ck_assert_msg(hyved_server_num_clients(ts->server) == 1, "exited: not accepted");
    end_child(child);
    pk_mode = PK_YES;
    ck_assert(test_call(fd, REMOTE_PROC_AUTH_POLKIT, 1, NULL, NULL,
                        (xdrproc_t) xdr_remote_auth_polkit_ret, &pk, &r));
    ck_assert_msg(!r.is_error, "exited: AUTH_POLKIT failed: %s", r.message);
    g_mutex_lock(&pk_lock);
    ck_assert_msg(pk_pid == (guint32) child && pk_start == start && pk_uid == 65534,
                  "exited: subject pid %u start %" G_GUINT64_FORMAT " uid %d, expected %d %"
                  G_GUINT64_FORMAT " 65534", pk_pid, pk_start, pk_uid, (int) child, start);
    g_mutex_unlock(&pk_lock);
    test_reply_clear(&r);
    close(fd);
    test_server_stop(ts);
    fake_bus_stop(fb);
}
END_TEST

/* An unknown start time is refused without asking polkit. */
START_TEST(test_no_start_time)
{
    g_autoptr(GError) err = NULL;

    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/hyved-bus", TRUE);
    ck_assert(!hyved_polkit_check(getpid(), 65534, 0, HYVED_POLKIT_ACTION_MANAGE, &err));
    ck_assert_msg(err && err->code == 45 && strstr(err->message, "start time"),
                  "no-start-time: got %d '%s'", err ? err->code : 0, err ? err->message : "");
}
END_TEST

int
main(void)
{
    Suite *s;
    TCase *tc;
    g_autofree char *dbus_daemon = g_find_program_in_path("dbus-daemon");

    if (geteuid() != 0 || !dbus_daemon) {
        fprintf(stderr, "needs root (to act as uid 65534) and dbus-daemon: skipped\n");
        return 77;
    }
    s = suite_create("daemon-polkit");
    tc = tcase_create("polkit");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_polkit_case, 0, G_N_ELEMENTS(pk_cases));
    tcase_add_test(tc, test_no_bus);
    tcase_add_test(tc, test_exited_client);
    tcase_add_test(tc, test_no_start_time);
    tcase_add_test(tc, test_inflight_cap);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
