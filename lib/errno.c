/*
 * lib/errno.c - the names of Numbat's error codes.
 *
 * HOST-PORTABLE: pure C with no kernel dependencies.
 *
 * A negative code from <numbat/errno.h> travels up to whoever can cope
 * with it; whoever finally prints it prints its name ("ENOMEM"), not its
 * number, because a student can look a name up. The table below must list
 * every code the header defines.
 */
#include <numbat/errno.h>

#include <numbat/compiler.h>

/* One code and its name. */
struct errno_entry {
    int code;         /* the positive value, e.g. ENOMEM */
    const char *name; /* its name, e.g. "ENOMEM" */
};

static const struct errno_entry errno_table[] = {
    {ENOENT, "ENOENT"},       {EIO, "EIO"},         {E2BIG, "E2BIG"},
    {ENOMEM, "ENOMEM"},       {EFAULT, "EFAULT"},   {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},       {ENODEV, "ENODEV"},   {EINVAL, "EINVAL"},
    {ENOSPC, "ENOSPC"},       {ERANGE, "ERANGE"},   {ENOSYS, "ENOSYS"},
    {EOVERFLOW, "EOVERFLOW"}, {EBADMSG, "EBADMSG"},
};

/*
 * errno_name(-ENOMEM) == "ENOMEM". Takes the negative code a function
 * returned (a positive one works too); anything not in the table, 0
 * included, gives "E?".
 */
const char *errno_name(int err)
{
    long code =
        err < 0 ? -(long)err : err; /* long: -INT_MIN does not fit an int */

    for (unsigned int i = 0; i < ARRAY_SIZE(errno_table); i++)
        if (errno_table[i].code == code && code != 0)
            return errno_table[i].name;
    return "E?";
}
