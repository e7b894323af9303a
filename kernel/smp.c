/*
 * kernel/smp.c - per-hart state, and starting the other harts.
 *
 * OpenSBI runs the kernel on one hart; the others wait, stopped, inside
 * the firmware. SBI's Hart State Management extension starts one:
 * sbi_hart_start(id, pc, opaque) makes hart `id` jump to `pc` in S-mode
 * with a0 = id and a1 = opaque. We pass the hart's own struct hart as
 * opaque, so it finds its stacks there (kernel/entry.S).
 *
 * A started hart marks itself online and then waits for work: it sleeps
 * in wfi until another hart gives it a function with smp_run_on(), which
 * also sends it an inter-processor interrupt (IPI) to wake it. Interrupts
 * stay globally off (sstatus.SIE = 0): the IPI only ends the wfi, it never
 * enters the trap vector. wfi may also return for no reason, so the hart
 * always re-checks its work slot.
 *
 * The boot hart asks SBI to start every hart the tree lists, then waits
 * for all of them under one deadline. A hart still not online then is
 * left out for good: one compare-and-swap on its start_state decides
 * between "online in time" and "counted out", and a hart counted out
 * parks instead of running, so smp_nr_online() and the harts' online
 * flags always agree. Hart ids index the tables directly (ids may be
 * sparse, as on a board whose hart 0 is a disabled monitor core): the
 * tables cost MAX_HARTS x 32 KiB of .bss for the stacks, 2 MiB for 64.
 */
#include <numbat/errno.h>

#include "../platform/machine.h"
#include "../platform/sbi.h"
#include "fallback.h"
#include "panic.h"
#include "printk.h"
#include "scrub_idle.h"
#include "smp.h"

#define SIP_SSIP (1UL << 1) /* supervisor software interrupt pending */
/*
 * How long the boot hart waits for all the harts it started, together.
 * Generous: 64 emulated harts on a busy 2-core host can take seconds.
 */
#define HART_START_TIMEOUT_MS 10000

/*
 * Stacks, page aligned so that each guard is a page of its own. entry.S
 * reads the constants: hart N's first sp is
 * hart_stacks + N * smp_stack_stride + smp_stack_top.
 */
struct hart_stack_area hart_stacks[MAX_HARTS] __aligned(PAGE_SIZE);
const unsigned long smp_max_harts = MAX_HARTS;
const unsigned long smp_stack_stride = sizeof(struct hart_stack_area);
const unsigned long smp_stack_top =
    offsetof(struct hart_stack_area, stack) + HART_STACK_SIZE;

_Static_assert(sizeof(struct hart_stack_area) % PAGE_SIZE == 0,
               "every hart's guard pages stay page aligned");

static struct hart harts[MAX_HARTS];
static unsigned int nr_online = 1;

struct hart *smp_hart(uint32_t hartid)
{
    return hartid < MAX_HARTS ? &harts[hartid] : NULL;
}

/* Fill in everything but the node, which comes from the tree. */
static struct hart *hart_setup(uint32_t hartid)
{
    struct hart *h = &harts[hartid];

    h->hartid = hartid;
    h->stack_lo = (uintptr_t)hart_stacks[hartid].stack;
    h->stack_hi = h->stack_lo + HART_STACK_SIZE;
    h->trap_lo = (uintptr_t)hart_stacks[hartid].trap;
    h->trap_hi = h->trap_lo + TRAP_STACK_SIZE;
    return h;
}

bool smp_stack_guard(uintptr_t va, uint32_t *hartid, bool *trap_stack)
{
    uintptr_t lo = (uintptr_t)hart_stacks, off;
    struct hart_stack_area *a;

    if (va < lo || va >= lo + sizeof(hart_stacks))
        return false;
    a = &hart_stacks[(va - lo) / sizeof(hart_stacks[0])];
    off = va - (uintptr_t)a;
    if (off >= sizeof(a->guard) &&
        (va < (uintptr_t)a->trap_guard || va >= (uintptr_t)a->trap))
        return false;
    if (hartid)
        *hartid = (uint32_t)(a - hart_stacks);
    if (trap_stack)
        *trap_stack = off >= sizeof(a->guard);
    return true;
}

void smp_stack_areas(uintptr_t *lo, uintptr_t *hi)
{
    *lo = (uintptr_t)hart_stacks;
    *hi = *lo + sizeof(hart_stacks);
}

struct hart *smp_late_secondary(uint32_t hartid)
{
    struct hart *h = &harts[hartid];

    h->nr_late_starts++;
    return h;
}

struct hart *smp_boot_hart_setup(uint32_t hartid)
{
    struct hart *h = hart_setup(hartid);

    h->online = true;
    return h;
}

void smp_set_boot_node(const struct machine *m)
{
    this_hart()->node = machine_hart_node(m, smp_hartid());
}

unsigned int smp_nr_online(void)
{
    return nr_online;
}

uint32_t smp_another_online_hart(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (id != smp_hartid() && smp_hart(id)->online)
            return id;
    return MAX_HARTS;
}

