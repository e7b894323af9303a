/*
 * platform/fdt.c - reading a flattened device tree, trusting nothing.
 *
 * HOST-PORTABLE: pure C with no kernel dependencies. The kernel, the host
 * tests and the fuzzer all link this same file.
 *
 * The format (Devicetree Specification, chapter 5 "Flattened Devicetree
 * Format"). A blob is one contiguous, big-endian byte string:
 *
 *   +--------------------+ 0
 *   | header (40 bytes)  |  magic 0xd00dfeed, totalsize, block offsets
 *   +--------------------+ off_mem_rsvmap
 *   | /memreserve/ block |  (address, size) pairs of 64 bits, ended by (0, 0)
 *   +--------------------+ off_dt_struct
 *   | struct block       |  the tree, as a stream of 32-bit tokens
 *   +--------------------+ off_dt_strings
 *   | strings block      |  property names, NUL-terminated, shared
 *   +--------------------+ totalsize
 *
 * The struct block is the tree written out depth first:
 *
 *   BEGIN_NODE "name@unit\0" (padded to 4)   a node opens
 *   PROP len nameoff value (padded to 4)     one of its properties
 *   ...                                      (properties before children)
 *   BEGIN_NODE ... END_NODE                  its children, nested
 *   END_NODE                                 the node closes
 *   END                                      after the root has closed
 *   NOP                                      anywhere; ignored
 *
 * A node is named by the offset of its BEGIN_NODE token in the struct
 * block. There is no index: finding a node means walking tokens forward.
 * Trees are a few kilobytes, and Numbat reads them once at boot.
 *
 * Trust. The blob comes from firmware, from a file, or from a fuzzer, so
 * every read is checked against the blob's own sizes. fdt_open() checks
 * the header and walks the whole struct block once (names terminated,
 * properties inside their blocks, nesting balanced and at most
 * FDT_MAX_DEPTH deep, at most FDT_MAX_TOKENS tokens). The walkers below
 * then decode tokens through the same bounds-checked read_token(), and
 * each step moves strictly forward, so no input can make them read out of
 * bounds or loop for ever.
 */
#include "platform/fdt.h"

#include <numbat/errno.h>

#include <numbat/string.h> /* kernel: lib/string.c; host: the C library */

/* Struct-block tokens. */
#define FDT_BEGIN_NODE 0x1u /* followed by the node's name */
#define FDT_END_NODE 0x2u   /* closes the innermost open node */
#define FDT_PROP 0x3u       /* followed by len, nameoff and the value */
#define FDT_NOP 0x4u        /* nothing; skipped */
#define FDT_END 0x9u        /* the end of the struct block */

/* Header field offsets, in bytes (all fields are big-endian 32-bit). */
#define HDR_MAGIC 0
#define HDR_TOTALSIZE 4
#define HDR_OFF_STRUCT 8
#define HDR_OFF_STRINGS 12
#define HDR_OFF_RSVMAP 16
#define HDR_VERSION 20
#define HDR_LAST_COMP 24
#define HDR_SIZE_STRINGS 32
#define HDR_SIZE_STRUCT 36

/* One decoded token of the struct block. */
struct token {
    uint32_t tag;     /* FDT_BEGIN_NODE, FDT_PROP, ... */
    uint32_t next;    /* struct-block offset of the token after this one */
    const char *name; /* BEGIN_NODE: the node name; PROP: the property name */
    const void *data; /* PROP: the value */
    uint32_t len;     /* PROP: bytes of value */
};

/* --- small helpers -------------------------------------------------------- */

