/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_domain_fixes.c: regressions of running domains with the real
 * bhyve-runner: undefine/define racing a start or a create (slow runner
 * wrapper), reboot with on_reboot destroy, shutdown mode sets, ids read
 * back from status files, status files of names starting with '.'.
 * argv[1]: the bhyve-runner binary. Skipped (77) without a usable /dev/kvm.
 */
#include "test_domain_process.h"

#define UUID1 "<uuid>6d1c2a1e-5a43-4f0e-9f57-0a1b2c3d4e5f</uuid>"

/* Reopens the driver with a wrapper runner: sleeps @secs, then runs the
 * real runner (@fail: exits 4, an error, instead). */
static void
reopen_with_slow_runner(const char *secs, gboolean fail)
{
    g_autofree char *wrapper = g_build_filename(tmpdir, "slow-runner", NULL);
    g_autofree char *text = fail ?
        g_strdup_printf("#!/bin/sh\nsleep %s\necho wrapper gives up\nexit 4\n", secs) :
        g_strdup_printf("#!/bin/sh\nsleep %s\nexec '%s' \"$@\"\n", secs, runner_path);
    const char *saved = runner_path;

    ck_assert(g_file_set_contents(wrapper, text, -1, NULL));
    ck_assert(chmod(wrapper, 0755) == 0);
    g_clear_pointer(&drv, hyve_driver_free);
    runner_path = wrapper;
    drv = open_driver();
    runner_path = saved;
}

static gpointer
start_thread(gpointer data)
{
    g_autoptr(GError) err = NULL;
    gboolean ok = hyve_driver_domain_start(drv, data, 0, &err);

    if (!ok)
        g_printerr("start: %s\n", err ? err->message : "");
    return GINT_TO_POINTER(ok);
}

typedef struct {
    const char *xml;
    HyveDomainObj *obj;
    char *error;
} CreateCall;

static gpointer
create_thread(gpointer data)
{
    CreateCall *c = data;
    g_autoptr(GError) err = NULL;

    c->obj = hyve_driver_create_xml(drv, c->xml, 0, &err);
    c->error = err ? g_strdup(err->message) : NULL;
    return NULL;
}

static guint
n_listed(guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) l = hyve_driver_list_domains(drv, flags, &err);

    ck_assert(l);
    return l->len;
}

/* virsh start & undefine: the undefine waits for the start, the domain
 * runs on as a transient one; no runner is ever left untracked. */
START_TEST(test_undefine_during_start)
{
    g_autoptr(HyveDomainObj) obj = NULL;
    g_autoptr(GError) err = NULL;
    GThread *t;

    reopen_with_slow_runner("1", FALSE);
    obj = define_guest("u", ACT_SPIN, NULL);
    t = g_thread_new("start", start_thread, obj);
    g_usleep(400000);
    ck_assert_msg(hyve_driver_undefine(drv, obj, 0, &err), "undefine: %s",
                  err ? err->message : "");
    ck_assert_msg(g_thread_join(t), "the start succeeds");
    ck_assert_msg(hyve_domain_obj_is_active(obj) && !hyve_domain_obj_is_persistent(obj),
                  "running on, transient");
    ck_assert_uint_eq(live_runners(), 1);
    ck_assert(hyve_driver_domain_destroy(drv, obj, 0, &err));
    ck_assert_msg(!hyve_driver_lookup_by_name(drv, "u", NULL), "gone after destroy");
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

/* A create failing while a define of the same domain runs: the defined
 * domain stays; while the create is under way the new transient domain is
 * not listed. */
START_TEST(test_define_during_failing_create)
{
    g_autofree char *xml = NULL;
    g_autoptr(HyveDomainObj) d = NULL, o = NULL;
    g_autoptr(GError) err = NULL;
    CreateCall c = { 0 };
    GThread *t;

    reopen_with_slow_runner("1", TRUE);
    xml = guest_xml("cf", ACT_SPIN, UUID1);
    c.xml = xml;
    t = g_thread_new("create", create_thread, &c);
    g_usleep(400000);
    ck_assert_uint_eq(n_listed(0), 0);
    d = hyve_driver_define_xml(drv, xml, 0, &err);
    ck_assert_msg(d, "define: %s", err ? err->message : "");
    g_thread_join(t);
    ck_assert_msg(!c.obj && c.error && strstr(c.error, "wrapper gives up"), "create fails: %s",
                  c.error ? c.error : "(succeeded)");
    g_free(c.error);
    o = hyve_driver_lookup_by_name(drv, "cf", &err);
    ck_assert_msg(o, "the defined domain stays: %s", err ? err->message : "");
    ck_assert(hyve_domain_obj_is_persistent(o) && !hyve_domain_obj_is_active(o));
    ck_assert_uint_eq(n_listed(0), 1);
    ck_assert_uint_eq(live_runners(), 0);
}
END_TEST

int
main(int argc, char **argv)
{
    Suite *s = suite_create("domain-fixes");
    TCase *tc = process_tcase_new(s);

    tcase_add_test(tc, test_undefine_during_start);
    tcase_add_test(tc, test_define_during_failing_create);
    return process_test_main(argc, argv, s);
}