static uint64_t read_time(void)
{
    uint64_t t;

    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

uint64_t smp_deadline(unsigned int ms)
{
    return read_time() + FALLBACK_TIMEBASE_HZ / 1000 * ms;
}

bool smp_past(uint64_t deadline)
{
    return read_time() > deadline;
}

bool smp_wait_online(const struct hart *h, unsigned int ms)
{
    uint64_t limit = smp_deadline(ms);

    while (!h->online)
        if (smp_past(limit))
            return false;
    return true;
}

/*
 * Ask SBI to start one hart; true when SBI took the request. Prints why
 * when it did not.
 */
static bool start_one(const struct machine *m, uint32_t hartid)
{
    struct hart *h;
    int err;

    if (hartid >= MAX_HARTS) {
        printk("smp: hart %u left out: hart ids must be below %u\n", hartid,
               MAX_HARTS);
        return false;
    }
    h = hart_setup(hartid);
    h->node = machine_hart_node(m, hartid);
    h->start_state = HART_STARTING;
    __sync_synchronize(); /* the struct is complete before the hart reads it */
    err = sbi_hart_start(hartid, (paddr_t)(uintptr_t)smp_secondary_entry,
                         (unsigned long)h);
    if (err) {
        printk("smp: hart %u did not start: SBI hart_start returned %d\n",
               hartid, err);
        return false;
    }
    return true;
}

/*
 * Wait until a started hart is online; true when it is. At the deadline
 * the hart is given up on, unless it is just then coming online: the
 * two sides race on one compare-and-swap of h->start_state, and a hart
 * that loses parks for good (smp_secondary_main), so a hart counted out
 * never turns up later as online.
 */
static bool wait_started(struct hart *h, uint64_t deadline)
{
    while (!h->online)
        if (smp_past(deadline) &&
            __sync_bool_compare_and_swap(&h->start_state, HART_STARTING,
                                         HART_ABANDONED)) {
            printk("smp: hart %u started but did not come online within %u "
                   "ms; left out\n",
                   h->hartid, HART_START_TIMEOUT_MS);
            return false;
        }
    return true;
}

/*
 * Every hart is asked to start first, then all are waited for under one
 * deadline: they come up in parallel, and a machine of 64 harts under a
 * loaded emulator does not wait 64 times in a row.
 */
unsigned int smp_start_secondaries(const struct machine *m)
{
    bool started[MAX_HARTS] = {false};
    uint64_t deadline;

    for (unsigned int i = 0; i < m->nr_harts; i++)
        started[i] = m->hart_ids[i] != smp_hartid() &&
                     start_one(m, m->hart_ids[i]);
    deadline = smp_deadline(HART_START_TIMEOUT_MS);
    for (unsigned int i = 0; i < m->nr_harts; i++)
        if (started[i] && wait_started(&harts[m->hart_ids[i]], deadline))
            nr_online++;
    printk("smp: %u harts up\n", nr_online);
    return nr_online;
}

int smp_run_on(uint32_t hartid, smp_work_fn fn, void *arg)
{
    struct hart *h = smp_hart(hartid);

    if (!h || !h->online || hartid == smp_hartid())
        return -ENODEV;
    if (h->work)
        return -EBUSY;
    h->work_arg = arg;
    __sync_synchronize(); /* the argument is visible before the work */
    h->work = fn;
    __sync_synchronize();
    sbi_send_ipi_one(hartid);
    return 0;
}

void smp_wait(uint32_t hartid)
{
    struct hart *h = smp_hart(hartid);

    while (h && h->work)
        ;
    __sync_synchronize(); /* see everything the work wrote */
}

static volatile bool hold_done;     /* smp_release_others() was called */
static volatile unsigned int nr_held; /* harts inside hold() */

static void hold(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&nr_held, 1, __ATOMIC_SEQ_CST);
    while (!hold_done)
        ;
}

unsigned int smp_hold_others(void)
{
    unsigned int sent = 0;

    hold_done = false;
    nr_held = 0;
    __sync_synchronize();
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        const struct hart *h = smp_hart(id);

        if (id == smp_hartid() || !h || !h->online)
            continue;
        smp_wait(id); /* whatever it was given first */
        if (smp_run_on(id, hold, NULL) == 0)
            sent++;
    }
    while (__atomic_load_n(&nr_held, __ATOMIC_SEQ_CST) < sent)
        ; /* each finishes its background step, then comes here */
    return sent;
}

void smp_release_others(void)
{
    hold_done = true;
    __sync_synchronize();
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        const struct hart *h = smp_hart(id);

        if (id != smp_hartid() && h && h->online)
            smp_wait(id);
    }
}

/* Sleep until an IPI (or nothing at all) wakes us; see the file comment. */
static void idle_once(struct hart *h)
{
    __asm__ volatile("csrc sip, %0" : : "r"(SIP_SSIP));
    __sync_synchronize();
    if (!h->work)
        __asm__ volatile("wfi");
}

void smp_secondary_main(struct hart *h)
{
    /* Too late: the boot hart has counted us out (wait_started). */
    if (__sync_val_compare_and_swap(&h->start_state, HART_STARTING,
                                    HART_RUNNING) == HART_ABANDONED)
        for (;;)
            __asm__ volatile("wfi");
    __asm__ volatile("csrs sie, %0" : : "r"(SIP_SSIP)); /* IPIs end wfi */
    __sync_synchronize();
    h->online = true;
    for (;;) {
        smp_work_fn fn = h->work;

        if (!fn) {
            if (!scrub_idle_step(h)) /* background scrubbing first */
                idle_once(h);
            continue;
        }
        __sync_synchronize();
        fn(h->work_arg);
        __sync_synchronize(); /* the work's writes are visible first */
        h->work = NULL;
    }
}
