/*
 * kernel/ktest.h - the in-kernel test framework.
 *
 * A test case is a function `static void name(void)` that checks things
 * with the macros below. A suite is a named list of cases, registered
 * with KTEST_SUITE; grep for "KTEST_SUITE(" to find every suite:
 *
 *     static void adds_up(void)
 *     {
 *         EXPECT_EQ(1 + 1, 2);
 *     }
 *
 *     static const struct ktest_case example_cases[] = {
 *         KTEST_CASE(adds_up),
 *     };
 *     KTEST_SUITE(kernel_example, example_cases);
 *
 * KTEST_SUITE puts a struct ktest_suite into the linker section
 * .ktest_suites (see kernel/kernel.ld), so the runner finds every suite
 * without a central list. The test's name is "suite.case"; boot with
 * ktest=GLOB to run the matching ones, ktest=list to list them all.
 *
 * Two families of checks:
 *   EXPECT_*   on failure, record it (file:line, the expression, the
 *              values, error codes by name) and go on with the case; a
 *              failure that repeats the one before it is counted and
 *              printed once, with the count;
 *   REQUIRE_*  on failure, record it and end the case at once. They work
 *              by `return`, so use them only in the case function itself,
 *              not in a helper it calls.
 * KTEST_SKIP(reason) ends the case as skipped (e.g. "no initrd given").
 *
 * Output is KTAP version 1 (docs/boot-output.md); the run powers QEMU off
 * with status 0 (all passed), 1 (a case failed) or 3 (no test matched).
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <numbat/compiler.h>
#include <numbat/types.h>

struct ktest_case {
    const char *name;  /* the case's name: its function's name */
    void (*run)(void); /* the case itself */
};

struct ktest_suite {
    const char *name;               /* e.g. "mm_boot" */
    const struct ktest_case *cases; /* its cases, in the order they run */
    unsigned int nr_cases;          /* how many */
    int (*after_each)(void);        /* run after every case that did not
                                       skip; non-zero fails that case (NULL:
                                       nothing) */
    bool before_settle;             /* runs while deferred init may still be
                                       handing memory over (KTEST_SUITE_
                                       DEFERRED); every other suite runs on
                                       a settled heap */
};

/* clang-format off */
#define KTEST_CASE(fn) { .name = #fn, .run = fn }
/* clang-format on */

#define KTEST_SUITE_AFTER(sname, case_array, after)                            \
    static const struct ktest_suite ktest_suite_##sname __section(             \
        ".ktest_suites") __used __aligned(8) = {                               \
        .name = #sname,                                                        \
        .cases = case_array,                                                   \
        .nr_cases = ARRAY_SIZE(case_array),                                    \
        .after_each = after,                                                   \
    }
#define KTEST_SUITE(sname, case_array) KTEST_SUITE_AFTER(sname, case_array, NULL)

/*
 * A suite that tests deferred initialisation itself: the runner runs such
 * suites first, before it waits for deferred init to settle
 * (mm_boot_settle()), which it does before the first other suite, so
 * that every count those take is final.
 */
#define KTEST_SUITE_DEFERRED(sname, case_array, after)                         \
    static const struct ktest_suite ktest_suite_##sname __section(             \
        ".ktest_suites") __used __aligned(8) = {                               \
        .name = #sname,                                                        \
        .cases = case_array,                                                   \
        .nr_cases = ARRAY_SIZE(case_array),                                    \
        .after_each = after,                                                   \
        .before_settle = true,                                                 \
    }

/*
 * The heap suites' after_each (kernel/ktest_mm_boot.c): heap_check() after
 * every case, so a case that leaves the heap broken fails where it did
 * it. It walks every frame, so on a machine of more than
 * KTEST_HEAP_CHECK_MAX_PAGES frames it runs only where a case asks for it
 * (about a second per 8 GiB under QEMU); the labs' host tests end every
 * case with it, on simulated machines of up to 8 GiB.
 */
