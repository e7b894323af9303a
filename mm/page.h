/*
 * mm/page.h - struct page_info: what Numbat knows about one frame of RAM.
 *
 * The frame table (mm/frametable.c) holds one struct page_info per frame
 * between the lowest and the highest RAM frame. Everything the heap needs
 * to know about a frame lives here, in at most 32 bytes, so that the table
 * for 16 GiB of RAM (4 Mi frames) costs 128 MiB / 4096 = 0.8% of memory.
 *
 * count_info is one 64-bit word with three parts:
 *
 *   63  61 60        40 39            32 31                      0
 *  +------+------------+----------------+-------------------------+
 *  |state |  (unused)  |     flags      |     reference count     |
 *  +------+------------+----------------+-------------------------+
 *
 *   state  what the heap is doing with the frame (PAGE_STATE_*). Zero is
 *          "uninitialised": the frame table starts all zero, so every
 *          frame starts uninitialised without a single store.
 *   flags  facts about the frame that outlive state changes (PGC_*).
 *   count  references held by the frame's owner; the heap never changes it.
 *
 * Two rules keep count_info honest (both come from the review of the Xen
 * patch that docs/xen-thread.md tells):
 *   - Read it once. A state test copies count_info into a local with
 *     READ_ONCE and tests the copy; two separate reads could see two
 *     different states if another hart changes the page in between.
 *   - A transition rewrites the state field only. The flags and the count
 *     survive every transition; the thread's bug was a transition that
 *     rebuilt the whole word and made a flag (PGC_extra) vanish.
 */
#ifndef MM_PAGE_H
#define MM_PAGE_H

#include <numbat/compiler.h>
#include <numbat/types.h>

/* The states of a frame; the value sits in bits 61..63 of count_info. */
#define PAGE_STATE_UNINITIALISED 0u /* never been through init_heap_pages() */
#define PAGE_STATE_INUSE 1u         /* given out, or on its way into the heap */
#define PAGE_STATE_FREE 2u      /* on a buddy free list, inside a free block */
#define PAGE_STATE_OFFLINING 3u /* in use, to be taken offline when freed */
#define PAGE_STATE_OFFLINED 4u  /* out of use for good (MFN 0 ends here) */
#define PAGE_STATE_BROKEN 5u    /* bad RAM, never to be used */
#define PAGE_NR_STATES 6u

#define PGC_STATE_SHIFT 61
#define PGC_STATE_MASK (UINT64_C(7) << PGC_STATE_SHIFT)

/* Flag bits: they survive every state transition. */
#define PGC_EXTRA                                                              \
    (UINT64_C(1) << 32) /* owner's extra page (the flag the thread lost) */
#define PGC_NODE_META                                                          \
    (UINT64_C(1) << 33) /* carved to hold a node heap's structures */
#define PGC_HOLE (UINT64_C(1) << 34) /* not RAM: a gap between banks */
#define PGC_CHECKED                                                            \
    (UINT64_C(1) << 35) /* heap_check()'s own mark, clear outside it */
#define PGC_NEED_SCRUB                                                         \
    (UINT64_C(1) << 38) /* free, may hold a past owner's data (mm/scrub.c) */
#define PGC_OFFLINE_ASKED                                                      \
    (UINT64_C(1) << 36) /* uninitialised, to be parked by init_heap_pages() */
#define PGC_BROKEN                                                             \
    (UINT64_C(1) << 37) /* bad RAM (mm/offline.c): it never comes back */
#define PGC_FLAGS_MASK (UINT64_C(0xff) << 32)

#define PGC_COUNT_MASK UINT64_C(0xffffffff) /* the reference count */

/* No owner: the owner tag of a frame nobody has claimed. */
#define PAGE_OWNER_NONE 0u

struct page_info {
    struct page_info
        *next; /* next free block of the same list; NULL at the end */
    struct page_info *prev; /* previous free block; NULL for the list's first */
    uint64_t count_info;    /* state | flags | reference count, see above */
    uint8_t order;          /* log2 size of the free block this frame heads */
    uint8_t node;      /* NUMA node, recorded when the frame is initialised */
    uint16_t owner;    /* who holds the frame (for the monitor); 0 = nobody */
    uint32_t nr_inits; /* times init_heap_pages() took it: 0, then 1 for good */
};

_Static_assert(sizeof(struct page_info) <= 32,
               "struct page_info must stay within 32 bytes");

/* The state held in a copy of count_info. */
static inline unsigned int pgc_state(uint64_t count_info)
{
    return (unsigned int)((count_info & PGC_STATE_MASK) >> PGC_STATE_SHIFT);
}

/* count_info with its state field replaced; flags and count are kept. */
static inline uint64_t pgc_with_state(uint64_t count_info, unsigned int state)
{
    return (count_info & ~PGC_STATE_MASK) |
           ((uint64_t)state << PGC_STATE_SHIFT);
}

/* One read of count_info: take this copy, then test it as often as needed. */
static inline uint64_t page_count_info(const struct page_info *pg)
{
    return READ_ONCE(pg->count_info);
}

/* The page's state, from a single read of count_info. */
static inline unsigned int page_state(const struct page_info *pg)
{
    return pgc_state(page_count_info(pg));
}

static inline bool page_state_is(const struct page_info *pg, unsigned int state)
{
    return page_state(pg) == state;
}

/*
 * Move the page to `state`, keeping its flags and count. Caller holds the
 * heap lock (so nobody else writes count_info between our read and write).
 */
static inline void page_set_state(struct page_info *pg, unsigned int state)
{
    WRITE_ONCE(pg->count_info, pgc_with_state(page_count_info(pg), state));
}

static inline bool page_has_flag(const struct page_info *pg, uint64_t flag)
{
    return (page_count_info(pg) & flag) != 0;
}

/* Set / clear flag bits; the state and the count are kept. Heap lock held. */
static inline void page_set_flags(struct page_info *pg, uint64_t flags)
{
    WRITE_ONCE(pg->count_info, page_count_info(pg) | (flags & PGC_FLAGS_MASK));
}

static inline void page_clear_flags(struct page_info *pg, uint64_t flags)
{
    WRITE_ONCE(pg->count_info, page_count_info(pg) & ~(flags & PGC_FLAGS_MASK));
}

/* "uninitialised", "inuse", "free", ...; "state?" for a bad value. */
const char *page_state_name(unsigned int state);

#endif /* MM_PAGE_H */
