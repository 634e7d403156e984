/*
 * hvr_pm.h: ACPI fixed hardware (PM1 event/control), the power button, and
 * the reset paths (FADT reset register 0xCF9, i8042 command 0xFE on 0x64).
 *
 * Design note: PM1a_EVT at 0x600 (status word, enable word), PM1a_CNT at
 * 0x604.  The SCI is GSI 9, level-triggered, asserted while
 * (status & enable & PWRBTN) != 0 (bhyve's sci_update()).  A power-button
 * press that arrives before the guest enabled PWRBTN_EN is remembered and
 * delivered when it does (ACPICA clears the status bit when it installs the
 * handler, so an early press would otherwise be lost).  A write of SLP_EN
 * with SLP_TYP 5 (\_S5) powers off (exit 1); 0x64 <- 0xFE resets (exit 0).
 * The reset register 0xCF9 shares the dword at 0xCF8 with the PCI
 * CONFIG_ADDRESS latch and is therefore handled in hvr_pci.c.
 *
 * Thread-safety: `lock` guards the registers; hvr_pm_power_button() may be
 * called from any thread.
 */
#ifndef HVR_PM_H
#define HVR_PM_H

#include "hvr_machine.h"

#define HVR_PM1_PWRBTN  0x0100
#define HVR_PM1_SCI_EN  0x0001

HvrPm *hvr_pm_new(HvrMachine *m);
void hvr_pm_free(HvrPm *pm);
/* Press the power button.  Returns TRUE if the guest had enabled it (the
 * press was delivered now), FALSE if it is pending. */
gboolean hvr_pm_power_button(HvrPm *pm);

#endif
