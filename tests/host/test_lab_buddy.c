/*
 * tests/host/test_lab_buddy.c - the rules of the buddy lab (mm/buddy.c,
 * labs/buddy/README.md), one case per rule, each on a machine drawn so
 * that breaking that rule alone shows: buddies outside the frame table
 * and on another node, a block of the largest order, an 8 GiB machine
 * whose aligned start would make blocks past MAX_ORDER, splits that must
 * keep the upper halves.
 *
 * Every case ends with finish(): heap_check() must hold and no lab stub
 * may have run. Frame numbers are hexadecimal MFNs.
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/buddy.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/lab.h"
#include "mm/node_heap.h"
#include "mm/page.h"

/* The end of every case: the heap keeps every rule, and no stub ran. */
static void finish(void)
{
    EXPECT(lab_missing() == NULL,
           "lab %s is not implemented yet: a stub ran (lab_not_implemented)",
           lab_missing() ? lab_missing() : "");
    EXPECT_EQ(heap_check(), 0);
}

/* True if mfn heads a free block of exactly `order` on node `node`. */
static bool free_head(mfn_t mfn, unsigned int order, unsigned int node)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_FREE) && pg->order == order &&
           pg->node == node;
}

/* What mfn's frame is, for a failure message. */
static const char *state_of(mfn_t mfn)
{
    return page_state_name(page_state(mfn_to_page(mfn)));
}

/*
 * buddy_largest_order(s, e), asked directly: the largest order k with s a
 * multiple of 2^k and s + 2^k <= e, never past MAX_ORDER (18).
 * Expect: each row's order.
 */
TEST(buddy_largest_order_rows)
{
    static const struct {
        mfn_t s, e;
        unsigned int order;
    } rows[] = {
        {1, 2, 0},
        {1, 0x100, 0},
        {2, 3, 0},
        {2, 4, 1},
        {4, 0x1000, 2},
        {0x80000, 0x80001, 0},
        {0x80000, 0x801ff, 8},
        {0x80000, 0x80200, 9},
        {0x80400, 0x80800, 10},
        {0x803f8, 0x80400, 3},
        {0x40000, 0x80000, 18},
        {0x80000, 0x80000 + (1UL << 18) - 1, 17},
        {0x80000, 0x80000 + (1UL << 18), 18},
        {0x80000, 0x100000, 18},  /* 2^19-aligned, 2^19 long: still 18 */
        {0x100000, 0x300000, 18}, /* 2^20-aligned, 2^21 long */
    };

    for (unsigned int i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned int got = buddy_largest_order(rows[i].s, rows[i].e);

        EXPECT(got == rows[i].order,
               "buddy_largest_order(0x%lx, 0x%lx) is %u, expected %u",
               rows[i].s, rows[i].e, got, rows[i].order);
    }
    sim_boot_and_end(&(struct sim_machine){
        .name = "one node", .nr_banks = 1, .banks = {{0x80000, 0x80400, 0}}});
    finish();
}

/*
 *   node 0: [0 ............................ 0x100)   RAM at MFN 0
 * buddy_skip_mfn0(s, e), asked directly before the heap takes anything,
 * with PGC_EXTRA and a reference count on MFN 0.
 * Expect: a range not starting at 0 comes back as it is and MFN 0 is
 * untouched; an empty range at 0 too; [0, 1) parks MFN 0 as offlined
 * (flags and count kept) and returns 1. MFN 0 already broken stays
 * broken (only an uninitialised RAM frame is parked), still returns 1.
 */
