/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_def.c: lifetime of HyveDomainDef and its devices, the
 * enum <-> string tables, UUID and MAC helpers.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_def.h"

/* Each table has exactly _LAST entries; checked at compile time. */
static const char *const lifecycle_names[] = { "destroy", "restart" };
G_STATIC_ASSERT(G_N_ELEMENTS(lifecycle_names) == HYVE_LIFECYCLE_LAST);
static const char *const clock_names[] = { "utc", "localtime" };
G_STATIC_ASSERT(G_N_ELEMENTS(clock_names) == HYVE_CLOCK_LAST);
static const char *const disk_type_names[] = { "file", "block", "volume" };
G_STATIC_ASSERT(G_N_ELEMENTS(disk_type_names) == HYVE_DISK_TYPE_LAST);
static const char *const net_type_names[] = { "network", "bridge" };
G_STATIC_ASSERT(G_N_ELEMENTS(net_type_names) == HYVE_NET_TYPE_LAST);
static const char *const chr_type_names[] = { "pty", "file", "unix" };
G_STATIC_ASSERT(G_N_ELEMENTS(chr_type_names) == HYVE_CHR_TYPE_LAST);

static int
table_lookup(const char *const *table, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        if (g_str_equal(table[i], s))
            return i;
    }
    return -1;
}

#define HYVE_ENUM_IMPL(prefix, type, table) \
    const char *prefix##_to_string(type v) \
    { \
        return ((int)v >= 0 && (gsize)v < G_N_ELEMENTS(table)) ? table[v] : NULL; \
    } \
    int prefix##_from_string(const char *s) \
    { \
        return table_lookup(table, G_N_ELEMENTS(table), s); \
    }

HYVE_ENUM_IMPL(hyve_lifecycle_action, HyveLifecycleAction, lifecycle_names)
HYVE_ENUM_IMPL(hyve_clock_offset, HyveClockOffset, clock_names)
HYVE_ENUM_IMPL(hyve_disk_type, HyveDiskType, disk_type_names)
HYVE_ENUM_IMPL(hyve_net_type, HyveNetType, net_type_names)
HYVE_ENUM_IMPL(hyve_chr_type, HyveChrType, chr_type_names)

void
hyve_disk_def_free(HyveDiskDef *disk)
{
    if (!disk)
        return;
    g_free(disk->path);
    g_free(disk->pool);
    g_free(disk->volume);
    g_free(disk->target_dev);
    g_free(disk->bus);
    g_free(disk->driver_name);
    g_free(disk->driver_type);
    g_free(disk->serial);
    g_free(disk);
}

void
hyve_domain_net_def_free(HyveNetDef *net)
{
    if (!net)
        return;
    g_free(net->source);
    g_free(net->target_dev);
    g_free(net->model);
    g_free(net->bridge);
    g_free(net);
}

void
hyve_chr_def_free(HyveChrDef *chr)
{
    if (!chr)
        return;
    g_free(chr->path);
    g_free(chr->mode);
    g_free(chr);
}

void
hyve_rng_def_free(HyveRngDef *rng)
{
    if (!rng)
        return;
    g_free(rng->backend_path);
    g_free(rng);
}

HyveDomainDef *
hyve_domain_def_new(void)
{
    HyveDomainDef *def = g_new0(HyveDomainDef, 1);

    def->boot_devs = g_ptr_array_new_with_free_func(g_free);
    def->disks = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_disk_def_free);
    def->nets = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_domain_net_def_free);
    def->serials = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_chr_def_free);
    def->rngs = g_ptr_array_new_with_free_func((GDestroyNotify)hyve_rng_def_free);
    def->on_poweroff = HYVE_LIFECYCLE_DESTROY;
    def->on_reboot = HYVE_LIFECYCLE_RESTART;
    def->on_crash = HYVE_LIFECYCLE_DESTROY;
    def->clock = HYVE_CLOCK_UTC;
    return def;
}

