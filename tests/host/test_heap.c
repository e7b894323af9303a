/*
 * tests/host/test_heap.c - unit tests of the buddy heap (mm/heap.c) on
 * simulated machines: allocation and freeing, zones and `bits`, NUMA node
 * choice and fallback, memory-less nodes, node heap carving and its
 * fallback, and the panics that guard against bad frees.
 *
 * Each test draws its machine. Frame numbers are hexadecimal MFNs.
 */
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/node_heap.h"
#include "mm/page.h"
#include "mm/poison.h"

/*
 *   node 0: [0x80000 ............................. 0x80400)
 *                                          frame table ^^ (top 8 frames)
 */
static const struct sim_machine one_node = {
    .name = "one node, 1024 frames",
    .nr_banks = 1,
    .banks = {{0x80000, 0x80400, 0}},
};

/* Frames the heap should hold right after boot on a one-bank machine. */
static unsigned long boot_free_expected(unsigned long frames)
{
    return frames - sim_frametable_pages() - NODE_HEAP_PAGES;
}

/* Expect: after boot every frame but the frame table and the node heap
 * is free; alloc + free of one page gives the count back; heap_check ok. */
TEST(alloc_free_roundtrip)
{
    mfn_t mfn;

    sim_boot_and_end(&one_node);
    EXPECT_EQ(heap_total_free_pages(), boot_free_expected(0x400));
    EXPECT_EQ(heap_check(), 0);
    mfn = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT(page_state_is(mfn_to_page(mfn), PAGE_STATE_INUSE),
           "fresh page not inuse");
    EXPECT_EQ(heap_total_free_pages(), boot_free_expected(0x400) - 1);
    free_heap_pages(mfn, 0);
    EXPECT_EQ(heap_total_free_pages(), boot_free_expected(0x400));
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: the node heap sits in the last NODE_HEAP_PAGES frames of the
 * first range freed for the node (the range's tail), marked PGC_NODE_META. */
TEST(node_heap_carved_from_tail)
{
    mfn_t end;

    sim_boot_and_end(&one_node);
    end = 0x80400 - sim_frametable_pages();
    for (mfn_t m = end - NODE_HEAP_PAGES; m < end; m++) {
        EXPECT(page_has_flag(mfn_to_page(m), PGC_NODE_META),
               "frame 0x%lx not carved", m);
        EXPECT(page_state_is(mfn_to_page(m), PAGE_STATE_INUSE),
               "carved frame 0x%lx not inuse", m);
    }
    EXPECT(
        !page_has_flag(mfn_to_page(end - NODE_HEAP_PAGES - 1), PGC_NODE_META),
        "carved one frame too many");
    EXPECT_EQ(NODE_HEAP_PAGES <= 4, 1);
}

/* Expect: a range smaller than NODE_HEAP_PAGES still gets a node heap (from
 * the static pool) and every one of its frames is free; nothing is carved.
 *
 *   node 0: [0x80000 .. 0x80400)     node 1: [0x90000, 0x90002) 2 frames
 */
TEST(node_heap_fallback_when_range_too_small)
{
    static const struct sim_machine m = {
        .name = "node 1 has two frames",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x90000, 0x90002, 1}},
    };

    sim_boot_and_end(&m);
    REQUIRE(heap_node_exists(1));
    EXPECT_EQ(heap_free_pages_node(1), 2);
    EXPECT(!page_has_flag(mfn_to_page(0x90000), PGC_NODE_META),
           "carved from a 2-frame range");
    EXPECT_EQ(node_heap_get(1)->meta_mfn, INVALID_MFN);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: init_heap_pages() of a single frame makes it one free order-0
 * block; a second single frame next to it merges into an order-1 block. */
TEST(one_page_range)
{
    mfn_t m;

    sim_boot(&one_node);
    m = alloc_boot_pages(2, 2);
    end_boot_allocator();
    init_heap_pages(m, 1);
    EXPECT(page_state_is(mfn_to_page(m), PAGE_STATE_FREE), "frame not free");
    EXPECT_EQ(mfn_to_page(m)->order, 0);
    init_heap_pages(m + 1, 1);
    EXPECT_EQ(mfn_to_page(m)->order, 1);
    EXPECT_EQ(heap_free_blocks(0, mfn_zone(m), 1) >= 1, 1);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: a fresh block asked for without a scrub holds POISON_FRESH, a
 * freed one POISON_FREED (tests/host/test_scrub.c: the clean blocks). */
TEST(debug_poisoning)
{
    mfn_t m;

    sim_boot_and_end(&one_node);
    m = alloc_heap_pages(1, 0, 0, ALLOC_NO_SCRUB);
    REQUIRE_NE(m, INVALID_MFN);
    EXPECT_EQ(((unsigned char *)sim_frame_va(m))[0], POISON_FRESH);
    EXPECT_EQ(((unsigned char *)sim_frame_va(m + 1))[PAGE_SIZE - 1],
              POISON_FRESH);
    free_heap_pages(m, 1);
    EXPECT_EQ(((unsigned char *)sim_frame_va(m))[17], POISON_FREED);
    EXPECT_EQ(((unsigned char *)sim_frame_va(m + 1))[PAGE_SIZE - 1],
              POISON_FREED);
}

/*
 * Zones and `bits`:
 *   zone 9:  [0x100, 0x200)  node 0   (frames below 2^9, bytes below 2^21)
 *   zone 11: [0x400, 0x800)   node 0
 * Expect: bits 21 gives a frame below 0x200; bits 20 (zones <= 8) gives
 * nothing; bits 0 gives the highest zone first.
 */
TEST(alloc_bits_limits_zones)
{
    static const struct sim_machine m = {
        .name = "two zones",
        .nr_banks = 2,
        .banks = {{0x100, 0x200, 0}, {0x400, 0x800, 0}},
    };
    mfn_t mfn;

    sim_boot_and_end(&m);
    mfn = alloc_heap_pages(0, 0, 0, 0);
    EXPECT(mfn >= 0x400,
           "no limit should take the highest zone first, got 0x%lx", mfn);
    mfn = alloc_heap_pages(0, 21, 0, 0);
    EXPECT(mfn >= 0x100 && mfn < 0x200, "bits 21 gave 0x%lx", mfn);
    EXPECT_EQ(alloc_heap_pages(0, 20, 0, 0), INVALID_MFN);
    EXPECT_EQ(alloc_heap_pages(0, 12, 0, 0), INVALID_MFN);
    EXPECT_EQ(alloc_heap_pages(MAX_ORDER + 1, 0, 0, 0), INVALID_MFN);
    EXPECT_EQ(heap_check(), 0);
}

/* Take every page of node `node` (exact); returns how many. */
static unsigned long drain_node(unsigned int node)
{
    unsigned long n = 0;

    while (alloc_heap_pages(0, 0, node, ALLOC_EXACT_NODE) != INVALID_MFN)
        n++;
    return n;
}

/*
 * Three nodes, distances from node 0: node 1 = 30, node 2 = 15.
 *   node 0 [0x80000, 0x80100)  node 1 [0x81000, 0x81100)  node 2 [0x82000,
 * 0x82100) Expect: once node 0 is empty, node 0's allocations come from node 2
 * (nearer) before node 1; with ALLOC_EXACT_NODE they fail instead.
 */
TEST(alloc_fallback_nearest_first)
{
    static struct sim_machine m = {
        .name = "three nodes, node 2 nearest to node 0",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80100, 0},
                  {0x81000, 0x81100, 1},
                  {0x82000, 0x82100, 2}},
    };
    mfn_t mfn;

    m.distance[0][1] = m.distance[1][0] = 30;
    m.distance[0][2] = m.distance[2][0] = 15;
    sim_boot_and_end(&m);
    EXPECT(drain_node(0) > 0, "node 0 had no pages");
    EXPECT_EQ(alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE), INVALID_MFN);
    mfn = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(mfn != INVALID_MFN, "node 0 is empty and nothing fell back");
    EXPECT_EQ(sim_node_of(mfn), 2);
    drain_node(2);
    mfn = alloc_heap_pages(0, 0, 0, 0);
    REQUIRE(mfn != INVALID_MFN,
            "nodes 0 and 2 are empty and nothing fell back");
    EXPECT_EQ(sim_node_of(mfn), 1);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: with equal distances the lower node id comes first. */
