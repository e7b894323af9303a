/*
 * numbat/errno.h - the one header of error codes (failure tier 1).
 *
 * A function that can fail in a way its caller can cope with returns a
 * negative code from this list (0 or a positive value means success).
 * Codes from outside - SBI error numbers, libfdt-style device-tree errors -
 * are translated into these at the boundary where they enter Numbat.
 *
 * The numbers equal the POSIX ones, so host tests that include the C
 * library's <errno.h> as well see the same values.
 */
#ifndef NUMBAT_ERRNO_H
#define NUMBAT_ERRNO_H

#ifndef ENOENT
#define ENOENT    2  /* no such thing: a node, a property, a test */
#define EIO       5  /* a device did not do what it was asked */
#define E2BIG     7  /* more items than the table has room for */
#define ENOMEM   12  /* no memory of the kind asked for */
#define EFAULT   14  /* an address outside what may be touched */
#define EBUSY    16  /* the resource is in use */
#define EEXIST   17  /* it is there already */
#define ENODEV   19  /* no such device */
#define EINVAL   22  /* an argument is not valid */
#define ENOSPC   28  /* a fixed-size table is full */
#define ERANGE   34  /* a number out of range */
#define ENOSYS   38  /* not implemented */
#define EOVERFLOW 75 /* a value does not fit the type */
#define EBADMSG  74  /* malformed data: a bad device tree, a bad argument */
#endif

/* errno_name(-ENOMEM) == "ENOMEM"; unknown codes give "E?". */
const char *errno_name(int err);

#endif /* NUMBAT_ERRNO_H */
