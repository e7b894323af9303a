/*
 * kernel/ktest_lab_buddy.c - suite lab_buddy: the buddy lab's rules on the
 * real machine, above all on a big one. Boot with 8 GiB or more (the
 * buddy rubric does: `--mem 8G`): RAM then runs from 2 GiB to 10 GiB, so
 * zone 21 (frames [2^20, 2^21): 4 GiB to 8 GiB) is four whole order-18
 * blocks, and the aligned starts at 2 GiB and 4 GiB would make blocks
 * past MAX_ORDER if anything let them (such a block lands on a list past
 * the end of its zone's row, so zone 21's order-18 list comes up short).
 * On a smaller machine both cases are skipped.
 *
 *   2 GiB  kernel .. zone 20 ..  4 GiB  ... zone 21 ...  8 GiB  zone 22 |ft
 *          [0x80000           0x100000                0x200000      0x280000)
 */
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "ktest.h"

#define ZONE_21 21u

/* Free blocks of (zone, order) on every node. */
static unsigned long blocks_in(unsigned int zone, unsigned int order)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        n += heap_free_blocks(node, zone, order);
    return n;
}

static unsigned long free_in_zone(unsigned int zone)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        n += heap_free_pages_in(node, zone);
    return n;
}

/* True if all of zone 21 is RAM (the machine has 8 GiB from 2 GiB on). */
static bool zone_21_is_ram(void)
{
    return frametable_end() > ((mfn_t)1 << ZONE_21);
}

/* Zone 21 is four free order-18 blocks and nothing else. */
static void zone_21_is_four_max_order_blocks(void)
{
    if (!zone_21_is_ram())
        KTEST_SKIP("needs 8 GiB of RAM or more (boot with --mem 8G)");
    EXPECT_EQ(blocks_in(ZONE_21, MAX_ORDER), 4u);
    EXPECT_EQ(free_in_zone(ZONE_21), 4ul << MAX_ORDER);
}

/*
 * An order-0 request below 2^33 bytes splits one of zone 21's order-18
 * blocks (the largest order's list), gets its first frame, and given back
 * the block is whole again; then the heap keeps every rule (one
 * heap_check() of 2 Mi frames: about a second of QEMU time).
 */
static void max_order_block_split_and_merged(void)
{
    unsigned long before = heap_total_free_pages();
    mfn_t mfn;

    if (!zone_21_is_ram())
        KTEST_SKIP("needs 8 GiB of RAM or more (boot with --mem 8G)");
    mfn = alloc_heap_pages(0, 33, NUMA_NO_NODE, 0);
    REQUIRE_NE(mfn, INVALID_MFN);
    EXPECT_EQ(mfn_zone(mfn), ZONE_21);
    EXPECT_TRUE(IS_ALIGNED(mfn, (mfn_t)1 << MAX_ORDER));
    EXPECT_EQ(blocks_in(ZONE_21, MAX_ORDER), 3u);
    EXPECT_EQ(blocks_in(ZONE_21, MAX_ORDER - 1), 1u);
    free_heap_pages(mfn, 0);
    EXPECT_EQ(blocks_in(ZONE_21, MAX_ORDER), 4u);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

static const struct ktest_case lab_buddy_cases[] = {
    KTEST_CASE(zone_21_is_four_max_order_blocks),
    KTEST_CASE(max_order_block_split_and_merged),
};
KTEST_SUITE(lab_buddy, lab_buddy_cases);
