/*
 * kernel/mm_boot.c - from the machine's memory map to a working heap.
 *
 * The device tree gives RAM banks and reserved ranges in bytes; the memory
 * manager counts in frames. A bank is rounded inwards (a partial frame at
 * its edge is not usable RAM) and a reserved range outwards (a frame that
 * holds even one reserved byte is not free). Then, in order:
 *
 *   1. every bank goes to the boot allocator, every reserved range comes
 *      out of it;
 *   2. the frame table (one struct page_info per frame from the lowest
 *      RAM frame to the highest) is allocated from the boot allocator and
 *      zeroed: all frames start uninitialised. Zeroing the table is the
 *      only big write at boot; the RAM itself is never touched;
 *   3. the gaps between banks are marked as holes;
 *   4. end_boot_allocator() gives what is left to the heap.
 *
 * Nothing here can recover from a failure (there is no memory manager to
 * fall back on), so every failure is a panic that names the range.
 */
#include <numbat/errno.h>

#include "../mm/bootmem.h"
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "../mm/hooks.h"
#include "../mm/lab.h"
#include "board.h"
#include "mm_boot.h"
#include "panic.h"
#include "printk.h"

static struct mm_boot_stats stats;
static bool no_bootmem; /* a lab handout's bootmem stub: no heap at all */

const struct mm_boot_stats *mm_boot_stats(void)
{
    return &stats;
}

/* The whole frames of bank b: [*s, *e). */
static void bank_frames(const struct mem_bank *b, mfn_t *s, mfn_t *e)
{
    *s = pa_to_mfn(ALIGN_UP(b->base, PAGE_SIZE));
    *e = pa_to_mfn(ALIGN_DOWN(b->base + b->size, PAGE_SIZE));
    if (*e < *s)
        *e = *s;
}

/* Every frame that holds a byte of reserved range r: [*s, *e). */
static void reserved_frames(const struct mem_reserved *r, mfn_t *s, mfn_t *e)
{
    *s = pa_to_mfn(r->base);
    *e = pa_to_mfn(ALIGN_UP(r->base + r->size, PAGE_SIZE));
}

/* Frames of [s, e) that lie in some bank. */
static unsigned long ram_frames_in(mfn_t s, mfn_t e)
{
    const struct machine *m = board();
    unsigned long n = 0;

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        mfn_t bs, be;

        bank_frames(&m->banks[i], &bs, &be);
        if (MAX(s, bs) < MIN(e, be))
            n += MIN(e, be) - MAX(s, bs);
    }
    return n;
}

/*
 * RAM frames covered by at least one reserved range. The ranges are
 * sorted by base but may overlap, so merge them as we go and count each
 * merged run once.
 */
static unsigned long count_reserved_pages(void)
{
    const struct machine *m = board();
    unsigned long n = 0;
    mfn_t run_s = 0, run_e = 0;

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        mfn_t s, e;

        reserved_frames(&m->reserved[i], &s, &e);
        if (s > run_e) { /* a new run starts: count the last one */
            n += ram_frames_in(run_s, run_e);
            run_s = s;
        }
        run_e = MAX(run_e, e);
    }
    return n + ram_frames_in(run_s, run_e);
}

/* Step 1: banks in, reserved ranges out. */
static void bootmem_from_machine(void)
{
    const struct machine *m = board();
    int err;

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        mfn_t s, e;

        bank_frames(&m->banks[i], &s, &e);
        stats.ram_pages += e - s;
        if ((err = bootmem_add_range(s, e)) == -ENOSYS && lab_missing()) {
            no_bootmem = true; /* degraded boot: see mm_boot_print_heap() */
            return;
        }
        if (err != 0)
            panic("mm_boot_init: bootmem_add_range(0x%lx, 0x%lx): %s",
                  (unsigned long)s, (unsigned long)e, errno_name(err));
    }
    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        mfn_t s, e;

        reserved_frames(&m->reserved[i], &s, &e);
        if ((err = bootmem_reserve_range(s, e)) != 0)
            panic("mm_boot_init: bootmem_reserve_range(0x%lx, 0x%lx): %s",
                  (unsigned long)s, (unsigned long)e, errno_name(err));
    }
    stats.reserved_pages = count_reserved_pages();
}

/* Steps 2 and 3: the frame table for [first RAM frame, last RAM frame]. */
static void frametable_from_machine(void)
{
    const struct machine *m = board();
    mfn_t first, end, s, e, prev_e;
    size_t bytes;

    bank_frames(&m->banks[0], &first, &e);
    bank_frames(&m->banks[m->nr_banks - 1], &s, &end);
    bytes = frametable_bytes(first, end);
    stats.frametable_pages = ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE;
    stats.frametable_mfn = alloc_boot_pages(stats.frametable_pages, 1);
    frametable_init(first, end,
                    mm_hook_pa_to_va(mfn_to_pa(stats.frametable_mfn)));

    bank_frames(&m->banks[0], &s, &prev_e);
    for (unsigned int i = 1; i < m->nr_banks; i++) {
        bank_frames(&m->banks[i], &s, &e);
        if (prev_e < s)
            frametable_mark_hole(prev_e, s);
        prev_e = e;
    }
}

static void count_range(mfn_t s, mfn_t e, void *arg)
{
    *(unsigned long *)arg += e - s;
}

void mm_boot_init(void)
{
    bootmem_from_machine();
    if (!no_bootmem)
        frametable_from_machine();
}

void mm_boot_end(void)
{
    if (no_bootmem)
        return;
    bootmem_for_each_range(count_range, &stats.handed_pages);
    end_boot_allocator();
    stats.heap_free_pages = heap_total_free_pages();
}

void mm_boot_print_heap(void)
{
    char size[24];

    for (unsigned int node = 0; node < board()->nr_nodes; node++) {
        for (unsigned int zone = 0; zone < NR_ZONES; zone++) {
            unsigned long n = heap_free_pages_in(node, zone);

            if (n == 0)
                continue;
            format_size(size, sizeof(size), (uint64_t)n * PAGE_SIZE);
            printk("heap: node %u zone %u: %lu pages free (%s)\n", node, zone,
                   n, size);
        }
    }
    format_size(size, sizeof(size),
                (uint64_t)heap_total_free_pages() * PAGE_SIZE);
    printk("heap: total %lu pages free (%s)\n", heap_total_free_pages(), size);
    if (lab_missing() && !lab_missing_breaks_heap())
        printk("lab %s: not implemented yet - the heap works without it\n",
               lab_missing());
    else if (lab_missing())
        printk("lab %s: not implemented yet - the heap is %s\n", lab_missing(),
               heap_total_free_pages() ? "incomplete" : "empty");
}
