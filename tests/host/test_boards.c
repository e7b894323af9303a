/*
 * tests/host/test_boards.c - real boards' device trees, Numbat's limits,
 * the boot lines of a machine, and the host tool dtinfo.
 *
 * The fixtures are trees the project wrote itself (tests/dts/board-*.dts)
 * with the CPU and memory layouts of real RISC-V boards, and two trees at
 * and just past MAX_HARTS / MAX_NUMNODES (tests/dts/limits-*.dts).
 * configure.py compiles them into BUILD/dtb/ as it does every fixture.
 *
 *   board-sg2042     64 harts in 4 nodes of 16, 4 x 32 GiB from 0,
 *                    distances 10/15/25/30 (Sophgo SG2042)
 *   board-jh7110     harts 1-4, hart 0 disabled, 4 GiB at 0x40000000
 *                    (StarFive JH7110, VisionFive 2)
 *   board-unmatched  harts 1-4, hart 0 disabled, 16 GiB at 0x80000000,
 *                    no ns16550 console (SiFive FU740, HiFive Unmatched)
 *   board-th1520     harts 0-3, 8 GiB at physical address 0: frame 0 is
 *                    RAM (T-Head TH1520, LicheePi 4A)
 *
 * Each machine is checked field by field, then as the exact lines
 * machine_print() makes of it (the kernel's boot lines), then through
 * BUILD/host/dtinfo, which must print those same lines and refuse a
 * missing file, a file that is not a tree and a tree past the limits with
 * one line naming the file and the problem.
 */
#include "tests/host/lib/harness.h"

#include <numbat/errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/machine.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

/* --- fixtures and helpers ------------------------------------------------ */

/* BUILD, the folder this binary's host/ folder is in (from /proc/self/exe). */
static const char *build_dir(void)
{
    static char dir[4096];
    ssize_t n;

    if (dir[0])
        return dir;
    n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    REQUIRE(n > 0, "cannot read /proc/self/exe");
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0'; /* BUILD/host/test_boards -> BUILD/host */
    *strrchr(dir, '/') = '\0'; /* -> BUILD */
    return dir;
}

/* The path of fixture BUILD/dtb/<name>.dtb. */
static const char *dtb_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/dtb/%s.dtb", build_dir(), name);
    return buf;
}

/* Parse fixture `name` into *m, or end the case saying why. */
static void parse_fixture(const char *name, struct machine *m)
{
    char path[4200];
    FILE *f = fopen(dtb_path(name, path, sizeof(path)), "rb");
    const char *why = NULL;
    unsigned char *data;
    long size;
    int err;

    REQUIRE(f, "missing %s: run `ninja -C %s host` (it compiles tests/dts/)",
            path, build_dir());
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    data = malloc((size_t)size);
    REQUIRE(data && fread(data, 1, (size_t)size, f) == (size_t)size,
            "cannot read %s", path);
    fclose(f);
    err = machine_from_fdt(m, data, (size_t)size, &why);
    free(data);
    REQUIRE(err == 0, "%s: %s: %s", name, errno_name(err), why);
}

static void expect_bank(const struct machine *m, unsigned int i, paddr_t base,
                        uint64_t size, unsigned int node)
{
    REQUIRE(i < m->nr_banks, "bank %u missing (%u banks)", i, m->nr_banks);
    EXPECT_EQ(m->banks[i].base, base);
    EXPECT_EQ(m->banks[i].size, size);
    EXPECT_EQ(m->banks[i].node, node);
}

/* Expect the harts, in tree order, to be ids[0 .. nr) on nodes[0 .. nr). */
static void expect_harts(const struct machine *m, unsigned int nr,
                         const uint32_t *ids, const unsigned int *nodes)
{
    REQUIRE_EQ(m->nr_harts, nr);
    for (unsigned int i = 0; i < nr; i++) {
        EXPECT_EQ(m->hart_ids[i], ids[i]);
        EXPECT_EQ(m->hart_node[i], nodes ? nodes[i] : 0);
    }
}

