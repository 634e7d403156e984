/*
 * runner-exit.h: bhyve-runner exit statuses, shared by the runner and the
 * driver (which maps them to domain lifecycle events).
 *
 * Design note: header-only (static inline), no dependencies besides the C
 * library, so any component can include it.  The values are bhyve's
 * (usr.sbin/bhyve exit codes).  A runner killed by a signal has no
 * HyveRunnerExit: the driver treats that as "crashed".  Thread-safe: pure
 * functions on constant data.
 */
#ifndef HYVE_RUNNER_EXIT_H
#define HYVE_RUNNER_EXIT_H

typedef enum {
    HYVE_RUNNER_EXIT_REBOOT = 0,      /* guest reset: relaunch to reboot */
    HYVE_RUNNER_EXIT_POWEROFF = 1,    /* ACPI S5 poweroff */
    HYVE_RUNNER_EXIT_HALT = 2,        /* halted (all vCPUs stopped for good) */
    HYVE_RUNNER_EXIT_TRIPLEFAULT = 3, /* triple fault (KVM_EXIT_SHUTDOWN) */
    HYVE_RUNNER_EXIT_ERROR = 4,       /* runner or VM error */
    HYVE_RUNNER_EXIT_LAST
} HyveRunnerExit;

static const char *const hyve_runner_exit_names[] = {
    [HYVE_RUNNER_EXIT_REBOOT] = "reboot",
    [HYVE_RUNNER_EXIT_POWEROFF] = "poweroff",
    [HYVE_RUNNER_EXIT_HALT] = "halt",
    [HYVE_RUNNER_EXIT_TRIPLEFAULT] = "triple-fault",
    [HYVE_RUNNER_EXIT_ERROR] = "error",
};

_Static_assert(sizeof(hyve_runner_exit_names) / sizeof(hyve_runner_exit_names[0]) ==
               HYVE_RUNNER_EXIT_LAST, "hyve_runner_exit_names out of sync");

/* Name of an exit status, or NULL for a value outside the enum. */
static inline const char *
hyve_runner_exit_to_string(int status)
{
    if (status < 0 || status >= HYVE_RUNNER_EXIT_LAST)
        return (const char *)0;
    return hyve_runner_exit_names[status];
}

/* Inverse of hyve_runner_exit_to_string(); -1 when unknown. */
static inline int
hyve_runner_exit_from_string(const char *name)
{
    int i, j;

    if (!name)
        return -1;
    for (i = 0; i < HYVE_RUNNER_EXIT_LAST; i++) {
        const char *n = hyve_runner_exit_names[i];
        for (j = 0; n[j] && n[j] == name[j]; j++)
            ;
        if (n[j] == name[j])
            return i;
    }
    return -1;
}

#endif /* HYVE_RUNNER_EXIT_H */
