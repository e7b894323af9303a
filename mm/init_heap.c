/*
 * mm/init_heap.c - the way into the heap, and the uninitialised page
 * state. (This file is the `uninit` lab: labs/uninit/README.md.)
 *
 * The frame table starts all zero, and zero means *uninitialised*: the
 * frame has never been through init_heap_pages(). A frame may be used
 * while still uninitialised - the boot allocator gave it out, it holds
 * the initrd, it was the early stack - and nobody may declare it
 * initialised: its node's heap may not exist yet, or it may be a frame the
 * heap must never take (MFN 0). It is initialised only when it is freed:
 *
 *   init_heap_pages(s, n)   every free range at the end of boot
 *                           (end_boot_allocator), and
 *   free_heap_pages(m, k)   of a block that is still uninitialised (a boot
 *                           allocation, the initrd): init_heap_pages() of
 *                           that block first.
 *
 * init_heap_pages() walks [s, e) one node run at a time (a run ends at a
 * hole, at another node's frame, or at e), creates the node's heap the
 * first time (mm/node_heap.c), and hands the run over in the largest
 * aligned blocks (buddy_largest_order()). For each block it *claims* the
 * frames (checks each is uninitialised RAM, records its node, counts the
 * init, marks it inuse: a transition that keeps the flag bits) and then
 * runs the free path's two steps on them (mm/heap.c): take back, merge.
 *
 * It cannot recurse without end: it never calls free_heap_pages(), and by
 * the time the free path sees a frame, the frame is inuse. It touches
 * page_info only, never the frames themselves, so a 16 GiB guest does not
 * make QEMU back 16 GiB of host memory at boot.
 */
#include <numbat/compiler.h>

#include "mm/buddy.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/heap_internal.h"
#include "mm/hooks.h"
#include "mm/lab.h"
#include "mm/node_heap.h"

/*
 * Frames that init_heap_pages() claims and takes back in one go: 256
 * page_info are 8 KiB, so the take-back finds them still in the L1 cache
 * (with whole blocks of up to 2^18 frames it would find them in memory).
 */
#define INIT_CHUNK_PAGES 256

/* LAB uninit: BEGIN SOLUTION */
void free_heap_pages(mfn_t mfn, unsigned int order)
{
    uint64_t ci;

    heap_check_block_args("free_heap_pages", mfn, order);
    ci = page_count_info(mfn_to_page(mfn)); /* read once, test the copy */
    if (pgc_state(ci) == PAGE_STATE_UNINITIALISED && !(ci & PGC_HOLE))
        init_heap_range(mfn, mfn + ((mfn_t)1 << order));
    else
        heap_free_block(mfn, order); /* takes the block's node lock */
}

/*
 * Claim frames [s, e), all RAM of node `node`, for the heap: count the
 * init, record the node, mark the frame inuse (flags kept). A frame that
 * is not uninitialised, or that the frame table calls a hole, is a panic.
 */
static void claim_frames(mfn_t s, mfn_t e, unsigned int node)
{
    for (mfn_t m = s; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (unlikely(pgc_state(ci) != PAGE_STATE_UNINITIALISED ||
                     (ci & PGC_HOLE)))
            mm_hook_panic("init_heap_pages: frame 0x%lx is %s%s, not an "
                          "uninitialised RAM frame",
                          m, page_state_name(pgc_state(ci)),
                          ci & PGC_HOLE ? " (a hole)" : "");
        ASSERT(mm_hook_mfn_to_node(m) == node);
        pg->node = (uint8_t)node;
        pg->nr_inits++;
        WRITE_ONCE(pg->count_info, pgc_with_state(ci, PAGE_STATE_INUSE));
    }
}

/*
 * Hand [s, e), RAM of node `node`, to the heap in the largest aligned
 * blocks. For each block: claim its frames (uninitialised -> inuse) and
 * take them back (inuse -> free, step 1 of the free path) chunk by chunk,
 * then merge the whole block (step 2).
 */
static void init_node_run(mfn_t s, mfn_t e, unsigned int node)
{
    while (s < e) {
        unsigned int order = buddy_largest_order(s, e);
        mfn_t block_end = s + ((mfn_t)1 << order);

        for (mfn_t c = s; c < block_end; c += INIT_CHUNK_PAGES) {
            mfn_t chunk_end = MIN(c + INIT_CHUNK_PAGES, block_end);

            claim_frames(c, chunk_end, node);
            heap_take_back_frames(c, chunk_end, node);
        }
        heap_merge_block(s, order, node);
        s = block_end;
    }
}

/* The node of a frame the frame table calls RAM; a panic if it has none. */
static unsigned int node_of_ram(mfn_t mfn)
{
    unsigned int node = mm_hook_mfn_to_node(mfn);

    if (node >= MAX_NUMNODES)
        mm_hook_panic("init_heap_pages: frame 0x%lx is RAM in the frame table "
                      "but the node map gives it node %u",
                      mfn, node);
    return node;
}

void init_heap_range(mfn_t s, mfn_t e)
{
    if (s < e && (!frametable_covers(s) || !frametable_covers(e - 1)))
        mm_hook_panic("init_heap_pages: [0x%lx, 0x%lx) is outside the frame "
                      "table [0x%lx, 0x%lx)",
                      s, e, frametable_first(), frametable_end());
    /*
     * MFN 0 is parked, never handed over. No lock: the caller owns [s, e),
     * and offline_page() leaves MFN 0 alone, so nobody else writes it.
     */
    s = buddy_skip_mfn0(s, e);
    while (s < e) {
        unsigned int node;
        mfn_t run_end, heap_end;

        if (!mfn_valid(s)) { /* a hole: nothing to hand over */
            s++;
            continue;
        }
        node = node_of_ram(s);
        run_end = mm_hook_node_run_end(s, e);
        heap_end = run_end;
        mm_hook_lock(node); /* one node's lock at a time, never two */
        if (node_heap_get(node) == NULL)
            heap_end = node_heap_create(node, s, run_end);
        if (node_heap_get(node) != NULL) /* NULL only with a lab stub */
            init_node_run(s, heap_end, node);
        mm_hook_unlock(node);
        s = run_end;
    }
}
/* LAB uninit: END SOLUTION */
/* LAB uninit: STUB
void free_heap_pages(mfn_t mfn, unsigned int order)
{
    lab_not_implemented("uninit");
    heap_check_block_args("free_heap_pages", mfn, order);
    heap_free_block(mfn, order);
}

void init_heap_range(mfn_t s, mfn_t e)
{
    lab_not_implemented("uninit");
}
*/

void init_heap_pages(mfn_t mfn, unsigned long nr_pages)
{
    init_heap_range(mfn, mfn + nr_pages);
}