/* machine_print()'s lines, gathered into one string, a newline after each. */
struct text {
    char buf[8192]; /* the lines */
    size_t len;     /* bytes used */
};

static void gather(void *ctx, const char *line)
{
    struct text *t = ctx;
    size_t n = strlen(line);

    REQUIRE(t->len + n + 2 <= sizeof(t->buf), "machine_print: too much text");
    memcpy(t->buf + t->len, line, n);
    t->buf[t->len + n] = '\n';
    t->len += n + 1;
    t->buf[t->len] = '\0';
}

/* Expect machine_print(m) to be exactly `want`; print both when not. */
static void expect_lines(const struct machine *m, const char *want)
{
    static struct text t;

    t.len = 0;
    t.buf[0] = '\0';
    machine_print(m, gather, &t);
    EXPECT(strcmp(t.buf, want) == 0, "machine_print printed\n%swant\n%s",
           t.buf, want);
}

/* --- the boards ----------------------------------------------------------- */

/*
 * board-sg2042:
 *
 *   node 0  harts  0-15  [0x0,          0x800000000)   32 GiB
 *   node 1  harts 16-31  [0x800000000,  0x1000000000)  32 GiB
 *   node 2  harts 32-47  [0x1000000000, 0x1800000000)  32 GiB
 *   node 3  harts 48-63  [0x1800000000, 0x2000000000)  32 GiB
 *
 *          0  1  2  3
 *     0   10 15 25 30
 *     1   15 10 30 25
 *     2   25 30 10 15
 *     3   30 25 15 10
 *
 * Expect 64 harts on their nodes (all MAX_HARTS of them), the banks, the
 * matrix, the firmware's reservation at 0, the UART through the serial0
 * alias with reg-shift 2, and the exact boot lines.
 */
TEST(sg2042_64_harts_4_nodes)
{
    static const uint8_t want[4][4] = {
        {10, 15, 25, 30}, {15, 10, 30, 25}, {25, 30, 10, 15}, {30, 25, 15, 10}};
    uint32_t ids[64];
    unsigned int nodes[64];
    struct machine m;

    parse_fixture("board-sg2042", &m);
    for (unsigned int i = 0; i < 64; i++) {
        ids[i] = i;
        nodes[i] = i / 16;
    }
    expect_harts(&m, 64, ids, nodes);
    EXPECT_EQ(m.nr_nodes, 4);
    REQUIRE_EQ(m.nr_banks, 4);
    for (unsigned int n = 0; n < 4; n++)
        expect_bank(&m, n, n * 32 * GiB, 32 * GiB, n);
    for (unsigned int a = 0; a < 4; a++)
        for (unsigned int b = 0; b < 4; b++)
            EXPECT(m.distance[a][b] == want[a][b],
                   "distance[%u][%u] = %u, want %u", a, b, m.distance[a][b],
                   want[a][b]);
    EXPECT_EQ(machine_hart_node(&m, 47), 2);
    EXPECT_EQ(machine_pa_node(&m, 0), 0);
    EXPECT_EQ(machine_pa_node(&m, 0x1800000000), 3);
    EXPECT_EQ(m.nr_reserved, 1);
    EXPECT_EQ(m.uart_base, 0x7040000000);
    EXPECT_EQ(m.uart_reg_shift, 2);
    expect_lines(&m,
        "machine: 64 harts, 4 nodes, 128 GiB RAM in 4 banks\n"
        "bank: node 0 [0x0, 0x800000000) 32 GiB\n"
        "bank: node 1 [0x800000000, 0x1000000000) 32 GiB\n"
        "bank: node 2 [0x1000000000, 0x1800000000) 32 GiB\n"
        "bank: node 3 [0x1800000000, 0x2000000000) 32 GiB\n"
        "reserved: [0x0, 0x80000) 512 KiB reserved-memory firmware@0\n"
        "harts: node 0: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
        "harts: node 1: 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31\n"
        "harts: node 2: 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47\n"
        "harts: node 3: 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63\n"
        "distance: node 0: 10 15 25 30\n"
        "distance: node 1: 15 10 30 25\n"
        "distance: node 2: 25 30 10 15\n"
        "distance: node 3: 30 25 15 10\n");
}

