/*
 * hvr_pci.h: PCI bus 0 with the type-1 configuration mechanism.
 *
 * Design note: 0xCF8 is the CONFIG_ADDRESS latch, 0xCFC-0xCFF the data
 * window; a byte write to 0xCF9 is the reset control register (bit 2 =
 * reset, exit 0).  Slot 0 holds a host bridge (class 0x0600, what Linux's
 * pci_sanity_check() looks for).  Devices are single-function type-0
 * headers; their BARs are memory BARs pre-assigned inside the DSDT's _CRS
 * window (HVR_PCI_MMIO_BASE..) and registered on the MMIO bus.  A BAR write
 * with a new address inside the window moves the range (and calls the
 * device's bar_moved hook so it can move ioeventfds); sizing writes
 * (0xFFFFFFFF) only change what the BAR reads back.
 *
 * Thread-safety: the bus `lock` guards the address latch and every device's
 * config space; hooks (cfg_written, bar_moved) run with it held and may take
 * their device's lock (lock order: PCI bus lock, then device lock).
 */
#ifndef HVR_PCI_H
#define HVR_PCI_H

#include "hvr_machine.h"

#define HVR_PCI_CAP_MSIX 0x11
#define HVR_PCI_CAP_VNDR 0x09

typedef struct _HvrPciDev HvrPciDev;

struct _HvrPciDev {
    int slot;
    uint8_t cfg[256];
    uint8_t wmask[256];          /* writable bits */
    uint8_t next_cap;            /* allocator for capabilities */
    uint8_t last_cap;
    struct {
        uint64_t size;           /* 0 = unused */
        uint64_t addr;
        unsigned range_id;       /* MMIO bus range */
    } bar[6];
    void *opaque;
    /* After a guest write to config space [off, off+size). */
    void (*cfg_written)(void *opaque, unsigned off, unsigned size);
    void (*bar_moved)(void *opaque, int bar, uint64_t old_addr, uint64_t new_addr);
};

HvrPci *hvr_pci_new(HvrMachine *m);
void hvr_pci_free(HvrPci *pci);
/* A bus without a machine (unit tests): no I/O registration. */
HvrPci *hvr_pci_new_detached(void);

/* Initialise a type-0 header. */
void hvr_pci_dev_init(HvrPciDev *d, uint16_t vendor, uint16_t device,
                      uint32_t class_code, uint8_t revision,
                      uint16_t subvendor, uint16_t subdevice);
/* Add a capability of @len bytes with id @id; returns its offset. */
uint8_t hvr_pci_dev_add_cap(HvrPciDev *d, uint8_t id, uint8_t len);
/* Declare a 32-bit memory BAR of @size (power of two >= 4096), assign it an
 * address and map it with @fn on the MMIO bus (when the bus has a machine). */
gboolean hvr_pci_dev_add_bar(HvrPci *pci, HvrPciDev *d, int bar, uint64_t size,
                             HvrIoHandler fn, void *opaque, GError **error);
gboolean hvr_pci_register(HvrPci *pci, HvrPciDev *d, int slot, GError **error);

/* Config mechanism #1 port handler (exposed for tests). */
void hvr_pci_port_access(HvrPci *pci, unsigned off, unsigned size, bool write,
                         uint64_t *val);

/* Little-endian helpers for config space. */
static inline void hvr_pci_set16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void hvr_pci_set32(uint8_t *p, uint32_t v) { hvr_pci_set16(p, v); hvr_pci_set16(p + 2, v >> 16); }
static inline uint16_t hvr_pci_get16(const uint8_t *p) { return p[0] | p[1] << 8; }
static inline uint32_t hvr_pci_get32(const uint8_t *p) { return hvr_pci_get16(p) | (uint32_t)hvr_pci_get16(p + 2) << 16; }

#endif
