/*
 * lib/lu_record.c - reading and writing the live-update hand-over record
 * (the format is in include/numbat/lu_record.h).
 *
 * HOST-PORTABLE: pure C with no kernel dependencies. The kernel, the host
 * tests and the fuzzer (tests/fuzz/lu_record_fuzz.c) all use this one
 * reader, so what the fuzzer proves about it holds in the kernel.
 *
 * The reader trusts nothing: it checks, in order, that the bytes it
 * needs are there, the magic, the version, the sizes, the checksum and
 * then every range (non-empty, sorted, not overlapping, a known owner).
 * The first rule broken is the answer, as one line in *why, and the
 * caller (the new kernel's boot) turns it into a panic: a record that is
 * not exactly right is never used.
 */
#include <numbat/errno.h>
#include <numbat/lu_record.h>
#include <numbat/string.h>

/* One FNV-1a step. */
static uint32_t fnv_step(uint32_t h, uint8_t byte)
{
    return (h ^ byte) * 16777619u; /* FNV prime */
}

uint32_t lu_checksum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u; /* FNV-1a offset basis */

    while (n--)
        h = fnv_step(h, *b++);
    return h;
}

const char *lu_owner_name(uint32_t owner)
{
    switch (owner) {
    case LU_OWNER_MONITOR:
        return "monitor";
    case LU_OWNER_KTEST:
        return "ktest";
    default:
        return "owner?";
    }
}

/*
 * The checksum of the record of `total` bytes at p, computed as if its
 * checksum field held 0 (so the writer can store the result there).
 */
static uint32_t record_checksum(const uint8_t *p, size_t total)
{
    size_t at = offsetof(struct lu_record_header, checksum);
    uint32_t h = lu_checksum(p, at);

    for (size_t i = at; i < total; i++)
        h = fnv_step(h, i < at + sizeof(uint32_t) ? 0 : p[i]);
    return h;
}

static bool text_ends(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* The range rules; 0 or -EBADMSG with *why. */
static int check_ranges(const struct lu_record *r, const char **why)
{
    for (uint32_t i = 0; i < r->h.nr_ranges; i++) {
        const struct lu_range *g = &r->ranges[i];

        if (g->s >= g->e) {
            *why = "a preserved range is empty or reversed (s >= e)";
            return -EBADMSG;
        }
        if (g->owner == 0 || g->owner > LU_OWNER_MAX) {
            *why = "a preserved range has an unknown owner tag";
            return -EBADMSG;
        }
        if (g->order > 63 ||
            (g->owner == LU_OWNER_MONITOR && g->e - g->s != UINT64_C(1) << g->order)) {
            *why = "a monitor block's order does not match its range";
            return -EBADMSG;
        }
        if (i > 0 && r->ranges[i - 1].e > g->s) {
            *why = "preserved ranges are unsorted or overlap each other";
            return -EBADMSG;
        }
    }
    return 0;
}

/* Header fields other than magic and version; 0 or -EBADMSG with *why. */
static int check_header(const struct lu_record_header *h, size_t cap,
                        const char **why)
{
    if (h->header_bytes != sizeof(*h) ||
        h->range_bytes != sizeof(struct lu_range)) {
        *why = "header or range size differs from this version's";
        return -EBADMSG;
    }
    if (h->nr_ranges > LU_MAX_RANGES) {
        *why = "more preserved ranges than LU_MAX_RANGES";
        return -EBADMSG;
    }
    if (h->total_bytes !=
            sizeof(*h) + (uint64_t)h->nr_ranges * sizeof(struct lu_range) ||
        h->total_bytes > cap) {
        *why = "total_bytes does not match the header and its ranges";
        return -EBADMSG;
    }
    if (!text_ends(h->kernel_id, sizeof(h->kernel_id)) ||
        !text_ends(h->bootargs, sizeof(h->bootargs))) {
        *why = "kernel_id or bootargs is not NUL-terminated";
        return -EBADMSG;
    }
    if (h->generation == 0 || h->max_order == 0 || h->max_order > 63 ||
        (h->mfn0_rule != LU_MFN0_EXCLUDED && h->mfn0_rule != LU_MFN0_GIVEN_OUT) ||
        h->zone_rule != LU_ZONE_BIT_WIDTH) {
        *why = "generation, max_order, mfn0_rule or zone_rule is not valid";
        return -EBADMSG;
    }
    return 0;
}

int lu_record_read(const void *buf, size_t cap, struct lu_record *out,
                   const char **why)
{
    const uint8_t *p = buf;
    int err;

    if (cap < sizeof(out->h)) {
        *why = "fewer bytes than a record header";
        return -EBADMSG;
    }
    memcpy(&out->h, p, sizeof(out->h));
    if (out->h.magic != LU_RECORD_MAGIC) {
        *why = "no record: the magic \"NUMBATLU\" is missing";
        return -ENOENT;
    }
    if (out->h.version != LU_RECORD_VERSION) {
        *why = "a record version this kernel does not know (it reads 1)";
        return -ENOSYS;
    }
    if ((err = check_header(&out->h, cap, why)) != 0)
        return err;
    if (record_checksum(p, (size_t)out->h.total_bytes) != out->h.checksum) {
        *why = "corrupt: the checksum does not match the contents";
        return -EBADMSG;
    }
    memcpy(out->ranges, p + sizeof(out->h),
           out->h.nr_ranges * sizeof(struct lu_range));
    return check_ranges(out, why);
}

/* Sort r's ranges by s (insertion sort: at most LU_MAX_RANGES). */
static void sort_ranges(struct lu_record *r)
{
    for (uint32_t i = 1; i < r->h.nr_ranges; i++) {
        struct lu_range g = r->ranges[i];
        uint32_t j = i;

        for (; j > 0 && r->ranges[j - 1].s > g.s; j--)
            r->ranges[j] = r->ranges[j - 1];
        r->ranges[j] = g;
    }
}

long lu_record_write(void *buf, size_t cap, struct lu_record *r,
                     const char **why)
{
    uint8_t *p = buf;
    size_t total;
    int err;

    if (r->h.nr_ranges > LU_MAX_RANGES) {
        *why = "more preserved ranges than LU_MAX_RANGES";
        return -EINVAL;
    }
    total = sizeof(r->h) + r->h.nr_ranges * sizeof(struct lu_range);
    if (cap < total) {
        *why = "the buffer is smaller than the record";
        return -ENOSPC;
    }
    sort_ranges(r);
    if ((err = check_ranges(r, why)) != 0)
        return -EINVAL;
    r->h.magic = LU_RECORD_MAGIC;
    r->h.version = LU_RECORD_VERSION;
    r->h.header_bytes = sizeof(r->h);
    r->h.range_bytes = sizeof(struct lu_range);
    r->h.total_bytes = total;
    r->h.checksum = 0;
    memcpy(p, &r->h, sizeof(r->h));
    memcpy(p + sizeof(r->h), r->ranges,
           r->h.nr_ranges * sizeof(struct lu_range));
    r->h.checksum = record_checksum(p, total);
    memcpy(p + offsetof(struct lu_record_header, checksum), &r->h.checksum,
           sizeof(r->h.checksum));
    return (long)total;
}

int lu_record_overlap(const struct lu_record *r, uint64_t s, uint64_t e)
{
    for (uint32_t i = 0; i < r->h.nr_ranges; i++)
        if (r->ranges[i].s < e && s < r->ranges[i].e)
            return (int)i;
    return -1;
}
