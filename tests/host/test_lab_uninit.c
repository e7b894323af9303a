/*
 * tests/host/test_lab_uninit.c - every rule of the uninit lab
 * (labs/uninit/README.md, mm/init_heap.c), one case per rule, each on a
 * machine shaped so that breaking that rule alone fails it: a free range
 * that ends at the frame table's last frame, holes inside the range
 * handed over, frames that are inuse or free where uninitialised ones
 * are expected, blocks bigger than a chunk with flags on the chunk
 * edges, a node boundary inside a block, a node whose heap appears on
 * the first free, and two harts contending for the heap lock.
 *
 * Every case that leaves a heap behind ends with heap_check().
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

/* "frame 0xMFN is STATE, not an uninitialised RAM frame", the claim panic. */
static const char *not_uninit_msg(mfn_t mfn, const char *state)
{
    static char msg[96];

    snprintf(msg, sizeof(msg),
             "frame 0x%lx is %s, not an uninitialised RAM frame", mfn, state);
    return msg;
}

/*
 *   node 0 [0x80000 ........ 0x80400)  hole  [0x80800] one frame
 *          the frame table at the top of the first bank
 * The one-frame bank is free: end_boot_allocator() hands over a range
 * that ends at the frame table's last frame.
 * Expect: no panic; 0x80800 is free; the node map was asked once per
 * run and only about RAM frames: the first free frame, then 0x80800.
 */
TEST(uninit_range_ends_at_table_end)
{
    static const struct sim_machine m = {
        .name = "a one-frame bank at the top",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x80800, 0x80801, 0}},
    };
    mfn_t runs[SIM_MAX_RUNS_TRACED];
    unsigned int n;

    sim_boot(&m);
    REQUIRE(sim_frametable_mfn() < 0x80400, "no frame table in bank 1");
    sim_take_runs_asked(runs);
    end_boot_allocator();
    EXPECT_EQ(frametable_end(), 0x80801);
    EXPECT(page_state_is(mfn_to_page(0x80800), PAGE_STATE_FREE),
           "frame 0x80800, the table's last, is not free");
    n = sim_take_runs_asked(runs);
    EXPECT(n == 2 && runs[0] == 0x80000 && runs[1] == 0x80800,
           "the node map was asked about %u runs (the first at 0x%lx), "
           "expected 2: 0x80000 and 0x80800",
           n, n ? runs[0] : 0);
    EXPECT_EQ(heap_total_free_pages(), 0x401 - sim_frametable_pages() - 3);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 .... |resv 0x803f0 0x80400)  hole  [resv 0x80500
 *          0x80513| ...... 0x80900)
 *   init_heap_pages(0x803f0, 0x123): the reserved frames and the hole
 * Expect: the 16 + 0x13 reserved frames are free, the hole's frames are
 * still uninitialised holes; the node map was asked exactly twice, at
 * 0x803f0 and 0x80500 (once per run, never about a hole, not once per
 * block: the second run is three blocks).
 */
