/*
 * include/numbat/lu_record.h - the live-update hand-over record.
 *
 * When one Numbat hands its machine to the next (kernel/liveupdate.c), it
 * leaves this record in a frame of RAM and passes its address in a2, with
 * LU_HANDOVER_MAGIC in a3. The record is the whole contract between the
 * two kernels: it says who wrote it, the allocator rules the old kernel
 * followed, the boot arguments for the new one, and the preserved ranges
 * of frames [s, e) that are in use by an owner and must survive, intact.
 *
 * It is self-describing and versioned, little-endian, all fields of fixed
 * width:
 *
 *   offset  field          meaning
 *   0       magic          "NUMBATLU" (LU_RECORD_MAGIC)
 *   8       version        LU_RECORD_VERSION; any other value is refused
 *   12      header_bytes   sizeof(struct lu_record_header)
 *   16      range_bytes    sizeof(struct lu_range)
 *   20      nr_ranges      ranges that follow the header
 *   24      total_bytes    header + ranges (what the checksum covers)
 *   32      checksum       FNV-1a (32-bit) of total_bytes, this field 0
 *   36      generation     hand-overs so far: 1 for the first new kernel
 *   40      max_order      the old kernel's MAX_ORDER
 *   44      mfn0_rule      LU_MFN0_EXCLUDED or LU_MFN0_GIVEN_OUT
 *   48      zone_rule      LU_ZONE_BIT_WIDTH (zone = bit width of the MFN)
 *   52      (reserved, 0)
 *   56      kernel_id[48]  the old kernel's name and rules, text
 *   104     bootargs[128]  the new kernel's boot arguments, text ("" = the
 *                          device tree's)
 *   232     ranges[nr_ranges]: { s, e, owner, order } (24 bytes each)
 *
 * Nothing of the old allocator's internal state is in it: no free lists,
 * no page states. A range says only "these frames are in use by OWNER".
 * What the new kernel makes of them is its own policy (lu_pages=).
 *
 * lib/lu_record.c reads and writes it; the kernel, the host tests and the
 * fuzzer share that one reader.
 */
#ifndef NUMBAT_LU_RECORD_H
#define NUMBAT_LU_RECORD_H

#include <numbat/types.h>

#define LU_RECORD_MAGIC UINT64_C(0x554c5441424d554e) /* "NUMBATLU" */
#define LU_RECORD_VERSION 1u
#define LU_HANDOVER_MAGIC UINT64_C(0x4f444e414855554c) /* in a3 at entry */
#define LU_MAX_RANGES 16u      /* preserved ranges one record can carry */
#define LU_KERNEL_ID_LEN 48u   /* kernel_id, final NUL included */
#define LU_BOOTARGS_LEN 128u   /* bootargs, final NUL included */

/* The old kernel's rule for MFN 0. */
#define LU_MFN0_EXCLUDED 1u  /* MFN 0 never entered its heap */
#define LU_MFN0_GIVEN_OUT 2u /* its heap could hand MFN 0 out */

/* The old kernel's zone rule. */
#define LU_ZONE_BIT_WIDTH 1u /* zone of a frame = bit width of its MFN */

/* Owner tags of preserved ranges. */
#define LU_OWNER_MONITOR 1u /* a block of the monitor's `held` table */
#define LU_OWNER_KTEST 2u   /* memory an in-kernel test preserves */
#define LU_OWNER_MAX 2u

struct lu_range {
    uint64_t s;     /* first frame */
    uint64_t e;     /* frame after the last: the range is [s, e) */
    uint32_t owner; /* LU_OWNER_*: who holds it */
    uint32_t order; /* the block's order for LU_OWNER_MONITOR, else 0 */
};

struct lu_record_header {
    uint64_t magic;          /* LU_RECORD_MAGIC */
    uint32_t version;        /* LU_RECORD_VERSION */
    uint32_t header_bytes;   /* sizeof(struct lu_record_header) */
    uint32_t range_bytes;    /* sizeof(struct lu_range) */
    uint32_t nr_ranges;      /* ranges after the header */
    uint64_t total_bytes;    /* header + ranges */
    uint32_t checksum;       /* FNV-1a of total_bytes with this field 0 */
    uint32_t generation;     /* 1 for the first kernel after a boot */
    uint32_t max_order;      /* the old kernel's MAX_ORDER */
    uint32_t mfn0_rule;      /* LU_MFN0_* */
    uint32_t zone_rule;      /* LU_ZONE_* */
    uint32_t reserved;       /* 0 */
    char kernel_id[LU_KERNEL_ID_LEN]; /* the old kernel, text */
    char bootargs[LU_BOOTARGS_LEN];   /* for the new kernel; "" = the tree's */
};

_Static_assert(sizeof(struct lu_record_header) == 232, "record header layout");
_Static_assert(sizeof(struct lu_range) == 24, "record range layout");

/* The largest record: what a writer must have room for. */
#define LU_RECORD_MAX_BYTES                                                    \
    (sizeof(struct lu_record_header) + LU_MAX_RANGES * sizeof(struct lu_range))

/* A record, read into plain memory. */
struct lu_record {
    struct lu_record_header h;            /* as written */
    struct lu_range ranges[LU_MAX_RANGES]; /* sorted by s, not overlapping */
};

/*
 * Fill buf (cap bytes) with the record `r` (its ranges sorted and
 * checked as lu_record_read() would), computing the sizes and the
 * checksum. Returns the bytes written, or a negative code: -ENOSPC if cap
 * is too small, -EINVAL if the ranges would not read back (then *why says
 * which rule failed).
 */
long lu_record_write(void *buf, size_t cap, struct lu_record *r,
                     const char **why);

/*
 * Read and check the record at buf, of at most cap readable bytes, into
 * *out. Returns 0, or a negative code with *why set to one line:
 *   -ENOENT    no record there (the magic is missing)
 *   -ENOSYS    a version this reader does not know
 *   -EBADMSG   corrupt: sizes that do not add up, a bad checksum, a range
 *              that is empty, unsorted, overlapping another, of an
 *              unknown owner, or text that is not NUL-terminated
 * It never reads outside [buf, buf + cap).
 */
int lu_record_read(const void *buf, size_t cap, struct lu_record *out,
                   const char **why);

/*
 * The first range of r that overlaps frames [s, e), or -1. The kernel
 * asks it for its own image and the device tree.
 */
int lu_record_overlap(const struct lu_record *r, uint64_t s, uint64_t e);

/* "monitor", "ktest", "owner?". */
const char *lu_owner_name(uint32_t owner);

/* FNV-1a over n bytes (the record's checksum). */
uint32_t lu_checksum(const void *p, size_t n);

#endif /* NUMBAT_LU_RECORD_H */
