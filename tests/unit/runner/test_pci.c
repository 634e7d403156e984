/* test_pci.c: type-1 config mechanism, host bridge, BAR sizing and moves,
 * the virtio-pci capability chain and the common-config state machine. */
#include <check.h>
#include <string.h>

#include "hvr_acpi.h"
#include "hvr_pci.h"
#include "hvr_virtio_pci.h"

#include "test_common.h"

static uint32_t
cfg_read(HvrPci *pci, unsigned slot, unsigned reg, unsigned size)
{
    uint64_t v = 0x80000000u | slot << 11 | (reg & 0xFC);

    hvr_pci_port_access(pci, 0, 4, true, &v);
    v = 0;
    hvr_pci_port_access(pci, 4 + (reg & 3), size, false, &v);
    return (uint32_t)v;
}

static void
cfg_write(HvrPci *pci, unsigned slot, unsigned reg, unsigned size, uint32_t val)
{
    uint64_t v = 0x80000000u | slot << 11 | (reg & 0xFC);

    hvr_pci_port_access(pci, 0, 4, true, &v);
    v = val;
    hvr_pci_port_access(pci, 4 + (reg & 3), size, true, &v);
}

static const HvrVirtioModel test_model = {
    .name = "virtio-test", .type = 2, .class_code = 0x010000,
    .nqueues = 2, .queue_size = 256, .features = 1ULL << 9, .config_size = 8,
};

static HvrVirtioDev *
make_virtio(HvrPci *pci, int slot)
{
    HvrVirtioDev *dev = hvr_virtio_new(NULL, &test_model, slot, NULL);

    ck_assert(dev);
    ck_assert(hvr_pci_dev_add_bar(pci, &dev->pci, 0, 0x8000, NULL, NULL, NULL));
    ck_assert(hvr_pci_register(pci, &dev->pci, slot, NULL));
    return dev;
}

/* What hvr_virtio_new() allocated without a machine (no irqfds, no
 * thread): the machine's device list frees it in the runner. */
static void
free_virtio(HvrVirtioDev *dev)
{
    unsigned i;

    for (i = 0; i < dev->model->nqueues; i++)
        close(dev->q[i].notify_fd);
    close(dev->wake_fd);
    g_mutex_clear(&dev->lock);
    g_free(dev);
}

/* config-space probes: {slot, reg, size, expected} */
static const struct {
    const char *name;
    unsigned slot, reg, size;
    uint32_t want;
} probes[] = {
    { "hostbridge-ids", 0, 0x00, 4, 0x12378086 },
    { "hostbridge-class", 0, 0x0A, 2, 0x0600 },
    { "hostbridge-header", 0, 0x0E, 1, 0x00 },
    { "empty-slot", 7, 0x00, 4, 0xFFFFFFFF },
    { "empty-slot-word", 7, 0x02, 2, 0xFFFF },
    { "virtio-ids", 3, 0x00, 4, 0x10421AF4 },
    { "virtio-revision", 3, 0x08, 1, 0x01 },
    { "virtio-class", 3, 0x08, 4 - 1, 0x010000 },
    { "virtio-subsystem", 3, 0x2C, 4, 0x00421AF4 },
    { "virtio-status-caps", 3, 0x06, 2, 0x0010 },
    { "virtio-int-pin", 3, 0x3D, 1, 0x00 },
    { "virtio-bar1-absent", 3, 0x14, 4, 0x00000000 },
    { "virtio-bar0", 3, 0x10, 4, 0xC0000000 },
    { "virtio-cap-ptr", 3, 0x34, 1, 0x40 },
};

START_TEST(test_probe)
{
    HvrPci *pci = hvr_pci_new_detached();
    HvrVirtioDev *dev = make_virtio(pci, 3);
    uint32_t v = cfg_read(pci, probes[_i].slot, probes[_i].reg, probes[_i].size == 3 ? 4 : probes[_i].size);

    if (probes[_i].size == 3)
        v >>= 8;
    ck_assert_msg(v == probes[_i].want, "%s: read 0x%x, expected 0x%x", probes[_i].name, v, probes[_i].want);
    hvr_pci_free(pci);
    free_virtio(dev);
}
END_TEST

