/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_network_files.c: what the network driver keeps on disk and how it
 * comes back at start-up. Definitions (<config_dir>/networks/NAME.xml,
 * atomic replace), autostart links (autostart/NAME.xml -> ../NAME.xml) and
 * status files of active networks (<state_dir>/network/NAME.xml):
 *
 *   <networkstatus persistent='yes|no' autostart='yes|no' dnsmasq_pid='N'>
 *     <network> (the live definition) </network>
 *   </networkstatus>
 *
 * At start-up (hyve_networks_load) every definition is loaded, networks
 * active before a daemon restart are taken up again (bridge still there:
 * active, firewall table reloaded, dnsmasq kept if alive else restarted;
 * bridge gone: inactive, a transient one forgotten), the default network
 * is defined on the very first start and autostart networks are started.
 * Files that cannot be loaded are logged and kept. At a clean shutdown
 * (hyve_networks_shutdown) only transient networks are torn down.
 */
#include "hyve-config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "hyve_domain_obj.h"
#include "hyve_network_core.h"

/* ---- files ------------------------------------------------------------------ */

static char *
xml_file(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.xml", name);

    return g_build_filename(dir, file, NULL);
}

#define sys_error(error, err, ...) \
    hyve_error_set_errno((error), HYVE_FROM_NETWORK, (err), __VA_ARGS__)

gboolean
hyve_network_save_config(HyveNetworks *nets, const HyveNetworkDef *def, GError **error)
{
    g_autofree char *path = xml_file(nets->config_dir, def->name);
    g_autofree char *xml = hyve_net_def_format(def, FALSE);
    /* "--" may not appear inside an XML comment: a name with it would make
     * the file unreadable at the next start */
    g_autofree char *named = hyve_config_comment_name(def->name, def->uuid);
    g_autofree char *data = NULL;

    if (g_mkdir_with_parents(nets->config_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create config directory '%s'",
                         nets->config_dir);
    data = g_strdup_printf(
        "<!--\n"
        "WARNING: THIS FILE IS WRITTEN BY HYVE (virtbhyved). EDITS ARE OVERWRITTEN.\n"
        "Change this configuration with:\n"
        "  virsh net-edit %s\n"
        "or another application using the libvirt API.\n"
        "-->\n\n%s", named, xml);
    return hyve_file_write_atomic(path, data, error);
}

gboolean
hyve_network_set_autostart_link(HyveNetworks *nets, const char *name, gboolean on,
                                GError **error)
{
    g_autofree char *link = xml_file(nets->autostart_dir, name);
    g_autofree char *target = g_strdup_printf("../%s.xml", name);

    if (!on) {
        if (unlink(link) < 0 && errno != ENOENT && errno != ENOTDIR)
            return sys_error(error, errno, "Failed to delete symlink '%s'", link);
        return TRUE;
    }
    if (g_mkdir_with_parents(nets->autostart_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create autostart directory '%s'",
                         nets->autostart_dir);
    if (symlink(target, link) < 0 && errno != EEXIST)
        return sys_error(error, errno, "Failed to create symlink '%s' to '%s'", link, target);
    return TRUE;
}

gboolean
hyve_network_delete_config(HyveNetworks *nets, const char *name, GError **error)
{
    g_autofree char *path = xml_file(nets->config_dir, name);

    if (!hyve_network_set_autostart_link(nets, name, FALSE, error))
        return FALSE;
    if (unlink(path) < 0 && errno != ENOENT)
        return sys_error(error, errno, "cannot remove config %s", path);
    return TRUE;
}

gboolean
hyve_network_save_status_locked(HyveNetworks *nets, HyveNetObj *net, GError **error)
{
    g_autofree char *path = xml_file(nets->state_dir, net->def->name);
    g_autofree char *xml = hyve_net_def_format(net->def, FALSE);
    g_autofree char *data = NULL;

    if (g_mkdir_with_parents(nets->state_dir, 0700) < 0)
        return sys_error(error, errno, "cannot create state directory '%s'",
                         nets->state_dir);
    data = g_strdup_printf("<networkstatus persistent='%s' autostart='%s' dnsmasq_pid='%d'>\n"
                           "%s</networkstatus>\n", net->persistent ? "yes" : "no",
                           net->autostart ? "yes" : "no", (int)net->dnsmasq_pid, xml);
    return hyve_file_write_atomic(path, data, error);
}

void
hyve_network_remove_status(HyveNetworks *nets, const char *name)
{
    g_autofree char *path = xml_file(nets->state_dir, name);

    if (unlink(path) < 0 && errno != ENOENT)
        g_warning("network: cannot remove status file '%s': %s", path, g_strerror(errno));
}

/* ---- start-up ----------------------------------------------------------------- */

/* <dir>/<file>: a network definition (inside <networkstatus> when @status)
 * whose name matches the file name. */
static HyveNetworkDef *
read_def(HyveNetworks *nets, const char *dir, const char *file, gboolean status, pid_t *pid,
         GError **error)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autofree char *text = NULL, *expect = NULL, *netxml = NULL;
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED, "%s",
                       local->message);
        return NULL;
    }
    if (status) {
        /* our own format: the first line is <networkstatus ...>, the
         * definition follows until </networkstatus> */
        const char *p = strstr(text, "dnsmasq_pid='");
        const char *nl = strchr(text, '\n'), *end = g_strrstr(text, "</networkstatus>");

        if (!g_str_has_prefix(text, "<networkstatus ") || !p || !nl || !end || end < nl) {
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_XML_ERROR,
                           "%s: not a network status file", path);
            return NULL;
        }
        *pid = (pid_t)MAX(0, g_ascii_strtoll(p + strlen("dnsmasq_pid='"), NULL, 10));
        netxml = g_strndup(nl + 1, end - nl - 1);
    }
    if (!(def = hyve_net_def_parse_string(status ? netxml : text, nets->schema_dir, FALSE,
                                          error)))
        return NULL;
    expect = g_strdup_printf("%s.xml", def->name);
    if (!g_str_equal(expect, file)) {
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED,
                       "Network config filename '%s' does not match network name '%s'",
                       path, def->name);
        return NULL;
    }
    def->connections = 0;
    return g_steal_pointer(&def);
}