TEST(alloc_fallback_ties_by_node_id)
{
    static const struct sim_machine m = {
        .name = "three nodes, all 20 apart",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80100, 0},
                  {0x81000, 0x81100, 1},
                  {0x82000, 0x82100, 2}},
        .boot_node = 2,
    };

    sim_boot_and_end(&m);
    drain_node(2);
    EXPECT_EQ(sim_node_of(alloc_heap_pages(0, 0, NUMA_NO_NODE, 0)), 0);
}

/*
 * Node 1 has harts but no memory; the current hart is on node 1.
 *   node 0 [0x80000, 0x80400)       node 1: no RAM
 * Expect: node 1 never gets a heap; NUMA_NO_NODE allocations fall back to
 * node 0; an exact request for node 1 fails.
 */
TEST(memoryless_node)
{
    static const struct sim_machine m = {
        .name = "node 1 memory-less",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
        .nr_nodes = 2,
        .boot_node = 1,
    };
    mfn_t mfn;

    sim_boot_and_end(&m);
    EXPECT(!heap_node_exists(1), "a memory-less node got a heap");
    EXPECT_EQ(heap_free_pages_node(1), 0);
    mfn = alloc_heap_pages(2, 0, NUMA_NO_NODE, 0);
    EXPECT(mfn != INVALID_MFN && sim_node_of(mfn) == 0,
           "this hart's node 1 has no memory, so the allocation must fall back "
           "to node 0 (numa_fallback_nodes); it got %s 0x%lx",
           mfn == INVALID_MFN ? "nothing:" : "frame", mfn);
    EXPECT_EQ(alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE), INVALID_MFN);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: the largest blocks: 1024 frames at an aligned base, minus the
 * frame table and the carve, go in as a handful of blocks, not frame by frame.
 */
