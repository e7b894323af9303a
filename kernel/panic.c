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
 * and the walk prints at most BACKTRACE_MAX frames. Consecutive frames
 * with the same call site (a recursion) print as one line saying how many.
 *
 * Backtrace frames are printed as bare addresses, which the host's runner
 * turns into function and line (tools/numbat_run.py). A fault's own
 * addresses are named here, in the kernel, by panic_symbol(): the link
 * puts a table of the image's symbols at the end of the image (.ksyms,
 * written by tools/ksyms.py from a first link; kernel/kernel.ld), so a
 * panic read straight off the console already says `ktest_fail+0x10`.
 */
#include "../platform/poweroff.h"
#include "../platform/sbi.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "trap.h"

#define BACKTRACE_MAX 32        /* frames printed, at most */
#define BACKTRACE_WALK_MAX 4096 /* frames walked, repeats included */

/*
 * A saved return address points after the call; a call to a function that
 * never returns may be the last instruction of its function, so the return
 * address can even belong to the next function. We print ra - 2 instead:
 * an address inside the call instruction itself (calls are 2 or 4 bytes),
 * which addr2line and gdb resolve to the line that made the call.
 */
#define CALL_SITE_BACK 2

static volatile uint32_t panic_claimed; /* 0, then 1 once a hart panics */

/* The symbol table tools/ksyms.py writes (keep the two in step). */
struct ksym {
    uint64_t addr; /* the symbol's address; the table is sorted by it */
    uint64_t name; /* byte offset of its NUL-terminated name in names */
};

struct ksyms_table {
    uint64_t nr;        /* number of symbols */
    uint64_t names_off; /* byte offset of the names from the table */
    struct ksym sym[];  /* nr entries */
};

extern const struct ksyms_table ksyms; /* .ksyms, the image's last part */
extern char _start[], __rodata_start[], _end[]; /* kernel/kernel.ld */

void panic_symbol(uintptr_t addr, char *buf, size_t size)
{
    const char *names = (const char *)&ksyms + ksyms.names_off;
    size_t lo = 0, hi = ksyms.nr;

    if (addr < (uintptr_t)_start || addr >= (uintptr_t)_end || !hi ||
        addr < ksyms.sym[0].addr) {
        snprintf(buf, size, "no symbol: outside the kernel image");
        return;
    }
    while (hi - lo > 1) { /* sym[lo].addr <= addr < sym[hi].addr */
        size_t mid = lo + (hi - lo) / 2;

        if (ksyms.sym[mid].addr <= addr)
            lo = mid;
        else
            hi = mid;
    }
    snprintf(buf, size, "%s+0x%lx", names + ksyms.sym[lo].name,
             (unsigned long)(addr - ksyms.sym[lo].addr));
}

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

/* After frame #last: "the same call site again" for frames (last, upto]. */
static void print_repeats(unsigned int last, unsigned int upto)
{
    if (upto > last)
        printk("  (#%u to #%u: the same call site as #%u, %u more times)\n",
               last + 1, upto, last, upto - last);
}

/*
 * Frames #first, #first+1, ... by walking the fp chain from fp. A run of
 * frames with one call site (runaway recursion fills the stack with
 * them) prints as one line, and the walk goes on past it, so the frames
 * that started the run are still shown.
 */
static void backtrace_from(uintptr_t fp, unsigned int first)
{
    const struct hart *h = this_hart();
    uintptr_t last_site = 0;
    unsigned int i, last = 0, printed = 0;

    for (i = first; i < BACKTRACE_WALK_MAX && fp_on_stack(fp, h); i++) {
        uintptr_t ra = ((uintptr_t *)fp)[-1];
        uintptr_t caller_fp = ((uintptr_t *)fp)[-2];

        if (ra == 0)
            break;
        if (ra - CALL_SITE_BACK != last_site) {
            if (printed++ == BACKTRACE_MAX)
                break;
            if (last_site)
                print_repeats(last, i - 1);
            last_site = ra - CALL_SITE_BACK;
            last = i;
            printk("  #%u 0x%016lx\n", i, (unsigned long)last_site);
        }
        if (caller_fp <= fp) {
            i++;
            break;
        }
        fp = caller_fp;
    }
    if (last_site)
        print_repeats(last, i - 1);
}

static bool in_text(uintptr_t addr)
{
    return addr >= (uintptr_t)_start && addr < (uintptr_t)__rodata_start;
}

/*
 * Frames #1, ... of a trap. x8 (s0) is the trapped code's fp. If that
 * code is a leaf function (it calls nothing), its frame holds only its
 * caller's fp, at fp - 8, and its return address is still in ra: a word
 * at fp - 8 that points into the stack rather than into text says so.
 * A fetch from outside text (a call through a bad pointer) never ran the
 * code there: ra is the call that jumped, and fp is still its caller's.
 */
static void backtrace_after_trap(const struct trap_frame *tf)
{
    uintptr_t fp = tf->x[8];
    const struct hart *h = this_hart();

    if (!in_text(tf->sepc) && in_text(tf->x[1])) {
        printk("  #1 0x%016lx\n", (unsigned long)(tf->x[1] - CALL_SITE_BACK));
        backtrace_from(fp, 2);
        return;
    }
    if (fp_on_stack(fp, h) && !in_text(((uintptr_t *)fp)[-1]) &&
        fp_on_stack(((uintptr_t *)fp)[-1], h) && in_text(tf->x[1])) {
        printk("  #1 0x%016lx\n", (unsigned long)(tf->x[1] - CALL_SITE_BACK));
        backtrace_from(((uintptr_t *)fp)[-1], 2);
        return;
    }
    backtrace_from(fp, 1);
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
    backtrace_after_trap(tf);
    poweroff(EXIT_PANIC);
}
