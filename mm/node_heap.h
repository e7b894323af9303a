/*
 * mm/node_heap.h - one NUMA node's share of the heap: its buddy free lists
 * and its counters. See mm/node_heap.c for where these structures live
 * (carved from the node's own first freed pages) and their fallback.
 *
 * Only mm/ uses this header: mm/heap.c keeps the lists, mm/heap_check.c
 * checks them.
 */
#ifndef MM_NODE_HEAP_H
#define MM_NODE_HEAP_H

#include <numbat/types.h>

#include "mm/heap.h"
#include "mm/page.h"

struct node_heap {
    struct page_info
        *free_lists[NR_ZONES]
                   [MAX_ORDER + 1]; /* first free block per zone and order */
    unsigned long
        free_pages[NR_ZONES]; /* free pages per zone (the statistics) */
    unsigned long total_free; /* free pages on this node, all zones */
    mfn_t meta_mfn; /* first frame carved for this struct; INVALID_MFN: static
                       pool */
    unsigned int meta_pages; /* frames carved for it (0 with the pool) */
    unsigned int node;       /* the node this heap belongs to */
};

/* Frames a node heap takes when it is carved from freed pages. */
#define NODE_HEAP_PAGES ((sizeof(struct node_heap) + PAGE_SIZE - 1) / PAGE_SIZE)

_Static_assert(NODE_HEAP_PAGES <= 4, "a node heap must fit in 4 pages");

/* Node `node`'s heap, or NULL while it does not exist yet. */
struct node_heap *node_heap_get(unsigned int node);

/*
 * Create node `node`'s heap while frames [s, e), all on that node, are on
 * their way into the heap (heap lock held). When [s, e) holds at least
 * NODE_HEAP_PAGES frames, its last NODE_HEAP_PAGES frames (still
 * uninitialised) are claimed and carved for the structures;
 * otherwise the node takes its slot in a static pool and no frame is
 * touched. Returns the end of what is left for the heap: e - NODE_HEAP_PAGES
 * after a carve, e otherwise.
 */
mfn_t node_heap_create(unsigned int node, mfn_t s, mfn_t e);

/* Forget every node heap (host tests: before building the next machine). */
void node_heap_reset(void);

#endif /* MM_NODE_HEAP_H */
