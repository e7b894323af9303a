/*
 * kernel/dump.c - sorting a node's frames into classes, and the `dump`
 * command that prints them run by run (see kernel/dump.h).
 *
 * The dump is a compact, line-based picture of one node: a frame-by-frame
 * listing would be 32768 lines for 128 MiB, so frames are grouped into
 * runs. A run is a stretch of frames of one class inside one zone; a free
 * block is always a line of its own, with its order, because the buddy
 * structure is what the picture is for:
 *
 *   dump: begin node 0 [0x80000, 0x88000) frames 32768 format 3
 *   dump: zone 20 [0x80000, 0x88000)
 *   dump: run [0x80000, 0x80080) uninit owner opensbi
 *   dump: free [0x80400, 0x80600) order 9
 *   dump: end node 0 runs 21
 *
 * A run of uninitialised frames also has one owner (its `owner` word);
 * where the owner changes, a new run starts.
 *
 * Ranges are half-open frame ranges. The walk follows the frame table in
 * address order: the first free frame it meets heads a free block (blocks
 * are aligned and do not overlap), so it jumps to the block's end.
 *
 * It reads page_info without the heap lock: at the monitor the other
 * harts are idle, so nothing changes underneath. heap_check() is the tool
 * that proves the structures are sound; the dump only shows them.
 */
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "dump.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"

static const char *const class_names[DUMP_NR_CLASSES] = {
    [DUMP_FREE] = "free",     [DUMP_INUSE] = "inuse",
    [DUMP_UNINIT] = "uninit", [DUMP_OFFLINING] = "offlining",
    [DUMP_OFFLINED] = "offlined", [DUMP_BROKEN] = "broken",
    [DUMP_HOLE] = "hole",     [DUMP_META] = "meta",
};

/* Each owner's word in the dump, and its phrase for `page`. */
static const struct {
    const char *name; /* the dump format's word */
    const char *text; /* for people */
} owners[DUMP_NR_OWNERS] = {
    [OWNER_NONE] = {"none", "nobody (a heap frame)"},
    [OWNER_OPENSBI] = {"opensbi", "OpenSBI, the firmware's /reserved-memory"},
    [OWNER_RESVMEM] = {"resvmem", "a /reserved-memory range of the tree"},
    [OWNER_MEMRESERVE] = {"memreserve", "the blob's /memreserve/ block"},
    [OWNER_KERNEL] = {"kernel", "the kernel image"},
    [OWNER_DTB] = {"dtb", "the device tree blob"},
    [OWNER_INITRD] = {"initrd", "the initrd"},
    [OWNER_FRAMETABLE] = {"frametable", "the frame table, a boot allocation"},
    [OWNER_BOOTALLOC] = {"bootalloc", "a boot allocation"},
    [OWNER_PRESERVED] = {"preserved", "memory kept over a live update for "
                                      "its owner (or the hand-over record)"},
};

const char *dump_class_name(enum dump_class c)
{
    return c < DUMP_NR_CLASSES ? class_names[c] : "class?";
}

const char *dump_owner_name(enum dump_owner o)
{
    return o < DUMP_NR_OWNERS ? owners[o].name : "owner?";
}

const char *dump_owner_text(enum dump_owner o)
{
    return o < DUMP_NR_OWNERS ? owners[o].text : "owner?";
}

/* The owner a reserved range stands for. */
static enum dump_owner range_owner(const struct mem_reserved *r)
{
    switch (r->kind) {
    case RESERVE_KERNEL:
        return OWNER_KERNEL;
    case RESERVE_DTB:
        return OWNER_DTB;
    case RESERVE_INITRD:
        return OWNER_INITRD;
    case RESERVE_MEMRESERVE:
        return OWNER_MEMRESERVE;
    case RESERVE_PRESERVED:
    case RESERVE_LU_RECORD:
        return OWNER_PRESERVED;
    default: /* QEMU's OpenSBI names its ranges mmode_resv0@..., ... */
        return strncmp(r->name, "mmode_resv", 10) == 0 ? OWNER_OPENSBI
                                                       : OWNER_RESVMEM;
    }
}

enum dump_owner dump_frame_owner(mfn_t mfn)
{
    const struct machine *m = board();
    paddr_t pa = mfn_to_pa(mfn);

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        const struct mem_reserved *r = &m->reserved[i];

        if (pa < r->base + r->size && pa + PAGE_SIZE > r->base)
            return range_owner(r);
    }
    if (frametable_holds_frame(mfn))
        return OWNER_FRAMETABLE;
    if (mfn_valid(mfn) &&
        page_state(mfn_to_page(mfn)) == PAGE_STATE_UNINITIALISED &&
        !(page_count_info(mfn_to_page(mfn)) & PGC_HOLE))
        return OWNER_BOOTALLOC;
    return OWNER_NONE;
}

