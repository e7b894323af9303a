/*
 * platform/sbi.h - calls into OpenSBI, the M-mode firmware below us.
 *
 * The Supervisor Binary Interface is a system call one level down: put the
 * extension id in a7, the function id in a6, the arguments in a0..a5, and
 * execute ecall. OpenSBI answers with an error code in a0 and a value in
 * a1. Numbat uses four services:
 *
 *   legacy console putchar/getchar (ext 0x01/0x02)  before the UART is known
 *   HSM hart_start                  (ext "HSM")     to start the other harts
 *   IPI send_ipi                    (ext "sPI")     to wake an idle hart
 *   SRST system_reset               (ext "SRST")    shutdown, last resort
 *
 * SBI error numbers are translated into Numbat's negative codes here, at
 * the boundary (failure tier 1).
 */
#ifndef PLATFORM_SBI_H
#define PLATFORM_SBI_H

#include <numbat/compiler.h>
#include <numbat/types.h>

#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_LEGACY_GETCHAR 0x02
#define SBI_EXT_IPI 0x735049    /* "sPI" */
#define SBI_EXT_HSM 0x48534D    /* "HSM" */
#define SBI_EXT_SRST 0x53525354 /* "SRST" */

struct sbiret {
    long error; /* 0 or a negative SBI error number */
    long value; /* the call's result when error == 0 */
};

/* The raw call: extension, function, three arguments. */
struct sbiret sbi_ecall(long ext, long fid, unsigned long a0, unsigned long a1,
                        unsigned long a2);

/* An SBI error number as a Numbat code: 0, -EINVAL, -ENOSYS, ... */
int sbi_to_errno(long sbi_error);

/* Print one character through the firmware's console. */
void sbi_console_putchar(int c);

/* One character from the firmware's console, or -1 when none is waiting. */
int sbi_console_getchar(void);

/*
 * Start hart `hartid` in S-mode at start_pa with a0 = hartid, a1 = opaque.
 * Returns 0, or -EINVAL (bad address), -EBUSY (already started),
 * -ENODEV (no such hart) or -EIO.
 */
int sbi_hart_start(unsigned long hartid, paddr_t start_pa,
                   unsigned long opaque);

/*
 * Stop the calling hart: it goes back to the firmware, stopped, until a
 * later sbi_hart_start(). Never returns (a refused stop sleeps in wfi).
 */
void sbi_hart_stop(void) __noreturn;

/* SBI HSM states that sbi_hart_status() returns. */
#define SBI_HSM_STARTED 0
#define SBI_HSM_STOPPED 1

/* Hart `hartid`'s HSM state (SBI_HSM_*, >= 0), or -ENODEV / -EIO. */
int sbi_hart_status(unsigned long hartid);

/* Raise a supervisor software interrupt on one hart. 0 or a negative code. */
int sbi_send_ipi_one(unsigned long hartid);

/* Ask the firmware to power off. QEMU then exits with status 0. */
void sbi_shutdown(void) __noreturn;

#endif /* PLATFORM_SBI_H */