TEST(init_uses_largest_blocks)
{
    unsigned long blocks = 0;

    sim_boot_and_end(&one_node);
    for (unsigned int order = 0; order <= MAX_ORDER; order++)
        blocks += heap_free_blocks(0, 20, order);
    EXPECT(blocks <= 12, "%lu free blocks for 1013 frames", blocks);
    EXPECT_EQ(heap_free_blocks(0, 20, 9), 1);
}

/*
 * Expect: init_heap_pages() touches no frame it hands to the heap: of
 * 16 MiB of simulated RAM only the frame table and the carved node heap
 * become resident, and pa_to_va is asked once (for the carve).
 */
TEST(init_touches_only_page_info)
{
    static const struct sim_machine m = {
        .name = "16 MiB, one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x81000, 0}},
    };

    sim_boot(&m);
    sim_take_pa_to_va_calls();
    end_boot_allocator();
    EXPECT_EQ(sim_take_pa_to_va_calls(), 1);
    EXPECT(sim_resident_pages() <= sim_frametable_pages() + NODE_HEAP_PAGES,
           "%lu pages resident", sim_resident_pages());
}

/* Expect: each bad free is a panic naming the frame and what is wrong. */
TEST(bad_frees_panic)
{
    mfn_t m;

    sim_boot_and_end(&one_node);
    m = alloc_heap_pages(0, 0, 0, 0);
    free_heap_pages(m, 0);
    EXPECT_PANIC(free_heap_pages(m, 0), "is free, not inuse (double free?)");
    sim_boot_and_end(&one_node);
    m = 0x80400 - sim_frametable_pages() - 1;
    EXPECT_PANIC(free_heap_pages(m, 0), "carved for a node heap");
    sim_boot_and_end(&one_node);
    m = alloc_heap_pages(1, 0, 0, 0);
    EXPECT_PANIC(free_heap_pages(m + 1, 1), "is not a block");
    EXPECT_PANIC(free_heap_pages(0x70000, 0), "outside the frame table");
    EXPECT_PANIC(free_heap_pages(m, MAX_ORDER + 1), "is not a block");
}

/* A free block's tail page freed on its own: also a double free. */
TEST(free_inside_free_block_panics)
{
    sim_boot_and_end(&one_node);
    EXPECT_PANIC(free_heap_pages(0x80001, 0),
                 "frame 0x80001 is free, not inuse");
}

/*
 *   node 0: [0x80000, 0x80100)  hole [0x80100, 0x80200)  node 0: [0x80200,
 * 0x80300) Expect: a hole is never free, freeing one panics, init_heap_pages()
 * skips it, and no block crosses it.
 */