uint32_t fdt_read_be32(const void *p)
{
    const uint8_t *b = p;

    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

uint64_t fdt_read_cells(const void *p, unsigned int n)
{
    const uint8_t *b = p;
    uint64_t v = 0;

    for (unsigned int i = 0; i < n && i < 2; i++)
        v = v << 32 | fdt_read_be32(b + 4 * i);
    return v;
}

/* Length of the string at s, or max when there is no NUL in s[0 .. max). */
static uint32_t bounded_strlen(const char *s, uint32_t max)
{
    uint32_t n = 0;

    while (n < max && s[n] != '\0')
        n++;
    return n;
}

/* --- fdt_explain: a tiny formatter for one-line reasons ------------------- */

static char explain_buf[256]; /* the last reason fdt_explain() built */

struct outbuf {
    char *p;   /* next byte to write */
    char *end; /* one past the last byte we may write (before the NUL) */
};

static void put_char(struct outbuf *o, char c)
{
    if (o->p < o->end)
        *o->p++ = c;
}

static void put_number(struct outbuf *o, uint64_t v, unsigned int base)
{
    char digits[20]; /* 2^64 has 20 decimal digits */
    int n = 0;

    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        put_char(o, digits[--n]);
}

const char *fdt_vexplain(const char *fmt, va_list ap)
{
    struct outbuf o = {explain_buf, explain_buf + sizeof(explain_buf) - 1};

    for (; *fmt; fmt++) {
        bool is_long = false;

        if (*fmt != '%') {
            put_char(&o, *fmt);
            continue;
        }
        if (fmt[1] == 'l') {
            is_long = true;
            fmt++;
        }
        switch (*++fmt) {
        case 's':
            for (const char *s = va_arg(ap, const char *); s && *s; s++)
                put_char(&o, *s);
            break;
        case 'u':
        case 'x':
            put_number(&o,
                       is_long ? va_arg(ap, unsigned long)
                               : va_arg(ap, unsigned int),
                       *fmt == 'u' ? 10 : 16);
            break;
        case '\0':
            fmt--; /* a lone '%' at the end: stop at the NUL */
            break;
        default:
            put_char(&o, *fmt);
        }
    }
    *o.p = '\0';
    return explain_buf;
}

const char *fdt_explain(const char *fmt, ...)
{
    const char *reason;
    va_list ap;

    va_start(ap, fmt);
    reason = fdt_vexplain(fmt, ap);
    va_end(ap);
    return reason;
}

/*
 * Fail with err, and when the caller wants a reason (why != NULL), format
 * one into *why. Walkers pass why = NULL, so they never overwrite a reason
 * that is still to be printed.
 */
static int __printf(3, 4) fail(const char **why, int err, const char *fmt, ...)
{
    va_list ap;

    if (why) {
        va_start(ap, fmt);
        *why = fdt_vexplain(fmt, ap);
        va_end(ap);
    }
    return err;
}

/* --- the one place that decodes a token ----------------------------------- */

/*
 * The payload of a PROP token at struct-block offset off: a 32-bit length,
 * a 32-bit offset of the name in the strings block, then the value.
 */
static int read_prop_token(const struct fdt *fdt, uint32_t off, struct token *t,
                           const char **why)
{
    const uint8_t *base = fdt->blob + fdt->struct_off;
    const char *strings = (const char *)fdt->blob + fdt->strings_off;
    uint32_t nameoff;

    if (fdt->struct_size - t->next < 8)
        return fail(why, -EBADMSG,
                    "property at struct offset 0x%x is cut off by "
                    "the end of the struct block",
                    off);
    t->len = fdt_read_be32(base + t->next);
    nameoff = fdt_read_be32(base + t->next + 4);
    t->next += 8;
    if (t->len > fdt->struct_size - t->next)
        return fail(why, -EBADMSG,
                    "property at struct offset 0x%x: length %u "
                    "runs past the struct block",
                    off, t->len);
    if (nameoff >= fdt->strings_size)
        return fail(why, -EBADMSG,
                    "property at struct offset 0x%x: name offset "
                    "%u is outside the strings block (%u bytes)",
                    off, nameoff, fdt->strings_size);
    if (bounded_strlen(strings + nameoff, fdt->strings_size - nameoff) ==
        fdt->strings_size - nameoff)
        return fail(why, -EBADMSG,
                    "property name at strings offset %u is not NUL-terminated",
                    nameoff);
    t->name = strings + nameoff;
    t->data = base + t->next;
    t->next = ALIGN_UP(t->next + t->len, 4u);
    return 0;
}

/*
 * Decode the token at struct-block offset off into *t. Returns 0, or
 * -EBADMSG with a reason when the token or its payload would reach outside
 * the struct block (or a property name outside the strings block). Every
 * walk in this file goes through here.
 */
static int read_token(const struct fdt *fdt, uint32_t off, struct token *t,
                      const char **why)
{
    const uint8_t *base = fdt->blob + fdt->struct_off;
    uint32_t room;

    if (off % 4 != 0 || off >= fdt->struct_size || fdt->struct_size - off < 4)
        return fail(why, -EBADMSG,
                    "struct block ends at 0x%x with no FDT_END token", off);
    t->tag = fdt_read_be32(base + off);
    t->next = off + 4;
    room = fdt->struct_size - t->next; /* bytes after the tag */
    switch (t->tag) {
    case FDT_BEGIN_NODE: {
        uint32_t n = bounded_strlen((const char *)base + t->next, room);

        if (n == room)
            return fail(why, -EBADMSG,
                        "node name at struct offset 0x%x is not NUL-terminated",
                        off);
        t->name = (const char *)base + t->next;
        t->next = ALIGN_UP(t->next + n + 1, 4u);
        return 0;
    }
    case FDT_PROP:
        return read_prop_token(fdt, off, t, why);
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END:
        return 0;
    default:
        return fail(why, -EBADMSG, "unknown token 0x%x at struct offset 0x%x",
                    t->tag, off);
    }
}

/* --- fdt_open: check everything once -------------------------------------- */

/* A block [off, off + size) must lie after the header and inside totalsize. */
static int check_block(const char *what, uint32_t off, uint32_t size,
                       uint32_t align, uint32_t total, const char **why)
{
    if (off % align != 0)
        return fail(why, -EBADMSG, "%s offset 0x%x is not %u-byte aligned",
                    what, off, align);
    if (off < FDT_HEADER_SIZE)
        return fail(why, -EBADMSG, "%s offset 0x%x overlaps the 40-byte header",
                    what, off);
    if ((uint64_t)off + size > total)
        return fail(why, -EBADMSG, "%s [0x%x, +0x%x) runs past totalsize 0x%x",
                    what, off, size, total);
    return 0;
}

/* Header fields: magic, version, totalsize, and the three blocks' places. */
static int check_header(struct fdt *fdt, const uint8_t *b, size_t max_size,
                        const char **why)
{
    uint32_t magic = fdt_read_be32(b + HDR_MAGIC);
    uint32_t last_comp = fdt_read_be32(b + HDR_LAST_COMP);
    int err;

    if (magic != FDT_MAGIC)
        return fail(why, -EBADMSG, "bad magic 0x%x: not a device tree blob",
                    magic);
    fdt->version = fdt_read_be32(b + HDR_VERSION);
    if (fdt->version < 16)
        return fail(why, -EBADMSG,
                    "version %u: Numbat reads version 16 and later",
                    fdt->version);
    if (last_comp > 17)
        return fail(why, -EBADMSG,
                    "last compatible version %u: Numbat reads up to 17",
                    last_comp);
    fdt->total_size = fdt_read_be32(b + HDR_TOTALSIZE);
    if (fdt->total_size > max_size)
        return fail(why, -EBADMSG,
                    "totalsize %u is larger than the %lu bytes "
                    "given: truncated blob?",
                    fdt->total_size, (unsigned long)max_size);
    if (fdt->total_size < FDT_HEADER_SIZE || fdt->total_size > 0x7fffffffu)
        return fail(why, -EBADMSG, "totalsize %u is not a plausible blob size",
                    fdt->total_size);
    fdt->struct_off = fdt_read_be32(b + HDR_OFF_STRUCT);
    fdt->struct_size =
        fdt->version >= 17
            ? fdt_read_be32(b + HDR_SIZE_STRUCT)
            : fdt->total_size - MIN(fdt->struct_off, fdt->total_size);
    fdt->strings_off = fdt_read_be32(b + HDR_OFF_STRINGS);
    fdt->strings_size = fdt_read_be32(b + HDR_SIZE_STRINGS);
    fdt->rsvmap_off = fdt_read_be32(b + HDR_OFF_RSVMAP);
    err = check_block("struct block", fdt->struct_off, fdt->struct_size, 4,
                      fdt->total_size, why);
    if (!err)
        err = check_block("strings block", fdt->strings_off, fdt->strings_size,
                          1, fdt->total_size, why);
    if (!err)
        err = check_block("memory reservation block", fdt->rsvmap_off, 16, 8,
                          fdt->total_size, why);
    return err;
}

/*
 * Count /memreserve/ entries up to the (0, 0) terminator, which must be
 * inside totalsize.
 */
static int check_rsvmap(struct fdt *fdt, const char **why)
{
    const uint8_t *p = fdt->blob + fdt->rsvmap_off;
    uint32_t room = (fdt->total_size - fdt->rsvmap_off) / 16;

    for (fdt->nr_rsv = 0; fdt->nr_rsv < room; fdt->nr_rsv++, p += 16)
        if (fdt_read_cells(p, 2) == 0 && fdt_read_cells(p + 8, 2) == 0)
            return 0;
    return fail(
        why, -EBADMSG,
        "memory reservation block has no (0, 0) terminator before totalsize");
}

/*
 * Walk the whole struct block once: exactly one root, nesting balanced and
 * at most FDT_MAX_DEPTH deep, properties inside a node and before its
 * children, then FDT_END. read_token() checks each token's bounds.
 */
static int check_struct(const struct fdt *fdt, const char **why)
{
    /* had_child[d]: the open node at depth d has had a child close. */
    bool had_child[FDT_MAX_DEPTH + 1] = {false};
    struct token t;
    uint32_t off = 0;
    int depth = 0, err;
    bool seen_root = false;

    for (unsigned int tokens = 0; tokens < FDT_MAX_TOKENS;
         tokens++, off = t.next) {
        if ((err = read_token(fdt, off, &t, why)))
            return err;
        switch (t.tag) {
        case FDT_BEGIN_NODE:
            if (depth == 0 && seen_root)
                return fail(why, -EBADMSG,
                            "struct block has a second root node");
            if (depth == FDT_MAX_DEPTH)
                return fail(why, -EBADMSG,
                            "nodes nested deeper than %u at struct offset 0x%x",
                            FDT_MAX_DEPTH, off);
            seen_root = true;
            had_child[++depth] = false;
            break;
        case FDT_END_NODE:
            if (depth == 0)
                return fail(why, -EBADMSG,
                            "END_NODE at struct offset 0x%x closes no node",
                            off);
            had_child[--depth] = true;
            break;
        case FDT_PROP:
            if (depth == 0)
                return fail(why, -EBADMSG, "property %s outside any node",
                            t.name);
            if (had_child[depth])
                return fail(why, -EBADMSG, "property %s comes after a subnode",
                            t.name);
            break;
        case FDT_END:
            if (depth != 0 || !seen_root)
                return fail(why, -EBADMSG,
                            "FDT_END with %u nodes still open (or no root)",
                            (unsigned int)depth);
            return 0;
        }
    }
    return fail(why, -EBADMSG, "more than %u tokens in the struct block",
                FDT_MAX_TOKENS);
}

int fdt_open(struct fdt *fdt, const void *blob, size_t max_size,
             const char **why)
{
    int err;

    memset(fdt, 0, sizeof(*fdt));
    if (!blob)
        return fail(why, -EBADMSG, "no device tree blob (NULL pointer)");
    if (max_size < FDT_HEADER_SIZE)
        return fail(why, -EBADMSG,
                    "only %lu bytes: too short for a device tree header (40)",
                    (unsigned long)max_size);
    fdt->blob = blob;
    if ((err = check_header(fdt, blob, max_size, why)) ||
        (err = check_rsvmap(fdt, why)) || (err = check_struct(fdt, why))) {
        fdt->blob = NULL;
        return err;
    }
    return 0;
}

int fdt_rsv_entry(const struct fdt *fdt, unsigned int i, paddr_t *base,
                  uint64_t *size)
{
    const uint8_t *p;

    if (i >= fdt->nr_rsv)
        return -ENOENT;
    p = fdt->blob + fdt->rsvmap_off + 16 * (size_t)i;
    *base = fdt_read_cells(p, 2);
    *size = fdt_read_cells(p + 8, 2);
    return 0;
}

/* --- walking nodes -------------------------------------------------------- */

/*
 * Skip PROP and NOP tokens from off; return the offset of the next
 * BEGIN_NODE, END_NODE or END (in *t), or a negative code.
 */
static int skip_to_structure(const struct fdt *fdt, uint32_t off,
                             struct token *t)
{
    for (;;) {
        if (read_token(fdt, off, t, NULL))
            return -EBADMSG;
        if (t->tag != FDT_PROP && t->tag != FDT_NOP)
            return (int)off;
        off = t->next;
    }
}

/* The token at `node`, which must be a BEGIN_NODE. */
static int node_token(const struct fdt *fdt, int node, struct token *t)
{
    if (!fdt->blob || node < 0 || read_token(fdt, (uint32_t)node, t, NULL) ||
        t->tag != FDT_BEGIN_NODE)
        return -ENOENT;
    return 0;
}

int fdt_root(const struct fdt *fdt)
{
    struct token t;
    int off;

    if (!fdt->blob)
        return -ENOENT;
    off = skip_to_structure(fdt, 0, &t);
    return off >= 0 && t.tag == FDT_BEGIN_NODE ? off : -ENOENT;
}

int fdt_first_child(const struct fdt *fdt, int node)
{
    struct token t;
    int off;

    if (node_token(fdt, node, &t))
        return -ENOENT;
    off = skip_to_structure(fdt, t.next, &t);
    return off >= 0 && t.tag == FDT_BEGIN_NODE ? off : -ENOENT;
}

int fdt_next_sibling(const struct fdt *fdt, int node)
{
    struct token t;
    int depth = 0, off = node;

    if (node_token(fdt, node, &t))
        return -ENOENT;
    /* Step over the node and everything inside it; offsets only grow. */
    do {
        if (read_token(fdt, (uint32_t)off, &t, NULL) || t.tag == FDT_END)
            return -ENOENT;
        if (t.tag == FDT_BEGIN_NODE)
            depth++;
        else if (t.tag == FDT_END_NODE)
            depth--;
        off = (int)t.next;
    } while (depth > 0);
    off = skip_to_structure(fdt, (uint32_t)off, &t);
    return off >= 0 && t.tag == FDT_BEGIN_NODE ? off : -ENOENT;
}

int fdt_next_node(const struct fdt *fdt, int node, int *depth)
{
    struct token t;
    int d, off;

    if (node < 0) {
        off = fdt_root(fdt);
        if (off >= 0)
            *depth = 0;
        return off;
    }
    if (node_token(fdt, node, &t))
        return -ENOENT;
    /* d is the depth a BEGIN_NODE found at `off` would have. */
    for (d = *depth + 1, off = (int)t.next;; off = (int)t.next) {
        off = skip_to_structure(fdt, (uint32_t)off, &t);
        if (off < 0 || t.tag == FDT_END)
            return -ENOENT;
        if (t.tag == FDT_BEGIN_NODE) {
            *depth = d;
            return off;
        }
        d--; /* FDT_END_NODE: climb out of one node */
    }
}

int fdt_parent(const struct fdt *fdt, int node)
{
    int stack[FDT_MAX_DEPTH + 1]; /* stack[d]: the open node at depth d */
    int d = 0;

    for (int n = fdt_next_node(fdt, -1, &d); n >= 0;
         n = fdt_next_node(fdt, n, &d)) {
        if (d < 0 || d > FDT_MAX_DEPTH)
            return -EBADMSG;
        stack[d] = n;
        if (n == node)
            return d == 0 ? -ENOENT : stack[d - 1];
    }
    return -ENOENT;
}

const char *fdt_node_name(const struct fdt *fdt, int node)
{
    struct token t;

    return node_token(fdt, node, &t) ? "" : t.name;
}

/* Does node name `name` match path component comp[0 .. len)? */
static bool name_matches(const char *name, const char *comp, uint32_t len)
{
    if (strncmp(name, comp, len) != 0)
        return false;
    if (name[len] == '\0')
        return true;
    /* "cpu" matches "cpu@0" when the component gives no unit address. */
    if (name[len] != '@')
        return false;
    for (uint32_t i = 0; i < len; i++)
        if (comp[i] == '@')
            return false;
    return true;
}

int fdt_find_path(const struct fdt *fdt, const char *path)
{
    int node = fdt_root(fdt);

    if (!path || path[0] != '/')
        return -ENOENT;
    while (node >= 0) {
        uint32_t len;

        while (*path == '/')
            path++;
        if (*path == '\0')
            return node;
        for (len = 0; path[len] && path[len] != '/'; len++)
            ;
        for (node = fdt_first_child(fdt, node); node >= 0;
             node = fdt_next_sibling(fdt, node))
            if (name_matches(fdt_node_name(fdt, node), path, len))
                break;
        path += len;
    }
    return -ENOENT;
}

int fdt_find_compatible(const struct fdt *fdt, int from, const char *compat)
{
    int depth = 0;

    for (int n = fdt_next_node(fdt, from, &depth); n >= 0;
         n = fdt_next_node(fdt, n, &depth))
        if (fdt_prop_has_string(fdt, n, "compatible", compat))
            return n;
    return -ENOENT;
}

int fdt_find_phandle(const struct fdt *fdt, uint32_t phandle)
{
    int depth = 0;
    uint32_t v;

    if (phandle == 0 || phandle == 0xffffffffu) /* never valid phandles */
        return -ENOENT;
    for (int n = fdt_next_node(fdt, -1, &depth); n >= 0;
         n = fdt_next_node(fdt, n, &depth))
        if ((fdt_prop_u32(fdt, n, "phandle", &v) == 0 && v == phandle) ||
            (fdt_prop_u32(fdt, n, "linux,phandle", &v) == 0 && v == phandle))
            return n;
    return -ENOENT;
}

/* --- reading properties --------------------------------------------------- */

/*
 * The first PROP token at or after off, skipping NOPs; stops at a child or
 * END_NODE.
 */
static int prop_at(const struct fdt *fdt, uint32_t off, struct fdt_prop *p)
{
    struct token t;

    for (;; off = t.next) {
        if (read_token(fdt, off, &t, NULL))
            return -EBADMSG;
        if (t.tag == FDT_PROP)
            break;
        if (t.tag != FDT_NOP)
            return -ENOENT;
    }
    p->name = t.name;
    p->data = t.data;
    p->len = t.len;
    return (int)off;
}

int fdt_first_prop(const struct fdt *fdt, int node, struct fdt_prop *p)
{
    struct token t;

    if (node_token(fdt, node, &t))
        return -ENOENT;
    return prop_at(fdt, t.next, p);
}

int fdt_next_prop(const struct fdt *fdt, int prop, struct fdt_prop *p)
{
    struct token t;

    if (!fdt->blob || prop < 0 || read_token(fdt, (uint32_t)prop, &t, NULL) ||
        t.tag != FDT_PROP)
        return -ENOENT;
    return prop_at(fdt, t.next, p);
}

const void *fdt_prop(const struct fdt *fdt, int node, const char *name,
                     uint32_t *len)
{
    struct fdt_prop p;

    for (int off = fdt_first_prop(fdt, node, &p); off >= 0;
         off = fdt_next_prop(fdt, off, &p)) {
        if (strcmp(p.name, name) == 0) {
            if (len)
                *len = p.len;
            return p.data;
        }
    }
    return NULL;
}

const char *fdt_prop_string(const struct fdt *fdt, int node, const char *name)
{
    uint32_t len;
    const char *s = fdt_prop(fdt, node, name, &len);

    if (!s || len == 0 || s[len - 1] != '\0')
        return NULL;
    return s;
}

bool fdt_prop_has_string(const struct fdt *fdt, int node, const char *name,
                         const char *s)
{
    uint32_t len, pos = 0;
    const char *list = fdt_prop(fdt, node, name, &len);

    while (list && pos < len) {
        uint32_t n = bounded_strlen(list + pos, len - pos);

        if (n == len - pos)
            return false; /* the last string is not terminated: ignore it */
        if (strcmp(list + pos, s) == 0)
            return true;
        pos += n + 1;
    }
    return false;
}

int fdt_prop_u32(const struct fdt *fdt, int node, const char *name,
                 uint32_t *out)
{
    uint32_t len;
    const void *p = fdt_prop(fdt, node, name, &len);

    if (!p)
        return -ENOENT;
    if (len != 4)
        return -EBADMSG;
    *out = fdt_read_be32(p);
    return 0;
}

int fdt_prop_u64(const struct fdt *fdt, int node, const char *name,
                 uint64_t *out)
{
    uint32_t len;
    const void *p = fdt_prop(fdt, node, name, &len);

    if (!p)
        return -ENOENT;
    if (len != 4 && len != 8)
        return -EBADMSG;
    *out = fdt_read_cells(p, len / 4);
    return 0;
}

/* --- addresses: #address-cells, #size-cells and reg ----------------------- */

int fdt_node_cells(const struct fdt *fdt, int node, unsigned int *addr_cells,
                   unsigned int *size_cells)
{
    uint32_t ac = 2, sc = 1; /* the specification's defaults */
    int err_a = fdt_prop_u32(fdt, node, "#address-cells", &ac);
    int err_s = fdt_prop_u32(fdt, node, "#size-cells", &sc);

    *addr_cells = ac;
    *size_cells = sc;
    if (err_a == -EBADMSG || err_s == -EBADMSG)
        return -EBADMSG;
    return ac > 2 || sc > 2 ? -ERANGE : 0;
}

int fdt_reg(const struct fdt *fdt, int node, unsigned int index, paddr_t *base,
            uint64_t *size, const char **why)
{
    const char *name = fdt_node_name(fdt, node);
    int parent = fdt_parent(fdt, node);
    unsigned int ac, sc, stride;
    const uint8_t *reg;
    uint32_t len;

    if (parent < 0 || !(reg = fdt_prop(fdt, node, "reg", &len)))
        return fail(why, -ENOENT, "%s has no reg", name);
    if (fdt_node_cells(fdt, parent, &ac, &sc) == -EBADMSG)
        return fail(why, -EBADMSG,
                    "%s: #address-cells or #size-cells of its "
                    "parent is not one cell",
                    name);
    if (ac > 2 || sc > 2 || ac == 0)
        return fail(why, -ERANGE,
                    "%s: parent has #address-cells %u, #size-cells "
                    "%u; Numbat reads 1-2 and 0-2",
                    name, ac, sc);
    stride = 4 * (ac + sc);
    if (len % stride != 0)
        return fail(why, -EBADMSG,
                    "%s: reg is %u bytes, not a multiple of %u (%u + %u cells)",
                    name, len, stride, ac, sc);
    if (index >= len / stride)
        return fail(why, -ENOENT, "%s: reg has no entry %u", name, index);
    *base = fdt_read_cells(reg + index * stride, ac);
    *size = fdt_read_cells(reg + index * stride + 4 * ac, sc);
    return 0;
}
