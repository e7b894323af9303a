/*
 * kernel/monitor_alloc.c - driving the heap by hand: `alloc`, `free`,
 * `held`, and `release` (a kept initrd, frame by frame if you like).
 *
 * free_heap_pages() trusts its caller: freeing a block twice, or a block
 * the heap never gave out, is a panic (mm/heap.h), because in a kernel
 * such a call is a bug. At the monitor it is a typo. So the monitor keeps
 * a table of the blocks it handed out, and `free` only frees a block that
 * is in the table with the same order; anything else gets one line and
 * the heap is never called:
 *
 *   alloc 3           -> the block goes into the table
 *   free MFN 3        -> found: freed, and the entry marked freed
 *   free MFN 3 again  -> "already freed"; free MFN 2 -> "was order 3"
 *
 * A freed entry stays in the table (to give the "already freed" answer)
 * until its slot is needed for a new block.
 */
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "dump.h"
#include "initrd.h"
#include "liveupdate.h"
#include "monitor.h"
#include "printk.h"

#define HELD_MAX 32 /* blocks the monitor can hold at once */

struct held_block {
    mfn_t mfn;          /* first frame; INVALID_MFN for a slot never used */
    unsigned int order; /* log2 of its frames */
    bool live;          /* true until `free` gives it back */
};

static struct held_block held[HELD_MAX];
static bool held_ready; /* the table's slots start at INVALID_MFN */

static void held_init(void)
{
    if (held_ready)
        return;
    for (size_t i = 0; i < HELD_MAX; i++)
        held[i].mfn = INVALID_MFN;
    held_ready = true;
}

/*
 * The slot of the block at mfn, or NULL: the live one if there is one (the
 * heap can hand the same frame out again after a `free`), else a freed one.
 */
static struct held_block *held_find(mfn_t mfn)
{
    struct held_block *freed = NULL;

    held_init();
    for (size_t i = 0; i < HELD_MAX; i++) {
        if (held[i].mfn != mfn)
            continue;
        if (held[i].live)
            return &held[i];
        freed = freed ? freed : &held[i];
    }
    return freed;
}

/* A slot for a new block: unused or freed. NULL when all are live. */
static struct held_block *held_slot(void)
{
    struct held_block *freed = NULL;

    held_init();
    for (size_t i = 0; i < HELD_MAX; i++) {
        if (held[i].mfn == INVALID_MFN)
            return &held[i];
        if (!held[i].live && !freed)
            freed = &held[i];
    }
    return freed;
}

/* The node recorded in the first frame of a block the heap gave out. */
static unsigned int block_node(mfn_t mfn)
{
    return mfn_to_page(mfn)->node;
}

/* ---- alloc ORDER [node N] [exact] [bits B] --------------------------------
 */

struct alloc_request {
    unsigned int order; /* log2 of the frames wanted */
    unsigned int node;  /* NUMA_NO_NODE: this hart's node */
    unsigned int bits;  /* address-width limit; 0: none */
    unsigned int flags; /* ALLOC_EXACT_NODE or 0 */
};

/* Read the words after ORDER; false (and a line) on bad input. */
static bool read_alloc_options(int argc, char **argv, struct alloc_request *r)
{
    unsigned long bits;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "exact") == 0) {
            r->flags |= ALLOC_EXACT_NODE;
        } else if (strcmp(argv[i], "node") == 0 && i + 1 < argc) {
            if (!monitor_node(argv, ++i, &r->node))
                return false;
        } else if (strcmp(argv[i], "bits") == 0 && i + 1 < argc) {
            if (!monitor_number(argv, ++i, "bits", 64, &bits))
                return false;
            r->bits = (unsigned int)bits;
        } else {
            printk("alloc: unexpected '%s'; usage: alloc ORDER [node N] "
                   "[exact] [bits B]\n",
                   argv[i]);
            return false;
        }
    }
    return true;
}

static void print_request(const struct alloc_request *r)
{
    if (r->node == NUMA_NO_NODE)
        printk(" this hart's node");
    else
        printk(" node %u", r->node);
    if (r->flags & ALLOC_EXACT_NODE)
        printk(" exact");
    if (r->bits)
        printk(" bits %u", r->bits);
}

