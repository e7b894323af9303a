/*
 * mm/heap.c - the heap: every free frame of RAM, in buddy blocks of 2^order
 * frames on lists per NUMA node, per zone and per order. This page holds
 * what ties the pieces together - the free path's checks, allocation by
 * node and zone, the statistics - and each piece is a page (and a lab,
 * labs/) of its own:
 *
 *   mm/buddy.c       the buddy algorithm: split, merge, MFN 0   (lab buddy)
 *   mm/init_heap.c   init_heap_pages(), free_heap_pages(), the
 *                    uninitialised page state                   (lab uninit)
 *   mm/node_heap.c   a node's lists, created lazily             (lab numa)
 *   mm/numa.c        fallback order, no merging across nodes    (lab numa)
 *
 * Numbat's rules (docs/mm.md gives the reasons):
 *   - Lists are per node and per zone; the zone of a frame is the bit width
 *     of its MFN. Two buddies merge only if both are free, of the same order,
 *     valid frames (not a hole, inside the frame table), on the same node and
 *     in the same zone. So no free block spans two nodes or two zones.
 *   - MFN 0 never enters the heap: the only aligned block that can span two
 *     zones starts at MFN 0. buddy_skip_mfn0() (mm/buddy.c) parks it as
 *     offlined; init_heap_pages() calls it on every range it is given.
 *   - Frames start uninitialised. init_heap_pages() is the only way in; a
 *     free of an uninitialised block goes through it first.
 *   - The free path has two steps, here: take the frames back (check each,
 *     inuse -> free) and merge the block into its node's lists.
 *   - Allocation: the requested node (default: this hart's), highest
 *     allowed zone first, then the other nodes nearest first. A node that
 *     is short while deferred init still has frames of it first hands a
 *     chunk over itself (mm/deferred.c) and tries again.
 *
 * Side concerns live elsewhere too: debug poisoning in mm/poison.c,
 * scrubbing (freed frames are marked dirty, handed out zeroed) in
 * mm/scrub.c, the checker in mm/heap_check.c.
 *
 * Locking: one lock per node heap (mm_hook_lock(node)) guards that node's
 * lists, counters and the page states of its frames. A free takes the lock
 * of the block's node only (a free block never spans nodes); an allocation
 * holds one node's lock at a time as it walks the fallback order; no path
 * holds two (docs/mm.md, "Locking"). Public functions take the locks;
 * *_locked helpers expect the lock of their node held.
 */
#include <numbat/compiler.h>

#include "mm/buddy.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/heap_internal.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"
#include "mm/numa.h"
#include "mm/offline.h"
#include "mm/poison.h"
#include "mm/scrub.h"

/* ---- freeing ------------------------------------------------------------- */

/* Why frame mfn, with count_info ci, can never be freed into the heap. */
static const char *not_heap_reason(mfn_t mfn, uint64_t ci)
{
    if (mfn == 0)
        return "MFN 0";
    if (ci & PGC_HOLE)
        return "a hole, not RAM";
    return "carved for a node heap's structures";
}

/*
 * Step 1 of the free path, in one pass (for init_heap_pages this runs over
 * every frame of RAM). A frame that fails is a panic naming it; the frames
 * before it are already marked, but a panic ends the machine. The panics
 * name free_heap_pages: init_heap_pages() claims each frame (and checks
 * it) before this step, so no frame it hands over can fail here. `dirty`
 * is the scrub flag each frame gets (PGC_NEED_SCRUB or 0, mm/scrub.c).
 */
static void take_back_frames(mfn_t s, mfn_t e, unsigned int node,
                             uint64_t dirty)
{
    unsigned long nr_dirty = 0;

    for (mfn_t m = s; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (unlikely(ci & (PGC_HOLE | PGC_NODE_META) || m == 0))
            mm_hook_panic("free_heap_pages: frame 0x%lx (%s) was never "
                          "given out by the heap: it is %s",
                          m, page_state_name(pgc_state(ci)),
                          not_heap_reason(m, ci));
        if (unlikely(pgc_state(ci) != PAGE_STATE_INUSE))
            mm_hook_panic("free_heap_pages: frame 0x%lx is %s, not inuse%s", m,
                          page_state_name(pgc_state(ci)),
                          pgc_state(ci) == PAGE_STATE_FREE ? " (double free?)"
                                                           : "");
        if (unlikely(pg->node != node))
            mm_hook_panic("free_heap_pages: block [0x%lx, 0x%lx) spans "
                          "nodes %u and %u",
                          s, e, node, pg->node);
        nr_dirty += dirty && !(ci & PGC_NEED_SCRUB);
        WRITE_ONCE(pg->count_info,
                   pgc_with_state(ci | dirty, PAGE_STATE_FREE));
    }
    scrub_count_freed(s, e, node, nr_dirty);
}

