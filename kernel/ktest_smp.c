/*
 * kernel/ktest_smp.c - suite kernel_smp: the harts and the lock.
 *
 * Every online hart runs a small function through smp_run_on(): it must
 * see its own hart id and node through tp, and many harts adding to one
 * counter under a spinlock must lose no addition. Without a working lock
 * (or with a broken amoswap) the counter comes out short. Last, the
 * firmware's hart-start race (kernel/entry.S) is staged on purpose: a
 * hart stops itself and is started again at _start, where a hart that the
 * firmware sends there by mistake arrives. And smp_hold_others(), which
 * the counting tests use, must really hold every other hart.
 */
#include <numbat/errno.h>

#include "../platform/sbi.h"
#include "board.h"
#include "ktest.h"
#include "smp.h"
#include "spinlock.h"

#define ADDS_PER_HART 20000
#define HSM_WAIT_MS 1000 /* how long a hart may take to stop or start */

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

/* Work for a hart: say it is gone, give the work slot back, stop. */
static void stop_self(void *arg)
{
    struct hart *h = this_hart();

    (void)arg;
    h->online = false;
    __sync_synchronize();
    h->work = NULL; /* smp_secondary_main never gets to clear it */
    __sync_synchronize();
    sbi_hart_stop();
}

static bool hart_stopped_in_time(uint32_t id)
{
    uint64_t limit = smp_deadline(HSM_WAIT_MS);

    while (sbi_hart_status(id) != SBI_HSM_STOPPED)
        if (smp_past(limit))
            return false;
    return true;
}

extern char _start[];              /* kernel/entry.S */
static unsigned long bss_sentinel; /* in .bss: a second zeroing clears it */

static void hart_sent_to_start_goes_on(void)
{
    uint32_t id = smp_another_online_hart();
    struct hart *h;
    unsigned int late_before;

    if (id == MAX_HARTS)
        KTEST_SKIP("needs a second hart");
    h = smp_hart(id);
    late_before = h->nr_late_starts;
    bss_sentinel = 0x5e17;
    REQUIRE_EQ(smp_run_on(id, stop_self, NULL), 0);
    smp_wait(id);
    REQUIRE_TRUE(hart_stopped_in_time(id));
    REQUIRE_EQ(sbi_hart_start(id, (paddr_t)(uintptr_t)_start, 0), 0);
    REQUIRE_TRUE(smp_wait_online(h, HSM_WAIT_MS));
    EXPECT_EQ(h->nr_late_starts, late_before + 1);
    EXPECT_EQ(bss_sentinel, 0x5e17UL);
    seen[id] = (struct whoami){.ran = false};
    REQUIRE_EQ(smp_run_on(id, record_whoami, &seen[id]), 0);
    smp_wait(id);
    EXPECT_TRUE(seen[id].ran);
    EXPECT_EQ(seen[id].hartid, id);
    EXPECT_EQ(seen[id].node, h->node);
}

/*
 * smp_hold_others() holds every other online hart until
 * smp_release_others(): while held, each is busy (it takes no work, and
 * so does nothing in the background); released, each takes work again.
 */
static void hold_others_holds_every_other_hart(void)
{
    unsigned int held = smp_hold_others();
    unsigned int busy = 0, ran = 0;

    for (uint32_t id = 0; id < MAX_HARTS; id++)
        if (id != smp_hartid() && smp_hart(id)->online)
            busy += smp_run_on(id, record_whoami, &seen[id]) == -EBUSY;
    smp_release_others();
    EXPECT_EQ(held, smp_nr_online() - 1);
    EXPECT_EQ(busy, smp_nr_online() - 1);
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (id == smp_hartid() || !smp_hart(id)->online)
            continue;
        seen[id] = (struct whoami){.ran = false};
        EXPECT_EQ(smp_run_on(id, record_whoami, &seen[id]), 0);
        smp_wait(id);
        ran += seen[id].ran;
    }
    EXPECT_EQ(ran, smp_nr_online() - 1);
}

static const struct ktest_case smp_cases[] = {
    KTEST_CASE(each_hart_knows_itself),
    KTEST_CASE(lock_loses_no_update),
    KTEST_CASE(run_on_rejects_bad_harts),
    KTEST_CASE(hart_sent_to_start_goes_on),
    KTEST_CASE(hold_others_holds_every_other_hart),
};
KTEST_SUITE(kernel_smp, smp_cases);
