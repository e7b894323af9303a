/*
 * tests/bench/bench_mm.c - how fast is the memory manager, against its
 * targets? Built -O2 -DNDEBUG without sanitizers (release mm/: no ASSERTs,
 * no poisoning), on the simulated machine of tests/host/lib/sim.c.
 *
 * Figures, each printed with its target and whether it is met:
 *   init_heap_pages over 16 GiB of simulated RAM: ns and instructions per
 *   page (instructions from perf_event_open when the kernel allows it),
 *   against a page-by-page baseline built from the same code
 *   (init_heap_pages called once per page), and the speed-up;
 *   an order-0 alloc_heap_pages + free_heap_pages pair, in ns, and its
 *   ratio to a bare singly-linked free list measured in the same run;
 *   sizeof(struct page_info) and the pages of metadata per node.
 * For context, the floor this machine sets for init_heap_pages: one pass
 * over a buffer the size of the frame table that reads and writes one word
 * of every 32-byte entry (init must read every frame's state to check it
 * and write its new state, so it cannot beat that), best of three.
 *
 * Timing depends on the machine, so the bench never fails because of it:
 * it exits 0 whenever it ran, and says which targets were met.
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/node_heap.h"
#include "mm/page.h"
#include "tests/host/lib/sim.h"

#define RAM_FRAMES (UINT64_C(16) << (30 - PAGE_SHIFT)) /* 16 GiB */
#define RAM_BASE UINT64_C(0x80000) /* 2 GiB, like QEMU virt */
#define LEFT_AT_BOOT 64UL          /* frames end_boot_allocator hands over */
#define PAIRS 4000000UL            /* alloc+free pairs timed */

static const struct sim_machine big = {
    .name = "16 GiB, one node",
    .nr_banks = 1,
    .banks = {{RAM_BASE, RAM_BASE + RAM_FRAMES, 0}},
};

/* ---- measuring
 * --------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int perf_fd = -1; /* user-space instruction counter, -1 if unavailable */

