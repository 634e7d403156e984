/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_cgroup.c: the per-domain cgroups (hyve_cgroup.h, issue 7): the
 * cgroup2 root decision from mount tables, the path and its escaping, and
 * creation / controller enabling / limits / removal / sweep / statistics in a fake
 * cgroup tree in a temporary directory (the real hierarchy is exercised by
 * tests/integration/test_sandbox.py and the lab).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hyve_cgroup.h"
#include "hyve_error.h"
#include "hyve_process.h"
#include "../test_driver_common.h"

/* ---- the cgroup2 root -------------------------------------------------------- */

#define M_V1 "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
#define M_TMPFS "tmpfs /sys/fs/cgroup tmpfs rw,mode=755 0 0\n"
#define M_UNIFIED "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\n"
#define M_PURE "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n"

static const struct {
    const char *name;
    const char *mounts;
    const char *env;
    const char *want;
} root_cases[] = {
    { "pure v2", "proc /proc proc rw 0 0\n" M_PURE, NULL, "/sys/fs/cgroup" },
    { "hybrid", M_TMPFS M_V1 M_UNIFIED, NULL, "/sys/fs/cgroup/unified" },
    { "v1 only", M_TMPFS M_V1, NULL, NULL },
    { "nothing", "", NULL, NULL },
    { "v2 hidden by a later tmpfs", M_PURE M_TMPFS, NULL, NULL },
    { "pure v2 preferred", M_UNIFIED M_PURE, NULL, "/sys/fs/cgroup" },
    { "elsewhere only", "cgroup2 /mnt/cg cgroup2 rw 0 0\n", NULL, NULL },
    { "env path", M_PURE, "/tmp/fake-cg", "/tmp/fake-cg" },
    { "env empty disables", M_PURE, "", NULL },
};

START_TEST(test_find_root)
{
    g_autofree char *got = hyve_cgroup_find_root(root_cases[_i].mounts, root_cases[_i].env);

    ck_assert_msg(g_strcmp0(got, root_cases[_i].want) == 0, "%s: got %s, want %s",
                  root_cases[_i].name, got ? got : "(none)",
                  root_cases[_i].want ? root_cases[_i].want : "(none)");
}
END_TEST

static const struct {
    const char *state_dir;
    const char *name;
    const char *want;
} path_cases[] = {
    { "/run/libvirt/bhyve", "web1", "/cg/hyve/run-libvirt-bhyve/vm-web1" },
    { "/run/a-b", "web-1", "/cg/hyve/run-a\\x2db/vm-web-1" },
    { "/var/run/libvirt/bhyve/", "a b", "/cg/hyve/var-run-libvirt-bhyve/vm-a\\x20b" },
    { "/tmp/hyve-it-x1/run", "cgroup.procs", "/cg/hyve/tmp-hyve\\x2dit\\x2dx1-run/vm-cgroup.procs" },
    { "//run//x", "..", "/cg/hyve/run-x/vm-\\x2e." },
    { "/run/x", "dom/\\\n", "/cg/hyve/run-x/vm-dom\\x2f\\x5c\\x0a" },
    { "/", "\xc3\xa9t\xc3\xa9", "/cg/hyve/-/vm-\\xc3\\xa9t\\xc3\\xa9" },
};

START_TEST(test_vm_path)
{
    g_autofree char *got = hyve_cgroup_vm_path("/cg", path_cases[_i].state_dir,
                                               path_cases[_i].name);

    ck_assert_msg(g_str_equal(got, path_cases[_i].want), "case %d (%s, %s): got %s, want %s",
                  _i, path_cases[_i].state_dir, path_cases[_i].name, got, path_cases[_i].want);
}
END_TEST

/* A state dir whose escaped name would exceed 200 bytes: a hash, stable. */
START_TEST(test_vm_path_long)
{
    g_autofree char *dir = g_strnfill(220, 'x'), *state = g_strconcat("/a-", dir, NULL);
    g_autofree char *p1 = hyve_cgroup_vm_path("/cg", state, "d");
    g_autofree char *p2 = hyve_cgroup_vm_path("/cg", state, "d");
    g_autofree char *inst = g_path_get_dirname(p1), *base = g_path_get_basename(inst);

    ck_assert_str_eq(p1, p2);
    ck_assert_msg(g_str_has_prefix(base, "h-") && strlen(base) == 34, "long: %s", p1);
}
END_TEST

/* ---- a fake cgroup tree -------------------------------------------------------- */

static void
put(const char *dir, const char *file, const char *text)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_file_set_contents(p, text, -1, &err), "%s: %s", p, err->message);
}

