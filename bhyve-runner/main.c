/* main.c: bhyve-runner entry point (options only; logic lives in libhvr). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hvr_config.h"
#include "hvr_control.h"
#include "hvr_machine.h"
#include "hvr_mem.h"
#include "hvr_sandbox.h"
#include "hyve/runner-exit.h"

/* Every exit once the configuration named an exit file goes through here:
 * by path, or through @exit_fd (sandbox=true: opened during setup). */
static int
hvr_main_exit(const char *exit_file, int exit_fd, int status, const GError *why)
{
    g_autoptr(GError) err = NULL;

    if (why)
        fprintf(stderr, "bhyve-runner: %s\n", why->message);
    if (exit_fd >= 0 ? !hvr_exit_file_write_fd(exit_fd, status, &err)
                     : exit_file && !hvr_exit_file_write(exit_file, status, &err))
        fprintf(stderr, "bhyve-runner: %s\n", err->message);
    return status;
}

/* Threads (vCPUs, device I/O) get 1 MiB stacks instead of RLIMIT_STACK's
 * 8 MiB: a mapping below 2 MiB can never be backed by a transparent huge
 * page, and with THP "always" one 8 MiB stack often was, putting 2 MiB of
 * RSS behind a few KiB of stack (bench-runner's memory part showed an 8 MiB
 * anonymous mapping holding one THP in 2 of 3 runs). GLib's threads use the
 * process default. */
static void
hvr_main_thread_stacks(void)
{
    pthread_attr_t a;

    if (pthread_attr_init(&a) != 0)
        return;
    if (pthread_attr_setstacksize(&a, 1 << 20) == 0)
        (void)pthread_setattr_default_np(&a);
    pthread_attr_destroy(&a);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GOptionContext) oc = NULL;
    g_autoptr(HvrConfig) cfg = NULL;
    g_autoptr(HvrMachine) m = NULL;
    g_autoptr(HvrControl) ctl = NULL;
    g_autofree char *file = NULL;
    g_autofree char *exit_file = NULL;
    gboolean check = FALSE, sandbox;
    int fd = -1, exit_fd = -1, status;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &file, "Read the configuration from FILE", "FILE" },
        { "config-fd", 'f', 0, G_OPTION_ARG_INT, &fd, "Read the configuration from inherited descriptor N", "N" },
        { "check", 'n', 0, G_OPTION_ARG_NONE, &check, "Only validate the configuration", NULL },
        { NULL }
    };

    hvr_main_thread_stacks();
    oc = g_option_context_new("- run one virtual machine on KVM");
    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &err)) {
        fprintf(stderr, "bhyve-runner: %s\n", err->message);
        return HYVE_RUNNER_EXIT_ERROR;
    }
    if (!file == (fd < 0)) {
        fprintf(stderr, "bhyve-runner: exactly one of -c FILE and -f N is required\n");
        return HYVE_RUNNER_EXIT_ERROR;
    }
    cfg = hvr_config_new();
    if (!(file ? hvr_config_load_file(cfg, file, &err) : hvr_config_load_fd(cfg, fd, &err)) ||
        !hvr_sandbox_check(cfg, &err))
        return hvr_main_exit(check ? NULL : cfg->exit_file, -1, HYVE_RUNNER_EXIT_ERROR, err);
    if (check)
        return 0;
    exit_file = g_strdup(cfg->exit_file);
    sandbox = cfg->sandbox;
    /* the sandbox cannot open the exit file at the end: open it now */
    if (sandbox && exit_file && (exit_fd = hvr_exit_file_open(exit_file, &err)) < 0)
        return hvr_main_exit(exit_file, -1, HYVE_RUNNER_EXIT_ERROR, err);
    m = hvr_machine_new(g_steal_pointer(&cfg), &err);
    if (!m)
        return hvr_main_exit(exit_file, exit_fd, HYVE_RUNNER_EXIT_ERROR, err);
    if (m->cfg->control_socket &&
        !(ctl = hvr_control_new(m, m->cfg->control_socket, &err)))
        return hvr_main_exit(exit_file, exit_fd, HYVE_RUNNER_EXIT_ERROR, err);
    /* setup done, still one thread: give malloc's free setup memory back,
     * confine before any thread starts */
    (void)malloc_trim(0);
    if (sandbox && !hvr_sandbox_enter(m->cfg, exit_fd, &err))
        return hvr_main_exit(exit_file, exit_fd, HYVE_RUNNER_EXIT_ERROR, err);
    status = hvr_machine_run(m);
    /* the control socket goes away before the exit file appears: a client
     * that sees the file never reaches a dead socket */
    g_clear_pointer(&ctl, hvr_control_free);
    return hvr_main_exit(exit_file, exit_fd, status, NULL);
}
