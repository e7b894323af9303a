/*
 * kernel/printk.c - the formatter (vsnprintf) and the console under it.
 *
 * vsnprintf walks the format string once. Plain characters are copied;
 * at each '%' it reads, in this order, the flags ('-', '0'), a width, a
 * length ("l", "ll", "z") and the conversion letter, then emits the
 * argument. All numbers go through one function, put_number(), which
 * writes the digits backwards into a small buffer and then pads them to
 * the width. Output that does not fit the caller's buffer is counted but
 * not stored, as C's vsnprintf does.
 *
 * The console is a byte sink: SBI's putchar at first, the UART once the
 * device tree has named it. A '\n' is sent as "\r\n" for terminals.
 * During a panic the console lock is taken with a time limit, so that a
 * hart that died holding it cannot silence the panic message.
 *
 * A line prefix (printk_set_line_prefix) is written before every line
 * that starts while it is set, on every hart: the in-kernel tests set
 * "        # " while a case runs, so whatever mm/ or another hart prints
 * then is a KTAP diagnostic of that case, not noise between results. The
 * test runner's own lines go out with printk_plain(), without it; a
 * panicking hart writes without it too, so a panic report keeps its
 * shape (tools look for lines that start with PANIC and #N).
 */
#include <numbat/string.h>

#include "../platform/sbi.h"
#include "../platform/uart.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"

/* Where formatted output goes: buf[0 .. size-1], and how much was made. */
struct outbuf {
    char *buf;   /* destination */
    size_t size; /* bytes available, the final NUL included */
    size_t len;  /* bytes produced so far (may exceed size) */
};

/* One conversion's options, as read from the format. */
struct spec {
    bool left;          /* '-': pad on the right */
    bool zero;          /* '0': pad with zeros instead of spaces */
    unsigned int width; /* minimum field width */
};

