/*
 * numbat/types.h - the handful of types every Numbat layer shares.
 *
 * Numbat is freestanding C: the compiler's own <stdint.h>, <stddef.h>,
 * <stdbool.h> and <stdarg.h> are all we take from outside. On top of them we
 * name the two units the memory manager talks in:
 *
 *   paddr_t  a physical address, in bytes;
 *   mfn_t    a machine frame number: a physical address >> PAGE_SHIFT.
 *
 * Both are plain integers so that a student can print them and do
 * arithmetic on them in gdb without casts.
 */
#ifndef NUMBAT_TYPES_H
#define NUMBAT_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t; /* physical address in bytes */
typedef uint64_t mfn_t;   /* machine frame number: paddr >> PAGE_SHIFT */

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)

#define INVALID_MFN  (~(mfn_t)0)
#define NUMA_NO_NODE 0xffu /* "no node": not RAM, or a node not yet known */
#define MAX_NUMNODES 8     /* node ids are 0 .. MAX_NUMNODES - 1 */
#define MAX_HARTS    16    /* hart ids are 0 .. MAX_HARTS - 1 */

static inline paddr_t mfn_to_pa(mfn_t mfn) { return (paddr_t)mfn << PAGE_SHIFT; }
static inline mfn_t pa_to_mfn(paddr_t pa) { return pa >> PAGE_SHIFT; }

#endif /* NUMBAT_TYPES_H */
