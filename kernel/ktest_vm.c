/*
 * kernel/ktest_vm.c - suite kernel_vm: the kernel's page table keeps W^X.
 *
 * These cases read the live page table (kernel/vm.h) and check every rule
 * of the map against the kernel's own sections (kernel/kernel.ld): text
 * is R+X and not W, read-only data is R only, data and bss are R+W and
 * never X, each stack's guard page is unmapped, RAM and the devices are
 * R+W and never X, no page anywhere is both W and X, and every hart runs
 * on this one table - also a hart that comes in at _start, as the
 * firmware's start race sends one (kernel/entry.S). A change that maps
 * text writable, or a guard page, or a page W+X, turns one of them red.
 */
#include "../platform/machine.h"
#include "../platform/sbi.h"
#include "board.h"
#include "fallback.h"
#include "ktest.h"
#include "smp.h"
#include "vm.h"

#define PTE_PERMS (PTE_R | PTE_W | PTE_X)
#define MAX_LEAVES 4096  /* far more than any machine needs: large pages */
#define HSM_WAIT_MS 1000 /* how long a hart may take to stop or start */

extern char _start[], __rodata_start[], __data_start[], __ksyms_start[],
    _end[]; /* kernel/kernel.ld */

static unsigned long satp_seen[MAX_HARTS];

/* The permission bits va is mapped with; 0 when unmapped. */
static pte_t perms(uintptr_t va)
{
    return vm_lookup(va, NULL) & PTE_PERMS;
}

/* The first page of [s, e) whose permissions are not `want`, or e. */
static uintptr_t first_page_not(uintptr_t s, uintptr_t e, pte_t want)
{
    for (uintptr_t va = s; va < e; va += PAGE_SIZE)
        if (perms(va) != want)
            return va;
    return e;
}

static void text_is_read_execute(void)
{
    uintptr_t s = (uintptr_t)_start, e = (uintptr_t)__rodata_start;

    EXPECT_EQ(first_page_not(s, e, PTE_R | PTE_X), e);
    EXPECT_EQ(perms((uintptr_t)ktest_fail) & PTE_W, 0ul);
}

static void rodata_is_read_only(void)
{
    uintptr_t s = (uintptr_t)__rodata_start, e = (uintptr_t)__data_start;
    uintptr_t ks = (uintptr_t)__ksyms_start, ke = (uintptr_t)_end;

    EXPECT_EQ(first_page_not(s, e, PTE_R), e);
    EXPECT_EQ(first_page_not(ks, ke, PTE_R), ke);
}

/* Data and bss: R+W, never X; the guards unmapped, the tables R. */
static void data_is_read_write_never_execute(void)
{
    uintptr_t e = (uintptr_t)__ksyms_start;
    unsigned int wrong = 0;

    for (uintptr_t va = (uintptr_t)__data_start; va < e; va += PAGE_SIZE) {
        pte_t p = perms(va);

        if (smp_stack_guard(va, NULL, NULL))
            continue; /* stack_guards_are_unmapped */
        if (p != (vm_is_table_page(va) ? PTE_R : (PTE_R | PTE_W)))
            wrong++;
    }
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(perms((uintptr_t)&satp_seen), PTE_R | PTE_W);
}

static void page_table_is_read_only(void)
{
    EXPECT_TRUE(vm_is_table_page((uintptr_t)vm_root()));
    EXPECT_EQ(perms((uintptr_t)vm_root()), PTE_R);
}

/* Two guards per hart, unmapped; each running stack sits on one. */
static void stack_guards_are_unmapped(void)
{
    uintptr_t lo, hi;
    unsigned int guards = 0, wrong = 0;

    smp_stack_areas(&lo, &hi);
    for (uintptr_t va = lo; va < hi; va += PAGE_SIZE) {
        bool guard = smp_stack_guard(va, NULL, NULL);

        guards += guard;
        wrong += perms(va) != (guard ? 0 : (PTE_R | PTE_W));
    }
    EXPECT_EQ(guards, 2u * MAX_HARTS);
    EXPECT_EQ(wrong, 0u);
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        const struct hart *h = smp_hart(id);

        if (!h->online)
            continue;
        EXPECT_EQ(perms(h->stack_lo - PAGE_SIZE), 0ul);
        EXPECT_EQ(perms(h->trap_lo - PAGE_SIZE), 0ul);
        EXPECT_EQ(perms(h->stack_lo), PTE_R | PTE_W);
    }
}

/*
 * Large pages for RAM away from the image, read-write, never X: the
 * first whole GiB of each bank past the image is one 1 GiB page.
 */
static void ram_is_read_write_in_large_pages(void)
{
    const struct machine *m = board();

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        paddr_t s = m->banks[i].base, e = s + m->banks[i].size;
        paddr_t past_image = MAX(s, (paddr_t)(uintptr_t)_end);
        paddr_t gib = (past_image + (1UL << 30) - 1) & ~((1UL << 30) - 1);
        uint64_t size = 0;

        EXPECT_EQ(perms(e - PAGE_SIZE), PTE_R | PTE_W);
        if (s != (paddr_t)(uintptr_t)_start)
            EXPECT_EQ(perms(s), PTE_R | PTE_W);
        if (gib + (1UL << 30) <= e) {
            vm_lookup(gib, &size);
            EXPECT_EQ(size, 1UL << 30);
        }
    }
    EXPECT_EQ(perms(board_dtb_pa()), PTE_R | PTE_W);
}

