/*
 * kernel/trap.c - turning a trap into a readable panic.
 *
 * kernel/entry.S's trap_entry saves the registers and calls trap_handler().
 * Numbat never enables interrupts and never expects an exception, so the
 * handler's only job is to say clearly what happened: the cause by name,
 * where (sepc), the address involved (stval), every register, and a
 * backtrace starting at the faulting instruction (panic_trap()).
 *
 * A page fault also says why the page table refused the access
 * (kernel/vm.h), naming both addresses by symbol:
 *   a store into a guard page     stack overflow on hart N
 *   a store to a read-only page   kernel text is read-only, ...
 *   a store to the frame table's  a write to a frame-table entry whose
 *   zero section                  section is not ready (mm/frametable.h)
 *   a fetch from a non-X page     kernel data is not executable, ...
 *   any access to an unmapped     nothing is mapped there
 *   address
 */
#include "../mm/frametable.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "trap.h"
#include "vm.h"

#define SCAUSE_INTERRUPT (1UL << 63)
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15
#define SYM_MAX 64

/* Exception codes of the privileged spec, table "scause values". */
static const char *const exception_names[] = {
    [0] = "instruction address misaligned",
    [1] = "instruction access fault",
    [2] = "illegal instruction",
    [3] = "breakpoint",
    [4] = "load address misaligned",
    [5] = "load access fault",
    [6] = "store/AMO address misaligned",
    [7] = "store/AMO access fault",
    [8] = "environment call from U-mode",
    [9] = "environment call from S-mode",
    [12] = "instruction page fault",
    [13] = "load page fault",
    [15] = "store/AMO page fault",
};

static const char *const interrupt_names[] = {
    [1] = "supervisor software interrupt",
    [5] = "supervisor timer interrupt",
    [9] = "supervisor external interrupt",
};

static const char *const reg_names[32] = {
    "zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "s0", "s1", "a0",
    "a1",   "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
    "s6",   "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

const char *trap_cause_name(unsigned long scause)
{
    unsigned long code = scause & ~SCAUSE_INTERRUPT;
    const char *name = NULL;

    if (scause & SCAUSE_INTERRUPT) {
        if (code < ARRAY_SIZE(interrupt_names))
            name = interrupt_names[code];
    } else if (code < ARRAY_SIZE(exception_names)) {
        name = exception_names[code];
    }
    return name ? name : "unknown cause";
}

const char *trap_reg_name(unsigned int n)
{
    return n < 32 ? reg_names[n] : "?";
}

static bool is_page_fault(unsigned long scause)
{
    return scause == CAUSE_FETCH_PAGE_FAULT ||
           scause == CAUSE_LOAD_PAGE_FAULT || scause == CAUSE_STORE_PAGE_FAULT;
}

/* Why the page table refused: the rule the access broke, into buf. */
static void fault_reason(char *buf, size_t size, unsigned long scause,
                         uintptr_t va)
{
    const char *what = vm_region_name(va);
    pte_t e = vm_lookup(va, NULL);

    if (!e)
        snprintf(buf, size, "nothing is mapped there%s",
                 va < PAGE_SIZE ? " (a NULL pointer?)" : "");
    else if (scause == CAUSE_STORE_PAGE_FAULT && !(e & PTE_W))
        snprintf(buf, size, "%s is read-only", what);
    else if (scause == CAUSE_FETCH_PAGE_FAULT && !(e & PTE_X))
        snprintf(buf, size, "%s is not executable (W^X: only kernel text is)",
                 what);
    else
        snprintf(buf, size, "%s: the page table refused it", what);
}

/* A page fault: the panic names the rule, both addresses and their symbols. */
static void __noreturn page_fault(struct trap_frame *tf)
{
    char at[SYM_MAX], pc[SYM_MAX], why[SYM_MAX + 32];
    uintptr_t va = tf->stval;
    uint32_t owner;
    bool trap_stack;

    panic_symbol(va, at, sizeof(at));
    panic_symbol(tf->sepc, pc, sizeof(pc));
    if (smp_stack_guard(va, &owner, &trap_stack))
        panic_trap(tf,
                   "stack overflow on hart %u: %s at 0x%lx (%s), the guard "
                   "page below its %s stack; pc 0x%lx (%s)",
                   owner, trap_cause_name(tf->scause), (unsigned long)va, at,
                   trap_stack ? "trap" : "kernel", tf->sepc, pc);
    if (frametable_in_zero_section(va))
        panic_trap(tf,
                   "%s at 0x%lx (%s): a write to a frame-table entry whose "
                   "section is not ready (it reads the shared read-only zero "
                   "section): call frametable_make_ready() for the frame "
                   "first (mm/frametable.h); pc 0x%lx (%s)",
                   trap_cause_name(tf->scause), (unsigned long)va, at, tf->sepc,
                   pc);
    fault_reason(why, sizeof(why), tf->scause, va);
    panic_trap(tf, "%s at 0x%lx (%s): %s; pc 0x%lx (%s)",
               trap_cause_name(tf->scause), (unsigned long)va, at, why,
               tf->sepc, pc);
}

void trap_handler(struct trap_frame *tf)
{
    if (is_page_fault(tf->scause))
        page_fault(tf);
    panic_trap(tf, "trap_handler: %s in S-mode at 0x%lx",
               trap_cause_name(tf->scause), tf->sepc);
}