TEST(uninit_init_over_holes)
{
    static const struct sim_machine m = {
        .name = "two banks, a hole, reserved frames on both sides of it",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x80500, 0x80900, 0}},
        .nr_reserved = 2,
        .reserved = {{0x803f0, 0x80400}, {0x80500, 0x80513}},
    };
    mfn_t runs[SIM_MAX_RUNS_TRACED];
    unsigned long before;
    unsigned int n;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    sim_take_runs_asked(runs);
    init_heap_pages(0x803f0, 0x80513 - 0x803f0);
    n = sim_take_runs_asked(runs);
    EXPECT(n == 2 && runs[0] == 0x803f0 && runs[1] == 0x80500,
           "the node map was asked about %u runs (the first at 0x%lx, the "
           "second at 0x%lx), expected 2: 0x803f0 and 0x80500",
           n, n ? runs[0] : 0, n > 1 ? runs[1] : 0);
    EXPECT_EQ(heap_total_free_pages(), before + 0x10 + 0x13);
    for (mfn_t f = 0x80400; f < 0x80500; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_UNINITIALISED) &&
                   page_has_flag(mfn_to_page(f), PGC_HOLE),
               "hole frame 0x%lx changed", f);
    for (mfn_t f = 0x80500; f < 0x80513; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_FREE),
               "frame 0x%lx after the hole is not free", f);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 ............ 0x80400)
 * Expect: an empty range changes nothing and is no panic, wherever it
 * is (at the table's end, before the table, at MFN 0); a range that
 * starts or ends outside the table is a panic that says so, also when
 * only its last frame or only its first frame is outside.
 */
TEST(uninit_init_range_checks)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    init_heap_pages(frametable_end(), 0);
    init_heap_pages(frametable_first() - 1, 0);
    init_heap_pages(0, 0);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_PANIC(init_heap_pages(frametable_end() - 1, 2),
                 "init_heap_pages: [0x803ff, 0x80401) is outside the frame "
                 "table");
    sim_boot_and_end(&m);
    EXPECT_PANIC(init_heap_pages(frametable_first() - 1, 2),
                 "outside the frame table");
    sim_boot_and_end(&m);
    EXPECT_PANIC(init_heap_pages(0x70000, 0x10), "outside the frame table");
    sim_boot_and_end(&m);
    EXPECT_PANIC(init_heap_pages(0x70000, 0x20000), "outside the frame table");
}

/*
 *   node 0 [0x80000 ....... |resv 0x80100 0x80104| ....... 0x80400)
 * Expect: init_heap_pages() of a frame that is not uninitialised RAM is a
 * panic naming the frame and its state ("frame 0x... is inuse, not an
 * uninitialised RAM frame"): an allocated (inuse) frame, a free frame,
 * and a free frame right after uninitialised ones in the same range.
 */
TEST(uninit_init_of_a_used_frame_panics)
{
    static const struct sim_machine m = {
        .name = "one node, four reserved frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
        .nr_reserved = 1,
        .reserved = {{0x80100, 0x80104}},
    };
    mfn_t a;

    sim_boot_and_end(&m);
    a = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    REQUIRE(a != INVALID_MFN, "no frame to allocate");
    EXPECT_PANIC(init_heap_pages(a, 1), not_uninit_msg(a, "inuse"));
    sim_boot_and_end(&m);
    EXPECT_PANIC(init_heap_pages(0x80200, 1), not_uninit_msg(0x80200, "free"));
    sim_boot_and_end(&m);
    EXPECT_PANIC(init_heap_pages(0x80100, 5), not_uninit_msg(0x80104, "free"));
}

/*
 *   node 0 [0x80000 .... |hole| .... 0x80400)   (two banks, a hole between)
 * Expect: free_heap_pages() checks the block before anything else: not
 * aligned, too big, outside the table are panics naming it; a hole frame
 * (uninitialised, but not RAM) is a panic that says it is a hole, not a
 * silent no-op through init_heap_pages().
 */
TEST(uninit_free_checks_the_block)
{
    static const struct sim_machine m = {
        .name = "two banks, a hole between",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80100, 0}, {0x80200, 0x80400, 0}},
        .nr_reserved = 1,
        .reserved = {{0x80010, 0x80020}},
    };

    sim_boot_and_end(&m);
    EXPECT_PANIC(free_heap_pages(0x80011, 1), "free_heap_pages: block 0x80011 "
                                              "order 1 is not a block");
    EXPECT_PANIC(free_heap_pages(0x80010, MAX_ORDER + 1), "is not a block");
    EXPECT_PANIC(free_heap_pages(0x70000, 0), "outside the frame table");
    EXPECT_PANIC(free_heap_pages(0x80400, 0), "outside the frame table");
    EXPECT_PANIC(free_heap_pages(0x80000, 11), "outside the frame table");
    EXPECT_PANIC(free_heap_pages(0x80100, 0), "a hole, not RAM");
    sim_boot_and_end(&m);
    EXPECT_PANIC(free_heap_pages(0x80180, 4), "a hole, not RAM");
    sim_boot_and_end(&m);
    free_heap_pages(0x80010, 4); /* the reserved block: fine */
    EXPECT(page_state_is(mfn_to_page(0x80010), PAGE_STATE_FREE), "not free");
    EXPECT_EQ(heap_check(), 0);
}

