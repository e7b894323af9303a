/*
 * kernel/monitor.c - a tiny command line for the running kernel.
 *
 * The loop is: print "numbat> ", read one line with simple editing
 * (backspace erases, Enter ends the line, other control characters are
 * ignored, a full line rings no bell and just stops taking characters),
 * cut it into words at spaces, find the first word in `commands` and call
 * its function with the words, like a C main(argc, argv).
 *
 * Scripts: the boot argument monitor="heap; alloc 3; check" runs those
 * commands one after another, each echoed after a prompt as if typed,
 * then powers off with the first non-zero status a command returned
 * (0 when all went well). That is how tests and demos drive the monitor
 * without a terminal. `halt` ends a script early with that same status.
 *
 * The console never panics on input: anything typed is either a known
 * command with good arguments, or gets one line saying what is wrong.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/heap.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "ktest.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"

#define KEY_BACKSPACE 0x08
#define KEY_DELETE 0x7f

struct command {
    const char *name;  /* what the user types */
    const char *usage; /* its arguments, for `help` and messages */
    const char *help;  /* one line for `help` */
    unsigned int (*run)(int argc, char **argv); /* argv[0] is the name */
};

static char script[MONITOR_SCRIPT_MAX]; /* monitor="..." values, "; "-joined */
_Static_assert(MONITOR_SCRIPT_MAX == 512,
               "update the message in monitor_set_script");
static bool in_script;             /* running the boot script now */
static unsigned int script_status; /* first non-zero command status */

static unsigned int cmd_help(int argc, char **argv);

static unsigned int cmd_halt(int argc, char **argv)
{
    unsigned int status = in_script ? script_status : EXIT_PASS;

    printk("halt: powering off (status %u)\n", status);
    poweroff(status);
}

static unsigned int cmd_check(int argc, char **argv)
{
    if (heap_check() != 0) {
        printk("check: heap_check found broken rules (listed above)\n");
        return EXIT_TEST_FAIL;
    }
    printk("check: every heap rule holds (free lists, counters, every "
           "frame, maximal blocks, MFN 0 and holes)\n");
    return EXIT_PASS;
}

/* A test pattern: the characters ktest= accepts. */
static bool pattern_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("_.-*?", *s)))
            return false;
    return true;
}

static unsigned int cmd_test(int argc, char **argv)
{
    unsigned int status;

    if (!monitor_need(argc, argv, 2, "test PATTERN"))
        return EXIT_BAD_ARGS;
    if (!pattern_ok(argv[1])) {
        printk("test: bad pattern '%s': use letters, digits, _ . - * ?\n",
               argv[1]);
        return EXIT_BAD_ARGS;
    }
    status = ktest_run(argv[1]);
    printk("test: '%s' ended with status %u (0 passed, 1 a case failed, "
           "3 nothing matched)\n",
           argv[1], status);
    return status;
}

static const struct command commands[] = {
    {"help", "", "list the commands", cmd_help},
    {"mem", "", "memory map per node, with sizes", monitor_cmd_mem},
    {"nodes", "", "harts per node, distance matrix", monitor_cmd_nodes},
    {"heap", "[node N]", "free pages per zone and order", monitor_cmd_heap},
    {"buddy", "NODE ZONE ORDER", "walk one free list", monitor_cmd_buddy},
    {"page", "MFN", "one frame's page_info, decoded", monitor_cmd_page},
    {"heapmap", "[node N]", "a node's frames as a character map",
     monitor_cmd_heapmap},
    {"alloc", "ORDER [node N] [exact] [bits B]", "take a block from the heap",
     monitor_cmd_alloc},
    {"free", "MFN ORDER", "give back a block `alloc` took", monitor_cmd_free},
    {"held", "", "blocks `alloc` took, not yet freed", monitor_cmd_held},
    {"release", "initrd | MFN NR", "free a kept initrd (initrd=keep)",
     monitor_cmd_release},
    {"check", "", "run heap_check(): do the rules hold?", cmd_check},
    {"settle", "", "wait until no memory is pending", monitor_cmd_settle},
    {"test", "PATTERN", "run in-kernel tests matching PATTERN", cmd_test},
    {"dump", "[node N]", "frame states for tools/memmap.py", monitor_cmd_dump},
    {"offline", "MFN [broken]", "take a frame out of service", monitor_cmd_offline},
    {"online", "MFN", "bring an offlined frame back", monitor_cmd_online},
    {"query", "MFN", "a frame's offline state", monitor_cmd_query},
    {"halt", "", "power off (a script: with its status)", cmd_halt},
    {"locks", "[bench ORDER HARTS [PAIRS]]", "heap lock contention; bench",
     monitor_cmd_locks},
    {"keep", "MFN ORDER", "keep a held block over `liveupdate`",
     monitor_cmd_keep},
    {"fill", "MFN ORDER SEED", "fill a held block with a pattern",
     monitor_cmd_fill},
    {"verify", "MFN ORDER SEED", "check a block still holds the pattern",
     monitor_cmd_verify},
    {"liveupdate", "[image=self|initrd] [ARGS]",
     "hand over to a new kernel image",
     monitor_cmd_liveupdate},
};

