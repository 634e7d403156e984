/* test_virtio_net.c: the virtio-net model with its I/O thread on a KVM VM of
 * this host; the tap is one end of a SOCK_DGRAM socketpair (one datagram =
 * one frame with its 12-byte vnet header), whose two tap ioctls are
 * answered by the ioctl() below, which records every TUNSETOFFLOAD.
 * Table-driven:
 * - offloads: the driver accepts a feature set, with or without the
 *   sandbox (whose filter allows TUNSETOFFLOAD), or with TUNSETOFFLOAD
 *   refused after open (soft mode); checked are the device feature bits,
 *   the tap offload flags the device asks for, transmit (header passed to
 *   the tap unchanged), receive of plain, partial-checksum and GSO frames
 *   (delivered as is, checksum completed in software, or dropped) and a
 *   malformed checksum offset; EVENT_IDX, MRG_RXBUF and INDIRECT_DESC are
 *   not offered, queues have 1024 entries, and a used buffer is signalled
 *   again although the driver did not react to the first interrupt;
 * - descriptor paths, well-formed and hostile: receive into a chain of
 *   buffers (the layout of a Linux guest without MRG_RXBUF: a 12-byte header
 *   buffer, then pages), into a chain too short for the header, a frame
 *   larger than the chain; transmit from a chain of many pieces, a header
 *   alone, a chain with device-writable buffers; loops, indices and buffers
 *   outside guest RAM, a head out of range, an address that wraps, a
 *   readable buffer after a writable one and an indirect descriptor that
 *   was not negotiated: each broken ring puts the
 *   device into DEVICE_NEEDS_RESET with nothing written to guest memory or
 *   the tap, and a reset device works again.
 * Skipped (77) without a usable /dev/kvm. */
#include <check.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvr_config.h"
#include "hvr_devices.h"
#include "hvr_pci.h"
#include "hvr_virtio_pci.h"
#include "vmm.h"

#define RAM   (1 << 20)
#define QSZ   8
#define RXQ   0x10000     /* desc, avail +0x1000, used +0x2000 */
#define TXQ   0x20000
#define BUF   0x40000
#define HDR   12

#define F_CSUM (1u << 0)
#define F_GCSUM (1u << 1)
#define F_GTSO4 (1u << 7)
#define F_GTSO6 (1u << 8)
#define F_GECN (1u << 9)
#define F_HTSO4 (1u << 11)
#define F_MAC (1u << 5)
#define F_EVIDX (1u << 29)
#define F_MRG (1u << 15)

static uint8_t *ram;
static HvrMachine mach;
static HvrVirtioDev *dev;
static int tap_fd = -1, peer = -1;
static int offload_calls;
static bool offload_refused;   /* TUNSETOFFLOAD after open fails (EPERM) */
static unsigned long offload_last;

int
ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd >= 0 && fd == tap_fd && req == TUNSETVNETHDRSZ)
        return *(int *)arg == HDR ? 0 : -1;
    if (fd >= 0 && fd == tap_fd && req == TUNSETOFFLOAD) {
        offload_calls++;
        offload_last = (unsigned long)arg;
        if (offload_refused) {
            errno = EPERM;
            return -1;
        }
        return 0;
    }
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

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

static uint64_t
bar_rd(unsigned off, unsigned size)
{
    uint64_t v = 0;

    hvr_virtio_bar_access(dev, off, size, false, &v);
    return v;
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
        if (rd16(base + 0x2000 + 2) == want)
            return TRUE;
        g_usleep(5000);
    }
    return FALSE;
}

/* A 14+20+20+4 byte Ethernet/IPv4/TCP frame behind a vnet header. */
static size_t
frame(uint8_t *f, uint8_t flags, uint8_t gso, uint16_t cstart, uint16_t coff, uint16_t pseudo)
{
    size_t i, len = HDR + 14 + 20 + 24;

    memset(f, 0, len);
    f[0] = flags;
    f[1] = gso;
    f[6] = cstart & 0xFF; f[7] = cstart >> 8;
    f[8] = coff & 0xFF; f[9] = coff >> 8;
    f[HDR + 12] = 0x08;                 /* IPv4 */
    f[HDR + 14] = 0x45;
    for (i = HDR + 34; i < len; i++)
        f[i] = (uint8_t)(i * 7 + 3);
    f[HDR + 34 + 16] = pseudo >> 8;     /* TCP checksum field = pseudo sum */
    f[HDR + 34 + 17] = pseudo & 0xFF;
    return len;
}

