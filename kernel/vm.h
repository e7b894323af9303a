/*
 * kernel/vm.h - the kernel's page table: Sv39 paging with W^X.
 *
 * vm_init() builds one page table for the whole kernel and turns paging
 * on; every other hart switches to the same table when it starts
 * (kernel/entry.S). The map is the identity: a virtual address equals
 * the physical address it maps, so mm_hook_pa_to_va() stays a cast. What
 * paging adds is permissions, page by page (docs/kernel.md has the map):
 *
 *   kernel text                  R X
 *   read-only data, test suites  R
 *   data, bss, stacks, all RAM   R W      (never X)
 *   the page-table pages         R        (built before paging is on)
 *   stack guard pages            unmapped (an overflow faults)
 *   the UART, the sifive,test    R W      (device registers)
 *   everything else              unmapped
 *
 * No page is both writable and executable, and no page of the kernel's
 * code has a second, writable mapping: a write to the code is a store
 * page fault, and trap_handler() turns it into a panic that says so.
 */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H

#include <numbat/types.h>

struct machine;

/* Bits of a Sv39 page-table entry (the privileged spec, "Sv39"). */
#define PTE_V (1UL << 0) /* valid */
#define PTE_R (1UL << 1) /* readable */
#define PTE_W (1UL << 2) /* writable */
#define PTE_X (1UL << 3) /* executable */
#define PTE_G (1UL << 5) /* global: the same in every address space */
#define PTE_A (1UL << 6) /* accessed */
#define PTE_D (1UL << 7) /* dirty */

#define VM_LEVELS 3                /* Sv39: 1 GiB, 2 MiB, 4 KiB pages */
#define VM_VA_LIMIT (1UL << 38)    /* identity-mappable addresses */
#define SATP_MODE_SV39 (8UL << 60) /* satp.MODE for Sv39 */

typedef uint64_t pte_t;

/*
 * Build the kernel's map from the machine (its RAM banks, its UART and
 * power-off device) and turn paging on for this hart. Called once, on
 * the boot hart, before any other hart starts. Panics with the reason if
 * the map cannot be built (RAM beyond VM_VA_LIMIT, too few table pages).
 * Prints one `vm:` line with what it mapped.
 */
void vm_init(const struct machine *m);

/* satp for the kernel's table (0 before vm_init): entry.S reads it. */
extern unsigned long vm_satp;

/*
 * The leaf entry that maps va in the kernel's table, or 0 when va is
 * unmapped; *page_size (if not NULL) is the size of the page it maps.
 */
pte_t vm_lookup(uintptr_t va, uint64_t *page_size);

/* The kernel's root table (for tests), or NULL before vm_init. */
const pte_t *vm_root(void);

/* Is va in one of the page-table pages (mapped R only)? */
bool vm_is_table_page(uintptr_t va);

/*
 * What the kernel keeps at va, for messages: "kernel text", "kernel
 * read-only data", "kernel data", "the kernel's page table", "a device's
 * registers", "RAM", or NULL when va is not mapped. Stack guards are
 * smp_stack_guard()'s to name.
 */
const char *vm_region_name(uintptr_t va);

#endif /* KERNEL_VM_H */
