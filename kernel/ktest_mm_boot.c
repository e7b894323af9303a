/*
 * kernel/ktest_mm_boot.c - suite mm_boot: the heap as boot left it.
 *
 * Boot counted pages on the way (kernel/mm_boot.h): RAM, reserved, frame
 * table, what the boot allocator handed over. These cases check the heap
 * against those numbers, then make small allocations and check that
 * every count comes back.
 */
#include "../mm/deferred.h"
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/node_heap.h"
#include "../mm/numa.h"
#include "board.h"
#include "initrd.h"
#include "ktest.h"
#include "mm_boot.h"

/* A node heap's own structures take a few frames from its first free range. */
#define NODE_META_PAGES_MAX 16

/* kernel/ktest.h: heap_check() after each case of the heap suites. */
int ktest_heap_after_case(void)
{
    if (frametable_end_mfn - frametable_first_mfn > KTEST_HEAP_CHECK_MAX_PAGES)
        return 0;
    return heap_check();
}

static void heap_check_passes(void)
{
    EXPECT_EQ(heap_check(), 0);
}

/*
 * RAM - reserved - frame table = what the boot allocator handed over (the
 * runner has waited for deferred init: all of it is in the heap by now).
 */
static void free_equals_ram_minus_reserved(void)
{
    const struct mm_boot_stats *st = mm_boot_stats();

    EXPECT_EQ(st->ram_pages - st->reserved_pages - st->frametable_pages,
              st->handed_pages);
    EXPECT_EQ(deferred_total_pending(), 0UL);
    EXPECT_LE(mm_boot_meta_pages(), NODE_META_PAGES_MAX * board()->nr_nodes);
    /* Since boot only the initrd's frames came in; tests give back all they
     * take. */
    EXPECT_EQ(mm_boot_accounted_pages(),
              st->handed_pages + initrd_info()->nr_freed);
}

/* The per-zone counts add up to the per-node ones, and those to the total. */
static void counters_add_up(void)
{
    unsigned long total = 0;

    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long in_zones = 0;

        for (unsigned int zone = 0; zone < NR_ZONES; zone++)
            in_zones += heap_free_pages_in(node, zone);
        EXPECT_EQ(in_zones, heap_free_pages_node(node));
        total += heap_free_pages_node(node);
    }
    EXPECT_EQ(total, heap_total_free_pages());
}

static bool node_has_ram(unsigned int node)
{
    for (unsigned int i = 0; i < board()->nr_banks; i++)
        if (board()->banks[i].node == node)
            return true;
    return false;
}

/* An exact-node allocation comes from that node; freeing restores the count. */
static void exact_node_alloc_and_free(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long before = heap_free_pages_node(node);
        mfn_t mfn;

        if (!node_has_ram(node))
            continue;
        mfn = alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE);
        REQUIRE_NE(mfn, INVALID_MFN);
        EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(mfn)), node);
        EXPECT_EQ(page_state(mfn_to_page(mfn)), PAGE_STATE_INUSE);
        EXPECT_EQ(heap_free_pages_node(node), before - 1);
        free_heap_pages(mfn, 0);
        EXPECT_EQ(page_state(mfn_to_page(mfn)), PAGE_STATE_FREE);
        EXPECT_EQ(heap_free_pages_node(node), before);
    }
}

/* A 2 MiB block: aligned to its size, all in one node, given back whole. */
static void large_block_roundtrip(void)
{
    unsigned long before = heap_total_free_pages();
    mfn_t mfn = alloc_heap_pages(9, 0, NUMA_NO_NODE, 0);

    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_TRUE(IS_ALIGNED(mfn, 512));
    EXPECT_EQ(machine_pa_node(board(), mfn_to_pa(mfn)),
              machine_pa_node(board(), mfn_to_pa(mfn + 511)));
    EXPECT_EQ(heap_total_free_pages(), before - 512);
    free_heap_pages(mfn, 9);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

/* MFN 0 is never free, and the lowest-zone allocations never return it. */
static void mfn0_never_handed_out(void)
{
    mfn_t got[32];
    unsigned int n = 0;

    if (mfn_valid(0))
        EXPECT_NE(page_state(mfn_to_page(0)), PAGE_STATE_FREE);
    while (n < ARRAY_SIZE(got)) {
        mfn_t mfn = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);

        if (mfn == INVALID_MFN)
            break;
        EXPECT_NE(mfn, 0u);
        got[n++] = mfn;
    }
    EXPECT_EQ(n, ARRAY_SIZE(got));
    while (n)
        free_heap_pages(got[--n], 0);
}

/*
 * The kernel's fast mm_hook_node_run_end() (one step per bank) must give
 * the same answer as asking mm_hook_mfn_to_node() frame by frame, for
 * runs that start at each end of every bank (the hook's contract: the run
 * starts at a frame of RAM).
 */
static void node_run_end_matches_frame_by_frame(void)
{
    const struct machine *m = board();

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        mfn_t s = pa_to_mfn(m->banks[i].base);
        mfn_t e = pa_to_mfn(m->banks[i].base + m->banks[i].size);
        mfn_t probes[] = {s, s + 1, e - 2, e - 1};

        for (unsigned int p = 0; p < ARRAY_SIZE(probes); p++) {
            mfn_t limit = e + 0x1000; /* past this bank's end */

            EXPECT_EQ(mm_hook_node_run_end(probes[p], limit),
                      numa_node_run_end_by_frame(probes[p], limit));
        }
    }
}

static const struct ktest_case mm_boot_cases[] = {
    KTEST_CASE(heap_check_passes),
    KTEST_CASE(free_equals_ram_minus_reserved),
    KTEST_CASE(counters_add_up),
    KTEST_CASE(exact_node_alloc_and_free),
    KTEST_CASE(large_block_roundtrip),
    KTEST_CASE(mfn0_never_handed_out),
    KTEST_CASE(node_run_end_matches_frame_by_frame),
};
KTEST_SUITE_AFTER(mm_boot, mm_boot_cases, ktest_heap_after_case);
