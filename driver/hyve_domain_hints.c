/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_hints.c: the defaults virt-install 4.1 picks for a bhyve://
 * URI that hyve cannot run (hyve_domain_xml_check_client_defaults): SATA
 * disks, e1000 NICs, an nmdm console, graphics + video + a USB tablet, a
 * UEFI loader, CD-ROMs, other boot devices. They are refused together, in
 * one CONFIG_UNSUPPORTED message with one item per kind: what is wrong
 * (and where), the XML change that fixes it, then the virt-install option
 * that avoids it, e.g.
 *   disk bus 'sata' (2 disks: sda, sdb): set <target bus='virtio'/>
 *   (virt-install: --disk ...,bus=virtio)
 * A definition may have thousands of devices: at most HINT_NAMES_MAX
 * values and names are spelled out per kind, the rest are counted.
 */
#include "hyve-config.h"

#include <string.h>
#include "hyve_domain_parse_priv.h"

#define HINT_NAMES_MAX 8

#define OPT_KERNEL "--import --boot kernel=PATH,initrd=PATH,kernel_args=ARGS"
#define FIX_KERNEL "boot a Linux <kernel> (with <initrd>, <cmdline>) directly"

typedef enum {
    HINT_FIRMWARE,
    HINT_BOOT,
    HINT_CDROM,
    HINT_DISK_DEVICE,
    HINT_DISK_BUS,
    HINT_NIC_MODEL,
    HINT_CONSOLE,
    HINT_SERIAL,
    HINT_DISPLAY,
    HINT_LAST
} HintKind;

typedef struct {
    const char *what;   /* "disk bus" (NULL: the values say it) */
    const char *noun;   /* what the names are ("disk"), NULL: none */
    const char *fix;    /* the XML change */
    const char *fix_many; /* the same for several values (NULL: fix) */
    const char *option; /* the virt-install option */
} HintInfo;

static const HintInfo hint_info[HINT_LAST] = {
    [HINT_FIRMWARE] = { "firmware", NULL,
                        "remove it (hyve has no firmware) and " FIX_KERNEL,
                        "remove them (hyve has no firmware) and " FIX_KERNEL, OPT_KERNEL },
    [HINT_BOOT] = { "boot device", NULL,
                    "remove <boot dev=...> (only 'hd' is supported) and " FIX_KERNEL, NULL,
                    OPT_KERNEL },
    [HINT_CDROM] = { "disk device", "disk",
                     "remove it and " FIX_KERNEL " (hyve does not boot install media)", NULL,
                     OPT_KERNEL },
    [HINT_DISK_DEVICE] = { "disk device", "disk", "set device='disk'", NULL,
                           "--disk ...,device=disk" },
    [HINT_DISK_BUS] = { "disk bus", "disk", "set <target bus='virtio'/>", NULL,
                        "--disk ...,bus=virtio" },
    [HINT_NIC_MODEL] = { "interface model", "interface",
                         "set <model type='virtio'/>", NULL,
                         "--network ...,model=virtio" },
    [HINT_CONSOLE] = { "console type", NULL, "set type='pty' (or 'file', 'unix'; nmdm is a "
                       "FreeBSD null-modem)", NULL, "--console pty" },
    [HINT_SERIAL] = { "serial type", NULL, "set type='pty' (or 'file', 'unix'; nmdm is a "
                      "FreeBSD null-modem)", NULL, "--console pty" },
    [HINT_DISPLAY] = { NULL, NULL, "remove it (hyve guests have no display, only serial "
                       "consoles)", "remove them (hyve guests have no display, only serial "
                       "consoles)", "--graphics none" },
};

typedef struct {
    GString *values;    /* "'sata', 'ide'" */
    guint n_values;
    GString *names;     /* "sda, sdb" */
    guint n_names;
} Hint;

typedef struct {
    Hint kinds[HINT_LAST];
} ClientHints;

static void
client_hints_clear(ClientHints *h)
{
    for (guint k = 0; k < HINT_LAST; k++) {
        if (h->kinds[k].values)
            g_string_free(h->kinds[k].values, TRUE);
        if (h->kinds[k].names)
            g_string_free(h->kinds[k].names, TRUE);
    }
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ClientHints, client_hints_clear)

/* Append ITEM to LIST (", "-separated, at most HINT_NAMES_MAX items, each
 * once when UNIQUE); *N counts the items appended. */
static void
list_add(GString **list, guint *n, const char *item, gboolean unique)
{
    g_autofree char *delimited = NULL;

    if (!*list)
        *list = g_string_new(NULL);
    if (unique) {
        delimited = g_strdup_printf(", %s, ", item);
        g_autofree char *all = g_strdup_printf(", %s, ", (*list)->str);

        if (strstr(all, delimited))
            return;
    }
    if (++*n > HINT_NAMES_MAX)
        return;
    g_string_append_printf(*list, "%s%s", (*list)->len ? ", " : "", item);
}

/* One more thing of kind KIND: VALUE (quoted by the caller, e.g. "'sata'")
 * on the device named NAME (NULL: not named). */
static void
hint_add(ClientHints *h, HintKind kind, const char *value, const char *name)
{
    Hint *k = &h->kinds[kind];

    list_add(&k->values, &k->n_values, value, TRUE);
    if (name && *name)
        list_add(&k->names, &k->n_names, name, FALSE);
}

