/*
 * kernel/initrd.c - hand the initrd's frames back to the heap.
 *
 * The frames to free are those that hold only initrd bytes: the initrd's
 * range rounded outwards to frames, then trimmed where a frame at either
 * end also holds another reserved range (QEMU packs things tightly).
 *
 * free_heap_pages() frees one aligned block of 2^order frames, so the
 * range [s, e) is cut into the largest aligned blocks that fit, from the
 * bottom up: at each step the block's order is limited both by the
 * alignment of s and by what is left before e. The frames are still
 * uninitialised, so free_heap_pages() sends each block through
 * init_heap_pages() first, and the heap merges the blocks with their free
 * buddies.
 *
 * With initrd=keep (or while a lab is a stub) the same frames are left as
 * they are; the monitor's `release` later frees any part of them through
 * initrd_free_frames(), the same loop.
 */
#include "../mm/heap.h"
#include "../mm/lab.h"
#include "board.h"
#include "bootargs.h"
#include "initrd.h"
#include "liveupdate.h"
#include "printk.h"

static struct initrd_info info;

const struct initrd_info *initrd_info(void)
{
    return &info;
}

static uint32_t sum_bytes(paddr_t s, paddr_t e)
{
    const uint8_t *p = (const uint8_t *)(uintptr_t)s;
    uint32_t sum = 0;

    for (paddr_t n = e - s; n; n--)
        sum += *p++;
    return sum;
}

/* True if frame mfn holds a byte of a reserved range other than the initrd. */
static bool frame_shared(mfn_t mfn)
{
    const struct machine *m = board();
    paddr_t s = mfn_to_pa(mfn), e = s + PAGE_SIZE;

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        const struct mem_reserved *r = &m->reserved[i];

        if (r->kind != RESERVE_INITRD && r->base < e && s < r->base + r->size)
            return true;
    }
    return false;
}

/* The largest order such that [s, s + 2^order) is aligned and ends by e. */
static unsigned int block_order(mfn_t s, mfn_t e)
{
    unsigned int order = 0;

    while (order < MAX_ORDER && IS_ALIGNED(s, (mfn_t)1 << (order + 1)) &&
           s + ((mfn_t)2 << order) <= e)
        order++;
    return order;
}

unsigned long initrd_free_frames(mfn_t s, mfn_t e, const char *who)
{
    unsigned long n = e - s;

    while (s < e) {
        unsigned int order = block_order(s, e);

        if (who)
            printk("%s: free_heap_pages(0x%lx, %u): [0x%lx, 0x%lx) "
                   "uninitialised -> init_heap_pages -> inuse -> free\n",
                   who, s, order, s, s + ((mfn_t)1 << order));
        free_heap_pages(s, order);
        s += (mfn_t)1 << order;
    }
    info.nr_freed += n;
    return n;
}

const char *initrd_fate_text(enum initrd_fate fate)
{
    static char stub_why[128]; /* names the lab whose stub ran */

    switch (fate) {
    case INITRD_NONE:
        return "no initrd (boot with -initrd FILE)";
    case INITRD_KEPT:
        return "the initrd is kept in use, uninitialised (boot argument "
               "initrd=keep): the monitor's `release initrd` frees it";
    case INITRD_KEPT_STUB:
        snprintf(stub_why, sizeof(stub_why),
                 "the initrd was given but not freed: lab %s is still a stub, "
                 "so the kernel left it in use",
                 lab_missing() ? lab_missing() : "?");
        return stub_why;
    default:
        return "the initrd was freed at boot";
    }
}

/* Which of the two ways to keep it applies, or INITRD_FREED. */
static enum initrd_fate initrd_choose_fate(void)
{
    if (lab_missing_breaks_heap()) /* a stub that leaves the heap whole may */
        return INITRD_KEPT_STUB;
    return bootargs.initrd_keep ? INITRD_KEPT : INITRD_FREED;
}

/*
 * Free the initrd's frames [s, e), except those a kernel before this one
 * preserved over a live update: the device tree still names the first
 * kernel's initrd after every hand-over, but a kernel in between may have
 * freed it and handed its frames to an owner who kept them. Those belong
 * to their owner (lu_adopt() has taken them); the rest is the initrd's.
 */
static void free_unpreserved(mfn_t s, mfn_t e)
{
    const struct lu_range *k;
    unsigned int n = lu_kept(&k);

    while (s < e) {
        mfn_t next_s = e, next_e = e; /* the first kept range in [s, e) */

        for (unsigned int i = 0; i < n; i++) {
            mfn_t rs = MAX(s, (mfn_t)k[i].s), re = MIN(e, (mfn_t)k[i].e);

            if (rs < re && rs < next_s) {
                next_s = rs;
                next_e = re;
            }
        }
        if (next_s > s)
            initrd_free_frames(s, next_s, NULL);
        s = next_e;
    }
}

void initrd_release(void)
{
    const struct machine *m = board();
    mfn_t s, e;

    if (m->initrd_end <= m->initrd_start)
        return;
    info.start = m->initrd_start;
    info.end = m->initrd_end;
    info.sum = sum_bytes(info.start, info.end);
    info.fate = initrd_choose_fate();

    s = pa_to_mfn(info.start);
    e = pa_to_mfn(ALIGN_UP(info.end, PAGE_SIZE));
    if (s < e && frame_shared(s))
        s++;
    if (s < e && frame_shared(e - 1))
        e--;
    info.freed_s = s;
    info.freed_e = e;
    if (info.fate == INITRD_FREED)
        free_unpreserved(s, e);
    printk("initrd: [0x%lx, 0x%lx) %lu bytes, sum 0x%08x, ",
           (unsigned long)info.start, (unsigned long)info.end,
           (unsigned long)(info.end - info.start), info.sum);
    if (info.fate == INITRD_FREED)
        printk("%lu pages freed\n", info.nr_freed);
    else if (info.fate == INITRD_KEPT)
        printk("%lu pages kept in use, uninitialised (initrd=keep; the "
               "monitor's `release initrd` frees them)\n",
               (unsigned long)(e - s));
    else
        printk("%lu pages kept in use: not freed while a lab is a stub\n",
               (unsigned long)(e - s));
}
