/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_runner_config.h: a domain definition -> the bhyve-runner
 * configuration (docs/man/bhyve-runner.conf.5), like libvirt's
 * bhyve_command.c builds bhyve's argv. Pure functions: no host side
 * effects, so a dry run (and the golden tests in tests/unit/driver/runner/)
 * sees exactly what a start would pass. Internal to driver/.
 *
 * Files of a running domain, all named after the domain:
 *   <state_dir>/<name>.conf   the runner configuration (bhyve-runner -c)
 *   <state_dir>/<name>.ctl    the runner's control socket
 *   <state_dir>/<name>.exit   written by the runner as it exits
 *   <state_dir>/<name>.pid    pid of the runner
 *   <state_dir>/<name>.xml    status: <domstatus> with the live definition
 *   <log_dir>/<name>.log      the runner's stdout and stderr (appended)
 */
#pragma once

#include <glib.h>
#include "hyve_domain_def.h"

G_BEGIN_DECLS

typedef struct {
    char *config;
    char *control;
    char *exit_status;
    char *pidfile;
    char *status;
    char *log;
} HyveRunnerPaths;

void hyve_runner_paths_init(HyveRunnerPaths *paths, const char *state_dir,
                            const char *log_dir, const char *name);
void hyve_runner_paths_clear(HyveRunnerPaths *paths);

/* What the start path prepared on the host and the translation needs. */
typedef struct {
    const HyveRunnerPaths *paths;
    /* Descriptor number the runner inherits for each <interface>, in
     * def->nets order (the driver dup2()s the tap it opened onto it); NULL
     * in dry runs: then 3, 4, ... are used, which is also what start does. */
    const int *net_fds;
    /* Resolved source path of each <disk>, in def->disks order, NULL entries
     * (or a NULL array) = the definition's own path. Volume disks need one. */
    const char *const *disk_paths;
    /* Issue 7: sandbox=true (the runner confines itself once set up: empty
     * root, no_new_privs, no capabilities, seccomp) and, with sandbox_ids,
     * sandbox.uid=/sandbox.gid= (it switches to these ids first). */
    gboolean sandbox;
    gboolean sandbox_ids;
    guint32 sandbox_uid;
    guint32 sandbox_gid;
    /* boot.kernel_cache= (bhyve-runner.conf(5)): the directory where the
     * runner keeps decompressed kernels; NULL = none (dry runs). */
    const char *kernel_cache;
} HyveRunnerInput;

/* Returns the configuration text (keys sorted, one per line, '\n' ended).
 * Errors name the exact problem: CONFIG_UNSUPPORTED for what the runner
 * cannot do, OPERATION_INVALID/NO_STORAGE_POOL for unresolved sources,
 * INTERNAL_ERROR for paths too long for a socket. */
char *hyve_runner_config_format(const HyveDomainDef *def, const HyveRunnerInput *in,
                                GError **error);

G_END_DECLS
