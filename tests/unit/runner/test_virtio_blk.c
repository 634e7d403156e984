/* test_virtio_blk.c: virtio-blk end to end below the guest: the driver side
 * is played by this test (features, rings in a RAM view, doorbell writes
 * through BAR0), the device side is the real model with its I/O thread,
 * ioeventfds and irqfds on a KVM VM of this host.  Requests: write, read
 * back, flush, GET_ID, discard, out of range, unsupported, read-only, and a
 * looping chain that must put the device into DEVICE_NEEDS_RESET.
 * Skipped (77) without a usable /dev/kvm. */
#include <check.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "hvr_devices.h"
#include "hvr_pci.h"
#include "hvr_virtio_pci.h"
#include "vmm.h"

#define RAM   (4 << 20)
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define HDR   0x20000     /* request headers, 16 bytes each */
#define DATA  0x30000
#define STAT  0x80000     /* status bytes */
#define QSZ   16

static uint8_t *ram;
static HvrMachine mach;
static char *disk;

static void wr16(uint64_t a, uint16_t v) { ram[a] = v; ram[a + 1] = v >> 8; }
static void wr32(uint64_t a, uint32_t v) { wr16(a, v); wr16(a + 2, v >> 16); }
static void wr64(uint64_t a, uint64_t v) { wr32(a, v); wr32(a + 4, v >> 32); }
static uint16_t rd16(uint64_t a) { return ram[a] | ram[a + 1] << 8; }
static uint32_t rd32(uint64_t a) { return rd16(a) | (uint32_t)rd16(a + 2) << 16; }

static void
bar(HvrVirtioDev *dev, unsigned off, unsigned size, uint64_t v)
{
    hvr_virtio_bar_access(dev, off, size, true, &v);
}

static uint64_t
bar_rd(HvrVirtioDev *dev, unsigned off, unsigned size)
{
    uint64_t v = 0;

    hvr_virtio_bar_access(dev, off, size, false, &v);
    return v;
}

static HvrVirtioDev *
setup(gboolean readonly)
{
    HvrPciSlotConfig sc = { .model = HVR_PCI_VIRTIO_BLK, .path = disk, .readonly = readonly,
                            .serial = (char *)"unit-serial-1", .fd = -1 };
    g_autoptr(GError) err = NULL;
    HvrVirtioDev *dev;

    memset(&mach, 0, sizeof(mach));
    ram = g_malloc0(RAM);
    mach.mem = hvr_mem_new_from(ram, RAM);
    ck_assert_int_eq(vmm_create("blk", &mach.vm), 0);
    ck_assert_int_eq(vmm_create_irqchip(mach.vm), 0);
    mach.pci = hvr_pci_new_detached();
    mach.devices = g_ptr_array_new();
    ck_assert_msg(hvr_virtio_blk_create(&mach, 3, &sc, &err), "create: %s", err ? err->message : "");
    {
        HvrDevice *d = g_ptr_array_index(mach.devices, 0);

        dev = d->opaque;
        d->start(d->opaque);    /* hvr_machine_run() does this in the runner */
    }

    bar(dev, 20, 1, 0);
    bar(dev, 20, 1, 1 | 2);
    bar(dev, 8, 4, 1);
    bar(dev, 12, 4, 1);                          /* VERSION_1 */
    bar(dev, 8, 4, 0);
    bar(dev, 12, 4, readonly ? 1u << 5 : (1u << 9) | (1u << 13));    /* RO | FLUSH+DISCARD */
    bar(dev, 20, 1, 1 | 2 | 8);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & 8, 8);
    bar(dev, 22, 2, 0);
    bar(dev, 24, 2, QSZ);
    bar(dev, 32, 4, DESC);
    bar(dev, 40, 4, AVAIL);
    bar(dev, 48, 4, USED);
    bar(dev, 28, 2, 1);
    bar(dev, 20, 1, 1 | 2 | 8 | 4);
    ck_assert(hvr_virtio_queue_ready(dev, 0));
    return dev;
}