/*
 * board-jh7110: hart 0 (the S7 monitor core) is "disabled", harts 1-4
 * are the application cores; 4 GiB at 0x40000000, one node. Expect harts
 * 1-4 only (hart 0 is not in the table), the bank ending at 0x140000000,
 * OpenSBI's reservation, and no distance lines (one node).
 */
TEST(jh7110_disabled_monitor_hart)
{
    static const uint32_t ids[] = {1, 2, 3, 4};
    struct machine m;

    parse_fixture("board-jh7110", &m);
    expect_harts(&m, 4, ids, NULL);
    for (unsigned int i = 0; i < m.nr_harts; i++)
        EXPECT_NE(m.hart_ids[i], 0);
    EXPECT_EQ(m.nr_nodes, 1);
    REQUIRE_EQ(m.nr_banks, 1);
    expect_bank(&m, 0, 0x40000000, 4 * GiB, 0);
    EXPECT_EQ(machine_pa_node(&m, 0x3fffffff), NUMA_NO_NODE);
    EXPECT_EQ(machine_pa_node(&m, 0x13fffffff), 0);
    EXPECT_EQ(m.uart_base, 0x10000000);
    EXPECT_EQ(m.uart_reg_shift, 2);
    expect_lines(&m,
        "machine: 4 harts, 1 nodes, 4 GiB RAM in 1 banks\n"
        "bank: node 0 [0x40000000, 0x140000000) 4 GiB\n"
        "reserved: [0x40000000, 0x40080000) 512 KiB reserved-memory "
        "opensbi@40000000\n"
        "harts: node 0: 1 2 3 4\n");
}

/*
 * board-unmatched: 16 GiB in one bank from 0x80000000 (past 4 GiB: both
 * address cells), harts 1-4 with hart 0 disabled, the firmware in the
 * /memreserve/ block, and SiFive's own UART. Expect the bank, the
 * memreserve line, and uart_base 0: no console Numbat can drive.
 */
TEST(unmatched_16_gib)
{
    static const uint32_t ids[] = {1, 2, 3, 4};
    struct machine m;

    parse_fixture("board-unmatched", &m);
    expect_harts(&m, 4, ids, NULL);
    REQUIRE_EQ(m.nr_banks, 1);
    expect_bank(&m, 0, 0x80000000, 16 * GiB, 0);
    EXPECT_EQ(machine_pa_node(&m, 0x47fffffff), 0);
    EXPECT_EQ(machine_pa_node(&m, 0x480000000), NUMA_NO_NODE);
    EXPECT_EQ(m.uart_base, 0);
    expect_lines(&m,
        "machine: 4 harts, 1 nodes, 16 GiB RAM in 1 banks\n"
        "bank: node 0 [0x80000000, 0x480000000) 16 GiB\n"
        "reserved: [0x80000000, 0x80080000) 512 KiB memreserve\n"
        "harts: node 0: 1 2 3 4\n");
}

/*
 * board-th1520: 8 GiB from physical address 0, harts 0-3, the firmware at
 * 0x1e00000. Expect frame 0 to be RAM on node 0 and outside every
 * reservation (the heap, not the tree, must keep MFN 0 out).
 */
