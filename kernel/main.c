/*
 * kernel/main.c - boot, from the first C to the console.
 *
 * kernel/entry.S calls kernel_main() on the boot hart with a stack, a
 * zeroed .bss and tp pointing at the hart's struct hart. Each line below
 * is one step; the comment says what it is for. The order matters: the
 * console first (to report anything that goes wrong), the device tree
 * before anything that needs the machine, the boot allocator before the
 * frame table.
 *
 * The other harts start early, before the heap exists: they need nothing
 * from it until a test gives them work, and parked in our idle loop (wfi,
 * woken only by an IPI) they leave the host's CPUs to the boot hart. Left
 * waiting inside the firmware instead, they made the boot hart's heap
 * set-up three to five times slower under QEMU (16 GiB, 8 harts: about
 * 1.2 s against 0.3 s, release build).
 */
#include "../platform/poweroff.h"
#include "board.h"
#include "bootargs.h"
#include "crash.h"
#include "fallback.h"
#include "initrd.h"
#include "ktest.h"
#include "liveupdate.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"
#include "scrub_idle.h"
#include "smp.h"
#include "vm.h"

void kernel_main(uint32_t hartid, paddr_t dtb_pa, paddr_t lu_pa,
                 uint64_t lu_magic) __noreturn;

/* The tree's UART and test device, or the fallback table's. */
static void devices_from_tree(const struct machine *m)
{
    if (m->uart_base)
        console_use_uart(m->uart_base, m->uart_reg_shift);
    else
        console_use_uart(FALLBACK_UART_BASE, FALLBACK_UART_REG_SHIFT);
    poweroff_init(m->poweroff_base ? m->poweroff_base : FALLBACK_TEST_BASE);
}

static void print_banner(uint32_t hartid, paddr_t dtb_pa)
{
    printk("Numbat: booting on hart %u, device tree at 0x%lx\n", hartid,
           (unsigned long)dtb_pa);
}

/* After boot: the tests the boot arguments asked for, or the console. */
static void __noreturn run_tests_or_console(void)
{
    if (bootargs.ktest_list) {
        ktest_list();
        poweroff(EXIT_PASS);
    }
    if (bootargs.ktest) /* the runner starts deferred init when it wants */
        lu_after_tests(ktest_run(bootargs.ktest_glob)); /* lu_chain= */
    mm_boot_start_deferred(); /* the other harts hand over the rest */
    monitor_run();
}

void kernel_main(uint32_t hartid, paddr_t dtb_pa, paddr_t lu_pa,
                 uint64_t lu_magic)
{
    lu_save_image();                   /* .data as loaded, for a live update */
    poweroff_init(FALLBACK_TEST_BASE); /* early panics exit with 2 too */
    print_banner(hartid, dtb_pa);      /* through SBI: no UART known yet */
    board_read_tree(dtb_pa);           /* the machine; a bad tree panics */
    devices_from_tree(board());        /* console UART and exit device */
    lu_boot_intake(lu_pa, lu_magic);   /* a live update's record; bad: panic */
    smp_set_boot_node(board());        /* this hart's NUMA node */
    board_reserve_boot_ranges();       /* kernel image and blob not free */
    lu_reserve_preserved();            /* and a live update's preserved memory */
    board_print();                     /* machine, bank, reserved, ... */
    vm_init(board());                  /* paging on: text R+X, data never X */
    bootargs_parse(lu_bootargs(board()->bootargs)); /* ktest=...; bad: said */
    smp_start_secondaries(board());    /* the other harts park in our idle loop */
    crash_if_asked();                  /* crash=...: a fault on purpose */
    mm_boot_init();                    /* boot allocator, frame table */
    badpages_apply();                  /* badpages=...: marked, never used */
    mm_boot_end();                     /* the heap takes every free frame */
    lu_adopt();                        /* inherited frames: lu_pages= policy */
    mm_boot_print_heap();              /* heap: per node and zone */
    initrd_release();                  /* read the initrd, free (or keep) it */
    scrub_idle_start();                /* idle harts zero free memory (scrub=) */
    run_tests_or_console();            /* ktest=... or the monitor */
}
