/*
 * mm/offline.c - taking frames out of service: offlining, and broken RAM.
 * (This file is the `offline` lab: labs/offline/README.md.)
 *
 * A frame can be asked to leave service: its RAM reports errors, a new
 * kernel must not use it (a hardware erratum), or an operator wants it
 * empty. `broken` says it is bad RAM: it then never comes back. What
 * happens depends on the frame's state (docs/mm.md draws the diagram):
 *
 *   free           leaves at once. The free block that holds it is taken
 *                  off its list and split around it: every other frame
 *                  goes back as the largest aligned blocks, and the frame
 *                  becomes offlined (or broken).
 *
 *                      block of order 3 at 8, frame 13 offlined:
 *                      [8 9 10 11][12][13][14 15]
 *                       order 2   o0  out  order 1
 *
 *   inuse          its owner keeps it: it becomes offlining (with
 *                  PGC_BROKEN: broken while in use), and the free path
 *                  parks it - offlined or broken instead of free - when the
 *                  owner frees it; the rest of the freed block goes back.
 *   uninitialised  (a boot allocation, the initrd, a frame not yet handed
 *                  over) gets PGC_OFFLINE_ASKED; init_heap_pages() parks it
 *                  instead of handing it over, like a hole.
 *
 * online_page() undoes it: an offlined frame goes through the free path
 * (it merges with its buddies again), an offlining one is simply inuse
 * again, a marked uninitialised one loses its mark. A broken frame never
 * returns. MFN 0 and the frames carved for a node heap are the heap's
 * own: they neither leave nor come back.
 *
 * Finding the free block that holds a frame: its head is the frame's
 * address rounded down to some order k. Try k from MAX_ORDER down and
 * take the first head that is free and records order k. Frames inside a
 * block may keep a stale order from an older block, but only ever a
 * smaller one than the block they sit in, so going down meets the real
 * head first.
 *
 * Counters: per node, the frames offlined, broken, and on their way
 * (offlining, or uninitialised and marked); heap_check() counts the frame
 * table and compares. MFN 0, parked by buddy_skip_mfn0(), is in none.
 *
 * Locking: the lock of the frame's node guards its state and its node's
 * lists and counters. Flag bits survive every transition; PGC_BROKEN, once
 * set, stays for good.
 */
#include <numbat/errno.h>

#include "mm/buddy.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/heap_internal.h"
#include "mm/hooks.h"
#include "mm/lab.h"
#include "mm/node_heap.h"
#include "mm/offline.h"
#include "mm/poison.h"
#include "mm/scrub.h"

/* One node's counters; the node's lock guards them. */
struct offline_counts {
    unsigned long offlined;  /* frames in state offlined (not MFN 0) */
    unsigned long broken;    /* frames in state broken */
    unsigned long offlining; /* inuse frames marked: state offlining */
    unsigned long asked;     /* uninitialised frames with PGC_OFFLINE_ASKED */
};

static struct offline_counts offline_node_counts[MAX_NUMNODES];

/* ---- the checks every call starts with ----------------------------------- */

/* 0 if mfn is RAM of a node, else the code mm/offline.h gives. */
static int check_ram(mfn_t mfn, unsigned int *node)
{
    if (!frametable_covers(mfn))
        return -ERANGE;
    if (!mfn_valid(mfn))
        return -EFAULT;
    *node = mm_hook_mfn_to_node(mfn);
    return *node < MAX_NUMNODES ? 0 : -EFAULT;
}

/* MFN 0 and carved node-heap frames belong to the heap itself. */
static bool heap_owned(mfn_t mfn, uint64_t ci)
{
    return mfn == 0 || (ci & PGC_NODE_META);
}

/* The state a frame takes when it leaves service. */
static unsigned int parked_state(uint64_t ci)
{
    return (ci & PGC_BROKEN) ? PAGE_STATE_BROKEN : PAGE_STATE_OFFLINED;
}

/* LAB offline: BEGIN SOLUTION */
/* Count a frame of `node` that has just been parked in `state`. */
static void count_parked(unsigned int node, unsigned int state)
{
    if (state == PAGE_STATE_BROKEN)
        offline_node_counts[node].broken++;
    else
        offline_node_counts[node].offlined++;
}

