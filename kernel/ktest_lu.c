/*
 * kernel/ktest_lu.c - suite lu: live update, across hand-overs in one run.
 *
 * Boot with ktest=lu.* lu_chain=N and the suite runs once per kernel of
 * a chain: the first kernel (generation 0) prepares, hands over when
 * every case passed (lu_after_tests), and each later kernel checks what
 * it inherited. lu_after_tests() alternates the policy (lu_pages=) at
 * each hand-over, so one run sees both. What each generation does:
 *
 *   0       two order-4 blocks on every node that stays partly free, each
 *           filled with a pattern seeded with its first frame, kept; one
 *           order-2 block entered in the monitor's `held` table, kept;
 *           with 2 or more nodes, the last node (with 3 or more, the last
 *           two) allocated whole and every frame of it that is not a
 *           reserved range kept: a node all of whose frames are
 *           preserved, and with two such nodes side by side a preserved
 *           range that spans them. The first 16 frames of every kept
 *           range hold its pattern.
 *   1       every range intact, in the state its policy gives it; the
 *           `held` block held; the whole nodes: no heap at boot under
 *           uninit (it appears on the first free), a heap with nothing free
 *           under inuse; then freed, each frame to its own node, totals
 *           exact; one order-4 block freed, free and merged.
 *   2..N-1  every range intact.
 *   N       every range intact, then all freed: totals exact.
 *
 * The refusals (a corrupt record, an unknown version, an overlapping
 * range) are asked of the record's reader here on records built in
 * memory; tests/qemu/test_liveupdate.py makes a real kernel panic on
 * each. heap_check() runs after every case.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/node_heap.h"
#include "board.h"
#include "bootargs.h"
#include "fallback.h"
#include "initrd.h"
#include "ktest.h"
#include "liveupdate.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"

#define PATTERN_FRAMES 16 /* frames of a kept range that hold its pattern */

static unsigned int nr_nodes(void)
{
    return board()->nr_nodes;
}

/* The first node allocated whole at generation 0; nr_nodes() if none. */
static unsigned int first_whole_node(void)
{
    unsigned int n = nr_nodes();

    return n >= 3 ? n - 2 : n == 2 ? 1 : n;
}

static mfn_t pattern_frames(const struct lu_range *r)
{
    return MIN(r->e - r->s, (mfn_t)PATTERN_FRAMES);
}

/* Fill the first frames of [s, e) with the pattern seeded with s. */
static void fill_range(mfn_t s, mfn_t e)
{
    for (mfn_t m = s; m < MIN(e, s + PATTERN_FRAMES); m++)
        lu_fill(m, 0, s);
}

/* True if frame m holds a byte of a reserved range of the machine. */
static bool reserved_frame(mfn_t m)
{
    const struct machine *mc = board();
    paddr_t pa = mfn_to_pa(m);

    for (unsigned int i = 0; i < mc->nr_reserved; i++)
        if (pa < mc->reserved[i].base + mc->reserved[i].size &&
            pa + PAGE_SIZE > mc->reserved[i].base)
            return true;
    return false;
}

/* Allocate every free frame of `node`; the blocks are left in use. */
static void take_whole_node(unsigned int node)
{
    for (int order = MAX_ORDER; order >= 0; order--)
        while (alloc_heap_pages((unsigned int)order, 0, node,
                                ALLOC_EXACT_NODE) != INVALID_MFN)
            ;
}

/* True if frame m is RAM of a node >= first and no reserved range's. */
static bool keepable(mfn_t m, unsigned int first)
{
    unsigned int node = mm_hook_mfn_to_node(m);

    return node != NUMA_NO_NODE && node >= first && !reserved_frame(m);
}

/*
 * Keep every keepable frame, in maximal runs (runs cross node boundaries
 * where banks touch: the range that spans two nodes).
 */
static void keep_whole_nodes(unsigned int first)
{
    const struct machine *mc = board();
    mfn_t s = pa_to_mfn(mc->banks[0].base);
    mfn_t e = pa_to_mfn(mc->banks[mc->nr_banks - 1].base +
                        mc->banks[mc->nr_banks - 1].size);
    mfn_t run = INVALID_MFN;

    for (mfn_t m = s; m <= e; m++) {
        bool keep = m < e && keepable(m, first);

        if (keep && run == INVALID_MFN)
            run = m;
        if (!keep && run != INVALID_MFN) {
            REQUIRE_EQ(lu_keep(run, m, LU_OWNER_KTEST, 0), 0);
            fill_range(run, m);
            run = INVALID_MFN;
        }
    }
}

/*
 * The next kernel of the chain may be a bigger image (numbat-old, whose
 * MAX_ORDER 20 makes its arrays larger): a kept block must not lie in the
 * frames just past this image, which that one would overlap.
 */
