/*
 * kernel/ktest_lab_smp.c - suite lab_smp: the smp lab (labs/smp/README.md,
 * mm/deferred.c) on the real machine, while deferred init is still
 * running.
 *
 * Like suite deferred, it runs before the test runner settles
 * (KTEST_SUITE_DEFERRED), and with ktest= no worker hart starts at boot:
 * the cases see every other node's RAM pending. In order:
 *
 *   1. one chunk, with every other hart held: it takes its own node's
 *      lock, at most three times, and no other node's (the kernel counts
 *      every lock's takes);
 *   2. one chunk on another hart while this hart holds its own node's
 *      lock: that lock is neither taken nor spun on (one lock for every
 *      node would spin on it);
 *   3. every hart allocates and frees at once, on every node, growing the
 *      nodes on demand; then the workers start and the harts that are
 *      not workers go on: no block is handed out twice, no allocation
 *      fails, the locks' figures (takes, spins per take) are printed;
 *   4. settle: nothing pending, every frame the boot allocator had free
 *      in the heap, heap_check() clean.
 *
 * Spins depend on timing and on what else the host runs, so cases 1 and
 * 2 grade the locking by what does not: which locks are taken, how
 * often, and whether a held lock is spun on at all. Case 3 prints the
 * spins per take and does not check them. When another suite has settled
 * the heap already (ktest=*), or nothing was deferred, cases 1-3 skip.
 */
#include "../mm/deferred.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "board.h"
#include "initrd.h"
#include "ktest.h"
#include "mm_boot.h"
#include "mm_hooks.h"
#include "printk.h"
#include "smp.h"

#define STRESS_OPS 300 /* allocations per hart and phase */
#define KEEP 12        /* blocks a hart keeps before freeing them all */
#define MAX_STRESS_ORDER 4
#define HOLD_MS 2000 /* how long case 2 holds a lock at most (a hang guard) */

#define SKIP_UNLESS_PENDING()                                                  \
    do {                                                                       \
        if (mm_boot_stats()->pending_pages == 0)                               \
            KTEST_SKIP("nothing deferred (deferred_init=off, one hart, or "    \
                       "the lab's stub)");                                     \
        if (mm_boot_deferred_started() || deferred_total_pending() == 0)       \
            KTEST_SKIP("deferred init has started or settled already");        \
    } while (0)

/* A node with pending frames, other than this hart's if there is one. */
static unsigned int pending_node(bool other)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (node != smp_this_node() && deferred_pending_pages(node))
            return node;
    if (!other && deferred_pending_pages(smp_this_node()))
        return smp_this_node();
    return NUMA_NO_NODE;
}

static void snapshot(uint64_t *acq, uint64_t *spins)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        heap_lock_stats(node, &acq[node], &spins[node]);
}

static void a_chunk_takes_its_own_node_lock(void)
{
    uint64_t a0[MAX_NUMNODES], s0[MAX_NUMNODES], a1[MAX_NUMNODES],
        s1[MAX_NUMNODES];
    unsigned int node;
    bool took;

    SKIP_UNLESS_PENDING();
    if (heap_lock_shared())
        KTEST_SKIP("heap_lock=shared: one lock for every node");
    node = pending_node(false);
    (void)smp_hold_others(); /* no background scrub takes a lock meanwhile */
    snapshot(a0, s0);
    took = deferred_init_chunk(node);
    snapshot(a1, s1);
    smp_release_others();
    EXPECT_TRUE(took);
    printk("lab_smp: one chunk of node %u took node %u's lock %lu "
           "times\n",
           node, node, (unsigned long)(a1[node] - a0[node]));
    for (unsigned int n = 0; n < board()->nr_nodes; n++) {
        if (n == node)
            continue;
        if (a1[n] != a0[n])
            printk("lab_smp: ... and node %u's lock %lu times\n", n,
                   (unsigned long)(a1[n] - a0[n]));
        EXPECT_EQ(a1[n] - a0[n], 0ull);
    }
    EXPECT_GE(a1[node] - a0[node], 1ull);
    EXPECT_LE(a1[node] - a0[node], 3ull);
}

/* ---- case 2: a chunk on another hart, this node's lock held -------------- */

static volatile bool parked_go, chunk_go;
static volatile unsigned int nr_parked;

/* The harts case 2 does not use: no background work until told. */
static void park(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&nr_parked, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&parked_go, __ATOMIC_ACQUIRE))
        ;
}

