/*
 * tests/host/test_lab_offline.c - every rule of the offline lab
 * (labs/offline/README.md, mm/offline.c), one case per rule, each on a
 * machine shaped so that breaking that rule alone fails it: the largest
 * block there is (order MAX_ORDER), a freed block with offlining frames
 * at its edges and inside, the counters through every transition, the
 * lock of the frame's own node (and the state read under it), frames
 * parked at init on a second node, and broken frames in every state.
 *
 * Every case that leaves a heap behind ends with heap_check(), which also
 * compares the counters with the frame table.
 */
#include <string.h>

#include <numbat/errno.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/offline.h"
#include "mm/page.h"
#include "mm/poison.h"
#include "mm/scrub.h"

static unsigned int state_of(mfn_t mfn)
{
    return page_state(mfn_to_page(mfn));
}

/* Expect: mfn heads a free block of order `order`. */
static void expect_free_block(mfn_t mfn, unsigned int order)
{
    EXPECT(state_of(mfn) == PAGE_STATE_FREE && mfn_to_page(mfn)->order == order,
           "0x%lx is %s with order %u, not the head of a free block of order "
           "%u",
           mfn, page_state_name(state_of(mfn)), mfn_to_page(mfn)->order, order);
}

/* Expect: frame mfn is free, dirty and filled with POISON_FREED: it went
 * through the free path (an owner's data, never handed out unscrubbed). */
static void expect_freed_by_owner(mfn_t mfn)
{
    const unsigned char *p = sim_frame_va(mfn);
    size_t bad = 0;

    for (size_t i = 0; i < PAGE_SIZE; i++)
        bad += p[i] != POISON_FREED;
    EXPECT(page_needs_scrub(mfn) && bad == 0,
           "0x%lx (%s) %s marked for a scrub and has %zu bytes that are not "
           "POISON_FREED: it did not go through the free path",
           mfn, page_state_name(state_of(mfn)),
           page_needs_scrub(mfn) ? "is" : "is not", bad);
}

/*
 *   node 0: [0x100000 ........ 0x140000 ......... 0x180000)
 *            one block of order 18   | the rest, frame table on top
 * Expect: offlining a frame deep inside the order-MAX_ORDER block leaves
 * 18 halves, of orders 0 to 17, each beside the frame; online gives the
 * one block back.
 */
