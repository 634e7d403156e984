/* test_sandbox_proc.h: checks of a sandboxed runner from outside through
 * /proc/PID, for runner-host-sandbox (ck_assert failures name @tc). */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* Every thread: NoNewPrivs 1, Seccomp 2, no capabilities (bounding set too
 * when @bounding), uid/gid = @uid/@gid, Groups = @groups unless NULL.
 * Returns the number of threads. */
guint check_threads(const char *tc, GPid pid, uid_t uid, gid_t gid, const char *groups,
                    gboolean bounding);
/* Own mount namespace whose only mount is "/", an empty read-only tmpfs. */
void check_empty_root(const char *tc, GPid pid);
/* Root only: the filter read back from the live runner
 * (PTRACE_SECCOMP_GET_FILTER) is byte for byte hvr_sandbox_filter_export()'s. */
void check_live_filter(const char *tc, GPid pid);
