/*
 * kernel/mm_boot.h - bringing up the memory manager from the machine.
 *
 * Boot order (kernel/main.c), after board_reserve_boot_ranges():
 *   mm_boot_init()        boot allocator = RAM banks minus reserved
 *                         ranges; the frame table, carved from it; holes
 *   mm_boot_end()         end_boot_allocator(): the heap takes the rest
 *   mm_boot_print_heap()  the heap: lines of docs/boot-output.md
 *
 * mm_boot keeps the page counts it saw along the way, so that tests can
 * check the heap against them (RAM - reserved - frame table = what the
 * boot allocator handed over; the heap then keeps a few pages for its own
 * node structures).
 */
#ifndef KERNEL_MM_BOOT_H
#define KERNEL_MM_BOOT_H

#include <numbat/types.h>

struct mm_boot_stats {
    unsigned long ram_pages;        /* whole frames in all RAM banks */
    unsigned long reserved_pages;   /* RAM frames touched by a reserved range */
    unsigned long frametable_pages; /* frames the frame table took */
    mfn_t frametable_mfn;           /* its first frame */
    unsigned long handed_pages;     /* free in the boot allocator at its end */
    unsigned long heap_free_pages;  /* free in the heap right after that */
};

void mm_boot_init(void);
void mm_boot_end(void);

/* One "heap: node N zone Z: ..." line per non-empty zone, then the total. */
void mm_boot_print_heap(void);

const struct mm_boot_stats *mm_boot_stats(void);

/*
 * Node `node`'s heap lock so far: times taken, and failed tries before
 * those takes (kernel/spinlock.h). Spins per acquisition is its contention.
 */
void heap_lock_stats(unsigned int node, uint64_t *acquired, uint64_t *spins);

#endif /* KERNEL_MM_BOOT_H */