#define IMAGE_SLACK_PAGES 512 /* 2 MiB */
#define CLEAR_TRIES 64

/* A block of `order` on `node`, not within IMAGE_SLACK_PAGES of the image. */
static mfn_t alloc_clear_of_image(unsigned int order, unsigned int node)
{
    mfn_t near[CLEAR_TRIES], m = INVALID_MFN, end = pa_to_mfn(board_kernel_end());
    unsigned int n = 0;

    while (n < CLEAR_TRIES) {
        m = alloc_heap_pages(order, 0, node, ALLOC_EXACT_NODE);
        if (m == INVALID_MFN || m >= end + IMAGE_SLACK_PAGES ||
            m + ((mfn_t)1 << order) <= pa_to_mfn(board_kernel_start()))
            break;
        near[n++] = m; /* too close: hold it until a block further off */
        m = INVALID_MFN;
    }
    while (n)
        free_heap_pages(near[--n], order);
    return m;
}

/*
 * A block of `order` from a node below first_whole_node(), never from a
 * node that keep_whole_nodes() keeps whole: the boot hart can sit on any
 * node, so a local allocation could land there and be kept twice.
 */
static mfn_t alloc_below_whole_nodes(unsigned int order)
{
    for (unsigned int node = 0; node < first_whole_node(); node++) {
        mfn_t m = alloc_clear_of_image(order, node);

        if (m != INVALID_MFN)
            return m;
    }
    return INVALID_MFN;
}

/*
 * In a kernel whose MAX_ORDER is above 18 (the "old" build), one block of
 * order 19 if the machine has one: the new kernel must free it in blocks
 * of its own MAX_ORDER.
 */
static void big_block(void)
{
    mfn_t m;

    if (MAX_ORDER <= 18)
        return;
    m = alloc_below_whole_nodes(19);
    if (m == INVALID_MFN)
        return;
    REQUIRE_EQ(lu_keep(m, m + ((mfn_t)1 << 19), LU_OWNER_KTEST, 19), 0);
    fill_range(m, m + ((mfn_t)1 << 19));
}

static void prepare(void)
{
    mfn_t held;

    if (lu_generation() != 0)
        KTEST_SKIP("generation 0 only");
    if (bootargs.lu_chain == 0) /* ktest=* runs this suite too */
        KTEST_SKIP("needs lu_chain=N: nothing would check what it keeps");
    for (unsigned int node = 0; node < first_whole_node(); node++) {
        for (int i = 0; i < 2; i++) {
            mfn_t m = alloc_clear_of_image(4, node);

            REQUIRE_NE(m, INVALID_MFN);
            REQUIRE_EQ(lu_keep(m, m + 16, LU_OWNER_KTEST, 4), 0);
            fill_range(m, m + 16);
        }
    }
    big_block(); /* an old kernel's block above today's MAX_ORDER */
    held = alloc_below_whole_nodes(2);
    REQUIRE_NE(held, INVALID_MFN);
    REQUIRE_TRUE(monitor_held_adopt(held, 2));
    REQUIRE_EQ(lu_keep(held, held + 4, LU_OWNER_MONITOR, 2), 0);
    for (unsigned int node = first_whole_node(); node < nr_nodes(); node++)
        take_whole_node(node);
    keep_whole_nodes(first_whole_node());
}

/* The state policy `p` must give an inherited frame that is not freed. */
static bool state_as_policy(mfn_t m)
{
    const struct page_info *pg = mfn_to_page(m);

    if (lu_policy() == LU_POLICY_INUSE)
        return page_state(pg) == PAGE_STATE_INUSE && pg->nr_inits == 1 &&
               pg->node == mm_hook_mfn_to_node(m);
    return page_state(pg) == PAGE_STATE_UNINITIALISED && pg->nr_inits == 0;
}

static void inherited_intact(void)
{
    const struct lu_record *r = lu_inherited();
    unsigned long bad_state = 0;

    if (lu_generation() == 0)
        KTEST_SKIP("a cold boot inherits nothing");
    REQUIRE_TRUE(r->h.nr_ranges > 0);
    for (unsigned int i = 0; i < r->h.nr_ranges; i++) {
        const struct lu_range *g = &r->ranges[i];
        paddr_t bad = 0;

        for (mfn_t m = g->s; m < g->s + pattern_frames(g); m++)
            if (g->owner == LU_OWNER_KTEST && !lu_verify(m, 0, g->s, &bad))
                break;
        EXPECT_EQ(bad, 0u);
        for (mfn_t m = g->s; m < g->e; m++)
            bad_state += !state_as_policy(m);
        if (g->owner == LU_OWNER_MONITOR)
            EXPECT_TRUE(monitor_held_live(g->s, g->order));
    }
    EXPECT_EQ(bad_state, 0u);
}

