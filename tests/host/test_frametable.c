/*
 * tests/host/test_frametable.c - the frame table in sections
 * (mm/frametable.c): each node's part on its own memory, a section that
 * is not ready reads the read-only zero section, making ready zeroes once
 * under a race, a write before it faults, and deferred init's hand-over
 * makes every section ready with the heap exactly as eager init's.
 *
 * Each test draws its machine. Frame numbers are hexadecimal MFNs; a
 * section is 0x1000 frames, counted from the lowest RAM frame.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/bootmem.h"
#include "mm/deferred.h"
#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/page.h"

/*
 *   section:  0     8  9 ...    0x10 .. 0x13   0x14 ..      0x1f
 *            [node 0 ][ node 1        ][ hole     ][ node 2      ]
 *            0x80000  0x88800           0x90000    0x94000       0xa0000
 *                     ^ section 8 straddles nodes 0 and 1: node 0's
 *   (3 nodes; the boot hart on node 0)
 */
static const struct sim_machine three_nodes = {
    .name = "three nodes, a straddling section and a hole",
    .nr_banks = 3,
    .banks = {{0x80000, 0x88800, 0},
              {0x88800, 0x90000, 1},
              {0x94000, 0xa0000, 2}},
};

#define EAGER 0x1000UL

/* Boot `m` the kernel's way: per-node table, deferred init, lazy sections. */
static unsigned long boot_lazy(const struct sim_machine *m,
                               unsigned long *waiting)
{
    unsigned long zeroed;

    sim_frametable_mode(true, true);
    sim_boot(m);
    sim_frametable_mode(false, false);
    frametable_boot_may_wait();
    deferred_defer_boot_ranges(m->boot_node, EAGER);
    zeroed = frametable_boot_ready(waiting);
    end_boot_allocator();
    return zeroed;
}

/* A frame of a section whose frames are all pending: node 2, section 0x1e
 * (node 2's part of the table sits at its top, in section 0x1f). */
#define PENDING_MFN 0x9eff0UL

/*
 * Expect: every part of the table lies on the node it serves; a section of
 * pending frames only is not ready and reads all zero (uninitialised), and
 * so does every entry of it; the boot readied the holes, the straddling
 * section, the table's own frames and the eager part, nothing else; the
 * counts add up to every section.
 */
TEST(pending_sections_wait_and_read_uninitialised)
{
    unsigned long waiting, zeroed = boot_lazy(&three_nodes, &waiting);
    const struct page_info *pg = mfn_to_page(PENDING_MFN);

    for (unsigned int i = 0; i < frametable_nr_parts(); i++) {
        mfn_t mfn;
        unsigned long nr;
        unsigned int node;

        frametable_part(i, &mfn, &nr, &node);
        EXPECT(sim_node_of(mfn) == node && sim_node_of(mfn + nr - 1) == node,
               "part %u [0x%lx, 0x%lx) is not on node %u", i, mfn, mfn + nr,
               node);
    }
    EXPECT_EQ(frametable_nr_parts(), 3);
    EXPECT_EQ(frametable_nr_sections(), 0x20);
    EXPECT_EQ(frametable_nr_ready() + waiting, frametable_nr_sections());
    EXPECT(!frametable_ready(PENDING_MFN), "a pending section is ready");
    EXPECT(frametable_in_zero_section((uintptr_t)pg),
           "a pending frame's entry is not in the zero section");
    EXPECT(page_state_is(pg, PAGE_STATE_UNINITIALISED) && pg->nr_inits == 0 &&
               pg->node == 0 && mfn_valid(PENDING_MFN),
           "a pending frame does not read uninitialised RAM");
    EXPECT(frametable_ready(0x80000) && frametable_ready(0x88800) &&
               frametable_ready(0x90000) && frametable_ready(0x93fff),
           "the eager part, the straddling section or a hole is not ready");
    /* the eager part: section 0; section 8 straddles (and holds node 0's
     * part, at node 0's top); node 1's part: 0xf; node 2's: 0x1f. The
     * holes 0x10..0x13 were made ready before (sim_boot). */
    EXPECT_EQ(zeroed, 2 + 1 + 1);
    EXPECT_EQ(frametable_nr_ready(), zeroed + 4);
    EXPECT_EQ(heap_check(), 0);
}

