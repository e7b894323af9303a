/*
 * tests/host/test_offline.c - offlining (mm/offline.c) on simulated
 * machines: a free frame at every position of a large free block, in-use
 * frames (offlining, then parked when freed), uninitialised frames
 * (parked by init_heap_pages), MFN 0, a hole, frames outside the table, a
 * carved node-heap frame, online merging back, broken frames staying out,
 * the counters and the flag bits.
 *
 * Every case ends with heap_check(), which also checks the counters.
 */
#include <string.h>

#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/node_heap.h"
#include "mm/offline.h"
#include "mm/page.h"
#include "mm/scrub.h"

/*
 *   node 0: [0x80000 ... 0x80400)  hole  [0x81000 ....... 0x81100)
 *           node heap at its tail         | order-7 block |..|frame table|
 *                                         0x81000   0x81080
 * The block at 0x81000 is maximal: its buddy [0x81080, 0x81100) is
 * partly the frame table.
 */
static const struct sim_machine two_banks = {
    .name = "two banks, an order-7 block at 0x81000",
    .nr_banks = 2,
    .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81100, 0}},
};

#define BLOCK 0x81000UL
#define BLOCK_ORDER 7u

#define EXPECT_STR(got, want)                                                  \
    EXPECT(strcmp((got), (want)) == 0, "got \"%s\", expected \"%s\"", (got),   \
           (want))

static unsigned int state_of(mfn_t mfn)
{
    return page_state(mfn_to_page(mfn));
}

/* The free block of order k that sits beside frame `out` inside BLOCK. */
static mfn_t half_beside(mfn_t out, unsigned int k)
{
    return (out ^ ((mfn_t)1 << k)) & ~(((mfn_t)1 << k) - 1);
}

/* Expect: the block at BLOCK is one free block of order BLOCK_ORDER. */
static void expect_whole_block(void)
{
    EXPECT(state_of(BLOCK) == PAGE_STATE_FREE &&
               mfn_to_page(BLOCK)->order == BLOCK_ORDER,
           "0x%lx is %s of order %u, not a free block of order %u", BLOCK,
           page_state_name(state_of(BLOCK)), mfn_to_page(BLOCK)->order,
           BLOCK_ORDER);
}

/*
 * Expect: for every position p of the order-7 block (first, last, the
 * middle, each buddy boundary), offlining BLOCK + p takes out exactly that
 * frame: it is offlined and counted, the free count drops by one, the
 * other 127 frames are free in exactly seven blocks, one of each order
 * 0..6, each the half beside p. Online merges it back into the one block.
 */
