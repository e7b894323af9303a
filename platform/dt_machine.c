/*
 * platform/dt_machine.c - from a device tree to a struct machine.
 *
 * HOST-PORTABLE: pure C with no kernel dependencies. The kernel calls
 * machine_from_fdt() once at boot on the blob OpenSBI hands it; the host
 * tests and the fuzzer call it on blobs of their own.
 *
 * What is read, and from where (docs/device-tree.md says why):
 *
 *   RAM banks        root children with device_type "memory": every reg
 *                    entry, numa-node-id (default 0); zero-size banks are
 *                    dropped; sorted by base; overlaps are an error
 *   reservations     the /memreserve/ block, the children of
 *                    /reserved-memory (name kept), and the initrd
 *   /chosen          bootargs, stdout-path, linux,initrd-start/-end
 *   harts            /cpus children with device_type "cpu" whose status is
 *                    "okay" (or absent): reg is the hart id, numa-node-id
 *   distances        the node compatible with "numa-distance-map-v1":
 *                    (from, to, distance) triplets; 10 local, 20 remote by
 *                    default; a direction the map leaves out copies the
 *                    other one
 *   console UART     the stdout-path node if it is an ns16550(a), else the
 *                    first ns16550a, else the first ns16550: reg, reg-shift
 *   power-off        the first node compatible with sifive,test0/test1: reg
 *
 * Invariant on success: every bank is non-empty, banks are sorted and
 * disjoint, every node id is below MAX_NUMNODES, every hart id below
 * MAX_HARTS and unique, and nr_nodes = highest node id seen in a bank or a
 * hart, plus one. Anything the tables cannot hold is an error with a
 * reason, never a silent truncation.
 */
#include "platform/machine.h"

#include <numbat/compiler.h>
#include <numbat/errno.h>

#include "platform/fdt.h"

#include <numbat/string.h> /* kernel: lib/string.c; host: the C library */

#define DISTANCE_LOCAL 10  /* the spec's distance from a node to itself */
#define DISTANCE_REMOTE 20 /* assumed when the tree says nothing */

/* The state of one machine_from_fdt() call, handed to each step. */
struct dt_reader {
    const struct fdt *fdt; /* the opened blob */
    struct machine *m;     /* what we fill in */
    const char **why;      /* where a failure's one-line reason goes */
    unsigned int top_node; /* highest node id seen in a bank or a hart */
};

