/*
 * kernel/mm_hooks.c - mm/hooks.h on the real machine.
 *
 * The memory manager is portable C that asks its host for a few things
 * (mm/hooks.h). Here is how the kernel answers:
 *
 *   the heap locks       one spinlock per node, node_lock[]; debug builds
 *                        remember which one each hart holds, to catch a
 *                        second one
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
#include "mm_boot.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"

static struct spinlock node_lock[MAX_NUMNODES] = {
    [0 ... MAX_NUMNODES - 1] = SPINLOCK_INIT("node heap"),
};

#define HELD_NONE 0u
#define HELD_ALL UINT32_MAX /* heap_check(): every node's lock */

#ifndef NDEBUG
/* Per hart: 1 + the node whose lock it holds, HELD_NONE or HELD_ALL. */
static uint32_t held[MAX_HARTS];
#endif

static struct spinlock *lock_of(const char *fn, unsigned int node)
{
    if (node >= MAX_NUMNODES)
        panic("%s: node %u has no heap lock (node ids are below %u)", fn, node,
              MAX_NUMNODES);
    return &node_lock[node];
}

/*
 * Debug builds: the rule "a hart holds at most one node lock". A second
 * lock is how two harts deadlock (each holding one, each wanting the
 * other's), so it is a panic here even when no other hart is waiting.
 */
static void check_takes(unsigned int node)
{
#ifndef NDEBUG
    uint32_t h = held[smp_hartid()];

    if (h == HELD_ALL)
        panic("mm_hook_lock: hart %u takes node %u's heap lock while it "
              "holds every node's (inside heap_check)",
              smp_hartid(), node);
    if (h == node + 1)
        panic("mm_hook_lock: hart %u takes node %u's heap lock, which it "
              "holds already (the heap locks are not recursive)",
              smp_hartid(), node);
    if (h != HELD_NONE)
        panic("mm_hook_lock: hart %u takes node %u's heap lock while it "
              "holds node %u's: no path may hold two node locks",
              smp_hartid(), node, h - 1);
#else
    (void)node;
#endif
}

static void note_held(uint32_t h)
{
#ifndef NDEBUG
    held[smp_hartid()] = h;
#else
    (void)h;
#endif
}

void mm_hook_lock(unsigned int node)
{
    struct spinlock *l = lock_of("mm_hook_lock", node);

    check_takes(node);
    spin_lock(l);
    note_held(node + 1);
}

void mm_hook_unlock(unsigned int node)
{
    struct spinlock *l = lock_of("mm_hook_unlock", node);

#ifndef NDEBUG
    if (held[smp_hartid()] != node + 1)
        panic("mm_hook_unlock: hart %u lets go of node %u's heap lock, which "
              "it does not hold",
              smp_hartid(), node);
#endif
    note_held(HELD_NONE);
    spin_unlock(l);
}

/* Every node's lock, in ascending order (so two callers cannot deadlock). */
void mm_hook_lock_all(void)
{
#ifndef NDEBUG
    if (held[smp_hartid()] != HELD_NONE)
        panic("mm_hook_lock_all: hart %u already holds a heap lock",
              smp_hartid());
#endif
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        spin_lock(&node_lock[n]);
    note_held(HELD_ALL);
}

void mm_hook_unlock_all(void)
{
    note_held(HELD_NONE);
    for (unsigned int n = MAX_NUMNODES; n-- > 0;)
        spin_unlock(&node_lock[n]);
}

void heap_lock_stats(unsigned int node, uint64_t *acquired, uint64_t *spins)
{
    const struct spinlock *l = lock_of("heap_lock_stats", node);

    *acquired = READ_ONCE(l->nr_acquired);
    *spins = READ_ONCE(l->nr_spins);
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
