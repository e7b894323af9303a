/*
 * kernel/ktest.c - the in-kernel test runner (see kernel/ktest.h).
 *
 * The runner walks the suites in .ktest_suites twice: once to count the
 * suites with at least one case matching the glob (KTAP's plan line must
 * come first), then to run them: first the suites that test deferred
 * initialisation while it may still run (KTEST_SUITE_DEFERRED), then, once
 * mm_boot_settle() says nothing is pending, all the others. Each selected suite is a KTAP subtest,
 * indented by four spaces; each case prints `ok N name` or `not ok N
 * name` after its diagnostics, which are indented by eight. The suite's
 * own line follows: not ok if any of its cases failed.
 *
 * Only the boot hart runs the runner and the cases; a case that wants
 * other harts gives them work through smp_run_on().
 *
 * While a case runs, every other line on the console (mm/'s messages,
 * another hart's printk) starts with "        # " (printk's line
 * prefix), so it reads as a diagnostic of that case; the runner's own
 * lines go out without it (printk_plain).
 *
 * A failure that repeats the one before it exactly (same place, same
 * message: a check in a loop over 64 frames of a stub) is counted, not
 * printed again; one line then says how many more times it came.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../platform/poweroff.h"
#include "bootargs.h"
#include "ktest.h"
#include "mm_boot.h"
#include "printk.h"

extern const struct ktest_suite __start_ktest_suites[], __stop_ktest_suites[];

/* The case that is running. */
struct ktest_now {
    unsigned int failures; /* checks that failed so far */
    bool skipped;          /* KTEST_SKIP was called */
    const char *skip_why;  /* its reason */
    char last[256];        /* the last failure line printed */
    unsigned int repeats;  /* failures equal to `last` since it printed */
};

#define KTEST_CASE_PREFIX "        # " /* other lines, while a case runs */

static struct ktest_now now;

/* Totals over the whole run, in cases. */
static unsigned int nr_passed, nr_failed, nr_skipped;

#define for_each_suite(s)                                                      \
    for (const struct ktest_suite *s = __start_ktest_suites;                   \
         s < __stop_ktest_suites; s++)

/* "/long/path/kernel/ktest_mm.c" -> "ktest_mm.c": short diagnostics. */
static const char *short_file(const char *file)
{
    const char *slash = strrchr(file, '/');

    return slash ? slash + 1 : file;
}

/* Say how often the last failure repeated, if it did; forget the count. */
static void print_repeats(void)
{
    if (now.repeats)
        printk_plain("        # (the failure above came %u more times)\n",
                     now.repeats);
    now.repeats = 0;
}

void ktest_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    char text[sizeof(now.last)];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    now.failures++;
    snprintf(text, sizeof(text), "%s:%d: %s", short_file(file), line, msg);
    if (strcmp(text, now.last) == 0) {
        now.repeats++;
        return;
    }
    print_repeats();
    strlcpy(now.last, text, sizeof(now.last));
    printk_plain("        # %s\n", text);
}

/*
 * Small numbers in decimal, others (addresses, masks) in hex; an error
 * code by its name as well ("-EINVAL (-22)").
 */
void ktest_value_text(char *buf, size_t size, unsigned long long v)
{
    long long sv = (long long)v;

    if (sv < 0 && sv > -4096 && strcmp(errno_name((int)sv), "E?") != 0)
        snprintf(buf, size, "-%s (%lld)", errno_name((int)sv), sv);
    else if (sv > -100000 && sv < 100000)
        snprintf(buf, size, "%lld", sv);
    else
        snprintf(buf, size, "0x%llx", v);
}

void ktest_fail_cmp(const char *file, int line, const char *check,
                    const char *a_text, const char *b_text, const char *not_op,
                    unsigned long long a, unsigned long long b)
{
    char av[32], bv[32];

    ktest_value_text(av, sizeof(av), a);
    ktest_value_text(bv, sizeof(bv), b);
    ktest_fail(file, line, "%s(%s, %s): %s %s %s", check, a_text, b_text, av,
               not_op, bv);
}

bool ktest_expect_streq(const char *file, int line, const char *a_text,
                        const char *b_text, const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    ktest_fail(file, line, "EXPECT_STREQ(%s, %s): \"%s\" != \"%s\"", a_text,
               b_text, a, b);
    return false;
}

