/*
 * mm/hooks.h - everything the memory manager needs from the world outside it.
 *
 * mm/ is portable C. It includes nothing from kernel/ or platform/; what it
 * needs from its host it asks for through the functions below, and nothing
 * else. Two hosts implement them:
 *
 *   kernel/mm_hooks.c   the real machine: a spinlock per node, the
 *                       console, the identity map (paging is on, but RAM
 *                       sits at its own address), and the node map read
 *                       from the device tree;
 *   tests/host/sim.c    a simulated machine on the development host: a
 *                       buffer that stands for RAM and a memory map that a
 *                       test describes (banks, nodes, holes, RAM at MFN 0).
 *
 * Keep this list short: every hook is one more thing both hosts must get
 * right.
 */
#ifndef MM_HOOKS_H
#define MM_HOOKS_H

#include <numbat/compiler.h>
#include <numbat/types.h>

/*
 * The heap locks: one per node heap (docs/mm.md, "Locking"). The lock of
 * node n guards n's lists and counters and the page states of n's frames.
 * Not recursive, and a hart holds at most one of them: taking a lock it
 * holds, or a second node's lock, is a panic in debug builds. The one
 * exception is heap_check(), which needs every node still at once: it
 * takes them all, in ascending node order, with mm_hook_lock_all().
 * Callers in mm/ take them; nothing outside mm/ needs to.
 */
void mm_hook_lock(unsigned int node);
void mm_hook_unlock(unsigned int node);
void mm_hook_lock_all(void);
void mm_hook_unlock_all(void);

/* Print a message; a printf subset: %d %i %u %x %X %ld %lu %lx %llu %llx %zu
 * %zx %p %s %c %%, with widths and '0'/'-' flags. */
void mm_hook_printk(const char *fmt, ...) __printf(1, 2);

/* Stop everything: print the message (and, in the kernel, a backtrace). */
void mm_hook_panic(const char *fmt, ...) __printf(1, 2) __noreturn;

/* The address at which mm/ may read and write physical address pa. */
void *mm_hook_pa_to_va(paddr_t pa);

/* The node whose RAM holds frame mfn, or NUMA_NO_NODE if mfn is not RAM. */
unsigned int mm_hook_mfn_to_node(mfn_t mfn);

/*
 * Optional: the end of the run of frames that starts at frame mfn (RAM)
 * and stays on mfn's node - the first frame from mfn on that is on
 * another node or is not RAM - but at most `limit`. init_heap_pages() asks
 * once per run instead of asking mm_hook_mfn_to_node() for every frame.
 * A host that does not define it gets a weak default in mm/numa.c that
 * does just that (numa_node_run_end_by_frame), so defining it is only a
 * speed-up: a host with a table of banks can answer at once.
 */
mfn_t mm_hook_node_run_end(mfn_t mfn, mfn_t limit);

/* The node of the hart that is running this code. */
unsigned int mm_hook_this_node(void);

/* How many node ids exist: every node id is below this (<= MAX_NUMNODES). */
unsigned int mm_hook_nr_nodes(void);

/*
 * The distance from node a to node b, as the device tree's distance map
 * gives it (10 means local; larger is farther). Used to order the fallback
 * nodes of an allocation.
 */
unsigned int mm_hook_node_distance(unsigned int a, unsigned int b);

/*
 * ASSERT(x): failure tier 3, for what we can prove. Debug builds (the
 * default) check it and panic with the expression and its place; release
 * builds (NDEBUG) compile it out but still type-check it. Never put a side
 * effect inside.
 */
#ifdef NDEBUG
#define ASSERT(x) ((void)sizeof(!(x)))
#else
#define ASSERT(x)                                                              \
    (likely(x) ? (void)0                                                       \
               : mm_hook_panic("ASSERT(%s) failed at %s:%d", #x, __FILE__,     \
                               __LINE__))
#endif

#endif /* MM_HOOKS_H */
