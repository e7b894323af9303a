/*
 * kernel/mm_boot.c - from the machine's memory map to a working heap.
 *
 * The device tree gives RAM banks and reserved ranges in bytes; the memory
 * manager counts in frames. A bank is rounded inwards (a partial frame at
 * its edge is not usable RAM) and a reserved range outwards (a frame that
 * holds even one reserved byte is not free). Then, in order:
 *
 *   1. every bank goes to the boot allocator, every reserved range comes
 *      out of it;
 *   2. the frame table (one struct page_info per frame from the lowest
 *      RAM frame to the highest), in sections of 2^12 frames, each node's
 *      carved from that node's memory (mm/frametable.c). A section reads
 *      all zero - every frame uninitialised - before anybody zeroes it;
 *   3. the gaps between banks are marked as holes;
 *   4. deferred init (mm/deferred.c) takes every free frame beyond the
 *      first DEFERRED_EAGER_PAGES of the boot hart's node out of the boot
 *      allocator as pending; the boot hart zeroes the frame-table sections
 *      that hold any frame that is not pending (all of them with
 *      deferred_init=off), and end_boot_allocator() gives the rest to
 *      the heap;
 *   5. after the console is up, mm_boot_start_deferred() gives each
 *      other hart its node's pending frames (a node without harts goes to
 *      the nearest node that has some), and the harts hand them to the
 *      heap in chunks while the boot hart goes on, each chunk's section
 *      zeroed first by the hart that hands it over (deferred_init_chunk());
 *      mm_boot_settle() waits until nothing is pending.
 *
 * Boot argument deferred_init= chooses: on (the default: deferred when
 * another hart is online to do the work, eager on a one-hart machine),
 * off (eager: everything at step 4, as before deferred init existed), one
 * (deferred, but one hart does every node: the benchmark's yardstick for
 * the parallel hand-over) or hold (deferred, and no hart starts on it:
 * the frames come in only when an allocation needs them or at `settle`;
 * for watching deferred init from the monitor).
 *
 * Nothing here can recover from a failure (there is no memory manager to
 * fall back on), so every failure is a panic that names the range.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/bootmem.h"
#include "../mm/deferred.h"
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/heap_walk.h"
#include "../mm/hooks.h"
#include "../mm/lab.h"
#include "../mm/offline.h"
#include "../mm/scrub.h"
#include "board.h"
#include "mm_boot.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"

static struct mm_boot_stats stats;
static bool no_bootmem; /* a lab handout's bootmem stub: no heap at all */

const struct mm_boot_stats *mm_boot_stats(void)
{
    return &stats;
}

unsigned long mm_boot_meta_pages(void)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++) {
        mfn_t first;
        unsigned int nr;

        if (heap_walk_node_meta(node, &first, &nr))
            n += nr;
    }
    return n;
}

unsigned long mm_boot_parked_pages(void)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        n += offline_nr_offlined(node) + offline_nr_broken(node);
    return n;
}

unsigned long mm_boot_accounted_pages(void)
{
    return heap_total_free_pages() + mm_boot_meta_pages() +
           mm_boot_parked_pages();
}

/* The whole frames of bank b: [*s, *e). */
static void bank_frames(const struct mem_bank *b, mfn_t *s, mfn_t *e)
{
    *s = pa_to_mfn(ALIGN_UP(b->base, PAGE_SIZE));
    *e = pa_to_mfn(ALIGN_DOWN(b->base + b->size, PAGE_SIZE));
    if (*e < *s)
        *e = *s;
}

/* Every frame that holds a byte of reserved range r: [*s, *e). */
static void reserved_frames(const struct mem_reserved *r, mfn_t *s, mfn_t *e)
{
    *s = pa_to_mfn(r->base);
    *e = pa_to_mfn(ALIGN_UP(r->base + r->size, PAGE_SIZE));
}

/* Frames of [s, e) that lie in some bank. */
static unsigned long ram_frames_in(mfn_t s, mfn_t e)
{
    const struct machine *m = board();
    unsigned long n = 0;

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        mfn_t bs, be;

        bank_frames(&m->banks[i], &bs, &be);
        if (MAX(s, bs) < MIN(e, be))
            n += MIN(e, be) - MAX(s, bs);
    }
    return n;
}

