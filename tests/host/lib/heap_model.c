/*
 * tests/host/lib/heap_model.c - randomized runs of the heap against a
 * shadow model.
 *
 * The model keeps, for every frame of the simulated machine, who owns it:
 *
 *   HELD   uninitialised and held outside the heap (a boot allocation, a
 *          reserved range, the frame table): the test may free it later;
 *   FREE   in the heap, free;          ALLOC  allocated from the heap;
 *   META   carved for a node heap;     OUT    never the heap's (holes, MFN 0).
 *
 * Every operation is checked twice: against the model (the free pages of
 * every node; an allocation comes from frames the model holds free, from
 * the node and zone the policy picks) and by heap_check() (the heap's own
 * invariants). The node and zone an allocation must come from are worked
 * out here independently of mm/: the requested node, then the others by
 * distance (ties by id), each highest zone first, using only the public
 * counters heap_free_blocks() and heap_free_pages_in().
 *
 * Runs are seeded: the same seed and shape replay the same operations.
 */
#include "tests/host/lib/heap_model.h"

#include <stdlib.h>

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"
#include "mm/page.h"
#include "tests/host/lib/harness.h"

enum owner { OWN_OUT, OWN_HELD, OWN_FREE, OWN_ALLOC, OWN_META };

struct block {
    mfn_t mfn;          /* first frame */
    unsigned int order; /* log2 of its frames */
};

static struct {
    const struct sim_machine *m; /* the machine of this run */
    mfn_t first, end;            /* frames the model covers */
    uint8_t *own;                /* enum owner per frame */
    struct block *alloc;         /* blocks allocated from the heap */
    unsigned long nr_alloc;
    struct block *held; /* uninitialised blocks we may free */
    unsigned long nr_held;
    unsigned long free_on[MAX_NUMNODES]; /* model's free pages per node */
    unsigned int zone_lo, zone_hi;       /* zones the machine has */
    uint64_t rng;                        /* xorshift64* state */
    const char *op; /* the running operation, for messages */
} md;

/* ---- small helpers ------------------------------------------------------- */

static uint64_t rnd(void)
{
    md.rng ^= md.rng >> 12;
    md.rng ^= md.rng << 25;
    md.rng ^= md.rng >> 27;
    return md.rng * 0x2545F4914F6CDD1DULL;
}

static unsigned long rnd_below(unsigned long n)
{
    return n ? (unsigned long)(rnd() % n) : 0;
}

static void set_owner(mfn_t mfn, enum owner o)
{
    unsigned int node = sim_node_of(mfn);

    if (md.own[mfn - md.first] == OWN_FREE)
        md.free_on[node]--;
    if (o == OWN_FREE)
        md.free_on[node]++;
    md.own[mfn - md.first] = (uint8_t)o;
}

static void push(struct block *list, unsigned long *nr, mfn_t mfn,
                 unsigned int order)
{
    list[(*nr)++] = (struct block){mfn, order};
}

static struct block take(struct block *list, unsigned long *nr, unsigned long i)
{
    struct block b = list[i];

    list[i] = list[--*nr];
    return b;
}

/* Split [s, e) into its largest aligned blocks and hold them. */
static void hold_range(mfn_t s, mfn_t e)
{
    while (s < e) {
        unsigned int order =
            s ? MIN((unsigned int)__builtin_ctzl(s), 10u) : 10u;

        while ((1UL << order) > e - s)
            order--;
        push(md.held, &md.nr_held, s, order);
        s += 1UL << order;
    }
}

/* ---- the model at boot --------------------------------------------------- */

static void model_alloc_tables(void)
{
    unsigned long frames;

    md.first = sim_ram_first();
    md.end = sim_ram_end();
    frames = md.end - md.first;
    free(md.own);
    free(md.alloc);
    free(md.held);
    md.own = calloc(frames, 1);
    md.alloc = calloc(frames, sizeof(*md.alloc));
    md.held = calloc(frames, sizeof(*md.held));
    md.nr_alloc = md.nr_held = 0;
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        md.free_on[n] = 0;
    md.zone_lo = mfn_zone(md.first ? md.first : 1);
    md.zone_hi = mfn_zone(md.end - 1);
}

