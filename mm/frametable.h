/*
 * mm/frametable.h - the frame table: one struct page_info per frame, kept
 * in sections of FRAMETABLE_SECTION_PAGES frames, each on its own node's
 * memory and zeroed when it is first needed. See mm/frametable.c for the
 * layout and the rule ("write an entry only in a ready section").
 *
 * Boot order (kernel/mm_boot.c; tests/host/lib/sim.c does the same):
 *   frametable_init(first, end)       every section not ready: each reads
 *                                     the shared, read-only zero section;
 *   frametable_carve_per_node()       each node's sections get memory
 *                                     of that node (frametable_give_memory
 *                                     for each part);
 *   frametable_mark_hole(s, e)        for every gap between two banks;
 *   eager:    frametable_make_ready(first, end);
 *   deferred: frametable_boot_may_wait() before and
 *             frametable_boot_ready() after deferred_defer_boot_ranges();
 *   end_boot_allocator();
 *
 * All ranges are half-open frame ranges [s, e).
 */
#ifndef MM_FRAMETABLE_H
#define MM_FRAMETABLE_H

#include <numbat/types.h>

#include "mm/hooks.h"
#include "mm/page.h"

/*
 * A section: 2^12 frames (16 MiB of RAM, 128 KiB of table). Section i
 * describes frames first + i * 2^12 ..; its start is aligned to the start
 * of the table, not to an address. The size matches a deferred-init chunk
 * (DEFERRED_CHUNK_PAGES), so a chunk's hand-over readies one section.
 */
#define FRAMETABLE_SECTION_SHIFT 12
#define FRAMETABLE_SECTION_PAGES (1UL << FRAMETABLE_SECTION_SHIFT)
#define FRAMETABLE_SECTION_BYTES                                               \
    (FRAMETABLE_SECTION_PAGES * sizeof(struct page_info))

/* Sections the table can hold: 256 GiB of frames from the lowest RAM frame. */
#define FRAMETABLE_MAX_SECTIONS 16384

/* Runs of sections with contiguous memory (about one per node part). */
#define FRAMETABLE_MAX_RUNS 64

/* Bytes of frame table needed for frames [first, end). */
size_t frametable_bytes(mfn_t first, mfn_t end);

/*
 * Make the table describe frames [first, end): every section not ready
 * (every entry reads all zero: uninitialised) and without memory yet.
 * Panics if first >= end or the range needs more than
 * FRAMETABLE_MAX_SECTIONS sections. Call once per boot (host tests: once
 * per machine).
 */
void frametable_init(mfn_t first, mfn_t end);

/*
 * `mem` (frametable_bytes(s, e) bytes, not yet zeroed) holds the entries
 * of frames [s, e), in order. s and e are section boundaries (or the
 * table's first / end frame), and the sections have no memory yet; else a
 * panic. Nothing is written to mem until a section is made ready.
 */
void frametable_give_memory(mfn_t s, mfn_t e, void *mem);

/*
 * Carve the table's memory from the open boot allocator and give it to the
 * sections. frametable_carve_per_node(): each node's sections from that
 * node's own memory, the highest free frames that fit (a section belongs to
 * the node of its lowest RAM frame: one that straddles two nodes lives on
 * the lower one; a section of holes only goes with the one before it; a
 * node without free room for its part gets it from alloc_boot_pages(),
 * said on the console). frametable_carve_one(): the whole table in one
 * alloc_boot_pages() block (host tests' default layout). Both return the
 * frames taken. Call one of them once, after frametable_init().
 */
unsigned long frametable_carve_per_node(void);
unsigned long frametable_carve_one(void);

/* The memory parts carved: part i's frames [*mfn, *mfn + *nr), for `node`.
 * False once i is past the last part. */
unsigned int frametable_nr_parts(void);
bool frametable_part(unsigned int i, mfn_t *mfn, unsigned long *nr,
                     unsigned int *node);

/* True if frame mfn holds part of the frame table itself. */
bool frametable_holds_frame(mfn_t mfn);

/*
 * Make every section holding a frame of [s, e) ready: zero its memory and
 * publish it (release), once; a hart that finds another zeroing the same
 * section waits for it. After it, the entries of [s, e) may be written.
 * Returns how many sections this call zeroed. Any hart, any time after
 * frametable_give_memory(); takes no lock.
 */
unsigned long frametable_make_ready(mfn_t s, mfn_t e);

