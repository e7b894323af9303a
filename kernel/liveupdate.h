/*
 * kernel/liveupdate.h - handing the running machine to a new kernel image
 * with its in-use memory (see kernel/liveupdate.c and docs/liveupdate.md).
 */
#ifndef KERNEL_LIVEUPDATE_H
#define KERNEL_LIVEUPDATE_H

#include <numbat/compiler.h>
#include <numbat/lu_record.h>
#include <numbat/types.h>

/* Which image the hand-over jumps into. */
enum lu_image {
    LU_IMAGE_SELF,   /* this kernel's own pristine copy */
    LU_IMAGE_INITRD, /* a raw image given to QEMU as the initrd */
};

/* A deliberate fault in the record, for the tests of the refusals. */
enum lu_break {
    LU_BREAK_NONE,
    LU_BREAK_CORRUPT, /* one byte changed after the checksum */
    LU_BREAK_VERSION, /* version 99 */
    LU_BREAK_OVERLAP, /* a range over the new kernel's image */
    LU_BREAK_MISSING, /* a3 says "hand-over", but no record at a2 */
};

/* The policy of lu_pages=: what the new kernel makes of inherited frames. */
enum lu_policy {
    LU_POLICY_UNINIT, /* stay uninitialised until freed (the default) */
    LU_POLICY_INUSE,  /* initialised in use at boot (mm/inherit.c) */
};

/* Boot, in kernel_main's order. */
void lu_save_image(void); /* first: keep .data's first contents */
void lu_boot_intake(paddr_t record_pa, uint64_t magic); /* a bad record panics */
const char *lu_bootargs(const char *tree_args); /* the record's, or the tree's */
void lu_reserve_preserved(void); /* preserved ranges out of the boot allocator */
void lu_adopt(void); /* after the heap exists: the policy, `held`, the record */

/* Timer ticks (FALLBACK_TIMEBASE_HZ) lu_adopt() spent at boot (the bench). */
uint64_t lu_adopt_ticks(void);

/* What was inherited at boot: generation 0 and no ranges after a cold boot. */
unsigned int lu_generation(void);
const struct lu_record *lu_inherited(void);
enum lu_policy lu_policy(void);
const char *lu_policy_name(enum lu_policy p);

/*
 * Preserve frames [s, e) for `owner` across the next hand-over (order:
 * the block's order for LU_OWNER_MONITOR). 0, or -ENOSPC when
 * LU_MAX_RANGES ranges are kept already, -EEXIST when it overlaps a kept
 * range, -EINVAL for an empty range or one with a free frame in it.
 */
int lu_keep(mfn_t s, mfn_t e, uint32_t owner, uint32_t order);

/*
 * Stop preserving whatever of [s, e) is kept (it is being freed). What
 * is left of a range on either side stays kept, as a range of its own
 * (as long as LU_MAX_RANGES allows: a range cut in two needs one more).
 */
void lu_forget(mfn_t s, mfn_t e);

/* The ranges kept for the next hand-over. */
unsigned int lu_kept(const struct lu_range **ranges);

/*
 * Free preserved or inherited frames [s, e) to the heap, in the largest
 * aligned blocks of at most MAX_ORDER that stay on one node, and stop
 * preserving them. Returns the frames freed.
 */
unsigned long lu_release(mfn_t s, mfn_t e);

/* A seeded pattern in frames [mfn, mfn + 2^order), and its check. */
void lu_fill(mfn_t mfn, unsigned int order, uint64_t seed);
/* True if every word holds the pattern; else *bad_pa is the first that does not. */
bool lu_verify(mfn_t mfn, unsigned int order, uint64_t seed, paddr_t *bad_pa);

/*
 * Hand the machine over: stop the other harts, write the record, jump
 * into `image` with boot arguments `args` (NULL or "": the device tree's). Returns only
 * when it cannot start, with a negative code after printing one line that
 * says why (nothing has been stopped then).
 */
int lu_handover(enum lu_image image, const char *args, enum lu_break brk);

/*
 * After a ktest run: with lu_chain=N and fewer than N hand-overs so far,
 * a run that passed hands over to this kernel's own image (the first
 * kernel, when boot kept the initrd with initrd=keep: to the initrd),
 * alternating the policy; otherwise power off with the run's status.
 */
void lu_after_tests(unsigned int status) __noreturn;

#endif /* KERNEL_LIVEUPDATE_H */
