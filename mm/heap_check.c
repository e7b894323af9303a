/*
 * mm/heap_check.c - heap_check(): does the heap still keep every rule?
 *
 * Host tests run it after every operation of their randomized runs; the
 * kernel monitor runs it on request. It checks, with every node's heap lock
 * held (mm_hook_lock_all(): the one path that holds more than one):
 *
 *   lists     every listed block is free, heads a block of its list's order,
 *             is aligned, sits in its list's zone and node, is listed once,
 *             and the list's prev/next links agree;
 *   counters  the free pages on the lists of a node and zone equal its
 *             counter, and the node's total is their sum;
 *   frames    walking the frame table, every free frame lies in exactly
 *             one listed block (accounted for exactly once); a block never
 *             spans a node or a zone; no frame was initialised twice;
 *   maximal   no free block has a free buddy it should have merged with;
 *   never     MFN 0 and holes are never free; carved node-heap frames stay
 *             inuse with PGC_NODE_META, and no other frame has that flag;
 *   pending   every frame that deferred init still has to hand over
 *             (mm/deferred.c) is uninitialised RAM of its node that was
 *             never initialised, and each node's pending counter equals
 *             the frames in its pending ranges;
 *   scrub     only free frames (and frames out of service) carry
 *             PGC_NEED_SCRUB, and each node's dirty counter equals its
 *             free frames that do (mm/scrub.c). That a frame marked clean
 *             really reads zero is checked where it is handed out;
 *   offline   (mm/offline.c) offlining, offlined and broken frames are on no
 *             list (a listed block must be free, and so must every frame
 *             inside a free block); each is counted once, in its node's
 *             counter; PGC_OFFLINE_ASKED only marks uninitialised RAM, and
 *             PGC_BROKEN only a frame that is broken or on its way there.
 *
 * It marks listed heads with PGC_CHECKED while it works (so "listed once"
 * and "every free frame is listed" cost one walk each) and clears every
 * mark before it returns. Each broken rule is printed with the frame, its
 * node and its state; the first HEAP_CHECK_MAX_REPORTS are shown.
 */
#include <numbat/errno.h>

#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"
#include "mm/offline.h"
#include "mm/scrub.h"

#define HEAP_CHECK_MAX_REPORTS 20

static unsigned long nr_broken; /* broken rules found by the running check */
static unsigned long dirty_seen[MAX_NUMNODES]; /* dirty free frames walked */

/* Offline frames the table walk found per node: offlined, broken, pending. */
static unsigned long offline_found[MAX_NUMNODES][3];

static void broken(mfn_t mfn, const char *rule)
{
    const struct page_info *pg;

    if (mfn == INVALID_MFN) { /* a rule about a whole node's bookkeeping */
        if (nr_broken++ < HEAP_CHECK_MAX_REPORTS)
            mm_hook_printk("heap_check: %s\n", rule);
        return;
    }
    pg = mfn_to_page(mfn);
    if (nr_broken++ < HEAP_CHECK_MAX_REPORTS)
        mm_hook_printk("heap_check: frame 0x%lx node %u state %s: %s\n", mfn,
                       pg->node, page_state_name(page_state(pg)), rule);
}

/* The rules for one listed block; marks its head PGC_CHECKED. */
static void check_listed_block(const struct node_heap *nh, unsigned int zone,
                               unsigned int order, struct page_info *pg)
{
    mfn_t mfn = page_to_mfn(pg);
    uint64_t ci = page_count_info(pg);
    mfn_t last = mfn + ((mfn_t)1 << order) - 1;

    if (pgc_state(ci) != PAGE_STATE_FREE)
        broken(mfn, "on a free list but not free");
    if (pg->order != order)
        broken(mfn, "its order field differs from its list's order");
    if (!IS_ALIGNED(mfn, (mfn_t)1 << order) || !frametable_covers(last))
        broken(mfn, "listed block is not aligned or runs off the table");
    else if (mfn_zone(mfn) != zone || mfn_zone(last) != zone)
        broken(mfn, "listed block is not (wholly) in its list's zone");
    if (pg->node != nh->node || mm_hook_mfn_to_node(mfn) != nh->node)
        broken(mfn, "listed block is on another node's list");
    if (ci & PGC_CHECKED)
        broken(mfn, "listed twice");
    page_set_flags(pg, PGC_CHECKED);
}

