/*
 * tests/host/test_deferred.c - deferred initialisation (mm/deferred.c) on
 * simulated machines: what stays pending at the end of boot, chunks
 * handed over by worker threads, allocations that grow their node on
 * demand, and the end state, which must be exactly eager init's.
 *
 * Each test draws its machine. Frame numbers are hexadecimal MFNs.
 */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "tests/host/lib/deferred_sim.h"
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/node_heap.h"
#include "mm/page.h"

/*
 *   node 0: [0x80000 ............ 0x90000)  node 1: [0x90000 ..... 0xa0000)
 *            ^ eager: 0x1000 frames          all pending  frame table ^^^
 *   (64 Ki frames per node, 16 chunks each; the frame table, 0x400
 *   frames, comes from the top of node 1)
 */
static const struct sim_machine two_nodes = {
    .name = "two nodes, 64 Ki frames each",
    .nr_banks = 2,
    .banks = {{0x80000, 0x90000, 0}, {0x90000, 0xa0000, 1}},
};

#define EAGER 0x1000UL

/*
 * Expect: after boot only EAGER frames of node 0 are in the heap (minus
 * node 0's carved structures); every other free frame is pending,
 * uninitialised, and counted per node; node 1 has no heap yet;
 * heap_check() passes. Initialising a pending frame behind deferred
 * init's back makes heap_check() fail.
 */
TEST(pending_frames_are_uninitialised_and_counted)
{
    unsigned long deferred = sim_boot_deferred(&two_nodes, EAGER, true);
    unsigned long node1 = 0x10000 - sim_frametable_pages();

    EXPECT_EQ(deferred, (0x10000 - EAGER) + node1);
    EXPECT_EQ(deferred_pending_pages(0), 0x10000 - EAGER);
    EXPECT_EQ(deferred_pending_pages(1), node1);
    EXPECT_EQ(deferred_total_pending(), deferred);
    EXPECT_EQ(heap_free_pages_node(0), EAGER - NODE_HEAP_PAGES);
    EXPECT(!heap_node_exists(1), "node 1 has a heap before any of it is in");
    for (mfn_t m = 0x80000 + EAGER; m < 0x90000; m += 0x111)
        EXPECT(page_state_is(mfn_to_page(m), PAGE_STATE_UNINITIALISED) &&
                   mfn_to_page(m)->nr_inits == 0,
               "pending frame 0x%lx is not uninitialised", m);
    EXPECT_EQ(heap_check(), 0);

    sim_set_quiet(true);
    frametable_make_ready(0x95000, 0x95001);
    init_heap_pages(0x95000, 1); /* behind deferred init's back */
    EXPECT_NE(heap_check(), 0);
    sim_set_quiet(false);
}

/*
 * Expect: chunks handed over one by one (node 1 first, then node 0) give
 * exactly the heap eager init gives: the same free pages per node and
 * zone, every block merged (heap_check).
 */
