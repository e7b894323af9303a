/*
 * tests/host/test_lu_handover.c - the new kernel's side of a live update,
 * on simulated machines: the thread's hard cases under both policies.
 *
 * A preserved range reaches the new kernel as a reserved range (that is
 * what kernel/liveupdate.c makes of it), so each machine below reserves
 * it, boots, and then applies one policy:
 *   uninit  nothing at boot; the owner's free goes through
 *           init_heap_pages(), which applies this kernel's rules;
 *   inuse   inherit_frames_inuse() at boot (mm/inherit.c), then an
 *           ordinary free.
 * QEMU's virt machine has no RAM at MFN 0, so the case of an old kernel
 * that gave MFN 0 out is staged here only. heap_check() after each step.
 */
#include <string.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/inherit.h"
#include "mm/offline.h"
#include "mm/page.h"

static bool free_head_of_order(mfn_t mfn, unsigned int order)
{
    const struct page_info *pg = mfn_to_page(mfn);

    return page_state_is(pg, PAGE_STATE_FREE) && pg->order == order;
}

static unsigned long inuse_frames(mfn_t s, mfn_t e)
{
    unsigned long n = 0;

    for (mfn_t m = s; m < e; m++)
        n += page_state_is(mfn_to_page(m), PAGE_STATE_INUSE) &&
             mfn_to_page(m)->nr_inits == 1;
    return n;
}

/*
 * An old kernel without the MFN 0 exclusion gave out [0, 16):
 *
 *   RAM [0 preserved 0x10| ............ heap ................ 0x200)
 *
 * Expect, uninit: the free parks MFN 0 (offlined, never free) and the
 * other 15 frames merge into blocks of orders 0, 1, 2, 3; inuse: refused
 * with a panic that names MFN 0 and lu_pages=uninit.
 */
static const struct sim_machine mfn0_machine = {
    .name = "RAM at MFN 0, [0, 16) preserved",
    .nr_banks = 1,
    .banks = {{0, 0x200, 0}},
    .nr_reserved = 1,
    .reserved = {{0, 0x10}},
};

TEST(uninit_old_kernel_gave_out_mfn0)
{
    unsigned long before;

    sim_boot_and_end(&mfn0_machine);
    before = heap_total_free_pages();
    free_heap_pages(0, 4);
    EXPECT_EQ(heap_total_free_pages(), before + 15);
    EXPECT(page_state_is(mfn_to_page(0), PAGE_STATE_OFFLINED), "MFN 0 is %s",
           page_state_name(page_state(mfn_to_page(0))));
    EXPECT(free_head_of_order(1, 0) && free_head_of_order(2, 1) &&
               free_head_of_order(4, 2) && free_head_of_order(8, 3),
           "blocks at 1, 2, 4, 8 should be orders 0..3");
    EXPECT_EQ(heap_check(), 0);
}

TEST(inuse_old_kernel_gave_out_mfn0_refused)
{
    sim_boot_and_end(&mfn0_machine);
    EXPECT_PANIC(inherit_frames_inuse(0, 0x10), "MFN 0");
    EXPECT(strstr(sim_panic_msg, "lu_pages=uninit") != NULL, "panic: %s",
           sim_panic_msg);
}

/*
 * A node all of whose frames are preserved:
 *
 *   node 0: [0x80000 ....... heap ........ 0x81000)
 *   node 1: [0x81000 ... all preserved ... 0x81100)
 *
 * Expect, uninit: no heap for node 1 at boot, one after the first free
 * (carved from the freed frames); inuse: a heap at boot with nothing
 * free (the static pool: nothing could be carved), every frame inuse and
 * initialised once; the free then lands all 256 frames on node 1.
 */
static const struct sim_machine whole_node = {
    .name = "node 1 wholly preserved",
    .nr_banks = 2,
    .banks = {{0x80000, 0x81000, 0}, {0x81000, 0x81100, 1}},
    .nr_reserved = 1,
    .reserved = {{0x81000, 0x81100}},
};

TEST(uninit_whole_node_heap_on_first_free)
{
    sim_boot_and_end(&whole_node);
    EXPECT(!heap_node_exists(1), "node 1 has a heap before any free");
    free_heap_pages(0x81000, 8);
    EXPECT(heap_node_exists(1), "node 1 has no heap after the free");
    EXPECT_EQ(heap_free_pages_node(1), 0x100 - 3); /* 3 carved for its heap */
    EXPECT_EQ(heap_check(), 0);
}