/* Walk one list; returns the pages on it. */
static unsigned long check_list(const struct node_heap *nh, unsigned int zone,
                                unsigned int order)
{
    unsigned long pages = 0, limit = frametable_end() - frametable_first();
    struct page_info *prev = NULL;

    for (struct page_info *pg = nh->free_lists[zone][order]; pg;
         pg = pg->next) {
        if (pg->prev != prev)
            broken(page_to_mfn(pg), "its prev link does not point back");
        if (page_has_flag(pg, PGC_CHECKED)) {
            broken(page_to_mfn(pg), "listed twice (a cycle?)");
            break;
        }
        check_listed_block(nh, zone, order, pg);
        pages += 1UL << order;
        if (pages > limit)
            break;
        prev = pg;
    }
    return pages;
}

static void check_node_lists(const struct node_heap *nh)
{
    unsigned long total = 0;

    for (unsigned int zone = 0; zone < NR_ZONES; zone++) {
        unsigned long pages = 0;

        for (unsigned int order = 0; order <= MAX_ORDER; order++)
            pages += check_list(nh, zone, order);
        if (pages != nh->free_pages[zone])
            mm_hook_printk("heap_check: node %u zone %u: lists hold %lu free "
                           "pages, the counter says %lu\n",
                           nh->node, zone, pages, nh->free_pages[zone]),
                nr_broken++;
        total += pages;
    }
    if (total != nh->total_free)
        mm_hook_printk("heap_check: node %u: lists hold %lu free pages, the "
                       "total says %lu\n",
                       nh->node, total, nh->total_free),
            nr_broken++;
}

/* Would the free block at mfn have merged with its buddy? */
static bool has_free_buddy(mfn_t mfn, unsigned int order, unsigned int node)
{
    mfn_t buddy = mfn ^ ((mfn_t)1 << order);
    const struct page_info *bpg;

    if (order >= MAX_ORDER || !mfn_valid(buddy))
        return false;
    bpg = mfn_to_page(buddy);
    return page_state_is(bpg, PAGE_STATE_FREE) && bpg->order == order &&
           bpg->node == node && mfn_zone(buddy) == mfn_zone(mfn);
}

/* The rules for the free block that the table walk meets at mfn. */
static mfn_t check_free_block(mfn_t mfn)
{
    struct page_info *head = mfn_to_page(mfn);
    unsigned int order = head->order;
    mfn_t end = mfn + ((mfn_t)1 << MIN(order, (unsigned int)MAX_ORDER));

    if (!page_has_flag(head, PGC_CHECKED))
        broken(mfn, "free but on no free list");
    if (page_has_flag(head, PGC_NEED_SCRUB) && head->node < MAX_NUMNODES)
        dirty_seen[head->node]++;
    if (has_free_buddy(mfn, order, head->node))
        broken(mfn, "free block left unmerged with its free buddy");
    for (mfn_t m = mfn + 1; m < end && frametable_covers(m); m++) {
        struct page_info *pg = mfn_to_page(m);

        if (!page_state_is(pg, PAGE_STATE_FREE) || !mfn_valid(m))
            broken(m, "inside a free block but not a free RAM frame");
        if (pg->node != head->node || mm_hook_mfn_to_node(m) != head->node)
            broken(m, "free block spans two nodes");
        if (page_has_flag(pg, PGC_NEED_SCRUB) && pg->node < MAX_NUMNODES)
            dirty_seen[pg->node]++;
        if (page_has_flag(pg, PGC_CHECKED)) {
            broken(m, "inside a free block and listed as a block of its own");
            page_clear_flags(pg, PGC_CHECKED);
        }
    }
    page_clear_flags(head, PGC_CHECKED);
    return end;
}

/* The rules every frame keeps, whatever its state. */
static void check_frame(mfn_t mfn)
{
    const struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);
    const struct node_heap *nh = node_heap_get(pg->node);

    if (pg->nr_inits > 1)
        broken(mfn, "initialised more than once");
    if ((ci & PGC_HOLE) &&
        (pgc_state(ci) != PAGE_STATE_UNINITIALISED || pg->nr_inits))
        broken(mfn, "a hole that went into the heap");
    if (mfn == 0 && pg->nr_inits)
        broken(mfn, "MFN 0 went into the heap");
    if ((ci & PGC_NODE_META) &&
        (pgc_state(ci) != PAGE_STATE_INUSE || nh == NULL ||
         nh->meta_mfn == INVALID_MFN || mfn < nh->meta_mfn ||
         mfn >= nh->meta_mfn + nh->meta_pages))
        broken(mfn,
               "carved node-heap frame changed state or belongs to no heap");
    if ((ci & PGC_NEED_SCRUB) && (pgc_state(ci) == PAGE_STATE_UNINITIALISED ||
                                  pgc_state(ci) == PAGE_STATE_INUSE ||
                                  pgc_state(ci) == PAGE_STATE_OFFLINING))
        broken(mfn, "marked as needing a scrub but not free (only free "
                    "frames may be)");
}

