/*
 * tests/host/test_lab_smp.c - every rule of the smp lab
 * (labs/smp/README.md, mm/deferred.c), one case per rule, each on a
 * machine shaped so that breaking that rule alone fails it: a boot
 * allocator range that crosses a node boundary, an eager part split over
 * two banks of a boot node that is not node 0, chunks that start off
 * their alignment, the counters read at every lock take of a chunk's
 * hand-over, the one lock a chunk may take, another hart that gets the
 * lock first, an allocation (and a grow) that finds the node's last chunk
 * on its way, a worker that must go on while another node's lock is
 * held, and workers racing with allocators.
 *
 * The cases with threads come last: a panic on a second thread ends the
 * whole program, and the cases before it have their results by then.
 * Frame numbers are hexadecimal MFNs.
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

#define EAGER 0x1000UL

/*
 *   node 0 [0x80000 ........ 0x90000) node 1 [0x90000 ........ 0xa0000)
 *           ^ eager 0x1000                    frame table on top ^^^
 * The banks touch: the boot allocator holds one range across both nodes.
 */
static const struct sim_machine two_nodes = {
    .name = "two touching nodes, 64 Ki frames each",
    .nr_banks = 2,
    .banks = {{0x80000, 0x90000, 0}, {0x90000, 0xa0000, 1}},
};

static bool uninitialised(mfn_t mfn)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_UNINITIALISED) && pg->nr_inits == 0;
}

/* Frames of [s, e) below the frame table that never reached the heap. */
static unsigned long count_uninitialised(mfn_t s, mfn_t e)
{
    unsigned long n = 0;

    for (mfn_t m = s; m < e && m < sim_frametable_mfn(); m++)
        n += mfn_valid(m) && uninitialised(m);
    return n;
}

/*
 * two_nodes: one boot allocator range [0x80000, frame table) crosses from
 * node 0 into node 1.
 * Expect: the lowest EAGER frames of node 0 go to the heap at once; the
 * rest of node 0 is pending on node 0, all of node 1 below the frame
 * table on node 1 (a range recorded across the boundary is on the wrong
 * node, and heap_check() says so); the return value is their sum.
 */
TEST(lab_smp_boot_records_each_node_beyond_eager)
{
    unsigned long deferred = sim_boot_deferred(&two_nodes, EAGER, false);
    unsigned long node1 = 0x10000 - sim_frametable_pages();

    EXPECT_EQ(deferred_pending_pages(0), 0x10000 - EAGER);
    EXPECT_EQ(deferred_pending_pages(1), node1);
    EXPECT_EQ(deferred, (0x10000 - EAGER) + node1);
    EXPECT_EQ(heap_free_pages_node(0), EAGER - NODE_HEAP_PAGES);
    EXPECT(!uninitialised(0x80000 + EAGER - 1),
           "frame 0x%lx, the last eager one, is still uninitialised",
           0x80000 + EAGER - 1);
    EXPECT(uninitialised(0x80000 + EAGER),
           "frame 0x%lx, the first pending one, is not uninitialised",
           0x80000 + EAGER);
    EXPECT(!heap_node_exists(1), "node 1 has a heap before any of it is in");
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 .. 0x90000)
 *   node 1 [0x90000 .. 0x90800) hole [0x91000 .......... 0xa0000)
 *           ^ eager 0x800              ^ eager 0x800, then pending
 * The boot hart is on node 1, whose first bank is smaller than EAGER.
 * Expect: the eager part is node 1's lowest EAGER frames, over both
 * banks; all of node 0 is pending.
 */
