/*
 * kernel/mm_hooks.c - mm/hooks.h on the real machine.
 *
 * The memory manager is portable C that asks its host for a few things
 * (mm/hooks.h). Here is how the kernel answers:
 *
 *   the heap lock        one spinlock, heap_lock
 *   printk / panic       the kernel's own
 *   pa_to_va             the identity: paging is on, but the kernel's
 *                        page table maps all RAM at its own physical
 *                        address (kernel/vm.c), so a physical address
 *                        is the address the kernel uses. This is the
 *                        one place that knows it.
 *   the node of a frame  the machine's RAM banks (board())
 *   a node's run         the same banks, walked once per run: adjacent banks
 *                        of one node make one run
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

/* RAM is mapped R+W (never X) at its own address: see kernel/vm.h. */
void *mm_hook_pa_to_va(paddr_t pa)
{
    return (void *)(uintptr_t)pa;
}

unsigned int mm_hook_mfn_to_node(mfn_t mfn)
{
    return machine_pa_node(board(), mfn_to_pa(mfn));
}

/* The first frame past the bank holding byte pa (rounded up, as above). */
static mfn_t bank_end_mfn(const struct mem_bank *b)
{
    return pa_to_mfn(b->base + b->size + PAGE_SIZE - 1);
}

/*
 * Where the run of frames of mfn's node that starts at mfn ends, at most
 * `limit`. A frame belongs to the bank that holds its first byte (the rule
 * machine_pa_node() uses), so this answer always equals asking
 * mm_hook_mfn_to_node() frame by frame - only once per bank, not per frame.
 */
mfn_t mm_hook_node_run_end(mfn_t mfn, mfn_t limit)
{
    const struct machine *m = board();
    unsigned int i = 0, node;
    mfn_t end;

    while (i < m->nr_banks && bank_end_mfn(&m->banks[i]) <= mfn)
        i++;
    if (i == m->nr_banks || mfn_to_pa(mfn) < m->banks[i].base)
        return mfn;                     /* mfn is not RAM: an empty run */
    node = m->banks[i].node;
    end = bank_end_mfn(&m->banks[i]);
    while (++i < m->nr_banks && m->banks[i].node == node &&
           m->banks[i].base <= mfn_to_pa(end))
        end = bank_end_mfn(&m->banks[i]);
    return MIN(end, limit);
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
