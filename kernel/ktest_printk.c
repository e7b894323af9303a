/*
 * kernel/ktest_printk.c - suite kernel_printk: the formatter, conversion
 * by conversion, into a buffer (snprintf), so the expected text is exact.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "ktest.h"
#include "printk.h"

static char out[64];

/* Format into `out` and return it. */
static const char *fmt(const char *f, ...) __printf(1, 2);
static const char *fmt(const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(out, sizeof(out), f, ap);
    va_end(ap);
    return out;
}

/* Formats the compiler would (rightly) warn about, so no __printf here. */
static const char *fmt_unchecked(const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(out, sizeof(out), f, ap);
    va_end(ap);
    return out;
}

static void signed_decimal(void)
{
    EXPECT_STREQ(fmt("%d", 42), "42");
    EXPECT_STREQ(fmt("%i", -7), "-7");
    EXPECT_STREQ(fmt("%d", 0), "0");
    EXPECT_STREQ(fmt("%d", (int)0x80000000), "-2147483648");
    EXPECT_STREQ(fmt("%ld", -1L), "-1");
    EXPECT_STREQ(fmt("%ld", (long)0x8000000000000000UL),
                 "-9223372036854775808");
}

static void unsigned_decimal(void)
{
    EXPECT_STREQ(fmt("%u", 4294967295u), "4294967295");
    EXPECT_STREQ(fmt("%lu", 18446744073709551615UL), "18446744073709551615");
    EXPECT_STREQ(fmt("%llu", 12345678901234ULL), "12345678901234");
    EXPECT_STREQ(fmt("%zu", sizeof(uint64_t)), "8");
}

static void hexadecimal(void)
{
    EXPECT_STREQ(fmt("%x", 0xbeefu), "beef");
    EXPECT_STREQ(fmt("%X", 0xbeefu), "BEEF");
    EXPECT_STREQ(fmt("%lx", 0xffffffffffffffffUL), "ffffffffffffffff");
    EXPECT_STREQ(fmt("%llx", 0x123456789abcULL), "123456789abc");
    EXPECT_STREQ(fmt("%zx", (size_t)4096), "1000");
    EXPECT_STREQ(fmt("%x", 0u), "0");
}

static void widths_and_flags(void)
{
    EXPECT_STREQ(fmt("%5d|", 42), "   42|");
    EXPECT_STREQ(fmt("%-5d|", 42), "42   |");
    EXPECT_STREQ(fmt("%05d", 42), "00042");
    EXPECT_STREQ(fmt("%05d", -42), "-0042");
    EXPECT_STREQ(fmt("%016lx", 0x80200000UL), "0000000080200000");
    EXPECT_STREQ(fmt("%8s|", "ab"), "      ab|");
    EXPECT_STREQ(fmt("%-8s|", "ab"), "ab      |");
    EXPECT_STREQ(fmt("%2d", 12345), "12345"); /* a width never cuts */
}

static void pointers_strings_chars(void)
{
    EXPECT_STREQ(fmt("%p", (void *)0x80201234UL), "0x80201234");
    EXPECT_STREQ(fmt("%s", "numbat"), "numbat");
    EXPECT_STREQ(fmt_unchecked("%s", (const char *)NULL), "(null)");
    EXPECT_STREQ(fmt("%c%c", 'o', 'k'), "ok");
    EXPECT_STREQ(fmt("100%%"), "100%");
}

static void unknown_conversion_printed_as_is(void)
{
    EXPECT_STREQ(fmt_unchecked("a%qb"), "a%qb");
    EXPECT_STREQ(fmt_unchecked("end%"), "end%");
}

static void truncation(void)
{
    char small[4];

    EXPECT_EQ(snprintf(small, sizeof(small), "abcdef"), 6);
    EXPECT_STREQ(small, "abc");
    EXPECT_EQ(snprintf(small, sizeof(small), "%d", 123456), 6);
    EXPECT_STREQ(small, "123");
    EXPECT_EQ(snprintf(NULL, 0, "%s", "xyz"), 3);
}

static void sizes_for_people(void)
{
    char buf[24];

    EXPECT_STREQ(format_size(buf, sizeof(buf), 128ULL << 20), "128 MiB");
    EXPECT_STREQ(format_size(buf, sizeof(buf), 2ULL << 30), "2 GiB");
    EXPECT_STREQ(format_size(buf, sizeof(buf), 3ULL << 29), "1536 MiB");
    EXPECT_STREQ(format_size(buf, sizeof(buf), 196 * 1024), "196 KiB");
    EXPECT_STREQ(format_size(buf, sizeof(buf), 1000), "1000 bytes");
}

/*
 * A line printed while a case runs is a KTAP diagnostic of the case: the
 * console starts it with "        # " (tests/qemu/test_messages.py reads
 * these two lines back from the console).
 */
static void output_during_a_case(void)
{
    printk("printk: one line printed inside a case\n");
    printk("printk: a line printed ");
    printk("in two pieces\n");
    EXPECT_TRUE(true);
}

/* A failed EXPECT_EQ prints its values like this (kernel/ktest.c). */
static void compared_values_for_people(void)
{
    char buf[32];

    ktest_value_text(buf, sizeof(buf), (unsigned long long)-EINVAL);
    EXPECT_STREQ(buf, "-EINVAL (-22)");
    ktest_value_text(buf, sizeof(buf), (unsigned long long)-ENOMEM);
    EXPECT_STREQ(buf, "-ENOMEM (-12)");
    ktest_value_text(buf, sizeof(buf), (unsigned long long)-1);
    EXPECT_STREQ(buf, "-1");
    ktest_value_text(buf, sizeof(buf), 42);
    EXPECT_STREQ(buf, "42");
    ktest_value_text(buf, sizeof(buf), 0x803e0);
    EXPECT_STREQ(buf, "0x803e0");
}

static const struct ktest_case printk_cases[] = {
    KTEST_CASE(signed_decimal),
    KTEST_CASE(unsigned_decimal),
    KTEST_CASE(hexadecimal),
    KTEST_CASE(widths_and_flags),
    KTEST_CASE(pointers_strings_chars),
    KTEST_CASE(unknown_conversion_printed_as_is),
    KTEST_CASE(truncation),
    KTEST_CASE(sizes_for_people),
    KTEST_CASE(output_during_a_case),
    KTEST_CASE(compared_values_for_people),
};
KTEST_SUITE(kernel_printk, printk_cases);
