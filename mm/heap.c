/*
 * mm/heap.c - the buddy heap: every free frame of RAM, in blocks of 2^order
 * frames, on lists per NUMA node, per zone and per order.
 *
 * The buddy algorithm (Knowlton, 1965). A block of order k is 2^k frames
 * whose first frame is a multiple of 2^k. Its buddy is the other half of
 * the order k+1 block that contains it: buddy = mfn XOR 2^k.
 *
 *     order 2:  [0 1 2 3][4 5 6 7]     the buddy of block 4 is block 0,
 *     order 1:  [0 1][2 3]             the buddy of block 2 is block 0.
 *
 *   Freeing a block: while its buddy is a whole free block of the same
 *   order, take the buddy off its list and join the two into one block of
 *   the next order. Then put the result on its list. So free blocks are
 *   always maximal: no two free buddies are ever left apart.
 *   Allocating order k: take the first block on the smallest non-empty
 *   list of order >= k, split it in halves, put the upper halves back,
 *   until a block of order k is left.
 *
 * Numbat's rules on top (docs/mm.md gives the reasons):
 *   - Lists are per node and per zone; the zone of a frame is the bit width
 *     of its MFN. Two buddies merge only if both are free, of the same order,
 *     valid frames (not a hole, inside the frame table), on the same node and
 *     in the same zone. So no free block spans two nodes or two zones.
 *   - MFN 0 never enters the heap: the only aligned block that can span two
 *     zones starts at MFN 0. init_heap_pages() marks it offlined instead.
 *   - Frames start uninitialised. init_heap_pages() is the only way in: it
 *     cuts the range into the largest aligned blocks, claims each frame
 *     (records its node, marks it inuse), then runs the two steps of the
 *     free path on the block: take the frames back (inuse -> free) and
 *     merge. Freeing an uninitialised block sends it to init_heap_pages()
 *     first; that cannot recurse, because init_heap_pages() never calls
 *     free_heap_pages() and its frames are inuse when the free path sees
 *     them.
 *   - init_heap_pages() touches page_info only, never the frames themselves,
 *     except the few it carves for a new node's heap (mm/node_heap.c).
 *
 * Side concerns live elsewhere so the algorithm stays on this page:
 * node heap creation in mm/node_heap.c, the NUMA fallback order in
 * mm/numa.c, debug poisoning in mm/poison.c, the checker in mm/heap_check.c.
 *
 * Locking: one heap lock (mm_hook_lock) guards every page state and every
 * node heap. Public functions take it; *_locked helpers expect it held.
 */
#include <numbat/compiler.h>

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"
#include "mm/numa.h"
#include "mm/poison.h"

/* ---- free lists: doubly linked through page_info.next / .prev ------------ */

static struct page_info **free_list(struct node_heap *nh, unsigned int zone,
                                    unsigned int order)
{
    return &nh->free_lists[zone][order];
}

static void list_push(struct page_info **head, struct page_info *pg)
{
    pg->prev = NULL;
    pg->next = *head;
    if (*head)
        (*head)->prev = pg;
    *head = pg;
}

static void list_del(struct page_info **head, struct page_info *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        *head = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
}

/* ---- statistics ---------------------------------------------------------- */

static void stats_freed(struct node_heap *nh, unsigned int zone,
                        unsigned long n)
{
    nh->free_pages[zone] += n;
    nh->total_free += n;
}

static void stats_allocated(struct node_heap *nh, unsigned int zone,
                            unsigned long n)
{
    ASSERT(nh->free_pages[zone] >= n);
    nh->free_pages[zone] -= n;
    nh->total_free -= n;
}

/* ---- page states of a whole block ---------------------------------------- */

static void block_set_state(mfn_t mfn, unsigned int order, unsigned int state)
{
    struct page_info *pg = mfn_to_page(mfn);

    for (unsigned long i = 0; i < (1UL << order); i++)
        page_set_state(&pg[i], state);
}

/* ---- the buddy algorithm ------------------------------------------------- */

/* May the free block at mfn (order `order`, on node nh) join its buddy? */
static bool buddy_can_merge(mfn_t mfn, mfn_t buddy, unsigned int order,
                            const struct node_heap *nh)
{
    const struct page_info *bpg;
    uint64_t ci;

    if (!mfn_valid(buddy))
        return false;
    bpg = mfn_to_page(buddy);
    ci = page_count_info(bpg);
    return pgc_state(ci) == PAGE_STATE_FREE && bpg->order == order &&
           bpg->node == nh->node && mfn_zone(buddy) == mfn_zone(mfn);
}

