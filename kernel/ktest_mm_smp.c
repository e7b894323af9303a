/*
 * kernel/ktest_mm_smp.c - suite mm_smp: every hart allocates at once.
 *
 * Each online hart (the boot hart too) runs alloc_free_worker(): many
 * rounds of allocating blocks of orders 0-3 from its own node and the
 * others, with and without ALLOC_EXACT_NODE, keeping up to KEEP blocks
 * and then freeing them. Each block gets the hart's mark in its first
 * word, checked just before the free: if two harts were ever handed the
 * same block, one of them finds the other's mark. Afterwards the
 * free-page counts of every node must be exactly what they were, and
 * heap_check() must pass.
 */
#include "../mm/heap.h"
#include "board.h"
#include "ktest.h"
#include "smp.h"

#define ROUNDS 400
#define KEEP 16

/* One hart's share of the work, and what it saw. */
struct smp_job {
    uint32_t hartid;          /* who runs it */
    unsigned long allocs;     /* blocks it got */
    unsigned long failures;   /* allocations that found nothing */
    unsigned long clobbered;  /* blocks whose mark another hart overwrote */
    unsigned long wrong_node; /* exact-node blocks from another node */
};

static struct smp_job jobs[MAX_HARTS];

static uint64_t mark_of(uint32_t hartid, unsigned long i)
{
    return 0x4e554d4200000000ULL | ((uint64_t)hartid << 24) | i;
}

static void free_kept(struct smp_job *job, mfn_t *kept, unsigned int *orders,
                      uint64_t *marks, unsigned int n)
{
    for (unsigned int k = 0; k < n; k++) {
        volatile uint64_t *word = (uint64_t *)(uintptr_t)mfn_to_pa(kept[k]);

        job->clobbered += *word != marks[k];
        free_heap_pages(kept[k], orders[k]);
    }
}

static void alloc_free_worker(void *arg)
{
    struct smp_job *job = arg;
    unsigned int nodes = board()->nr_nodes, n = 0;
    mfn_t kept[KEEP];
    unsigned int orders[KEEP];
    uint64_t marks[KEEP];

    for (unsigned long i = 0; i < ROUNDS; i++) {
        unsigned int node = (job->hartid + i) % nodes, order = i % 4;
        unsigned int flags = (i & 4) ? ALLOC_EXACT_NODE : 0;
        mfn_t mfn = alloc_heap_pages(order, 0, node, flags);

        if (mfn == INVALID_MFN) {
            job->failures +=
                flags != 0 ? 0 : 1; /* an exact node may be empty */
            continue;
        }
        job->allocs++;
        if (flags && machine_pa_node(board(), mfn_to_pa(mfn)) != node)
            job->wrong_node++;
        marks[n] = mark_of(job->hartid, i);
        *(volatile uint64_t *)(uintptr_t)mfn_to_pa(mfn) = marks[n];
        kept[n] = mfn;
        orders[n++] = order;
        if (n == KEEP) {
            free_kept(job, kept, orders, marks, n);
            n = 0;
        }
    }
    free_kept(job, kept, orders, marks, n);
}

/* Start the worker on every other online hart; returns how many. */
static unsigned int start_workers(void)
{
    unsigned int started = 0;

    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        struct hart *h = smp_hart(id);

        jobs[id] = (struct smp_job){.hartid = id};
        if (id == smp_hartid() || !h->online)
            continue;
        EXPECT_EQ(smp_run_on(id, alloc_free_worker, &jobs[id]), 0);
        started++;
    }
    return started;
}

static void all_harts_alloc_and_free(void)
{
    unsigned long before[MAX_NUMNODES], allocs = 0;
    unsigned int helpers;

    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        before[node] = heap_free_pages_node(node);
    helpers = start_workers();
    alloc_free_worker(&jobs[smp_hartid()]);
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (smp_hart(id)->online)
            smp_wait(id);

    EXPECT_EQ(helpers + 1, smp_nr_online());
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        EXPECT_EQ(jobs[id].failures, 0u);
        EXPECT_EQ(jobs[id].clobbered, 0u);
        EXPECT_EQ(jobs[id].wrong_node, 0u);
        allocs += jobs[id].allocs;
    }
    EXPECT_LE((unsigned long)ROUNDS * smp_nr_online() / 2, allocs);
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        EXPECT_EQ(heap_free_pages_node(node), before[node]);
    EXPECT_EQ(heap_check(), 0);
}

/* Every hart's own node, as the heap sees it, is the tree's node for it. */
static void harts_know_their_node(void)
{
    for (unsigned int i = 0; i < board()->nr_harts; i++) {
        struct hart *h = smp_hart(board()->hart_ids[i]);

        if (h && h->online)
            EXPECT_EQ(h->node, board()->hart_node[i]);
    }
}

static const struct ktest_case mm_smp_cases[] = {
    KTEST_CASE(harts_know_their_node),
    KTEST_CASE(all_harts_alloc_and_free),
};
KTEST_SUITE_AFTER(mm_smp, mm_smp_cases, ktest_heap_after_case);
