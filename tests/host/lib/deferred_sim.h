/*
 * tests/host/lib/deferred_sim.h - what the deferred-init host tests share
 * (test_deferred, test_lab_smp, lab smp's hidden tests): a deferred boot
 * of a simulated machine, the heap's shape to compare with eager init's,
 * and the threads of the tests that race workers with allocations.
 */
#ifndef TESTS_HOST_DEFERRED_SIM_H
#define TESTS_HOST_DEFERRED_SIM_H

#include "tests/host/lib/sim.h"

#include "mm/heap.h"

/*
 * Boot m with deferred init: every free frame past the boot node's first
 * `eager` frames is pending, then end_boot_allocator(). lazy_sections:
 * as the kernel does, the frame-table sections holding only pending
 * frames stay not ready (the read-only zero section) until their chunk
 * is handed over; false: every section is ready from the start. Returns
 * the frames deferred_defer_boot_ranges() made pending.
 */
unsigned long sim_boot_deferred(const struct sim_machine *m,
                                unsigned long eager, bool lazy_sections);

/*
 * Free pages per node and zone: a settled heap must be eager init's. (The
 * free blocks differ from eager init's in one place: a node heap's
 * structures are carved from the first range freed on the node, which is
 * a chunk here and the whole range there; heap_check() checks that every
 * block is merged as far as it can be.)
 */
struct heap_shape {
    unsigned long free[MAX_NUMNODES][NR_ZONES];
};

void heap_shape_take(struct heap_shape *sh);
/* Boot m eagerly (sim_boot_and_end) and take its shape. */
void heap_shape_eager(const struct sim_machine *m, struct heap_shape *sh);
/* Node `node`'s free pages in sh, every zone. */
unsigned long heap_shape_node_free(const struct heap_shape *sh,
                                   unsigned int node);
/* EXPECT every node's and zone's count of a to be b's (b: eager init). */
void heap_shape_expect_same(const struct heap_shape *a,
                            const struct heap_shape *b);

/*
 * An allocating "hart" (a thread, pthread_create(..., sim_allocator_main,
 * &arg)): `ops` random allocations (orders 0 .. max_order) and frees of
 * what it holds, on its node, then it frees the rest.
 */
struct sim_allocator {
    unsigned int node;      /* the node this "hart" sits on */
    bool exact;             /* ALLOC_EXACT_NODE allocations */
    unsigned int max_order; /* largest order it asks for */
    unsigned long ops;      /* allocations and frees in all */
    uint64_t seed;          /* its random stream */
    unsigned long failures; /* allocations that failed (expected: none) */
    unsigned long off_node; /* exact allocations from another node */
};

void *sim_allocator_main(void *p);

/* A worker "hart": deferred_run_node(*(unsigned int *)p) on that node. */
void *sim_worker_main(void *p);

/*
 * The race of the deferred-init tests, on a machine of two nodes (m):
 * boot it deferred (eager, lazy_sections as sim_boot_deferred()), then
 * two worker threads per node hand over chunks while four allocators
 * (two per node, one of them exact) run 20000 operations each, orders 0
 * to max_order.
 * Expect: no allocation fails, no exact one leaves its node; once all are
 * done nothing is pending, every frame below the frame table went through
 * init_heap_pages() exactly once, the heap is eager init's, heap_check()
 * is clean. Each node lock's takes and failed tries are printed: they
 * depend on timing, so they are not checked.
 */
void sim_race_workers_with_allocators(const struct sim_machine *m,
                                      unsigned long eager, bool lazy_sections,
                                      unsigned int max_order);

#endif /* TESTS_HOST_DEFERRED_SIM_H */
