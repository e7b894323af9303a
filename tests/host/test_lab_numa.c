/*
 * tests/host/test_lab_numa.c - the rules of the numa lab (mm/node_heap.c,
 * mm/numa.c, labs/numa/README.md), one case per rule, each on a machine
 * drawn so that breaking that rule alone shows: the fallback order asked
 * directly (a candidate that must move two places, distances that differ
 * by direction), node heaps carved from flagged and dirty frames, a run
 * of exactly the carve's size, two nodes on the fallback pool, merging
 * within a node but never across.
 *
 * Every case ends with finish(): heap_check() must hold and no lab stub
 * may have run. Frame numbers are hexadecimal MFNs.
 */
#include <stddef.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/lab.h"
#include "mm/node_heap.h"
#include "mm/numa.h"
#include "mm/page.h"

/* The end of every case: the heap keeps every rule, and no stub ran. */
static void finish(void)
{
    EXPECT(lab_missing() == NULL,
           "lab %s is not implemented yet: a stub ran (lab_not_implemented)",
           lab_missing() ? lab_missing() : "");
    EXPECT_EQ(heap_check(), 0);
}

/* True if mfn heads a free block of exactly `order` on node `node`. */
static bool free_head(mfn_t mfn, unsigned int order, unsigned int node)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_FREE) && pg->order == order &&
           pg->node == node;
}

static const char *state_of(mfn_t mfn)
{
    return page_state_name(page_state(mfn_to_page(mfn)));
}

/* "3 4 1 2": a node list for a failure message. */
static const char *list_text(const unsigned int *ids, unsigned int n)
{
    static char buf[64];
    size_t at = 0;

    buf[0] = '\0';
    for (unsigned int i = 0; i < n && i < MAX_NUMNODES && at < sizeof(buf); i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%u", i ? " " : "",
                               ids[i]);
    return n ? buf : "(none)";
}

/* Expect numa_fallback_nodes(node) to be exactly want[0..n). */
static void expect_fallback(unsigned int node, const unsigned int *want,
                            unsigned int n)
{
    unsigned int out[MAX_NUMNODES], got;
    bool same;

    for (unsigned int i = 0; i < MAX_NUMNODES; i++)
        out[i] = 0xee;
    got = numa_fallback_nodes(node, out);
    same = got == n;
    for (unsigned int i = 0; same && i < n; i++)
        same = out[i] == want[i];
    if (!same) {
        char wanted[64];

        snprintf(wanted, sizeof(wanted), "%s", list_text(want, n));
        EXPECT(false,
               "numa_fallback_nodes(%u) returned %u: [%s]; expected %u: [%s]",
               node, got, list_text(out, got), n, wanted);
    }
}

/*
 * Five nodes (only node 0 has RAM; numa_fallback_nodes() asked directly).
 * Distances, row = from, column = to (10 local):
 *          0   1   2   3   4
 *     0   10  30  30  15  20      from 0: 3 (moves past 2 and 1), 4, 1, 2
 *     2   40  25  10  25  15      from 2: 4, 1, 3, 0   (row 2, not column 2)
 *     4   20  20  20  20  10      from 4: 0 1 2 3      (ties by id)
 * Expect: each list holds every other node once, never the node itself,
 * nearest first by the row of the asking node, ties by increasing id, and
 * the count returned is nr_nodes - 1; one node alone gets an empty list.
 */
TEST(numa_fallback_nodes_rows)
{
    static const unsigned int from0[] = {3, 4, 1, 2}, from2[] = {4, 1, 3, 0},
                              from4[] = {0, 1, 2, 3}, from1[] = {0, 2, 3, 4};
    struct sim_machine m = {
        .name = "five nodes, RAM on node 0 only",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
        .nr_nodes = 5,
    };

    m.distance[0][1] = m.distance[0][2] = 30;
    m.distance[0][3] = 15;
    m.distance[2][0] = 40;
    m.distance[2][1] = m.distance[2][3] = 25;
    m.distance[2][4] = 15;
    sim_boot_and_end(&m);
    expect_fallback(0, from0, 4);
    expect_fallback(2, from2, 4);
    expect_fallback(4, from4, 4);
    expect_fallback(1, from1, 4);
    finish();
    sim_boot_and_end(&(struct sim_machine){
        .name = "one node", .nr_banks = 1, .banks = {{0x80000, 0x80400, 0}}});
    expect_fallback(0, NULL, 0);
    finish();
}

/* Take every page of node `node` (exact); returns how many. */
static unsigned long drain_node(unsigned int node)
{
    unsigned long n = 0;

    while (alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE) != INVALID_MFN)
        n++;
    return n;
}