TEST(buddy_skip_mfn0_rows)
{
    static const struct sim_machine m = {
        .name = "RAM at MFN 0",
        .nr_banks = 1,
        .banks = {{0, 0x100, 0}},
    };
    uint64_t ci;
    mfn_t got;

    sim_boot(&m);
    mfn_to_page(0)->count_info |= PGC_EXTRA | 1;
    mm_hook_lock(0);
    got = buddy_skip_mfn0(5, 9);
    mm_hook_unlock(0);
    EXPECT_EQ(got, 5);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_UNINITIALISED),
           "buddy_skip_mfn0(5, 9) made MFN 0 %s", state_of(0));
    mm_hook_lock(0);
    got = buddy_skip_mfn0(0, 0);
    mm_hook_unlock(0);
    EXPECT(got == 0, "buddy_skip_mfn0(0, 0) (an empty range) is %lu, not 0",
           got);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_UNINITIALISED),
           "buddy_skip_mfn0(0, 0) made MFN 0 %s", state_of(0));
    mm_hook_lock(0);
    got = buddy_skip_mfn0(0, 1);
    mm_hook_unlock(0);
    EXPECT_EQ(got, 1);
    ci = page_count_info(mfn_to_page(0));
    EXPECT(pgc_state(ci) == PAGE_STATE_OFFLINED,
           "after buddy_skip_mfn0(0, 1) MFN 0 is %s, not offlined",
           page_state_name(pgc_state(ci)));
    EXPECT(ci & PGC_EXTRA, "parking MFN 0 dropped its flag bits");
    EXPECT_EQ(ci & PGC_COUNT_MASK, 1);
    end_boot_allocator();
    EXPECT_EQ(mfn_to_page(0)->nr_inits, 0);
    finish();

    sim_boot(&m);
    page_set_state(mfn_to_page(0), PAGE_STATE_BROKEN);
    mm_hook_lock(0);
    got = buddy_skip_mfn0(0, 0x10);
    mm_hook_unlock(0);
    EXPECT_EQ(got, 1);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_BROKEN),
           "a broken MFN 0 became %s (only uninitialised RAM is parked)",
           state_of(0));
    end_boot_allocator();
    finish();
}

/*
 *            frame table [0x80200 ............................ 0x80a00)
 *   node 0:  |initrd 0x80400| heap ... |meta|ft 0x80800|initrd 0x80a00|
 *   buddies:  0x80000 (below the table)              0x80a00 (past it)
 *
 * Both reserved ranges are order-9 blocks at the table's ends; when they
 * are freed, the buddy of [0x80200, 0x80400) is 0x80000 and the buddy of
 * [0x80800, 0x80a00) is 0x80a00: neither has a page_info (mfn_valid is
 * false, and the page_info must not even be read).
 * Expect: each freed block stays one free order-9 block, the free count
 * grows by 0x400.
 */