static void
rm(const char *dir, const char *file)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);

    g_unlink(p);
}

static char *
get(const char *dir, const char *file)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);
    char *text = NULL;

    return g_file_get_contents(p, &text, NULL, NULL) ? text : g_strdup("(missing)");
}

/* Root offers @offered with @enabled on; one more level "hyve" pre-made
 * (a kernel would give every cgroup its interface files) when @sub_offered. */
static const struct {
    const char *name;
    const char *offered, *enabled, *want_root;
    const char *sub_offered, *want_sub;
} tree_cases[] = {
    { "v2 with controllers", "cpuset cpu io memory pids\n", "\n", "+memory +cpu +pids", NULL,
      NULL },
    { "memory already on", "cpu memory pids\n", "memory pids\n", "+cpu", NULL, NULL },
    { "pids missing", "cpu memory pids\n", "memory cpu\n", "+pids", NULL, NULL },
    { "both on: untouched", "cpu memory\n", "cpu memory\n", "cpu memory\n", NULL, NULL },
    { "hybrid: none offered", "hugetlb\n", "hugetlb\n", "hugetlb\n", NULL, NULL },
    { "only cpu offered", "cpu io\n", "", "+cpu", NULL, NULL },
    { "hyve level too", "cpu memory\n", "cpu memory\n", "cpu memory\n",
      "cpu memory\n", "+memory +cpu" },
};

START_TEST(test_tree)
{
    g_autofree char *root = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *top = g_build_filename(root, "hyve", NULL);
    g_autofree char *vm = hyve_cgroup_vm_path(root, "/run/t", "d1");
    g_autofree char *vm2 = hyve_cgroup_vm_path(root, "/run/t", "d2");
    g_autofree char *inst = g_path_get_dirname(vm);
    g_autofree char *got = NULL;
    g_autoptr(GError) err = NULL;
    const char *n = tree_cases[_i].name;

    put(root, "cgroup.controllers", tree_cases[_i].offered);
    put(root, "cgroup.subtree_control", tree_cases[_i].enabled);
    if (tree_cases[_i].sub_offered) {
        ck_assert(g_mkdir(top, 0755) == 0);
        put(top, "cgroup.controllers", tree_cases[_i].sub_offered);
        put(top, "cgroup.subtree_control", "");
    }
    ck_assert_msg(hyve_cgroup_create(root, vm, &err), "%s: %s", n, err ? err->message : "");
    ck_assert_msg(g_file_test(vm, G_FILE_TEST_IS_DIR), "%s: no %s", n, vm);
    got = get(root, "cgroup.subtree_control");
    ck_assert_msg(g_str_equal(got, tree_cases[_i].want_root), "%s: root subtree_control '%s', "
                  "want '%s'", n, got, tree_cases[_i].want_root);
    if (tree_cases[_i].want_sub) {
        g_free(got);
        got = get(top, "cgroup.subtree_control");
        ck_assert_msg(g_str_equal(got, tree_cases[_i].want_sub), "%s: hyve subtree_control "
                      "'%s', want '%s'", n, got, tree_cases[_i].want_sub);
    }
    /* again (a leftover): reused; a second domain beside it */
    ck_assert_msg(hyve_cgroup_create(root, vm, &err), "%s: reuse: %s", n, err->message);
    ck_assert_msg(hyve_cgroup_create(root, vm2, &err), "%s: second: %s", n, err->message);
    ck_assert(hyve_cgroup_remove(root, vm));
    ck_assert_msg(!g_file_test(vm, G_FILE_TEST_EXISTS), "%s: %s not removed", n, vm);
    ck_assert_msg(g_file_test(inst, G_FILE_TEST_IS_DIR), "%s: instance dir went early", n);
    ck_assert(hyve_cgroup_remove(root, vm2));
    ck_assert_msg(!g_file_test(inst, G_FILE_TEST_EXISTS), "%s: empty %s left", n, inst);
    ck_assert_msg(g_file_test(top, G_FILE_TEST_IS_DIR), "%s: hyve dir removed", n);
    ck_assert_msg(hyve_cgroup_remove(root, vm), "%s: removing a missing cgroup", n);
    if (tree_cases[_i].sub_offered) {
        rm(top, "cgroup.controllers");
        rm(top, "cgroup.subtree_control");
    }
    g_rmdir(top);
    rm(root, "cgroup.controllers");
    rm(root, "cgroup.subtree_control");
    ck_assert_msg(g_rmdir(root) == 0, "%s: fake tree not empty afterwards", n);
}
END_TEST

