/*
 * kernel/monitor_locks.c - `locks`: how contended the heap locks are, and
 * `locks bench`: a measurement that makes them so.
 *
 * Every spinlock counts the times it was taken and the failed tries before
 * those takes (kernel/spinlock.h). Spins per acquisition is the lock's
 * contention: 0 when no hart ever had to wait. `locks` prints one line per
 * node lock of this machine (with heap_lock=shared, one line for the one
 * lock every node uses):
 *
 *   locks: node 1: 5130 acquisitions, 12 spins, 0.002 spins per acquisition
 *
 * `locks bench ORDER HARTS [PAIRS]` has HARTS harts, spread over the nodes
 * (one per node in turn: with 4 nodes and 4 harts, one on each), each make
 * PAIRS alloc_heap_pages() + free_heap_pages() pairs of 2^ORDER frames on
 * its own node, all at once, and prints the pairs per second they made
 * together and the spins per acquisition meanwhile. tests/bench/run.py
 * boots it with and without heap_lock=shared to compare one lock per node
 * with one lock for all. Time comes from the hart's `time` counter, at the
 * QEMU virt timebase; under QEMU the figures depend on the host, so they
 * are printed, never checked.
 */
#include <numbat/string.h>

#include "../mm/heap.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "fallback.h"
#include "mm_boot.h"
#include "mm_hooks.h"
#include "monitor.h"
#include "printk.h"
#include "smp.h"

#define BENCH_PAIRS_DEFAULT 10000UL
#define BENCH_PAIRS_MAX 10000000UL

/* "12.345": n / d with three decimals (printk has no floating point). */
static void print_ratio(uint64_t n, uint64_t d)
{
    uint64_t milli = d ? n * 1000 / d : 0;

    printk("%llu.%03llu", (unsigned long long)(milli / 1000),
           (unsigned long long)(milli % 1000));
}

/* Sum of every lock's counts (the one lock once, when shared). */
static void all_lock_stats(uint64_t *acquired, uint64_t *spins)
{
    unsigned int nodes = heap_lock_shared() ? 1 : board()->nr_nodes;

    *acquired = *spins = 0;
    for (unsigned int node = 0; node < nodes; node++) {
        uint64_t a, s;

        heap_lock_stats(node, &a, &s);
        *acquired += a;
        *spins += s;
    }
}

static void print_lock(const char *who, uint64_t acquired, uint64_t spins)
{
    printk("locks: %s: %llu acquisitions, %llu spins, ", who,
           (unsigned long long)acquired, (unsigned long long)spins);
    print_ratio(spins, acquired);
    printk(" spins per acquisition\n");
}

static unsigned int print_locks(void)
{
    uint64_t acquired, spins;
    char who[16];

    if (heap_lock_shared()) {
        heap_lock_stats(0, &acquired, &spins);
        print_lock("every node (heap_lock=shared)", acquired, spins);
        return EXIT_PASS;
    }
    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        heap_lock_stats(node, &acquired, &spins);
        snprintf(who, sizeof(who), "node %u", node);
        print_lock(who, acquired, spins);
    }
    return EXIT_PASS;
}

/* ---- locks bench ----------------------------------------------------------
 */

/* One hart's share of the bench. */
struct bench_job {
    unsigned int order;     /* block size, log2 frames */
    unsigned long pairs;    /* alloc+free pairs to make */
    unsigned long failures; /* allocations that found nothing */
};

static struct bench_job bench_jobs[MAX_HARTS];
static volatile bool bench_go; /* every hart starts once this is set */

static void bench_work(void *arg)
{
    struct bench_job *job = arg;

    while (!bench_go)
        ;
    for (unsigned long i = 0; i < job->pairs; i++) {
        mfn_t mfn = alloc_heap_pages(job->order, 0, NUMA_NO_NODE, 0);

        if (mfn == INVALID_MFN)
            job->failures++;
        else
            free_heap_pages(mfn, job->order);
    }
}

/*
 * The k-th hart of the bench: the (k / nr_nodes)-th online hart of node
 * k % nr_nodes, so the harts spread over the nodes. MAX_HARTS if that
 * node has no such hart.
 */