#define KTEST_HEAP_CHECK_MAX_PAGES (4UL << 18) /* 4 GiB of 4 KiB frames */
int ktest_heap_after_case(void);

/* Record a failed check of the running case (the macros call these). */
void ktest_fail(const char *file, int line, const char *fmt, ...)
    __printf(3, 4);
void ktest_fail_cmp(const char *file, int line, const char *check,
                    const char *a_text, const char *b_text, const char *not_op,
                    unsigned long long a, unsigned long long b);
void ktest_skip(const char *reason);

/*
 * How a failed comparison prints a value: small numbers in decimal,
 * others in hex, an error code by its name too ("-EINVAL (-22)").
 */
void ktest_value_text(char *buf, size_t size, unsigned long long v);

/* True (and nothing recorded) if cond holds. */
#define KTEST_TRUE_(check, cond)                                               \
    (likely(cond)                                                              \
         ? true                                                                \
         : (ktest_fail(__FILE__, __LINE__, "%s(%s)", check, #cond), false))

/* Compare a and b once each; on failure record both values. */
#define KTEST_CMP_(check, a, op, not_op, b)                                    \
    ({                                                                         \
        __typeof__(a) a_ = (a);                                                \
        __typeof__(b) b_ = (b);                                                \
        bool ok_ = a_ op b_;                                                   \
        if (!ok_)                                                              \
            ktest_fail_cmp(__FILE__, __LINE__, check, #a, #b, not_op,          \
                           (unsigned long long)a_, (unsigned long long)b_);    \
        ok_;                                                                   \
    })

#define EXPECT_TRUE(c) ((void)KTEST_TRUE_("EXPECT_TRUE", (c)))
#define EXPECT_FALSE(c) ((void)KTEST_TRUE_("EXPECT_FALSE", !(c)))
#define EXPECT_EQ(a, b) ((void)KTEST_CMP_("EXPECT_EQ", a, ==, "!=", b))
#define EXPECT_NE(a, b) ((void)KTEST_CMP_("EXPECT_NE", a, !=, "==", b))
#define EXPECT_LT(a, b) ((void)KTEST_CMP_("EXPECT_LT", a, <, ">=", b))
#define EXPECT_LE(a, b) ((void)KTEST_CMP_("EXPECT_LE", a, <=, ">", b))
#define EXPECT_GE(a, b) ((void)KTEST_CMP_("EXPECT_GE", a, >=, "<", b))
#define EXPECT_STREQ(a, b)                                                     \
    ktest_expect_streq(__FILE__, __LINE__, #a, #b, (a), (b))

#define REQUIRE_TRUE(c)                                                        \
    do {                                                                       \
        if (!KTEST_TRUE_("REQUIRE_TRUE", (c)))                                 \
            return;                                                            \
    } while (0)
#define REQUIRE_EQ(a, b)                                                       \
    do {                                                                       \
        if (!KTEST_CMP_("REQUIRE_EQ", a, ==, "!=", b))                         \
            return;                                                            \
    } while (0)
#define REQUIRE_NE(a, b)                                                       \
    do {                                                                       \
        if (!KTEST_CMP_("REQUIRE_NE", a, !=, "==", b))                         \
            return;                                                            \
    } while (0)

#define KTEST_SKIP(reason)                                                     \
    do {                                                                       \
        ktest_skip(reason);                                                    \
        return;                                                                \
    } while (0)

bool ktest_expect_streq(const char *file, int line, const char *a_text,
                        const char *b_text, const char *a, const char *b);

/* Does `name` match `glob` ('*' any run of characters, '?' any one)? */
bool ktest_glob_match(const char *glob, const char *name);

/* Print every test's "suite.case", one per line. */
void ktest_list(void);

/*
 * Run the tests matching glob, printing KTAP. Returns the exit status for
 * poweroff(): 0 all passed, 1 a case failed, 3 nothing matched.
 */
unsigned int ktest_run(const char *glob);

#endif /* KERNEL_KTEST_H */