void ktest_skip(const char *reason)
{
    now.skipped = true;
    now.skip_why = reason;
}

bool ktest_glob_match(const char *glob, const char *name)
{
    const char *star = NULL, *resume = NULL;

    /* On a mismatch after a '*', let that '*' swallow one more character. */
    while (*name) {
        if (*glob == '*') {
            star = ++glob;
            resume = name;
        } else if (*glob == '?' || *glob == *name) {
            glob++;
            name++;
        } else if (star) {
            glob = star;
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*glob == '*')
        glob++;
    return *glob == '\0';
}

static bool case_selected(const struct ktest_suite *s,
                          const struct ktest_case *c, const char *glob)
{
    char full[96];

    snprintf(full, sizeof(full), "%s.%s", s->name, c->name);
    return ktest_glob_match(glob, full);
}

static unsigned int cases_selected(const struct ktest_suite *s,
                                   const char *glob)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < s->nr_cases; i++)
        n += case_selected(s, &s->cases[i], glob);
    return n;
}

void ktest_list(void)
{
    for_each_suite(s) for (unsigned int i = 0; i < s->nr_cases; i++)
        printk("%s.%s\n", s->name, s->cases[i].name);
}

/* Run one case as test number n of suite s; true if it did not fail. */
static bool run_case(const struct ktest_suite *s, const struct ktest_case *c,
                     unsigned int n)
{
    memset(&now, 0, sizeof(now));
    printk_set_line_prefix(KTEST_CASE_PREFIX);
    c->run();
    if (!now.skipped && s->after_each) {
        int bad = s->after_each();

        if (bad)
            ktest_fail(__FILE__, __LINE__,
                       "after %s.%s: the suite's check after every case "
                       "returned -%s (%d; its lines are above)",
                       s->name, c->name, errno_name(bad), bad);
    }
    printk_set_line_prefix(NULL);
    print_repeats();
    if (now.failures) {
        nr_failed++;
        printk_plain("    not ok %u %s\n", n, c->name);
        return false;
    }
    if (now.skipped) {
        nr_skipped++;
        printk_plain("    ok %u %s # SKIP %s\n", n, c->name, now.skip_why);
        return true;
    }
    nr_passed++;
    printk_plain("    ok %u %s\n", n, c->name);
    return true;
}

/* One suite as subtest number n: its selected cases, then its result. */
static void run_suite(const struct ktest_suite *s, unsigned int n,
                      const char *glob)
{
    unsigned int number = 0, skipped_before = nr_skipped;
    bool ok = true;

    printk_plain("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", s->name,
                 cases_selected(s, glob));
    for (unsigned int i = 0; i < s->nr_cases; i++)
        if (case_selected(s, &s->cases[i], glob))
            ok &= run_case(s, &s->cases[i], ++number);
    if (!ok)
        printk_plain("not ok %u %s\n", n, s->name);
    else if (nr_skipped - skipped_before == number)
        printk_plain("ok %u %s # SKIP\n", n, s->name);
    else
        printk_plain("ok %u %s\n", n, s->name);
}

unsigned int ktest_run(const char *glob)
{
    unsigned int nr_suites = 0, n = 0;

    for_each_suite(s) nr_suites += cases_selected(s, glob) > 0;
    if (nr_suites == 0) {
        printk("# ktest: no test matches '%s'; boot with ktest=list to see "
               "the names, or ktest=* to run them all\n",
               glob);
        return EXIT_BAD_ARGS;
    }
    nr_passed = nr_failed = nr_skipped = 0; /* each run reports only itself */
    printk_plain("KTAP version 1\n1..%u\n", nr_suites);
    if (bootargs.ktest_nonce[0]) /* the grader's proof of a genuine report */
        printk_plain("# ktest: nonce %s\n", bootargs.ktest_nonce);
    for_each_suite(s) if (s->before_settle && cases_selected(s, glob))
        run_suite(s, ++n, glob);
    mm_boot_settle(); /* every other suite counts pages: final ones */
    for_each_suite(s) if (!s->before_settle && cases_selected(s, glob))
        run_suite(s, ++n, glob);
    printk_plain("# ktest: %u passed, %u failed, %u skipped\n", nr_passed,
                 nr_failed, nr_skipped);
    return nr_failed ? EXIT_TEST_FAIL : EXIT_PASS;
}
