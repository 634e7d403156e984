/* test_virtio_console.c: virtio-console model with its I/O thread on a KVM
 * VM of this host, backend = unix socket: guest transmit reaches the socket
 * client, client bytes reach the guest's receive buffers (also when they
 * arrive before the buffers).  Skipped (77) without a usable /dev/kvm. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hvr_devices.h"
#include "hvr_pci.h"
#include "hvr_virtio_pci.h"
#include "vmm.h"

#define RAM   (1 << 20)
#define QSZ   8
#define RXQ   0x10000     /* desc, avail +0x1000, used +0x2000 */
#define TXQ   0x20000
#define BUF   0x40000

static uint8_t *ram;
static HvrMachine mach;
static HvrVirtioDev *dev;
static char *dir, *sock;

static void wr16(uint64_t a, uint16_t v) { ram[a] = v; ram[a + 1] = v >> 8; }
static void wr32(uint64_t a, uint32_t v) { wr16(a, v); wr16(a + 2, v >> 16); }
static void wr64(uint64_t a, uint64_t v) { wr32(a, v); wr32(a + 4, v >> 32); }
static uint16_t rd16(uint64_t a) { return ram[a] | ram[a + 1] << 8; }
static uint32_t rd32(uint64_t a) { return rd16(a) | (uint32_t)rd16(a + 2) << 16; }

static void
bar(unsigned off, unsigned size, uint64_t v)
{
    hvr_virtio_bar_access(dev, off, size, true, &v);
}

static void
queue(unsigned q, uint64_t base)
{
    bar(22, 2, q);
    bar(24, 2, QSZ);
    bar(32, 4, base);
    bar(40, 4, base + 0x1000);
    bar(48, 4, base + 0x2000);
    bar(28, 2, 1);
}

/* One single-descriptor buffer on queue @base. */
static void
post(unsigned q, uint64_t base, uint16_t idx, uint64_t addr, uint32_t len, bool writable)
{
    unsigned d = idx % QSZ;

    wr64(base + 16 * d, addr);
    wr32(base + 16 * d + 8, len);
    wr16(base + 16 * d + 12, writable ? VRING_DESC_F_WRITE : 0);
    wr16(base + 0x1000 + 4 + 2 * d, d);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr16(base + 0x1000 + 2, idx + 1);
    bar(0x3000 + 4 * q, 2, q);
}

static gboolean
wait_used(uint64_t base, uint16_t want)
{
    int i;

    for (i = 0; i < 400; i++) {
        g_main_context_iteration(mach.ctx, FALSE);
        if (rd16(base + 0x2000 + 2) == want)
            return TRUE;
        g_usleep(5000);
    }
    return FALSE;
}

START_TEST(test_console)
{
    HvrPciSlotConfig sc = { .model = HVR_PCI_VIRTIO_CONSOLE, .fd = -1 };
    g_autoptr(GError) err = NULL;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char got[32] = { 0 };
    size_t n = 0;
    int c, i;

    sc.backend = g_strdup_printf("unix:%s", sock);
    memset(&mach, 0, sizeof(mach));
    ram = g_malloc0(RAM);
    mach.mem = hvr_mem_new_from(ram, RAM);
    mach.ctx = g_main_context_new();
    ck_assert_int_eq(vmm_create("con", &mach.vm), 0);
    ck_assert_int_eq(vmm_create_irqchip(mach.vm), 0);
    mach.pci = hvr_pci_new_detached();
    mach.devices = g_ptr_array_new();
    ck_assert_msg(hvr_virtio_console_create(&mach, 4, &sc, &err), "create: %s", err ? err->message : "");
    {
        HvrDevice *d = g_ptr_array_index(mach.devices, 0);

        dev = d->opaque;
        d->start(d->opaque);    /* hvr_machine_run() does this in the runner */
    }

    /* client connects before the driver is ready */
    g_strlcpy(sun.sun_path, sock, sizeof(sun.sun_path));
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert(connect(c, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    for (i = 0; i < 20; i++)
        g_main_context_iteration(mach.ctx, FALSE);
    /* input before any receive buffer exists: kept until one is posted */
    ck_assert(write(c, "early", 5) == 5);
    for (i = 0; i < 20; i++) {
        g_main_context_iteration(mach.ctx, FALSE);
        g_usleep(2000);
    }

    bar(20, 1, 0);
    bar(20, 1, 1 | 2);
    bar(8, 4, 1);
    bar(12, 4, 1);
    bar(20, 1, 1 | 2 | 8);
    queue(0, RXQ);
    queue(1, TXQ);
    bar(20, 1, 1 | 2 | 8 | 4);

    /* guest -> host */
    memcpy(ram + BUF, "hello-hvc", 9);
    post(1, TXQ, 0, BUF, 9, false);
    ck_assert_msg(wait_used(TXQ, 1), "tx buffer not used");
    while (n < 9) {
        ssize_t r = recv(c, got + n, sizeof(got) - 1 - n, MSG_DONTWAIT);

        if (r > 0)
            n += r;
        else if (!wait_used(TXQ, 1) || ++i > 400)
            break;
        g_usleep(2000);
    }
    ck_assert_str_eq(got, "hello-hvc");

    /* host -> guest: the early bytes first, then new ones */
    post(0, RXQ, 0, BUF + 0x1000, 64, true);
    ck_assert_msg(wait_used(RXQ, 1), "rx buffer not filled");
    ck_assert_uint_eq(rd32(RXQ + 0x2000 + 4 + 4), 5);
    ck_assert(memcmp(ram + BUF + 0x1000, "early", 5) == 0);
    ck_assert(write(c, "late", 4) == 4);
    post(0, RXQ, 1, BUF + 0x2000, 64, true);
    ck_assert_msg(wait_used(RXQ, 2), "second rx buffer not filled");
    ck_assert_uint_eq(rd32(RXQ + 0x2000 + 4 + 8 + 4), 4);
    ck_assert(memcmp(ram + BUF + 0x2000, "late", 4) == 0);
    close(c);

    for (i = 0; i < (int)mach.devices->len; i++) {
        HvrDevice *d = g_ptr_array_index(mach.devices, i);

        d->free(d->opaque);
        g_free(d);
    }
    g_ptr_array_unref(mach.devices);
    hvr_pci_free(mach.pci);
    vmm_destroy(mach.vm);
    hvr_mem_free(mach.mem);
    g_main_context_unref(mach.ctx);
    g_free(ram);
    g_free(sc.backend);
}
END_TEST

int
main(void)
{
    enum vmm_probe_result pr = vmm_probe(NULL);
    Suite *s = suite_create("runner-virtio-console");
    TCase *tc = tcase_create("console");
    SRunner *sr;
    int failed;

    if (pr == VMM_PROBE_NO_DEVICE || pr == VMM_PROBE_NO_PERMISSION) {
        fprintf(stderr, "SKIP: %s\n", vmm_probe_result_string(pr));
        return 77;
    }
    dir = g_dir_make_tmp("hyve-con-XXXXXX", NULL);
    sock = g_build_filename(dir, "con.sock", NULL);
    tcase_add_test(tc, test_console);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_remove(sock);
    g_rmdir(dir);
    return failed ? 1 : 0;
}