/*
 * RAM frames covered by at least one reserved range. The ranges are
 * sorted by base but may overlap, so merge them as we go and count each
 * merged run once.
 */
static unsigned long count_reserved_pages(void)
{
    const struct machine *m = board();
    unsigned long n = 0;
    mfn_t run_s = 0, run_e = 0;

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        mfn_t s, e;

        reserved_frames(&m->reserved[i], &s, &e);
        if (s > run_e) { /* a new run starts: count the last one */
            n += ram_frames_in(run_s, run_e);
            run_s = s;
        }
        run_e = MAX(run_e, e);
    }
    return n + ram_frames_in(run_s, run_e);
}

/* Step 1: banks in, reserved ranges out. */
static void bootmem_from_machine(void)
{
    const struct machine *m = board();
    int err;

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        mfn_t s, e;

        bank_frames(&m->banks[i], &s, &e);
        stats.ram_pages += e - s;
        if ((err = bootmem_add_range(s, e)) == -ENOSYS && lab_missing()) {
            no_bootmem = true; /* degraded boot: see mm_boot_print_heap() */
            return;
        }
        if (err != 0)
            panic("mm_boot_init: bootmem_add_range(0x%lx, 0x%lx): %s",
                  (unsigned long)s, (unsigned long)e, errno_name(err));
    }
    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        mfn_t s, e;

        reserved_frames(&m->reserved[i], &s, &e);
        if ((err = bootmem_reserve_range(s, e)) != 0)
            panic("mm_boot_init: bootmem_reserve_range(0x%lx, 0x%lx): %s",
                  (unsigned long)s, (unsigned long)e, errno_name(err));
    }
    stats.reserved_pages = count_reserved_pages();
}

/*
 * Steps 2 and 3: the frame table for [first RAM frame, last RAM frame],
 * each node's sections on that node's memory (mm/frametable.c), then the
 * holes. No section is zeroed yet, except the holes': mm_boot_end()
 * decides which ones the boot hart zeroes.
 */
static void frametable_from_machine(void)
{
    const struct machine *m = board();
    mfn_t first, end, s, e, prev_e;

    bank_frames(&m->banks[0], &first, &e);
    bank_frames(&m->banks[m->nr_banks - 1], &s, &end);
    frametable_init(first, end);
    stats.frametable_pages = frametable_carve_per_node();
    frametable_part(0, &stats.frametable_mfn, &(unsigned long){0},
                    &(unsigned int){0});

    bank_frames(&m->banks[0], &s, &prev_e);
    for (unsigned int i = 1; i < m->nr_banks; i++) {
        bank_frames(&m->banks[i], &s, &e);
        if (prev_e < s)
            frametable_mark_hole(prev_e, s);
        prev_e = e;
    }
}

static void count_range(mfn_t s, mfn_t e, void *arg)
{
    *(unsigned long *)arg += e - s;
}

void mm_boot_init(void)
{
    bootmem_from_machine();
    if (!no_bootmem)
        frametable_from_machine();
}

/* ---- deferred init ------------------------------------------------------ */

static enum deferred_mode deferred_mode = DEFERRED_ON;

/* One worker hart's share: its own node first, then the nodes it adopts. */
struct deferred_work {
    unsigned int nodes[MAX_NUMNODES]; /* nodes to hand over, in order */
    unsigned int nr_nodes;            /* entries used */
    uint64_t done_at;                 /* rdtime when it finished; 0: not yet */
};

static struct deferred_work work[MAX_HARTS]; /* indexed by hart id */
static uint32_t worker_ids[MAX_HARTS];       /* the harts given work */
static unsigned int nr_workers;
static bool workers_started;
static bool planned[MAX_NUMNODES]; /* a started worker has this node */
static uint64_t started_at;        /* rdtime when the hand-over began */
static uint64_t settled_at;        /* rdtime of its last chunk; 0: not yet */