enum dump_class dump_classify(mfn_t mfn, unsigned int node)
{
    const struct page_info *pg;
    uint64_t ci;

    if (!mfn_valid(mfn) || mm_hook_mfn_to_node(mfn) != node)
        return DUMP_HOLE;
    pg = mfn_to_page(mfn);
    ci = page_count_info(pg); /* one read, then test the copy */
    if (ci & PGC_NODE_META)
        return DUMP_META;
    switch (pgc_state(ci)) {
    case PAGE_STATE_FREE:
        return DUMP_FREE;
    case PAGE_STATE_INUSE:
        return DUMP_INUSE;
    case PAGE_STATE_UNINITIALISED:
        return DUMP_UNINIT;
    case PAGE_STATE_OFFLINING:
        return DUMP_OFFLINING;
    case PAGE_STATE_OFFLINED:
        return DUMP_OFFLINED;
    default:
        return DUMP_BROKEN;
    }
}

bool dump_node_span(unsigned int node, mfn_t *s, mfn_t *e)
{
    const struct machine *m = board();
    bool any = false;

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        const struct mem_bank *b = &m->banks[i];
        mfn_t bs = pa_to_mfn(b->base + PAGE_SIZE - 1);
        mfn_t be = pa_to_mfn(b->base + b->size);

        if (b->node != node || bs >= be)
            continue;
        *s = any ? MIN(*s, bs) : bs;
        *e = any ? MAX(*e, be) : be;
        any = true;
    }
    return any;
}

/* One past the last frame of mfn's zone (zone z is [2^(z-1), 2^z)). */
static mfn_t zone_end(mfn_t mfn)
{
    return (mfn_t)1 << mfn_zone(mfn);
}

/* Print the run or free block that starts at mfn; returns its end. */
static mfn_t dump_one(mfn_t mfn, mfn_t limit, unsigned int node)
{
    enum dump_class c = dump_classify(mfn, node);
    mfn_t end = mfn + 1;

    if (c == DUMP_FREE) {
        unsigned int order = mfn_to_page(mfn)->order;

        if (order <= MAX_ORDER)
            end = MIN(mfn + ((mfn_t)1 << order), limit);
        printk("dump: free [0x%lx, 0x%lx) order %u\n", mfn, end, order);
        return end;
    }
    if (c == DUMP_UNINIT) {
        enum dump_owner o = dump_frame_owner(mfn);

        while (end < limit && dump_classify(end, node) == c &&
               dump_frame_owner(end) == o)
            end++;
        printk("dump: run [0x%lx, 0x%lx) uninit owner %s\n", mfn, end,
               dump_owner_name(o));
        return end;
    }
    while (end < limit && dump_classify(end, node) == c)
        end++;
    printk("dump: run [0x%lx, 0x%lx) %s\n", mfn, end, dump_class_name(c));
    return end;
}

void dump_node(unsigned int node)
{
    mfn_t s, e, mfn;
    unsigned long lines = 0;

    if (!dump_node_span(node, &s, &e)) {
        printk("dump: node %u has no RAM: nothing to dump\n", node);
        return;
    }
    printk("dump: begin node %u [0x%lx, 0x%lx) frames %lu format %u\n", node, s,
           e, e - s, DUMP_FORMAT);
    for (mfn = s; mfn < e;) {
        mfn_t z_end = MIN(zone_end(mfn), e);

        printk("dump: zone %u [0x%lx, 0x%lx)\n", mfn_zone(mfn), mfn, z_end);
        while (mfn < z_end) {
            mfn = dump_one(mfn, z_end, node);
            lines++;
        }
    }
    printk("dump: end node %u runs %lu\n", node, lines);
}

void dump_all(void)
{
    mfn_t s, e;

    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (dump_node_span(node, &s, &e))
            dump_node(node);
}

/* The monitor's `dump [node N]`. */
unsigned int monitor_cmd_dump(int argc, char **argv)
{
    unsigned int node;

    if (argc == 1) {
        dump_all();
        return EXIT_PASS;
    }
    if (strcmp(argv[1], "node") != 0 || argc != 3) {
        printk("dump: usage: dump [node N]\n");
        return EXIT_BAD_ARGS;
    }
    if (!monitor_node(argv, 2, &node))
        return EXIT_BAD_ARGS;
    dump_node(node);
    return EXIT_PASS;
}
