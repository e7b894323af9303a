/*
 * tests/host/test_messages.c - failures that explain themselves: what the
 * harness prints when a check fails (tests/host/lib/harness.h), and the
 * message of a node id that does not exist.
 *
 * The failing cases run in a child process (harness_run_isolated), so
 * their failures are read back as text here instead of failing this run.
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include <numbat/errno.h>

#include "mm/heap.h"

/*
 *   node 0: [0x80000 ......... 0x80400)   node 1: [0x80400 ...... 0x80800)
 */
static const struct sim_machine two_nodes = {
    .name = "two nodes, 1024 frames each",
    .nr_banks = 2,
    .banks = {{0x80000, 0x80400, 0}, {0x80400, 0x80800, 1}},
};

static char out[8192]; /* what the isolated case printed */

/* Expect: an error code prints by name, big values in hex as well. */
TEST(values_print_for_people)
{
    char buf[64];

    harness_value_text(buf, sizeof(buf), (unsigned long long)-EINVAL);
    EXPECT(!strcmp(buf, "-EINVAL (-22)"), "-EINVAL printed as %s", buf);
    harness_value_text(buf, sizeof(buf), (unsigned long long)-ENOSPC);
    EXPECT(!strcmp(buf, "-ENOSPC (-28)"), "-ENOSPC printed as %s", buf);
    harness_value_text(buf, sizeof(buf), 0x803e0);
    EXPECT(!strcmp(buf, "525280 (0x803e0)"), "0x803e0 printed as %s", buf);
    harness_value_text(buf, sizeof(buf), 3);
    EXPECT(!strcmp(buf, "3"), "3 printed as %s", buf);
}

static void compare_an_error_code(void)
{
    long ret = -EINVAL;

    EXPECT_EQ(ret, 0);
}

/* Expect: a failed EXPECT_EQ shows both values, the code by its name. */
TEST(failed_compare_shows_values)
{
    harness_run_isolated(compare_an_error_code, out, sizeof(out));
    EXPECT(strstr(out, "EXPECT_EQ(ret, 0): -EINVAL (-22) != 0") != NULL,
           "printed:\n%s", out);
    EXPECT(strstr(out, "18446744073709551594") == NULL, "printed:\n%s", out);
}

static void same_failure_64_times(void)
{
    for (int i = 0; i < 64; i++)
        EXPECT_EQ(i * 0, 1);
    EXPECT_EQ(2, 3);
}

/* Expect: 64 equal failures print once, with a count; the next one too. */
TEST(repeated_failures_collapse)
{
    const char *p = out;
    int fails = 0;

    harness_run_isolated(same_failure_64_times, out, sizeof(out));
    while ((p = strstr(p, "# FAIL ")) != NULL) {
        fails++;
        p++;
    }
    EXPECT_EQ(fails, 2);
    EXPECT(strstr(out, "the failure above came 63 more times") != NULL,
           "printed:\n%s", out);
    EXPECT(strstr(out, "EXPECT_EQ(2, 3): 2 != 3") != NULL, "printed:\n%s", out);
}

static void free_twice(void)
{
    mfn_t m;

    sim_boot_and_end(&two_nodes);
    m = alloc_heap_pages(0, 0, 0, 0);
    free_heap_pages(m, 0);
    free_heap_pages(m, 0); /* a panic in mm/ that the test did not expect */
}

/* Expect: an unexpected panic in mm/ prints the caller chain to the TEST. */
TEST(unexpected_panic_prints_caller_chain)
{
    const char *chain, *inner, *outer;

    harness_run_isolated(free_twice, out, sizeof(out));
    chain = strstr(out, "called from:");
    REQUIRE(chain != NULL, "no caller chain after the panic:\n%s", out);
    inner = strstr(chain, "free_heap_pages at mm/");
    outer = strstr(chain, "free_twice at tests/host/test_messages.c:");
    EXPECT(inner && outer && inner < outer,
           "the chain does not run free_heap_pages -> free_twice:\n%s", out);
    EXPECT(strstr(out, "double free") != NULL, "printed:\n%s", out);
}

/* Expect: a node id that does not exist is a panic naming the valid ids,
 * for a hint and for an exact node alike; it never falls back. */
TEST(node_that_does_not_exist_is_refused)
{
    sim_boot_and_end(&two_nodes);
    EXPECT_PANIC(alloc_heap_pages(0, 0, 2, 0),
                 "node 2 does not exist (this machine has nodes 0 to 1");
    sim_boot_and_end(&two_nodes);
    EXPECT_PANIC(alloc_heap_pages(0, 0, 5, ALLOC_EXACT_NODE),
                 "node 5 does not exist");
    sim_boot_and_end(&two_nodes);
    EXPECT_NE(alloc_heap_pages(0, 0, 1, ALLOC_EXACT_NODE), INVALID_MFN);
}
