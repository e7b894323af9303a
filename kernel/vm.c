/*
 * kernel/vm.c - the kernel's page table (see kernel/vm.h for the map).
 *
 * Sv39 translates a 39-bit virtual address in three steps. The address
 * holds three 9-bit indices (VPN[2], VPN[1], VPN[0]) above a 12-bit
 * offset; each index picks one of the 512 entries of a 4 KiB table. An
 * entry is either a pointer to the next table (V set, R W X clear) or a
 * leaf that maps a whole page (V and at least R or X): a leaf in the root
 * maps 1 GiB, one level down 2 MiB, at the bottom 4 KiB. satp holds the
 * mode and the root table's frame number.
 *
 * The map is the identity (virtual == physical), so no address the
 * kernel already uses changes when paging comes on. It is built like
 * this, with the MMU still off:
 *   1. the kernel image, page by page (4 KiB), each page with the
 *      permissions of the part of the image it holds: text R+X, read-only
 *      data R, data and bss R+W, the page-table pool R, the stack guards
 *      left unmapped;
 *   2. every RAM bank of the device tree except the image, R+W, with the
 *      largest pages that fit: 4 KiB only up to the next 2 MiB boundary,
 *      then 2 MiB pages up to the next 1 GiB boundary, then 1 GiB pages,
 *      so a 32 GiB machine costs a handful of entries;
 *   3. the UART and the power-off device, R+W, one 4 KiB page each.
 * Then satp is written and paging is on. The tables never change again:
 * their pages are mapped read-only, so not even the kernel can make its
 * own code writable afterwards.
 *
 * Page-table pages come from a fixed pool in .bss, not from the boot
 * allocator: vm_init() runs before the boot allocator exists (the boot
 * allocator is lab code, and paging must be on before any lab code
 * runs), and a pool in the image is reserved with it. The pool is sized
 * for QEMU virt: see VM_POOL_PAGES.
 */
#include <numbat/compiler.h>

#include "../platform/machine.h"
#include "fallback.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "vm.h"

/*
 * Tables needed on QEMU virt: the root; a 2 MiB table and one 4 KiB table
 * per 2 MiB the image touches (the image is under 2 MiB today); a 2 MiB
 * table and two 4 KiB tables for the devices in the first GiB; and one
 * 2 MiB table and up to two 4 KiB tables per bank edge that is not 2 MiB
 * aligned. Sixteen leave room for odd device trees; running out is a
 * panic that names this constant.
 */
#define VM_POOL_PAGES 16
#define PTES_PER_TABLE 512

#define LEAF_RWX (PTE_R | PTE_W | PTE_X)
#define KERNEL_RX (PTE_R | PTE_X)
#define KERNEL_R (PTE_R)
#define KERNEL_RW (PTE_R | PTE_W)

extern char _start[], __rodata_start[], __data_start[], __ksyms_start[],
    _end[]; /* kernel/kernel.ld */

static pte_t pool[VM_POOL_PAGES][PTES_PER_TABLE] __aligned(PAGE_SIZE);
static unsigned int pool_used;            /* tables handed out from pool */
static pte_t *root;                       /* the root table: pool[0] */
static unsigned int nr_leaves[VM_LEVELS]; /* leaves made, per level */
unsigned long vm_satp;

/* Devices mapped, for vm_region_name(). */
#define VM_MAX_DEVICES 4
static paddr_t device_pa[VM_MAX_DEVICES];
static unsigned int nr_devices;

static uint64_t level_size(int level)
{
    return 1UL << (PAGE_SHIFT + 9 * level);
}

static unsigned int vpn(uintptr_t va, int level)
{
    return (va >> (PAGE_SHIFT + 9 * level)) & (PTES_PER_TABLE - 1);
}

static pte_t *entry_table(pte_t e)
{
    return (pte_t *)(uintptr_t)((e >> 10) << PAGE_SHIFT);
}