int mm_boot_set_deferred(const char *value, bool has_value, const char **why)
{
    static const char *const names[] = {
        [DEFERRED_ON] = "on", [DEFERRED_OFF] = "off",
        [DEFERRED_ONE] = "one", [DEFERRED_HOLD] = "hold"};

    for (unsigned int i = 0; has_value && i < ARRAY_SIZE(names); i++) {
        if (strcmp(value, names[i]) == 0) {
            deferred_mode = (enum deferred_mode)i;
            return 0;
        }
    }
    *why = "needs on, off, one or hold";
    return -EINVAL;
}

enum deferred_mode mm_boot_deferred_mode(void)
{
    return deferred_mode;
}

bool mm_boot_deferred_started(void)
{
    return workers_started;
}

/* rdtime now: smp_deadline() of zero milliseconds is the current time. */
static uint64_t now(void)
{
    return smp_deadline(0);
}

/*
 * The harts that do the work: on each node the first online hart (in the
 * device tree's order) other than this one. One per node is enough: a chunk's hand-over
 * holds its node's lock, so a second hart of the node would only spin on
 * it, and under QEMU a spinning hart takes a host CPU from a working one.
 */
static unsigned int find_worker_harts(void)
{
    const struct machine *m = board();
    bool taken[MAX_NUMNODES] = {false};

    nr_workers = 0;
    for (unsigned int i = 0; i < m->nr_harts; i++) {
        uint32_t id = m->hart_ids[i];
        struct hart *h = smp_hart(id);

        if (id == smp_hartid() || !h || !h->online || h->node >= MAX_NUMNODES ||
            taken[h->node])
            continue;
        taken[h->node] = true;
        worker_ids[nr_workers++] = id;
    }
    return nr_workers;
}

/* Step 4: what stays pending, then the boot allocator's end. */
void mm_boot_end(void)
{
    if (no_bootmem)
        return;
    bootmem_for_each_range(count_range, &stats.handed_pages);
    if (deferred_mode == DEFERRED_ON && find_worker_harts() == 0)
        deferred_mode = DEFERRED_OFF; /* nobody else to do it */
    if (deferred_mode != DEFERRED_OFF && scrub_get_policy() == SCRUB_ON) {
        /*
         * scrub=on promises that boot zeroes every free frame before it
         * goes on; frames still pending would come in dirty afterwards.
         * Zeroing all of RAM costs more than handing it over, so eager
         * init adds little to what scrub=on has already asked for.
         */
        deferred_mode = DEFERRED_OFF;
        printk("deferred: off: scrub=on zeroes all free memory before boot "
               "goes on, so the heap takes all of it now\n");
    }
    if (deferred_mode != DEFERRED_OFF) {
        frametable_boot_may_wait();
        stats.pending_pages = deferred_defer_boot_ranges(smp_this_node(),
                                                         DEFERRED_EAGER_PAGES);
        frametable_boot_ready(&stats.sections_waiting);
    } else {
        frametable_make_ready(frametable_first(), frametable_end());
    }
    stats.sections_zeroed = frametable_nr_ready(); /* holes' too */
    printk("frametable: %lu sections of %lu frames in %u parts, each on its "
           "node: %lu zeroed at boot, %lu left to deferred init\n",
           frametable_nr_sections(), FRAMETABLE_SECTION_PAGES,
           frametable_nr_parts(), stats.sections_zeroed,
           stats.sections_waiting);
    end_boot_allocator();
    stats.heap_free_pages = heap_total_free_pages();
}

static bool node_has_worker(unsigned int node)
{
    for (unsigned int i = 0; i < nr_workers; i++)
        if (smp_hart(worker_ids[i])->node == node)
            return true;
    return false;
}

/* The nearest node to `node` that has a worker hart (distance, then id). */
static unsigned int nearest_worker_node(unsigned int node)
{
    unsigned int best = NUMA_NO_NODE, best_d = ~0u;

    for (unsigned int n = 0; n < board()->nr_nodes; n++) {
        unsigned int d = board()->distance[node][n];

        if (node_has_worker(n) && d < best_d)
            best = n, best_d = d;
    }
    return best;
}

static void add_node(struct deferred_work *w, unsigned int node)
{
    w->nodes[w->nr_nodes++] = node;
}

/*
 * Who does what: each worker its own node, then every node without a
 * worker whose nearest worker node is its own. With deferred_init=one the
 * first worker does every node.
 */