/*
 * Put the 2^order block at mfn, whose frames are marked free and lie on
 * node nh, on its free list, merging it with its buddies as far as the
 * rules allow.
 */
static void buddy_free(struct node_heap *nh, mfn_t mfn, unsigned int order)
{
    unsigned int zone = mfn_zone(mfn);

    stats_freed(nh, zone, 1UL << order);
    while (order < MAX_ORDER) {
        mfn_t buddy = mfn ^ ((mfn_t)1 << order);

        if (!buddy_can_merge(mfn, buddy, order, nh))
            break;
        list_del(free_list(nh, zone, order), mfn_to_page(buddy));
        mfn = MIN(mfn, buddy);
        order++;
    }
    mfn_to_page(mfn)->order = (uint8_t)order;
    list_push(free_list(nh, zone, order), mfn_to_page(mfn));
}

/*
 * Take a 2^order block from zone `zone` of node nh: the first block of the
 * smallest order that fits, split down to size. INVALID_MFN if none.
 */
static mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone,
                         unsigned int order)
{
    unsigned int j = order;
    struct page_info *pg;

    while (j <= MAX_ORDER && *free_list(nh, zone, j) == NULL)
        j++;
    if (j > MAX_ORDER)
        return INVALID_MFN;
    pg = *free_list(nh, zone, j);
    list_del(free_list(nh, zone, j), pg);
    while (j > order) { /* split: the upper half stays free */
        struct page_info *upper;

        j--;
        upper = pg + (1UL << j);
        upper->order = (uint8_t)j;
        list_push(free_list(nh, zone, j), upper);
    }
    block_set_state(page_to_mfn(pg), order, PAGE_STATE_INUSE);
    stats_allocated(nh, zone, 1UL << order);
    return page_to_mfn(pg);
}

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
 * Step 1 of the free path: take frames [s, e) back. Check that each may be
 * freed - inuse, heap-owned (no hole, no carved frame, not MFN 0), on node
 * `node` - and mark it free, in one pass (for init_heap_pages this runs
 * over every frame of RAM). A frame that fails is a panic naming it; the
 * frames before it are already marked, but a panic ends the machine.
 */
static void take_back_frames(mfn_t s, mfn_t e, unsigned int node)
{
    for (mfn_t m = s; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (unlikely(ci & (PGC_HOLE | PGC_NODE_META) || m == 0))
            mm_hook_panic("free_heap_pages: frame 0x%lx (%s) was never given "
                          "out by the heap: it is %s",
                          m, page_state_name(pgc_state(ci)),
                          not_heap_reason(m, ci));
        if (unlikely(pgc_state(ci) != PAGE_STATE_INUSE))
            mm_hook_panic("free_heap_pages: frame 0x%lx is %s, not inuse%s", m,
                          page_state_name(pgc_state(ci)),
                          pgc_state(ci) == PAGE_STATE_FREE ? " (double free?)"
                                                           : "");
        if (unlikely(pg->node != node))
            mm_hook_panic("free_heap_pages: block [0x%lx, 0x%lx) spans nodes "
                          "%u and %u",
                          s, e, node, pg->node);
        WRITE_ONCE(pg->count_info, pgc_with_state(ci, PAGE_STATE_FREE));
    }
}

/* Step 2 of the free path: put the taken-back block on its node's lists. */
static void merge_block(mfn_t mfn, unsigned int order, unsigned int node)
{
    struct node_heap *nh = node_heap_get(node);

    ASSERT(nh != NULL);
    buddy_free(nh, mfn, order);
}

/*
 * The free path of free_heap_pages(): take the frames back, poison them
 * (debug builds), merge. init_heap_pages() runs the same two steps, minus
 * the poisoning, in init_node_run().
 */
static void free_block_locked(mfn_t mfn, unsigned int order)
{
    unsigned int node = mfn_to_page(mfn)->node;

    take_back_frames(mfn, mfn + ((mfn_t)1 << order), node);
    poison_freed(mfn, order);
    merge_block(mfn, order, node);
}

