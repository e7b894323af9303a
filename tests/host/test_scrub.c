/*
 * tests/host/test_scrub.c - scrubbing (mm/scrub.c) on simulated machines: a
 * frame freed with data reads all zero when it is allocated clean,
 * ALLOC_NO_SCRUB skips the zeroing, buddies of mixed scrub state merge and
 * remember which frames are dirty, the background scrubber, the exact
 * per-node dirty counters, the scrub= policies for init_heap_pages(),
 * heap_check()'s scrub rules, and a background scrubber racing an
 * allocating hart.
 *
 * Each test draws its machine. Frame numbers are hexadecimal MFNs.
 */
#include <pthread.h>
#include <sched.h>

#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"
#include "mm/poison.h"
#include "mm/scrub.h"

#define PATTERN 0x5cu /* what a test's "owner" writes into its frames */

/*
 *   node 0: [0x80000 ............................. 0x80400)
 *                                          frame table ^^ (top 8 frames)
 */
static const struct sim_machine one_node = {
    .name = "one node, 1024 frames",
    .nr_banks = 1,
    .banks = {{0x80000, 0x80400, 0}},
};

/*
 *   node 0: [0x80000 .. 0x80400)        node 1: [0x90000 .. 0x90400)
 */
static const struct sim_machine two_nodes = {
    .name = "two nodes, 1024 frames each",
    .nr_banks = 2,
    .banks = {{0x80000, 0x80400, 0}, {0x90000, 0x90400, 1}},
};

/* Boot `m` with init_heap_pages() following policy p. */
static void boot_with(const struct sim_machine *m, enum scrub_policy p)
{
    scrub_set_policy(p);
    sim_boot_and_end(m);
    scrub_set_policy(SCRUB_IDLE);
}

/* Fill 2^order frames at mfn with byte v. */
static void fill(mfn_t mfn, unsigned int order, unsigned char v)
{
    for (mfn_t m = mfn; m < mfn + ((mfn_t)1 << order); m++)
        memset(sim_frame_va(m), v, PAGE_SIZE);
}

/* How many bytes of the 2^order frames at mfn differ from v. */
static unsigned long bytes_not(mfn_t mfn, unsigned int order, unsigned char v)
{
    unsigned long n = 0;

    for (mfn_t m = mfn; m < mfn + ((mfn_t)1 << order); m++) {
        const unsigned char *p = sim_frame_va(m);

        for (size_t i = 0; i < PAGE_SIZE; i++)
            n += p[i] != v;
    }
    return n;
}

/* Free frames of node that carry PGC_NEED_SCRUB, counted frame by frame. */
static unsigned long walk_dirty(unsigned int node)
{
    unsigned long n = 0;

    for (mfn_t m = frametable_first(); m < frametable_end(); m++) {
        const struct page_info *pg = mfn_to_page(m);

        n += page_state_is(pg, PAGE_STATE_FREE) &&
             page_has_flag(pg, PGC_NEED_SCRUB) && pg->node == node;
    }
    return n;
}

/* Expect: a frame filled with a pattern and freed is dirty (flag, count);
 * allocated again asking for clean memory it is the same frame, it reads
 * all zero, and it is no longer counted. */