static void put_char(struct outbuf *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_padding(struct outbuf *o, char c, unsigned int n)
{
    while (n--)
        put_char(o, c);
}

/* A string, padded to the width (never with zeros). */
static void put_string(struct outbuf *o, const char *s, const struct spec *sp)
{
    size_t n = strlen(s ? s : "(null)");
    unsigned int pad = sp->width > n ? sp->width - (unsigned int)n : 0;

    if (!s)
        s = "(null)";
    if (!sp->left)
        put_padding(o, ' ', pad);
    while (*s)
        put_char(o, *s++);
    if (sp->left)
        put_padding(o, ' ', pad);
}

/*
 * An unsigned magnitude in base 10 or 16, with a '-' sign if negative.
 * Zero padding goes between the sign and the digits ("-0042").
 */
static void put_number(struct outbuf *o, unsigned long long v, bool negative,
                       unsigned int base, bool upper, const struct spec *sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    unsigned int n = 0, len, pad;

    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    len = n + (negative ? 1 : 0);
    pad = sp->width > len ? sp->width - len : 0;
    if (!sp->left && !sp->zero)
        put_padding(o, ' ', pad);
    if (negative)
        put_char(o, '-');
    if (!sp->left && sp->zero)
        put_padding(o, '0', pad);
    while (n)
        put_char(o, tmp[--n]);
    if (sp->left)
        put_padding(o, ' ', pad);
}

/* Read flags and width at *fmt into sp; returns the first char after them. */
static const char *read_spec(const char *fmt, struct spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    for (;; fmt++) {
        if (*fmt == '-')
            sp->left = true;
        else if (*fmt == '0')
            sp->zero = true;
        else
            break;
    }
    while (*fmt >= '0' && *fmt <= '9')
        sp->width = sp->width * 10 + (unsigned int)(*fmt++ - '0');
    return fmt;
}

/* How many 'l's (or a 'z', which is as wide as long here): 0, 1 or 2. */
static const char *read_length(const char *fmt, int *longs)
{
    *longs = 0;
    if (*fmt == 'z') {
        *longs = 1;
        return fmt + 1;
    }
    while (*fmt == 'l' && *longs < 2) {
        (*longs)++;
        fmt++;
    }
    return fmt;
}

static long long signed_arg(va_list *ap, int longs)
{
    if (longs == 2)
        return va_arg(*ap, long long);
    if (longs == 1)
        return va_arg(*ap, long);
    return va_arg(*ap, int);
}

static unsigned long long unsigned_arg(va_list *ap, int longs)
{
    if (longs == 2)
        return va_arg(*ap, unsigned long long);
    if (longs == 1)
        return va_arg(*ap, unsigned long);
    return va_arg(*ap, unsigned int);
}

/* Emit one conversion; returns false for a letter we do not know. */
static bool convert(struct outbuf *o, char c, int longs, const struct spec *sp,
                    va_list *ap)
{
    long long sv;
    struct spec p = {.zero = true, .width = 0};

    switch (c) {
    case 'd':
    case 'i':
        sv = signed_arg(ap, longs);
        put_number(o, sv < 0 ? -(unsigned long long)sv : (unsigned long long)sv,
                   sv < 0, 10, false, sp);
        return true;
    case 'u':
        put_number(o, unsigned_arg(ap, longs), false, 10, false, sp);
        return true;
    case 'x':
    case 'X':
        put_number(o, unsigned_arg(ap, longs), false, 16, c == 'X', sp);
        return true;
    case 'p':
        put_char(o, '0');
        put_char(o, 'x');
        put_number(o, (uintptr_t)va_arg(*ap, void *), false, 16, false, &p);
        return true;
    case 's':
        put_string(o, va_arg(*ap, const char *), sp);
        return true;
    case 'c':
        put_char(o, (char)va_arg(*ap, int));
        return true;
    case '%':
        put_char(o, '%');
        return true;
    default:
        return false;
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct outbuf o = {.buf = buf, .size = size, .len = 0};
    va_list args;

    va_copy(args, ap);
    while (*fmt) {
        const char *start = fmt;
        struct spec sp;
        int longs;

        if (*fmt != '%') {
            put_char(&o, *fmt++);
            continue;
        }
        fmt = read_length(read_spec(fmt + 1, &sp), &longs);
        if (*fmt && convert(&o, *fmt, longs, &sp, &args)) {
            fmt++;
            continue;
        }
        while (start < fmt) /* unknown: print it as it stands */
            put_char(&o, *start++);
    }
    va_end(args);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- the console ---------------------------------------------------- */

static struct spinlock console_lock = SPINLOCK_INIT("console");

/* How long a panicking hart waits for the console lock before taking over. */
#define PANIC_LOCK_TRIES 1000000

static void console_putc(char c)
{
    if (uart_ready())
        uart_putc(c);
    else
        sbi_console_putchar(c);
}

/* Take the console lock; returns whether we hold it (see the file comment). */
static bool console_lock_take(void)
{
    if (!this_hart()->in_panic) {
        spin_lock(&console_lock);
        return true;
    }
    if (spin_held_by_me(&console_lock))
        return false;
    for (long i = 0; i < PANIC_LOCK_TRIES; i++)
        if (spin_trylock(&console_lock))
            return true;
    return false;
}

static const char *line_prefix;   /* written before each new line; NULL: none */
static bool at_line_start = true; /* the console's last byte was '\n' */

void printk_set_line_prefix(const char *prefix)
{
    WRITE_ONCE(line_prefix, prefix);
}

/* Write s[0 .. n-1]; with_prefix: start each new line with the prefix. */
static void console_write_lines(const char *s, size_t n, bool with_prefix)
{
    bool locked = console_lock_take();
    const char *prefix = READ_ONCE(line_prefix);

    if (!with_prefix || this_hart()->in_panic)
        prefix = NULL;
    for (size_t i = 0; i < n; i++) {
        if (prefix && at_line_start && s[i] != '\n')
            for (const char *p = prefix; *p; p++)
                console_putc(*p);
        if (s[i] == '\n')
            console_putc('\r');
        console_putc(s[i]);
        at_line_start = s[i] == '\n';
    }
    if (locked)
        spin_unlock(&console_lock);
}

void console_write(const char *s, size_t n)
{
    console_write_lines(s, n, true);
}

/* Format and write, with or without the line prefix. */
static void vprintk_lines(bool with_prefix, const char *fmt, va_list ap)
{
    char line[PRINTK_LINE_MAX];
    int n = vsnprintf(line, sizeof(line), fmt, ap);

    console_write_lines(line,
                        n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1,
                        with_prefix);
}

void vprintk(const char *fmt, va_list ap)
{
    vprintk_lines(true, fmt, ap);
}

void printk_plain(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintk_lines(false, fmt, ap);
    va_end(ap);
}

void printk(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

void console_use_uart(paddr_t base, uint32_t reg_shift)
{
    uart_init(base, reg_shift);
}

int console_getc(void)
{
    return uart_ready() ? uart_getc() : sbi_console_getchar();
}
