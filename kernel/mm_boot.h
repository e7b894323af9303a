/*
 * kernel/mm_boot.h - bringing up the memory manager from the machine.
 *
 * Boot order (kernel/main.c), after board_reserve_boot_ranges():
 *   mm_boot_init()        boot allocator = RAM banks minus reserved
 *                         ranges; the frame table, carved from it; holes
 *   mm_boot_end()         deferred init's pending ranges, then
 *                         end_boot_allocator(): the heap takes the rest
 *   mm_boot_print_heap()  the heap: lines of docs/boot-output.md
 *   mm_boot_start_deferred()  after the console is up: the other harts
 *                         hand the pending frames over (kernel/mm_boot.c)
 *   mm_boot_settle()      whoever needs a settled heap (tests, `settle`)
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
    mfn_t frametable_mfn;           /* its first part's first frame */
    unsigned long sections_zeroed;  /* frame-table sections the boot hart
                                       zeroed (mm/frametable.h) */
    unsigned long sections_waiting; /* sections left not ready, every frame
                                       pending: the workers zero them */
    unsigned long handed_pages;     /* free in the boot allocator at its end */
    unsigned long heap_free_pages;  /* free in the heap right after that */
    unsigned long pending_pages;    /* of handed_pages, left to deferred init */
};

/* deferred_init=on|off|one|hold (kernel/mm_boot.c says what each does). */
enum deferred_mode {
    DEFERRED_ON,   /* deferred if another hart is online (the default) */
    DEFERRED_OFF,  /* eager: everything at the end of the boot allocator */
    DEFERRED_ONE,  /* deferred, one hart hands over every node */
    DEFERRED_HOLD, /* deferred, nobody starts: on demand or at settle */
};

/* The deferred_init= boot argument (a row in kernel/bootargs.c). */
int mm_boot_set_deferred(const char *value, bool has_value, const char **why);

/* The mode boot ran with (on becomes off on a machine of one hart). */
enum deferred_mode mm_boot_deferred_mode(void);

/* True once the worker harts were given their nodes (start or settle). */
bool mm_boot_deferred_started(void);

/*
 * Give every other online hart its nodes' pending frames (smp_run_on) and
 * return at once. Does nothing with deferred_init=off or hold, or when
 * nothing is pending; a second call does nothing.
 */
void mm_boot_start_deferred(void);

/*
 * Wait until no frame is pending, handing over on this hart whatever no
 * worker hart has (deferred_init=hold: the workers start now), and until
 * the workers are idle again (so smp_run_on() finds them free). Returns
 * the rdtime ticks from the start of the hand-over to its last chunk
 * (the same on every later call), or 0 if nothing was ever deferred.
 * Caller holds no heap lock.
 */
uint64_t mm_boot_settle(void);

void mm_boot_init(void);
void mm_boot_end(void);

/* One "heap: node N zone Z: ..." line per non-empty zone, then the total. */
void mm_boot_print_heap(void);

const struct mm_boot_stats *mm_boot_stats(void);

/* Frames carved for node heaps' structures, on every node. */
unsigned long mm_boot_meta_pages(void);

/* Frames parked out of service (offlined or broken), on every node. */
unsigned long mm_boot_parked_pages(void);

/*
 * Where the frames the boot allocator handed over (and the initrd's, once
 * freed) are now, summed: free in the heap, carved for a node heap, or
 * parked out of service (offlined or broken: badpages=, or the monitor's
 * offline). Once nothing is pending and every test gave back what it took,
 * it equals handed_pages + the initrd's freed frames.
 */
unsigned long mm_boot_accounted_pages(void);

/*
 * Node `node`'s heap lock so far: times taken, and failed tries before
 * those takes (kernel/spinlock.h). Spins per acquisition is its contention.
 */
void heap_lock_stats(unsigned int node, uint64_t *acquired, uint64_t *spins);

#endif /* KERNEL_MM_BOOT_H */