/* True if frame mfn's section is ready (mfn inside the table). */
bool frametable_ready(mfn_t mfn);

/* Sections in the table, and how many of them are ready now. */
unsigned long frametable_nr_sections(void);
unsigned long frametable_nr_ready(void);

/*
 * Deferred init at boot. frametable_boot_may_wait(), called just before
 * deferred_defer_boot_ranges(), lets every section lie not ready whose
 * frames are all free in the boot allocator and on one node; after it,
 * frametable_boot_ready() takes back those that touch a range the boot
 * allocator still holds (the eager part) and makes ready every section
 * not left to wait. Returns the sections it zeroed; *waiting gets how
 * many wait for deferred init.
 */
void frametable_boot_may_wait(void);
unsigned long frametable_boot_ready(unsigned long *waiting);

/*
 * Frames [s, e) are not RAM (a hole between banks): mfn_valid() is false
 * for them and the heap never takes them. Makes their sections ready.
 * Panics if [s, e) is outside the table or a frame in it is no longer
 * uninitialised.
 */
void frametable_mark_hole(mfn_t s, mfn_t e);

/* What every section that is not ready points at: all zero, read-only. */
extern const struct page_info frametable_zero_section[FRAMETABLE_SECTION_PAGES];

/* True if address va lies in the read-only zero section (trap messages). */
bool frametable_in_zero_section(uintptr_t va);

/*
 * The table itself. Only mm/frametable.c writes these; everyone reads them
 * through the helpers below, which are inline because the heap calls them
 * for every frame it touches.
 */
struct frametable_run {
    uintptr_t base; /* address of the entry of frame `first` */
    mfn_t first;    /* the first frame the run describes */
    mfn_t end;      /* one past its last frame */
};

/* Section i: the entries of frames first_mfn + i * 2^12 ..; the zero
 * section (read-only) while it is not ready. */
extern struct page_info *frametable[FRAMETABLE_MAX_SECTIONS];
extern mfn_t frametable_first_mfn; /* lowest frame the table describes */
extern mfn_t frametable_end_mfn; /* one past the highest; == first: no table */
extern struct frametable_run
    frametable_runs[FRAMETABLE_MAX_RUNS]; /* the memory, for page_to_mfn */
extern unsigned int frametable_nr_runs;   /* frametable_runs[] used */

/* True if mfn lies inside the table (a hole or RAM). One compare. */
static inline bool frametable_covers(mfn_t mfn)
{
    return mfn - frametable_first_mfn <
           frametable_end_mfn - frametable_first_mfn;
}

/*
 * The entry of frame mfn, with no check. The section pointer is loaded
 * once; the entry's address depends on it, which orders the two loads
 * (as a release store published it) on RISC-V and on the host.
 */
static inline struct page_info *frametable_entry(mfn_t mfn)
{
    mfn_t i = mfn - frametable_first_mfn;

    return READ_ONCE(frametable[i >> FRAMETABLE_SECTION_SHIFT]) +
           (i & (FRAMETABLE_SECTION_PAGES - 1));
}

/*
 * The page_info of frame mfn. mfn must lie in the table (ASSERTed). Before
 * its section is ready it is an entry of the read-only zero section: it
 * reads uninitialised, and a write to it faults.
 */
static inline struct page_info *mfn_to_page(mfn_t mfn)
{
    ASSERT(frametable_covers(mfn));
    return frametable_entry(mfn);
}

/*
 * The frame that pg describes. pg must be an entry of a ready section
 * (ASSERTed): any entry of an initialised frame is. The runs are about one
 * per node, so the search is a few compares.
 */
static inline mfn_t page_to_mfn(const struct page_info *pg)
{
    uintptr_t a = (uintptr_t)pg;

    for (unsigned int i = 0; i < frametable_nr_runs; i++) {
        const struct frametable_run *r = &frametable_runs[i];

        if (a >= r->base &&
            a < r->base + (r->end - r->first) * sizeof(struct page_info))
            return r->first + (mfn_t)((a - r->base) / sizeof(struct page_info));
    }
    ASSERT(!"page_to_mfn: pg is not an entry of a ready frame-table section");
    return INVALID_MFN;
}

/* True if mfn is RAM that the table describes: inside it and not a hole. */
static inline bool mfn_valid(mfn_t mfn)
{
    return frametable_covers(mfn) &&
           !(page_count_info(frametable_entry(mfn)) & PGC_HOLE);
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
