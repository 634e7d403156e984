/* hvr_config.c: parse and validate the runner configuration. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvr_config.h"
#include "hvr_error.h"

G_DEFINE_QUARK(hvr-error-quark, hvr_error)

typedef enum {
    HVR_KEY_STRING,     /* any non-empty value */
    HVR_KEY_PATH,       /* absolute path */
    HVR_KEY_SIZE,       /* bytes with optional K/M/G suffix */
    HVR_KEY_CPUS,       /* 1..64 */
    HVR_KEY_FD,         /* 0..65535 */
    HVR_KEY_BOOL,       /* true|false */
    HVR_KEY_BACKEND,    /* pty|stdio|null|unix:PATH|file:PATH */
    HVR_KEY_MODEL,      /* PCI device model */
    HVR_KEY_MAC,        /* xx:xx:xx:xx:xx:xx */
    HVR_KEY_SERIAL,     /* 1..20 printable characters */
    HVR_KEY_CMDLINE,    /* 0..2047 characters */
    HVR_KEY_IFNAME,     /* 1..15 characters */
    HVR_KEY_ID,         /* numeric user/group id 0..4294967294 */
} HvrKeyType;

/* Which PCI models accept a slot property (bit mask of 1 << HvrPciModel). */
#define M(x) (1u << (x))

typedef struct {
    const char *pattern;   /* '*' stands for a PCI slot number 1..31 */
    HvrKeyType type;
    unsigned models;       /* for pci.0.*.0.<prop>: allowed models */
} HvrKeyDef;

static const HvrKeyDef hvr_keys[] = {
    { "boot.cmdline", HVR_KEY_CMDLINE, 0 },
    { "boot.initrd", HVR_KEY_PATH, 0 },
    { "boot.kernel", HVR_KEY_PATH, 0 },
    { "boot.kernel_cache", HVR_KEY_PATH, 0 },
    { "boot.paused", HVR_KEY_BOOL, 0 },
    { "com1.backend", HVR_KEY_BACKEND, 0 },
    { "com2.backend", HVR_KEY_BACKEND, 0 },
    { "control.socket", HVR_KEY_PATH, 0 },
    { "cpus", HVR_KEY_CPUS, 0 },
    { "exit.file", HVR_KEY_PATH, 0 },
    { "memory.hugepages", HVR_KEY_BOOL, 0 },
    { "memory.mergeable", HVR_KEY_BOOL, 0 },
    { "memory.size", HVR_KEY_SIZE, 0 },
    { "name", HVR_KEY_STRING, 0 },
    { "pci.0.*.0.backend", HVR_KEY_BACKEND, M(HVR_PCI_VIRTIO_CONSOLE) },
    { "pci.0.*.0.device", HVR_KEY_MODEL, 0 },
    { "pci.0.*.0.fd", HVR_KEY_FD, M(HVR_PCI_VIRTIO_NET) },
    { "pci.0.*.0.mac", HVR_KEY_MAC, M(HVR_PCI_VIRTIO_NET) },
    { "pci.0.*.0.path", HVR_KEY_PATH, M(HVR_PCI_VIRTIO_BLK) },
    { "pci.0.*.0.readonly", HVR_KEY_BOOL, M(HVR_PCI_VIRTIO_BLK) },
    { "pci.0.*.0.serial", HVR_KEY_SERIAL, M(HVR_PCI_VIRTIO_BLK) },
    { "pci.0.*.0.tap", HVR_KEY_IFNAME, M(HVR_PCI_VIRTIO_NET) },
    { "sandbox", HVR_KEY_BOOL, 0 },
    { "sandbox.gid", HVR_KEY_ID, 0 },
    { "sandbox.uid", HVR_KEY_ID, 0 },
};

const char *
hvr_config_key_pattern(guint i)
{
    return i < G_N_ELEMENTS(hvr_keys) ? hvr_keys[i].pattern : NULL;
}

static const char *const hvr_pci_models[HVR_PCI_LAST] = {
    [HVR_PCI_NONE] = "none",
    [HVR_PCI_VIRTIO_BLK] = "virtio-blk",
    [HVR_PCI_VIRTIO_NET] = "virtio-net",
    [HVR_PCI_VIRTIO_CONSOLE] = "virtio-console",
    [HVR_PCI_VIRTIO_RNG] = "virtio-rng",
};
G_STATIC_ASSERT(G_N_ELEMENTS(hvr_pci_models) == HVR_PCI_LAST);

