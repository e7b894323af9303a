/*
 * tests/host/lib/sim.c - the simulated machine: every hook of mm/hooks.h,
 * implemented on the development host for the host tests and the bench.
 *
 *   locks       one test-and-set spinlock per node, like the kernel's; a
 *               thread that takes a lock it holds, or a second node's
 *               lock, panics (docs/mm.md, "Locking"); each lock counts
 *               its takes and its failed tries (sim_lock_stats());
 *               sim_share_one_lock(true) makes every node use node 0's
 *               (the kernel's heap_lock=shared), for the benchmark;
 *   printk      "    # mm: ..." lines inside the KTAP output;
 *   panic       longjmp to the test's EXPECT_PANIC, or fail the test case
 *               and print the caller chain that led to it;
 *   pa_to_va    an offset into one MAP_NORESERVE mapping; a hole is a panic;
 *   node hooks  from the struct sim_machine the test described.
 *
 * The panic path uses harness_fail()/harness_end_case() only if they are
 * linked in (weak references), so the benchmark, which has no harness,
 * can use the simulated machine too.
 */
#define _GNU_SOURCE
#include "sim.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/numa.h"

void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((weak, format(printf, 3, 4)));
void harness_end_case(void) __attribute__((weak, noreturn));
void harness_backtrace(void) __attribute__((weak));

jmp_buf sim_panic_env;
volatile int sim_panic_armed;
char sim_panic_msg[512];

static struct sim_machine machine; /* the machine now running */
static unsigned char *ram;         /* simulated RAM for [ram_first, ram_end) */
static mfn_t ram_first, ram_end;   /* frames the mapping covers */
static mfn_t ft_mfn;               /* the frame table's first frame */
static unsigned long ft_pages;     /* and its size in frames */
static bool ft_per_node; /* the frame table: one part per node (kernel's way) */
static bool ft_lazy;     /* sections left not ready by sim_boot() */
static unsigned long pa_to_va_calls; /* mm_hook_pa_to_va() calls counted */
static bool quiet;                   /* drop printk output */
static bool frame_by_frame;          /* node runs via mm/'s default */
static mfn_t runs_asked[SIM_MAX_RUNS_TRACED]; /* mm_hook_node_run_end's mfns */
static unsigned int nr_runs_asked;            /* entries in runs_asked */
static char last_printk[512];                 /* the last printk message */

static struct sim_lock {
    int locked;                /* 1 while held: a test-and-set spinlock */
    int owner;                 /* sim_hart_id() of the holder, 0 = none */
    unsigned long nr_acquired; /* takes (written by the holder only) */
    unsigned long nr_spins;    /* failed tries before them */
    int nr_waiting;            /* harts spinning on it now */
} node_lock[MAX_NUMNODES];
#define HELD_ALL (-1)
static __thread int held; /* 1 + node of the lock held, 0 none, HELD_ALL */
static bool one_lock;     /* sim_share_one_lock(): every node uses lock 0 */
static pthread_t boot_thread; /* the test's own thread (sim_boot's caller) */
static bool have_boot_thread; /* boot_thread set (by the first sim_boot) */
static __thread int hart_id;        /* this thread's id, from 1; 0 = unset */
static int nr_hart_ids;             /* ids handed out so far */
static __thread int this_node = -1; /* -1: the machine's boot_node */
static __thread unsigned int last_bank; /* cache for mm_hook_mfn_to_node */

/* ---- hooks --------------------------------------------------------------- */

/* A small id per thread, so the lock can tell who holds it. */
static int sim_hart_id(void)
{
    if (hart_id == 0)
        hart_id = __atomic_add_fetch(&nr_hart_ids, 1, __ATOMIC_RELAXED);
    return hart_id;
}

static struct sim_lock *lock_of(const char *fn, unsigned int node)
{
    if (node >= MAX_NUMNODES)
        mm_hook_panic("%s: node %u has no heap lock (node ids are below %u)",
                      fn, node, MAX_NUMNODES);
    return &node_lock[one_lock ? 0 : node];
}

/* The locks mm_hook_lock_all() takes: all of them, or the one shared. */
static unsigned int nr_locks(void)
{
    return one_lock ? 1 : MAX_NUMNODES;
}

