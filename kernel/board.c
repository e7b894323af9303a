/*
 * kernel/board.c - reading the device tree once, checking it first.
 *
 * OpenSBI hands us the blob's address in a1. Before the parser may touch
 * it we check, in order, everything a wild pointer or a garbage blob could
 * get wrong, so that a bad tree is a clear panic and never a hang or a
 * read far outside the blob:
 *
 *   1. the address is non-zero, 8-byte aligned (the format requires it),
 *      in DRAM, and not inside the kernel image;
 *   2. the header's magic is 0xd00dfeed;
 *   3. its totalsize is at least a header and at most BOARD_DTB_MAX_SIZE;
 *   4. machine_from_fdt() then reads at most totalsize bytes and checks
 *      the structure itself, giving a one-line reason when it fails.
 *
 * This file also prints the machine, through platform/machine_print.c
 * (which the host tool dtinfo shares), in the shape docs/boot-output.md
 * fixes, which the boot tests and the grader read.
 */
#include <numbat/errno.h>

#include "board.h"
#include "fallback.h"
#include "panic.h"
#include "printk.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_HEADER_SIZE 40 /* ten 32-bit big-endian words */

extern char _start[], _end[]; /* kernel/kernel.ld */

static struct machine machine;
static paddr_t dtb_pa;
static size_t dtb_size;

const struct machine *board(void)
{
    return &machine;
}

paddr_t board_dtb_pa(void)
{
    return dtb_pa;
}

size_t board_dtb_size(void)
{
    return dtb_size;
}

paddr_t board_kernel_start(void)
{
    return (paddr_t)(uintptr_t)_start;
}

paddr_t board_kernel_end(void)
{
    return (paddr_t)(uintptr_t)_end;
}

/* The device tree stores numbers big-endian; RISC-V is little-endian. */
static uint32_t be32_at(paddr_t pa)
{
    const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)pa;

    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Steps 1-3 of the file comment; returns the blob's totalsize. */
static size_t check_blob(paddr_t pa)
{
    uint32_t magic, total;

    if (pa == 0 || (pa & 7) || pa < FALLBACK_RAM_BASE)
        panic("board_read_tree: device tree at 0x%lx: not an 8-byte aligned "
              "address in RAM (the firmware passed a bad a1)",
              (unsigned long)pa);
    if (pa + BOARD_DTB_MAX_SIZE < pa ||
        (pa < board_kernel_end() &&
         pa + FDT_HEADER_SIZE > board_kernel_start()))
        panic("board_read_tree: device tree at 0x%lx: overlaps the kernel "
              "image or wraps the address space",
              (unsigned long)pa);
    magic = be32_at(pa);
    if (magic != FDT_MAGIC)
        panic("board_read_tree: device tree at 0x%lx: bad magic 0x%08x, "
              "expected 0x%08x: not a device tree blob",
              (unsigned long)pa, magic, FDT_MAGIC);
    total = be32_at(pa + 4);
    if (total < FDT_HEADER_SIZE || total > BOARD_DTB_MAX_SIZE)
        panic("board_read_tree: device tree at 0x%lx: totalsize %u is not "
              "between %u and %lu bytes",
              (unsigned long)pa, total, FDT_HEADER_SIZE, BOARD_DTB_MAX_SIZE);
    return total;
}

void board_read_tree(paddr_t pa)
{
    const char *why = "no reason given";
    const void *blob;
    int err;

    dtb_pa = pa;
    dtb_size = check_blob(pa);
    blob = (const void *)(uintptr_t)pa;
    err = machine_from_fdt(&machine, blob, dtb_size, &why);
    if (err)
        panic("board_read_tree: device tree at 0x%lx: %s (%s); fix the "
              "tree, or boot without -dtb",
              (unsigned long)pa, why, errno_name(err));
    if (machine.nr_banks == 0)
        panic("board_read_tree: device tree at 0x%lx: no memory banks",
              (unsigned long)pa);
}

static void reserve(paddr_t base, uint64_t size, enum reserve_kind kind)
{
    int err = machine_add_reserved(&machine, base, size, kind, "");

    if (err)
        panic("board_reserve_boot_ranges: cannot reserve %s [0x%lx, 0x%lx): "
              "%s (%s)",
              reserve_kind_name(kind), (unsigned long)base,
              (unsigned long)(base + size), errno_name(err),
              err == -ENOSPC ? "the table of reserved ranges is full; "
                               "raise MACHINE_MAX_RESERVED"
                             : "the range wraps past the top of memory");
}

int board_add_reserved(paddr_t base, uint64_t size, enum reserve_kind kind)
{
    return machine_add_reserved(&machine, base, size, kind, "");
}

void board_reserve_boot_ranges(void)
{
    reserve(board_kernel_start(), board_kernel_end() - board_kernel_start(),
            RESERVE_KERNEL);
    reserve(dtb_pa, ALIGN_UP((uint64_t)dtb_size, PAGE_SIZE), RESERVE_DTB);
}

/* ---- printing ------------------------------------------------------- */

static void emit_line(void *unused, const char *line)
{
    printk("%s\n", line);
}

void board_print(void)
{
    machine_print(&machine, emit_line, NULL);
}
