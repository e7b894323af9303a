/*
 * tests/fuzz/lu_record_fuzz.c - libFuzzer target for the live-update
 * record's reader (lib/lu_record.c).
 *
 * The fuzzer hands us arbitrary bytes as a record; lu_record_read() must
 * refuse or accept them without reading outside the input (the input is
 * copied to a heap buffer of exactly its size, so ASan catches one byte
 * too far). What it accepts must keep the reader's promises, checked
 * here: ranges non-empty, sorted, disjoint, of a known owner; text
 * NUL-terminated; and writing it back gives the same bytes (the writer
 * and the reader agree). A broken promise aborts, so the fuzzer keeps
 * the input.
 *
 * Random bytes almost never carry the magic and a right checksum, so
 * each input is tried twice: as it is, and fixed up (magic and version
 * set, total_bytes as the input's length if that fits, the checksum
 * computed) so that the header and range rules are reached too. No seed
 * corpus is needed. A short run:
 *   BUILD/fuzz/lu_record_fuzz -max_total_time=30 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <numbat/lu_record.h>

static void check_accepted(const struct lu_record *r, const uint8_t *data,
                           size_t size)
{
    static uint8_t again[LU_RECORD_MAX_BYTES];
    struct lu_record copy = *r;
    const char *why = "";
    long n;

    for (uint32_t i = 0; i < r->h.nr_ranges; i++) {
        const struct lu_range *g = &r->ranges[i];

        if (g->s >= g->e || g->owner == 0 || g->owner > LU_OWNER_MAX ||
            (i && r->ranges[i - 1].e > g->s))
            abort();
    }
    if (!memchr(r->h.kernel_id, 0, sizeof(r->h.kernel_id)) ||
        !memchr(r->h.bootargs, 0, sizeof(r->h.bootargs)))
        abort();
    n = lu_record_write(again, sizeof(again), &copy, &why);
    if (n < 0 || (size_t)n > size || memcmp(again, data, (size_t)n) != 0)
        abort();
}

static void try_read(const uint8_t *copy, size_t size)
{
    struct lu_record r;
    const char *why = "";

    if (lu_record_read(copy, size, &r, &why) == 0)
        check_accepted(&r, copy, size);
    else if (!why || !why[0])
        abort(); /* every refusal says why */
}

/* Give copy a valid magic, version and checksum, keeping the rest. */
static void fix_up(uint8_t *copy, size_t size)
{
    struct lu_record_header h;

    memcpy(&h, copy, sizeof(h));
    h.magic = LU_RECORD_MAGIC;
    h.version = LU_RECORD_VERSION;
    if (h.total_bytes > size)
        h.total_bytes = size;
    h.checksum = 0;
    memcpy(copy, &h, sizeof(h));
    h.checksum = lu_checksum(copy, (size_t)h.total_bytes);
    memcpy(copy, &h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    try_read(copy, size);
    if (size >= sizeof(struct lu_record_header)) {
        fix_up(copy, size);
        try_read(copy, size);
    }
    free(copy);
    return 0;
}