static void perf_open(void)
{
    struct perf_event_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    perf_fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static void perf_start(void)
{
    if (perf_fd >= 0) {
        ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
}

/* Instructions since perf_start(), or -1. */
static double perf_stop(void)
{
    uint64_t n;

    if (perf_fd < 0)
        return -1;
    ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    if (read(perf_fd, &n, sizeof(n)) != sizeof(n))
        return -1;
    return (double)n;
}

/* ---- the figures
 * ------------------------------------------------------------- */

struct init_figures {
    double ns_per_page;   /* wall time / pages */
    double insn_per_page; /* instructions / pages, -1 if unknown */
};

/*
 * Boot the 16 GiB machine with nearly all of RAM held by one boot
 * allocation (so that end_boot_allocator only hands over LEFT_AT_BOOT
 * frames and creates the node heap), then time handing that allocation to
 * the heap: in one call, or one page per call.
 */
static struct init_figures time_init(bool page_by_page)
{
    unsigned long nr,
        free_frames =
            RAM_FRAMES - (frametable_bytes(RAM_BASE, RAM_BASE + RAM_FRAMES) +
                          PAGE_SIZE - 1) /
                             PAGE_SIZE;
    struct init_figures f;
    double t0, insn;
    mfn_t s;

    sim_boot(&big);
    nr = free_frames - LEFT_AT_BOOT;
    s = alloc_boot_pages(nr, 1);
    end_boot_allocator();
    perf_start();
    t0 = now_ns();
    if (page_by_page)
        for (unsigned long i = 0; i < nr; i++)
            init_heap_pages(s + i, 1);
    else
        init_heap_pages(s, nr);
    f.ns_per_page = (now_ns() - t0) / (double)nr;
    insn = perf_stop();
    f.insn_per_page = insn < 0 ? -1 : insn / (double)nr;
    if (heap_total_free_pages() != free_frames - NODE_HEAP_PAGES)
        printf("WARNING: %lu pages free after init, expected %lu\n",
               heap_total_free_pages(), free_frames - NODE_HEAP_PAGES);
    return f;
}

/* ns per alloc+free pair, on the heap as time_init left it. */
static double time_alloc_free(bool keep_one)
{
    mfn_t held = keep_one ? alloc_heap_pages(0, 0, 0, 0) : INVALID_MFN;
    double t0 = now_ns(), ns;

    for (unsigned long i = 0; i < PAIRS; i++)
        free_heap_pages(alloc_heap_pages(0, 0, 0, 0), 0);
    ns = (now_ns() - t0) / PAIRS;
    if (held != INVALID_MFN)
        free_heap_pages(held, 0);
    return ns;
}

/* The baseline for a pair: pop and push on a bare singly-linked list. */
struct bare_page {
    struct bare_page *next; /* next free page */
};

static double time_bare_list(void)
{
    static struct bare_page pages[1024];
    struct bare_page *volatile head = NULL;
    double t0;

    for (unsigned int i = 0; i < 1024; i++) {
        pages[i].next = head;
        head = &pages[i];
    }
    t0 = now_ns();
    for (unsigned long i = 0; i < PAIRS; i++) {
        struct bare_page *p = head; /* alloc: pop */

        head = p->next;
        p->next = head; /* free: push */
        head = p;
    }
    return (now_ns() - t0) / PAIRS;
}

/* ns per frame for one read+write pass over a frame table's worth. */
static double time_rmw_floor(void)
{
    struct page_info *buf = malloc(RAM_FRAMES * sizeof(*buf));
    double best = 1e30;

    if (!buf)
        return -1;
    memset(buf, 0, RAM_FRAMES * sizeof(*buf)); /* pay for the page faults */
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_ns(), ns;

        for (uint64_t i = 0; i < RAM_FRAMES; i++)
            WRITE_ONCE(buf[i].count_info, READ_ONCE(buf[i].count_info) + 1);
        ns = (now_ns() - t0) / (double)RAM_FRAMES;
        if (ns < best)
            best = ns;
    }
    free(buf);
    return best;
}

/* The cost of the heap lock alone: one mm_hook_lock + mm_hook_unlock. */
static double time_lock(void)
{
    double t0 = now_ns();

    for (unsigned long i = 0; i < PAIRS; i++) {
        mm_hook_lock(0);
        mm_hook_unlock(0);
    }
    return (now_ns() - t0) / PAIRS;
}

/* ---- the table
 * ----------------------------------------------------------------- */

static unsigned int nr_met, nr_targets;

static void row(const char *figure, double value, const char *unit,
                const char *target, int met)
{
    printf("%-44s %12.2f %-6s %-12s %s\n", figure, value, unit, target,
           met < 0 ? ""
           : met   ? "met"
                   : "NOT met");
    if (met >= 0) {
        nr_targets++;
        nr_met += met;
    }
}

static struct init_figures best_init(bool page_by_page, int reps)
{
    struct init_figures best = {1e30, -1};

    for (int i = 0; i < reps; i++) {
        struct init_figures f = time_init(page_by_page);

        if (f.ns_per_page < best.ns_per_page)
            best = f;
    }
    return best;
}

int main(void)
{
    struct init_figures fast, slow;
    double pair_warm, pair_cold, bare, lock, floor;

    perf_open();
    slow = best_init(true, 1);
    fast = best_init(false, 3);
    pair_cold = time_alloc_free(false);
    pair_warm = time_alloc_free(true);
    bare = time_bare_list();
    lock = time_lock();
    sim_teardown();
    floor = time_rmw_floor();

    printf("bench_mm: %s, %llu frames; -O2 -DNDEBUG\n", big.name,
           (unsigned long long)RAM_FRAMES);
    printf("%-44s %12s %-6s %-12s %s\n", "figure", "value", "unit", "target",
           "");
    row("init_heap_pages, 16 GiB in one call", fast.ns_per_page, "ns/pg",
        "<= 2", fast.ns_per_page <= 2);
    if (fast.insn_per_page >= 0)
        row("init_heap_pages, instructions", fast.insn_per_page, "ins/pg",
            "(info)", -1);
    else
        printf("%-44s %12s\n", "init_heap_pages, instructions",
               "n/a (perf events unavailable)");
    if (floor > 0) {
        row("floor: read+write each page_info once", floor, "ns/pg", "(info)",
            -1);
        row("init_heap_pages / floor", fast.ns_per_page / floor, "x", "(info)",
            -1);
    }
    row("baseline: init_heap_pages page by page", slow.ns_per_page, "ns/pg",
        "(info)", -1);
    if (slow.insn_per_page >= 0)
        row("baseline: instructions", slow.insn_per_page, "ins/pg", "(info)",
            -1);
    row("speed-up over page by page", slow.ns_per_page / fast.ns_per_page, "x",
        ">= 10", slow.ns_per_page / fast.ns_per_page >= 10);
    row("order-0 alloc+free pair (one page held)", pair_warm, "ns", "<= 40",
        pair_warm <= 40);
    row("order-0 alloc+free pair, fully merged heap", pair_cold, "ns", "(info)",
        -1);
    row("bare singly-linked list pop+push", bare, "ns", "(info)", -1);
    row("heap lock + unlock (a pair takes it twice)", lock, "ns", "(info)", -1);
    row("pair / bare list", pair_warm / bare, "x", "<= 3",
        pair_warm / bare <= 3);
    row("sizeof(struct page_info)", (double)sizeof(struct page_info), "bytes",
        "<= 32", sizeof(struct page_info) <= 32);
    row("metadata pages per node", (double)NODE_HEAP_PAGES, "pages", "<= 4",
        NODE_HEAP_PAGES <= 4);
    printf("bench_mm: %u of %u targets met\n", nr_met, nr_targets);
    return 0;
}
