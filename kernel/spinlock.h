/*
 * kernel/spinlock.h - the one kind of lock Numbat has.
 *
 * A spinlock is a word that is 0 when free and 1 when held. To take it, a
 * hart atomically swaps 1 into it (amoswap.w.aq) until the old value it
 * gets back is 0; to release it, it swaps 0 back in (amoswap.w.rl). The
 * .aq/.rl bits order memory: nothing inside the critical section can be
 * seen before the lock is taken or after it is released.
 *
 * Interrupts are always off in Numbat, so a hart holding a lock can never
 * be interrupted by code that wants the same lock. Taking a lock this
 * hart already holds would spin for ever, so it is a panic instead.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <numbat/types.h>

#define SPIN_NO_OWNER 0xffffffffu

struct spinlock {
    volatile uint32_t locked; /* 0 free, 1 held */
    volatile uint32_t owner;  /* hart id of the holder, SPIN_NO_OWNER if free */
    const char *name;         /* for panic messages */
    uint64_t nr_acquired;     /* times taken (written by the holder only) */
    uint64_t nr_spins;        /* failed tries before those takes: contention */
};

#define SPINLOCK_INIT(n)                                                       \
    {                                                                          \
        .locked = 0, .owner = SPIN_NO_OWNER, .name = (n), .nr_acquired = 0,    \
        .nr_spins = 0                                                          \
    }

/*
 * Spin until the lock is ours. Panics if this hart holds it already. Each
 * take counts one acquisition, and every failed swap before it one spin:
 * spins per acquisition is the lock's contention (0 when nobody waits).
 */
void spin_lock(struct spinlock *l);

/* Take the lock if it is free; true if we got it. Never spins. */
bool spin_trylock(struct spinlock *l);

/* Release; panics if this hart does not hold it. */
void spin_unlock(struct spinlock *l);

/* True if the running hart holds the lock. */
bool spin_held_by_me(const struct spinlock *l);

#endif /* KERNEL_SPINLOCK_H */
