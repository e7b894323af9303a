/*
 * labs/bootmem/hidden/test_hidden_bootmem.c - hidden tests of the bootmem
 * lab. The grader copies this file into tests/host/ of its pristine tree;
 * handouts never contain it.
 */
#include <numbat/compiler.h>
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

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

/* ---- a model: the free frames of [0, MODEL_FRAMES) as one flag each ---- */

#define MODEL_FRAMES 512
#define MODEL_MAX_RANGES 48 /* keep clear of BOOTMEM_MAX_RANGES */

static bool model_free[MODEL_FRAMES];

struct mranges {
    unsigned int n;                  /* ranges seen */
    mfn_t s[BOOTMEM_MAX_RANGES + 1]; /* their starts */
    mfn_t e[BOOTMEM_MAX_RANGES + 1]; /* their ends */
};

static void mcollect(mfn_t s, mfn_t e, void *arg)
{
    struct mranges *r = arg;

    if (r->n <= BOOTMEM_MAX_RANGES) {
        r->s[r->n] = s;
        r->e[r->n] = e;
    }
    r->n++;
}

static struct mranges mranges_now(void)
{
    struct mranges r = {0};

    bootmem_for_each_range(mcollect, &r);
    return r;
}

static uint64_t hnext(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* The model's ranges: maximal runs of free frames, ascending. */
static struct mranges model_ranges(void)
{
    struct mranges r = {0};

    for (mfn_t f = 0; f < MODEL_FRAMES; f++) {
        if (!model_free[f] || (f > 0 && model_free[f - 1]))
            continue;
        mfn_t e = f;

        while (e < MODEL_FRAMES && model_free[e])
            e++;
        mcollect(f, e, &r);
    }
    return r;
}

static bool mranges_same(const struct mranges *a, const struct mranges *b)
{
    if (a->n != b->n)
        return false;
    for (unsigned int i = 0; i < a->n; i++)
        if (a->s[i] != b->s[i] || a->e[i] != b->e[i])
            return false;
    return true;
}

/* Top-down, aligned, highest range first: where the model puts a block. */
static mfn_t model_alloc(unsigned long nr, unsigned long align)
{
    struct mranges r = model_ranges();

    for (unsigned int i = r.n; i-- > 0;) {
        mfn_t s;

        if (r.e[i] - r.s[i] < nr)
            continue;
        s = (r.e[i] - nr) & ~(mfn_t)(align - 1);
        if (s >= r.s[i])
            return s;
    }
    return INVALID_MFN;
}

/*
 *   frames [0, 512): random adds, reservations (empty and inverted ones
 *   too) and aligned allocations, checked against a model that keeps one
 *   "free" flag per frame
 * Expect: after every step the ranges are exactly the model's maximal
 * runs of free frames, every return value is the model's, and every
 * allocation is the model's top-down choice (or "out of boot memory").
 */
TEST(hidden_bootmem_random_against_a_model)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (int round = 0; round < 20; round++) {
        bootmem_reset();
        memset(model_free, 0, sizeof(model_free));
        for (int step = 0; step < 200; step++) {
            unsigned int op = (unsigned int)(hnext(&x) % 8);
            mfn_t s = hnext(&x) % MODEL_FRAMES, len = hnext(&x) % 48;
            mfn_t e = MIN(s + len, (mfn_t)MODEL_FRAMES);
            struct mranges want, got;
            bool saved[MODEL_FRAMES];

            memcpy(saved, model_free, sizeof(saved));
            if (op < 3 || op == 7) { /* add, sometimes empty or inverted */
                bool inverted = op == 7 && s < e;
                int rc;

                for (mfn_t f = s; f < e && !inverted; f++)
                    model_free[f] = true;
                if (model_ranges().n > MODEL_MAX_RANGES) {
                    memcpy(model_free, saved, sizeof(saved));
                    continue;
                }
                rc = inverted ? bootmem_add_range(e, s)
                              : bootmem_add_range(s, e);
                REQUIRE(rc == (inverted ? -EINVAL : 0),
                        "round %d step %d: bootmem_add_range(0x%lx, 0x%lx) "
                        "returned %d",
                        round, step, inverted ? e : s, inverted ? s : e, rc);
            } else if (op < 6) { /* reserve, sometimes empty */
                int rc;

                if (op == 5)
                    e = s;
                for (mfn_t f = s; f < e; f++)
                    model_free[f] = false;
                if (model_ranges().n > MODEL_MAX_RANGES) {
                    memcpy(model_free, saved, sizeof(saved));
                    continue;
                }
                rc = bootmem_reserve_range(s, e);
                REQUIRE(rc == 0,
                        "round %d step %d: bootmem_reserve_range("
                        "0x%lx, 0x%lx) returned %d",
                        round, step, s, e, rc);
            } else { /* an allocation */
                unsigned long nr = 1 + len % 24;
                unsigned long align = 1ul << (hnext(&x) % 6);
                mfn_t m = model_alloc(nr, align);

                if (m == INVALID_MFN) {
                    EXPECT_PANIC(alloc_boot_pages(nr, align),
                                 "out of boot memory");
                } else {
                    for (mfn_t f = m; f < m + nr; f++)
                        model_free[f] = false;
                    if (model_ranges().n > MODEL_MAX_RANGES) {
                        memcpy(model_free, saved, sizeof(saved));
                        continue;
                    }
                    mfn_t got_m = alloc_boot_pages(nr, align);
                    REQUIRE(got_m == m,
                            "round %d step %d: alloc_boot_pages("
                            "%lu, %lu) gave 0x%lx, expected 0x%lx",
                            round, step, nr, align, got_m, m);
                }
            }
            want = model_ranges();
            got = mranges_now();
            REQUIRE(mranges_same(&want, &got),
                    "round %d step %d (op %u, [0x%lx, 0x%lx)): %u ranges, the "
                    "model has %u; first [0x%lx, 0x%lx), the model's "
                    "[0x%lx, 0x%lx)",
                    round, step, op, s, e, got.n, want.n, got.s[0], got.e[0],
                    want.s[0], want.e[0]);
        }
    }
}
