/*
 * hvr_config.h: bhyve-runner configuration (bhyve-style dotted keys).
 *
 * Design note: the driver writes one `key=value` per line, sorted; the runner
 * reads it from a file (-c) or an inherited descriptor (-f).  Every key is
 * declared in ONE table in hvr_config.c (name pattern, value type) and
 * documented in bhyve-runner.conf(5).  Parsing rejects, with the line number,
 * unknown keys, malformed values, duplicates and keys that do not belong to
 * the device configured in their PCI slot.
 *
 * Ownership: HvrConfig owns its strings.  Thread-safety: immutable after
 * hvr_config_parse() returns, so any thread may read it.
 */
#ifndef HVR_CONFIG_H
#define HVR_CONFIG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define HVR_PCI_SLOTS 32

typedef enum {
    HVR_PCI_NONE = 0,
    HVR_PCI_VIRTIO_BLK,
    HVR_PCI_VIRTIO_NET,
    HVR_PCI_VIRTIO_CONSOLE,
    HVR_PCI_VIRTIO_RNG,
    HVR_PCI_LAST
} HvrPciModel;

typedef struct {
    HvrPciModel model;
    int line;                 /* line of the .device key */
    char *path;               /* virtio-blk */
    bool readonly;
    char *serial;
    char *tap;                /* virtio-net */
    int fd;                   /* virtio-net inherited tap fd, -1 */
    char *mac;                /* virtio-net: "52:54:00:..." or NULL */
    char *backend;            /* virtio-console */
} HvrPciSlotConfig;

typedef struct {
    char *name;
    uint64_t memory_size;
    bool hugepages;
    bool mergeable;
    int cpus;
    char *kernel;
    char *kernel_cache;       /* boot.kernel_cache: decompressed-kernel cache dir */
    char *initrd;
    char *cmdline;
    char *com[2];             /* backends of COM1/COM2, NULL = absent */
    char *control_socket;
    char *exit_file;          /* exit.file: "status=N reason=WORD" on exit */
    bool boot_paused;         /* boot.paused: vCPUs wait for `resume` */
    bool sandbox;             /* sandbox: confine the runner after setup */
    int64_t sandbox_uid;      /* sandbox.uid, -1 = keep */
    int64_t sandbox_gid;      /* sandbox.gid, -1 = keep */
    HvrPciSlotConfig pci[HVR_PCI_SLOTS];
} HvrConfig;

HvrConfig *hvr_config_new(void);
void hvr_config_free(HvrConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvrConfig, hvr_config_free)

/* Parse the whole text.  On error returns FALSE with HVR_ERROR_CONF_SYNTAX
 * and a message "line N: ...". */
gboolean hvr_config_parse(HvrConfig *cfg, const char *text, GError **error);
gboolean hvr_config_load_file(HvrConfig *cfg, const char *path, GError **error);
gboolean hvr_config_load_fd(HvrConfig *cfg, int fd, GError **error);

const char *hvr_pci_model_to_string(HvrPciModel m);
/* The i-th key pattern of the key table ('*' = PCI slot), NULL past the end
 * (lets tests check that every key is documented). */
const char *hvr_config_key_pattern(guint i);

/* Write "status=N reason=WORD\n" to @path atomically (a temporary file in
 * the same directory, fsync, rename), so a reader sees the whole line or
 * nothing (hvr_config_file.c). */
gboolean hvr_exit_file_write(const char *path, int status, GError **error);
/* sandbox=true: the exit file is created empty during setup (O_TRUNC) and
 * gets the same line at exit with one pwrite at offset 0 + fdatasync, so a
 * reader sees an empty file while the runner runs.  Returns the fd or -1. */
int hvr_exit_file_open(const char *path, GError **error);
gboolean hvr_exit_file_write_fd(int fd, int status, GError **error);

/* Validate a character-device backend spec: pty, stdio, null,
 * unix:PATH, file:PATH. */
gboolean hvr_backend_spec_valid(const char *spec);
/* xx:xx:xx:xx:xx:xx with hex digits. */
gboolean hvr_mac_valid(const char *s);

#endif