/* Panic unless [mfn, mfn + 2^order) is an aligned block inside the table. */
static void check_block_args(const char *fn, mfn_t mfn, unsigned int order)
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

static void init_heap_pages_locked(mfn_t s, mfn_t e);

void free_heap_pages(mfn_t mfn, unsigned int order)
{
    uint64_t ci;

    mm_hook_lock();
    check_block_args("free_heap_pages", mfn, order);
    ci = page_count_info(mfn_to_page(mfn));
    if (pgc_state(ci) == PAGE_STATE_UNINITIALISED && !(ci & PGC_HOLE)) {
        init_heap_pages_locked(mfn, mfn + ((mfn_t)1 << order));
    } else {
        free_block_locked(mfn, order);
    }
    mm_hook_unlock();
}

/* ---- init_heap_pages: the way in ----------------------------------------- */

/* The largest aligned block that starts at s and ends by e. */
static unsigned int largest_block_order(mfn_t s, mfn_t e)
{
    unsigned int order;

    ASSERT(s != 0 && s < e); /* MFN 0 never gets here: see keep_mfn0_out() */
    order = MIN((unsigned int)__builtin_ctzl(s), (unsigned int)MAX_ORDER);
    while (((mfn_t)1 << order) > e - s)
        order--;
    return order;
}

/*
 * Claim frames [s, e), all RAM of node `node`, for the heap: count the
 * init, record the node, mark the frame inuse (flags kept). A frame that
 * is not uninitialised, or that the frame table calls a hole, is a panic.
 */
static void claim_frames(mfn_t s, mfn_t e, unsigned int node)
{
    for (mfn_t m = s; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (unlikely(pgc_state(ci) != PAGE_STATE_UNINITIALISED ||
                     (ci & PGC_HOLE)))
            mm_hook_panic("init_heap_pages: frame 0x%lx is %s%s, not an "
                          "uninitialised RAM frame",
                          m, page_state_name(pgc_state(ci)),
                          ci & PGC_HOLE ? " (a hole)" : "");
        ASSERT(mm_hook_mfn_to_node(m) == node);
        pg->node = (uint8_t)node;
        pg->nr_inits++;
        WRITE_ONCE(pg->count_info, pgc_with_state(ci, PAGE_STATE_INUSE));
    }
}

/*
 * Frames that init_heap_pages() claims and takes back in one go: 256
 * page_info are 8 KiB, so the take-back finds them still in the L1 cache
 * (with whole blocks of up to 2^18 frames it would find them in memory).
 */
#define INIT_CHUNK_PAGES 256

/*
 * Hand [s, e), RAM of node `node`, to the heap in the largest aligned
 * blocks. For each block: claim its frames (uninitialised -> inuse) and
 * take them back (inuse -> free, step 1 of the free path) chunk by chunk,
 * then merge the whole block (step 2).
 */
static void init_node_run(mfn_t s, mfn_t e, unsigned int node)
{
    while (s < e) {
        unsigned int order = largest_block_order(s, e);
        mfn_t block_end = s + ((mfn_t)1 << order);

        for (mfn_t c = s; c < block_end; c += INIT_CHUNK_PAGES) {
            mfn_t chunk_end = MIN(c + INIT_CHUNK_PAGES, block_end);

            claim_frames(c, chunk_end, node);
            take_back_frames(c, chunk_end, node);
        }
        merge_block(s, order, node);
        s = block_end;
    }
}

/*
 * The node's first frames to reach the heap create its heap (see
 * mm/node_heap.c): the last NODE_HEAP_PAGES frames of the run are claimed
 * and carved when the run is long enough, else the static pool is used.
 * Returns the end of what is left for the buddy lists.
 */
static mfn_t create_node_heap(unsigned int node, mfn_t s, mfn_t run_end)
{
    if (run_end - s < NODE_HEAP_PAGES)
        return node_heap_create(node, s, run_end);
    claim_frames(run_end - NODE_HEAP_PAGES, run_end, node);
    return node_heap_create(node, run_end - NODE_HEAP_PAGES, run_end);
}

/* The node of a frame the frame table calls RAM; a panic if it has none. */
static unsigned int node_of_ram(mfn_t mfn)
{
    unsigned int node = mm_hook_mfn_to_node(mfn);

    if (node >= MAX_NUMNODES)
        mm_hook_panic("init_heap_pages: frame 0x%lx is RAM in the frame table "
                      "but the node map gives it node %u",
                      mfn, node);
    return node;
}

