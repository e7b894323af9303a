/*
 * labs/bootmem/hidden/test_hidden_bootmem.c - hidden tests of the bootmem
 * lab. The grader copies this file into tests/host/ of its pristine tree;
 * handouts never contain it.
 */
#include "tests/host/lib/harness.h"

#include "mm/bootmem.h"

struct hranges {
    unsigned int n;
    mfn_t s[16], e[16];
};

static void hcollect(mfn_t s, mfn_t e, void *arg)
{
    struct hranges *r = arg;

    if (r->n < 16) {
        r->s[r->n] = s;
        r->e[r->n] = e;
    }
    r->n++;
}

static struct hranges hranges_now(void)
{
    struct hranges r = {0};

    bootmem_for_each_range(hcollect, &r);
    return r;
}

/*
 *   add [0x100, 0x200); reserve [0x100, 0x110) and [0x1f0, 0x200)
 * Expect: [0x110, 0x1f0) left; reserving exactly that leaves nothing.
 */
TEST(hidden_bootmem_reserve_exact_edges)
{
    struct hranges r;

    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x100, 0x200), 0);
    EXPECT_EQ(bootmem_reserve_range(0x100, 0x110), 0);
    EXPECT_EQ(bootmem_reserve_range(0x1f0, 0x200), 0);
    r = hranges_now();
    REQUIRE(r.n == 1, "%u ranges, expected 1", r.n);
    EXPECT_EQ(r.s[0], 0x110);
    EXPECT_EQ(r.e[0], 0x1f0);
    EXPECT_EQ(bootmem_reserve_range(0x110, 0x1f0), 0);
    EXPECT_EQ(hranges_now().n, 0);
}

/*
 *   add [0x100, 0x200) and [0x301, 0x309); alloc 8 pages aligned to 16
 * Expect: the top range is big enough but holds no 16-aligned 8 pages, so
 * the block comes from the top of the lower range: 0x1f0, leaving
 * [0x100, 0x1f0), [0x1f8, 0x200), [0x301, 0x309).
 */
TEST(hidden_bootmem_alignment_skips_to_lower_range)
{
    struct hranges r;

    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x100, 0x200), 0);
    EXPECT_EQ(bootmem_add_range(0x301, 0x309), 0);
    EXPECT_EQ(alloc_boot_pages(8, 16), 0x1f0);
    r = hranges_now();
    REQUIRE(r.n == 3, "%u ranges, expected 3", r.n);
    EXPECT_EQ(r.s[0], 0x100);
    EXPECT_EQ(r.e[0], 0x1f0);
    EXPECT_EQ(r.s[1], 0x1f8);
    EXPECT_EQ(r.e[1], 0x200);
    EXPECT_EQ(r.s[2], 0x301);
    EXPECT_EQ(r.e[2], 0x309);
}

/*
 *   add [0x100, 0x200) and [0x400, 0x404); alloc 4 aligned 4, then 0x100
 *   aligned 0x100
 * Expect: 0x400 (the top range, used up and gone), then 0x100: nothing left.
 */
TEST(hidden_bootmem_exact_fit_removes_range)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x100, 0x200), 0);
    EXPECT_EQ(bootmem_add_range(0x400, 0x404), 0);
    EXPECT_EQ(alloc_boot_pages(4, 4), 0x400);
    EXPECT_EQ(hranges_now().n, 1);
    EXPECT_EQ(alloc_boot_pages(0x100, 0x100), 0x100);
    EXPECT_EQ(hranges_now().n, 0);
}
