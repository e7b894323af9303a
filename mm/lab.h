/*
 * mm/lab.h - how a lab handout's stub says that its code is missing.
 *
 * Numbat's labs (labs/, docs/labs.md) each replace one part of mm/ with a
 * stub that still builds and boots. A stub calls lab_not_implemented()
 * with its lab's name; the kernel asks lab_missing() after boot and says
 * `lab buddy: not implemented yet - the heap is empty` instead of
 * failing in a way that looks like a bug. The reference code never calls
 * it, so lab_missing() is NULL there.
 */
#ifndef MM_LAB_H
#define MM_LAB_H

#include <numbat/types.h>

/* A stub ran: remember the first lab whose code is missing. */
void lab_not_implemented(const char *lab);

/* The first lab whose stub ran, or NULL if none did. */
const char *lab_missing(void);

/*
 * A stub ran that leaves the heap whole: allocation and the free path
 * work without it (lab offline: only taking frames out of service is
 * missing). lab_missing() names it like any other, but
 * lab_missing_breaks_heap() stays false, so boot still frees the initrd.
 */
void lab_not_implemented_heap_whole(const char *lab);

/* True if a stub ran that may leave the heap empty or its paths broken. */
bool lab_missing_breaks_heap(void);

#endif /* MM_LAB_H */