START_TEST(test_create_fails)
{
    g_autofree char *root = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *vm = hyve_cgroup_vm_path(root, "/run/t", "d1");
    g_autofree char *inst = g_path_get_dirname(vm);
    g_autofree char *want = NULL;
    g_autoptr(GError) err = NULL;

    put(root, "hyve", "a file where the hyve directory should be");
    ck_assert(!hyve_cgroup_create(root, vm, &err));
    want = g_strdup_printf("cannot create cgroup '%s': Not a directory", inst);
    test_check_error_from("hyve is a file", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_SYSTEM_ERROR, want);
    rm(root, "hyve");
    g_rmdir(root);
}
END_TEST

/* A level refusing controllers (here: subtree_control not writable, a
 * directory) costs only the accounting: the domain's cgroup is made. */
START_TEST(test_controllers_refused)
{
    g_autofree char *root = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *sub = g_build_filename(root, "cgroup.subtree_control", NULL);
    g_autofree char *top = g_build_filename(root, "hyve", NULL);
    g_autofree char *vm = hyve_cgroup_vm_path(root, "/run/t", "d1");
    g_autoptr(GError) err = NULL;

    put(root, "cgroup.controllers", "cpu memory\n");
    ck_assert(g_mkdir(sub, 0755) == 0);
    ck_assert_msg(hyve_cgroup_create(root, vm, &err), "refused controllers: %s",
                  err ? err->message : "");
    ck_assert(g_file_test(vm, G_FILE_TEST_IS_DIR));
    ck_assert(hyve_cgroup_remove(root, vm));
    g_rmdir(sub);
    rm(root, "cgroup.controllers");
    g_rmdir(top);
    ck_assert_msg(g_rmdir(root) == 0, "refused controllers: fake tree not empty afterwards");
}
END_TEST

/* A cgroup that cannot go (here: not empty) is reported, not hidden. */
START_TEST(test_remove_fails)
{
    g_autofree char *root = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *vm = hyve_cgroup_vm_path(root, "/run/t", "d1");
    g_autoptr(GError) err = NULL;

    ck_assert(hyve_cgroup_create(root, vm, &err));
    put(vm, "stray", "x");
    ck_assert(!hyve_cgroup_remove(root, vm));
    ck_assert(g_file_test(vm, G_FILE_TEST_IS_DIR));
    rm(vm, "stray");
    ck_assert(hyve_cgroup_remove(root, vm));
}
END_TEST

/* At daemon start: empty domain cgroups go, populated ones (here: not
 * empty) stay, the instance directory with its last one. */
START_TEST(test_sweep)
{
    g_autofree char *root = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *a = hyve_cgroup_vm_path(root, "/run/s", "a");
    g_autofree char *b = hyve_cgroup_vm_path(root, "/run/s", "b");
    g_autofree char *other = hyve_cgroup_vm_path(root, "/run/other", "a");
    g_autofree char *inst = g_path_get_dirname(a), *oinst = g_path_get_dirname(other);
    g_autofree char *top = g_path_get_dirname(inst), *keep = g_build_filename(inst, "keep", NULL);
    g_autoptr(GError) err = NULL;

    hyve_cgroup_sweep(root, "/run/s");     /* nothing there: no-op */
    ck_assert(hyve_cgroup_create(root, a, &err) && hyve_cgroup_create(root, b, &err) &&
              hyve_cgroup_create(root, other, &err));
    ck_assert(g_mkdir(keep, 0755) == 0);   /* not a domain's: never touched */
    put(b, "populated", "x");
    hyve_cgroup_sweep(root, "/run/s");
    ck_assert_msg(!g_file_test(a, G_FILE_TEST_EXISTS), "sweep: empty %s left", a);
    ck_assert_msg(g_file_test(b, G_FILE_TEST_IS_DIR), "sweep: populated %s removed", b);
    ck_assert_msg(g_file_test(keep, G_FILE_TEST_IS_DIR), "sweep: %s removed", keep);
    ck_assert_msg(g_file_test(other, G_FILE_TEST_IS_DIR), "sweep: other instance touched");
    rm(b, "populated");
    g_rmdir(keep);
    hyve_cgroup_sweep(root, "/run/s");
    ck_assert_msg(!g_file_test(inst, G_FILE_TEST_EXISTS), "sweep: empty instance left");
    ck_assert(hyve_cgroup_remove(root, other));
    ck_assert(!g_file_test(oinst, G_FILE_TEST_EXISTS));
    g_rmdir(top);
    ck_assert_msg(g_rmdir(root) == 0, "sweep: fake tree not empty afterwards");
}
END_TEST

/* pids.max / memory.max: written where the kernel made the files (the
 * controller is enabled above), skipped elsewhere. */