static bool is_leaf(pte_t e)
{
    return (e & PTE_V) && (e & LEAF_RWX);
}

static pte_t *new_table(uintptr_t va)
{
    if (pool_used == VM_POOL_PAGES)
        panic("vm_init: mapping 0x%lx needs more than the %u page-table "
              "pages of VM_POOL_PAGES (kernel/vm.c): raise it",
              (unsigned long)va, VM_POOL_PAGES);
    return pool[pool_used++]; /* .bss: already zero, every entry invalid */
}

/* The entry for va at `level`, or NULL if a table above it is missing. */
static pte_t *find_entry(uintptr_t va, int level)
{
    pte_t *t = root;

    for (int l = VM_LEVELS - 1; l > level; l--) {
        pte_t e = t[vpn(va, l)];

        if (!(e & PTE_V) || is_leaf(e))
            return NULL;
        t = entry_table(e);
    }
    return &t[vpn(va, level)];
}

/* The entry for va at `level`, making the tables above it as needed. */
static pte_t *make_entry(uintptr_t va, int level)
{
    pte_t *t = root;

    for (int l = VM_LEVELS - 1; l > level; l--) {
        pte_t *e = &t[vpn(va, l)];

        if (is_leaf(*e))
            panic("vm_init: 0x%lx is already inside a %lu KiB page",
                  (unsigned long)va, (unsigned long)(level_size(l) >> 10));
        if (!(*e & PTE_V))
            *e = (((uintptr_t)new_table(va) >> PAGE_SHIFT) << 10) | PTE_V;
        t = entry_table(*e);
    }
    return &t[vpn(va, level)];
}

/* The largest page that starts at va, fits in [va, end) and is free. */
static int pick_level(uintptr_t va, uintptr_t end)
{
    for (int level = VM_LEVELS - 1; level > 0; level--) {
        pte_t *e = find_entry(va, level);
        bool fits =
            va % level_size(level) == 0 && end - va >= level_size(level);

        if (fits && (!e || !(*e & PTE_V)))
            return level;
    }
    return 0;
}

/*
 * Map [va, end) (page aligned) to the same physical addresses with
 * `perm`, largest pages first. Mapping a page twice is a bug: panic.
 */
static void map_identity(uintptr_t va, uintptr_t end, pte_t perm)
{
    if (end > VM_VA_LIMIT)
        panic("vm_init: [0x%lx, 0x%lx) reaches past 0x%lx, the top of what "
              "Sv39 can map at its own address",
              (unsigned long)va, (unsigned long)end, VM_VA_LIMIT);
    while (va < end) {
        int level = pick_level(va, end);
        pte_t *e = make_entry(va, level);

        if (*e & PTE_V)
            panic("vm_init: 0x%lx is mapped twice", (unsigned long)va);
        *e = ((va >> PAGE_SHIFT) << 10) | perm | PTE_V | PTE_G | PTE_A | PTE_D;
        nr_leaves[level]++;
        va += level_size(level);
    }
}

static bool in_pool(uintptr_t va)
{
    return va >= (uintptr_t)pool && va < (uintptr_t)pool + sizeof(pool);
}

bool vm_is_table_page(uintptr_t va)
{
    return in_pool(va);
}

/* The permissions of the image's page at va; 0 leaves it unmapped. */
static pte_t image_perm(uintptr_t va)
{
    if (va < (uintptr_t)__rodata_start)
        return KERNEL_RX;
    if (va < (uintptr_t)__data_start)
        return KERNEL_R;
    if (va >= (uintptr_t)__ksyms_start)
        return KERNEL_R;
    if (smp_stack_guard(va, NULL, NULL))
        return 0;
    return in_pool(va) ? KERNEL_R : KERNEL_RW;
}

/* Step 1: [_start, _end), one 4 KiB page at a time. */
static void map_image(void)
{
    for (uintptr_t va = (uintptr_t)_start; va < (uintptr_t)_end;
         va += PAGE_SIZE) {
        pte_t perm = image_perm(va);

        if (perm)
            map_identity(va, va + PAGE_SIZE, perm);
    }
}