TEST(th1520_ram_at_zero)
{
    static const uint32_t ids[] = {0, 1, 2, 3};
    struct machine m;

    parse_fixture("board-th1520", &m);
    expect_harts(&m, 4, ids, NULL);
    REQUIRE_EQ(m.nr_banks, 1);
    expect_bank(&m, 0, 0, 8 * GiB, 0);
    EXPECT_EQ(machine_pa_node(&m, 0), 0);
    EXPECT_EQ(machine_pa_node(&m, mfn_to_pa(1) - 1), 0);
    for (unsigned int i = 0; i < m.nr_reserved; i++)
        EXPECT(m.reserved[i].base >= PAGE_SIZE,
               "reservation %u [0x%llx, +0x%llx) covers frame 0", i,
               (unsigned long long)m.reserved[i].base,
               (unsigned long long)m.reserved[i].size);
    EXPECT_EQ(m.uart_base, 0xffe7014000);
    expect_lines(&m,
        "machine: 4 harts, 1 nodes, 8 GiB RAM in 1 banks\n"
        "bank: node 0 [0x0, 0x200000000) 8 GiB\n"
        "reserved: [0x1e00000, 0x2000000) 2 MiB reserved-memory "
        "firmware@1e00000\n"
        "harts: node 0: 0 1 2 3\n");
}

/* --- the limits ----------------------------------------------------------- */

/*
 * limits-at: harts 0, 2 and 63 (sparse ids, 63 = MAX_HARTS - 1), hart 5
 * disabled, memory on nodes 0 and 15 (= MAX_NUMNODES - 1). Expect 3
 * harts, 16 nodes (node 15 is the highest id seen), 16 distance rows of
 * the defaults, and hart 63 on node 15.
 */
TEST(limits_at_max_harts_and_nodes)
{
    static const uint32_t ids[] = {0, 2, MAX_HARTS - 1};
    static const unsigned int nodes[] = {0, 0, MAX_NUMNODES - 1};
    static struct text t;
    struct machine m;
    unsigned int rows = 0;

    parse_fixture("limits-at", &m);
    expect_harts(&m, 3, ids, nodes);
    EXPECT_EQ(m.nr_nodes, MAX_NUMNODES);
    EXPECT_EQ(machine_hart_node(&m, MAX_HARTS - 1), MAX_NUMNODES - 1);
    expect_bank(&m, 1, 0x88000000, 128 * MiB, MAX_NUMNODES - 1);
    t.len = 0;
    machine_print(&m, gather, &t);
    for (const char *p = t.buf; (p = strstr(p, "distance: node ")); p++)
        rows++;
    EXPECT_EQ(rows, MAX_NUMNODES);
    EXPECT(strstr(t.buf, "harts: node 15: 63\n") != NULL, "lines:\n%s", t.buf);
    EXPECT(strstr(t.buf, "distance: node 15: 20 20 20 20 20 20 20 20 20 20 20 "
                         "20 20 20 20 10\n") != NULL,
           "lines:\n%s", t.buf);
}

/* --- dtinfo --------------------------------------------------------------- */

/* What one run of BUILD/host/dtinfo printed, and how it ended. */
struct run {
    char out[8192]; /* stdout */
    char err[1024]; /* stderr */
    int status;     /* exit status; -1 when it did not exit normally */
};

static void read_all(FILE *f, char *buf, size_t cap)
{
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;

    buf[n] = '\0';
}

/* Run dtinfo with `args` (a shell word list); stdout and stderr apart. */
static void dtinfo(const char *args, struct run *r)
{
    char cmd[9000], errfile[] = "/tmp/test_boards.XXXXXX";
    int fd = mkstemp(errfile);
    FILE *p, *e;

    REQUIRE(fd >= 0, "mkstemp failed");
    close(fd);
    snprintf(cmd, sizeof(cmd), "'%s/host/dtinfo' %s 2>'%s'", build_dir(), args,
             errfile);
    p = popen(cmd, "r");
    REQUIRE(p, "cannot run %s", cmd);
    read_all(p, r->out, sizeof(r->out));
    r->status = pclose(p);
    r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
    e = fopen(errfile, "r");
    read_all(e, r->err, sizeof(r->err));
    if (e)
        fclose(e);
    unlink(errfile);
    REQUIRE(r->status != 127, "no %s/host/dtinfo: run `ninja -C %s host`",
            build_dir(), build_dir());
}

/*
 * dtinfo on every board prints exactly machine_print()'s lines, exits 0
 * and says nothing on stderr.
 */
