/*
 * tests/host/test_fdt.c - the device-tree reader and machine_from_fdt().
 *
 * Three kinds of test:
 *
 *   1. Fixtures: the blobs that configure.py compiles from tests/dts/NAME.dts
 *      into BUILD/dtb/ (real QEMU 7.2 trees and hand-written ones). Each
 *      test checks every field of struct machine against the .dts source.
 *   2. Malformed blobs made here, in C, by a tiny blob builder (struct
 *      dtb below): a valid tree, then one field broken on purpose. Each
 *      must be refused with a negative code and a `why` that names the
 *      problem. The builder's blobs live in heap buffers of exactly their
 *      size, so AddressSanitizer reports any read past the end.
 *   3. Robustness: every truncation of a real blob, and seeded random
 *      byte changes (replay with --seed N).
 *
 * The test binary is BUILD/host/test_fdt and finds the fixtures in
 * BUILD/dtb/ through /proc/self/exe.
 */
#include "tests/host/lib/harness.h"

#include <numbat/errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/fdt.h"
#include "platform/machine.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

/* --- fixtures from BUILD/dtb ---------------------------------------------- */

/* A blob read from a file, in a heap buffer of exactly its size. */
struct blob {
    uint8_t *data; /* the bytes (malloc) */
    size_t size;   /* how many */
};

/*
 * Load BUILD/dtb/<name>.dtb, or end the test with a message saying how to
 * build it.
 */
static struct blob load_dtb(const char *name)
{
    char exe[4096], path[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    struct blob b = {NULL, 0};
    FILE *f;

    REQUIRE(n > 0, "cannot read /proc/self/exe");
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0'; /* BUILD/host/test_fdt -> BUILD/host */
    *strrchr(exe, '/') = '\0'; /* -> BUILD */
    snprintf(path, sizeof(path), "%s/dtb/%s.dtb", exe, name);
    f = fopen(path, "rb");
    REQUIRE(f,
            "missing %s: build the fixtures first with `ninja -C %s host` "
            "(it compiles tests/dts/NAME.dts into %s/dtb/)",
            path, exe, exe);
    fseek(f, 0, SEEK_END);
    b.size = (size_t)ftell(f);
    rewind(f);
    b.data = malloc(b.size);
    REQUIRE(b.data && fread(b.data, 1, b.size, f) == b.size, "cannot read %s",
            path);
    fclose(f);
    return b;
}

/* Parse fixture `name` into *m, or end the test saying why it failed. */
static void parse_fixture(const char *name, struct machine *m)
{
    struct blob b = load_dtb(name);
    const char *why = NULL;
    int err = machine_from_fdt(m, b.data, b.size, &why);

    free(b.data);
    REQUIRE(err == 0, "%s: %s: %s", name, errno_name(err), why);
}

/* Expect bank i to be [base, base + size) on node. */
static void expect_bank(const struct machine *m, unsigned int i, paddr_t base,
                        uint64_t size, unsigned int node)
{
    REQUIRE(i < m->nr_banks, "bank %u missing (%u banks)", i, m->nr_banks);
    EXPECT_EQ(m->banks[i].base, base);
    EXPECT_EQ(m->banks[i].size, size);
    EXPECT_EQ(m->banks[i].node, node);
}

static void expect_reserved(const struct machine *m, unsigned int i,
                            paddr_t base, uint64_t size, enum reserve_kind kind,
                            const char *name)
{
    REQUIRE(i < m->nr_reserved, "reservation %u missing (%u)", i,
            m->nr_reserved);
    EXPECT_EQ(m->reserved[i].base, base);
    EXPECT_EQ(m->reserved[i].size, size);
    EXPECT_EQ(m->reserved[i].kind, kind);
    EXPECT(strcmp(m->reserved[i].name, name) == 0,
           "reservation %u is named '%s', want '%s'", i, m->reserved[i].name,
           name);
}

static void expect_hart(const struct machine *m, unsigned int i, uint32_t id,
                        unsigned int node)
{
    REQUIRE(i < m->nr_harts, "hart %u missing (%u harts)", i, m->nr_harts);
    EXPECT_EQ(m->hart_ids[i], id);
    EXPECT_EQ(m->hart_node[i], node);
}

/*
 * Expect every pair of distinct nodes below nr to be `remote` apart, and 10
 * from themselves.
 */
static void expect_uniform_distance(const struct machine *m, unsigned int nr,
                                    unsigned int remote)
{
    for (unsigned int a = 0; a < nr; a++)
        for (unsigned int b = 0; b < nr; b++)
            EXPECT(m->distance[a][b] == (a == b ? 10 : remote),
                   "distance[%u][%u] = %u", a, b, m->distance[a][b]);
}

/*
 * qemu-1node: 128 MiB at 0x80000000, one hart, the UART and sifive,test
 * on the soc bus (2/2 cells). Expect one bank on node 0, one node, hart 0,
 * uart 0x10000000 (reg-shift 0), power-off 0x100000, stdout-path read,
 * no reservations, no initrd, empty bootargs.
 */
TEST(qemu_1node)
{
    struct machine m;

    parse_fixture("qemu-1node", &m);
    EXPECT_EQ(m.nr_banks, 1);
    expect_bank(&m, 0, 0x80000000, 128 * MiB, 0);
    EXPECT_EQ(m.nr_nodes, 1);
    EXPECT_EQ(m.nr_harts, 1);
    expect_hart(&m, 0, 0, 0);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.uart_reg_shift, 0);
    EXPECT_EQ(m.poweroff_base, 0x100000);
    EXPECT(strcmp(m.stdout_path, "/soc/serial@10000000") == 0,
           "stdout_path '%s'", m.stdout_path);
    EXPECT(m.bootargs[0] == '\0', "bootargs '%s'", m.bootargs);
    EXPECT_EQ(m.nr_reserved, 0);
    EXPECT_EQ(m.initrd_start, 0);
    EXPECT_EQ(m.initrd_end, 0);
    expect_uniform_distance(&m, 1, 20);
}

/*
 * qemu-2node:
 *
 *   node 0: [0x80000000, 0x88000000) harts 0 1
 *   node 1: [0x88000000, 0x90000000) harts 2 3      distance 0 <-> 1 = 20
 *
 * Expect exactly that, and the lookups machine_pa_node() and
 * machine_hart_node() to agree (an address outside RAM: NUMA_NO_NODE; an
 * unknown hart: node 0).
 */
TEST(qemu_2node)
{
    struct machine m;

    parse_fixture("qemu-2node", &m);
    EXPECT_EQ(m.nr_banks, 2);
    expect_bank(&m, 0, 0x80000000, 128 * MiB, 0);
    expect_bank(&m, 1, 0x88000000, 128 * MiB, 1);
    EXPECT_EQ(m.nr_nodes, 2);
    EXPECT_EQ(m.nr_harts, 4);
    for (unsigned int i = 0; i < 4; i++)
        expect_hart(&m, i, i, i / 2);
    expect_uniform_distance(&m, 2, 20);
    EXPECT_EQ(machine_pa_node(&m, 0x80000000), 0);
    EXPECT_EQ(machine_pa_node(&m, 0x87ffffff), 0);
    EXPECT_EQ(machine_pa_node(&m, 0x88000000), 1);
    EXPECT_EQ(machine_pa_node(&m, 0x8fffffff), 1);
    EXPECT_EQ(machine_pa_node(&m, 0x90000000), NUMA_NO_NODE);
    EXPECT_EQ(machine_pa_node(&m, 0x7fffffff), NUMA_NO_NODE);
    EXPECT_EQ(machine_hart_node(&m, 3), 1);
    EXPECT_EQ(machine_hart_node(&m, 1), 0);
    EXPECT_EQ(machine_hart_node(&m, 99), 0);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.poweroff_base, 0x100000);
}

