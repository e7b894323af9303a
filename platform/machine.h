/*
 * platform/machine.h - the machine as Numbat understood it from the
 * device tree: RAM banks and their NUMA nodes, reserved ranges, harts and
 * their nodes, node distances, the console UART, the power-off device and
 * /chosen.
 *
 * machine_from_fdt() (platform/dt_machine.c) fills one struct machine from
 * a flattened device tree blob. It is pure C with no kernel dependencies,
 * so the host tests and the fuzzer run it on blobs of their own. Every
 * range is half-open, [base, base + size), in bytes.
 */
#ifndef PLATFORM_MACHINE_H
#define PLATFORM_MACHINE_H

#include <numbat/types.h>

#define MACHINE_MAX_BANKS    32
#define MACHINE_MAX_RESERVED 32
#define MACHINE_NAME_LEN     32

struct mem_bank {
    paddr_t base;          /* first byte of the bank */
    uint64_t size;         /* bytes; never 0 (empty banks are dropped) */
    unsigned int node;     /* numa-node-id, 0 when the tree has none */
};

/* Why a range is reserved; printed beside it at boot. */
enum reserve_kind {
    RESERVE_MEMRESERVE,    /* the blob's /memreserve/ block */
    RESERVE_NODE,          /* a child of /reserved-memory (e.g. OpenSBI's) */
    RESERVE_KERNEL,        /* the kernel image (added by the kernel) */
    RESERVE_DTB,           /* the device tree blob itself (added by the kernel) */
    RESERVE_INITRD,        /* linux,initrd-start .. linux,initrd-end */
    RESERVE_PRESERVED,     /* memory kept over a live update (the kernel) */
    RESERVE_LU_RECORD,     /* the live-update hand-over record (the kernel) */
};

struct mem_reserved {
    paddr_t base;                /* first byte */
    uint64_t size;               /* bytes */
    enum reserve_kind kind;      /* where the reservation came from */
    char name[MACHINE_NAME_LEN]; /* node name for RESERVE_NODE, else "" */
};

struct machine {
    struct mem_bank banks[MACHINE_MAX_BANKS];          /* sorted by base */
    unsigned int nr_banks;
    struct mem_reserved reserved[MACHINE_MAX_RESERVED]; /* sorted by base */
    unsigned int nr_reserved;

    unsigned int nr_nodes;              /* highest node id seen + 1, >= 1 */
    uint8_t distance[MAX_NUMNODES][MAX_NUMNODES]; /* 10 local, 20 remote by default */

    unsigned int nr_harts;              /* harts with status "okay" (or none) */
    uint32_t hart_ids[MAX_HARTS];       /* their hart ids (the cpu nodes' reg) */
    unsigned int hart_node[MAX_HARTS];  /* numa-node-id of each, 0 by default */

    paddr_t uart_base;                  /* ns16550a registers; 0 if none found */
    uint32_t uart_reg_shift;            /* reg-shift, default 0 */
    paddr_t poweroff_base;              /* sifive,test0 / syscon registers; 0 if none */

    paddr_t initrd_start, initrd_end;   /* [start, end), both 0 when none */
    char bootargs[256];                 /* /chosen/bootargs, "" when none */
    char stdout_path[64];               /* /chosen/stdout-path, "" when none */
};

/*
 * Parse the blob at `blob` (at most `max_size` bytes may be read; the blob's
 * own totalsize must fit within it) into *m. Returns 0, or a negative code
 * with a one-line reason in `why` (e.g. "bad magic 0x12345678: not a device
 * tree blob", "struct block runs past totalsize", "memory@80000000: reg has
 * 3 cells, not a multiple of 4"). Never reads outside [blob, blob+max_size).
 * The initrd from /chosen is also entered in reserved[] as RESERVE_INITRD.
 * docs/device-tree.md lists what is read, the defaults and what is refused.
 */
int machine_from_fdt(struct machine *m, const void *blob, size_t max_size,
                     const char **why);

/* The node of hart `hartid`, or 0 if the hart is not in the tree. */
unsigned int machine_hart_node(const struct machine *m, uint32_t hartid);

/* The node whose RAM holds physical address pa, or NUMA_NO_NODE. */
unsigned int machine_pa_node(const struct machine *m, paddr_t pa);

/*
 * Add a reservation the tree does not carry (kernel image, blob). 0 or -ENOSPC.
 * The table stays sorted by base. A size of 0 adds nothing and returns 0; a
 * range that wraps past the top of the address space gives -EINVAL.
 */
int machine_add_reserved(struct machine *m, paddr_t base, uint64_t size,
                         enum reserve_kind kind, const char *name);

const char *reserve_kind_name(enum reserve_kind kind);

/* Bytes of RAM in all banks. */
uint64_t machine_total_ram(const struct machine *m);

/*
 * Print the machine as the boot output's `machine:`, `bank:`, `reserved:`,
 * `harts:` and `distance:` lines (docs/boot-output.md), in that order:
 * emit(ctx, line) once per line, the line without its newline.
 * (platform/machine_print.c; the kernel's boot output and dtinfo.)
 */
typedef void (*machine_emit_fn)(void *ctx, const char *line);
void machine_print(const struct machine *m, machine_emit_fn emit, void *ctx);

#endif /* PLATFORM_MACHINE_H */
