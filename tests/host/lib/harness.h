/*
 * tests/host/lib/harness.h - the host test harness.
 *
 * A host test file holds TEST(name) { ... } functions; the harness finds
 * them (each TEST lands in the ELF section "host_tests"), runs them in the
 * order they are written and prints KTAP version 1 with a closing line "N passed, N failed".
 *
 *   EXPECT(cond, fmt, ...)  records a failure with a message and goes on;
 *   REQUIRE(cond, fmt, ...) records a failure and ends the test case.
 *   EXPECT_EQ(a, b)         EXPECT(a == b) that prints both values.
 *
 * A test binary takes:  [NAME-SUBSTRING ...] [--seed N] [--list]
 * test_seed() is the seed for randomized tests: from --seed, else from the
 * clock, and always printed so a failure can be replayed.
 */
#ifndef TESTS_HOST_HARNESS_H
#define TESTS_HOST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

struct host_test {
    const char *name;   /* the function's name, printed in the KTAP line */
    void (*fn)(void);   /* the test body */
    const char *file;   /* where it is defined, for --list */
    int line;           /* and on which line: cases run in file order */
};

#define TEST(name)                                                           \
    static void name(void);                                                  \
    static const struct host_test name##_entry                               \
        __attribute__((used, section("host_tests"), aligned(8))) = {         \
            #name, name, __FILE__, __LINE__};                                \
    static void name(void)

void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void harness_end_case(void) __attribute__((noreturn));
void harness_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t test_seed(void);

#define EXPECT(cond, ...)                                                    \
    do {                                                                     \
        if (!(cond))                                                         \
            harness_fail(__FILE__, __LINE__, "EXPECT(" #cond ") " __VA_ARGS__); \
    } while (0)

#define REQUIRE(cond, ...)                                                   \
    do {                                                                     \
        if (!(cond)) {                                                       \
            harness_fail(__FILE__, __LINE__, "REQUIRE(" #cond ") " __VA_ARGS__); \
            harness_end_case();                                              \
        }                                                                    \
    } while (0)

#define EXPECT_EQ(a, b)                                                      \
    do {                                                                     \
        unsigned long long a_ = (unsigned long long)(a);                     \
        unsigned long long b_ = (unsigned long long)(b);                     \
        if (a_ != b_)                                                        \
            harness_fail(__FILE__, __LINE__, "EXPECT_EQ(%s, %s): %llu (0x%llx) != %llu (0x%llx)", \
                         #a, #b, a_, a_, b_, b_);                            \
    } while (0)

/* Print a "# " diagnostic line inside the current test case. */
#define DIAG(...) harness_diag(__VA_ARGS__)

#endif /* TESTS_HOST_HARNESS_H */
