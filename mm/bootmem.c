/*
 * mm/bootmem.c - the boot allocator: memory before the heap exists.
 *
 * At boot the heap cannot run yet: it needs the frame table, and the
 * frame table needs memory. The boot allocator is the simplest thing
 * that can hand out memory: a short array of free frame ranges,
 *
 *     ranges[0]        ranges[1]              ranges[2]
 *     [0x80040, 0x80200) [0x80231, 0x87e00)   [0x88000, 0x90000)
 *
 * kept sorted by address and disjoint (two ranges never overlap or
 * touch: touching ranges are joined). It is built from the RAM banks
 * (bootmem_add_range) minus every reserved range (bootmem_reserve_range),
 * and alloc_boot_pages() cuts an aligned piece off the top of the highest
 * range that can hold it. Taking from the top keeps low memory, which
 * devices with short address widths need, for later.
 *
 * The pages it gives out are never recorded anywhere: they stay
 * "uninitialised" in the frame table. If one is freed later,
 * free_heap_pages() sees that state and initialises it first.
 *
 * end_boot_allocator() hands every range that is left to the heap and
 * closes the boot allocator for good: any later call is a panic, because
 * the heap now owns those frames and two owners would hand them out twice.
 *
 * All ranges are half-open: [s, e) holds frames s .. e - 1.
 *
 * (This file is the `bootmem` lab: labs/bootmem/README.md.)
 */
#include <numbat/errno.h>

#include "mm/bootmem.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/lab.h"

struct bootmem_range {
    mfn_t s; /* first free frame */
    mfn_t e; /* one past the last free frame */
};

static struct bootmem_range ranges[BOOTMEM_MAX_RANGES]; /* sorted, disjoint */
static unsigned int nr_ranges;                          /* entries in use */
static bool closed; /* end_boot_allocator() ran */

/* Every bootmem entry point starts here: after the handover, stop loudly. */
static void bootmem_check_open(const char *fn)
{
    if (closed)
        mm_hook_panic("%s: the boot allocator is closed (end_boot_allocator "
                      "has run); use alloc_heap_pages() instead",
                      fn);
}

/* Open a gap at index i (ranges i.. move up one). Caller checked for room. */
static void ranges_insert_at(unsigned int i, mfn_t s, mfn_t e)
{
    for (unsigned int j = nr_ranges; j > i; j--)
        ranges[j] = ranges[j - 1];
    ranges[i] = (struct bootmem_range){s, e};
    nr_ranges++;
}

static void ranges_remove_at(unsigned int i)
{
    for (unsigned int j = i; j + 1 < nr_ranges; j++)
        ranges[j] = ranges[j + 1];
    nr_ranges--;
}

/* LAB bootmem: BEGIN SOLUTION */
int bootmem_add_range(mfn_t s, mfn_t e)
{
    unsigned int i = 0;

    bootmem_check_open("bootmem_add_range");
    if (s > e)
        return -EINVAL;
    if (s == e)
        return 0;
    /* Swallow every range that overlaps or touches [s, e). */
    while (i < nr_ranges && ranges[i].e < s)
        i++;
    while (i < nr_ranges && ranges[i].s <= e) {
        s = MIN(s, ranges[i].s);
        e = MAX(e, ranges[i].e);
        ranges_remove_at(i);
    }
    if (nr_ranges == BOOTMEM_MAX_RANGES)
        return -ENOSPC;
    ranges_insert_at(i, s, e);
    return 0;
}
/* LAB bootmem: END SOLUTION */
/* LAB bootmem: STUB
int bootmem_add_range(mfn_t s, mfn_t e)
{
    bootmem_check_open("bootmem_add_range");
    lab_not_implemented("bootmem");
    (void)ranges_insert_at;
    return -ENOSYS;
}
*/

/* LAB bootmem: BEGIN SOLUTION */
/* Cut [s, e) out of range i, which overlaps it. 0, or -ENOSPC on a split. */
static int range_cut(unsigned int i, mfn_t s, mfn_t e)
{
    struct bootmem_range r = ranges[i];

    if (s <= r.s && e >= r.e) { /* covers it all */
        ranges_remove_at(i);
    } else if (s > r.s && e < r.e) { /* in the middle: split in two */
        if (nr_ranges == BOOTMEM_MAX_RANGES)
            return -ENOSPC;
        ranges[i].e = s;
        ranges_insert_at(i + 1, e, r.e);
    } else if (s <= r.s) { /* covers its start */
        ranges[i].s = e;
    } else { /* covers its end */
        ranges[i].e = s;
    }
    return 0;
}

