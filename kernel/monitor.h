/*
 * kernel/monitor.h - the console's command loop.
 *
 * After boot (without ktest=), Numbat prints a greeting and a prompt,
 * reads a line from the console and runs the command it names. Commands
 * live in one table in kernel/monitor.c: adding a command is writing a
 * function and adding a row. The functions live by family:
 *
 *   kernel/monitor.c        the loop, the table, help, halt, check, test,
 *                           scripts (monitor="...") and the argument
 *                           readers every command shares
 *   kernel/monitor_mem.c    mem, nodes: the machine
 *   kernel/monitor_heap.c   heap, buddy, page, heapmap: the heap, read only
 *   kernel/monitor_alloc.c  alloc, free, held, release: driving the heap
 *                           by hand
 *   kernel/dump.c           dump: the frame states for tools/memmap.py
 *   kernel/monitor_locks.c  locks: the heap locks' contention, and a
 *                           benchmark of it
 *   kernel/monitor_deferred.c  settle: wait for deferred init
 *   kernel/monitor_offline.c offline, online, query: taking frames out of
 *                           service (and the badpages= boot argument)
 *   kernel/monitor_lu.c     keep, fill, verify, liveupdate: live update
 *
 * A command returns 0, or the exit status it stands for (EXIT_TEST_FAIL
 * for a failed check, EXIT_BAD_ARGS for input it refused). A script
 * (boot argument monitor="CMD; CMD") powers off with the first non-zero
 * status any of its commands returned; docs/monitor.md says more.
 *
 * Nothing a user types may panic the kernel: every command checks its
 * words and prints one line naming the problem instead.
 */
#ifndef KERNEL_MONITOR_H
#define KERNEL_MONITOR_H

#include <numbat/compiler.h>
#include <numbat/types.h>

#define MONITOR_LINE_MAX 128   /* longest command line, the NUL included */
#define MONITOR_ARGS_MAX 8     /* words per command line */
#define MONITOR_SCRIPT_MAX 512 /* monitor="..." values, all of them joined */

/* Run one command line (as typed, without the newline); its status. */
unsigned int monitor_exec(char *line);

/* Greet, run the boot script if there is one, else read commands for ever. */
void monitor_run(void) __noreturn;

/*
 * The monitor="CMD; CMD; ..." boot argument (a row in kernel/bootargs.c).
 * Each use appends its commands to the script. Returns 0, or -EINVAL /
 * -E2BIG with the reason in *why.
 */
int monitor_set_script(const char *value, bool has_value, const char **why);

/* ---- for the command files ------------------------------------------- */

/*
 * Read argv[i] as a number (decimal, or hex with 0x) no larger than max.
 * On bad input print "CMD: bad WHAT 'word': ..." and return false.
 */
bool monitor_number(char **argv, int i, const char *what, unsigned long max,
                    unsigned long *out);

/* Read a node id that has RAM or harts on this machine (same contract). */
bool monitor_node(char **argv, int i, unsigned int *node);

/* "CMD: needs ARGS; usage: USAGE" when argc < need; returns argc >= need. */
bool monitor_need(int argc, char **argv, int need, const char *usage);

/* The commands (argv[0] is the command's name). */
unsigned int monitor_cmd_mem(int argc, char **argv);
unsigned int monitor_cmd_nodes(int argc, char **argv);
unsigned int monitor_cmd_heap(int argc, char **argv);
unsigned int monitor_cmd_buddy(int argc, char **argv);
unsigned int monitor_cmd_page(int argc, char **argv);
unsigned int monitor_cmd_heapmap(int argc, char **argv);
unsigned int monitor_cmd_alloc(int argc, char **argv);
unsigned int monitor_cmd_free(int argc, char **argv);
unsigned int monitor_cmd_held(int argc, char **argv);
unsigned int monitor_cmd_release(int argc, char **argv);
unsigned int monitor_cmd_dump(int argc, char **argv);
unsigned int monitor_cmd_locks(int argc, char **argv);
unsigned int monitor_cmd_settle(int argc, char **argv);
unsigned int monitor_cmd_offline(int argc, char **argv);
unsigned int monitor_cmd_online(int argc, char **argv);
unsigned int monitor_cmd_query(int argc, char **argv);

/* badpages=...: mark the listed frames broken, before the heap exists
 * (after mm_boot_init, before mm_boot_end; kernel/monitor_offline.c). */
void badpages_apply(void);
unsigned int monitor_cmd_liveupdate(int argc, char **argv);
unsigned int monitor_cmd_keep(int argc, char **argv);
unsigned int monitor_cmd_fill(int argc, char **argv);
unsigned int monitor_cmd_verify(int argc, char **argv);

/*
 * The `held` table, for live update (kernel/monitor_lu.c, liveupdate.c):
 * enter a block inherited from the old kernel (false if the table is
 * full), and ask whether (mfn, order) is a live held block.
 */
bool monitor_held_adopt(mfn_t mfn, unsigned int order);
bool monitor_held_live(mfn_t mfn, unsigned int order);

#endif /* KERNEL_MONITOR_H */
