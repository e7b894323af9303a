/*
 * labs/uninit/hidden/test_hidden_uninit.c - hidden tests of the uninit
 * lab. The grader copies this file into tests/host/ of its pristine tree;
 * handouts never contain it.
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

static const struct sim_machine one_node = {
    .name = "one node",
    .nr_banks = 1,
    .banks = {{0x80000, 0x80400, 0}},
};

/* Expect: a flag set on a boot-allocated frame survives its first free
 * (through init_heap_pages), and the frame ends up free. */
TEST(hidden_uninit_flag_survives_boot_free)
{
    mfn_t b;

    sim_boot(&one_node);
    b = alloc_boot_pages(4, 4);
    end_boot_allocator();
    page_set_flags(mfn_to_page(b + 1), PGC_EXTRA);
    free_heap_pages(b, 2);
    EXPECT(page_has_flag(mfn_to_page(b + 1), PGC_EXTRA), "PGC_EXTRA lost");
    EXPECT(page_state_is(mfn_to_page(b + 1), PAGE_STATE_FREE), "not free");
    EXPECT_EQ(heap_check(), 0);
}

/* Expect: an uninitialised order-3 block freed as one block initialises
 * each frame exactly once, also after it is allocated and freed again. */
TEST(hidden_uninit_each_frame_inited_once)
{
    unsigned long before;
    mfn_t b;

    sim_boot(&one_node);
    b = alloc_boot_pages(8, 8);
    end_boot_allocator();
    before = heap_total_free_pages();
    free_heap_pages(b, 3);
    EXPECT_EQ(heap_total_free_pages(), before + 8);
    for (mfn_t f = b; f < b + 8; f++)
        EXPECT_EQ(mfn_to_page(f)->nr_inits, 1);
    b = alloc_heap_pages(3, 0, NUMA_NO_NODE, 0);
    REQUIRE(b != INVALID_MFN, "no order-3 block");
    free_heap_pages(b, 3);
    for (mfn_t f = b; f < b + 8; f++)
        EXPECT_EQ(mfn_to_page(f)->nr_inits, 1);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   node 0: [0x0 reserved 0x10| ......... 0x400)   RAM at MFN 0
 * Expect: freeing the reserved (uninitialised) order-4 block at MFN 0
 * later puts frames 1..15 in the heap and parks MFN 0 as offlined.
 */
TEST(hidden_uninit_free_block_with_mfn0)
{
    static const struct sim_machine m = {
        .name = "RAM at 0, first 16 frames reserved",
        .nr_banks = 1,
        .banks = {{0x0, 0x400, 0}},
        .nr_reserved = 1,
        .reserved = {{0x0, 0x10}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    free_heap_pages(0, 4);
    EXPECT_EQ(heap_total_free_pages(), before + 15);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_OFFLINED),
           "MFN 0 is not offlined");
    for (mfn_t f = 1; f < 0x10; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_FREE),
               "frame 0x%lx not free", f);
    EXPECT_EQ(heap_check(), 0);
}