TEST(offline_free_frame_every_position)
{
    unsigned long before;

    sim_boot_and_end(&two_banks);
    REQUIRE(state_of(BLOCK) == PAGE_STATE_FREE &&
                mfn_to_page(BLOCK)->order == BLOCK_ORDER,
            "the machine has no order-%u block at 0x%lx", BLOCK_ORDER, BLOCK);
    before = heap_total_free_pages();
    for (mfn_t p = 0; p < (1UL << BLOCK_ORDER); p++) {
        mfn_t out = BLOCK + p;

        REQUIRE_EQ(offline_page(out, false), 0);
        EXPECT_EQ(state_of(out), PAGE_STATE_OFFLINED);
        EXPECT_EQ(heap_total_free_pages(), before - 1);
        EXPECT_EQ(offline_nr_offlined(0), 1);
        for (unsigned int k = 0; k < BLOCK_ORDER; k++) {
            mfn_t half = half_beside(out, k);

            EXPECT(state_of(half) == PAGE_STATE_FREE &&
                       mfn_to_page(half)->order == k,
                   "offline 0x%lx: the half at 0x%lx is %s of order %u, not "
                   "a free block of order %u",
                   out, half, page_state_name(state_of(half)),
                   mfn_to_page(half)->order, k);
        }
        EXPECT_EQ(heap_check(), 0);
        REQUIRE_EQ(online_page(out), 0);
        expect_whole_block();
        EXPECT_EQ(heap_total_free_pages(), before);
        EXPECT_EQ(offline_nr_offlined(0), 0);
    }
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: a broken free frame is out at once and stays out: online says
 * -EIO and changes nothing, offlining it again (plain or broken) keeps it
 * broken; it is counted as broken, not offlined. An offlined frame asked
 * to be broken moves from one counter to the other.
 */
TEST(offline_broken_stays_out)
{
    unsigned long before;

    sim_boot_and_end(&two_banks);
    before = heap_total_free_pages();
    EXPECT_EQ(offline_page(BLOCK + 5, true), 0);
    EXPECT_EQ(state_of(BLOCK + 5), PAGE_STATE_BROKEN);
    EXPECT_EQ(online_page(BLOCK + 5), -EIO);
    EXPECT_EQ(offline_page(BLOCK + 5, false), 0);
    EXPECT_EQ(online_page(BLOCK + 5), -EIO);
    EXPECT_EQ(state_of(BLOCK + 5), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_EQ(offline_page(BLOCK + 9, false), 0);
    EXPECT_EQ(offline_page(BLOCK + 9, true), 0);
    EXPECT_EQ(state_of(BLOCK + 9), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_nr_broken(0), 2);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_EQ(heap_total_free_pages(), before - 2);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: an in-use frame stays with its owner, marked offlining (and
 * pending in the counters); the free of its block parks it as offlined and
 * frees the other three frames; online brings it back and the block
 * merges. A frame broken while in use ends broken and stays out. Online
 * of an offlining frame cancels: its block frees whole.
 */
TEST(offline_in_use_frame)
{
    unsigned long before;
    mfn_t b;

    sim_boot_and_end(&two_banks);
    before = heap_total_free_pages();
    b = alloc_heap_pages(2, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b + 2, false), 0);
    EXPECT_EQ(state_of(b + 2), PAGE_STATE_OFFLINING);
    EXPECT_EQ(offline_nr_pending(0), 1);
    EXPECT_EQ(heap_total_free_pages(), before - 4);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(b, 2);
    EXPECT_EQ(state_of(b + 2), PAGE_STATE_OFFLINED);
    EXPECT_EQ(state_of(b), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(b + 3), PAGE_STATE_FREE);
    EXPECT_EQ(heap_total_free_pages(), before - 1);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(offline_nr_offlined(0), 1);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(online_page(b + 2), 0);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);

    b = alloc_heap_pages(1, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b, true), 0);
    EXPECT_EQ(state_of(b), PAGE_STATE_OFFLINING);
    EXPECT_EQ(online_page(b), -EIO);
    free_heap_pages(b, 1);
    EXPECT_EQ(state_of(b), PAGE_STATE_BROKEN);
    EXPECT_EQ(state_of(b + 1), PAGE_STATE_FREE);
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(heap_check(), 0);

    b = alloc_heap_pages(1, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b + 1, false), 0);
    EXPECT_EQ(online_page(b + 1), 0);
    EXPECT_EQ(state_of(b + 1), PAGE_STATE_INUSE);
    EXPECT_EQ(offline_nr_pending(0), 0);
    free_heap_pages(b, 1);
    EXPECT_EQ(state_of(b + 1), PAGE_STATE_FREE);
    EXPECT_EQ(heap_total_free_pages(), before - 1);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Before end_boot_allocator(): frame BLOCK + 3 is free in the boot
 * allocator (uninitialised), and a boot allocation (uninitialised, in
 * use) holds a frame that we offline as broken.
 * Expect: both are marked and pending; end_boot_allocator() parks
 * BLOCK + 3 as offlined (its neighbours free), the free of the boot
 * allocation parks its broken frame and frees the rest; online of the
 * parked frame initialises it then (once) and it merges back.
 */