TEST(lab_smp_eager_part_spans_the_boot_nodes_ranges)
{
    static const struct sim_machine m = {
        .name = "boot node 1, two banks",
        .nr_banks = 3,
        .banks = {{0x80000, 0x90000, 0},
                  {0x90000, 0x90800, 1},
                  {0x91000, 0xa0000, 1}},
        .boot_node = 1,
    };
    unsigned long node1;

    sim_boot_deferred(&m, EAGER, false);
    node1 = 0x800 + 0xf000 - sim_frametable_pages();
    EXPECT_EQ(deferred_pending_pages(0), 0x10000);
    EXPECT_EQ(deferred_pending_pages(1), node1 - EAGER);
    EXPECT_EQ(heap_free_pages_node(1), EAGER - NODE_HEAP_PAGES);
    EXPECT(!uninitialised(0x91000 + 0x7ff),
           "frame 0x917ff, the last eager one, is still uninitialised");
    EXPECT(uninitialised(0x91800), "frame 0x91800, the first pending one, "
                                   "is not uninitialised");
    EXPECT_EQ(heap_free_pages_node(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 .. 0x88000)   node 1 [0x90800 ......... 0xa0000)
 *                                          ^ not chunk-aligned
 * Expect: node 1's chunks, one call each, are [0x90800, 0x91000) (up to
 * the next multiple of DEFERRED_CHUNK_PAGES), then whole chunks, the last
 * one up to the frame table: after each, exactly its frames are in the
 * heap, the next frame is still pending, the counters agree and
 * heap_check() passes. Then no more chunks, and the heap is eager init's.
 */
TEST(lab_smp_chunks_one_at_a_time)
{
    static const struct sim_machine m = {
        .name = "node 1 starting off a chunk boundary",
        .nr_banks = 2,
        .banks = {{0x80000, 0x88000, 0}, {0x90800, 0xa0000, 1}},
    };
    struct heap_shape eager, deferred;
    mfn_t s = 0x90800, end;
    unsigned int chunks = 0;

    heap_shape_eager(&m, &eager);
    sim_boot_deferred(&m, EAGER, false);
    end = sim_frametable_mfn();
    while (s < end) {
        mfn_t e = MIN(end, ALIGN_DOWN(s, (mfn_t)DEFERRED_CHUNK_PAGES) +
                               DEFERRED_CHUNK_PAGES);

        REQUIRE(deferred_init_chunk(1), "no chunk handed over at 0x%lx", s);
        chunks++;
        EXPECT_EQ(count_uninitialised(s, e), 0);
        EXPECT_EQ(deferred_pending_pages(1), end - e);
        EXPECT_EQ(count_uninitialised(0x90800, end), end - e);
        if (e < end)
            EXPECT(uninitialised(e),
                   "chunk [0x%lx, 0x%lx): 0x%lx, the "
                   "frame after it, is not pending",
                   s, e, e);
        REQUIRE_EQ(heap_check(), 0);
        s = e;
    }
    EXPECT(!deferred_init_chunk(1), "a chunk handed over after the last");
    EXPECT_EQ(chunks, 16); /* 0x800, 14 whole ones, the rest below the table */
    deferred_run_node(0);
    EXPECT_EQ(deferred_total_pending(), 0);
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager);
    EXPECT_EQ(heap_check(), 0);
}

/* ---- the locks and counters one chunk goes through ----------------------- */

static unsigned int takes[MAX_NUMNODES]; /* lock takes per node, by the hook */
static unsigned long missed;             /* frames not counted at a take */
static mfn_t watch_s, watch_e;           /* the node's frames below the table */
static unsigned int watch_node;
static unsigned long watch_in;      /* uninitialised once the chunk is in */
static unsigned int takes_after_in; /* takes that found the chunk in */

/*
 * Before each lock take: count it, and check the rule that makes
 * "nothing pending" safe to trust - every frame of the node not yet in
 * the heap is counted by deferred_pending_pages(), pending or on its way.
 * A take that finds the whole chunk in the heap already is the count-in.
 */
static void count_take(unsigned int node)
{
    unsigned long out = count_uninitialised(watch_s, watch_e);
    unsigned long counted = deferred_pending_pages(watch_node);

    takes[node < MAX_NUMNODES ? node : 0]++;
    if (counted < out && out - counted > missed)
        missed = out - counted;
    takes_after_in += out == watch_in;
}

static bool nested_took; /* what the other hart's deferred_init_chunk said */

/*
 * Before this thread's first lock take: as if another hart of the node
 * got the lock first, take the chunk on this thread, once (the hook is
 * off while it does).
 */
static void other_hart_first(unsigned int node)
{
    sim_set_lock_hook(NULL);
    nested_took = deferred_init_chunk(node);
}

/*
 * two_nodes, one chunk of node 1 handed over on this thread.
 * Expect: it takes node 1's lock and no other (the lock hook sees every
 * take), at most three times (take the chunk off the ranges, the hand-over
 * itself, count it in); never two at once (the simulator panics on a
 * second lock: that is a failure here). At every take, every frame of
 * node 1 not yet in the heap is counted; the count-in is a take of its
 * own, after the chunk is in; afterwards exactly the chunk has left the
 * count.
 * Then node 1 of one chunk, and another hart that takes the lock just
 * before this one's first take: that hart gets the chunk (nothing left
 * the ranges before the lock), and this one finds nothing, says false
 * and hands nothing over.
 */