const char *
hvr_pci_model_to_string(HvrPciModel m)
{
    return (unsigned)m < HVR_PCI_LAST ? hvr_pci_models[m] : "unknown";
}

HvrConfig *
hvr_config_new(void)
{
    HvrConfig *cfg = g_new0(HvrConfig, 1);
    int i;

    cfg->memory_size = 256 * 1024 * 1024;
    cfg->cpus = 1;
    cfg->sandbox_uid = cfg->sandbox_gid = -1;
    for (i = 0; i < HVR_PCI_SLOTS; i++)
        cfg->pci[i].fd = -1;
    return cfg;
}

void
hvr_config_free(HvrConfig *cfg)
{
    int i;

    if (!cfg)
        return;
    g_free(cfg->name);
    g_free(cfg->kernel);
    g_free(cfg->kernel_cache);
    g_free(cfg->initrd);
    g_free(cfg->cmdline);
    g_free(cfg->com[0]);
    g_free(cfg->com[1]);
    g_free(cfg->control_socket);
    g_free(cfg->exit_file);
    for (i = 0; i < HVR_PCI_SLOTS; i++) {
        g_free(cfg->pci[i].path);
        g_free(cfg->pci[i].serial);
        g_free(cfg->pci[i].tap);
        g_free(cfg->pci[i].mac);
        g_free(cfg->pci[i].backend);
    }
    g_free(cfg);
}

/* Match @key against @pattern; store the slot number for '*'. */
static gboolean
hvr_key_match(const char *pattern, const char *key, int *slot)
{
    while (*pattern && *key) {
        if (*pattern == '*') {
            char *end;
            guint64 v;

            if (!g_ascii_isdigit(*key) || (key[0] == '0' && g_ascii_isdigit(key[1])))
                return FALSE;
            v = g_ascii_strtoull(key, &end, 10);
            if (v >= 1000)
                return FALSE;
            *slot = (int)v;
            key = end;
            pattern++;
            continue;
        }
        if (*pattern != *key)
            return FALSE;
        pattern++;
        key++;
    }
    return *pattern == '\0' && *key == '\0';
}

static gboolean
hvr_parse_size(const char *s, uint64_t *out)
{
    char *end;
    guint64 v, mult = 1;

    if (!g_ascii_isdigit(*s))
        return FALSE;
    errno = 0;
    v = g_ascii_strtoull(s, &end, 10);
    if (errno)
        return FALSE;
    switch (g_ascii_toupper(*end)) {
    case 'K': mult = 1ULL << 10; end++; break;
    case 'M': mult = 1ULL << 20; end++; break;
    case 'G': mult = 1ULL << 30; end++; break;
    case '\0': break;
    default: return FALSE;
    }
    if (*end || v == 0 || v > G_MAXUINT64 / mult)
        return FALSE;
    *out = v * mult;
    return TRUE;
}

static gboolean
hvr_parse_uint(const char *s, guint64 max, guint64 *out)
{
    char *end;

    if (!g_ascii_isdigit(*s))
        return FALSE;
    errno = 0;
    *out = g_ascii_strtoull(s, &end, 10);
    return !errno && !*end && *out <= max;
}