static void plan_work(void)
{
    for (unsigned int i = 0; i < nr_workers; i++) {
        struct deferred_work *w = &work[worker_ids[i]];
        unsigned int own = smp_hart(worker_ids[i])->node;

        *w = (struct deferred_work){.nr_nodes = 0};
        if (deferred_mode == DEFERRED_ONE) {
            for (unsigned int n = 0; i == 0 && n < board()->nr_nodes; n++)
                add_node(w, n);
            continue;
        }
        add_node(w, own);
        for (unsigned int n = 0; n < board()->nr_nodes; n++)
            if (!node_has_worker(n) && nearest_worker_node(n) == own)
                add_node(w, n);
    }
}

/* What a worker hart runs (smp_run_on): its nodes, one after the other. */
static void deferred_worker(void *arg)
{
    struct deferred_work *w = arg;

    for (unsigned int i = 0; i < w->nr_nodes; i++)
        deferred_run_node(w->nodes[i]);
    w->done_at = now();
}

/* Give every worker its share; a node whose worker started is `planned`. */
static void start_workers(void)
{
    workers_started = true;
    find_worker_harts();
    plan_work();
    started_at = now();
    for (unsigned int i = 0; i < nr_workers; i++) {
        struct deferred_work *w = &work[worker_ids[i]];

        if (w->nr_nodes == 0)
            continue;
        if (smp_run_on(worker_ids[i], deferred_worker, w) != 0) {
            printk("deferred: hart %u is busy; its nodes come in on demand "
                   "or at settle\n",
                   worker_ids[i]);
            continue;
        }
        for (unsigned int n = 0; n < w->nr_nodes; n++)
            planned[w->nodes[n]] = true;
    }
}

void mm_boot_start_deferred(void)
{
    if (workers_started || deferred_mode == DEFERRED_HOLD ||
        stats.pending_pages == 0)
        return;
    start_workers();
    printk("deferred: %lu pages pending, handed over by %u harts\n",
           deferred_total_pending(), nr_workers);
}

uint64_t mm_boot_settle(void)
{
    uint64_t end = 0;
    bool helped = false;

    if (stats.pending_pages == 0)
        return 0;
    if (!workers_started)
        start_workers(); /* deferred_init=hold: the hand-over starts now */
    while (deferred_total_pending())
        for (unsigned int node = 0; node < board()->nr_nodes; node++)
            helped |= !planned[node] && deferred_init_chunk(node);
    for (unsigned int i = 0; i < nr_workers; i++) {
        if (work[worker_ids[i]].nr_nodes == 0)
            continue;
        smp_wait(worker_ids[i]);
        end = MAX(end, work[worker_ids[i]].done_at);
    }
    if (helped || end == 0) /* this hart did some of it: it ends now */
        end = MAX(end, now());
    if (settled_at == 0)
        settled_at = end;
    return settled_at - started_at;
}

void mm_boot_print_heap(void)
{
    char size[24];

    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        for (unsigned int zone = 0; zone < NR_ZONES; zone++) {
            unsigned long n = heap_free_pages_in(node, zone);

            if (n == 0)
                continue;
            format_size(size, sizeof(size), (uint64_t)n * PAGE_SIZE);
            printk("heap: node %u zone %u: %lu pages free (%s)\n", node, zone,
                   n, size);
        }
    }
    format_size(size, sizeof(size),
                (uint64_t)heap_total_free_pages() * PAGE_SIZE);
    printk("heap: total %lu pages free (%s)\n", heap_total_free_pages(), size);
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        unsigned long n = deferred_pending_pages(node);

        if (n == 0)
            continue;
        format_size(size, sizeof(size), (uint64_t)n * PAGE_SIZE);
        printk("deferred: node %u: %lu pages pending (%s)\n", node, n, size);
    }
    if (lab_missing() && !lab_missing_breaks_heap())
        printk("lab %s: not implemented yet - the heap works without it\n",
               lab_missing());
    else if (lab_missing())
        printk("lab %s: not implemented yet - the heap is %s\n", lab_missing(),
               heap_total_free_pages() ? "incomplete" : "empty");
}
