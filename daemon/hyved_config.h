/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyved_config.h: virtbhyved.conf settings and the daemon's file layout.
 *
 * The configuration file uses libvirt's syntax: one `key = value` per
 * line, strings in double quotes, integers bare, `#` starts a comment.
 * Unknown keys and bad values are errors naming file:line.
 */
#pragma once

#include <glib.h>
#include "hyve_driver.h"

G_BEGIN_DECLS

typedef enum {
    HYVED_AUTH_NONE = 0,
    HYVED_AUTH_POLKIT = 2,      /* same numbers as remote_auth_type */
} HyvedAuth;

typedef struct {
    char *unix_sock_group;          /* NULL: leave the group alone */
    guint unix_sock_rw_perms;
    guint unix_sock_ro_perms;
    HyvedAuth auth_unix_rw;
    HyvedAuth auth_unix_ro;
    guint max_clients;
    guint max_anonymous_clients;    /* not yet authenticated at once; 0 = no limit */
    guint max_workers;
    guint prio_workers;             /* run reads while all workers are busy; 0 = none */
    guint max_client_requests;
    guint max_client_streams;       /* streams open (or opening) per client */
    int keepalive_interval;         /* seconds; -1 disables our PINGs */
    guint keepalive_count;
    char *runner_path;
    char *runner_user;              /* runners run as this user; "" = the daemon's */
    int kernel_cache;               /* 1: runners get boot.kernel_cache; 0: not */
    int log_level;                  /* 1 debug, 2 info, 3 warning, 4 error */
    gsize max_client_queue;         /* bytes queued to one client before it is dropped */
    int idle_timeout;               /* seconds; -1: unset (--timeout decides), 0: never */
    guint busy_poll_us;             /* I/O thread polls this long after activity
                                     * before it sleeps; 0 = never */
} HyvedConfig;

/* The system daemon's runners run as this user (created by the package:
 * systemd/sysusers.d, or tools/install-deps for the tests). */
#define HYVED_DEFAULT_RUNNER_USER "hyve-runner"

/* Defaults for a system (privileged) or session daemon. */
void hyved_config_init(HyvedConfig *cfg, gboolean privileged);
void hyved_config_clear(HyvedConfig *cfg);

/* Parse @data (the contents of @filename, used in messages) over @cfg.
 * Errors: CONF_SYNTAX (33) from CONF (9), "<file>:<line>: ...". */
gboolean hyved_config_parse(HyvedConfig *cfg, const char *filename,
                            const char *data, gsize len, GError **error);
/* Load @path; a missing file is an error only when @must_exist. */
gboolean hyved_config_load(HyvedConfig *cfg, const char *path,
                           gboolean must_exist, GError **error);

/* Default bhyve-runner path: the build tree's binary when this daemon runs
 * from the build tree (/proc/self/exe under HYVE_BUILD_ROOT), else
 * HYVE_SBINDIR/bhyve-runner. */
char *hyved_config_default_runner_path(void);

/* Where everything lives. */
typedef struct {
    gboolean privileged;
    char *config_file;      /* virtbhyved.conf */
    char *config_dir;       /* domain XML (…/libvirt/bhyve) */
    char *run_dir;          /* …/run/libvirt (sockets) */
    char *sock_rw;
    char *sock_ro;          /* NULL in session mode */
    char *state_dir;
    char *log_dir;
    char *cache_dir;
    char *pool_dir;         /* the 'default' storage pool's directory */
} HyvedPaths;

/* @root: relocate every path under this directory (NULL: none). */
gboolean hyved_paths_init(HyvedPaths *paths, gboolean privileged,
                          const char *root, GError **error);
void hyved_paths_clear(HyvedPaths *paths);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HyvedConfig, hyved_config_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HyvedPaths, hyved_paths_clear)

G_END_DECLS
