/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_machined.c: driver/hyve_machined.c against a stand-in
 * org.freedesktop.machine1 on a private dbus-daemon (GTestDBus; its address
 * is given to the driver as DBUS_SYSTEM_BUS_ADDRESS): the machine names,
 * when a daemon uses machined, the exact CreateMachineWithNetwork call
 * (arguments, scope properties), the fallback to CreateMachine, the retry
 * while a name is still taken, TerminateMachine, and a bus that went away.
 * The real machined (with systemd as PID 1) is tests/systemd/test_systemd.py.
 */
#include "hyve-config.h"

#include <check.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve_machined.h"
#include "test_common.h"

/* ---- the stand-in machined --------------------------------------------- */

typedef enum { FAKE_NORMAL, FAKE_NO_NETWORK, FAKE_EXISTS, FAKE_SILENT } FakeMode;

static const char fake_xml[] =
    "<node><interface name='org.freedesktop.machine1.Manager'>"
    "<method name='CreateMachineWithNetwork'><arg type='s' direction='in'/>"
    "<arg type='ay' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='u' direction='in'/><arg type='s' direction='in'/><arg type='ai' direction='in'/>"
    "<arg type='a(sv)' direction='in'/><arg type='o' direction='out'/></method>"
    "<method name='CreateMachine'><arg type='s' direction='in'/>"
    "<arg type='ay' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='u' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='a(sv)' direction='in'/><arg type='o' direction='out'/></method>"
    "<method name='TerminateMachine'><arg type='s' direction='in'/></method>"
    "</interface></node>";

static struct {
    GMutex lock;
    FakeMode mode;
    guint exists_left;          /* FAKE_EXISTS: MachineExists this many times */
    guint calls;
    char *method;               /* the last call */
    GVariant *params;
    GHashTable *machines;       /* registered names */
    GPtrArray *held;            /* FAKE_SILENT: calls never answered (until reset) */
} fake;

static GTestDBus *test_bus;
static GThread *fake_thread;
static GMainLoop *fake_loop;
static gboolean bus_down;

static void
fake_reset(FakeMode mode, guint exists)
{
    g_mutex_lock(&fake.lock);
    fake.mode = mode;
    fake.exists_left = exists;
    fake.calls = 0;
    g_clear_pointer(&fake.method, g_free);
    g_clear_pointer(&fake.params, g_variant_unref);
    g_hash_table_remove_all(fake.machines);
    for (guint i = 0; fake.held && i < fake.held->len; i++)
        g_dbus_method_invocation_return_dbus_error(g_ptr_array_index(fake.held, i),
                                                   "org.freedesktop.DBus.Error.Failed", "late");
    if (fake.held)
        g_ptr_array_set_size(fake.held, 0);
    else
        fake.held = g_ptr_array_new();
    g_mutex_unlock(&fake.lock);
}

/* What the stand-in saw, copied out (assertions never run under its lock:
 * a failed one leaves the test without unlocking). */
typedef struct {
    guint calls;
    char *method;
    GVariant *params;
    guint machines;
} FakeSeen;

static void
fake_seen_clear(FakeSeen *seen)
{
    g_free(seen->method);
    if (seen->params)
        g_variant_unref(seen->params);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FakeSeen, fake_seen_clear)

static void
fake_seen(FakeSeen *seen)
{
    g_mutex_lock(&fake.lock);
    seen->calls = fake.calls;
    seen->method = g_strdup(fake.method ? fake.method : "");
    seen->params = fake.params ? g_variant_ref(fake.params) : NULL;
    seen->machines = g_hash_table_size(fake.machines);
    g_mutex_unlock(&fake.lock);
}

/* systemd 252's hostname_is_valid(), which machined applies to machine
 * names (written from its documented rule, not copied). */
static gboolean
machine_name_valid(const char *s)
{
    gboolean dot = TRUE, hyphen = TRUE;
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];

        if (c == '.') {
            if (dot || hyphen)
                return FALSE;
            dot = TRUE, hyphen = FALSE;
        } else if (c == '-') {
            if (dot)
                return FALSE;
            dot = FALSE, hyphen = TRUE;
        } else if (g_ascii_isalnum(c)) {
            dot = hyphen = FALSE;
        } else {
            return FALSE;
        }
    }
    return n > 0 && n <= 64 && !dot && !hyphen;
}

