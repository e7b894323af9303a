/*
 * kernel/monitor_heap.c - the monitor's read-only views of the heap:
 * `heap` (counts, and deferred init's pending pages), `buddy` (one free list), `page` (one frame) and
 * `heapmap` (a whole node, as a picture in characters).
 *
 * They read what mm/ exposes - heap.h's counters, frametable.h's
 * page_info, heap_walk.h's list walk - and change nothing. Every number a
 * user types is checked against the machine first (node ids, zones
 * 0..NR_ZONES-1, orders 0..MAX_ORDER, MFNs inside the frame table), so a
 * typo gets a line, never an ASSERT.
 */
#include <numbat/string.h>

#include "../mm/deferred.h"
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/heap_walk.h"
#include "../mm/scrub.h"
#include "../mm/offline.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "dump.h"
#include "monitor.h"
#include "printk.h"

/* ---- heap: counts per node, zone and order --------------------------------
 */

static void print_zone(unsigned int node, unsigned int zone)
{
    unsigned long n = heap_free_pages_in(node, zone);
    char size[24];

    format_size(size, sizeof(size), (uint64_t)n * PAGE_SIZE);
    printk("heap: node %u zone %u: %lu pages free (%s)\n", node, zone, n, size);
    for (unsigned int order = 0; order <= MAX_ORDER; order++) {
        unsigned long blocks = heap_free_blocks(node, zone, order);

        if (blocks)
            printk("heap: node %u zone %u order %u: %lu blocks\n", node, zone,
                   order, blocks);
    }
}

/* ", N pending" while deferred init still has frames of the node. */
static void print_pending(unsigned int node)
{
    unsigned long n = deferred_pending_pages(node);

    if (n)
        printk(", %lu pages pending", n);
    printk("\n");
}

/* Frames out of service (mm/offline.c). */
static void print_out_of_service(unsigned int node)
{
    printk("heap: node %u: %lu offlined, %lu broken, %lu on their way out\n",
           node, offline_nr_offlined(node), offline_nr_broken(node),
           offline_nr_pending(node));
}

static void print_node_heap(unsigned int node)
{
    if (!heap_node_exists(node)) {
        printk("heap: node %u: no heap (no RAM, or none of it freed yet)",
               node);
        print_pending(node);
        /* badpages= can park every frame of a node: say where they went. */
        if (offline_nr_offlined(node) || offline_nr_broken(node) ||
            offline_nr_pending(node))
            print_out_of_service(node);
        return;
    }
    printk("heap: node %u: %lu pages free", node, heap_free_pages_node(node));
    print_pending(node);
    printk("heap: node %u: %lu of them dirty (need a scrub)\n", node,
           scrub_dirty_pages(node));
    print_out_of_service(node);
    for (unsigned int zone = 0; zone < NR_ZONES; zone++)
        if (heap_free_pages_in(node, zone))
            print_zone(node, zone);
}

static void print_pending_total(void)
{
    unsigned long n = deferred_total_pending();

    if (n)
        printk(", %lu pages pending (`settle` waits for them)", n);
    printk("\n");
}

unsigned int monitor_cmd_heap(int argc, char **argv)
{
    unsigned int node;

    if (argc >= 2) {
        if (strcmp(argv[1], "node") != 0 || argc != 3) {
            printk("heap: usage: heap [node N]\n");
            return EXIT_BAD_ARGS;
        }
        if (!monitor_node(argv, 2, &node))
            return EXIT_BAD_ARGS;
        print_node_heap(node);
        return EXIT_PASS;
    }
    for (node = 0; node < board()->nr_nodes; node++)
        print_node_heap(node);
    printk("heap: total %lu pages free", heap_total_free_pages());
    print_pending_total();
    return EXIT_PASS;
}

/* ---- buddy: walk one free list --------------------------------------------
 */

static void print_block(mfn_t mfn, unsigned int order, void *arg)
{
    unsigned long *i = arg;

    printk("buddy: %lu: [0x%lx, 0x%lx) order %u\n", (*i)++, mfn,
           mfn + ((mfn_t)1 << order), order);
}