/* Like the kernel's spinlock: test-and-set, spin until the holder lets go. */
static void take(struct sim_lock *l)
{
    unsigned long spins = 0;

    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        if (spins++ == 0)
            __atomic_add_fetch(&l->nr_waiting, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            sched_yield();
    }
    if (spins)
        __atomic_sub_fetch(&l->nr_waiting, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&l->owner, sim_hart_id(), __ATOMIC_RELAXED);
    l->nr_acquired++;
    l->nr_spins += spins;
}

static void release(struct sim_lock *l)
{
    __atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static __thread void (*lock_hook)(unsigned int node); /* sim_set_lock_hook */

void sim_set_lock_hook(void (*fn)(unsigned int node))
{
    lock_hook = fn;
}

void mm_hook_lock(unsigned int node)
{
    struct sim_lock *l = lock_of("mm_hook_lock", node);

    if (lock_hook)
        lock_hook(node);

    if (held == HELD_ALL)
        mm_hook_panic("mm_hook_lock: node %u's heap lock taken while this "
                      "hart holds every node's (inside heap_check)",
                      node);
    if (held == (int)node + 1)
        mm_hook_panic("mm_hook_lock: node %u's heap lock taken twice on one "
                      "hart (the heap locks are not recursive)",
                      node);
    if (held != 0)
        mm_hook_panic("mm_hook_lock: node %u's heap lock taken while this "
                      "hart holds node %d's: no path may hold two node locks",
                      node, held - 1);
    take(l);
    held = (int)node + 1;
}

void mm_hook_unlock(unsigned int node)
{
    struct sim_lock *l = lock_of("mm_hook_unlock", node);

    if (held != (int)node + 1)
        mm_hook_panic("mm_hook_unlock: this hart does not hold node %u's "
                      "heap lock",
                      node);
    held = 0;
    release(l);
}

void mm_hook_lock_all(void)
{
    if (held != 0)
        mm_hook_panic("mm_hook_lock_all: this hart already holds a heap lock");
    for (unsigned int n = 0; n < nr_locks(); n++)
        take(&node_lock[n]);
    held = HELD_ALL;
}

void mm_hook_unlock_all(void)
{
    if (held != HELD_ALL)
        mm_hook_panic("mm_hook_unlock_all: this hart does not hold them");
    held = 0;
    for (unsigned int n = nr_locks(); n-- > 0;)
        release(&node_lock[n]);
}

void sim_share_one_lock(bool on)
{
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        if (__atomic_load_n(&node_lock[n].locked, __ATOMIC_ACQUIRE))
            mm_hook_panic("sim_share_one_lock: node %u's heap lock is held: "
                          "switch only while no hart is in the heap",
                          n);
    one_lock = on;
}

int sim_lock_owner(unsigned int node)
{
    return __atomic_load_n(&lock_of("sim_lock_owner", node)->owner,
                           __ATOMIC_RELAXED);
}

int sim_lock_waiting(unsigned int node)
{
    return __atomic_load_n(&lock_of("sim_lock_waiting", node)->nr_waiting,
                           __ATOMIC_RELAXED);
}

void sim_lock_stats(unsigned int node, unsigned long *acquired,
                    unsigned long *spins)
{
    const struct sim_lock *l = lock_of("sim_lock_stats", node);

    *acquired = __atomic_load_n(&l->nr_acquired, __ATOMIC_RELAXED);
    *spins = __atomic_load_n(&l->nr_spins, __ATOMIC_RELAXED);
}

bool sim_holds_lock(unsigned int node)
{
    return held == (int)node + 1 || held == HELD_ALL;
}

/* A panic on the hart that holds a lock lets go of it (tests go on). */
static void sim_release_lock_if_mine(void)
{
    if (held == HELD_ALL)
        mm_hook_unlock_all();
    else if (held != 0)
        mm_hook_unlock((unsigned int)held - 1);
}

void mm_hook_printk(const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(last_printk, sizeof(last_printk), fmt, ap);
    va_end(ap);
    n = strlen(last_printk);
    if (n && last_printk[n - 1] == '\n')
        last_printk[n - 1] = '\0';
    if (!quiet)
        printf("    # mm: %s\n", last_printk);
}

void mm_hook_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sim_panic_msg, sizeof(sim_panic_msg), fmt, ap);
    va_end(ap);
    sim_release_lock_if_mine();
    if (have_boot_thread && !pthread_equal(pthread_self(), boot_thread)) {
        /* A second hart (thread): the case's longjmp is not ours to take. */
        fprintf(stderr, "PANIC on a second hart (thread): %s\n", sim_panic_msg);
        abort();
    }
    if (sim_panic_armed) {
        sim_panic_armed = 0;
        longjmp(sim_panic_env, 1);
    }
    if (harness_fail && harness_end_case) {
        harness_fail(__FILE__, __LINE__, "unexpected panic: %s", sim_panic_msg);
        if (harness_backtrace)
            harness_backtrace(); /* which call of the test got here */
        harness_end_case();
    }
    fprintf(stderr, "PANIC: %s\n", sim_panic_msg);
    abort();
}

