/*
 * kernel/liveupdate.c - live update: hand the running machine, with the
 * memory its owners still use, to a new kernel image without a reboot.
 *
 * The old kernel (lu_handover):
 *   1. checks that the new image can be placed (its own pristine copy, or
 *      a raw image kept as the initrd) and that every other hart is idle;
 *   2. writes the hand-over record (include/numbat/lu_record.h) into a
 *      fresh heap frame: its identity and allocator rules, the boot
 *      arguments for the new kernel, and the preserved ranges [s, e)
 *      with their owners (`keep`, lu_keep());
 *   3. copies the trampoline (kernel/lu_jump.S) into another heap frame,
 *      stops the other harts through SBI HSM, and jumps: paging off (the
 *      trampoline runs at its physical address, where W^X no longer
 *      applies), the image copied into place, then the new kernel's
 *      _start with a0 = this hart, a1 = the device tree, a2 = the record,
 *      a3 = LU_HANDOVER_MAGIC.
 *
 * The pristine copy: the kernel's text, read-only data and symbol table
 * never change at run time (W^X maps them read-only), so the running
 * image is pristine except .data (and .bss, which the new kernel's entry
 * zeroes). lu_save_image() copies .data as the very first act of
 * kernel_main, before anything writes it, into a buffer in .bss; the
 * hand-over only has to copy it back. The buffer is part of the image,
 * which the boot allocator never gives out, so nothing overwrites it.
 *
 * The new kernel (lu_boot_intake, lu_reserve_preserved, lu_adopt):
 *   - a3 != LU_HANDOVER_MAGIC: a cold boot, nothing to do;
 *   - otherwise the record must be there and exactly right, and no
 *     preserved range may overlap the new image, the device tree, the
 *     record or memory that is not RAM: anything else is a panic that
 *     names the fault. A record is never used half-way;
 *   - the preserved ranges and the record become reserved ranges, so the
 *     boot allocator keeps them out as it does the initrd: their contents
 *     stay intact and they stay in use for their owner;
 *   - once the heap exists, policy lu_pages=inuse initialises them in use
 *     (mm/inherit.c); lu_pages=uninit leaves them uninitialised, and the
 *     first free takes them through init_heap_pages(). The monitor's
 *     blocks go back into its `held` table; the record frame is freed.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/inherit.h"
#include "../platform/poweroff.h"
#include "../platform/sbi.h"
#include "board.h"
#include "bootargs.h"
#include "initrd.h"
#include "liveupdate.h"
#include "monitor.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"

#define LU_DATA_MAX (64 * 1024) /* room for .data's first contents */
#define LU_STOP_TIMEOUT_MS 1000

/*
 * Who this kernel is, for the record. The "old" build (configure.py's
 * lu-images, -DNUMBAT_OLD_RULES) differs in MAX_ORDER only: both exclude
 * MFN 0, and QEMU's virt machine has no RAM there to show a difference,
 * so a kernel that gave MFN 0 out is staged on the host simulator
 * (tests/host/test_lu_handover.c).
 */
#ifdef NUMBAT_OLD_RULES
#define LU_KERNEL_ID "numbat-old (MAX_ORDER 20)"
#else
#define LU_KERNEL_ID "numbat (MAX_ORDER 18)"
#endif
#define LU_MFN0_RULE LU_MFN0_EXCLUDED

extern char _start[], _end[], __data_start[], __bss_start[]; /* kernel.ld */
extern uint32_t boot_claimed;                  /* kernel/entry.S */
extern char lu_tramp_start[], lu_tramp_end[]; /* kernel/lu_jump.S */

/* What kernel/lu_jump.S loads into registers before it jumps. */
struct lu_jump_args {
    uint64_t tramp; /* the trampoline's frame */
    uint64_t a[8];  /* a0..a7: hart, tree, record, magic, dst, src, len, entry */
};
void lu_jump(const struct lu_jump_args *j) __noreturn;