/* The head of the free block that holds free frame mfn; its order too. */
static mfn_t free_block_of(mfn_t mfn, unsigned int *order)
{
    for (int k = MAX_ORDER; k >= 0; k--) {
        mfn_t head = mfn & ~(((mfn_t)1 << k) - 1);
        const struct page_info *pg;

        if (!frametable_covers(head))
            continue;
        pg = mfn_to_page(head);
        if (page_state_is(pg, PAGE_STATE_FREE) && pg->order == k) {
            *order = (unsigned int)k;
            return head;
        }
    }
    mm_hook_panic("offline_page: free frame 0x%lx lies in no free block", mfn);
}

/* Take the free block at head (order `order`) off its list, uncounted. */
static void unlist_block(struct node_heap *nh, mfn_t head, unsigned int order)
{
    unsigned int zone = mfn_zone(head);
    struct page_info *pg = mfn_to_page(head);

    if (pg->prev)
        pg->prev->next = pg->next;
    else
        nh->free_lists[zone][order] = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
    nh->free_pages[zone] -= 1UL << order;
    nh->total_free -= 1UL << order;
}

/*
 * Free frame mfn leaves the heap: split its block around it. The frame is
 * parked first, so no half merges back over it; the halves go back from
 * the smallest (next to the frame) to the largest, so each half's buddy
 * is the frame or a half already listed with its true, smaller order.
 */
static void offline_free_frame(mfn_t mfn, unsigned int node, uint64_t ci)
{
    struct node_heap *nh = node_heap_get(node);
    unsigned int order, state = parked_state(ci);
    mfn_t head = free_block_of(mfn, &order);

    unlist_block(nh, head, order);
    scrub_forget_frames(mfn, mfn + 1, node); /* no longer a free frame */
    ci &= ~PGC_NEED_SCRUB;
    WRITE_ONCE(mfn_to_page(mfn)->count_info, pgc_with_state(ci, state));
    count_parked(node, state);
    for (unsigned int k = 0; k < order; k++) {
        mfn_t half = (mfn ^ ((mfn_t)1 << k)) & ~(((mfn_t)1 << k) - 1);

        buddy_free(nh, half, k);
    }
}

/* The rules of offline_page() for each state; the node's lock held. */
static int offline_locked(mfn_t mfn, unsigned int node, bool broken)
{
    struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);
    uint64_t mark = broken ? PGC_BROKEN : 0;

    if (heap_owned(mfn, ci))
        return -EBUSY;
    switch (pgc_state(ci)) {
    case PAGE_STATE_UNINITIALISED:
        if (!(ci & PGC_OFFLINE_ASKED))
            offline_node_counts[node].asked++;
        WRITE_ONCE(pg->count_info, ci | PGC_OFFLINE_ASKED | mark);
        return 0;
    case PAGE_STATE_FREE:
        offline_free_frame(mfn, node, ci | mark);
        return 0;
    case PAGE_STATE_INUSE:
        offline_node_counts[node].offlining++;
        WRITE_ONCE(pg->count_info,
                   pgc_with_state(ci | mark, PAGE_STATE_OFFLINING));
        return 0;
    case PAGE_STATE_OFFLINING:
        WRITE_ONCE(pg->count_info, ci | mark);
        return 0;
    case PAGE_STATE_OFFLINED:
        if (broken) {
            offline_node_counts[node].offlined--;
            offline_node_counts[node].broken++;
            WRITE_ONCE(pg->count_info,
                       pgc_with_state(ci | mark, PAGE_STATE_BROKEN));
        }
        return 0;
    default: /* broken already */
        return 0;
    }
}

int offline_page(mfn_t mfn, bool broken)
{
    unsigned int node;
    int err = check_ram(mfn, &node);

    if (err)
        return err;
    mm_hook_lock(node);
    err = offline_locked(mfn, node, broken);
    mm_hook_unlock(node);
    return err;
}

/*
 * An offlined frame comes back: its state is changed here, under the
 * lock; the caller then frees it (*how = 1: inuse, through the free path)
 * or initialises it (*how = 2: parked before init, so uninitialised again,
 * through init_heap_pages()) once the lock is let go, because both paths
 * take the node's lock themselves.
 */
