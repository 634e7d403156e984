/* hvr_devices.c: the device model table and machine device creation. */
#include "hvr_chardev.h"
#include "hvr_devices.h"
#include "hvr_pci.h"
#include "hvr_pm.h"
#include "hvr_uart.h"

static const HvrDeviceModel hvr_device_models[] = {
    /* built-in platform devices, created in this order */
    { "pci-hostbridge", HVR_PCI_NONE, hvr_pci_create },
    { "acpi-pm", HVR_PCI_NONE, hvr_pm_create },
    { "uart", HVR_PCI_NONE, hvr_uart_create },
    /* PCI device models, created per configured slot */
    { "virtio-blk", HVR_PCI_VIRTIO_BLK, hvr_virtio_blk_create },
    { "virtio-net", HVR_PCI_VIRTIO_NET, hvr_virtio_net_create },
    { "virtio-console", HVR_PCI_VIRTIO_CONSOLE, hvr_virtio_console_create },
    { "virtio-rng", HVR_PCI_VIRTIO_RNG, hvr_virtio_rng_create },
};

gboolean
hvr_pci_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    m->pci = hvr_pci_new(m);
    return TRUE;
}

gboolean
hvr_pm_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    m->pm = hvr_pm_new(m);
    return TRUE;
}

gboolean
hvr_uart_create(HvrMachine *m, int slot, const HvrPciSlotConfig *sc, GError **error)
{
    int i;

    for (i = 0; i < 2; i++) {
        HvrChardev *chr = NULL;

        if (m->cfg->com[i]) {
            g_autofree char *label = g_strdup_printf("com%d", i + 1);

            chr = hvr_chardev_new(m->cfg->com[i], label, error);
            if (!chr)
                return FALSE;
            if (g_str_equal(m->cfg->com[i], "pty"))
                hvr_log("com%d: %s", i + 1, hvr_chardev_path(chr));
            hvr_machine_add_console(m, label, hvr_chardev_path(chr));
        }
        /* An unconfigured port still answers (Linux probes both); it just
         * has no backend. */
        hvr_uart_new(m, i, chr);
    }
    return TRUE;
}

gboolean
hvr_devices_create(HvrMachine *m, GError **error)
{
    guint i;
    int slot;

    for (i = 0; i < G_N_ELEMENTS(hvr_device_models); i++) {
        const HvrDeviceModel *dm = &hvr_device_models[i];

        if (dm->pci_model == HVR_PCI_NONE) {
            if (!dm->create(m, -1, NULL, error)) {
                g_prefix_error(error, "%s: ", dm->name);
                return FALSE;
            }
            continue;
        }
        for (slot = 1; slot < HVR_PCI_SLOTS; slot++) {
            const HvrPciSlotConfig *sc = &m->cfg->pci[slot];

            if (sc->model != dm->pci_model)
                continue;
            if (!dm->create(m, slot, sc, error)) {
                g_prefix_error(error, "%s in PCI slot %d: ", dm->name, slot);
                return FALSE;
            }
        }
    }
    return TRUE;
}