static void devices_are_read_write(void)
{
    const struct machine *m = board();

    EXPECT_EQ(perms(m->uart_base ? m->uart_base : FALLBACK_UART_BASE),
              PTE_R | PTE_W);
    EXPECT_EQ(perms(m->poweroff_base ? m->poweroff_base : FALLBACK_TEST_BASE),
              PTE_R | PTE_W);
    EXPECT_EQ(perms(0), 0ul); /* a NULL pointer faults */
}

/* Walk table t of `level`: count leaves, and the ones breaking W^X. */
static void walk(const pte_t *t, int level, uintptr_t va, unsigned int *leaves,
                 unsigned int *bad)
{
    for (unsigned int i = 0; i < 512; i++) {
        pte_t e = t[i];
        uintptr_t at = va + ((uintptr_t)i << (12 + 9 * level));

        if (!(e & PTE_V))
            continue;
        if (!(e & PTE_PERMS)) {
            if (level > 0)
                walk((const pte_t *)(uintptr_t)((e >> 10) << 12), level - 1, at,
                     leaves, bad);
            continue;
        }
        (*leaves)++;
        if ((e & PTE_W) && (e & PTE_X))
            (*bad)++;
        else if ((e & PTE_X) &&
                 (at < (uintptr_t)_start || at >= (uintptr_t)__rodata_start))
            (*bad)++;
    }
}

static void no_page_is_writable_and_executable(void)
{
    unsigned int leaves = 0, bad = 0;

    REQUIRE_NE(vm_root(), NULL);
    walk(vm_root(), VM_LEVELS - 1, 0, &leaves, &bad);
    EXPECT_EQ(bad, 0u);
    EXPECT_LT(leaves, (unsigned int)MAX_LEAVES);
}

static void read_satp(void *arg)
{
    unsigned long satp;

    __asm__ volatile("csrr %0, satp" : "=r"(satp));
    satp_seen[smp_hartid()] = satp;
}

static void every_hart_uses_the_kernel_map(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        satp_seen[id] = 0;
        if (id != smp_hartid() && smp_hart(id)->online)
            EXPECT_EQ(smp_run_on(id, read_satp, NULL), 0);
    }
    read_satp(NULL);
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (!smp_hart(id)->online)
            continue;
        smp_wait(id);
        EXPECT_EQ(satp_seen[id], vm_satp);
    }
    EXPECT_EQ(vm_satp >> 60, SATP_MODE_SV39 >> 60);
}

/*
 * Work for a hart: leave the kernel's map (the identity, so nothing
 * moves), say it is gone, give the work slot back, stop. With satp
 * cleared, only entry.S switching the map again makes it come back on it.
 */
static void stop_self(void *arg)
{
    struct hart *h = this_hart();

    __asm__ volatile("csrw satp, zero\n\tsfence.vma" ::: "memory");
    h->online = false;
    __sync_synchronize();
    h->work = NULL; /* smp_secondary_main never gets to clear it */
    __sync_synchronize();
    sbi_hart_stop();
}

static void hart_sent_to_start_uses_the_kernel_map(void)
{
    uint32_t id = smp_another_online_hart();
    uint64_t limit = smp_deadline(HSM_WAIT_MS);
    struct hart *h;

    if (id == MAX_HARTS)
        KTEST_SKIP("needs a second hart");
    h = smp_hart(id);
    REQUIRE_EQ(smp_run_on(id, stop_self, NULL), 0);
    smp_wait(id);
    while (sbi_hart_status(id) != SBI_HSM_STOPPED)
        REQUIRE_TRUE(!smp_past(limit));
    REQUIRE_EQ(sbi_hart_start(id, (paddr_t)(uintptr_t)_start, 0), 0);
    REQUIRE_TRUE(smp_wait_online(h, HSM_WAIT_MS));
    satp_seen[id] = 0;
    REQUIRE_EQ(smp_run_on(id, read_satp, NULL), 0);
    smp_wait(id);
    EXPECT_EQ(satp_seen[id], vm_satp);
}

static const struct ktest_case vm_cases[] = {
    KTEST_CASE(text_is_read_execute),
    KTEST_CASE(rodata_is_read_only),
    KTEST_CASE(data_is_read_write_never_execute),
    KTEST_CASE(page_table_is_read_only),
    KTEST_CASE(stack_guards_are_unmapped),
    KTEST_CASE(ram_is_read_write_in_large_pages),
    KTEST_CASE(devices_are_read_write),
    KTEST_CASE(no_page_is_writable_and_executable),
    KTEST_CASE(every_hart_uses_the_kernel_map),
    KTEST_CASE(hart_sent_to_start_uses_the_kernel_map),
};
KTEST_SUITE(kernel_vm, vm_cases);