/* Fail with err, formatting a one-line reason into *r->why (if wanted). */
static int __printf(3, 4)
    fail(struct dt_reader *r, int err, const char *fmt, ...)
{
    va_list ap;

    if (r->why) {
        va_start(ap, fmt);
        *r->why = fdt_vexplain(fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Copy a NUL-terminated string, truncating it to fit `cap` bytes. */
static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* True when the node is usable: no status, or status "okay" / "ok". */
static bool node_enabled(const struct fdt *fdt, int node)
{
    const char *status = fdt_prop_string(fdt, node, "status");

    return !status || strcmp(status, "okay") == 0 || strcmp(status, "ok") == 0;
}

/* numa-node-id of `node`: default 0; an error when malformed or too big. */
static int read_node_id(struct dt_reader *r, int node, unsigned int *id)
{
    uint32_t v = 0;
    int err = fdt_prop_u32(r->fdt, node, "numa-node-id", &v);
    const char *name = fdt_node_name(r->fdt, node);

    if (err == -EBADMSG)
        return fail(r, err, "%s: numa-node-id is not one 32-bit cell", name);
    if (v >= MAX_NUMNODES)
        return fail(r, -ERANGE,
                    "%s: numa-node-id %u is not below MAX_NUMNODES (%u): "
                    "renumber the tree's nodes from 0, or raise MAX_NUMNODES "
                    "in include/numbat/types.h",
                    name, v, MAX_NUMNODES);
    *id = v;
    r->top_node = MAX(r->top_node, v);
    return 0;
}

/* --- RAM banks ------------------------------------------------------------ */

static int add_bank(struct dt_reader *r, int node, paddr_t base, uint64_t size,
                    unsigned int id)
{
    struct machine *m = r->m;
    unsigned int i;

    if (base + size < base)
        return fail(r, -ERANGE,
                    "%s: bank [0x%lx, +0x%lx) wraps past the top "
                    "of the address space",
                    fdt_node_name(r->fdt, node), (unsigned long)base,
                    (unsigned long)size);
    if (m->nr_banks == MACHINE_MAX_BANKS)
        return fail(r, -E2BIG, "more than %u memory banks (MACHINE_MAX_BANKS)",
                    MACHINE_MAX_BANKS);
    /* Insertion sort: shift larger bases up; the table stays sorted. */
    for (i = m->nr_banks; i > 0 && m->banks[i - 1].base > base; i--)
        m->banks[i] = m->banks[i - 1];
    m->banks[i] = (struct mem_bank){.base = base, .size = size, .node = id};
    m->nr_banks++;
    return 0;
}

/*
 * Every reg entry of one memory node becomes a bank (zero-size ones are
 * dropped).
 */
static int read_memory_node(struct dt_reader *r, int node)
{
    unsigned int id, i;
    paddr_t base;
    uint64_t size;
    int err = read_node_id(r, node, &id);

    for (i = 0; !err; i++) {
        err = fdt_reg(r->fdt, node, i, &base, &size, r->why);
        if (err == -ENOENT && i > 0)
            return 0; /* past the last entry */
        if (!err && size != 0)
            err = add_bank(r, node, base, size, id);
    }
    return err;
}

static int read_memory_banks(struct dt_reader *r)
{
    const struct fdt *fdt = r->fdt;
    struct machine *m = r->m;
    int err;

    for (int n = fdt_first_child(fdt, fdt_root(fdt)); n >= 0;
         n = fdt_next_sibling(fdt, n)) {
        if (!fdt_prop_has_string(fdt, n, "device_type", "memory") ||
            !node_enabled(fdt, n))
            continue;
        if ((err = read_memory_node(r, n)))
            return err;
    }
    if (m->nr_banks == 0)
        return fail(
            r, -ENOENT,
            "no RAM: no node with device_type \"memory\" and a non-empty reg");
    for (unsigned int i = 1; i < m->nr_banks; i++)
        if (m->banks[i - 1].base + m->banks[i - 1].size > m->banks[i].base)
            return fail(
                r, -EBADMSG,

                "memory banks [0x%lx, +0x%lx) and [0x%lx, +0x%lx) overlap",
                (unsigned long)m->banks[i - 1].base,
                (unsigned long)m->banks[i - 1].size,
                (unsigned long)m->banks[i].base,
                (unsigned long)m->banks[i].size);
    return 0;
}

/* --- reserved ranges ------------------------------------------------------ */

static int reserve(struct dt_reader *r, paddr_t base, uint64_t size,
                   enum reserve_kind kind, const char *name)
{
    int err = machine_add_reserved(r->m, base, size, kind, name);

    if (err == -ENOSPC)
        return fail(r, err,
                    "more than %u reserved ranges (MACHINE_MAX_RESERVED)",
                    MACHINE_MAX_RESERVED);
    if (err) /* -EINVAL: base + size wraps */
        return fail(r, -ERANGE,
                    "reserved range %s [0x%lx, +0x%lx) wraps past "
                    "the top of the address space",
                    reserve_kind_name(kind), (unsigned long)base,
                    (unsigned long)size);
    return 0;
}

static int read_memreserve(struct dt_reader *r)
{
    paddr_t base;
    uint64_t size;
    int err;

    for (unsigned int i = 0; fdt_rsv_entry(r->fdt, i, &base, &size) == 0; i++)
        if ((err = reserve(r, base, size, RESERVE_MEMRESERVE, "")))
            return err;
    return 0;
}

/*
 * Children of /reserved-memory with a reg; those with only "size" are left
 * to an OS that allocates them.
 */
static int read_reserved_memory(struct dt_reader *r)
{
    const struct fdt *fdt = r->fdt;
    int parent = fdt_find_path(fdt, "/reserved-memory");
    paddr_t base;
    uint64_t size;
    int err;

    for (int n = fdt_first_child(fdt, parent); n >= 0;
         n = fdt_next_sibling(fdt, n)) {
        if (!node_enabled(fdt, n) || !fdt_prop(fdt, n, "reg", NULL))
            continue;
        for (unsigned int i = 0;
             (err = fdt_reg(fdt, n, i, &base, &size, r->why)) != -ENOENT; i++)
            if (err || (err = reserve(r, base, size, RESERVE_NODE,
                                      fdt_node_name(fdt, n))))
                return err;
    }
    return 0;
}

/* --- /chosen -------------------------------------------------------------- */

/* Copy /chosen's string property `name` into dst[cap]; "" when absent. */
static int read_chosen_string(struct dt_reader *r, int chosen, const char *name,
                              char *dst, size_t cap)
{
    const char *s = fdt_prop_string(r->fdt, chosen, name);

    if (!fdt_prop(r->fdt, chosen, name, NULL))
        return 0;
    if (!s)
        return fail(r, -EBADMSG, "/chosen: %s is not a NUL-terminated string",
                    name);
    if (strlen(s) >= cap)
        return fail(r, -E2BIG,
                    "/chosen: %s is %lu bytes; Numbat keeps at most %lu", name,
                    (unsigned long)strlen(s), (unsigned long)cap - 1);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/* linux,initrd-start and -end: both or neither, 32 or 64 bits, start <= end. */
static int read_initrd(struct dt_reader *r, int chosen)
{
    struct machine *m = r->m;
    uint64_t start = 0, end = 0;
    int err_s = fdt_prop_u64(r->fdt, chosen, "linux,initrd-start", &start);
    int err_e = fdt_prop_u64(r->fdt, chosen, "linux,initrd-end", &end);

    if (err_s == -EBADMSG || err_e == -EBADMSG)
        return fail(
            r, -EBADMSG,
            "/chosen: linux,initrd-start and -end must be 4 or 8 bytes long");
    if (err_s != err_e)
        return fail(
            r, -EBADMSG,
            "/chosen: has only one of linux,initrd-start and linux,initrd-end");
    if (end < start)
        return fail(r, -EBADMSG,
                    "/chosen: initrd end 0x%lx is below its start 0x%lx",
                    (unsigned long)end, (unsigned long)start);
    if (end == start)
        return 0;
    m->initrd_start = start;
    m->initrd_end = end;
    return reserve(r, start, end - start, RESERVE_INITRD, "");
}

static int read_chosen(struct dt_reader *r)
{
    struct machine *m = r->m;
    int chosen = fdt_find_path(r->fdt, "/chosen");
    int err;

    if (chosen < 0)
        return 0;
    if ((err = read_chosen_string(r, chosen, "bootargs", m->bootargs,
                                  sizeof(m->bootargs))) ||
        (err = read_chosen_string(r, chosen, "stdout-path", m->stdout_path,
                                  sizeof(m->stdout_path))))
        return err;
    return read_initrd(r, chosen);
}

/* --- harts ---------------------------------------------------------------- */

static int read_hart(struct dt_reader *r, int cpu)
{
    struct machine *m = r->m;
    const char *name = fdt_node_name(r->fdt, cpu);
    unsigned int node;
    paddr_t hartid;
    uint64_t unused;
    int err;

    if ((err = fdt_reg(r->fdt, cpu, 0, &hartid, &unused, r->why)))
        return err;
    if (hartid >= MAX_HARTS)
        return fail(r, -ERANGE,
                    "%s: hart id %lu is not below MAX_HARTS (%u): raise "
                    "MAX_HARTS in include/numbat/types.h (32 KiB of stacks "
                    "per hart)",
                    name, (unsigned long)hartid, MAX_HARTS);
    for (unsigned int i = 0; i < m->nr_harts; i++)
        if (m->hart_ids[i] == hartid)
            return fail(r, -EEXIST, "%s: hart id %lu appears twice", name,
                        (unsigned long)hartid);
    if ((err = read_node_id(r, cpu, &node)))
        return err;
    /* Ids are unique and below MAX_HARTS, so the table cannot overflow. */
    m->hart_ids[m->nr_harts] = (uint32_t)hartid;
    m->hart_node[m->nr_harts] = node;
    m->nr_harts++;
    return 0;
}

static int read_harts(struct dt_reader *r)
{
    const struct fdt *fdt = r->fdt;
    int cpus = fdt_find_path(fdt, "/cpus");
    int err;

    if (cpus < 0)
        return fail(r, -ENOENT, "no /cpus node: cannot tell which harts exist");
    for (int n = fdt_first_child(fdt, cpus); n >= 0;
         n = fdt_next_sibling(fdt, n)) {
        if (!fdt_prop_has_string(fdt, n, "device_type", "cpu") ||
            !node_enabled(fdt, n))
            continue;
        if ((err = read_hart(r, n)))
            return err;
    }
    if (r->m->nr_harts == 0)
        return fail(
            r, -ENOENT,
            "no harts: /cpus has no enabled node with device_type \"cpu\"");
    return 0;
}

/* --- the distance map ----------------------------------------------------- */

static int read_distance_map(struct dt_reader *r)
{
    /* given[a][b]: the map names the distance from a to b. */
    bool given[MAX_NUMNODES][MAX_NUMNODES] = {{false}};
    struct machine *m = r->m;
    int map = fdt_find_compatible(r->fdt, -1, "numa-distance-map-v1");
    const uint8_t *p;
    uint32_t len;

    if (map < 0)
        return 0;
    p = fdt_prop(r->fdt, map, "distance-matrix", &len);
    if (!p || len % 12 != 0)
        return fail(r, -EBADMSG,
                    "%s: distance-matrix is missing or not (from, "
                    "to, distance) triplets",
                    fdt_node_name(r->fdt, map));
    for (; len; len -= 12, p += 12) {
        uint32_t a = fdt_read_be32(p), b = fdt_read_be32(p + 4),
                 d = fdt_read_be32(p + 8);

        if (a >= MAX_NUMNODES || b >= MAX_NUMNODES)
            return fail(r, -ERANGE,
                        "distance-matrix: node %u or %u is not "
                        "below MAX_NUMNODES (%u): raise MAX_NUMNODES in "
                        "include/numbat/types.h",
                        a, b, MAX_NUMNODES);
        if (d > 255 || d < DISTANCE_LOCAL || (a == b) != (d == DISTANCE_LOCAL))
            return fail(r, -EBADMSG,
                        "distance-matrix: %u -> %u = %u; want 10 "
                        "for a node to itself, 11..255 otherwise",
                        a, b, d);
        m->distance[a][b] = (uint8_t)d;
        given[a][b] = true;
    }
    /* A direction the map leaves out is the same as the other one. */
    for (unsigned int a = 0; a < MAX_NUMNODES; a++)
        for (unsigned int b = 0; b < MAX_NUMNODES; b++)
            if (given[a][b] && !given[b][a])
                m->distance[b][a] = m->distance[a][b];
    return 0;
}

/* --- devices: the console UART and the power-off device ------------------- */

/*
 * The node stdout-path names ("/soc/serial@10000000:115200" or an alias), or
 * -ENOENT.
 */
static int stdout_node(const struct dt_reader *r)
{
    char path[sizeof(r->m->stdout_path)];
    const char *target = path;
    size_t n = 0;

    while (r->m->stdout_path[n] && r->m->stdout_path[n] != ':') {
        path[n] = r->m->stdout_path[n];
        n++;
    }
    path[n] = '\0';
    if (n && path[0] != '/') /* an alias: /aliases holds its path */
        target =
            fdt_prop_string(r->fdt, fdt_find_path(r->fdt, "/aliases"), path);
    return target ? fdt_find_path(r->fdt, target) : -ENOENT;
}

static bool is_ns16550(const struct fdt *fdt, int node)
{
    return fdt_prop_has_string(fdt, node, "compatible", "ns16550a") ||
           fdt_prop_has_string(fdt, node, "compatible", "ns16550");
}

static int read_uart(struct dt_reader *r)
{
    const struct fdt *fdt = r->fdt;
    int uart = stdout_node(r);
    uint64_t unused;
    int err;

    if (uart < 0 || !is_ns16550(fdt, uart))
        uart = fdt_find_compatible(fdt, -1, "ns16550a");
    if (uart < 0)
        uart = fdt_find_compatible(fdt, -1, "ns16550");
    if (uart < 0)
        return 0; /* no console: uart_base stays 0 */
    if ((err = fdt_reg(fdt, uart, 0, &r->m->uart_base, &unused, r->why)))
        return err;
    err = fdt_prop_u32(fdt, uart, "reg-shift", &r->m->uart_reg_shift);
    if (err == -EBADMSG || r->m->uart_reg_shift > 4)
        return fail(r, -EBADMSG, "%s: reg-shift is not one cell of 0..4",
                    fdt_node_name(fdt, uart));
    return 0;
}

static int read_poweroff(struct dt_reader *r)
{
    int t0 = fdt_find_compatible(r->fdt, -1, "sifive,test0");
    int t1 = fdt_find_compatible(r->fdt, -1, "sifive,test1");
    int dev = t0 < 0   ? t1
              : t1 < 0 ? t0
                       : MIN(t0, t1); /* the first in the tree */
    uint64_t unused;

    if (dev < 0)
        return 0; /* no power-off device: poweroff_base stays 0 */
    return fdt_reg(r->fdt, dev, 0, &r->m->poweroff_base, &unused, r->why);
}

/* --- the whole machine ---------------------------------------------------- */

int machine_from_fdt(struct machine *m, const void *blob, size_t max_size,
                     const char **why)
{
    struct fdt fdt;
    struct dt_reader r = {.fdt = &fdt, .m = m, .why = why, .top_node = 0};
    int err;

    memset(m, 0, sizeof(*m));
    for (unsigned int a = 0; a < MAX_NUMNODES; a++)
        for (unsigned int b = 0; b < MAX_NUMNODES; b++)
            m->distance[a][b] = a == b ? DISTANCE_LOCAL : DISTANCE_REMOTE;
    if ((err = fdt_open(&fdt, blob, max_size, why)) ||
        (err = read_memory_banks(&r)) ||    /* RAM, sorted, disjoint */
        (err = read_memreserve(&r)) ||      /* the blob's /memreserve/ block */
        (err = read_reserved_memory(&r)) || /* /reserved-memory children */
        (err = read_chosen(&r)) ||          /* bootargs, stdout-path, initrd */
        (err = read_harts(&r)) ||           /* /cpus */
        (err = read_distance_map(&r)) ||    /* numa-distance-map-v1 */
        (err = read_uart(&r)) ||            /* the console */
        (err = read_poweroff(&r)))          /* sifive,test */
        return err;
    m->nr_nodes = r.top_node + 1;
    return 0;
}

/* --- questions about a parsed machine ------------------------------------- */

unsigned int machine_hart_node(const struct machine *m, uint32_t hartid)
{
    for (unsigned int i = 0; i < m->nr_harts; i++)
        if (m->hart_ids[i] == hartid)
            return m->hart_node[i];
    return 0;
}

unsigned int machine_pa_node(const struct machine *m, paddr_t pa)
{
    for (unsigned int i = 0; i < m->nr_banks; i++)
        if (pa >= m->banks[i].base && pa - m->banks[i].base < m->banks[i].size)
            return m->banks[i].node;
    return NUMA_NO_NODE;
}

int machine_add_reserved(struct machine *m, paddr_t base, uint64_t size,
                         enum reserve_kind kind, const char *name)
{
    unsigned int i;

    if (size == 0)
        return 0; /* nothing to reserve */
    if (base + size < base)
        return -EINVAL;
    if (m->nr_reserved == MACHINE_MAX_RESERVED)
        return -ENOSPC;
    /* Insertion sort: shift larger bases up; the table stays sorted. */
    for (i = m->nr_reserved; i > 0 && m->reserved[i - 1].base > base; i--)
        m->reserved[i] = m->reserved[i - 1];
    m->reserved[i] =
        (struct mem_reserved){.base = base, .size = size, .kind = kind};
    copy_name(m->reserved[i].name, sizeof(m->reserved[i].name),
              name ? name : "");
    m->nr_reserved++;
    return 0;
}

const char *reserve_kind_name(enum reserve_kind kind)
{
    switch (kind) {
    case RESERVE_MEMRESERVE:
        return "memreserve";
    case RESERVE_NODE:
        return "reserved-memory";
    case RESERVE_KERNEL:
        return "kernel";
    case RESERVE_DTB:
        return "dtb";
    case RESERVE_INITRD:
        return "initrd";
    case RESERVE_PRESERVED:
        return "preserved";
    case RESERVE_LU_RECORD:
        return "lu-record";
    }
    return "?";
}
