/*
 * kernel/fallback.h - the one table of hard-coded addresses.
 *
 * Numbat learns where its devices are from the device tree. These values
 * are used only when it cannot: before the tree has been read, or when the
 * tree does not name a device. They are QEMU virt's fixed addresses
 * (QEMU's hw/riscv/virt.c memory map), so the fallbacks are right on the
 * one machine Numbat runs on, and wrong anywhere else - which is why
 * nothing else in the kernel may hard-code an address.
 */
#ifndef KERNEL_FALLBACK_H
#define KERNEL_FALLBACK_H

#define FALLBACK_UART_BASE 0x10000000UL /* ns16550a, reg-shift 0 */
#define FALLBACK_UART_REG_SHIFT 0
#define FALLBACK_TEST_BASE 0x00100000UL /* sifive,test: exit status */
#define FALLBACK_RAM_BASE 0x80000000UL  /* first byte of DRAM */
#define FALLBACK_TIMEBASE_HZ 10000000UL /* rdtime ticks per second */

#endif /* KERNEL_FALLBACK_H */