static void online_offlined(mfn_t mfn, unsigned int node, int *how)
{
    struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);

    offline_node_counts[node].offlined--;
    if (pg->nr_inits == 0) {
        WRITE_ONCE(pg->count_info,
                   pgc_with_state(ci, PAGE_STATE_UNINITIALISED));
        *how = 2;
        return;
    }
    WRITE_ONCE(pg->count_info, pgc_with_state(ci, PAGE_STATE_INUSE));
    *how = 1;
}

/* The rules of online_page() for each state; the node's lock held. */
static int online_locked(mfn_t mfn, unsigned int node, int *how)
{
    struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);

    if (heap_owned(mfn, ci))
        return -EBUSY;
    if (ci & PGC_BROKEN)
        return -EIO;
    switch (pgc_state(ci)) {
    case PAGE_STATE_UNINITIALISED:
        if (ci & PGC_OFFLINE_ASKED) {
            offline_node_counts[node].asked--;
            WRITE_ONCE(pg->count_info, ci & ~PGC_OFFLINE_ASKED);
        }
        return 0;
    case PAGE_STATE_OFFLINING:
        offline_node_counts[node].offlining--;
        WRITE_ONCE(pg->count_info, pgc_with_state(ci, PAGE_STATE_INUSE));
        return 0;
    case PAGE_STATE_OFFLINED:
        online_offlined(mfn, node, how);
        return 0;
    case PAGE_STATE_BROKEN:
        return -EIO;
    default: /* free or inuse: online already */
        return 0;
    }
}

int online_page(mfn_t mfn)
{
    unsigned int node;
    int how = 0, err = check_ram(mfn, &node);

    if (err)
        return err;
    mm_hook_lock(node);
    err = online_locked(mfn, node, &how);
    mm_hook_unlock(node);
    if (how == 1)
        heap_free_block(mfn, 0); /* merges with its buddies */
    else if (how == 2)
        init_heap_range(mfn, mfn + 1);
    return err;
}

/* Free the inuse frames [s, e) of `node` in the largest aligned blocks. */
static void free_run(mfn_t s, mfn_t e, unsigned int node)
{
    while (s < e) {
        unsigned int order;

        heap_take_back_freed(s, s + 1, node); /* panics first on MFN 0 */
        order = buddy_largest_order(s, e);
        heap_take_back_freed(s + 1, s + ((mfn_t)1 << order), node);
        poison_freed(s, order);
        heap_merge_block(s, order, node);
        s += (mfn_t)1 << order;
    }
}

/*
 * The free of a block that may hold offlining frames: park each of them,
 * free the runs between them. A run never merges over a frame that is
 * still to come: that frame is inuse or offlining, never free.
 */
void offline_free_block_locked(mfn_t mfn, unsigned int order, unsigned int node)
{
    mfn_t e = mfn + ((mfn_t)1 << order);
    mfn_t s = mfn;

    for (mfn_t m = mfn; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (pgc_state(ci) != PAGE_STATE_OFFLINING)
            continue;
        free_run(s, m, node);
        offline_node_counts[node].offlining--;
        count_parked(node, parked_state(ci));
        WRITE_ONCE(pg->count_info, pgc_with_state(ci, parked_state(ci)));
        s = m + 1;
    }
    free_run(s, e, node);
}

bool offline_park_if_asked(mfn_t mfn, unsigned int node)
{
    struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);
    unsigned int state;

    if (!(ci & PGC_OFFLINE_ASKED))
        return false;
    state = parked_state(ci);
    offline_node_counts[node].asked--;
    count_parked(node, state);
    pg->node = (uint8_t)node;
    WRITE_ONCE(pg->count_info, pgc_with_state(ci & ~PGC_OFFLINE_ASKED, state));
    return true;
}
/* LAB offline: END SOLUTION */
/* LAB offline: STUB
int offline_page(mfn_t mfn, bool broken)
{
    lab_not_implemented("offline");
    (void)check_ram;
    (void)heap_owned;
    (void)parked_state;
    return -ENOSYS;
}

int online_page(mfn_t mfn)
{
    lab_not_implemented("offline");
    return -ENOSYS;
}

void offline_free_block_locked(mfn_t mfn, unsigned int order,
                               unsigned int node)
{
    lab_not_implemented("offline");
    heap_take_back_freed(mfn, mfn + ((mfn_t)1 << order), node);
    poison_freed(mfn, order);
    heap_merge_block(mfn, order, node);
}

bool offline_park_if_asked(mfn_t mfn, unsigned int node)
{
    lab_not_implemented_heap_whole("offline");
    return false;
}
*/

