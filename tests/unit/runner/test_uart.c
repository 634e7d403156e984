/* test_uart.c: 16550A register model: what Linux's 8250 autoconfig and
 * startup probe (scratch, IER read-back, loopback MSR, FIFO bits, THRE
 * re-assertion) and receive. */
#include <check.h>

#include "hvr_uart.h"

#include "test_common.h"

enum { THR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

typedef struct { char op; unsigned reg; uint8_t val; } Step;   /* 'w' write, 'r' expect */

#define END { 0, 0, 0 }

static const struct {
    const char *name;
    Step steps[16];
} cases[] = {
    { "reset-state", { { 'r', IIR, 0x01 }, { 'r', LSR, 0x60 }, { 'r', MSR, 0xB0 }, { 'r', MCR, 0x08 }, END } },
    { "scratch", { { 'w', SCR, 0xA5 }, { 'r', SCR, 0xA5 }, { 'w', SCR, 0x5A }, { 'r', SCR, 0x5A }, END } },
    { "ier-readback", { { 'w', IER, 0x0F }, { 'r', IER, 0x0F }, { 'w', IER, 0xFF }, { 'r', IER, 0x0F }, END } },
    { "divisor-latch", { { 'w', LCR, 0x80 }, { 'w', THR, 0x01 }, { 'w', IER, 0x00 }, { 'r', THR, 0x01 },
                         { 'r', IER, 0x00 }, { 'w', LCR, 0x03 }, { 'r', LCR, 0x03 }, END } },
    { "loopback-msr", { { 'w', MCR, 0x1A }, { 'r', MSR, 0x90 }, { 'w', MCR, 0x1F }, { 'r', MSR, 0xF0 },
                        { 'w', MCR, 0x10 }, { 'r', MSR, 0x00 }, END } },
    { "loopback-data", { { 'w', MCR, 0x10 }, { 'w', THR, 0x55 }, { 'r', LSR, 0x61 }, { 'r', THR, 0x55 },
                         { 'r', LSR, 0x60 }, END } },
    { "fifo-bits", { { 'w', IIR, 0x07 }, { 'r', IIR, 0xC1 }, { 'w', IIR, 0x00 }, { 'r', IIR, 0x01 }, END } },
    /* serial8250_do_startup: THRI on -> IIR shows THRE; off; on again -> THRE again */
    { "thre-reassert", { { 'w', IER, 0x02 }, { 'r', IIR, 0x02 }, { 'r', IIR, 0x01 }, { 'w', IER, 0x00 },
                         { 'w', IER, 0x02 }, { 'r', IIR, 0x02 }, END } },
    { "thre-after-tx", { { 'w', IER, 0x02 }, { 'r', IIR, 0x02 }, { 'w', THR, 'x' }, { 'r', IIR, 0x02 },
                         { 'r', IIR, 0x01 }, END } },
    { "rx-interrupt", { { 'w', IER, 0x01 }, { 'r', IIR, 0x01 }, { 'x', 0, 'k' }, { 'r', IIR, 0x04 },
                        { 'r', LSR, 0x61 }, { 'r', THR, 'k' }, { 'r', IIR, 0x01 }, END } },
};

START_TEST(test_steps)
{
    HvrUart *u = hvr_uart_new(NULL, 0, NULL);
    unsigned i;

    for (i = 0; cases[_i].steps[i].op; i++) {
        const Step *s = &cases[_i].steps[i];
        uint8_t v = s->val;

        if (s->op == 'w') {
            hvr_uart_access(u, s->reg, true, &v);
        } else if (s->op == 'x') {
            hvr_uart_receive(u, &v, 1);
        } else {
            hvr_uart_access(u, s->reg, false, &v);
            ck_assert_msg(v == s->val, "%s: step %u: reg %u read 0x%02x, expected 0x%02x",
                          cases[_i].name, i, s->reg, v, s->val);
        }
    }
    hvr_uart_free(u);
}
END_TEST

START_TEST(test_overrun)
{
    HvrUart *u = hvr_uart_new(NULL, 0, NULL);
    uint8_t buf[100], v;
    unsigned i;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = i;
    hvr_uart_receive(u, buf, sizeof(buf));
    hvr_uart_access(u, LSR, false, &v);
    ck_assert_msg((v & 0x03) == 0x03, "overrun: LSR 0x%02x", v);
    hvr_uart_access(u, LSR, false, &v);
    ck_assert_msg((v & 0x02) == 0, "overrun bit not cleared by LSR read");
    for (i = 0; i < 64; i++) {
        hvr_uart_access(u, THR, false, &v);
        ck_assert_msg(v == i, "fifo byte %u = %u", i, v);
    }
    hvr_uart_access(u, LSR, false, &v);
    ck_assert_msg(!(v & 1), "data ready after draining");
    hvr_uart_free(u);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("runner-uart");
    TCase *tc = tcase_create("uart");

    tcase_add_loop_test(tc, test_steps, 0, G_N_ELEMENTS(cases));
    tcase_add_test(tc, test_overrun);
    suite_add_tcase(s, tc);
    return test_suite_run(s);
}
