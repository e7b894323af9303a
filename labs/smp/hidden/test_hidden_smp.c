/*
 * labs/smp/hidden/test_hidden_smp.c - the smp lab's hidden tests
 * (labs/smp/hidden/rubric.json): machines the public tests do not draw.
 * Four nodes with RAM at MFN 0, a hole, a reservation and the boot hart
 * on node 2; a node cut into more ranges than a node can record; four
 * harts draining one node on demand, with no worker at all.
 *
 * The grader copies this file into tests/host/ (docs/labs.md).
 */
#include <pthread.h>

#include "tests/host/lib/deferred_sim.h"
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/node_heap.h"
#include "mm/page.h"

#define EAGER 0x1000UL

/*
 *   node 1 [0 ... 0x8000)  node 0 [0x8000 . res 0x9000-0x9100 . 0x10000)
 *   hole [0x10000, 0x12000)
 *   node 3 [0x12000 ... 0x1a000)  node 2 [0x1a000 ... 0x22000)  (touching)
 * The boot hart is on node 2.
 * Expect: the eager part is node 2's, every other node is pending in
 * full, the counts add up to what boot made pending; node 0's first
 * chunk is the start of its first range, [0x8000, 0x9000); handed over
 * node by node (3, 2, 1, 0) each node has eager init's free pages (the
 * zones differ where a node heap's structures were carved: from the
 * first chunk, not from the whole range), MFN 0 never free.
 */
TEST(hidden_smp_four_nodes_holes_and_reservations)
{
    static const struct sim_machine m = {
        .name = "four nodes, RAM at MFN 0, a hole, a reservation",
        .nr_banks = 4,
        .banks = {{0, 0x8000, 1},
                  {0x8000, 0x10000, 0},
                  {0x12000, 0x1a000, 3},
                  {0x1a000, 0x22000, 2}},
        .nr_reserved = 1,
        .reserved = {{0x9000, 0x9100}},
        .boot_node = 2,
    };
    static const unsigned int order[] = {3, 2, 1, 0};
    struct heap_shape eager, deferred;
    unsigned long made, sum = 0;

    sim_boot_and_end(&m);
    heap_shape_take(&eager);
    made = sim_boot_deferred(&m, EAGER, false);
    for (unsigned int node = 0; node < 4; node++)
        sum += deferred_pending_pages(node);
    EXPECT_EQ(sum, made);
    EXPECT_EQ(deferred_pending_pages(0), 0x8000 - 0x100);
    EXPECT_EQ(deferred_pending_pages(1), 0x8000);
    EXPECT_EQ(deferred_pending_pages(3), 0x8000);
    EXPECT_EQ(heap_free_pages_node(2), EAGER - NODE_HEAP_PAGES);
    EXPECT_EQ(heap_check(), 0);
    REQUIRE(deferred_init_chunk(0), "node 0 handed over no chunk");
    EXPECT(!page_state_is(mfn_to_page(0x8fff), PAGE_STATE_UNINITIALISED) &&
               page_state_is(mfn_to_page(0x9100), PAGE_STATE_UNINITIALISED),
           "node 0's first chunk is not [0x8000, 0x9000), the start of its "
           "first range");
    for (unsigned int i = 0; i < 4; i++)
        deferred_run_node(order[i]);
    EXPECT_EQ(deferred_total_pending(), 0);
    heap_shape_take(&deferred);
    for (unsigned int node = 0; node < 4; node++) { /* (per node: zones hold
                                                       the carved frames) */
        unsigned long a = 0, b = 0;

        for (unsigned int zone = 0; zone < NR_ZONES; zone++)
            a += deferred.free[node][zone], b += eager.free[node][zone];
        EXPECT(a == b, "node %u: %lu free pages, eager init has %lu", node, a,
               b);
    }
    EXPECT(!page_state_is(mfn_to_page(0), PAGE_STATE_FREE), "MFN 0 is free");
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 .. 0x90000)
 *   node 1 [0x90000 ................................. 0xb0000)
 *           16 reserved frames cut it into 17 free ranges
 *   node 2 [0xb0000 .. 0xc0000)   frame table on top
 * Expect: node 1 records DEFERRED_MAX_RANGES ranges as pending; the one
 * more goes to the heap at once (eager), and node 2, after it, is pending
 * in full (a full node leaves only its own range eager); what the call
 * returns is what is pending; settled, the heap is eager init's.
 */