static gboolean
load_config(HyveNetworks *nets, const char *file, GError **error)
{
    g_autoptr(HyveNetworkDef) def = NULL;
    g_autoptr(HyveNetObj) dup = NULL, net = NULL;
    g_autofree char *link = NULL, *bridge = NULL;
    gboolean mac_set;

    if (!(def = read_def(nets, nets->config_dir, file, FALSE, NULL, error)))
        return FALSE;
    bridge = g_strdup(def->bridge);
    mac_set = def->mac_set;
    g_mutex_lock(&nets->lock);
    if ((dup = hyve_networks_find_uuid_locked(nets, def->uuid)) ||
        (dup = hyve_networks_find_name_locked(nets, def->name))) {
        g_mutex_unlock(&nets->lock);
        hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED,
                       "network '%s' is defined twice (same name or uuid)", def->name);
        return FALSE;
    }
    if (!hyve_network_assign_bridge_locked(nets, def, FALSE, error)) {
        g_mutex_unlock(&nets->lock);
        return FALSE;
    }
    /* a hand-written file without bridge or MAC keeps what was picked */
    if ((g_strcmp0(bridge, def->bridge) != 0 || mac_set != def->mac_set) &&
        !hyve_network_save_config(nets, def, error)) {
        g_mutex_unlock(&nets->lock);
        return FALSE;
    }
    link = xml_file(nets->autostart_dir, def->name);
    net = hyve_net_obj_new(nets, g_steal_pointer(&def));
    net->persistent = TRUE;
    net->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
    hyve_networks_add_locked(nets, net);
    g_mutex_unlock(&nets->lock);
    return TRUE;
}

/* Takes up the host side of a network that was active (net->lock held):
 * FALSE when its bridge is gone. */
static gboolean
recover_locked(HyveNetworks *nets, HyveNetObj *net, pid_t pid)
{
    const HyveNetworkDef *def = net->def;
    g_autoptr(GError) err = NULL;

    if (!def->bridge || !hyve_net_device_exists(def->bridge)) {
        if (hyve_net_def_has_own_bridge(def)) {
            if (pid > 0 && hyve_dnsmasq_alive(pid, def, nets->state_dir))
                hyve_dnsmasq_stop(pid, nets->state_dir, def->name);
            if (!hyve_net_firewall_remove(def, &err))
                g_warning("network %s: %s", def->name, err->message);
        }
        return FALSE;
    }
    if (!hyve_net_def_has_own_bridge(def))
        return TRUE;
    if (!hyve_net_firewall_add(def, &err)) {
        g_warning("network %s: firewall not reloaded: %s", def->name, err->message);
        g_clear_error(&err);
    }
    if (hyve_dnsmasq_needed(def)) {
        if (pid <= 0 || !hyve_dnsmasq_alive(pid, def, nets->state_dir)) {
            pid = 0;
            if (!hyve_dnsmasq_start(def, nets->state_dir, &pid, &err)) {
                g_warning("network %s: dnsmasq not restarted: %s", def->name, err->message);
                pid = 0;
            }
        }
        net->dnsmasq_pid = pid;
    }
    return TRUE;
}