TEST(offline_uninitialised_frames)
{
    mfn_t boot;

    sim_boot(&two_banks);
    boot = alloc_boot_pages(4, 4);
    REQUIRE_NE(boot, INVALID_MFN);
    EXPECT_EQ(offline_page(BLOCK + 3, false), 0);
    EXPECT_EQ(offline_page(boot + 1, true), 0);
    EXPECT(page_has_flag(mfn_to_page(BLOCK + 3), PGC_OFFLINE_ASKED),
           "frame 0x%lx is not marked", BLOCK + 3);
    EXPECT_EQ(state_of(BLOCK + 3), PAGE_STATE_UNINITIALISED);
    EXPECT_EQ(offline_nr_pending(0), 2);
    end_boot_allocator();
    EXPECT_EQ(state_of(BLOCK + 3), PAGE_STATE_OFFLINED);
    EXPECT(!page_has_flag(mfn_to_page(BLOCK + 3), PGC_OFFLINE_ASKED),
           "a parked frame is still marked");
    EXPECT_EQ(state_of(BLOCK + 2), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(BLOCK + 4), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(boot + 1), PAGE_STATE_UNINITIALISED);
    EXPECT_EQ(offline_nr_pending(0), 1);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(boot, 2);
    EXPECT_EQ(state_of(boot + 1), PAGE_STATE_BROKEN);
    EXPECT_EQ(state_of(boot), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(boot + 3), PAGE_STATE_FREE);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(online_page(BLOCK + 3), 0);
    EXPECT_EQ(mfn_to_page(BLOCK + 3)->nr_inits, 1);
    expect_whole_block();
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: online of a marked uninitialised frame takes the mark off, and
 * init_heap_pages() then hands it over like any other.
 */
TEST(offline_uninitialised_cancelled)
{
    sim_boot(&two_banks);
    EXPECT_EQ(offline_page(BLOCK + 8, false), 0);
    EXPECT_EQ(online_page(BLOCK + 8), 0);
    EXPECT_EQ(offline_nr_pending(0), 0);
    end_boot_allocator();
    expect_whole_block();
    EXPECT(!page_has_flag(mfn_to_page(BLOCK + 8), PGC_OFFLINE_ASKED),
           "frame 0x%lx is still marked after online", BLOCK + 8);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0 .......... 0x400)  hole  [0x800 .... 0x900)
 * Expect: MFN 0 (parked by the heap) neither goes offline nor comes back
 * (-EBUSY), and a query says offlined; a hole frame is -EFAULT; frames
 * below and past the table are -ERANGE; a carved node-heap frame is
 * -EBUSY. None of them changes.
 */
TEST(offline_frames_that_cannot)
{
    static const struct sim_machine m = {
        .name = "RAM at MFN 0 and a hole",
        .nr_banks = 2,
        .banks = {{0x0, 0x400, 0}, {0x800, 0x900, 0}},
    };
    const struct node_heap *nh;
    uint64_t status = 0;

    sim_boot_and_end(&m);
    EXPECT_EQ(offline_page(0, false), -EBUSY);
    EXPECT_EQ(offline_page(0, true), -EBUSY);
    EXPECT_EQ(online_page(0), -EBUSY);
    EXPECT_EQ(query_page_offline(0, &status), 0);
    EXPECT_EQ(pgc_state(status), PAGE_STATE_OFFLINED);
    EXPECT_EQ(offline_page(0x500, false), -EFAULT);
    EXPECT_EQ(online_page(0x500), -EFAULT);
    EXPECT_EQ(query_page_offline(0x500, &status), -EFAULT);
    EXPECT_EQ(offline_page(0x900, false), -ERANGE);
    EXPECT_EQ(online_page(0x900), -ERANGE);
    EXPECT_EQ(query_page_offline(0x10000, &status), -ERANGE);
    nh = node_heap_get(0);
    REQUIRE(nh != NULL && nh->meta_mfn != INVALID_MFN, "no carved heap");
    EXPECT_EQ(offline_page(nh->meta_mfn, false), -EBUSY);
    EXPECT_EQ(online_page(nh->meta_mfn), -EBUSY);
    EXPECT_EQ(state_of(nh->meta_mfn), PAGE_STATE_INUSE);
    EXPECT_EQ(state_of(0x500), PAGE_STATE_UNINITIALISED);
    EXPECT_EQ(offline_nr_offlined(0) + offline_nr_broken(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: PGC_EXTRA, set on frames in each state, survives every
 * transition of offlining: free -> offlined -> free, inuse -> offlining
 * -> offlined, uninitialised -> marked -> parked.
 */
TEST(offline_flags_survive)
{
    mfn_t b;

    sim_boot(&two_banks);
    page_set_flags(mfn_to_page(BLOCK + 1), PGC_EXTRA);
    EXPECT_EQ(offline_page(BLOCK + 1, false), 0);
    end_boot_allocator();
    EXPECT_EQ(state_of(BLOCK + 1), PAGE_STATE_OFFLINED);
    EXPECT(page_has_flag(mfn_to_page(BLOCK + 1), PGC_EXTRA),
           "PGC_EXTRA lost when init parked the frame");
    page_set_flags(mfn_to_page(BLOCK + 6), PGC_EXTRA);
    EXPECT_EQ(offline_page(BLOCK + 6, false), 0);
    EXPECT(page_has_flag(mfn_to_page(BLOCK + 6), PGC_EXTRA),
           "PGC_EXTRA lost when a free frame was offlined");
    EXPECT_EQ(online_page(BLOCK + 6), 0);
    EXPECT(page_has_flag(mfn_to_page(BLOCK + 6), PGC_EXTRA),
           "PGC_EXTRA lost when a frame came back online");
    b = alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    page_set_flags(mfn_to_page(b), PGC_EXTRA);
    EXPECT_EQ(offline_page(b, true), 0);
    EXPECT(page_has_flag(mfn_to_page(b), PGC_EXTRA),
           "PGC_EXTRA lost when an inuse frame became offlining");
    free_heap_pages(b, 0);
    EXPECT_EQ(state_of(b), PAGE_STATE_BROKEN);
    EXPECT(page_has_flag(mfn_to_page(b), PGC_EXTRA),
           "PGC_EXTRA lost when an offlining frame was freed");
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: the query's words for each state the monitor prints. */
TEST(offline_status_words)
{
    uint64_t st = 0;

    sim_boot(&two_banks);
    EXPECT_EQ(offline_page(BLOCK, true), 0);
    EXPECT_EQ(query_page_offline(BLOCK, &st), 0);
    EXPECT_STR(offline_status_text(st), "uninitialised (to be broken)");
    EXPECT_EQ(offline_page(BLOCK + 1, false), 0);
    EXPECT_EQ(query_page_offline(BLOCK + 1, &st), 0);
    EXPECT_STR(offline_status_text(st), "uninitialised (to be offlined)");
    end_boot_allocator();
    EXPECT_EQ(query_page_offline(BLOCK, &st), 0);
    EXPECT_STR(offline_status_text(st), "broken");
    EXPECT_EQ(query_page_offline(BLOCK + 1, &st), 0);
    EXPECT_STR(offline_status_text(st), "offlined");
    EXPECT_EQ(query_page_offline(BLOCK + 2, &st), 0);
    EXPECT_STR(offline_status_text(st),
               scrub_get_policy() == SCRUB_OFF ? "free" : "free (needs scrub)");
    EXPECT_EQ(offline_page(BLOCK + 2, true), 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: a free frame says whether it still needs a scrub, and only it. */
TEST(offline_status_words_scrub)
{
    uint64_t st = 0;
    mfn_t b;

    scrub_set_policy(SCRUB_OFF); /* boot's frames are clean: only b is not */
    sim_boot(&two_banks);
    end_boot_allocator();
    scrub_set_policy(SCRUB_IDLE);
    b = alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE);
    EXPECT_EQ(query_page_offline(b, &st), 0);
    EXPECT_STR(offline_status_text(st), "inuse");
    free_heap_pages(b, 0); /* its owner's data is still in it */
    EXPECT_EQ(query_page_offline(b, &st), 0);
    EXPECT_STR(offline_status_text(st), "free (needs scrub)");
    EXPECT_EQ(offline_page(b, false), 0);
    EXPECT_EQ(query_page_offline(b, &st), 0);
    EXPECT_STR(offline_status_text(st), "offlined");
    EXPECT_EQ(online_page(b), 0); /* back through the free path: dirty */
    EXPECT_EQ(query_page_offline(b, &st), 0);
    EXPECT_STR(offline_status_text(st), "free (needs scrub)");
    EXPECT_EQ(heap_check(), 0);
}
