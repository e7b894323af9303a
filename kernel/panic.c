/*
 * kernel/panic.c - the last words of a kernel.
 *
 * A panic does four things, in this order:
 *   1. claims the panic: the first hart to panic prints; a hart that
 *      panics after it just stops (the first one is about to power off);
 *      a hart that panics inside its own panic powers off at once;
 *   2. prints "PANIC on hart N: message";
 *   3. prints registers: for a trap, scause/sepc/stval and all 31 saved
 *      registers; otherwise ra, sp, gp and tp at the call;
 *   4. prints a backtrace and powers off with exit status 2.
 *
 * The backtrace follows frame pointers. With -fno-omit-frame-pointer,
 * every function keeps s0 (fp) pointing just above its frame, where it
 * saved two words:
 *
 *        fp - 8    its return address (a pc inside its caller)
 *        fp - 16   its caller's fp
 *
 * so the chain fp -> caller's fp -> ... lists the calls (each printed as
 * the address of the call instruction, see CALL_SITE_BACK). entry.S starts it
 * with fp = 0. A corrupt stack could send the walk anywhere, so each fp
 * must be 8-byte aligned, inside this hart's stack and above the last one,
 * and the walk stops after BACKTRACE_MAX frames.
 */
#include "../platform/poweroff.h"
#include "../platform/sbi.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "trap.h"

#define BACKTRACE_MAX 32

/*
 * A saved return address points after the call; a call to a function that
 * never returns may be the last instruction of its function, so the return
 * address can even belong to the next function. We print ra - 2 instead:
 * an address inside the call instruction itself (calls are 2 or 4 bytes),
 * which addr2line and gdb resolve to the line that made the call.
 */
#define CALL_SITE_BACK 2

static volatile uint32_t panic_claimed; /* 0, then 1 once a hart panics */

/* Step 1: returns only on the hart that will print the panic. */
static void panic_claim(void)
{
    struct hart *h = this_hart();
    uint32_t was;

    if (h->in_panic >= 2) /* even the message below failed: just stop */
        sbi_shutdown();
    if (h->in_panic++) {
        printk("\nPANIC on hart %u: panic inside panic; powering off\n",
               h->hartid);
        poweroff(EXIT_PANIC);
    }
    was = __atomic_exchange_n(&panic_claimed, 1, __ATOMIC_ACQ_REL);
    if (was)
        for (;;) /* another hart is reporting its panic; let it finish */
            __asm__ volatile("wfi");
}

static bool fp_on_stack(uintptr_t fp, const struct hart *h)
{
    if (fp & 7)
        return false;
    if (fp >= h->stack_lo + 16 && fp <= h->stack_hi)
        return true;
    return fp >= h->trap_lo + 16 && fp <= h->trap_hi;
}

/* Frames #first, #first+1, ... by walking the fp chain from fp. */
static void backtrace_from(uintptr_t fp, unsigned int first)
{
    const struct hart *h = this_hart();

    for (unsigned int i = first; i < BACKTRACE_MAX && fp_on_stack(fp, h); i++) {
        uintptr_t ra = ((uintptr_t *)fp)[-1];
        uintptr_t caller_fp = ((uintptr_t *)fp)[-2];

        if (ra == 0)
            break;
        printk("  #%u 0x%016lx\n", i, (unsigned long)(ra - CALL_SITE_BACK));
        if (caller_fp <= fp)
            break;
        fp = caller_fp;
    }
}

static void print_trap_registers(const struct trap_frame *tf)
{
    printk("  scause 0x%016lx (%s) sepc 0x%016lx stval 0x%016lx\n", tf->scause,
           trap_cause_name(tf->scause), tf->sepc, tf->stval);
    for (unsigned int n = 1; n < 32; n += 4) {
        printk(" ");
        for (unsigned int r = n; r < n + 4 && r < 32; r++)
            printk(" %s 0x%016lx", trap_reg_name(r), tf->x[r]);
        printk("\n");
    }
}

/*
 * The common body of panic() and vpanic(): fp is the frame of the
 * function that was called, so frame #0 is the place that called it.
 */
static void __noreturn panic_report(uintptr_t fp, const char *fmt, va_list ap)
{
    unsigned long sp, gp, tp;

    panic_claim();
    __asm__ volatile("mv %0, sp; mv %1, gp; mv %2, tp"
                     : "=r"(sp), "=r"(gp), "=r"(tp));
    printk("PANIC on hart %u: ", this_hart()->hartid);
    vprintk(fmt, ap);
    printk("\n  ra 0x%016lx sp 0x%016lx gp 0x%016lx tp 0x%016lx\n",
           ((unsigned long *)fp)[-1], sp, gp, tp);
    printk("backtrace:\n");
    backtrace_from(fp, 0);
    poweroff(EXIT_PANIC);
}

void vpanic(const char *fmt, va_list ap)
{
    panic_report((uintptr_t)__builtin_frame_address(0), fmt, ap);
}

void panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    panic_report((uintptr_t)__builtin_frame_address(0), fmt, ap);
}

void panic_trap(const struct trap_frame *tf, const char *fmt, ...)
{
    va_list ap;

    panic_claim();
    printk("PANIC on hart %u: ", this_hart()->hartid);
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    print_trap_registers(tf);
    printk("backtrace:\n");
    printk("  #0 0x%016lx\n", tf->sepc);
    backtrace_from(tf->x[8], 1); /* x8 = s0 = the trapped code's fp */
    poweroff(EXIT_PANIC);
}
