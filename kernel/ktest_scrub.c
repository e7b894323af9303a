/*
 * kernel/ktest_scrub.c - suite scrub: memory that changes owner reads zero.
 *
 * Through the real boot path and the real harts: frames filled with a
 * pattern and freed read all zero, every byte, when they are allocated
 * again asking for clean memory - with the other harts held busy (so the
 * allocation must zero them itself) and with the idle harts left to zero
 * them in the background first. ALLOC_NO_SCRUB gives the debug build's
 * fresh poison instead. heap_check() runs after every case (its scrub
 * rules: only free frames dirty, each node's dirty counter exact).
 */
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/poison.h"
#include "../mm/scrub.h"
#include "board.h"
#include "ktest.h"
#include "scrub_idle.h"
#include "smp.h"

#define PATTERN 0x5cu  /* what the cases write into their frames */
#define NR_BLOCKS 9    /* blocks per node per case: eight of order 0 ... */
#define BIG_ORDER 3    /* ... and one of order 3 */
#define WAIT_MS 20000  /* for the background, at most */
#define BUSY_DIRTY (1UL << 18) /* dirty pages that mean "still at boot's" */

static unsigned int block_order(unsigned int i)
{
    return i == NR_BLOCKS - 1 ? BIG_ORDER : 0;
}

static uint8_t *frame_bytes(mfn_t mfn)
{
    return (uint8_t *)(uintptr_t)mfn_to_pa(mfn);
}

/* Bytes of the 2^order block at mfn that are not v. */
static unsigned long bytes_not(mfn_t mfn, unsigned int order, uint8_t v)
{
    unsigned long n = 0;

    for (mfn_t m = mfn; m < mfn + ((mfn_t)1 << order); m++) {
        const volatile uint8_t *p = frame_bytes(m);

        for (unsigned int i = 0; i < PAGE_SIZE; i++)
            n += p[i] != v;
    }
    return n;
}

/*
 * Allocate NR_BLOCKS blocks on node (exact node, no scrub), fill them with
 * PATTERN and free them. Returns how many it got (a node may be short).
 */
static unsigned int fill_and_free(unsigned int node, mfn_t *blocks)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < NR_BLOCKS; i++) {
        mfn_t m = alloc_heap_pages(block_order(i), 0, node,
                                   ALLOC_EXACT_NODE | ALLOC_NO_SCRUB);

        blocks[i] = m;
        if (m == INVALID_MFN)
            continue;
        for (mfn_t f = m; f < m + ((mfn_t)1 << block_order(i)); f++)
            __builtin_memset(frame_bytes(f), PATTERN, PAGE_SIZE);
        n++;
    }
    for (unsigned int i = 0; i < NR_BLOCKS; i++)
        if (blocks[i] != INVALID_MFN)
            free_heap_pages(blocks[i], block_order(i));
    return n;
}

/* Allocate the same shapes on node asking for clean memory: bytes not 0. */
static unsigned long alloc_clean_and_count(unsigned int node)
{
    mfn_t got[NR_BLOCKS];
    unsigned long bad = 0;

    for (unsigned int i = 0; i < NR_BLOCKS; i++) {
        got[i] = alloc_heap_pages(block_order(i), 0, node, ALLOC_EXACT_NODE);
        if (got[i] == INVALID_MFN)
            continue;
        bad += bytes_not(got[i], block_order(i), 0);
        for (mfn_t f = got[i]; f < got[i] + ((mfn_t)1 << block_order(i)); f++)
            bad += page_needs_scrub(f) ? 1 : 0;
    }
    for (unsigned int i = 0; i < NR_BLOCKS; i++)
        if (got[i] != INVALID_MFN)
            free_heap_pages(got[i], block_order(i));
    return bad;
}

/* ---- holding the other harts busy ------------------------------------------ */

/* smp_hold_others() / smp_release_others() (kernel/smp.h). */

/* ---- cases --------------------------------------------------------------------- */

/*
 * Every other hart held busy, so no background scrubbing: on each node,
 * frames filled and freed are dirty; allocated clean they read all zero
 * and carry no flag - the allocation zeroed them.
 */
static void allocation_zeroes_what_it_takes(void)
{
    (void)smp_hold_others();
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        mfn_t blocks[NR_BLOCKS];

        if (!heap_node_exists(node) || fill_and_free(node, blocks) == 0)
            continue;
        for (unsigned int i = 0; i < NR_BLOCKS; i++)
            if (blocks[i] != INVALID_MFN)
                EXPECT_TRUE(page_needs_scrub(blocks[i]));
        EXPECT_EQ(alloc_clean_and_count(node), 0u);
    }
    smp_release_others();
}

/*
 * The idle harts zero freed frames in the background: after a kick, the
 * machine's dirty count drains to zero, the freed frames read zero while
 * still free, and allocated clean they still do. Needs a second hart, and
 * a background not still busy with boot's memory (a 16 GiB machine).
 */
static void background_zeroes_freed_frames(void)
{
    mfn_t blocks[MAX_NUMNODES][NR_BLOCKS];
    uint64_t deadline = smp_deadline(WAIT_MS);

    if (smp_nr_online() < 2)
        KTEST_SKIP("one hart: no idle hart to scrub in the background");
    if (scrub_total_dirty_pages() > BUSY_DIRTY)
        KTEST_SKIP("the idle harts are still zeroing boot's free memory");
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (!heap_node_exists(node) || fill_and_free(node, blocks[node]) == 0)
            blocks[node][0] = INVALID_MFN;
    scrub_idle_kick();
    while (scrub_total_dirty_pages() && !smp_past(deadline))
        ;
    REQUIRE_TRUE(scrub_total_dirty_pages() == 0);
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        if (blocks[node][0] == INVALID_MFN)
            continue;
        for (unsigned int i = 0; i < NR_BLOCKS; i++)
            if (blocks[node][i] != INVALID_MFN)
                EXPECT_EQ(bytes_not(blocks[node][i], block_order(i), 0), 0u);
        EXPECT_EQ(alloc_clean_and_count(node), 0u);
    }
}

/* ALLOC_NO_SCRUB is not zeroed: the debug build fills it with fresh poison. */
static void no_scrub_gets_fresh_poison(void)
{
#ifdef NUMBAT_DEBUG
    mfn_t m = alloc_heap_pages(0, 0, NUMA_NO_NODE, ALLOC_NO_SCRUB);

    REQUIRE_TRUE(m != INVALID_MFN);
    EXPECT_EQ(bytes_not(m, 0, POISON_FRESH), 0u);
    EXPECT_FALSE(page_needs_scrub(m));
    free_heap_pages(m, 0);
#else
    KTEST_SKIP("release build: no poisoning");
#endif
}

/* No node counts more dirty frames than it has free ones. */
static void dirty_counts_within_free(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        EXPECT_LE(scrub_dirty_pages(node), heap_free_pages_node(node));
}

static const struct ktest_case scrub_cases[] = {
    KTEST_CASE(allocation_zeroes_what_it_takes),
    KTEST_CASE(background_zeroes_freed_frames),
    KTEST_CASE(no_scrub_gets_fresh_poison),
    KTEST_CASE(dirty_counts_within_free),
};
KTEST_SUITE_AFTER(scrub, scrub_cases, ktest_heap_after_case);