/* Each node's dirty counter against the dirty free frames the walk met. */
static void check_dirty_counts(void)
{
    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        if (dirty_seen[node] != scrub_dirty_pages(node))
            mm_hook_printk("heap_check: node %u: %lu free frames need a "
                           "scrub, the dirty counter says %lu\n",
                           node, dirty_seen[node], scrub_dirty_pages(node)),
                nr_broken++;
}

/*
 * The rules of the offline states (mm/offline.c); counts the frame for
 * its node's counters. MFN 0 (offline_page() refuses it) is in none.
 */
static void check_offline_frame(mfn_t mfn, uint64_t ci)
{
    unsigned int state = pgc_state(ci), node = mm_hook_mfn_to_node(mfn);
    bool asked = (ci & PGC_OFFLINE_ASKED) != 0;
    int slot = -1;

    if (asked && (state != PAGE_STATE_UNINITIALISED || (ci & PGC_HOLE)))
        broken(mfn, "PGC_OFFLINE_ASKED on a frame that is not uninitialised "
                    "RAM");
    if ((ci & PGC_BROKEN) && state != PAGE_STATE_BROKEN &&
        state != PAGE_STATE_OFFLINING && !asked)
        broken(mfn, "PGC_BROKEN on a frame that is neither broken nor on its "
                    "way there");
    if (mfn == 0) /* parked by buddy_skip_mfn0(), in no counter */
        return;
    if (state == PAGE_STATE_OFFLINED)
        slot = 0;
    else if (state == PAGE_STATE_BROKEN)
        slot = 1;
    else if (state == PAGE_STATE_OFFLINING || asked)
        slot = 2;
    if (slot < 0)
        return;
    if (node >= MAX_NUMNODES || (ci & (PGC_HOLE | PGC_NODE_META)))
        broken(mfn, "an offline frame that is a hole, on no node, or carved");
    else
        offline_found[node][slot]++;
    if (slot < 2 && node < MAX_NUMNODES && mfn_to_page(mfn)->node != node)
        broken(mfn, "an offline frame that records another node");
}

/* Walk the frame table in address order. */
static void check_frames(void)
{
    mfn_t mfn = frametable_first();

    __builtin_memset(offline_found, 0, sizeof(offline_found));
    while (mfn < frametable_end()) {
        check_frame(mfn);
        if (page_state_is(mfn_to_page(mfn), PAGE_STATE_FREE))
            mfn = check_free_block(mfn);
        else
            mfn++;
    }
    for (mfn = frametable_first(); mfn < frametable_end(); mfn++) {
        if (page_has_flag(mfn_to_page(mfn), PGC_CHECKED)) /* no store to */
            page_clear_flags(mfn_to_page(mfn), PGC_CHECKED); /* a zero section */
        check_offline_frame(mfn, page_count_info(mfn_to_page(mfn)));
    }
}

/* Each carved range must still be marked as such. */
static void check_carved(const struct node_heap *nh)
{
    if (nh->meta_mfn == INVALID_MFN)
        return;
    for (mfn_t m = nh->meta_mfn; m < nh->meta_mfn + nh->meta_pages; m++)
        if (!page_has_flag(mfn_to_page(m), PGC_NODE_META) ||
            mfn_to_page(m)->node != nh->node)
            broken(m, "carved node-heap frame lost its PGC_NODE_META mark");
}

int heap_check(void)
{
    unsigned long found;

    mm_hook_lock_all(); /* the one path that holds every node's lock */
    nr_broken = 0;
    for (unsigned int node = 0; node < MAX_NUMNODES; node++) {
        const struct node_heap *nh = node_heap_get(node);

        if (nh) {
            check_node_lists(nh);
            check_carved(nh);
        }
        deferred_check_node(node, broken); /* pending frames still pending */
    }
    __builtin_memset(dirty_seen, 0, sizeof(dirty_seen));
    if (frametable_end() > frametable_first()) {
        check_frames();
        for (unsigned int node = 0; node < MAX_NUMNODES; node++)
            nr_broken += offline_check_counters(node, offline_found[node]);
    }
    check_dirty_counts();
    found = nr_broken;
    mm_hook_unlock_all();
    if (found > HEAP_CHECK_MAX_REPORTS)
        mm_hook_printk("heap_check: %lu broken rules (first %u shown)\n", found,
                       HEAP_CHECK_MAX_REPORTS);
    return found ? -EINVAL : 0;
}