/*
 *   section:  0 ..     8        9 ..                           0x1f
 *            [ node 0 ][0|1][ node 1                    ][table]
 *            0x80000  0x88800                                 0xa0000
 *   (the table in one block at the top, so section 8 is all free)
 * Expect: section 8, which straddles nodes 0 and 1, is made ready at boot
 * all the same (no one node's worker owns it); node 1's others wait.
 */
static const struct sim_machine straddle = {
    .name = "two nodes meeting inside a section",
    .nr_banks = 2,
    .banks = {{0x80000, 0x88800, 0}, {0x88800, 0xa0000, 1}},
};

TEST(straddling_section_is_ready_at_boot)
{
    unsigned long waiting;

    sim_frametable_mode(false, true);
    sim_boot(&straddle);
    sim_frametable_mode(false, false);
    frametable_boot_may_wait();
    deferred_defer_boot_ranges(0, EAGER);
    frametable_boot_ready(&waiting);
    end_boot_allocator();
    EXPECT(frametable_ready(0x88000) && frametable_ready(0x88fff),
           "the straddling section waits");
    EXPECT(!frametable_ready(0x8a000), "section 0xa does not wait");
    EXPECT_EQ(heap_check(), 0);
}

/* A fork()ed child writes frame mfn's entry; returns how it ended. */
static int child_writes_entry(mfn_t mfn)
{
    pid_t pid = fork();
    int status = 0;

    if (pid == 0) {
        struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL); /* not the sanitizer's report */
        signal(SIGBUS, SIG_DFL);
        page_set_flags(mfn_to_page(mfn), PGC_CHECKED);
        _exit(0);
    }
    REQUIRE(pid > 0, "fork failed");
    waitpid(pid, &status, 0);
    return status;
}

/*
 * Expect: writing the entry of a frame whose section is not ready faults
 * (the zero section is read-only), in a child; once frametable_make_ready()
 * ran for it, the same write goes through.
 */
TEST(write_before_ready_faults)
{
    unsigned long waiting;
    int status;

    boot_lazy(&three_nodes, &waiting);
    status = child_writes_entry(PENDING_MFN);
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
           "writing a not-ready entry did not fault (status 0x%x)", status);
    EXPECT_EQ(frametable_make_ready(PENDING_MFN, PENDING_MFN + 1), 1);
    EXPECT_EQ(frametable_make_ready(PENDING_MFN, PENDING_MFN + 1), 0);
    status = child_writes_entry(PENDING_MFN);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "writing a ready entry failed (status 0x%x)", status);
    EXPECT(!frametable_in_zero_section((uintptr_t)mfn_to_page(PENDING_MFN)),
           "a ready section still reads the zero section");
}

/* Threads racing to make the same sections ready. */
#define RACERS 4

struct racer {
    pthread_t t;          /* the thread */
    unsigned int id;      /* 0 .. RACERS - 1 */
    unsigned long zeroed; /* sections this thread zeroed */
};

static int go; /* atomic: the racers start together */

/*
 * Make every section of node 2 ready, then mark this thread's own frame
 * in each: a second zeroing by a slower racer would wipe a mark.
 */
static void *racer_main(void *p)
{
    struct racer *r = p;

    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        ;
    r->zeroed = frametable_make_ready(0x94000, 0xa0000);
    for (mfn_t s = 0x94000; s < 0xa0000; s += FRAMETABLE_SECTION_PAGES)
        mfn_to_page(s + r->id)->owner = (uint16_t)(r->id + 1);
    return NULL;
}

/* One race: RACERS threads make node 2's sections ready at once. */
static unsigned long race_once(void)
{
    struct racer r[RACERS];
    unsigned long waiting, total = 0;

    boot_lazy(&three_nodes, &waiting);
    __atomic_store_n(&go, 0, __ATOMIC_RELEASE);
    for (unsigned int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){.id = i};
        REQUIRE(pthread_create(&r[i].t, NULL, racer_main, &r[i]) == 0,
                "cannot start a thread");
    }
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (unsigned int i = 0; i < RACERS; i++) {
        pthread_join(r[i].t, NULL);
        total += r[i].zeroed;
    }
    return total;
}

