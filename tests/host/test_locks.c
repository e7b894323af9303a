/*
 * tests/host/test_locks.c - the heap's lock rules (docs/mm.md, "Locking"),
 * enforced and kept.
 *
 * First the checker: each way of breaking a rule (a second node's lock, a
 * lock taken twice, letting go of a lock not held, a lock taken inside
 * heap_check's mm_hook_lock_all()) must panic with a message that names
 * the nodes. Then the heap's own paths, on several harts (threads): a free
 * takes only its block's node lock, so it never waits for another node's;
 * an allocation that falls back walks the nodes one lock at a time, so a
 * hart stuck on node 1's lock holds nothing else meanwhile. Those two are
 * also run with every node sharing one lock (sim_share_one_lock(), what
 * the benchmark compares against): that must fail them, or they could not
 * tell a per-node lock from a global one.
 */
#include <pthread.h>
#include <sched.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/page.h"

#define TURNS_MAX 2000000L /* yields before a hart counts as stuck */

static bool use_one_lock; /* run the threaded tests with one shared lock */

/*
 *   node 0 [0x80000 ........ 0x80400)   node 1 [0x80400 ........ 0x80800)
 */
static const struct sim_machine two_nodes = {
    .name = "two nodes of 1024 frames",
    .nr_banks = 2,
    .banks = {{0x80000, 0x80400, 0}, {0x80400, 0x80800, 1}},
};

/* ---- the checker: every broken rule is a panic that names it ---------- */

/* Expect: taking node 1's lock while holding node 0's names both nodes. */
TEST(second_node_lock_panics)
{
    sim_boot_and_end(&two_nodes);
    mm_hook_lock(0);
    EXPECT_PANIC(mm_hook_lock(1),
                 "node 1's heap lock taken while this hart holds node 0's: "
                 "no path may hold two node locks");
    EXPECT(!sim_holds_lock(0), "the panic did not let go of node 0's lock");
    mm_hook_lock(1);
    EXPECT_PANIC(mm_hook_lock(0), "node 0's heap lock taken while this hart "
                                  "holds node 1's");
}

/* Expect: a lock taken twice by one hart is a panic, not a deadlock. */
TEST(recursive_lock_panics)
{
    sim_boot_and_end(&two_nodes);
    mm_hook_lock(1);
    EXPECT_PANIC(mm_hook_lock(1), "node 1's heap lock taken twice on one hart "
                                  "(the heap locks are not recursive)");
    EXPECT(!sim_holds_lock(1), "the panic did not let go of node 1's lock");
}

/* Expect: letting go of a lock this hart does not hold names that lock. */
TEST(unlock_of_a_lock_not_held_panics)
{
    sim_boot_and_end(&two_nodes);
    EXPECT_PANIC(mm_hook_unlock(0),
                 "this hart does not hold node 0's heap lock");
    mm_hook_lock(0);
    EXPECT_PANIC(mm_hook_unlock(1),
                 "this hart does not hold node 1's heap lock");
    EXPECT_PANIC(mm_hook_unlock_all(), "this hart does not hold them");
}

/*
 * Expect: inside mm_hook_lock_all() (heap_check) no node lock may be taken,
 * and mm_hook_lock_all() itself may not start while a node lock is held.
 */
TEST(lock_inside_lock_all_panics)
{
    sim_boot_and_end(&two_nodes);
    mm_hook_lock_all();
    EXPECT_PANIC(mm_hook_lock(1), "node 1's heap lock taken while this hart "
                                  "holds every node's (inside heap_check)");
    mm_hook_lock(0);
    EXPECT_PANIC(mm_hook_lock_all(), "already holds a heap lock");
}

/* Expect: with one shared lock the rules are the same, by node. */
TEST(one_shared_lock_keeps_the_rules)
{
    sim_boot_and_end(&two_nodes);
    sim_share_one_lock(true);
    mm_hook_lock(0);
    EXPECT_PANIC(mm_hook_lock(1), "no path may hold two node locks");
    mm_hook_lock_all();
    EXPECT_PANIC(mm_hook_lock(0), "inside heap_check");
    EXPECT_EQ(heap_check(), 0);
    mm_hook_lock(1);
    EXPECT_PANIC(sim_share_one_lock(false), "node 0's heap lock is held");
}

/*
 * The heap's paths take their node's lock: a free or an allocation while
 * this hart already holds that node's lock (or another's) breaks a rule.
 * Expect: each panics with the rule it broke.
 */