/*
 * qemu-4node: four 128 MiB banks from 0x80000000, harts 2n and 2n+1 on
 * node n, and a full distance matrix:
 *
 *        0  1  2  3
 *   0   10 20 30 40
 *   1   20 10 20 30
 *   2   30 20 10 20
 *   3   40 30 20 10
 */
TEST(qemu_4node)
{
    static const uint8_t want[4][4] = {
        {10, 20, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}};
    struct machine m;

    parse_fixture("qemu-4node", &m);
    EXPECT_EQ(m.nr_banks, 4);
    for (unsigned int i = 0; i < 4; i++)
        expect_bank(&m, i, 0x80000000 + i * 128 * MiB, 128 * MiB, i);
    EXPECT_EQ(m.nr_nodes, 4);
    EXPECT_EQ(m.nr_harts, 8);
    for (unsigned int i = 0; i < 8; i++)
        expect_hart(&m, i, i, i / 2);
    for (unsigned int a = 0; a < 4; a++)
        for (unsigned int b = 0; b < 4; b++)
            EXPECT(m.distance[a][b] == want[a][b],
                   "distance[%u][%u] = %u, want %u", a, b, m.distance[a][b],
                   want[a][b]);
}

/*
 * qemu-memless: node 2 has a hart but no RAM; QEMU still writes
 * memory@90000000 with size 0 for it. Expect that bank dropped (2 banks),
 * nr_nodes 3 (hart 2 is on node 2), and no distance map (QEMU wrote none):
 * the defaults 10/20.
 */
TEST(qemu_memless_node)
{
    struct machine m;

    parse_fixture("qemu-memless", &m);
    EXPECT_EQ(m.nr_banks, 2);
    expect_bank(&m, 0, 0x80000000, 128 * MiB, 0);
    expect_bank(&m, 1, 0x88000000, 128 * MiB, 1);
    EXPECT_EQ(m.nr_nodes, 3);
    EXPECT_EQ(m.nr_harts, 3);
    expect_hart(&m, 2, 2, 2);
    EXPECT_EQ(machine_pa_node(&m, 0x90000000), NUMA_NO_NODE);
    expect_uniform_distance(&m, 3, 20);
}

/*
 * qemu-opensbi-1node: the tree saved from guest memory after OpenSBI v1.1
 * edited it. Expect OpenSBI's own range [0x80000000, +512 KiB) as
 * reservation "mmode_resv0@80000000", and everything else as qemu-1node.
 */
TEST(qemu_after_opensbi)
{
    struct machine m;

    parse_fixture("qemu-opensbi-1node", &m);
    EXPECT_EQ(m.nr_reserved, 1);
    expect_reserved(&m, 0, 0x80000000, 0x80000, RESERVE_NODE,
                    "mmode_resv0@80000000");
    EXPECT_EQ(m.nr_banks, 1);
    expect_bank(&m, 0, 0x80000000, 128 * MiB, 0);
    EXPECT_EQ(m.nr_harts, 1);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.poweroff_base, 0x100000);
}

/*
 * qemu-opensbi-initrd: saved from guest memory, booted with -smp 2, a
 * 1000000-byte -initrd and -append "numbat verbose". Expect the initrd
 * [0x84200000, 0x842f4240) from QEMU's 32-bit cells, reserved beside
 * OpenSBI's mmode_resv0, the boot arguments, and two harts.
 */
TEST(qemu_after_opensbi_with_initrd)
{
    struct machine m;

    parse_fixture("qemu-opensbi-initrd", &m);
    EXPECT_EQ(m.initrd_start, 0x84200000);
    EXPECT_EQ(m.initrd_end, 0x84200000 + 1000000);
    EXPECT_EQ(m.nr_reserved, 2);
    expect_reserved(&m, 0, 0x80000000, 0x80000, RESERVE_NODE,
                    "mmode_resv0@80000000");
    expect_reserved(&m, 1, 0x84200000, 1000000, RESERVE_INITRD, "");
    EXPECT(strcmp(m.bootargs, "numbat verbose") == 0, "bootargs '%s'",
           m.bootargs);
    EXPECT_EQ(m.nr_harts, 2);
    expect_hart(&m, 1, 1, 0);
}

/*
 * opensbi-resv: the tree as OpenSBI hands it on, with -initrd and -append.
 *
 *   [0x80000000, +0x40000)  reserved-memory mmode_resv1@80000000
 *   [0x80040000, +0x20000)  reserved-memory mmode_resv0@80040000
 *   [0x84000000, +1 MiB)    initrd (64-bit cells in /chosen)
 *   [0x87f00000, +0x10000)  memreserve
 *
 * Expect these four, sorted by base; the size-0 /memreserve/ entry, the
 * reg-less "dynamic-pool" and the disabled child are not reserved. The
 * UART is found through stdout-path "serial0:115200n8", an alias.
 */
TEST(opensbi_reserved_memory)
{
    struct machine m;

    parse_fixture("opensbi-resv", &m);
    EXPECT_EQ(m.nr_reserved, 4);
    expect_reserved(&m, 0, 0x80000000, 0x40000, RESERVE_NODE,
                    "mmode_resv1@80000000");
    expect_reserved(&m, 1, 0x80040000, 0x20000, RESERVE_NODE,
                    "mmode_resv0@80040000");
    expect_reserved(&m, 2, 0x84000000, 1 * MiB, RESERVE_INITRD, "");
    expect_reserved(&m, 3, 0x87f00000, 0x10000, RESERVE_MEMRESERVE, "");
    EXPECT_EQ(m.initrd_start, 0x84000000);
    EXPECT_EQ(m.initrd_end, 0x84100000);
    EXPECT(strcmp(m.bootargs, "ktest=mm_* verbose") == 0, "bootargs '%s'",
           m.bootargs);
    EXPECT(strcmp(m.stdout_path, "serial0:115200n8") == 0, "stdout_path '%s'",
           m.stdout_path);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.poweroff_base, 0x100000);
    EXPECT_EQ(m.nr_banks, 1);
}

/*
 * cpuless: node 1 has RAM and no hart; the root gives no cell counts
 * (defaults 2 address, 1 size); cpu@2 is disabled; the distance map gives
 * only 0 -> 1 = 30; the initrd is in 32-bit cells; the UART is a plain
 * ns16550 with reg-shift 2. Expect 2 banks, 2 nodes, 2 harts (ids 0, 1),
 * distance 30 both ways, initrd [0x80800000, 0x80900000) reserved.
 */
TEST(cpuless_node_and_defaults)
{
    struct machine m;

    parse_fixture("cpuless", &m);
    EXPECT_EQ(m.nr_banks, 2);
    expect_bank(&m, 0, 0x80000000, 128 * MiB, 0);
    expect_bank(&m, 1, 0x88000000, 128 * MiB, 1);
    EXPECT_EQ(m.nr_nodes, 2);
    EXPECT_EQ(m.nr_harts, 2);
    expect_hart(&m, 0, 0, 0);
    expect_hart(&m, 1, 1, 0);
    EXPECT_EQ(m.distance[0][1], 30);
    EXPECT_EQ(m.distance[1][0], 30);
    EXPECT_EQ(m.distance[1][1], 10);
    EXPECT_EQ(m.initrd_start, 0x80800000);
    EXPECT_EQ(m.initrd_end, 0x80900000);
    EXPECT_EQ(m.nr_reserved, 1);
    expect_reserved(&m, 0, 0x80800000, 1 * MiB, RESERVE_INITRD, "");
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.uart_reg_shift, 2);
    EXPECT_EQ(m.poweroff_base, 0x100000);
    EXPECT(m.stdout_path[0] == '\0', "stdout_path '%s'", m.stdout_path);
}