/* Step 1 for init_heap_pages() (mm/init_heap.c): dirty as scrub= says. */
void heap_take_back_frames(mfn_t s, mfn_t e, unsigned int node)
{
    take_back_frames(s, e, node, scrub_take_back_flag(true));
}

/* Step 1 for frames an owner gave back (mm/offline.c): always dirty. */
void heap_take_back_freed(mfn_t s, mfn_t e, unsigned int node)
{
    take_back_frames(s, e, node, PGC_NEED_SCRUB);
}

/* Step 2 of the free path. */
void heap_merge_block(mfn_t mfn, unsigned int order, unsigned int node)
{
    struct node_heap *nh = node_heap_get(node);

    ASSERT(nh != NULL);
    buddy_free(nh, mfn, order);
}

/*
 * The free path of free_heap_pages(). init_heap_pages() runs the same two
 * steps, minus the poisoning (mm/init_heap.c). The block's node is the
 * node its first frame was given when it was initialised; the take-back
 * checks that every other frame has the same. While the node has frames
 * marked offlining, mm/offline.c frees the block instead: it parks those
 * frames (offlined or broken, never free) and frees the rest around them.
 */
void heap_free_block(mfn_t mfn, unsigned int order)
{
    unsigned int node = mfn_to_page(mfn)->node;

    if (unlikely(node >= MAX_NUMNODES))
        mm_hook_panic("free_heap_pages: frame 0x%lx records node %u, which "
                      "cannot exist (the frame table is corrupt)",
                      mfn, node);
    mm_hook_lock(node);
    if (unlikely(offline_node_has_offlining(node))) { /* mm/offline.c */
        offline_free_block_locked(mfn, order, node);
        mm_hook_unlock(node);
        return;
    }
    take_back_frames(mfn, mfn + ((mfn_t)1 << order), node, PGC_NEED_SCRUB);
    poison_freed(mfn, order);
    heap_merge_block(mfn, order, node);
    mm_hook_unlock(node);
}

void heap_check_block_args(const char *fn, mfn_t mfn, unsigned int order)
{
    if (order > MAX_ORDER || !IS_ALIGNED(mfn, (mfn_t)1 << order))
        mm_hook_panic("%s: block 0x%lx order %u is not a block (order at most "
                      "%u, first frame a multiple of 2^order)",
                      fn, mfn, order, MAX_ORDER);
    if (!frametable_covers(mfn) ||
        !frametable_covers(mfn + ((mfn_t)1 << order) - 1))
        mm_hook_panic("%s: block 0x%lx order %u is outside the frame table "
                      "[0x%lx, 0x%lx)",
                      fn, mfn, order, frametable_first(), frametable_end());
}

/* ---- allocating ---------------------------------------------------------- */

/*
 * The highest zone to look in: zones whose frames all lie below 2^bits
 * bytes (bits 0: no limit), and no higher than the highest frame's zone.
 */
static unsigned int zone_limit(unsigned int bits)
{
    unsigned int top = mfn_zone(frametable_end() - 1);

    if (bits == 0 || bits >= PAGE_SHIFT + NR_ZONES)
        return top;
    return bits > PAGE_SHIFT ? MIN(bits - PAGE_SHIFT, top) : 0;
}

/*
 * A 2^order block from node `node`, highest zone first, zones <= max_zone.
 * Takes and lets go of that node's lock; *todo says what of the block
 * scrub_allocated() must still zero (found while the lock is held).
 */
static mfn_t alloc_from_node(unsigned int node, unsigned int order,
                             unsigned int max_zone, struct scrub_todo *todo)
{
    struct node_heap *nh;
    mfn_t mfn = INVALID_MFN;

    if (node_heap_get(node) == NULL) /* memory-less, or nothing freed yet */
        return INVALID_MFN;
    mm_hook_lock(node);
    nh = node_heap_get(node);
    for (unsigned int zone = max_zone; zone > 0 && mfn == INVALID_MFN;
         zone--) {
        if (nh->free_pages[zone] < (1UL << order))
            continue;
        mfn = buddy_alloc(nh, zone, order);
    }
    if (mfn != INVALID_MFN)
        scrub_take_allocated(mfn, order, node, todo);
    mm_hook_unlock(node);
    return mfn;
}

