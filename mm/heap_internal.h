/*
 * mm/heap_internal.h - what the heap's own files share (mm/heap.c and
 * mm/init_heap.c); nothing outside mm/ should include it. Every function
 * here expects the heap lock held.
 */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

#include <numbat/types.h>

/*
 * Step 1 of the free path: take frames [s, e) back. Check that each may be
 * freed - inuse, heap-owned (no hole, no carved frame, not MFN 0), on node
 * `node` - and mark it free and, as scrub= says (mm/scrub.c), dirty. A
 * frame that fails is a panic naming it.
 */
void heap_take_back_frames(mfn_t s, mfn_t e, unsigned int node);

/* Step 2 of the free path: put the taken-back block on its node's lists. */
void heap_merge_block(mfn_t mfn, unsigned int order, unsigned int node);

/*
 * The free path of an inuse block: take the frames back, poison them
 * (debug builds), merge.
 */
void heap_free_block_locked(mfn_t mfn, unsigned int order);

/* Panic unless [mfn, mfn + 2^order) is an aligned block inside the table. */
void heap_check_block_args(const char *fn, mfn_t mfn, unsigned int order);

/*
 * The public function whose path is running, for the panics of the shared
 * steps above: "free_heap_pages", unless init_heap_pages() said otherwise
 * with heap_set_entry() (NULL goes back to the default). So a bad frame met
 * while init_heap_pages() runs is reported as init_heap_pages's.
 */
void heap_set_entry(const char *fn);
const char *heap_entry(void);

/* init_heap_pages() of [s, e), the lock held (mm/init_heap.c). */
void init_heap_pages_locked(mfn_t s, mfn_t e);

#endif /* MM_HEAP_INTERNAL_H */
