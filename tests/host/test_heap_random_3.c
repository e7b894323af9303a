/*
 * tests/host/test_heap_random_3.c - randomized heap runs, shapes 2, 6, 10, ...
 * (tests/host/lib/heap_model.c has the model, the operations and the
 * shapes). The runs are split over four test binaries so that each stays
 * well under 40 s with the sanitizers. Replay one with --seed N.
 */
#define RANDOM_GROUP 2
#include "tests/host/heap_random.inc"