unsigned int monitor_cmd_alloc(int argc, char **argv)
{
    struct alloc_request r = {.node = NUMA_NO_NODE};
    struct held_block *slot;
    unsigned long order;
    mfn_t mfn;

    if (!monitor_need(argc, argv, 2, "alloc ORDER [node N] [exact] [bits B]") ||
        !monitor_number(argv, 1, "order", MAX_ORDER, &order) ||
        !read_alloc_options(argc, argv, &r))
        return EXIT_BAD_ARGS;
    r.order = (unsigned int)order;
    slot = held_slot();
    if (!slot) {
        printk("alloc: the monitor already holds %u blocks; free one first "
               "(see `held`)\n",
               HELD_MAX);
        return EXIT_BAD_ARGS;
    }
    mfn = alloc_heap_pages(r.order, r.bits, r.node, r.flags);
    if (mfn == INVALID_MFN) {
        printk("alloc: nothing fits order %u for", r.order);
        print_request(&r);
        printk("\n");
        return EXIT_PASS;
    }
    if (held_find(mfn)) /* a freed entry of the same frame: take it over */
        slot = held_find(mfn); /* (no live one: the heap just gave mfn out) */
    *slot = (struct held_block){.mfn = mfn, .order = r.order, .live = true};
    printk("alloc: order %u -> [0x%lx, 0x%lx) node %u zone %u\n", r.order, mfn,
           mfn + ((mfn_t)1 << r.order), block_node(mfn), mfn_zone(mfn));
    return EXIT_PASS;
}

/* ---- free MFN ORDER ---------------------------------------------------------
 */

/* May the monitor free (mfn, order)? If not, say why and return false. */
static bool free_allowed(const struct held_block *b, mfn_t mfn,
                         unsigned int order)
{
    if (!b) {
        printk("free: 0x%lx is not a block the monitor allocated (see `held`); "
               "nothing freed\n",
               mfn);
        return false;
    }
    if (!b->live) {
        printk("free: 0x%lx order %u was already freed; nothing freed\n", mfn,
               b->order);
        return false;
    }
    if (b->order != order) {
        printk("free: 0x%lx was allocated with order %u, not %u; nothing "
               "freed\n",
               mfn, b->order, order);
        return false;
    }
    return true;
}

/*
 * Frames of the block that were marked to leave service (offlining, or
 * marked while uninitialised) are parked when it is freed (mm/offline.c)
 * instead of going back: say how many, so that `free` does not seem to
 * have lost them.
 */
static void print_left_service(mfn_t mfn, unsigned int order)
{
    unsigned long out = 0;

    for (mfn_t m = mfn; m < mfn + (1UL << order); m++)
        if (page_state_is(mfn_to_page(m), PAGE_STATE_OFFLINED) ||
            page_state_is(mfn_to_page(m), PAGE_STATE_BROKEN))
            out++;
    if (out)
        printk("free: %lu of its frames were marked to leave service: out "
               "of service now (offlined or broken), not free\n",
               out);
}

unsigned int monitor_cmd_free(int argc, char **argv)
{
    unsigned long mfn, order;
    struct held_block *b;
    unsigned int node;

    if (!monitor_need(argc, argv, 3, "free MFN ORDER") ||
        !monitor_number(argv, 1, "MFN", ~0UL, &mfn) ||
        !monitor_number(argv, 2, "order", MAX_ORDER, &order))
        return EXIT_BAD_ARGS;
    b = held_find(mfn);
    if (!free_allowed(b, mfn, (unsigned int)order))
        return EXIT_BAD_ARGS;
    node = block_node(mfn);
    free_heap_pages(mfn, (unsigned int)order);
    lu_forget(mfn, mfn + (1UL << order)); /* not preserved any more */
    b->live = false;
    printk("free: [0x%lx, 0x%lx) back to node %u zone %u; node %u has %lu "
           "pages free\n",
           mfn, mfn + (1UL << order), node, mfn_zone(mfn), node,
           heap_free_pages_node(node));
    print_left_service(mfn, (unsigned int)order);
    return EXIT_PASS;
}

/* ---- held -------------------------------------------------------------------
 */

bool monitor_held_adopt(mfn_t mfn, unsigned int order)
{
    struct held_block *slot = held_slot();

    if (!slot)
        return false;
    *slot = (struct held_block){.mfn = mfn, .order = order, .live = true};
    return true;
}

bool monitor_held_live(mfn_t mfn, unsigned int order)
{
    struct held_block *b = held_find(mfn);

    return b && b->live && b->order == order;
}

unsigned int monitor_cmd_held(int argc, char **argv)
{
    unsigned int n = 0;

    held_init();
    for (size_t i = 0; i < HELD_MAX; i++) {
        if (held[i].mfn == INVALID_MFN || !held[i].live)
            continue;
        printk("held: [0x%lx, 0x%lx) order %u\n", held[i].mfn,
               held[i].mfn + ((mfn_t)1 << held[i].order), held[i].order);
        n++;
    }
    printk("held: %u blocks (at most %u)\n", n, HELD_MAX);
    return EXIT_PASS;
}