TEST(freed_frame_reads_zero_when_allocated_clean)
{
    mfn_t m, again;

    boot_with(&one_node, SCRUB_OFF);
    EXPECT_EQ(scrub_dirty_pages(0), 0);
    m = alloc_heap_pages(0, 0, 0, ALLOC_NO_SCRUB);
    REQUIRE_NE(m, INVALID_MFN);
    fill(m, 0, PATTERN);
    free_heap_pages(m, 0);
    EXPECT(page_needs_scrub(m), "freed frame 0x%lx not marked dirty", m);
    EXPECT_EQ(scrub_dirty_pages(0), 1);
    EXPECT_EQ(heap_check(), 0);
    again = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE_EQ(again, m);
    EXPECT_EQ(bytes_not(m, 0, 0), 0);
    EXPECT(!page_needs_scrub(m), "allocated frame still marked dirty");
    EXPECT_EQ(scrub_dirty_pages(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: ALLOC_NO_SCRUB hands the dirty frame out unzeroed - POISON_FRESH
 * in this debug build, not zeros - and still takes it out of the count. */
TEST(no_scrub_flag_skips_the_scrub)
{
    mfn_t m;

    boot_with(&one_node, SCRUB_OFF);
    m = alloc_heap_pages(0, 0, 0, ALLOC_NO_SCRUB);
    fill(m, 0, PATTERN);
    free_heap_pages(m, 0);
    REQUIRE_EQ(alloc_heap_pages(0, 0, 0, ALLOC_NO_SCRUB), m);
    EXPECT_EQ(bytes_not(m, 0, POISON_FRESH), 0);
    EXPECT(!page_needs_scrub(m), "allocated frame still marked dirty");
    EXPECT_EQ(scrub_dirty_pages(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * An order-2 block x, given back in halves:
 *   [x+2, x+4) freed and scrubbed by the background: clean
 *   [x,   x+2) freed with data:                      dirty
 * Expect: the halves merge (with the rest of the heap) whatever their
 * state; the merged block keeps x, x+1 dirty and x+2, x+3 clean; a clean
 * order-2 allocation gets x back reading all zero; an order-1 allocation
 * split from a mixed block keeps the other half's flags.
 */
TEST(merged_blocks_keep_mixed_scrub_state)
{
    mfn_t x;

    boot_with(&one_node, SCRUB_OFF);
    x = alloc_heap_pages(2, 0, 0, ALLOC_NO_SCRUB);
    REQUIRE_NE(x, INVALID_MFN);
    fill(x, 2, PATTERN);
    free_heap_pages(x + 2, 1);
    EXPECT_EQ(scrub_all(), 2);
    free_heap_pages(x, 1);
    EXPECT(page_needs_scrub(x) && page_needs_scrub(x + 1), "x dirty");
    EXPECT(!page_needs_scrub(x + 2) && !page_needs_scrub(x + 3), "x+2 clean");
    EXPECT_GE(mfn_to_page(x)->order, 2); /* merged: x heads a larger block */
    EXPECT_EQ(scrub_dirty_pages(0), 2);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(bytes_not(x + 2, 1, 0), 0); /* the background zeroed them */
    EXPECT_EQ(bytes_not(x, 1, POISON_FREED), 0); /* these: not yet */

    REQUIRE_EQ(alloc_heap_pages(1, 0, 0, ALLOC_NO_SCRUB), x); /* a split */
    EXPECT(!page_needs_scrub(x + 2) && !page_needs_scrub(x + 3),
           "the other half changed state in the split");
    fill(x, 1, PATTERN);
    free_heap_pages(x, 1);
    REQUIRE_EQ(alloc_heap_pages(2, 0, 0, 0), x);
    EXPECT_EQ(bytes_not(x, 2, 0), 0);
    EXPECT_EQ(scrub_dirty_pages(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: under scrub=idle every frame init_heap_pages() handed over is
 * dirty; the background step zeroes at most a chunk at a time, with the
 * frames on their lists all along, until none is left; then a frame freed
 * with data is zeroed by the background before the allocation takes it. */
TEST(background_scrub_then_alloc)
{
    unsigned long free_pages, zeroed = 0, steps = 0, got;
    mfn_t m;

    boot_with(&one_node, SCRUB_IDLE);
    free_pages = heap_total_free_pages();
    EXPECT_EQ(scrub_dirty_pages(0), free_pages);
    while (scrub_dirty_pages(0) && steps < 10 * free_pages) {
        got = scrub_some(0);
        EXPECT_LE(got, SCRUB_CHUNK_PAGES);
        EXPECT_EQ(heap_total_free_pages(), free_pages);
        zeroed += got;
        steps++;
    }
    EXPECT_EQ(zeroed, free_pages);
    EXPECT_EQ(scrub_dirty_pages(0), 0);
    EXPECT_EQ(scrub_some(0), 0);
    EXPECT_EQ(heap_check(), 0);

    m = alloc_heap_pages(0, 0, 0, ALLOC_NO_SCRUB);
    fill(m, 0, PATTERN);
    free_heap_pages(m, 0);
    EXPECT_EQ(scrub_some(0), 1);
    EXPECT(!page_needs_scrub(m), "background left the frame dirty");
    EXPECT_EQ(bytes_not(m, 0, 0), 0);
    REQUIRE_EQ(alloc_heap_pages(0, 0, 0, 0), m);
    EXPECT_EQ(bytes_not(m, 0, 0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: each node's counter equals its dirty free frames, frame by
 * frame, after frees, clean and unscrubbed allocations, background steps
 * and a fallback allocation from the other node. */
TEST(dirty_counters_are_exact_per_node)
{
    mfn_t a[8];

    boot_with(&two_nodes, SCRUB_OFF);
    for (int i = 0; i < 8; i++) {
        a[i] = alloc_heap_pages((unsigned int)i % 3, 0, (unsigned int)i % 2,
                                ALLOC_EXACT_NODE | ALLOC_NO_SCRUB);
        REQUIRE_NE(a[i], INVALID_MFN);
    }
    for (int i = 0; i < 8; i += 2)
        free_heap_pages(a[i], (unsigned int)i % 3);
    EXPECT_EQ(scrub_dirty_pages(0), 1 + 4 + 2 + 1);
    EXPECT_EQ(scrub_dirty_pages(1), 0);
    for (int i = 1; i < 8; i += 2)
        free_heap_pages(a[i], (unsigned int)i % 3);
    for (unsigned int node = 0; node < 2; node++)
        EXPECT_EQ(scrub_dirty_pages(node), walk_dirty(node));
    EXPECT_EQ(scrub_total_dirty_pages(), (1 + 4 + 2 + 1) + (2 + 1 + 4 + 2));
    scrub_some(1);
    EXPECT_EQ(scrub_dirty_pages(1), walk_dirty(1));
    a[0] = alloc_heap_pages(2, 0, 0, 0);
    EXPECT_EQ(scrub_dirty_pages(0), walk_dirty(0));
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 .. 0x80400); a 4-frame boot allocation b, freed later.
 * Expect: scrub=off hands init frames over clean, scrub=idle and scrub=on
 * dirty. A boot allocation freed through free_heap_pages() enters the heap
 * through init_heap_pages() too, so it follows the same policy: dirty
 * unless scrub=off (docs/mm.md says so: off trusts every such frame).
 */
TEST(init_policy_and_freed_boot_allocations)
{
    static const enum scrub_policy policies[] = {SCRUB_OFF, SCRUB_IDLE,
                                                 SCRUB_ON};

    for (unsigned int i = 0; i < 3; i++) {
        unsigned long dirty;
        mfn_t b;

        scrub_set_policy(policies[i]);
        sim_boot(&one_node);
        b = alloc_boot_pages(4, 4);
        end_boot_allocator();
        dirty = scrub_dirty_pages(0);
        EXPECT_EQ(dirty,
                  policies[i] == SCRUB_OFF ? 0 : heap_total_free_pages());
        free_heap_pages(b, 2);
        EXPECT_EQ(scrub_dirty_pages(0),
                  dirty + (policies[i] == SCRUB_OFF ? 0 : 4));
        for (mfn_t m = b; m < b + 4; m++)
            EXPECT(page_needs_scrub(m) == (policies[i] != SCRUB_OFF),
                   "scrub=%s: freed boot frame 0x%lx",
                   scrub_policy_name(policies[i]), m);
        EXPECT_EQ(heap_check(), 0);
    }
    scrub_set_policy(SCRUB_IDLE);
}

/* A free frame that is not marked dirty. */
static mfn_t a_clean_free_frame(void)
{
    for (mfn_t m = frametable_first(); m < frametable_end(); m++)
        if (page_state_is(mfn_to_page(m), PAGE_STATE_FREE) &&
            !page_needs_scrub(m))
            return m;
    return INVALID_MFN;
}

/* Expect: heap_check() reports an in-use frame marked dirty, and a free
 * frame whose flag disagrees with its node's counter either way. */
TEST(heap_check_catches_wrong_scrub_marks)
{
    mfn_t m, c;

    boot_with(&one_node, SCRUB_OFF);
    sim_set_quiet(true);
    m = alloc_heap_pages(0, 0, 0, 0);
    page_set_flags(mfn_to_page(m), PGC_NEED_SCRUB);
    EXPECT_EQ(heap_check(), -EINVAL);
    EXPECT(strstr(sim_last_printk(), "needing a scrub but not free"),
           "heap_check said: %s", sim_last_printk());
    page_clear_flags(mfn_to_page(m), PGC_NEED_SCRUB);
    EXPECT_EQ(heap_check(), 0);

    free_heap_pages(m, 0); /* dirty, counted */
    page_clear_flags(mfn_to_page(m), PGC_NEED_SCRUB); /* wrongly clean */
    EXPECT_EQ(heap_check(), -EINVAL);
    EXPECT(strstr(sim_last_printk(), "0 free frames need a scrub, the dirty "
                                     "counter says 1"),
           "heap_check said: %s", sim_last_printk());
    page_set_flags(mfn_to_page(m), PGC_NEED_SCRUB);
    c = a_clean_free_frame();
    REQUIRE_NE(c, INVALID_MFN);
    page_set_flags(mfn_to_page(c), PGC_NEED_SCRUB); /* wrongly dirty */
    EXPECT_EQ(heap_check(), -EINVAL);
    EXPECT(strstr(sim_last_printk(), "2 free frames need a scrub, the dirty "
                                     "counter says 1"),
           "heap_check said: %s", sim_last_printk());
    sim_set_quiet(false);
}

/* Expect: a frame marked clean that holds data - here the freed-page
 * poison, its flag wrongly cleared through the counter's own path - is a
 * panic when it is handed out clean (the debug build's check; heap_check
 * cannot see it without reading every free frame). */
TEST(clean_frame_with_data_is_caught_at_allocation)
{
    mfn_t m;

    boot_with(&one_node, SCRUB_OFF);
    m = alloc_heap_pages(0, 0, 0, 0);
    free_heap_pages(m, 0); /* poisoned with POISON_FREED, dirty */
    scrub_forget_frames(m, m + 1, 0);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_PANIC(alloc_heap_pages(0, 0, 0, 0), "is marked clean but holds");
}

/* ---- a background scrubber racing an allocating hart ---------------------- */

#define RACE_ROUNDS 3000
#define RACE_SCRUBBERS 2

static volatile int race_done; /* the allocating hart has finished */

static void *scrubber_main(void *arg)
{
    (void)arg;
    sim_set_this_node(0);
    while (!race_done)
        scrub_some(0);
    return NULL;
}

/*
 * One node of 1024 frames, all dirty (scrub=idle); RACE_SCRUBBERS threads
 * run the background step without pause while this one allocates blocks
 * of orders 0-2 clean, checks every byte is zero, fills them, checks the
 * fill is still there and frees them. Expect: every clean block reads
 * zero and keeps what its owner wrote (an allocation that overlaps a
 * chunk being zeroed waits until the scrubber stops writing, and the
 * scrubber never clears a flag on frames that changed hands meanwhile),
 * and the heap checks out.
 */
TEST(background_races_allocations)
{
    unsigned long not_zero = 0, clobbered = 0, failures = 0;
    pthread_t t[RACE_SCRUBBERS];

    boot_with(&one_node, SCRUB_IDLE);
    race_done = 0;
    for (int i = 0; i < RACE_SCRUBBERS; i++)
        REQUIRE_EQ(pthread_create(&t[i], NULL, scrubber_main, NULL), 0);
    for (unsigned int i = 0; i < RACE_ROUNDS; i++) {
        unsigned int order = i % 3;
        mfn_t m = alloc_heap_pages(order, 0, 0, 0);

        if (m == INVALID_MFN) {
            failures++;
            continue;
        }
        not_zero += bytes_not(m, order, 0) != 0;
        fill(m, order, PATTERN);
        sched_yield(); /* give a scrubber the chance to write (it must not) */
        clobbered += bytes_not(m, order, PATTERN) != 0;
        free_heap_pages(m, order);
    }
    race_done = 1;
    for (int i = 0; i < RACE_SCRUBBERS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(not_zero, 0);
    EXPECT_EQ(clobbered, 0);
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(scrub_dirty_pages(0), walk_dirty(0));
    EXPECT_EQ(heap_check(), 0);
}
