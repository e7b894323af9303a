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
 *
 * Failures are printed so that they explain themselves (harness.h): values
 * with error codes by name, repeats counted, and an unexpected panic's
 * caller chain. The chain comes from glibc's backtrace(); each return
 * address is turned into "function file:line" by the sanitizer runtime's
 * symbolizer (__sanitizer_symbolize_pc, a weak reference: a build without
 * sanitizers prints what backtrace_symbols() knows instead).
 */
#include "harness.h"

#include <numbat/errno.h>

#include <execinfo.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CASES 4096 /* more TEST()s than this in one binary is a mistake */

extern const struct host_test __start_host_tests[];
extern const struct host_test __stop_host_tests[];

#define MAX_FRAMES 48 /* deepest caller chain harness_backtrace() prints */

void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t size)
    __attribute__((weak));

static jmp_buf case_end;     /* where REQUIRE jumps to end a case */
static int case_failures;    /* failures recorded in the running case */
static char last_failure[512]; /* the last FAIL line printed in this case */
static int repeats;          /* failures equal to it since it was printed */
static uint64_t seed;        /* seed for randomized tests */
static int seed_given;       /* --seed was on the command line */

/* The tree's top folder, from this file's own path (the build passes full paths). */
static size_t top_len(void)
{
    const char *me = __FILE__, *tail = strstr(me, "tests/host/lib/harness.c");

    return tail ? (size_t)(tail - me) : 0;
}

/* "/.../numbat/mm/heap.c" -> "mm/heap.c"; other paths as they are. */
static const char *tree_path(const char *path)
{
    size_t n = top_len();

    return n && !strncmp(path, __FILE__, n) ? path + n : path;
}

/* Say how often the last failure repeated, if it did; forget the count. */
static void print_repeats(void)
{
    if (repeats)
        printf("    # (the failure above came %d more times)\n", repeats);
    repeats = 0;
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    char text[sizeof(last_failure)];
    va_list ap;
    int n;

    n = snprintf(text, sizeof(text), "%s:%d: ", tree_path(file), line);
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
    va_end(ap);
    case_failures++;
    if (!strcmp(text, last_failure)) {
        repeats++;
        return;
    }
    print_repeats();
    memcpy(last_failure, text, sizeof(text));
    printf("    # FAIL %s\n", text);
    fflush(stdout);
}

void harness_value_text(char *buf, size_t size, unsigned long long v)
{
    long long sv = (long long)v;

    if (sv < 0 && sv > -4096 && strcmp(errno_name((int)sv), "E?"))
        snprintf(buf, size, "-%s (%lld)", errno_name((int)sv), sv);
    else if (sv < 0 && sv > -100000)
        snprintf(buf, size, "%lld", sv);
    else if (v < 10)
        snprintf(buf, size, "%llu", v);
    else
        snprintf(buf, size, "%llu (0x%llx)", v, v);
}

void harness_fail_cmp(const char *file, int line, const char *check,
                      const char *a_text, const char *b_text, const char *not_op,
                      unsigned long long a, unsigned long long b)
{
    char av[64], bv[64];

    harness_value_text(av, sizeof(av), a);
    harness_value_text(bv, sizeof(bv), b);
    harness_fail(file, line, "%s(%s, %s): %s %s %s", check, a_text, b_text, av,
                 not_op, bv);
}

/* One frame as "function file:line", or what glibc knows of it. */
static void frame_text(void *pc, char *buf, size_t size)
{
    char where[512];
    char **names;

    if (__sanitizer_symbolize_pc) {
        /* A return address: the call is the instruction before it. */
        __sanitizer_symbolize_pc((char *)pc - 1, "%f %s:%l", where, sizeof(where));
        const char *space = strchr(where, ' ');
        size_t fn = space ? (size_t)(space - where) : strlen(where);

        snprintf(buf, size, "%.*s at %s", (int)fn, where,
                 space ? tree_path(space + 1) : "??");
        return;
    }
    names = backtrace_symbols(&pc, 1);
    snprintf(buf, size, "%s", names ? names[0] : "??");
    free(names);
}

void harness_backtrace(void)
{
    void *pcs[MAX_FRAMES];
    int n = backtrace(pcs, MAX_FRAMES);

    printf("    # called from:\n");
    for (int i = 1; i < n; i++) {
        char where[600];

        frame_text(pcs[i], where, sizeof(where));
        if (!strncmp(where, "run_case ", 9) || !strncmp(where, "main ", 5))
            break; /* the harness itself: the TEST was the frame before */
        if (!strncmp(where, "mm_hook_panic ", 14) ||
            !strncmp(where, "harness_", 8) || strstr(where, "backtrace"))
            continue; /* the panic path, not the caller chain */
        printf("    #   %s\n", where);
    }
    fflush(stdout);
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

size_t harness_run_isolated(void (*fn)(void), char *out, size_t cap)
{
    int fds[2];
    size_t len = 0;
    pid_t pid;

    fflush(stdout);
    if (cap == 0 || pipe(fds) != 0 || (pid = fork()) < 0) {
        fprintf(stderr, "harness_run_isolated: cannot pipe or fork\n");
        exit(2);
    }
    if (pid == 0) { /* the child: fn as a case of its own, stdout to the pipe */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        case_failures = repeats = 0;
        last_failure[0] = '\0';
        if (setjmp(case_end) == 0)
            fn();
        print_repeats();
        fflush(stdout);
        _exit(case_failures ? 1 : 0);
    }
    close(fds[1]);
    for (ssize_t n; len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0;)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return len;
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
    last_failure[0] = '\0';
    if (setjmp(case_end) == 0)
        t->fn();
    print_repeats();
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