static void
fake_method(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
            const char *method, GVariant *params, GDBusMethodInvocation *inv, gpointer data)
{
    const char *name = NULL;

    (void)conn, (void)sender, (void)path, (void)iface, (void)data;
    g_mutex_lock(&fake.lock);
    fake.calls++;
    g_free(fake.method);
    fake.method = g_strdup(method);
    g_clear_pointer(&fake.params, g_variant_unref);
    fake.params = g_variant_ref(params);
    g_variant_get_child(params, 0, "&s", &name);
    if (g_str_equal(method, "TerminateMachine")) {
        if (g_hash_table_remove(fake.machines, name))
            g_dbus_method_invocation_return_value(inv, NULL);
        else
            g_dbus_method_invocation_return_dbus_error(
                inv, "org.freedesktop.machine1.NoSuchMachine", "No machine");
    } else if (fake.mode == FAKE_SILENT) {
        g_ptr_array_add(fake.held, inv);        /* a hung machined */
    } else if (!machine_name_valid(name)) {
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.InvalidArgs",
                                                   "Invalid machine name");
    } else if (fake.mode == FAKE_NO_NETWORK && g_str_equal(method, "CreateMachineWithNetwork")) {
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod",
                                                   "Unknown method");
    } else if (fake.mode == FAKE_EXISTS && fake.exists_left > 0) {
        fake.exists_left--;
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.machine1.MachineExists",
                                                   "Machine exists");
    } else {
        g_hash_table_add(fake.machines, g_strdup(name));
        g_dbus_method_invocation_return_value(
            inv, g_variant_new("(o)", "/org/freedesktop/machine1/machine/x"));
    }
    g_mutex_unlock(&fake.lock);
}

