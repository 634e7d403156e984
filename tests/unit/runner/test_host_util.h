/* test_host_util.h: helpers of the runner-host tests (test_host.c,
 * test_host_exit.c): synthetic bzImages whose 64-bit entry writes MSG to
 * COM1 and then runs the given x86-64 code, and the real bhyve-runner
 * started on them with a file COM1 and a control socket. */
#pragma once

#include <check.h>
#include <glib.h>

extern const char *runner;      /* path of the bhyve-runner binary */
extern char *tmpdir;            /* per-run temporary directory */

#define MSG "HYVE-TEST: hello from the test kernel\n"

/* Kernel image: MSG on COM1, then @action_hex, then hlt loop (spin=FALSE,
 * interrupts stay off) or pause loop (spin=TRUE). */
GByteArray *test_kernel_end(const char *action_hex, gboolean spin);

typedef struct {
    GPid pid;
    char *dir;
    char *conf;
    char *com1;
    char *ctl;
    char *err;          /* the runner's stderr: DIR.stderr */
} Run;

/* Called in the child before exec (after stderr is redirected), with the
 * Run as argument; NULL by default. */
extern GSpawnChildSetupFunc run_child_setup;

/* Frees the strings of @r (not the process: run_wait reaps it). */
void run_clear(Run *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

/* Start the runner on a kernel running @action; @extra: more config lines
 * (non-empty = the guest spins instead of halting). */
void run_start(Run *r, const char *name, const char *action, const char *extra);
void run_start_full(Run *r, const char *name, const char *action, gboolean spin,
                    const char *extra);
/* Exit status, or -1 after @secs seconds (the child is then killed). */
int run_wait(Run *r, int secs);
gboolean wait_output(Run *r, const char *what, int secs);
/* One control request; the reply line without newline. */
char *request(Run *r, const char *line);
/* Common main: skips (77) without a usable /dev/kvm, runs @tc's suite. */
int host_test_main(int argc, char **argv, const char *suite, TCase *tc);
