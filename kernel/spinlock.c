/*
 * kernel/spinlock.c - spinlocks built on amoswap (see kernel/spinlock.h).
 */
#include "panic.h"
#include "smp.h"
#include "spinlock.h"

/* Atomically store v in *p and return what was there before. */
static inline uint32_t swap_acquire(volatile uint32_t *p, uint32_t v)
{
    uint32_t old;

    __asm__ volatile("amoswap.w.aq %0, %2, %1"
                     : "=r"(old), "+A"(*p)
                     : "r"(v)
                     : "memory");
    return old;
}

static inline void swap_release(volatile uint32_t *p, uint32_t v)
{
    uint32_t old;

    __asm__ volatile("amoswap.w.rl %0, %2, %1"
                     : "=r"(old), "+A"(*p)
                     : "r"(v)
                     : "memory");
    (void)old;
}

/* The swap that takes a free lock; the caller counts it. */
static bool take(struct spinlock *l)
{
    if (swap_acquire(&l->locked, 1) != 0)
        return false;
    l->owner = smp_hartid();
    return true;
}

bool spin_trylock(struct spinlock *l)
{
    if (!take(l))
        return false;
    l->nr_acquired++;
    return true;
}

void spin_lock(struct spinlock *l)
{
    uint64_t spins = 0;

    if (spin_held_by_me(l))
        panic("spin_lock: hart %u already holds lock '%s'", smp_hartid(),
              l->name);
    while (!take(l)) {
        spins++;
        while (l->locked) /* wait with plain loads, not stores */
            ;
    }
    l->nr_acquired++; /* we hold it: nobody else writes these now */
    l->nr_spins += spins;
}

void spin_unlock(struct spinlock *l)
{
    if (!spin_held_by_me(l))
        panic("spin_unlock: hart %u does not hold lock '%s' (owner %u)",
              smp_hartid(), l->name, (unsigned int)l->owner);
    l->owner = SPIN_NO_OWNER;
    swap_release(&l->locked, 0);
}

bool spin_held_by_me(const struct spinlock *l)
{
    return l->locked && l->owner == smp_hartid();
}
