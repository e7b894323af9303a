/*
 * tests/host/test_heap_smp.c - several harts (threads) allocating and
 * freeing at once, through the per-node heap locks.
 *
 * four_harts_at_once: four harts on two nodes, each freeing its own
 * blocks. Then the stress at scale, as the kernel's mm_smp suite runs it:
 * eight harts on four nodes, orders 0-4, exact node and fallback, every
 * hart handing some blocks to the next hart (on another node), which
 * frees them; marks in every block catch two harts handed one block. The
 * free pages of every node must be exact afterwards and heap_check()
 * clean; run with one lock per node, then with one shared lock.
 */
#include <pthread.h>
#include <sched.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/heap.h"
#include "mm/hooks.h"

#define NR_HARTS 4
#define OPS_PER_HART 20000
#define HELD_MAX 64

struct hart_arg {
    unsigned int node;      /* the node this hart sits on */
    uint64_t seed;          /* its random stream */
    unsigned long failures; /* allocations that failed (expected: none) */
};

static void *hart_main(void *p)
{
    struct hart_arg *a = p;
    mfn_t held[HELD_MAX];
    unsigned int order[HELD_MAX], n = 0;
    uint64_t x = a->seed | 1;

    sim_set_this_node(a->node);
    for (int i = 0; i < OPS_PER_HART; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (n < HELD_MAX && (x % 3 || n == 0)) {
            order[n] = (unsigned int)(x >> 8) % 3;
            held[n] = alloc_heap_pages(order[n], 0, NUMA_NO_NODE, 0);
            if (held[n] == INVALID_MFN)
                a->failures++;
            else
                n++;
        } else {
            unsigned int k = (unsigned int)(x >> 16) % n;

            free_heap_pages(held[k], order[k]);
            held[k] = held[--n];
            order[k] = order[n];
        }
    }
    while (n--)
        free_heap_pages(held[n], order[n]);
    return NULL;
}

/*
 *   node 0 [0x80000, 0x80800)   node 1 [0x80800, 0x81000)   2 harts per node
 * Expect: no allocation fails, and afterwards the heap is whole again: the
 * same free pages as after boot, every rule kept (heap_check).
 */
TEST(four_harts_at_once)
{
    static const struct sim_machine m = {
        .name = "two nodes, four harts",
        .nr_banks = 2,
        .banks = {{0x80000, 0x80800, 0}, {0x80800, 0x81000, 1}},
    };
    pthread_t t[NR_HARTS];
    struct hart_arg a[NR_HARTS];
    unsigned long before;

    sim_boot_and_end(&m);
    before = heap_total_free_pages();
    for (unsigned int i = 0; i < NR_HARTS; i++) {
        a[i] = (struct hart_arg){i % 2, test_seed() + i, 0};
        pthread_create(&t[i], NULL, hart_main, &a[i]);
    }
    for (unsigned int i = 0; i < NR_HARTS; i++) {
        pthread_join(t[i], NULL);
        EXPECT_EQ(a[i].failures, 0);
    }
    EXPECT_EQ(heap_total_free_pages(), before);
    EXPECT_EQ(heap_check(), 0);
}

/* ---- the stress at scale: eight harts, four nodes, cross-node frees ---- */

#define STRESS_HARTS 8
#define STRESS_NODES 4
#define STRESS_OPS 6000
#define STRESS_KEEP 16
#define RING 16
#define MAX_STRESS_ORDER 4

/* Blocks one hart hands to the next: a ring with one writer, one reader. */
struct handover {
    unsigned int head;        /* next slot to read (the reader's) */
    unsigned int tail;        /* next slot to write (the writer's) */
    int done;                 /* the writer will hand over no more */
    mfn_t mfn[RING];          /* each block's first frame */
    unsigned int order[RING]; /* its order */
    uint64_t mark[RING];      /* the mark its allocator wrote into it */
};

struct stress_hart {
    unsigned int id;           /* 0 .. STRESS_HARTS - 1 */
    unsigned int node;         /* the node it sits on: id % STRESS_NODES */
    uint64_t seed;             /* its random stream */
    struct handover *out;      /* blocks it hands to the next hart */
    struct handover *in;       /* blocks the hart before it hands over */
    unsigned long allocs;      /* blocks it got */
    unsigned long failures;    /* fallback allocations that found nothing */
    unsigned long clobbered;   /* blocks whose mark another hart overwrote */
    unsigned long wrong_node;  /* exact-node blocks from another node */
    unsigned long cross_frees; /* blocks of another node that it freed */
};

static uint64_t *word_of(mfn_t mfn)
{
    return sim_frame_va(mfn);
}

static void free_checked(struct stress_hart *h, mfn_t mfn, unsigned int order,
                         uint64_t mark)
{
    h->clobbered += *word_of(mfn) != mark;
    h->cross_frees += sim_node_of(mfn) != h->node;
    free_heap_pages(mfn, order);
}

static bool hand_over(struct handover *r, mfn_t mfn, unsigned int order,
                      uint64_t mark)
{
    unsigned int tail = r->tail;

    if (tail - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == RING)
        return false;
    r->mfn[tail % RING] = mfn;
    r->order[tail % RING] = order;
    r->mark[tail % RING] = mark;
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
    return true;
}

