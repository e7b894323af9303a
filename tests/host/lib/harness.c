/*
 * tests/host/lib/harness.c - runs the TEST() cases of one host test binary
 * and reports them in KTAP version 1 (the format the in-kernel tests use
 * too), closing with "N passed, N failed".
 *
 * Test cases are found through the linker: every TEST() puts a struct
 * host_test into the section "host_tests", and GNU ld defines
 * __start_host_tests / __stop_host_tests around it. The compiler may lay
 * the entries out in any order (GCC writes them backwards), so main()
 * sorts them by file and line first: cases run in the order they are
 * written, and a simple case written first also fails first.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CASES 4096 /* more TEST()s than this in one binary is a mistake */

extern const struct host_test __start_host_tests[];
extern const struct host_test __stop_host_tests[];

static jmp_buf case_end;     /* where REQUIRE jumps to end a case */
static int case_failures;    /* failures recorded in the running case */
static uint64_t seed;        /* seed for randomized tests */
static int seed_given;       /* --seed was on the command line */

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    printf("    # FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    case_failures++;
}

void harness_end_case(void)
{
    longjmp(case_end, 1);
}

void harness_diag(const char *fmt, ...)
{
    va_list ap;

    printf("    # ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

uint64_t test_seed(void)
{
    return seed;
}

static int selected(const char *name, int argc, char **argv)
{
    int any_filter = 0;

    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (!strcmp(argv[i], "--seed"))
                i++;
            continue;
        }
        any_filter = 1;
        if (strstr(name, argv[i]))
            return 1;
    }
    return !any_filter;
}

static void parse_options(int argc, char **argv, int *list_only)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            *list_only = 1;
        } else if (!strcmp(argv[i], "--seed")) {
            char *end;
            if (i + 1 >= argc || (seed = strtoull(argv[i + 1], &end, 0), *end)) {
                fprintf(stderr, "%s: --seed needs a number, e.g. --seed 42\n", argv[0]);
                exit(2);
            }
            seed_given = 1;
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "%s: unknown option %s (use: [NAME ...] [--seed N] [--list])\n",
                    argv[0], argv[i]);
            exit(2);
        }
    }
    if (!seed_given)
        seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
}

static int by_place(const void *a, const void *b)
{
    const struct host_test *x = *(const struct host_test *const *)a;
    const struct host_test *y = *(const struct host_test *const *)b;
    int c = strcmp(x->file, y->file);

    return c ? c : x->line - y->line;
}

/* The registered cases in the order they are written; returns how many. */
static size_t sorted_cases(const struct host_test **out)
{
    size_t n = 0;

    for (const struct host_test *t = __start_host_tests; t < __stop_host_tests; t++) {
        if (n == MAX_CASES) {
            fprintf(stderr, "harness: more than %d TEST()s in one binary; split the file\n",
                    MAX_CASES);
            exit(2);
        }
        out[n++] = t;
    }
    qsort(out, n, sizeof(*out), by_place);
    return n;
}

static int run_case(const struct host_test *t)
{
    case_failures = 0;
    if (setjmp(case_end) == 0)
        t->fn();
    fflush(stdout);
    return case_failures == 0;
}

int main(int argc, char **argv)
{
    static const struct host_test *cases[MAX_CASES];
    size_t nr_cases;
    int list_only = 0, n = 0, passed = 0, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_options(argc, argv, &list_only);
    nr_cases = sorted_cases(cases);
    if (list_only) {
        for (size_t c = 0; c < nr_cases; c++)
            printf("%s (%s:%d)\n", cases[c]->name, cases[c]->file, cases[c]->line);
        return 0;
    }
    for (size_t c = 0; c < nr_cases; c++)
        n += selected(cases[c]->name, argc, argv);
    printf("KTAP version 1\n# seed %llu (replay with --seed %llu)\n1..%d\n",
           (unsigned long long)seed, (unsigned long long)seed, n);
    int i = 0;
    for (size_t c = 0; c < nr_cases; c++) {
        if (!selected(cases[c]->name, argc, argv))
            continue;
        int ok = run_case(cases[c]);
        printf("%sok %d %s\n", ok ? "" : "not ", ++i, cases[c]->name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
