/*
 * kernel/ktest_smp.c - suite kernel_smp: the harts and the lock.
 *
 * Every online hart runs a small function through smp_run_on(): it must
 * see its own hart id and node through tp, and many harts adding to one
 * counter under a spinlock must lose no addition. Without a working lock
 * (or with a broken amoswap) the counter comes out short.
 */
#include <numbat/errno.h>

#include "board.h"
#include "ktest.h"
#include "smp.h"
#include "spinlock.h"

#define ADDS_PER_HART 20000

/* What each hart saw of itself. */
struct whoami {
    uint32_t hartid;   /* smp_hartid() as the hart itself read it */
    unsigned int node; /* smp_this_node() as the hart itself read it */
    bool ran;          /* the function ran on that hart */
};

static struct whoami seen[MAX_HARTS];
static struct spinlock counter_lock = SPINLOCK_INIT("ktest counter");
static volatile unsigned long counter;

static void record_whoami(void *arg)
{
    struct whoami *w = arg;

    w->hartid = smp_hartid();
    w->node = smp_this_node();
    w->ran = true;
}

static void add_many(void *arg)
{
    for (int i = 0; i < ADDS_PER_HART; i++) {
        spin_lock(&counter_lock);
        counter = counter + 1; /* a read and a write: racy without the lock */
        spin_unlock(&counter_lock);
    }
}

/* Run fn on every online hart, this one included, and wait for all. */
static void on_every_hart(smp_work_fn fn, void *args, size_t arg_size)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (id != smp_hartid() && smp_hart(id)->online)
            EXPECT_EQ(smp_run_on(id, fn, (char *)args + id * arg_size), 0);
    fn((char *)args + smp_hartid() * arg_size);
    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (smp_hart(id)->online)
            smp_wait(id);
}

static void each_hart_knows_itself(void)
{
    const struct machine *m = board();

    for (uint32_t id = 0; id < MAX_HARTS; id++)
        seen[id] = (struct whoami){.ran = false};
    on_every_hart(record_whoami, seen, sizeof(seen[0]));
    for (unsigned int i = 0; i < m->nr_harts; i++) {
        uint32_t id = m->hart_ids[i];

        if (!smp_hart(id)->online)
            continue;
        EXPECT_TRUE(seen[id].ran);
        EXPECT_EQ(seen[id].hartid, id);
        EXPECT_EQ(seen[id].node, m->hart_node[i]);
    }
}

static void lock_loses_no_update(void)
{
    counter = 0;
    on_every_hart(add_many, seen, sizeof(seen[0])); /* the argument is unused */
    EXPECT_EQ(counter, (unsigned long)ADDS_PER_HART * smp_nr_online());
}

static void run_on_rejects_bad_harts(void)
{
    EXPECT_EQ(smp_run_on(smp_hartid(), record_whoami, &seen[0]), -ENODEV);
    EXPECT_EQ(smp_run_on(MAX_HARTS, record_whoami, &seen[0]), -ENODEV);
}

static const struct ktest_case smp_cases[] = {
    KTEST_CASE(each_hart_knows_itself),
    KTEST_CASE(lock_loses_no_update),
    KTEST_CASE(run_on_rejects_bad_harts),
};
KTEST_SUITE(kernel_smp, smp_cases);