unsigned int monitor_cmd_buddy(int argc, char **argv)
{
    unsigned long zone, order, i = 0, n;
    unsigned int node;

    if (!monitor_need(argc, argv, 4, "buddy NODE ZONE ORDER") ||
        !monitor_node(argv, 1, &node) ||
        !monitor_number(argv, 2, "zone", NR_ZONES - 1, &zone) ||
        !monitor_number(argv, 3, "order", MAX_ORDER, &order))
        return EXIT_BAD_ARGS;
    n = heap_walk_free_list(node, (unsigned int)zone, (unsigned int)order,
                            print_block, &i);
    printk("buddy: node %u zone %lu order %lu: %lu blocks\n", node, zone, order,
           n);
    return EXIT_PASS;
}

/* ---- page: one frame, decoded ---------------------------------------------
 */

static void print_flags(uint64_t ci)
{
    static const struct {
        uint64_t bit;     /* the PGC_ bit */
        const char *name; /* how it is printed */
    } flags[] = {
        {PGC_EXTRA, "extra"},
        {PGC_NODE_META, "node_meta"},
        {PGC_HOLE, "hole"},
        {PGC_CHECKED, "checked"},
        {PGC_OFFLINE_ASKED, "offline_asked"},
        {PGC_BROKEN, "broken"},
        {PGC_NEED_SCRUB, "need_scrub"},
    };
    char line[80];
    int n = snprintf(line, sizeof(line), "page:   flags");

    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        if (ci & flags[i].bit)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %s",
                          flags[i].name);
    printk("%s%s\n", line, (ci & PGC_FLAGS_MASK) ? "" : " none");
}

/* Who reserved the frame at boot, and whether it still holds it. */
static void print_reserved_by(mfn_t mfn, uint64_t ci)
{
    enum dump_owner o = dump_frame_owner(mfn);

    if (o == OWNER_NONE) {
        printk("page:   reserved by nobody: a heap frame since boot\n");
        return;
    }
    printk("page:   reserved by %s: %s; %s\n", dump_owner_name(o),
           dump_owner_text(o),
           pgc_state(ci) == PAGE_STATE_UNINITIALISED
               ? "uninitialised, still held"
               : "since given to the heap");
}

unsigned int monitor_cmd_page(int argc, char **argv)
{
    unsigned long mfn;
    const struct page_info *pg;
    uint64_t ci;

    if (!monitor_need(argc, argv, 2, "page MFN") ||
        !monitor_number(argv, 1, "MFN", ~0UL, &mfn))
        return EXIT_BAD_ARGS;
    if (!frametable_covers(mfn)) {
        printk("page: MFN 0x%lx is outside the frame table [0x%lx, 0x%lx)\n",
               mfn, frametable_first(), frametable_end());
        return EXIT_BAD_ARGS;
    }
    pg = mfn_to_page(mfn);
    ci = page_count_info(pg);
    printk("page: MFN 0x%lx (physical 0x%lx): state %s, zone %u\n", mfn,
           (unsigned long)mfn_to_pa(mfn), page_state_name(pgc_state(ci)),
           mfn_zone(mfn));
    print_flags(ci);
    print_reserved_by(mfn, ci);
    printk("page:   order %u%s, node %u, owner %u, count %lu, inits %u\n",
           pg->order,
           pgc_state(ci) == PAGE_STATE_FREE ? "" : " (meaningful when free)",
           pg->node, pg->owner, (unsigned long)(ci & PGC_COUNT_MASK),
           pg->nr_inits);
    printk("page:   count_info 0x%016lx\n", (unsigned long)ci);
    return EXIT_PASS;
}

/* ---- heapmap: a node in characters ----------------------------------------
 */

#define HEAPMAP_COLUMNS 64 /* characters per row */
#define HEAPMAP_ROWS 32    /* at most this many rows */

/*
 * One character per frame kind: the heap's states, and an uninitialised
 * frame by its owner (lower-case letters: every one of them is
 * uninitialised, in use by whoever reserved it at boot).
 */
