/*
 * mm/buddy.c - the buddy algorithm: free blocks of 2^order frames on
 * lists per zone and per order, split to allocate, merged when freed.
 * (This file is the `buddy` lab: labs/buddy/README.md.)
 *
 * The buddy algorithm (Knowlton, 1965). A block of order k is 2^k frames
 * whose first frame is a multiple of 2^k. Its buddy is the other half of
 * the order k+1 block that contains it: buddy = mfn XOR 2^k.
 *
 *     order 2:  [0 1 2 3][4 5 6 7]     the buddy of block 4 is block 0,
 *     order 1:  [0 1][2 3]             the buddy of block 2 is block 0.
 *
 *   Freeing a block: while its buddy is a whole free block of the same
 *   order, take the buddy off its list and join the two into one block of
 *   the next order. Then put the result on its list. So free blocks are
 *   always maximal: no two free buddies are ever left apart.
 *   Allocating order k: take the first block on the smallest non-empty
 *   list of order >= k, split it in halves, put the upper halves back,
 *   until a block of order k is left.
 *
 * Numbat's rules on top (docs/mm.md gives the reasons):
 *   - Lists are per node (struct node_heap) and per zone; the zone of a
 *     frame is the bit width of its MFN. Two buddies merge only if both
 *     are free, of the same order, valid frames (not a hole, inside the
 *     frame table), in the same zone, and on nodes that may merge
 *     (numa_may_merge(), mm/numa.c). So no free block spans two zones.
 *   - MFN 0 never enters the heap: the only aligned block that can span
 *     two zones starts at MFN 0. buddy_skip_mfn0() parks it as offlined.
 *
 * The lists are doubly linked through page_info.next / .prev of each free
 * block's first frame, so a buddy comes off the middle of its list in
 * O(1) when it merges. Every function expects the heap lock held.
 */
#include "mm/buddy.h"
#include "mm/frametable.h"
#include "mm/hooks.h"
#include "mm/lab.h"
#include "mm/numa.h"

/* ---- free lists ---------------------------------------------------------- */

static struct page_info **free_list(struct node_heap *nh, unsigned int zone,
                                    unsigned int order)
{
    return &nh->free_lists[zone][order];
}

static void list_push(struct page_info **head, struct page_info *pg)
{
    pg->prev = NULL;
    pg->next = *head;
    if (*head)
        (*head)->prev = pg;
    *head = pg;
}

static void list_del(struct page_info **head, struct page_info *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        *head = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
}

unsigned long buddy_count_blocks(const struct node_heap *nh, unsigned int zone,
                                 unsigned int order)
{
    unsigned long n = 0;

    for (struct page_info *pg = nh->free_lists[zone][order]; pg; pg = pg->next)
        n++;
    return n;
}

/* ---- statistics ---------------------------------------------------------- */

static void stats_freed(struct node_heap *nh, unsigned int zone,
                        unsigned long n)
{
    nh->free_pages[zone] += n;
    nh->total_free += n;
}

static void stats_allocated(struct node_heap *nh, unsigned int zone,
                            unsigned long n)
{
    ASSERT(nh->free_pages[zone] >= n);
    nh->free_pages[zone] -= n;
    nh->total_free -= n;
}

static void block_set_state(mfn_t mfn, unsigned int order, unsigned int state)
{
    struct page_info *pg = mfn_to_page(mfn);

    for (unsigned long i = 0; i < (1UL << order); i++)
        page_set_state(&pg[i], state);
}

/* ---- the buddy algorithm ------------------------------------------------- */

/* LAB buddy: BEGIN SOLUTION */
/* May the free block at mfn (order `order`, on node nh) join its buddy? */
static bool buddy_can_merge(mfn_t mfn, mfn_t buddy, unsigned int order,
                            const struct node_heap *nh)
{
    const struct page_info *bpg;
    uint64_t ci;

    if (!mfn_valid(buddy))
        return false;
    bpg = mfn_to_page(buddy);
    ci = page_count_info(bpg);
    return pgc_state(ci) == PAGE_STATE_FREE && bpg->order == order &&
           numa_may_merge(nh->node, bpg->node) &&
           mfn_zone(buddy) == mfn_zone(mfn);
}

void buddy_free(struct node_heap *nh, mfn_t mfn, unsigned int order)
{
    unsigned int zone = mfn_zone(mfn);

    stats_freed(nh, zone, 1UL << order);
    while (order < MAX_ORDER) {
        mfn_t buddy = mfn ^ ((mfn_t)1 << order);

        if (!buddy_can_merge(mfn, buddy, order, nh))
            break;
        list_del(free_list(nh, zone, order), mfn_to_page(buddy));
        mfn = MIN(mfn, buddy);
        order++;
    }
    mfn_to_page(mfn)->order = (uint8_t)order;
    list_push(free_list(nh, zone, order), mfn_to_page(mfn));
}
/* LAB buddy: END SOLUTION */
/* LAB buddy: STUB
void buddy_free(struct node_heap *nh, mfn_t mfn, unsigned int order)
{
    lab_not_implemented("buddy");
    (void)free_list;
    (void)list_push;
    (void)stats_freed;
}
*/

/* LAB buddy: BEGIN SOLUTION */
mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone, unsigned int order)
{
    unsigned int j = order;
    struct page_info *pg;

    while (j <= MAX_ORDER && *free_list(nh, zone, j) == NULL)
        j++;
    if (j > MAX_ORDER)
        return INVALID_MFN;
    pg = *free_list(nh, zone, j);
    list_del(free_list(nh, zone, j), pg);
    while (j > order) { /* split: the upper half stays free */
        struct page_info *upper;

        j--;
        upper = pg + (1UL << j);
        upper->order = (uint8_t)j;
        list_push(free_list(nh, zone, j), upper);
    }
    block_set_state(page_to_mfn(pg), order, PAGE_STATE_INUSE);
    stats_allocated(nh, zone, 1UL << order);
    return page_to_mfn(pg);
}
/* LAB buddy: END SOLUTION */
/* LAB buddy: STUB
mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone, unsigned int order)
{
    lab_not_implemented("buddy");
    (void)list_del;
    (void)stats_allocated;
    (void)block_set_state;
    return INVALID_MFN;
}
*/

/* ---- the way in: block sizes and MFN 0 ----------------------------------- */

/* LAB buddy: BEGIN SOLUTION */
unsigned int buddy_largest_order(mfn_t s, mfn_t e)
{
    unsigned int order;

    ASSERT(s != 0 && s < e); /* MFN 0 never gets here: buddy_skip_mfn0() */
    order = MIN((unsigned int)__builtin_ctzl(s), (unsigned int)MAX_ORDER);
    while (((mfn_t)1 << order) > e - s)
        order--;
    return order;
}

mfn_t buddy_skip_mfn0(mfn_t s, mfn_t e)
{
    struct page_info *pg;

    if (s != 0 || s >= e)
        return s;
    pg = mfn_to_page(0);
    if (page_state_is(pg, PAGE_STATE_UNINITIALISED) &&
        !page_has_flag(pg, PGC_HOLE))
        page_set_state(pg, PAGE_STATE_OFFLINED);
    return 1;
}
/* LAB buddy: END SOLUTION */
/* LAB buddy: STUB
unsigned int buddy_largest_order(mfn_t s, mfn_t e)
{
    lab_not_implemented("buddy");
    return 0;
}

mfn_t buddy_skip_mfn0(mfn_t s, mfn_t e)
{
    lab_not_implemented("buddy");
    return s;
}
*/