/* A network that was active when the previous daemon stopped. */
static gboolean
load_status(HyveNetworks *nets, const char *file, GError **error)
{
    g_autoptr(HyveNetObj) net = NULL;
    HyveNetworkDef *def;
    pid_t pid = 0;
    gboolean up;

    if (!(def = read_def(nets, nets->state_dir, file, TRUE, &pid, error)))
        return FALSE;
    g_mutex_lock(&nets->lock);
    if ((net = hyve_networks_find_name_locked(nets, def->name))) {
        g_mutex_lock(&net->lock);
        if (net->active) {      /* cannot happen: one status file per name */
            g_mutex_unlock(&net->lock);
            g_mutex_unlock(&nets->lock);
            hyve_net_def_free(def);
            hyve_error_set(error, HYVE_FROM_NETWORK, HYVE_ERR_OPERATION_FAILED,
                           "network '%s' is already active", net->def->name);
            return FALSE;
        }
        if (memcmp(net->def->uuid, def->uuid, HYVE_UUID_LEN) != 0) {
            g_mutex_unlock(&net->lock);
            g_mutex_unlock(&nets->lock);
            /* a network of another uuid ran under this name (its config
             * was replaced behind our back): its host side goes, or its
             * bridge, dnsmasq and table would stay with nobody owning them */
            g_warning("network %s: the status file has another uuid than the network's "
                      "config; stopping what it describes", def->name);
            hyve_network_host_stop(nets, def, pid);
            hyve_network_remove_status(nets, def->name);
            hyve_net_def_free(def);
            return TRUE;
        }
        net->newdef = net->def;
        net->def = def;
    } else {
        net = hyve_net_obj_new(nets, def);
        g_mutex_lock(&net->lock);
        hyve_networks_add_locked(nets, net);
    }
    up = recover_locked(nets, net, pid);
    if (up) {
        g_autoptr(GError) err = NULL;

        net->active = TRUE;
        if (!hyve_network_save_status_locked(nets, net, &err))
            g_warning("network %s: %s", net->def->name, err->message);
    } else {
        g_warning("network %s: bridge %s is gone, the network is inactive", net->def->name,
                  net->def->bridge ? net->def->bridge : "(none)");
        hyve_network_remove_status(nets, net->def->name);
        if (net->newdef) {
            hyve_net_def_free(net->def);
            net->def = g_steal_pointer(&net->newdef);
        }
        if (!net->persistent)
            hyve_networks_remove_locked(nets, net);
    }
    g_mutex_unlock(&net->lock);
    g_mutex_unlock(&nets->lock);
    return TRUE;
}

/* Every *.xml of @dir through @load; failures are logged, files kept.
 * Temporary files of a daemon killed mid-write are removed. */
static void
load_dir(HyveNetworks *nets, const char *dir,
         gboolean (*load)(HyveNetworks *, const char *, GError **), const char *what)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *file;

    while (d && (file = g_dir_read_name(d))) {
        g_autoptr(GError) err = NULL;

        if (hyve_file_remove_stale_temp(dir, file))
            continue;
        if (g_str_has_suffix(file, ".xml") && !load(nets, file, &err))
            g_warning("network: %s %s/%s: %s", what, dir, file, err->message);
    }
}

void
hyve_networks_load(HyveNetworks *nets, gboolean first_start, gboolean define_default)
{
    g_autoptr(GPtrArray) list = NULL;

    load_dir(nets, nets->config_dir, load_config, "config skipped:");
    load_dir(nets, nets->state_dir, load_status, "not kept active:");
    if (first_start && define_default) {
        g_autoptr(HyveNetObj) net = NULL;
        g_autoptr(GError) err = NULL;

        if (!(net = hyve_networks_define_xml(nets, HYVE_NETWORK_DEFAULT_XML, 0, &err)))
            g_warning("network: default network not defined: %s", err->message);
    }
    /* no sink yet: autostart sends no events */
    list = hyve_networks_list(nets, 1u | 16u, NULL);
    for (guint i = 0; list && i < list->len; i++) {
        g_autoptr(GError) err = NULL;

        if (!hyve_networks_start(nets, g_ptr_array_index(list, i), &err))
            g_warning("network: autostart: %s", err->message);
    }
}

void
hyve_networks_shutdown(HyveNetworks *nets)
{
    g_autoptr(GPtrArray) all = NULL;

    if (!nets)
        return;
    g_mutex_lock(&nets->lock);
    all = hyve_networks_all_locked(nets);
    g_mutex_unlock(&nets->lock);
    for (guint i = 0; i < all->len; i++) {
        HyveNetObj *net = g_ptr_array_index(all, i);
        gboolean gone = FALSE;

        g_mutex_lock(&net->lock);
        if (!net->removed && net->active && !net->persistent) {
            hyve_network_host_stop(nets, net->def, net->dnsmasq_pid);
            hyve_network_remove_status(nets, net->def->name);
            net->active = FALSE;
            net->dnsmasq_pid = 0;
            net->connections = 0;
            gone = TRUE;
        }
        g_mutex_unlock(&net->lock);
        if (gone)
            hyve_networks_forget_if_gone(nets, net);
    }
}
