/*
 * kernel/initrd.h - the initial RAM disk: read it, then give it back.
 *
 * QEMU's -initrd FILE loads FILE into RAM and names its range in the
 * device tree (/chosen linux,initrd-start/-end); the parser reserves it,
 * so at boot its frames are in use but uninitialised. Numbat's stand-in
 * "application" reads it (a 32-bit sum of its bytes) and then returns
 * its frames to the heap with free_heap_pages(): docs/design.md's scenario 1.
 *
 * Two boots keep it instead, in use and uninitialised, at the prompt:
 *   initrd=keep      the boot argument, so that a student can free it by
 *                    hand (the monitor's `release`) and watch each frame go
 *                    uninitialised -> (init_heap_pages) inuse -> free;
 *   a lab stub       while a lab's code is missing (lab_missing()), the
 *                    heap cannot be trusted with the frames.
 */
#ifndef KERNEL_INITRD_H
#define KERNEL_INITRD_H

#include <numbat/types.h>

/* What became of the initrd at boot. */
enum initrd_fate {
    INITRD_NONE,      /* QEMU was given no -initrd */
    INITRD_FREED,     /* read and freed at boot */
    INITRD_KEPT,      /* kept in use: initrd=keep */
    INITRD_KEPT_STUB, /* kept in use: a lab is still a stub */
};

/* What initrd_release() did; all zero when there was no initrd. */
struct initrd_info {
    enum initrd_fate fate;  /* freed, kept, or none */
    paddr_t start, end;     /* the initrd's bytes, [start, end) */
    uint32_t sum;           /* 32-bit sum of its bytes */
    mfn_t freed_s, freed_e; /* frames that hold only initrd bytes, [s, e):
                               those boot frees, or `release` may free */
    unsigned long nr_freed; /* of those, how many are freed by now */
};

/*
 * Read the initrd and free its frames, printing the initrd: line; or keep
 * them (initrd=keep, or a lab stub) and say so. No-op without an initrd.
 */
void initrd_release(void);

/*
 * Free frames [s, e) of a kept initrd now, in the largest aligned blocks,
 * through free_heap_pages() (each block goes through init_heap_pages()).
 * The caller has checked that every frame is one of freed_s..freed_e and
 * still uninitialised. With `who` set, prints a "who: ..." line per block.
 * Returns how many frames it freed.
 */
unsigned long initrd_free_frames(mfn_t s, mfn_t e, const char *who);

/* What initrd_release() did (for tests and the monitor). */
const struct initrd_info *initrd_info(void);

/* Why the initrd tests cannot look at freed frames: "no initrd (...)". */
const char *initrd_fate_text(enum initrd_fate fate);

#endif /* KERNEL_INITRD_H */