START_TEST(test_mechanism)
{
    HvrPci *pci = hvr_pci_new_detached();
    uint64_t v;

    /* Linux pci_check_type1(): byte write to 0xCFB, then the latch reads back */
    v = 0x01;
    hvr_pci_port_access(pci, 3, 1, true, &v);
    v = 0x80000000;
    hvr_pci_port_access(pci, 0, 4, true, &v);
    v = 0;
    hvr_pci_port_access(pci, 0, 4, false, &v);
    ck_assert_msg(v == 0x80000000, "latch read back 0x%" G_GINT64_MODIFIER "x", v);
    /* disabled address: all ones */
    v = 0x00000000;
    hvr_pci_port_access(pci, 0, 4, true, &v);
    hvr_pci_port_access(pci, 4, 4, false, &v);
    ck_assert_msg(v == 0xFFFFFFFF, "disabled config cycle read 0x%" G_GINT64_MODIFIER "x", v);
    /* function 1 of the host bridge is absent */
    ck_assert_uint_eq(cfg_read(pci, 0, 0x100 | 0x00, 4), 0x12378086); /* reg wraps in 8 bits */
    v = 0x80000100;
    hvr_pci_port_access(pci, 0, 4, true, &v);
    hvr_pci_port_access(pci, 4, 4, false, &v);
    ck_assert_msg(v == 0xFFFFFFFF, "function 1 read 0x%" G_GINT64_MODIFIER "x", v);
    hvr_pci_free(pci);
}
END_TEST

START_TEST(test_bar)
{
    HvrPci *pci = hvr_pci_new_detached();
    HvrVirtioDev *dev = make_virtio(pci, 4);
    HvrVirtioDev *dev2 = make_virtio(pci, 5);

    ck_assert_uint_eq(dev->pci.bar[0].addr, 0xC0000000);
    ck_assert_uint_eq(dev2->pci.bar[0].addr, 0xC0008000);
    /* sizing */
    cfg_write(pci, 4, 0x10, 4, 0xFFFFFFFF);
    ck_assert_uint_eq(cfg_read(pci, 4, 0x10, 4), 0xFFFF8000);
    ck_assert_uint_eq(dev->pci.bar[0].addr, 0xC0000000);
    cfg_write(pci, 4, 0x10, 4, 0xC0000000);
    ck_assert_uint_eq(cfg_read(pci, 4, 0x10, 4), 0xC0000000);
    /* unaligned address: low bits dropped */
    cfg_write(pci, 4, 0x10, 4, 0xC0104321);
    ck_assert_uint_eq(cfg_read(pci, 4, 0x10, 4), 0xC0100000);
    ck_assert_uint_eq(dev->pci.bar[0].addr, 0xC0100000);
    /* outside the window: mapping stays */
    cfg_write(pci, 4, 0x10, 4, 0x10000000);
    ck_assert_uint_eq(dev->pci.bar[0].addr, 0xC0100000);
    /* command register: only decode/master/INTx-disable bits stick */
    cfg_write(pci, 4, 0x04, 2, 0xFFFF);
    ck_assert_uint_eq(cfg_read(pci, 4, 0x04, 2), 0x0407);
    /* read-only IDs */
    cfg_write(pci, 4, 0x00, 4, 0);
    ck_assert_uint_eq(cfg_read(pci, 4, 0x00, 4), 0x10421AF4);
    hvr_pci_free(pci);
    free_virtio(dev);
    free_virtio(dev2);
}
END_TEST

