/*
 * mm/deferred.c - deferred initialisation: the heap takes most of RAM
 * after boot, chunk by chunk, on each node's own harts. (This file is the
 * `smp` lab: labs/smp/README.md. Its stub records nothing, which is eager
 * init.)
 *
 * Handing 16 GiB to the heap at boot means init_heap_pages() over 4 Mi
 * frames on the boot hart while every other hart waits. Boot needs a few
 * megabytes. So the end of the boot allocator hands over only a first
 * part of the boot hart's node (DEFERRED_EAGER_PAGES frames) and records
 * every other free frame as *pending*, per node:
 *
 *     node 1 frames, over time (e = eager, # = in the heap, . = pending)
 *     boot:          [................................................]
 *     workers:       [##########c.....................................]
 *     settled:       [################################################]
 *                               ^ the next chunk a worker or an
 *                                 allocation takes (DEFERRED_CHUNK_PAGES)
 *
 * No new page state is needed, and that is what makes it safe: a pending
 * frame is simply an *uninitialised* one, a frame nobody has handed to the
 * heap yet. The buddy allocator never merges with it (it is not free),
 * nobody can free it (nobody was given it), and init_heap_pages() - the
 * one way into the heap, whose claim step panics on a frame that is not
 * uninitialised - takes each frame exactly once. What this file keeps is
 * only *which* uninitialised frames are waiting, so that somebody gets
 * round to them:
 *
 *   - the node's harts, after boot, run deferred_run_node() (the kernel
 *     gives a node without harts to its nearest node's harts);
 *   - an allocation that finds its node short calls deferred_grow() and
 *     hands over a chunk itself before it falls back to another node.
 *
 * Locking: node n's pending ranges and counters are guarded by node n's
 * heap lock, like the rest of its heap. Taking a chunk off the ranges,
 * handing it over (hand_over(), whose init_heap_pages() takes the lock
 * itself) and counting it in are three short holds of that one lock,
 * never two locks.
 * While a chunk is on its way it is counted in nr_busy, so "nothing of
 * node n is left" (deferred_pending_pages() == 0) means every frame is in
 * the heap. The counters are read without the lock with atomic loads,
 * pending before busy: a chunk moves from pending to busy under the lock,
 * so a reader can count it twice but never miss it.
 *
 * All ranges are half-open: [s, e) holds frames s .. e - 1.
 */
#include <numbat/compiler.h>

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/lab.h"

struct deferred_range {
    mfn_t s; /* first pending frame (advances as chunks are taken) */
    mfn_t e; /* one past the last */
};

struct deferred_node {
    struct deferred_range
        ranges[DEFERRED_MAX_RANGES]; /* ascending, all on this node */
    unsigned int first;              /* ranges before it are used up */
    unsigned int nr;                 /* ranges[] entries recorded */
    unsigned long nr_pending;        /* frames in ranges[first..nr) */
    unsigned long nr_busy; /* frames taken by a chunk, not yet counted in */
};

static struct deferred_node nodes[MAX_NUMNODES];

/* ---- at the end of boot -------------------------------------------------- */

/* Collecting the boot allocator's ranges before changing it. */
struct boot_ranges {
    struct deferred_range r[BOOTMEM_MAX_RANGES]; /* ascending */
    unsigned int nr;                             /* entries used */
};

static void collect_range(mfn_t s, mfn_t e, void *arg)
{
    struct boot_ranges *br = arg;

    br->r[br->nr++] = (struct deferred_range){s, e};
}

/*
 * Make [s, e), all on node `node`, pending: out of the boot allocator,
 * into the node's ranges. Returns the frames made pending: 0 if the node
 * has no range slot left or the boot allocator cannot cut the range out
 * (then the frames stay in the boot allocator and go to the heap at once).
 */
static unsigned long make_pending(unsigned int node, mfn_t s, mfn_t e)
{
    struct deferred_node *dn = &nodes[node];

    if (s >= e || dn->nr == DEFERRED_MAX_RANGES ||
        bootmem_reserve_range(s, e) != 0)
        return 0;
    dn->ranges[dn->nr++] = (struct deferred_range){s, e};
    dn->nr_pending += e - s;
    return e - s;
}

/* LAB smp: BEGIN SOLUTION */
unsigned long deferred_defer_boot_ranges(unsigned int boot_node,
                                         unsigned long eager_pages)
{
    struct boot_ranges br = {.nr = 0};
    unsigned long deferred = 0;

    bootmem_for_each_range(collect_range, &br);
    for (unsigned int i = 0; i < br.nr; i++) {
        for (mfn_t s = br.r[i].s, run_end; s < br.r[i].e; s = run_end) {
            unsigned int node = mm_hook_mfn_to_node(s);
            mfn_t keep = s;

            run_end = mm_hook_node_run_end(s, br.r[i].e);
            if (node >= MAX_NUMNODES)
                continue; /* not RAM: cannot happen inside a free range */
            if (node == boot_node && eager_pages) {
                keep = s + MIN(eager_pages, (unsigned long)(run_end - s));
                eager_pages -= keep - s;
            }
            deferred += make_pending(node, keep, run_end);
        }
    }
    return deferred;
}
/* LAB smp: END SOLUTION */
/* LAB smp: STUB
unsigned long deferred_defer_boot_ranges(unsigned int boot_node,
                                         unsigned long eager_pages)
{
    lab_not_implemented_heap_whole("smp");
    (void)collect_range;
    (void)make_pending;
    return 0;
}
*/

