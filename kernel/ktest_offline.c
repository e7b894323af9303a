/*
 * kernel/ktest_offline.c - suite offline: offlining (mm/offline.c)
 * through the real boot path, on every node of the machine.
 *
 * The frames named by badpages= at boot must be broken: parked by
 * init_heap_pages() if the heap took them, still uninitialised and marked
 * if boot had reserved them (OpenSBI, the kernel); none ever comes back.
 * At run time: a free frame leaves its block and comes back merged; an
 * in-use frame keeps its bytes for its owner and is parked when freed;
 * the frames the heap keeps for itself refuse. Every case gives back what
 * it takes, so the free counts stay those of boot (tests/qemu/
 * test_ktest.py boots 1, 2 and 4 nodes with badpages= on each node).
 * heap_check() runs after every case; it also checks the counters.
 */
#include <numbat/errno.h>

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/node_heap.h"
#include "../mm/offline.h"
#include "board.h"
#include "bootargs.h"
#include "ktest.h"

static bool node_has_ram(unsigned int node)
{
    for (unsigned int i = 0; i < board()->nr_banks; i++)
        if (board()->banks[i].node == node)
            return true;
    return false;
}

static unsigned long broken_frames(void)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        n += offline_nr_broken(node);
    return n;
}

/* Every RAM frame badpages= named is broken, or marked while reserved. */
static void badpages_frames_broken(void)
{
    unsigned long parked = 0;

    if (bootargs.nr_badpages == 0)
        KTEST_SKIP("no badpages= on the command line");
    for (unsigned int i = 0; i < bootargs.nr_badpages; i++) {
        for (mfn_t m = bootargs.badpages[i].s; m < bootargs.badpages[i].e;
             m++) {
            uint64_t st;

            if (query_page_offline(m, &st) != 0)
                continue; /* not RAM: boot said so */
            EXPECT_TRUE(st & PGC_BROKEN);
            if (pgc_state(st) == PAGE_STATE_BROKEN)
                parked++;
            else
                EXPECT_EQ(pgc_state(st), PAGE_STATE_UNINITIALISED);
            EXPECT_EQ(online_page(m), -EIO);
        }
    }
    EXPECT_GE(broken_frames(), parked);
    EXPECT_TRUE(parked > 0);
}

/* A free frame of each node leaves at once and comes back merged. */
static void free_frame_leaves_and_returns(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long before = heap_free_pages_node(node);
        mfn_t b;

        if (!node_has_ram(node))
            continue;
        b = alloc_heap_pages(4, 0, node, ALLOC_EXACT_NODE);
        REQUIRE_NE(b, INVALID_MFN);
        free_heap_pages(b, 4); /* now inside a free block of order >= 4 */
        REQUIRE_EQ(offline_page(b + 13, false), 0);
        EXPECT_EQ(page_state(mfn_to_page(b + 13)), PAGE_STATE_OFFLINED);
        EXPECT_EQ(heap_free_pages_node(node), before - 1);
        EXPECT_EQ(page_state(mfn_to_page(b + 12)), PAGE_STATE_FREE);
        EXPECT_EQ(mfn_to_page(b + 12)->order, 0);
        EXPECT_EQ(mfn_to_page(b + 14)->order, 1);
        EXPECT_EQ(mfn_to_page(b + 8)->order, 2);
        EXPECT_EQ(heap_check(), 0);
        REQUIRE_EQ(online_page(b + 13), 0);
        EXPECT_EQ(page_state(mfn_to_page(b + 13)), PAGE_STATE_FREE);
        EXPECT_EQ(heap_free_pages_node(node), before);
    }
}

/* An in-use frame keeps its bytes, and leaves when its block is freed. */
static void inuse_frame_parked_when_freed(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long before = heap_free_pages_node(node);
        unsigned long pending = offline_nr_pending(node);
        volatile uint64_t *p;
        mfn_t b;

        if (!node_has_ram(node))
            continue;
        b = alloc_heap_pages(2, 0, node, ALLOC_EXACT_NODE);
        REQUIRE_NE(b, INVALID_MFN);
        p = mm_hook_pa_to_va(mfn_to_pa(b + 1));
        *p = 0x6f66666c696e65ULL;
        REQUIRE_EQ(offline_page(b + 1, false), 0);
        EXPECT_EQ(page_state(mfn_to_page(b + 1)), PAGE_STATE_OFFLINING);
        EXPECT_EQ(*p, 0x6f66666c696e65ULL);
        EXPECT_EQ(offline_nr_pending(node), pending + 1);
        free_heap_pages(b, 2);
        EXPECT_EQ(page_state(mfn_to_page(b + 1)), PAGE_STATE_OFFLINED);
        EXPECT_EQ(page_state(mfn_to_page(b)), PAGE_STATE_FREE);
        EXPECT_EQ(heap_free_pages_node(node), before - 1);
        EXPECT_EQ(offline_nr_pending(node), pending);
        REQUIRE_EQ(online_page(b + 1), 0);
        EXPECT_EQ(heap_free_pages_node(node), before);
    }
}

/* What the heap keeps for itself, and what is not RAM, refuse. */
static void heap_frames_refuse(void)
{
    uint64_t st;

    EXPECT_EQ(offline_page(frametable_end(), false), -ERANGE);
    EXPECT_EQ(online_page(frametable_first() - 1), -ERANGE);
    EXPECT_EQ(query_page_offline(frametable_end(), &st), -ERANGE);
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        const struct node_heap *nh = node_heap_get(node);

        if (nh == NULL || nh->meta_mfn == INVALID_MFN)
            continue;
        EXPECT_EQ(offline_page(nh->meta_mfn, true), -EBUSY);
        EXPECT_EQ(online_page(nh->meta_mfn), -EBUSY);
        EXPECT_EQ(page_state(mfn_to_page(nh->meta_mfn)), PAGE_STATE_INUSE);
    }
}

static const struct ktest_case offline_cases[] = {
    KTEST_CASE(badpages_frames_broken),
    KTEST_CASE(free_frame_leaves_and_returns),
    KTEST_CASE(inuse_frame_parked_when_freed),
    KTEST_CASE(heap_frames_refuse),
};
KTEST_SUITE_AFTER(offline, offline_cases, ktest_heap_after_case);