START_TEST(test_caps)
{
    HvrPci *pci = hvr_pci_new_detached();
    HvrVirtioDev *dev = make_virtio(pci, 2);
    unsigned seen[5] = { 0 }, off = cfg_read(pci, 2, 0x34, 1), n = 0;

    while (off && n++ < 16) {
        uint8_t id = cfg_read(pci, 2, off, 1);

        ck_assert_msg(off >= 0x40 && off % 4 == 0, "cap at 0x%x", off);
        if (id == HVR_PCI_CAP_MSIX) {
            ck_assert_uint_eq(cfg_read(pci, 2, off + 2, 2) & 0x7FF, 2);     /* 3 vectors */
            ck_assert_uint_eq(cfg_read(pci, 2, off + 4, 4), 0x4000);
            ck_assert_uint_eq(cfg_read(pci, 2, off + 8, 4), 0x5000);
            /* enable MSI-X through config space */
            cfg_write(pci, 2, off + 2, 2, 0x8000);
            ck_assert(dev->msix_enabled && !dev->msix_masked);
        } else {
            uint8_t type = cfg_read(pci, 2, off + 3, 1);

            ck_assert_uint_eq(id, HVR_PCI_CAP_VNDR);
            ck_assert_msg(type >= 1 && type <= 4, "cfg_type %u", type);
            seen[type]++;
            ck_assert_uint_eq(cfg_read(pci, 2, off + 2, 1), type == 2 ? 20 : 16);
            ck_assert_uint_eq(cfg_read(pci, 2, off + 4, 1), 0);        /* BAR0 */
            if (type == 1)
                ck_assert_uint_ge(cfg_read(pci, 2, off + 12, 4), 56);
            if (type == 2)
                ck_assert_uint_eq(cfg_read(pci, 2, off + 16, 4), 4);
        }
        off = cfg_read(pci, 2, off + 1, 1);
    }
    ck_assert_msg(seen[1] == 1 && seen[2] == 1 && seen[3] == 1 && seen[4] == 1,
                  "virtio caps %u %u %u %u", seen[1], seen[2], seen[3], seen[4]);
    hvr_pci_free(pci);
    free_virtio(dev);
}
END_TEST

static uint64_t
bar_rd(HvrVirtioDev *dev, unsigned off, unsigned size)
{
    uint64_t v = 0;

    hvr_virtio_bar_access(dev, off, size, false, &v);
    return v;
}

static void
bar_wr(HvrVirtioDev *dev, unsigned off, unsigned size, uint64_t v)
{
    hvr_virtio_bar_access(dev, off, size, true, &v);
}