static void
teardown(void)
{
    guint i;

    for (i = 0; i < mach.devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(mach.devices, i);

        d->free(d->opaque);
        g_free(d);
    }
    g_ptr_array_unref(mach.devices);
    hvr_pci_free(mach.pci);
    vmm_destroy(mach.vm);
    hvr_mem_free(mach.mem);
    g_free(ram);
}

static unsigned next_desc, next_avail;

static unsigned
add_desc(uint64_t addr, uint32_t len, uint16_t flags)
{
    unsigned i = next_desc++ % QSZ;

    wr64(DESC + 16 * i, addr);
    wr32(DESC + 16 * i + 8, len);
    wr16(DESC + 16 * i + 12, flags | (flags & 0x8000 ? 0 : 1));   /* NEXT unless last */
    wr16(DESC + 16 * i + 14, (i + 1) % QSZ);
    return i;
}

/* Submit header [+ data] + status; returns the status byte (or 0xEE on
 * time-out) and the used length. */
static uint8_t
request(HvrVirtioDev *dev, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
        bool data_write, uint32_t *used_len)
{
    unsigned head, slot = next_avail % QSZ;
    uint16_t used_before = rd16(USED + 2);
    uint64_t st = STAT + slot;
    int i;

    wr32(HDR + 16 * slot, type);
    wr32(HDR + 16 * slot + 4, 0);
    wr64(HDR + 16 * slot + 8, sector);
    ram[st] = 0xEE;
    head = add_desc(HDR + 16 * slot, 16, 0);
    if (len)
        add_desc(data, len, data_write ? VRING_DESC_F_WRITE : 0);
    i = add_desc(st, 1, VRING_DESC_F_WRITE | 0x8000);
    wr16(DESC + 16 * i + 12, VRING_DESC_F_WRITE);                 /* last: no NEXT */
    wr16(AVAIL + 4 + 2 * slot, head);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr16(AVAIL + 2, ++next_avail);
    bar(dev, 0x3000, 2, 0);                                       /* doorbell queue 0 */
    for (i = 0; i < 400 && rd16(USED + 2) == used_before; i++)
        g_usleep(5000);
    if (rd16(USED + 2) == used_before)
        return 0xEE;
    if (used_len)
        *used_len = rd32(USED + 4 + 8 * ((rd16(USED + 2) - 1) % QSZ) + 4);
    return ram[st];
}

