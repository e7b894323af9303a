/*
 * mm/heap_walk.h - read-only walks over the heap, for tools that show it.
 *
 * The kernel monitor (kernel/monitor_heap.c) prints free lists and
 * pictures of a node's frames. It must not reach into struct node_heap,
 * which belongs to mm/, so mm/ lends it these two small accessors. They
 * change nothing: they take the heap lock, read, and call you back.
 */
#ifndef MM_HEAP_WALK_H
#define MM_HEAP_WALK_H

#include <numbat/types.h>

/* Called once per free block: its first frame and its order. */
typedef void (*heap_walk_fn)(mfn_t mfn, unsigned int order, void *arg);

/*
 * Call fn for every block on the free list of (node, zone, order), first
 * to last, with the heap lock held (so fn must not allocate, free or take
 * the heap lock; printing is fine). Returns how many blocks it visited;
 * 0 for a node without a heap, or a zone or order out of range.
 */
unsigned long heap_walk_free_list(unsigned int node, unsigned int zone,
                                  unsigned int order, heap_walk_fn fn,
                                  void *arg);

/*
 * The frames carved for node's heap structures: sets *first and *nr_pages
 * and returns true, or returns false when the node has no heap or its
 * structures live in the static pool (see mm/node_heap.c).
 */
bool heap_walk_node_meta(unsigned int node, mfn_t *first,
                         unsigned int *nr_pages);

#endif /* MM_HEAP_WALK_H */
