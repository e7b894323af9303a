/*
 * tests/host/test_bootmem.c - the boot allocator (mm/bootmem.c): sorted,
 * disjoint free ranges; reservations that split them; top-down aligned
 * allocation; running out; and the boot allocator closing for good at
 * end_boot_allocator().
 */
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/heap.h"

struct ranges {
    unsigned int n;                  /* ranges seen */
    mfn_t s[BOOTMEM_MAX_RANGES + 1]; /* their starts */
    mfn_t e[BOOTMEM_MAX_RANGES + 1]; /* their ends */
};

static void collect(mfn_t s, mfn_t e, void *arg)
{
    struct ranges *r = arg;

    r->s[r->n] = s;
    r->e[r->n] = e;
    r->n++;
}

static struct ranges ranges_now(void)
{
    struct ranges r = {0};

    bootmem_for_each_range(collect, &r);
    return r;
}

/*
 *   add [0x10, 0x20), [0x30, 0x40), [0x20, 0x30), [0x50, 0x60), [0x18, 0x35)
 * Expect: touching and overlapping ranges join: [0x10, 0x40), [0x50, 0x60).
 */
TEST(add_sorts_and_joins)
{
    struct ranges r;

    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x10, 0x20), 0);
    EXPECT_EQ(bootmem_add_range(0x50, 0x60), 0);
    EXPECT_EQ(bootmem_add_range(0x30, 0x40), 0);
    EXPECT_EQ(bootmem_add_range(0x20, 0x30), 0);
    EXPECT_EQ(bootmem_add_range(0x18, 0x35), 0);
    r = ranges_now();
    EXPECT_EQ(r.n, 2);
    EXPECT_EQ(r.s[0], 0x10);
    EXPECT_EQ(r.e[0], 0x40);
    EXPECT_EQ(r.s[1], 0x50);
    EXPECT_EQ(r.e[1], 0x60);
}

/* Expect: s > e is -EINVAL; an empty range adds nothing. */
TEST(add_bad_ranges)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x20, 0x10), -EINVAL);
    EXPECT_EQ(bootmem_add_range(0x20, 0x20), 0);
    EXPECT_EQ(ranges_now().n, 0);
    EXPECT_EQ(bootmem_reserve_range(0x20, 0x10), -EINVAL);
}

/*
 *   free [0x10 ............................ 0x40)    [0x50 ..... 0x60)
 *   reserve     [0x20, 0x25)            [0x3c ...... 0x52)
 * Expect: [0x10, 0x20), [0x25, 0x3c), [0x52, 0x60); reserving a whole
 * range removes it; reserving what is not free changes nothing.
 */
TEST(reserve_splits_and_clips)
{
    struct ranges r;

    bootmem_reset();
    bootmem_add_range(0x10, 0x40);
    bootmem_add_range(0x50, 0x60);
    EXPECT_EQ(bootmem_reserve_range(0x20, 0x25), 0);
    EXPECT_EQ(bootmem_reserve_range(0x3c, 0x52), 0);
    EXPECT_EQ(bootmem_reserve_range(0x70, 0x80), 0);
    r = ranges_now();
    REQUIRE(r.n == 3, "%u ranges", r.n);
    EXPECT_EQ(r.s[0], 0x10);
    EXPECT_EQ(r.e[0], 0x20);
    EXPECT_EQ(r.s[1], 0x25);
    EXPECT_EQ(r.e[1], 0x3c);
    EXPECT_EQ(r.s[2], 0x52);
    EXPECT_EQ(r.e[2], 0x60);
    EXPECT_EQ(bootmem_reserve_range(0x0, 0x30), 0);
    r = ranges_now();
    EXPECT_EQ(r.n, 2);
    EXPECT_EQ(r.s[0], 0x30);
}

/* Expect: the 65th range, added or made by a split, is -ENOSPC. */
TEST(too_many_ranges)
{
    bootmem_reset();
    for (mfn_t i = 0; i < BOOTMEM_MAX_RANGES; i++)
        EXPECT_EQ(bootmem_add_range(i * 4, i * 4 + 3), 0);
    EXPECT_EQ(bootmem_add_range(0x1000, 0x1001), -ENOSPC);
    EXPECT_EQ(bootmem_reserve_range(0x0, 0x1), 0); /* clips: no new range */
    EXPECT_EQ(bootmem_reserve_range(0x9, 0xa),
              -ENOSPC); /* would split [8, 11) */
}