/* Would alloc_boot_pages(n, n) find room? (It panics when it does not.) */
static mfn_t fit_top;
static void fit_cb(mfn_t s, mfn_t e, void *arg)
{
    unsigned long n = *(unsigned long *)arg;

    if (e - s >= n && ALIGN_DOWN(e - n, (mfn_t)n) >= s)
        fit_top = 1;
}

static bool boot_fits(unsigned long n)
{
    fit_top = 0;
    bootmem_for_each_range(fit_cb, &n);
    return fit_top;
}

static void mark_heap_range(mfn_t s, mfn_t e, void *arg)
{
    (void)arg;
    for (mfn_t m = s; m < e; m++)
        md.own[m - md.first] = OWN_FREE; /* settled by model_settle() */
}

/* One frame that went through init_heap_pages: FREE, META or OUT. */
static void model_settle_frame(mfn_t m, unsigned int carved[MAX_NUMNODES])
{
    const struct page_info *pg = mfn_to_page(m);

    md.own[m - md.first] = OWN_HELD;
    if (m == 0) {
        set_owner(m, OWN_OUT);
    } else if (page_has_flag(pg, PGC_NODE_META)) {
        set_owner(m, OWN_META);
        carved[pg->node]++;
    } else {
        set_owner(m, OWN_FREE);
    }
}

/* A node heap is carved once, NODE_HEAP_PAGES frames, when it is created. */
static void model_check_carves(const unsigned int carved[MAX_NUMNODES],
                               const bool had_heap[MAX_NUMNODES])
{
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        if (carved[n])
            EXPECT(!had_heap[n] && carved[n] == NODE_HEAP_PAGES,
                   "%s: node %u: %u frames carved (had a heap: %d)", md.op, n,
                   carved[n], had_heap[n]);
}

/* After frames [s, e) went through init_heap_pages. */
static void model_settle(mfn_t s, mfn_t e, const bool had_heap[MAX_NUMNODES])
{
    unsigned int carved[MAX_NUMNODES] = {0};

    for (mfn_t m = s; m < e; m++)
        model_settle_frame(m, carved);
    model_check_carves(carved, had_heap);
}

static void heaps_now(bool had[MAX_NUMNODES])
{
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        had[n] = heap_node_exists(n);
}

/* Settle every frame that end_boot_allocator handed over. */
static void model_settle_boot(void)
{
    bool had[MAX_NUMNODES] = {false};
    unsigned int carved[MAX_NUMNODES] = {0};

    for (mfn_t m = md.first; m < md.end; m++)
        if (md.own[m - md.first] == OWN_FREE)
            model_settle_frame(m, carved);
    model_check_carves(carved, had);
}

static void model_boot(const struct sim_machine *m)
{
    unsigned int nr_boot = (unsigned int)rnd_below(9);

    sim_boot(m);
    model_alloc_tables();
    for (unsigned int i = 0; i < m->nr_banks; i++)
        for (mfn_t f = m->banks[i].s; f < m->banks[i].e; f++)
            md.own[f - md.first] = OWN_HELD;
    for (unsigned int i = 0; i < nr_boot; i++) {
        unsigned int order = (unsigned int)rnd_below(6);

        if (boot_fits(1UL << order))
            push(md.held, &md.nr_held,
                 alloc_boot_pages(1UL << order, 1UL << order), order);
    }
    for (unsigned int i = 0; i < m->nr_reserved; i++)
        hold_range(m->reserved[i].s, m->reserved[i].e);
    bootmem_for_each_range(mark_heap_range, NULL);
    end_boot_allocator();
    md.op = "end_boot_allocator";
    model_settle_boot();
}

/* ---- checks after every operation ---------------------------------------- */

static void model_check(void)
{
    REQUIRE(heap_check() == 0, "after %s", md.op);
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        REQUIRE(heap_free_pages_node(n) == md.free_on[n],
                "after %s: node %u has %lu free pages, the model says %lu",
                md.op, n, heap_free_pages_node(n), md.free_on[n]);
}

/* ---- allocation: what the policy must pick ------------------------------- */

/* The highest zone <= max_zone of node n with a free block of >= order; 0 if
 * none. */