/*
 * holes: banks written out of order with 1/1 cells, one node with two
 * entries, a disabled bank and a zero-size bank on node 2:
 *
 *   [0x80000000, +256 MiB) n0  hole  [0xa0000000, +1 MiB) n1  hole
 *   [0xc0000000, +16 MiB) n1   hole  [0xd0000000, +32 MiB) n1
 *
 * Expect exactly these four, sorted; nr_nodes 3 (the empty bank's node
 * counts); harts in tree order: 3 on node 0, then 1 on node 1.
 */
TEST(banks_with_holes_sorted)
{
    struct machine m;

    parse_fixture("holes", &m);
    EXPECT_EQ(m.nr_banks, 4);
    expect_bank(&m, 0, 0x80000000, 256 * MiB, 0);
    expect_bank(&m, 1, 0xa0000000, 1 * MiB, 1);
    expect_bank(&m, 2, 0xc0000000, 16 * MiB, 1);
    expect_bank(&m, 3, 0xd0000000, 32 * MiB, 1);
    EXPECT_EQ(m.nr_nodes, 3);
    EXPECT_EQ(machine_pa_node(&m, 0x90000000), NUMA_NO_NODE); /* in a hole */
    EXPECT_EQ(machine_pa_node(&m, 0xd1ffffff), 1);
    EXPECT_EQ(m.nr_harts, 2);
    expect_hart(&m, 0, 3, 0);
    expect_hart(&m, 1, 1, 1);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.poweroff_base, 0);
}

/*
 * ram-at-zero: [0, 256 MiB) and [4 GiB, 5 GiB); /memreserve/ [0, 0x1000);
 * stdout-path names a non-ns16550 device, so expect the fallback UART at
 * 0x30000; power-off "sifive,test0" at 0x40000.
 */
TEST(ram_at_address_zero)
{
    struct machine m;

    parse_fixture("ram-at-zero", &m);
    EXPECT_EQ(m.nr_banks, 2);
    expect_bank(&m, 0, 0, 256 * MiB, 0);
    expect_bank(&m, 1, 4 * GiB, 1 * GiB, 0);
    EXPECT_EQ(machine_pa_node(&m, 0), 0);
    EXPECT_EQ(m.nr_reserved, 1);
    expect_reserved(&m, 0, 0, 0x1000, RESERVE_MEMRESERVE, "");
    EXPECT_EQ(m.uart_base, 0x30000);
    EXPECT_EQ(m.poweroff_base, 0x40000);
    EXPECT(strcmp(m.stdout_path, "/soc/virtcon@20000") == 0, "stdout_path '%s'",
           m.stdout_path);
}

/*
 * The walkers of fdt.h on opensbi-resv. Expect: path lookup with and
 * without unit addresses, parents, document order with depths (14 nodes),
 * properties in order, phandles, reg decoding, and the /memreserve/ block
 * (2 entries: the empty one is an entry too; only (0, 0) ends the block).
 */
TEST(fdt_walkers)
{
    struct blob b = load_dtb("opensbi-resv");
    struct fdt fdt;
    struct fdt_prop p;
    const char *why = NULL;
    int root, cpus, cpu0, chosen, n, depth = 0, count = 0, cpu_depth = -1;
    paddr_t base;
    uint64_t size;

    REQUIRE(fdt_open(&fdt, b.data, b.size, &why) == 0, "%s", why);
    root = fdt_root(&fdt);
    cpus = fdt_find_path(&fdt, "/cpus");
    cpu0 = fdt_find_path(&fdt, "/cpus/cpu@0");
    EXPECT(root >= 0 && cpus > root && cpu0 > cpus, "root %d cpus %d cpu0 %d",
           root, cpus, cpu0);
    EXPECT(strcmp(fdt_node_name(&fdt, root), "") == 0, "root is named '%s'",
           fdt_node_name(&fdt, root));
    EXPECT(strcmp(fdt_node_name(&fdt, cpu0), "cpu@0") == 0, "'%s'",
           fdt_node_name(&fdt, cpu0));
    EXPECT_EQ(fdt_find_path(&fdt, "/cpus/cpu"), cpu0);
    EXPECT_EQ(fdt_find_path(&fdt, "//cpus//cpu@0/"), cpu0);
    EXPECT_EQ(fdt_find_path(&fdt, "/"), root);
    EXPECT_EQ(fdt_find_path(&fdt, "/cpus/cpu@1"), -ENOENT);
    EXPECT_EQ(fdt_find_path(&fdt, "/cpu"), -ENOENT);
    EXPECT_EQ(fdt_find_path(&fdt, "cpus"), -ENOENT); /* not absolute */
    EXPECT_EQ(fdt_parent(&fdt, cpu0), cpus);
    EXPECT_EQ(fdt_parent(&fdt, cpus), root);
    EXPECT_EQ(fdt_parent(&fdt, root), -ENOENT);
    EXPECT_EQ(fdt_find_phandle(&fdt, 1), cpu0);
    EXPECT_EQ(fdt_find_phandle(&fdt, 0), -ENOENT);
    EXPECT_EQ(fdt_find_phandle(&fdt, 77), -ENOENT);
    EXPECT_EQ(fdt_find_compatible(&fdt, -1, "sifive,test0"),
              fdt_find_path(&fdt, "/soc/test@100000"));
    EXPECT_EQ(fdt_find_compatible(&fdt, fdt_find_path(&fdt, "/soc/test"),
                                  "sifive,test0"),
              -ENOENT);

    for (n = fdt_next_node(&fdt, -1, &depth); n >= 0;
         n = fdt_next_node(&fdt, n, &depth)) {
        count++;
        if (n == cpu0)
            cpu_depth = depth;
    }
    EXPECT_EQ(count, 14);
    EXPECT_EQ(cpu_depth, 2);

    chosen = fdt_find_path(&fdt, "/chosen");
    count = 0;
    for (n = fdt_first_prop(&fdt, chosen, &p); n >= 0;
         n = fdt_next_prop(&fdt, n, &p))
        count++;
    EXPECT_EQ(count, 4);
    EXPECT(fdt_first_prop(&fdt, chosen, &p) >= 0 &&
               strcmp(p.name, "bootargs") == 0,
           "first prop");
    EXPECT_EQ(fdt_first_prop(
                  &fdt, fdt_find_path(&fdt, "/reserved-memory/dynamic-pool"),
                  &p) >= 0,
              1);

    EXPECT_EQ(fdt_reg(&fdt, fdt_find_path(&fdt, "/reserved-memory/mmode_resv0"),
                      0, &base, &size, &why),
              0);
    EXPECT_EQ(base, 0x80040000);
    EXPECT_EQ(size, 0x20000);
    EXPECT_EQ(fdt_reg(&fdt, cpu0, 1, &base, &size, &why), -ENOENT);

    EXPECT_EQ(fdt.nr_rsv, 2);
    EXPECT_EQ(fdt_rsv_entry(&fdt, 0, &base, &size), 0);
    EXPECT_EQ(base, 0x87f00000);
    EXPECT_EQ(fdt_rsv_entry(&fdt, 1, &base, &size), 0);
    EXPECT_EQ(size, 0);
    EXPECT_EQ(fdt_rsv_entry(&fdt, 2, &base, &size), -ENOENT);
    EXPECT(fdt_prop_has_string(&fdt, fdt_find_path(&fdt, "/soc/test"),
                               "compatible", "syscon"),
           "syscon");
    EXPECT(!fdt_prop_has_string(&fdt, fdt_find_path(&fdt, "/soc/test"),
                                "compatible", "sifive"),
           "prefix");
    free(b.data);
}

/*
 * Walkers given offsets that are not nodes: every offset from -8 to past
 * the end of the struct block, and a struct fdt that never opened. Expect
 * each answer to be a negative code or an offset inside the struct block,
 * and (ASan) no read outside the blob.
 */
