/*
 * mm/frametable.h - the frame table: one struct page_info per frame.
 * See mm/frametable.c for how it is laid out and why it starts all zero.
 *
 * Boot order (kernel/main.c):
 *   bytes = frametable_bytes(first, end);
 *   mfn   = alloc_boot_pages(bytes / PAGE_SIZE rounded up, 1);
 *   frametable_init(first, end, mm_hook_pa_to_va(mfn_to_pa(mfn)));
 *   frametable_mark_hole(s, e) for every gap between two banks;
 *   end_boot_allocator();
 *
 * All ranges are half-open frame ranges [s, e).
 */
#ifndef MM_FRAMETABLE_H
#define MM_FRAMETABLE_H

#include <numbat/types.h>

#include "mm/hooks.h"
#include "mm/page.h"

/* Bytes of frame table needed for frames [first, end). */
size_t frametable_bytes(mfn_t first, mfn_t end);

/*
 * Zero `mem` (frametable_bytes(first, end) bytes) and make it the frame
 * table for frames [first, end): every frame starts uninitialised. Panics
 * if first >= end. Call once per boot (host tests: once per machine).
 */
void frametable_init(mfn_t first, mfn_t end, void *mem);

/*
 * Frames [s, e) are not RAM (a hole between banks): mfn_valid() is false
 * for them and the heap never takes them. Panics if [s, e) is outside the
 * table or a frame in it is no longer uninitialised.
 */
void frametable_mark_hole(mfn_t s, mfn_t e);

/*
 * The table itself. Only mm/frametable.c writes these; everyone reads them
 * through the helpers below, which are inline because the heap calls them
 * for every frame it touches.
 */
extern struct page_info *frametable; /* entry i: frame first_mfn + i */
extern mfn_t frametable_first_mfn;   /* lowest frame the table describes */
extern mfn_t frametable_end_mfn; /* one past the highest; == first: no table */

/* True if mfn lies inside the table (a hole or RAM). One compare. */
static inline bool frametable_covers(mfn_t mfn)
{
    return mfn - frametable_first_mfn <
           frametable_end_mfn - frametable_first_mfn;
}

/* The page_info of frame mfn. mfn must lie in the table (ASSERTed). */
static inline struct page_info *mfn_to_page(mfn_t mfn)
{
    ASSERT(frametable_covers(mfn));
    return &frametable[mfn - frametable_first_mfn];
}

/* The frame that pg describes. pg must point into the table (ASSERTed). */
static inline mfn_t page_to_mfn(const struct page_info *pg)
{
    ASSERT(pg >= frametable &&
           pg < frametable + (frametable_end_mfn - frametable_first_mfn));
    return frametable_first_mfn + (mfn_t)(pg - frametable);
}

/* True if mfn is RAM that the table describes: inside it and not a hole. */
static inline bool mfn_valid(mfn_t mfn)
{
    return frametable_covers(mfn) &&
           !(page_count_info(&frametable[mfn - frametable_first_mfn]) &
             PGC_HOLE);
}

/* The table's frames: [frametable_first(), frametable_end()). */
static inline mfn_t frametable_first(void)
{
    return frametable_first_mfn;
}

static inline mfn_t frametable_end(void)
{
    return frametable_end_mfn;
}

#endif /* MM_FRAMETABLE_H */