static uint8_t data_copy[LU_DATA_MAX] __aligned(16); /* .data as loaded */
static struct lu_record inherited;     /* the record read at boot */
static paddr_t inherited_pa;           /* where it was; 0 after a cold boot */
static struct lu_range kept[LU_MAX_RANGES]; /* preserved at the next hand-over */
static unsigned int nr_kept;
static uint64_t adopt_ticks; /* timer ticks lu_adopt() spent on the policy */

static uint64_t ticks(void)
{
    uint64_t t;

    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

uint64_t lu_adopt_ticks(void)
{
    return adopt_ticks;
}

/* ---- boot ---------------------------------------------------------------- */

void lu_save_image(void)
{
    size_t n = (size_t)(__bss_start - __data_start);

    if (n > sizeof(data_copy))
        panic("lu_save_image: .data is %zu bytes, more than LU_DATA_MAX "
              "(%u, kernel/liveupdate.c): raise it",
              n, LU_DATA_MAX);
    memcpy(data_copy, __data_start, n);
    /* entry.S claimed the boot before we ran: the copy must not say so */
    memset(data_copy + ((char *)&boot_claimed - __data_start), 0,
           sizeof(boot_claimed));
}

unsigned int lu_generation(void)
{
    return inherited_pa ? inherited.h.generation : 0;
}

const struct lu_record *lu_inherited(void)
{
    return &inherited;
}

enum lu_policy lu_policy(void)
{
    return bootargs.lu_pages_inuse ? LU_POLICY_INUSE : LU_POLICY_UNINIT;
}

const char *lu_policy_name(enum lu_policy p)
{
    return p == LU_POLICY_INUSE ? "inuse" : "uninit";
}

/* True if every frame of [s, e) lies in a bank of this machine. */
static bool all_ram(mfn_t s, mfn_t e)
{
    const struct machine *m = board();

    while (s < e) {
        bool found = false;

        for (unsigned int i = 0; i < m->nr_banks && !found; i++) {
            mfn_t bs = pa_to_mfn(ALIGN_UP(m->banks[i].base, PAGE_SIZE));
            mfn_t be = pa_to_mfn(m->banks[i].base + m->banks[i].size);

            if (s >= bs && s < be) {
                s = be;
                found = true;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

/* Frames [*s, *e) that hold bytes of [pa, pa + size). */
static void frames_of(paddr_t pa, uint64_t size, mfn_t *s, mfn_t *e)
{
    *s = pa_to_mfn(pa);
    *e = pa_to_mfn(ALIGN_UP(pa + size, PAGE_SIZE));
}

/* A range that overlaps something it must not: a named panic. */
static void refuse_overlap(const char *what, mfn_t s, mfn_t e)
{
    int i = lu_record_overlap(&inherited, s, e);

    if (i < 0)
        return;
    panic("lu_boot_intake: hand-over record refused: preserved range "
          "[0x%lx, 0x%lx) of owner %s overlaps %s [0x%lx, 0x%lx); cold-boot "
          "the machine instead",
          (unsigned long)inherited.ranges[i].s,
          (unsigned long)inherited.ranges[i].e,
          lu_owner_name(inherited.ranges[i].owner), what, (unsigned long)s,
          (unsigned long)e);
}

/* Where the record itself sits: in RAM, clear of the image and the tree. */
static void check_record_place(paddr_t pa)
{
    mfn_t s, e, ks, ke, ds, de;

    frames_of(pa, LU_RECORD_MAX_BYTES, &s, &e);
    frames_of(board_kernel_start(), board_kernel_end() - board_kernel_start(),
              &ks, &ke);
    frames_of(board_dtb_pa(), board_dtb_size(), &ds, &de);
    if ((pa & 7) || !all_ram(s, e) || (s < ke && ks < e) || (s < de && ds < e))
        panic("lu_boot_intake: hand-over record at 0x%lx refused: not an "
              "8-byte aligned address in RAM clear of the kernel image and "
              "the device tree (a2 is bad); cold-boot the machine instead",
              (unsigned long)pa);
}

void lu_boot_intake(paddr_t pa, uint64_t magic)
{
    const char *why = "no reason given";
    mfn_t s, e;
    int err;

    if (magic != LU_HANDOVER_MAGIC)
        return; /* a cold boot */
    check_record_place(pa);
    err = lu_record_read((const void *)(uintptr_t)pa, LU_RECORD_MAX_BYTES,
                         &inherited, &why);
    if (err)
        panic("lu_boot_intake: hand-over record at 0x%lx refused: %s (%s); "
              "cold-boot the machine instead",
              (unsigned long)pa, why, errno_name(err));
    inherited_pa = pa;
    frames_of(board_kernel_start(), board_kernel_end() - board_kernel_start(),
              &s, &e);
    refuse_overlap("the kernel image", s, e);
    frames_of(board_dtb_pa(), board_dtb_size(), &s, &e);
    refuse_overlap("the device tree", s, e);
    frames_of(pa, LU_RECORD_MAX_BYTES, &s, &e);
    refuse_overlap("the record itself", s, e);
    for (unsigned int i = 0; i < inherited.h.nr_ranges; i++)
        if (!all_ram(inherited.ranges[i].s, inherited.ranges[i].e))
            panic("lu_boot_intake: hand-over record refused: preserved range "
                  "[0x%lx, 0x%lx) is not all RAM on this machine; cold-boot "
                  "the machine instead",
                  (unsigned long)inherited.ranges[i].s,
                  (unsigned long)inherited.ranges[i].e);
}

const char *lu_bootargs(const char *tree_args)
{
    if (inherited_pa && inherited.h.bootargs[0])
        return inherited.h.bootargs;
    return tree_args;
}

static void reserve(paddr_t base, uint64_t size, enum reserve_kind kind)
{
    int err = board_add_reserved(base, size, kind);

    if (err)
        panic("lu_reserve_preserved: cannot reserve [0x%lx, 0x%lx): %s "
              "(raise MACHINE_MAX_RESERVED)",
              (unsigned long)base, (unsigned long)(base + size),
              errno_name(err));
}

void lu_reserve_preserved(void)
{
    if (!inherited_pa)
        return;
    reserve(ALIGN_DOWN(inherited_pa, PAGE_SIZE), PAGE_SIZE, RESERVE_LU_RECORD);
    for (unsigned int i = 0; i < inherited.h.nr_ranges; i++)
        reserve(mfn_to_pa(inherited.ranges[i].s),
                mfn_to_pa(inherited.ranges[i].e - inherited.ranges[i].s),
                RESERVE_PRESERVED);
}

static unsigned long preserved_pages(const struct lu_range *r, unsigned int n)
{
    unsigned long pages = 0;

    for (unsigned int i = 0; i < n; i++)
        pages += r[i].e - r[i].s;
    return pages;
}

void lu_adopt(void)
{
    const struct lu_record_header *h = &inherited.h;

    uint64_t t0 = ticks();

    if (!inherited_pa)
        return;
    for (unsigned int i = 0; i < h->nr_ranges; i++) {
        const struct lu_range *r = &inherited.ranges[i];

        if (lu_policy() == LU_POLICY_INUSE)
            inherit_frames_inuse(r->s, r->e);
        kept[nr_kept++] = *r; /* preserved again until freed */
        if (r->owner == LU_OWNER_MONITOR)
            monitor_held_adopt(r->s, r->order);
    }
    adopt_ticks = ticks() - t0;
    free_heap_pages(pa_to_mfn(inherited_pa), 0); /* read: the record's frame */
    printk("liveupdate: generation %u from \"%s\" (MAX_ORDER %u, MFN 0 %s): "
           "%u ranges, %lu pages preserved, policy %s\n",
           h->generation, h->kernel_id, h->max_order,
           h->mfn0_rule == LU_MFN0_GIVEN_OUT ? "given out" : "excluded",
           h->nr_ranges, preserved_pages(inherited.ranges, h->nr_ranges),
           lu_policy_name(lu_policy()));
}

/* ---- preserving -------------------------------------------------------- */

int lu_keep(mfn_t s, mfn_t e, uint32_t owner, uint32_t order)
{
    if (s >= e || !frametable_covers(s) || !frametable_covers(e - 1))
        return -EINVAL;
    for (mfn_t m = s; m < e; m++)
        if (page_state(mfn_to_page(m)) == PAGE_STATE_FREE)
            return -EINVAL;
    for (unsigned int i = 0; i < nr_kept; i++)
        if (kept[i].s < e && s < kept[i].e)
            return -EEXIST;
    if (nr_kept == LU_MAX_RANGES)
        return -ENOSPC;
    kept[nr_kept++] = (struct lu_range){s, e, owner, order};
    return 0;
}

void lu_forget(mfn_t s, mfn_t e)
{
    struct lu_range left[LU_MAX_RANGES];
    unsigned int n = 0;

    for (unsigned int i = 0; i < nr_kept; i++) {
        struct lu_range r = kept[i];

        if (r.e <= s || e <= r.s) { /* untouched */
            left[n++] = r;
            continue;
        }
        /* what is left on either side stays kept (no longer a block) */
        if (r.s < s && n < LU_MAX_RANGES)
            left[n++] = (struct lu_range){r.s, s, r.owner, 0};
        if (e < r.e && n < LU_MAX_RANGES)
            left[n++] = (struct lu_range){e, r.e, r.owner, 0};
    }
    memcpy(kept, left, n * sizeof(left[0]));
    nr_kept = n;
}

unsigned int lu_kept(const struct lu_range **ranges)
{
    *ranges = kept;
    return nr_kept;
}

/* The largest aligned block at s, of at most MAX_ORDER, inside [s, e). */
static unsigned int release_order(mfn_t s, mfn_t e)
{
    unsigned int order = 0;

    while (order < MAX_ORDER && IS_ALIGNED(s, (mfn_t)1 << (order + 1)) &&
           s + ((mfn_t)2 << order) <= e)
        order++;
    return order;
}

unsigned long lu_release(mfn_t s, mfn_t e)
{
    unsigned long n = 0;

    lu_forget(s, e);
    while (s < e) {
        mfn_t run_end = mm_hook_node_run_end(s, e); /* one node's frames */
        unsigned int order = release_order(s, run_end);

        free_heap_pages(s, order);
        n += (unsigned long)1 << order;
        s += (mfn_t)1 << order;
    }
    return n;
}

/* ---- the pattern ------------------------------------------------------- */

/* The word the pattern puts at physical address pa (a 64-bit mix). */
static uint64_t pattern_word(uint64_t seed, paddr_t pa)
{
    uint64_t x = seed ^ (pa * UINT64_C(0x9e3779b97f4a7c15));

    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    return x ^ (x >> 29);
}

void lu_fill(mfn_t mfn, unsigned int order, uint64_t seed)
{
    paddr_t s = mfn_to_pa(mfn), e = mfn_to_pa(mfn + ((mfn_t)1 << order));

    for (paddr_t pa = s; pa < e; pa += 8)
        *(volatile uint64_t *)(uintptr_t)pa = pattern_word(seed, pa);
}

bool lu_verify(mfn_t mfn, unsigned int order, uint64_t seed, paddr_t *bad_pa)
{
    paddr_t s = mfn_to_pa(mfn), e = mfn_to_pa(mfn + ((mfn_t)1 << order));

    for (paddr_t pa = s; pa < e; pa += 8) {
        if (*(volatile uint64_t *)(uintptr_t)pa != pattern_word(seed, pa)) {
            *bad_pa = pa;
            return false;
        }
    }
    return true;
}

/* ---- the hand-over ----------------------------------------------------- */

/* The new image: where it comes from and how many bytes go where. */
static int image_source(enum lu_image image, struct lu_jump_args *j)
{
    const struct initrd_info *in = initrd_info();

    if (image == LU_IMAGE_SELF) {
        j->a[4] = (uintptr_t)__data_start;
        j->a[5] = (uintptr_t)data_copy;
        j->a[6] = (uint64_t)(__bss_start - __data_start);
        return 0;
    }
    if (in->end <= in->start || in->fate != INITRD_KEPT) {
        printk("liveupdate: image=initrd needs an initrd kept in memory: boot "
               "with -initrd IMAGE.bin and initrd=keep; nothing done\n");
        return -ENOENT;
    }
    if (*(const uint32_t *)(uintptr_t)in->start != *(const uint32_t *)_start) {
        printk("liveupdate: the initrd does not start with _start's first "
               "instruction: not a raw Numbat image (give QEMU "
               "build/numbat.bin or build/numbat-old.bin); nothing done\n");
        return -EINVAL;
    }
    if (in->start < (paddr_t)(uintptr_t)_start + (in->end - in->start) + PAGE_SIZE) {
        printk("liveupdate: the initrd at 0x%lx lies where the new image goes "
               "(from 0x%lx); nothing done\n",
               (unsigned long)in->start, (unsigned long)(uintptr_t)_start);
        return -EINVAL;
    }
    j->a[4] = (uintptr_t)_start;
    j->a[5] = in->start;
    j->a[6] = ALIGN_UP(in->end - in->start, 8);
    return 0;
}

/* A heap frame for the record or the trampoline, clear of the new image. */
static mfn_t handover_frame(uint64_t image_bytes)
{
    mfn_t limit = pa_to_mfn(ALIGN_UP((uintptr_t)_start + image_bytes +
                                         (uint64_t)(_end - _start), PAGE_SIZE));

    for (int tries = 0; tries < 64; tries++) {
        mfn_t m = alloc_heap_pages(0, 0, NUMA_NO_NODE, 0);

        if (m == INVALID_MFN)
            return INVALID_MFN;
        if (m >= limit || m < pa_to_mfn((uintptr_t)_start))
            return m; /* the frames tried before stay in use: harmless */
    }
    return INVALID_MFN;
}

/* Fill in and write the record into frame mfn. */
static int write_record(mfn_t mfn, const char *args, enum lu_break brk)
{
    static struct lu_record r;
    uint8_t *p = (uint8_t *)(uintptr_t)mfn_to_pa(mfn);
    const char *why = "no reason given";
    long n;

    memset(&r, 0, sizeof(r));
    r.h.generation = lu_generation() + 1;
    r.h.max_order = MAX_ORDER;
    r.h.mfn0_rule = LU_MFN0_RULE;
    r.h.zone_rule = LU_ZONE_BIT_WIDTH;
    strlcpy(r.h.kernel_id, LU_KERNEL_ID, sizeof(r.h.kernel_id));
    strlcpy(r.h.bootargs, args ? args : "", sizeof(r.h.bootargs));
    r.h.nr_ranges = nr_kept;
    memcpy(r.ranges, kept, nr_kept * sizeof(kept[0]));
    if (brk == LU_BREAK_OVERLAP && nr_kept < LU_MAX_RANGES)
        r.ranges[r.h.nr_ranges++] = (struct lu_range){
            pa_to_mfn((uintptr_t)_start), pa_to_mfn((uintptr_t)_start) + 1,
            LU_OWNER_KTEST, 0};
    n = lu_record_write(p, PAGE_SIZE, &r, &why);
    if (n < 0) {
        printk("liveupdate: cannot write the record: %s; nothing done\n", why);
        return (int)n;
    }
    if (brk == LU_BREAK_CORRUPT)
        p[n - 1] ^= 0x40; /* after the checksum: the reader must notice */
    if (brk == LU_BREAK_VERSION)
        ((struct lu_record_header *)p)->version = 99;
    if (brk == LU_BREAK_MISSING)
        memset(p, 0, (size_t)n);
    return 0;
}

static void stop_this_hart(void *arg)
{
    (void)arg;
    sbi_hart_stop();
}

/* Stop every other online hart; false (with a line) if one will not. */
static bool stop_other_harts(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        struct hart *h = smp_hart(id);
        uint64_t limit = smp_deadline(LU_STOP_TIMEOUT_MS);

        if (id == smp_hartid() || !h->online)
            continue;
        if (smp_run_on(id, stop_this_hart, NULL) != 0) {
            printk("liveupdate: hart %u is busy and cannot be stopped\n", id);
            return false;
        }
        while (sbi_hart_status(id) != SBI_HSM_STOPPED)
            if (smp_past(limit)) {
                printk("liveupdate: hart %u did not stop within %u ms\n", id,
                       LU_STOP_TIMEOUT_MS);
                return false;
            }
        h->online = false;
    }
    return true;
}

/* Check that no other hart is running work, before anything is stopped. */
static bool others_idle(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        struct hart *h = smp_hart(id);

        if (id != smp_hartid() && h->online && h->work) {
            printk("liveupdate: hart %u is running work; nothing done\n", id);
            return false;
        }
    }
    return true;
}

int lu_handover(enum lu_image image, const char *args, enum lu_break brk)
{
    struct lu_jump_args j = {0};
    mfn_t rec, tramp;
    int err;

    if ((err = image_source(image, &j)) != 0)
        return err;
    if (args && strlen(args) >= LU_BOOTARGS_LEN) {
        printk("liveupdate: boot arguments longer than %u bytes; nothing "
               "done\n",
               LU_BOOTARGS_LEN - 1);
        return -E2BIG;
    }
    if (!others_idle())
        return -EBUSY;
    rec = handover_frame(j.a[6]);
    tramp = handover_frame(j.a[6]);
    if (rec == INVALID_MFN || tramp == INVALID_MFN) {
        printk("liveupdate: no free frame for the record; nothing done\n");
        return -ENOMEM;
    }
    if ((err = write_record(rec, args, brk)) != 0)
        return err;
    memcpy((void *)(uintptr_t)mfn_to_pa(tramp), lu_tramp_start,
           (size_t)(lu_tramp_end - lu_tramp_start));
    printk("liveupdate: generation %u: %u ranges, record at 0x%lx, into %s\n",
           lu_generation() + 1, nr_kept, (unsigned long)mfn_to_pa(rec),
           image == LU_IMAGE_SELF ? "this kernel's own image" : "the initrd");
    if (!stop_other_harts())
        panic("lu_handover: a hart would not stop; the machine is half "
              "stopped and cannot go on");
    j.tramp = mfn_to_pa(tramp);
    j.a[0] = smp_hartid();
    j.a[1] = board_dtb_pa();
    j.a[2] = mfn_to_pa(rec);
    j.a[3] = LU_HANDOVER_MAGIC;
    j.a[7] = (uintptr_t)_start;
    lu_jump(&j);
}

/* ---- ktest chains -------------------------------------------------------- */

void lu_after_tests(unsigned int status)
{
    char args[LU_BOOTARGS_LEN];
    unsigned int next = lu_generation() + 1;

    if (status != EXIT_PASS || next > bootargs.lu_chain)
        poweroff(status);
    snprintf(args, sizeof(args), "%s lu_pages=%s", board()->bootargs,
             lu_policy() == LU_POLICY_UNINIT ? "inuse" : "uninit");
    /* the first kernel of a chain with a kept initrd hands over to it */
    lu_handover(next == 1 && initrd_info()->fate == INITRD_KEPT
                    ? LU_IMAGE_INITRD
                    : LU_IMAGE_SELF,
                args, LU_BREAK_NONE);
    poweroff(EXIT_TEST_FAIL);
}