TEST(fdt_walkers_refuse_bad_offsets)
{
    struct blob b = load_dtb("qemu-1node");
    struct fdt fdt, unopened;
    struct fdt_prop p;
    const char *why;
    int limit;

    REQUIRE(fdt_open(&fdt, b.data, b.size, &why) == 0, "%s", why);
    limit = (int)fdt.struct_size;
    for (int off = -8; off < limit + 8; off++) {
        int depth = 0;
        int got[] = {fdt_first_child(&fdt, off), fdt_next_sibling(&fdt, off),
                     fdt_next_node(&fdt, off, &depth),
                     fdt_first_prop(&fdt, off, &p),
                     fdt_next_prop(&fdt, off, &p)};

        for (unsigned int i = 0; i < sizeof(got) / sizeof(got[0]); i++)
            EXPECT(got[i] < limit, "offset %d: call %u gave %d", off, i,
                   got[i]);
        (void)fdt_node_name(&fdt, off);
        (void)fdt_prop(&fdt, off, "reg", NULL);
    }
    EXPECT_EQ(fdt_open(&unopened, b.data, 10, &why), -EBADMSG);
    EXPECT_EQ(fdt_root(&unopened), -ENOENT);
    EXPECT_EQ(fdt_find_path(&unopened, "/cpus"), -ENOENT);
    EXPECT_EQ(fdt_first_child(&unopened, 0), -ENOENT);
    EXPECT_EQ(fdt_find_compatible(&unopened, -1, "ns16550a"), -ENOENT);
    free(b.data);
}

/* --- a tiny blob builder -------------------------------------------------- */

#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

/*
 * A blob under construction. Layout of the finished blob (the spec lets
 * the blocks come in any order; the /memreserve/ block goes last so that a
 * test can break its terminator):
 *
 *   [0, 40) header | struct block | strings block | pad to 8 | memreserve
 */
struct dtb {
    uint8_t st[320 * 1024]; /* struct block being written */
    uint32_t st_len;        /* bytes of it so far */
    char strs[4096];        /* strings block being written */
    uint32_t strs_len;      /* bytes of it so far */
    uint64_t rsv[40][2];    /* /memreserve/ entries (base, size) */
    unsigned int nr_rsv;    /* how many */
    uint8_t *blob;        /* the finished blob (malloc, exactly `size` bytes) */
    uint32_t size;        /* its totalsize */
    uint32_t strings_off; /* where the strings block starts in blob */
};

/* Header fields a test may patch. */
enum {
    H_MAGIC = 0,
    H_TOTALSIZE = 4,
    H_OFF_STRUCT = 8,
    H_OFF_STRINGS = 12,
    H_OFF_RSVMAP = 16,
    H_VERSION = 20,
    H_LAST_COMP = 24,
    H_SIZE_STRINGS = 32,
    H_SIZE_STRUCT = 36
};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, (uint32_t)v);
}

static struct dtb *dtb_new(void)
{
    struct dtb *b = calloc(1, sizeof(*b));

    REQUIRE(b, "out of memory");
    return b;
}

static void dtb_free(struct dtb *b)
{
    free(b->blob);
    free(b);
}

static void b_bytes(struct dtb *b, const void *p, uint32_t n)
{
    REQUIRE(b->st_len + n + 4 <= sizeof(b->st), "builder: struct block full");
    memcpy(b->st + b->st_len, p, n);
    b->st_len += n;
    while (b->st_len % 4)
        b->st[b->st_len++] = 0;
}

/* Append one 32-bit word; return its struct-block offset. */
static uint32_t b_word(struct dtb *b, uint32_t v)
{
    uint8_t w[4];

    put_be32(w, v);
    b_bytes(b, w, 4);
    return b->st_len - 4;
}

static uint32_t b_string(struct dtb *b, const char *s)
{
    for (uint32_t off = 0; off < b->strs_len; off += strlen(b->strs + off) + 1)
        if (strcmp(b->strs + off, s) == 0)
            return off;
    REQUIRE(b->strs_len + strlen(s) + 1 <= sizeof(b->strs),
            "builder: strings full");
    strcpy(b->strs + b->strs_len, s);
    b->strs_len += strlen(s) + 1;
    return b->strs_len - strlen(s) - 1;
}

/* BEGIN_NODE name; returns the token's struct-block offset. */
static uint32_t b_begin(struct dtb *b, const char *name)
{
    uint32_t off = b_word(b, FDT_BEGIN_NODE);

    b_bytes(b, name, strlen(name) + 1);
    return off;
}

static void b_end(struct dtb *b)
{
    b_word(b, FDT_END_NODE);
}

/* PROP name = data[len]; returns the token's struct-block offset. */
static uint32_t b_prop(struct dtb *b, const char *name, const void *data,
                       uint32_t len)
{
    uint32_t off = b_word(b, FDT_PROP);

    b_word(b, len);
    b_word(b, b_string(b, name));
    if (len)
        b_bytes(b, data, len);
    return off;
}

/* A property of n 32-bit cells. */
static uint32_t b_cells(struct dtb *b, const char *name, unsigned int n, ...)
{
    uint8_t v[64 * 4];
    va_list ap;

    va_start(ap, n);
    for (unsigned int i = 0; i < n; i++)
        put_be32(v + 4 * i, va_arg(ap, unsigned int));
    va_end(ap);
    return b_prop(b, name, v, 4 * n);
}

static uint32_t b_str(struct dtb *b, const char *name, const char *s)
{
    return b_prop(b, name, s, strlen(s) + 1);
}

/* Lay the blocks out into b->blob; with_end: write the FDT_END token. */
static void dtb_finish(struct dtb *b, bool with_end)
{
    uint32_t struct_off = 40, rsv_off;

    if (with_end)
        b_word(b, FDT_END);
    b->strings_off = struct_off + b->st_len;
    rsv_off = (b->strings_off + b->strs_len + 7) & ~7u;
    b->size = rsv_off + 16 * (b->nr_rsv + 1);
    b->blob = calloc(1, b->size);
    REQUIRE(b->blob, "out of memory");
    put_be32(b->blob + H_MAGIC, 0xd00dfeed);
    put_be32(b->blob + H_TOTALSIZE, b->size);
    put_be32(b->blob + H_OFF_STRUCT, struct_off);
    put_be32(b->blob + H_OFF_STRINGS, b->strings_off);
    put_be32(b->blob + H_OFF_RSVMAP, rsv_off);
    put_be32(b->blob + H_VERSION, 17);
    put_be32(b->blob + H_LAST_COMP, 16);
    put_be32(b->blob + H_SIZE_STRINGS, b->strs_len);
    put_be32(b->blob + H_SIZE_STRUCT, b->st_len);
    memcpy(b->blob + struct_off, b->st, b->st_len);
    memcpy(b->blob + b->strings_off, b->strs, b->strs_len);
    for (unsigned int i = 0; i < b->nr_rsv; i++) {
        put_be64(b->blob + rsv_off + 16 * i, b->rsv[i][0]);
        put_be64(b->blob + rsv_off + 16 * i + 8, b->rsv[i][1]);
    }
}

static void set_header(struct dtb *b, unsigned int field, uint32_t v)
{
    put_be32(b->blob + field, v);
}

/* Patch a word inside the struct block of the finished blob. */
static void set_struct_word(struct dtb *b, uint32_t st_off, uint32_t v)
{
    put_be32(b->blob + 40 + st_off, v);
}

/* The root node with #address-cells = #size-cells = 2. */
static void b_root(struct dtb *b)
{
    b_begin(b, "");
    b_cells(b, "#address-cells", 1, 2);
    b_cells(b, "#size-cells", 1, 2);
}

