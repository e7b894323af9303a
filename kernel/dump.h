/*
 * kernel/dump.h - what each frame of a node is, in a few classes, for
 * pictures: the monitor's `heapmap` draws them as characters, its `dump`
 * prints them for tools/memmap.py to draw as SVG.
 *
 * A class says what a frame is at a glance, from its page_info and the
 * machine's memory map:
 *
 *   free      on a buddy free list (state free)
 *   inuse     given out by the heap (state inuse, not node metadata)
 *   uninit    never been through the heap (state uninitialised): in use
 *             by its owner, below
 *   offlining in use, to leave service when freed (mm/offline.c); also
 *             broken while in use
 *   offlined  out of service (MFN 0 is parked offlined)
 *   broken    bad RAM, out for good
 *   hole      not RAM of this node: a gap between banks
 *   meta      carved for the node's heap structures (PGC_NODE_META)
 *
 * An uninitialised frame also has an owner: who holds it since boot,
 * found from the machine's reserved ranges and the frame table's place.
 * A frame holding bytes of two reserved ranges belongs to the first.
 *
 *   opensbi     OpenSBI's own memory (/reserved-memory mmode_resv*)
 *   resvmem     another /reserved-memory child
 *   memreserve  the blob's /memreserve/ block
 *   kernel      the kernel image
 *   dtb         the device tree blob
 *   initrd      the initrd (kept in use with initrd=keep)
 *   frametable  the frame table, a boot allocation
 *   bootalloc   any other boot allocation
 *
 * The dump format (format 2: uninit runs name their owner; format 3: the
 * offline class split in offlining, offlined and broken) is in
 * docs/monitor.md.
 */
#ifndef KERNEL_DUMP_H
#define KERNEL_DUMP_H

#include <numbat/types.h>

#define DUMP_FORMAT 3 /* the number on each `dump: begin` line */

enum dump_class {
    DUMP_FREE,    /* on a free list */
    DUMP_INUSE,   /* allocated from the heap */
    DUMP_UNINIT,  /* never in the heap: held by its owner */
    DUMP_OFFLINING, /* in use, leaves service when freed */
    DUMP_OFFLINED,  /* out of service (MFN 0 too) */
    DUMP_BROKEN,    /* bad RAM, out for good */
    DUMP_HOLE,    /* not RAM of this node */
    DUMP_META,    /* the node heap's own frames */
    DUMP_NR_CLASSES
};

enum dump_owner {
    OWNER_NONE,       /* not held since boot: a heap frame, or a hole */
    OWNER_OPENSBI,    /* /reserved-memory mmode_resv*: OpenSBI */
    OWNER_RESVMEM,    /* another /reserved-memory child */
    OWNER_MEMRESERVE, /* the blob's /memreserve/ block */
    OWNER_KERNEL,     /* the kernel image */
    OWNER_DTB,        /* the device tree blob */
    OWNER_INITRD,     /* the initrd */
    OWNER_FRAMETABLE, /* the frame table (a boot allocation) */
    OWNER_BOOTALLOC,  /* another boot allocation */
    OWNER_PRESERVED,  /* kept over a live update (kernel/liveupdate.c) */
    DUMP_NR_OWNERS
};

/* The class of frame mfn, seen as part of node `node`. */
enum dump_class dump_classify(mfn_t mfn, unsigned int node);

/*
 * Who reserved frame mfn at boot, from the memory map alone (it may have
 * been freed since): a reserved range, the frame table, or, for a frame
 * that is still uninitialised and none of those, a boot allocation.
 */
enum dump_owner dump_frame_owner(mfn_t mfn);

/* "free", "inuse", ... (the words of the dump format). */
const char *dump_class_name(enum dump_class c);

/* "opensbi", "kernel", ... (the dump's words), and a phrase for people. */
const char *dump_owner_name(enum dump_owner o);
const char *dump_owner_text(enum dump_owner o);

/* The frames a node's banks span, [*s, *e); false if it has no RAM. */
bool dump_node_span(unsigned int node, mfn_t *s, mfn_t *e);

/* Print the dump of one node (dump_node) or of every node with RAM. */
void dump_node(unsigned int node);
void dump_all(void);

#endif /* KERNEL_DUMP_H */
