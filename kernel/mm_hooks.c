/*
 * kernel/mm_hooks.c - mm/hooks.h on the real machine.
 *
 * The memory manager is portable C that asks its host for a few things
 * (mm/hooks.h). Here is how the kernel answers:
 *
 *   the heap lock        one spinlock, heap_lock
 *   printk / panic       the kernel's own
 *   pa_to_va             the identity: the MMU is off, so a physical
 *                        address is the address the kernel uses
 *   the node of a frame  the machine's RAM banks (board())
 *   this hart's node     the running hart's struct hart (kernel/smp.h)
 *   nodes and distances  the machine's nr_nodes and distance matrix
 */
#include "../mm/hooks.h"
#include "board.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"

static struct spinlock heap_lock = SPINLOCK_INIT("heap");

void mm_hook_lock(void)
{
    spin_lock(&heap_lock);
}

void mm_hook_unlock(void)
{
    spin_unlock(&heap_lock);
}

void mm_hook_printk(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

void mm_hook_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vpanic(fmt, ap);
}

void *mm_hook_pa_to_va(paddr_t pa)
{
    return (void *)(uintptr_t)pa;
}

unsigned int mm_hook_mfn_to_node(mfn_t mfn)
{
    return machine_pa_node(board(), mfn_to_pa(mfn));
}

unsigned int mm_hook_this_node(void)
{
    return smp_this_node();
}

unsigned int mm_hook_nr_nodes(void)
{
    return board()->nr_nodes;
}

unsigned int mm_hook_node_distance(unsigned int a, unsigned int b)
{
    if (a >= MAX_NUMNODES || b >= MAX_NUMNODES)
        panic("mm_hook_node_distance: node %u or %u is not below %u", a, b,
              MAX_NUMNODES);
    return board()->distance[a][b];
}
