/*
 * tests/host/test_heap_scenarios.c - the seven scenarios of DESIGN.md, each
 * on its own simulated machine. They come from the corner cases of the
 * Xen thread that introduced the uninitialised page state (see
 * shared/reference/). docs/mm.md lists, for each one, the change to mm/
 * that makes it fail (each was tried).
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/node_heap.h"
#include "mm/page.h"

/* Free [s, e) one frame at a time, the way an application returns pages. */
static void free_frames(mfn_t s, mfn_t e)
{
    for (mfn_t m = s; m < e; m++)
        free_heap_pages(m, 0);
}

/* True if mfn heads a free block of exactly `order`. */
static bool free_head_of_order(mfn_t mfn, unsigned int order)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_FREE) && pg->order == order;
}

/*
 * Scenario 1: initrd pages handed to the application and freed later end
 * up free and fully merged.
 *
 *   node 0: [0x80000 ..... 0x800fd|meta|0x80100 initrd 0x80140| ..... |ft
 * 0x80400)
 *
 * The initrd [0x80100, 0x80140) is reserved at boot, so it is still
 * uninitialised when the application frees it, frame by frame.
 * Expect: every initrd frame ends up free, and 0x80100 heads one order-8
 * block [0x80100, 0x80200) (its buddy 0x80000 holds the node heap).
 */
TEST(scenario1_initrd_freed_later_is_merged)
{
    static const struct sim_machine m = {
        .name = "one node with an initrd",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
        .nr_reserved = 1,
        .reserved = {{0x80100, 0x80140}},
    };
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    EXPECT(page_state_is(mfn_to_page(0x80100), PAGE_STATE_UNINITIALISED),
           "initrd not uninitialised");
    free_frames(0x80100, 0x80140);
    EXPECT_EQ(heap_total_free_pages(), before + 0x40);
    EXPECT(free_head_of_order(0x80100, 8), "0x80100 heads order %u, not 8",
           mfn_to_page(0x80100)->order);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Scenario 2: a boot-allocator allocation freed after end_boot_allocator().
 *
 *   node 0: [0x80000 ...... |meta|0x803e0 boot alloc 16|8 free|ft 0x80400)
 *
 * Expect: the 16 frames, still uninitialised when freed as one order-4
 * block, are initialised and free, the free count grows by 16, and they
 * form one order-4 block (its buddy, 0x803f0, is only 8 frames long).
 */
TEST(scenario2_boot_allocation_freed_after_end)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    unsigned long before;
    mfn_t b;

    sim_boot(&m);
    b = alloc_boot_pages(16, 16);
    REQUIRE(b == 0x803e0, "alloc_boot_pages(16, 16) gave 0x%lx, not 0x803e0", b);
    end_boot_allocator();
    before = heap_total_free_pages();
    EXPECT(page_state_is(mfn_to_page(b), PAGE_STATE_UNINITIALISED),
           "boot page not uninitialised");
    free_heap_pages(b, 4);
    EXPECT_EQ(heap_total_free_pages(), before + 16);
    for (mfn_t f = b; f < b + 16; f++)
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_FREE),
               "frame 0x%lx not free", f);
    EXPECT(free_head_of_order(b, 4), "block 0x%lx is not one order-4 block", b);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Scenario 3: a node all of whose pages went to the boot allocator or the
 * initrd at boot: its heap structures appear on the first free.
 *
 *   node 0: [0x80000 .......... 0x80400)
 *   node 1: [0x81000 initrd 0x81040)        (all of node 1 reserved)
 *
 * Expect: no heap for node 1 after boot; freeing the initrd as one block
 * creates it, carved from the block's tail (61 frames free, 3 carved);
 * freeing it frame by frame instead creates it from the static pool on
 * the first (1-frame) free, and all 64 frames end up free.
 */