TEST(heap_paths_take_their_node_lock)
{
    mfn_t a;

    sim_boot_and_end(&two_nodes);
    a = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE);
    REQUIRE(a != INVALID_MFN, "no frame on node 1");
    mm_hook_lock(1);
    EXPECT_PANIC(free_heap_pages(a, 0), "node 1's heap lock taken twice");
    sim_boot_and_end(&two_nodes);
    a = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE);
    mm_hook_lock(0);
    EXPECT_PANIC(free_heap_pages(a, 0),
                 "node 1's heap lock taken while this hart holds node 0's");
    mm_hook_lock(0);
    EXPECT_PANIC(alloc_heap_pages(0, 0, 0, 0),
                 "node 0's heap lock taken twice");
}

/* ---- several harts: who waits for whom ---------------------------------- */

/* One hart's single job: free a block, or allocate one, then say done. */
struct job {
    unsigned int node;  /* the node its hart sits on */
    bool alloc;         /* allocate (order, from `node` with fallback) */
    mfn_t mfn;          /* the block to free, or the one allocated */
    unsigned int order; /* its order */
    int done;           /* set (release) once the call returned */
};

static void *job_main(void *p)
{
    struct job *j = p;

    sim_set_this_node(j->node);
    if (j->alloc)
        j->mfn = alloc_heap_pages(j->order, 0, NUMA_NO_NODE, 0);
    else
        free_heap_pages(j->mfn, j->order);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void start(pthread_t *t, struct job *j)
{
    j->done = 0;
    REQUIRE(pthread_create(t, NULL, job_main, j) == 0, "cannot start a thread");
}

/* Harts spinning on any heap lock now (a shared lock counts per node). */
static int nr_waiting(void)
{
    int n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        n += sim_lock_waiting(node);
    return n;
}

/*
 * Let the other harts run until j has returned (true) or is seen spinning
 * on a heap lock (false): more harts spin than the `waiting` there were
 * before it started. No clock: the answer is what j did, not how fast.
 */
static bool returns_without_waiting(struct job *j, int waiting)
{
    for (long i = 0; i < TURNS_MAX; i++) {
        if (__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
            return true;
        if (nr_waiting() > waiting)
            return false;
        sched_yield();
    }
    return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/*
 * Hold node `held`'s lock while another hart frees [mfn, mfn + 2^order),
 * a block of node `node`. Expect: it returns while the lock is held if
 * node != held, and spins on a lock if node == held; it returns once the
 * lock is let go.
 */
static void free_while_holding(unsigned int held, mfn_t mfn, unsigned int order,
                               unsigned int node)
{
    struct job j = {.node = held, .mfn = mfn, .order = order};
    bool done;
    pthread_t t;

    mm_hook_lock(held);
    start(&t, &j);
    done = returns_without_waiting(&j, 0);
    mm_hook_unlock(held);
    pthread_join(t, NULL);
    if (node == held)
        EXPECT(!done,
               "a free of node %u's block 0x%lx returned while this "
               "hart held node %u's lock",
               node, mfn, held);
    else
        EXPECT(done,
               "a free of node %u's block 0x%lx waited for node %u's "
               "lock (a free takes its block's node lock only)",
               node, mfn, held);
    EXPECT(page_state_is(mfn_to_page(mfn), PAGE_STATE_FREE),
           "0x%lx is %s after its free", mfn,
           page_state_name(page_state(mfn_to_page(mfn))));
}

/*
 *   node 0 [0x80000 ........ 0x80400)   node 1 [0x80400 ........ 0x80800)
 * An order-0 and an order-3 block on each node, taken by exact-node
 * allocations; another hart frees each while this hart holds one lock.
 * Expect: frees of the other node's blocks finish at once, frees of the
 * held node's blocks wait; afterwards the heap is whole.
 */
static void frees_never_wait_for_another_node(void)
{
    unsigned long before;
    mfn_t b[2][2];

    sim_boot_and_end(&two_nodes);
    sim_share_one_lock(use_one_lock);
    before = heap_total_free_pages();
    for (unsigned int node = 0; node < 2; node++)
        for (unsigned int k = 0; k < 2; k++) {
            b[node][k] = alloc_heap_pages(k * 3, 0, node, ALLOC_EXACT_NODE);
            REQUIRE(b[node][k] != INVALID_MFN, "no order-%u block on node %u",
                    k * 3, node);
        }
    free_while_holding(1, b[0][0], 0, 0);
    free_while_holding(1, b[1][0], 0, 1);
    free_while_holding(0, b[1][1], 3, 1);
    free_while_holding(0, b[0][1], 3, 0);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

TEST(frees_never_wait_for_another_nodes_lock)
{
    frees_never_wait_for_another_node();
}

/*
 *   node 0 [0x80000 .. 0x80400)  node 1 [0x80400 .. 0x80800)
 *   node 2 [0x80800 .. 0x80c00)  distances from node 0: 1 = 20, 2 = 30
 */
static const struct sim_machine three_nodes = {
    .name = "three nodes in a row",
    .nr_banks = 3,
    .banks = {{0x80000, 0x80400, 0},
              {0x80400, 0x80800, 1},
              {0x80800, 0x80c00, 2}},
    .distance = {{10, 20, 30}, {20, 10, 20}, {30, 20, 10}},
};

/* Take every block node 0 has (exact node, largest first); how many. */
static unsigned int drain_node0(mfn_t *got, unsigned int *orders,
                                unsigned int max)
{
    unsigned int n = 0;

    for (int order = MAX_ORDER; order >= 0; order--)
        while (n < max) {
            got[n] =
                alloc_heap_pages((unsigned int)order, 0, 0, ALLOC_EXACT_NODE);
            if (got[n] == INVALID_MFN)
                break;
            orders[n++] = (unsigned int)order;
        }
    return n;
}

/*
 * Node 0 is empty (all its blocks taken); this hart holds node 1's lock.
 * A hart on node 0 allocates with fallback: nearest first, so it must pass
 * node 0 and wait at node 1. While it waits, it must hold nothing: node
 * 0's lock is free, and a third hart's free into node 0 finishes. Node 2
 * (farther) is never touched. Once node 1 is let go, the allocation gets
 * a frame of node 1.
 * Expect all of that; afterwards the heap is whole.
 */
static void fallback_one_lock_at_a_time(void)
{
    mfn_t got[64];
    unsigned int orders[64], n;
    struct job y = {.node = 0, .alloc = true, .order = 0};
    struct job z = {.node = 0};
    unsigned long before, acq2, acq2_after, spins;
    pthread_t ty, tz;

    sim_boot_and_end(&three_nodes);
    sim_share_one_lock(use_one_lock);
    before = heap_total_free_pages();
    n = drain_node0(got, orders, 64);
    REQUIRE(n > 1 && heap_free_pages_node(0) == 0, "node 0 not drained");
    sim_lock_stats(2, &acq2, &spins);
    mm_hook_lock(1);
    start(&ty, &y);
    returns_without_waiting(&y, 0);
    EXPECT(sim_lock_waiting(1) == 1,
           "the allocation on empty node 0 never waited for node 1's lock "
           "(the nearest fallback); it %s",
           y.done ? "returned" : "is stuck elsewhere");
    EXPECT(sim_lock_owner(0) == 0,
           "node 0's lock is held while the allocation waits at node 1 (a "
           "walk holds one node lock at a time)");
    z.mfn = got[--n];
    z.order = orders[n];
    start(&tz, &z);
    EXPECT(returns_without_waiting(&z, nr_waiting()),
           "a free into node 0 waited while another hart's allocation waited "
           "at node 1");
    mm_hook_unlock(1);
    pthread_join(ty, NULL);
    pthread_join(tz, NULL);
    EXPECT(y.mfn >= 0x80400 && y.mfn < 0x80800,
           "the fallback from empty node 0 gave 0x%lx, not a frame of node "
           "1 (the nearest)",
           y.mfn);
    sim_lock_stats(2, &acq2_after, &spins);
    EXPECT_EQ(acq2_after, acq2); /* node 2 is farther: never asked */
    if (y.mfn != INVALID_MFN)
        free_heap_pages(y.mfn, 0);
    while (n--)
        free_heap_pages(got[n], orders[n]);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

TEST(fallback_holds_one_lock_at_a_time)
{
    fallback_one_lock_at_a_time();
}

/* ---- the tests above can tell a per-node lock from a global one ----- */

/* In the child process of harness_run_isolated() only. */
static void with_one_lock(void (*fn)(void))
{
    use_one_lock = true;
    fn();
}

static void frees_with_one_lock(void)
{
    with_one_lock(frees_never_wait_for_another_node);
}

static void fallback_with_one_lock(void)
{
    with_one_lock(fallback_one_lock_at_a_time);
}

/*
 * Run fn in a child process with every node sharing one lock (a global
 * heap lock). Expect: it fails, saying which wait it saw.
 */
static void fails_with_one_lock(void (*fn)(void), const char *says)
{
    char out[8192];

    harness_run_isolated(fn, out, sizeof(out));
    EXPECT(strstr(out, says) != NULL,
           "with one lock shared by every node the test did not fail with "
           "\"%s\"; it printed:\n%s",
           says, out);
}

TEST(one_shared_lock_fails_the_free_test)
{
    fails_with_one_lock(frees_with_one_lock, "waited for node 1's lock");
}

TEST(one_shared_lock_fails_the_fallback_test)
{
    fails_with_one_lock(fallback_with_one_lock,
                        "a free into node 0 waited while another hart's "
                        "allocation waited at node 1");
}