/* Free pages of every node, into f[]. */
static void free_per_node(unsigned long *f)
{
    for (unsigned int n = 0; n < nr_nodes(); n++)
        f[n] = heap_free_pages_node(n);
}

/*
 * Release every inherited ktest range that `pick` picks, and check that
 * each node's free pages grew by exactly its frames of them (less the
 * frames carved for a node heap this free created).
 */
static void release_and_count(bool (*pick)(const struct lu_range *))
{
    const struct lu_record *r = lu_inherited();
    unsigned long before[MAX_NUMNODES], after[MAX_NUMNODES];
    unsigned long want[MAX_NUMNODES] = {0};
    bool existed[MAX_NUMNODES];

    free_per_node(before);
    for (unsigned int n = 0; n < nr_nodes(); n++)
        existed[n] = heap_node_exists(n);
    for (unsigned int i = 0; i < r->h.nr_ranges; i++) {
        const struct lu_range *g = &r->ranges[i];

        if (g->owner != LU_OWNER_KTEST || !pick(g))
            continue;
        for (mfn_t m = g->s; m < g->e; m++)
            want[mm_hook_mfn_to_node(m)]++;
        EXPECT_EQ(lu_release(g->s, g->e), g->e - g->s);
    }
    free_per_node(after);
    for (unsigned int n = 0; n < nr_nodes(); n++) {
        unsigned long carved = want[n] && !existed[n] ? NODE_HEAP_PAGES : 0;

        EXPECT_EQ(after[n] - before[n], want[n] - carved);
    }
}

/* True if boot freed initrd frames of `node` (so its heap exists). */
static bool initrd_freed_on(unsigned int node)
{
    const struct initrd_info *in = initrd_info();

    return in->fate == INITRD_FREED && in->freed_s < in->freed_e &&
           mm_hook_mfn_to_node(in->freed_s) == node;
}

static bool on_whole_nodes(const struct lu_range *g)
{
    return mm_hook_mfn_to_node(g->e - 1) >= first_whole_node();
}

static void whole_nodes(void)
{
    unsigned int last = nr_nodes() - 1;

    if (lu_generation() != 1)
        KTEST_SKIP("generation 1 only");
    if (nr_nodes() < 2)
        KTEST_SKIP("needs 2 nodes: one of them allocated whole");
    if (lu_policy() == LU_POLICY_UNINIT) {
        /* it appears on the first free: the initrd's, if that was there */
        EXPECT_EQ(heap_node_exists(last), initrd_freed_on(last));
    } else {
        EXPECT_TRUE(heap_node_exists(last)); /* made at boot, from the pool */
        EXPECT_EQ(heap_free_pages_node(last), 0u);
    }
    release_and_count(on_whole_nodes);
    EXPECT_TRUE(heap_node_exists(last));
    EXPECT_EQ(heap_check(), 0);
}

/* A kept range that spans two nodes exists with 3 nodes or more. */
static void spanning_range(void)
{
    const struct lu_record *r = lu_inherited();
    bool found = false;

    if (lu_generation() != 1)
        KTEST_SKIP("generation 1 only");
    if (nr_nodes() < 3)
        KTEST_SKIP("needs 3 nodes: two of them allocated whole");
    for (unsigned int i = 0; i < r->h.nr_ranges; i++)
        found |= mm_hook_mfn_to_node(r->ranges[i].s) !=
                 mm_hook_mfn_to_node(r->ranges[i].e - 1);
    EXPECT_TRUE(found); /* freed by whole_nodes: each part on its node */
}

/* The first kept order-4 block of node 0, freed: free and merged. */
static bool first_block(const struct lu_range *g)
{
    const struct lu_record *r = lu_inherited();

    for (unsigned int i = 0; i < r->h.nr_ranges; i++)
        if (r->ranges[i].owner == LU_OWNER_KTEST && r->ranges[i].order == 4)
            return &r->ranges[i] == g;
    return false;
}

static void block_freed_merged(void)
{
    const struct lu_record *r = lu_inherited();

    if (lu_generation() != 1)
        KTEST_SKIP("generation 1 only");
    release_and_count(first_block);
    for (unsigned int i = 0; i < r->h.nr_ranges; i++) {
        if (!first_block(&r->ranges[i]))
            continue;
        for (mfn_t m = r->ranges[i].s; m < r->ranges[i].e; m++)
            EXPECT_EQ(page_state(mfn_to_page(m)), PAGE_STATE_FREE);
    }
    EXPECT_EQ(heap_check(), 0); /* no free block with a free buddy left */
}

static bool any_range(const struct lu_range *g)
{
    (void)g;
    return true;
}