TEST(buddy_buddy_outside_frame_table)
{
    static const struct sim_machine m = {
        .name = "bank starting at 0x80200, reserved at both ends",
        .nr_banks = 1,
        .banks = {{0x80200, 0x80a00, 0}},
        .nr_reserved = 2,
        .reserved = {{0x80200, 0x80400}, {0x80800, 0x80a00}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    REQUIRE(frametable_first() == 0x80200 && frametable_end() == 0x80a00,
            "the frame table is [0x%lx, 0x%lx), not [0x80200, 0x80a00)",
            frametable_first(), frametable_end());
    before = heap_total_free_pages();
    free_heap_pages(0x80200, 9);
    EXPECT(free_head(0x80200, 9, 0),
           "0x80200 is %s, order %u: not one free order-9 block",
           state_of(0x80200), mfn_to_page(0x80200)->order);
    free_heap_pages(0x80800, 9);
    EXPECT(free_head(0x80800, 9, 0),
           "0x80800 is %s, order %u: not one free order-9 block",
           state_of(0x80800), mfn_to_page(0x80800)->order);
    EXPECT_EQ(heap_total_free_pages(), before + 0x400);
    finish();
}

/*
 *   node 0: [0x7f000 .. 0x7f400)  hole  [0x80000 reserved 0x80200)
 *   node 1:                             [0x80200 ........ |meta|ft 0x80800)
 *
 * 0x80000 and 0x80200 are order-9 buddies on two nodes. Node 1's
 * [0x80200, 0x80400) is free from boot; then node 0's reserved block is
 * freed. In a second boot node 1's block is taken frame by frame and
 * given back after node 0's block is free.
 * Expect: whichever side is freed last, 0x80000 and 0x80200 stay two
 * order-9 blocks, each on its own node (numa_may_merge says no), while
 * node 1's frames freed one by one merge back into one order-9 block.
 */
TEST(buddy_no_merge_across_nodes)
{
    static const struct sim_machine m = {
        .name = "two touching nodes at an order-9 buddy line",
        .nr_banks = 3,
        .banks = {{0x7f000, 0x7f400, 0},
                  {0x80000, 0x80200, 0},
                  {0x80200, 0x80800, 1}},
        .nr_reserved = 1,
        .reserved = {{0x80000, 0x80200}},
    };
    static mfn_t got[0x200];
    unsigned int n = 0;
    mfn_t f;

    sim_boot_and_end(&m);
    REQUIRE(free_head(0x80200, 9, 1), "0x80200 is %s, order %u after boot",
            state_of(0x80200), mfn_to_page(0x80200)->order);
    free_heap_pages(0x80000, 9);
    EXPECT(free_head(0x80000, 9, 0), "0x80000 is %s, order %u, node %u",
           state_of(0x80000), mfn_to_page(0x80000)->order,
           mfn_to_page(0x80000)->node);
    EXPECT(free_head(0x80200, 9, 1), "0x80200 is %s, order %u, node %u",
           state_of(0x80200), mfn_to_page(0x80200)->order,
           mfn_to_page(0x80200)->node);
    finish();

    sim_boot_and_end(&m);
    free_heap_pages(0x80000, 9);
    while (n < 0x200 &&
           (f = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE)) != INVALID_MFN) {
        if (f >= 0x80200 && f < 0x80400)
            got[n++] = f;
    }
    REQUIRE(n == 0x200, "only %u frames of [0x80200, 0x80400) allocated", n);
    while (n > 0)
        free_heap_pages(got[--n], 0);
    EXPECT(free_head(0x80200, 9, 1),
           "node 1's frames freed one by one: 0x80200 is %s, order %u",
           state_of(0x80200), mfn_to_page(0x80200)->order);
    EXPECT(free_head(0x80000, 9, 0), "0x80000 is %s, order %u",
           state_of(0x80000), mfn_to_page(0x80000)->order);
    finish();
}

/*
 *   node 0: [0x80000 o9|0x80200 o8|...|0x803e0 o4|0x803f0 o2|0x803f4 o0|
 *           meta 0x803f5|ft 0x803f8 .. 0x80400)
 * Expect: each allocation takes the smallest order that fits (the
 * order-0 block first, then the order-2 block for order 1, ...), splits
 * it and hands out its lowest frames, keeping the upper halves free with
 * their order; a request larger than any block gets INVALID_MFN and
 * changes nothing; freeing everything restores the blocks.
 */
TEST(buddy_split_keeps_upper_halves)
{
    static const struct sim_machine m = {
        .name = "one node, 1024 frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t a, b, c, d, e;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    EXPECT_EQ(alloc_heap_pages(10, 0, 0, 0), INVALID_MFN);
    EXPECT_EQ(heap_total_free_pages(), before);
    a = alloc_heap_pages(0, 0, 0, 0); /* the order-0 block, whole */
    b = alloc_heap_pages(1, 0, 0, 0); /* splits 0x803f0 (order 2) */
    c = alloc_heap_pages(3, 0, 0, 0); /* splits 0x803e0 (order 4) */
    d = alloc_heap_pages(5, 0, 0, 0); /* 0x803c0, order 5, whole */
    e = alloc_heap_pages(0, 0, 0, 0); /* splits 0x803f2 (order 1) */
    EXPECT_EQ(a, 0x803f4);
    EXPECT_EQ(b, 0x803f0);
    EXPECT_EQ(c, 0x803e0);
    EXPECT_EQ(d, 0x803c0);
    EXPECT_EQ(e, 0x803f2);
    EXPECT(free_head(0x803e8, 3, 0), "upper half 0x803e8 is %s, order %u",
           state_of(0x803e8), mfn_to_page(0x803e8)->order);
    EXPECT(free_head(0x803f3, 0, 0), "upper half 0x803f3 is %s, order %u",
           state_of(0x803f3), mfn_to_page(0x803f3)->order);
    for (mfn_t f = c; f < c + 8; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_INUSE),
               "frame 0x%lx of the order-3 block is %s, not inuse", f,
               state_of(f));
    EXPECT_EQ(heap_total_free_pages(), before - 1 - 2 - 8 - 32 - 1);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(e, 0);
    free_heap_pages(c, 3);
    free_heap_pages(a, 0);
    free_heap_pages(d, 5);
    free_heap_pages(b, 1);
    EXPECT(free_head(0x803f0, 2, 0) && free_head(0x803e0, 4, 0) &&
               free_head(0x803c0, 5, 0) && free_head(0x803f4, 0, 0),
           "the blocks at 0x803c0, 0x803e0, 0x803f0, 0x803f4 are orders %u "
           "%u %u %u, not 5 4 2 0",
           mfn_to_page(0x803c0)->order, mfn_to_page(0x803e0)->order,
           mfn_to_page(0x803f0)->order, mfn_to_page(0x803f4)->order);
    EXPECT_EQ(heap_total_free_pages(), before);
    finish();
}

/*
 *   node 0: [0x40000  boot alloc  0x60000  boot alloc  0x80000)  zone 19
 *           [0x80000 .. heap, carve, frame table .. 0x81000)    zone 20
 * Expect: once both order-17 boot allocations are freed, zone 19 holds
 * one order-18 (MAX_ORDER) block and nothing else; an order-0 request
 * below 2^31 bytes splits it (the largest order's list is used too) and
 * gets 0x40000, leaving 0x60000 (order 17) ... 0x40001 (order 0) free;
 * given back, it is one order-18 block again. (Order-0 requests only: a
 * debug build fills every allocated and freed frame with a pattern, and
 * a whole 1 GiB block would cost seconds.)
 */
TEST(buddy_alloc_from_max_order_list)
{
    static const struct sim_machine m = {
        .name = "1 GiB aligned bank",
        .nr_banks = 1,
        .banks = {{0x40000, 0x81000, 0}},
    };
    unsigned long before;
    mfn_t f;

    sim_boot(&m);
    REQUIRE(alloc_boot_pages(1UL << 17, 1UL << 17) == 0x60000);
    REQUIRE(alloc_boot_pages(1UL << 17, 1UL << 17) == 0x40000);
    end_boot_allocator();
    free_heap_pages(0x60000, MAX_ORDER - 1);
    free_heap_pages(0x40000, MAX_ORDER - 1);
    REQUIRE(free_head(0x40000, MAX_ORDER, 0), "0x40000 is %s, order %u",
            state_of(0x40000), mfn_to_page(0x40000)->order);
    before = heap_total_free_pages();
    f = alloc_heap_pages(0, 31, 0, 0);
    REQUIRE(f != INVALID_MFN,
            "no frame below 2^31 bytes, though zone 19 holds an order-18 "
            "block");
    EXPECT_EQ(f, 0x40000);
    for (unsigned int k = 0; k < MAX_ORDER; k++)
        EXPECT(free_head(0x40000 + (1UL << k), k, 0),
               "upper half 0x%lx is %s, order %u, not order %u",
               0x40000 + (1UL << k), state_of(0x40000 + (1UL << k)),
               mfn_to_page(0x40000 + (1UL << k))->order, k);
    EXPECT_EQ(heap_free_pages_in(0, 19), (1UL << MAX_ORDER) - 1);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(f, 0);
    EXPECT(free_head(0x40000, MAX_ORDER, 0), "0x40000 is %s, order %u",
           state_of(0x40000), mfn_to_page(0x40000)->order);
    EXPECT_EQ(heap_total_free_pages(), before);
    finish();
}

/*
 *   node 0: [0x80000 zone 20 0x100000  zone 21  0x200000 zone 22 0x280000)
 *            2 GiB ......... 4 GiB ............ 8 GiB ..... |meta|ft 10 GiB
 *
 * 8 GiB of RAM from 2 GiB: 0x80000 is 2^19-aligned and 0x100000 2^20, so
 * blocks could grow past MAX_ORDER if anything let them; the frame table
 * is 64 MiB (only page_info is touched).
 * Expect: the heap holds order-18 blocks and none larger: 2 in zone 20,
 * 4 in zone 21 (all of it), 1 in zone 22. An order-0 request below 2^33
 * bytes splits one of zone 21's order-18 blocks (highest allowed zone
 * first) and gets its first frame; given back, the counts and blocks are
 * restored.
 */
TEST(buddy_8gib_max_order_blocks)
{
    static const struct sim_machine m = {
        .name = "8 GiB at 2 GiB",
        .nr_banks = 1,
        .banks = {{0x80000, 0x280000, 0}},
    };
    unsigned long before;
    mfn_t f;

    sim_boot_and_end(&m);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(heap_free_blocks(0, 20, MAX_ORDER), 2);
    EXPECT_EQ(heap_free_blocks(0, 21, MAX_ORDER), 4);
    EXPECT_EQ(heap_free_blocks(0, 22, MAX_ORDER), 1);
    before = heap_total_free_pages();
    f = alloc_heap_pages(0, 33, 0, 0);
    REQUIRE(f != INVALID_MFN,
            "no frame below 8 GiB, though zone 21 holds four order-18 blocks");
    EXPECT(mfn_zone(f) == 21 && IS_ALIGNED(f, 1UL << MAX_ORDER),
           "an order-0 request below 2^33 bytes got 0x%lx (zone %u), not the "
           "first frame of one of zone 21's order-18 blocks",
           f, mfn_zone(f));
    EXPECT_EQ(heap_free_blocks(0, 21, MAX_ORDER), 3);
    EXPECT_EQ(heap_free_blocks(0, 21, MAX_ORDER - 1), 1);
    EXPECT_EQ(heap_free_pages_in(0, 21), 4 * (1UL << MAX_ORDER) - 1);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(f, 0);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_free_blocks(0, 21, MAX_ORDER), 4);
    finish();
}