START_TEST(test_limits)
{
    g_autofree char *dir = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    g_autofree char *sub = g_build_filename(dir, "memory.max", NULL);
    g_autofree char *got = NULL, *want = NULL;
    g_autoptr(GError) err = NULL;

    /* the documented examples: 2 vCPUs, 1 disk, 1 interface + 1 serial */
    ck_assert_uint_eq(hyve_cgroup_pids_max(2, 1, 2), 41);
    ck_assert_uint_eq(hyve_cgroup_pids_max(1, 0, 0), 35);
    ck_assert_uint_eq(hyve_cgroup_pids_max(64, 4, 3), 2 + 64 + 12 + 3 + 32);
    /* guest + 256 MiB + guest / 64 (KVM page tables) */
    ck_assert_uint_eq(hyve_cgroup_memory_max(65536), (64 + 256 + 1) << 20);
    ck_assert_uint_eq(hyve_cgroup_memory_max(8388608),
                      (G_GUINT64_CONSTANT(8192) + 256 + 128) << 20);
    ck_assert_uint_eq(hyve_cgroup_memory_max(G_GUINT64_CONSTANT(1) << 30),
                      (G_GUINT64_CONSTANT(1048576) + 256 + 16384) << 20);
    /* no controller files: nothing written, nothing created */
    ck_assert_msg(hyve_cgroup_set_limits(dir, 41, 1 << 30, &err), "no files: %s",
                  err ? err->message : "");
    ck_assert(!g_file_test(sub, G_FILE_TEST_EXISTS));
    put(dir, "pids.max", "max\n");
    put(dir, "memory.max", "max\n");
    ck_assert_msg(hyve_cgroup_set_limits(dir, 41, 335544320, &err), "limits: %s",
                  err ? err->message : "");
    got = get(dir, "pids.max");
    ck_assert_str_eq(got, "41\n");
    g_free(got);
    got = get(dir, "memory.max");
    ck_assert_str_eq(got, "335544320\n");
    /* an offered file that cannot be written: the start fails */
    rm(dir, "memory.max");
    ck_assert(g_mkdir(sub, 0755) == 0);
    ck_assert(!hyve_cgroup_set_limits(dir, 41, 335544320, &err));
    want = g_strdup_printf("cannot set cgroup limit '%s': Is a directory", sub);
    test_check_error_from("memory.max a directory", err, HYVE_FROM_BHYVE, "BHYVE",
                          HYVE_ERR_SYSTEM_ERROR, want);
    g_rmdir(sub);
    rm(dir, "pids.max");
    ck_assert(g_rmdir(dir) == 0);
}
END_TEST

/* Children get the soft descriptor limit the daemon started with. */
START_TEST(test_child_rlimit)
{
    struct rlimit before, now;
    const char *argv[] = { "/bin/sh", "-c", "ulimit -Sn", NULL };
    g_autofree char *out = NULL, *want = NULL;
    int st = 0;

    ck_assert(getrlimit(RLIMIT_NOFILE, &before) == 0);
    if (before.rlim_cur >= before.rlim_max) {
        /* make room to raise it: a lower soft limit for this test process */
        before.rlim_cur = before.rlim_max > 1024 ? 1024 : before.rlim_max / 2;
        ck_assert(setrlimit(RLIMIT_NOFILE, &before) == 0);
    }
    hyve_rlimit_nofile_raise();
    ck_assert(getrlimit(RLIMIT_NOFILE, &now) == 0);
    ck_assert_uint_eq(now.rlim_cur, now.rlim_max);
    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, 0, hyve_child_setup_rlimits, NULL, &out,
                           NULL, &st, NULL) && st == 0);
    want = g_strdup_printf("%llu\n", (unsigned long long)before.rlim_cur);
    ck_assert_msg(g_str_equal(out, want), "child soft limit %s, want %s", out, want);
}
END_TEST

START_TEST(test_stats)
{
    g_autofree char *dir = g_dir_make_tmp("hyve-cg-XXXXXX", NULL);
    guint64 v = 0;

    ck_assert(!hyve_cgroup_memory_current(dir, &v));
    ck_assert(!hyve_cgroup_cpu_usage(dir, &v));
    put(dir, "memory.current", "135266304\n");
    put(dir, "cpu.stat", "usage_usec 7781\nuser_usec 5000\nsystem_usec 2781\n");
    ck_assert(hyve_cgroup_memory_current(dir, &v));
    ck_assert_uint_eq(v, 135266304);
    ck_assert(hyve_cgroup_cpu_usage(dir, &v));
    ck_assert_uint_eq(v, 7781);
    put(dir, "cpu.stat", "user_usec 5000\n");
    ck_assert(!hyve_cgroup_cpu_usage(dir, &v));
    put(dir, "memory.current", "max\n");
    ck_assert(!hyve_cgroup_memory_current(dir, &v));
    rm(dir, "memory.current");
    rm(dir, "cpu.stat");
    g_rmdir(dir);
}
END_TEST