static uint64_t unext(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* Free [s, e) as the largest aligned blocks, in order. */
static void free_as_blocks(mfn_t s, mfn_t e)
{
    while (s < e) {
        unsigned int order = s ? (unsigned int)__builtin_ctzl(s) : MAX_ORDER;

        if (order > MAX_ORDER)
            order = MAX_ORDER;
        while (((mfn_t)1 << order) > e - s)
            order--;
        free_heap_pages(s, order);
        s += (mfn_t)1 << order;
    }
}

/*
 *   node 0 [0x0 resv 0x20| ..... 0x200)  hole  [0x400 ..... 0x523)
 *   node 1 [0x523 ............ 0x600)        (RAM at 0, an unaligned node
 *   boundary, a hole)
 *   20 boot allocations of 1..24 frames, aligned to 1..32, PGC_EXTRA on
 *   some of their frames; then end_boot_allocator(), then every boot
 *   allocation and the reserved range freed in a random order, as aligned
 *   blocks or frame by frame
 * Expect, in each of 10 rounds: every freed frame is free (MFN 0:
 * offlined), initialised once, on its own node, its flags kept; every RAM
 * frame is free, carved or the frame table's; the counters agree and the
 * heap is whole.
 */
TEST(hidden_uninit_random_boot_allocations_freed)
{
    static const struct sim_machine m = {
        .name = "RAM at 0, a hole, two nodes with an unaligned boundary",
        .nr_banks = 3,
        .banks = {{0x0, 0x200, 0}, {0x400, 0x523, 0}, {0x523, 0x600, 1}},
        .nr_reserved = 1,
        .reserved = {{0x0, 0x20}},
    };
    uint64_t x = 0x2545f4914f6cdd1dull;

    for (int round = 0; round < 10; round++) {
        static bool flagged[0x600];
        mfn_t bs[21], be[21];
        unsigned int n = 0;
        unsigned long free_frames = 0;

        sim_boot(&m);
        memset(flagged, 0, sizeof(flagged));
        for (; n < 20; n++) {
            unsigned long nr = 1 + unext(&x) % 24;
            unsigned long align = 1ul << (unext(&x) % 6);

            bs[n] = alloc_boot_pages(nr, align);
            be[n] = bs[n] + nr;
            for (mfn_t f = bs[n]; f < be[n]; f++)
                if (unext(&x) % 4 == 0) {
                    page_set_flags(mfn_to_page(f), PGC_EXTRA);
                    flagged[f] = true;
                }
        }
        bs[n] = 0x0;
        be[n++] = 0x20;
        end_boot_allocator();
        for (unsigned int i = n; i > 1; i--) { /* shuffle */
            unsigned int j = (unsigned int)(unext(&x) % i);
            mfn_t ts = bs[i - 1], te = be[i - 1];

            bs[i - 1] = bs[j], be[i - 1] = be[j];
            bs[j] = ts, be[j] = te;
        }
        for (unsigned int i = 0; i < n; i++) {
            if (unext(&x) % 3 == 0)
                for (mfn_t f = bs[i]; f < be[i]; f++)
                    free_heap_pages(f, 0);
            else
                free_as_blocks(bs[i], be[i]);
        }
        for (unsigned int i = 0; i < n; i++)
            for (mfn_t f = bs[i]; f < be[i]; f++) {
                struct page_info *pg = mfn_to_page(f);

                if (f == 0) {
                    EXPECT(page_state_is(pg, PAGE_STATE_OFFLINED),
                           "round %d: MFN 0 is not offlined", round);
                    continue;
                }
                REQUIRE(page_state_is(pg, PAGE_STATE_FREE),
                        "round %d: freed frame 0x%lx is %s", round, f,
                        page_state_name(page_state(pg)));
                REQUIRE(pg->nr_inits == 1,
                        "round %d: frame 0x%lx "
                        "initialised %u times",
                        round, f, pg->nr_inits);
                REQUIRE(page_has_flag(pg, PGC_EXTRA) == flagged[f],
                        "round %d: frame 0x%lx %s PGC_EXTRA", round, f,
                        flagged[f] ? "lost" : "gained");
                REQUIRE(pg->node == sim_node_of(f),
                        "round %d: frame 0x%lx "
                        "on node %u, not %u",
                        round, f, pg->node, sim_node_of(f));
            }
        for (mfn_t f = 0; f < 0x600; f++) {
            struct page_info *pg = mfn_to_page(f);

            if (sim_node_of(f) == NUMA_NO_NODE || f == 0 ||
                (f >= sim_frametable_mfn() &&
                 f < sim_frametable_mfn() + sim_frametable_pages()))
                continue;
            if (page_state_is(pg, PAGE_STATE_FREE))
                free_frames++;
            else
                REQUIRE(page_has_flag(pg, PGC_NODE_META),
                        "round %d: RAM "
                        "frame 0x%lx is %s and not carved",
                        round, f, page_state_name(page_state(pg)));
        }
        EXPECT_EQ(heap_total_free_pages(), free_frames);
        REQUIRE(heap_check() == 0, "round %d: heap_check failed", round);
    }
}
