/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_runner_config.c: a domain definition -> bhyve-runner.conf(5) text,
 * keys sorted (S: the PCI slot the definition's defaults assigned).
 *   name -> name=; current vCPUs -> cpus= (no hotplug; > 64 refused)
 *   <memory> -> memory.size=, rounded up to MiB (< 32 MiB refused);
 *     no balloon: currentMemory is unused
 *   <os> kernel/initrd/cmdline -> boot.*= (direct kernel boot only)
 *   serial port 0/1 (the <console> is 0) -> com1/com2.backend= pty |
 *     file:PATH | unix:PATH (mode 'bind'; 'connect', libvirt's default,
 *     and port >= 2 refused)
 *   disk -> pci.0.S.0.device=virtio-blk, path (the caller's, else the
 *     definition's), readonly, serial; raw only
 *   interface -> virtio-net, fd= (the inherited tap), mac=
 *   rng -> virtio-rng (backend /dev/urandom or /dev/random)
 *   control.socket=<name>.ctl, exit.file=<name>.exit, sandbox=true,
 *   sandbox.uid=/gid= and boot.kernel_cache= as HyveRunnerInput asks
 * No key: <features> acpi/apic (always built, as libvirt's bhyve driver
 * passes -A); <cpu><topology> (checked at define); on_*, <emulator>.
 * Refused: <clock offset='localtime'> (no CMOS RTC: guests read UTC from
 * kvmclock), control characters; too long socket paths: INTERNAL_ERROR.
 */
#include "hyve-config.h"

#include <string.h>
#include <sys/un.h>
#include "hyve_error.h"
#include "hyve_runner_config.h"

#define HVR_MAX_CPUS 64u
#define HVR_MIN_MEMORY_MIB 32u
#define HVR_MAX_CMDLINE 2047u
#define HVR_MAX_SERIAL 20u

void
hyve_runner_paths_init(HyveRunnerPaths *paths, const char *state_dir, const char *log_dir,
                       const char *name)
{
    g_autofree char *base = g_build_filename(state_dir, name, NULL);
    g_autofree char *logbase = g_build_filename(log_dir, name, NULL);

    paths->config = g_strconcat(base, ".conf", NULL);
    paths->control = g_strconcat(base, ".ctl", NULL);
    paths->exit_status = g_strconcat(base, ".exit", NULL);
    paths->pidfile = g_strconcat(base, ".pid", NULL);
    paths->status = g_strconcat(base, ".xml", NULL);
    paths->log = g_strconcat(logbase, ".log", NULL);
}

void
hyve_runner_paths_clear(HyveRunnerPaths *paths)
{
    g_clear_pointer(&paths->config, g_free);
    g_clear_pointer(&paths->control, g_free);
    g_clear_pointer(&paths->exit_status, g_free);
    g_clear_pointer(&paths->pidfile, g_free);
    g_clear_pointer(&paths->status, g_free);
    g_clear_pointer(&paths->log, g_free);
}

/* The configuration being built: "key=value" lines, sorted at the end. */
typedef struct {
    GPtrArray *lines;
} HyveConf;

static gboolean
conf_add(HyveConf *c, const char *what, const char *key, const char *value, GError **error)
{
    for (const char *p = value; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "%s contains a control character, which bhyve-runner's "
                           "configuration cannot carry", what);
            return FALSE;
        }
    }
    if (!*value) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "%s must not be empty for bhyve-runner", what);
        return FALSE;
    }
    g_ptr_array_add(c->lines, g_strdup_printf("%s=%s", key, value));
    return TRUE;
}

static gboolean
conf_add_path(HyveConf *c, const char *what, const char *key, const char *prefix,
              const char *path, GError **error)
{
    g_autofree char *v = NULL;

    if (path[0] != '/') {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "%s '%s' must be an absolute path", what, path);
        return FALSE;
    }
    v = g_strconcat(prefix, path, NULL);
    return conf_add(c, what, key, v, error);
}

