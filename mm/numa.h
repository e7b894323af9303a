/*
 * mm/numa.h - NUMA policy: which nodes an allocation falls back to.
 * See mm/numa.c.
 */
#ifndef MM_NUMA_H
#define MM_NUMA_H

#include <numbat/types.h>

/*
 * Fill out[] with every node id below mm_hook_nr_nodes() except `node`,
 * nearest to `node` first (by mm_hook_node_distance), equal distances in
 * increasing node id. Returns how many it wrote (at most MAX_NUMNODES - 1).
 */
unsigned int numa_fallback_nodes(unsigned int node,
                                 unsigned int out[MAX_NUMNODES]);

#endif /* MM_NUMA_H */
