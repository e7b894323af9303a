/*
 * kernel/ktest_lab_numa.c - suite lab_numa: the numa lab's rules on the
 * real machine, read against the device tree's own account of it
 * (board()): the fallback order from every node follows the distance
 * map, every node with RAM has its heap, carved from its own frames
 * (or, for a node whose first run was too small, from the pool), and an
 * exact-node block comes from that node.
 */
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/node_heap.h"
#include "../mm/numa.h"
#include "board.h"
#include "ktest.h"

/* Is node a to be tried before node b from `from`, by the board's map? */
static bool board_nearer(unsigned int from, unsigned int a, unsigned int b)
{
    const struct machine *m = board();
    unsigned int da = m->distance[from][a], db = m->distance[from][b];

    return da < db || (da == db && a < b);
}

/*
 * numa_fallback_nodes(node) for every node: every other node once, never
 * the node itself, each at least as near as the next (ties by id).
 */
static void fallback_follows_distance_map(void)
{
    unsigned int nr = board()->nr_nodes;

    for (unsigned int node = 0; node < nr; node++) {
        unsigned int out[MAX_NUMNODES], seen = 0;
        unsigned int n = numa_fallback_nodes(node, out);

        REQUIRE_EQ(n, nr - 1);
        for (unsigned int i = 0; i < n; i++) {
            REQUIRE_TRUE(out[i] < nr && out[i] != node);
            EXPECT_EQ(seen & (1u << out[i]), 0u);
            seen |= 1u << out[i];
            if (i > 0)
                EXPECT_TRUE(board_nearer(node, out[i - 1], out[i]));
        }
    }
}

static bool node_has_ram(unsigned int node)
{
    for (unsigned int i = 0; i < board()->nr_banks; i++)
        if (board()->banks[i].node == node)
            return true;
    return false;
}

/*
 * Every node with RAM has a heap that says it is that node's; a carved
 * one lies in NODE_HEAP_PAGES frames of that very node, each inuse with
 * PGC_NODE_META and initialised once.
 */
static void node_heaps_live_on_their_nodes(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        const struct node_heap *nh = node_heap_get(node);

        if (!node_has_ram(node)) {
            EXPECT_TRUE(nh == NULL);
            continue;
        }
        REQUIRE_TRUE(nh != NULL);
        EXPECT_EQ(nh->node, node);
        if (nh->meta_mfn == INVALID_MFN) {
            EXPECT_EQ(nh->meta_pages, 0u);
            continue;
        }
        EXPECT_EQ(nh->meta_pages, NODE_HEAP_PAGES);
        for (mfn_t m = nh->meta_mfn; m < nh->meta_mfn + NODE_HEAP_PAGES; m++) {
            const struct page_info *pg = mfn_to_page(m);

            EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(m)), node);
            EXPECT_EQ(page_state(pg), PAGE_STATE_INUSE);
            EXPECT_TRUE(page_has_flag(pg, PGC_NODE_META));
            EXPECT_EQ(pg->nr_inits, 1u);
            EXPECT_EQ(pg->node, node);
        }
    }
    EXPECT_EQ(heap_check(), 0);
}

/*
 * An exact-node order-9 block from every node with RAM: aligned, all of
 * it on that node, inuse; freed, the node's count comes back.
 */
static void exact_node_blocks_stay_on_their_node(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long before = heap_free_pages_node(node);
        mfn_t mfn;

        if (!node_has_ram(node))
            continue;
        mfn = alloc_heap_pages(9, 0, node, ALLOC_EXACT_NODE);
        REQUIRE_NE(mfn, INVALID_MFN);
        EXPECT_TRUE(IS_ALIGNED(mfn, 512));
        EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(mfn)), node);
        EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(mfn + 511)), node);
        EXPECT_EQ(page_state(mfn_to_page(mfn + 511)), PAGE_STATE_INUSE);
        EXPECT_EQ(heap_free_pages_node(node), before - 512);
        free_heap_pages(mfn, 9);
        EXPECT_EQ(heap_free_pages_node(node), before);
    }
    EXPECT_EQ(heap_check(), 0);
}

static const struct ktest_case lab_numa_cases[] = {
    KTEST_CASE(fallback_follows_distance_map),
    KTEST_CASE(node_heaps_live_on_their_nodes),
    KTEST_CASE(exact_node_blocks_stay_on_their_node),
};
KTEST_SUITE_AFTER(lab_numa, lab_numa_cases, ktest_heap_after_case);
