/*
 * tests/host/test_lab_bootmem.c - every rule of the bootmem lab
 * (labs/bootmem/README.md, mm/bootmem.h), one case per rule, each on
 * ranges shaped so that breaking that rule alone fails it: ranges that
 * touch on either side, a range that bridges two, an array with every
 * slot in use, empty and inverted requests, ranges low enough for
 * `r.e - nr_pages` to wrap, and a two-node machine whose banks touch.
 *
 * The cases check the whole range array after every step (not only at the
 * end), because a wrong step can be repaired by a later one. Cases that
 * build a machine end with heap_check().
 */
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

struct lranges {
    unsigned int n;                  /* ranges seen */
    mfn_t s[BOOTMEM_MAX_RANGES + 1]; /* their starts */
    mfn_t e[BOOTMEM_MAX_RANGES + 1]; /* their ends */
};

static void lcollect(mfn_t s, mfn_t e, void *arg)
{
    struct lranges *r = arg;

    if (r->n <= BOOTMEM_MAX_RANGES) {
        r->s[r->n] = s;
        r->e[r->n] = e;
    }
    r->n++;
}

/*
 * Expect the free ranges to be exactly want[0..n) (pairs s, e), and say
 * what they are when not.
 */
#define EXPECT_RANGES(...)                                                     \
    do {                                                                       \
        const mfn_t want_[] = {__VA_ARGS__};                                   \
        expect_ranges(__FILE__, __LINE__, want_,                               \
                      sizeof(want_) / sizeof(want_[0]) / 2);                   \
    } while (0)

static void print_ranges(char *buf, size_t len, const struct lranges *r)
{
    size_t at = 0;

    buf[0] = '\0';
    for (unsigned int i = 0; i < r->n && i < 8 && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, " [0x%lx, 0x%lx)", r->s[i],
                               r->e[i]);
    if (r->n > 8 && at < len)
        snprintf(buf + at, len - at, " ...");
}

static void expect_ranges(const char *file, int line, const mfn_t *want,
                          unsigned int n)
{
    struct lranges r = {0};
    bool same;
    char got[256];

    bootmem_for_each_range(lcollect, &r);
    same = r.n == n;
    for (unsigned int i = 0; same && i < n; i++)
        same = r.s[i] == want[2 * i] && r.e[i] == want[2 * i + 1];
    if (!same) {
        print_ranges(got, sizeof(got), &r);
        harness_fail(file, line,
                     "the free ranges are (%u):%s; expected %u "
                     "ranges, the first [0x%lx, 0x%lx)",
                     r.n, got, n, n ? want[0] : 0, n ? want[1] : 0);
    }
}

static struct lranges ranges_now(void)
{
    struct lranges r = {0};

    bootmem_for_each_range(lcollect, &r);
    return r;
}

static unsigned int nr_ranges_now(void)
{
    return ranges_now().n;
}

/* Fill every slot: [4i, 4i + width) for i = 0 .. BOOTMEM_MAX_RANGES - 1. */
static void fill_every_slot(mfn_t width)
{
    bootmem_reset();
    for (mfn_t i = 0; i < BOOTMEM_MAX_RANGES; i++)
        REQUIRE(bootmem_add_range(4 * i, 4 * i + width) == 0,
                "adding range %lu of %u failed", i, BOOTMEM_MAX_RANGES);
}

/*
 *        [0x20 .. 0x30)                      add first
 *   [0x10 .. 0x20)                            touches it from below
 *                  [0x30 .. 0x40)             touches it from above
 *                              [0x50 .. 0x60) apart
 *                        [0x40 .. 0x50)       bridges the two
 * Expect: after every add one range (or two while 0x50 is apart):
 * touching ranges are joined at once, on either side, and a bridge joins
 * both neighbours; adding what is already free changes nothing; a range
 * covering everything swallows it all.
 */