static uint32_t
sum16(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return s;
}

static HvrConfig *cfg;

/* A machine with only the net device, its tap the socketpair's sv[0]; the
 * I/O thread started.  Checks the tap offloads set at open. */
static void
net_open(const char *name, bool sandbox)
{
    HvrPciSlotConfig sc = { .model = HVR_PCI_VIRTIO_NET, .mac = (char *)"52:54:00:12:34:56" };
    g_autoptr(GError) err = NULL;
    HvrDevice *d;
    int sv[2];

    ck_assert(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    tap_fd = sc.fd = sv[0];
    peer = sv[1];
    offload_calls = 0;
    offload_last = ~0ul;
    offload_refused = false;
    cfg = hvr_config_new();
    cfg->sandbox = sandbox;
    memset(&mach, 0, sizeof(mach));
    mach.cfg = cfg;
    ram = g_malloc0(RAM);
    mach.mem = hvr_mem_new_from(ram, RAM);
    mach.ctx = g_main_context_new();
    ck_assert_int_eq(vmm_create("net", &mach.vm), 0);
    ck_assert_int_eq(vmm_create_irqchip(mach.vm), 0);
    mach.pci = hvr_pci_new_detached();
    mach.devices = g_ptr_array_new();
    ck_assert_msg(hvr_virtio_net_create(&mach, 4, &sc, &err), "%s: create: %s", name,
                  err ? err->message : "");
    ck_assert_msg(offload_calls == 1 && offload_last ==
                  (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN),
                  "%s: open sets the full offloads (calls %d, 0x%lx)", name,
                  offload_calls, offload_last);
    offload_calls = 0;
    d = g_ptr_array_index(mach.devices, 0);
    dev = d->opaque;
    d->start(d->opaque);
}

/* Check the offered features, then run the driver's init with @feat
 * (low word; VERSION_1 added) up to DRIVER_OK with both queues. */
static void
net_driver_ok(const char *name, uint32_t feat)
{
    uint64_t dfeat;

    bar(0, 4, 0);
    dfeat = bar_rd(4, 4);
    ck_assert_msg((dfeat & (F_CSUM | F_GCSUM | F_GTSO4 | F_GTSO6 | F_GECN | F_HTSO4 | F_MAC)) ==
                  (F_CSUM | F_GCSUM | F_GTSO4 | F_GTSO6 | F_GECN | F_HTSO4 | F_MAC) &&
                  !(dfeat & (1u << VIRTIO_RING_F_INDIRECT)) && !(dfeat & F_EVIDX) &&
                  !(dfeat & F_MRG),
                  "%s: device features 0x%llx", name, (unsigned long long)dfeat);
    bar(20, 1, 0);
    bar(20, 1, 1 | 2);
    bar(8, 4, 0);
    bar(12, 4, feat);
    bar(8, 4, 1);
    bar(12, 4, 1);
    bar(20, 1, 1 | 2 | 8);
    ck_assert_msg(bar_rd(20, 1) & 8, "%s: FEATURES_OK refused", name);
    /* 1024 entries offered: room for ~53 receive chains of 19 descriptors */
    bar(22, 2, 0);
    ck_assert_msg(bar_rd(24, 2) == 1024, "%s: queue size %u", name, (unsigned)bar_rd(24, 2));
    queue(0, RXQ);
    queue(1, TXQ);
    bar(20, 1, 1 | 2 | 8 | 4);
}

static void
net_close(void)
{
    unsigned i;

    for (i = 0; i < mach.devices->len; i++) {
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
    close(peer);
    tap_fd = peer = -1;
    g_clear_pointer(&cfg, hvr_config_free);
}

typedef struct {
    const char *name;
    uint32_t feat;              /* low word the driver accepts */
    bool sandbox;
    int want_calls;             /* TUNSETOFFLOAD calls after open */
    unsigned long want_flags;   /* last flags set */
    uint8_t rx_flags, rx_gso;   /* frame the tap hands over */
    uint16_t cstart, coff;
    enum { RX_ASIS, RX_CSUM_FIXED, RX_DROPPED } expect;
    bool refused;               /* TUNSETOFFLOAD fails after open: soft mode */
} NetCase;

static const NetCase cases[] = {
    { "all-offloads", F_MAC | F_CSUM | F_HTSO4 | F_GCSUM | F_GTSO4 | F_GTSO6 | F_GECN, false,
      0, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, 1, 1, 34, 16, RX_ASIS },
    { "csum-only", F_MAC | F_GCSUM, false, 1, TUN_F_CSUM, 1, 0, 34, 16, RX_ASIS },
    { "tso4-no-ecn", F_MAC | F_GCSUM | F_GTSO4, false, 1, TUN_F_CSUM | TUN_F_TSO4, 1, 1, 34, 16, RX_ASIS },
    { "none", F_MAC, false, 1, 0, 0, 0, 0, 0, RX_ASIS },
    { "tso-without-csum", F_MAC | F_GTSO4, false, 1, 0, 0, 0, 0, 0, RX_ASIS },
    { "sandbox-all", F_MAC | F_GCSUM | F_GTSO4 | F_GTSO6 | F_GECN, true,
      0, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, 1, 0x81, 34, 16, RX_ASIS },
    { "sandbox-csum-only", F_MAC | F_GCSUM, true, 1, TUN_F_CSUM, 1, 0, 34, 16, RX_ASIS },
    { "sandbox-none", F_MAC, true, 1, 0, 0, 0, 0, 0, RX_ASIS },
    { "refused-soft-csum", F_MAC, true, 1, 0, 1, 0, 34, 16, RX_CSUM_FIXED, true },
    { "refused-gso-dropped", F_MAC | F_GCSUM, true, 1, TUN_F_CSUM, 1, 1, 34, 16, RX_DROPPED, true },
    { "refused-ecn-dropped", F_MAC | F_GCSUM | F_GTSO4, true, 1, TUN_F_CSUM | TUN_F_TSO4,
      1, 0x81, 34, 16, RX_DROPPED, true },
    { "refused-bad-csum-offset", F_MAC, false, 1, 0, 1, 0, 34, 2000, RX_DROPPED, true },
};

START_TEST(test_net)
{
    const NetCase *c = &cases[_i];
    uint8_t f[256], got[256];
    size_t len, plain_len;
    ssize_t r;

    net_open(c->name, c->sandbox);
    offload_refused = c->refused;
    net_driver_ok(c->name, c->feat);

    /* guest -> tap: header and packet unchanged.  The driver sets the
     * avail ring's NO_INTERRUPT flag: honoured (EVENT_IDX is not offered,
     * so a used_event of 0 means nothing) */
    wr16(TXQ + 0x1000, 1);
    wr16(TXQ + 0x1000 + 4 + 2 * QSZ, 0);
    (void)bar_rd(0x1000, 1);            /* clear the ISR */
    len = frame(ram + BUF, 1, c->feat & F_HTSO4 ? 1 : 0, 34, 16, 0x1234);
    post(1, TXQ, 0, BUF, (uint32_t)len, false);
    ck_assert_msg(wait_used(TXQ, 1), "%s: tx buffer not used", c->name);
    g_usleep(20000);
    {
        unsigned isr = (unsigned)bar_rd(0x1000, 1);

        ck_assert_msg((isr & 1) == 0,
                      "%s: tx interrupt with NO_INTERRUPT set (ISR 0x%x)", c->name, isr);
    }
    r = recv(peer, got, sizeof(got), 0);
    ck_assert_msg(r == (ssize_t)len && memcmp(got, ram + BUF, len) == 0,
                  "%s: tx frame differs (%zd bytes)", c->name, r);
    /* no EVENT_IDX: the device never writes avail_event */
    ck_assert_msg(rd16(TXQ + 0x2000 + 4 + 8 * QSZ) == 0,
                  "%s: tx avail_event %u", c->name, rd16(TXQ + 0x2000 + 4 + 8 * QSZ));

    /* tap -> guest: the frame of the case, then a plain one */
    len = frame(f, c->rx_flags, c->rx_gso, c->cstart, c->coff, 0xBEEF);
    ck_assert(send(peer, f, len, 0) == (ssize_t)len);
    memcpy(got, f, len);
    plain_len = frame(f, 0, 0, 0, 0, 0x4242) - 10;
    f[HDR + 20] = 0x99;                 /* mark it */
    ck_assert(send(peer, f, plain_len, 0) == (ssize_t)plain_len);
    post(0, RXQ, 0, BUF + 0x1000, 2048, true);
    ck_assert_msg(wait_used(RXQ, 1), "%s: rx buffer not filled", c->name);
    ck_assert_msg(offload_calls == c->want_calls, "%s: %d TUNSETOFFLOAD calls", c->name,
                  offload_calls);
    if (c->want_calls)
        ck_assert_msg(offload_last == c->want_flags, "%s: tap offloads 0x%lx", c->name,
                      offload_last);
    ck_assert_msg(rd16(BUF + 0x1000 + 10) == 1, "%s: num_buffers %u", c->name,
                  rd16(BUF + 0x1000 + 10));
    if (c->expect == RX_DROPPED) {
        ck_assert_msg(rd32(RXQ + 0x2000 + 4 + 4) == plain_len && ram[BUF + 0x1000 + HDR + 20] == 0x99,
                      "%s: first frame not dropped (used len %u)", c->name,
                      rd32(RXQ + 0x2000 + 4 + 4));
    } else {
        uint8_t *p = ram + BUF + 0x1000;

        ck_assert_msg(rd32(RXQ + 0x2000 + 4 + 4) == len, "%s: used len %u", c->name,
                      rd32(RXQ + 0x2000 + 4 + 4));
        if (c->expect == RX_ASIS) {
            ck_assert_msg(memcmp(p, got, 10) == 0 && memcmp(p + HDR, got + HDR, len - HDR) == 0,
                          "%s: frame changed", c->name);
        } else {
            /* checksum complete: region + pseudo sum folds to 0xFFFF */
            uint32_t s = sum16(p + HDR + 34, len - HDR - 34) + 0xBEEF;

            while (s >> 16)
                s = (s & 0xFFFF) + (s >> 16);
            ck_assert_msg(p[0] == 0 && p[1] == 0, "%s: header flags 0x%x gso 0x%x", c->name,
                          p[0], p[1]);
            ck_assert_msg(s == 0xFFFF, "%s: checksum wrong (sum 0x%x)", c->name, s);
            ck_assert_msg(memcmp(p + HDR, got + HDR, 34 + 16) == 0, "%s: packet changed",
                          c->name);
        }
        /* each used buffer is signalled, also when the driver changed
         * nothing in the ring after the first interrupt (with EVENT_IDX a
         * queue whose interrupt went unanswered was never signalled again) */
        g_usleep(20000);
        ck_assert_msg(bar_rd(0x1000, 1) & 1, "%s: first rx frame not signalled", c->name);
        post(0, RXQ, 1, BUF + 0x2000, 2048, true);
        ck_assert_msg(wait_used(RXQ, 2), "%s: second frame not received", c->name);
        g_usleep(20000);
        ck_assert_msg(bar_rd(0x1000, 1) & 1, "%s: second rx frame not signalled", c->name);
        ck_assert_msg(rd32(RXQ + 0x2000 + 4 + 8 + 4) == plain_len, "%s: second len", c->name);
    }
    {
        g_autoptr(GString) st = g_string_new("");
        const char *want = c->expect == RX_DROPPED ? "net4.rx_dropped=1" : "net4.rx_dropped=0";

        HvrDevice *d = g_ptr_array_index(mach.devices, 0);

        d->stats(d->opaque, st);
        ck_assert_msg(strstr(st->str, want), "%s: stats %s", c->name, st->str);
    }

    net_close();
}
END_TEST

/* ---- descriptor paths: chains, and what a hostile driver can write ---- */

#define NEEDS_RESET 0x40
#define IND 0x30000             /* an indirect table the device must refuse */

typedef struct { uint64_t addr; uint32_t len; uint16_t flags, next; } Desc;

/* Write @n descriptors at @first.. of queue @base's table, make @head
 * available as entry @idx, kick. */
static void
chain(unsigned q, uint64_t base, uint16_t idx, uint16_t head, const Desc *d, unsigned n,
      unsigned first)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        wr64(base + 16 * (first + i), d[i].addr);
        wr32(base + 16 * (first + i) + 8, d[i].len);
        wr16(base + 16 * (first + i) + 12, d[i].flags);
        wr16(base + 16 * (first + i) + 14, d[i].next);
    }
    wr16(base + 0x1000 + 4 + 2 * (idx % QSZ), head);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    wr16(base + 0x1000 + 2, idx + 1);
    bar(0x3000 + 4 * q, 2, q);
}