void
hyve_domain_def_free(HyveDomainDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->title);
    g_free(def->description);
    if (def->metadata)
        xmlFreeDoc(def->metadata);
    g_free(def->os_type);
    g_free(def->arch);
    g_free(def->machine);
    g_free(def->kernel);
    g_free(def->initrd);
    g_free(def->cmdline);
    g_ptr_array_unref(def->boot_devs);
    g_free(def->emulator);
    g_ptr_array_unref(def->disks);
    g_ptr_array_unref(def->nets);
    g_ptr_array_unref(def->serials);
    g_ptr_array_unref(def->rngs);
    g_free(def);
}

HyveDomainDef *
hyve_domain_def_copy(const HyveDomainDef *src, GError **error)
{
    g_autoptr(HyveDomainDef) def = hyve_domain_def_new();
    guint i;

    def->name = g_strdup(src->name);
    memcpy(def->uuid, src->uuid, HYVE_UUID_LEN);
    def->uuid_set = src->uuid_set;
    def->title = g_strdup(src->title);
    def->description = g_strdup(src->description);
    if (src->metadata) {
        def->metadata = xmlCopyDoc(src->metadata, 1);
        if (!def->metadata) {
            hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_INTERNAL_ERROR,
                           "failed to copy the metadata of domain '%s'", src->name);
            return NULL;
        }
    }
    def->memory_kib = src->memory_kib;
    def->current_memory_kib = src->current_memory_kib;
    def->vcpus = src->vcpus;
    def->vcpus_current = src->vcpus_current;
    def->has_topology = src->has_topology;
    def->sockets = src->sockets;
    def->dies = src->dies;
    def->cores = src->cores;
    def->threads = src->threads;
    def->os_type = g_strdup(src->os_type);
    def->arch = g_strdup(src->arch);
    def->machine = g_strdup(src->machine);
    def->kernel = g_strdup(src->kernel);
    def->initrd = g_strdup(src->initrd);
    def->cmdline = g_strdup(src->cmdline);
    for (i = 0; i < src->boot_devs->len; i++)
        g_ptr_array_add(def->boot_devs, g_strdup(g_ptr_array_index(src->boot_devs, i)));
    def->acpi = src->acpi;
    def->apic = src->apic;
    def->clock = src->clock;
    def->on_poweroff = src->on_poweroff;
    def->on_reboot = src->on_reboot;
    def->on_crash = src->on_crash;
    def->emulator = g_strdup(src->emulator);
    for (i = 0; i < src->disks->len; i++) {
        const HyveDiskDef *s = g_ptr_array_index(src->disks, i);
        HyveDiskDef *d = g_new0(HyveDiskDef, 1);
        *d = *s;
        d->path = g_strdup(s->path);
        d->pool = g_strdup(s->pool);
        d->volume = g_strdup(s->volume);
        d->target_dev = g_strdup(s->target_dev);
        d->bus = g_strdup(s->bus);
        d->driver_name = g_strdup(s->driver_name);
        d->driver_type = g_strdup(s->driver_type);
        d->serial = g_strdup(s->serial);
        g_ptr_array_add(def->disks, d);
    }
    def->pci_root = src->pci_root;
    for (i = 0; i < src->nets->len; i++) {
        const HyveNetDef *s = g_ptr_array_index(src->nets, i);
        HyveNetDef *n = g_new0(HyveNetDef, 1);
        *n = *s;
        n->source = g_strdup(s->source);
        n->target_dev = g_strdup(s->target_dev);
        n->model = g_strdup(s->model);
        n->bridge = g_strdup(s->bridge);
        g_ptr_array_add(def->nets, n);
    }
    for (i = 0; i < src->serials->len; i++) {
        const HyveChrDef *s = g_ptr_array_index(src->serials, i);
        HyveChrDef *c = g_new0(HyveChrDef, 1);
        *c = *s;
        c->path = g_strdup(s->path);
        c->mode = g_strdup(s->mode);
        g_ptr_array_add(def->serials, c);
    }
    def->console = src->console;
    def->memballoon_none = src->memballoon_none;
    for (i = 0; i < src->rngs->len; i++) {
        const HyveRngDef *s = g_ptr_array_index(src->rngs, i);
        HyveRngDef *r = g_new0(HyveRngDef, 1);
        *r = *s;
        r->backend_path = g_strdup(s->backend_path);
        g_ptr_array_add(def->rngs, r);
    }
    return g_steal_pointer(&def);
}

