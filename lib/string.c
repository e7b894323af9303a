/*
 * lib/string.c - memory and string functions for the freestanding kernel.
 *
 * The kernel has no C library, so these are written out here, one short
 * loop each, with the standard C meanings (see include/numbat/string.h).
 * They favour clarity over speed: byte at a time, except memset, which
 * zeroes the frame table at boot and so stores a word at a time.
 *
 * This file is built into the kernel only; host builds use their libc.
 */
#include <numbat/string.h>

/*
 * GCC may turn a byte loop that looks like memset or memcpy into a call
 * to memset or memcpy - inside memset that would call itself for ever.
 * This attribute tells it not to, for the three functions at risk.
 */
#define NO_LOOP_TO_CALL                                                        \
    __attribute__((optimize("no-tree-loop-distribute-patterns")))

/*
 * memset is the one hot function: boot zeroes the whole frame table with
 * it (32 bytes per frame). So it stores a 64-bit word at a time once dst
 * is 8-byte aligned, and bytes only at the two ends.
 */
NO_LOOP_TO_CALL void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t word = 0x0101010101010101ULL * (unsigned char)c;

    for (; n && ((uintptr_t)d & 7); n--)
        *d++ = (unsigned char)c;
    for (; n >= 8; n -= 8, d += 8)
        *(uint64_t *)d = word;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

NO_LOOP_TO_CALL void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

/* Copy backwards when dst lies above src, so overlapping bytes are read first.
 */
NO_LOOP_TO_CALL void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;

    for (; n; n--, p++)
        if (*p == (unsigned char)c)
            return (void *)p;
    return NULL;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    const char *last = NULL;

    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)last;
    }
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}
