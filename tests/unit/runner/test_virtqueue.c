/* test_virtqueue.c: split virtqueue parsing with well-formed, malformed,
 * looping and out-of-range descriptor chains. */
#include <check.h>
#include <string.h>

#include "hvr_virtqueue.h"

#include "test_common.h"

#define RAM   0x10000
#define QSZ   8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define IND   0x5000
#define BUF   0x8000

static uint8_t ram[RAM];

static void wr16(uint64_t a, uint16_t v) { ram[a] = v; ram[a + 1] = v >> 8; }
static void wr32(uint64_t a, uint32_t v) { wr16(a, v); wr16(a + 2, v >> 16); }
static void wr64(uint64_t a, uint64_t v) { wr32(a, v); wr32(a + 4, v >> 32); }
static uint16_t rd16(uint64_t a) { return ram[a] | ram[a + 1] << 8; }
static uint32_t rd32(uint64_t a) { return rd16(a) | (uint32_t)rd16(a + 2) << 16; }

static void
desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint64_t d = table + 16 * i;

    wr64(d, addr);
    wr32(d + 8, len);
    wr16(d + 12, flags);
    wr16(d + 14, next);
}

static void
post(uint16_t slot, uint16_t head)
{
    wr16(AVAIL + 4 + 2 * slot, head);
    wr16(AVAIL + 2, slot + 1);
}

#define N VRING_DESC_F_NEXT
#define W VRING_DESC_F_WRITE
#define I VRING_DESC_F_INDIRECT

static void s_simple(void) { desc(DESC, 0, BUF, 16, N, 1); desc(DESC, 1, BUF + 16, 100, N | W, 2); desc(DESC, 2, BUF + 200, 1, W, 0); post(0, 0); }
static void s_single(void) { desc(DESC, 5, BUF, 64, 0, 0); post(0, 5); }
static void s_zero_len(void) { desc(DESC, 0, BUF, 0, N, 1); desc(DESC, 1, BUF, 8, W, 0); post(0, 0); }
static void s_indirect(void) { desc(DESC, 0, IND, 48, I, 0); desc(IND, 0, BUF, 16, N, 1); desc(IND, 1, BUF + 16, 512, N | W, 2); desc(IND, 2, BUF + 600, 1, W, 0); post(0, 0); }
static void s_loop(void) { desc(DESC, 0, BUF, 8, N, 1); desc(DESC, 1, BUF, 8, N, 2); desc(DESC, 2, BUF, 8, N, 0); post(0, 0); }
static void s_self_loop(void) { desc(DESC, 3, BUF, 8, N, 3); post(0, 3); }
static void s_next_oob(void) { desc(DESC, 0, BUF, 8, N, QSZ); post(0, 0); }
static void s_head_oob(void) { post(0, QSZ + 3); }
static void s_addr_oob(void) { desc(DESC, 0, RAM + 0x1000, 8, 0, 0); post(0, 0); }
static void s_len_cross(void) { desc(DESC, 0, RAM - 8, 16, 0, 0); post(0, 0); }
static void s_addr_wrap(void) { desc(DESC, 0, 0xFFFFFFFFFFFFFFF0ULL, 0x20, 0, 0); post(0, 0); }
static void s_huge_len(void) { desc(DESC, 0, BUF, 0xFFFFFFFF, 0, 0); post(0, 0); }
static void s_order(void) { desc(DESC, 0, BUF, 8, N | W, 1); desc(DESC, 1, BUF, 8, 0, 0); post(0, 0); }
static void s_ind_nested(void) { desc(DESC, 0, IND, 32, I, 0); desc(IND, 0, BUF, 8, N, 1); desc(IND, 1, IND, 16, I, 0); post(0, 0); }
static void s_ind_badlen(void) { desc(DESC, 0, IND, 40, I, 0); post(0, 0); }
static void s_ind_zero(void) { desc(DESC, 0, IND, 0, I, 0); post(0, 0); }
static void s_ind_oob(void) { desc(DESC, 0, RAM - 16, 64, I, 0); post(0, 0); }
static void s_ind_loop(void) { desc(DESC, 0, IND, 32, I, 0); desc(IND, 0, BUF, 8, N, 1); desc(IND, 1, BUF, 8, N, 0); post(0, 0); }
static void s_ind_next_oob(void) { desc(DESC, 0, IND, 32, I, 0); desc(IND, 0, BUF, 8, N, 2); post(0, 0); }
static void s_ind_with_next(void) { desc(DESC, 0, IND, 16, I | N, 1); desc(IND, 0, BUF, 8, 0, 0); post(0, 0); }
static void s_ind_in_chain(void) { desc(DESC, 0, BUF, 8, N, 1); desc(DESC, 1, IND, 16, I, 0); desc(IND, 0, BUF, 8, 0, 0); post(0, 0); }
static void s_idx_jump(void) { desc(DESC, 0, BUF, 8, 0, 0); wr16(AVAIL + 4, 0); wr16(AVAIL + 2, QSZ + 1); }
static void s_empty(void) { }