TEST(bootmem_add_joins_touching_ranges)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x20, 0x30), 0);
    EXPECT_EQ(bootmem_add_range(0x10, 0x20), 0);
    EXPECT_RANGES(0x10, 0x30);
    EXPECT_EQ(bootmem_add_range(0x30, 0x40), 0);
    EXPECT_RANGES(0x10, 0x40);
    EXPECT_EQ(bootmem_add_range(0x50, 0x60), 0);
    EXPECT_RANGES(0x10, 0x40, 0x50, 0x60);
    EXPECT_EQ(bootmem_add_range(0x40, 0x50), 0);
    EXPECT_RANGES(0x10, 0x60);
    EXPECT_EQ(bootmem_add_range(0x20, 0x28), 0);
    EXPECT_RANGES(0x10, 0x60);
    EXPECT_EQ(bootmem_add_range(0x8, 0x70), 0);
    EXPECT_RANGES(0x8, 0x70);
}

/*
 *   add [0x300, 0x310), [0x100, 0x110), [0x200, 0x210), [0x0, 0x8)
 *   then [0x104, 0x204) overlapping two
 * Expect: kept sorted whatever the order of the adds; an overlap joins
 * from the lowest start to the highest end.
 */
TEST(bootmem_add_keeps_ranges_sorted)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x300, 0x310), 0);
    EXPECT_EQ(bootmem_add_range(0x100, 0x110), 0);
    EXPECT_RANGES(0x100, 0x110, 0x300, 0x310);
    EXPECT_EQ(bootmem_add_range(0x200, 0x210), 0);
    EXPECT_EQ(bootmem_add_range(0x0, 0x8), 0);
    EXPECT_RANGES(0x0, 0x8, 0x100, 0x110, 0x200, 0x210, 0x300, 0x310);
    EXPECT_EQ(bootmem_add_range(0x104, 0x204), 0);
    EXPECT_RANGES(0x0, 0x8, 0x100, 0x210, 0x300, 0x310);
}

/*
 * Expect: s > e is -EINVAL and adds nothing; an empty range [s, s) is 0
 * and adds nothing, also right next to a range (where storing it would
 * leave an empty range beside it).
 */
TEST(bootmem_add_empty_and_inverted)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x30, 0x10), -EINVAL);
    EXPECT_RANGES();
    EXPECT_EQ(bootmem_add_range(0x40, 0x40), 0);
    EXPECT_RANGES();
    EXPECT_EQ(bootmem_add_range(0x10, 0x20), 0);
    EXPECT_EQ(bootmem_add_range(0x30, 0x30), 0);
    EXPECT_EQ(bootmem_add_range(0x28, 0x18), -EINVAL);
    EXPECT_RANGES(0x10, 0x20);
}

/*
 *   64 ranges [4i, 4i + 2): every slot in use
 *   add [0x2, 0x4): touches [0x0, 0x2) and [0x4, 0x6)
 * Expect: a range that joins others needs no new slot, so it is added even
 * with every slot in use (63 ranges, the first [0x0, 0x6)); then one new
 * range fits, and the next is -ENOSPC and changes nothing.
 */
TEST(bootmem_add_when_full)
{
    struct lranges r;

    fill_every_slot(2);
    EXPECT_EQ(bootmem_add_range(0x1, 0x2), 0); /* already free */
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    EXPECT_EQ(bootmem_add_range(0x2, 0x4), 0);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES - 1);
    EXPECT_EQ(bootmem_add_range(0x1000, 0x1001), 0);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    EXPECT_EQ(bootmem_add_range(0x2000, 0x2001), -ENOSPC);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    r = ranges_now();
    REQUIRE(r.n == BOOTMEM_MAX_RANGES, "%u ranges", r.n);
    EXPECT(r.s[0] == 0x0 && r.e[0] == 0x6,
           "range 0 is [0x%lx, 0x%lx), "
           "expected [0x0, 0x6)",
           r.s[0], r.e[0]);
    for (unsigned int i = 1; i + 1 < r.n; i++)
        EXPECT(r.s[i] == 4 * (i + 1) && r.e[i] == 4 * (i + 1) + 2,
               "range %u is [0x%lx, 0x%lx), expected [0x%x, 0x%x)", i, r.s[i],
               r.e[i], 4 * (i + 1), 4 * (i + 1) + 2);
    EXPECT(r.s[r.n - 1] == 0x1000 && r.e[r.n - 1] == 0x1001,
           "the last range "
           "is [0x%lx, 0x%lx), expected [0x1000, 0x1001)",
           r.s[r.n - 1], r.e[r.n - 1]);
}

