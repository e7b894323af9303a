/*
 * labs/buddy/hidden/test_hidden_buddy.c - hidden tests of the buddy lab.
 * The grader copies this file into tests/host/ of its pristine tree;
 * handouts never contain it.
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

static bool heads_order(mfn_t mfn, unsigned int order)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_FREE) && pg->order == order;
}

/*
 *   node 0: [0x80000 ... 0x803f0 o2|0x803f4 o0|meta 3|frame table 8)
 * Expect: order-0 allocations take the order-0 block first, then split
 * the order-2 block from its bottom (0x803f0, then 0x803f1), leaving its
 * upper order-1 half for the order-1 request; freeing merges them back.
 */
TEST(hidden_buddy_split_keeps_upper_halves)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t a, b, c, d;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    a = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    b = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    c = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);
    d = alloc_heap_pages(1, 0, NUMA_NO_NODE, 0);
    EXPECT_EQ(a, 0x803f4);
    EXPECT_EQ(b, 0x803f0);
    EXPECT_EQ(c, 0x803f1);
    EXPECT_EQ(d, 0x803f2);
    EXPECT_EQ(heap_total_free_pages(), before - 5);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(b, 0);
    free_heap_pages(c, 0);
    free_heap_pages(d, 1);
    free_heap_pages(a, 0);
    EXPECT(heads_order(0x803f0, 2), "0x803f0 heads order %u, not 2",
           mfn_to_page(0x803f0)->order);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: an order-4 block freed frame by frame, last frame first, ends up
 * one order-4 block again. */
TEST(hidden_buddy_merge_chain)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t b;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    b = alloc_heap_pages(4, 0, NUMA_NO_NODE, 0);
    REQUIRE(b != INVALID_MFN, "no order-4 block");
    for (mfn_t f = b + 16; f-- > b;)
        free_heap_pages(f, 0);
    EXPECT(heads_order(b, 4), "0x%lx heads order %u, not 4", b,
           mfn_to_page(b)->order);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x0 ........... 0x100)   RAM at MFN 0
 * Expect: allocating every frame, one by one, never returns MFN 0, which
 * stays offlined; freeing them all leaves no block that holds it.
 */
TEST(hidden_buddy_mfn0_never_allocated)
{
    static const struct sim_machine m = {
        .name = "RAM at 0",
        .nr_banks = 1,
        .banks = {{0x0, 0x100, 0}},
    };
    static mfn_t got[0x100];
    unsigned int n = 0;
    mfn_t f;

    sim_boot_and_end(&m);
    while (n < 0x100 &&
           (f = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0)) != INVALID_MFN) {
        EXPECT(f != 0, "MFN 0 handed out");
        got[n++] = f;
    }
    EXPECT(n > 0x100 - 16, "only %u frames allocated", n);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_OFFLINED),
           "MFN 0 is not offlined");
    while (n > 0)
        free_heap_pages(got[--n], 0);
    EXPECT_EQ(heap_check(), 0);
}
