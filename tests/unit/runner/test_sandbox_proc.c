/* test_sandbox_proc.c: checks of a sandboxed runner from outside through
 * /proc/PID (see test_sandbox_proc.h). */
#include <check.h>
#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvr_sandbox.h"
#include "test_sandbox_proc.h"

/* "Key:\tvalue" of a /proc status file. */
static char *
status_field(const char *text, const char *key)
{
    g_autofree char *k = g_strdup_printf("\n%s:", key);
    const char *p = strstr(text, k), *e;

    if (!p)
        return NULL;
    p += strlen(k);
    while (*p == '\t' || *p == ' ')
        p++;
    e = strchr(p, '\n');
    return g_strndup(p, e ? (gsize)(e - p) : strlen(p));
}

static void
check_field(const char *tc, const char *task, const char *text, const char *key, const char *want)
{
    g_autofree char *v = status_field(text, key);

    if (v)
        g_strchomp(v);
    ck_assert_msg(v && g_str_equal(v, want), "%s: task %s: %s is '%s', expected '%s'", tc, task,
                  key, v ? v : "(missing)", want);
}

/* Every thread: no_new_privs, filter mode, no capabilities, the ids. */
guint
check_threads(const char *tc, GPid pid, uid_t uid, gid_t gid, const char *groups,
              gboolean bounding)
{
    g_autofree char *taskdir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autofree char *ids = g_strdup_printf("%u\t%u\t%u\t%u", (unsigned)uid, (unsigned)uid,
                                           (unsigned)uid, (unsigned)uid);
    g_autofree char *gids = g_strdup_printf("%u\t%u\t%u\t%u", (unsigned)gid, (unsigned)gid,
                                            (unsigned)gid, (unsigned)gid);
    g_autoptr(GDir) d = g_dir_open(taskdir, 0, NULL);
    const char *t;
    guint n = 0;

    ck_assert_msg(d, "%s: cannot list %s", tc, taskdir);
    while ((t = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("%s/%s/status", taskdir, t);
        g_autofree char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
            continue;       /* thread gone */
        check_field(tc, t, text, "NoNewPrivs", "1");
        check_field(tc, t, text, "Seccomp", "2");
        check_field(tc, t, text, "CapEff", "0000000000000000");
        check_field(tc, t, text, "CapPrm", "0000000000000000");
        check_field(tc, t, text, "CapInh", "0000000000000000");
        check_field(tc, t, text, "CapAmb", "0000000000000000");
        if (bounding)
            check_field(tc, t, text, "CapBnd", "0000000000000000");
        check_field(tc, t, text, "Uid", ids);
        check_field(tc, t, text, "Gid", gids);
        if (groups)
            check_field(tc, t, text, "Groups", groups);
        n++;
    }
    return n;
}

/* Own mount namespace; its only mount is "/" (read-only tmpfs), empty. */
void
check_empty_root(const char *tc, GPid pid)
{
    g_autofree char *ns = g_strdup_printf("/proc/%d/ns/mnt", (int)pid);
    g_autofree char *mine = g_file_read_link("/proc/self/ns/mnt", NULL);
    g_autofree char *theirs = g_file_read_link(ns, NULL);
    g_autofree char *mi_path = g_strdup_printf("/proc/%d/mountinfo", (int)pid);
    g_autofree char *root = g_strdup_printf("/proc/%d/root/", (int)pid);
    g_autofree char *mi = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GDir) d = NULL;
    const char *e;

    ck_assert_msg(theirs && mine && !g_str_equal(mine, theirs), "%s: mount namespace %s = ours %s",
                  tc, theirs, mine);
    ck_assert_msg(g_file_get_contents(mi_path, &mi, NULL, NULL), "%s: no %s", tc, mi_path);
    lines = g_strsplit(g_strchomp(mi), "\n", -1);
    ck_assert_msg(g_strv_length(lines) == 1, "%s: %u mounts, expected 1:\n%s", tc,
                  g_strv_length(lines), mi);
    ck_assert_msg(strstr(lines[0], " / / ro,") && strstr(lines[0], " - tmpfs "),
                  "%s: root mount is not a read-only tmpfs: %s", tc, lines[0]);
    d = g_dir_open(root, 0, NULL);
    ck_assert_msg(d, "%s: cannot list %s", tc, root);
    e = g_dir_read_name(d);
    ck_assert_msg(!e, "%s: the sandbox root is not empty: '%s'", tc, e);
}

/* Root only: the filter loaded in the running runner (read back with
 * PTRACE_SECCOMP_GET_FILTER) is byte for byte the one
 * hvr_sandbox_filter_export() gives, i.e. what runner-sandbox-filter
 * checks syscall by syscall. */
void
check_live_filter(const char *tc, GPid pid)
{
    g_autoptr(GError) err = NULL;
    char path[] = "/tmp/hvr-live-XXXXXX";
    int fd = mkstemp(path), st;
    g_autofree struct sock_filter *live = NULL;
    g_autofree char *want = NULL;
    gsize want_len;
    long n;

    ck_assert(fd >= 0);
    ck_assert_msg(hvr_sandbox_filter_export(fd, TRUE, pid, NULL, &err), "%s: export: %s", tc,
                  err ? err->message : "");
    close(fd);
    ck_assert(g_file_get_contents(path, &want, &want_len, NULL));
    unlink(path);
    ck_assert_msg(ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0, "%s: PTRACE_SEIZE: %s", tc,
                  g_strerror(errno));
    ck_assert(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0);
    ck_assert(waitpid(pid, &st, __WALL) == pid && WIFSTOPPED(st));
    n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL);
    if (n > 0) {
        live = g_new0(struct sock_filter, n);
        n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, live);
    }
    ck_assert(ptrace(PTRACE_DETACH, pid, NULL, NULL) == 0);
    ck_assert_msg(n > 0, "%s: PTRACE_SECCOMP_GET_FILTER: %s", tc, g_strerror(errno));
    ck_assert_msg((gsize)n * sizeof(struct sock_filter) == want_len &&
                  memcmp(live, want, want_len) == 0,
                  "%s: live filter (%ld instructions) differs from the exported one (%zu)", tc,
                  n, want_len / sizeof(struct sock_filter));
    ck_assert_msg(ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 1, NULL) < 0,
                  "%s: more than one filter loaded", tc);
}