/*
 *   node 0 [0x80000, 0x80100)  node 1 [0x81000, 0x81100)
 *   node 2 [0x82000, 0x82100)  node 3 [0x83000, 0x83400)
 * From node 0: node 1 and node 2 at 30, node 3 at 15.
 * Expect: with node 0 drained, its allocations come from node 3 (which
 * must move two places past 1 and 2), then node 1, then node 2.
 */
TEST(numa_fallback_candidate_moves_two_places)
{
    struct sim_machine m = {
        .name = "four nodes, the last one nearest to node 0",
        .nr_banks = 4,
        .banks = {{0x80000, 0x80100, 0},
                  {0x81000, 0x81100, 1},
                  {0x82000, 0x82100, 2},
                  {0x83000, 0x83400, 3}},
    };
    mfn_t f;

    m.distance[0][1] = m.distance[1][0] = 30;
    m.distance[0][2] = m.distance[2][0] = 30;
    m.distance[0][3] = m.distance[3][0] = 15;
    sim_boot_and_end(&m);
    drain_node(0);
    f = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(f != INVALID_MFN, "node 0 is empty and nothing fell back");
    EXPECT(sim_node_of(f) == 3, "first fallback from node 0 gave node %u",
           sim_node_of(f));
    drain_node(3);
    f = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(f != INVALID_MFN, "nodes 0 and 3 are empty and nothing fell back");
    EXPECT(sim_node_of(f) == 1, "second fallback from node 0 gave node %u",
           sim_node_of(f));
    drain_node(1);
    f = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(f != INVALID_MFN, "only node 2 has frames and nothing fell back");
    EXPECT_EQ(sim_node_of(f), 2);
    finish();
}

/*
 *   node 0: [0x80000 ........ |meta|ft 0x80400)
 *   node 1: [0x81000 reserved .......... 0x81100)      then freed as one
 *                                   |meta 0x810fd|     order-8 block
 * Before boot ends, the three frames node 1's heap will be carved from
 * get PGC_EXTRA and a reference count, and their bytes (past the list
 * heads) are dirtied with 0x5a.
 * Expect: node 1's heap is [0x810fd, 0x81100) at mm_hook_pa_to_va of it;
 * each carved frame is inuse with PGC_NODE_META, keeps PGC_EXTRA and its
 * count, is on node 1 and was initialised once; the heap's fields say
 * where it is (meta_mfn, meta_pages, node) and its counters start from
 * zero: node 1 has 0x100 - 3 free frames.
 */
TEST(numa_carved_frames_bookkeeping)
{
    static const struct sim_machine m = {
        .name = "node 1 reserved, freed later",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81100, 1}},
        .nr_reserved = 1,
        .reserved = {{0x81000, 0x81100}},
    };
    const mfn_t meta = 0x81100 - NODE_HEAP_PAGES;
    const size_t lists = offsetof(struct node_heap, free_pages);
    struct node_heap *nh;

    sim_boot(&m);
    for (mfn_t f = meta; f < 0x81100; f++)
        mfn_to_page(f)->count_info |= PGC_EXTRA | 1;
    __builtin_memset((char *)sim_frame_va(meta) + lists, 0x5a,
                     NODE_HEAP_PAGES * PAGE_SIZE - lists);
    end_boot_allocator();
    REQUIRE(!heap_node_exists(1), "node 1 has a heap before any free");
    free_heap_pages(0x81000, 8);
    nh = node_heap_get(1);
    REQUIRE(nh != NULL, "freeing node 1's frames made no heap for node 1");
    EXPECT(nh == sim_frame_va(meta), "node 1's heap is at %p, not in 0x%lx",
           (void *)nh, meta);
    EXPECT_EQ(nh->meta_mfn, meta);
    EXPECT_EQ(nh->meta_pages, NODE_HEAP_PAGES);
    EXPECT_EQ(nh->node, 1);
    for (mfn_t f = meta; f < 0x81100; f++) {
        const struct page_info *pg = mfn_to_page(f);
        uint64_t ci = page_count_info(pg);

        EXPECT(pgc_state(ci) == PAGE_STATE_INUSE && (ci & PGC_NODE_META),
               "carved frame 0x%lx is %s%s", f, page_state_name(pgc_state(ci)),
               ci & PGC_NODE_META ? "" : " without PGC_NODE_META");
        EXPECT(ci & PGC_EXTRA, "carved frame 0x%lx lost PGC_EXTRA", f);
        EXPECT(pg->nr_inits == 1 && pg->node == 1 && (ci & PGC_COUNT_MASK) == 1,
               "carved frame 0x%lx: nr_inits %u, node %u, count %lu "
               "(expected 1, 1, 1)",
               f, pg->nr_inits, pg->node, (unsigned long)(ci & PGC_COUNT_MASK));
    }
    EXPECT_EQ(heap_free_pages_node(1), 0x100 - NODE_HEAP_PAGES);
    EXPECT_EQ(heap_free_pages_in(1, 20), 0x100 - NODE_HEAP_PAGES);
    EXPECT_EQ(drain_node(1), 0x100 - NODE_HEAP_PAGES);
    finish();
}

