/*
 * kernel/ktest_fdt.c - suite kernel_fdt: is the machine the kernel read
 * from the device tree self-consistent? Whatever topology QEMU was given,
 * these rules must hold; a parser bug breaks at least one of them.
 */
#include "board.h"
#include "ktest.h"
#include "smp.h"

static void nodes_in_range(void)
{
    const struct machine *m = board();

    EXPECT_GE(m->nr_nodes, 1u);
    EXPECT_LE(m->nr_nodes, (unsigned int)MAX_NUMNODES);
}

static void every_hart_has_a_node(void)
{
    const struct machine *m = board();
    bool boot_hart_listed = false;

    REQUIRE_TRUE(m->nr_harts >= 1);
    for (unsigned int i = 0; i < m->nr_harts; i++) {
        EXPECT_LT(m->hart_ids[i], (uint32_t)MAX_HARTS);
        EXPECT_LT(m->hart_node[i], m->nr_nodes);
        for (unsigned int j = 0; j < i; j++)
            EXPECT_NE(m->hart_ids[i], m->hart_ids[j]);
        boot_hart_listed |= m->hart_ids[i] == smp_hartid();
    }
    EXPECT_TRUE(boot_hart_listed);
    EXPECT_EQ(smp_this_node(), machine_hart_node(m, smp_hartid()));
}

static void banks_sorted_and_disjoint(void)
{
    const struct machine *m = board();

    REQUIRE_TRUE(m->nr_banks >= 1);
    for (unsigned int i = 0; i < m->nr_banks; i++) {
        EXPECT_NE(m->banks[i].size, 0u);
        EXPECT_LT(m->banks[i].node, m->nr_nodes);
        if (i > 0)
            EXPECT_LE(m->banks[i - 1].base + m->banks[i - 1].size,
                      m->banks[i].base);
    }
}

static void pa_node_agrees_with_banks(void)
{
    const struct machine *m = board();

    for (unsigned int i = 0; i < m->nr_banks; i++) {
        const struct mem_bank *b = &m->banks[i];

        EXPECT_EQ(machine_pa_node(m, b->base), b->node);
        EXPECT_EQ(machine_pa_node(m, b->base + b->size - 1), b->node);
    }
    EXPECT_EQ(machine_pa_node(m, m->banks[0].base - 1), NUMA_NO_NODE);
}

static void distances_sane(void)
{
    const struct machine *m = board();

    for (unsigned int a = 0; a < m->nr_nodes; a++)
        for (unsigned int b = 0; b < m->nr_nodes; b++)
            if (a == b)
                EXPECT_EQ(m->distance[a][b], 10);
            else
                EXPECT_LT(10, m->distance[a][b]);
}

/* The reserved list is sorted and holds the kernel image and the blob. */
static void reserved_sorted_and_complete(void)
{
    const struct machine *m = board();
    bool kernel = false, dtb = false;

    for (unsigned int i = 0; i < m->nr_reserved; i++) {
        const struct mem_reserved *r = &m->reserved[i];

        if (i > 0)
            EXPECT_LE(m->reserved[i - 1].base, r->base);
        kernel |= r->kind == RESERVE_KERNEL &&
                  r->base <= board_kernel_start() &&
                  r->base + r->size >= board_kernel_end();
        dtb |= r->kind == RESERVE_DTB && r->base == board_dtb_pa() &&
               r->size >= board_dtb_size();
    }
    EXPECT_TRUE(kernel);
    EXPECT_TRUE(dtb);
}

static void devices_found(void)
{
    EXPECT_NE(board()->uart_base, 0u);
    EXPECT_NE(board()->poweroff_base, 0u);
}

static const struct ktest_case fdt_cases[] = {
    KTEST_CASE(nodes_in_range),
    KTEST_CASE(every_hart_has_a_node),
    KTEST_CASE(banks_sorted_and_disjoint),
    KTEST_CASE(pa_node_agrees_with_banks),
    KTEST_CASE(distances_sane),
    KTEST_CASE(reserved_sorted_and_complete),
    KTEST_CASE(devices_found),
};
KTEST_SUITE(kernel_fdt, fdt_cases);
