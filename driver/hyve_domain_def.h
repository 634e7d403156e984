/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hyve_domain_def.h: the in-memory domain definition (what hyve keeps of a
 * libvirt <domain> document) and the functions that parse, check, default
 * and format it. Internal to driver/; the daemon only sees hyve_driver.h.
 *
 * A HyveDomainDef is a plain value: no locks, no references. A domain
 * object owns its definitions and replaces them whole (never edits one that
 * another thread may be formatting).
 *
 * Pipeline (hyve_domain_def_parse_string):
 *   libxml2 parse (no network, no DTD/entities)      -> XML_ERROR
 *   RelaxNG validation against libvirt's domain.rng   -> XML_INVALID_SCHEMA
 *   element/attribute whitelist (validate.c)          -> CONFIG_UNSUPPORTED
 *   values into the struct (parse*.c)                 -> XML_ERROR / CONFIG_UNSUPPORTED
 *   value checks (validate.c)                         -> CONFIG_UNSUPPORTED / XML_ERROR
 *   defaults (defaults.c): uuid, mac, pci addresses ...
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include "hyve_driver.h"

G_BEGIN_DECLS

#define HYVE_MAC_LEN 6

/* A PCI address; hyve only uses domain 0, bus 0, function 0. */
typedef struct {
    gboolean set;
    guint domain;
    guint bus;
    guint slot;
    guint function;
} HyvePciAddr;

typedef enum {
    HYVE_DISK_TYPE_FILE,
    HYVE_DISK_TYPE_BLOCK,
    HYVE_DISK_TYPE_VOLUME,
    HYVE_DISK_TYPE_LAST
} HyveDiskType;

typedef struct {
    HyveDiskType type;
    char *path;                 /* FILE: source file; BLOCK: source dev */
    char *pool;                 /* VOLUME */
    char *volume;               /* VOLUME */
    char *target_dev;           /* "vda" */
    char *bus;                  /* "virtio" after defaults */
    char *driver_name;          /* NULL when no <driver> */
    char *driver_type;          /* "raw" or NULL */
    gboolean readonly;
    char *serial;
    HyvePciAddr addr;
} HyveDiskDef;

typedef enum {
    HYVE_NET_TYPE_NETWORK,
    HYVE_NET_TYPE_BRIDGE,
    HYVE_NET_TYPE_LAST
} HyveNetType;

typedef struct {
    HyveNetType type;
    char *source;               /* network name or bridge name */
    guint8 mac[HYVE_MAC_LEN];
    gboolean mac_set;           /* after defaults always TRUE */
    char *target_dev;
    char *model;                /* "virtio" after defaults */
    HyvePciAddr addr;
    /* live only, type='network' of a running domain: the bridge its tap
     * joined (hyve_networks_port_acquire; one port counted while set).
     * Formatted in live XML as <source network='N' bridge='B'/>, never
     * parsed nor written to a persistent or status file. */
    char *bridge;
} HyveNetDef;

typedef enum {
    HYVE_CHR_TYPE_PTY,
    HYVE_CHR_TYPE_FILE,
    HYVE_CHR_TYPE_UNIX,
    HYVE_CHR_TYPE_LAST
} HyveChrType;

typedef struct {
    HyveChrType type;
    char *path;                 /* FILE, UNIX */
    char *mode;                 /* UNIX: "bind" or "connect" */
    int port;                   /* -1 until defaults */
} HyveChrDef;

typedef struct {
    char *backend_path;         /* "/dev/urandom" */
    HyvePciAddr addr;
} HyveRngDef;

typedef enum {
    HYVE_LIFECYCLE_DESTROY,
    HYVE_LIFECYCLE_RESTART,
    HYVE_LIFECYCLE_LAST
} HyveLifecycleAction;

typedef enum {
    HYVE_CLOCK_UTC,
    HYVE_CLOCK_LOCALTIME,
    HYVE_CLOCK_LAST
} HyveClockOffset;

/* A domain definition: no lock of its own. Once published in a
 * HyveDomainObj it belongs to that object, is read under the object's lock
 * and is never edited in place (replaced whole under that lock). */
