/*
 * mm/heap_internal.h - what the heap's own files share (mm/heap.c and
 * mm/init_heap.c); nothing outside mm/ should include it. Every function
 * here expects the lock of the node it works on held, unless it says
 * otherwise.
 */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

#include <numbat/types.h>

/*
 * Step 1 of the free path: take frames [s, e) back. Check that each may be
 * freed - inuse, heap-owned (no hole, no carved frame, not MFN 0), on node
 * `node` - and mark it free. A frame that fails is a panic naming it.
 */
void heap_take_back_frames(mfn_t s, mfn_t e, unsigned int node);

/* Step 2 of the free path: put the taken-back block on its node's lists. */
void heap_merge_block(mfn_t mfn, unsigned int order, unsigned int node);

/*
 * The free path of an inuse block: take its node's lock, take the frames
 * back, poison them (debug builds), merge, let go of the lock.
 */
void heap_free_block(mfn_t mfn, unsigned int order);

/* Panic unless [mfn, mfn + 2^order) is an aligned block inside the table. */
void heap_check_block_args(const char *fn, mfn_t mfn, unsigned int order);

/*
 * init_heap_pages() of [s, e) (mm/init_heap.c): takes the lock of each
 * node run's node itself, one at a time.
 */
void init_heap_range(mfn_t s, mfn_t e);

#endif /* MM_HEAP_INTERNAL_H */
