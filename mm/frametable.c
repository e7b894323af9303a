/*
 * mm/frametable.c - the frame table: an array with one struct page_info
 * (mm/page.h) for every frame from the lowest RAM frame to the highest.
 *
 *     frames:   first                                      end
 *               |  bank 0   | hole |        bank 1          |
 *     table:    [pi][pi][pi][pi][pi][pi][pi][pi][pi][pi][pi]
 *                            ^^^^^^ PGC_HOLE: not RAM
 *
 * mfn_to_page() is one subtraction and one index: frame mfn is entry
 * mfn - first. The table is carved by the boot allocator before the heap
 * exists, and frametable_init() zeroes it, which makes every frame
 * "uninitialised" (state 0) in one memset. The frames in a gap between
 * two banks get the PGC_HOLE flag: mfn_valid() is false for them, so the
 * buddy allocator never merges across a hole and never frees a hole.
 *
 * Invariant: after frametable_init() the table never moves or grows.
 */
#include <numbat/compiler.h>

#include "mm/frametable.h"
#include "mm/hooks.h"

struct page_info
    *frametable; /* entry i describes frame frametable_first_mfn + i */
mfn_t frametable_first_mfn; /* lowest frame the table describes */
mfn_t frametable_end_mfn;   /* one past the highest */

size_t frametable_bytes(mfn_t first, mfn_t end)
{
    if (first >= end)
        return 0;
    return (size_t)(end - first) * sizeof(struct page_info);
}

void frametable_init(mfn_t first, mfn_t end, void *mem)
{
    if (first >= end || mem == NULL)
        mm_hook_panic("frametable_init: empty frame range [0x%lx, 0x%lx) "
                      "or no memory (%p)",
                      first, end, mem);
    __builtin_memset(mem, 0, frametable_bytes(first, end));
    frametable = mem;
    frametable_first_mfn = first;
    frametable_end_mfn = end;
}

void frametable_mark_hole(mfn_t s, mfn_t e)
{
    if (s > e || s < frametable_first_mfn || e > frametable_end_mfn)
        mm_hook_panic("frametable_mark_hole: [0x%lx, 0x%lx) is not inside "
                      "the frame table [0x%lx, 0x%lx)",
                      s, e, frametable_first_mfn, frametable_end_mfn);
    for (mfn_t mfn = s; mfn < e; mfn++) {
        struct page_info *pg = mfn_to_page(mfn);

        if (!page_state_is(pg, PAGE_STATE_UNINITIALISED))
            mm_hook_panic("frametable_mark_hole: frame 0x%lx is %s, too late "
                          "to call it a hole",
                          mfn, page_state_name(page_state(pg)));
        page_set_flags(pg, PGC_HOLE);
    }
}

/* page_state_name() lives here because the table is what holds the states. */
const char *page_state_name(unsigned int state)
{
    static const char *const names[PAGE_NR_STATES] = {
        [PAGE_STATE_UNINITIALISED] = "uninitialised",
        [PAGE_STATE_INUSE] = "inuse",
        [PAGE_STATE_FREE] = "free",
        [PAGE_STATE_OFFLINING] = "offlining",
        [PAGE_STATE_OFFLINED] = "offlined",
        [PAGE_STATE_BROKEN] = "broken",
    };

    return state < PAGE_NR_STATES ? names[state] : "state?";
}
