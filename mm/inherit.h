/*
 * mm/inherit.h - frames a new kernel inherits in use (live update, policy
 * lu_pages=inuse). See mm/inherit.c.
 */
#ifndef MM_INHERIT_H
#define MM_INHERIT_H

#include <numbat/types.h>

/*
 * Initialise frames [s, e), inherited from an old kernel and in use by
 * an owner, straight into state inuse, as if the heap had given them out:
 * each frame's node is recorded, its init counted, and its node's heap
 * created if it does not exist yet (from the static pool: the node's own
 * frames are all in use, none can be carved). Takes each node's lock in
 * turn, never two at once.
 *
 * This kernel's exclusions are applied now, not when the frames are
 * freed, so a frame the heap must never take cannot be declared in use:
 * MFN 0 and a frame that is not RAM here (a hole, or outside the frame
 * table) are refused with a panic that names the frame and the way out
 * (lu_pages=uninit). So is a frame that is not uninitialised (the record
 * overlaps memory this kernel already gave to the heap).
 */
void inherit_frames_inuse(mfn_t s, mfn_t e);

#endif /* MM_INHERIT_H */