/* Step 2: [s, e) of RAM, minus the image, rounded inwards to pages. */
static void map_ram(paddr_t s, paddr_t e)
{
    uintptr_t img_s = (uintptr_t)_start, img_e = (uintptr_t)_end;

    s = (s + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    e &= ~(PAGE_SIZE - 1);
    if (s >= e)
        return;
    if (s < img_s)
        map_identity(s, MIN(e, img_s), KERNEL_RW);
    if (e > img_e)
        map_identity(MAX(s, img_e), e, KERNEL_RW);
}

/* Step 3: the page holding device registers at pa, once. */
static void map_device(paddr_t pa)
{
    uintptr_t page = pa & ~(PAGE_SIZE - 1);

    if (vm_lookup(page, NULL))
        return; /* the tree and the fallback table agree */
    if (nr_devices == VM_MAX_DEVICES)
        panic("vm_init: more than %u device pages", VM_MAX_DEVICES);
    device_pa[nr_devices++] = page;
    map_identity(page, page + PAGE_SIZE, KERNEL_RW);
}

static void print_map(void)
{
    printk("vm: Sv39 on: text R+X [0x%lx, 0x%lx), rodata R [0x%lx, 0x%lx), "
           "data R+W [0x%lx, 0x%lx); pages 1G %u 2M %u 4K %u; tables %u\n",
           (unsigned long)_start, (unsigned long)__rodata_start,
           (unsigned long)__rodata_start, (unsigned long)__data_start,
           (unsigned long)__data_start, (unsigned long)__ksyms_start,
           nr_leaves[2], nr_leaves[1], nr_leaves[0], pool_used);
}

void vm_init(const struct machine *m)
{
    root = new_table(0);
    map_image();
    for (unsigned int i = 0; i < m->nr_banks; i++)
        map_ram(m->banks[i].base, m->banks[i].base + m->banks[i].size);
    map_device(m->uart_base ? m->uart_base : FALLBACK_UART_BASE);
    map_device(FALLBACK_TEST_BASE); /* poweroff's until the tree's is set */
    if (m->poweroff_base)
        map_device(m->poweroff_base);
    vm_satp = SATP_MODE_SV39 | ((uintptr_t)root >> PAGE_SHIFT);
    __asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma"
                     :
                     : "r"(vm_satp)
                     : "memory");
    print_map();
}

pte_t vm_lookup(uintptr_t va, uint64_t *page_size)
{
    const pte_t *t = root;

    if (!t || va >= VM_VA_LIMIT)
        return 0;
    for (int l = VM_LEVELS - 1; l >= 0; l--) {
        pte_t e = t[vpn(va, l)];

        if (!(e & PTE_V))
            return 0;
        if (is_leaf(e)) {
            if (page_size)
                *page_size = level_size(l);
            return e;
        }
        t = entry_table(e);
    }
    return 0; /* a table entry at the bottom level: never made */
}

const pte_t *vm_root(void)
{
    return root;
}

static bool is_device(uintptr_t va)
{
    for (unsigned int i = 0; i < nr_devices; i++)
        if ((va & ~(PAGE_SIZE - 1)) == device_pa[i])
            return true;
    return false;
}

const char *vm_region_name(uintptr_t va)
{
    if (va >= (uintptr_t)_start && va < (uintptr_t)_end) {
        if (va < (uintptr_t)__rodata_start)
            return "kernel text";
        if (va < (uintptr_t)__data_start || va >= (uintptr_t)__ksyms_start)
            return "kernel read-only data";
        return in_pool(va) ? "the kernel's page table" : "kernel data";
    }
    if (is_device(va))
        return "a device's registers";
    if (vm_lookup(va, NULL))
        return "RAM";
    return NULL;
}