TEST(lab_smp_a_chunk_takes_its_nodes_lock_only)
{
    static const struct sim_machine one_chunk = {
        .name = "node 1 of one chunk",
        .nr_banks = 2,
        .banks = {{0x80000, 0x90000, 0}, {0x90000, 0x91000, 1}},
    };
    unsigned long before;
    unsigned int total = 0;
    bool took;

    sim_boot_deferred(&two_nodes, EAGER, false);
    watch_node = 1, watch_s = 0x90000, watch_e = sim_frametable_mfn();
    before = deferred_pending_pages(1);
    __builtin_memset(takes, 0, sizeof(takes));
    missed = 0;
    watch_in = before - DEFERRED_CHUNK_PAGES, takes_after_in = 0;
    sim_set_lock_hook(count_take);
    REQUIRE(deferred_init_chunk(1), "node 1 handed over no chunk");
    sim_set_lock_hook(NULL);
    for (unsigned int n = 0; n < MAX_NUMNODES; n++) {
        total += takes[n];
        if (n != 1)
            EXPECT(takes[n] == 0,
                   "a chunk of node 1 took node %u's lock %u times", n,
                   takes[n]);
    }
    DIAG("one chunk of node 1: %u lock takes, all node 1's: %s", total,
         takes[1] == total ? "yes" : "no");
    EXPECT_LE(takes[1], 3u);
    EXPECT_EQ(missed, 0);
    EXPECT(takes_after_in > 0, "the chunk was counted in (nr_busy) without "
                               "node 1's lock: no take came after it was in "
                               "the heap");
    EXPECT_EQ(deferred_pending_pages(1), before - DEFERRED_CHUNK_PAGES);
    EXPECT_EQ(count_uninitialised(watch_s, watch_e),
              before - DEFERRED_CHUNK_PAGES);
    EXPECT(!sim_holds_lock(1), "node 1's lock is still held");
    EXPECT_EQ(heap_check(), 0);

    sim_boot_deferred(&one_chunk, EAGER, false);
    before = deferred_pending_pages(1);
    REQUIRE(before != 0 && before <= DEFERRED_CHUNK_PAGES,
            "node 1 should be one chunk, has %lu pending pages", before);
    nested_took = false;
    sim_set_lock_hook(other_hart_first);
    took = deferred_init_chunk(1);
    sim_set_lock_hook(NULL);
    EXPECT(nested_took, "another hart that took node 1's lock before this "
                        "one's first take found no chunk: the chunk left "
                        "the ranges without the lock");
    EXPECT(!took, "a chunk handed over after another hart took node 1's "
                  "last one (is the chunk taken under the lock, and the "
                  "ranges looked at again under it?)");
    EXPECT_EQ(deferred_pending_pages(1), 0);
    for (mfn_t mfn = 0x90000; mfn < sim_frametable_mfn(); mfn++)
        if (mfn_to_page(mfn)->nr_inits != 1) {
            EXPECT(0, "frame 0x%lx went through init_heap_pages %u times", mfn,
                   mfn_to_page(mfn)->nr_inits);
            break;
        }
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 .. 0x90000)   node 1 [0x90000 .. 0x92000)
 * Expect: deferred_grow(1) hands over one chunk per call and says true;
 * once nothing of node 1 is pending or on its way it says false (an
 * allocation that asked would otherwise try node 1 for ever), and so
 * does every node that never had anything pending. An allocation of the
 * whole of node 1 then fails instead of looping.
 */
TEST(lab_smp_grow_says_when_nothing_is_left)
{
    static const struct sim_machine m = {
        .name = "node 1 of two chunks",
        .nr_banks = 2,
        .banks = {{0x80000, 0x90000, 0}, {0x90000, 0x92000, 1}},
    };
    unsigned long left;
    unsigned int grows = 0;
    bool more;

    sim_boot_deferred(&m, EAGER, false);
    left = deferred_pending_pages(1);
    REQUIRE_NE(left, 0);
    while (grows < 8 && deferred_grow(1)) {
        grows++;
        EXPECT_EQ(deferred_pending_pages(1), left > DEFERRED_CHUNK_PAGES
                                                 ? left - DEFERRED_CHUNK_PAGES
                                                 : 0);
        left = deferred_pending_pages(1);
    }
    EXPECT_EQ(grows, 2u);
    EXPECT_EQ(deferred_pending_pages(1), 0);
    more = deferred_grow(1);
    EXPECT(!more, "deferred_grow(1) says true with nothing left");
    EXPECT(!deferred_grow(2), "deferred_grow(2) says true for a node that "
                              "never had anything pending");
    if (!more) /* (else the allocation would loop) */
        EXPECT_EQ(alloc_heap_pages(14, 0, 1, ALLOC_EXACT_NODE), INVALID_MFN);
    EXPECT_EQ(heap_check(), 0);
}