struct freer {
    mfn_t mfn;         /* the block to free */
    volatile int done; /* set once free_heap_pages() returned */
};

static void *freer_main(void *p)
{
    struct freer *f = p;

    free_heap_pages(f->mfn, 0);
    __atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Start a hart (thread) that frees the order-0 block at mfn. */
static void start_freer(pthread_t *t, struct freer *f, mfn_t mfn)
{
    f->mfn = mfn;
    f->done = 0;
    REQUIRE(pthread_create(t, NULL, freer_main, f) == 0,
            "cannot start a thread");
}

/* Let the other hart run until it is done, at most `turns` times. */
static int wait_done(struct freer *f, long turns)
{
    for (long i = 0; i < turns && !__atomic_load_n(&f->done, __ATOMIC_ACQUIRE);
         i++)
        sched_yield();
    return __atomic_load_n(&f->done, __ATOMIC_ACQUIRE);
}

/*
 * Hold node `held`'s lock while another hart frees the uninitialised frame
 * mfn. It must finish while the lock is held if mfn is on another node,
 * and wait (this hart lets it run a thousand times first) if it is on the
 * held node. Either way it finishes once the lock is let go.
 */
static void free_while_holding(unsigned int held, mfn_t mfn, bool waits)
{
    struct freer f;
    pthread_t t;
    int done;

    mm_hook_lock(held);
    start_freer(&t, &f, mfn);
    done = wait_done(&f, waits ? 1000 : 2000000L);
    mm_hook_unlock(held);
    pthread_join(t, NULL);
    if (waits)
        EXPECT(!done, "free_heap_pages() of uninitialised frame 0x%lx "
                      "returned while another hart held its node's (%u) lock",
               mfn, held);
    else
        EXPECT(done, "free_heap_pages() of uninitialised frame 0x%lx waited "
                     "for node %u's lock (init_heap_pages() must take the "
                     "lock of the run's own node only)",
               mfn, held);
    EXPECT(page_state_is(mfn_to_page(mfn), PAGE_STATE_FREE),
           "0x%lx is %s after its free", mfn,
           page_state_name(page_state(mfn_to_page(mfn))));
}

/*
 *   node 0 [0x80000 .. |resv 0x80100 0x80101| .. 0x80400)
 *   node 1 [0x80400 .. |resv 0x80500 0x80501| .. 0x80800)
 * The reserved frames are uninitialised; another hart frees each while this
 * hart holds one node's heap lock: a frame of the other node (the free must
 * finish), then one of the held node (it must wait).
 * Expect: the frees wait exactly when they need the held lock; every frame
 * ends free, the heap whole.
 */
TEST(uninit_free_takes_the_node_lock)
{
    static const struct sim_machine m = {
        .name = "two nodes, two reserved frames on each",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x80400, 0x80800, 1}},
        .nr_reserved = 2,
        .reserved = {{0x80100, 0x80102}, {0x80500, 0x80502}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    free_while_holding(1, 0x80100, false);
    free_while_holding(0, 0x80101, true);
    free_while_holding(0, 0x80500, false);
    free_while_holding(1, 0x80501, true);
    EXPECT_EQ(heap_total_free_pages(), before + 4);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 ................................. 0x81000)
 *   a boot allocation of 1024 frames (order 10, four chunks of 256),
 *   PGC_EXTRA on its frames 0, 255, 256, 511, 1023 (the chunks' edges)
 * Expect: freeing it as one block makes all 1024 frames free, each
 * initialised once, every flag kept; allocated and freed again it is the
 * same; the heap is whole.
 */
TEST(uninit_block_bigger_than_a_chunk)
{
    static const struct sim_machine m = {
        .name = "one node, 16 MiB",
        .nr_banks = 1,
        .banks = {{0x80000, 0x81000, 0}},
    };
    static const unsigned int flagged[] = {0, 255, 256, 511, 1023};
    unsigned long before;
    mfn_t b;

    sim_boot(&m);
    b = alloc_boot_pages(1024, 1024);
    end_boot_allocator();
    for (unsigned int i = 0; i < 5; i++)
        page_set_flags(mfn_to_page(b + flagged[i]), PGC_EXTRA);
    before = heap_total_free_pages();
    free_heap_pages(b, 10);
    EXPECT_EQ(heap_total_free_pages(), before + 1024);
    for (mfn_t f = b; f < b + 1024; f++) {
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_FREE),
               "frame 0x%lx is not free", f);
        EXPECT_EQ(mfn_to_page(f)->nr_inits, 1);
    }
    for (unsigned int i = 0; i < 5; i++)
        EXPECT(page_has_flag(mfn_to_page(b + flagged[i]), PGC_EXTRA),
               "frame 0x%lx lost PGC_EXTRA", b + flagged[i]);
    EXPECT_EQ(heap_check(), 0);
    b = alloc_heap_pages(10, 0, NUMA_NO_NODE, 0);
    REQUIRE(b != INVALID_MFN, "no order-10 block after the free");
    free_heap_pages(b, 10);
    EXPECT_EQ(heap_total_free_pages(), before + 1024);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 ...... |resv 0x80200 0x80210) node 1 [0x80210 0x80220|
 *   ...... 0x80400)          an order-5 block across the node boundary
 * Expect: freeing the reserved block asks the node map twice (0x80200,
 * 0x80210); its frames land on their own nodes (16 on each), each
 * recorded with its node; no block spans the boundary.
 */
