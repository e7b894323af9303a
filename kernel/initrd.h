/*
 * kernel/initrd.h - the initial RAM disk: read it, then give it back.
 *
 * QEMU's -initrd FILE loads FILE into RAM and names its range in the
 * device tree (/chosen linux,initrd-start/-end); the parser reserves it,
 * so at boot its frames are in use but uninitialised. Numbat's stand-in
 * "application" reads it (a 32-bit sum of its bytes) and then returns
 * its frames to the heap with free_heap_pages(): docs/design.md's scenario 1.
 */
#ifndef KERNEL_INITRD_H
#define KERNEL_INITRD_H

#include <numbat/types.h>

/* What initrd_release() did; all zero when there was no initrd. */
struct initrd_info {
    paddr_t start, end;     /* the initrd's bytes, [start, end) */
    uint32_t sum;           /* 32-bit sum of its bytes */
    mfn_t freed_s, freed_e; /* frames given back to the heap, [s, e) */
    unsigned long nr_freed; /* freed_e - freed_s */
};

/* Read and free the initrd, printing the initrd: line. No-op without one. */
void initrd_release(void);

/* What initrd_release() did (for tests). */
const struct initrd_info *initrd_info(void);

#endif /* KERNEL_INITRD_H */
