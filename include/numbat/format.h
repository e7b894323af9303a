/*
 * numbat/format.h - numbers for people, in code the kernel and the host
 * tools share.
 *
 * The kernel's snprintf is kernel/printk.c's (the printf subset printk.h
 * lists); host builds use the C library's. Code that formats lines for
 * both (platform/machine_print.c, which the kernel's boot output and the
 * host tool dtinfo print through) includes this header for either.
 */
#ifndef NUMBAT_FORMAT_H
#define NUMBAT_FORMAT_H

#include <numbat/compiler.h>
#include <numbat/types.h>

#ifndef NUMBAT_KERNEL
#include <stdio.h> /* host: the C library's snprintf */
#else
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
#endif

/*
 * A byte count for people: "N GiB" when it is a whole number of GiB,
 * else "N MiB" from 1 MiB up, "N KiB" from 1 KiB up, else "N bytes"
 * (rounded down). Returns buf. (lib/format.c)
 */
char *format_size(char *buf, size_t size, uint64_t bytes);

#endif /* NUMBAT_FORMAT_H */
