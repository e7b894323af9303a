/*
 * mm/buddy.h - the buddy algorithm on one node heap's lists (lab buddy).
 * See mm/buddy.c. Every function here expects the heap lock held.
 */
#ifndef MM_BUDDY_H
#define MM_BUDDY_H

#include <numbat/types.h>

#include "mm/node_heap.h"

/*
 * Put the 2^order block at mfn, whose frames are already marked free and
 * lie on nh's node, on its free list, merging it with its buddies as far
 * as the rules allow, and count its frames as free.
 */
void buddy_free(struct node_heap *nh, mfn_t mfn, unsigned int order);

/*
 * Take a 2^order block from zone `zone` of nh: the first block of the
 * smallest order that fits, split down to size; its frames are marked
 * inuse and no longer counted as free. INVALID_MFN if the zone has none.
 */
mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone, unsigned int order);

/* Blocks on nh's list of (zone, order). */
unsigned long buddy_count_blocks(const struct node_heap *nh, unsigned int zone,
                                 unsigned int order);

/* The order of the largest aligned block that starts at s and ends by e
 * (0 < s < e). */
unsigned int buddy_largest_order(mfn_t s, mfn_t e);

/*
 * MFN 0 must never enter the heap. Given [s, e) on its way in, park MFN 0
 * (if s is 0) as offlined and return the first frame the heap may take.
 */
mfn_t buddy_skip_mfn0(mfn_t s, mfn_t e);

#endif /* MM_BUDDY_H */