struct chunk_job {
    unsigned int node;
    volatile bool took;
    volatile bool done;
};

/* On the chosen hart: one chunk, then wait until the counts are read. */
static void chunk_on_hart(void *arg)
{
    struct chunk_job *j = arg;

    j->took = deferred_init_chunk(j->node);
    __atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&chunk_go, __ATOMIC_ACQUIRE))
        ; /* not idle yet: an idle hart scrubs, and takes node locks */
}

static void a_worker_goes_on_while_another_node_is_locked(void)
{
    static struct chunk_job job;
    unsigned int locked = smp_this_node(), sent = 0;
    uint32_t x = MAX_HARTS;
    uint64_t a0[MAX_NUMNODES], s0[MAX_NUMNODES], a1[MAX_NUMNODES],
        s1[MAX_NUMNODES], deadline;

    SKIP_UNLESS_PENDING();
    if (heap_lock_shared())
        KTEST_SKIP("heap_lock=shared: one lock for every node");
    job = (struct chunk_job){.node = pending_node(true)};
    if (job.node == NUMA_NO_NODE)
        KTEST_SKIP("needs a second node with pending frames");
    for (uint32_t id = 0; id < MAX_HARTS; id++) /* one on that node if any */
        if (id != smp_hartid() && smp_hart(id)->online &&
            (x == MAX_HARTS || smp_hart(id)->node == job.node))
            x = id;
    if (x == MAX_HARTS)
        KTEST_SKIP("needs a second hart");
    parked_go = chunk_go = false;
    nr_parked = 0;
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (id == smp_hartid() || id == x || !smp_hart(id)->online)
            continue;
        smp_wait(id);
        sent += smp_run_on(id, park, NULL) == 0;
    }
    while (__atomic_load_n(&nr_parked, __ATOMIC_SEQ_CST) < sent)
        ;
    smp_wait(x);
    mm_hook_lock(locked);
    snapshot(a0, s0);
    REQUIRE_EQ(smp_run_on(x, chunk_on_hart, &job), 0);
    deadline = smp_deadline(HOLD_MS);
    while (!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE) && !smp_past(deadline))
        ;
    mm_hook_unlock(locked);
    while (!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE))
        ;
    snapshot(a1, s1);
    chunk_go = parked_go = true;
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (id != smp_hartid() && smp_hart(id)->online)
            smp_wait(id);
    printk("lab_smp: node %u's chunk on hart %u while this hart held "
           "node %u's lock: that lock taken %lu more times, %lu spins\n",
           job.node, x, locked, (unsigned long)(a1[locked] - a0[locked]),
           (unsigned long)(s1[locked] - s0[locked]));
    EXPECT_TRUE(job.took);
    EXPECT_EQ(a1[locked] - a0[locked], 0ull);
    EXPECT_EQ(s1[locked] - s0[locked], 0ull);
}

/* ---- case 3: every hart at once, while deferred init runs ---------------- */

struct stress_job {
    uint32_t hartid;
    unsigned long allocs;     /* blocks it got */
    unsigned long failures;   /* allocations that found nothing */
    unsigned long clobbered;  /* blocks whose mark another hart overwrote */
    unsigned long wrong_node; /* exact-node blocks from another node */
};

static struct stress_job stress_jobs[MAX_HARTS];
static unsigned int ram_nodes[MAX_NUMNODES]; /* the nodes with RAM */
static unsigned int nr_ram_nodes;

static void find_ram_nodes(void)
{
    nr_ram_nodes = 0;
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        for (unsigned int i = 0; i < board()->nr_banks; i++)
            if (board()->banks[i].node == node) {
                ram_nodes[nr_ram_nodes++] = node;
                break;
            }
}

static volatile uint64_t *first_word(mfn_t mfn)
{
    return (volatile uint64_t *)(uintptr_t)mfn_to_pa(mfn);
}

static uint64_t mark_of(uint32_t hartid, unsigned long i)
{
    return 0x534d504c00000000ULL | ((uint64_t)hartid << 24) | i;
}

static void free_all(struct stress_job *job, mfn_t *kept, unsigned int *orders,
                     uint64_t *marks, unsigned int n)
{
    while (n--) {
        job->clobbered += *first_word(kept[n]) != marks[n];
        free_heap_pages(kept[n], orders[n]);
    }
}

