/*
 * kernel/crash.c - crash=KIND: break one rule of the kernel's map on
 * purpose (see kernel/crash.h).
 *
 *   text-write    store into the code of ktest_fail(): what a hostile lab
 *                 did to forge a test report; text is R+X, never W
 *   rodata-write  store into a string constant: rodata is R only
 *   exec-data     call a `ret` instruction copied into .data: data is
 *                 never X
 *   exec-ram      call into free RAM of the direct map: never X either
 *   recurse       recursion without end on the boot hart: the guard page
 *                 below its stack turns the overflow into a fault
 *   recurse-hart  the same on another hart (its own stack and guard)
 *   null          load through a NULL pointer: page 0 is not mapped
 *   two-locks     take node 0's heap lock, then node 1's: no path may hold
 *                 two node locks (docs/mm.md, "Locking"); debug builds
 *                 panic naming both nodes
 *   frametable-write  store into the frame table's zero section: what a
 *                 write to the entry of a frame whose section is not ready
 *                 does (mm/frametable.h); the panic names the rule
 *
 * Each one must end in a panic (exit status 2); returning from one is a
 * bug in the map (or, for two-locks, in the lock checks), and
 * crash_if_asked() says so in its own panic.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/hooks.h"
#include "board.h"
#include "crash.h"
#include "ktest.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"

#define RISCV_RET 0x00008067u      /* jalr x0, 0(ra) */
#define TEXT_WRITE_OFFSET 0x10     /* into the body, as a patch would go */
#define RECURSE_PAD 256            /* bytes of stack each level takes */
#define RAM_PAST_IMAGE (2UL << 20) /* exec-ram: this far past the image */

typedef void (*crash_fn)(void);

struct crash_kind {
    const char *name; /* the KIND of crash=KIND */
    crash_fn run;     /* does it; returns only if the map let it through */
};

static crash_fn chosen; /* the crash=KIND asked for, or NULL */
static uint32_t crash_code[4] __aligned(8) = {RISCV_RET}; /* in .data */
static volatile unsigned long recurse_depth;      /* how deep recurse() got */
static const char crash_constant[] = "read-only"; /* in .rodata */

static void text_write(void)
{
    *(volatile uint32_t *)((uintptr_t)ktest_fail + TEXT_WRITE_OFFSET) = 0;
}

static void rodata_write(void)
{
    *(volatile char *)(uintptr_t)crash_constant = 'R';
}

static void exec_data(void)
{
    crash_code[0] = RISCV_RET;
    __asm__ volatile("fence.i" ::: "memory");
    ((crash_fn)(uintptr_t)crash_code)();
}

static void exec_ram(void)
{
    ((crash_fn)(uintptr_t)(board_kernel_end() + RAM_PAST_IMAGE))();
}

/* Each level keeps RECURSE_PAD bytes live, so the stack really grows. */
static unsigned long recurse(unsigned long depth)
{
    volatile char pad[RECURSE_PAD];

    pad[0] = (char)depth;
    recurse_depth = depth;
    if (recurse_depth == ~0UL) /* never: keeps the recursion a real call */
        return pad[0];
    return recurse(depth + 1) + pad[0];
}

static void recurse_here(void)
{
    recurse(0);
}

static void recurse_work(void *arg)
{
    recurse(0);
}

static void recurse_hart(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        if (id == smp_hartid() || smp_run_on(id, recurse_work, NULL) != 0)
            continue;
        smp_wait(id); /* its panic powers the machine off */
        return;
    }
    printk("crash: recurse-hart needs a second hart online; boot with more "
           "harts (e.g. the 2node topology)\n");
}

static void load_null(void)
{
    (void)*(volatile unsigned long *)(uintptr_t)0;
}

/* The second mm_hook_lock() panics in debug builds (kernel/mm_hooks.c). */
static void two_locks(void)
{
    mm_hook_lock(0);
    mm_hook_lock(1);
    mm_hook_unlock(1); /* a release build: no check, so undo it */
    mm_hook_unlock(0);
    panic("crash: two-locks: hart %u held node 0's and node 1's heap locks "
          "at once and nothing caught it (release builds do not check)",
          smp_hartid());
}

/* An entry of a section that is not ready: a store to the zero section. */
static void frametable_write(void)
{
    struct page_info *pg = (struct page_info *)(uintptr_t)&frametable_zero_section
        [FRAMETABLE_SECTION_PAGES / 2];

    WRITE_ONCE(pg->count_info, PGC_CHECKED);
}

static const struct crash_kind kinds[] = {
    {"text-write", text_write}, {"rodata-write", rodata_write},
    {"exec-data", exec_data},   {"exec-ram", exec_ram},
    {"recurse", recurse_here},  {"recurse-hart", recurse_hart},
    {"null", load_null},        {"two-locks", two_locks},
    {"frametable-write", frametable_write},
};

int crash_set(const char *value, bool has_value, const char **why)
{
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        if (strcmp(kinds[i].name, value) == 0) {
            chosen = kinds[i].run;
            return 0;
        }
    }
    *why = has_value && value[0] ? "no such kind of crash" : "needs a value";
    return -EINVAL;
}

void crash_if_asked(void)
{
    if (!chosen)
        return;
    printk("crash: on purpose, as the boot arguments asked\n");
    chosen();
    if (chosen == recurse_hart)
        return; /* it said why it could not */
    panic("crash_if_asked: the fault did not happen: the page table let it "
          "through");
}