static gpointer
fake_main(gpointer data)
{
    GMainContext *ctx = g_main_context_new();
    static const GDBusInterfaceVTable vtable = { fake_method, NULL, NULL, { 0 } };
    g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml(fake_xml, NULL);
    g_autoptr(GDBusConnection) conn = NULL;
    g_autoptr(GVariant) reply = NULL;
    GError *err = NULL;

    g_main_context_push_thread_default(ctx);
    conn = g_dbus_connection_new_for_address_sync(
        g_test_dbus_get_bus_address(test_bus),
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    g_assert_no_error(err);
    g_dbus_connection_register_object(conn, "/org/freedesktop/machine1", info->interfaces[0],
                                      &vtable, NULL, NULL, &err);
    g_assert_no_error(err);
    reply = g_dbus_connection_call_sync(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "RequestName",
                                        g_variant_new("(su)", "org.freedesktop.machine1", 4),
                                        G_VARIANT_TYPE("(u)"), 0, -1, NULL, &err);
    g_assert_no_error(err);
    g_mutex_lock(&fake.lock);
    fake_loop = g_main_loop_new(ctx, FALSE);
    g_mutex_unlock(&fake.lock);
    g_main_loop_run(fake_loop);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    return data;
}

/* ---- names and use ------------------------------------------------------- */

static const struct {
    int id;
    const char *name;
    const char *want;
} names[] = {
    { 1, "web1", "bhyve-1-web1" },
    { 12, "a b/c", "bhyve-12-a-b-c" },
    { 3, "db.example_2", "bhyve-3-db.example-2" },
    { 4, ".hidden", "bhyve-4-hidden" },
    { 5, "caf\xc3\xa9", "bhyve-5-caf" },
    { 6, "---", "bhyve-6" },
    { 7, "x-", "bhyve-7-x" },
    { 8, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "bhyve-8-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
    { 1, "db_1", "bhyve-1-db-1" },
    { 10, "a..b--c.-d_.e", "bhyve-10-a.b-c.d.e" },
    { 11, "a-.b", "bhyve-11-a.b" },
    { 13, "_x_", "bhyve-13-x" },
    /* a separator that would end the name at the limit is dropped */
    { 9, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_bc",
      "bhyve-9-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
};

START_TEST(test_name)
{
    g_autofree char *got = hyve_machined_name(names[_i].id, names[_i].name);

    ck_assert_msg(g_str_equal(got, names[_i].want), "name case %d ('%s'): got '%s', want '%s'",
                  _i, names[_i].name, got, names[_i].want);
    ck_assert_msg(strlen(got) <= 64, "name case %d: %zu bytes", _i, strlen(got));
    ck_assert_msg(machine_name_valid(got), "name case %d: '%s' refused by machined's rule",
                  _i, got);
}
END_TEST

static const struct {
    gboolean privileged;
    const char *state_dir;
    const char *env;
    gboolean want;
} uses[] = {
    { TRUE, HYVE_RUNSTATEDIR "/libvirt/bhyve", NULL, TRUE },
    { TRUE, "/tmp/x" HYVE_RUNSTATEDIR "/libvirt/bhyve", NULL, FALSE },   /* --root */
    { FALSE, HYVE_RUNSTATEDIR "/libvirt/bhyve", NULL, FALSE },
    { FALSE, "/run/user/1000/libvirt/bhyve", NULL, FALSE },              /* session */
    { TRUE, HYVE_RUNSTATEDIR "/libvirt/bhyve", "0", FALSE },
    { TRUE, "/tmp/x", "1", TRUE },
    { TRUE, HYVE_RUNSTATEDIR "/libvirt/bhyve", "", TRUE },
};

START_TEST(test_wanted)
{
    gboolean got = hyve_machined_wanted(uses[_i].privileged, uses[_i].state_dir, uses[_i].env);

    ck_assert_msg(got == uses[_i].want, "use case %d (%s, env %s): got %d", _i,
                  uses[_i].state_dir, uses[_i].env ? uses[_i].env : "unset", got);
}
END_TEST

/* ---- the calls ------------------------------------------------------------ */

static const guint8 uuid[16] = { 0x3c, 0x9f, 0x78, 0x88, 0xfe, 0x7a, 0x4d, 0x65,
                                 0x98, 0xc5, 0x78, 0xe5, 0xbd, 0x95, 0xe4, 0xf2 };

/* The scope property @name of the a(sv) @props, or NULL. */
static GVariant *
prop(GVariant *props, const char *name)
{
    GVariantIter it;
    const char *key;
    GVariant *value;

    g_variant_iter_init(&it, props);
    while (g_variant_iter_next(&it, "(&sv)", &key, &value)) {
        if (g_str_equal(key, name))
            return value;
        g_variant_unref(value);
    }
    return NULL;
}

static void
check_create_args(GVariant *params, gboolean with_network)
{
    const char *name, *service, *klass, *root;
    g_autoptr(GVariant) id = NULL, props = NULL, nics = NULL, v = NULL;
    g_autofree const char **after = NULL, **before = NULL;
    const guint8 *bytes;
    gsize n = 0;
    guint32 leader;

    g_variant_get_child(params, 0, "&s", &name);
    id = g_variant_get_child_value(params, 1);
    g_variant_get_child(params, 2, "&s", &service);
    g_variant_get_child(params, 3, "&s", &klass);
    g_variant_get_child(params, 4, "u", &leader);
    g_variant_get_child(params, 5, "&s", &root);
    ck_assert_str_eq(name, "bhyve-7-web1");
    bytes = g_variant_get_fixed_array(id, &n, 1);
    ck_assert_uint_eq(n, 16);
    ck_assert_int_eq(memcmp(bytes, uuid, 16), 0);
    ck_assert_str_eq(service, "virtbhyved");
    ck_assert_str_eq(klass, "vm");
    ck_assert_uint_eq(leader, 4242);
    ck_assert_str_eq(root, "");
    if (with_network) {
        nics = g_variant_get_child_value(params, 6);
        ck_assert_uint_eq(g_variant_n_children(nics), 0);
    }
    props = g_variant_get_child_value(params, with_network ? 7 : 6);
    v = prop(props, "Slice");
    ck_assert_msg(v && g_str_equal(g_variant_get_string(v, NULL), "machine.slice"), "Slice");
    g_clear_pointer(&v, g_variant_unref);
    v = prop(props, "Delegate");
    ck_assert_msg(v && g_variant_get_boolean(v), "Delegate");
    g_clear_pointer(&v, g_variant_unref);
    v = prop(props, "TasksMax");
    ck_assert_msg(v && g_variant_get_uint64(v) == 41, "TasksMax");
    g_clear_pointer(&v, g_variant_unref);
    v = prop(props, "MemoryMax");
    ck_assert_msg(v && g_variant_get_uint64(v) == (G_GUINT64_CONSTANT(1) << 30), "MemoryMax");
    g_clear_pointer(&v, g_variant_unref);
    v = prop(props, "After");
    ck_assert_msg(v, "After");
    after = g_variant_get_strv(v, NULL);
    ck_assert_msg(g_strv_contains(after, "virtbhyved.service"), "After");
    g_clear_pointer(&v, g_variant_unref);
    v = prop(props, "Before");
    ck_assert_msg(v, "Before");
    before = g_variant_get_strv(v, NULL);
    ck_assert_msg(g_strv_contains(before, "bhyve-guests.service"), "Before");
}

/* Waits (up to 5 s) until the stand-in saw @n calls. */
static void
wait_calls(guint n, FakeSeen *seen)
{
    for (int i = 0; i < 500; i++) {
        fake_seen_clear(seen);
        fake_seen(seen);
        if (seen->calls >= n)
            return;
        g_usleep(10000);
    }
}

START_TEST(test_register)
{
    g_autoptr(GError) err = NULL;
    g_auto(FakeSeen) a = { 0 }, b = { 0 }, c = { 0 };

    fake_reset(FAKE_NORMAL, 0);
    ck_assert_msg(hyve_machined_register("bhyve-7-web1", uuid, 4242, 41,
                                         G_GUINT64_CONSTANT(1) << 30, &err),
                  "register: %s", err ? err->message : "");
    fake_seen(&a);
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_str_eq(a.method, "CreateMachineWithNetwork");
    check_create_args(a.params, TRUE);

    /* sent without awaiting the reply */
    hyve_machined_terminate("bhyve-7-web1");
    wait_calls(2, &b);
    ck_assert_str_eq(b.method, "TerminateMachine");
    ck_assert_uint_eq(b.machines, 0);
    /* an unknown machine is fine (the scope went away first) */
    hyve_machined_terminate("bhyve-7-web1");
    wait_calls(3, &c);
    ck_assert_uint_eq(c.calls, 3);
}
END_TEST

START_TEST(test_register_refused)
{
    g_autoptr(GError) err = NULL;

    /* machined refuses this machine (a name it does not take): an error of
     * the domain, not machined being unavailable */
    fake_reset(FAKE_NORMAL, 0);
    ck_assert(!hyve_machined_register("bhyve-1-db_1", uuid, 4242, 41, 1, &err));
    ck_assert_msg(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT),
                  "error: %s", err ? err->message : "none");
    ck_assert_msg(strstr(err->message, "bhyve-1-db_1"), "error: %s", err->message);
}
END_TEST

START_TEST(test_register_hung)
{
    g_autoptr(GError) err = NULL, err2 = NULL, err3 = NULL;
    g_auto(FakeSeen) a = { 0 };
    gint64 t0, took;

    /* machined never answers: the call times out (10 s) ... */
    fake_reset(FAKE_SILENT, 0);
    t0 = g_get_monotonic_time();
    ck_assert(!hyve_machined_register("bhyve-2-hung", uuid, 4242, 41, 1, &err));
    took = g_get_monotonic_time() - t0;
    ck_assert_msg(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "error: %s",
                  err ? err->message : "none");
    ck_assert_msg(took >= 9 * G_USEC_PER_SEC && took < 20 * G_USEC_PER_SEC,
                  "timed out after %" G_GINT64_FORMAT " us", took);
    /* ... then machined is not asked for a while: the next start and a
     * stop cost nothing */
    t0 = g_get_monotonic_time();
    ck_assert(!hyve_machined_register("bhyve-3-next", uuid, 4243, 41, 1, &err2));
    hyve_machined_terminate("bhyve-2-hung");
    took = g_get_monotonic_time() - t0;
    ck_assert_msg(took < G_USEC_PER_SEC, "skipped start + stop took %" G_GINT64_FORMAT " us",
                  took);
    ck_assert_msg(g_error_matches(err2, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "error: %s",
                  err2 ? err2->message : "none");
    g_usleep(200000);
    fake_seen(&a);
    ck_assert_uint_eq(a.calls, 1);
    /* asked again once the pause is over */
    hyve_machined_forget_timeout();
    fake_reset(FAKE_NORMAL, 0);
    ck_assert_msg(hyve_machined_register("bhyve-3-next", uuid, 4243, 41, 1, &err3),
                  "register after the pause: %s", err3 ? err3->message : "");
}
END_TEST

START_TEST(test_register_old_machined)
{
    g_autoptr(GError) err = NULL;
    g_auto(FakeSeen) a = { 0 };

    fake_reset(FAKE_NO_NETWORK, 0);
    ck_assert_msg(hyve_machined_register("bhyve-7-web1", uuid, 4242, 41,
                                         G_GUINT64_CONSTANT(1) << 30, &err),
                  "register: %s", err ? err->message : "");
    fake_seen(&a);
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_str_eq(a.method, "CreateMachine");
    check_create_args(a.params, FALSE);
}
END_TEST

START_TEST(test_register_exists)
{
    g_autoptr(GError) err = NULL;
    g_auto(FakeSeen) a = { 0 };
    gint64 t0;

    /* the name of the previous run is still going away: retried */
    fake_reset(FAKE_EXISTS, 3);
    ck_assert_msg(hyve_machined_register("bhyve-7-web1", uuid, 4242, 41, 1, &err),
                  "register after 3 refusals: %s", err ? err->message : "");
    fake_seen(&a);
    ck_assert_uint_eq(a.calls, 4);

    /* ... but not forever: about 3 s, then the error */
    fake_reset(FAKE_EXISTS, G_MAXUINT);
    t0 = g_get_monotonic_time();
    ck_assert(!hyve_machined_register("bhyve-7-web1", uuid, 4242, 41, 1, &err));
    ck_assert_msg(err && strstr(err->message, "Machine exists"), "error: %s",
                  err ? err->message : "none");
    ck_assert_msg(g_get_monotonic_time() - t0 >= 2 * G_USEC_PER_SEC &&
                  g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC,
                  "retried for %" G_GINT64_FORMAT " us", g_get_monotonic_time() - t0);
}
END_TEST

START_TEST(test_bus_gone)
{
    g_autoptr(GError) err = NULL;

    /* the daemon's cached connection closes with the bus; a new one fails */
    g_test_dbus_down(test_bus);
    bus_down = TRUE;
    ck_assert(!hyve_machined_register("bhyve-1-x", uuid, 4242, 41, 1, &err));
    ck_assert(err != NULL);
    hyve_machined_terminate("bhyve-1-x");     /* nothing to do, no crash */
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("machined");
    TCase *tc = tcase_create("names");
    int rc;

    /* the stand-in runs on a thread of this process: no fork per test */
    g_setenv("CK_FORK", "no", TRUE);
    test_bus = g_test_dbus_new(G_TEST_DBUS_NONE);
    g_test_dbus_up(test_bus);
    g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address(test_bus), TRUE);
    fake.machines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    fake_thread = g_thread_new("fake-machined", fake_main, NULL);
    while (!g_atomic_pointer_get(&fake_loop) || !g_main_loop_is_running(fake_loop))
        g_usleep(1000);

    tcase_add_loop_test(tc, test_name, 0, G_N_ELEMENTS(names));
    tcase_add_loop_test(tc, test_wanted, 0, G_N_ELEMENTS(uses));
    suite_add_tcase(s, tc);
    tc = tcase_create("calls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_register);
    tcase_add_test(tc, test_register_old_machined);
    tcase_add_test(tc, test_register_exists);
    tcase_add_test(tc, test_register_refused);
    tcase_add_test(tc, test_register_hung);
    tcase_add_test(tc, test_bus_gone);      /* last: takes the bus down */
    suite_add_tcase(s, tc);
    rc = test_suite_run(s);

    g_main_loop_quit(fake_loop);
    g_thread_join(fake_thread);
    if (!bus_down)
        g_test_dbus_down(test_bus);
    g_object_unref(test_bus);
    return rc;
}
