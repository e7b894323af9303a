/*
 * platform/uart.c - a polled driver for the ns16550a UART.
 *
 * Polled means no interrupts: to send, wait until the Line Status
 * Register says the transmit holding register is empty, then write the
 * byte; to receive, look at the "data ready" bit and read the byte if
 * there is one. QEMU's model needs no baud-rate setup, but we still turn
 * on the FIFOs, as real hardware would need.
 *
 * Registers (offset in units of 1 << reg_shift bytes):
 *   0 RBR/THR  receive buffer (read) / transmit holding (write)
 *   1 IER      interrupt enable: 0, we poll
 *   2 FCR      FIFO control (write)
 *   5 LSR      line status: bit 0 data ready, bit 5 THR empty
 */
#include "uart.h"

#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LSR 5

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define FCR_ENABLE_FIFOS 0x07 /* enable, clear receive and transmit FIFOs */

static volatile uint8_t *uart_regs; /* NULL until uart_init() */
static uint32_t uart_shift; /* register spacing: 1 << uart_shift bytes */

static uint8_t uart_read(unsigned int reg)
{
    return uart_regs[reg << uart_shift];
}

static void uart_write(unsigned int reg, uint8_t value)
{
    uart_regs[reg << uart_shift] = value;
}

void uart_init(paddr_t base, uint32_t reg_shift)
{
    uart_regs = (volatile uint8_t *)(uintptr_t)base;
    uart_shift = reg_shift;
    uart_write(UART_IER, 0);
    uart_write(UART_FCR, FCR_ENABLE_FIFOS);
}

bool uart_ready(void)
{
    return uart_regs != NULL;
}

void uart_putc(char c)
{
    while (!(uart_read(UART_LSR) & LSR_THR_EMPTY))
        ;
    uart_write(UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
    if (!(uart_read(UART_LSR) & LSR_DATA_READY))
        return -1;
    return uart_read(UART_RBR);
}
