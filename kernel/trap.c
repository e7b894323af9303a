/*
 * kernel/trap.c - turning a trap into a readable panic.
 *
 * kernel/entry.S's trap_entry saves the registers and calls trap_handler().
 * Numbat never enables interrupts and never expects an exception, so the
 * handler's only job is to say clearly what happened: the cause by name,
 * where (sepc), the address involved (stval), every register, and a
 * backtrace starting at the faulting instruction (panic_trap()).
 */
#include "panic.h"
#include "trap.h"

#define SCAUSE_INTERRUPT (1UL << 63)

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

void trap_handler(struct trap_frame *tf)
{
    panic_trap(tf, "trap_handler: %s in S-mode at 0x%lx",
               trap_cause_name(tf->scause), tf->sepc);
}
