/*
 * kernel/monitor_lu.c - live update at the prompt: `keep`, `fill`,
 * `verify` and `liveupdate` (docs/liveupdate.md).
 *
 *   alloc 4                         a block, now in `held`
 *   fill 0x87f00 4 7                write a pattern seeded with 7 into it
 *   keep 0x87f00 4                  preserve it over the next hand-over
 *   liveupdate lu_pages=inuse       hand over to this kernel's own image
 *   ... the new kernel boots ...
 *   held                            the block is still held
 *   verify 0x87f00 4 7              and still holds the pattern
 *   free 0x87f00 4                  back to the new kernel's heap
 *
 * Every command checks its block against the `held` table first, so a
 * typo is one line and never a wild write.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/heap.h"
#include "../platform/poweroff.h"
#include "liveupdate.h"
#include "monitor.h"
#include "printk.h"

/* Read MFN ORDER at argv[1], argv[2]; it must be a live held block. */
static bool held_block_args(char **argv, unsigned long *mfn,
                            unsigned long *order)
{
    if (!monitor_number(argv, 1, "MFN", ~0UL, mfn) ||
        !monitor_number(argv, 2, "order", 63, order))
        return false;
    if (!monitor_held_live(*mfn, (unsigned int)*order)) {
        printk("%s: 0x%lx order %lu is not a block the monitor holds (see "
               "`held`); nothing done\n",
               argv[0], *mfn, *order);
        return false;
    }
    return true;
}

unsigned int monitor_cmd_keep(int argc, char **argv)
{
    unsigned long mfn, order;
    int err;

    if (!monitor_need(argc, argv, 3, "keep MFN ORDER") ||
        !held_block_args(argv, &mfn, &order))
        return EXIT_BAD_ARGS;
    err = lu_keep(mfn, mfn + (1UL << order), LU_OWNER_MONITOR,
                  (unsigned int)order);
    if (err == -EEXIST) {
        printk("keep: [0x%lx, 0x%lx) is kept already\n", mfn,
               mfn + (1UL << order));
        return EXIT_PASS;
    }
    if (err) {
        printk("keep: cannot keep [0x%lx, 0x%lx): %s; nothing done\n", mfn,
               mfn + (1UL << order),
               err == -ENOSPC ? "LU_MAX_RANGES ranges are kept already"
                              : "not a block in use");
        return EXIT_BAD_ARGS;
    }
    printk("keep: [0x%lx, 0x%lx) order %lu preserved over the next "
           "`liveupdate`\n",
           mfn, mfn + (1UL << order), order);
    return EXIT_PASS;
}

unsigned int monitor_cmd_fill(int argc, char **argv)
{
    unsigned long mfn, order, seed;

    if (!monitor_need(argc, argv, 4, "fill MFN ORDER SEED") ||
        !held_block_args(argv, &mfn, &order) ||
        !monitor_number(argv, 3, "seed", ~0UL, &seed))
        return EXIT_BAD_ARGS;
    lu_fill(mfn, (unsigned int)order, seed);
    printk("fill: [0x%lx, 0x%lx) filled with pattern %lu\n", mfn,
           mfn + (1UL << order), seed);
    return EXIT_PASS;
}

unsigned int monitor_cmd_verify(int argc, char **argv)
{
    unsigned long mfn, order, seed;
    paddr_t bad;

    if (!monitor_need(argc, argv, 4, "verify MFN ORDER SEED") ||
        !held_block_args(argv, &mfn, &order) ||
        !monitor_number(argv, 3, "seed", ~0UL, &seed))
        return EXIT_BAD_ARGS;
    if (!lu_verify(mfn, (unsigned int)order, seed, &bad)) {
        printk("verify: [0x%lx, 0x%lx) differs from pattern %lu at 0x%lx\n",
               mfn, mfn + (1UL << order), seed, (unsigned long)bad);
        return EXIT_TEST_FAIL;
    }
    printk("verify: [0x%lx, 0x%lx) holds pattern %lu: intact\n", mfn,
           mfn + (1UL << order), seed);
    return EXIT_PASS;
}

/* image=... and break=... words; false (and a line) for a bad value. */
static bool read_lu_option(const char *w, enum lu_image *image,
                           enum lu_break *brk, bool *taken)
{
    static const char *const breaks[] = {"none", "corrupt", "version",
                                         "overlap", "missing"};

    *taken = true;
    if (strcmp(w, "image=self") == 0) {
        *image = LU_IMAGE_SELF;
        return true;
    }
    if (strcmp(w, "image=initrd") == 0) {
        *image = LU_IMAGE_INITRD;
        return true;
    }
    if (strncmp(w, "break=", 6) == 0) {
        for (unsigned int i = 0; i < ARRAY_SIZE(breaks); i++)
            if (strcmp(w + 6, breaks[i]) == 0) {
                *brk = (enum lu_break)i;
                return true;
            }
        printk("liveupdate: bad '%s': break= takes corrupt, version, overlap "
               "or missing; nothing done\n",
               w);
        return false;
    }
    if (strncmp(w, "image=", 6) == 0) {
        printk("liveupdate: bad '%s': image= takes self or initrd; nothing "
               "done\n",
               w);
        return false;
    }
    *taken = false;
    return true;
}

unsigned int monitor_cmd_liveupdate(int argc, char **argv)
{
    enum lu_image image = LU_IMAGE_SELF;
    enum lu_break brk = LU_BREAK_NONE;
    char args[LU_BOOTARGS_LEN] = "";
    size_t n = 0;

    for (int i = 1; i < argc; i++) {
        bool taken;

        if (!read_lu_option(argv[i], &image, &brk, &taken))
            return EXIT_BAD_ARGS;
        if (taken)
            continue;
        n += (size_t)snprintf(args + n, n < sizeof(args) ? sizeof(args) - n : 0,
                              "%s%s", n ? " " : "", argv[i]);
        if (n >= sizeof(args)) {
            printk("liveupdate: boot arguments longer than %u bytes; nothing "
                   "done\n",
                   LU_BOOTARGS_LEN - 1);
            return EXIT_BAD_ARGS;
        }
    }
    lu_handover(image, args, brk); /* returns only when it cannot start */
    return EXIT_BAD_ARGS;
}