TEST(scenario3_node_heap_created_on_first_free)
{
    static const struct sim_machine m = {
        .name = "node 1 entirely reserved",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80400, 0}, {0x81000, 0x81040, 1}},
        .nr_reserved = 1,
        .reserved = {{0x81000, 0x81040}},
    };

    sim_boot_and_end(&m);
    EXPECT(!heap_node_exists(1), "node 1 has a heap before any free");
    free_heap_pages(0x81000, 6);
    REQUIRE(heap_node_exists(1));
    EXPECT_EQ(heap_free_pages_node(1), 0x40 - NODE_HEAP_PAGES);
    EXPECT_EQ(node_heap_get(1)->meta_mfn, 0x81040 - NODE_HEAP_PAGES);
    EXPECT(page_has_flag(mfn_to_page(0x8103f), PGC_NODE_META),
           "tail not carved");
    EXPECT_EQ(heap_check(), 0);

    sim_boot_and_end(&m);
    free_frames(0x81000, 0x81040);
    REQUIRE(heap_node_exists(1));
    EXPECT_EQ(node_heap_get(1)->meta_mfn, INVALID_MFN);
    EXPECT_EQ(heap_free_pages_node(1), 0x40);
    EXPECT(free_head_of_order(0x81000, 6), "node 1 not merged into one block");
    EXPECT_EQ(heap_check(), 0);
}

/* Allocate every free page (never MFN 0); returns how many. */
static unsigned long drain_all(void)
{
    unsigned long n = 0;
    mfn_t m;

    while ((m = alloc_heap_pages(0, 0, 0, 0)) != INVALID_MFN) {
        if (m == 0)
            harness_fail(__FILE__, __LINE__, "alloc_heap_pages gave out MFN 0");
        n++;
    }
    return n;
}

/*
 * Scenario 4: RAM at MFN 0. MFN 0 never enters the heap, also when a boot
 * allocation that contains it is freed later; no free block spans zones.
 *
 *   node 0: [0 boot alloc 0x10|  reserved  0x1f0| heap |meta|ft 0x200)
 *             zones: 0 = {0}, 1 = {1}, 2 = [2,4), 3 = [4,8), 4 = [8,16) ...
 *
 * Expect: after freeing the boot allocation [0, 0x10) as one order-4 block,
 * MFN 0 is offlined and 15 frames are free in blocks 1, 2-3, 4-7, 8-15
 * (one per zone); after freeing the reserved part too, no block spans a
 * zone (heap_check), MFN 0 is never handed out, and freeing it panics.
 */
TEST(scenario4_ram_at_mfn0)
{
    static const struct sim_machine m = {
        .name = "RAM at MFN 0",
        .nr_banks = 1,
        .banks = {{0, 0x200, 0}},
        .nr_reserved = 1,
        .reserved = {{0x10, 0x1f0}},
    };
    unsigned long before;
    mfn_t b;

    sim_boot(&m);
    b = alloc_boot_pages(16, 16);
    REQUIRE(b == 0);
    end_boot_allocator();
    before = heap_total_free_pages();
    free_heap_pages(0, 4);
    EXPECT_EQ(heap_total_free_pages(), before + 15);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_OFFLINED), "MFN 0 is %s",
           page_state_name(page_state(mfn_to_page(0))));
    EXPECT(free_head_of_order(1, 0) && free_head_of_order(2, 1) &&
               free_head_of_order(4, 2) && free_head_of_order(8, 3),
           "blocks at MFN 1, 2, 4, 8 should be orders 0, 1, 2, 3");
    free_frames(0x10, 0x1f0);
    EXPECT_EQ(heap_check(), 0);
    EXPECT_EQ(mfn_to_page(0)->nr_inits, 0);
    drain_all();
    EXPECT_PANIC(free_heap_pages(0, 0), "MFN 0");
}

/*
 * Scenario 5: a boot allocation spanning two nodes, freed as one
 * high-order block: each part lands in its own node's heap.
 *
 *   node 0: [0x80000 ....... 0x800c0)[0x800c0 ........ node 1 ..... 0x80200)
 *                    [0x80080  boot alloc, order 7  0x80100)
 *
 * Expect: freeing the order-7 block adds 0x40 frames to each node;
 * 0x80080 and 0x800c0 each head an order-6 block (never one order-7 block
 * across the boundary); heap_check finds no block spanning nodes.
 */