/* Check the value of one key; on failure return a static description. */
static const char *
hvr_value_check(HvrKeyType type, const char *v)
{
    guint64 n;
    uint64_t sz;
    size_t i;

    switch (type) {
    case HVR_KEY_STRING:
        return *v ? NULL : "empty value";
    case HVR_KEY_PATH:
        return v[0] == '/' ? NULL : "expected an absolute path";
    case HVR_KEY_SIZE:
        if (!hvr_parse_size(v, &sz))
            return "expected a size (bytes, or a number with suffix K, M or G)";
        if (sz < 32ULL << 20 || sz > 1ULL << 40 || (sz & 0xFFFFF))
            return "memory size must be a multiple of 1M between 32M and 1024G";
        return NULL;
    case HVR_KEY_CPUS:
        return hvr_parse_uint(v, 64, &n) && n >= 1 ? NULL : "expected a number of vCPUs from 1 to 64";
    case HVR_KEY_FD:
        return hvr_parse_uint(v, 65535, &n) && n >= 3 ? NULL : "expected a file descriptor number from 3 to 65535";
    case HVR_KEY_BOOL:
        return g_str_equal(v, "true") || g_str_equal(v, "false") ? NULL : "expected true or false";
    case HVR_KEY_BACKEND:
        return hvr_backend_spec_valid(v) ? NULL : "expected pty, stdio, null, unix:/PATH or file:/PATH";
    case HVR_KEY_MODEL:
        for (i = 1; i < HVR_PCI_LAST; i++)
            if (g_str_equal(v, hvr_pci_models[i]))
                return NULL;
        return "unknown device model (expected virtio-blk, virtio-net, virtio-console or virtio-rng)";
    case HVR_KEY_MAC:
        return hvr_mac_valid(v) ? NULL : "expected a MAC address xx:xx:xx:xx:xx:xx";
    case HVR_KEY_SERIAL:
        if (!*v || strlen(v) > 20)
            return "serial must be 1 to 20 characters";
        for (i = 0; v[i]; i++)
            if (!g_ascii_isgraph(v[i]))
                return "serial must be printable ASCII without spaces";
        return NULL;
    case HVR_KEY_CMDLINE:
        return strlen(v) <= 2047 ? NULL : "kernel command line longer than 2047 bytes";
    case HVR_KEY_IFNAME:
        return *v && strlen(v) < 16 && !strchr(v, '/') ? NULL : "expected an interface name of 1 to 15 characters";
    case HVR_KEY_ID:
        return hvr_parse_uint(v, G_MAXUINT32 - 1, &n) ? NULL : "expected a numeric id from 0 to 4294967294";
    }
    return "bad key type";
}

static void
hvr_config_store(HvrConfig *cfg, const char *pattern, int slot, const char *v)
{
    HvrPciSlotConfig *s = &cfg->pci[slot];
    const char *prop = pattern + strlen("pci.0.*.0.");
    int i;

    if (g_str_equal(pattern, "name")) cfg->name = g_strdup(v);
    else if (g_str_equal(pattern, "memory.size")) hvr_parse_size(v, &cfg->memory_size);
    else if (g_str_equal(pattern, "memory.hugepages")) cfg->hugepages = g_str_equal(v, "true");
    else if (g_str_equal(pattern, "memory.mergeable")) cfg->mergeable = g_str_equal(v, "true");
    else if (g_str_equal(pattern, "cpus")) cfg->cpus = atoi(v);
    else if (g_str_equal(pattern, "boot.kernel")) cfg->kernel = g_strdup(v);
    else if (g_str_equal(pattern, "boot.kernel_cache")) cfg->kernel_cache = g_strdup(v);
    else if (g_str_equal(pattern, "boot.initrd")) cfg->initrd = g_strdup(v);
    else if (g_str_equal(pattern, "boot.cmdline")) cfg->cmdline = g_strdup(v);
    else if (g_str_equal(pattern, "boot.paused")) cfg->boot_paused = g_str_equal(v, "true");
    else if (g_str_equal(pattern, "exit.file")) g_free(cfg->exit_file), cfg->exit_file = g_strdup(v);
    else if (g_str_equal(pattern, "com1.backend")) cfg->com[0] = g_strdup(v);
    else if (g_str_equal(pattern, "com2.backend")) cfg->com[1] = g_strdup(v);
    else if (g_str_equal(pattern, "control.socket")) cfg->control_socket = g_strdup(v);
    else if (g_str_equal(pattern, "sandbox")) cfg->sandbox = g_str_equal(v, "true");
    else if (g_str_equal(pattern, "sandbox.uid")) cfg->sandbox_uid = (int64_t)g_ascii_strtoull(v, NULL, 10);
    else if (g_str_equal(pattern, "sandbox.gid")) cfg->sandbox_gid = (int64_t)g_ascii_strtoull(v, NULL, 10);
    else if (g_str_equal(prop, "device")) {
        for (i = 1; i < HVR_PCI_LAST; i++)
            if (g_str_equal(v, hvr_pci_models[i]))
                s->model = i;
    }
    else if (g_str_equal(prop, "path")) s->path = g_strdup(v);
    else if (g_str_equal(prop, "readonly")) s->readonly = g_str_equal(v, "true");
    else if (g_str_equal(prop, "serial")) s->serial = g_strdup(v);
    else if (g_str_equal(prop, "tap")) s->tap = g_strdup(v);
    else if (g_str_equal(prop, "fd")) s->fd = atoi(v);
    else if (g_str_equal(prop, "mac")) s->mac = g_strdup(v);
    else if (g_str_equal(prop, "backend")) s->backend = g_strdup(v);
}

