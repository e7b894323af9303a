/*
 * mm/bootmem.h - the boot allocator: memory before the heap exists.
 * See mm/bootmem.c for the algorithm and its rules.
 *
 * Boot order (kernel/main.c):
 *   bootmem_add_range() for every RAM bank,
 *   bootmem_reserve_range() for every range that is not free,
 *   alloc_boot_pages() as often as needed (the frame table comes first),
 *   end_boot_allocator(): everything left goes to the heap; the boot
 *   allocator is closed, and any later call is a panic.
 *
 * All ranges are half-open frame ranges [s, e).
 */
#ifndef MM_BOOTMEM_H
#define MM_BOOTMEM_H

#include <numbat/types.h>

/* Up to this many disjoint free ranges; one more is -ENOSPC. */
#define BOOTMEM_MAX_RANGES 64

/* Add RAM [s, e) as free. Returns 0, -EINVAL (s > e) or -ENOSPC. */
int bootmem_add_range(mfn_t s, mfn_t e);

/* Take [s, e) out of the free ranges (may split one). 0, -EINVAL or -ENOSPC. */
int bootmem_reserve_range(mfn_t s, mfn_t e);

/*
 * nr_pages frames, the first one a multiple of align_pages (a power of
 * two), carved from the top of the highest free range that can hold them.
 * Returns the first frame. Running out is a panic: nothing at boot can
 * cope with it. The frames stay uninitialised in the frame table.
 */
mfn_t alloc_boot_pages(unsigned long nr_pages, unsigned long align_pages);

/* Hand every free range to the heap (the boot hart's node first), then close.
 */
void end_boot_allocator(void);

/* True until end_boot_allocator() has run. */
bool bootmem_is_open(void);

/* Visit the free ranges in ascending order (for printing and tests). */
void bootmem_for_each_range(void (*fn)(mfn_t s, mfn_t e, void *arg), void *arg);

/* Forget everything (host tests build many machines in one process). */
void bootmem_reset(void);

#endif /* MM_BOOTMEM_H */