typedef struct {
    char *name;
    guint8 uuid[HYVE_UUID_LEN];
    gboolean uuid_set;
    char *title;
    char *description;
    xmlDocPtr metadata;         /* root <metadata>, children kept verbatim; NULL if none */

    guint64 memory_kib;
    guint64 current_memory_kib; /* 0 until defaults */

    guint vcpus;                /* maximum */
    guint vcpus_current;        /* 0 until defaults */

    gboolean has_topology;
    guint sockets, dies, cores, threads;

    char *os_type;              /* "hvm" */
    char *arch;                 /* "x86_64" */
    char *machine;              /* NULL or "pc" */
    char *kernel;
    char *initrd;
    char *cmdline;
    GPtrArray *boot_devs;       /* of char*, e.g. "hd" */

    gboolean acpi;
    gboolean apic;

    HyveClockOffset clock;
    HyveLifecycleAction on_poweroff;
    HyveLifecycleAction on_reboot;
    HyveLifecycleAction on_crash;

    char *emulator;
    GPtrArray *disks;           /* HyveDiskDef* */
    gboolean pci_root;          /* <controller type='pci' index='0' model='pci-root'/> */
    GPtrArray *nets;            /* HyveNetDef* */
    GPtrArray *serials;         /* HyveChrDef*; the console is serial 0 */
    gboolean console;           /* a <console> is formatted: a copy of serial 0, as
                                 * libvirt does (set whenever there is a serial) */
    gboolean memballoon_none;   /* <memballoon model='none'/> given */
    GPtrArray *rngs;            /* HyveRngDef* */
} HyveDomainDef;

/* ---- hyve_domain_def.c ------------------------------------------------- */
HyveDomainDef *hyve_domain_def_new(void);
void hyve_domain_def_free(HyveDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HyveDomainDef, hyve_domain_def_free)
HyveDomainDef *hyve_domain_def_copy(const HyveDomainDef *def, GError **error);
/* Bounds every stored definition stays in: at most HYVE_MAX_VCPUS vcpus and
 * HYVE_MAX_MEMORY_KIB of memory (CONFIG_UNSUPPORTED); formatted, at most
 * HYVE_DOMAIN_XML_MAX bytes (a remote string is at most 4 MiB), within the
 * element/attribute limits and well-formed (XML_ERROR). Checked at define
 * (end of hyve_domain_def_parse_string) and on every set-metadata. */
#define HYVE_MAX_VCPUS 255u
#define HYVE_MAX_MEMORY_KIB (G_GUINT64_CONSTANT(1) << 30)
#define HYVE_DOMAIN_XML_MAX (4u * 1024 * 1024 - 64 * 1024)
gboolean hyve_domain_def_check_limits(const HyveDomainDef *def, GError **error);

void hyve_disk_def_free(HyveDiskDef *disk);
void hyve_domain_net_def_free(HyveNetDef *net);
void hyve_chr_def_free(HyveChrDef *chr);
void hyve_rng_def_free(HyveRngDef *rng);

const char *hyve_lifecycle_action_to_string(HyveLifecycleAction a);
int hyve_lifecycle_action_from_string(const char *s);
const char *hyve_clock_offset_to_string(HyveClockOffset c);
int hyve_clock_offset_from_string(const char *s);
const char *hyve_disk_type_to_string(HyveDiskType t);
int hyve_disk_type_from_string(const char *s);
const char *hyve_net_type_to_string(HyveNetType t);
int hyve_net_type_from_string(const char *s);
const char *hyve_chr_type_to_string(HyveChrType t);
int hyve_chr_type_from_string(const char *s);

/* UUID text <-> bytes. Parse accepts libvirt's forms (hex digits with
 * optional dashes). */
gboolean hyve_uuid_parse(const char *str, guint8 uuid[HYVE_UUID_LEN]);
void hyve_uuid_format(const guint8 uuid[HYVE_UUID_LEN], char out[HYVE_UUID_STRING_LEN]);
void hyve_uuid_generate(guint8 uuid[HYVE_UUID_LEN]);
gboolean hyve_mac_parse(const char *str, guint8 mac[HYVE_MAC_LEN]);
void hyve_mac_format(const guint8 mac[HYVE_MAC_LEN], char out[18]);