/*
 * node 2's sections 0x14..0x1e (0x1f holds its table: ready at boot), 4
 * threads at once, 16 times. Expect: each section zeroed exactly once in
 * all (the zeroed counts add up to 11), and every thread's marks survive
 * (nobody zeroed a section that was ready).
 */
TEST(make_ready_races_zero_once)
{
    for (unsigned int round = 0; round < 16; round++) {
        unsigned long total = race_once(), lost = 0;

        for (mfn_t s = 0x95000; s < 0xa0000; s += FRAMETABLE_SECTION_PAGES)
            for (unsigned int i = 0; i < RACERS; i++)
                lost += mfn_to_page(s + i)->owner != i + 1;
        REQUIRE(total == 11 && lost == 0,
                "round %u: %lu sections zeroed (not 11; %lu of %lu ready), "
                "%lu racers' marks gone (a section zeroed after it was "
                "ready)",
                round, total, frametable_nr_ready(), frametable_nr_sections(),
                lost);
    }
}

/*
 * Expect: handing over every pending frame (a node at a time) makes every
 * section ready, and the heap is exactly eager init's on the same layout:
 * the same free pages per node, heap_check() clean.
 */
TEST(handover_readies_every_section)
{
    unsigned long eager[MAX_NUMNODES], waiting;

    sim_frametable_mode(true, false);
    sim_boot_and_end(&three_nodes);
    sim_frametable_mode(false, false);
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        eager[n] = heap_free_pages_node(n);

    boot_lazy(&three_nodes, &waiting);
    EXPECT_NE(waiting, 0);
    for (unsigned int n = 0; n < 3; n++)
        deferred_run_node(n);
    EXPECT_EQ(deferred_total_pending(), 0);
    EXPECT_EQ(frametable_nr_ready(), frametable_nr_sections());
    for (unsigned int n = 0; n < MAX_NUMNODES; n++)
        EXPECT(heap_free_pages_node(n) == eager[n],
               "node %u: %lu free pages, eager init has %lu", n,
               heap_free_pages_node(n), eager[n]);
    EXPECT_EQ(heap_check(), 0);
}

/*
 * Expect: page_to_mfn(mfn_to_page(m)) == m for every RAM frame, across
 * section, part and node edges, and a hole's frames are covered but not
 * valid.
 */
TEST(round_trip_across_sections_nodes_and_holes)
{
    unsigned long waiting;
    unsigned long bad = 0;

    boot_lazy(&three_nodes, &waiting);
    for (unsigned int n = 0; n < 3; n++)
        deferred_run_node(n);
    for (mfn_t m = sim_ram_first(); m < sim_ram_end(); m++)
        if (mfn_valid(m) && page_to_mfn(mfn_to_page(m)) != m && bad++ < 4)
            EXPECT(false, "frame 0x%lx comes back as 0x%lx", m,
                   page_to_mfn(mfn_to_page(m)));
    EXPECT_EQ(bad, 0);
    EXPECT(frametable_covers(0x92000) && !mfn_valid(0x92000) &&
               mfn_valid(0x94000) && mfn_valid(0x8ffff),
           "hole edges");
    EXPECT(frametable_nr_runs >= 3, "%u runs for three nodes' parts",
           frametable_nr_runs);
}

/* Expect: the frame table's bad requests panic and say what to do. */
TEST(frametable_bad_requests)
{
    unsigned long waiting;

    boot_lazy(&three_nodes, &waiting);
    EXPECT_PANIC(frametable_make_ready(0x70000, 0x80001),
                 "not inside the frame table");
    frametable_init(0x80000, 0x80000 + FRAMETABLE_SECTION_PAGES * 2);
    EXPECT_PANIC(frametable_make_ready(0x80000, 0x80001),
                 "has no memory: frametable_give_memory() it first");
    EXPECT_PANIC(
        frametable_give_memory(0x80010, 0x81000, sim_frame_va(0x80000)),
        "not a run of whole sections");
    EXPECT_PANIC(frametable_init(0, (mfn_t)FRAMETABLE_MAX_SECTIONS
                                            << FRAMETABLE_SECTION_SHIFT |
                                        1),
                 "raise FRAMETABLE_MAX_SECTIONS");
    sim_teardown();
}