static unsigned int fitting_zone(unsigned int n, unsigned int order,
                                 unsigned int max_zone)
{
    for (unsigned int z = MIN(md.zone_hi, max_zone); z >= md.zone_lo && z > 0;
         z--) {
        if (heap_free_pages_in(n, z) < (1UL << order))
            continue;
        for (unsigned int j = order; j <= MAX_ORDER; j++)
            if (heap_free_blocks(n, z, j))
                return z;
    }
    return 0;
}

/* Nodes in the order the policy tries them, written independently of mm/numa.c.
 */
static unsigned int policy_order(unsigned int node, bool exact,
                                 unsigned int out[MAX_NUMNODES])
{
    unsigned int n = 0, nr = mm_hook_nr_nodes();

    out[n++] = node;
    for (unsigned int d = 0; !exact && d <= 255; d++)
        for (unsigned int c = 0; c < nr; c++)
            if (c != node && mm_hook_node_distance(node, c) == d)
                out[n++] = c;
    return n;
}

static void op_alloc(void)
{
    static const unsigned int orders[] = {0, 0, 0, 0, 0, 1, 1,
                                          2, 2, 3, 4, 5, 7, 9};
    unsigned int order = orders[rnd_below(ARRAY_SIZE(orders))];
    unsigned int bits =
        rnd_below(4) ? 0
                     : PAGE_SHIFT + md.zone_lo +
                           (unsigned int)rnd_below(md.zone_hi - md.zone_lo + 2);
    unsigned int nr = mm_hook_nr_nodes(),
                 node =
                     rnd_below(2) ? NUMA_NO_NODE : (unsigned int)rnd_below(nr);
    bool exact = rnd_below(4) == 0;
    unsigned int max_zone = bits ? bits - PAGE_SHIFT : NR_ZONES - 1;
    unsigned int tries[MAX_NUMNODES], want_node = NUMA_NO_NODE, want_zone = 0;
    unsigned int nr_tries;
    mfn_t mfn;

    md.op = "alloc_heap_pages";
    sim_set_this_node((unsigned int)rnd_below(nr));
    nr_tries = policy_order(node == NUMA_NO_NODE ? mm_hook_this_node() : node,
                            exact, tries);
    for (unsigned int i = 0; i < nr_tries && !want_zone; i++)
        if ((want_zone = fitting_zone(tries[i], order, max_zone)))
            want_node = tries[i];
    mfn = alloc_heap_pages(order, bits, node, exact ? ALLOC_EXACT_NODE : 0);
    if (want_zone == 0) {
        REQUIRE(mfn == INVALID_MFN,
                "alloc order %u bits %u node %u exact %d gave 0x%lx, "
                "the model sees no fit",
                order, bits, node, exact, mfn);
        return;
    }
    REQUIRE(mfn != INVALID_MFN,
            "alloc order %u bits %u node %u exact %d failed; "
            "node %u zone %u has a fit",
            order, bits, node, exact, want_node, want_zone);
    REQUIRE(sim_node_of(mfn) == want_node && mfn_zone(mfn) == want_zone &&
                IS_ALIGNED(mfn, 1UL << order),
            "alloc order %u gave 0x%lx (node %u zone %u), policy says node %u "
            "zone %u",
            order, mfn, sim_node_of(mfn), mfn_zone(mfn), want_node, want_zone);
    for (mfn_t m = mfn; m < mfn + (1UL << order); m++) {
        REQUIRE(md.own[m - md.first] == OWN_FREE,
                "alloc gave frame 0x%lx, owner %u", m, md.own[m - md.first]);
        set_owner(m, OWN_ALLOC);
    }
    push(md.alloc, &md.nr_alloc, mfn, order);
}

/* ---- freeing ------------------------------------------------------------- */

static void op_free_alloc(void)
{
    struct block b;

    if (md.nr_alloc == 0)
        return;
    b = take(md.alloc, &md.nr_alloc, rnd_below(md.nr_alloc));
    md.op = "free_heap_pages (allocated block)";
    if (b.order > 0 && rnd_below(4) == 0) { /* free it as two halves */
        free_heap_pages(b.mfn, b.order - 1);
        free_heap_pages(b.mfn + (1UL << (b.order - 1)), b.order - 1);
    } else {
        free_heap_pages(b.mfn, b.order);
    }
    for (mfn_t m = b.mfn; m < b.mfn + (1UL << b.order); m++)
        set_owner(m, OWN_FREE);
}