static void b_memory(struct dtb *b, uint64_t base, uint64_t size,
                     unsigned int node)
{
    char name[40];

    snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)base);
    b_begin(b, name);
    b_str(b, "device_type", "memory");
    b_cells(b, "numa-node-id", 1, node);
    b_cells(b, "reg", 4, (unsigned int)(base >> 32), (unsigned int)base,
            (unsigned int)(size >> 32), (unsigned int)size);
    b_end(b);
}

/* /cpus with harts 0 .. nr - 1 on node 0. */
static void b_cpus(struct dtb *b, unsigned int nr)
{
    char name[16];

    b_begin(b, "cpus");
    b_cells(b, "#address-cells", 1, 1);
    b_cells(b, "#size-cells", 1, 0);
    for (unsigned int i = 0; i < nr; i++) {
        snprintf(name, sizeof(name), "cpu@%u", i);
        b_begin(b, name);
        b_str(b, "device_type", "cpu");
        b_cells(b, "reg", 1, i);
        b_end(b);
    }
    b_end(b);
}

/*
 * The smallest machine Numbat accepts: 128 MiB at 0x80000000 and hart 0.
 * The root is left open: the caller may add nodes, then closes it with b_end().
 */
static struct dtb *minimal_machine(void)
{
    struct dtb *b = dtb_new();

    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_cpus(b, 1);
    return b;
}

/* Parse a copy of blob[0 .. size) in a heap buffer of exactly that size. */
static int parse_exact(const uint8_t *blob, size_t size, struct machine *m,
                       const char **why)
{
    uint8_t *copy = malloc(size ? size : 1);
    int err;

    memcpy(copy, blob, size);
    *why = NULL;
    err = machine_from_fdt(m, copy, size, why);
    free(copy);
    return err;
}

/*
 * Expect the finished blob to be refused with `err` and a why containing
 * `part`.
 */
static void expect_rejected(struct dtb *b, int err, const char *part)
{
    struct machine m;
    const char *why;
    int got = parse_exact(b->blob, b->size, &m, &why);

    EXPECT(got == err, "got %d (%s), want %d (%s); why: %s", got,
           errno_name(got), err, errno_name(err), why);
    EXPECT(why && strstr(why, part), "why '%s' does not mention '%s'", why,
           part);
    if (why)
        DIAG("refused as expected: %s", why);
}

static void expect_accepted(struct dtb *b)
{
    struct machine m;
    const char *why;
    int got = parse_exact(b->blob, b->size, &m, &why);

    EXPECT(got == 0, "refused: %s: %s", errno_name(got), why);
}

/* --- malformed blobs: the container --------------------------------------- */

/*
 * The builder's minimal machine is accepted (so each test below that
 * breaks one field tests that field). Expect 1 bank, 1 hart, 1 node.
 */
TEST(builder_minimal_machine_accepted)
{
    struct dtb *b = minimal_machine();
    struct machine m;
    const char *why;

    b_end(b);
    dtb_finish(b, true);
    REQUIRE(parse_exact(b->blob, b->size, &m, &why) == 0, "%s", why);
    EXPECT_EQ(m.nr_banks, 1);
    EXPECT_EQ(m.nr_harts, 1);
    EXPECT_EQ(m.nr_nodes, 1);
    EXPECT_EQ(m.uart_base, 0);
    EXPECT_EQ(m.poweroff_base, 0);
    dtb_free(b);
}

/*
 * A real blob cut at every length from 0 to totalsize - 1. Expect every
 * one refused: below 40 bytes "too short", else "totalsize ... larger";
 * ASan sees no read past the cut.
 */
TEST(truncated_at_every_length)
{
    struct blob full = load_dtb("qemu-2node");
    struct machine m;
    const char *why;

    for (size_t len = 0; len < full.size; len++) {
        int err = parse_exact(full.data, len, &m, &why);

        EXPECT(err == -EBADMSG, "length %zu: got %d", len, err);
        EXPECT(why && strstr(why, len < 40 ? "too short" : "totalsize"),
               "length %zu: why '%s'", len, why);
    }
    EXPECT_EQ(parse_exact(full.data, full.size, &m, &why), 0);
    free(full.data);
}

/*
 * Bad magic, too old a version, too new a last-compatible version. Expect
 * each named. Version 16 (which has no size_dt_struct) is accepted.
 */
TEST(bad_header_fields)
{
    struct dtb *b = minimal_machine();

    b_end(b);
    dtb_finish(b, true);
    set_header(b, H_MAGIC, 0x12345678);
    expect_rejected(b, -EBADMSG, "bad magic 0x12345678");
    set_header(b, H_MAGIC, 0xd00dfeed);
    set_header(b, H_VERSION, 15);
    expect_rejected(b, -EBADMSG, "version 15");
    set_header(b, H_VERSION, 17);
    set_header(b, H_LAST_COMP, 18);
    expect_rejected(b, -EBADMSG, "last compatible version 18");
    set_header(b, H_LAST_COMP, 16);
    expect_accepted(b);
    set_header(b, H_VERSION, 16); /* no size_dt_struct: runs to totalsize */
    set_header(b, H_SIZE_STRUCT, 0xdeadbeef);
    expect_accepted(b);
    { /* no blob at all */
        struct machine m;
        const char *why = NULL;

        EXPECT_EQ(machine_from_fdt(&m, NULL, 100, &why), -EBADMSG);
        EXPECT(why && strstr(why, "NULL"), "why '%s'", why);
    }
    dtb_free(b);
}

/*
 * Block offsets and sizes that reach outside totalsize or break alignment.
 * Expect each refused, naming the block; 32-bit sums must not wrap.
 */
TEST(block_offsets_out_of_bounds)
{
    struct dtb *b = minimal_machine();
    uint32_t st_size;

    b_end(b);
    dtb_finish(b, true);
    st_size = b->strings_off - 40;
    set_header(b, H_OFF_STRUCT, b->size);
    expect_rejected(b, -EBADMSG, "struct block");
    set_header(b, H_OFF_STRUCT, 42);
    expect_rejected(b, -EBADMSG, "not 4-byte aligned");
    set_header(b, H_OFF_STRUCT, 8);
    expect_rejected(b, -EBADMSG, "overlaps the 40-byte header");
    set_header(b, H_OFF_STRUCT, 40);
    set_header(b, H_SIZE_STRUCT, 0xfffffff0); /* 40 + this wraps a uint32_t */
    expect_rejected(b, -EBADMSG, "runs past totalsize");
    set_header(b, H_SIZE_STRUCT, st_size);
    set_header(b, H_OFF_STRINGS, 0xffffff00);
    expect_rejected(b, -EBADMSG, "strings block");
    set_header(b, H_OFF_STRINGS, b->strings_off);
    set_header(b, H_OFF_RSVMAP, b->size - 8);
    expect_rejected(b, -EBADMSG, "memory reservation block");
    set_header(b, H_OFF_RSVMAP, b->size - 16);
    expect_accepted(b);
    set_header(b, H_TOTALSIZE, b->size + 1);
    expect_rejected(b, -EBADMSG, "larger than");
    set_header(b, H_TOTALSIZE, 20);
    expect_rejected(b, -EBADMSG, "totalsize 20");
    dtb_free(b);
}

/*
 * The /memreserve/ block's (0, 0) terminator replaced by data. Expect "no
 * (0, 0) terminator".
 */
TEST(memreserve_without_terminator)
{
    struct dtb *b = minimal_machine();

    b_end(b);
    dtb_finish(b, true);
    memset(b->blob + b->size - 16, 0xff, 16);
    expect_rejected(b, -EBADMSG, "no (0, 0) terminator");
    dtb_free(b);
}

/*
 * A node name that runs to the end of the struct block (size_dt_struct
 * cut in the middle of "memory@80000000"). Expect "not NUL-terminated".
 */
