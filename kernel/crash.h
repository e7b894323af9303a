/*
 * kernel/crash.h - faults on purpose, to show (and test) that the kernel's
 * page table and stack guards catch them.
 *
 * Boot with crash=KIND and the kernel, once its other harts are up, does
 * the one forbidden thing KIND names; the fault must end in a panic that
 * names the rule and the symbols (kernel/trap.c). tests/qemu/test_wx.py
 * boots every kind.
 */
#ifndef KERNEL_CRASH_H
#define KERNEL_CRASH_H

#include <numbat/types.h>

#define CRASH_ACCEPTED                                                         \
    "crash=text-write|rodata-write|exec-data|exec-ram|recurse|recurse-hart|"   \
    "null|two-locks (a fault on purpose, for tests)"

/* bootargs.c's setter for crash=KIND: 0, or -EINVAL and *why. */
int crash_set(const char *value, bool has_value, const char **why);

/* If crash=KIND was given, do it (it does not return); else nothing. */
void crash_if_asked(void);

#endif /* KERNEL_CRASH_H */