TEST(scenario5_block_spanning_two_nodes)
{
    static const struct sim_machine m = {
        .name = "two nodes in contiguous banks",
        .nr_banks = 2,
        .banks = {{0x80000, 0x800c0, 0}, {0x800c0, 0x80200, 1}},
    };
    unsigned long free0, free1;
    mfn_t b;

    sim_boot(&m);
    REQUIRE(alloc_boot_pages(0x80, 0x80) == 0x80100);
    b = alloc_boot_pages(0x80, 0x80);
    REQUIRE(b == 0x80080);
    end_boot_allocator();
    free0 = heap_free_pages_node(0);
    free1 = heap_free_pages_node(1);
    free_heap_pages(b, 7);
    EXPECT_EQ(heap_free_pages_node(0), free0 + 0x40);
    EXPECT_EQ(heap_free_pages_node(1), free1 + 0x40);
    EXPECT(free_head_of_order(0x80080, 6),
           "node 0 part is not one order-6 block");
    EXPECT(free_head_of_order(0x800c0, 6),
           "node 1 part is not one order-6 block");
    EXPECT_EQ(mfn_to_page(0x800c0)->node, 1);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Scenario 6: freeing an uninitialised block initialises each page once.
 *
 *   node 0: [0x80000 ......... |boot alloc 32| ......... |ft 0x80400)
 *
 * Expect: after the free every frame of the block has been through
 * init_heap_pages() exactly once (nr_inits == 1), also after it is
 * allocated and freed again; a second init of it is a panic.
 */
TEST(scenario6_uninitialised_block_initialised_once)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    mfn_t b, a;

    sim_boot(&m);
    b = alloc_boot_pages(32, 32);
    end_boot_allocator();
    free_heap_pages(b, 5);
    for (mfn_t f = b; f < b + 32; f++)
        EXPECT_EQ(mfn_to_page(f)->nr_inits, 1);
    while ((a = alloc_heap_pages(0, 0, 0, 0)) != INVALID_MFN)
        ;
    free_heap_pages(b, 5);
    for (mfn_t f = b; f < b + 32; f++) {
        EXPECT_EQ(mfn_to_page(f)->nr_inits, 1);
        EXPECT(page_state_is(mfn_to_page(f), PAGE_STATE_FREE),
               "frame 0x%lx not free", f);
    }
    EXPECT_EQ(heap_check(), 0);
    EXPECT_PANIC(init_heap_pages(b, 32), "is free, not an uninitialised RAM frame");
}

/* True if every frame of [s, e) has PGC_EXTRA and state `state`. */
static bool all_extra_in_state(mfn_t s, mfn_t e, unsigned int state)
{
    for (mfn_t f = s; f < e; f++) {
        uint64_t ci = page_count_info(mfn_to_page(f));

        if (!(ci & PGC_EXTRA) || pgc_state(ci) != state ||
            (ci & PGC_COUNT_MASK) != 1)
            return false;
    }
    return true;
}

/*
 * Scenario 7: flag bits survive init, alloc and free.
 *
 *   node 0: [0x80000 ......... |boot alloc 8, PGC_EXTRA, count 1| ... |ft
 * 0x80400)
 *
 * Expect: PGC_EXTRA and the reference count are still set on all 8 frames
 * after the free that initialises them (state free), after every page of
 * the heap is allocated (state inuse), and after they are freed again.
 */
TEST(scenario7_flags_survive_init_alloc_free)
{
    static const struct sim_machine m = {
        .name = "one node",
        .nr_banks = 1,
        .banks = {{0x80000, 0x80400, 0}},
    };
    mfn_t b;

    sim_boot(&m);
    b = alloc_boot_pages(8, 8);
    end_boot_allocator();
    for (mfn_t f = b; f < b + 8; f++)
        mfn_to_page(f)->count_info |= PGC_EXTRA | 1;
    free_heap_pages(b, 3);
    EXPECT(all_extra_in_state(b, b + 8, PAGE_STATE_FREE),
           "flags lost by init + free");
    drain_all();
    EXPECT(all_extra_in_state(b, b + 8, PAGE_STATE_INUSE),
           "flags lost by alloc");
    free_heap_pages(b, 3);
    EXPECT(all_extra_in_state(b, b + 8, PAGE_STATE_FREE), "flags lost by free");
    EXPECT_EQ(heap_check(), 0);
}
