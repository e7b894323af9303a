/*
 * kernel/monitor.c - a tiny command line for the running kernel.
 *
 * The loop is: print "numbat> ", read one line with simple editing
 * (backspace erases, Enter ends the line, other control characters are
 * ignored, a full line rings no bell and just stops taking characters),
 * cut it into words at spaces, find the first word in `commands` and call
 * its function with the words, like a C main(argc, argv).
 *
 * The console never panics on input: anything typed is either a known
 * command or gets one line saying it is not, and what to type instead.
 */
#include <numbat/string.h>

#include "../mm/heap.h"
#include "../platform/poweroff.h"
#include "board.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"

#define KEY_BACKSPACE 0x08
#define KEY_DELETE 0x7f

struct command {
    const char *name;                   /* what the user types */
    const char *help;                   /* one line for `help` */
    void (*run)(int argc, char **argv); /* does it; argv[0] is the name */
};

static void cmd_help(int argc, char **argv);

static void cmd_halt(int argc, char **argv)
{
    printk("halt: powering off\n");
    poweroff(EXIT_PASS);
}

static void cmd_mem(int argc, char **argv)
{
    board_print();
}

static void cmd_heap(int argc, char **argv)
{
    mm_boot_print_heap();
}

static const struct command commands[] = {
    {"help", "list the commands", cmd_help},
    {"halt", "power off (QEMU exits with status 0)", cmd_halt},
    {"mem", "the machine: RAM banks, reserved ranges, harts, distances",
     cmd_mem},
    {"heap", "free pages per node and zone", cmd_heap},
};

static void cmd_help(int argc, char **argv)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        printk("  %-6s %s\n", commands[i].name, commands[i].help);
}

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

void monitor_exec(char *line)
{
    char *argv[MONITOR_ARGS_MAX];
    int argc = split_words(line, argv, MONITOR_ARGS_MAX);

    if (argc < 0) {
        printk("monitor: more than %d words; type `help` for the commands\n",
               MONITOR_ARGS_MAX);
        return;
    }
    if (argc == 0)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            commands[i].run(argc, argv);
            return;
        }
    }
    printk("monitor: unknown command '%s'; type `help` for the commands\n",
           argv[0]);
}

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
