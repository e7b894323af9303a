/*
 * tests/host/test_heap_smp.c - several harts (threads) allocating and
 * freeing at once, on two nodes, through the one heap lock.
 */
#include <pthread.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/heap.h"

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
