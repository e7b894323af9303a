/*
 * mm/heap.h - the NUMA-aware buddy heap. See mm/heap.c for the algorithm.
 *
 * Names follow the Xen allocator this design starts from (init_heap_pages,
 * free_heap_pages, alloc_heap_pages), because those are the words of the
 * Xen thread that docs/xen-thread.md tells.
 */
#ifndef MM_HEAP_H
#define MM_HEAP_H

#include <numbat/types.h>

#ifdef NUMBAT_OLD_RULES /* live update's "old" kernel (docs/liveupdate.md) */
#define MAX_ORDER 20 /* largest block: 2^20 pages = 4 GiB */
#else
#define MAX_ORDER 18 /* largest block: 2^18 pages = 1 GiB */
#endif
#define NR_ZONES 64  /* zone z holds frames whose MFN is z bits wide */

/* Flags for alloc_heap_pages(). */
#define ALLOC_EXACT_NODE 0x1u /* only the requested node, no fallback */
#define ALLOC_NO_SCRUB 0x2u   /* the caller needs no zeroed memory */

/*
 * The zone of a frame is the bit width of its MFN: zone z holds frames
 * [2^(z-1), 2^z), and zone 0 holds MFN 0 alone. A frame below 2^bits bytes
 * is in a zone <= bits - PAGE_SHIFT.
 */
static inline unsigned int mfn_zone(mfn_t mfn)
{
    return mfn ? 64u - (unsigned int)__builtin_clzl(mfn) : 0u;
}

/* The frame table is set up by frametable_init() (mm/frametable.h). */

/*
 * Give frames [mfn, mfn + nr_pages) to the heap for the first time, in
 * the largest aligned blocks, split at holes and node boundaries. Every
 * RAM frame in the range must be uninitialised (else a panic); holes are
 * skipped; MFN 0 is kept out (parked as offlined). Touches only page_info,
 * never the pages, except the few it carves for a new node heap. Takes the
 * heap lock.
 */
void init_heap_pages(mfn_t mfn, unsigned long nr_pages);

/*
 * Return the 2^order block at mfn (aligned to its size) to the heap. A block
 * whose first page is uninitialised goes through init_heap_pages() first.
 * Freeing a page that is already free, or one that the heap never gave out,
 * is a panic that names the frame and its state.
 */
void free_heap_pages(mfn_t mfn, unsigned int order);

/*
 * A 2^order block whose frames all lie below 2^bits bytes (bits == 0 means
 * no limit), from node `node` (NUMA_NO_NODE: the calling hart's node), its
 * highest zone first, then - unless ALLOC_EXACT_NODE - from the other nodes
 * nearest first. Returns the first frame, or INVALID_MFN when nothing fits.
 * The frames are left in state inuse with their flag bits kept (but
 * PGC_NEED_SCRUB, which only free frames carry), and read all zero -
 * unless flags has ALLOC_NO_SCRUB: then they hold whatever they held
 * (POISON_FRESH in debug builds; mm/scrub.c). A node id
 * that does not exist (mm_hook_nr_nodes() or more, other than NUMA_NO_NODE)
 * is a caller's bug and a panic naming it, hint or exact: it never falls
 * back to another node.
 */
mfn_t alloc_heap_pages(unsigned int order, unsigned int bits, unsigned int node,
                       unsigned int flags);

/* Free pages of one node and zone, and of a whole node. */
unsigned long heap_free_pages_in(unsigned int node, unsigned int zone);
unsigned long heap_free_pages_node(unsigned int node);
unsigned long heap_total_free_pages(void);

/* Free blocks of one order on one node and zone. */
unsigned long heap_free_blocks(unsigned int node, unsigned int zone,
                               unsigned int order);

/* True once node's heap structures exist (they are created lazily). */
bool heap_node_exists(unsigned int node);

/*
 * Check every heap invariant (see docs/mm.md). Returns 0 when all hold;
 * otherwise prints each broken rule (with the frame, the node and the
 * state that show it) and returns -EINVAL. Takes the heap lock.
 */
int heap_check(void);

/* Forget every node heap (host tests build many machines in one process). */
void heap_reset(void);

#endif /* MM_HEAP_H */
