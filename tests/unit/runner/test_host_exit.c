/* test_host_exit.c: the runner's exit file (exit.file=PATH: one line
 * "status=N reason=WORD", written atomically as it exits, also for
 * configuration and start errors) and boot.paused=true (VM built, vCPUs
 * held until `resume`), with the real binary on this host's /dev/kvm and
 * the synthetic kernels of test_host_util.c. Skipped (77) without KVM. */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_host_util.h"

/* The exit file must hold exactly @want and be alone in its directory with
 * the files the test created (no temporary file left behind). */
static void
check_exit_file(const char *tcase, const char *dir, const char *want)
{
    g_autofree char *path = g_build_filename(dir, "vm.exit", NULL);
    g_autofree char *got = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    ck_assert_msg(g_file_get_contents(path, &got, NULL, NULL), "%s: no exit file %s", tcase, path);
    ck_assert_msg(g_str_equal(got, want), "%s: exit file '%s', expected '%s'", tcase, got, want);
    ck_assert_msg(d, "%s: cannot list %s", tcase, dir);
    while ((e = g_dir_read_name(d)))
        ck_assert_msg(g_str_equal(e, "vm.exit") || g_str_equal(e, "vm.conf") ||
                      g_str_equal(e, "bzImage") || g_str_equal(e, "com1.log"),
                      "%s: unexpected file '%s' left in %s", tcase, e, dir);
}

static const struct {
    const char *name;
    const char *action;
    int status;
    const char *line;
} exits[] = {
    { "exit-poweroff", "66BA040666B8003466EF", 1, "status=1 reason=poweroff\n" },
    { "exit-reboot", "66BAF90CB006EE", 0, "status=0 reason=reboot\n" },
    { "exit-triple-fault", "0F0B", 3, "status=3 reason=triple-fault\n" },
    { "exit-halt", "", 2, "status=2 reason=halt\n" },
};

START_TEST(test_exit_file)
{
    g_auto(Run) r = { 0 };
    g_autofree char *dir = g_build_filename(tmpdir, exits[_i].name, NULL);
    g_autofree char *exitf = g_build_filename(dir, "vm.exit", NULL);
    g_autofree char *extra = g_strdup_printf("exit.file=%s\n", exitf);
    int st;

    /* a stale file from an earlier run is replaced */
    g_mkdir_with_parents(dir, 0700);
    ck_assert(g_file_set_contents(exitf, "status=4 reason=error\nstale\n", -1, NULL));
    run_start_full(&r, exits[_i].name, exits[_i].action, FALSE, extra);
    st = run_wait(&r, 60);
    ck_assert_msg(st == exits[_i].status, "%s: exit %d, expected %d", exits[_i].name, st,
                  exits[_i].status);
    check_exit_file(exits[_i].name, r.dir, exits[_i].line);
}
END_TEST

/* Runs `bhyve-runner [-n] -c DIR/vm.conf` on @text (with exit.file=DIR/vm.exit
 * appended), returns its exit status. */