static void stress(void *arg)
{
    struct stress_job *job = arg;
    mfn_t kept[KEEP];
    unsigned int orders[KEEP], n = 0;
    uint64_t marks[KEEP];
    uint64_t x = job->hartid * 0x9e3779b97f4a7c15ULL + job->allocs + 1;

    for (unsigned long i = 0; i < STRESS_OPS; i++) {
        unsigned int node, order, flags;
        mfn_t mfn;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        node = ram_nodes[(x >> 8) % nr_ram_nodes];
        order = (unsigned int)(x % (MAX_STRESS_ORDER + 1));
        flags = (x >> 16) & 1 ? ALLOC_EXACT_NODE : 0;
        mfn = alloc_heap_pages(order, 0, node, flags);
        if (mfn == INVALID_MFN) {
            job->failures++;
            continue;
        }
        job->allocs++;
        if (flags && machine_pa_node(board(), mfn_to_pa(mfn)) != node)
            job->wrong_node++;
        *first_word(mfn) = mark_of(job->hartid, i);
        kept[n] = mfn, orders[n] = order, marks[n++] = mark_of(job->hartid, i);
        if (n == KEEP) {
            free_all(job, kept, orders, marks, n);
            n = 0;
        }
    }
    free_all(job, kept, orders, marks, n);
}

/* The stress on every online hart that is free, and this one. */
static unsigned int stress_everywhere(void)
{
    bool ran[MAX_HARTS] = {false};
    unsigned int harts = 1;

    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (id == smp_hartid() || !smp_hart(id)->online)
            continue;
        ran[id] = smp_run_on(id, stress, &stress_jobs[id]) == 0;
        harts += ran[id];
    }
    stress(&stress_jobs[smp_hartid()]);
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (ran[id])
            smp_wait(id);
    return harts;
}

static void every_hart_grows_and_frees_while_deferred_runs(void)
{
    uint64_t a0[MAX_NUMNODES], s0[MAX_NUMNODES], a1[MAX_NUMNODES],
        s1[MAX_NUMNODES];
    unsigned int on_demand, with_workers;
    unsigned long allocs = 0;

    SKIP_UNLESS_PENDING();
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        stress_jobs[id] = (struct stress_job){.hartid = id};
    find_ram_nodes();
    snapshot(a0, s0);
    on_demand = stress_everywhere(); /* no worker yet: growth on demand */
    mm_boot_start_deferred();
    with_workers = stress_everywhere(); /* the workers' harts are busy */
    snapshot(a1, s1);
    printk("lab_smp: the stress ran on %u harts on demand, then on %u "
           "beside the workers, %lu pages still pending\n",
           on_demand, with_workers, deferred_total_pending());
    for (unsigned int n = 0; n < board()->nr_nodes; n++) {
        uint64_t a = a1[n] - a0[n], s = s1[n] - s0[n];

        printk("lab_smp: node %u's lock: %lu takes, %lu spins, %lu.%02lu "
               "spins per take\n",
               n, (unsigned long)a, (unsigned long)s,
               (unsigned long)(a ? s / a : 0),
               (unsigned long)(a ? (s * 100 / a) % 100 : 0));
    }
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        EXPECT_EQ(stress_jobs[id].failures, 0ul);
        EXPECT_EQ(stress_jobs[id].clobbered, 0ul);
        EXPECT_EQ(stress_jobs[id].wrong_node, 0ul);
        allocs += stress_jobs[id].allocs;
    }
    EXPECT_LE((unsigned long)STRESS_OPS * (on_demand + with_workers), allocs);
}

/* ---- case 4 ----------------------------------------------------------------
 */

static void settled_totals_exact(void)
{
    const struct mm_boot_stats *st = mm_boot_stats();

    if (st->pending_pages == 0)
        KTEST_SKIP("nothing deferred (deferred_init=off, one hart, or the "
                   "lab's stub)");
    mm_boot_settle();
    EXPECT_EQ(deferred_total_pending(), 0ul);
    EXPECT_EQ(mm_boot_accounted_pages(),
              st->handed_pages + initrd_info()->nr_freed);
    EXPECT_EQ(heap_check(), 0);
}

static const struct ktest_case lab_smp_cases[] = {
    KTEST_CASE(a_chunk_takes_its_own_node_lock),
    KTEST_CASE(a_worker_goes_on_while_another_node_is_locked),
    KTEST_CASE(every_hart_grows_and_frees_while_deferred_runs),
    KTEST_CASE(settled_totals_exact),
};
KTEST_SUITE_DEFERRED(lab_smp, lab_smp_cases, ktest_heap_after_case);
