/*
 * mm/heap_walk.c - read-only walks over the heap (see mm/heap_walk.h).
 *
 * A free list is a chain of page_info entries linked through .next; its
 * head lives in the node's struct node_heap. Walking it under its node's
 * lock gives a consistent snapshot: no block joins or leaves a list while
 * we follow the links. The walk stops after as many blocks as the frame
 * table has frames, so even a list broken into a cycle ends (heap_check()
 * is the place that reports such a list).
 */
#include "mm/frametable.h"
#include "mm/heap_walk.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"

unsigned long heap_walk_free_list(unsigned int node, unsigned int zone,
                                  unsigned int order, heap_walk_fn fn,
                                  void *arg)
{
    struct node_heap *nh = node_heap_get(node);
    unsigned long n = 0, limit = frametable_end() - frametable_first();

    if (nh == NULL || zone >= NR_ZONES || order > MAX_ORDER)
        return 0;
    mm_hook_lock(node);
    for (struct page_info *pg = nh->free_lists[zone][order]; pg && n < limit;
         pg = pg->next, n++)
        fn(page_to_mfn(pg), order, arg);
    mm_hook_unlock(node);
    return n;
}

bool heap_walk_node_meta(unsigned int node, mfn_t *first,
                         unsigned int *nr_pages)
{
    const struct node_heap *nh = node_heap_get(node);

    if (nh == NULL || nh->meta_mfn == INVALID_MFN)
        return false;
    *first = nh->meta_mfn;
    *nr_pages = nh->meta_pages;
    return true;
}
