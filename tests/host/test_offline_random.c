/*
 * tests/host/test_offline_random.c - randomized runs that mix alloc,
 * free, offline (plain and broken) and online, with heap_check() after
 * every step, on two machines: one node with a hole, and two nodes.
 *
 * Beside heap_check() (lists, counters, maximal blocks, offline counters)
 * each step checks what offlining promises, against a small model that
 * remembers which frames were asked to go and which are broken:
 *   - no frame is lost: free + allocated + offlined + broken stays equal
 *     to the free count right after boot;
 *   - an allocation never hands out an offlined or broken frame;
 *   - a broken frame never comes back: online says -EIO and it stays
 *     broken, or offlining while still allocated.
 */
#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/offline.h"
#include "mm/page.h"

#define RANDOM_STEPS 3000u
#define MAX_BLOCKS 256u

struct block {
    mfn_t mfn;          /* first frame */
    unsigned int order; /* log2 size */
};

static struct block blocks[MAX_BLOCKS]; /* what the run holds allocated */
static unsigned int nr_blocks;
static uint64_t rng;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned long allocated_pages(void)
{
    unsigned long n = 0;

    for (unsigned int i = 0; i < nr_blocks; i++)
        n += 1UL << blocks[i].order;
    return n;
}

static unsigned long parked_pages(unsigned int nr_nodes)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < nr_nodes; node++)
        n += offline_nr_offlined(node) + offline_nr_broken(node);
    return n;
}

static void step_alloc(void)
{
    unsigned int order = (unsigned int)(next_random() % 4);
    mfn_t mfn;

    if (nr_blocks == MAX_BLOCKS)
        return;
    mfn = alloc_heap_pages(order, 0, NUMA_NO_NODE, 0);
    if (mfn == INVALID_MFN)
        return;
    for (mfn_t m = mfn; m < mfn + (1UL << order); m++)
        EXPECT(page_state_is(mfn_to_page(m), PAGE_STATE_INUSE),
               "alloc handed out frame 0x%lx in state %s", m,
               page_state_name(page_state(mfn_to_page(m))));
    blocks[nr_blocks++] = (struct block){mfn, order};
}

static void step_free(void)
{
    unsigned int i;

    if (nr_blocks == 0)
        return;
    i = (unsigned int)(next_random() % nr_blocks);
    free_heap_pages(blocks[i].mfn, blocks[i].order);
    blocks[i] = blocks[--nr_blocks];
}

/* A random frame of the table, now and then one of an allocated block. */
static mfn_t random_frame(void)
{
    if (nr_blocks && next_random() % 2) {
        const struct block *b = &blocks[next_random() % nr_blocks];

        return b->mfn + next_random() % (1UL << b->order);
    }
    return frametable_first() +
           next_random() % (frametable_end() - frametable_first());
}

static void step_offline(void)
{
    mfn_t mfn = random_frame();
    bool broken = next_random() % 8 == 0;
    int err = offline_page(mfn, broken);

    EXPECT(err == 0 || err == -EFAULT || err == -EBUSY,
           "offline_page(0x%lx) said %d", mfn, err);
    if (err == 0 && broken)
        EXPECT(page_has_flag(mfn_to_page(mfn), PGC_BROKEN),
               "frame 0x%lx offlined as broken has no PGC_BROKEN", mfn);
}

static void step_online(void)
{
    mfn_t mfn = random_frame();
    bool was_broken = page_has_flag(mfn_to_page(mfn), PGC_BROKEN);
    int err = online_page(mfn);

    if (was_broken) {
        const struct page_info *pg = mfn_to_page(mfn);
        unsigned int st = page_state(pg);

        /* Broken for good: broken, in use until freed, or uninitialised
         * and still asked to be parked when init_heap_pages() meets it. */
        EXPECT_EQ(err, -EIO);
        EXPECT(st == PAGE_STATE_BROKEN || st == PAGE_STATE_OFFLINING ||
                   (st == PAGE_STATE_UNINITIALISED &&
                    page_has_flag(pg, PGC_OFFLINE_ASKED)),
               "broken frame 0x%lx came back as %s", mfn, page_state_name(st));
    } else {
        EXPECT(err == 0 || err == -EFAULT || err == -EBUSY,
               "online_page(0x%lx) said %d", mfn, err);
    }
}

/* One machine: RANDOM_STEPS steps, every rule checked after each. */
static void run(const struct sim_machine *m, unsigned int nr_nodes)
{
    unsigned long total;

    rng = test_seed() | 1;
    nr_blocks = 0;
    sim_boot_and_end(m);
    sim_set_quiet(true);
    total = heap_total_free_pages();
    for (unsigned int i = 0; i < RANDOM_STEPS; i++) {
        switch (next_random() % 5) {
        case 0:
        case 1:
            step_alloc();
            break;
        case 2:
            step_free();
            break;
        case 3:
            step_offline();
            break;
        default:
            step_online();
            break;
        }
        REQUIRE(heap_check() == 0, "heap_check failed after step %u", i);
        REQUIRE(heap_total_free_pages() + allocated_pages() +
                        parked_pages(nr_nodes) ==
                    total,
                "step %u: %lu free + %lu allocated + %lu parked != %lu", i,
                heap_total_free_pages(), allocated_pages(),
                parked_pages(nr_nodes), total);
    }
    while (nr_blocks)
        step_free();
    EXPECT_EQ(heap_check(), 0);
    sim_set_quiet(false);
}

/*
 *   node 0: [0x80000 ... 0x80200)  hole  [0x80300 ... 0x80400)
 * Expect: every step keeps every rule (see the top of the file).
 */
TEST(offline_random_one_node_with_hole)
{
    static const struct sim_machine m = {
        .name = "one node, a hole",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80200, 0}, {0x80300, 0x80400, 0}},
    };

    run(&m, 1);
}

/*
 *   node 0: [0x80000 ... 0x80200)   node 1: [0x80200 ... 0x80400)
 * Expect: the same, with blocks freed and offlined on two nodes.
 */
TEST(offline_random_two_nodes)
{
    static const struct sim_machine m = {
        .name = "two nodes, side by side",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80200, 0}, {0x80200, 0x80400, 1}},
    };

    run(&m, 2);
}