/* ---- threads --------------------------------------------------------------
 */

static volatile int chunk_in_flight; /* the worker has the last chunk */
static volatile int allocator_done;  /* the allocation returned */
static int worker_takes;             /* node 1 lock takes by the worker */
static volatile int worker_done;     /* the worker's call returned */

/*
 * On the worker's thread, before its second take of node 1's lock - the
 * hand-over of the chunk it has just taken off the ranges: say so, and
 * hold on until the allocation on the main thread has returned, or
 * 0.5 s have passed. A correct allocation waits for this chunk, so it
 * returns only after the 0.5 s; one that gives up returns at once. (Each
 * of the grow case's passes costs the reference the whole hold: shorter
 * would make the main thread's window smaller under load, longer would
 * push the binary past the self-test's run cap.)
 */
static void hold_before_hand_over(unsigned int node)
{
    if (node == 1 && ++worker_takes == 2) {
        chunk_in_flight = 1;
        for (int i = 0; i < 500 && !allocator_done; i++)
            usleep(1000);
    }
}

static void *slow_worker(void *p)
{
    (void)p;
    sim_set_this_node(1);
    sim_set_lock_hook(hold_before_hand_over);
    deferred_init_chunk(1);
    sim_set_lock_hook(NULL);
    worker_done = 1;
    return NULL;
}

/*
 * With node 1's last chunk on its way: deferred_grow() for a node that
 * has nothing pending nor on its way, then for node 1 itself.
 */
static void grow_while_on_the_way(void)
{
    bool other = deferred_grow(2), grew;
    unsigned long left;

    grew = deferred_grow(1);
    left = deferred_pending_pages(1);
    allocator_done = 1;
    EXPECT(!other, "deferred_grow(2) says true for a node with nothing "
                   "pending or on its way (while node 1's chunk was)");
    EXPECT(grew, "deferred_grow(1) says false with node 1's last chunk on "
                 "its way: it must wait for it and say true");
    EXPECT(left == 0, "deferred_grow(1) returned with %lu frames of node 1 "
                      "still on their way: it must wait until they are in",
           left);
}

static pthread_t late_worker; /* started from the lock hook */
static int late_started;      /* and so to be joined */

/*
 * Before this thread's first lock take: a worker takes node 1's lock
 * first and gets the chunk; this thread goes on once the worker has it on
 * its way (held in hold_before_hand_over()).
 */
static void worker_takes_it_first(unsigned int node)
{
    (void)node;
    sim_set_lock_hook(NULL);
    late_started = pthread_create(&late_worker, NULL, slow_worker, NULL) == 0;
    while (late_started && !chunk_in_flight && !worker_done)
        sched_yield();
}

/*
 * deferred_grow(1) with node 1's last chunk pending, taken by a worker
 * just before this thread's first lock take: nothing is left to take
 * once this thread has the lock, but the worker's chunk is on its way.
 */
static void grow_as_a_worker_takes_the_chunk(void)
{
    unsigned long left;
    bool grew;

    late_started = 0;
    sim_set_lock_hook(worker_takes_it_first);
    grew = deferred_grow(1);
    sim_set_lock_hook(NULL);
    left = deferred_pending_pages(1);
    allocator_done = 1;
    if (late_started)
        pthread_join(late_worker, NULL);
    EXPECT(chunk_in_flight, "a worker that took node 1's lock before "
                            "deferred_grow(1) did found no chunk to hand over");
    EXPECT(grew, "deferred_grow(1) says false while the worker that took "
                 "node 1's lock just before it has the last chunk on its way");
    EXPECT(left == 0, "deferred_grow(1) returned with %lu frames of node 1 "
                      "on their way (a worker took the last chunk just before "
                      "its lock): it must wait until they are in",
           left);
}

/*
 *   node 0 [0x80000 .. 0x90000)   node 1 [0x90000 .. 0x91000): one chunk
 * A worker takes node 1's only chunk and is held before it hands it over.
 * Expect: an exact-node allocation on node 1 meanwhile finds nothing
 * pending but a chunk on its way, waits for it and gets a frame of node
 * 1; a fallback allocation (on a fresh machine) does not fall back to
 * node 0 for it either; and (a third machine) deferred_grow(1) itself
 * returns only once the chunk is in, and says true, while
 * deferred_grow(2), with nothing of node 2 anywhere, says false at once;
 * the same (a fourth machine) when the worker takes the chunk after
 * deferred_grow(1) saw it pending, just before it takes the lock.
 */