static gboolean
hint_format(ClientHints *h, GString *msg)
{
    gboolean any = FALSE;

    for (guint kind = 0; kind < HINT_LAST; kind++) {
        const HintInfo *info = &hint_info[kind];
        Hint *k = &h->kinds[kind];

        if (!k->values)
            continue;
        g_string_append(msg, any ? "; " : "not supported by hyve: ");
        any = TRUE;
        if (info->what)
            g_string_append_printf(msg, "%s ", info->what);
        g_string_append(msg, k->values->str);
        if (k->n_values > HINT_NAMES_MAX)
            g_string_append(msg, ", ...");
        if (k->names && k->n_names == 1)
            g_string_append_printf(msg, " (%s %s)", info->noun, k->names->str);
        else if (k->names)
            g_string_append_printf(msg, " (%u %ss: %s%s)", k->n_names, info->noun,
                                   k->names->str, k->n_names > HINT_NAMES_MAX ? ", ..." : "");
        g_string_append_printf(msg, ": %s (virt-install: %s)",
                               k->n_values > 1 && info->fix_many ? info->fix_many : info->fix,
                               info->option);
    }
    return any;
}

static void
hint_disk(ClientHints *h, xmlNodePtr disk)
{
    g_autofree char *device = hyve_xml_attr(disk, "device");
    xmlNodePtr target = hyve_xml_child(disk, "target");
    g_autofree char *dev = hyve_xml_attr(target, "dev");
    g_autofree char *bus = hyve_xml_attr(target, "bus");
    g_autofree char *value = NULL;

    if (!bus && dev)        /* libvirt's guess from the name: sda -> scsi */
        bus = g_strdup(hyve_domain_disk_bus_from_target(dev));
    if (device && !g_str_equal(device, "disk")) {
        value = g_strdup_printf("'%s'", device);
        hint_add(h, g_str_equal(device, "cdrom") ? HINT_CDROM : HINT_DISK_DEVICE, value, dev);
    } else if (bus && !g_str_equal(bus, "virtio")) {
        value = g_strdup_printf("'%s'", bus);
        hint_add(h, HINT_DISK_BUS, value, dev);
    }
}

static void
hint_devices(ClientHints *h, xmlNodePtr devs)
{
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        const char *n = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE || c->ns)
            continue;
        if (g_str_equal(n, "disk")) {
            hint_disk(h, c);
        } else if (g_str_equal(n, "interface")) {
            g_autofree char *model = hyve_xml_attr(hyve_xml_child(c, "model"), "type");
            g_autofree char *mac = hyve_xml_attr(hyve_xml_child(c, "mac"), "address");
            g_autofree char *value = g_strdup_printf("'%s'", model ? model : "");

            if (model && !g_str_equal(model, "virtio"))
                hint_add(h, HINT_NIC_MODEL, value, mac);
        } else if (g_str_equal(n, "console") || g_str_equal(n, "serial")) {
            g_autofree char *type = hyve_xml_attr(c, "type");

            if (g_strcmp0(type, "nmdm") == 0)
                hint_add(h, g_str_equal(n, "console") ? HINT_CONSOLE : HINT_SERIAL,
                         "'nmdm'", NULL);
        } else if (g_str_equal(n, "graphics") || g_str_equal(n, "video") ||
                   g_str_equal(n, "input")) {
            g_autofree char *tag = g_strdup_printf("<%s>", n);

            hint_add(h, HINT_DISPLAY, tag, NULL);
        }
    }
}

gboolean
hyve_domain_xml_check_client_defaults(xmlNodePtr root, GError **error)
{
    g_auto(ClientHints) h = { 0 };
    g_autoptr(GString) msg = NULL;
    xmlNodePtr os = hyve_xml_child(root, "os");
    g_autofree char *firmware = hyve_xml_attr(os, "firmware");
    g_autofree char *type = hyve_xml_attr(root, "type");

    /* other documents: hyve_domain_xml_check_supported() names the problem */
    if (!root || !g_str_equal((const char *)root->name, "domain") ||
        g_strcmp0(type, "bhyve") != 0)
        return TRUE;
    if (firmware) {
        g_autofree char *value = g_strdup_printf("<os firmware='%s'>", firmware);

        hint_add(&h, HINT_FIRMWARE, value, NULL);
    }
    if (hyve_xml_child(os, "loader"))
        hint_add(&h, HINT_FIRMWARE, "<loader>", NULL);
    if (hyve_xml_child(os, "nvram"))
        hint_add(&h, HINT_FIRMWARE, "<nvram>", NULL);
    for (xmlNodePtr b = os ? os->children : NULL; b; b = b->next) {
        g_autofree char *dev = NULL;
        g_autofree char *value = NULL;

        if (b->type != XML_ELEMENT_NODE || b->ns || !g_str_equal((const char *)b->name, "boot"))
            continue;
        dev = hyve_xml_attr(b, "dev");
        value = g_strdup_printf("'%s'", dev ? dev : "");
        if (dev && !g_str_equal(dev, "hd"))
            hint_add(&h, HINT_BOOT, value, NULL);
    }
    hint_devices(&h, hyve_xml_child(root, "devices"));
    msg = g_string_new(NULL);
    if (!hint_format(&h, msg))
        return TRUE;
    hyve_error_set(error, HYVE_FROM_BHYVE, HYVE_ERR_CONFIG_UNSUPPORTED, "%s", msg->str);
    return FALSE;
}