void *mm_hook_pa_to_va(paddr_t pa)
{
    mfn_t mfn = pa_to_mfn(pa);

    pa_to_va_calls++;
    if (sim_node_of(mfn) == NUMA_NO_NODE)
        mm_hook_panic("mm_hook_pa_to_va: 0x%lx is not RAM on machine %s", pa,
                      machine.name);
    return ram + (pa - mfn_to_pa(ram_first));
}

unsigned int mm_hook_mfn_to_node(mfn_t mfn)
{
    const struct sim_bank *b = &machine.banks[last_bank];

    if (last_bank < machine.nr_banks && mfn >= b->s && mfn < b->e)
        return b->node;
    return sim_node_of(mfn);
}

/*
 * The end of mfn's node run from the bank table: through every following
 * bank that starts where the last one ended and is on the same node. With
 * sim_set_frame_by_frame(true) it uses mm/'s frame-by-frame default
 * instead, so the tests cover both.
 */
mfn_t mm_hook_node_run_end(mfn_t mfn, mfn_t limit)
{
    unsigned int node = sim_node_of(mfn), i = last_bank;
    mfn_t end;

    if (nr_runs_asked < SIM_MAX_RUNS_TRACED)
        runs_asked[nr_runs_asked++] = mfn;
    if (frame_by_frame || node == NUMA_NO_NODE)
        return numa_node_run_end_by_frame(mfn, limit);
    end = machine.banks[i].e;
    while (i + 1 < machine.nr_banks && machine.banks[i + 1].s == end &&
           machine.banks[i + 1].node == node)
        end = machine.banks[++i].e;
    return MIN(end, limit);
}

unsigned int mm_hook_this_node(void)
{
    return this_node >= 0 ? (unsigned int)this_node : machine.boot_node;
}

unsigned int mm_hook_nr_nodes(void)
{
    return machine.nr_nodes;
}

unsigned int mm_hook_node_distance(unsigned int a, unsigned int b)
{
    if (a >= MAX_NUMNODES || b >= MAX_NUMNODES)
        return 255;
    if (machine.distance[a][b])
        return machine.distance[a][b];
    return a == b ? 10 : 20;
}

/* ---- the machine --------------------------------------------------------- */

unsigned int sim_node_of(mfn_t mfn)
{
    for (unsigned int i = 0; i < machine.nr_banks; i++) {
        if (mfn >= machine.banks[i].s && mfn < machine.banks[i].e) {
            last_bank = i;
            return machine.banks[i].node;
        }
    }
    return NUMA_NO_NODE;
}

static void sim_check_description(const struct sim_machine *m)
{
    if (m->nr_banks == 0 || m->nr_banks > SIM_MAX_BANKS ||
        m->nr_reserved > SIM_MAX_RESERVED)
        mm_hook_panic(
            "sim_boot: machine %s has %u banks and %u reserved ranges "
            "(need 1..%d banks, at most %d reserved)",
            m->name, m->nr_banks, m->nr_reserved, SIM_MAX_BANKS,
            SIM_MAX_RESERVED);
    for (unsigned int i = 0; i < m->nr_banks; i++)
        if (m->banks[i].s >= m->banks[i].e ||
            m->banks[i].node >= MAX_NUMNODES ||
            (i && m->banks[i].s < m->banks[i - 1].e))
            mm_hook_panic(
                "sim_boot: machine %s bank %u [0x%lx, 0x%lx) node %u: "
                "banks must be non-empty, sorted, disjoint, node < %d",
                m->name, i, m->banks[i].s, m->banks[i].e, m->banks[i].node,
                MAX_NUMNODES);
}

static void sim_map_ram(void)
{
    size_t bytes = (size_t)(ram_end - ram_first) * PAGE_SIZE;

    ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        mm_hook_panic("sim_boot: cannot map %zu bytes of simulated RAM", bytes);
}