TEST(lab_offline_frame_in_a_max_order_block)
{
    static const struct sim_machine m = {
        .name = "a block of order MAX_ORDER at 0x100000",
        .nr_banks = 1,
        .banks = {{0x100000, 0x180000, 0}},
    };
    const mfn_t block = 0x100000, out = 0x100000 + 0x2a5a5;

    sim_boot_and_end(&m);
    REQUIRE(state_of(block) == PAGE_STATE_FREE &&
                mfn_to_page(block)->order == MAX_ORDER,
            "no free block of order %u at 0x%lx", MAX_ORDER, block);
    REQUIRE_EQ(offline_page(out, false), 0);
    EXPECT_EQ(state_of(out), PAGE_STATE_OFFLINED);
    for (unsigned int k = 0; k < MAX_ORDER; k++)
        expect_free_block((out ^ ((mfn_t)1 << k)) & ~(((mfn_t)1 << k) - 1), k);
    EXPECT_EQ(heap_check(), 0);
    REQUIRE_EQ(online_page(out), 0);
    expect_free_block(block, MAX_ORDER);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)
 * An order-3 block [b, b + 8) is allocated; frames b, b + 3 and b + 7
 * (first, inside, last) are offlined while in use.
 * Expect: the free parks exactly those three and frees the other five as
 * the largest blocks around them: b+1, b+2 (order 0), b+4 (order 1),
 * b+6 (order 0), each of them poisoned and marked for a scrub (the
 * owner's data); online of the three frees each through the free path too
 * (poisoned, dirty) and gives the whole block back. Then an
 * order-2 block with its last frame offlining and a stale order on its
 * third: the free never merges a piece with one not yet given back.
 */
TEST(lab_offline_freed_block_with_offlining_frames)
{
    static const struct sim_machine m = {
        .name = "one node, 1024 frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    static const mfn_t out[] = {0, 3, 7};
    unsigned long before;
    mfn_t b;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    b = alloc_heap_pages(3, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    for (mfn_t f = b; f < b + 8; f++)
        memset(sim_frame_va(f), 0x5a, PAGE_SIZE); /* the owner's data */
    for (unsigned int i = 0; i < 3; i++)
        REQUIRE_EQ(offline_page(b + out[i], false), 0);
    EXPECT_EQ(offline_nr_pending(0), 3);
    free_heap_pages(b, 3);
    for (unsigned int i = 0; i < 3; i++)
        EXPECT_EQ(state_of(b + out[i]), PAGE_STATE_OFFLINED);
    expect_free_block(b + 1, 0);
    expect_free_block(b + 2, 0);
    expect_free_block(b + 4, 1);
    expect_free_block(b + 6, 0);
    for (mfn_t f = b + 1; f < b + 7; f++)
        if (f != b + 3)
            expect_freed_by_owner(f);
    EXPECT_EQ(heap_total_free_pages(), before - 3);
    EXPECT_EQ(offline_nr_offlined(0), 3);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(heap_check(), 0);
    for (unsigned int i = 0; i < 3; i++) {
        EXPECT_EQ(online_page(b + out[i]), 0);
        expect_freed_by_owner(b + out[i]);
    }
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);

    /*
     * A run's pieces go back one at a time: [b, b + 3) with b + 3
     * offlining is [b, b + 2) then b + 2. Frame b + 2 still records order
     * 1 from an older block (a stale value the heap must never trust):
     * had the whole run been taken back first, [b, b + 2) would see b + 2
     * free with order 1 and merge over the offlining frame.
     */
    b = alloc_heap_pages(2, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    mfn_to_page(b + 2)->order = 1;
    REQUIRE_EQ(offline_page(b + 3, false), 0);
    free_heap_pages(b, 2);
    EXPECT_EQ(state_of(b + 3), PAGE_STATE_OFFLINED);
    expect_free_block(b, 1);
    expect_free_block(b + 2, 0);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(online_page(b + 3), 0);
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)
 * Expect: each transition moves exactly one count: a second ask of the
 * same frame counts nothing more (uninitialised, offlining, offlined,
 * broken); offlined asked to be broken moves to broken; a frame offlined
 * and then asked for broken while still in use ends broken; online of a
 * marked uninitialised frame or of an offlining one takes it off the
 * pending count, once.
 */
TEST(lab_offline_counters_move_once)
{
    static const struct sim_machine m = {
        .name = "one node, 1024 frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    mfn_t b;

    sim_boot(&m);
    EXPECT_EQ(offline_page(0x80010, false), 0);
    EXPECT_EQ(offline_page(0x80010, true), 0);
    EXPECT_EQ(offline_nr_pending(0), 1);
    EXPECT_EQ(offline_page(0x80030, false), 0);
    EXPECT_EQ(online_page(0x80030), 0);
    EXPECT_EQ(online_page(0x80030), 0);
    EXPECT_EQ(offline_nr_pending(0), 1);
    end_boot_allocator();
    EXPECT_EQ(state_of(0x80010), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(offline_page(0x80020, false), 0);
    EXPECT_EQ(offline_page(0x80020, false), 0);
    EXPECT_EQ(offline_nr_offlined(0), 1);
    EXPECT_EQ(offline_page(0x80020, true), 0);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_EQ(offline_nr_broken(0), 2);
    EXPECT_EQ(offline_page(0x80020, true), 0);
    EXPECT_EQ(offline_nr_broken(0), 2);
    b = alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b, false), 0);
    EXPECT_EQ(offline_page(b, false), 0);
    EXPECT_EQ(offline_nr_pending(0), 1);
    EXPECT_EQ(offline_page(b, true), 0);
    EXPECT_EQ(offline_nr_pending(0), 1);
    free_heap_pages(b, 0);
    EXPECT_EQ(state_of(b), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_nr_broken(0), 3);
    EXPECT_EQ(offline_nr_pending(0), 0);
    b = alloc_heap_pages(0, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b, false), 0);
    EXPECT_EQ(online_page(b), 0);
    EXPECT_EQ(online_page(b), 0);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(state_of(b), PAGE_STATE_INUSE);
    free_heap_pages(b, 0);
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: `call` says `want`, takes node 1's lock and never node 0's. */
#define EXPECT_UNDER_NODE1_LOCK(call, want)                                    \
    do {                                                                       \
        unsigned long a0_, a1_, b0_, b1_, spins_;                              \
        sim_lock_stats(0, &a0_, &spins_);                                      \
        sim_lock_stats(1, &a1_, &spins_);                                      \
        EXPECT_EQ((call), (want));                                             \
        sim_lock_stats(0, &b0_, &spins_);                                      \
        sim_lock_stats(1, &b1_, &spins_);                                      \
        EXPECT(b0_ == a0_ && b1_ > a1_,                                        \
               "%s took node 0's lock %lu times and node 1's %lu times",       \
               #call, b0_ - a0_, b1_ - a1_);                                   \
    } while (0)

/* Another hart's call on the same frame, run once just before this one
 * takes node 1's lock (sim_set_lock_hook). */
static mfn_t sneak_mfn;
static int (*sneak_call)(mfn_t mfn);

static int sneak_offline(mfn_t mfn)
{
    return offline_page(mfn, false);
}

static void sneak_in(unsigned int node)
{
    int (*call)(mfn_t) = sneak_call;

    if (node != 1 || call == NULL)
        return;
    sneak_call = NULL; /* once: the call below takes the lock too */
    EXPECT_EQ(call(sneak_mfn), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)   node 1: [0x90000 ... 0x90400)
 * Expect: offline, online and query of a node-1 frame take node 1's lock
 * and never node 0's for every change of state (free to offlined or
 * broken, offlined back to free, inuse to offlining and back: no free
 * path takes the lock for them); the counts are node 1's.
 * The state is read under that lock: when another call offlines (then
 * onlines) the frame just before this one takes the lock, this one finds
 * the frame offlined (then free) and changes nothing.
 */
TEST(lab_offline_takes_the_frames_node_lock)
{
    static const struct sim_machine m = {
        .name = "two nodes",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x90000, 0x90400, 1}},
    };
    unsigned long before;
    uint64_t status;
    mfn_t b;

    sim_boot_and_end(&m);
    EXPECT_UNDER_NODE1_LOCK(offline_page(0x90100, false), 0);
    EXPECT_EQ(offline_nr_offlined(1), 1);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_UNDER_NODE1_LOCK(query_page_offline(0x90100, &status), 0);
    EXPECT_UNDER_NODE1_LOCK(online_page(0x90100), 0);
    EXPECT_EQ(online_page(0x90100), 0); /* free: online already */
    b = alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_UNDER_NODE1_LOCK(offline_page(b, false), 0); /* offlining */
    EXPECT_UNDER_NODE1_LOCK(online_page(b), 0);         /* inuse again */
    EXPECT_EQ(offline_nr_pending(1), 0);
    free_heap_pages(b, 0);
    EXPECT_UNDER_NODE1_LOCK(offline_page(0x90102, true), 0); /* broken */
    EXPECT_EQ(online_page(0x90102), -EIO);
    EXPECT_EQ(offline_nr_broken(1), 1);
    EXPECT_EQ(heap_check(), 0);

    before = heap_free_pages_node(1);
    sneak_mfn = 0x90104;
    sneak_call = sneak_offline;
    sim_set_lock_hook(sneak_in);
    EXPECT_EQ(offline_page(0x90104, false), 0);
    sim_set_lock_hook(NULL);
    EXPECT(sneak_call == NULL, "offline_page() never took node 1's lock");
    EXPECT_EQ(state_of(0x90104), PAGE_STATE_OFFLINED);
    EXPECT_EQ(offline_nr_offlined(1), 1);
    EXPECT_EQ(heap_free_pages_node(1), before - 1);
    REQUIRE_EQ(heap_check(), 0);
    sneak_call = online_page;
    sim_set_lock_hook(sneak_in);
    EXPECT_EQ(online_page(0x90104), 0);
    sim_set_lock_hook(NULL);
    EXPECT(sneak_call == NULL, "online_page() never took node 1's lock");
    EXPECT_EQ(state_of(0x90104), PAGE_STATE_FREE);
    EXPECT_EQ(offline_nr_offlined(1), 0);
    EXPECT_EQ(heap_free_pages_node(1), before);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)   node 1: [0x90000 ... 0x90400)
 * Before end_boot_allocator(): frames 0x90005 (node 1) and 0x80107
 * (node 0) are offlined while uninitialised.
 * Expect: init parks each on its own node (its node recorded, counted
 * there); the frames after them are free (node 1's heap is carved from
 * the tail of its first run, which ends right before 0x90005, and node
 * 0's before 0x80107); online initialises each then, once: both are free.
 */
TEST(lab_offline_parked_at_init_on_its_node)
{
    static const struct sim_machine m = {
        .name = "two nodes",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x90000, 0x90400, 1}},
    };
    unsigned long before;

    sim_boot(&m);
    EXPECT_EQ(offline_page(0x90005, false), 0);
    EXPECT_EQ(offline_page(0x80107, false), 0);
    EXPECT_EQ(offline_nr_pending(1), 1);
    EXPECT_EQ(offline_nr_pending(0), 1);
    end_boot_allocator();
    EXPECT_EQ(state_of(0x90005), PAGE_STATE_OFFLINED);
    EXPECT_EQ(mfn_to_page(0x90005)->node, 1);
    EXPECT_EQ(offline_nr_offlined(1), 1);
    EXPECT_EQ(offline_nr_offlined(0), 1);
    EXPECT_EQ(state_of(0x90006), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(0x80103), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(0x80108), PAGE_STATE_FREE);
    EXPECT_EQ(heap_check(), 0);
    before = heap_free_pages_node(1);
    EXPECT_EQ(online_page(0x90005), 0);
    EXPECT_EQ(online_page(0x80107), 0);
    EXPECT_EQ(heap_free_pages_node(1), before + 1);
    EXPECT_EQ(mfn_to_page(0x90005)->nr_inits, 1);
    EXPECT_EQ(mfn_to_page(0x80107)->nr_inits, 1);
    EXPECT_EQ(state_of(0x90005), PAGE_STATE_FREE);
    EXPECT_EQ(state_of(0x80107), PAGE_STATE_FREE);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x80000 ... 0x80400)
 * Expect: a broken frame is broken in every way out: parked at init
 * (broken from the start, or asked for broken after a plain offline),
 * freed while in use (the same two ways), or taken free (offlined, then
 * asked for broken); online never brings it back (-EIO, nothing changes),
 * even while it is still uninitialised or in use.
 */
TEST(lab_offline_broken_in_every_state)
{
    static const struct sim_machine m = {
        .name = "one node, 1024 frames",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    const mfn_t u = 0x80010, f = 0x80020;
    mfn_t b;

    sim_boot(&m);
    EXPECT_EQ(offline_page(u, true), 0);
    EXPECT_EQ(offline_page(u + 1, false), 0);
    EXPECT_EQ(offline_page(u + 1, true), 0);
    EXPECT_EQ(online_page(u), -EIO);
    EXPECT_EQ(online_page(u + 1), -EIO);
    for (mfn_t x = u; x < u + 2; x++)
        EXPECT(page_has_flag(mfn_to_page(x), PGC_OFFLINE_ASKED) &&
                   page_has_flag(mfn_to_page(x), PGC_BROKEN),
               "uninitialised 0x%lx lost its marks to online_page()", x);
    EXPECT_EQ(offline_nr_pending(0), 2);
    end_boot_allocator();
    EXPECT_EQ(state_of(u), PAGE_STATE_BROKEN);
    EXPECT_EQ(state_of(u + 1), PAGE_STATE_BROKEN);
    EXPECT_EQ(offline_page(f, false), 0);
    EXPECT_EQ(offline_page(f, true), 0);
    EXPECT_EQ(online_page(f), -EIO);
    EXPECT_EQ(state_of(f), PAGE_STATE_BROKEN);
    b = alloc_heap_pages(1, 0, 0, ALLOC_EXACT_NODE);
    REQUIRE_NE(b, INVALID_MFN);
    EXPECT_EQ(offline_page(b, false), 0);
    EXPECT_EQ(offline_page(b, true), 0);
    EXPECT_EQ(offline_page(b + 1, true), 0);
    EXPECT_EQ(online_page(b), -EIO);
    EXPECT_EQ(online_page(b + 1), -EIO);
    EXPECT_EQ(state_of(b), PAGE_STATE_OFFLINING);
    free_heap_pages(b, 1);
    EXPECT_EQ(state_of(b), PAGE_STATE_BROKEN);
    EXPECT_EQ(state_of(b + 1), PAGE_STATE_BROKEN);
    EXPECT_EQ(online_page(b), -EIO);
    EXPECT_EQ(offline_nr_broken(0), 5);
    EXPECT_EQ(offline_nr_offlined(0), 0);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(heap_check(), 0);
}