TEST(settled_heap_equals_eager)
{
    struct heap_shape eager, deferred;
    unsigned long chunks = 0;

    heap_shape_eager(&two_nodes, &eager);
    sim_boot_deferred(&two_nodes, EAGER, true);
    while (deferred_init_chunk(1))
        chunks++;
    EXPECT_EQ(deferred_pending_pages(1), 0);
    EXPECT_NE(deferred_pending_pages(0), 0);
    deferred_run_node(0);
    EXPECT_EQ(chunks, 16); /* 0x10000 frames less the table: 16 chunks */
    EXPECT_EQ(deferred_total_pending(), 0);
    EXPECT(!deferred_init_chunk(0), "a chunk handed over after settling");
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * A machine with RAM at MFN 0 and a reservation in the middle of node 0:
 *   node 0 [0 .. 0x800) reserved [0x800, 0x900) [0x900 .. 0x8000)
 *   node 1 [0x8000 .......... 0x10000)
 * Expect: the settled heap is eager init's (MFN 0 parked, never free).
 */
TEST(settled_heap_equals_eager_ram_at_mfn0)
{
    static const struct sim_machine m = {
        .name = "RAM at MFN 0, a reserved range",
        .nr_banks = 2,
        .banks = {{0, 0x8000, 1}, {0x8000, 0x10000, 0}},
        .nr_reserved = 1,
        .reserved = {{0x800, 0x900}},
        .boot_node = 0,
    };
    struct heap_shape eager, deferred;

    heap_shape_eager(&m, &eager);
    sim_boot_deferred(&m, EAGER, true);
    EXPECT_NE(deferred_pending_pages(1), 0);
    deferred_run_node(0);
    deferred_run_node(1);
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager);
    EXPECT(!page_state_is(mfn_to_page(0), PAGE_STATE_FREE), "MFN 0 is free");
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: with no worker at all, an allocation from node 1 (which has no
 * heap yet) is served from node 1 - the allocation hands over one chunk
 * itself instead of falling back to node 0 - and a 2^14-frame block (four
 * chunks) is too; an exact-node allocation on node 1 as well.
 */
TEST(allocation_grows_its_node_before_fallback)
{
    unsigned long before;
    mfn_t mfn, big;

    sim_boot_deferred(&two_nodes, EAGER, true);
    before = deferred_pending_pages(1);
    sim_set_this_node(1);
    mfn = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(sim_node_of(mfn), 1);
    EXPECT_EQ(deferred_pending_pages(1), before - DEFERRED_CHUNK_PAGES);
    EXPECT_EQ(heap_free_pages_node(0), EAGER - NODE_HEAP_PAGES);
    big = alloc_heap_pages(14, 0, NUMA_NO_NODE, 0);
    REQUIRE_NE(big, INVALID_MFN);
    EXPECT_EQ(sim_node_of(big), 1);
    free_heap_pages(big, 14);
    free_heap_pages(mfn, 0);
    sim_set_this_node(0);
    mfn = alloc_heap_pages(3, 0, 1, ALLOC_EXACT_NODE);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(sim_node_of(mfn), 1);
    free_heap_pages(mfn, 3);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   one node [0x80000 .. 0x88000), EAGER 0x1000 frames at boot
 * Expect: order-0 allocations with fallback all come from node 0 (there
 * is no other node to fall back to) until every frame is taken: the heap
 * grows chunk by chunk, and once nothing is pending or free, the next
 * allocation fails; the count equals eager init's free pages.
 */
TEST(allocations_drain_every_pending_frame)
{
    static const struct sim_machine m = {
        .name = "one node, 32 Ki frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x88000, 0}},
    };
    struct heap_shape eager;
    unsigned long got = 0;

    heap_shape_eager(&m, &eager);
    sim_boot_deferred(&m, EAGER, true);
    while (alloc_heap_pages(0, 0, NUMA_NO_NODE, 0) != INVALID_MFN)
        got++;
    EXPECT_EQ(got, heap_shape_node_free(&eager, 0));
    EXPECT_EQ(deferred_total_pending(), 0);
    EXPECT_EQ(heap_check(), 0);
}

/* ---- threads: workers racing with allocations ---------------------------- */

/*
 * Two workers per node hand over chunks while four allocators (two per
 * node, exact and not) allocate and free.
 * Expect: no allocation fails or leaves its node when it asked for it
 * exactly; once everyone is done nothing is pending, the heap is eager
 * init's (free pages per node and zone), and every RAM frame outside the frame
 * table went through init_heap_pages() exactly once.
 */
TEST(workers_race_with_allocations)
{
    sim_race_workers_with_allocators(&two_nodes, EAGER, true, 3);
}

/* ---- an allocation that finds the node's last chunk on its way ----------- */

static volatile int
    chunk_in_flight;             /* the worker holds the node's last chunk */
static int worker_locks;         /* node 1 lock takes by the worker */
static volatile int worker_done; /* its deferred_init_chunk() returned */

/*
 * On the worker's thread: its second take of node 1's lock is
 * init_heap_pages() of the chunk it has just taken off the pending list.
 * Say so, and give the allocator time to find node 1 with nothing pending
 * but a chunk on its way.
 */
static void hold_before_hand_over(unsigned int node)
{
    if (node == 1 && ++worker_locks == 2) {
        chunk_in_flight = 1;
        usleep(100 * 1000);
    }
}

static void *slow_worker(void *p)
{
    (void)p;
    sim_set_lock_hook(hold_before_hand_over);
    deferred_init_chunk(1);
    sim_set_lock_hook(NULL);
    worker_done = 1;
    return NULL;
}

/* Node 1 is one chunk (less the frame table on its top). */
static const struct sim_machine one_chunk = {
    .name = "node 1 of one chunk",
    .nr_banks = 2,
    .banks = {{0x80000, 0x90000, 0}, {0x90000, 0x91000, 1}},
};

/*
 *   node 0 [0x80000 .. 0x90000)   node 1 [0x90000 .. 0x91000): one chunk
 *                                          (less the frame table on top)
 * A worker takes node 1's only chunk and is held before it hands it over;
 * meanwhile an exact allocation on node 1 finds no heap and nothing
 * pending. Expect: it waits for the chunk on its way and succeeds on node
 * 1, instead of failing.
 */
TEST(allocation_waits_for_a_chunk_on_its_way)
{
    pthread_t w;
    mfn_t mfn;

    sim_boot_deferred(&one_chunk, EAGER, true);
    REQUIRE(deferred_pending_pages(1) <= DEFERRED_CHUNK_PAGES,
            "node 1 should be one chunk, has %lu pending pages",
            deferred_pending_pages(1));
    chunk_in_flight = worker_done = 0;
    worker_locks = 0;
    pthread_create(&w, NULL, slow_worker, NULL);
    while (!chunk_in_flight && !worker_done) /* (a lab stub takes no lock) */
        sched_yield();
    mfn = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE);
    pthread_join(w, NULL);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(sim_node_of(mfn), 1);
    free_heap_pages(mfn, 0);
    EXPECT_EQ(deferred_total_pending(), deferred_pending_pages(0));
    EXPECT_EQ(heap_check(), 0);
}

/*
 * On the allocating thread: its first take of node 1's lock is in
 * deferred_grow(), after a look that found node 1 without a heap. Just
 * then another "hart" hands all of node 1 over (run here, the hook off),
 * so grow finds nothing to take and nothing on its way.
 */
static void land_everything_first(unsigned int node)
{
    if (node != 1)
        return;
    sim_set_lock_hook(NULL);
    deferred_run_node(1);
}

/*
 * The same machine, one thread: an exact allocation on node 1 looks (no
 * heap: nothing), and the node's last chunk lands between that look and
 * deferred_grow(), which then says false. Expect: the allocation looks
 * once more and succeeds on node 1 (mm/heap.c, alloc_or_grow()).
 */
TEST(allocation_looks_again_when_the_last_chunk_lands_before_grow)
{
    mfn_t mfn;

    sim_boot_deferred(&one_chunk, EAGER, true);
    REQUIRE(!heap_node_exists(1) && deferred_pending_pages(1) != 0,
            "node 1 should have no heap and frames pending");
    sim_set_lock_hook(land_everything_first);
    mfn = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE);
    sim_set_lock_hook(NULL);
    EXPECT_EQ(deferred_pending_pages(1), 0);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(sim_node_of(mfn), 1);
    free_heap_pages(mfn, 0);
    EXPECT_EQ(heap_check(), 0);
}