TEST(lab_smp_grow_waits_for_the_last_chunk)
{
    static const struct sim_machine m = {
        .name = "node 1 of one chunk",
        .nr_banks = 2,
        .banks = {{0x80000, 0x90000, 0}, {0x90000, 0x91000, 1}},
    };

    for (unsigned int exact = 0; exact < 4; exact++) {
        pthread_t w;
        mfn_t mfn;

        sim_boot_deferred(&m, EAGER, false);
        REQUIRE(deferred_pending_pages(1) != 0 &&
                    deferred_pending_pages(1) <= DEFERRED_CHUNK_PAGES,
                "node 1 should be one chunk, has %lu pending pages",
                deferred_pending_pages(1));
        chunk_in_flight = allocator_done = worker_done = 0;
        worker_takes = 0;
        if (exact == 3) {
            sim_set_this_node(1);
            grow_as_a_worker_takes_the_chunk();
            sim_set_this_node(0);
            EXPECT_EQ(heap_check(), 0);
            continue;
        }
        pthread_create(&w, NULL, slow_worker, NULL);
        while (!chunk_in_flight && !worker_done)
            sched_yield();
        if (!chunk_in_flight) { /* (no second take: nothing to wait for) */
            pthread_join(w, NULL);
            REQUIRE(0, "the worker's deferred_init_chunk(1) returned without "
                       "taking node 1's lock twice (the chunk, its hand-over)");
        }
        sim_set_this_node(1);
        if (exact == 2) {
            grow_while_on_the_way();
            pthread_join(w, NULL);
            sim_set_this_node(0);
            EXPECT_EQ(heap_check(), 0);
            continue;
        }
        mfn = alloc_heap_pages(0, 0, 1, exact ? ALLOC_EXACT_NODE : 0);
        allocator_done = 1;
        pthread_join(w, NULL);
        sim_set_this_node(0);
        EXPECT(mfn != INVALID_MFN && sim_node_of(mfn) == 1,
               "%s allocation on node 1 with its last chunk on the way got "
               "0x%lx (node %u), not a frame of node 1",
               exact ? "an exact-node" : "a fallback", mfn,
               mfn == INVALID_MFN ? NUMA_NO_NODE : sim_node_of(mfn));
        if (mfn != INVALID_MFN)
            free_heap_pages(mfn, 0);
        EXPECT_EQ(deferred_pending_pages(1), 0);
        EXPECT_EQ(heap_check(), 0);
    }
}

static volatile int run_done;

static void *node1_worker(void *p)
{
    (void)p;
    sim_set_this_node(1);
    deferred_run_node(1);
    run_done = 1;
    return NULL;
}

/*
 * two_nodes. This thread holds node 0's lock while a worker hands over
 * all of node 1.
 * Expect: the worker never waits for node 0's lock (node 1's ranges and
 * counters are node 1's: one lock for every node would make every node's
 * worker wait for every other node); it finishes and node 1 is settled.
 */
TEST(lab_smp_worker_goes_on_while_another_node_is_locked)
{
    unsigned long acq, spins;
    bool waited = false;
    pthread_t w;

    sim_boot_deferred(&two_nodes, EAGER, false);
    REQUIRE(deferred_pending_pages(1) != 0, "nothing of node 1 is pending");
    run_done = 0;
    mm_hook_lock(0);
    pthread_create(&w, NULL, node1_worker, NULL);
    while (!run_done && !waited) {
        waited = sim_lock_waiting(0) > 0;
        sched_yield();
    }
    mm_hook_unlock(0);
    pthread_join(w, NULL);
    EXPECT(!waited, "node 1's worker waited for node 0's lock, held by "
                    "another hart");
    EXPECT_EQ(deferred_pending_pages(1), 0);
    sim_lock_stats(1, &acq, &spins);
    DIAG("node 1 settled: its lock taken %lu times", acq);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * two_nodes. Two workers per node hand over chunks while four allocators
 * (two per node, exact and not) allocate and free, orders 0-4.
 * Expect: no allocation fails, no exact one leaves its node; once all
 * are done nothing is pending, every frame below the frame table went
 * through init_heap_pages() exactly once, the heap is eager init's. The
 * locks' figures are printed (takes, failed tries per take): they depend
 * on timing, so they are not checked.
 */
TEST(lab_smp_workers_race_with_allocations)
{
    sim_race_workers_with_allocators(&two_nodes, EAGER, false, 4);
}
