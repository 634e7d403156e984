/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: virtbhyved, the bhyve management daemon speaking libvirt's
 * remote protocol. Options, configuration, driver and listeners; the rest
 * lives in the hyved library.
 */
#include "hyve-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <glib-unix.h>

#include "hyve_cgroup.h"
#include "hyved_server.h"
#include "hyved_log.h"
#include "hyved_notify.h"
#include "hyve_network.h"


typedef struct {
    char *root;
    char *config;
    int timeout;
    gboolean session;
    gboolean system;
    gboolean verbose;
    gboolean version;
    gboolean list_procedures;
} HyvedOptions;

static gboolean
parse_options(int *argc, char ***argv, HyvedOptions *opts, GError **error)
{
    GOptionEntry entries[] = {
        { "root", 0, 0, G_OPTION_ARG_FILENAME, &opts->root,
          "Relocate every path (config, sockets, state, logs) under DIR", "DIR" },
        { "config", 'f', 0, G_OPTION_ARG_FILENAME, &opts->config,
          "Configuration file (default: <sysconfdir>/libvirt/virtbhyved.conf)", "FILE" },
        { "timeout", 't', 0, G_OPTION_ARG_INT, &opts->timeout,
          "Exit after N seconds without clients and running domains", "N" },
        { "session", 0, 0, G_OPTION_ARG_NONE, &opts->session,
          "Run as a per-user (session) daemon even as root", NULL },
        { "system", 0, 0, G_OPTION_ARG_NONE, &opts->system,
          "Run as the system daemon even when not root", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose, "Log more (info level)", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &opts->version, "Print the version and exit", NULL },
        /* for tests (tests/integration/test_readonly_walk.py): the dispatch table */
        { "list-procedures", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opts->list_procedures,
          "Print every procedure number the daemon knows and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- bhyve management daemon");

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Serves libvirt clients (virsh -c bhyve:///system, python3-libvirt, ...)\n"
        "on /var/run/libvirt/virtbhyved-sock. See virtbhyved(8).");
    if (!g_option_context_parse(ctx, argc, argv, error))
        return FALSE;
    if (opts->session && opts->system) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "--session and --system exclude each other");
        return FALSE;
    }
    if (opts->timeout < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--timeout must not be negative");
        return FALSE;
    }
    if (*argc > 1) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "unexpected argument '%s'", (*argv)[1]);
        return FALSE;
    }
    return TRUE;
}

/* systemd socket activation: the listening sockets main() took before
 * anything else opened a descriptor, matched to our sockets by path.
 * Returns how many were adopted; the others (listening sockets too) are
 * closed. */
static guint
adopt_activated_sockets(HyvedServer *server, const HyvedConfig *cfg, const HyvedPaths *paths,
                        GArray *activated, gboolean *have_rw, gboolean *have_ro)
{
    guint adopted = 0;

    for (guint i = 0; i < activated->len; i++) {
        int fd = g_array_index(activated, int, i);
        struct sockaddr_un sun = { 0 };
        socklen_t len = sizeof(sun);
        g_autoptr(GError) err = NULL;
        gboolean ro;

        if (getsockname(fd, (struct sockaddr *) &sun, &len) < 0 || sun.sun_family != AF_UNIX) {
            g_warning("inherited fd %d is no longer a UNIX socket; leaving it alone", fd);
            continue;
        }
        if (g_str_equal(sun.sun_path, paths->sock_rw) && !*have_rw) {
            ro = FALSE;
        } else if (paths->sock_ro && g_str_equal(sun.sun_path, paths->sock_ro) && !*have_ro) {
            ro = TRUE;
        } else {
            g_warning("inherited socket %s is not one of ours; closing it", sun.sun_path);
            close(fd);
            continue;
        }
        if (!hyved_server_add_listener_fd(server, fd, sun.sun_path, ro,
                                          ro ? cfg->auth_unix_ro : cfg->auth_unix_rw, &err)) {
            g_warning("%s", err->message);
            close(fd);
            continue;
        }
        g_info("using socket %s from systemd", sun.sun_path);
        *(ro ? have_ro : have_rw) = TRUE;
        adopted++;
    }
    g_array_set_size(activated, 0);
    return adopted;
}

