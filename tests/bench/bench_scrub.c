/*
 * tests/bench/bench_scrub.c - what scrubbing costs (mm/scrub.c). Built -O2
 * -DNDEBUG without sanitizers, on the simulated machine of
 * tests/host/lib/sim.c.
 *
 * Figures (information: the design sets no targets for them yet):
 *   an order-0 allocation asking for clean memory whose page is dirty (an
 *   owner filled it and freed it), so the allocation zeroes it; the same
 *   after the background step has zeroed every freed page first; and one
 *   with ALLOC_NO_SCRUB, which never zeroes - ns per allocation, over
 *   BATCH pages at a time (each batch allocated, filled, freed untimed);
 *   the background step's own cost per page it zeroes;
 *   the time for idle harts - here HARTS threads, two per node - to scrub
 *   all free memory of a 16 GiB, 4-node machine right after boot
 *   (scrub=idle: every frame dirty), bounded by TIME_LIMIT_S: a run cut
 *   off says how far it got and what the rate projects. The simulated RAM
 *   is never written by boot, so the scrub only reads it (zero_frame
 *   writes nothing to a frame that already reads zero) and the host never
 *   backs the 16 GiB, as under QEMU.
 *
 * Timing depends on the machine, so the bench never fails because of it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/scrub.h"
#include "tests/host/lib/sim.h"

#define BATCH 4096u               /* pages per timed batch (16 MiB) */
#define ROUNDS 8                  /* batches per figure */
#define GIB_FRAMES (UINT64_C(1) << (30 - PAGE_SHIFT))
#define HARTS 8                   /* scrubbing threads, HARTS / 4 per node */
#define TIME_LIMIT_S 60.0         /* the 16 GiB scrub is cut off here */

static const struct sim_machine small = {
    .name = "256 MiB, one node",
    .nr_banks = 1,
    .banks = {{0x80000, 0x80000 + GIB_FRAMES / 4, 0}},
};

static const struct sim_machine big = {
    .name = "16 GiB in 4 nodes",
    .nr_banks = 4,
    .banks = {{0x80000, 0x80000 + 4 * GIB_FRAMES, 0},
              {0x80000 + 4 * GIB_FRAMES, 0x80000 + 8 * GIB_FRAMES, 1},
              {0x80000 + 8 * GIB_FRAMES, 0x80000 + 12 * GIB_FRAMES, 2},
              {0x80000 + 12 * GIB_FRAMES, 0x80000 + 16 * GIB_FRAMES, 3}},
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static mfn_t pages[BATCH];

/* Allocate BATCH pages with `flags`; returns the ns per allocation. */
static double alloc_batch(unsigned int flags)
{
    double t0 = now_ns();

    for (unsigned int i = 0; i < BATCH; i++)
        pages[i] = alloc_heap_pages(0, 0, 0, flags);
    return (now_ns() - t0) / BATCH;
}

/* Fill every page of the batch (an owner's data) and free them. */
static void fill_and_free_batch(void)
{
    for (unsigned int i = 0; i < BATCH; i++) {
        memset(sim_frame_va(pages[i]), 0x5c, PAGE_SIZE);
        free_heap_pages(pages[i], 0);
    }
}

struct alloc_figures {
    double dirty;      /* ns per clean allocation that zeroes its page */
    double after_bg;   /* ns per clean allocation after the background */
    double no_scrub;   /* ns per ALLOC_NO_SCRUB allocation */
    double bg_per_page; /* ns the background spent per page it zeroed */
};

static struct alloc_figures time_allocations(void)
{
    struct alloc_figures f = {0, 0, 0, 0};
    unsigned long zeroed = 0;
    double bg_ns = 0;

    scrub_set_policy(SCRUB_OFF); /* boot memory clean: only the batch dirty */
    sim_boot_and_end(&small);
    alloc_batch(0);
    for (int r = 0; r < ROUNDS; r++) {
        double t0;

        fill_and_free_batch();
        f.dirty += alloc_batch(0) / ROUNDS;
        fill_and_free_batch();
        t0 = now_ns();
        zeroed += scrub_all();
        bg_ns += now_ns() - t0;
        f.after_bg += alloc_batch(0) / ROUNDS;
        fill_and_free_batch();
        f.no_scrub += alloc_batch(ALLOC_NO_SCRUB) / ROUNDS;
    }
    f.bg_per_page = zeroed ? bg_ns / zeroed : 0;
    scrub_set_policy(SCRUB_IDLE);
    return f;
}

/* ---- 16 GiB, HARTS threads -------------------------------------------------- */

static double deadline_ns;

static void *idle_hart(void *arg)
{
    unsigned int node = (unsigned int)(uintptr_t)arg;

    sim_set_this_node(node);
    while (scrub_dirty_pages(node) && now_ns() < deadline_ns)
        scrub_some(node);
    return NULL;
}

static void time_big_scrub(void)
{
    pthread_t t[HARTS];
    unsigned long dirty0, left;
    double t0, secs;

    sim_set_quiet(true);
    scrub_set_policy(SCRUB_IDLE);
    sim_boot_and_end(&big);
    dirty0 = scrub_total_dirty_pages();
    t0 = now_ns();
    deadline_ns = t0 + TIME_LIMIT_S * 1e9;
    for (unsigned int i = 0; i < HARTS; i++)
        pthread_create(&t[i], NULL, idle_hart, (void *)(uintptr_t)(i % 4));
    for (unsigned int i = 0; i < HARTS; i++)
        pthread_join(t[i], NULL);
    secs = (now_ns() - t0) / 1e9;
    left = scrub_total_dirty_pages();
    printf("%-52s %10.2f s   %s\n",
           "16 GiB, 4 nodes: idle harts scrub all free memory", secs,
           left ? "(cut off)" : "");
    printf("%-52s %10lu pages of %lu, %.2f GiB/s\n", "  scrubbed",
           dirty0 - left, dirty0,
           (double)(dirty0 - left) / GIB_FRAMES / (secs > 0 ? secs : 1));
    if (left && dirty0 > left)
        printf("%-52s %10.2f s\n", "  projected for all of it",
               secs * (double)dirty0 / (double)(dirty0 - left));
    printf("%-52s %10d\n", "  threads (harts), two per node", HARTS);
}

int main(void)
{
    struct alloc_figures f = time_allocations();

    printf("bench_scrub: -O2 -DNDEBUG; %s for the allocations\n", small.name);
    printf("%-52s %10.1f ns\n", "order-0 clean alloc, page dirty (it zeroes)",
           f.dirty);
    printf("%-52s %10.1f ns\n", "order-0 clean alloc after background scrub",
           f.after_bg);
    printf("%-52s %10.1f ns\n", "order-0 alloc with ALLOC_NO_SCRUB", f.no_scrub);
    printf("%-52s %10.1f ns\n", "background step, per page it zeroes",
           f.bg_per_page);
    time_big_scrub();
    sim_teardown();
    return 0;
}
