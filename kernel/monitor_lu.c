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

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/offline.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "bootargs.h"
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

/* ---- bad RAM: what the record does not carry --------------------------- */

/* True if any node has frames that are, or will be, broken. */
static bool any_broken(void)
{
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (offline_nr_broken(node) || offline_nr_pending(node))
            return true;
    return false;
}

/* True if the boot arguments `args` have a word that starts with `key`. */
static bool has_arg(const char *args, const char *key)
{
    size_t len = strlen(key);

    for (const char *p = args; *p; p++)
        if ((p == args || p[-1] == ' ') && strncmp(p, key, len) == 0)
            return true;
    return false;
}

static bool is_bad(mfn_t m)
{
    return mfn_valid(m) && page_has_flag(mfn_to_page(m), PGC_BROKEN);
}

/*
 * The record carries preserved memory, not page states (docs/liveupdate.md),
 * so the new kernel does not know which frames are bad RAM here: it would
 * hand them out. Say so before the hand-over, with the badpages= value
 * that keeps them out - unless the boot arguments already give one.
 */
static void warn_bad_ram(const char *args)
{
    char list[LU_BOOTARGS_LEN] = "";
    size_t n = 0;
    unsigned int nr = 0;
    unsigned long frames = 0, left_out = 0;

    if (has_arg(args, "badpages=") || !any_broken())
        return;
    for (mfn_t s = frametable_first(); s < frametable_end(); s++) {
        mfn_t e = s; /* the run of bad frames [s, e] */
        size_t room = sizeof(list) - n;
        int len;

        if (!is_bad(s))
            continue;
        while (e + 1 < frametable_end() && is_bad(e + 1))
            e++;
        frames += e - s + 1;
        len = s == e ? snprintf(list + n, room, "%s0x%lx", nr ? "," : "", s)
                     : snprintf(list + n, room, "%s0x%lx-0x%lx",
                                nr ? "," : "", s, e);
        if (nr < BADPAGES_MAX && (size_t)len < room) {
            n += (size_t)len;
            nr++;
        } else {
            list[n] = '\0'; /* a cut-off range is not printed */
            left_out++;
        }
        s = e;
    }
    if (!frames)
        return;
    printk("liveupdate: %lu frames here are bad RAM, and the record does not "
           "carry them: the new kernel will use them unless its boot "
           "arguments say badpages=%s",
           frames, list);
    if (left_out)
        printk(" (and %lu more ranges: badpages= takes %u)", left_out,
               BADPAGES_MAX);
    printk("\n");
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
    warn_bad_ram(args);
    lu_handover(image, args, brk); /* returns only when it cannot start */
    return EXIT_BAD_ARGS;
}
