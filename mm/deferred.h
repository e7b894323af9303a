/*
 * mm/deferred.h - deferred initialisation: most of RAM reaches the heap
 * after boot, in chunks, on the harts of its own node. See mm/deferred.c
 * for the rules and docs/mm.md ("Deferred initialisation") for the picture.
 *
 * Boot order (kernel/mm_boot.c; host tests do the same):
 *   deferred_defer_boot_ranges(boot_node, eager_pages)
 *                         before end_boot_allocator(): every free frame
 *                         beyond the eager part leaves the boot allocator
 *                         and is recorded as pending, per node;
 *   end_boot_allocator()  hands the heap the eager part only;
 *   deferred_run_node(n)  later, on node n's harts (in parallel): chunks of
 *                         n's pending ranges through init_heap_pages();
 *   deferred_grow(n)      from the allocation path: one chunk, now.
 *
 * All ranges are half-open frame ranges [s, e).
 */
#ifndef MM_DEFERRED_H
#define MM_DEFERRED_H

#include <numbat/types.h>

/*
 * Frames end_boot_allocator() hands over at once: the first (lowest)
 * free frames of the boot hart's node, 32 MiB of 4 KiB frames. Enough for
 * the monitor, the tests' first allocations and the initrd's neighbours;
 * anything more an allocation needs early comes through deferred_grow().
 */
#define DEFERRED_EAGER_PAGES 8192UL

/*
 * Frames one chunk holds: 16 MiB, 2^12 frames. Chunks start at multiples
 * of it (the first one of a range may be shorter), so a chunk is handed
 * over in blocks of up to order 12 and grows by merging with its
 * neighbours. A chunk holds its node's lock for about as long as
 * init_heap_pages() of 4096 frames takes: short enough for an allocation
 * racing with the worker.
 */
#define DEFERRED_CHUNK_PAGES 4096UL

/* Pending ranges a node can hold; one more leaves that range eager. */
#define DEFERRED_MAX_RANGES 16

/*
 * Record every free range of the (open) boot allocator beyond the first
 * `eager_pages` frames of node `boot_node` as pending, and take it out of
 * the boot allocator, so that end_boot_allocator() hands over only the
 * rest. Call once per boot, between the last alloc_boot_pages() and
 * end_boot_allocator(). Not calling it at all is eager init (the
 * deferred_init=off boot argument). Returns the frames made pending.
 */
unsigned long deferred_defer_boot_ranges(unsigned int boot_node,
                                         unsigned long eager_pages);

/*
 * Hand one chunk of node `node`'s pending frames to the heap through
 * init_heap_pages(). Returns true if it did, false if nothing of node was
 * pending (a chunk another hart is still handing over does not count).
 * Takes the node's lock; the caller holds no heap lock.
 */
bool deferred_init_chunk(unsigned int node);

/* deferred_init_chunk() until node `node` has nothing pending. */
void deferred_run_node(unsigned int node);

/*
 * For an allocation that found node `node` short: hand over one chunk of
 * it, or, when another hart has the node's last chunks on the way, wait
 * until one of them is in. Returns true if the node may now hold more free
 * frames (try again), false once nothing of it is pending or on the way.
 * Caller holds no heap lock.
 */
bool deferred_grow(unsigned int node);

/* Frames of node `node` not yet in the heap: pending or on their way. */
unsigned long deferred_pending_pages(unsigned int node);

/* deferred_pending_pages() summed over every node. */
unsigned long deferred_total_pending(void);

/*
 * For heap_check() (mm/heap_check.c), which holds every node lock: check
 * node `node`'s pending ranges - each frame uninitialised RAM of that node,
 * never initialised, the count right. `broken(mfn, rule)` is called for
 * each frame that is not (mfn INVALID_MFN: a rule about the node, not a
 * frame); returns the frames not yet in the heap, pending or on the way.
 */
unsigned long deferred_check_node(unsigned int node,
                                  void (*broken)(mfn_t mfn, const char *rule));

/* Forget every pending range (host tests build many machines). */
void deferred_reset(void);

#endif /* MM_DEFERRED_H */
