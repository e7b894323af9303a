/*
 * kernel/smp.h - the harts: who am I, which node am I on, and starting the
 * others.
 *
 * Every hart has one struct hart, found through its tp register (entry.S
 * sets tp before any C runs, and nothing else writes tp). Hart ids index
 * the array directly: QEMU virt numbers harts 0 .. N-1 and MAX_HARTS
 * bounds N.
 *
 * The secondary harts, once started, wait for work: smp_run_on() gives a
 * hart one function to run and smp_wait() waits until it has finished.
 * Tests use this to make every hart allocate at the same time.
 */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include <numbat/compiler.h>
#include <numbat/types.h>

struct machine;

#define HART_STACK_SIZE (16 * 1024) /* each hart's kernel stack */
#define TRAP_STACK_SIZE (8 * 1024)  /* each hart's stack for trap handling */
#define STACK_GUARD_SIZE PAGE_SIZE  /* the unmapped page below each stack */

/*
 * One hart's stacks, as laid out in memory (lowest address first). Each
 * stack has a guard page below it that the page table leaves unmapped
 * (kernel/vm.c), so a stack that grows past its bottom faults at once
 * instead of overwriting whatever lies below. The trap stack is where
 * trap_entry runs (kernel/entry.S): a fault caused by an overflowed kernel
 * stack is reported from there.
 */
struct hart_stack_area {
    uint8_t guard[STACK_GUARD_SIZE];      /* unmapped */
    uint8_t stack[HART_STACK_SIZE];       /* the kernel stack; sp starts at
                                             its top */
    uint8_t trap_guard[STACK_GUARD_SIZE]; /* unmapped */
    uint8_t trap[TRAP_STACK_SIZE];        /* the trap stack (sscratch) */
};

typedef void (*smp_work_fn)(void *arg);

struct hart {
    uintptr_t stack_hi;             /* top of its kernel stack: entry.S reads
                                       this word at offset 0 */
    uintptr_t trap_hi;              /* top of its trap stack: offset 8 */
    uintptr_t stack_lo;             /* bottom of its kernel stack */
    uintptr_t trap_lo;              /* bottom of its trap stack */
    uint32_t hartid;                /* the hart id SBI and the tree use */
    unsigned int node;              /* its NUMA node, from the tree */
    volatile bool online;           /* set by the hart itself once running */
    volatile unsigned int in_panic; /* panics in progress on this hart */
    smp_work_fn volatile work;      /* function to run next, or NULL */
    void *volatile work_arg;        /* its argument */
    unsigned int nr_late_starts;    /* times it came in at _start, not at
                                       smp_secondary_entry (entry.S) */
    volatile int start_state;       /* HART_*: whether the boot hart still
                                       waits for it (smp_start_secondaries) */
};

/* struct hart's start_state: set by the boot hart, then one CAS decides. */
#define HART_STARTING  1 /* asked to start; the boot hart waits for it */
#define HART_RUNNING   2 /* it came online in time (or was never waited for) */
#define HART_ABANDONED 3 /* the wait ran out first: it must park, never run */

/* The running hart's struct (read from tp). */
static inline struct hart *this_hart(void)
{
    struct hart *h;

    __asm__ volatile("mv %0, tp" : "=r"(h));
    return h;
}

static inline uint32_t smp_hartid(void)
{
    return this_hart()->hartid;
}

static inline unsigned int smp_this_node(void)
{
    return this_hart()->node;
}

/*
 * Is the page at va the guard page of a stack? If so, and the pointers
 * are not NULL, *hartid is the stack's hart and *trap_stack says whether
 * it guards the trap stack (else the kernel stack).
 */
bool smp_stack_guard(uintptr_t va, uint32_t *hartid, bool *trap_stack);

/* [*lo, *hi): every hart's stack area, guards included (for kernel/vm.c). */
void smp_stack_areas(uintptr_t *lo, uintptr_t *hi);

/* The struct of hart `hartid`, or NULL when hartid >= MAX_HARTS. */
struct hart *smp_hart(uint32_t hartid);

/*
 * Called by entry.S on the boot hart before kernel_main: fills in the boot
 * hart's struct (node 0 until smp_set_boot_node) and returns it, for tp.
 */
struct hart *smp_boot_hart_setup(uint32_t hartid);

/* Once the tree is read: the boot hart's real node. */
void smp_set_boot_node(const struct machine *m);

/*
 * Start every other hart the tree lists through SBI HSM and wait (with a
 * time limit) until each says it is online. Harts that do not come up are
 * reported and left out. Returns the number of harts online, the boot
 * hart included.
 */
unsigned int smp_start_secondaries(const struct machine *m);

/* Number of harts online (1 before smp_start_secondaries). */
unsigned int smp_nr_online(void);

/* The lowest-numbered online hart that is not this one, or MAX_HARTS. */
uint32_t smp_another_online_hart(void);

/*
 * Give hart `hartid` (online, idle, not the caller) fn(arg) to run.
 * Returns 0, -ENODEV if the hart is not online, -EBUSY if it is working.
 */
int smp_run_on(uint32_t hartid, smp_work_fn fn, void *arg);

/* Wait until hart `hartid` has no work left. */
void smp_wait(uint32_t hartid);

/*
 * Hold every other online hart in a spin loop of its own, and return once
 * each is in it: no hart does anything in the background (scrubbing, a
 * deferred-init chunk) until smp_release_others(). For tests that count
 * what one hart's calls do. Returns how many harts are held.
 */
unsigned int smp_hold_others(void);
void smp_release_others(void);

/* Time limits for waits: a deadline `ms` from now, and whether it passed. */
uint64_t smp_deadline(unsigned int ms);
bool smp_past(uint64_t deadline);

/* Wait until h says it is online; false when `ms` pass first. */
bool smp_wait_online(const struct hart *h, unsigned int ms);

/*
 * entry.S, for a hart that reached _start after the boot hart claimed it
 * (the firmware's start race, see entry.S): counts the arrival and
 * returns the hart's struct, to go on at smp_secondary_entry.
 */
struct hart *smp_late_secondary(uint32_t hartid);

/* entry.S: where a secondary hart starts (a0 = hart id, a1 = its struct). */
void smp_secondary_entry(void);

/* The C side of a secondary hart: never returns. */
void smp_secondary_main(struct hart *h) __noreturn;

#endif /* KERNEL_SMP_H */
