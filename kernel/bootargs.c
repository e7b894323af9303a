/*
 * kernel/bootargs.c - parsing the command line (see kernel/bootargs.h).
 *
 * The parser reads one word at a time: skip spaces, read the name up to
 * '=' or a space, then the value (quoted or not), then look the name up
 * in `arguments` and let the entry's set() check and store the value.
 * Each set() returns 0, or a negative code and a reason; the parser then
 * prints the reason beside the entry's list of accepted forms.
 *
 * To add an argument: write a set_NAME() and add a row to `arguments`.
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "bootargs.h"
#include "crash.h"
#include "mm_hooks.h"
#include "mm_boot.h"
#include "monitor.h"
#include "printk.h"
#include "scrub_idle.h"

#define BOOTARG_NAME_MAX 32

struct bootargs bootargs;

/* One argument the kernel knows. */
struct bootarg {
    const char *name;     /* the word before '=' */
    const char *accepted; /* its accepted forms, for messages */
    int (*set)(const char *value, bool has_value, const char **why);
};

/* A ktest glob: letters, digits, '_', '.', '-', '*', '?'. */
static bool glob_chars_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr("_.-*?", c);

        if (!ok)
            return false;
    }
    return true;
}

static int set_ktest(const char *value, bool has_value, const char **why)
{
    if (!has_value || !value[0]) {
        *why = "needs a value";
        return -EINVAL;
    }
    if (!glob_chars_ok(value)) {
        *why = "a test glob may hold only letters, digits, _ . - * ?";
        return -EINVAL;
    }
    if (strcmp(value, "list") == 0) {
        bootargs.ktest_list = true;
        return 0;
    }
    bootargs.ktest = true;
    strlcpy(bootargs.ktest_glob, value, sizeof(bootargs.ktest_glob));
    return 0;
}

/* Only decimal digits, 1 to KTEST_NONCE_DIGITS of them. */
static bool nonce_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KTEST_NONCE_DIGITS)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The grader's per-run number (labs/grade.py), echoed by ktest_run(). */
static int set_ktest_nonce(const char *value, bool has_value, const char **why)
{
    if (!has_value || !nonce_ok(value)) {
        *why = "needs 1 to 20 decimal digits";
        return -EINVAL;
    }
    strlcpy(bootargs.ktest_nonce, value, sizeof(bootargs.ktest_nonce));
    return 0;
}

/* initrd=keep leaves the initrd in use and uninitialised (kernel/initrd.c). */
static int set_initrd(const char *value, bool has_value, const char **why)
{
    if (has_value && strcmp(value, "keep") == 0) {
        bootargs.initrd_keep = true;
        return 0;
    }
    if (has_value && strcmp(value, "free") == 0) {
        bootargs.initrd_keep = false;
        return 0;
    }
    *why = "needs keep or free";
    return -EINVAL;
}

/*
 * Read a frame number (decimal, or hex with 0x) at *p, up to a ',' or
 * '-' or the end; false on a bad digit or overflow.
 */
static bool read_mfn(const char **p, mfn_t *out)
{
    unsigned long base = 10, v = 0;
    const char *s = *p;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s || *s == ',' || *s == '-')
        return false;
    for (; *s && *s != ',' && *s != '-'; s++) {
        unsigned long d;

        if (*s >= '0' && *s <= '9')
            d = (unsigned long)(*s - '0');
        else if (base == 16 && ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f'))
            d = (unsigned long)((*s | 0x20) - 'a' + 10);
        else
            return false;
        if (v > (~0UL - d) / base)
            return false;
        v = v * base + d;
    }
    *p = s;
    *out = v;
    return true;
}

/* badpages=MFN[-MFN],...: frames that are bad RAM (both ends included). */
static int set_badpages(const char *value, bool has_value, const char **why)
{
    const char *p = value;
    unsigned int n = 0;

    *why = "needs MFN or FIRST-LAST frame numbers, comma-separated";
    if (!has_value || !*p)
        return -EINVAL;
    for (;;) {
        mfn_t s, last;

        if (!read_mfn(&p, &s))
            return -EINVAL;
        last = s;
        if (*p == '-' && (p++, !read_mfn(&p, &last)))
            return -EINVAL;
        if (last < s) {
            *why = "a range FIRST-LAST must not end before it starts";
            return -EINVAL;
        }
        if (n == BADPAGES_MAX) {
            *why = "at most 8 ranges";
            return -E2BIG;
        }
        bootargs.badpages[n].s = s;
        bootargs.badpages[n++].e = last + 1;
        if (*p == '\0')
            break;
        p++; /* the ',' */
    }
    bootargs.nr_badpages = n;
    return 0;
}

/* lu_pages=uninit|inuse: what a live update's new kernel makes of the
 * frames it inherits (kernel/liveupdate.c). */
static int set_lu_pages(const char *value, bool has_value, const char **why)
{
    if (has_value && (strcmp(value, "uninit") == 0 ||
                      strcmp(value, "inuse") == 0)) {
        bootargs.lu_pages_inuse = strcmp(value, "inuse") == 0;
        return 0;
    }
    *why = "needs uninit or inuse";
    return -EINVAL;
}

