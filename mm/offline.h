/*
 * mm/offline.h - taking frames out of service: offlining and broken RAM.
 * See mm/offline.c for the state rules; docs/mm.md draws them.
 *
 * Error codes (numbat/errno.h) shared by the three calls:
 *   -ERANGE  mfn is outside the frame table;
 *   -EFAULT  mfn is inside the table but not RAM (a hole between banks);
 *   -EBUSY   mfn is a frame the heap keeps for itself (MFN 0, or a frame
 *            carved for a node heap's structures): it cannot go offline,
 *            nor come online;
 *   -EIO     (online_page) the frame is broken: bad RAM never comes back.
 */
#ifndef MM_OFFLINE_H
#define MM_OFFLINE_H

#include <numbat/types.h>

/*
 * Take frame mfn out of service; `broken` says it is bad RAM (it then
 * never comes back). A free frame leaves at once: its free block is split
 * around it and the rest goes back as the largest aligned blocks. An
 * in-use frame becomes offlining (broken while in use) and leaves when it
 * is freed. An uninitialised frame is marked, and init_heap_pages() parks
 * it instead of handing it over. Asking again is no error; asking for
 * broken after a plain offline turns it broken. Returns 0 or a code above.
 * Takes the lock of the frame's node.
 */
int offline_page(mfn_t mfn, bool broken);

/*
 * Bring frame mfn back. An offlined frame goes through the free path (so
 * it merges with its buddies); an offlining one is simply inuse again; an
 * uninitialised one loses its mark. A frame that is online already (free
 * or inuse) is left alone. Returns 0, -EIO for a broken frame, or a code
 * above. Takes the lock of the frame's node.
 */
int online_page(mfn_t mfn);

/*
 * Read frame mfn's count_info once, under its node's lock, into *status:
 * its state and its flags (PGC_OFFLINE_ASKED, PGC_BROKEN). Returns 0 or
 * -ERANGE / -EFAULT (*status untouched).
 */
int query_page_offline(mfn_t mfn, uint64_t *status);

/*
 * What a query says, in the monitor's words: "free", "offlining",
 * "offlining (broken)", "uninitialised (to be offlined)", "free (needs
 * scrub)" (a free frame that may still hold its last owner's data), ...
 */
const char *offline_status_text(uint64_t status);

/* Frames of node `node` that are offlined, broken, or on their way (the
 * in-use ones still offlining and the uninitialised ones marked). */
unsigned long offline_nr_offlined(unsigned int node);
unsigned long offline_nr_broken(unsigned int node);
unsigned long offline_nr_pending(unsigned int node);

/* ---- for mm/ only: the heap's own paths call these, lock held ---------- */

/*
 * init_heap_pages()'s two calls. offline_park_if_asked(): if frame mfn
 * (uninitialised RAM of `node`) is marked, park it (offlined or broken,
 * counted) and return true: the run loop skips it like a hole.
 * offline_run_end(): the first marked frame of [s, e) on `node`, or e;
 * with no marked frame on the node it returns e at once.
 */
bool offline_park_if_asked(mfn_t mfn, unsigned int node);
mfn_t offline_run_end(unsigned int node, mfn_t s, mfn_t e);

/*
 * The free path of a block on `node` that may hold offlining frames:
 * true if the node has any (then use offline_free_block_locked()).
 */
bool offline_node_has_offlining(unsigned int node);

/*
 * The count_info of an uninitialised frame of `node` (word ci) declared in
 * use without init_heap_pages() (live update's policy inuse, mm/inherit.c):
 * inuse, or offlining if it was marked (badpages=, offline_page()), so
 * that its owner's free parks it; the node's counters follow. Lock held.
 */
uint64_t offline_inuse_state(uint64_t ci, unsigned int node);

/*
 * Free the inuse block [mfn, mfn + 2^order) of `node`: each offlining
 * frame is parked (offlined or broken), every other frame goes through the
 * free path's steps in the largest aligned blocks around them.
 */
void offline_free_block_locked(mfn_t mfn, unsigned int order,
                               unsigned int node);

/* heap_check(): do the counters of `node` equal what the table holds?
 * Prints each mismatch; returns how many. Lock held. */
unsigned long offline_check_counters(unsigned int node,
                                     const unsigned long counted[3]);

/* Forget every counter (with heap_reset()). */
void offline_reset(void);

#endif /* MM_OFFLINE_H */