TEST(unterminated_node_name)
{
    struct dtb *b = dtb_new();
    uint32_t mem;

    b_root(b);
    mem = b_begin(b, "memory@80000000");
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    set_header(b, H_SIZE_STRUCT, mem + 4 + 8);
    expect_rejected(b, -EBADMSG, "node name at struct offset");
    dtb_free(b);
}

/*
 * A property whose name offset is past the strings block, and one whose
 * name loses its NUL because the strings block is cut by one byte.
 * Expect "outside the strings block" and "not NUL-terminated".
 */
TEST(property_name_out_of_range)
{
    struct dtb *b = dtb_new();
    uint32_t prop;

    b_root(b);
    prop = b_str(b, "model", "numbat");
    b_end(b);
    dtb_finish(b, true);
    set_struct_word(b, prop + 8, b->strs_len + 100);
    expect_rejected(b, -EBADMSG, "outside the strings block");
    set_struct_word(b, prop + 8, b->strs_len);
    expect_rejected(b, -EBADMSG, "outside the strings block");
    set_struct_word(b, prop + 8, b_string(b, "model"));
    set_header(b, H_SIZE_STRINGS,
               b->strs_len - 1); /* "model" is the last string */
    expect_rejected(b, -EBADMSG, "not NUL-terminated");
    dtb_free(b);
}

/*
 * Property lengths past the struct block: 0xfffffff0 (would wrap a 32-bit
 * sum) and one byte too many. Expect "runs past the struct block".
 */
TEST(property_length_overflow)
{
    struct dtb *b = dtb_new();
    uint32_t prop;

    b_root(b);
    prop = b_str(b, "model", "numbat");
    b_end(b);
    dtb_finish(b, true);
    set_struct_word(b, prop + 4, 0xfffffff0);
    expect_rejected(b, -EBADMSG, "runs past the struct block");
    set_struct_word(b, prop + 4, b->st_len - (prop + 12) + 1);
    expect_rejected(b, -EBADMSG, "runs past the struct block");
    dtb_free(b);
}

/*
 * Nesting: 16 levels are accepted, 17 are not ("nested deeper than 16").
 * A million-level bomb stops at the limit too (no stack, no hang).
 */
TEST(depth_bomb)
{
    for (unsigned int levels = FDT_MAX_DEPTH; levels <= FDT_MAX_DEPTH + 1;
         levels++) {
        struct dtb *b = minimal_machine();

        /* The root is open: nest levels - 1 more nodes in it. */
        for (unsigned int i = 1; i < levels; i++)
            b_begin(b, "deeper");
        for (unsigned int i = 0; i < levels; i++)
            b_end(b);
        dtb_finish(b, true);
        if (levels == FDT_MAX_DEPTH)
            expect_accepted(b);
        else
            expect_rejected(b, -EBADMSG, "nested deeper than 16");
        dtb_free(b);
    }
    {
        struct dtb *b = dtb_new();

        for (unsigned int i = 0; i < 20000; i++)
            b_begin(b, "");
        dtb_finish(b, true);
        expect_rejected(b, -EBADMSG, "nested deeper");
        dtb_free(b);
    }
}

/* More than FDT_MAX_TOKENS tokens (NOPs). Expect "more than 65536 tokens". */
TEST(token_count_bomb)
{
    struct dtb *b = minimal_machine();

    for (unsigned int i = 0; i < FDT_MAX_TOKENS; i++)
        b_word(b, FDT_NOP);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "more than 65536 tokens");
    dtb_free(b);
}

/*
 * Broken token streams, each refused with its own reason: an unknown
 * token, no FDT_END, an END_NODE too many, two roots, a property after a
 * subnode, FDT_END inside a node.
 */
TEST(broken_token_streams)
{
    struct dtb *b;
    uint32_t nop;

    b = minimal_machine();
    nop = b_word(b, FDT_NOP);
    b_end(b);
    dtb_finish(b, true);
    expect_accepted(b);
    set_struct_word(b, nop, 7);
    expect_rejected(b, -EBADMSG, "unknown token 0x7");
    dtb_free(b);

    b = minimal_machine();
    b_end(b);
    dtb_finish(b, false);
    expect_rejected(b, -EBADMSG, "no FDT_END");
    dtb_free(b);

    b = minimal_machine();
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "closes no node");
    dtb_free(b);

    b = minimal_machine();
    b_end(b);
    b_begin(b, "");
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "second root");
    dtb_free(b);

    b = minimal_machine();
    b_str(b, "model", "late");
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "property model comes after a subnode");
    dtb_free(b);

    b = minimal_machine();
    dtb_finish(b, true); /* root never closed */
    expect_rejected(b, -EBADMSG, "FDT_END with 1 nodes still open");
    dtb_free(b);
}

/* --- malformed machines: the contents ------------------------------------- */

/*
 * Cell counts Numbat cannot use: #address-cells 0xffffffff or 3, #size-cells
 * 3, a cell count that is 8 bytes long. Expect each refused, naming the
 * memory node and the counts.
 */
TEST(absurd_cell_counts)
{
    static const struct {
        uint32_t ac, sc;
        const char *part;
    } cases[] = {
        {0xffffffffu, 2, "#address-cells 4294967295"},
        {3, 2, "#address-cells 3"},
        {2, 3, "#size-cells 3"},
        {0, 2, "#address-cells 0"},
    };

    for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dtb *b = dtb_new();

        b_begin(b, "");
        b_cells(b, "#address-cells", 1, cases[i].ac);
        b_cells(b, "#size-cells", 1, cases[i].sc);
        b_memory(b, 0x80000000, 128 * MiB, 0);
        b_cpus(b, 1);
        b_end(b);
        dtb_finish(b, true);
        expect_rejected(b, -ERANGE, cases[i].part);
        dtb_free(b);
    }
    {
        struct dtb *b = dtb_new();

        b_begin(b, "");
        b_cells(b, "#address-cells", 2, 0, 2);
        b_memory(b, 0x80000000, 128 * MiB, 0);
        b_cpus(b, 1);
        b_end(b);
        dtb_finish(b, true);
        expect_rejected(b, -EBADMSG, "not one cell");
        dtb_free(b);
    }
}

/*
 * A memory reg of 3 cells under 2 + 2 cells. Expect "memory@80000000: reg is
 * 12 bytes".
 */
TEST(reg_not_a_multiple_of_cells)
{
    struct dtb *b = dtb_new();

    b_root(b);
    b_begin(b, "memory@80000000");
    b_str(b, "device_type", "memory");
    b_cells(b, "reg", 3, 0, 0x80000000, 0x8000000);
    b_end(b);
    b_cpus(b, 1);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG,
                    "memory@80000000: reg is 12 bytes, not a multiple of 16");
    dtb_free(b);
}

/*
 * Node and hart ids past the tables: numa-node-id MAX_NUMNODES (16) on a
 * bank and MAX_NUMNODES + 1 on a hart, hart id MAX_HARTS (64), a hart id
 * twice. Expect each refused, naming the limit and what to do about it.
 */