/* ---- handing chunks over -------------------------------------------------- */

/*
 * Hand frames [s, e) of a chunk taken off the ranges to the heap. The
 * frame table's sections of a pending chunk may not be ready yet (they
 * read the shared zero section: mm/frametable.c), and init_heap_pages()
 * writes their entries, so this hart makes them ready first. Takes no
 * lock of its own; init_heap_pages() takes each run's node lock.
 */
static void hand_over(mfn_t s, mfn_t e)
{
    frametable_make_ready(s, e);
    init_heap_pages(s, e - s);
}

/* LAB smp: BEGIN SOLUTION */
/* Take the next chunk of node dn's ranges: [*s, *e). Node lock held. */
static bool take_chunk(struct deferred_node *dn, mfn_t *s, mfn_t *e)
{
    struct deferred_range *r;

    if (dn->first == dn->nr)
        return false;
    r = &dn->ranges[dn->first];
    *s = r->s;
    *e = MIN(r->e, ALIGN_DOWN(r->s, (mfn_t)DEFERRED_CHUNK_PAGES) +
                       DEFERRED_CHUNK_PAGES);
    r->s = *e;
    if (r->s == r->e)
        dn->first++;
    __atomic_store_n(&dn->nr_busy, dn->nr_busy + (*e - *s), __ATOMIC_RELAXED);
    __atomic_store_n(&dn->nr_pending, dn->nr_pending - (*e - *s),
                     __ATOMIC_RELEASE);
    return true;
}

bool deferred_init_chunk(unsigned int node)
{
    struct deferred_node *dn;
    mfn_t s, e;
    bool took;

    ASSERT(node < MAX_NUMNODES);
    dn = &nodes[node];
    if (__atomic_load_n(&dn->nr_pending, __ATOMIC_ACQUIRE) == 0)
        return false; /* the fast path: this node is settled */
    mm_hook_lock(node);
    took = take_chunk(dn, &s, &e);
    mm_hook_unlock(node);
    if (!took)
        return false;
    hand_over(s, e);
    mm_hook_lock(node);
    __atomic_store_n(&dn->nr_busy, dn->nr_busy - (e - s), __ATOMIC_RELEASE);
    mm_hook_unlock(node);
    return true;
}

bool deferred_grow(unsigned int node)
{
    struct deferred_node *dn = &nodes[node];
    bool waited = false;

    if (node >= MAX_NUMNODES)
        return false;
    if (deferred_init_chunk(node))
        return true;
    /* Nothing left to take, but another hart may be handing some over. */
    while (__atomic_load_n(&dn->nr_busy, __ATOMIC_ACQUIRE) != 0)
        waited = true;
    return waited;
}
/* LAB smp: END SOLUTION */
/* LAB smp: STUB
bool deferred_init_chunk(unsigned int node)
{
    lab_not_implemented_heap_whole("smp");
    (void)hand_over;
    return false;
}

bool deferred_grow(unsigned int node)
{
    lab_not_implemented_heap_whole("smp");
    return false;
}
*/

void deferred_run_node(unsigned int node)
{
    while (deferred_init_chunk(node))
        ;
}

/* ---- counting ------------------------------------------------------------- */

unsigned long deferred_pending_pages(unsigned int node)
{
    const struct deferred_node *dn;
    unsigned long pending;

    if (node >= MAX_NUMNODES)
        return 0;
    dn = &nodes[node];
    pending = __atomic_load_n(&dn->nr_pending, __ATOMIC_ACQUIRE);
    return pending + __atomic_load_n(&dn->nr_busy, __ATOMIC_ACQUIRE);
}

unsigned long deferred_total_pending(void)
{
    unsigned long total = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        total += deferred_pending_pages(node);
    return total;
}

/* The rules one pending frame keeps: uninitialised RAM of its node. */
static void check_pending_frame(mfn_t m, unsigned int node,
                                void (*broken)(mfn_t mfn, const char *rule))
{
    const struct page_info *pg;
    uint64_t ci;

    if (!frametable_covers(m)) {
        broken(INVALID_MFN, "a pending range runs off the frame table");
        return;
    }
    pg = mfn_to_page(m);
    ci = page_count_info(pg);
    if (pgc_state(ci) != PAGE_STATE_UNINITIALISED || pg->nr_inits != 0)
        broken(m, "pending but already initialised");
    if ((ci & PGC_HOLE) || mm_hook_mfn_to_node(m) != node)
        broken(m, "pending on a node that does not own it as RAM");
}

unsigned long deferred_check_node(unsigned int node,
                                  void (*broken)(mfn_t mfn, const char *rule))
{
    const struct deferred_node *dn = &nodes[node];
    unsigned long n = 0;

    for (unsigned int i = dn->first; i < dn->nr; i++) {
        for (mfn_t m = dn->ranges[i].s; m < dn->ranges[i].e; m++)
            check_pending_frame(m, node, broken);
        n += dn->ranges[i].e - dn->ranges[i].s;
    }
    if (n != dn->nr_pending)
        broken(INVALID_MFN, "the node's pending counter disagrees with its "
                            "ranges");
    return n + dn->nr_busy;
}

void deferred_reset(void)
{
    __builtin_memset(nodes, 0, sizeof(nodes));
}
