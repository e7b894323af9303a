/*
 * mm/poison.c - debug builds fill pages with patterns; release builds
 * do nothing here.
 *
 * Two patterns, two bugs:
 *   POISON_FREED (0xf7) fills a block when free_heap_pages() takes it back.
 *   Code that still uses a freed page reads 0xf7f7f7f7... and crashes on
 *   an address nobody mapped, instead of quietly reading stale data.
 *   POISON_FRESH (0xa5) fills a block as alloc_heap_pages() hands it out
 *   to a caller that said ALLOC_NO_SCRUB. Code that forgets to initialise
 *   what it allocated reads 0xa5a5..., not zeroes that happen to work.
 *   Every other caller gets a block that reads all zero: the free path
 *   marks what it poisons as needing a scrub, and the scrub (mm/scrub.c)
 *   turns the 0xf7 into zeros before the block is handed out clean.
 *
 * init_heap_pages() never poisons: it must not touch the pages it hands
 * to the heap (a 16 GiB guest would make QEMU back all 16 GiB at boot).
 * So a page that was never allocated holds whatever was there at boot.
 */
#include "mm/hooks.h"
#include "mm/poison.h"

#ifdef NUMBAT_DEBUG
static void poison_fill(mfn_t mfn, unsigned int order, unsigned int pattern)
{
    for (mfn_t i = 0; i < ((mfn_t)1 << order); i++)
        __builtin_memset(mm_hook_pa_to_va(mfn_to_pa(mfn + i)), (int)pattern,
                         PAGE_SIZE);
}
#else
static void poison_fill(mfn_t mfn, unsigned int order, unsigned int pattern)
{
    (void)mfn;
    (void)order;
    (void)pattern;
}
#endif

void poison_freed(mfn_t mfn, unsigned int order)
{
    poison_fill(mfn, order, POISON_FREED);
}

void poison_fresh(mfn_t mfn, unsigned int order)
{
    poison_fill(mfn, order, POISON_FRESH);
}
