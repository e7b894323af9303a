/*
 * lib/format.c - byte counts for people.
 *
 * HOST-PORTABLE: pure C with no kernel dependencies. The kernel prints
 * sizes with it (boot output, the monitor), and so does the host tool
 * dtinfo, so that both say "128 MiB" the same way.
 */
#include <numbat/format.h>

char *format_size(char *buf, size_t size, uint64_t bytes)
{
    if (bytes >= (1ULL << 30) && IS_ALIGNED(bytes, 1ULL << 30))
        snprintf(buf, size, "%llu GiB", (unsigned long long)(bytes >> 30));
    else if (bytes >= (1ULL << 20))
        snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
    else if (bytes >= (1ULL << 10))
        snprintf(buf, size, "%llu KiB", (unsigned long long)(bytes >> 10));
    else
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
    return buf;
}