TEST(holes_stay_out)
{
    static const struct sim_machine m = {
        .name = "a hole between two banks",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80100, 0}, {0x80200, 0x80300, 0}},
    };

    sim_boot_and_end(&m);
    EXPECT(!mfn_valid(0x80100), "hole is valid");
    EXPECT(page_state_is(mfn_to_page(0x80180), PAGE_STATE_UNINITIALISED),
           "hole changed state");
    EXPECT_PANIC(free_heap_pages(0x80100, 0), "a hole, not RAM");
    sim_boot_and_end(&m);
    init_heap_pages(0x80100, 4);
    EXPECT(page_state_is(mfn_to_page(0x80100), PAGE_STATE_UNINITIALISED),
           "hole taken");
    EXPECT_EQ(mfn_to_page(0x80100)->nr_inits, 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: init of a frame that is already in the heap panics. */
TEST(init_twice_panics)
{
    sim_boot_and_end(&one_node);
    EXPECT_PANIC(init_heap_pages(0x80010, 1),
                 "frame 0x80010 is free, not an uninitialised RAM frame");
}

/* Expect: an unknown node id is a panic that says what is accepted. */
TEST(alloc_bad_node_panics)
{
    sim_boot_and_end(&one_node);
    EXPECT_PANIC(alloc_heap_pages(0, 0, 9, 0), "node 9 does not exist");
}

/* Expect: heap_check notices a corrupted counter and an unmerged pair. */
TEST(heap_check_catches_corruption)
{
    struct node_heap *nh;
    mfn_t a;

    sim_boot_and_end(&one_node);
    sim_set_quiet(true);
    nh = node_heap_get(0);
    nh->free_pages[20]++;
    EXPECT_EQ(heap_check(), -EINVAL);
    nh->free_pages[20]--;
    EXPECT_EQ(heap_check(), 0);
    a = alloc_heap_pages(0, 0, 0, 0);
    mfn_to_page(a)->count_info = pgc_with_state(0, PAGE_STATE_FREE);
    EXPECT_EQ(heap_check(), -EINVAL); /* free but on no list */
    sim_set_quiet(false);
}

/*
 * Expect: heap_check reports two free buddies left apart. The test splits
 * a free order-k block by hand into two order-(k-1) blocks on the lists.
 */
TEST(heap_check_catches_unmerged_buddies)
{
    struct node_heap *nh;
    struct page_info *x, *y, **lists;
    unsigned int k = 1;

    sim_boot_and_end(&one_node);
    nh = node_heap_get(0);
    lists = nh->free_lists[20];
    while (k <= MAX_ORDER && lists[k] == NULL)
        k++;
    REQUIRE(k <= MAX_ORDER, "no free block of order >= 1");
    x = lists[k];
    lists[k] = x->next;
    if (x->next)
        x->next->prev = NULL;
    y = x + (1UL << (k - 1));
    x->order = y->order = (uint8_t)(k - 1);
    y->next = lists[k - 1];
    if (y->next)
        y->next->prev = y;
    y->prev = x;
    x->next = y;
    x->prev = NULL;
    lists[k - 1] = x;
    sim_set_quiet(true);
    EXPECT_EQ(heap_check(), -EINVAL);
    EXPECT(strstr(sim_last_printk(), "unmerged") != NULL, "last report: %s",
           sim_last_printk());
    sim_set_quiet(false);
}

/*
 *   node 0: [0x40000  boot alloc  0x60000  boot alloc  0x80000)  (1 GiB)
 *           [0x80000 .. heap, carve, frame table .. 0x81000)
 * Expect: freeing the two order-17 boot allocations (uninitialised, so
 * nothing is poisoned or touched) merges them into one order-18
 * (MAX_ORDER) block.
 */
TEST(max_order_block_merges)
{
    static const struct sim_machine m = {
        .name = "1 GiB aligned bank",
        .nr_banks = 1,
        .banks = {{0x40000, 0x81000, 0}},
    };

    sim_boot(&m);
    REQUIRE_EQ(alloc_boot_pages(1UL << 17, 1UL << 17), 0x60000);
    REQUIRE_EQ(alloc_boot_pages(1UL << 17, 1UL << 17), 0x40000);
    end_boot_allocator();
    free_heap_pages(0x40000, MAX_ORDER - 1);
    EXPECT_EQ(heap_free_blocks(0, 19, MAX_ORDER - 1), 1);
    free_heap_pages(0x60000, MAX_ORDER - 1);
    EXPECT_EQ(heap_free_blocks(0, 19, MAX_ORDER), 1);
    EXPECT_EQ(heap_free_blocks(0, 19, MAX_ORDER - 1), 0);
    EXPECT_EQ(heap_check(), 0);
}
