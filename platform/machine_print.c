/*
 * platform/machine_print.c - a struct machine as the lines of the boot
 * output.
 *
 * HOST-PORTABLE: pure C with no kernel dependencies. The kernel prints the
 * machine it read through it at boot (kernel/board.c), and the host tool
 * dtinfo (tools/dtinfo.c) prints any tree's machine through it, so that an
 * instructor can check a board's tree without booting it and get the very
 * lines a boot would print. docs/boot-output.md fixes their shape:
 *
 *   machine: H harts, N nodes, SIZE RAM in B banks
 *   bank: node N [0xBASE, 0xEND) SIZE                one per RAM bank
 *   reserved: [0xBASE, 0xEND) SIZE KIND[ NAME]       one per reserved range
 *   harts: node N: ID ID ...                         one per node with harts
 *   distance: node N: D D ...                        one per node, 2+ nodes
 *
 * Each line is formatted whole into a buffer and handed to the caller's
 * emit function without its newline, so the kernel prints a line with one
 * printk (harts printing at once never split it).
 */
#include "platform/machine.h"

#include <numbat/format.h>

/* Longest line: a node with every hart ("harts: node 15:" + " 63" each). */
#define MACHINE_LINE_MAX (24 + 4 * MAX_HARTS)

_Static_assert(MAX_HARTS <= 1000 && MAX_NUMNODES <= 100,
               "MACHINE_LINE_MAX allows 3-digit hart ids and 2-digit node ids");
_Static_assert(MACHINE_LINE_MAX >= 24 + 4 * MAX_NUMNODES,
               "a distance row (3 digits and a space per node) fits too");

uint64_t machine_total_ram(const struct machine *m)
{
    uint64_t sum = 0;

    for (unsigned int i = 0; i < m->nr_banks; i++)
        sum += m->banks[i].size;
    return sum;
}

static void print_banks(const struct machine *m, machine_emit_fn emit,
                        void *ctx)
{
    char line[MACHINE_LINE_MAX], size[24];

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        const struct mem_bank *b = &m->banks[i];

        format_size(size, sizeof(size), b->size);
        snprintf(line, sizeof(line), "bank: node %u [0x%lx, 0x%lx) %s",
                 b->node, (unsigned long)b->base,
                 (unsigned long)(b->base + b->size), size);
        emit(ctx, line);
    }
}

static void print_reserved(const struct machine *m, machine_emit_fn emit,
                           void *ctx)
{
    char line[MACHINE_LINE_MAX + MACHINE_NAME_LEN], size[24];

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        const struct mem_reserved *r = &m->reserved[i];

        format_size(size, sizeof(size), r->size);
        snprintf(line, sizeof(line), "reserved: [0x%lx, 0x%lx) %s %s%s%s",
                 (unsigned long)r->base, (unsigned long)(r->base + r->size),
                 size, reserve_kind_name(r->kind), r->name[0] ? " " : "",
                 r->name);
        emit(ctx, line);
    }
}

/* "harts: node N: id id ..." for every node that has harts. */
static void print_harts(const struct machine *m, machine_emit_fn emit,
                        void *ctx)
{
    for (unsigned int node = 0; node < m->nr_nodes; node++) {
        char line[MACHINE_LINE_MAX];
        int n = snprintf(line, sizeof(line), "harts: node %u:", node);
        bool any = false;

        for (unsigned int i = 0; i < m->nr_harts; i++) {
            if (m->hart_node[i] != node)
                continue;
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %u",
                          m->hart_ids[i]);
            any = true;
        }
        if (any)
            emit(ctx, line);
    }
}

static void print_distances(const struct machine *m, machine_emit_fn emit,
                            void *ctx)
{
    if (m->nr_nodes < 2)
        return;
    for (unsigned int a = 0; a < m->nr_nodes; a++) {
        char line[MACHINE_LINE_MAX];
        int n = snprintf(line, sizeof(line), "distance: node %u:", a);

        for (unsigned int b = 0; b < m->nr_nodes; b++)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %u",
                          m->distance[a][b]);
        emit(ctx, line);
    }
}

void machine_print(const struct machine *m, machine_emit_fn emit, void *ctx)
{
    char line[MACHINE_LINE_MAX], size[24];

    format_size(size, sizeof(size), machine_total_ram(m));
    snprintf(line, sizeof(line), "machine: %u harts, %u nodes, %s RAM in %u banks",
             m->nr_harts, m->nr_nodes, size, m->nr_banks);
    emit(ctx, line);
    print_banks(m, emit, ctx);
    print_reserved(m, emit, ctx);
    print_harts(m, emit, ctx);
    print_distances(m, emit, ctx);
}