/*
 * alloc_from_node(), growing the node while deferred init still has some
 * of its frames: a chunk handed over (mm/deferred.c), then try again.
 *
 * Whether the node still had frames on the way is read before each look,
 * not after it: another hart's last chunk can land between a look that
 * found nothing and deferred_grow(), which then has nothing to take or
 * wait for and says false. So when grow says false after a look that
 * began with frames on the way, one last look finds what landed. A node
 * with nothing pending is looked at once, as before deferred init.
 */
static mfn_t alloc_or_grow(unsigned int node, unsigned int order,
                           unsigned int max_zone, struct scrub_todo *todo)
{
    for (;;) {
        bool on_the_way = deferred_pending_pages(node) != 0;
        mfn_t mfn = alloc_from_node(node, order, max_zone, todo);

        if (mfn != INVALID_MFN || !on_the_way)
            return mfn;
        if (!deferred_grow(node)) /* nothing left: what landed is in */
            return alloc_from_node(node, order, max_zone, todo);
    }
}

/* The NUMA fallback: the other nodes, nearest first (mm/numa.c). */
static mfn_t alloc_from_other_nodes(unsigned int node, unsigned int order,
                                    unsigned int max_zone,
                                    struct scrub_todo *todo)
{
    unsigned int order_of_nodes[MAX_NUMNODES];
    unsigned int n = numa_fallback_nodes(node, order_of_nodes);

    for (unsigned int i = 0; i < n; i++) {
        mfn_t mfn = alloc_or_grow(order_of_nodes[i], order, max_zone, todo);

        if (mfn != INVALID_MFN)
            return mfn;
    }
    return INVALID_MFN;
}

/*
 * The block goes to its owner: zeroed where it was dirty, unless the caller
 * said ALLOC_NO_SCRUB - then debug builds fill it with POISON_FRESH, so
 * that code which wrongly expects zeros fails loudly.
 */
static void hand_out(mfn_t mfn, unsigned int order, unsigned int flags,
                     const struct scrub_todo *todo)
{
    if (flags & ALLOC_NO_SCRUB) {
        scrub_wait_for_background(todo);
        poison_fresh(mfn, order);
    } else {
        scrub_allocated(mfn, order, todo);
    }
}

mfn_t alloc_heap_pages(unsigned int order, unsigned int bits, unsigned int node,
                       unsigned int flags)
{
    unsigned int max_zone = zone_limit(bits);
    struct scrub_todo todo;
    mfn_t mfn;

    if (node == NUMA_NO_NODE)
        node = mm_hook_this_node();
    if (node >= mm_hook_nr_nodes())
        mm_hook_panic("alloc_heap_pages: node %u does not exist (this machine "
                      "has nodes 0 to %u; pass NUMA_NO_NODE for this hart's "
                      "node)",
                      node, mm_hook_nr_nodes() - 1);
    if (order > MAX_ORDER)
        return INVALID_MFN;
    mfn = alloc_or_grow(node, order, max_zone, &todo);
    if (mfn == INVALID_MFN && !(flags & ALLOC_EXACT_NODE))
        mfn = alloc_from_other_nodes(node, order, max_zone, &todo);
    if (mfn != INVALID_MFN)
        hand_out(mfn, order, flags, &todo);
    return mfn;
}

/* ---- statistics for callers ---------------------------------------------- */

unsigned long heap_free_pages_in(unsigned int node, unsigned int zone)
{
    struct node_heap *nh = node_heap_get(node);

    return nh && zone < NR_ZONES ? READ_ONCE(nh->free_pages[zone]) : 0;
}

unsigned long heap_free_pages_node(unsigned int node)
{
    struct node_heap *nh = node_heap_get(node);

    return nh ? READ_ONCE(nh->total_free) : 0;
}

unsigned long heap_total_free_pages(void)
{
    unsigned long total = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        total += heap_free_pages_node(node);
    return total;
}

unsigned long heap_free_blocks(unsigned int node, unsigned int zone,
                               unsigned int order)
{
    struct node_heap *nh = node_heap_get(node);
    unsigned long n;

    if (nh == NULL || zone >= NR_ZONES || order > MAX_ORDER)
        return 0;
    mm_hook_lock(node);
    n = buddy_count_blocks(nh, zone, order);
    mm_hook_unlock(node);
    return n;
}

bool heap_node_exists(unsigned int node)
{
    return node_heap_get(node) != NULL;
}

void heap_reset(void)
{
    node_heap_reset();
    scrub_reset();
    offline_reset();
}