static void free_handed_over(struct stress_hart *h)
{
    struct handover *r = h->in;
    unsigned int head = r->head,
                 tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

    for (; head != tail; head++)
        free_checked(h, r->mfn[head % RING], r->order[head % RING],
                     r->mark[head % RING]);
    __atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

static mfn_t stress_alloc(struct stress_hart *h, uint64_t x,
                          unsigned int *order)
{
    unsigned int node = (unsigned int)(x >> 8) % STRESS_NODES;
    unsigned int flags = (x >> 16) & 1 ? ALLOC_EXACT_NODE : 0;
    mfn_t mfn;

    *order = (unsigned int)(x % (MAX_STRESS_ORDER + 1));
    mfn = alloc_heap_pages(*order, 0, node, flags);
    if (mfn == INVALID_MFN) {
        h->failures += flags ? 0 : 1; /* an exact node may run dry */
        return INVALID_MFN;
    }
    h->allocs++;
    h->wrong_node += flags && sim_node_of(mfn) != node;
    return mfn;
}

static void *stress_main(void *p)
{
    struct stress_hart *h = p;
    mfn_t kept[STRESS_KEEP];
    unsigned int orders[STRESS_KEEP], n = 0, order;
    uint64_t marks[STRESS_KEEP], x = h->seed | 1;

    sim_set_this_node(h->node);
    for (unsigned long i = 0; i < STRESS_OPS; i++) {
        uint64_t mark = ((uint64_t)h->id << 32) | i;
        mfn_t mfn;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        mfn = stress_alloc(h, x, &order);
        free_handed_over(h);
        if (mfn == INVALID_MFN)
            continue;
        *word_of(mfn) = mark;
        if ((x >> 24) & 1 && hand_over(h->out, mfn, order, mark))
            continue;
        kept[n] = mfn;
        orders[n] = order;
        marks[n++] = mark;
        if (n == STRESS_KEEP)
            for (; n > 0; n--)
                free_checked(h, kept[n - 1], orders[n - 1], marks[n - 1]);
    }
    for (; n > 0; n--)
        free_checked(h, kept[n - 1], orders[n - 1], marks[n - 1]);
    __atomic_store_n(&h->out->done, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&h->in->done, __ATOMIC_ACQUIRE)) {
        free_handed_over(h);
        sched_yield();
    }
    free_handed_over(h); /* what came in before `done` was seen */
    return NULL;
}

/*
 *   node 0 [0x80000, 0x81000)  node 1 [0x81000, 0x82000)
 *   node 2 [0x82000, 0x83000)  node 3 [0x83000, 0x84000)
 *   harts 0-7, hart i on node i % 4, handing blocks to hart i + 1
 * Expect: no fallback allocation fails, no mark is overwritten, every
 * exact-node block is on its node, blocks were freed across nodes, and
 * afterwards every node has exactly the free pages it had, with every
 * rule kept (heap_check); every node's lock was taken.
 */
static void stress_at_scale(bool one_lock)
{
    static const struct sim_machine m = {
        .name = "four nodes, eight harts",
        .nr_banks = 4,
        .banks = {{0x80000, 0x81000, 0},
                  {0x81000, 0x82000, 1},
                  {0x82000, 0x83000, 2},
                  {0x83000, 0x84000, 3}},
    };
    static struct handover rings[STRESS_HARTS];
    struct stress_hart h[STRESS_HARTS];
    unsigned long before[STRESS_NODES], acq0[STRESS_NODES], cross = 0;
    pthread_t t[STRESS_HARTS];

    sim_boot_and_end(&m);
    sim_share_one_lock(one_lock);
    sim_set_quiet(true);
    for (unsigned int n = 0; n < STRESS_NODES; n++) {
        unsigned long spins;

        before[n] = heap_free_pages_node(n);
        sim_lock_stats(n, &acq0[n], &spins);
    }
    for (unsigned int i = 0; i < STRESS_HARTS; i++) {
        rings[i] = (struct handover){0};
        h[i] = (struct stress_hart){
            .id = i,
            .node = i % STRESS_NODES,
            .seed = test_seed() * 31 + i,
            .out = &rings[i],
            .in = &rings[(i + STRESS_HARTS - 1) % STRESS_HARTS]};
    }
    for (unsigned int i = 0; i < STRESS_HARTS; i++)
        REQUIRE(pthread_create(&t[i], NULL, stress_main, &h[i]) == 0,
                "cannot start a thread");
    for (unsigned int i = 0; i < STRESS_HARTS; i++)
        pthread_join(t[i], NULL);
    sim_set_quiet(false);
    for (unsigned int i = 0; i < STRESS_HARTS; i++) {
        EXPECT_EQ(h[i].failures, 0);
        EXPECT_EQ(h[i].clobbered, 0);
        EXPECT_EQ(h[i].wrong_node, 0);
        EXPECT_GE(h[i].allocs, (unsigned long)STRESS_OPS / 2);
        cross += h[i].cross_frees;
    }
    EXPECT_GT(cross, 0ul);
    for (unsigned int n = 0; n < STRESS_NODES; n++) {
        unsigned long acq, spins;

        EXPECT_EQ(heap_free_pages_node(n), before[n]);
        sim_lock_stats(n, &acq, &spins);
        EXPECT_GT(acq, acq0[n]);
    }
    EXPECT_EQ(heap_check(), 0);
}

TEST(eight_harts_four_nodes_cross_node_frees)
{
    stress_at_scale(false);
}

TEST(eight_harts_four_nodes_one_shared_lock)
{
    stress_at_scale(true);
}