static void sim_default_nr_nodes(void)
{
    if (machine.nr_nodes)
        return;
    for (unsigned int i = 0; i < machine.nr_banks; i++)
        machine.nr_nodes = MAX(machine.nr_nodes, machine.banks[i].node + 1);
    machine.nr_nodes = MAX(machine.nr_nodes, machine.boot_node + 1);
}

/* What kernel/main.c does: the boot allocator, then the frame table. */
static void sim_boot_memory(void)
{
    for (unsigned int i = 0; i < machine.nr_banks; i++)
        if (bootmem_add_range(machine.banks[i].s, machine.banks[i].e))
            mm_hook_panic("sim_boot: bootmem_add_range failed for bank %u", i);
    for (unsigned int i = 0; i < machine.nr_reserved; i++)
        if (bootmem_reserve_range(machine.reserved[i].s, machine.reserved[i].e))
            mm_hook_panic("sim_boot: bootmem_reserve_range failed for range %u",
                          i);
    frametable_init(ram_first, ram_end);
    ft_pages = ft_per_node ? frametable_carve_per_node() : frametable_carve_one();
    ft_mfn = INVALID_MFN;
    for (unsigned int i = 0; i < frametable_nr_parts(); i++) {
        mfn_t mfn;
        unsigned long nr;
        unsigned int node;

        frametable_part(i, &mfn, &nr, &node);
        ft_mfn = MIN(ft_mfn, mfn);
    }
    for (unsigned int i = 1; i < machine.nr_banks; i++)
        if (machine.banks[i - 1].e < machine.banks[i].s)
            frametable_mark_hole(machine.banks[i - 1].e, machine.banks[i].s);
    if (!ft_lazy)
        frametable_make_ready(ram_first, ram_end); /* eager, as the kernel's
                                                      deferred_init=off */
}

void sim_frametable_mode(bool per_node, bool lazy)
{
    ft_per_node = per_node;
    ft_lazy = lazy;
}

void sim_boot(const struct sim_machine *m)
{
    boot_thread = pthread_self();
    have_boot_thread = true;
    sim_check_description(m);
    sim_teardown();
    one_lock = false;
    machine = *m;
    sim_default_nr_nodes();
    ram_first = m->banks[0].s;
    ram_end = m->banks[m->nr_banks - 1].e;
    sim_map_ram();
    this_node = -1;
    last_bank = 0;
    sim_boot_memory();
    pa_to_va_calls = 0;
    nr_runs_asked = 0;
}

void sim_boot_and_end(const struct sim_machine *m)
{
    sim_boot(m);
    end_boot_allocator();
}

void sim_teardown(void)
{
    if (ram)
        munmap(ram, (size_t)(ram_end - ram_first) * PAGE_SIZE);
    ram = NULL;
    bootmem_reset();
    heap_reset();
    deferred_reset();
}

void sim_set_this_node(unsigned int node)
{
    this_node = (int)node;
}

void *sim_frame_va(mfn_t mfn)
{
    return ram + (mfn - ram_first) * PAGE_SIZE;
}

mfn_t sim_frametable_mfn(void)
{
    return ft_mfn;
}

unsigned long sim_frametable_pages(void)
{
    return ft_pages;
}

mfn_t sim_ram_first(void)
{
    return ram_first;
}

mfn_t sim_ram_end(void)
{
    return ram_end;
}

unsigned long sim_take_pa_to_va_calls(void)
{
    unsigned long n = pa_to_va_calls;

    pa_to_va_calls = 0;
    return n;
}

unsigned long sim_resident_pages(void)
{
    size_t pages = (size_t)(ram_end - ram_first);
    unsigned char *vec = malloc(pages);
    unsigned long n = 0;

    if (vec == NULL || mincore(ram, pages * PAGE_SIZE, vec) != 0)
        mm_hook_panic("sim_resident_pages: mincore failed");
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    return n;
}

unsigned int sim_take_runs_asked(mfn_t out[SIM_MAX_RUNS_TRACED])
{
    unsigned int n = nr_runs_asked;

    memcpy(out, runs_asked, n * sizeof(*out));
    nr_runs_asked = 0;
    return n;
}

void sim_set_frame_by_frame(bool on)
{
    frame_by_frame = on;
}

void sim_set_quiet(bool q)
{
    quiet = q;
}

const char *sim_last_printk(void)
{
    return last_printk;
}
