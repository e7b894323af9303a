/*
 * mm/node_heap.c - creating a node's heap structures, lazily, from the
 * node's own memory.
 *
 * A node heap (struct node_heap in mm/node_heap.h) is the list heads and
 * counters of one NUMA node: about 10 KiB, three pages. Numbat does not
 * know at build time how many nodes a machine has, nor does it want the
 * structures of node 1 to live in node 0's memory (every free and every
 * allocation on node 1 would then cross the interconnect). So a node heap
 * is created the first time frames of that node reach init_heap_pages(),
 * and it is carved from those very frames:
 *
 *     frames of node 1 on their way into the heap
 *     [s                                           e)
 *     | ........ given to the buddy lists ....... |meta|
 *                                                  ^^^^ NODE_HEAP_PAGES frames,
 *                                                  state inuse + PGC_NODE_META
 *
 * Why the tail: a bank usually starts on a well-aligned frame (0x80000 is
 * 2^19-aligned), and the buddy heap makes its largest blocks from aligned
 * starts. Carving the head would leave [s + 3, e), whose start is only
 * 1-aligned, and cut the first big block into a staircase of small ones.
 * The tail is where a range is least aligned anyway.
 *
 * The fallback: when the range is smaller than NODE_HEAP_PAGES (a 1-page
 * range, or a node whose only free frames are a few scattered pages), the
 * node takes its own slot in a static pool in .bss. There is one slot per
 * possible node, so the fallback can never run out; it costs
 * MAX_NUMNODES * sizeof(struct node_heap) of .bss, and the only loss is
 * that this node's lists live in the kernel image's memory instead of the
 * node's own.
 *
 * node_heap_create() claims the carved frames itself (uninitialised ->
 * inuse, node recorded, init counted), as init_heap_pages() claims the
 * rest. (This file and mm/numa.c are the `numa` lab: labs/numa/README.md.)
 *
 * The carved frames are in use for good. They carry PGC_NODE_META, so a
 * stray free_heap_pages() of one is a panic instead of the heap handing
 * out its own list heads.
 */
#include "mm/frametable.h"
#include "mm/hooks.h"
#include "mm/lab.h"
#include "mm/node_heap.h"

static struct node_heap *node_heaps[MAX_NUMNODES];    /* NULL until created */
static struct node_heap node_heap_pool[MAX_NUMNODES]; /* the fallback slots */

struct node_heap *node_heap_get(unsigned int node)
{
    return node < MAX_NUMNODES ? node_heaps[node] : NULL;
}

/* LAB numa: BEGIN SOLUTION */
/*
 * Claim the carved frames [s, e): each uninitialised RAM frame of `node`
 * becomes inuse + PGC_NODE_META for good, its node recorded and its init
 * counted (flag bits kept, as for every claim).
 */
static void node_heap_claim_carved(unsigned int node, mfn_t s, mfn_t e)
{
    for (mfn_t mfn = s; mfn < e; mfn++) {
        struct page_info *pg = mfn_to_page(mfn);
        uint64_t ci = page_count_info(pg);

        if (pgc_state(ci) != PAGE_STATE_UNINITIALISED || (ci & PGC_HOLE))
            mm_hook_panic("init_heap_pages: frame 0x%lx is %s%s, not an "
                          "uninitialised RAM frame (carving node %u's heap)",
                          mfn, page_state_name(pgc_state(ci)),
                          ci & PGC_HOLE ? " (a hole)" : "", node);
        pg->node = (uint8_t)node;
        pg->nr_inits++;
        WRITE_ONCE(pg->count_info,
                   pgc_with_state(ci, PAGE_STATE_INUSE) | PGC_NODE_META);
    }
}

mfn_t node_heap_create(unsigned int node, mfn_t s, mfn_t e)
{
    struct node_heap *nh;
    mfn_t meta = INVALID_MFN;

    if (node >= MAX_NUMNODES)
        mm_hook_panic("init_heap_pages: node %u is not below MAX_NUMNODES "
                      "(%u)",
                      node, MAX_NUMNODES);
    ASSERT(node_heaps[node] == NULL && s < e);
    if (e - s >= NODE_HEAP_PAGES) { /* carve the tail */
        meta = e - NODE_HEAP_PAGES;
        node_heap_claim_carved(node, meta, e);
        nh = mm_hook_pa_to_va(mfn_to_pa(meta));
    } else { /* too small: this node's slot of the pool */
        nh = &node_heap_pool[node];
    }
    __builtin_memset(nh, 0, sizeof(*nh));
    nh->meta_mfn = meta;
    nh->meta_pages = meta == INVALID_MFN ? 0 : NODE_HEAP_PAGES;
    nh->node = node;
    node_heaps[node] = nh;
    return meta == INVALID_MFN ? e : meta;
}
/* LAB numa: END SOLUTION */
/* LAB numa: STUB
mfn_t node_heap_create(unsigned int node, mfn_t s, mfn_t e)
{
    lab_not_implemented("numa");
    (void)node_heap_pool;
    return e;
}
*/

void node_heap_reset(void)
{
    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        node_heaps[node] = NULL;
}
