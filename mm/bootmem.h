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

/*
 * Add RAM [s, e) as free, joining every range it overlaps or touches.
 * Returns 0 (also for an empty range, which adds nothing), -EINVAL if
 * s > e (nothing changes), or -ENOSPC if [s, e) joins no range and all
 * BOOTMEM_MAX_RANGES slots are in use (nothing changes; a range that
 * joins others needs no new slot, so it is added even then).
 */
int bootmem_add_range(mfn_t s, mfn_t e);

/*
 * Take [s, e) out of every free range it overlaps: a range disappears,
 * loses its start or its end, or is split in two. Returns 0 (also for an
 * empty [s, s), which changes nothing), -EINVAL if s > e (nothing
 * changes), or -ENOSPC if a split needs a slot and all are in use (that
 * range is left as it was).
 */
int bootmem_reserve_range(mfn_t s, mfn_t e);

/*
 * nr_pages frames, the first one a multiple of align_pages (a power of
 * two), carved from the top of the highest free range that can hold them.
 * Returns the first frame. A panic, because nothing at boot can cope: a
 * bad request (nr_pages 0, align_pages 0 or not a power of two: "bad
 * request"), running out ("out of boot memory"), or a carve that would
 * split a range when all slots are in use ("range slots"). The frames
 * stay uninitialised in the frame table.
 */
mfn_t alloc_boot_pages(unsigned long nr_pages, unsigned long align_pages);

/*
 * Close the boot allocator, then hand every free range to the heap with
 * init_heap_pages(): first the ranges whose first frame is on the boot
 * hart's node, then the others, each pass in ascending order.
 */
void end_boot_allocator(void);

/* True until end_boot_allocator() has run. */
bool bootmem_is_open(void);

/* Visit the free ranges in ascending order (for printing and tests). */
void bootmem_for_each_range(void (*fn)(mfn_t s, mfn_t e, void *arg), void *arg);

/* Forget everything (host tests build many machines in one process). */
void bootmem_reset(void);

#endif /* MM_BOOTMEM_H */