typedef struct {
    const HvrKeyDef *def;
    int slot;
    int line;
    char *key;
} HvrSlotProp;

gboolean
hvr_config_parse(HvrConfig *cfg, const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GArray) props = g_array_new(FALSE, TRUE, sizeof(HvrSlotProp));
    guint i, k;
    int lineno = 0;
    gboolean ok = FALSE;

    /* exit.file first, so that an error on any line is reported there too */
    for (i = 0; lines[i] && !cfg->exit_file; i++)
        if (g_str_has_prefix(lines[i], "exit.file=/"))
            cfg->exit_file = g_strdup(lines[i] + strlen("exit.file="));

    for (i = 0; lines[i]; i++) {
        char *line = lines[i];
        char *eq, *key, *val;
        const HvrKeyDef *def = NULL;
        const char *why;
        int slot = -1;

        lineno = i + 1;
        if (!lines[i + 1] && !*line)
            break;                       /* trailing newline */
        if (*line == '#')
            continue;
        if (!*line) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX, "line %d: empty line", lineno);
            goto out;
        }
        eq = strchr(line, '=');
        if (!eq) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: expected key=value", lineno);
            goto out;
        }
        *eq = '\0';
        key = line;
        val = eq + 1;
        if (!*key) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX, "line %d: empty key", lineno);
            goto out;
        }
        for (k = 0; k < G_N_ELEMENTS(hvr_keys); k++) {
            if (hvr_key_match(hvr_keys[k].pattern, key, &slot)) {
                def = &hvr_keys[k];
                break;
            }
        }
        if (!def) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: unknown key '%s'", lineno, key);
            goto out;
        }
        if (slot == 0 || slot >= HVR_PCI_SLOTS) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        slot == 0 ? "line %d: key '%s': PCI slot 0 is the host bridge"
                                  : "line %d: key '%s': PCI slot must be 1 to 31",
                        lineno, key);
            goto out;
        }
        if (g_hash_table_contains(seen, key)) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: duplicate key '%s'", lineno, key);
            goto out;
        }
        if ((why = hvr_value_check(def->type, val))) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: key '%s': %s", lineno, key, why);
            goto out;
        }
        g_hash_table_add(seen, g_strdup(key));
        hvr_config_store(cfg, def->pattern, slot < 0 ? 0 : slot, val);
        if (slot > 0) {
            HvrSlotProp p = { def, slot, lineno, g_strdup(key) };
            g_array_append_val(props, p);
            if (def->type == HVR_KEY_MODEL)
                cfg->pci[slot].line = lineno;
        }
    }

    /* Slot properties must belong to the device of their slot. */
    for (k = 0; k < props->len; k++) {
        HvrSlotProp *p = &g_array_index(props, HvrSlotProp, k);
        HvrPciModel m = cfg->pci[p->slot].model;

        if (p->def->type == HVR_KEY_MODEL)
            continue;
        if (m == HVR_PCI_NONE) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: key '%s': no pci.0.%d.0.device in this slot",
                        p->line, p->key, p->slot);
            goto out;
        }
        if (!(p->def->models & M(m))) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: key '%s' is not valid for device %s",
                        p->line, p->key, hvr_pci_models[m]);
            goto out;
        }
    }
    for (k = 1; k < HVR_PCI_SLOTS; k++) {
        HvrPciSlotConfig *s = &cfg->pci[k];

        if (s->model == HVR_PCI_VIRTIO_BLK && !s->path) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: virtio-blk in slot %u needs pci.0.%u.0.path", s->line, k, k);
            goto out;
        }
        if (s->model == HVR_PCI_VIRTIO_NET && !!s->tap == (s->fd >= 0)) {
            g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX,
                        "line %d: virtio-net in slot %u needs exactly one of pci.0.%u.0.tap and pci.0.%u.0.fd",
                        s->line, k, k, k);
            goto out;
        }
    }
    if (!cfg->name) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX, "missing required key 'name'");
        goto out;
    }
    if (!cfg->kernel) {
        g_set_error(error, HVR_ERROR, HVR_ERROR_CONF_SYNTAX, "missing required key 'boot.kernel'");
        goto out;
    }
    ok = TRUE;
 out:
    for (k = 0; k < props->len; k++)
        g_free(g_array_index(props, HvrSlotProp, k).key);
    return ok;
}
