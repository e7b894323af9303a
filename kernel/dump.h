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
 *   uninit    never been through the heap, e.g. the frame table, which
 *             the boot allocator gave out (state uninitialised)
 *   reserved  uninitialised and inside a reserved range: firmware,
 *             kernel image, device tree blob
 *   offline   offlining, offlined or broken (MFN 0 is parked offlined)
 *   hole      not RAM of this node: a gap between banks
 *   meta      carved for the node's heap structures (PGC_NODE_META)
 *
 * The dump format is in docs/monitor.md.
 */
#ifndef KERNEL_DUMP_H
#define KERNEL_DUMP_H

#include <numbat/types.h>

enum dump_class {
    DUMP_FREE,     /* on a free list */
    DUMP_INUSE,    /* allocated from the heap */
    DUMP_UNINIT,   /* never in the heap, not reserved */
    DUMP_RESERVED, /* never in the heap, inside a reserved range */
    DUMP_OFFLINE,  /* offlining, offlined, broken */
    DUMP_HOLE,     /* not RAM of this node */
    DUMP_META,     /* the node heap's own frames */
    DUMP_NR_CLASSES
};

/* The class of frame mfn, seen as part of node `node`. */
enum dump_class dump_classify(mfn_t mfn, unsigned int node);

/* "free", "inuse", ... (the words of the dump format). */
const char *dump_class_name(enum dump_class c);

/* The frames a node's banks span, [*s, *e); false if it has no RAM. */
bool dump_node_span(unsigned int node, mfn_t *s, mfn_t *e);

/* Print the dump of one node (dump_node) or of every node with RAM. */
void dump_node(unsigned int node);
void dump_all(void);

#endif /* KERNEL_DUMP_H */