TEST(ids_out_of_range)
{
    struct dtb *b;
    char want[160];

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, MAX_NUMNODES);
    b_cpus(b, 1);
    b_end(b);
    dtb_finish(b, true);
    snprintf(want, sizeof(want),
             "memory@80000000: numa-node-id %u is not below MAX_NUMNODES "
             "(%u): renumber the tree's nodes from 0, or raise MAX_NUMNODES "
             "in include/numbat/types.h",
             MAX_NUMNODES, MAX_NUMNODES);
    expect_rejected(b, -ERANGE, want);
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_begin(b, "cpus");
    b_cells(b, "#address-cells", 1, 1);
    b_cells(b, "#size-cells", 1, 0);
    b_begin(b, "cpu@0");
    b_str(b, "device_type", "cpu");
    b_cells(b, "reg", 1, 0);
    b_cells(b, "numa-node-id", 1, MAX_NUMNODES + 1);
    b_end(b);
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    snprintf(want, sizeof(want), "cpu@0: numa-node-id %u", MAX_NUMNODES + 1);
    expect_rejected(b, -ERANGE, want);
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_cpus(b, MAX_HARTS + 1);
    b_end(b);
    dtb_finish(b, true);
    snprintf(want, sizeof(want),
             "cpu@%u: hart id %u is not below MAX_HARTS (%u): raise MAX_HARTS "
             "in include/numbat/types.h",
             MAX_HARTS, MAX_HARTS, MAX_HARTS);
    expect_rejected(b, -ERANGE, want);
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_begin(b, "cpus");
    b_cells(b, "#address-cells", 1, 1);
    b_cells(b, "#size-cells", 1, 0);
    for (int i = 0; i < 2; i++) {
        b_begin(b, i ? "cpu@1" : "cpu@0");
        b_str(b, "device_type", "cpu");
        b_cells(b, "reg", 1, 0);
        b_end(b);
    }
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EEXIST, "cpu@1: hart id 0 appears twice");
    dtb_free(b);
}

/*
 * Table limits: 32 banks and MAX_HARTS harts fit; 33 banks or 33 reservations do
 * not (E2BIG / ENOSPC, "more than 32"): never a silent truncation.
 */
TEST(too_many_banks_and_reservations)
{
    for (unsigned int nr = MACHINE_MAX_BANKS; nr <= MACHINE_MAX_BANKS + 1;
         nr++) {
        struct dtb *b = dtb_new();

        b_root(b);
        for (unsigned int i = 0; i < nr; i++)
            b_memory(b, 0x80000000 + i * 2 * MiB, MiB, 0);
        b_cpus(b, MAX_HARTS);
        b_end(b);
        dtb_finish(b, true);
        if (nr == MACHINE_MAX_BANKS)
            expect_accepted(b);
        else
            expect_rejected(b, -E2BIG, "more than 32 memory banks");
        dtb_free(b);
    }
    for (unsigned int nr = MACHINE_MAX_RESERVED; nr <= MACHINE_MAX_RESERVED + 1;
         nr++) {
        struct dtb *b = minimal_machine();

        b_end(b);
        for (unsigned int i = 0; i < nr; i++) {
            b->rsv[i][0] = 0x80000000 + i * 0x1000;
            b->rsv[i][1] = 0x1000;
        }
        b->nr_rsv = nr;
        dtb_finish(b, true);
        if (nr == MACHINE_MAX_RESERVED)
            expect_accepted(b);
        else
            expect_rejected(b, -ENOSPC, "more than 32 reserved ranges");
        dtb_free(b);
    }
}

/*
 * Banks that overlap (in tree order high then low, so the check runs on
 * the sorted table) and a bank that wraps past 2^64. Expect "overlap" and
 * "wraps".
 */
TEST(overlapping_and_wrapping_banks)
{
    struct dtb *b;

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x88000000, 128 * MiB, 0);
    b_memory(b, 0x80000000, 129 * MiB, 0);
    b_cpus(b, 1);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "overlap");
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0xfffffffffffff000ull, 0x2000, 0);
    b_cpus(b, 1);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -ERANGE, "wraps past the top");
    dtb_free(b);
}

/* Build a machine whose /chosen holds what `add` writes. */
static struct dtb *machine_with_chosen(void (*add)(struct dtb *))
{
    struct dtb *b = dtb_new();

    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_cpus(b, 1);
    b_begin(b, "chosen");
    add(b);
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    return b;
}

static void long_bootargs(struct dtb *b)
{
    char s[301];

    memset(s, 'x', 300);
    s[300] = '\0';
    b_str(b, "bootargs", s);
}
static void unterminated_bootargs(struct dtb *b)
{
    b_prop(b, "bootargs", "abc", 3);
}
static void only_initrd_start(struct dtb *b)
{
    b_cells(b, "linux,initrd-start", 1, 0x84000000);
}
static void initrd_backwards(struct dtb *b)
{
    b_cells(b, "linux,initrd-start", 2, 0, 0x84100000);
    b_cells(b, "linux,initrd-end", 2, 0, 0x84000000);
}
static void initrd_three_bytes(struct dtb *b)
{
    b_prop(b, "linux,initrd-start", "\x84\0\0", 3);
    b_cells(b, "linux,initrd-end", 1, 0x84100000);
}

/*
 * /chosen gone wrong: bootargs longer than the 255 bytes kept, bootargs
 * without a NUL, an initrd with only a start, one that ends before it
 * starts, one 3 bytes long. Expect each refused with its own reason.
 */
TEST(bad_chosen)
{
    static const struct {
        void (*add)(struct dtb *);
        int err;
        const char *part;
    } cases[] = {
        {long_bootargs, -E2BIG,
         "bootargs is 300 bytes; Numbat keeps at most 255"},
        {unterminated_bootargs, -EBADMSG,
         "bootargs is not a NUL-terminated string"},
        {only_initrd_start, -EBADMSG, "only one of linux,initrd-start"},
        {initrd_backwards, -EBADMSG,
         "initrd end 0x84000000 is below its start 0x84100000"},
        {initrd_three_bytes, -EBADMSG, "4 or 8 bytes"},
    };

    for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dtb *b = machine_with_chosen(cases[i].add);

        expect_rejected(b, cases[i].err, cases[i].part);
        dtb_free(b);
    }
}

/* Build a machine with a distance map holding `n` cells. */
static struct dtb *machine_with_distances(unsigned int n, const uint32_t *cells)
{
    struct dtb *b = dtb_new();
    uint8_t v[64];

    for (unsigned int i = 0; i < n; i++)
        put_be32(v + 4 * i, cells[i]);
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_cpus(b, 1);
    b_begin(b, "distance-map");
    b_str(b, "compatible", "numa-distance-map-v1");
    b_prop(b, "distance-matrix", v, 4 * n);
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    return b;
}

/*
 * Distance maps: a node id of MAX_NUMNODES (16), a distance of 5, 300, or 10 between two
 * different nodes, a local distance of 12, a matrix that is not triplets.
 * Expect each refused. Both directions given differently: both kept.
 */
TEST(bad_distance_map)
{
    struct dtb *b;
    struct machine m;
    const char *why;

    b = machine_with_distances(3, (const uint32_t[]){0, MAX_NUMNODES, 20});
    expect_rejected(b, -ERANGE, "node 0 or 16 is not below MAX_NUMNODES");
    dtb_free(b);
    b = machine_with_distances(3, (const uint32_t[]){0, 1, 5});
    expect_rejected(b, -EBADMSG, "0 -> 1 = 5");
    dtb_free(b);
    b = machine_with_distances(3, (const uint32_t[]){0, 1, 300});
    expect_rejected(b, -EBADMSG, "0 -> 1 = 300");
    dtb_free(b);
    b = machine_with_distances(3, (const uint32_t[]){0, 1, 10});
    expect_rejected(b, -EBADMSG, "0 -> 1 = 10");
    dtb_free(b);
    b = machine_with_distances(3, (const uint32_t[]){1, 1, 12});
    expect_rejected(b, -EBADMSG, "1 -> 1 = 12");
    dtb_free(b);
    b = machine_with_distances(2, (const uint32_t[]){0, 1});
    expect_rejected(b, -EBADMSG, "not (from, to, distance) triplets");
    dtb_free(b);

    b = machine_with_distances(6, (const uint32_t[]){0, 1, 15, 1, 0, 25});
    REQUIRE(parse_exact(b->blob, b->size, &m, &why) == 0, "%s", why);
    EXPECT_EQ(m.distance[0][1], 15);
    EXPECT_EQ(m.distance[1][0], 25);
    EXPECT_EQ(m.distance[2][3], 20);
    dtb_free(b);
}