TEST(dtinfo_prints_the_boot_lines)
{
    static const char *const boards[] = {"board-sg2042", "board-jh7110",
                                         "board-unmatched", "board-th1520",
                                         "limits-at"};
    static struct text want;
    static struct run r;
    char path[4200], arg[4300];

    for (unsigned int i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
        struct machine m;

        parse_fixture(boards[i], &m);
        want.len = 0;
        want.buf[0] = '\0';
        machine_print(&m, gather, &want);
        snprintf(arg, sizeof(arg), "'%s'", dtb_path(boards[i], path, sizeof(path)));
        dtinfo(arg, &r);
        EXPECT_EQ(r.status, 0);
        EXPECT(strcmp(r.out, want.buf) == 0, "%s: dtinfo printed\n%swant\n%s",
               boards[i], r.out, want.buf);
        EXPECT(r.err[0] == '\0', "%s: stderr '%s'", boards[i], r.err);
    }
}

/* Expect a refusal: exit status `status`, no stdout, one stderr line with each part. */
static void expect_refused(const struct run *r, int status, const char *part1,
                           const char *part2)
{
    const char *nl = strchr(r->err, '\n');

    EXPECT_EQ(r->status, status);
    EXPECT(r->out[0] == '\0', "stdout '%s'", r->out);
    EXPECT(nl && nl[1] == '\0', "not one line on stderr: '%s'", r->err);
    EXPECT(strstr(r->err, part1), "stderr '%s' lacks '%s'", r->err, part1);
    EXPECT(strstr(r->err, part2), "stderr '%s' lacks '%s'", r->err, part2);
}

/* Fill the mkstemp template `name` with n bytes of `data`. */
static void write_temp(char *name, const char *data, size_t n)
{
    int fd = mkstemp(name);

    REQUIRE(fd >= 0, "mkstemp %s failed", name);
    REQUIRE(write(fd, data, n) == (ssize_t)n, "cannot write %s", name);
    close(fd);
}

/*
 * Bad input: no argument, a missing file, a file that is not a tree, a
 * truncated tree, a tree past MAX_HARTS. Expect status 2 for the command
 * line and 1 for the rest, nothing on stdout, and one line on stderr that
 * names the file and the problem (for the last, the hart and the limit).
 */
TEST(dtinfo_refuses_bad_input)
{
    static struct run r;
    char header[48] = {0};
    char path[4200], arg[4300], text[] = "/tmp/test_boards_dts.XXXXXX",
                               cut[] = "/tmp/test_boards_cut.XXXXXX";

    dtinfo("", &r);
    expect_refused(&r, 2, "usage: dtinfo FILE.dtb", "dtc");

    dtinfo("/nonexistent/board.dtb", &r);
    expect_refused(&r, 1, "dtinfo: /nonexistent/board.dtb: cannot open",
                   "No such file");

    write_temp(text, "/dts-v1/;\n/ {\n\tcompatible = \"not compiled\";\n};\n",
               46); /* a tree's source, not its blob */
    snprintf(arg, sizeof(arg), "'%s'", text);
    dtinfo(arg, &r);
    expect_refused(&r, 1, text, "not a device tree blob");
    unlink(text);

    memcpy(header, "\xd0\x0d\xfe\xed\x00\x00\x10\x00", 8); /* says 4 KiB, */
    header[23] = 17;                                     /* version 17, */
    header[27] = 16;                                     /* compatible 16 */
    write_temp(cut, header, sizeof(header)); /* but has 48 bytes */
    snprintf(arg, sizeof(arg), "'%s'", cut);
    dtinfo(arg, &r);
    expect_refused(&r, 1, cut, "truncated");
    unlink(cut);

    snprintf(arg, sizeof(arg), "'%s'", dtb_path("limits-past", path, sizeof(path)));
    dtinfo(arg, &r);
    expect_refused(&r, 1, "limits-past.dtb: cpu@40: hart id 64 is not below "
                          "MAX_HARTS (64)",
                   "raise MAX_HARTS in include/numbat/types.h");
}
