/*
 * kernel/ktest_deferred.c - suite deferred: deferred initialisation on the
 * real machine (mm/deferred.c, kernel/mm_boot.c).
 *
 * The runner runs this suite first, before it waits for deferred init to
 * settle (KTEST_SUITE_DEFERRED), and with ktest= the kernel does not start
 * the worker harts at boot: so the cases see the heap exactly as the end
 * of the boot allocator left it, then start the workers themselves and
 * allocate while they run. The cases build on each other, in order:
 *
 *   1. what is pending: every other node's RAM, none of it in a heap yet;
 *      each node's part of the frame table on that node, and the sections
 *      of pending frames not ready yet (mm/frametable.h);
 *   2. an exact-node allocation on such a node grows it by one chunk;
 *   3. the workers start; allocations on every node go on meanwhile;
 *   4. settle: nothing pending, the totals exact, heap_check() clean.
 *
 * With deferred_init=off (or on a machine of one hart, where boot inits
 * eagerly) cases 1-3 skip and case 4 checks the eager totals.
 */
#include "../mm/deferred.h"
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/node_heap.h"
#include "board.h"
#include "initrd.h"
#include "ktest.h"
#include "mm_boot.h"
#include "smp.h"

static bool deferred_active(void)
{
    return mm_boot_stats()->pending_pages != 0;
}

/* Cases 1 and 2 need the heap as boot left it: not after `test` at the
 * monitor's prompt, where the workers started at boot. */
#define SKIP_UNLESS_UNTOUCHED()                                                \
    do {                                                                       \
        if (!deferred_active())                                                \
            KTEST_SKIP("nothing deferred (deferred_init=off or one hart)");    \
        if (mm_boot_deferred_started())                                        \
            KTEST_SKIP("the hand-over has started (the monitor's `test`?)");   \
    } while (0)

/* RAM frames of node `node` per the device tree. */
static unsigned long node_ram_pages(unsigned int node)
{
    unsigned long n = 0;

    for (unsigned int i = 0; i < board()->nr_banks; i++)
        if (board()->banks[i].node == node)
            n += board()->banks[i].size / PAGE_SIZE;
    return n;
}

/* A node other than the boot hart's that has RAM, or NUMA_NO_NODE. */
static unsigned int other_ram_node(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (node != smp_this_node() && node_ram_pages(node))
            return node;
    return NUMA_NO_NODE;
}

/* Frames carved for the node heaps that exist (none from the pool). */
static unsigned long carved_pages(void)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (node_heap_get(node))
            n += node_heap_get(node)->meta_pages;
    return n;
}

/*
 * Nothing has run yet: the pending frames are exactly what boot recorded,
 * no other node has a heap, and heap_check() (which checks each pending
 * frame is uninitialised) passes.
 */
static void pending_as_boot_left_it(void)
{
    const struct mm_boot_stats *st = mm_boot_stats();
    unsigned int other = other_ram_node();

    SKIP_UNLESS_UNTOUCHED();
    EXPECT_EQ(deferred_total_pending(), st->pending_pages);
    /*
     * badpages= frames of the eager part were parked, not handed over; the
     * eager part carved its node's heap - unless the boot hart's node has
     * no RAM (memless: OpenSBI may boot on hart 3, of node 2), when boot
     * ends with no heap at all and nothing carved.
     */
    EXPECT_EQ(st->heap_free_pages + st->pending_pages + mm_boot_parked_pages(),
              st->handed_pages - carved_pages());
    EXPECT_LE(heap_free_pages_node(smp_this_node()),
              DEFERRED_EAGER_PAGES + initrd_info()->nr_freed);
    if (other != NUMA_NO_NODE && initrd_info()->nr_freed == 0) {
        EXPECT_FALSE(heap_node_exists(other));
        EXPECT_NE(deferred_pending_pages(other), 0UL);
    }
    EXPECT_EQ(heap_check(), 0);
}

/* Each part of the frame table lies on the node whose sections it holds. */
static void frametable_parts_on_their_nodes(void)
{
    for (unsigned int i = 0; i < frametable_nr_parts(); i++) {
        mfn_t mfn;
        unsigned long nr;
        unsigned int node;

        frametable_part(i, &mfn, &nr, &node);
        EXPECT_EQ(mm_hook_mfn_to_node(mfn), node);
        EXPECT_EQ(mm_hook_mfn_to_node(mfn + nr - 1), node);
    }
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        bool found = false;

        for (unsigned int i = 0; i < frametable_nr_parts(); i++) {
            mfn_t mfn;
            unsigned long nr;
            unsigned int owner;

            frametable_part(i, &mfn, &nr, &owner);
            found |= owner == node;
        }
        EXPECT_EQ(found, node_ram_pages(node) != 0);
    }
}

/* The frame in the middle of node's largest bank. */
static mfn_t node_middle_frame(unsigned int node)
{
    const struct mem_bank *best = NULL;

    for (unsigned int i = 0; i < board()->nr_banks; i++)
        if (board()->banks[i].node == node &&
            (!best || board()->banks[i].size > best->size))
            best = &board()->banks[i];
    return pa_to_mfn(best->base + best->size / 2);
}

