/*
 * tests/host/test_lu_record.c - the live-update record's reader and
 * writer (lib/lu_record.c), the same code the kernel runs.
 *
 * A record is built as a kernel would build it for a simulated machine:
 *
 *   RAM [0x80000 ................................................ 0x88000)
 *        | image 0x80200-0x802e0 |  kept 0x81000+16  kept 0x84000+1024 | dtb 0x87e00
 *
 * Expect: it reads back field for field; every refusal the reader knows
 * (missing, unknown version, corrupt, each malformed range) returns its
 * code and a line; no single flipped bit anywhere in it is accepted; and
 * lu_record_overlap() names the range over the image or the tree.
 */
#include <errno.h>
#include <string.h>

#include "tests/host/lib/harness.h"

#include <numbat/lu_record.h>

static uint8_t buf[LU_RECORD_MAX_BYTES];

static long build(struct lu_record *r)
{
    const char *why = "";

    memset(r, 0, sizeof(*r));
    r->h.generation = 1;
    r->h.max_order = 20;
    r->h.mfn0_rule = LU_MFN0_GIVEN_OUT;
    r->h.zone_rule = LU_ZONE_BIT_WIDTH;
    strcpy(r->h.kernel_id, "numbat-old");
    strcpy(r->h.bootargs, "lu_pages=inuse");
    r->h.nr_ranges = 2;
    /* given out of order: the writer sorts */
    r->ranges[0] = (struct lu_range){0x84000, 0x84400, LU_OWNER_KTEST, 0};
    r->ranges[1] = (struct lu_range){0x81000, 0x81010, LU_OWNER_MONITOR, 4};
    return lu_record_write(buf, sizeof(buf), r, &why);
}

TEST(record_reads_back)
{
    struct lu_record r, out;
    const char *why = "";
    long n = build(&r);

    REQUIRE(n == 232 + 2 * 24, "record of %ld bytes", n);
    REQUIRE_EQ(lu_record_read(buf, (size_t)n, &out, &why), 0);
    EXPECT_EQ(out.h.version, LU_RECORD_VERSION);
    EXPECT_EQ(out.h.max_order, 20);
    EXPECT_EQ(out.h.mfn0_rule, LU_MFN0_GIVEN_OUT);
    EXPECT_EQ(out.ranges[0].s, 0x81000);
    EXPECT_EQ(out.ranges[0].order, 4);
    EXPECT_EQ(out.ranges[1].e, 0x84400);
    EXPECT(strcmp(out.h.bootargs, "lu_pages=inuse") == 0, "bootargs %s",
           out.h.bootargs);
}

TEST(missing_version_and_short_refused)
{
    struct lu_record r, out;
    const char *why = "";
    long n = build(&r);

    EXPECT_EQ(lu_record_read(buf, 100, &out, &why), -EBADMSG);
    buf[0] ^= 1;
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), -ENOENT);
    EXPECT(strstr(why, "magic") != NULL, "why: %s", why);
    build(&r);
    ((struct lu_record_header *)buf)->version = 2;
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), -ENOSYS);
    EXPECT(strstr(why, "version") != NULL, "why: %s", why);
    build(&r);
    EXPECT_EQ(lu_record_read(buf, (size_t)n - 1, &out, &why), -EBADMSG);
}

TEST(every_flipped_bit_refused)
{
    struct lu_record r, out;
    const char *why = "";
    long n = build(&r);
    unsigned long accepted = 0;

    for (long byte = 0; byte < n; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[byte] ^= (uint8_t)(1u << bit);
            accepted += lu_record_read(buf, (size_t)n, &out, &why) == 0;
            buf[byte] ^= (uint8_t)(1u << bit);
        }
    }
    EXPECT_EQ(accepted, 0);
    EXPECT_EQ(lu_record_read(buf, (size_t)n, &out, &why), 0);
}

/* Write r as is (its ranges unchecked), with a valid checksum. */
static long write_raw(struct lu_record *r)
{
    struct lu_record_header *h = (struct lu_record_header *)buf;
    size_t total = sizeof(r->h) + r->h.nr_ranges * sizeof(struct lu_range);
    uint32_t sum;

    r->h.magic = LU_RECORD_MAGIC;
    r->h.version = LU_RECORD_VERSION;
    r->h.header_bytes = sizeof(r->h);
    r->h.range_bytes = sizeof(struct lu_range);
    r->h.total_bytes = total;
    r->h.checksum = 0;
    memcpy(buf, &r->h, sizeof(r->h));
    memcpy(buf + sizeof(r->h), r->ranges, total - sizeof(r->h));
    sum = lu_checksum(buf, total);
    h->checksum = sum;
    return (long)total;
}

TEST(malformed_ranges_refused_with_a_reason)
{
    static const struct {
        struct lu_range a, b;
        const char *words;
    } bad[] = {
        {{0x10, 0x10, LU_OWNER_KTEST, 0}, {0x20, 0x30, LU_OWNER_KTEST, 0}, "empty"},
        {{0x10, 0x20, 9, 0}, {0x20, 0x30, LU_OWNER_KTEST, 0}, "owner"},
        {{0x10, 0x20, LU_OWNER_KTEST, 0}, {0x18, 0x30, LU_OWNER_KTEST, 0}, "overlap"},
        {{0x30, 0x40, LU_OWNER_KTEST, 0}, {0x10, 0x20, LU_OWNER_KTEST, 0}, "unsorted"},
        {{0x10, 0x20, LU_OWNER_MONITOR, 3}, {0x20, 0x30, LU_OWNER_KTEST, 0}, "order"},
    };
    struct lu_record r, out;
    const char *why = "";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        build(&r);
        r.ranges[0] = bad[i].a;
        r.ranges[1] = bad[i].b;
        EXPECT_EQ(lu_record_read(buf, (size_t)write_raw(&r), &out, &why),
                  -EBADMSG);
        EXPECT(strstr(why, bad[i].words) != NULL, "case %zu: %s", i, why);
        if (strcmp(bad[i].words, "unsorted") != 0) /* the writer sorts */
            EXPECT_EQ(lu_record_write(buf, sizeof(buf), &r, &why), -EINVAL);
    }
}

TEST(text_must_end_and_rules_be_known)
{
    struct lu_record r, out;
    const char *why = "";

    build(&r);
    memset(r.h.kernel_id, 'x', sizeof(r.h.kernel_id));
    EXPECT_EQ(lu_record_read(buf, (size_t)write_raw(&r), &out, &why), -EBADMSG);
    EXPECT(strstr(why, "NUL") != NULL, "why: %s", why);
    build(&r);
    r.h.mfn0_rule = 7;
    EXPECT_EQ(lu_record_read(buf, (size_t)write_raw(&r), &out, &why), -EBADMSG);
    build(&r);
    r.h.nr_ranges = LU_MAX_RANGES + 1;
    EXPECT_EQ(lu_record_write(buf, sizeof(buf), &r, &why), -EINVAL);
}

TEST(overlap_names_the_range)
{
    struct lu_record r;

    build(&r);
    EXPECT_EQ(lu_record_overlap(&r, 0x80200, 0x802e0), -1); /* the image */
    EXPECT_EQ(lu_record_overlap(&r, 0x87e00, 0x87e02), -1); /* the tree */
    EXPECT_EQ(lu_record_overlap(&r, 0x8100f, 0x81010), 0);
    EXPECT_EQ(lu_record_overlap(&r, 0x84300, 0x90000), 1);
    EXPECT_EQ(lu_record_overlap(&r, 0x81010, 0x84000), -1);
}