static gboolean
check_socket_path(const char *path, GError **error)
{
    struct sockaddr_un sun;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "UNIX socket path '%s' too long", path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
format_machine(HyveConf *c, const HyveDomainDef *def, GError **error)
{
    guint64 mib = (def->memory_kib + 1023) / 1024;
    g_autofree char *cpus = NULL, *mem = NULL;

    if (def->vcpus_current > HVR_MAX_CPUS) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "%u vCPUs requested, bhyve-runner runs at most %u",
                       def->vcpus_current, HVR_MAX_CPUS);
        return FALSE;
    }
    if (mib < HVR_MIN_MEMORY_MIB) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "memory size %" G_GUINT64_FORMAT " KiB is too small, "
                       "bhyve-runner needs at least %u MiB", def->memory_kib,
                       HVR_MIN_MEMORY_MIB);
        return FALSE;
    }
    if (def->clock == HYVE_CLOCK_LOCALTIME) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "clock offset 'localtime' is not supported by bhyve-runner: "
                       "guests read UTC from kvmclock (use offset='utc')");
        return FALSE;
    }
    if (!def->kernel) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "bhyve-runner needs a <kernel> in <os> (direct kernel boot); "
                       "domain '%s' has none (virt-install: pass --import "
                       "--boot kernel=PATH,initrd=PATH,kernel_args=ARGS)", def->name);
        return FALSE;
    }
    if (def->cmdline && strlen(def->cmdline) > HVR_MAX_CMDLINE) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "kernel command line of %zu bytes is too long, bhyve-runner "
                       "takes at most %u", strlen(def->cmdline), HVR_MAX_CMDLINE);
        return FALSE;
    }
    cpus = g_strdup_printf("%u", def->vcpus_current);
    mem = g_strdup_printf("%" G_GUINT64_FORMAT "M", mib);
    return conf_add(c, "domain name", "name", def->name, error) &&
           conf_add(c, "vCPU count", "cpus", cpus, error) &&
           conf_add(c, "memory size", "memory.size", mem, error) &&
           conf_add_path(c, "kernel", "boot.kernel", "", def->kernel, error) &&
           (!def->initrd ||
            conf_add_path(c, "initrd", "boot.initrd", "", def->initrd, error)) &&
           (!def->cmdline || !*def->cmdline ||
            conf_add(c, "kernel command line", "boot.cmdline", def->cmdline, error));
}

static gboolean
format_serial(HyveConf *c, const HyveChrDef *chr, GError **error)
{
    g_autofree char *key = NULL, *what = NULL;

    if (chr->port < 0 || chr->port > 1) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "serial port %d is not supported: bhyve-runner has serial ports "
                       "0 (COM1) and 1 (COM2)", chr->port);
        return FALSE;
    }
    key = g_strdup_printf("com%d.backend", chr->port + 1);
    what = g_strdup_printf("path of serial port %d", chr->port);
    switch (chr->type) {
    case HYVE_CHR_TYPE_PTY:
        return conf_add(c, what, key, "pty", error);
    case HYVE_CHR_TYPE_FILE:
        return conf_add_path(c, what, key, "file:", chr->path ? chr->path : "", error);
    case HYVE_CHR_TYPE_UNIX:
        if (!chr->mode || !g_str_equal(chr->mode, "bind")) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                           "unix socket mode '%s'%s of serial port %d is not supported: "
                           "bhyve-runner listens (mode='bind') only",
                           chr->mode ? chr->mode : "connect", chr->mode ? "" : " (the default)",
                           chr->port);
            return FALSE;
        }
        return check_socket_path(chr->path ? chr->path : "", error) &&
               conf_add_path(c, what, key, "unix:", chr->path ? chr->path : "", error);
    case HYVE_CHR_TYPE_LAST:
        break;
    }
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                   "unexpected character device type %d", (int)chr->type);
    return FALSE;
}

/* "pci.0.S.0.<prop>" for a device at @addr (checked by check_addr). */
static char *
slot_key(const HyvePciAddr *addr, const char *prop)
{
    return g_strdup_printf("pci.0.%u.0.%s", addr->slot, prop);
}

static gboolean
check_addr(const HyvePciAddr *addr, const char *what, GError **error)
{
    if (!addr->set || addr->slot < 1 || addr->slot > 31 || addr->bus || addr->function ||
        addr->domain) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "%s has no usable PCI address", what);
        return FALSE;
    }
    return TRUE;
}

/* A virtio-blk serial: 1..20 printable ASCII characters, no spaces. */
static gboolean
serial_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > HVR_MAX_SERIAL)
        return FALSE;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isgraph(s[i]))
            return FALSE;
    return TRUE;
}

static gboolean
format_disk(HyveConf *c, const HyveDiskDef *d, const char *resolved, GError **error)
{
    const char *path = resolved ? resolved : d->path;
    g_autofree char *what = g_strdup_printf("disk '%s'", d->target_dev);
    g_autofree char *kdev = slot_key(&d->addr, "device"), *kpath = slot_key(&d->addr, "path");
    g_autofree char *kro = slot_key(&d->addr, "readonly"), *kser = slot_key(&d->addr, "serial");

    if (!path && d->type == HYVE_DISK_TYPE_VOLUME) {
        hyve_error_set(error, HYVE_FROM_STORAGE, HYVE_ERR_NO_STORAGE_POOL,
                       "no storage pool with matching name '%s'", d->pool ? d->pool : "");
        return FALSE;
    }
    if (!path) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "%s has no source", what);
        return FALSE;
    }
    if (d->driver_type && !g_str_equal(d->driver_type, "raw")) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "disk format '%s' of %s is not supported by bhyve-runner; "
                       "it runs format 'raw' only", d->driver_type, what);
        return FALSE;
    }
    if (d->serial && !serial_ok(d->serial)) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "serial '%s' of %s is not supported: bhyve-runner takes 1 to %u "
                       "printable characters without spaces", d->serial, what, HVR_MAX_SERIAL);
        return FALSE;
    }
    return check_addr(&d->addr, what, error) &&
           conf_add(c, what, kdev, "virtio-blk", error) &&
           conf_add_path(c, what, kpath, "", path, error) &&
           (!d->readonly || conf_add(c, what, kro, "true", error)) &&
           (!d->serial || conf_add(c, what, kser, d->serial, error));
}