/*
 * An upper bound on the sections boot had to make ready: those of the
 * eager part, of every part of the table, of every reserved range, one
 * more for each bank edge (a section that straddles or holds a hole).
 */
static unsigned long boot_sections_bound(void)
{
    unsigned long n = DEFERRED_EAGER_PAGES / FRAMETABLE_SECTION_PAGES + 2;

    for (unsigned int i = 0; i < frametable_nr_parts(); i++) {
        mfn_t mfn;
        unsigned long nr;
        unsigned int node;

        frametable_part(i, &mfn, &nr, &node);
        n += nr / FRAMETABLE_SECTION_PAGES + 2;
    }
    for (unsigned int i = 0; i < board()->nr_reserved; i++)
        n += board()->reserved[i].size / PAGE_SIZE / FRAMETABLE_SECTION_PAGES +
             2;
    return n + 2 * board()->nr_banks;
}

/*
 * Boot zeroed only the sections it had to; the rest wait for the workers,
 * not ready: a frame in the middle of a node that nobody has handed over
 * reads the zero section, all zero (uninitialised).
 */
static void pending_sections_not_ready(void)
{
    const struct mm_boot_stats *st = mm_boot_stats();
    unsigned int node = other_ram_node();
    const struct page_info *pg;
    mfn_t mfn;

    SKIP_UNLESS_UNTOUCHED();
    EXPECT_EQ(st->sections_zeroed + st->sections_waiting,
              frametable_nr_sections());
    EXPECT_LE(st->sections_zeroed, boot_sections_bound());
    EXPECT_NE(st->sections_waiting, 0UL);
    if (node == NUMA_NO_NODE)
        node = smp_this_node();
    mfn = node_middle_frame(node);
    pg = mfn_to_page(mfn);
    EXPECT_FALSE(frametable_ready(mfn));
    EXPECT_TRUE(frametable_in_zero_section((uintptr_t)pg));
    EXPECT_EQ(page_count_info(pg), 0ULL);
    EXPECT_EQ(pg->nr_inits, 0U);
}

/* No worker runs yet: an exact-node allocation hands over a chunk itself. */
static void allocation_grows_its_node(void)
{
    unsigned int node = other_ram_node();
    unsigned long before;
    mfn_t mfn;

    SKIP_UNLESS_UNTOUCHED();
    if (node == NUMA_NO_NODE)
        KTEST_SKIP("no other node with pending frames");
    before = deferred_pending_pages(node);
    mfn = alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(mfn)), node);
    EXPECT_LT(deferred_pending_pages(node), before);
    EXPECT_GE(deferred_pending_pages(node), before - DEFERRED_CHUNK_PAGES);
    free_heap_pages(mfn, 0);
}

/* With the workers running, every node still serves its own allocations. */
static void allocations_while_workers_run(void)
{
    mfn_t got[MAX_NUMNODES][2];

    if (!deferred_active())
        KTEST_SKIP("nothing deferred (deferred_init=off or one hart)");
    mm_boot_start_deferred();
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        got[node][0] = got[node][1] = INVALID_MFN;
        if (!node_ram_pages(node))
            continue;
        got[node][0] = alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE);
        got[node][1] = alloc_heap_pages(9, 0, node, ALLOC_EXACT_NODE);
        EXPECT_NE(got[node][0], INVALID_MFN);
        EXPECT_NE(got[node][1], INVALID_MFN);
        for (unsigned int i = 0; i < 2; i++)
            if (got[node][i] != INVALID_MFN)
                EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(got[node][i])),
                          node);
    }
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        if (got[node][0] != INVALID_MFN)
            free_heap_pages(got[node][0], 0);
        if (got[node][1] != INVALID_MFN)
            free_heap_pages(got[node][1], 9);
    }
}

/*
 * After settle every frame the boot allocator had free is in the heap or
 * holds a node heap's structures (and the initrd's freed frames came in
 * too): exactly, on every node.
 */
static void totals_exact_after_settle(void)
{
    const struct mm_boot_stats *st = mm_boot_stats();

    mm_boot_settle();
    EXPECT_EQ(deferred_total_pending(), 0UL);
    EXPECT_EQ(frametable_nr_ready(), frametable_nr_sections());
    EXPECT_EQ(mm_boot_accounted_pages(),
              st->handed_pages + initrd_info()->nr_freed);
    EXPECT_EQ(heap_check(), 0);
}

static const struct ktest_case deferred_cases[] = {
    KTEST_CASE(pending_as_boot_left_it),
    KTEST_CASE(frametable_parts_on_their_nodes),
    KTEST_CASE(pending_sections_not_ready),
    KTEST_CASE(allocation_grows_its_node),
    KTEST_CASE(allocations_while_workers_run),
    KTEST_CASE(totals_exact_after_settle),
};
KTEST_SUITE_DEFERRED(deferred, deferred_cases, ktest_heap_after_case);
