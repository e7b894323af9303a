/*
 * platform/sbi.c - the SBI calls Numbat makes (see platform/sbi.h).
 *
 * Each call is one ecall with the registers the SBI specification fixes;
 * the functions below give them names and translate error numbers.
 */
#include <numbat/errno.h>

#include "sbi.h"

/* SBI error numbers, from the SBI specification's table of errors. */
#define SBI_ERR_FAILED -1
#define SBI_ERR_NOT_SUPPORTED -2
#define SBI_ERR_INVALID_PARAM -3
#define SBI_ERR_DENIED -4
#define SBI_ERR_INVALID_ADDRESS -5
#define SBI_ERR_ALREADY_AVAILABLE -6

struct sbiret sbi_ecall(long ext, long fid, unsigned long a0, unsigned long a1,
                        unsigned long a2)
{
    register unsigned long r_a0 __asm__("a0") = a0;
    register unsigned long r_a1 __asm__("a1") = a1;
    register unsigned long r_a2 __asm__("a2") = a2;
    register long r_a6 __asm__("a6") = fid;
    register long r_a7 __asm__("a7") = ext;
    struct sbiret ret;

    __asm__ volatile("ecall"
                     : "+r"(r_a0), "+r"(r_a1)
                     : "r"(r_a2), "r"(r_a6), "r"(r_a7)
                     : "memory");
    ret.error = (long)r_a0;
    ret.value = (long)r_a1;
    return ret;
}

int sbi_to_errno(long sbi_error)
{
    switch (sbi_error) {
    case 0:
        return 0;
    case SBI_ERR_NOT_SUPPORTED:
        return -ENOSYS;
    case SBI_ERR_INVALID_PARAM:
        return -EINVAL;
    case SBI_ERR_INVALID_ADDRESS:
        return -EFAULT;
    case SBI_ERR_ALREADY_AVAILABLE:
        return -EBUSY;
    case SBI_ERR_DENIED:
        return -EBUSY;
    default:
        return -EIO;
    }
}

/* The legacy console calls return their result in a0, not in sbiret. */
void sbi_console_putchar(int c)
{
    sbi_ecall(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned long)c, 0, 0);
}

int sbi_console_getchar(void)
{
    long c = sbi_ecall(SBI_EXT_LEGACY_GETCHAR, 0, 0, 0, 0).error;

    return c < 0 ? -1 : (int)c;
}

int sbi_hart_start(unsigned long hartid, paddr_t start_pa, unsigned long opaque)
{
    struct sbiret r = sbi_ecall(SBI_EXT_HSM, 0, hartid, start_pa, opaque);

    if (r.error == SBI_ERR_INVALID_PARAM)
        return -ENODEV; /* "hartid is not a valid hart" */
    return sbi_to_errno(r.error);
}

void sbi_hart_stop(void)
{
    sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);
    for (;;) /* only reached when the firmware refused */
        __asm__ volatile("wfi");
}

int sbi_hart_status(unsigned long hartid)
{
    struct sbiret r = sbi_ecall(SBI_EXT_HSM, 2, hartid, 0, 0);

    if (r.error == SBI_ERR_INVALID_PARAM)
        return -ENODEV;
    return r.error ? sbi_to_errno(r.error) : (int)r.value;
}

int sbi_send_ipi_one(unsigned long hartid)
{
    /* hart_mask bit 0 stands for hart_mask_base, here the hart itself. */
    return sbi_to_errno(sbi_ecall(SBI_EXT_IPI, 0, 1, hartid, 0).error);
}

void sbi_shutdown(void)
{
    sbi_ecall(SBI_EXT_SRST, 0, 0 /* shutdown */, 0 /* no reason */, 0);
    sbi_ecall(0x08, 0, 0, 0, 0); /* legacy shutdown, for older firmware */
    for (;;)
        __asm__ volatile("wfi");
}