static void op_free_held(void)
{
    bool had[MAX_NUMNODES];
    struct block b;

    if (md.nr_held == 0)
        return;
    b = take(md.held, &md.nr_held, rnd_below(md.nr_held));
    heaps_now(had);
    if (b.order <= 5 && rnd_below(2)) {
        md.op = "free_heap_pages (held block, frame by frame)";
        for (mfn_t m = b.mfn; m < b.mfn + (1UL << b.order); m++)
            free_heap_pages(m, 0);
    } else {
        md.op = "free_heap_pages (held block, whole)";
        free_heap_pages(b.mfn, b.order);
    }
    model_settle(b.mfn, b.mfn + (1UL << b.order), had);
}

/* A free, carved or MFN 0 frame freed again must panic and change nothing. */
static void op_bad_free(void)
{
    mfn_t m = md.first + rnd_below(md.end - md.first);
    enum owner o = md.own[m - md.first];

    md.op = "bad free (expected panic)";
    if (o == OWN_FREE)
        EXPECT_PANIC(free_heap_pages(m, 0), "not inuse (double free?)");
    else if (o == OWN_META)
        EXPECT_PANIC(free_heap_pages(m, 0), "carved for a node heap");
    else if (o == OWN_OUT && m == 0 &&
             page_state_is(mfn_to_page(0), PAGE_STATE_OFFLINED))
        EXPECT_PANIC(free_heap_pages(m, 0), "MFN 0");
}

/* ---- the run
 * ------------------------------------------------------------------ */

static void model_drain(void)
{
    while (md.nr_alloc)
        op_free_alloc();
    while (md.nr_held)
        op_free_held();
    model_check();
}

unsigned long heap_model_run(const struct sim_machine *m, uint64_t seed,
                             unsigned long nr_ops)
{
    md.m = m;
    md.rng = seed | 1;
    sim_set_frame_by_frame(seed & 2); /* half the runs: mm/'s default */
    model_boot(m);
    model_check();
    for (unsigned long i = 0; i < nr_ops; i++) {
        unsigned long r = rnd_below(100);

        if (r < 50)
            op_alloc();
        else if (r < 88)
            op_free_alloc();
        else if (r < 97)
            op_free_held();
        else
            op_bad_free();
        model_check();
    }
    model_drain();
    sim_set_frame_by_frame(false);
    sim_teardown();
    return nr_ops;
}

/* ---- the machine shapes -------------------------------------------------- */

#define BANK(s, e, n)                                                          \
    {                                                                          \
        (s), (e), (n)                                                          \
    }

