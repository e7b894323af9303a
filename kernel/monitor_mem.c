/*
 * kernel/monitor_mem.c - the monitor's view of the machine: `mem` (the
 * memory map, node by node) and `nodes` (harts and distances).
 *
 * Both read struct machine (platform/machine.h), which board.c filled
 * from the device tree at boot, plus the heap's free counts, so that one
 * screen answers "what RAM does this node have, what is taken, what is
 * left". A reserved range belongs to the node whose RAM holds its first
 * byte.
 */
#include "../mm/heap.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "monitor.h"
#include "printk.h"

/* Bytes of RAM in node's banks. */
static uint64_t node_ram(const struct machine *m, unsigned int node)
{
    uint64_t sum = 0;

    for (unsigned int i = 0; i < m->nr_banks; i++)
        if (m->banks[i].node == node)
            sum += m->banks[i].size;
    return sum;
}

static void print_node_banks(const struct machine *m, unsigned int node)
{
    char size[24];

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        const struct mem_bank *b = &m->banks[i];

        if (b->node != node)
            continue;
        format_size(size, sizeof(size), b->size);
        printk("  bank     [0x%lx, 0x%lx) %s, frames [0x%lx, 0x%lx)\n",
               (unsigned long)b->base, (unsigned long)(b->base + b->size), size,
               pa_to_mfn(b->base), pa_to_mfn(b->base + b->size));
    }
}

static void print_node_reserved(const struct machine *m, unsigned int node)
{
    char size[24];

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        const struct mem_reserved *r = &m->reserved[i];

        if (machine_pa_node(m, r->base) != node)
            continue;
        format_size(size, sizeof(size), r->size);
        printk("  reserved [0x%lx, 0x%lx) %s %s%s%s\n", (unsigned long)r->base,
               (unsigned long)(r->base + r->size), size,
               reserve_kind_name(r->kind), r->name[0] ? " " : "", r->name);
    }
}

unsigned int monitor_cmd_mem(int argc, char **argv)
{
    const struct machine *m = board();
    char ram[24], free[24];

    for (unsigned int node = 0; node < m->nr_nodes; node++) {
        format_size(ram, sizeof(ram), node_ram(m, node));
        format_size(free, sizeof(free),
                    (uint64_t)heap_free_pages_node(node) * PAGE_SIZE);
        printk("mem: node %u: %s RAM, %s free in the heap\n", node, ram, free);
        print_node_banks(m, node);
        print_node_reserved(m, node);
    }
    return EXIT_PASS;
}

/* "nodes: node N: harts 0 1" (or "no harts"). */
static void print_node_harts(const struct machine *m, unsigned int node)
{
    char line[6 * MAX_HARTS + 32];
    int n = snprintf(line, sizeof(line), "nodes: node %u: harts", node);
    bool any = false;

    for (unsigned int i = 0; i < m->nr_harts; i++) {
        if (m->hart_node[i] != node)
            continue;
        n +=
            snprintf(line + n, sizeof(line) - (size_t)n, " %u", m->hart_ids[i]);
        any = true;
    }
    printk("%s%s\n", line, any ? "" : " none (a CPU-less node)");
}

unsigned int monitor_cmd_nodes(int argc, char **argv)
{
    const struct machine *m = board();
    char line[8 * MAX_NUMNODES + 32];
    int n;

    for (unsigned int node = 0; node < m->nr_nodes; node++)
        print_node_harts(m, node);
    n = snprintf(line, sizeof(line), "nodes: distance  to");
    for (unsigned int b = 0; b < m->nr_nodes; b++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %4u", b);
    printk("%s\n", line);
    for (unsigned int a = 0; a < m->nr_nodes; a++) {
        n = snprintf(line, sizeof(line), "nodes: from node %u:", a);
        for (unsigned int b = 0; b < m->nr_nodes; b++)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %4u",
                          m->distance[a][b]);
        printk("%s\n", line);
    }
    return EXIT_PASS;
}
