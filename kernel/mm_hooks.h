/*
 * kernel/mm_hooks.h - the kernel's side of the heap locks (kernel/mm_hooks.c
 * implements mm/hooks.h's mm_hook_lock() and friends).
 *
 * By default every node heap has its own lock (docs/mm.md, "Locking").
 * The boot argument heap_lock=shared makes every node use one lock (node
 * 0's) instead: the rules and their debug checks stay the same, by node,
 * but two harts on different nodes now wait for each other. It exists for
 * the benchmark (ninja bench) and the monitor's `locks bench`, which
 * compare the two. heap_lock_stats() (kernel/mm_boot.h) reads the counts;
 * with one lock, every node reports that lock's.
 */
#ifndef KERNEL_MM_HOOKS_H
#define KERNEL_MM_HOOKS_H

#include <numbat/types.h>

#define HEAP_LOCK_ACCEPTED                                                     \
    "heap_lock=node (one lock per node heap, the default) or "                 \
    "heap_lock=shared (one lock for every node, for the benchmark)"

/*
 * bootargs.c's setter for heap_lock=node|shared: 0, or -EINVAL / -EBUSY
 * (a heap lock is held) with the reason in *why.
 */
int heap_lock_set(const char *value, bool has_value, const char **why);

/* True with heap_lock=shared: every node heap uses one lock. */
bool heap_lock_shared(void);

#endif /* KERNEL_MM_HOOKS_H */