const struct sim_machine heap_model_shapes[] = {
    {.name = "one node, 64 frames",
     .nr_banks = 1,
     .banks = {BANK(0x80000, 0x80040, 0)}},
    {.name = "one node, 256 frames, initrd",
     .nr_banks = 1,
     .banks = {BANK(0x80000, 0x80100, 0)},
     .nr_reserved = 1,
     .reserved = {{0x80040, 0x80070}}},
    {.name = "one node, 4096 frames",
     .nr_banks = 1,
     .banks = {BANK(0x80000, 0x81000, 0)}},
    {.name = "two nodes, contiguous, unaligned boundary",
     .nr_banks = 2,
     .banks = {BANK(0x80000, 0x800c3, 0), BANK(0x800c3, 0x80200, 1)}},
    {.name = "two nodes with a hole between",
     .nr_banks = 2,
     .banks = {BANK(0x80000, 0x80100, 0), BANK(0x80140, 0x80300, 1)}},
    {.name = "RAM at MFN 0",
     .nr_banks = 1,
     .banks = {BANK(0, 0x200, 0)},
     .nr_reserved = 1,
     .reserved = {{0x0, 0x8}}},
    {.name = "RAM at MFN 0, two nodes",
     .nr_banks = 2,
     .banks = {BANK(0, 0x100, 0), BANK(0x100, 0x300, 1)},
     .boot_node = 1},
    {.name = "tiny nodes (3, 5, 16, 200 frames)",
     .nr_banks = 4,
     .banks = {BANK(0x1000, 0x1003, 0), BANK(0x1003, 0x1008, 1),
               BANK(0x1010, 0x1020, 2), BANK(0x1100, 0x11c8, 3)},
     .boot_node = 3},
    {.name = "one-page banks",
     .nr_banks = 5,
     .banks = {BANK(0x2000, 0x2001, 0), BANK(0x2002, 0x2003, 1),
               BANK(0x2005, 0x2006, 0), BANK(0x2007, 0x2008, 1),
               BANK(0x2040, 0x2100, 0)}},
    {.name = "memory-less nodes 1 and 3",
     .nr_banks = 2,
     .banks = {BANK(0x80000, 0x80100, 0), BANK(0x80100, 0x80200, 2)},
     .nr_nodes = 4,
     .boot_node = 3},
    {.name = "node 1 all reserved at boot",
     .nr_banks = 2,
     .banks = {BANK(0x80000, 0x80100, 0), BANK(0x80100, 0x80180, 1)},
     .nr_reserved = 1,
     .reserved = {{0x80100, 0x80180}}},
    {.name = "three zones",
     .nr_banks = 3,
     .banks = {BANK(0x10, 0x40, 0), BANK(0x100, 0x200, 0),
               BANK(0x800, 0x900, 1)}},
    {.name = "eight nodes of 64 frames",
     .nr_banks = 8,
     .banks = {BANK(0x4000, 0x4040, 0), BANK(0x4040, 0x4080, 1),
               BANK(0x4080, 0x40c0, 2), BANK(0x40c0, 0x4100, 3),
               BANK(0x4100, 0x4140, 4), BANK(0x4140, 0x4180, 5),
               BANK(0x4180, 0x41c0, 6), BANK(0x41c0, 0x4200, 7)},
     .boot_node = 5,
     .distance = {[0] = {10, 12, 14, 16, 18, 20, 22, 24},
                  [5] = {30, 30, 20, 20, 40, 10, 40, 20}}},
    {.name = "holes inside one node",
     .nr_banks = 3,
     .banks = {BANK(0x80000, 0x80080, 0), BANK(0x80100, 0x80200, 0),
               BANK(0x80203, 0x80240, 0)}},
    {.name = "interleaved nodes A B A",
     .nr_banks = 3,
     .banks = {BANK(0x1000, 0x1040, 0), BANK(0x1040, 0x1080, 1),
               BANK(0x1080, 0x1100, 0)}},
    {.name = "odd bank edges",
     .nr_banks = 2,
     .banks = {BANK(0x80003, 0x80101, 0), BANK(0x80107, 0x80333, 0)}},
    {.name = "RAM at 0, heavy reservations",
     .nr_banks = 1,
     .banks = {BANK(0, 0x180, 0)},
     .nr_reserved = 4,
     .reserved = {{0x1, 0x3}, {0x20, 0x41}, {0x77, 0x78}, {0x100, 0x140}}},
    {.name = "three nodes, asymmetric distances",
     .nr_banks = 3,
     .banks = {BANK(0x8000, 0x8080, 0), BANK(0x8080, 0x8100, 1),
               BANK(0x8100, 0x8180, 2)},
     .boot_node = 2,
     .distance = {[2] = {15, 25, 10}, [1] = {25, 10, 15}}},
    {.name = "2048 frames, two nodes, many reservations",
     .nr_banks = 2,
     .banks = {BANK(0x80000, 0x80400, 0), BANK(0x80400, 0x80800, 1)},
     .nr_reserved = 5,
     .reserved = {{0x80010, 0x80020},
                  {0x80100, 0x80101},
                  {0x803f0, 0x80410},
                  {0x80500, 0x80600},
                  {0x80700, 0x80703}}},
    {.name = "bank across zone boundaries",
     .nr_banks = 1,
     .banks = {BANK(0x3c0, 0x840, 0)}},
    {.name = "reserved node, memory-less node, contiguous",
     .nr_banks = 2,
     .banks = {BANK(0x800, 0x8c0, 0), BANK(0x8c0, 0x900, 2)},
     .nr_nodes = 3,
     .boot_node = 1,
     .nr_reserved = 1,
     .reserved = {{0x8c0, 0x900}}},
    {.name = "64 frames, RAM at 0, two nodes",
     .nr_banks = 2,
     .banks = {BANK(0, 0x21, 0), BANK(0x21, 0x40, 1)}},
};
const unsigned int heap_model_nr_shapes = ARRAY_SIZE(heap_model_shapes);
