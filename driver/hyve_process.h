/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_process.h: the bhyve-runner process of a running domain: spawn,
 * supervision (pidfd), exit decoding, status file, reattach after a daemon
 * restart. Internal to driver/; hyve_driver_lifecycle.c builds the public
 * operations of hyve_driver.h on it.
 *
 * A HyveDomainRun belongs to its HyveDomainObj (obj->run, under obj->lock)
 * from the successful spawn until the stop bookkeeping is done. Readers
 * (stats, consoles) copy what they need under obj->lock and talk to the
 * runner without any lock held.
 */
#pragma once

#include <sys/types.h>
#include <glib.h>
#include "hyve_domain_obj.h"
#include "hyve_runner_config.h"

G_BEGIN_DECLS

typedef struct _HyveDomainRun {
    pid_t pid;
    guint64 start_time;         /* /proc/<pid>/stat field 22: with pid, names the process */
    int pidfd;                  /* -1 when none */
    HyveRunnerPaths paths;
    /* further fields: owned by hyve_process.c / hyve_driver_lifecycle.c */
} HyveDomainRun;

G_END_DECLS