/* --list-procedures: one line per known procedure, ascending:
 * "<number> <name> <read|write> <libvirt API or -> <flags or ->", flags
 * a comma-separated subset of noauth, noopen, inline. */
static void
list_procedures(void)
{
    g_autoptr(GArray) known = hyved_dispatch_list_known();

    for (guint i = 0; i < known->len; i++) {
        const HyvedProcedure *p = hyved_dispatch_find(g_array_index(known, gint32, i));
        g_autoptr(GString) flags = g_string_new(NULL);

        if (p->flags & HYVED_PROC_NO_AUTH)
            g_string_append(flags, ",noauth");
        if (p->flags & HYVED_PROC_NO_OPEN)
            g_string_append(flags, ",noopen");
        if (p->flags & HYVED_PROC_INLINE)
            g_string_append(flags, ",inline");
        printf("%d %s %s %s %s\n", p->proc, p->name,
               (p->flags & HYVED_PROC_WRITE) ? "write" : "read", p->api ? p->api : "-",
               flags->len ? flags->str + 1 : "-");
    }
}

static gboolean
on_signal(gpointer data)
{
    g_message("signal received, shutting down");
    hyved_server_quit(data);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_sighup(gpointer data)
{
    /* libvirt daemons reload on SIGHUP; virtbhyved has nothing to reload
     * without a restart, but must not die of it either. */
    g_message("SIGHUP ignored: restart virtbhyved to apply configuration changes");
    return G_SOURCE_CONTINUE;
}

static gboolean
make_dir(const char *path, int mode, GError **error)
{
    if (g_mkdir_with_parents(path, mode) < 0) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_SYSTEM_ERROR,
                       "cannot create directory %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static int
run_daemon(const HyvedOptions *opts, GArray *activated, GError **error)
{
    g_auto(HyvedConfig) cfg = { 0 };
    g_auto(HyvedPaths) paths = { 0 };
    HyveDriverConfig dcfg = { 0 };
    HyveDriver *driver = NULL;
    HyvedServer *server = NULL;
    gboolean privileged = opts->system || (!opts->session && geteuid() == 0);
    gboolean have_rw = FALSE, have_ro = FALSE;
    guint rw_perms;
    int rc = EXIT_FAILURE;

    if (!hyved_paths_init(&paths, privileged, opts->root, error))
        return EXIT_FAILURE;
    hyved_config_init(&cfg, privileged);
    if (!hyved_config_load(&cfg, opts->config ? opts->config : paths.config_file,
                           opts->config != NULL, error))
        return EXIT_FAILURE;
    hyved_log_setup(opts->verbose ? MIN(cfg.log_level, 2) : cfg.log_level);
    /* Each client, stream and running domain holds descriptors; the soft
     * RLIMIT_NOFILE (1024 under systemd, kept low for select() users) would
     * cap clients well below max_clients. This daemon uses poll() only:
     * raise the soft limit to the hard one (hyve_cgroup.h); children
     * (runners, dnsmasq, nft) get the original soft limit back. */
    hyve_rlimit_nofile_raise();
    if (!cfg.runner_path)
        cfg.runner_path = hyved_config_default_runner_path();

    if (!make_dir(paths.run_dir, privileged ? 0755 : 0700, error))
        return EXIT_FAILURE;
    if (!privileged)
        chmod(paths.run_dir, 0700);
    if (!make_dir(paths.log_dir, 0700, error) || !make_dir(paths.cache_dir, 0700, error))
        return EXIT_FAILURE;

    /* Before the driver touches any VM state: is another daemon serving? */
    if (activated->len == 0 &&
        (!hyved_server_check_not_running(paths.sock_rw, error) ||
         (paths.sock_ro && !hyved_server_check_not_running(paths.sock_ro, error))))
        return EXIT_FAILURE;

    dcfg.privileged = privileged;
    dcfg.config_dir = paths.config_dir;
    dcfg.state_dir = paths.state_dir;
    dcfg.log_dir = paths.log_dir;
    dcfg.cache_dir = paths.cache_dir;
    dcfg.default_pool_path = paths.pool_dir;
    /* the system daemon defines libvirt's 'default' NAT network (not
     * started) on its first start */
    dcfg.default_network = privileged;
    dcfg.schema_dir = (char *) HYVE_LIBVIRT_SCHEMA_DIR;
    dcfg.runner_path = cfg.runner_path;
    dcfg.runner_user = cfg.runner_user;
    dcfg.no_kernel_cache = !cfg.kernel_cache;
    dcfg.uri = (char *) (privileged ? "bhyve:///system" : "bhyve:///session");
    if (!(driver = hyve_driver_new(&dcfg, error)))
        return EXIT_FAILURE;

    if (!(server = hyved_server_new(&cfg, driver, privileged, g_main_context_default(), error)))
        goto out;

    adopt_activated_sockets(server, &cfg, &paths, activated, &have_rw, &have_ro);
    rw_perms = cfg.unix_sock_rw_perms ? cfg.unix_sock_rw_perms :
        (!privileged ? 0700 : cfg.auth_unix_rw == HYVED_AUTH_POLKIT ? 0666 : 0700);
    if (!have_rw &&
        !hyved_server_add_unix_listener(server, paths.sock_rw, FALSE,
                                        privileged ? cfg.auth_unix_rw : HYVED_AUTH_NONE,
                                        rw_perms, cfg.unix_sock_group, error))
        goto out;
    if (paths.sock_ro && !have_ro &&
        !hyved_server_add_unix_listener(server, paths.sock_ro, TRUE, cfg.auth_unix_ro,
                                        cfg.unix_sock_ro_perms, cfg.unix_sock_group, error))
        goto out;

    g_unix_signal_add(SIGTERM, on_signal, server);
    g_unix_signal_add(SIGINT, on_signal, server);
    g_unix_signal_add(SIGHUP, on_sighup, NULL);
    /* idle_timeout in the configuration wins over --timeout: libvirt's
     * client always autospawns a session daemon with --timeout=120 */
    hyved_server_set_idle_timeout(server, cfg.idle_timeout >= 0 ? (guint) cfg.idle_timeout :
                                  (guint) opts->timeout);
    /* the server set the driver's event sink: autostart domains now (the idle
     * timeout never fires while domains run) */
    hyve_driver_autostart(driver);
    g_info("virtbhyved %s ready (%s mode) on %s", HYVE_VERSION,
           privileged ? "system" : "session", paths.sock_rw);
    hyved_notify("READY=1\nSTATUS=serving " HYVE_VERSION);
    hyved_server_run(server);
    hyved_notify("STOPPING=1");
    /* clean shutdown: transient active networks go with the daemon
     * (persistent ones keep running for the next one) */
    if (hyve_driver_get_networks(driver))
        hyve_networks_shutdown(hyve_driver_get_networks(driver));
    rc = EXIT_SUCCESS;

 out:
    hyved_server_free(server);      /* removes the socket files it created */
    hyve_driver_free(driver);
    return rc;
}

int
main(int argc, char **argv)
{
    HyvedOptions opts = { 0 };
    g_autoptr(GError) error = NULL;
    /* first, before anything opens a descriptor that could sit where
     * systemd's would be expected (fds from 3 on) */
    g_autoptr(GArray) activated = hyved_activation_take_fds(3);
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (!parse_options(&argc, &argv, &opts, &error)) {
        fprintf(stderr, "virtbhyved: %s (try --help)\n", error->message);
        return 2;
    }
    if (opts.version) {
        printf("virtbhyved (hyve) %s\n", HYVE_VERSION);
        return 0;
    }
    if (opts.list_procedures) {
        list_procedures();
        return 0;
    }
    rc = run_daemon(&opts, activated, &error);
    if (rc != EXIT_SUCCESS && error)
        fprintf(stderr, "virtbhyved: %s\n", error->message);
    g_free(opts.root);
    g_free(opts.config);
    return rc;
}
