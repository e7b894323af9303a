/*
 * labs/offline/hidden/test_hidden_offline.c - the offline lab's hidden
 * tests (instructor only; the grader copies this file into tests/host/).
 *
 * Shapes the public tests do not draw: every frame of a block taken out
 * one by one and brought back in a scrambled order, a freed block whose
 * frames are all offlining, a boot allocation across two nodes with
 * marked frames on both, and a randomized run on four nodes.
 */
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/offline.h"
#include "mm/page.h"

static unsigned int state_of(mfn_t mfn)
{
    return page_state(mfn_to_page(mfn));
}

/*
 *   node 0: [0x80000 ... 0x80400)
 * Expect: the 32 frames of an order-5 block go one by one (the free count
 * drops by one each time, heap_check holds), come back in a scrambled
 * order, and the block is whole again.
 */
TEST(hidden_offline_block_frame_by_frame)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t b;

    sim_boot_and_end(&m);
    b = alloc_heap_pages(5, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    free_heap_pages(b, 5);
    before = heap_total_free_pages();
    for (mfn_t i = 0; i < 32; i++) {
        REQUIRE_EQ(offline_page(b + i, false), 0);
        EXPECT_EQ(heap_total_free_pages(), before - i - 1);
        REQUIRE_EQ(heap_check(), 0);
    }
    for (mfn_t i = 0; i < 32; i++) {
        mfn_t f = b + ((i * 13) % 32);

        REQUIRE_EQ(online_page(f), 0);
        REQUIRE_EQ(heap_check(), 0);
    }
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT(state_of(b) == PAGE_STATE_FREE && mfn_to_page(b)->order >= 5,
           "block 0x%lx did not merge back", b);
}

/*
 *   node 0: [0x80000 ... 0x80400)
 * Expect: a freed block whose four frames are all offlining frees
 * nothing: four frames parked, the free count unchanged.
 */
TEST(hidden_offline_freed_block_all_offlining)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t b;

    sim_boot_and_end(&m);
    b = alloc_heap_pages(2, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    before = heap_total_free_pages();
    for (mfn_t i = 0; i < 4; i++)
        REQUIRE_EQ(offline_page(b + i, i == 2), 0);
    free_heap_pages(b, 2);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(offline_nr_offlined(0), 3);
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(state_of(b + 2), PAGE_STATE_BROKEN);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)   node 1: [0x80400 ... 0x80800)
 *   a boot allocation [0x803f0, 0x80410) across the boundary
 * Expect: with 0x803f8 (node 0) and 0x80404 (node 1, broken) offlined
 * while uninitialised, the free of the allocation parks each on its own
 * node and frees the other 30 frames.
 */
TEST(hidden_offline_boot_allocation_across_nodes)
{
    static const struct sim_machine m = {
        .name = "two nodes side by side",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x80400, 0x80800, 1}},
        .nr_reserved = 1,
        .reserved = {{0x803f0, 0x80410}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    REQUIRE_EQ(offline_page(0x803f8, false), 0);
    REQUIRE_EQ(offline_page(0x80404, true), 0);
    init_heap_pages(0x803f0, 0x20);
    EXPECT_EQ(state_of(0x803f8), PAGE_STATE_OFFLINED);
    EXPECT_EQ(state_of(0x80404), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_nr_offlined(0), 1);
    EXPECT_EQ(offline_nr_broken(1), 1);
    EXPECT_EQ(heap_total_free_pages(), before + 30);
    EXPECT_EQ(heap_check(), 0);
}

static uint64_t rng;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 *   four nodes of 256 frames each, side by side
 * Expect: 2000 random steps of alloc, free, offline and online keep
 * heap_check() and the frame count (free + held + offlined + broken).
 */
TEST(hidden_offline_random_four_nodes)
{
    static const struct sim_machine m = {
        .name = "four nodes",
        .nr_banks = 4,
        .banks = {{0x80000, 0x80100, 0},
                  {0x80100, 0x80200, 1},
                  {0x80200, 0x80300, 2},
                  {0x80300, 0x80400, 3}},
    };
    mfn_t held[64];
    unsigned int nr = 0;
    unsigned long total;
    bool parked_ever = false;

    rng = test_seed() | 1;
    sim_boot_and_end(&m);
    sim_set_quiet(true);
    total = heap_total_free_pages();
    for (unsigned int i = 0; i < 2000; i++) {
        unsigned long parked = 0, r = next_random() % 4;
        mfn_t f = 0x80000 + next_random() % 0x400;

        if (r == 0 && nr < 64) {
            mfn_t b = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);

            if (b != INVALID_MFN)
                held[nr++] = b;
        } else if (r == 1 && nr) {
            unsigned int k = (unsigned int)(next_random() % nr);

            free_heap_pages(held[k], 0);
            held[k] = held[--nr];
        } else if (r == 2) {
            int err = offline_page(f, next_random() % 6 == 0);

            REQUIRE(err == 0 || err == -EBUSY,
                    "offline_page(0x%lx) said %d", f, err);
            parked_ever |= err == 0;
        } else {
            int err = online_page(f);

            REQUIRE(err == 0 || err == -EBUSY || err == -EIO,
                    "online_page(0x%lx) said %d", f, err);
        }
        REQUIRE(heap_check() == 0, "heap_check failed after step %u", i);
        for (unsigned int n = 0; n < 4; n++)
            parked += offline_nr_offlined(n) + offline_nr_broken(n);
        REQUIRE(heap_total_free_pages() + nr + parked == total,
                "step %u: a frame was lost or found twice", i);
    }
    sim_set_quiet(false);
    EXPECT(parked_ever, "no offline_page() call succeeded");
}
