/* hvr_pm.c: PM1 registers, SCI, power button, S5 poweroff, resets. */
#include "hvr_acpi.h"
#include "hvr_pm.h"
#include "hyve/runner-exit.h"

struct _HvrPm {
    HvrMachine *m;
    GMutex lock;            /* guards sts, en, cnt, pending_press, sci */
    uint16_t sts;
    uint16_t en;
    uint16_t cnt;
    gboolean pending_press;
    int sci;
    uint64_t presses;
};

static void
hvr_pm_sci_update_locked(HvrPm *pm)
{
    int level = (pm->sts & pm->en & HVR_PM1_PWRBTN) != 0;

    if (level != pm->sci) {
        pm->sci = level;
        hvr_machine_irq_line(pm->m, HVR_SCI_IRQ, level);
    }
}

gboolean
hvr_pm_power_button(HvrPm *pm)
{
    gboolean now;

    g_mutex_lock(&pm->lock);
    pm->presses++;
    now = (pm->en & HVR_PM1_PWRBTN) != 0;
    if (now)
        pm->sts |= HVR_PM1_PWRBTN;
    else
        pm->pending_press = TRUE;
    hvr_pm_sci_update_locked(pm);
    g_mutex_unlock(&pm->lock);
    return now;
}

/* Byte-granular access to the 4-byte event block (sts lo/hi, en lo/hi). */
static void
hvr_pm_evt(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    HvrPm *pm = opaque;
    uint32_t cur, mask;
    unsigned shift = (unsigned)off * 8;

    if (off + size > 4)
        size = 4 - (unsigned)off;
    mask = size >= 4 ? 0xFFFFFFFFu : ((1u << (size * 8)) - 1) << shift;
    g_mutex_lock(&pm->lock);
    cur = pm->sts | (uint32_t)pm->en << 16;
    if (!write) {
        *val = (cur & mask) >> shift;
    } else {
        uint32_t w = ((uint32_t)*val << shift) & mask;
        uint16_t en_old = pm->en;

        pm->sts &= ~(uint16_t)(w & 0xFFFF);                 /* write 1 to clear */
        if (mask & 0xFFFF0000u)
            pm->en = (uint16_t)(((cur & ~mask) | w) >> 16) & 0x0721;
        if (!(en_old & HVR_PM1_PWRBTN) && (pm->en & HVR_PM1_PWRBTN) &&
            pm->pending_press) {
            pm->pending_press = FALSE;
            pm->sts |= HVR_PM1_PWRBTN;
        }
    }
    hvr_pm_sci_update_locked(pm);
    g_mutex_unlock(&pm->lock);
}

static void
hvr_pm_cnt(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    HvrPm *pm = opaque;
    gboolean poweroff = FALSE;

    g_mutex_lock(&pm->lock);
    if (!write) {
        *val = (pm->cnt | HVR_PM1_SCI_EN) >> (off * 8);
    } else if (off == 0) {
        uint16_t v = (uint16_t)*val;

        if (size == 1)
            v = (pm->cnt & 0xFF00) | (v & 0xFF);
        pm->cnt = (v & ~0x2000) | HVR_PM1_SCI_EN;
        if ((v & 0x2000) && ((v >> 10) & 7) == 5)
            poweroff = TRUE;
    } else {
        uint16_t v = (uint16_t)((*val & 0xFF) << 8);

        pm->cnt = (pm->cnt & 0x00FF) | (v & ~0x2000);
        if ((v & 0x2000) && ((v >> 10) & 7) == 5)
            poweroff = TRUE;
    }
    g_mutex_unlock(&pm->lock);
    if (poweroff)
        hvr_machine_request_exit(pm->m, HYVE_RUNNER_EXIT_POWEROFF, "ACPI S5 (guest poweroff)");
}

/* Minimal i8042: status always "input buffer empty", 0xFE pulses reset. */
static void
hvr_pm_i8042(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    HvrPm *pm = opaque;

    if (!write) {
        *val = 0;
        return;
    }
    if (off == 4 && (*val & 0xFF) == 0xFE)
        hvr_machine_request_exit(pm->m, HYVE_RUNNER_EXIT_REBOOT, "keyboard controller reset");
}

static void
hvr_pm_stats(void *opaque, GString *out)
{
    HvrPm *pm = opaque;

    g_mutex_lock(&pm->lock);
    g_string_append_printf(out, " pm.power_button_presses=%" G_GUINT64_FORMAT
                           " pm.pwrbtn_enabled=%d", pm->presses,
                           (pm->en & HVR_PM1_PWRBTN) != 0);
    g_mutex_unlock(&pm->lock);
}

HvrPm *
hvr_pm_new(HvrMachine *m)
{
    HvrPm *pm = g_new0(HvrPm, 1);
    HvrDevice *dev = g_new0(HvrDevice, 1);

    g_mutex_init(&pm->lock);
    pm->m = m;
    pm->cnt = HVR_PM1_SCI_EN;
    hvr_iobus_add(m->pio, HVR_PM1_EVT_PORT, 4, hvr_pm_evt, pm);
    hvr_iobus_add(m->pio, HVR_PM1_CNT_PORT, 2, hvr_pm_cnt, pm);
    hvr_iobus_add(m->pio, 0x60, 5, hvr_pm_i8042, pm);
    dev->model = "pm";
    dev->slot = -1;
    dev->opaque = pm;
    dev->stats = hvr_pm_stats;
    dev->free = (void (*)(void *))hvr_pm_free;
    hvr_machine_add_device(m, dev);
    return pm;
}

void
hvr_pm_free(HvrPm *pm)
{
    if (!pm)
        return;
    g_mutex_clear(&pm->lock);
    g_free(pm);
}
