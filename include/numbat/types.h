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
/*
 * The size of the largest machine Numbat describes (docs/device-tree.md,
 * "Limits"). 64 harts is a Sophgo SG2042 (Milk-V Pioneer); 16 nodes is
 * four times its 4. A tree past either is refused with a message naming
 * the limit. Both are cheap to raise: a node costs a row and a column of
 * the distance table and one node heap slot in .bss (mm/node_heap.c), a
 * hart costs 32 KiB of .bss for its stacks (kernel/smp.h). Node ids must
 * stay below NUMA_NO_NODE, since a frame records its node in 8 bits.
 */
#define MAX_NUMNODES 16    /* node ids are 0 .. MAX_NUMNODES - 1 */
#define MAX_HARTS    64    /* hart ids are 0 .. MAX_HARTS - 1 */

_Static_assert(MAX_NUMNODES < NUMA_NO_NODE,
               "struct page_info keeps a node id in 8 bits, 0xff meaning none");

static inline paddr_t mfn_to_pa(mfn_t mfn) { return (paddr_t)mfn << PAGE_SHIFT; }
static inline mfn_t pa_to_mfn(paddr_t pa) { return pa >> PAGE_SHIFT; }

#endif /* NUMBAT_TYPES_H */
