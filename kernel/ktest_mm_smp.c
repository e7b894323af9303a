/*
 * kernel/ktest_mm_smp.c - suite mm_smp: every hart allocates and frees at
 * once, on its own node and on the others.
 *
 * Each online hart (the boot hart too) runs stress_worker(): STRESS_OPS
 * allocations of orders 0-4, each from a node picked at random (its own
 * or another), with ALLOC_EXACT_NODE or with the fallback. It keeps some
 * blocks and frees them itself later; the others it hands to the next
 * hart (a ring of harts, each on another node when the machine has them),
 * which frees them: a free of a block of another node than the freeing
 * hart's, taking that node's lock while its owner's node is busy too.
 * Each block gets its allocator's mark in its first word, checked just
 * before the free: if two harts were ever handed the same block, one of
 * them finds the other's mark. Afterwards the free-page counts of every
 * node must be exactly what they were, and heap_check() must pass.
 *
 * Nothing waits for anything but a free slot: a hart whose hand-over ring
 * is full frees the block itself, and a hart waits at the end only for
 * the hart before it to say it is done, so the ring cannot deadlock.
 *
 * The counts are compared on a settled heap: read before the harts start
 * and after they all finished. With deferred initialisation the suite
 * must first wait until no frame is pending (background workers would
 * otherwise add free pages in between).
 *
 * `ktest=*` runs it on every QEMU topology (tests/qemu/test_ktest.py); the
 * biggest, `big`, has 4 nodes and 8 harts. Everything here is sized by
 * MAX_HARTS and takes whatever harts are online, so a 64-hart machine
 * runs it as it is; there STRESS_OPS may want to shrink, since QEMU's
 * harts share the host's few CPUs.
 */
#include "../mm/heap.h"
#include "board.h"
#include "ktest.h"
#include "smp.h"

#define STRESS_OPS 400 /* allocations per hart */
#define KEEP 12        /* blocks a hart keeps before freeing them all */
#define RING 16        /* blocks in flight from one hart to the next */
#define MAX_STRESS_ORDER 4

/* Blocks one hart hands to the next: a ring with one writer, one reader. */
struct handover {
    uint32_t head;            /* next slot to read (the reader's) */
    uint32_t tail;            /* next slot to write (the writer's) */
    bool done;                /* the writer will hand over no more */
    mfn_t mfn[RING];          /* each block's first frame */
    unsigned int order[RING]; /* its order */
    uint64_t mark[RING];      /* the mark its allocator wrote into it */
};

/* One hart's share of the work, and what it saw. */
struct smp_job {
    uint32_t hartid;           /* who runs it */
    struct handover *out;      /* blocks it hands to the next hart */
    struct handover *in;       /* blocks the hart before it hands over */
    unsigned long allocs;      /* blocks it got */
    unsigned long failures;    /* fallback allocations that found nothing */
    unsigned long clobbered;   /* blocks whose mark another hart overwrote */
    unsigned long wrong_node;  /* exact-node blocks from another node */
    unsigned long cross_frees; /* blocks of another node than its own that
                                  it freed */
};

static struct smp_job jobs[MAX_HARTS];
static struct handover rings[MAX_HARTS];

static uint64_t mark_of(uint32_t hartid, unsigned long i)
{
    return 0x4e554d4200000000ULL | ((uint64_t)hartid << 24) | i;
}

static volatile uint64_t *first_word(mfn_t mfn)
{
    return (volatile uint64_t *)(uintptr_t)mfn_to_pa(mfn);
}

/* Free one block after checking its mark. */
static void free_checked(struct smp_job *job, mfn_t mfn, unsigned int order,
                         uint64_t mark)
{
    job->clobbered += *first_word(mfn) != mark;
    if (machine_pa_node(board(), mfn_to_pa(mfn)) != smp_this_node())
        job->cross_frees++;
    free_heap_pages(mfn, order);
}

/* Hand a block to the next hart; false if its ring is full. */
static bool hand_over(struct handover *r, mfn_t mfn, unsigned int order,
                      uint64_t mark)
{
    uint32_t tail = r->tail;

    if (tail - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == RING)
        return false;
    r->mfn[tail % RING] = mfn;
    r->order[tail % RING] = order;
    r->mark[tail % RING] = mark;
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
    return true;
}