START_TEST(test_common_cfg)
{
    static uint8_t ram[0x10000];
    g_autoptr(HvrMem) mem = hvr_mem_new_from(ram, sizeof(ram));
    HvrMachine fake;
    HvrVirtioDev *dev = hvr_virtio_new(NULL, &test_model, 2, NULL);

    memset(&fake, 0, sizeof(fake));
    fake.mem = mem;
    dev->m = &fake;
    bar_wr(dev, 20, 1, 0);                       /* reset: queues get RAM */
    ck_assert_uint_eq(bar_rd(dev, 20, 1), 0);
    ck_assert_uint_eq(bar_rd(dev, 18, 2), 2);     /* num_queues */
    bar_wr(dev, 0, 4, 0);
    ck_assert_uint_eq(bar_rd(dev, 4, 4), 1u << 9);
    bar_wr(dev, 0, 4, 1);
    ck_assert_uint_eq(bar_rd(dev, 4, 4), 1);      /* VERSION_1 */
    bar_wr(dev, 20, 1, 1 | 2);
    /* driver without VERSION_1: FEATURES_OK refused */
    bar_wr(dev, 8, 4, 0);
    bar_wr(dev, 12, 4, 1u << 9);
    bar_wr(dev, 20, 1, 1 | 2 | 8);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & 8, 0);
    /* feature the device does not have: refused */
    bar_wr(dev, 8, 4, 1);
    bar_wr(dev, 12, 4, 1 | 2);
    bar_wr(dev, 20, 1, 1 | 2 | 8);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & 8, 0);
    bar_wr(dev, 12, 4, 1);
    bar_wr(dev, 20, 1, 1 | 2 | 8);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & 8, 8);
    /* queue registers */
    bar_wr(dev, 22, 2, 1);
    ck_assert_uint_eq(bar_rd(dev, 24, 2), 256);
    bar_wr(dev, 24, 2, 100);                      /* not a power of two: ignored */
    ck_assert_uint_eq(bar_rd(dev, 24, 2), 256);
    bar_wr(dev, 24, 2, 64);
    ck_assert_uint_eq(bar_rd(dev, 24, 2), 64);
    bar_wr(dev, 26, 2, 7);                        /* vector beyond table: 0xFFFF */
    ck_assert_uint_eq(bar_rd(dev, 26, 2), 0xFFFF);
    bar_wr(dev, 26, 2, 2);
    ck_assert_uint_eq(bar_rd(dev, 26, 2), 2);
    ck_assert_uint_eq(bar_rd(dev, 30, 2), 1);     /* notify offset = index */
    /* rings outside RAM: enabling puts the device into DEVICE_NEEDS_RESET */
    bar_wr(dev, 32, 4, 0x1000);
    bar_wr(dev, 36, 4, 0x1);                      /* desc at 4 GiB + 4 KiB */
    bar_wr(dev, 40, 4, 0x2000);
    bar_wr(dev, 48, 4, 0x3000);
    ck_assert_uint_eq(bar_rd(dev, 32, 4), 0x1000);
    ck_assert_uint_eq(bar_rd(dev, 36, 4), 1);
    bar_wr(dev, 28, 2, 1);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
    ck_assert(!hvr_virtio_queue_ready(dev, 1));
    /* reset clears everything */
    bar_wr(dev, 20, 1, 0);
    ck_assert_uint_eq(bar_rd(dev, 20, 1), 0);
    bar_wr(dev, 22, 2, 1);
    ck_assert_uint_eq(bar_rd(dev, 26, 2), 0xFFFF);
    ck_assert_uint_eq(bar_rd(dev, 28, 2), 0);
    /* good rings */
    bar_wr(dev, 32, 4, 0x1000);
    bar_wr(dev, 40, 4, 0x2000);
    bar_wr(dev, 48, 4, 0x3000);
    bar_wr(dev, 28, 2, 1);
    bar_wr(dev, 20, 1, 1 | 2 | 4);
    ck_assert(hvr_virtio_queue_ready(dev, 1));
    ck_assert(!hvr_virtio_queue_ready(dev, 0));
    /* MSI-X table entry starts masked, takes writes */
    ck_assert_uint_eq(bar_rd(dev, 0x4000 + 12, 4), 1);
    bar_wr(dev, 0x4000 + 16 + 8, 4, 0x41);
    ck_assert_uint_eq(bar_rd(dev, 0x4000 + 16 + 8, 4), 0x41);
    /* a 64-bit write of the address pair */
    bar_wr(dev, 0x4000 + 32, 8, 0x00000001FEE01000ULL);
    ck_assert_uint_eq(bar_rd(dev, 0x4000 + 32, 4), 0xFEE01000);
    ck_assert_uint_eq(bar_rd(dev, 0x4000 + 36, 4), 1);
    ck_assert_uint_eq(bar_rd(dev, 0x4000 + 32, 8), 0x00000001FEE01000ULL);
    /* out-of-range and odd accesses are harmless */
    ck_assert_uint_eq(bar_rd(dev, 0x7FF0, 4), 0);
    bar_wr(dev, 0x4000 + 16 * 9, 4, 5);
    ck_assert_uint_eq(bar_rd(dev, 0x1000, 1), 0);
    free_virtio(dev);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-pci");
    TCase *tc = tcase_create("pci");

    tcase_add_loop_test(tc, test_probe, 0, G_N_ELEMENTS(probes));
    tcase_add_test(tc, test_mechanism);
    tcase_add_test(tc, test_bar);
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_common_cfg);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