TEST(hidden_smp_more_ranges_than_slots)
{
    struct sim_machine m = {
        .name = "node 1 in 17 free ranges, node 2 after it",
        .nr_banks = 3,
        .banks = {{0x80000, 0x90000, 0},
                  {0x90000, 0xb0000, 1},
                  {0xb0000, 0xc0000, 2}},
        .nr_reserved = 16,
    };
    struct heap_shape eager, deferred;
    unsigned long made, pending0, pending2;

    for (unsigned int i = 0; i < 16; i++)
        m.reserved[i] =
            (struct sim_range){0x91000 + i * 0x1000, 0x91000 + i * 0x1000 + 1};
    sim_boot_and_end(&m);
    heap_shape_take(&eager);
    made = sim_boot_deferred(&m, EAGER, false);
    pending0 = deferred_pending_pages(0);
    pending2 = deferred_pending_pages(2);
    EXPECT_EQ(pending0, 0x10000 - EAGER);
    EXPECT_EQ(pending2, 0x10000 - sim_frametable_pages());
    EXPECT_EQ(made, pending0 + deferred_pending_pages(1) + pending2);
    /* the first 16 of node 1's ranges: 0x1000, then 15 of 0x1000 - 1 */
    EXPECT_EQ(deferred_pending_pages(1), 0x1000 + 15 * 0xfff);
    EXPECT(heap_node_exists(1), "node 1's 17th range did not go to the heap");
    EXPECT_EQ(heap_check(), 0);
    deferred_run_node(1);
    deferred_run_node(0);
    deferred_run_node(2);
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager);
    EXPECT_EQ(heap_check(), 0);
}

#define NR_HARTS 4
#define MAX_HELD 0x12000

static mfn_t held[NR_HARTS][MAX_HELD];

struct drainer {
    unsigned int id;
    unsigned long got;
};

/* Order-0 exact allocations on node 1 until one fails; keep them all. */
static void *drain_node1(void *p)
{
    struct drainer *d = p;
    mfn_t mfn;

    sim_set_this_node(1);
    while (d->got < MAX_HELD &&
           (mfn = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE)) != INVALID_MFN)
        held[d->id][d->got++] = mfn;
    return NULL;
}

/*
 *   node 0 [0x80000 .. 0x90000)   node 1 [0x90000 ..... 0xa0000)
 * No worker: four harts on node 1 allocate single frames from node 1
 * only, all at once, until each fails once.
 * Expect: together they got every free frame eager init gives node 1
 * (each chunk handed over once, by whoever found the node short, the
 * harts waiting for each other's chunks at the end); every frame of
 * node 1 went through init_heap_pages() once; freed, the heap is eager
 * init's.
 */
TEST(hidden_smp_many_harts_grow_one_node)
{
    static const struct sim_machine m = {
        .name = "two nodes, node 1 grown on demand",
        .nr_banks = 2,
        .banks = {{0x80000, 0x90000, 0}, {0x90000, 0xa0000, 1}},
    };
    struct drainer d[NR_HARTS];
    pthread_t t[NR_HARTS];
    struct heap_shape eager, deferred;
    unsigned long got = 0, want = 0;

    sim_boot_and_end(&m);
    heap_shape_take(&eager);
    sim_boot_deferred(&m, EAGER, false);
    EXPECT(!heap_node_exists(1) && deferred_pending_pages(1) != 0,
           "node 1 is in the heap at boot: nothing to grow on demand");
    for (unsigned int i = 0; i < NR_HARTS; i++) {
        d[i] = (struct drainer){i, 0};
        pthread_create(&t[i], NULL, drain_node1, &d[i]);
    }
    for (unsigned int i = 0; i < NR_HARTS; i++) {
        pthread_join(t[i], NULL);
        got += d[i].got;
    }
    EXPECT_EQ(deferred_pending_pages(1), 0);
    for (unsigned int zone = 0; zone < NR_ZONES; zone++)
        want += eager.free[1][zone];
    EXPECT_EQ(got, want);
    for (mfn_t mfn = 0x90000; mfn < sim_frametable_mfn(); mfn++)
        if (mfn_to_page(mfn)->nr_inits != 1) {
            EXPECT(0, "frame 0x%lx went through init_heap_pages %u times", mfn,
                   mfn_to_page(mfn)->nr_inits);
            break;
        }
    for (unsigned int i = 0; i < NR_HARTS; i++)
        while (d[i].got)
            free_heap_pages(held[i][--d[i].got], 0);
    deferred_run_node(0);
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager);
    EXPECT_EQ(heap_check(), 0);
}
