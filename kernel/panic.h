/*
 * kernel/panic.h - stopping the machine when something impossible happened
 * (failure tier 2, docs/failure.md).
 *
 * panic("function: what went wrong", values...) prints
 *     PANIC on hart N: <message>
 * then registers and a frame-pointer backtrace (docs/boot-output.md), and
 * powers QEMU off with exit status 2. It never returns. A panic while
 * already panicking prints one line and powers off at once, so a fault in
 * the panic code cannot loop.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <numbat/compiler.h>
#include <numbat/types.h>

struct trap_frame;

void panic(const char *fmt, ...) __printf(1, 2) __noreturn;
void vpanic(const char *fmt, va_list ap) __noreturn;

/* A panic for a trap: also prints the trap CSRs and all 31 registers. */
void panic_trap(const struct trap_frame *tf, const char *fmt, ...)
    __printf(2, 3) __noreturn;

/*
 * Name a kernel address for a message: "ktest_fail+0x10" (the nearest
 * symbol at or below addr, and the distance), or a short note when addr
 * is outside the image. Always NUL-terminates buf (size > 0).
 */
void panic_symbol(uintptr_t addr, char *buf, size_t size);

#endif /* KERNEL_PANIC_H */
