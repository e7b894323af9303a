/*
 * kernel/trap.h - what a trap saves, and how Numbat handles traps.
 *
 * Numbat runs with interrupts off, so every trap is an exception: an
 * illegal instruction, an access fault, a misaligned access, an ecall.
 * None of them is expected in a correct kernel, so every trap is a panic
 * that prints the cause, the faulting pc (sepc), the bad address (stval)
 * and all 31 registers, then a backtrace. A page fault's panic also names
 * the rule of the kernel's map it broke (kernel/vm.h) and both addresses
 * by symbol; one in a stack's guard page is "stack overflow on hart N".
 */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

#include <numbat/types.h>

/* Laid out by kernel/entry.S's trap_entry: keep the two in step. */
struct trap_frame {
    unsigned long x[32];   /* x[n] = register xn at the trap; x[0] unused */
    unsigned long sepc;    /* pc of the instruction that trapped */
    unsigned long scause;  /* why: top bit set for interrupts, then the code */
    unsigned long stval;   /* the bad address or instruction, if any */
    unsigned long sstatus; /* status at the trap (previous mode, SIE) */
};

_Static_assert(sizeof(struct trap_frame) == 36 * 8, "entry.S FRAME_SIZE");

/* Called by trap_entry with the saved frame; panics for every trap. */
void trap_handler(struct trap_frame *tf);

/* "load access fault", "illegal instruction", ...; "unknown cause" if none. */
const char *trap_cause_name(unsigned long scause);

/* The ABI name of register xn ("ra", "sp", "a0", ...). */
const char *trap_reg_name(unsigned int n);

#endif /* KERNEL_TRAP_H */
