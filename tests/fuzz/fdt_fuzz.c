/*
 * tests/fuzz/fdt_fuzz.c - libFuzzer target for the device-tree reader.
 *
 * The fuzzer hands us arbitrary bytes; we give them to machine_from_fdt()
 * and, when the blob opens, to every walker in platform/fdt.h. The
 * sanitizers (address, undefined) turn any read outside the input, and
 * any undefined arithmetic, into a crash the fuzzer saves and reports;
 * libFuzzer's -timeout turns a hang into one too. The input is copied to
 * a heap buffer of exactly its size, so one byte too far is caught.
 *
 * Seed corpus: the fixtures BUILD/dtb/NAME.dtb. A short run:
 *   BUILD/fuzz/fdt_fuzz -max_total_time=30 CORPUS_DIR BUILD/dtb
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform/fdt.h"
#include "platform/machine.h"

/*
 * The walkers must agree with each other: every child that
 * fdt_first_child / fdt_next_sibling list has `node` as its fdt_parent,
 * and comes later in the blob. A disagreement is a bug: crash so the
 * fuzzer keeps the input.
 */
static void check_children(const struct fdt *fdt, int node)
{
    int nr = 0;

    for (int c = fdt_first_child(fdt, node); c >= 0 && nr < 16;
         c = fdt_next_sibling(fdt, c), nr++)
        if (c <= node || fdt_parent(fdt, c) != node)
            abort();
}

/* Touch every node and property through the walkers, as a kernel would. */
static void walk_everything(const struct fdt *fdt)
{
    struct fdt_prop p;
    int depth = 0, visited = 0;
    paddr_t base;
    uint64_t size;
    uint32_t v;

    for (int n = fdt_next_node(fdt, -1, &depth); n >= 0 && visited < 4096;
         n = fdt_next_node(fdt, n, &depth), visited++) {
        const char *why;

        (void)fdt_node_name(fdt, n);
        for (int q = fdt_first_prop(fdt, n, &p); q >= 0;
             q = fdt_next_prop(fdt, q, &p))
            (void)fdt_prop_has_string(fdt, n, p.name, "okay");
        (void)fdt_prop_string(fdt, n, "compatible");
        (void)fdt_prop_u32(fdt, n, "phandle", &v);
        (void)fdt_next_sibling(fdt, n);
        /* fdt_parent and fdt_reg walk from the root: only the first few. */
        if (visited < 16)
            check_children(fdt, n);
        if (visited < 64)
            (void)fdt_reg(fdt, n, 0, &base, &size, &why);
    }
    (void)fdt_find_path(fdt, "/cpus/cpu@0");
    (void)fdt_find_path(fdt, "/soc/serial");
    (void)fdt_find_compatible(fdt, -1, "ns16550a");
    (void)fdt_find_phandle(fdt, 1);
    for (unsigned int i = 0; fdt_rsv_entry(fdt, i, &base, &size) == 0 && i < 64;
         i++)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct machine m; /* 3 KiB: keep it off the fuzzer's stack */
    uint8_t *copy = malloc(size ? size : 1);
    const char *why = NULL;
    struct fdt fdt;
    int err;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    err = machine_from_fdt(&m, copy, size, &why);
    if (err && (!why || !why[0]))
        abort(); /* every refusal must say why */
    if (!err && (m.nr_banks == 0 || m.nr_harts == 0 || m.nr_nodes == 0))
        abort(); /* success promises RAM, harts and at least one node */
    if (fdt_open(&fdt, copy, size, &why) == 0)
        walk_everything(&fdt);
    free(copy);
    return 0;
}
