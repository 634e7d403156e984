/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sandbox.c: the daemon side of the least-privilege runner (issue 7):
 * the runner user's ids (hyve_process_runner_ids) and the sandbox keys a
 * runner gets (hyve_process_sandbox_fill). The cgroups: test_cgroup.c; the
 * real runner: tests/integration/test_sandbox.py.
 */
#include "hyve_error.h"
#include "hyve_process.h"
#include "../test_driver_common.h"

/* ---- runner ids ------------------------------------------------------------ */

START_TEST(test_ids_root)
{
    g_autoptr(GError) err = NULL;
    guint32 uid = 77, gid = 77;

    ck_assert_msg(hyve_process_runner_ids("root", &uid, &gid, &err), "root: %s",
                  err ? err->message : "");
    ck_assert_msg(uid == 0 && gid == 0, "root: uid %u gid %u", uid, gid);
}
END_TEST

START_TEST(test_ids_missing)
{
    g_autoptr(GError) err = NULL;
    guint32 uid = 77, gid = 77;

    ck_assert(!hyve_process_runner_ids("hyve-no-such-user", &uid, &gid, &err));
    test_check_error_from("missing user", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_INTERNAL_ERROR,
                          "internal error: runner user 'hyve-no-such-user' does not exist "
                          "(runner_user in virtbhyved.conf)");
    ck_assert_msg(uid == 77 && gid == 77, "missing user: ids changed to %u/%u", uid, gid);
}
END_TEST

/* hyve-runner (tools/install-deps creates it): its ids as getent says. */
START_TEST(test_ids_runner_user)
{
    const char *argv[] = { "getent", "passwd", "hyve-runner", NULL };
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) f = NULL;
    guint32 uid = 0, gid = 0;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                      NULL, &status, NULL) || status != 0) {
        ck_assert(!hyve_process_runner_ids("hyve-runner", &uid, &gid, &err));
        return;
    }
    f = g_strsplit(out, ":", -1);
    ck_assert_msg(g_strv_length(f) >= 4, "getent output '%s'", out);
    ck_assert_msg(hyve_process_runner_ids("hyve-runner", &uid, &gid, &err), "%s",
                  err ? err->message : "");
    ck_assert_uint_eq(uid, g_ascii_strtoull(f[2], NULL, 10));
    ck_assert_uint_eq(gid, g_ascii_strtoull(f[3], NULL, 10));
    ck_assert_uint_ne(uid, 0);
}
END_TEST

/* sandbox=true always; ids only for a root daemon with a runner_user. */
static const struct {
    const char *user;
    uid_t euid;
    gboolean ok, ids;
} fill_cases[] = {
    { NULL, 0, TRUE, FALSE },
    { "", 0, TRUE, FALSE },
    { "root", 0, TRUE, TRUE },
    { "root", 1000, TRUE, FALSE },
    { "hyve-no-such-user", 1000, TRUE, FALSE },
    { "hyve-no-such-user", 0, FALSE, TRUE },
};

START_TEST(test_fill)
{
    HyveRunnerInput in = { .sandbox_uid = 77, .sandbox_gid = 77 };
    g_autoptr(GError) err = NULL;
    gboolean ok = hyve_process_sandbox_fill(&in, fill_cases[_i].user, fill_cases[_i].euid, &err);

    ck_assert_msg(ok == fill_cases[_i].ok, "case %d (%s, euid %u): %s", _i,
                  fill_cases[_i].user ? fill_cases[_i].user : "NULL",
                  (unsigned)fill_cases[_i].euid, err ? err->message : "succeeded");
    ck_assert_msg(in.sandbox, "case %d: sandbox not set", _i);
    ck_assert_msg(in.sandbox_ids == fill_cases[_i].ids, "case %d: sandbox_ids %d", _i,
                  in.sandbox_ids);
    if (ok && in.sandbox_ids)
        ck_assert_msg(in.sandbox_uid == 0 && in.sandbox_gid == 0, "case %d: ids %u/%u", _i,
                      in.sandbox_uid, in.sandbox_gid);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("driver-sandbox");
    TCase *tc = tcase_create("sandbox");

    tcase_add_test(tc, test_ids_root);
    tcase_add_test(tc, test_ids_missing);
    tcase_add_test(tc, test_ids_runner_user);
    tcase_add_loop_test(tc, test_fill, 0, G_N_ELEMENTS(fill_cases));
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
