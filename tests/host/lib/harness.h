/*
 * tests/host/lib/harness.h - the host test harness.
 *
 * A host test file holds TEST(name) { ... } functions; the harness finds
 * them (each TEST lands in the ELF section "host_tests"), runs them in the
 * order they are written and prints KTAP version 1 with a closing line "N passed, N failed".
 *
 *   EXPECT(cond, fmt, ...)  records a failure with a message and goes on;
 *   REQUIRE(cond, fmt, ...) records a failure and ends the test case.
 *   EXPECT_EQ(a, b)         EXPECT(a == b) that prints both values; also
 *                           EXPECT_NE, _LT, _LE, _GT, _GE, and REQUIRE_EQ,
 *                           REQUIRE_NE, which end the case. Prefer these to
 *                           EXPECT(a == b): a failure then shows the values.
 *
 * What a failure prints, so that it explains itself:
 *   - compared values in decimal and hex, an error code by its name
 *     ("-EINVAL (-22)", lib/errno.c's table), never as 18446744073709551594;
 *   - a failure equal to the one before it (same place, same message, as a
 *     check in a loop over 64 frames) is counted, and one line gives the
 *     count instead of 63 more copies;
 *   - an unexpected panic in mm/ (an ASSERT that fired, a bad free) prints
 *     its caller chain up to the TEST function: harness_backtrace(),
 *     symbolised by the sanitizer's symbolizer (function, file:line).
 *
 * A test binary takes:  [NAME-SUBSTRING ...] [--seed N] [--list]
 * test_seed() is the seed for randomized tests: from --seed, else from the
 * clock, and always printed so a failure can be replayed.
 */
#ifndef TESTS_HOST_HARNESS_H
#define TESTS_HOST_HARNESS_H

#include <stddef.h>
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

/* Record a failed comparison "CHECK(a, b): A NOT_OP B" with both values. */
void harness_fail_cmp(const char *file, int line, const char *check,
                      const char *a_text, const char *b_text, const char *not_op,
                      unsigned long long a, unsigned long long b);

/* How a compared value prints: "42", "0x803e0 (525280)", "-EINVAL (-22)". */
void harness_value_text(char *buf, size_t size, unsigned long long v);

/* Print the caller chain of the point that calls it, up to the TEST. */
void harness_backtrace(void);

/*
 * Run fn as a test case of its own in a child process and put what it
 * printed (its FAIL lines...) into out, NUL-terminated; returns the length.
 * For testing the harness itself: the failures stay in the child.
 */
size_t harness_run_isolated(void (*fn)(void), char *out, size_t cap);

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

/*
 * Equality: a and b evaluated once each and compared as unsigned long long
 * (so an int and an unsigned long compare without a sign warning); on
 * failure record both values. True if it held.
 */
#define HARNESS_EQ_(check, a, op, not_op, b)                                 \
    ({                                                                       \
        unsigned long long a_ = (unsigned long long)(a);                     \
        unsigned long long b_ = (unsigned long long)(b);                     \
        int ok_ = a_ op b_;                                                  \
        if (!ok_)                                                            \
            harness_fail_cmp(__FILE__, __LINE__, check, #a, #b, not_op, a_, b_); \
        ok_;                                                                 \
    })

/* Order: a and b compared as their own types (signed stays signed). */
#define HARNESS_CMP_(check, a, op, not_op, b)                                \
    ({                                                                       \
        __typeof__(a) a_ = (a);                                              \
        __typeof__(b) b_ = (b);                                              \
        int ok_ = a_ op b_;                                                  \
        if (!ok_)                                                            \
            harness_fail_cmp(__FILE__, __LINE__, check, #a, #b, not_op,      \
                             (unsigned long long)a_, (unsigned long long)b_); \
        ok_;                                                                 \
    })

#define EXPECT_EQ(a, b) ((void)HARNESS_EQ_("EXPECT_EQ", a, ==, "!=", b))
#define EXPECT_NE(a, b) ((void)HARNESS_EQ_("EXPECT_NE", a, !=, "==", b))
#define EXPECT_LT(a, b) ((void)HARNESS_CMP_("EXPECT_LT", a, <, ">=", b))
#define EXPECT_LE(a, b) ((void)HARNESS_CMP_("EXPECT_LE", a, <=, ">", b))
#define EXPECT_GT(a, b) ((void)HARNESS_CMP_("EXPECT_GT", a, >, "<=", b))
#define EXPECT_GE(a, b) ((void)HARNESS_CMP_("EXPECT_GE", a, >=, "<", b))

#define REQUIRE_EQ(a, b)                                                     \
    do {                                                                     \
        if (!HARNESS_EQ_("REQUIRE_EQ", a, ==, "!=", b))                     \
            harness_end_case();                                              \
    } while (0)
#define REQUIRE_NE(a, b)                                                     \
    do {                                                                     \
        if (!HARNESS_EQ_("REQUIRE_NE", a, !=, "==", b))                     \
            harness_end_case();                                              \
    } while (0)

/* Print a "# " diagnostic line inside the current test case. */
#define DIAG(...) harness_diag(__VA_ARGS__)

#endif /* TESTS_HOST_HARNESS_H */