TEST(inuse_whole_node_heap_at_boot)
{
    sim_boot_and_end(&whole_node);
    inherit_frames_inuse(0x81000, 0x81100);
    EXPECT(heap_node_exists(1), "inuse did not create node 1's heap");
    EXPECT_EQ(heap_free_pages_node(1), 0);
    EXPECT_EQ(inuse_frames(0x81000, 0x81100), 0x100);
    EXPECT_EQ(heap_check(), 0);
    free_heap_pages(0x81000, 8);
    EXPECT_EQ(heap_free_pages_node(1), 0x100); /* nothing carved: the pool */
    EXPECT(free_head_of_order(0x81000, 8), "not one order-8 block");
    EXPECT_EQ(heap_check(), 0);
}

/*
 * A preserved range that spans two nodes:
 *
 *   node 0: [0x80000 ...... |0x80080 preserved   0x800c0)
 *   node 1: [0x800c0  preserved 0x80100| ...... 0x80200)
 *
 * Expect, uninit: one free of the order-7 block puts 0x40 frames on each
 * node, one order-6 block each; inuse: each frame initialised on its own
 * node, and freed per node (a block must not span nodes) the same.
 */
static const struct sim_machine spanning = {
    .name = "preserved range across two nodes",
    .nr_banks = 2,
    .banks = {{0x80000, 0x800c0, 0}, {0x800c0, 0x80200, 1}},
    .nr_reserved = 1,
    .reserved = {{0x80080, 0x80100}},
};

static void expect_split(unsigned long free0, unsigned long free1)
{
    EXPECT_EQ(heap_free_pages_node(0), free0 + 0x40);
    EXPECT_EQ(heap_free_pages_node(1), free1 + 0x40);
    EXPECT(free_head_of_order(0x80080, 6), "node 0 part not one block");
    EXPECT(free_head_of_order(0x800c0, 6), "node 1 part not one block");
    EXPECT_EQ(heap_check(), 0);
}

TEST(uninit_range_spanning_two_nodes)
{
    unsigned long f0, f1;

    sim_boot_and_end(&spanning);
    f0 = heap_free_pages_node(0);
    f1 = heap_free_pages_node(1);
    free_heap_pages(0x80080, 7);
    expect_split(f0, f1);
}

TEST(inuse_range_spanning_two_nodes)
{
    unsigned long f0, f1;

    sim_boot_and_end(&spanning);
    inherit_frames_inuse(0x80080, 0x80100);
    EXPECT_EQ(mfn_to_page(0x800bf)->node, 0);
    EXPECT_EQ(mfn_to_page(0x800c0)->node, 1);
    EXPECT_EQ(heap_check(), 0);
    f0 = heap_free_pages_node(0);
    f1 = heap_free_pages_node(1);
    free_heap_pages(0x80080, 6);
    free_heap_pages(0x800c0, 6);
    expect_split(f0, f1);
}

/*
 * A frame this kernel excludes: the old kernel had RAM at [0x800f0,
 * 0x80100) and gave out [0x800e0, 0x80100); this kernel's memory map has
 * a hole there (the kernel itself refuses such a record at boot, since
 * the owner's data in the hole is gone: this stages what each policy's
 * mechanism does with a frame the heap must not take).
 *
 *   [0x80000 ...... |0x800e0 kept 0x800f0| hole |0x80100 ....... 0x80200)
 *
 * Expect, uninit: freeing the order-5 block [0x800e0, 0x80100) skips the
 * hole (never free, never initialised) and hands the 16 RAM frames over;
 * inuse: refused with a panic naming frame 0x800f0 and "not RAM".
 */
static const struct sim_machine holed = {
    .name = "a preserved block over a hole of the new map",
    .nr_banks = 2,
    .banks = {{0x80000, 0x800f0, 0}, {0x80100, 0x80200, 0}},
    .nr_reserved = 1,
    .reserved = {{0x800e0, 0x800f0}},
};

TEST(uninit_excluded_frame_skipped)
{
    unsigned long before;

    sim_boot_and_end(&holed);
    before = heap_total_free_pages();
    free_heap_pages(0x800e0, 5);
    EXPECT_EQ(heap_total_free_pages(), before + 16);
    EXPECT(page_has_flag(mfn_to_page(0x800f0), PGC_HOLE) &&
               mfn_to_page(0x800f0)->nr_inits == 0,
           "the hole was initialised");
    EXPECT_EQ(heap_check(), 0);
}

