/*
 * kernel/bootargs.h - the kernel's command line (QEMU -append "...").
 *
 * The device tree's /chosen/bootargs holds words separated by spaces:
 * `name=value` or `name`. A value may be put in double quotes to hold
 * spaces: monitor="mem; heap". Each name the kernel knows has one entry
 * in a table in bootargs.c; adding an argument is adding an entry.
 *
 * Bad input from a person is not a panic: an unknown name or a bad value
 * prints one `bootargs: ...` line saying what was wrong and what is
 * accepted, and boot goes on without that argument.
 */
#ifndef KERNEL_BOOTARGS_H
#define KERNEL_BOOTARGS_H

#include <numbat/types.h>

#define BOOTARG_VALUE_MAX 128 /* longest value, the final NUL included */
#define KTEST_NONCE_DIGITS 20 /* most digits of ktest_nonce=DIGITS */
#define BADPAGES_MAX 8        /* ranges badpages=... may list */

/* What the arguments asked for; all zero when nothing was given. */
struct bootargs {
    bool ktest;                         /* ktest=GLOB: run tests, power off */
    bool ktest_list;                    /* ktest=list: list the tests instead */
    char ktest_glob[BOOTARG_VALUE_MAX]; /* the GLOB of ktest=GLOB */
    char ktest_nonce[KTEST_NONCE_DIGITS + 1]; /* ktest_nonce=DIGITS, echoed
                                                 in the KTAP header; "" when
                                                 not given */
    bool initrd_keep; /* initrd=keep: boot leaves the initrd uninitialised
                         and in use; the monitor's `release` frees it */
    struct {
        mfn_t s, e;                  /* frames [s, e), bad RAM */
    } badpages[BADPAGES_MAX];        /* badpages=MFN[-MFN],...: broken at
                                        boot (kernel/monitor_offline.c) */
    unsigned int nr_badpages;        /* badpages[] entries used */
    bool lu_pages_inuse;   /* lu_pages=inuse: inherited frames initialised in
                              use at boot; false: uninit (the default) */
    unsigned int lu_chain; /* lu_chain=N: ktest runs hand over until N */
};

extern struct bootargs bootargs;

/* Parse a command line into `bootargs`, printing a line for each problem. */
void bootargs_parse(const char *cmdline);

#endif /* KERNEL_BOOTARGS_H */