int bootmem_reserve_range(mfn_t s, mfn_t e)
{
    bootmem_check_open("bootmem_reserve_range");
    if (s > e)
        return -EINVAL;
    if (s == e) /* reserves nothing: must not split a range in two */
        return 0;
    for (unsigned int i = 0; i < nr_ranges;) {
        unsigned int before = nr_ranges;
        int err;

        if (ranges[i].e <= s || ranges[i].s >= e) {
            i++;
            continue;
        }
        err = range_cut(i, s, e);
        if (err)
            return err;
        if (nr_ranges >= before) /* range i still exists: move past it */
            i++;
    }
    return 0;
}

mfn_t alloc_boot_pages(unsigned long nr_pages, unsigned long align_pages)
{
    bootmem_check_open("alloc_boot_pages");
    if (nr_pages == 0 || align_pages == 0 || (align_pages & (align_pages - 1)))
        mm_hook_panic("alloc_boot_pages: bad request: %lu pages aligned to %lu "
                      "(need nr_pages > 0 and a power-of-two alignment)",
                      nr_pages, align_pages);
    for (unsigned int i = nr_ranges; i-- > 0;) {
        struct bootmem_range r = ranges[i];
        mfn_t s;

        if (r.e - r.s < nr_pages)
            continue;
        s = ALIGN_DOWN(r.e - nr_pages, (mfn_t)align_pages);
        if (s < r.s)
            continue;
        if (range_cut(i, s, s + nr_pages))
            mm_hook_panic("alloc_boot_pages: %lu pages aligned to %lu would "
                          "split a range, and all %u range slots are in use",
                          nr_pages, align_pages, BOOTMEM_MAX_RANGES);
        return s;
    }
    mm_hook_panic("alloc_boot_pages: out of boot memory: no free range holds "
                  "%lu pages aligned to %lu (%u ranges left)",
                  nr_pages, align_pages, nr_ranges);
}
/* LAB bootmem: END SOLUTION */
/* LAB bootmem: STUB
int bootmem_reserve_range(mfn_t s, mfn_t e)
{
    bootmem_check_open("bootmem_reserve_range");
    lab_not_implemented("bootmem");
    (void)ranges_remove_at;
    return -ENOSYS;
}

mfn_t alloc_boot_pages(unsigned long nr_pages, unsigned long align_pages)
{
    bootmem_check_open("alloc_boot_pages");
    lab_not_implemented("bootmem");
    mm_hook_panic("alloc_boot_pages: not implemented yet (lab bootmem): "
                  "%lu pages aligned to %lu were asked for",
                  nr_pages, align_pages);
}
*/

/* LAB bootmem: BEGIN SOLUTION */
/* Hand the ranges whose first frame is (or is not) on `node` to the heap. */
static void bootmem_hand_over(unsigned int node, bool on_node)
{
    for (unsigned int i = 0; i < nr_ranges; i++) {
        struct bootmem_range r = ranges[i];

        if ((mm_hook_mfn_to_node(r.s) == node) == on_node)
            init_heap_pages(r.s, r.e - r.s);
    }
}

/*
 * The boot hart's node goes first, so that its heap (and the structures
 * carved for it) exist before any other node's. A range "is on node n"
 * when its first frame is: touching banks of two nodes were joined into
 * one range by bootmem_add_range(), and such a range goes over whole, in
 * the pass of its first frame's node. init_heap_pages() splits it per
 * node, so "a range on node n" here only decides the order.
 */
void end_boot_allocator(void)
{
    unsigned int node = mm_hook_this_node();

    bootmem_check_open("end_boot_allocator");
    closed = true;
    bootmem_hand_over(node, true);
    bootmem_hand_over(node, false);
}
/* LAB bootmem: END SOLUTION */
/* LAB bootmem: STUB
void end_boot_allocator(void)
{
    bootmem_check_open("end_boot_allocator");
    lab_not_implemented("bootmem");
    closed = true;
}
*/

bool bootmem_is_open(void)
{
    return !closed;
}

void bootmem_for_each_range(void (*fn)(mfn_t s, mfn_t e, void *arg), void *arg)
{
    for (unsigned int i = 0; i < nr_ranges; i++)
        fn(ranges[i].s, ranges[i].e, arg);
}

void bootmem_reset(void)
{
    nr_ranges = 0;
    closed = false;
}
