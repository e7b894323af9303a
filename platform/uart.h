/*
 * platform/uart.h - the ns16550a serial port: the console.
 *
 * QEMU virt has one 16550-compatible UART; the device tree gives its
 * address and register spacing (reg-shift). Until uart_init() has run,
 * nothing here may be called (the kernel prints through SBI instead).
 */
#ifndef PLATFORM_UART_H
#define PLATFORM_UART_H

#include <numbat/types.h>

/* Use the UART whose registers start at base, each 1 << reg_shift apart. */
void uart_init(paddr_t base, uint32_t reg_shift);

/* True once uart_init() has run. */
bool uart_ready(void);

/* Send one byte, waiting until the transmitter can take it. */
void uart_putc(char c);

/* One received byte, or -1 when none is waiting (never blocks). */
int uart_getc(void);

#endif /* PLATFORM_UART_H */
