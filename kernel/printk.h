/*
 * kernel/printk.h - formatted output to the console.
 *
 * printk() is printf for the kernel: it formats into a buffer, then
 * writes the buffer to the console while holding the console lock, so
 * lines printed by several harts at once never mix within a line.
 *
 * The formatter understands a printf subset, the same one mm/hooks.h
 * promises: %d %i %u %x %X %ld %lu %lx %llu %llx %zu %zx %p %s %c %%,
 * with a field width (digits) and the flags '0' (pad with zeros) and '-'
 * (align left). Anything else is printed as it stands, so a bad format
 * shows up in the output instead of crashing.
 *
 * Until console_use_uart() is called the console is SBI's putchar.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <numbat/compiler.h>
#include <numbat/types.h>

#define PRINTK_LINE_MAX 512 /* longer printk output is cut to this */

/* Format into buf (always NUL-terminated if size > 0); returns the length
 * the whole output would have had, like C's vsnprintf. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

void printk(const char *fmt, ...) __printf(1, 2);
void vprintk(const char *fmt, va_list ap);

/*
 * From now on start every console line with `prefix` (NULL: no prefix),
 * whichever hart prints it; a panicking hart's lines never get it. The
 * in-kernel tests set "        # " while a case runs (kernel/ktest.c).
 */
void printk_set_line_prefix(const char *prefix);

/* printk() without the line prefix: the KTAP lines of the test runner. */
void printk_plain(const char *fmt, ...) __printf(1, 2);

/* format_size(): "128 MiB", shared with the host tools (lib/format.c). */
#include <numbat/format.h>

/* From now on, write to (and read from) the UART the tree named. */
void console_use_uart(paddr_t base, uint32_t reg_shift);

/* One byte typed at the console, or -1 when none is waiting. */
int console_getc(void);

/* Write raw bytes (no formatting), under the console lock. */
void console_write(const char *s, size_t n);

#endif /* KERNEL_PRINTK_H */