/*
 *   free [0x10 ........................... 0x40)
 *   reserve [0x10, 0x12)    its very start
 *   reserve [0x3e, 0x40)    its very end
 *   reserve [0x20, 0x28)    its middle: a split
 *   reserve [0x12, 0x20)    exactly the low part
 * Expect: after each step the exact ranges: a cut at an edge leaves no
 * empty range behind, a split leaves the low part then the high part,
 * and reserving exactly a range removes it.
 */
TEST(bootmem_reserve_edges_and_middle)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x10, 0x40), 0);
    EXPECT_EQ(bootmem_reserve_range(0x10, 0x12), 0);
    EXPECT_RANGES(0x12, 0x40);
    EXPECT_EQ(bootmem_reserve_range(0x3e, 0x40), 0);
    EXPECT_RANGES(0x12, 0x3e);
    EXPECT_EQ(bootmem_reserve_range(0x20, 0x28), 0);
    EXPECT_RANGES(0x12, 0x20, 0x28, 0x3e);
    EXPECT_EQ(bootmem_reserve_range(0x12, 0x20), 0);
    EXPECT_RANGES(0x28, 0x3e);
    EXPECT_EQ(bootmem_reserve_range(0x20, 0x3e), 0);
    EXPECT_RANGES();
}

/*
 *   [0x10, 0x20)   [0x30, 0x40)   [0x50, 0x60)   [0x70, 0x80)
 *        reserve [0x18 ........................ 0x58)
 * Expect: one reservation cuts the end of the first range, removes the
 * second whole and cuts the start of the third: [0x10, 0x18),
 * [0x58, 0x60), [0x70, 0x80).
 */
TEST(bootmem_reserve_across_ranges)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x10, 0x20), 0);
    EXPECT_EQ(bootmem_add_range(0x30, 0x40), 0);
    EXPECT_EQ(bootmem_add_range(0x50, 0x60), 0);
    EXPECT_EQ(bootmem_add_range(0x70, 0x80), 0);
    EXPECT_EQ(bootmem_reserve_range(0x18, 0x58), 0);
    EXPECT_RANGES(0x10, 0x18, 0x58, 0x60, 0x70, 0x80);
    EXPECT_EQ(bootmem_reserve_range(0x0, 0x90), 0);
    EXPECT_RANGES();
}

/*
 *   free [0x10 ........ 0x20)
 * Expect: an empty reservation [s, s) is 0 and changes nothing, inside a
 * range (where cutting it would split the range into two touching ones)
 * and at its edges; s > e is -EINVAL and changes nothing.
 */
TEST(bootmem_reserve_empty_and_inverted)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x10, 0x20), 0);
    EXPECT_EQ(bootmem_reserve_range(0x18, 0x18), 0);
    EXPECT_RANGES(0x10, 0x20);
    EXPECT_EQ(bootmem_reserve_range(0x10, 0x10), 0);
    EXPECT_EQ(bootmem_reserve_range(0x20, 0x20), 0);
    EXPECT_RANGES(0x10, 0x20);
    EXPECT_EQ(bootmem_reserve_range(0x1c, 0x14), -EINVAL);
    EXPECT_RANGES(0x10, 0x20);
}

/*
 *   64 ranges [4i, 4i + 3): every slot in use
 * Expect: a split is -ENOSPC and leaves that range as it was; cuts that
 * need no slot still work; once a range is gone, the split fits.
 */
TEST(bootmem_reserve_split_when_full)
{
    struct lranges r;

    fill_every_slot(3);
    EXPECT_EQ(bootmem_reserve_range(0x9, 0xa), -ENOSPC);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    EXPECT_EQ(bootmem_reserve_range(0x0, 0x1), 0); /* start: no new slot */
    EXPECT_EQ(bootmem_reserve_range(0x6, 0x7), 0); /* end: no new slot */
    EXPECT_EQ(bootmem_reserve_range(0xc, 0xf), 0); /* whole: one slot free */
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES - 1);
    EXPECT_EQ(bootmem_reserve_range(0x9, 0xa), 0);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    r = ranges_now();
    REQUIRE(r.n == BOOTMEM_MAX_RANGES, "%u ranges", r.n);
    {
        static const mfn_t low[] = {0x1, 0x3, 0x4, 0x6, 0x8, 0x9, 0xa, 0xb};

        for (unsigned int i = 0; i < 4; i++)
            EXPECT(r.s[i] == low[2 * i] && r.e[i] == low[2 * i + 1],
                   "range %u is [0x%lx, 0x%lx), expected [0x%lx, 0x%lx)", i,
                   r.s[i], r.e[i], low[2 * i], low[2 * i + 1]);
    }
    for (unsigned int i = 4; i < r.n; i++) /* [0xc, 0xf) is gone */
        EXPECT(r.s[i] == 4 * i && r.e[i] == 4 * i + 3,
               "range %u is [0x%lx, 0x%lx), expected [0x%x, 0x%x)", i, r.s[i],
               r.e[i], 4 * i, 4 * i + 3);
}

