/*
 * platform/fdt.h - a small, bounds-checked reader of flattened device trees.
 *
 * A flattened device tree (FDT, "device tree blob", DTB) is how OpenSBI and
 * QEMU tell the kernel what machine it runs on. The blob is read-only here:
 * Numbat never edits it. platform/fdt.c explains the format; this header
 * is the contract.
 *
 * A node is named by its offset in the struct block (an int >= 0); a
 * negative int is an error code from <numbat/errno.h>, usually -ENOENT
 * ("no such node"). Call fdt_open() first: it checks the whole blob once,
 * and every other function here still refuses to read outside the blob,
 * whatever it is given.
 */
#ifndef PLATFORM_FDT_H
#define PLATFORM_FDT_H

#include <numbat/compiler.h>
#include <numbat/types.h>

#define FDT_MAGIC 0xd00dfeedu /* first word of every blob, big-endian */
#define FDT_HEADER_SIZE 40    /* bytes in a version 17 header */
#define FDT_MAX_DEPTH 16      /* deepest nesting fdt_open() accepts */
#define FDT_MAX_TOKENS 65536  /* most struct-block tokens fdt_open() accepts */

/* One opened blob. Filled by fdt_open(); treat as read-only. */
struct fdt {
    const uint8_t *blob;   /* the blob's first byte (the header) */
    uint32_t total_size;   /* header totalsize, checked <= max_size */
    uint32_t struct_off;   /* struct block: offset in the blob */
    uint32_t struct_size;  /* struct block: bytes */
    uint32_t strings_off;  /* strings block: offset in the blob */
    uint32_t strings_size; /* strings block: bytes */
    uint32_t rsvmap_off;   /* memory reservation block: offset */
    uint32_t nr_rsv;       /* entries before the (0, 0) terminator */
    uint32_t version;      /* header version (16 or 17) */
};

/* One property of a node. */
struct fdt_prop {
    const char *name; /* NUL-terminated, inside the strings block */
    const void *data; /* the value: len bytes inside the struct block */
    uint32_t len;     /* bytes of value; 0 for an empty property */
};

/*
 * Check the blob at `blob` (at most max_size bytes may be read) and fill
 * *fdt. Returns 0, or -EBADMSG with a one-line reason in *why (for
 * example "bad magic 0x12345678: not a device tree blob"). Checks: the
 * header, every block inside totalsize and aligned, the reservation map
 * terminated, and one walk of the whole struct block (names and strings
 * terminated, properties in bounds, nesting balanced and at most
 * FDT_MAX_DEPTH deep, at most FDT_MAX_TOKENS tokens).
 */
int fdt_open(struct fdt *fdt, const void *blob, size_t max_size,
             const char **why);

/* Entry i of the /memreserve/ block: 0, or -ENOENT when i >= nr_rsv. */
int fdt_rsv_entry(const struct fdt *fdt, unsigned int i, paddr_t *base,
                  uint64_t *size);

/* --- walking nodes -------------------------------------------------------- */

int fdt_root(const struct fdt *fdt);                   /* the root node */
int fdt_first_child(const struct fdt *fdt, int node);  /* or -ENOENT */
int fdt_next_sibling(const struct fdt *fdt, int node); /* or -ENOENT */
int fdt_parent(const struct fdt *fdt, int node); /* or -ENOENT for the root */

/*
 * The node after `node` in document order (children before siblings), or
 * -ENOENT after the last one. *depth goes up by one into a child and down
 * on the way out; it is not touched on -ENOENT. Pass node = -1 to get the
 * root (at *depth 0).
 */
int fdt_next_node(const struct fdt *fdt, int node, int *depth);

/*
 * The node's name with its unit address, e.g. "memory@80000000"; "" for the
 * root.
 */
const char *fdt_node_name(const struct fdt *fdt, int node);

/*
 * The node at an absolute path such as "/soc/serial@10000000". A
 * component without '@' also matches a name with a unit address
 * ("/cpus/cpu" finds the first "cpu@..."). -ENOENT when there is none.
 */
int fdt_find_path(const struct fdt *fdt, const char *path);

/*
 * The first node after `from` (-1: from the root on) whose compatible list
 * holds `compat`.
 */
int fdt_find_compatible(const struct fdt *fdt, int from, const char *compat);

/* The node whose "phandle" property is `phandle`, or -ENOENT. */
int fdt_find_phandle(const struct fdt *fdt, uint32_t phandle);

/* --- reading properties --------------------------------------------------- */

/* Property walk: prop offsets, like node offsets, are >= 0 or -ENOENT. */
int fdt_first_prop(const struct fdt *fdt, int node, struct fdt_prop *p);
int fdt_next_prop(const struct fdt *fdt, int prop, struct fdt_prop *p);

/* The value of node's property `name` and its length, or NULL when absent. */
const void *fdt_prop(const struct fdt *fdt, int node, const char *name,
                     uint32_t *len);

/* The property as a string, or NULL when absent or not NUL-terminated. */
const char *fdt_prop_string(const struct fdt *fdt, int node, const char *name);

/* True when the property is a string list (e.g. compatible) holding `s`. */
bool fdt_prop_has_string(const struct fdt *fdt, int node, const char *name,
                         const char *s);

/* One 32-bit cell: 0, -ENOENT when absent, -EBADMSG when not 4 bytes long. */
int fdt_prop_u32(const struct fdt *fdt, int node, const char *name,
                 uint32_t *out);

/* A 32- or 64-bit number (4 or 8 bytes): 0, -ENOENT, or -EBADMSG. */
int fdt_prop_u64(const struct fdt *fdt, int node, const char *name,
                 uint64_t *out);

/* Big-endian reads. fdt_read_cells() joins n cells (n <= 2) into one number. */
uint32_t fdt_read_be32(const void *p);
uint64_t fdt_read_cells(const void *p, unsigned int n);

/*
 * #address-cells and #size-cells of `node` (which describe its children's
 * reg), with the specification's defaults 2 and 1. Returns 0, or -ERANGE
 * when either is above 2 (Numbat's addresses and sizes are 64-bit), or
 * -EBADMSG when a property is not one cell.
 */
int fdt_node_cells(const struct fdt *fdt, int node, unsigned int *addr_cells,
                   unsigned int *size_cells);

/*
 * Entry `index` of the node's reg, decoded with its parent's cell counts.
 * Returns 0; -ENOENT when there is no reg or index is past its end;
 * otherwise a negative code with a one-line reason in *why that names the
 * node ("memory@80000000: reg has 3 cells, not a multiple of 4").
 */
int fdt_reg(const struct fdt *fdt, int node, unsigned int index, paddr_t *base,
            uint64_t *size, const char **why);

/*
 * Format a one-line reason into a static buffer and return it, for the
 * `why` of a failing parser call: %s, %u, %x, %lu, %lx only; longer text is
 * cut at 159 characters. The text stays valid until the next call (the
 * parser runs on one hart, at boot), so never pass an earlier reason as %s.
 */
const char *fdt_explain(const char *fmt, ...) __printf(1, 2);
const char *fdt_vexplain(const char *fmt, va_list ap); /* the same, va_list */

#endif /* PLATFORM_FDT_H */