/* ---- hyve_domain_xml.c: libxml2 parsing + RelaxNG ----------------------- */
/* Bounds on a document from a client, checked before libxml2 parses it
 * (its parser and RelaxNG validator are quadratic in attributes/children of
 * one element). XML_ERROR naming the limit. */
#define HYVE_XML_MAX_ELEMENTS 10000u
#define HYVE_XML_MAX_ELEMENT_ATTRS 64u
#define HYVE_XML_MAX_ATTRS 100000u
gboolean hyve_xml_check_limits(const char *xml, const char *what, GError **error);
/* Parses @xml with no network access and no DTD/entities. @what names the
 * document in messages, e.g. "(domain_definition)". XML_ERROR from XML. */
xmlDocPtr hyve_xml_parse_string(const char *xml, const char *what, GError **error);
/* Validates @doc against <schema_dir>/<rng_file> (loaded once per path,
 * cached for the life of the process). XML_INVALID_SCHEMA from XML. */
gboolean hyve_xml_validate(xmlDocPtr doc, const char *schema_dir, const char *rng_file,
                           GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
/* Appends @s (NULL: nothing) escaped as libvirt's virBufferEscapeString
 * does (& < > ' "), for text and attribute values. */
void hyve_xml_escape(GString *buf, const char *s);
/* "<tag>escaped value</tag>\n" indented by @indent spaces; nothing when
 * @value is NULL. */
void hyve_xml_text_element(GString *buf, int indent, const char *tag, const char *value);

/* ---- hyve_domain_parse.c ----------------------------------------------- */
typedef struct {
    const char *schema_dir;     /* where domain.rng lives */
    const char *emulator;       /* default and allowed <emulator> */
    const char *alt_emulator;   /* also allowed (e.g. the configured runner path), may be NULL */
} HyveDomainParseOptions;

/* Full pipeline (see the top of this file). */
HyveDomainDef *hyve_domain_def_parse_string(const char *xml,
                                            const HyveDomainParseOptions *opts,
                                            GError **error);
guint64 hyve_domain_parse_scaled(const char *value, const char *unit, gboolean *ok,
                                 const char **bad);

/* ---- hyve_domain_validate.c -------------------------------------------- */
/* Rejects elements/attributes outside what hyve runs (CONFIG_UNSUPPORTED). */
gboolean hyve_domain_xml_check_supported(xmlNodePtr root, GError **error);
/* Value checks on a parsed definition, before and after defaults. */
gboolean hyve_domain_def_validate(const HyveDomainDef *def,
                                  const HyveDomainParseOptions *opts, GError **error);

/* ---- hyve_domain_defaults.c -------------------------------------------- */
/* CONFIG_UNSUPPORTED listing every default of virt-install for bhyve that
 * hyve cannot run (SATA/IDE disk bus, CD-ROM, non-virtio NIC, nmdm console,
 * graphics/video/input, firmware) with the virt-install options to pass
 * instead; TRUE when there is none. Runs before the element whitelist. */
gboolean hyve_domain_xml_check_client_defaults(xmlNodePtr root, GError **error);
gboolean hyve_domain_def_fill_defaults(HyveDomainDef *def,
                                       const HyveDomainParseOptions *opts,
                                       GError **error);

/* ---- hyve_domain_format.c ---------------------------------------------- */
#define HYVE_DOMAIN_XML_SECURE     (1u << 0)
#define HYVE_DOMAIN_XML_INACTIVE   (1u << 1)
#define HYVE_DOMAIN_XML_UPDATE_CPU (1u << 2)
#define HYVE_DOMAIN_XML_MIGRATABLE (1u << 3)
/* @id: -1 for an inactive domain (no id attribute). */
char *hyve_domain_def_format(const HyveDomainDef *def, int id, guint flags);

/* ---- hyve_domain_metadata.c -------------------------------------------- */
char *hyve_domain_def_get_metadata(const HyveDomainDef *def, int type,
                                   const char *uri, GError **error);
gboolean hyve_domain_def_set_metadata(HyveDomainDef *def, int type,
                                      const char *metadata, const char *key,
                                      const char *uri, GError **error);

G_END_DECLS