/*
 * Expect: each bad request is a panic that says "bad request": no pages,
 * an alignment of 0, and alignments that are not powers of two; the
 * ranges are left as they were.
 */
TEST(bootmem_alloc_bad_requests_panic)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x100, 0x200), 0);
    EXPECT_PANIC(alloc_boot_pages(0, 1), "bad request");
    EXPECT_PANIC(alloc_boot_pages(4, 0), "bad request");
    EXPECT_PANIC(alloc_boot_pages(4, 3), "bad request");
    EXPECT_PANIC(alloc_boot_pages(4, 6), "bad request");
    EXPECT_PANIC(alloc_boot_pages(4, 0x30), "bad request");
    EXPECT_RANGES(0x100, 0x200);
}

/*
 *   [0x1 ... 0x10)    RAM this low: r.e - nr_pages would wrap
 * Expect: 0x20 pages do not fit: "out of boot memory", and the range is
 * left as it was; 0xf pages (the whole range) do fit, at 0x1.
 */
TEST(bootmem_alloc_more_than_a_low_range)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x1, 0x10), 0);
    EXPECT_PANIC(alloc_boot_pages(0x20, 1), "out of boot memory");
    EXPECT_RANGES(0x1, 0x10);
    EXPECT_EQ(alloc_boot_pages(0xf, 1), 0x1);
    EXPECT_RANGES();
}

/*
 *   63 ranges [4i, 4i + 3), then [0x1000 .......... 0x1100)   all 64 in use
 *   alloc 0x10 pages aligned to 0x80: 0x1080, the middle of the top range
 * Expect: the carve would split a range and no slot is left: a panic that
 * says "range slots", and the range is left whole. Aligned to 0x10 the
 * carve takes the top of the range (no split): 0x10f0.
 */
TEST(bootmem_alloc_split_when_full_panics)
{
    bootmem_reset();
    for (mfn_t i = 0; i + 1 < BOOTMEM_MAX_RANGES; i++)
        REQUIRE(bootmem_add_range(4 * i, 4 * i + 3) == 0, "add %lu", i);
    EXPECT_EQ(bootmem_add_range(0x1000, 0x1100), 0);
    EXPECT_PANIC(alloc_boot_pages(0x10, 0x80), "range slots");
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
    EXPECT_EQ(alloc_boot_pages(0x10, 0x10), 0x10f0);
    EXPECT_EQ(nr_ranges_now(), BOOTMEM_MAX_RANGES);
}

/*
 *   [0x100 .... 0x200)  [0x300 .. 0x304)  [0x400 . 0x402)
 * Expect: each block from the top of the highest range that holds it:
 * 2 pages take the top range whole (gone), 4 pages the next one whole,
 * 3 pages aligned to 4 the top of the last (0x1fc: misaligned ends are
 * not aligned starts), 8 aligned to 8 right below (0x1f0), and the
 * lowest range's very start can be the block (0x100).
 */
TEST(bootmem_alloc_from_the_top)
{
    bootmem_reset();
    EXPECT_EQ(bootmem_add_range(0x100, 0x200), 0);
    EXPECT_EQ(bootmem_add_range(0x300, 0x304), 0);
    EXPECT_EQ(bootmem_add_range(0x400, 0x402), 0);
    EXPECT_EQ(alloc_boot_pages(2, 1), 0x400);
    EXPECT_RANGES(0x100, 0x200, 0x300, 0x304);
    EXPECT_EQ(alloc_boot_pages(4, 4), 0x300);
    EXPECT_RANGES(0x100, 0x200);
    EXPECT_EQ(alloc_boot_pages(3, 4), 0x1fc);
    EXPECT_RANGES(0x100, 0x1fc, 0x1ff, 0x200);
    EXPECT_EQ(alloc_boot_pages(8, 8), 0x1f0);
    EXPECT_RANGES(0x100, 0x1f0, 0x1f8, 0x1fc, 0x1ff, 0x200);
    EXPECT_EQ(alloc_boot_pages(0x80, 0x80), 0x100);
    EXPECT_RANGES(0x180, 0x1f0, 0x1f8, 0x1fc, 0x1ff, 0x200);
}