static const char class_char[DUMP_NR_CLASSES] = {
    [DUMP_FREE] = '.',      [DUMP_INUSE] = '#',    [DUMP_UNINIT] = '-',
    [DUMP_OFFLINING] = '~', [DUMP_OFFLINED] = 'x', [DUMP_BROKEN] = '!',
    [DUMP_HOLE] = '_',      [DUMP_META] = 'M',
};
static const char owner_char[DUMP_NR_OWNERS] = {
    [OWNER_NONE] = '-',       [OWNER_OPENSBI] = 'o',    [OWNER_RESVMEM] = 'r',
    [OWNER_MEMRESERVE] = 'r', [OWNER_KERNEL] = 'k',     [OWNER_DTB] = 'd',
    [OWNER_INITRD] = 'i',     [OWNER_FRAMETABLE] = 't', [OWNER_BOOTALLOC] = 'b',
};

/* Which character wins when one cell mixes kinds: the first here. */
static const char cell_rank[] = "M!~#xokdrtib-_.";

static char frame_char(mfn_t mfn, unsigned int node)
{
    enum dump_class c = dump_classify(mfn, node);

    return c == DUMP_UNINIT ? owner_char[dump_frame_owner(mfn)] : class_char[c];
}

/* The character for frames [s, e): the first of cell_rank seen. */
static char cell_char(mfn_t s, mfn_t e, unsigned int node)
{
    const char *best = NULL;

    for (mfn_t mfn = s; mfn < e; mfn++) {
        const char *p = strchr(cell_rank, frame_char(mfn, node));

        if (p && (!best || p < best))
            best = p;
        if (best == cell_rank)
            break; /* nothing outranks it */
    }
    return best ? *best : ' ';
}

/* Frames per character: a power of two, so that at most HEAPMAP_ROWS fit. */
static unsigned long heapmap_scale(unsigned long frames)
{
    unsigned long scale = 1;

    while (scale * HEAPMAP_COLUMNS * HEAPMAP_ROWS < frames)
        scale *= 2;
    return scale;
}

static void heapmap_legend(void)
{
    printk("heapmap: legend: . free  # inuse  _ hole  M node metadata\n");
    printk("heapmap: offline: ~ offlining (in use)  x offlined  ! broken\n");
    printk("heapmap: uninitialised, by owner: o OpenSBI  k kernel  d dtb  "
           "i initrd\n");
    printk("heapmap:   t frame table  b boot allocation  r other reserved\n");
    printk("heapmap: a cell shows the first of %s among its frames\n",
           cell_rank);
}

static void heapmap_draw(unsigned int node, mfn_t s, mfn_t e)
{
    unsigned long scale = heapmap_scale(e - s);
    unsigned long per_row = scale * HEAPMAP_COLUMNS;
    char row[HEAPMAP_COLUMNS + 1];

    printk("heapmap: node %u [0x%lx, 0x%lx) %lu frames; %lu per char, 0x%lx "
           "per row\n",
           node, s, e, e - s, scale, per_row);
    heapmap_legend();
    for (mfn_t z = s; z < e; z = (mfn_t)1 << mfn_zone(z))
        printk("heapmap: zone %u [0x%lx, 0x%lx)\n", mfn_zone(z), z,
               MIN((mfn_t)1 << mfn_zone(z), e));
    for (mfn_t r = s; r < e; r += per_row) {
        unsigned int n = 0;

        for (mfn_t c = r; c < e && n < HEAPMAP_COLUMNS; c += scale)
            row[n++] = cell_char(c, MIN(c + scale, e), node);
        row[n] = '\0';
        printk("0x%08lx %s\n", r, row);
    }
}

unsigned int monitor_cmd_heapmap(int argc, char **argv)
{
    unsigned int node = 0;
    mfn_t s, e;

    if (argc >= 2) {
        if (strcmp(argv[1], "node") != 0 || argc != 3) {
            printk("heapmap: usage: heapmap [node N]\n");
            return EXIT_BAD_ARGS;
        }
        if (!monitor_node(argv, 2, &node))
            return EXIT_BAD_ARGS;
    }
    if (!dump_node_span(node, &s, &e)) {
        printk("heapmap: node %u has no RAM to draw\n", node);
        return EXIT_BAD_ARGS;
    }
    heapmap_draw(node, s, e);
    return EXIT_PASS;
}