static unsigned int cmd_help(int argc, char **argv)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        char both[40]; /* "name usage", padded to one column */

        snprintf(both, sizeof(both), "%s %s", commands[i].name,
                 commands[i].usage);
        printk("  %-38s %s\n", both, commands[i].help);
    }
    return EXIT_PASS;
}

/* ---- reading arguments --------------------------------------------------- */

bool monitor_need(int argc, char **argv, int need, const char *usage)
{
    if (argc >= need)
        return true;
    printk("%s: missing argument; usage: %s\n", argv[0], usage);
    return false;
}

/* Parse decimal or 0x-hex into *out; false on a bad digit or overflow. */
static bool parse_number(const char *s, unsigned long *out)
{
    unsigned long base = 10, v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned long d;

        if (*s >= '0' && *s <= '9')
            d = (unsigned long)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned long)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned long)(*s - 'A' + 10);
        else
            return false;
        if (v > (~0UL - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

bool monitor_number(char **argv, int i, const char *what, unsigned long max,
                    unsigned long *out)
{
    if (!parse_number(argv[i], out)) {
        printk("%s: bad %s '%s': not a number (decimal, or hex with 0x)\n",
               argv[0], what, argv[i]);
        return false;
    }
    if (*out > max) {
        printk("%s: bad %s '%s': at most %lu\n", argv[0], what, argv[i], max);
        return false;
    }
    return true;
}

bool monitor_node(char **argv, int i, unsigned int *node)
{
    unsigned int nr_nodes = board()->nr_nodes;
    unsigned long n;

    if (!monitor_number(argv, i, "node", ~0UL, &n))
        return false;
    if (n >= nr_nodes && nr_nodes == 1) {
        printk("%s: node %lu does not exist: this machine has only node 0 "
               "(see `nodes`); nothing done\n",
               argv[0], n);
        return false;
    }
    if (n >= nr_nodes) {
        printk("%s: node %lu does not exist: this machine has nodes 0 to %u "
               "(see `nodes`); nothing done\n",
               argv[0], n, nr_nodes - 1);
        return false;
    }
    *node = (unsigned int)n;
    return true;
}

/* ---- running a line ------------------------------------------------------ */

/* Split line into words in place; returns how many (at most max). */
static int split_words(char *line, char **argv, int max)
{
    int argc = 0;

    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (argc == max)
            return -1;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return argc;
}

unsigned int monitor_exec(char *line)
{
    char *argv[MONITOR_ARGS_MAX];
    int argc = split_words(line, argv, MONITOR_ARGS_MAX);

    if (argc < 0) {
        printk("monitor: more than %d words; type `help` for the commands\n",
               MONITOR_ARGS_MAX);
        return EXIT_BAD_ARGS;
    }
    if (argc == 0)
        return EXIT_PASS;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            return commands[i].run(argc, argv);
    printk("monitor: unknown command '%s'; type `help` for the commands\n",
           argv[0]);
    return EXIT_BAD_ARGS;
}

/* ---- scripts: monitor="CMD; CMD; ..." ------------------------------------ */

int monitor_set_script(const char *value, bool has_value, const char **why)
{
    size_t used = strlen(script);

    if (!has_value || !value[0]) {
        *why = "needs commands, e.g. monitor=\"heap; halt\"";
        return -EINVAL;
    }
    if (used + 2 + strlen(value) >= sizeof(script)) {
        *why = "all monitor= values together must stay below 512 "
               "characters";
        return -E2BIG;
    }
    if (used)
        strlcpy(script + used, "; ", sizeof(script) - used);
    strlcpy(script + strlen(script), value, sizeof(script) - strlen(script));
    return 0;
}

/* Run the command in [s, e) of the script, echoed after a prompt. */
static void run_script_command(const char *s, const char *e)
{
    char line[MONITOR_LINE_MAX];
    unsigned int status;

    while (s < e && *s == ' ')
        s++;
    while (e > s && e[-1] == ' ')
        e--;
    if (s == e)
        return;
    if ((size_t)(e - s) >= sizeof(line)) {
        printk("numbat> (a command of %d characters)\nmonitor: command longer "
               "than %d characters skipped\n",
               (int)(e - s), MONITOR_LINE_MAX - 1);
        status = EXIT_BAD_ARGS;
    } else {
        memcpy(line, s, (size_t)(e - s));
        line[e - s] = '\0';
        printk("numbat> %s\n", line);
        status = monitor_exec(line);
    }
    if (script_status == EXIT_PASS)
        script_status = status;
}

/*
 * Does the script use `settle`? If not, it starts on a settled heap, so
 * that what it prints does not depend on how far deferred init has come.
 */
static bool script_settles(void)
{
    for (const char *p = script; *p; p++)
        if (strncmp(p, "settle", 6) == 0)
            return true;
    return false;
}

static void __noreturn run_script(void)
{
    const char *s = script;

    in_script = true;
    if (!script_settles()) /* else the script says when to wait */
        mm_boot_settle();
    for (;;) {
        const char *e = strchr(s, ';');

        run_script_command(s, e ? e : s + strlen(s));
        if (!e)
            break;
        s = e + 1;
    }
    printk("monitor: script done, powering off (status %u)\n", script_status);
    poweroff(script_status);
}

/* ---- the interactive loop ------------------------------------------------ */

static int wait_char(void)
{
    int c;

    while ((c = console_getc()) < 0)
        ;
    return c;
}

/*
 * Read one line into buf (echoing it), without the newline. Returns false
 * if the line was longer than buf could hold (the rest was dropped).
 */
static bool read_line(char *buf, size_t cap)
{
    bool full = false;
    static bool after_cr; /* a '\n' right after a '\r' ends no new line */
    size_t n = 0;

    for (;;) {
        int c = wait_char();
        bool skip = after_cr && c == '\n';

        after_cr = c == '\r';
        if (skip)
            continue;
        if (c == '\r' || c == '\n') {
            console_write("\n", 1);
            buf[n] = '\0';
            return !full;
        }
        if (c == KEY_BACKSPACE || c == KEY_DELETE) {
            if (n > 0) {
                n--;
                console_write("\b \b", 3);
            }
            continue;
        }
        if (c < ' ' || c > '~')
            continue; /* control characters and non-ASCII are ignored */
        if (n + 1 >= cap) {
            full = true; /* keep reading up to the newline, store nothing */
            continue;
        }
        buf[n++] = (char)c;
        console_write(&buf[n - 1], 1);
    }
}

void monitor_run(void)
{
    char line[MONITOR_LINE_MAX];

    printk("Numbat ready: type `help` for commands.\n");
    if (script[0])
        run_script();
    for (;;) {
        printk("numbat> ");
        if (read_line(line, sizeof(line)))
            monitor_exec(line);
        else
            printk("monitor: line longer than %d characters ignored; type "
                   "`help` for the commands\n",
                   MONITOR_LINE_MAX - 1);
    }
}
