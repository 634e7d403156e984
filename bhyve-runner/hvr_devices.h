/*
 * hvr_devices.h: the ONE table of device models (hvr_devices.c).
 *
 * Design note: every device model the runner can create is listed in
 * hvr_device_models[] with the function that creates it.  Built-in platform
 * devices (host bridge, ACPI PM, serial ports) are created once per machine
 * in table order; PCI models are created for each configured slot whose
 * pci.0.N.0.device names them.  Adding a model = one file + one table row.
 * Thread-safety: the table is constant; create functions run in the main
 * thread during machine setup, before any vCPU exists.
 */
#ifndef HVR_DEVICES_H
#define HVR_DEVICES_H

#include "hvr_machine.h"

typedef gboolean (*HvrDeviceCreateFn)(HvrMachine *m, int slot,
                                      const HvrPciSlotConfig *sc, GError **error);

typedef struct {
    const char *name;
    HvrPciModel pci_model;      /* HVR_PCI_NONE: built-in platform device */
    HvrDeviceCreateFn create;
} HvrDeviceModel;

gboolean hvr_devices_create(HvrMachine *m, GError **error);

/* Create functions (one file per model). */
gboolean hvr_pci_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_pm_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_uart_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_virtio_blk_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_virtio_net_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_virtio_console_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);
gboolean hvr_virtio_rng_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error);

#endif