/* ---- what the heap's paths ask (outside the lab) ------------------------- */

mfn_t offline_run_end(unsigned int node, mfn_t s, mfn_t e)
{
    if (node >= MAX_NUMNODES || READ_ONCE(offline_node_counts[node].asked) == 0)
        return e; /* the fast path: nothing marked on this node */
    for (mfn_t m = s; m < e; m++)
        if (page_has_flag(mfn_to_page(m), PGC_OFFLINE_ASKED))
            return m;
    return e;
}

bool offline_node_has_offlining(unsigned int node)
{
    return node < MAX_NUMNODES &&
           READ_ONCE(offline_node_counts[node].offlining) != 0;
}

uint64_t offline_inuse_state(uint64_t ci, unsigned int node)
{
    if (!(ci & PGC_OFFLINE_ASKED))
        return pgc_with_state(ci, PAGE_STATE_INUSE);
    /* Marked while uninitialised: an in-use frame asked to leave. */
    offline_node_counts[node].asked--;
    offline_node_counts[node].offlining++;
    return pgc_with_state(ci & ~PGC_OFFLINE_ASKED, PAGE_STATE_OFFLINING);
}

/* ---- queries and counters ------------------------------------------------ */

int query_page_offline(mfn_t mfn, uint64_t *status)
{
    unsigned int node;
    int err = check_ram(mfn, &node);

    if (err)
        return err;
    mm_hook_lock(node);
    *status = page_count_info(mfn_to_page(mfn));
    mm_hook_unlock(node);
    return 0;
}

const char *offline_status_text(uint64_t status)
{
    unsigned int state = pgc_state(status);
    bool broken = (status & PGC_BROKEN) != 0;

    if (state == PAGE_STATE_UNINITIALISED && (status & PGC_OFFLINE_ASKED))
        return broken ? "uninitialised (to be broken)"
                      : "uninitialised (to be offlined)";
    if (state == PAGE_STATE_OFFLINING && broken)
        return "offlining (broken)";
    /* Only a free frame's flag matters: an offlined one is out of service. */
    if (state == PAGE_STATE_FREE && (status & PGC_NEED_SCRUB))
        return "free (needs scrub)";
    return page_state_name(state);
}

unsigned long offline_nr_offlined(unsigned int node)
{
    return node < MAX_NUMNODES ? READ_ONCE(offline_node_counts[node].offlined)
                               : 0;
}

unsigned long offline_nr_broken(unsigned int node)
{
    return node < MAX_NUMNODES ? READ_ONCE(offline_node_counts[node].broken)
                               : 0;
}

unsigned long offline_nr_pending(unsigned int node)
{
    return node < MAX_NUMNODES
               ? READ_ONCE(offline_node_counts[node].offlining) +
                     READ_ONCE(offline_node_counts[node].asked)
               : 0;
}

/* One counter against what heap_check() found; 1 if they differ. */
static unsigned long check_one(unsigned int node, const char *what,
                               unsigned long found, unsigned long counter)
{
    if (found == counter)
        return 0;
    mm_hook_printk("heap_check: node %u: the frame table holds %lu %s frames, "
                   "the counter says %lu\n",
                   node, found, what, counter);
    return 1;
}

unsigned long offline_check_counters(unsigned int node,
                                     const unsigned long counted[3])
{
    const struct offline_counts *c = &offline_node_counts[node];

    return check_one(node, "offlined", counted[0], c->offlined) +
           check_one(node, "broken", counted[1], c->broken) +
           check_one(node, "offlining or marked", counted[2],
                     c->offlining + c->asked);
}

void offline_reset(void)
{
    __builtin_memset(offline_node_counts, 0, sizeof(offline_node_counts));
}
