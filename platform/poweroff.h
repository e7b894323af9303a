/*
 * platform/poweroff.h - ending the run with an exit status.
 *
 * QEMU virt's "sifive,test" device turns one register write into QEMU's
 * own exit: 0x5555 exits with status 0, (code << 16) | 0x3333 exits with
 * status `code`. That is how a test run tells its caller pass or fail
 * (docs/boot-output.md lists the statuses). SBI's shutdown would end
 * QEMU too, but always with status 0, so it is only the last resort.
 */
#ifndef PLATFORM_POWEROFF_H
#define PLATFORM_POWEROFF_H

#include <numbat/compiler.h>
#include <numbat/types.h>

/* Exit statuses (docs/boot-output.md). */
#define EXIT_PASS 0      /* tests passed, or `halt` */
#define EXIT_TEST_FAIL 1 /* at least one in-kernel test failed */
#define EXIT_PANIC 2     /* the kernel panicked */
#define EXIT_BAD_ARGS                                                          \
    3 /* the boot arguments asked for something impossible                     \
       */

/* Use the sifive,test device at base (0: none known, SBI shutdown only). */
void poweroff_init(paddr_t base);

/* Power off; QEMU exits with `status` (0..0xffff). */
void poweroff(unsigned int status) __noreturn;

#endif /* PLATFORM_POWEROFF_H */