/* On the real cgroup2 hierarchy (root only; skipped elsewhere): while the
 * removal of a populated domain cgroup waits for its runner to leave,
 * another domain's cgroup can still be created (the wait holds no lock). */
static gpointer
remove_thread(gpointer data)
{
    char **args = data;

    return GINT_TO_POINTER(hyve_cgroup_remove(args[0], args[1]));
}

START_TEST(test_remove_waits_unlocked)
{
    g_autofree char *mounts = NULL, *root = NULL, *state = NULL, *a = NULL, *b = NULL;
    g_autofree char *procs = NULL, *pidtext = NULL;
    g_autoptr(GError) err = NULL;
    char *args[2];
    GThread *t;
    gint64 t0, took;
    pid_t child;

    g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL);
    root = hyve_cgroup_find_root(mounts, NULL);
    if (!root || geteuid() != 0 || access(root, W_OK) < 0) {
        fprintf(stderr, "remove-unlocked: skipped (needs root and a writable cgroup2)\n");
        return;
    }
    state = g_strdup_printf("/run/hyve-unit-cg-%d", (int)getpid());
    a = hyve_cgroup_vm_path(root, state, "a");
    b = hyve_cgroup_vm_path(root, state, "b");
    ck_assert_msg(hyve_cgroup_create(root, a, &err), "create a: %s", err ? err->message : "");
    child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    procs = g_build_filename(a, "cgroup.procs", NULL);
    pidtext = g_strdup_printf("%d", (int)child);
    {
        int fd = open(procs, O_WRONLY);

        ck_assert_msg(fd >= 0 && write(fd, pidtext, strlen(pidtext)) ==
                      (ssize_t)strlen(pidtext), "%s: %s", procs, g_strerror(errno));
        close(fd);
    }
    args[0] = root;
    args[1] = a;
    t = g_thread_new("remove", remove_thread, args);
    g_usleep(200000);           /* the removal now retries (EBUSY) */
    t0 = g_get_monotonic_time();
    ck_assert_msg(hyve_cgroup_create(root, b, &err), "create b: %s", err ? err->message : "");
    took = g_get_monotonic_time() - t0;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_msg(GPOINTER_TO_INT(g_thread_join(t)), "remove a after its process left");
    ck_assert_msg(took < G_USEC_PER_SEC, "create b waited %" G_GINT64_FORMAT " us for the "
                  "removal of a", took);
    ck_assert(!g_file_test(a, G_FILE_TEST_EXISTS));
    ck_assert(hyve_cgroup_remove(root, b));
}
END_TEST

/* The driver's path for a run (HYVE_CGROUP_ROOT set by main()). */
START_TEST(test_run_path)
{
    HyveRunnerPaths p = { 0 };
    g_autofree char *got = NULL, *want = NULL;

    hyve_runner_paths_init(&p, "/run/hyve-t", "/var/log/hyve-t", "vm 1");
    got = hyve_process_cgroup_path(&p);
    want = g_strdup_printf("%s/hyve/run-hyve\\x2dt/vm-vm\\x201", g_getenv("HYVE_CGROUP_ROOT"));
    ck_assert_str_eq(got, want);
    hyve_runner_paths_clear(&p);
}
END_TEST

int
main(void)
{
    g_autofree char *fake = g_dir_make_tmp("hyve-cg-root-XXXXXX", NULL);
    Suite *s = suite_create("driver-cgroup");
    TCase *tc = tcase_create("cgroup");
    int rc;

    g_setenv("HYVE_CGROUP_ROOT", fake, TRUE);
    tcase_add_loop_test(tc, test_find_root, 0, G_N_ELEMENTS(root_cases));
    tcase_add_loop_test(tc, test_vm_path, 0, G_N_ELEMENTS(path_cases));
    tcase_add_test(tc, test_vm_path_long);
    tcase_add_loop_test(tc, test_tree, 0, G_N_ELEMENTS(tree_cases));
    tcase_add_test(tc, test_create_fails);
    tcase_add_test(tc, test_controllers_refused);
    tcase_add_test(tc, test_remove_fails);
    tcase_add_test(tc, test_sweep);
    tcase_add_test(tc, test_remove_waits_unlocked);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_child_rlimit);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_run_path);
    suite_add_tcase(s, tc);
    rc = test_suite_run(s);
    g_rmdir(fake);
    return rc;
}