/* MFN 0 stays out of the heap for good: it is parked as offlined. */
static void keep_mfn0_out(void)
{
    struct page_info *pg = mfn_to_page(0);

    if (page_state_is(pg, PAGE_STATE_UNINITIALISED) &&
        !page_has_flag(pg, PGC_HOLE))
        page_set_state(pg, PAGE_STATE_OFFLINED);
}

static void init_heap_pages_locked(mfn_t s, mfn_t e)
{
    if (s < e && (!frametable_covers(s) || !frametable_covers(e - 1)))
        mm_hook_panic("init_heap_pages: [0x%lx, 0x%lx) is outside the frame "
                      "table [0x%lx, 0x%lx)",
                      s, e, frametable_first(), frametable_end());
    if (s == 0 && s < e) {
        keep_mfn0_out();
        s = 1;
    }
    while (s < e) {
        unsigned int node;
        mfn_t run_end, heap_end;

        if (!mfn_valid(s)) { /* a hole: nothing to hand over */
            s++;
            continue;
        }
        node = node_of_ram(s);
        run_end = mm_hook_node_run_end(s, e);
        heap_end = run_end;
        if (node_heap_get(node) == NULL)
            heap_end = create_node_heap(node, s, run_end);
        init_node_run(s, heap_end, node);
        s = run_end;
    }
}

void init_heap_pages(mfn_t mfn, unsigned long nr_pages)
{
    mm_hook_lock();
    init_heap_pages_locked(mfn, mfn + nr_pages);
    mm_hook_unlock();
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

/* A 2^order block from node `node`, highest zone first, zones <= max_zone. */
static mfn_t alloc_from_node(unsigned int node, unsigned int order,
                             unsigned int max_zone)
{
    struct node_heap *nh = node_heap_get(node);

    if (nh == NULL) /* memory-less, or nothing freed yet */
        return INVALID_MFN;
    for (unsigned int zone = max_zone; zone > 0; zone--) {
        mfn_t mfn;

        if (nh->free_pages[zone] < (1UL << order))
            continue;
        mfn = buddy_alloc(nh, zone, order);
        if (mfn != INVALID_MFN)
            return mfn;
    }
    return INVALID_MFN;
}

/* The NUMA fallback: the other nodes, nearest first (mm/numa.c). */
static mfn_t alloc_from_other_nodes(unsigned int node, unsigned int order,
                                    unsigned int max_zone)
{
    unsigned int order_of_nodes[MAX_NUMNODES];
    unsigned int n = numa_fallback_nodes(node, order_of_nodes);

    for (unsigned int i = 0; i < n; i++) {
        mfn_t mfn = alloc_from_node(order_of_nodes[i], order, max_zone);

        if (mfn != INVALID_MFN)
            return mfn;
    }
    return INVALID_MFN;
}

mfn_t alloc_heap_pages(unsigned int order, unsigned int bits, unsigned int node,
                       unsigned int flags)
{
    unsigned int max_zone = zone_limit(bits);
    mfn_t mfn;

    if (node == NUMA_NO_NODE)
        node = mm_hook_this_node();
    if (node >= MAX_NUMNODES)
        mm_hook_panic("alloc_heap_pages: node %u does not exist (node ids are "
                      "below %u; NUMA_NO_NODE means this hart's node)",
                      node, MAX_NUMNODES);
    if (order > MAX_ORDER)
        return INVALID_MFN;
    mm_hook_lock();
    mfn = alloc_from_node(node, order, max_zone);
    if (mfn == INVALID_MFN && !(flags & ALLOC_EXACT_NODE))
        mfn = alloc_from_other_nodes(node, order, max_zone);
    mm_hook_unlock();
    if (mfn != INVALID_MFN)
        poison_fresh(mfn, order);
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
    unsigned long n = 0;

    if (nh == NULL || zone >= NR_ZONES || order > MAX_ORDER)
        return 0;
    mm_hook_lock();
    for (struct page_info *pg = *free_list(nh, zone, order); pg; pg = pg->next)
        n++;
    mm_hook_unlock();
    return n;
}

bool heap_node_exists(unsigned int node)
{
    return node_heap_get(node) != NULL;
}

void heap_reset(void)
{
    node_heap_reset();
}