START_TEST(test_rw)
{
    HvrVirtioDev *dev;
    uint32_t used = 0;
    char buf[4096];
    int fd;

    next_desc = next_avail = 0;
    dev = setup(FALSE);
    ck_assert_uint_eq(dev->config[0] | dev->config[1] << 8, 2048);      /* 1 MiB / 512 */
    memset(ram + DATA, 'A', 4096);
    ck_assert_uint_eq(request(dev, 1, 8, DATA, 4096, false, &used), 0);  /* OUT */
    ck_assert_uint_eq(used, 1);
    fd = open(disk, O_RDONLY);
    ck_assert(pread(fd, buf, 4096, 8 * 512) == 4096);
    close(fd);
    ck_assert_msg(buf[0] == 'A' && buf[4095] == 'A', "data not on disk");
    memset(ram + DATA, 0, 4096);
    ck_assert_uint_eq(request(dev, 0, 8, DATA, 4096, true, &used), 0);   /* IN */
    ck_assert_uint_eq(used, 4097);
    ck_assert(ram[DATA] == 'A' && ram[DATA + 4095] == 'A');
    ck_assert_uint_eq(request(dev, 4, 0, 0, 0, false, NULL), 0);          /* FLUSH */
    memset(ram + DATA, 0, 32);
    ck_assert_uint_eq(request(dev, 8, 0, DATA, 20, true, &used), 0);      /* GET_ID */
    ck_assert_str_eq((char *)ram + DATA, "unit-serial-1");
    ck_assert_uint_eq(request(dev, 0, 2047, DATA, 1024, true, NULL), 1);  /* past the end */
    ck_assert_uint_eq(request(dev, 0, ~0ULL / 512, DATA, 512, true, NULL), 1);
    ck_assert_uint_eq(request(dev, 99, 0, 0, 0, false, NULL), 2);         /* unsupported */
    /* discard sectors 8..15: one segment {sector, num, flags} */
    wr64(DATA, 8);
    wr32(DATA + 8, 8);
    wr32(DATA + 12, 0);
    ck_assert_uint_eq(request(dev, 11, 0, DATA, 16, false, NULL), 0);
    fd = open(disk, O_RDONLY);
    ck_assert(pread(fd, buf, 4096, 8 * 512) == 4096);
    close(fd);
    ck_assert_msg(buf[0] == 0 && buf[4095] == 0, "discard did not zero the range");
    /* discard whose sector * 512 wraps to 0: refused, data untouched */
    fd = open(disk, O_WRONLY);
    ck_assert(pwrite(fd, "Z", 1, 0) == 1);
    close(fd);
    wr64(DATA, 1ULL << 55);
    wr32(DATA + 8, 1);
    ck_assert_uint_eq(request(dev, 11, 0, DATA, 16, false, NULL), 1);
    fd = open(disk, O_RDONLY);
    ck_assert(pread(fd, buf, 1, 0) == 1);
    close(fd);
    ck_assert_msg(buf[0] == 'Z', "wrapped discard punched sector 0");
    /* a looping chain: the device goes to DEVICE_NEEDS_RESET and survives */
    wr64(DESC, HDR);
    wr32(DESC + 8, 16);
    wr16(DESC + 12, 1);
    wr16(DESC + 14, 0);
    wr16(AVAIL + 4 + 2 * (next_avail % QSZ), 0);
    wr16(AVAIL + 2, ++next_avail);
    bar(dev, 0x3000, 2, 0);
    for (int i = 0; i < 400 && !(bar_rd(dev, 20, 1) & VIRTIO_STATUS_NEEDS_RESET); i++)
        g_usleep(5000);
    ck_assert_uint_eq(bar_rd(dev, 20, 1) & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
    teardown();
}
END_TEST

/* Queue @n requests (type @type, 4 KiB each, sector 8 * k, buffer
 * DATA + 4096 * k) behind ONE doorbell (the device drains them as a batch);
 * wait for all; returns how many came back used, and checks each used id
 * is one of ours, once. */
static unsigned
request_batch(HvrVirtioDev *dev, uint32_t type, unsigned n, bool wait)
{
    uint16_t used_before = rd16(USED + 2);
    unsigned heads[QSZ], k, j, seen = 0;
    int i;

    for (k = 0; k < n; k++) {
        unsigned slot = (next_avail + k) % QSZ;

        wr32(HDR + 16 * slot, type);
        wr32(HDR + 16 * slot + 4, 0);
        wr64(HDR + 16 * slot + 8, 8 * k);
        ram[STAT + slot] = 0xEE;
        heads[k] = add_desc(HDR + 16 * slot, 16, 0);
        add_desc(DATA + 4096 * k, 4096, type == 0 ? VRING_DESC_F_WRITE : 0);
        i = add_desc(STAT + slot, 1, VRING_DESC_F_WRITE | 0x8000);
        wr16(DESC + 16 * i + 12, VRING_DESC_F_WRITE);
        wr16(AVAIL + 4 + 2 * slot, heads[k]);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    next_avail += n;
    wr16(AVAIL + 2, next_avail);
    bar(dev, 0x3000, 2, 0);
    if (!wait)
        return 0;
    for (i = 0; i < 400 && (uint16_t)(rd16(USED + 2) - used_before) < n; i++)
        g_usleep(5000);
    for (j = 0; j < (uint16_t)(rd16(USED + 2) - used_before); j++) {
        uint32_t id = rd32(USED + 4 + 8 * ((used_before + j) % QSZ));

        for (k = 0; k < n; k++)
            if (heads[k] == id && !(seen & (1u << k)))
                break;
        ck_assert_msg(k < n, "used id %u is not an outstanding head (or came twice)", id);
        seen |= 1u << k;
    }
    for (k = 0; k < n; k++)
        ck_assert_msg(ram[STAT + (next_avail - n + k) % QSZ] == 0, "request %u: status %u",
                      k, ram[STAT + (next_avail - n + k) % QSZ]);
    return (uint16_t)(rd16(USED + 2) - used_before);
}

START_TEST(test_parallel)
{
    HvrVirtioDev *dev;
    char buf[4096];
    unsigned k, round;
    int fd;

    next_desc = next_avail = 0;
    dev = setup(FALSE);
    for (round = 0; round < 4; round++) {
        for (k = 0; k < 5; k++)
            memset(ram + DATA + 4096 * k, 'a' + k + round, 4096);
        ck_assert_uint_eq(request_batch(dev, 1, 5, true), 5);                   /* 5 OUT */
        fd = open(disk, O_RDONLY);
        for (k = 0; k < 5; k++) {
            ck_assert(pread(fd, buf, 4096, 8 * 512 * k) == 4096);
            ck_assert_msg(buf[0] == (char)('a' + k + round) && buf[4095] == buf[0],
                          "round %u: sector %u holds '%c'", round, 8 * k, buf[0]);
        }
        close(fd);
        memset(ram + DATA, 0, 5 * 4096);
        ck_assert_uint_eq(request_batch(dev, 0, 5, true), 5);                   /* 5 IN */
        for (k = 0; k < 5; k++)
            ck_assert_msg(ram[DATA + 4096 * k] == 'a' + k + round &&
                          ram[DATA + 4096 * k + 4095] == 'a' + k + round,
                          "round %u: read %u came back wrong", round, k);
    }
    /* reset right behind the doorbell of 5 requests: nothing may be pushed
     * into the reset ring afterwards */
    for (k = 0; k < 5; k++)
        memset(ram + DATA + 4096 * k, 'x', 4096);
    request_batch(dev, 1, 5, false);
    bar(dev, 20, 1, 0);
    ck_assert_uint_eq(bar_rd(dev, 20, 1), 0);
    g_usleep(20000);
    ck_assert_uint_eq(dev->q[0].vq.used_idx, 0);
    teardown();
}
END_TEST

START_TEST(test_readonly)
{
    HvrVirtioDev *dev;

    next_desc = next_avail = 0;
    dev = setup(TRUE);
    ck_assert_uint_eq(request(dev, 1, 0, DATA, 512, false, NULL), 1);     /* OUT refused */
    ck_assert_uint_eq(request(dev, 0, 0, DATA, 512, true, NULL), 0);      /* IN fine */
    teardown();
}
END_TEST

int
main(void)
{
    enum vmm_probe_result pr = vmm_probe(NULL);
    g_autofree char *dir = NULL;
    Suite *s = suite_create("runner-virtio-blk");
    TCase *tc = tcase_create("blk");
    SRunner *sr;
    int failed, fd;

    if (pr == VMM_PROBE_NO_DEVICE || pr == VMM_PROBE_NO_PERMISSION) {
        fprintf(stderr, "SKIP: %s\n", vmm_probe_result_string(pr));
        return 77;
    }
    dir = g_dir_make_tmp("hyve-blk-XXXXXX", NULL);
    disk = g_build_filename(dir, "disk.img", NULL);
    fd = open(disk, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0) {
        perror(disk);
        return 1;
    }
    close(fd);
    tcase_add_test(tc, test_rw);
    tcase_add_test(tc, test_readonly);
    tcase_add_test(tc, test_parallel);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_remove(disk);
    g_rmdir(dir);
    return failed ? 1 : 0;
}