static uint32_t bench_hart(unsigned int k)
{
    const struct machine *m = board();
    unsigned int node = k % m->nr_nodes, want = k / m->nr_nodes;

    for (unsigned int i = 0; i < m->nr_harts; i++) {
        struct hart *h = smp_hart(m->hart_ids[i]);

        if (h && h->online && m->hart_node[i] == node && want-- == 0)
            return m->hart_ids[i];
    }
    return MAX_HARTS;
}

/* Pick `nr` harts spread over the nodes into ids[]; how many were found. */
static unsigned int pick_harts(unsigned int nr, uint32_t *ids)
{
    unsigned int found = 0;

    for (unsigned int k = 0; found < nr && k < MAX_HARTS * MAX_NUMNODES; k++) {
        uint32_t id = bench_hart(k);

        if (id != MAX_HARTS)
            ids[found++] = id;
    }
    return found;
}

static uint64_t read_time(void)
{
    uint64_t t;

    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

/* Run the bench on harts ids[0..nr); ticks of the time counter it took. */
static uint64_t run_bench(const uint32_t *ids, unsigned int nr)
{
    bool me = false;
    uint64_t t0;

    bench_go = false;
    for (unsigned int i = 0; i < nr; i++) {
        if (ids[i] == smp_hartid())
            me = true;
        else
            smp_run_on(ids[i], bench_work, &bench_jobs[ids[i]]);
    }
    t0 = read_time();
    bench_go = true;
    if (me)
        bench_work(&bench_jobs[smp_hartid()]);
    for (unsigned int i = 0; i < nr; i++)
        if (ids[i] != smp_hartid())
            smp_wait(ids[i]);
    return read_time() - t0;
}

static unsigned int locks_bench(int argc, char **argv)
{
    unsigned long order, nr, pairs = BENCH_PAIRS_DEFAULT, failures = 0;
    uint64_t acq0, spins0, acq1, spins1, ticks;
    uint32_t ids[MAX_HARTS], nodes = 0;
    unsigned int found;

    if (!monitor_need(argc, argv, 4, "locks bench ORDER HARTS [PAIRS]") ||
        !monitor_number(argv, 2, "order", MAX_ORDER, &order) ||
        !monitor_number(argv, 3, "hart count", smp_nr_online(), &nr) ||
        (argc > 4 &&
         !monitor_number(argv, 4, "pair count", BENCH_PAIRS_MAX, &pairs)))
        return EXIT_BAD_ARGS;
    if (nr == 0 || pairs == 0) {
        printk("locks: bench needs at least 1 hart and 1 pair\n");
        return EXIT_BAD_ARGS;
    }
    found = pick_harts((unsigned int)nr, ids);
    for (unsigned int i = 0; i < found; i++)
        bench_jobs[ids[i]] = (struct bench_job){(unsigned int)order, pairs, 0};
    all_lock_stats(&acq0, &spins0);
    ticks = run_bench(ids, found);
    all_lock_stats(&acq1, &spins1);
    for (unsigned int i = 0; i < found; i++) {
        failures += bench_jobs[ids[i]].failures;
        nodes |= 1u << machine_hart_node(board(), ids[i]);
    }
    printk("locks: bench order %lu, %u harts on %u nodes, %lu pairs each, "
           "%s: %llu pairs/s, ",
           order, found, (unsigned int)__builtin_popcount(nodes), pairs,
           heap_lock_shared() ? "one shared lock" : "node locks",
           (unsigned long long)(ticks ? (uint64_t)pairs * found *
                                            FALLBACK_TIMEBASE_HZ / ticks
                                      : 0));
    print_ratio(spins1 - spins0, acq1 - acq0);
    printk(" spins per acquisition, %lu failed\n", failures);
    return failures ? EXIT_TEST_FAIL : EXIT_PASS;
}

unsigned int monitor_cmd_locks(int argc, char **argv)
{
    if (argc == 1)
        return print_locks();
    if (strcmp(argv[1], "bench") == 0)
        return locks_bench(argc, argv);
    printk("locks: usage: locks, or locks bench ORDER HARTS [PAIRS]\n");
    return EXIT_BAD_ARGS;
}