/*
 *   node 0: [0x80000 ........ |meta|ft 0x80400)
 *   node 1: [0x81000 .. 0x81003)   exactly NODE_HEAP_PAGES frames, reserved
 *   node 2: [0x82000 .. 0x82002)   one frame fewer than that, reserved
 * Both are handed to the heap with init_heap_pages() after boot.
 * Expect: node 1's run is just big enough: all of it is carved (meta_mfn
 * 0x81000, no free frame); node 2's is too small: it takes the pool
 * (meta_mfn INVALID_MFN, meta_pages 0) and both frames are free.
 */
TEST(numa_run_of_exactly_the_carve)
{
    static const struct sim_machine m = {
        .name = "nodes 1 and 2 with 3 and 2 frames",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80400, 0},
                  {0x81000, 0x81000 + NODE_HEAP_PAGES, 1},
                  {0x82000, 0x82000 + NODE_HEAP_PAGES - 1, 2}},
        .nr_reserved = 2,
        .reserved = {{0x81000, 0x81000 + NODE_HEAP_PAGES},
                     {0x82000, 0x82000 + NODE_HEAP_PAGES - 1}},
    };

    sim_boot_and_end(&m);
    init_heap_pages(0x81000, NODE_HEAP_PAGES);
    init_heap_pages(0x82000, NODE_HEAP_PAGES - 1);
    REQUIRE(heap_node_exists(1) && heap_node_exists(2),
            "node heaps: node 1 %s, node 2 %s",
            heap_node_exists(1) ? "yes" : "none",
            heap_node_exists(2) ? "yes" : "none");
    EXPECT(node_heap_get(1)->meta_mfn == 0x81000,
           "a run of exactly NODE_HEAP_PAGES frames was not carved (meta_mfn "
           "0x%lx, not 0x81000)",
           node_heap_get(1)->meta_mfn);
    EXPECT_EQ(heap_free_pages_node(1), 0);
    for (mfn_t f = 0x81000; f < 0x81000 + NODE_HEAP_PAGES; f++)
        EXPECT(page_has_flag(mfn_to_page(f), PGC_NODE_META),
               "frame 0x%lx is %s and not carved", f, state_of(f));
    EXPECT_EQ(node_heap_get(2)->meta_mfn, INVALID_MFN);
    EXPECT_EQ(node_heap_get(2)->meta_pages, 0);
    EXPECT_EQ(heap_free_pages_node(2), NODE_HEAP_PAGES - 1);
    finish();
}

/*
 *   node 0: [0x80000 ........ |meta|ft 0x80400)
 *   node 1: [0x81000 .. 0x81002)   node 2: [0x82000 .. 0x82002)
 * Both small nodes take the fallback pool. The machine is booted twice;
 * between the boots node 1's pool slot is dirtied (counters of a heap
 * that no longer exists).
 * Expect: nodes 1 and 2 have two different heaps, each with its own node
 * id, 2 free frames, meta_mfn INVALID_MFN and meta_pages 0; exact-node
 * allocations get each node's own frames; after the second boot the
 * counters start from zero again.
 */
TEST(numa_two_nodes_on_the_pool)
{
    static const struct sim_machine m = {
        .name = "two 2-frame nodes",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80400, 0},
                  {0x81000, 0x81002, 1},
                  {0x82000, 0x82002, 2}},
    };
    struct node_heap *nh1 = NULL, *nh2;

    for (unsigned int boot = 0; boot < 2; boot++) {
        sim_boot(&m);
        if (boot == 1 && nh1) { /* node 1's slot on the first boot */
            __builtin_memset(nh1->free_lists, 0, sizeof(nh1->free_lists));
            nh1->free_pages[20] = 0x5a5a;
            nh1->total_free = 0x5a5a;
            nh1->node = 7;
        }
        end_boot_allocator();
        nh1 = node_heap_get(1);
        nh2 = node_heap_get(2);
        REQUIRE(nh1 && nh2, "boot %u: node 1 heap %p, node 2 heap %p", boot,
                (void *)nh1, (void *)nh2);
        EXPECT(nh1 != nh2, "boot %u: nodes 1 and 2 share one pool slot %p",
               boot, (void *)nh1);
        EXPECT(nh1->node == 1 && nh2->node == 2,
               "boot %u: the heaps say nodes %u and %u", boot, nh1->node,
               nh2->node);
        EXPECT(nh1->meta_mfn == INVALID_MFN && nh1->meta_pages == 0 &&
                   nh2->meta_mfn == INVALID_MFN && nh2->meta_pages == 0,
               "boot %u: a pool heap says it was carved", boot);
        EXPECT_EQ(heap_free_pages_node(1), 2);
        EXPECT_EQ(heap_free_pages_node(2), 2);
        EXPECT_EQ(heap_check(), 0);
        for (unsigned int node = 1; node <= 2; node++) {
            mfn_t f = alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE);

            EXPECT(f != INVALID_MFN && sim_node_of(f) == node,
                   "boot %u: exact node %u gave 0x%lx", boot, node, f);
        }
        finish();
    }
}

