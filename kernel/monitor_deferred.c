/*
 * kernel/monitor_deferred.c - the monitor's `settle`: wait until deferred
 * init (mm/deferred.c, kernel/mm_boot.c) has handed every pending frame to
 * the heap, and say how long the hand-over took.
 *
 *   numbat> settle
 *   settle: 3923968 pages (14 GiB) handed over in 61.250 ms
 *
 * The time runs from the moment the workers started (right after the
 * boot's heap lines; with deferred_init=hold, this settle) to the end of
 * the last chunk, in the timebase's ticks (10 MHz on QEMU virt); a second
 * settle prints the same time. `ninja bench` reads this line.
 */
#include "../mm/deferred.h"
#include "../platform/poweroff.h"
#include "fallback.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"

unsigned int monitor_cmd_settle(int argc, char **argv)
{
    unsigned long pages = mm_boot_stats()->pending_pages;
    uint64_t ticks, us;
    char size[24];

    (void)argv;
    if (argc != 1) {
        printk("settle: usage: settle (it takes no arguments)\n");
        return EXIT_BAD_ARGS;
    }
    if (pages == 0) {
        printk("settle: nothing was deferred (deferred_init=%s)\n",
               mm_boot_deferred_mode() == DEFERRED_OFF ? "off" : "on");
        return EXIT_PASS;
    }
    ticks = mm_boot_settle();
    us = ticks / (FALLBACK_TIMEBASE_HZ / 1000000);
    format_size(size, sizeof(size), (uint64_t)pages * PAGE_SIZE);
    printk("settle: %lu pages (%s) handed over in %lu.%03lu ms\n", pages, size,
           (unsigned long)(us / 1000), (unsigned long)(us % 1000));
    return EXIT_PASS;
}
