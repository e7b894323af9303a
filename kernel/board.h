/*
 * kernel/board.h - the machine Numbat booted on, as the device tree
 * describes it (platform/machine.h's struct machine), read once at boot.
 *
 * Boot order (kernel/main.c):
 *   board_read_tree(dtb_pa)     check the blob, parse it (a bad one panics)
 *   board_reserve_boot_ranges() the kernel image and the blob itself
 *   board_print()               the machine:/bank:/reserved:/harts:/
 *                               distance: lines of docs/boot-output.md
 * After that, board() is the machine, for everyone, read-only.
 */
#ifndef KERNEL_BOARD_H
#define KERNEL_BOARD_H

#include <numbat/types.h>

#include "../platform/machine.h"

/*
 * The largest device tree blob we accept. QEMU virt makes a 1 MiB blob
 * (mostly free space for firmware fix-ups); a 4 MiB limit leaves room for
 * a hand-made -dtb while still catching a garbage totalsize before we read
 * a byte beyond the blob.
 */
#define BOARD_DTB_MAX_SIZE (4UL << 20)

/* The machine; valid after board_read_tree(). */
const struct machine *board(void);

/* The blob: where it was and how big its header says it is. */
paddr_t board_dtb_pa(void);
size_t board_dtb_size(void);

/*
 * Check the blob pointer and header, then parse it into the machine.
 * Anything wrong is a panic "board_read_tree: device tree at 0x...: why".
 */
void board_read_tree(paddr_t dtb_pa);

/* Reserve the kernel image [_start, _end) and the blob. Panics if full. */
void board_reserve_boot_ranges(void);

/* One more reserved range (live update's preserved memory): 0 or -ENOSPC. */
int board_add_reserved(paddr_t base, uint64_t size, enum reserve_kind kind);

/* Print the machine (docs/boot-output.md); the monitor's `mem` too. */
void board_print(void);

/* The kernel image, [kernel_start, kernel_end) (from kernel/kernel.ld). */
paddr_t board_kernel_start(void);
paddr_t board_kernel_end(void);

#endif /* KERNEL_BOARD_H */
