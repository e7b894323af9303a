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