static gboolean
format_net(HyveConf *c, const HyveNetDef *n, guint index, int fd, GError **error)
{
    g_autofree char *what = g_strdup_printf("interface %u", index);
    g_autofree char *kdev = slot_key(&n->addr, "device"), *kfd = slot_key(&n->addr, "fd");
    g_autofree char *kmac = slot_key(&n->addr, "mac"), *vfd = g_strdup_printf("%d", fd);
    char mac[18];

    if (fd < 3) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                       "descriptor %d of %s cannot be passed to bhyve-runner", fd, what);
        return FALSE;
    }
    hyve_mac_format(n->mac, mac);
    return check_addr(&n->addr, what, error) &&
           conf_add(c, what, kdev, "virtio-net", error) &&
           conf_add(c, what, kfd, vfd, error) &&
           (!n->mac_set || conf_add(c, what, kmac, mac, error));
}

static gboolean
format_rng(HyveConf *c, const HyveRngDef *r, GError **error)
{
    g_autofree char *kdev = slot_key(&r->addr, "device");

    if (r->backend_path && !g_str_equal(r->backend_path, "/dev/urandom") &&
        !g_str_equal(r->backend_path, "/dev/random")) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "rng backend '%s' is not supported by bhyve-runner; it feeds the "
                       "guest from getrandom(2) like /dev/urandom", r->backend_path);
        return FALSE;
    }
    return check_addr(&r->addr, "rng", error) &&
           conf_add(c, "rng", kdev, "virtio-rng", error);
}

static gint
line_cmp(gconstpointer a, gconstpointer b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t kx = strcspn(x, "="), ky = strcspn(y, "=");
    int r = strncmp(x, y, MIN(kx, ky));

    return r ? r : (kx > ky) - (kx < ky);
}

char *
hyve_runner_config_format(const HyveDomainDef *def, const HyveRunnerInput *in, GError **error)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) out = g_string_new(NULL);
    HyveConf c = { lines };
    guint i;

    if (!format_machine(&c, def, error))
        return NULL;
    for (i = 0; i < def->serials->len; i++) {
        if (!format_serial(&c, g_ptr_array_index(def->serials, i), error))
            return NULL;
    }
    for (i = 0; i < def->disks->len; i++) {
        const char *resolved = in->disk_paths ? in->disk_paths[i] : NULL;

        if (!format_disk(&c, g_ptr_array_index(def->disks, i), resolved, error))
            return NULL;
    }
    for (i = 0; i < def->nets->len; i++) {
        int fd = in->net_fds ? in->net_fds[i] : 3 + (int)i;

        if (!format_net(&c, g_ptr_array_index(def->nets, i), i, fd, error))
            return NULL;
    }
    for (i = 0; i < def->rngs->len; i++) {
        if (!format_rng(&c, g_ptr_array_index(def->rngs, i), error))
            return NULL;
    }
    if (!check_socket_path(in->paths->control, error) ||
        !conf_add_path(&c, "control socket", "control.socket", "", in->paths->control, error) ||
        !conf_add_path(&c, "exit file", "exit.file", "", in->paths->exit_status, error) ||
        (in->kernel_cache &&
         !conf_add_path(&c, "kernel cache", "boot.kernel_cache", "", in->kernel_cache, error)))
        return NULL;
    if (in->sandbox)
        g_ptr_array_add(lines, g_strdup("sandbox=true"));
    if (in->sandbox && in->sandbox_ids) {
        g_ptr_array_add(lines, g_strdup_printf("sandbox.uid=%u", in->sandbox_uid));
        g_ptr_array_add(lines, g_strdup_printf("sandbox.gid=%u", in->sandbox_gid));
    }

    g_ptr_array_sort(lines, line_cmp);
    for (i = 0; i < lines->len; i++) {
        const char *l = g_ptr_array_index(lines, i);

        if (i > 0 && line_cmp(&lines->pdata[i - 1], &lines->pdata[i]) == 0) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "two devices produce the runner key '%.*s'",
                           (int)strcspn(l, "="), l);
            return NULL;
        }
        g_string_append_printf(out, "%s\n", l);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}
