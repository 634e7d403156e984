/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_runner_config.c: golden tests of the domain XML -> bhyve-runner
 * configuration translation (hyve_runner_config_format), like libvirt's
 * bhyvexml2argvtest.
 *
 * For every case in cases[]: cases/<case>.xml is parsed by the real
 * pipeline (hyve_domain_def_parse_string, libvirt's schemas, defaults),
 * which must succeed, then translated with the run files of a state dir
 * /run/hyve-test and log dir /var/log/hyve-test, and either
 *   - compared with cases/<case>.conf, which the built bhyve-runner must
 *     accept (`bhyve-runner -n -c <case>.conf`, path in HYVE_TEST_RUNNER), or
 *   - expected to fail exactly as cases/<case>.err says: "<code> <domain>
 *     <message>".
 * Volume disks are resolved by a stand-in for the storage driver: pool P,
 * volume V -> /srv/hyve-test/pools/P/V, except pool 'missing' (unresolved).
 * HYVE_REGENERATE=1 rewrites the .conf / .err files from the results.
 */
#include <sys/wait.h>
#include "hyve_error.h"
#include "hyve_runner_config.h"
#include "../test_driver_common.h"

#define CASES_DIR HYVE_SOURCE_ROOT "/tests/unit/driver/runner/cases"
#define STATE_DIR "/run/hyve-test"
#define LOG_DIR "/var/log/hyve-test"

typedef struct {
    const char *name;
    gboolean fails;
    int net_fd_base;        /* 0: no descriptors given (dry run: 3, 4, ...) */
    int sandbox;            /* 1: sandbox=true, 2: also ids 994/995 (issue 7) */
} ConfCase;

static const ConfCase cases[] = {
    { "minimal", FALSE, 0 },
    { "kernel-initrd-cmdline", FALSE, 0 },
    { "cmdline-empty", FALSE, 0 },
    { "smp", FALSE, 0 },
    { "vcpu-current", FALSE, 0 },
    { "vcpu-64", FALSE, 0 },
    { "topology", FALSE, 0 },
    { "memory-round", FALSE, 0 },
    { "memory-gib", FALSE, 0 },
    { "memory-min", FALSE, 0 },
    { "memory-just-below-min", FALSE, 0 },
    { "features-clock-lifecycle", FALSE, 0 },
    { "disk", FALSE, 0 },
    { "disks-ro-serial", FALSE, 0 },
    { "disk-volume", FALSE, 0 },
    { "serial-pty-console", FALSE, 0 },
    { "console-only", FALSE, 0 },
    { "serials-file-unix", FALSE, 0 },
    { "serial-port1-only", FALSE, 0 },
    { "net-bridge", FALSE, 0 },
    { "nets-addresses", FALSE, 0 },
    { "net-fds", FALSE, 7 },
    { "rng", FALSE, 0 },
    { "rng-random", FALSE, 0 },
    { "full", FALSE, 0 },
    { "sandbox", FALSE, 0, 1 },
    { "sandbox-ids", FALSE, 0, 2 },
    { "err-no-kernel", TRUE, 0 },
    { "err-vcpu-65", TRUE, 0 },
    { "err-vcpu-current-65", TRUE, 0 },
    { "err-memory-small", TRUE, 0 },
    { "err-memory-31744k", TRUE, 0 },
    { "err-clock-localtime", TRUE, 0 },
    { "err-cmdline-long", TRUE, 0 },
    { "err-cmdline-newline", TRUE, 0 },
    { "err-serial-port2", TRUE, 0 },
    { "err-unix-connect", TRUE, 0 },
    { "err-unix-no-mode", TRUE, 0 },
    { "err-unix-path-long", TRUE, 0 },
    { "err-name-long", TRUE, 0 },
    { "err-volume-unresolved", TRUE, 0 },
    { "err-disk-serial", TRUE, 0 },
};

static const HyveDomainParseOptions opts = {
    .schema_dir = HYVE_LIBVIRT_SCHEMA_DIR,
    .emulator = TEST_EMULATOR,
    .alt_emulator = NULL,
};

static void
write_or_die(const char *path, const char *data)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_file_set_contents(path, data, -1, &err), "cannot write %s: %s", path,
                  err ? err->message : "");
}

/* The stand-in storage driver: resolved paths of the volume disks. */
static GPtrArray *
resolve_disks(const HyveDomainDef *def)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < def->disks->len; i++) {
        const HyveDiskDef *d = g_ptr_array_index(def->disks, i);
        char *p = NULL;

        if (d->type == HYVE_DISK_TYPE_VOLUME && !g_str_equal(d->pool, "missing"))
            p = g_strdup_printf("/srv/hyve-test/pools/%s/%s", d->pool, d->volume);
        g_ptr_array_add(paths, p);
    }
    g_ptr_array_add(paths, NULL);
    return paths;
}

/* `bhyve-runner -n -c @path` must accept the configuration. */
static void
check_runner_accepts(const char *name, const char *path)
{
    const char *runner = g_getenv("HYVE_TEST_RUNNER");
    const char *argv[] = { runner, "-n", "-c", path, NULL };
    g_autofree char *out = NULL, *errout = NULL;
    g_autoptr(GError) err = NULL;
    int status = 0;

    ck_assert_msg(runner && *runner, "%s: HYVE_TEST_RUNNER (path of bhyve-runner) is not set",
                  name);
    ck_assert_msg(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, &errout,
                               &status, &err), "%s: cannot run %s: %s", name, runner,
                  err ? err->message : "");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s: bhyve-runner -n rejects %s (status %d): %s", name, path, status, errout);
}