static const struct {
    const char *name;
    void (*setup)(void);
    bool indirect;
    int result;
    const char *why;
    unsigned nout, nin;
    size_t out_len, in_len;
} cases[] = {
    { "simple", s_simple, false, 1, NULL, 1, 2, 16, 101 },
    { "single", s_single, false, 1, NULL, 1, 0, 64, 0 },
    { "zero-length", s_zero_len, false, 1, NULL, 0, 1, 0, 8 },
    { "indirect", s_indirect, true, 1, NULL, 1, 2, 16, 513 },
    { "empty", s_empty, false, 0, NULL, 0, 0, 0, 0 },
    { "loop", s_loop, false, -1, "loop in descriptor chain" },
    { "self-loop", s_self_loop, false, -1, "loop in descriptor chain" },
    { "next-out-of-range", s_next_oob, false, -1, "descriptor index out of range" },
    { "head-out-of-range", s_head_oob, false, -1, "available ring entry out of range" },
    { "addr-outside-ram", s_addr_oob, false, -1, "descriptor buffer outside guest RAM" },
    { "len-crosses-end", s_len_cross, false, -1, "descriptor buffer outside guest RAM" },
    { "addr-wraps", s_addr_wrap, false, -1, "descriptor buffer outside guest RAM" },
    { "huge-len", s_huge_len, false, -1, "descriptor buffer outside guest RAM" },
    { "readable-after-writable", s_order, false, -1, "device-readable descriptor after a device-writable one" },
    { "indirect-not-negotiated", s_indirect, false, -1, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC" },
    { "indirect-nested", s_ind_nested, true, -1, "nested indirect descriptor" },
    { "indirect-bad-len", s_ind_badlen, true, -1, "bad indirect table length" },
    { "indirect-zero-len", s_ind_zero, true, -1, "bad indirect table length" },
    { "indirect-outside-ram", s_ind_oob, true, -1, "indirect table outside guest RAM" },
    { "indirect-loop", s_ind_loop, true, -1, "loop in indirect descriptor chain" },
    { "indirect-next-oob", s_ind_next_oob, true, -1, "indirect descriptor index out of range" },
    { "indirect-with-next", s_ind_with_next, true, -1, "indirect descriptor inside a chain" },
    { "indirect-in-chain", s_ind_in_chain, true, -1, "indirect descriptor inside a chain" },
    { "avail-idx-jump", s_idx_jump, false, -1, "available index moved by more than the queue size" },
};

START_TEST(test_pop)
{
    g_autoptr(HvrMem) mem = hvr_mem_new_from(ram, RAM);
    static HvrVqElem e;
    HvrVirtqueue vq = { .mem = mem, .size = QSZ, .desc = DESC, .avail = AVAIL, .used = USED,
                        .indirect = cases[_i].indirect, .ready = true };
    const char *why = NULL, *name = cases[_i].name;
    int r;

    memset(ram, 0, sizeof(ram));
    ck_assert_msg(hvr_vq_check_layout(&vq) == NULL, "%s: layout", name);
    cases[_i].setup();
    r = hvr_vq_pop(&vq, &e, &why);
    ck_assert_msg(r == cases[_i].result, "%s: pop returned %d (%s)", name, r, why ? why : "-");
    if (r < 0) {
        ck_assert_msg(why && g_str_equal(why, cases[_i].why), "%s: reason '%s'", name, why);
        return;
    }
    if (r == 0)
        return;
    ck_assert_msg(e.nout == cases[_i].nout && e.nin == cases[_i].nin, "%s: %u/%u segments",
                  name, e.nout, e.nin);
    ck_assert_msg(e.out_len == cases[_i].out_len && e.in_len == cases[_i].in_len,
                  "%s: lengths %zu/%zu", name, e.out_len, e.in_len);
    /* push: used ring gets {head, len} and idx 1 */
    hvr_vq_push(&vq, e.head, 42);
    ck_assert_msg(rd16(USED + 2) == 1 && rd32(USED + 4) == e.head && rd32(USED + 8) == 42,
                  "%s: used ring", name);
    ck_assert_msg(hvr_vq_pop(&vq, &e, &why) == 0, "%s: second pop not empty", name);
}
END_TEST

static const struct {
    const char *name;
    uint16_t size;
    uint64_t desc, avail, used;
    const char *why;
} layouts[] = {
    { "ok", 8, DESC, AVAIL, USED, NULL },
    { "size-not-pow2", 6, DESC, AVAIL, USED, "queue size is not a power of two up to 1024" },
    { "size-zero", 0, DESC, AVAIL, USED, "queue size is not a power of two up to 1024" },
    { "size-big", 2048, DESC, AVAIL, USED, "queue size is not a power of two up to 1024" },
    { "desc-misaligned", 8, DESC + 8, AVAIL, USED, "misaligned ring address" },
    { "used-misaligned", 8, DESC, AVAIL, USED + 2, "misaligned ring address" },
    { "desc-outside", 8, RAM - 64, AVAIL, USED, "descriptor table outside guest RAM" },
    { "avail-outside", 8, DESC, 0x100000000ULL, USED, "available ring outside guest RAM" },
    { "used-outside", 8, DESC, AVAIL, RAM - 8, "used ring outside guest RAM" },
};

START_TEST(test_layout)
{
    g_autoptr(HvrMem) mem = hvr_mem_new_from(ram, RAM);
    HvrVirtqueue vq = { .mem = mem, .size = layouts[_i].size, .desc = layouts[_i].desc,
                        .avail = layouts[_i].avail, .used = layouts[_i].used };
    const char *why = hvr_vq_check_layout(&vq);

    if (!layouts[_i].why)
        ck_assert_msg(why == NULL, "%s: rejected: %s", layouts[_i].name, why);
    else
        ck_assert_msg(why && g_str_equal(why, layouts[_i].why), "%s: reason '%s'",
                      layouts[_i].name, why ? why : "(accepted)");
}
END_TEST

START_TEST(test_iov)
{
    uint8_t a[4] = { 1, 2, 3, 4 }, b[3] = { 5, 6, 7 }, out[8] = { 0 };
    struct iovec iov[2] = { { a, 4 }, { b, 3 } }, sl[2];
    uint8_t src[3] = { 9, 9, 9 };

    ck_assert_uint_eq(hvr_iov_to_buf(iov, 2, 2, out, 8), 5);
    ck_assert(out[0] == 3 && out[2] == 5 && out[4] == 7);
    ck_assert_uint_eq(hvr_iov_slice(iov, 2, 3, 2, sl, 2), 2);
    ck_assert(sl[0].iov_base == a + 3 && sl[0].iov_len == 1 && sl[1].iov_base == b && sl[1].iov_len == 1);
    ck_assert_uint_eq(hvr_iov_from_buf(iov, 2, 3, src, 3), 3);
    ck_assert(a[3] == 9 && b[0] == 9 && b[1] == 9 && b[2] == 7);
}
END_TEST

/* EVENT_IDX: the interrupt decision for pushes [old, old+n) against the
 * driver's used_event (or NO_INTERRUPT without event_idx), including
 * 16-bit wrap-around. */
static const struct {
    const char *name;
    bool event_idx;
    uint16_t flags, used_event, old, n;
    bool want;
} signals[] = {
    { "nothing-pushed", true, 0, 5, 5, 0, false },
    { "crosses", true, 0, 5, 5, 1, true },
    { "crosses-inside-batch", true, 0, 7, 5, 4, true },
    { "before-event", true, 0, 9, 5, 4, false },
    { "already-passed", true, 0, 3, 5, 4, false },
    { "ends-on-event", true, 0, 9, 5, 5, true },
    { "wraps", true, 0, 0xFFFF, 0xFFFE, 3, true },
    { "wraps-before", true, 0, 2, 0xFFFE, 3, false },
    { "flags-ignored-with-event-idx", true, 1, 5, 5, 1, true },
    { "no-event-idx-flags-clear", false, 0, 100, 5, 1, true },
    { "no-event-idx-no-interrupt", false, 1, 5, 5, 1, false },
};

START_TEST(test_need_signal)
{
    g_autoptr(HvrMem) mem = hvr_mem_new_from(ram, RAM);
    HvrVirtqueue vq = { .mem = mem, .size = QSZ, .desc = DESC, .avail = AVAIL, .used = USED,
                        .ready = true, .event_idx = signals[_i].event_idx };
    const char *name = signals[_i].name;
    unsigned k;
    bool r;

    memset(ram, 0, sizeof(ram));
    wr16(AVAIL, signals[_i].flags);
    wr16(AVAIL + 4 + 2 * QSZ, signals[_i].used_event);
    vq.used_idx = signals[_i].old;
    for (k = 0; k < signals[_i].n; k++)
        hvr_vq_push(&vq, 0, 0);
    r = hvr_vq_need_signal(&vq, signals[_i].old);
    ck_assert_msg(r == signals[_i].want, "%s: need_signal %d", name, r);
}
END_TEST

/* avail_event lands after the used ring's QSZ entries, and avail.idx read
 * back after it sees what the driver added. */
START_TEST(test_avail_event)
{
    g_autoptr(HvrMem) mem = hvr_mem_new_from(ram, RAM);
    HvrVirtqueue vq = { .mem = mem, .size = QSZ, .desc = DESC, .avail = AVAIL, .used = USED,
                        .ready = true, .event_idx = true };

    memset(ram, 0, sizeof(ram));
    hvr_vq_set_avail_event(&vq, 0x1234);
    ck_assert_uint_eq(rd16(USED + 4 + 8 * QSZ), 0x1234);
    ck_assert_uint_eq(rd16(USED + 2), 0);
    wr16(AVAIL + 2, 3);
    ck_assert_uint_eq(hvr_vq_avail_idx(&vq), 3);
    ck_assert(hvr_vq_has_avail(&vq));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-virtqueue");
    TCase *tc = tcase_create("virtqueue");

    tcase_add_loop_test(tc, test_pop, 0, G_N_ELEMENTS(cases));
    tcase_add_loop_test(tc, test_layout, 0, G_N_ELEMENTS(layouts));
    tcase_add_test(tc, test_iov);
    tcase_add_loop_test(tc, test_need_signal, 0, G_N_ELEMENTS(signals));
    tcase_add_test(tc, test_avail_event);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