/*
 *   [0x100 ........ 0x200)        [0x300 ........ 0x400)
 * Expect: 16 frames come from the top of the highest range (0x3f0); a
 * request the highest range cannot hold comes from the next one down.
 */
TEST(alloc_top_down)
{
    bootmem_reset();
    bootmem_add_range(0x100, 0x200);
    bootmem_add_range(0x300, 0x400);
    EXPECT_EQ(alloc_boot_pages(16, 1), 0x3f0);
    EXPECT_EQ(alloc_boot_pages(0x100, 1), 0x100);
    EXPECT_EQ(alloc_boot_pages(0xf0, 1), 0x300);
    EXPECT_EQ(ranges_now().n, 0);
}

/*
 *   [0x101 .................. 0x200)
 * Expect: 4 frames aligned to 64 start at 0x1c0, leaving [0x101, 0x1c0)
 * and [0x1c4, 0x200); a range with no aligned room is skipped.
 */
TEST(alloc_aligned)
{
    struct ranges r;

    bootmem_reset();
    bootmem_add_range(0x101, 0x200);
    EXPECT_EQ(alloc_boot_pages(4, 64), 0x1c0);
    r = ranges_now();
    REQUIRE(r.n == 2, "%u ranges", r.n);
    EXPECT(r.s[0] == 0x101 && r.e[0] == 0x1c0, "low part");
    EXPECT(r.s[1] == 0x1c4 && r.e[1] == 0x200, "high part");
    bootmem_add_range(0x401, 0x43f); /* 62 frames, no 64-aligned start */
    EXPECT_EQ(alloc_boot_pages(32, 64), 0x180);
}

/* Expect: running out, and a bad alignment, are panics that say so. */
TEST(alloc_running_out_panics)
{
    bootmem_reset();
    bootmem_add_range(0x100, 0x110);
    EXPECT_PANIC(alloc_boot_pages(0x11, 1), "out of boot memory");
    EXPECT_PANIC(alloc_boot_pages(4, 3), "power-of-two");
    EXPECT_PANIC(alloc_boot_pages(0, 1), "nr_pages > 0");
    EXPECT_EQ(alloc_boot_pages(0x10, 1), 0x100);
    EXPECT_PANIC(alloc_boot_pages(1, 1), "out of boot memory");
}

/* Expect: after end_boot_allocator() every bootmem call panics. */
TEST(closed_after_end)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80100, 0}},
    };

    sim_boot(&m);
    EXPECT(bootmem_is_open(), "open before end");
    end_boot_allocator();
    EXPECT(!bootmem_is_open(), "open after end");
    EXPECT_PANIC(alloc_boot_pages(1, 1), "the boot allocator is closed");
    EXPECT_PANIC(bootmem_add_range(0x1, 0x2),
                 "bootmem_add_range: the boot allocator is closed");
    EXPECT_PANIC(bootmem_reserve_range(0x1, 0x2), "closed");
    EXPECT_PANIC(end_boot_allocator(),
                 "end_boot_allocator: the boot allocator is closed");
}

/*
 *   node 0 [0x80000, 0x80100)   node 1 [0x80100, 0x80200)   boot hart on node 1
 * Expect: end_boot_allocator hands everything left to the heap: both nodes
 * get a heap and every frame but the frame table and the carves is free.
 */
TEST(end_hands_everything_over)
{
    static const struct sim_machine m = {
        .name = "two nodes, boot hart on node 1",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80100, 0}, {0x80100, 0x80200, 1}},
        .boot_node = 1,
    };

    sim_boot_and_end(&m);
    EXPECT(heap_node_exists(0) && heap_node_exists(1), "a node has no heap");
    EXPECT_EQ(heap_total_free_pages(), 0x200 - sim_frametable_pages() - 2 * 3);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000, 0x80100)  hole  node 1 [0x81000, 0x81100)   boot hart on
 * node 1 Expect: end_boot_allocator hands node 1's range to the heap first.
 */
TEST(end_hands_boot_node_first)
{
    static const struct sim_machine m = {
        .name = "two nodes, boot hart on node 1",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80100, 0}, {0x81000, 0x81100, 1}},
        .boot_node = 1,
    };
    mfn_t runs[SIM_MAX_RUNS_TRACED];
    unsigned int n;

    sim_boot_and_end(&m);
    n = sim_take_runs_asked(runs);
    REQUIRE(n == 2, "%u node runs", n);
    EXPECT_EQ(runs[0], 0x81000);
    EXPECT_EQ(runs[1], 0x80000);
}
