/* hvr_uart.c: 16550A serial port. */
#include <string.h>

#include "hvr_uart.h"

#define UART_FIFO 64

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IER_RLSI  0x04
#define IER_MSI   0x08
#define LCR_DLAB  0x80
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

struct _HvrUart {
    HvrMachine *m;
    int index;
    unsigned irq;
    unsigned port;
    HvrChardev *chr;

    GMutex lock;            /* guards everything below */
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
    gboolean thre_pending;  /* THR empty interrupt not yet acknowledged */
    uint8_t rx[UART_FIFO];
    unsigned rx_head, rx_count;
    int irq_level;
};

static uint8_t
hvr_uart_iir_locked(HvrUart *u)
{
    uint8_t fifo = (u->fcr & 1) ? 0xC0 : 0;

    if ((u->ier & IER_RLSI) && (u->lsr & LSR_OE))
        return 0x06 | fifo;
    if ((u->ier & IER_RDI) && u->rx_count)
        return 0x04 | fifo;
    if ((u->ier & IER_THRI) && u->thre_pending)
        return 0x02 | fifo;
    return 0x01 | fifo;
}

static void
hvr_uart_update_irq_locked(HvrUart *u)
{
    int level = !(hvr_uart_iir_locked(u) & 1);

    if (level != u->irq_level) {
        u->irq_level = level;
        if (u->m)
            hvr_machine_irq_line(u->m, u->irq, level);
    }
}

static void
hvr_uart_tx_locked(HvrUart *u, uint8_t c)
{
    if (u->mcr & MCR_LOOP) {
        if (u->rx_count < UART_FIFO) {
            u->rx[(u->rx_head + u->rx_count++) % UART_FIFO] = c;
            u->lsr |= LSR_DR;
        } else {
            u->lsr |= LSR_OE;
        }
    } else if (u->chr) {
        hvr_chardev_write(u->chr, &c, 1);
    }
    u->thre_pending = TRUE;
}

void
hvr_uart_access(HvrUart *u, unsigned reg, bool write, uint8_t *val)
{
    g_mutex_lock(&u->lock);
    if (write) {
        uint8_t v = *val;

        switch (reg) {
        case RBR_THR:
            if (u->lcr & LCR_DLAB)
                u->dll = v;
            else
                hvr_uart_tx_locked(u, v);
            break;
        case IER:
            if (u->lcr & LCR_DLAB) {
                u->dlm = v;
            } else {
                /* Re-assert THRE whenever THRI gets enabled while empty. */
                if ((v & IER_THRI) && !(u->ier & IER_THRI))
                    u->thre_pending = TRUE;
                u->ier = v & 0x0F;
            }
            break;
        case IIR_FCR:
            u->fcr = v & 0xC9;
            if (v & 0x02) {             /* clear RX FIFO */
                u->rx_count = 0;
                u->lsr &= ~LSR_DR;
            }
            break;
        case LCR: u->lcr = v; break;
        case MCR: u->mcr = v & 0x1F; break;
        case LSR: break;
        case MSR: break;
        case SCR: u->scr = v; break;
        }
    } else {
        uint8_t v = 0xFF;

        switch (reg) {
        case RBR_THR:
            if (u->lcr & LCR_DLAB) {
                v = u->dll;
            } else if (u->rx_count) {
                v = u->rx[u->rx_head];
                u->rx_head = (u->rx_head + 1) % UART_FIFO;
                if (--u->rx_count == 0)
                    u->lsr &= ~LSR_DR;
            } else {
                v = 0;
            }
            break;
        case IER: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
        case IIR_FCR:
            v = hvr_uart_iir_locked(u);
            if ((v & 0x0F) == 0x02)     /* reading IIR acknowledges THRE */
                u->thre_pending = FALSE;
            break;
        case LCR: v = u->lcr; break;
        case MCR: v = u->mcr; break;
        case LSR:
            v = u->lsr | LSR_THRE | LSR_TEMT;
            u->lsr &= ~LSR_OE;
            break;
        case MSR:
            if (u->mcr & MCR_LOOP) {
                v = ((u->mcr & 0x01) << 5) |   /* DTR -> DSR */
                    ((u->mcr & 0x02) << 3) |   /* RTS -> CTS */
                    ((u->mcr & 0x04) << 4) |   /* OUT1 -> RI */
                    ((u->mcr & 0x08) << 4);    /* OUT2 -> DCD */
            } else {
                v = u->msr;
            }
            break;
        case SCR: v = u->scr; break;
        }
        *val = v;
    }
    hvr_uart_update_irq_locked(u);
    g_mutex_unlock(&u->lock);
}

static void
hvr_uart_pio(void *opaque, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    uint8_t b = (uint8_t)*val;

    if (size != 1) {
        if (!write)
            *val = ~0ULL;
        return;
    }
    hvr_uart_access(opaque, (unsigned)off, write, &b);
    if (!write)
        *val = b;
}

void
hvr_uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    HvrUart *u = opaque;
    size_t i;

    g_mutex_lock(&u->lock);
    for (i = 0; i < len; i++) {
        if (u->rx_count == UART_FIFO) {
            u->lsr |= LSR_OE;
            break;
        }
        u->rx[(u->rx_head + u->rx_count++) % UART_FIFO] = buf[i];
        u->lsr |= LSR_DR;
    }
    hvr_uart_update_irq_locked(u);
    g_mutex_unlock(&u->lock);
}

static void
hvr_uart_stats(void *opaque, GString *out)
{
    HvrUart *u = opaque;

    g_string_append_printf(out, " com%d.tx_bytes=%" G_GUINT64_FORMAT, u->index + 1,
                           u->chr ? hvr_chardev_bytes_out(u->chr) : 0);
}

HvrUart *
hvr_uart_new(HvrMachine *m, int index, HvrChardev *chr)
{
    HvrUart *u = g_new0(HvrUart, 1);

    g_mutex_init(&u->lock);
    u->m = m;
    u->index = index;
    u->irq = index == 0 ? 4 : 3;
    u->port = index == 0 ? 0x3F8 : 0x2F8;
    u->chr = chr;
    u->lsr = LSR_TEMT | LSR_THRE;
    u->msr = 0xB0;              /* DCD | DSR | CTS */
    u->mcr = 0x08;              /* OUT2 */
    if (m) {
        HvrDevice *dev = g_new0(HvrDevice, 1);

        hvr_iobus_add(m->pio, u->port, 8, hvr_uart_pio, u);
        dev->model = index == 0 ? "com1" : "com2";
        dev->slot = -1;
        dev->opaque = u;
        dev->stats = hvr_uart_stats;
        dev->free = (void (*)(void *))hvr_uart_free;
        hvr_machine_add_device(m, dev);
        if (chr)
            hvr_chardev_attach(chr, m->ctx, hvr_uart_receive, u);
    }
    return u;
}

void
hvr_uart_free(HvrUart *u)
{
    if (!u)
        return;
    hvr_chardev_free(u->chr);
    g_mutex_clear(&u->lock);
    g_free(u);
}