TEST(inuse_excluded_frame_refused)
{
    sim_boot_and_end(&holed);
    EXPECT_PANIC(inherit_frames_inuse(0x800e0, 0x80100), "0x800f0");
    EXPECT(strstr(sim_panic_msg, "not RAM") != NULL, "panic: %s",
           sim_panic_msg);
}

/*
 * A frame this kernel wants out of service (badpages= before its heap
 * exists: an erratum, or RAM found bad) inside a preserved block:
 *
 *   [0x80000 ...... |0x80080 kept, order 4: 0x80081 broken, 0x80083
 *                    offlined 0x80090| ................ 0x80200)
 *
 * Expect, both policies: the owner keeps the whole block; its free parks
 * 0x80081 (broken) and 0x80083 (offlined) and hands the other 14 frames
 * to the heap. inuse declares the two marked frames offlining at boot,
 * not inuse, so the ordinary free path parks them.
 */
static const struct sim_machine marked = {
    .name = "a preserved block with frames marked to leave",
    .nr_banks = 1,
    .banks = {{0x80000, 0x80200, 0}},
    .nr_reserved = 1,
    .reserved = {{0x80080, 0x80090}},
};

static void boot_marked(void)
{
    sim_boot(&marked);
    EXPECT_EQ(offline_page(0x80081, true), 0);
    EXPECT_EQ(offline_page(0x80083, false), 0);
    end_boot_allocator();
}

static void free_marked(void)
{
    unsigned long before = heap_total_free_pages();

    free_heap_pages(0x80080, 4);
    EXPECT_EQ(heap_total_free_pages(), before + 14);
    EXPECT(page_state_is(mfn_to_page(0x80081), PAGE_STATE_BROKEN),
           "0x80081 (bad RAM) is not broken after the free");
    EXPECT(page_state_is(mfn_to_page(0x80083), PAGE_STATE_OFFLINED),
           "0x80083 is not offlined after the free");
    EXPECT_EQ(offline_nr_broken(0), 1);
    EXPECT_EQ(offline_nr_offlined(0), 1);
    EXPECT_EQ(offline_nr_pending(0), 0);
    EXPECT_EQ(heap_check(), 0);
}

TEST(uninit_marked_frame_parked_when_freed)
{
    boot_marked();
    EXPECT_EQ(offline_nr_pending(0), 2);
    free_marked();
}

TEST(inuse_marked_frame_offlining_then_parked)
{
    boot_marked();
    inherit_frames_inuse(0x80080, 0x80090);
    EXPECT(page_state_is(mfn_to_page(0x80081), PAGE_STATE_OFFLINING) &&
               page_has_flag(mfn_to_page(0x80081), PGC_BROKEN),
           "marked broken 0x80081 should be offlining (broken) at boot");
    EXPECT(page_state_is(mfn_to_page(0x80083), PAGE_STATE_OFFLINING),
           "marked 0x80083 should be offlining at boot");
    EXPECT_EQ(inuse_frames(0x80080, 0x80090), 14);
    EXPECT_EQ(offline_nr_pending(0), 2);
    EXPECT_EQ(heap_check(), 0);
    free_marked();
}

/*
 * An old kernel with a larger MAX_ORDER (20) kept a 2^19-frame block:
 *
 *   [0x80000 preserved, 2^19 frames 0x100000| frame table ... 0x102000)
 *
 * Expect, both policies: this kernel (MAX_ORDER 18) frees it as two
 * order-18 blocks, each free and at most MAX_ORDER; totals exact.
 */
static const struct sim_machine big_block = {
    .name = "an order-19 block from an old kernel",
    .nr_banks = 1,
    .banks = {{0x80000, 0x102000, 0}},
    .nr_reserved = 1,
    .reserved = {{0x80000, 0x100000}},
};

static void free_big_block(void)
{
    unsigned long before = heap_total_free_pages();

    free_heap_pages(0x80000, MAX_ORDER);
    free_heap_pages(0xc0000, MAX_ORDER);
    EXPECT_EQ(heap_total_free_pages(), before + 0x80000);
    EXPECT(free_head_of_order(0x80000, MAX_ORDER) &&
               free_head_of_order(0xc0000, MAX_ORDER),
           "not two blocks of MAX_ORDER");
    EXPECT_EQ(heap_check(), 0);
}

TEST(uninit_block_above_max_order)
{
    sim_boot_and_end(&big_block);
    free_big_block();
}

TEST(inuse_block_above_max_order)
{
    sim_boot_and_end(&big_block);
    inherit_frames_inuse(0x80000, 0x100000);
    EXPECT_EQ(inuse_frames(0x80000, 0x100000), 0x80000);
    free_big_block();
}
