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

/*
 * May a free block on `node` merge with its buddy on `buddy_node`? Only on
 * the same node: no free block may span two nodes.
 */
bool numa_may_merge(unsigned int node, unsigned int buddy_node);

/*
 * The end of mfn's node run, found by asking mm_hook_mfn_to_node() frame
 * by frame: the first frame in (mfn, limit) on another node or not RAM,
 * else limit. The default behind mm_hook_node_run_end().
 */
mfn_t numa_node_run_end_by_frame(mfn_t mfn, mfn_t limit);

#endif /* MM_NUMA_H */
