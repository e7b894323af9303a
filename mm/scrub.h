/*
 * mm/scrub.h - scrubbing: a frame freed by one owner reads all zero before
 * the next owner that asks for clean memory gets it. See mm/scrub.c for
 * the flag, the per-node counters and the background scrubber.
 */
#ifndef MM_SCRUB_H
#define MM_SCRUB_H

#include <numbat/types.h>

/*
 * What init_heap_pages() does with the frames it hands to the heap (boot
 * argument scrub=, docs/mm.md). Frames freed by an owner are dirty under
 * every policy.
 */
enum scrub_policy {
    SCRUB_IDLE, /* dirty; idle harts zero them in the background (default) */
    SCRUB_ON,   /* dirty; boot zeroes every free frame before it goes on */
    SCRUB_OFF,  /* clean: their contents are trusted to read zero */
};

void scrub_set_policy(enum scrub_policy policy);
enum scrub_policy scrub_get_policy(void);
const char *scrub_policy_name(enum scrub_policy policy); /* "idle", ... */

/* Free frames of node that still need a scrub (no lock: a snapshot). */
unsigned long scrub_dirty_pages(unsigned int node);
unsigned long scrub_total_dirty_pages(void);

/* True if frame mfn carries PGC_NEED_SCRUB (for the monitor's `query`). */
bool page_needs_scrub(mfn_t mfn);

/*
 * The background scrubber's step: zero up to SCRUB_CHUNK_PAGES dirty free
 * frames of `node`, without holding the node's lock while it writes, and
 * mark them clean. Returns the frames it zeroed (0: the node had no
 * dirty free frame). Call with no heap lock held, from any hart.
 */
#define SCRUB_CHUNK_PAGES 16u
unsigned long scrub_some(unsigned int node);

/* scrub_some() on every node until no free frame is dirty; the total. */
unsigned long scrub_all(void);

/*
 * Frames [s, e) of node, free until now, leave the free state by a path
 * other than alloc_heap_pages() (e.g. offlining a free frame): clear
 * their PGC_NEED_SCRUB and take them out of the node's dirty count.
 * Node lock held.
 */
void scrub_forget_frames(mfn_t s, mfn_t e, unsigned int node);

/* ---- for mm/heap.c: the heap's own paths ------------------------------- */

/*
 * The flag step 1 of the free path ORs into every frame it takes back:
 * PGC_NEED_SCRUB, or 0 for frames that come in through init_heap_pages()
 * (from_init) under scrub=off.
 */
uint64_t scrub_take_back_flag(bool from_init);

/* Frames [s, e) of node were taken back, nr_dirty of them newly dirty.
 * Node lock held. */
void scrub_count_freed(mfn_t s, mfn_t e, unsigned int node,
                       unsigned long nr_dirty);

/* What an allocation still has to zero, found while the lock was held. */
#define SCRUB_SLOTS 4 /* background chunks in flight per node, at most */
struct scrub_todo {
    mfn_t s, e;                      /* its frames that were dirty lie in [s, e) */
    unsigned int node;               /* the block's node */
    unsigned int wait_slots;         /* bit i: chunk slot i was being written */
    unsigned long seq[SCRUB_SLOTS];  /* those chunks' numbers */
};

/*
 * The 2^order block at mfn of node has just left the free lists (node
 * lock held): clear its frames' PGC_NEED_SCRUB, take them out of the
 * dirty count and say in *todo what is left to zero.
 */
void scrub_take_allocated(mfn_t mfn, unsigned int order, unsigned int node,
                          struct scrub_todo *todo);

/*
 * After the lock is dropped, for a caller that wants clean memory: wait
 * for the background if it was zeroing part of the block, then zero what
 * todo says. Debug builds check that the frames taken as clean read zero
 * where the free path's poison would show (see mm/scrub.c).
 */
void scrub_allocated(mfn_t mfn, unsigned int order,
                     const struct scrub_todo *todo);

/* The same wait alone, for a caller that did not ask for clean memory. */
void scrub_wait_for_background(const struct scrub_todo *todo);

/* Forget the counters (host tests build many machines). */
void scrub_reset(void);

#endif /* MM_SCRUB_H */
