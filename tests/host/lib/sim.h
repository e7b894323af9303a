/*
 * tests/host/lib/sim.h - a simulated machine for the host tests of mm/.
 *
 * mm/ sees the world through mm/hooks.h only, so on the host we can give
 * it any machine we like: describe the RAM banks (with their nodes), the
 * reserved ranges, the node of the "current hart" and the node distances
 * in a struct sim_machine, and sim_boot() does what kernel/main.c does:
 *
 *   bootmem_add_range() per bank, bootmem_reserve_range() per reservation,
 *   alloc_boot_pages() + frametable_init() for the frame table,
 *   frametable_mark_hole() for every gap between banks.
 *
 * The boot allocator is left open, so a test can make boot allocations
 * before it calls end_boot_allocator() (or use sim_boot_and_end()).
 *
 * RAM is one anonymous mapping with MAP_NORESERVE from the lowest to the
 * highest bank frame: 16 GiB of simulated RAM costs nothing until a page
 * of it is touched, which also lets a test ask (sim_resident_pages) how
 * much of the RAM mm/ really touched.
 *
 * A panic in mm/ is catchable: EXPECT_PANIC(statement, "words") runs the
 * statement and expects a panic whose message contains the words. Any
 * other panic fails the running test case with its message. After a caught
 * panic the heap may be half-updated: boot a new machine before going on.
 */
#ifndef TESTS_HOST_SIM_H
#define TESTS_HOST_SIM_H

#include <setjmp.h>
#include <string.h>

#include <numbat/types.h>

#define SIM_MAX_BANKS 16
#define SIM_MAX_RESERVED 16

struct sim_bank {
    mfn_t s;           /* first frame of the bank */
    mfn_t e;           /* one past its last frame */
    unsigned int node; /* the NUMA node that owns it */
};

struct sim_range {
    mfn_t s; /* first frame */
    mfn_t e; /* one past the last */
};

struct sim_machine {
    const char *name;                     /* printed in test output */
    unsigned int nr_banks;                /* banks[] entries used */
    struct sim_bank banks[SIM_MAX_BANKS]; /* sorted by address, disjoint */
    unsigned int nr_reserved;             /* reserved[] entries used */
    struct sim_range
        reserved[SIM_MAX_RESERVED]; /* never free at boot (e.g. the initrd) */
    unsigned int nr_nodes;  /* node ids below this; 0: highest bank node + 1 */
    unsigned int boot_node; /* node of the current (boot) hart */
    uint8_t distance[MAX_NUMNODES]
                    [MAX_NUMNODES]; /* 0 means default: 10 local, 20 remote */
};

/* Build the machine up to (not including) end_boot_allocator(). */
void sim_boot(const struct sim_machine *m);

/* sim_boot(), then end_boot_allocator(). */
void sim_boot_and_end(const struct sim_machine *m);

/* Unmap the RAM and forget the machine (sim_boot does this first itself). */
void sim_teardown(void);

/* The node this thread's "hart" is on (default: the machine's boot_node). */
void sim_set_this_node(unsigned int node);

/*
 * Node `node`'s heap lock so far: times taken, and failed tries before
 * those takes (their ratio is the lock's contention).
 */
void sim_lock_stats(unsigned int node, unsigned long *acquired,
                    unsigned long *spins);

/* True if this thread holds node `node`'s heap lock (or all of them). */
bool sim_holds_lock(unsigned int node);

/*
 * Every node shares one lock (true: node 0's, like the kernel's boot
 * argument heap_lock=shared) or has its own (false, what sim_boot() sets).
 * The rules stay the same: a hart still may not take a second node's lock.
 * In shared mode sim_lock_stats() reports the one lock for every node.
 * Panics if any heap lock is held: switch only while no hart is in mm/.
 */
void sim_share_one_lock(bool on);

/* The sim hart id (from 1) of the thread holding node's lock; 0 if free. */
int sim_lock_owner(unsigned int node);

/* How many harts (threads) are spinning on node's lock right now. */
int sim_lock_waiting(unsigned int node);

/*
 * Call fn(node) on this thread each time it is about to take a node's
 * heap lock (NULL: stop), so that a test can hold a thread at a known
 * point of a path: e.g. a deferred-init chunk taken but not yet handed
 * over.
 */
void sim_set_lock_hook(void (*fn)(unsigned int node));

/* Where frame mfn's bytes are (the simulated RAM). */
void *sim_frame_va(mfn_t mfn);

/*
 * How sim_boot() lays out the frame table (mm/frametable.h), until changed:
 * per_node false, one alloc_boot_pages() block (the default), or true,
 * each node's sections on that node (frametable_carve_per_node(), as the
 * kernel does); lazy false, every section made ready at boot (the default:
 * eager, as deferred_init=off), or true, only the holes' sections, the
 * test makes the rest ready (frametable_boot_ready() after
 * deferred_defer_boot_ranges(), or frametable_make_ready()).
 */
void sim_frametable_mode(bool per_node, bool lazy);

/* The frame table's own frames, taken from the boot allocator by sim_boot
 * (per node: the lowest part's first frame, and every part's frames). */
mfn_t sim_frametable_mfn(void);
unsigned long sim_frametable_pages(void);

/* Lowest and one-past-highest RAM frame of the running machine. */
mfn_t sim_ram_first(void);
mfn_t sim_ram_end(void);

/* Node of mfn per the machine description; NUMA_NO_NODE for a hole. */
unsigned int sim_node_of(mfn_t mfn);

/* How many mm_hook_pa_to_va() calls since the last reset (and reset it). */
unsigned long sim_take_pa_to_va_calls(void);

/* Pages of the simulated RAM the process has touched (mincore). */
unsigned long sim_resident_pages(void);

/*
 * Answer mm_hook_node_run_end() with mm/'s frame-by-frame default (true)
 * or from the bank table (false, the default).
 */
void sim_set_frame_by_frame(bool on);

/*
 * The first frames mm_hook_node_run_end() was asked about since sim_boot
 * (or the last call), in order: which node runs init_heap_pages took
 * first. Returns how many (at most SIM_MAX_RUNS_TRACED) and forgets them.
 */
#define SIM_MAX_RUNS_TRACED 16
unsigned int sim_take_runs_asked(mfn_t out[SIM_MAX_RUNS_TRACED]);

/* printk output: silence it (randomized runs), and the last message. */
void sim_set_quiet(bool quiet);
const char *sim_last_printk(void);

/* ---- catching panics -------------------------------------------------- */

extern jmp_buf sim_panic_env;        /* where a caught panic jumps to */
extern volatile int sim_panic_armed; /* 1 while a panic is expected */
extern char sim_panic_msg[512];      /* the message of the last panic */

/*
 * Run `stmt`, expecting a panic whose message contains `needle`. Needs
 * tests/host/lib/harness.h. The heap lock is released by the panic.
 */
#define EXPECT_PANIC(stmt, needle)                                             \
    do {                                                                       \
        if (setjmp(sim_panic_env) == 0) {                                      \
            sim_panic_armed = 1;                                               \
            stmt;                                                              \
            sim_panic_armed = 0;                                               \
            EXPECT(0, "%s did not panic (expected a panic saying \"%s\")",     \
                   #stmt, needle);                                             \
        } else {                                                               \
            EXPECT(strstr(sim_panic_msg, needle) != NULL,                      \
                   "the panic \"%s\" does not say \"%s\"", sim_panic_msg,      \
                   needle);                                                    \
        }                                                                      \
    } while (0)

#endif /* TESTS_HOST_SIM_H */