static void last_of_chain(void)
{
    const struct lu_range *k;

    if (lu_generation() == 0 || lu_generation() < bootargs.lu_chain)
        KTEST_SKIP("the last kernel of the chain only");
    /* what boot handed over (all of it in the heap now: the runner
     * settled), plus the record's frame that lu_adopt() freed and the
     * initrd freed at boot */
    EXPECT_EQ(mm_boot_accounted_pages(), mm_boot_stats()->handed_pages + 1 +
                                             initrd_info()->nr_freed);
    release_and_count(any_range);
    lu_forget(0, ~(mfn_t)0); /* the monitor's block too: the chain ends */
    EXPECT_EQ(lu_kept(&k), 0u);
}

/* ---- the reader, on records built here ----------------------------------- */

static uint8_t buf[LU_RECORD_MAX_BYTES] __aligned(8);

static long build(struct lu_record *r, unsigned int nr)
{
    const char *why;

    memset(r, 0, sizeof(*r));
    r->h.generation = 1;
    r->h.max_order = MAX_ORDER;
    r->h.mfn0_rule = LU_MFN0_EXCLUDED;
    r->h.zone_rule = LU_ZONE_BIT_WIDTH;
    r->h.nr_ranges = nr;
    for (unsigned int i = 0; i < nr; i++)
        r->ranges[i] = (struct lu_range){0x90000 + 32 * i, 0x90010 + 32 * i,
                                         LU_OWNER_KTEST, 4};
    return lu_record_write(buf, sizeof(buf), r, &why);
}

static void record_reader(void)
{
    static struct lu_record r, out;
    const char *why = "";
    long n = build(&r, 3);

    REQUIRE_TRUE(n > 0);
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), 0);
    EXPECT_EQ(out.h.nr_ranges, 3u);
    buf[n - 3] ^= 1;
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), -EBADMSG);
    EXPECT_EQ(strncmp(why, "corrupt", 7), 0);
    build(&r, 3);
    ((struct lu_record_header *)buf)->version = 2;
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), -ENOSYS);
    build(&r, 3);
    buf[0] = 0;
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), -ENOENT);
    build(&r, 3);
    EXPECT_EQ(lu_record_overlap(&r, 0x90020, 0x90021), 1);
    EXPECT_EQ(lu_record_overlap(&r, 0x90010, 0x90020), -1);
}

static const struct ktest_case lu_cases[] = {
    KTEST_CASE(record_reader),   KTEST_CASE(prepare),
    KTEST_CASE(inherited_intact), KTEST_CASE(whole_nodes),
    KTEST_CASE(spanning_range),  KTEST_CASE(block_freed_merged),
    KTEST_CASE(last_of_chain),
};
KTEST_SUITE_AFTER(lu, lu_cases, ktest_heap_after_case);

/* ---- suite bench_lu: what each policy costs, for tests/bench/bench_lu.py -- */

/*
 * Generation 0 keeps whole blocks of order BENCH_ORDER (as many as
 * LU_MAX_RANGES allow, leaving a quarter of the machine free); generation
 * 1 prints what lu_adopt() spent at boot on its policy and what the
 * first free of everything costs, in microseconds of the timer.
 */
static void bench_keep(void)
{
    unsigned int order = board()->nr_nodes > 1 ? 18 : 13; /* 1 GiB, 32 MiB */
    unsigned long want = heap_total_free_pages() * 3 / 4 >> order;

    if (lu_generation() != 0 || bootargs.lu_chain == 0)
        KTEST_SKIP("generation 0 of a chain only");
    for (unsigned long i = 0; i < want && i < LU_MAX_RANGES; i++) {
        mfn_t m = alloc_heap_pages(order, 0, NUMA_NO_NODE, 0);

        REQUIRE_NE(m, INVALID_MFN);
        REQUIRE_EQ(lu_keep(m, m + ((mfn_t)1 << order), LU_OWNER_KTEST, order),
                   0);
    }
}

static uint64_t bench_ticks(void)
{
    uint64_t t;

    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

static void bench_costs(void)
{
    const struct lu_record *r = lu_inherited();
    unsigned long pages = 0;
    uint64_t t0, t1;

    if (lu_generation() == 0)
        KTEST_SKIP("a cold boot inherits nothing");
    t0 = bench_ticks();
    for (unsigned int i = 0; i < r->h.nr_ranges; i++)
        pages += lu_release(r->ranges[i].s, r->ranges[i].e);
    t1 = bench_ticks();
    printk("    # bench_lu: policy %s pages %lu boot_us %lu first_free_us %lu\n",
           lu_policy_name(lu_policy()), pages,
           (unsigned long)(lu_adopt_ticks() * 1000000 / FALLBACK_TIMEBASE_HZ),
           (unsigned long)((t1 - t0) * 1000000 / FALLBACK_TIMEBASE_HZ));
}

static const struct ktest_case bench_lu_cases[] = {
    KTEST_CASE(bench_keep),
    KTEST_CASE(bench_costs),
};
KTEST_SUITE(bench_lu, bench_lu_cases);