TEST(uninit_block_across_a_node_boundary)
{
    static const struct sim_machine m = {
        .name = "two nodes, boundary at 0x80210",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80210, 0}, {0x80210, 0x80400, 1}},
        .nr_reserved = 1,
        .reserved = {{0x80200, 0x80220}},
    };
    mfn_t runs[SIM_MAX_RUNS_TRACED];
    unsigned long before0, before1;
    unsigned int n;

    sim_boot_and_end(&m);
    before0 = heap_free_pages_node(0);
    before1 = heap_free_pages_node(1);
    sim_take_runs_asked(runs);
    free_heap_pages(0x80200, 5);
    n = sim_take_runs_asked(runs);
    EXPECT(n == 2 && runs[0] == 0x80200 && runs[1] == 0x80210,
           "the node map was asked about %u runs (the first at 0x%lx), "
           "expected 2: 0x80200 and 0x80210",
           n, n ? runs[0] : 0);
    EXPECT_EQ(heap_free_pages_node(0), before0 + 16);
    EXPECT_EQ(heap_free_pages_node(1), before1 + 16);
    for (mfn_t f = 0x80200; f < 0x80220; f++)
        EXPECT_EQ(mfn_to_page(f)->node, f < 0x80210 ? 0 : 1);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 ...... 0x80400)   node 1 [0x81000 resv ... 0x81040)
 *   (every frame of node 1 reserved: it has no heap after boot)
 * Expect: the first free of node 1 (one frame) creates its heap (from the
 * pool: too few frames to carve); a later free of 32 frames adds them
 * all (no second heap, no carve); node 0's heap is untouched.
 */
TEST(uninit_first_free_creates_the_node_heap)
{
    static const struct sim_machine m = {
        .name = "node 1 all reserved",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81040, 1}},
        .nr_reserved = 1,
        .reserved = {{0x81000, 0x81040}},
    };
    unsigned long node0;

    sim_boot_and_end(&m);
    node0 = heap_free_pages_node(0);
    EXPECT(!heap_node_exists(1), "node 1 has a heap before any free");
    free_heap_pages(0x81000, 0);
    EXPECT(heap_node_exists(1), "node 1 has no heap after its first free");
    EXPECT_EQ(heap_free_pages_node(1), 1);
    free_heap_pages(0x81020, 5);
    EXPECT_EQ(heap_free_pages_node(1), 33);
    EXPECT_EQ(heap_free_pages_node(0), node0);
    EXPECT_EQ(heap_check(), 0);
}