/* ---- release initrd | release MFN NR ------------------------------------
 *
 * With the boot argument initrd=keep, the initrd's frames stay in use and
 * uninitialised after boot. `release` gives some or all of them back the
 * way an application would, through free_heap_pages(): each block goes
 * uninitialised -> init_heap_pages() -> inuse -> free and merges with its
 * buddies, and `page` shows each frame before and after. Only the frames
 * that hold nothing but initrd bytes can be released: every other frame
 * still held since boot is in use for good (OpenSBI's memory, which the
 * firmware protects; the kernel image, which runs; the device tree blob;
 * the frame table, which the heap itself uses).
 */

/* May [s, e) be released? If not, one line saying why. */
static bool release_allowed(mfn_t s, mfn_t e)
{
    const struct initrd_info *in = initrd_info();

    if (in->fate != INITRD_KEPT) {
        printk("release: nothing to release: %s; nothing freed\n",
               in->fate == INITRD_FREED ? "the initrd was freed at boot (boot "
                                          "with initrd=keep to keep it)"
                                        : initrd_fate_text(in->fate));
        return false;
    }
    for (mfn_t m = s; m < e; m++) {
        enum dump_owner o = dump_frame_owner(m);

        if ((m < in->freed_s || m >= in->freed_e) && o == OWNER_NONE) {
            printk("release: frame 0x%lx is a heap frame, not held since "
                   "boot; only the initrd's [0x%lx, 0x%lx) can be released; "
                   "nothing freed\n",
                   m, in->freed_s, in->freed_e);
            return false;
        }
        if (m < in->freed_s || m >= in->freed_e) {
            printk("release: frame 0x%lx is held by %s (%s), not the "
                   "initrd's; only [0x%lx, 0x%lx) can be released; nothing "
                   "freed\n",
                   m, dump_owner_name(o), dump_owner_text(o), in->freed_s,
                   in->freed_e);
            return false;
        }
        if (page_state(mfn_to_page(m)) != PAGE_STATE_UNINITIALISED) {
            printk("release: frame 0x%lx is %s, not uninitialised: released "
                   "already; nothing freed\n",
                   m, page_state_name(page_state(mfn_to_page(m))));
            return false;
        }
    }
    return true;
}

/* Release every frame of the kept initrd that is still uninitialised. */
static unsigned long release_whole_initrd(void)
{
    const struct initrd_info *in = initrd_info();
    unsigned long n = 0;

    for (mfn_t m = in->freed_s; m < in->freed_e;) {
        mfn_t e = m;

        while (e < in->freed_e &&
               page_state(mfn_to_page(e)) == PAGE_STATE_UNINITIALISED)
            e++;
        if (e > m)
            n += initrd_free_frames(m, e, "release");
        m = e + 1;
    }
    return n;
}

unsigned int monitor_cmd_release(int argc, char **argv)
{
    const struct initrd_info *in = initrd_info();
    unsigned long mfn, nr, done;
    unsigned int node;

    if (argc == 2 && strcmp(argv[1], "initrd") == 0) {
        if (!release_allowed(in->freed_s, in->freed_s))
            return EXIT_BAD_ARGS;
        done = release_whole_initrd();
        if (done == 0) {
            printk("release: every frame of the initrd is released already; "
                   "nothing freed\n");
            return EXIT_PASS;
        }
    } else {
        if (!monitor_need(argc, argv, 3, "release initrd | release MFN NR") ||
            !monitor_number(argv, 1, "MFN", ~0UL, &mfn) ||
            !monitor_number(argv, 2, "NR", 1UL << 30, &nr))
            return EXIT_BAD_ARGS;
        if (nr == 0) {
            printk("release: NR must be 1 or more frames; nothing freed\n");
            return EXIT_BAD_ARGS;
        }
        if (!release_allowed(mfn, mfn + nr))
            return EXIT_BAD_ARGS;
        done = initrd_free_frames(mfn, mfn + nr, "release");
    }
    node = mm_hook_mfn_to_node(in->freed_s);
    printk("release: %lu frames freed (%lu of the initrd's %lu by now); node "
           "%u has %lu pages free\n",
           done, in->nr_freed, (unsigned long)(in->freed_e - in->freed_s), node,
           heap_free_pages_node(node));
    return EXIT_PASS;
}