/* lu_chain=N: after a ktest run that passed, hand over until N have been
 * made (kernel/liveupdate.c, lu_after_tests). */
static int set_lu_chain(const char *value, bool has_value, const char **why)
{
    unsigned int n = 0;

    if (!has_value || !value[0] || strlen(value) > 2) {
        *why = "needs a number from 0 to 99";
        return -EINVAL;
    }
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9') {
            *why = "needs a number from 0 to 99";
            return -EINVAL;
        }
        n = n * 10 + (unsigned int)(*p - '0');
    }
    bootargs.lu_chain = n;
    return 0;
}

static const struct bootarg arguments[] = {
    {"badpages",
     "badpages=MFN[-MFN],... (frames of bad RAM, both ends included, at "
     "most 8 ranges: never used)",
     set_badpages},
    {"crash", CRASH_ACCEPTED, crash_set},
    {"deferred_init",
     "deferred_init=on (the default), off (hand all memory to the heap at "
     "boot), one (one hart hands it over) or hold (only on demand and at "
     "`settle`)",
     mm_boot_set_deferred},
    {"heap_lock", HEAP_LOCK_ACCEPTED, heap_lock_set},
    {"initrd",
     "initrd=keep (leave the initrd in use for the monitor's "
     "`release`) or initrd=free (the default)",
     set_initrd},
    {"ktest", "ktest=GLOB (suite.case names, with * and ?) or ktest=list",
     set_ktest},
    {"ktest_nonce", "ktest_nonce=DIGITS (echoed after the KTAP plan)",
     set_ktest_nonce},
    {"lu_chain", "lu_chain=N (after a passing ktest run, live-update until "
                 "N hand-overs are made)",
     set_lu_chain},
    {"lu_pages",
     "lu_pages=uninit (inherited frames stay uninitialised until freed, "
     "the default) or lu_pages=inuse (initialised in use at boot)",
     set_lu_pages},
    {"monitor",
     "monitor=\"CMD; CMD; ...\" (run monitor commands, then power "
     "off)",
     monitor_set_script},
    {"scrub", SCRUB_ACCEPTED, scrub_idle_set_arg},
};

static const struct bootarg *find_argument(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(arguments); i++)
        if (strcmp(arguments[i].name, name) == 0)
            return &arguments[i];
    return NULL;
}

/* "ktest=GLOB ..., or ..." for the unknown-argument message. */
static void print_accepted(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(arguments); i++)
        printk("%s%s", i ? "; " : "", arguments[i].accepted);
}

/*
 * Copy the word at p (up to a space, or a quoted value) into out (at most
 * cap bytes). Returns the first character after the word, or NULL if a
 * quote is not closed or the word does not fit.
 */
static const char *read_value(const char *p, char *out, size_t cap)
{
    bool quoted = *p == '"';
    size_t n = 0;

    if (quoted)
        p++;
    while (*p && (quoted ? *p != '"' : *p != ' ')) {
        if (n + 1 >= cap)
            return NULL;
        out[n++] = *p++;
    }
    out[n] = '\0';
    if (quoted && *p != '"')
        return NULL;
    return quoted ? p + 1 : p;
}

/* Skip to the next space (after a word we could not read). */
static const char *skip_word(const char *p)
{
    while (*p && *p != ' ')
        p++;
    return p;
}

/* Apply one name[=value]; prints a line if it is unknown or bad. */
static void apply(const char *name, const char *value, bool has_value)
{
    const struct bootarg *arg = find_argument(name);
    const char *why = "";

    if (!arg) {
        printk("bootargs: unknown argument '%s' ignored; accepted: ", name);
        print_accepted();
        printk("\n");
        return;
    }
    if (arg->set(value, has_value, &why) != 0)
        printk("bootargs: %s='%s' ignored: %s; accepted: %s\n", name, value,
               why, arg->accepted);
}

/* Parse the word at p; returns where the next one may start. */
static const char *parse_one(const char *p)
{
    char name[BOOTARG_NAME_MAX], value[BOOTARG_VALUE_MAX];
    size_t n = 0;

    while (*p && *p != '=' && *p != ' ') {
        if (n + 1 >= sizeof(name)) {
            printk("bootargs: an argument name is longer than %u characters; "
                   "ignored\n",
                   BOOTARG_NAME_MAX - 1);
            return skip_word(p);
        }
        name[n++] = *p++;
    }
    name[n] = '\0';
    if (*p != '=') {
        apply(name, "", false);
        return p;
    }
    const char *next = read_value(p + 1, value, sizeof(value));
    if (!next) {
        printk("bootargs: %s: value has no closing quote or is longer than %u "
               "characters; ignored\n",
               name, BOOTARG_VALUE_MAX - 1);
        return p[1] == '"' ? p + strlen(p)
                           : skip_word(p); /* an open quote eats the rest */
    }
    apply(name, value, true);
    return next;
}

void bootargs_parse(const char *cmdline)
{
    const char *p = cmdline;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return;
        p = parse_one(p);
    }
}