static int
run_config(const char *name, const char *text, gboolean check, char **dir_out)
{
    g_autofree char *dir = g_build_filename(tmpdir, name, NULL);
    g_autofree char *conf = g_build_filename(dir, "vm.conf", NULL);
    g_autofree char *full = NULL;
    const char *argv[] = { runner, "-c", conf, NULL, NULL };
    int status;

    if (check) {
        argv[1] = "-n";
        argv[2] = "-c";
        argv[3] = conf;
    }
    g_mkdir_with_parents(dir, 0700);
    full = g_strdup_printf("%sexit.file=%s/vm.exit\n", text, dir);
    ck_assert(g_file_set_contents(conf, full, -1, NULL));
    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                           NULL, NULL, &status, NULL));
    *dir_out = g_steal_pointer(&dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const struct {
    const char *name;
    const char *text;
    gboolean check;
    int status;
    gboolean written;
} errors[] = {
    /* the bad key comes before exit.file: still reported there */
    { "err-syntax", "boot.kernel=/k\nmemory.size=lots\nname=x\n", FALSE, 4, TRUE },
    { "err-missing-kernel", "name=x\n", FALSE, 4, TRUE },
    /* the VM cannot be built: the kernel does not exist */
    { "err-no-kernel-file", "boot.kernel=/nonexistent/bzImage\nname=x\n", FALSE, 4, TRUE },
    /* -n only validates: never an exit file */
    { "check-ok", "boot.kernel=/k\nname=x\n", TRUE, 0, FALSE },
    { "check-bad", "boot.kernel=/k\ncpus=0\nname=x\n", TRUE, 4, FALSE },
};

START_TEST(test_exit_file_errors)
{
    g_autofree char *dir = NULL;
    int st = run_config(errors[_i].name, errors[_i].text, errors[_i].check, &dir);

    ck_assert_msg(st == errors[_i].status, "%s: exit %d, expected %d", errors[_i].name, st,
                  errors[_i].status);
    if (errors[_i].written) {
        check_exit_file(errors[_i].name, dir, "status=4 reason=error\n");
    } else {
        g_autofree char *path = g_build_filename(dir, "vm.exit", NULL);

        ck_assert_msg(!g_file_test(path, G_FILE_TEST_EXISTS), "%s: exit file written",
                      errors[_i].name);
    }
}
END_TEST

/* boot.paused=true: no guest instruction runs before `resume`. */
START_TEST(test_boot_paused)
{
    g_auto(Run) r = { 0 };
    g_autofree char *extra = NULL, *stats = NULL, *rep = NULL;
    g_autofree char *out = NULL;
    static const struct { const char *req, *reply; } steps[] = {
        { "status", "ok paused" },
        { "pause", "error 55 domain is not running" },
        { "resume", "ok" },
        { "status", "ok running" },
    };
    unsigned i;

    extra = g_strdup_printf("boot.paused=true\ncpus=2\nexit.file=%s/paused/vm.exit\n", tmpdir);
    run_start(&r, "paused", "", extra);     /* would spin after its message */
    /* requests are served once the machine runs: never "created" */
    rep = request(&r, "status");
    ck_assert_msg(g_str_equal(rep, "ok paused"), "paused: status '%s'", rep);
    g_usleep(1500000);
    ck_assert_msg(!g_file_get_contents(r.com1, &out, NULL, NULL) || !*out,
                  "paused: the guest wrote '%s' before resume", out);
    stats = request(&r, "stats");
    ck_assert_msg(strstr(stats, " vcpu0.time_ns=0 ") && strstr(stats, " vcpu1.time_ns=0 "),
                  "paused: a vCPU entered KVM_RUN: '%s'", stats);
    for (i = 0; i < G_N_ELEMENTS(steps); i++) {
        g_autofree char *got = request(&r, steps[i].req);

        ck_assert_msg(g_str_equal(got, steps[i].reply), "paused step %u '%s': '%s', expected '%s'",
                      i, steps[i].req, got, steps[i].reply);
    }
    ck_assert_msg(wait_output(&r, "HYVE-TEST", 60), "paused: no serial output after resume");
    g_free(request(&r, "poweroff"));
    ck_assert_int_eq(run_wait(&r, 30), 1);
    check_exit_file("paused", r.dir, "status=1 reason=poweroff\n");
}
END_TEST

/* A VM started paused can be stopped without ever running. */
START_TEST(test_boot_paused_poweroff)
{
    g_auto(Run) r = { 0 };
    g_autofree char *extra = NULL, *out = NULL;

    extra = g_strdup_printf("boot.paused=true\nexit.file=%s/paused-off/vm.exit\n", tmpdir);
    run_start(&r, "paused-off", "", extra);
    g_free(request(&r, "status"));
    g_free(request(&r, "reset"));
    ck_assert_int_eq(run_wait(&r, 30), 0);
    ck_assert_msg(!g_file_get_contents(r.com1, &out, NULL, NULL) || !*out,
                  "paused-off: the guest ran: '%s'", out);
    check_exit_file("paused-off", r.dir, "status=0 reason=reboot\n");
}
END_TEST

int
main(int argc, char **argv)
{
    TCase *tc = tcase_create("exit");

    tcase_add_loop_test(tc, test_exit_file, 0, G_N_ELEMENTS(exits));
    tcase_add_loop_test(tc, test_exit_file_errors, 0, G_N_ELEMENTS(errors));
    tcase_add_test(tc, test_boot_paused);
    tcase_add_test(tc, test_boot_paused_poweroff);
    return host_test_main(argc, argv, "runner-host-exit", tc);
}