/*
 *   node 0: [0x7f000 .. 0x7f400)  hole  [0x80000 reserved 0x80200)
 *   node 1:                             [0x80200 ........ |meta|ft 0x80800)
 *
 * 0x80000 (node 0) and 0x80200 (node 1) are order-9 buddies. Node 0's
 * heap is carved from its first bank, so its reserved block can be free
 * whole. First boot: node 0's block is freed, then node 1's first 512
 * frames are taken one by one and given back. Second boot: the other way
 * round (node 1's frames are already free when node 0's block comes).
 * Expect: node 1's frames merge back into one order-9 block, and the two
 * order-9 buddies never merge: each stays on its own node.
 */
TEST(numa_merge_within_node_never_across)
{
    static const struct sim_machine m = {
        .name = "two touching nodes at an order-9 buddy line",
        .nr_banks = 3,
        .banks = {{0x7f000, 0x7f400, 0},
                  {0x80000, 0x80200, 0},
                  {0x80200, 0x80800, 1}},
        .nr_reserved = 1,
        .reserved = {{0x80000, 0x80200}},
    };
    static mfn_t got[0x200];

    for (unsigned int boot = 0; boot < 2; boot++) {
        unsigned int n = 0;
        mfn_t f;

        sim_boot_and_end(&m);
        if (boot == 0)
            free_heap_pages(0x80000, 9);
        while (n < 0x200 &&
               (f = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE)) != INVALID_MFN)
            if (f >= 0x80200 && f < 0x80400)
                got[n++] = f;
        REQUIRE(n == 0x200, "boot %u: only %u frames of [0x80200, 0x80400)",
                boot, n);
        while (n > 0)
            free_heap_pages(got[--n], 0);
        EXPECT(free_head(0x80200, 9, 1),
               "boot %u: node 1's frames freed one by one: 0x80200 is %s, "
               "order %u, node %u (expected free, order 9, node 1)",
               boot, state_of(0x80200), mfn_to_page(0x80200)->order,
               mfn_to_page(0x80200)->node);
        if (boot == 1)
            free_heap_pages(0x80000, 9);
        EXPECT(free_head(0x80000, 9, 0),
               "boot %u: 0x80000 is %s, order %u, node %u (expected free, "
               "order 9, node 0)",
               boot, state_of(0x80000), mfn_to_page(0x80000)->order,
               mfn_to_page(0x80000)->node);
        EXPECT(free_head(0x80200, 9, 1), "boot %u: 0x80200 is %s, order %u",
               boot, state_of(0x80200), mfn_to_page(0x80200)->order);
        finish();
    }
}

/*
 *   node 0: [0x80000 ........ |meta|ft 0x80400)
 *   node 1: [0x81000 reserved .... 0x810ff broken| 0x81100)
 * Expect: freeing node 1's block creates its heap from the block's tail,
 * which holds a broken frame: a panic that names the frame and says
 * "not an uninitialised RAM frame". Asked directly, node_heap_create()
 * refuses a tail that is a hole the same way.
 */
TEST(numa_carve_refuses_frames_that_are_not_uninitialised_ram)
{
    static const struct sim_machine m = {
        .name = "node 1 reserved, one broken frame at its tail",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81100, 1}},
        .nr_reserved = 1,
        .reserved = {{0x81000, 0x81100}},
    };
    static const struct sim_machine holes = {
        .name = "a hole at 0x80400",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x80800, 0x80c00, 1}},
    };

    sim_boot_and_end(&m);
    page_set_state(mfn_to_page(0x810ff), PAGE_STATE_BROKEN);
    EXPECT_PANIC(free_heap_pages(0x81000, 8),
                 "frame 0x810ff is broken, not an uninitialised RAM frame");

    sim_boot_and_end(&holes);
    mm_hook_lock(3);
    EXPECT_PANIC(node_heap_create(3, 0x80400, 0x80408),
                 "not an uninitialised RAM frame");
    sim_boot_and_end(&holes);
    finish();
}
