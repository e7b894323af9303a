/*
 * labs/numa/hidden/test_hidden_numa.c - hidden tests of the numa lab. The
 * grader copies this file into tests/host/ of its pristine tree; handouts
 * never contain it.
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

/* Allocate order-0 frames from `node` (exactly) until it has none. */
static unsigned long drain_node(unsigned int node)
{
    unsigned long n = 0;

    while (alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE) != INVALID_MFN)
        n++;
    return n;
}

/*
 *   node 0: [0x80000 .. 0x80400)   node 1: [0x81000 .. 0x81400)
 * Expect: an exact-node allocation from node 1 only ever returns node 1's
 * frames and fails once node 1 is empty; without the flag it falls back
 * to node 0.
 */
TEST(hidden_numa_exact_node_never_falls_back)
{
    static const struct sim_machine m = {
        .name = "two nodes",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81400, 1}},
    };
    mfn_t f;

    sim_boot_and_end(&m);
    REQUIRE(heap_free_pages_node(1) > 0, "node 1 has no heap");
    while ((f = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE)) != INVALID_MFN)
        if (sim_node_of(f) != 1) {
            EXPECT(false, "exact node 1 gave frame 0x%lx of node %u", f,
                   sim_node_of(f));
            break;
        }
    EXPECT_EQ(heap_free_pages_node(1), 0);
    f = alloc_heap_pages(0, 0, 1, 0);
    REQUIRE(f != INVALID_MFN, "no fallback to node 0");
    EXPECT_EQ(sim_node_of(f), 0);
}

/*
 *   node 1: [0x7f000 .. 0x7f400)  hole  [0x80000 reserved 0x80400)
 *   node 0:                             [0x80400 ........ |meta|ft 0x80c00)
 *
 * The boot hart is on node 0; 0x80000 (node 1) and 0x80400 (node 0) are
 * order-10 buddies, and node 1's heap is carved from its first bank, so
 * node 1's reserved block can be free whole. Node 0's first 1024 frames
 * are taken one by one and given back in address order; then node 1's
 * reserved block is freed frame by frame, its last frame first.
 * Expect: each side merges back into one order-10 block on its own node,
 * and the two never merge across the node line.
 */
TEST(hidden_numa_no_merge_across_node_boundary)
{
    static const struct sim_machine m = {
        .name = "two touching nodes at an order-10 buddy line",
        .nr_banks = 3,
        .banks = {{0x7f000, 0x7f400, 1},
                  {0x80000, 0x80400, 1},
                  {0x80400, 0x80c00, 0}},
        .nr_reserved = 1,
        .reserved = {{0x80000, 0x80400}},
    };
    static mfn_t got[0x400];
    unsigned int n = 0;
    mfn_t f;

    sim_boot_and_end(&m);
    REQUIRE(heap_node_exists(0) && heap_node_exists(1),
            "node heaps after boot: node 0 %s, node 1 %s",
            heap_node_exists(0) ? "yes" : "none",
            heap_node_exists(1) ? "yes" : "none");
    while (n < 0x400 &&
           (f = alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE)) != INVALID_MFN)
        if (f >= 0x80400 && f < 0x80800)
            got[n++] = f;
    REQUIRE(n == 0x400, "only %u frames of [0x80400, 0x80800) allocated", n);
    for (mfn_t m0 = 0x80400; m0 < 0x80800; m0++)
        free_heap_pages(m0, 0);
    for (mfn_t m1 = 0x80400; m1-- > 0x80000;)
        free_heap_pages(m1, 0);
    EXPECT(page_state_is(mfn_to_page(0x80400), PAGE_STATE_FREE) &&
               mfn_to_page(0x80400)->order == 10 &&
               mfn_to_page(0x80400)->node == 0,
           "0x80400 heads order %u on node %u, not order 10 on node 0",
           mfn_to_page(0x80400)->order, mfn_to_page(0x80400)->node);
    EXPECT(page_state_is(mfn_to_page(0x80000), PAGE_STATE_FREE) &&
               mfn_to_page(0x80000)->order == 10 &&
               mfn_to_page(0x80000)->node == 1,
           "0x80000 heads order %u on node %u, not order 10 on node 1",
           mfn_to_page(0x80000)->order, mfn_to_page(0x80000)->node);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Three nodes; from node 0, node 2 is at 20 and node 1 at 30.
 * Expect: with node 0 drained, node 0's allocations come from node 2
 * until it is drained too, then from node 1.
 */
TEST(hidden_numa_fallback_far_node_last)
{
    struct sim_machine m = {
        .name = "three nodes",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80400, 0},
                  {0x81000, 0x81400, 1},
                  {0x82000, 0x82400, 2}},
    };
    mfn_t f;

    m.distance[0][1] = m.distance[1][0] = 30;
    m.distance[0][2] = m.distance[2][0] = 20;
    sim_boot_and_end(&m);
    drain_node(0);
    f = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(f != INVALID_MFN, "no fallback at all");
    EXPECT_EQ(sim_node_of(f), 2);
    drain_node(2);
    f = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(f != INVALID_MFN, "no fallback to node 1");
    EXPECT_EQ(sim_node_of(f), 1);
}