#define NX VRING_DESC_F_NEXT
#define WR VRING_DESC_F_WRITE
#define IN VRING_DESC_F_INDIRECT

typedef enum {
    H_RX,           /* the frame lands in the chain; used len = frame */
    H_RX_SHORT,     /* chain shorter than the header: used len 0, frame kept */
    H_TX,           /* the chain's readable bytes reach the tap as one frame */
    H_TX_NONE,      /* buffer used, nothing reaches the tap */
    H_RESET,        /* DEVICE_NEEDS_RESET, ring untouched */
} HostileExpect;

typedef struct {
    const char *name;
    unsigned q;
    Desc d[QSZ];
    unsigned n;
    uint16_t head;
    size_t frame_len;           /* rx: bytes the tap hands over */
    HostileExpect expect;
    size_t want_len;            /* H_RX: used len; H_TX: frame length */
} HostileCase;

#define B (BUF + 0x4000)
static const HostileCase hostile[] = {
    /* a Linux guest without MRG_RXBUF (big packets): header, then pages */
    { "rx-header-then-pages", 0, { { B, HDR, NX | WR, 1 }, { B + 0x100, 40, NX | WR, 2 },
      { B + 0x1000, 0x1000, NX | WR, 3 }, { B + 0x2000, 0x1000, WR, 0 } }, 4, 0,
      HDR + 3000, H_RX, HDR + 3000 },
    { "rx-readable-first", 0, { { B, 32, NX, 1 }, { B + 0x100, 2048, WR, 0 } }, 2, 0,
      HDR + 100, H_RX, HDR + 100 },
    { "rx-zero-length-piece", 0, { { B, HDR, NX | WR, 1 }, { B + 0x100, 0, NX | WR, 2 },
      { B + 0x200, 512, WR, 0 } }, 3, 0, HDR + 400, H_RX, HDR + 400 },
    { "rx-frame-larger-than-chain", 0, { { B, HDR, NX | WR, 1 }, { B + 0x100, 64, WR, 0 } },
      2, 0, HDR + 200, H_RX, HDR + 64 },
    { "rx-chain-shorter-than-header", 0, { { B, 4, NX | WR, 1 }, { B + 0x100, 4, WR, 0 } },
      2, 0, HDR + 100, H_RX_SHORT, 0 },
    { "rx-only-readable", 0, { { B, 2048, 0, 0 } }, 1, 0, HDR + 100, H_RX_SHORT, 0 },
    { "rx-loop", 0, { { B, HDR, NX | WR, 1 }, { B + 0x100, 64, NX | WR, 0 } }, 2, 0,
      HDR + 10, H_RESET },
    { "rx-next-out-of-range", 0, { { B, HDR, NX | WR, QSZ } }, 1, 0, HDR + 10, H_RESET },
    { "rx-head-out-of-range", 0, { { B, 2048, WR, 0 } }, 1, QSZ + 1, HDR + 10, H_RESET },
    { "rx-buffer-outside-ram", 0, { { B, HDR, NX | WR, 1 }, { RAM - 0x100, 0x1000, WR, 0 } },
      2, 0, HDR + 10, H_RESET },
    { "rx-address-wraps", 0, { { ~0ULL - 0xF, 0x1000, WR, 0 } }, 1, 0, HDR + 10, H_RESET },
    { "rx-indirect-not-negotiated", 0, { { IND, 32, IN, 0 } }, 1, 0, HDR + 10, H_RESET },
    { "rx-readable-after-writable", 0, { { B, HDR, NX | WR, 1 }, { B + 0x100, 64, 0, 0 } },
      2, 0, HDR + 10, H_RESET },
    /* transmit: a header and pieces (a Linux guest sending a TSO frame) */
    { "tx-pieces", 1, { { B, HDR, NX, 1 }, { B + 0x100, 54, NX, 2 },
      { B + 0x1000, 0x1000, NX, 3 }, { B + 0x2000, 0x800, 0, 0 } }, 4, 0, 0, H_TX,
      HDR + 54 + 0x1000 + 0x800 },
    { "tx-header-alone", 1, { { B, HDR, 0, 0 } }, 1, 0, 0, H_TX_NONE },
    { "tx-shorter-than-header", 1, { { B, 6, NX, 1 }, { B + 0x100, 4, 0, 0 } }, 2, 0, 0,
      H_TX_NONE },
    { "tx-writable-tail", 1, { { B, HDR + 60, NX, 1 }, { B + 0x100, 64, WR, 0 } }, 2, 0, 0,
      H_TX, HDR + 60 },
    { "tx-loop", 1, { { B, HDR + 60, NX, 0 } }, 1, 0, 0, H_RESET },
    { "tx-buffer-outside-ram", 1, { { B, HDR, NX, 1 }, { RAM + 0x1000, 100, 0, 0 } }, 2, 0, 0,
      H_RESET },
    { "tx-huge-length", 1, { { B, 0xFFFFFFFF, 0, 0 } }, 1, 0, 0, H_RESET },
    { "tx-indirect-not-negotiated", 1, { { IND, 16, IN, 0 } }, 1, 0, 0, H_RESET },
};

