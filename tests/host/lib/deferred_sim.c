/*
 * tests/host/lib/deferred_sim.c - the deferred-init tests' shared pieces;
 * see deferred_sim.h.
 */
#include "tests/host/lib/deferred_sim.h"

#include <pthread.h>

#include "tests/host/lib/harness.h"

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/node_heap.h"

unsigned long sim_boot_deferred(const struct sim_machine *m,
                                unsigned long eager, bool lazy_sections)
{
    unsigned long n, waiting;

    if (!lazy_sections) {
        sim_boot(m);
        n = deferred_defer_boot_ranges(m->boot_node, eager);
        end_boot_allocator();
        return n;
    }
    sim_frametable_mode(false, true);
    sim_boot(m);
    sim_frametable_mode(false, false);
    frametable_boot_may_wait();
    n = deferred_defer_boot_ranges(m->boot_node, eager);
    frametable_boot_ready(&waiting);
    end_boot_allocator();
    return n;
}

void heap_shape_take(struct heap_shape *sh)
{
    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        for (unsigned int zone = 0; zone < NR_ZONES; zone++)
            sh->free[node][zone] = heap_free_pages_in(node, zone);
}

void heap_shape_eager(const struct sim_machine *m, struct heap_shape *sh)
{
    sim_boot_and_end(m);
    heap_shape_take(sh);
}

unsigned long heap_shape_node_free(const struct heap_shape *sh,
                                   unsigned int node)
{
    unsigned long n = 0;

    for (unsigned int zone = 0; zone < NR_ZONES; zone++)
        n += sh->free[node][zone];
    return n;
}

void heap_shape_expect_same(const struct heap_shape *a,
                            const struct heap_shape *b)
{
    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        for (unsigned int zone = 0; zone < NR_ZONES; zone++)
            EXPECT(a->free[node][zone] == b->free[node][zone],
                   "node %u zone %u: %lu free pages, eager init has %lu", node,
                   zone, a->free[node][zone], b->free[node][zone]);
}

#define HELD_MAX 64

void *sim_allocator_main(void *p)
{
    struct sim_allocator *a = p;
    mfn_t held[HELD_MAX];
    unsigned int order[HELD_MAX], n = 0;
    uint64_t x = a->seed | 1;

    sim_set_this_node(a->node);
    for (unsigned long i = 0; i < a->ops; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (n < HELD_MAX && (x % 3 || n == 0)) {
            order[n] = (unsigned int)(x >> 8) % (a->max_order + 1);
            held[n] = alloc_heap_pages(order[n], 0, a->node,
                                       a->exact ? ALLOC_EXACT_NODE : 0);
            if (held[n] == INVALID_MFN) {
                a->failures++;
                continue;
            }
            a->off_node += a->exact && sim_node_of(held[n]) != a->node;
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

void *sim_worker_main(void *p)
{
    unsigned int node = *(unsigned int *)p;

    sim_set_this_node(node);
    deferred_run_node(node);
    return NULL;
}

#define NR_ALLOCATORS 4
#define NR_WORKERS 4
#define OPS_PER_ALLOCATOR 20000

void sim_race_workers_with_allocators(const struct sim_machine *m,
                                      unsigned long eager, bool lazy_sections,
                                      unsigned int max_order)
{
    static unsigned int worker_node[NR_WORKERS] = {0, 0, 1, 1};
    struct sim_allocator a[NR_ALLOCATORS];
    pthread_t w[NR_WORKERS], t[NR_ALLOCATORS];
    struct heap_shape eager_heap, deferred;

    heap_shape_eager(m, &eager_heap);
    sim_boot_deferred(m, eager, lazy_sections);
    REQUIRE(!heap_node_exists(1) && deferred_pending_pages(1) != 0,
            "node 1 is in the heap at boot: nothing for the workers to do");
    for (unsigned int i = 0; i < NR_ALLOCATORS; i++) {
        a[i] = (struct sim_allocator){
            i % 2, i >= 2, max_order, OPS_PER_ALLOCATOR, test_seed() + i, 0, 0};
        pthread_create(&t[i], NULL, sim_allocator_main, &a[i]);
    }
    for (unsigned int i = 0; i < NR_WORKERS; i++)
        pthread_create(&w[i], NULL, sim_worker_main, &worker_node[i]);
    for (unsigned int i = 0; i < NR_ALLOCATORS; i++) {
        pthread_join(t[i], NULL);
        EXPECT_EQ(a[i].failures, 0);
        EXPECT_EQ(a[i].off_node, 0);
    }
    for (unsigned int i = 0; i < NR_WORKERS; i++)
        pthread_join(w[i], NULL);
    EXPECT_EQ(deferred_total_pending(), 0);
    for (unsigned int node = 0; node < 2; node++) {
        unsigned long acq, spins;

        sim_lock_stats(node, &acq, &spins);
        DIAG("node %u lock: %lu takes, %lu failed tries (%.2f per take)", node,
             acq, spins, acq ? (double)spins / (double)acq : 0.0);
    }
    for (mfn_t f = sim_ram_first(); f < sim_frametable_mfn(); f++)
        if (mfn_to_page(f)->nr_inits != 1) {
            EXPECT(0, "frame 0x%lx went through init_heap_pages %u times", f,
                   mfn_to_page(f)->nr_inits);
            break;
        }
    heap_shape_take(&deferred);
    heap_shape_expect_same(&deferred, &eager_heap);
    EXPECT_EQ(heap_check(), 0);
}
