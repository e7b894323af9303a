/*
 * numbat/string.h - the C string and memory functions the kernel uses.
 *
 * The kernel is freestanding: there is no C library, so lib/string.c
 * writes these itself, with the standard C names and meanings, so that a
 * reader who knows <string.h> knows them already. The compiler may also
 * call memset/memcpy/memmove/memcmp on its own (for struct copies and
 * zeroing), which is another reason they must exist.
 *
 * Host builds (NUMBAT_HOST) use the C library's <string.h> instead, so
 * code that is shared between the kernel and the host tests can always
 * include this header.
 */
#ifndef NUMBAT_STRING_H
#define NUMBAT_STRING_H

#ifndef NUMBAT_KERNEL
#include <string.h>
#else

#include <numbat/types.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);  /* no overlap */
void *memmove(void *dst, const void *src, size_t n); /* overlap allowed */
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);

/*
 * Copy at most size - 1 characters of src into dst and always end dst with
 * a NUL (when size > 0). Returns strlen(src), so a result >= size means
 * the copy was cut short. (BSD's strlcpy.)
 */
size_t strlcpy(char *dst, const char *src, size_t size);

#endif /* NUMBAT_KERNEL */
#endif /* NUMBAT_STRING_H */
