/*
 * mm/inherit.c - the `inuse` policy of live update: inherited frames
 * initialised as in use at boot.
 *
 * After a live update (kernel/liveupdate.c) the new kernel owns frames
 * that an old kernel gave out and that are still in use. The Xen review
 * thread that docs/xen-thread.md tells ended on what to make of them:
 *
 *   lu_pages=uninit  leave them uninitialised. They meet this kernel's
 *                    rules in init_heap_pages() when they are freed,
 *                    like the initrd; nothing in this file runs.
 *   lu_pages=inuse   initialise them now, as in use, with the helper
 *                    below, so the heap's bookkeeping for them (node,
 *                    init count, state) is right from the first moment.
 *
 * The helper does what init_heap_pages() does on the way in, except the
 * hand-over to the free lists: it records each frame's node, counts the
 * init, and moves the frame uninitialised -> inuse (flags kept). Then a
 * later free_heap_pages() takes the ordinary path (take back, merge).
 *
 * The thread's hard cases, as this policy must meet them:
 *   - a node all of whose frames are inherited: its heap does not exist,
 *     and no free frame of it can be carved for one. The helper creates
 *     it at boot from the static pool (node_heap_create() of one frame,
 *     too few to carve from, touches no frame), so the node has a heap with nothing free in it;
 *   - MFN 0 given out by an old kernel that did not exclude it: this
 *     kernel's heap never takes MFN 0, so it cannot set up its state as a
 *     heap frame in use: refused (panic), with lu_pages=uninit named as
 *     the policy that copes (init_heap_pages() parks it when freed);
 *   - a frame this kernel excludes (a hole in its memory map): refused
 *     the same way; uninit skips it when the range is freed;
 *   - a frame this kernel wants out of service (badpages=, an erratum):
 *     it becomes offlining, not inuse - its owner keeps it and the free
 *     parks it - as uninit's init_heap_pages() would park it.
 */
#include "mm/frametable.h"
#include "mm/hooks.h"
#include "mm/inherit.h"
#include "mm/node_heap.h"
#include "mm/offline.h"

/* Why frame m cannot be initialised in use here, or NULL if it can. */
static const char *refusal(mfn_t m, uint64_t ci)
{
    if (m == 0)
        return "MFN 0, which this kernel never lets into its heap";
    if (!mfn_valid(m))
        return "not RAM in this kernel (a hole or outside the frame table)";
    if (pgc_state(ci) != PAGE_STATE_UNINITIALISED)
        return "already initialised (the heap has it)";
    return NULL;
}

/*
 * Claim one inherited frame of `node`: node, init count, inuse - or
 * offlining, if this kernel marked it to leave service (badpages=): its
 * owner keeps it, and the free parks it, as init_heap_pages() would have.
 */
static void claim_inherited(struct page_info *pg, uint64_t ci,
                            unsigned int node)
{
    pg->node = (uint8_t)node;
    pg->nr_inits++;
    WRITE_ONCE(pg->count_info, offline_inuse_state(ci, node));
}

/* A frame that cannot be initialised in use: a panic naming the way out. */
static void refuse(mfn_t m, mfn_t s, mfn_t e, const char *why)
{
    mm_hook_panic("inherit_frames_inuse: frame 0x%lx of preserved range "
                  "[0x%lx, 0x%lx) is %s: policy inuse cannot declare it in "
                  "use; boot with lu_pages=uninit",
                  m, s, e, why);
}

/* Claim [m, run_end), frames of `node`, under that node's lock. */
static void inherit_run(mfn_t m, mfn_t run_end, unsigned int node, mfn_t s,
                        mfn_t e)
{
    mm_hook_lock(node);
    if (node_heap_get(node) == NULL)
        node_heap_create(node, m, m + 1); /* < NODE_HEAP_PAGES: the pool */
    for (; m < run_end; m++) {
        uint64_t ci = page_count_info(mfn_to_page(m));
        const char *why = refusal(m, ci);

        if (why) {
            mm_hook_unlock(node);
            refuse(m, s, e, why);
        }
        claim_inherited(mfn_to_page(m), ci, node);
    }
    mm_hook_unlock(node);
}

void inherit_frames_inuse(mfn_t s, mfn_t e)
{
    for (mfn_t m = s; m < e;) {
        uint64_t ci = frametable_covers(m) ? page_count_info(mfn_to_page(m))
                                           : 0;
        const char *why = refusal(m, ci);
        unsigned int node;
        mfn_t run_end;

        if (why)
            refuse(m, s, e, why);
        node = mm_hook_mfn_to_node(m);
        if (node >= MAX_NUMNODES)
            refuse(m, s, e, "on no node");
        run_end = mm_hook_node_run_end(m, e);
        inherit_run(m, run_end, node, s, e);
        m = run_end;
    }
}