START_TEST(test_case)
{
    const ConfCase *c = &cases[_i];
    g_autofree char *in_path = g_strdup_printf(CASES_DIR "/%s.xml", c->name);
    g_autofree char *conf_path = g_strdup_printf(CASES_DIR "/%s.conf", c->name);
    g_autofree char *err_path = g_strdup_printf(CASES_DIR "/%s.err", c->name);
    g_autofree char *input = test_read_file(in_path);
    g_autofree char *got = NULL, *want = NULL;
    g_autofree int *fds = NULL;
    g_autoptr(HyveDomainDef) def = NULL;
    g_autoptr(GPtrArray) disk_paths = NULL;
    g_autoptr(GError) err = NULL;
    HyveRunnerPaths paths = { 0 };
    HyveRunnerInput in = { 0 };

    ck_assert_msg(input, "%s: cannot read %s", c->name, in_path);
    def = hyve_domain_def_parse_string(input, &opts, &err);
    ck_assert_msg(def, "%s: the definition itself is rejected: %s", c->name,
                  err ? err->message : "");

    hyve_runner_paths_init(&paths, STATE_DIR, LOG_DIR, def->name);
    disk_paths = resolve_disks(def);
    in.paths = &paths;
    in.disk_paths = (const char *const *)disk_paths->pdata;
    if (c->net_fd_base) {
        fds = g_new0(int, def->nets->len + 1);
        for (guint i = 0; i < def->nets->len; i++)
            fds[i] = c->net_fd_base + 2 * (int)i;
        in.net_fds = fds;
    }
    in.sandbox = c->sandbox > 0;
    in.sandbox_ids = c->sandbox > 1;
    in.sandbox_uid = c->sandbox > 1 ? 994 : 0;
    in.sandbox_gid = c->sandbox > 1 ? 995 : 0;
    got = hyve_runner_config_format(def, &in, &err);
    hyve_runner_paths_clear(&paths);

    if (c->fails) {
        g_autofree char *line = NULL;

        ck_assert_msg(!got, "%s: expected a failure, got:\n%s", c->name, got);
        ck_assert_msg(err, "%s: failure without a GError", c->name);
        line = test_error_line(err);
        if (test_regenerate()) {
            g_autofree char *data = g_strdup_printf("%s\n", line);
            write_or_die(err_path, data);
        }
        want = test_read_file(err_path);
        ck_assert_msg(want, "%s: cannot read %s", c->name, err_path);
        g_strchomp(want);
        ck_assert_msg(g_str_equal(line, want), "%s: error\n  got:  %s\n  want: %s", c->name,
                      line, want);
        ck_assert_msg(!g_file_test(conf_path, G_FILE_TEST_EXISTS),
                      "%s: failing case must not have %s", c->name, conf_path);
        return;
    }
    ck_assert_msg(got, "%s: translation failed: %s", c->name, err ? err->message : "");
    if (test_regenerate())
        write_or_die(conf_path, got);
    want = test_read_file(conf_path);
    ck_assert_msg(want, "%s: cannot read %s", c->name, conf_path);
    ck_assert_msg(g_str_equal(got, want), "%s: output differs from %s:\n%s", c->name,
                  conf_path, got);
    ck_assert_msg(!g_file_test(err_path, G_FILE_TEST_EXISTS),
                  "%s: successful case must not have %s", c->name, err_path);
    check_runner_accepts(c->name, conf_path);
}
END_TEST

/* Keys are sorted and unique, one per line: holds for every golden. */
START_TEST(test_sorted)
{
    const ConfCase *c = &cases[_i];
    g_autofree char *path = g_strdup_printf(CASES_DIR "/%s.conf", c->name);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (c->fails)
        return;
    text = test_read_file(path);
    ck_assert_msg(text && g_str_has_suffix(text, "\n"), "%s: %s missing or not '\\n' ended",
                  c->name, path);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i] && *lines[i]; i++) {
        g_autofree char *k0 = g_strndup(lines[i - 1], strcspn(lines[i - 1], "="));
        g_autofree char *k1 = g_strndup(lines[i], strcspn(lines[i], "="));

        ck_assert_msg(strcmp(k0, k1) < 0, "%s: key '%s' not before '%s'", c->name, k0, k1);
    }
}
END_TEST

/* The run files of a domain, as the header documents them. */
START_TEST(test_paths)
{
    HyveRunnerPaths p = { 0 };

    hyve_runner_paths_init(&p, "/run/hyve", "/var/log/hyve", "vm1");
    ck_assert_str_eq(p.config, "/run/hyve/vm1.conf");
    ck_assert_str_eq(p.control, "/run/hyve/vm1.ctl");
    ck_assert_str_eq(p.exit_status, "/run/hyve/vm1.exit");
    ck_assert_str_eq(p.pidfile, "/run/hyve/vm1.pid");
    ck_assert_str_eq(p.status, "/run/hyve/vm1.xml");
    ck_assert_str_eq(p.log, "/var/log/hyve/vm1.log");
    hyve_runner_paths_clear(&p);
    ck_assert(!p.config && !p.control && !p.exit_status && !p.pidfile && !p.status && !p.log);
    hyve_runner_paths_clear(&p);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("driver-runner-config");
    TCase *tc = tcase_create("golden");

    tcase_add_loop_test(tc, test_case, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_sorted, 0, G_N_ELEMENTS(cases));
    tcase_add_test(tc, test_paths);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