/* Free every block the hart before has handed over so far. */
static void free_handed_over(struct smp_job *job)
{
    struct handover *r = job->in;
    uint32_t head = r->head, tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

    for (; head != tail; head++)
        free_checked(job, r->mfn[head % RING], r->order[head % RING],
                     r->mark[head % RING]);
    __atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

/* One allocation of the stress: a random order, node and policy. */
static mfn_t stress_alloc(struct smp_job *job, uint64_t x, unsigned int *order)
{
    unsigned int node = (unsigned int)(x >> 8) % board()->nr_nodes;
    unsigned int flags = (x >> 16) & 1 ? ALLOC_EXACT_NODE : 0;
    mfn_t mfn;

    *order = (unsigned int)(x % (MAX_STRESS_ORDER + 1));
    mfn = alloc_heap_pages(*order, 0, node, flags);
    if (mfn == INVALID_MFN) {
        job->failures += flags ? 0 : 1; /* an exact node may be empty */
        return INVALID_MFN;
    }
    job->allocs++;
    if (flags && machine_pa_node(board(), mfn_to_pa(mfn)) != node)
        job->wrong_node++;
    return mfn;
}

static void stress_worker(void *arg)
{
    struct smp_job *job = arg;
    mfn_t kept[KEEP];
    unsigned int orders[KEEP], n = 0, order;
    uint64_t marks[KEEP], x = job->hartid * 0x9e3779b97f4a7c15ULL + 1;

    for (unsigned long i = 0; i < STRESS_OPS; i++) {
        mfn_t mfn;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        mfn = stress_alloc(job, x, &order);
        free_handed_over(job);
        if (mfn == INVALID_MFN)
            continue;
        *first_word(mfn) = mark_of(job->hartid, i);
        if ((x >> 24) & 1 &&
            hand_over(job->out, mfn, order, mark_of(job->hartid, i)))
            continue;
        kept[n] = mfn;
        orders[n] = order;
        marks[n++] = mark_of(job->hartid, i);
        if (n == KEEP)
            for (; n > 0; n--)
                free_checked(job, kept[n - 1], orders[n - 1], marks[n - 1]);
    }
    for (; n > 0; n--)
        free_checked(job, kept[n - 1], orders[n - 1], marks[n - 1]);
    __atomic_store_n(&job->out->done, true, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&job->in->done, __ATOMIC_ACQUIRE))
        free_handed_over(job);
    free_handed_over(job); /* what came in before `done` was seen */
}

/* Link every online hart's job into one ring: each hands to the next. */
static unsigned int prepare_jobs(void)
{
    uint32_t ids[MAX_HARTS];
    unsigned int nr = 0;

    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        jobs[id] = (struct smp_job){.hartid = id};
        rings[id] = (struct handover){0};
        if (smp_hart(id)->online)
            ids[nr++] = id;
    }
    for (unsigned int k = 0; k < nr; k++) {
        jobs[ids[k]].out = &rings[ids[k]];
        jobs[ids[(k + 1) % nr]].in = &rings[ids[k]];
    }
    return nr;
}

/* Start the worker on every other online hart; returns how many. */
static unsigned int start_workers(void)
{
    unsigned int started = 0;

    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (id == smp_hartid() || !smp_hart(id)->online)
            continue;
        EXPECT_EQ(smp_run_on(id, stress_worker, &jobs[id]), 0);
        started++;
    }
    return started;
}

static void every_hart_every_node_at_once(void)
{
    unsigned long before[MAX_NUMNODES], allocs = 0, cross = 0;
    unsigned int harts = prepare_jobs(), helpers;

    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        before[node] = heap_free_pages_node(node);
    helpers = start_workers();
    stress_worker(&jobs[smp_hartid()]);
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (smp_hart(id)->online)
            smp_wait(id);

    EXPECT_EQ(helpers + 1, harts);
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        EXPECT_EQ(jobs[id].failures, 0u);
        EXPECT_EQ(jobs[id].clobbered, 0u);
        EXPECT_EQ(jobs[id].wrong_node, 0u);
        allocs += jobs[id].allocs;
        cross += jobs[id].cross_frees;
    }
    EXPECT_LE((unsigned long)STRESS_OPS * harts / 2, allocs);
    if (board()->nr_nodes > 1)
        EXPECT_LT(0ul, cross); /* the stress did free across nodes */
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
    KTEST_CASE(every_hart_every_node_at_once),
};
KTEST_SUITE_AFTER(mm_smp, mm_smp_cases, ktest_heap_after_case);
