/*
 * hvr_uart.h: 16550A UART (COM1 0x3F8 IRQ 4, COM2 0x2F8 IRQ 3).
 *
 * Design note: register model after the 16550A data sheet and vmm-boot.md
 * section 5.4 (loopback, scratch, FIFO bits, THRE re-assertion).  Output
 * goes to a HvrChardev, input arrives from it into a 64-byte RX FIFO.
 * Thread-safety: `lock` guards all registers; port accesses come from vCPU
 * threads, input from the main thread; the IRQ line is driven under the lock
 * so that level changes are ordered.
 */
#ifndef HVR_UART_H
#define HVR_UART_H

#include "hvr_chardev.h"
#include "hvr_machine.h"

typedef struct _HvrUart HvrUart;

HvrUart *hvr_uart_new(HvrMachine *m, int index, HvrChardev *chr);  /* takes chr */
void hvr_uart_free(HvrUart *u);
/* Register state machine without a machine (tests): irq_fn may be NULL. */
void hvr_uart_access(HvrUart *u, unsigned reg, bool write, uint8_t *val);
void hvr_uart_receive(void *opaque, const uint8_t *buf, size_t len);

#endif
