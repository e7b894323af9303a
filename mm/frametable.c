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

static struct page_info *frametable;  /* entry i describes frame first + i */
static mfn_t ft_first;                /* lowest frame the table describes */
static mfn_t ft_end;                  /* one past the highest */

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
                      "or no memory (%p)", first,
                      end, mem);
    __builtin_memset(mem, 0, frametable_bytes(first, end));
    frametable = mem;
    ft_first = first;
    ft_end = end;
}

void frametable_mark_hole(mfn_t s, mfn_t e)
{
    if (s > e || s < ft_first || e > ft_end)
        mm_hook_panic("frametable_mark_hole: [0x%lx, 0x%lx) is not inside "
                      "the frame table [0x%lx, 0x%lx)", s,
                      e, ft_first,
                      ft_end);
    for (mfn_t mfn = s; mfn < e; mfn++) {
        struct page_info *pg = mfn_to_page(mfn);

        if (!page_state_is(pg, PAGE_STATE_UNINITIALISED))
            mm_hook_panic("frametable_mark_hole: frame 0x%lx is %s, too late "
                          "to call it a hole", mfn,
                          page_state_name(page_state(pg)));
        page_set_flags(pg, PGC_HOLE);
    }
}

struct page_info *mfn_to_page(mfn_t mfn)
{
    ASSERT(frametable_covers(mfn));
    return &frametable[mfn - ft_first];
}

mfn_t page_to_mfn(const struct page_info *pg)
{
    ASSERT(pg >= frametable && pg < frametable + (ft_end - ft_first));
    return ft_first + (mfn_t)(pg - frametable);
}

bool frametable_covers(mfn_t mfn)
{
    return frametable != NULL && mfn >= ft_first && mfn < ft_end;
}

bool mfn_valid(mfn_t mfn)
{
    return frametable_covers(mfn) &&
           !page_has_flag(&frametable[mfn - ft_first], PGC_HOLE);
}

mfn_t frametable_first(void)
{
    return ft_first;
}

mfn_t frametable_end(void)
{
    return ft_end;
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