/*
 *   node 0 [0x80000 .. 0x80100) node 1 [0x80100 .. 0x80200)   hole
 *   node 1 [0x81000 .. 0x81040) reserved [0x81040, 0x81050) [0x81050 ..
 *   0x81100), the frame table at its top; boot hart on node 1
 * The two touching banks are one free range, whose first frame is on
 * node 0: it is a range of node 0.
 * Expect: node 1's ranges first, in ascending order (0x81000, then
 * 0x81050), then the joined range, which init_heap_pages() splits per
 * node (0x80000, 0x80100); the reserved frames stay uninitialised; every
 * other frame is free but the frame table's and the two carves.
 */
TEST(bootmem_end_boot_node_ranges_first)
{
    static const struct sim_machine m = {
        .name = "touching banks of nodes 0 and 1, and node 1 apart",
        .nr_banks = 3,
        .banks = {{0x80000, 0x80100, 0},
                  {0x80100, 0x80200, 1},
                  {0x81000, 0x81100, 1}},
        .nr_reserved = 1,
        .reserved = {{0x81040, 0x81050}},
        .boot_node = 1,
    };
    mfn_t runs[SIM_MAX_RUNS_TRACED];
    unsigned int n;

    sim_boot(&m);
    EXPECT_RANGES(0x80000, 0x80200, 0x81000, 0x81040, 0x81050,
                  sim_frametable_mfn());
    sim_take_runs_asked(runs);
    end_boot_allocator();
    n = sim_take_runs_asked(runs);
    REQUIRE(n == 4,
            "%u node runs asked, expected 4 (0x81000, 0x81050, "
            "0x80000, 0x80100); the first 0x%lx",
            n, n ? runs[0] : 0);
    EXPECT_EQ(runs[0], 0x81000);
    EXPECT_EQ(runs[1], 0x81050);
    EXPECT_EQ(runs[2], 0x80000);
    EXPECT_EQ(runs[3], 0x80100);
    for (mfn_t f = 0x81040; f < 0x81050; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_UNINITIALISED),
               "reserved frame 0x%lx is not uninitialised", f);
    EXPECT_EQ(heap_total_free_pages(),
              0x300 - 0x10 - sim_frametable_pages() - 2 * 3);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0 [0x80000 ............. 0x80400)   boot hart on node 0
 *   boot allocations: 16 pages, then 1 page
 * Expect: after end_boot_allocator() the boot allocations (and the frame
 * table) are still uninitialised, every other frame is free (but the
 * carve), every call is a panic naming its function, and a boot
 * allocation freed later joins the heap.
 */
TEST(bootmem_end_leaves_allocations_uninitialised)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    mfn_t a, b;

    sim_boot(&m);
    a = alloc_boot_pages(16, 16);
    b = alloc_boot_pages(1, 1);
    end_boot_allocator();
    EXPECT(!bootmem_is_open(), "still open after end_boot_allocator()");
    for (mfn_t f = a; f < a + 16; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_UNINITIALISED),
               "boot frame 0x%lx is not uninitialised", f);
    EXPECT(page_state_is(mfn_to_page(b), PAGE_STATE_UNINITIALISED),
           "boot frame 0x%lx is not uninitialised", b);
    EXPECT_EQ(heap_total_free_pages(), 0x400 - 17 - sim_frametable_pages() - 3);
    EXPECT_PANIC(alloc_boot_pages(1, 1), "alloc_boot_pages: the boot allocator "
                                         "is closed");
    EXPECT_PANIC(bootmem_reserve_range(a, a + 1), "bootmem_reserve_range: the "
                                                  "boot allocator is closed");
    free_heap_pages(a, 4);
    EXPECT_EQ(heap_total_free_pages(), 0x400 - 1 - sim_frametable_pages() - 3);
    EXPECT_EQ(heap_check(), 0);
}
