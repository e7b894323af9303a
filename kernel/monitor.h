/*
 * kernel/monitor.h - the console's command loop.
 *
 * After boot (without ktest=), Numbat prints a greeting and a prompt,
 * reads a line from the console and runs the command it names. Commands
 * live in one table in kernel/monitor.c: adding a command is writing a
 * function and adding a row.
 */
#ifndef KERNEL_MONITOR_H
#define KERNEL_MONITOR_H

#include <numbat/compiler.h>

#define MONITOR_LINE_MAX                                                       \
    128                    /* longest command line, the final NUL included     \
                            */
#define MONITOR_ARGS_MAX 8 /* words per command line */

/* Run one command line (as typed, without the newline). */
void monitor_exec(char *line);

/* Greet, then read and run commands for ever. */
void monitor_run(void) __noreturn;

#endif /* KERNEL_MONITOR_H */