/* ---- UUID / MAC --------------------------------------------------------- */

gboolean
hyve_uuid_parse(const char *str, guint8 uuid[HYVE_UUID_LEN])
{
    const char *p = str;
    int n = 0;

    if (!str)
        return FALSE;
    while (g_ascii_isspace(*p))
        p++;
    while (*p && n < HYVE_UUID_LEN) {
        int hi, lo;

        if (*p == '-') {
            p++;
            continue;
        }
        hi = g_ascii_xdigit_value(p[0]);
        if (hi < 0)
            return FALSE;
        lo = g_ascii_xdigit_value(p[1]);
        if (lo < 0)
            return FALSE;
        uuid[n++] = (guint8)(hi << 4 | lo);
        p += 2;
    }
    while (g_ascii_isspace(*p))
        p++;
    return n == HYVE_UUID_LEN && *p == '\0';
}

void
hyve_uuid_format(const guint8 u[HYVE_UUID_LEN], char out[HYVE_UUID_STRING_LEN])
{
    g_snprintf(out, HYVE_UUID_STRING_LEN,
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
               u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void
hyve_uuid_generate(guint8 uuid[HYVE_UUID_LEN])
{
    g_autofree char *s = g_uuid_string_random();   /* version 4 */

    if (!hyve_uuid_parse(s, uuid))
        g_assert_not_reached();
}

gboolean
hyve_mac_parse(const char *str, guint8 mac[HYVE_MAC_LEN])
{
    const char *p = str;

    if (!str)
        return FALSE;
    for (int i = 0; i < HYVE_MAC_LEN; i++) {
        int hi, lo = -1;

        hi = g_ascii_xdigit_value(*p++);
        if (hi < 0)
            return FALSE;
        if (g_ascii_isxdigit(*p)) {
            lo = g_ascii_xdigit_value(*p++);
            mac[i] = (guint8)(hi << 4 | lo);
        } else {
            mac[i] = (guint8)hi;
        }
        if (i < HYVE_MAC_LEN - 1) {
            if (*p != ':' && *p != '-')
                return FALSE;
            p++;
        }
    }
    return *p == '\0';
}

void
hyve_mac_format(const guint8 m[HYVE_MAC_LEN], char out[18])
{
    g_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
               m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* ---- bounds ------------------------------------------------------------- */

gboolean
hyve_domain_def_check_limits(const HyveDomainDef *def, GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    gsize len;

    if (def->vcpus > HYVE_MAX_VCPUS) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "%u vcpus is more than the limit of %u (xAPIC IDs in the MADT)",
                       def->vcpus, HYVE_MAX_VCPUS);
        return FALSE;
    }
    if (def->memory_kib > HYVE_MAX_MEMORY_KIB || def->current_memory_kib > HYVE_MAX_MEMORY_KIB) {
        hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED,
                       "memory size %" G_GUINT64_FORMAT " KiB is more than the limit of %"
                       G_GUINT64_FORMAT " KiB (1 TiB) of guest-physical memory hyve maps",
                       MAX(def->memory_kib, def->current_memory_kib),
                       (guint64)HYVE_MAX_MEMORY_KIB);
        return FALSE;
    }
    /* What dumpxml and the config file will hold: it must fit a remote
     * string and load again. A live id adds a few bytes: headroom. */
    xml = hyve_domain_def_format(def, -1, 0);
    len = strlen(xml);
    if (len > HYVE_DOMAIN_XML_MAX) {
        hyve_error_set(error, HYVE_FROM_DOMAIN, HYVE_ERR_XML_ERROR,
                       "the domain XML would be %zu bytes, more than the limit of %u "
                       "(remote strings are at most 4 MiB)", len, HYVE_DOMAIN_XML_MAX);
        return FALSE;
    }
    if (!hyve_xml_check_limits(xml, "(domain_definition)", error))
        return FALSE;
    if (!(doc = hyve_xml_parse_string(xml, "(formatted domain_definition)", error))) {
        g_prefix_error(error, "the definition cannot be written as XML: ");
        return FALSE;
    }
    return TRUE;
}
