/*
 * kernel/monitor_offline.c - offlining from outside mm/: the monitor's
 * `offline MFN [broken]`, `online MFN` and `query MFN`, and the boot
 * argument badpages=MFN[-MFN],... (frames of bad RAM).
 *
 * mm/offline.c holds the rules (docs/mm.md draws the states); this file
 * turns its error codes into one line each for a person. badpages= is
 * applied after the frame table exists and before end_boot_allocator():
 * every frame is still uninitialised then, so offline_page() only marks
 * it, and init_heap_pages() parks it as broken instead of handing it
 * over. A bad frame that the boot allocator already gave out (the frame
 * table, the kernel image) is marked as well, and is parked when that
 * memory is freed, if ever.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/offline.h"
#include "../platform/poweroff.h"
#include "bootargs.h"
#include "monitor.h"
#include "printk.h"

/* One line for an error of mm/offline.h, from command `cmd`. */
static void print_error(const char *cmd, mfn_t mfn, int err)
{
    switch (err) {
    case -ERANGE:
        printk("%s: MFN 0x%lx is outside the frame table [0x%lx, 0x%lx); "
               "nothing done\n",
               cmd, mfn, frametable_first(), frametable_end());
        break;
    case -EFAULT:
        printk("%s: frame 0x%lx is not RAM (a hole between banks); nothing "
               "done\n",
               cmd, mfn);
        break;
    case -EBUSY:
        printk("%s: frame 0x%lx is the heap's own (MFN 0, or a node heap's "
               "structures): it stays as it is\n",
               cmd, mfn);
        break;
    case -EIO:
        printk("%s: frame 0x%lx is broken: bad RAM never comes back\n", cmd,
               mfn);
        break;
    case -ENOSYS:
        printk("%s: offlining is not implemented yet (lab offline)\n", cmd);
        break;
    default:
        printk("%s: frame 0x%lx: error %d\n", cmd, mfn, err);
        break;
    }
}

/* "query: frame 0xMFN is STATE" (also after offline and online). */
static void print_state(const char *cmd, mfn_t mfn)
{
    uint64_t status;

    if (query_page_offline(mfn, &status) != 0)
        return;
    /* A free frame not zeroed yet reads "free (needs scrub)". */
    printk("%s: frame 0x%lx is %s\n", cmd, mfn, offline_status_text(status));
}

/* Parse `CMD MFN ...`; false (and a line) if the MFN is not a number. */
static bool read_mfn_arg(int argc, char **argv, const char *usage,
                         unsigned long *mfn)
{
    return monitor_need(argc, argv, 2, usage) &&
           monitor_number(argv, 1, "MFN", ~0UL, mfn);
}

/*
 * offline_page() writes the frame's entry even while the frame is pending
 * (it marks it, for init_heap_pages() to park): its frame-table section
 * must be ready first (mm/frametable.h). A frame outside the table is
 * left for offline_page() to refuse.
 */
static void ready_entry(mfn_t mfn)
{
    if (frametable_covers(mfn))
        frametable_make_ready(mfn, mfn + 1);
}

unsigned int monitor_cmd_offline(int argc, char **argv)
{
    unsigned long mfn;
    bool broken = false;
    int err;

    if (!read_mfn_arg(argc, argv, "offline MFN [broken]", &mfn))
        return EXIT_BAD_ARGS;
    if (argc > 3 || (argc == 3 && strcmp(argv[2], "broken") != 0)) {
        printk("offline: usage: offline MFN [broken]; '%s' is not "
               "'broken'\n",
               argv[argc - 1]);
        return EXIT_BAD_ARGS;
    }
    broken = argc == 3;
    ready_entry(mfn);
    err = offline_page(mfn, broken);
    if (err) {
        print_error("offline", mfn, err);
        return EXIT_BAD_ARGS;
    }
    print_state("offline", mfn);
    return EXIT_PASS;
}

unsigned int monitor_cmd_online(int argc, char **argv)
{
    unsigned long mfn;
    int err;

    if (!read_mfn_arg(argc, argv, "online MFN", &mfn))
        return EXIT_BAD_ARGS;
    err = online_page(mfn);
    if (err) {
        print_error("online", mfn, err);
        return EXIT_BAD_ARGS;
    }
    print_state("online", mfn);
    return EXIT_PASS;
}

unsigned int monitor_cmd_query(int argc, char **argv)
{
    unsigned long mfn;
    uint64_t status;
    int err;

    if (!read_mfn_arg(argc, argv, "query MFN", &mfn))
        return EXIT_BAD_ARGS;
    err = query_page_offline(mfn, &status);
    if (err) {
        print_error("query", mfn, err);
        return EXIT_BAD_ARGS;
    }
    print_state("query", mfn);
    return EXIT_PASS;
}

/* badpages=: mark each listed frame broken; one line per range. */
void badpages_apply(void)
{
    for (unsigned int i = 0; i < bootargs.nr_badpages; i++) {
        mfn_t s = bootargs.badpages[i].s, e = bootargs.badpages[i].e;
        unsigned long marked = 0;
        bool said = false; /* one error line per range */

        for (mfn_t mfn = s; mfn < e; mfn++) {
            int err = (ready_entry(mfn), offline_page(mfn, true));

            if (err == 0)
                marked++;
            else if (!said)
                print_error("badpages", mfn, err), said = true;
            if (err == -ERANGE || err == -ENOSYS)
                break;
        }
        printk("badpages: [0x%lx, 0x%lx]: %lu of %lu frames marked broken, "
               "never to be used\n",
               s, e - 1, marked, e - s);
    }
}
