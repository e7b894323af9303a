/*
 * tests/host/lib/heap_model.h - randomized runs of the heap against a
 * shadow model, on a list of machine shapes. See heap_model.c.
 */
#ifndef TESTS_HOST_HEAP_MODEL_H
#define TESTS_HOST_HEAP_MODEL_H

#include "tests/host/lib/sim.h"

/* The machine shapes of the randomized runs (at least 20). */
extern const struct sim_machine heap_model_shapes[];
extern const unsigned int heap_model_nr_shapes;

/*
 * On machine m: random boot allocations, end_boot_allocator(), then
 * nr_ops random operations (allocations with every kind of node, zone and
 * flag request; frees of allocated blocks, whole or in halves; late frees
 * of boot allocations and reserved ranges, whole or frame by frame; double
 * frees that must panic). After every operation: heap_check() and the free
 * page counts of every node against the model. Ends by freeing everything
 * and checking the heap holds every frame it should. Reports failures
 * through the harness; returns the number of operations run.
 */
unsigned long heap_model_run(const struct sim_machine *m, uint64_t seed,
                             unsigned long nr_ops);

#endif /* TESTS_HOST_HEAP_MODEL_H */
