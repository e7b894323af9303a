/*
 * mm/poison.h - filling pages with recognisable patterns in debug builds,
 * so that memory bugs are loud. See mm/poison.c.
 */
#ifndef MM_POISON_H
#define MM_POISON_H

#include <numbat/types.h>

#define POISON_FREED                                                           \
    0xf7u /* a freed page: reading 0xf7f7... means use after free */
#define POISON_FRESH                                                           \
    0xa5u /* a fresh page: reading 0xa5a5... means it was never set */

/* Fill the 2^order block at mfn with POISON_FREED (debug builds only). */
void poison_freed(mfn_t mfn, unsigned int order);

/* Fill the 2^order block at mfn with POISON_FRESH (debug builds only). */
void poison_fresh(mfn_t mfn, unsigned int order);

#endif /* MM_POISON_H */