/*
 * No RAM, no /cpus, every hart disabled. Expect ENOENT with "no RAM",
 * "no /cpus node", "no harts".
 */
TEST(missing_ram_or_harts)
{
    struct dtb *b;

    b = dtb_new();
    b_root(b);
    b_cpus(b, 1);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -ENOENT, "no RAM");
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -ENOENT, "no /cpus node");
    dtb_free(b);

    b = dtb_new();
    b_root(b);
    b_memory(b, 0x80000000, 128 * MiB, 0);
    b_begin(b, "cpus");
    b_cells(b, "#address-cells", 1, 1);
    b_cells(b, "#size-cells", 1, 0);
    b_begin(b, "cpu@0");
    b_str(b, "device_type", "cpu");
    b_str(b, "status", "disabled");
    b_cells(b, "reg", 1, 0);
    b_end(b);
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -ENOENT, "no harts");
    dtb_free(b);
}

/* A UART whose reg-shift is 8 bytes. Expect "reg-shift is not one cell". */
TEST(bad_uart_reg_shift)
{
    struct dtb *b = minimal_machine();

    b_begin(b, "uart@10000000");
    b_str(b, "compatible", "ns16550a");
    b_cells(b, "reg", 4, 0, 0x10000000, 0, 0x100);
    b_cells(b, "reg-shift", 2, 0, 2);
    b_end(b);
    b_end(b);
    dtb_finish(b, true);
    expect_rejected(b, -EBADMSG, "uart@10000000: reg-shift is not one cell");
    dtb_free(b);
}

/*
 * machine_add_reserved(): keeps the table sorted, ignores size 0, refuses
 * a range that wraps (-EINVAL) and the 33rd entry (-ENOSPC).
 */
TEST(add_reserved_sorted_and_bounded)
{
    static struct machine m;

    memset(&m, 0, sizeof(m));
    EXPECT_EQ(
        machine_add_reserved(&m, 0x90000000, 0x1000, RESERVE_KERNEL, NULL), 0);
    EXPECT_EQ(machine_add_reserved(&m, 0x80000000, 0x1000, RESERVE_DTB,
                                   "a-very-long-name-that-does-not-fit-in-32"),
              0);
    EXPECT_EQ(machine_add_reserved(&m, 0x85000000, 0, RESERVE_DTB, NULL), 0);
    EXPECT_EQ(machine_add_reserved(&m, ~0ull - 10, 0x1000, RESERVE_DTB, NULL),
              -EINVAL);
    EXPECT_EQ(m.nr_reserved, 2);
    expect_reserved(&m, 0, 0x80000000, 0x1000, RESERVE_DTB,
                    "a-very-long-name-that-does-not-");
    expect_reserved(&m, 1, 0x90000000, 0x1000, RESERVE_KERNEL, "");
    while (m.nr_reserved < MACHINE_MAX_RESERVED)
        machine_add_reserved(&m, m.nr_reserved, 1, RESERVE_KERNEL, NULL);
    EXPECT_EQ(machine_add_reserved(&m, 0, 1, RESERVE_KERNEL, NULL), -ENOSPC);
    for (unsigned int i = 1; i < m.nr_reserved; i++)
        EXPECT(m.reserved[i - 1].base <= m.reserved[i].base, "unsorted at %u",
               i);
    EXPECT(strcmp(reserve_kind_name(RESERVE_NODE), "reserved-memory") == 0,
           "kind name");
    EXPECT(strcmp(reserve_kind_name(RESERVE_INITRD), "initrd") == 0,
           "kind name");
    EXPECT(strcmp(reserve_kind_name(RESERVE_MEMRESERVE), "memreserve") == 0,
           "kind name");
}

/* errno_name(): each code's name, negative or positive; unknown codes "E?". */
TEST(errno_names)
{
    static const struct {
        int code;
        const char *name;
    } all[] = {
        {ENOENT, "ENOENT"},       {EIO, "EIO"},         {E2BIG, "E2BIG"},
        {ENOMEM, "ENOMEM"},       {EFAULT, "EFAULT"},   {EBUSY, "EBUSY"},
        {EEXIST, "EEXIST"},       {ENODEV, "ENODEV"},   {EINVAL, "EINVAL"},
        {ENOSPC, "ENOSPC"},       {ERANGE, "ERANGE"},   {ENOSYS, "ENOSYS"},
        {EOVERFLOW, "EOVERFLOW"}, {EBADMSG, "EBADMSG"},
    };

    for (unsigned int i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        EXPECT(strcmp(errno_name(-all[i].code), all[i].name) == 0,
               "errno_name(-%d) = %s, want %s", all[i].code,
               errno_name(-all[i].code), all[i].name);
        EXPECT(strcmp(errno_name(all[i].code), all[i].name) == 0,
               "errno_name(%d) = %s", all[i].code, errno_name(all[i].code));
    }
    EXPECT(strcmp(errno_name(0), "E?") == 0, "%s", errno_name(0));
    EXPECT(strcmp(errno_name(-9999), "E?") == 0, "%s", errno_name(-9999));
    EXPECT(strcmp(errno_name(-2147483647 - 1), "E?") == 0, "INT_MIN");
}

/* The invariants machine_from_fdt() promises on success. */
static void check_machine_invariants(const struct machine *m, uint64_t seed,
                                     unsigned int round)
{
    EXPECT(m->nr_banks >= 1 && m->nr_banks <= MACHINE_MAX_BANKS,
           "seed %llu round %u", (unsigned long long)seed, round);
    EXPECT(m->nr_nodes >= 1 && m->nr_nodes <= MAX_NUMNODES, "nr_nodes %u",
           m->nr_nodes);
    for (unsigned int i = 0; i < m->nr_banks; i++) {
        EXPECT(m->banks[i].size != 0 && m->banks[i].node < m->nr_nodes,
               "bank %u", i);
        if (i)
            EXPECT(m->banks[i - 1].base + m->banks[i - 1].size <=
                       m->banks[i].base,
                   "banks %u and %u overlap", i - 1, i);
    }
    EXPECT(m->nr_harts >= 1 && m->nr_harts <= MAX_HARTS, "nr_harts %u",
           m->nr_harts);
    for (unsigned int i = 0; i < m->nr_harts; i++)
        EXPECT(m->hart_ids[i] < MAX_HARTS && m->hart_node[i] < m->nr_nodes,
               "hart %u", i);
    EXPECT(m->bootargs[sizeof(m->bootargs) - 1] == '\0',
           "bootargs unterminated");
}

/*
 * Seeded random damage to a real blob: 1 to 8 random bytes changed, 3000
 * times. Expect no crash or bad read (ASan), a why on every refusal, and
 * the promised invariants on every acceptance. Replay with --seed.
 */
TEST(random_damage)
{
    struct blob good = load_dtb("qemu-2node");
    uint64_t seed = test_seed(), x = seed | 1;
    unsigned int accepted = 0;
    struct machine m;
    const char *why;

    for (unsigned int round = 0; round < 3000; round++) {
        uint8_t *copy = malloc(good.size);
        int err;

        memcpy(copy, good.data, good.size);
        for (unsigned int k = 0; k < 1 + round % 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            copy[x % good.size] = (uint8_t)(x >> 40);
        }
        err = parse_exact(copy, good.size, &m, &why);
        if (err)
            EXPECT(why && why[0], "seed %llu round %u: %d without a reason",
                   (unsigned long long)seed, round, err);
        else {
            accepted++;
            check_machine_invariants(&m, seed, round);
        }
        free(copy);
    }
    DIAG("%u of 3000 damaged blobs still parsed (changes in values that do not "
         "matter)",
         accepted);
    free(good.data);
}