START_TEST(test_hostile)
{
    const HostileCase *c = &hostile[_i];
    uint64_t base = c->q ? TXQ : RXQ;
    uint8_t f[HDR + 4096], got[HDR + 65536];
    size_t i;
    ssize_t r;

    net_open(c->name, true);
    net_driver_ok(c->name, F_MAC | F_CSUM | F_HTSO4 | F_GCSUM | F_GTSO4 | F_GTSO6 | F_GECN);
    /* a valid indirect table: refused all the same (not negotiated) */
    wr64(IND, B);
    wr32(IND + 8, 64);
    wr16(IND + 12, WR);
    for (i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)(i * 13 + 1);
    memset(f, 0, HDR);
    for (i = 0; i < 0x3000; i++)
        ram[B + i] = (uint8_t)(i * 7 + 5);
    if (c->q == 0) {
        ck_assert(send(peer, f, c->frame_len, 0) == (ssize_t)c->frame_len);
        memset(ram + B, 0xEE, 0x3000);
    }
    chain(c->q, base, 0, c->head, c->d, c->n, 0);

    switch (c->expect) {
    case H_RX:
        ck_assert_msg(wait_used(base, 1), "%s: buffer not used", c->name);
        ck_assert_msg(rd32(base + 0x2000 + 8) == c->want_len, "%s: used len %u", c->name,
                      rd32(base + 0x2000 + 8));
        {
            /* the frame, gathered back from the writable pieces */
            size_t off = 0;
            unsigned k;

            for (k = 0; k < c->n && off < c->want_len; k++) {
                size_t l = MIN(c->d[k].len, c->want_len - off);

                if (!(c->d[k].flags & WR))
                    continue;
                memcpy(got + off, ram + c->d[k].addr, l);
                off += l;
            }
            ck_assert_msg(off == c->want_len && got[10] == 1 && got[11] == 0 &&
                          memcmp(got + HDR, f + HDR, c->want_len - HDR) == 0,
                          "%s: frame not in the chain's buffers", c->name);
        }
        break;
    case H_RX_SHORT:
        ck_assert_msg(wait_used(base, 1), "%s: buffer not used", c->name);
        ck_assert_msg(rd32(base + 0x2000 + 8) == 0, "%s: used len %u", c->name,
                      rd32(base + 0x2000 + 8));
        ck_assert_msg(ram[B] == 0xEE && ram[B + 0x100] == 0xEE, "%s: buffer written", c->name);
        /* the frame waits for a usable buffer */
        chain(0, base, 1, 5, (Desc[]){ { BUF + 0x8000, 0x1000, WR, 0 } }, 1, 5);
        ck_assert_msg(wait_used(base, 2) && rd32(base + 0x2000 + 16) == c->frame_len,
                      "%s: frame lost", c->name);
        break;
    case H_TX:
        ck_assert_msg(wait_used(base, 1), "%s: buffer not used", c->name);
        r = recv(peer, got, sizeof(got), 0);
        ck_assert_msg(r == (ssize_t)c->want_len, "%s: tap got %zd bytes", c->name, r);
        {
            size_t off = 0;
            unsigned k;

            for (k = 0; k < c->n && off < c->want_len; k++) {
                if (c->d[k].flags & WR)
                    break;
                ck_assert_msg(memcmp(got + off, ram + c->d[k].addr, c->d[k].len) == 0,
                              "%s: piece %u differs", c->name, k);
                off += c->d[k].len;
            }
        }
        break;
    case H_TX_NONE:
        ck_assert_msg(wait_used(base, 1), "%s: buffer not used", c->name);
        g_usleep(20000);
        r = recv(peer, got, sizeof(got), 0);
        ck_assert_msg(r < 0, "%s: %zd bytes reached the tap", c->name, r);
        break;
    case H_RESET:
        for (i = 0; i < 100 && !(bar_rd(20, 1) & NEEDS_RESET); i++)
            g_usleep(5000);
        ck_assert_msg(bar_rd(20, 1) & NEEDS_RESET, "%s: no DEVICE_NEEDS_RESET", c->name);
        ck_assert_msg(rd16(base + 0x2000 + 2) == 0, "%s: used idx moved", c->name);
        /* rx: the frame was not read (still queued on the tap side);
         * tx: nothing was written to the tap */
        r = recv(c->q == 0 ? tap_fd : peer, got, sizeof(got), 0);
        ck_assert_msg(c->q == 0 ? r == (ssize_t)c->frame_len : r < 0,
                      "%s: tap traffic %zd", c->name, r);
        for (i = 0; i < 0x3000; i++)
            if (ram[B + i] != (c->q ? (uint8_t)(i * 7 + 5) : 0xEE))
                break;
        ck_assert_msg(i == 0x3000, "%s: guest memory written at +0x%zx", c->name, i);
        /* a reset brings it back: receive into a good buffer */
        memset(ram + RXQ, 0, 0x3000);
        memset(ram + TXQ, 0, 0x3000);
        net_driver_ok(c->name, F_MAC);
        ck_assert_msg(!(bar_rd(20, 1) & NEEDS_RESET), "%s: still needs reset", c->name);
        ck_assert(send(peer, f, HDR + 100, 0) == HDR + 100);
        chain(0, RXQ, 0, 2, (Desc[]){ { BUF + 0x8000, 0x1000, WR, 0 } }, 1, 2);
        ck_assert_msg(wait_used(RXQ, 1) && rd32(RXQ + 0x2000 + 8) == HDR + 100,
                      "%s: no receive after the reset", c->name);
        break;
    }
    net_close();
}
END_TEST

int
main(void)
{
    enum vmm_probe_result pr = vmm_probe(NULL);
    Suite *s = suite_create("runner-virtio-net");
    TCase *tc = tcase_create("net");
    SRunner *sr;
    int failed;

    if (pr == VMM_PROBE_NO_DEVICE || pr == VMM_PROBE_NO_PERMISSION) {
        fprintf(stderr, "SKIP: %s\n", vmm_probe_result_string(pr));
        return 77;
    }
    tcase_add_loop_test(tc, test_net, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_hostile, 0, G_N_ELEMENTS(hostile));
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
