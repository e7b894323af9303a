/*
 * kernel/ktest_locks.c - suite mm_locks: which heap lock each path takes.
 *
 * Every node heap has its own lock (docs/mm.md, "Locking"), and every
 * spinlock counts the times it was taken (kernel/spinlock.h). So the
 * counts show which lock a path took: an exact-node allocation and its
 * free on node n take n's lock once each and no other node's; a fallback
 * allocation from an empty node takes the empty node's lock, then the
 * next one's. With heap_lock=shared the one lock counts them all.
 *
 * The other harts are idle while these cases run, so no other count
 * moves. (With deferred initialisation the suite must first wait until no
 * frame is pending: a background worker takes node locks too.)
 */
#include "../mm/heap.h"
#include "board.h"
#include "ktest.h"
#include "mm_boot.h"
#include "mm_hooks.h"
#include "smp.h"

#define EMPTY_MAX_PAGES (1UL << 16) /* a node emptied by hand: 256 MiB */

/* Every node's lock acquisitions now. */
static void snapshot(uint64_t *acq)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        uint64_t spins;

        heap_lock_stats(node, &acq[node], &spins);
    }
}

/*
 * How much node's count rose since `before`, per node: an alloc+free
 * pair on node n is 2 on n and 0 elsewhere (2 on every node with one
 * shared lock, which every node reports).
 */
static void expect_counted_on(const uint64_t *before, unsigned int node,
                              uint64_t times)
{
    uint64_t after[MAX_NUMNODES];

    snapshot(after);
    for (unsigned int n = 0; n < board()->nr_nodes; n++) {
        uint64_t want = n == node || heap_lock_shared() ? times : 0;

        EXPECT_EQ(after[n] - before[n], want);
    }
}

/*
 * Alloc and free one frame on each node with a heap, exact node, with the
 * other harts held (no background scrubbing takes a lock meanwhile).
 */
static void a_node_lock_counts_its_own_node(void)
{
    unsigned int tried = 0;

    (void)smp_hold_others();
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        uint64_t before[MAX_NUMNODES];
        mfn_t mfn;

        if (!heap_node_exists(node))
            continue;
        snapshot(before);
        mfn = alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE);
        EXPECT_NE(mfn, INVALID_MFN);
        if (mfn == INVALID_MFN)
            break;
        expect_counted_on(before, node, 1);
        snapshot(before);
        free_heap_pages(mfn, 0);
        expect_counted_on(before, node, 1);
        tried++;
    }
    smp_release_others();
    EXPECT_LT(0u, tried);
}

/*
 * Empty the boot hart's node (exact-node allocations, largest first),
 * then allocate one frame with the fallback. Expect: the empty node's
 * lock counts one take (it looked and found nothing), the node the frame
 * came from one take, no other node any.
 */
static void a_fallback_takes_one_node_lock_after_another(void)
{
    static mfn_t got[256];
    static unsigned int orders[256];
    unsigned int here = smp_this_node(), n = 0, from;
    uint64_t before[MAX_NUMNODES], after[MAX_NUMNODES];
    mfn_t mfn;

    if (board()->nr_nodes < 2 || !heap_node_exists(here))
        KTEST_SKIP("needs two nodes and a heap on the boot hart's node");
    if (heap_free_pages_node(here) > EMPTY_MAX_PAGES)
        KTEST_SKIP("the boot hart's node is too big to empty (debug builds "
                   "poison every frame allocated)");
    for (int order = MAX_ORDER; order >= 0 && n < 256; order--)
        while (n < 256 &&
               (got[n] = alloc_heap_pages((unsigned int)order, 0, here,
                                          ALLOC_EXACT_NODE)) != INVALID_MFN)
            orders[n++] = (unsigned int)order;
    EXPECT_EQ(heap_free_pages_node(here), 0ul);
    (void)smp_hold_others(); /* no background scrub takes a lock meanwhile */
    snapshot(before);
    mfn = alloc_heap_pages(0, 0, here, 0);
    snapshot(after);
    smp_release_others();
    EXPECT_NE(mfn, INVALID_MFN);
    from = machine_pa_node(board(), mfn_to_pa(mfn));
    EXPECT_NE(from, here);
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        uint64_t want = node == here || node == from ? 1 : 0;

        if (heap_lock_shared())
            want = 2;
        EXPECT_EQ(after[node] - before[node], want);
    }
    if (mfn != INVALID_MFN)
        free_heap_pages(mfn, 0);
    while (n--)
        free_heap_pages(got[n], orders[n]);
}

static const struct ktest_case mm_locks_cases[] = {
    KTEST_CASE(a_node_lock_counts_its_own_node),
    KTEST_CASE(a_fallback_takes_one_node_lock_after_another),
};
KTEST_SUITE_AFTER(mm_locks, mm_locks_cases, ktest_heap_after_case);
