/*
 * tests/bench/bench_locks.c - allocation throughput with one heap lock per
 * node against one lock shared by every node, on the host with threads.
 * Built -O2 -DNDEBUG without sanitizers, on the simulated machine of
 * tests/host/lib/sim.c (sim_share_one_lock() is the shared lock, like the
 * kernel's heap_lock=shared).
 *
 * The machine has four nodes. 1, 2, 4 and 8 harts (threads), hart i on
 * node i % 4, each make PAIRS alloc_heap_pages() + free_heap_pages()
 * pairs of order 0, then of order 4, on their own node, all starting at
 * once. Printed: pairs per second of all harts together (from the first
 * hart's start to the last one's end), for node locks
 * and for the shared lock, their ratio, and the spins per acquisition of
 * the locks meanwhile (contention). With one lock per node, harts on
 * different nodes never wait for each other; with one lock, they all do.
 *
 * The host has few CPUs (this one prints how many): more harts than CPUs
 * share them, and a waiting hart yields its CPU (the simulator's lock
 * calls sched_yield() while it spins), so figures past the CPU count say
 * more about the scheduler than about the lock. The bench reports; it
 * never fails because of a figure.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mm/heap.h"
#include "mm/hooks.h"
#include "tests/host/lib/sim.h"

#define NODES 4
#define MAX_THREADS 8
#define PAIRS 100000UL /* pairs per hart */

/*
 *   node 0 [0x80000, 0x84000)   node 1 [0x84000, 0x88000)
 *   node 2 [0x88000, 0x8c000)   node 3 [0x8c000, 0x90000)   64 MiB each
 */
static const struct sim_machine four = {
    .name = "four nodes of 64 MiB",
    .nr_banks = 4,
    .banks = {{0x80000, 0x84000, 0},
              {0x84000, 0x88000, 1},
              {0x88000, 0x8c000, 2},
              {0x8c000, 0x90000, 3}},
};

struct hart {
    unsigned int node;        /* where it sits */
    unsigned int order;       /* block size */
    pthread_barrier_t *start; /* every hart starts at once */
    unsigned long failures;   /* allocations that found nothing */
    double t0, t1;            /* when it started and ended, seconds */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *hart_main(void *p)
{
    struct hart *h = p;

    sim_set_this_node(h->node);
    pthread_barrier_wait(h->start);
    h->t0 = now_s();
    for (unsigned long i = 0; i < PAIRS; i++) {
        mfn_t mfn = alloc_heap_pages(h->order, 0, NUMA_NO_NODE, 0);

        if (mfn == INVALID_MFN)
            h->failures++;
        else
            free_heap_pages(mfn, h->order);
    }
    h->t1 = now_s();
    return NULL;
}

/* Every node's lock counts summed (the shared lock once). */
static void lock_totals(bool one_lock, unsigned long *acq, unsigned long *spins)
{
    *acq = *spins = 0;
    for (unsigned int n = 0; n < (one_lock ? 1u : NODES); n++) {
        unsigned long a, s;

        sim_lock_stats(n, &a, &s);
        *acq += a;
        *spins += s;
    }
}

struct figure {
    double pairs_per_s;   /* all harts together */
    double spins_per_acq; /* contention meanwhile */
    unsigned long failed; /* allocations that found nothing */
};

static struct figure run(unsigned int harts, unsigned int order, bool one_lock)
{
    struct hart h[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    pthread_barrier_t start;
    unsigned long acq0, spins0, acq1, spins1;
    struct figure f = {0, 0, 0};
    double t0 = 1e30, t1 = 0;

    sim_boot_and_end(&four);
    sim_share_one_lock(one_lock);
    pthread_barrier_init(&start, NULL, harts);
    lock_totals(one_lock, &acq0, &spins0);
    for (unsigned int i = 0; i < harts; i++) {
        h[i] = (struct hart){i % NODES, order, &start, 0, 0, 0};
        pthread_create(&t[i], NULL, hart_main, &h[i]);
    }
    for (unsigned int i = 0; i < harts; i++) {
        pthread_join(t[i], NULL);
        f.failed += h[i].failures;
        t0 = h[i].t0 < t0 ? h[i].t0 : t0; /* the first start */
        t1 = h[i].t1 > t1 ? h[i].t1 : t1; /* the last end */
    }
    f.pairs_per_s = (double)PAIRS * harts / (t1 - t0);
    lock_totals(one_lock, &acq1, &spins1);
    f.spins_per_acq =
        acq1 > acq0 ? (double)(spins1 - spins0) / (double)(acq1 - acq0) : 0;
    pthread_barrier_destroy(&start);
    return f;
}

int main(void)
{
    static const unsigned int harts[] = {1, 2, 4, 8};
    static const unsigned int orders[] = {0, 4};

    printf("bench_locks: %s, %lu alloc+free pairs per hart, hart i on node "
           "i %% %u; %ld host CPUs; -O2 -DNDEBUG\n",
           four.name, PAIRS, NODES, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-5s %-5s %14s %14s %7s %11s %11s\n", "order", "harts",
           "node locks/s", "one lock/s", "ratio", "spins/acq", "(one lock)");
    for (unsigned int o = 0; o < 2; o++)
        for (unsigned int k = 0; k < 4; k++) {
            struct figure per = run(harts[k], orders[o], false);
            struct figure one = run(harts[k], orders[o], true);

            printf("%-5u %-5u %14.0f %14.0f %6.2fx %11.4f %11.4f%s\n",
                   orders[o], harts[k], per.pairs_per_s, one.pairs_per_s,
                   per.pairs_per_s / one.pairs_per_s, per.spins_per_acq,
                   one.spins_per_acq,
                   per.failed || one.failed ? "  (allocations failed!)" : "");
        }
    printf("bench_locks: ratio = pairs/s with node locks / with one lock, "
           "measured in this run\n");
    sim_teardown();
    return 0;
}
