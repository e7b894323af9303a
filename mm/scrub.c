/*
 * mm/scrub.c - scrubbing: memory that changes owner must not carry the
 * last owner's data.
 *
 * The rule. A frame freed by one owner reads all zero before another owner
 * gets it, unless that owner says it does not need clean memory
 * (alloc_heap_pages(..., ALLOC_NO_SCRUB)). Zeroing at free time would make
 * every free pay for a scrub the next owner may not want, and zeroing at
 * allocation time alone would make the next owner wait for it. So Numbat
 * does the work in between, on harts that have nothing else to do, and an
 * allocation zeroes only what the background has not reached yet.
 *
 * The flag. PGC_NEED_SCRUB (mm/page.h) on a free frame says "this frame may
 * still hold someone's data". Step 1 of the free path (mm/heap.c,
 * heap_take_back_frames) sets it on every frame it takes back; for frames
 * that init_heap_pages() hands over it follows the scrub= policy:
 *
 *   idle (default)  dirty: the idle harts zero them after boot;
 *   on              dirty, and boot zeroes every free frame (scrub_all)
 *                   before it goes on, so the first owner never waits;
 *   off             clean: the firmware or the emulator gave us zeroed RAM
 *                   (QEMU does), or nobody cares what a fresh frame holds.
 *
 * A frame freed by an owner - a boot allocation or the initrd freed through
 * free_heap_pages() included - is dirty under every policy. Only free frames
 * carry the flag: an allocation clears it on the frames it takes (and
 * zeroes them if its caller wants clean memory).
 *
 * Merging. The flag is per frame, in count_info, and the buddy code never
 * rewrites count_info when it merges or splits (only the head's order and
 * list links), so a merged block remembers exactly which of its frames are
 * dirty at no cost at all: a clean half and a dirty half merge like any
 * two buddies, and a split hands each half its own frames' flags.
 *
 * The counters. Each node counts its dirty free frames (`dirty` below,
 * under the node's lock). They change where the frames are touched anyway
 * - the take-back loop, the allocation's pass over its block - by one add
 * per call, so they cost nothing extra; and they let an idle hart see
 * with one load whether its node has work, and heap_check() prove them.
 *
 * The background (scrub_some). An idle hart, under its node's lock, finds
 * up to SCRUB_CHUNK_PAGES dirty free frames from a cursor that walks the
 * node's frames, records them as a *chunk in flight*, and drops the lock.
 * It zeroes them with the lock dropped - the frames stay on their free
 * lists, so no allocation ever fails or sees the lists change because of
 * the scrubber - then takes the lock again and clears their flags. Two
 * things may happen to the chunk in between, both under the lock:
 *   - an allocation takes a block that overlaps it: the allocation clears
 *     those frames' flags itself, marks the chunk taken, and before it
 *     hands the block to its owner waits (lock dropped) until the
 *     scrubber has stopped writing - so the scrubber never writes to a
 *     frame its new owner already uses;
 *   - frames of it are freed again (with new data) or leave the free state
 *     another way: the chunk is marked taken too.
 * A taken chunk clears no flag: its frames stay dirty (or belong to
 * someone) and are looked at again later. A node has SCRUB_SLOTS chunk
 * slots, so that several harts of one node can scrub it at once.
 *
 * Writing only what is not zero. zero_frame() reads a frame first and
 * writes from the first word that is not zero. Under QEMU a frame that the
 * guest never wrote is backed by no host memory; reading it keeps it so,
 * where a write would make the host back it. So scrubbing the untouched
 * RAM of a 16 GiB guest costs reads, not 16 GiB of host memory - and on
 * real hardware the read of a dirty frame stops at its first word.
 *
 * Poisoning (mm/poison.c, debug builds) works with this: the free path
 * fills a freed frame with POISON_FREED, the scrub turns that to zeros,
 * and a block handed out with ALLOC_NO_SCRUB is filled with POISON_FRESH
 * instead of being zeroed. A frame handed out as clean must read zero: a
 * debug build checks the first word of every frame the allocation did not
 * have to zero, which catches a frame wrongly marked clean (it would still
 * hold the freed-page poison) and a write into a free page.
 */
#include <numbat/compiler.h>

#include "mm/frametable.h"
#include "mm/heap.h"
#include "mm/hooks.h"
#include "mm/scrub.h"

#define SCRUB_SCAN_BUDGET 4096     /* frames one lock hold may look at */

_Static_assert(SCRUB_CHUNK_PAGES <= 64, "a chunk's frames fit a uint64_t mask");

/* A chunk the background zeroes with the lock dropped. */
struct scrub_chunk {
    mfn_t s, e;            /* its frames [s, e); s == e: the slot is free */
    uint64_t mask;         /* which of them were dirty (bit i: frame s + i) */
    unsigned long seq;     /* its number, for waiters (atomic) */
    bool writing;          /* true while the scrubber writes it (atomic) */
    bool taken;            /* allocated or freed meanwhile: clear no flag */
};

/* One node's scrubbing state, under the node's lock (atomics noted). */
struct scrub_node {
    unsigned long dirty;          /* free frames with PGC_NEED_SCRUB */
    unsigned long inflight;       /* of those, in a chunk when it started */
    mfn_t span_s, span_e;         /* every frame it ever freed is in here */
    mfn_t cursor;                 /* where the background looks next */
    unsigned long scanned;        /* frames looked at since dirty changed */
    unsigned long seq;            /* chunks started */
    struct scrub_chunk chunk[SCRUB_SLOTS]; /* chunks in flight */
};

static enum scrub_policy policy = SCRUB_IDLE;
static struct scrub_node scrub_nodes[MAX_NUMNODES]; /* tools/gdb reads it */

/* ---- policy and questions ------------------------------------------------ */

void scrub_set_policy(enum scrub_policy p)
{
    policy = p;
}

enum scrub_policy scrub_get_policy(void)
{
    return policy;
}

const char *scrub_policy_name(enum scrub_policy p)
{
    return p == SCRUB_ON ? "on" : p == SCRUB_OFF ? "off" : "idle";
}

unsigned long scrub_dirty_pages(unsigned int node)
{
    return node < MAX_NUMNODES ? READ_ONCE(scrub_nodes[node].dirty) : 0;
}

unsigned long scrub_total_dirty_pages(void)
{
    unsigned long n = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        n += scrub_dirty_pages(node);
    return n;
}

bool page_needs_scrub(mfn_t mfn)
{
    return frametable_covers(mfn) &&
           (page_count_info(mfn_to_page(mfn)) & PGC_NEED_SCRUB);
}

void scrub_reset(void)
{
    __builtin_memset(scrub_nodes, 0, sizeof(scrub_nodes));
}

/* ---- zeroing --------------------------------------------------------------- */

/*
 * Make frame mfn read all zero, writing only from the first group of eight
 * words that is not all zero. (Eight loads OR-ed together and one branch:
 * under QEMU the branch per word cost as much as the load.)
 */
static void zero_frame(mfn_t mfn)
{
    uint64_t *w = mm_hook_pa_to_va(mfn_to_pa(mfn));
    size_t n = PAGE_SIZE / sizeof(*w), i;

    for (i = 0; i < n; i += 8)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
            w[i + 6] | w[i + 7])
            break;
    if (i < n)
        __builtin_memset(&w[i], 0, (n - i) * sizeof(*w));
}

/* ---- chunks in flight ------------------------------------------------------ */

static bool chunk_overlaps(const struct scrub_chunk *c, mfn_t s, mfn_t e)
{
    return c->s < c->e && c->s < e && s < c->e;
}

/*
 * Frames [s, e) changed hands under the lock: every chunk they overlap is
 * taken. With todo, remember which chunks are still being written, so the
 * caller can wait for them before the frames reach their owner.
 */
static void chunks_touched(struct scrub_node *sn, mfn_t s, mfn_t e,
                           struct scrub_todo *todo)
{
    for (unsigned int i = 0; i < SCRUB_SLOTS; i++) {
        struct scrub_chunk *c = &sn->chunk[i];

        if (!chunk_overlaps(c, s, e))
            continue;
        c->taken = true;
        if (todo && __atomic_load_n(&c->writing, __ATOMIC_RELAXED)) {
            todo->wait_slots |= 1u << i;
            todo->seq[i] = c->seq;
        }
    }
}

static bool in_a_chunk(const struct scrub_node *sn, mfn_t mfn)
{
    for (unsigned int i = 0; i < SCRUB_SLOTS; i++)
        if (chunk_overlaps(&sn->chunk[i], mfn, mfn + 1))
            return true;
    return false;
}

/* ---- the heap's paths (mm/heap.c), node lock held -------------------------- */

uint64_t scrub_take_back_flag(bool from_init)
{
    return from_init && policy == SCRUB_OFF ? 0 : PGC_NEED_SCRUB;
}

void scrub_count_freed(mfn_t s, mfn_t e, unsigned int node,
                       unsigned long nr_dirty)
{
    struct scrub_node *sn = &scrub_nodes[node];

    if (sn->span_s == sn->span_e) {
        sn->span_s = s;
        sn->span_e = e;
    } else {
        sn->span_s = MIN(sn->span_s, s);
        sn->span_e = MAX(sn->span_e, e);
    }
    if (nr_dirty) {
        sn->dirty += nr_dirty;
        sn->scanned = 0;
    }
    chunks_touched(sn, s, e, NULL);
}

/* Clear PGC_NEED_SCRUB on [s, e), which leave the free state; how many had it. */
static unsigned long clear_dirty_frames(struct scrub_node *sn, mfn_t s, mfn_t e,
                                        struct scrub_todo *todo)
{
    unsigned long nr = 0;

    for (mfn_t m = s; m < e; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (!(ci & PGC_NEED_SCRUB))
            continue;
        WRITE_ONCE(pg->count_info, ci & ~PGC_NEED_SCRUB);
        if (todo && nr == 0)
            todo->s = m;
        if (todo)
            todo->e = m + 1;
        nr++;
    }
    if (nr > sn->dirty)
        mm_hook_panic("alloc_heap_pages: frames [0x%lx, 0x%lx) hold %lu dirty "
                      "frames but their node counts only %lu",
                      s, e, nr, sn->dirty);
    sn->dirty -= nr;
    if (nr)
        sn->scanned = 0;
    return nr;
}

void scrub_take_allocated(mfn_t mfn, unsigned int order, unsigned int node,
                          struct scrub_todo *todo)
{
    struct scrub_node *sn = &scrub_nodes[node];
    mfn_t e = mfn + ((mfn_t)1 << order);

    __builtin_memset(todo, 0, sizeof(*todo));
    todo->s = todo->e = mfn;
    todo->node = node;
    clear_dirty_frames(sn, mfn, e, todo);
    chunks_touched(sn, mfn, e, todo);
}

void scrub_forget_frames(mfn_t s, mfn_t e, unsigned int node)
{
    struct scrub_node *sn = &scrub_nodes[node];

    clear_dirty_frames(sn, s, e, NULL);
    chunks_touched(sn, s, e, NULL);
}

/* ---- the allocation's share, lock dropped ---------------------------------- */

void scrub_wait_for_background(const struct scrub_todo *todo)
{
    const struct scrub_node *sn = &scrub_nodes[todo->node];

    for (unsigned int i = 0; i < SCRUB_SLOTS; i++) {
        const struct scrub_chunk *c = &sn->chunk[i];

        if (!(todo->wait_slots & (1u << i)))
            continue;
        while (__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) == todo->seq[i] &&
               __atomic_load_n(&c->writing, __ATOMIC_ACQUIRE))
            ;
    }
}

#ifdef NUMBAT_DEBUG
/* A frame taken as clean must not hold the free path's poison (or data). */
static void check_clean(mfn_t mfn)
{
    const uint64_t *w = mm_hook_pa_to_va(mfn_to_pa(mfn));

    if (unlikely(w[0] != 0))
        mm_hook_panic("alloc_heap_pages: frame 0x%lx is marked clean but "
                      "holds 0x%lx: written while free, or never marked "
                      "dirty",
                      mfn, (unsigned long)w[0]);
}
#else
static void check_clean(mfn_t mfn)
{
    (void)mfn;
}
#endif

void scrub_allocated(mfn_t mfn, unsigned int order,
                     const struct scrub_todo *todo)
{
    mfn_t e = mfn + ((mfn_t)1 << order);

    scrub_wait_for_background(todo);
    for (mfn_t m = mfn; m < e; m++) {
        if (m >= todo->s && m < todo->e)
            zero_frame(m);
        else
            check_clean(m);
    }
}

/* ---- the background ---------------------------------------------------------- */

static bool frame_dirty_free(mfn_t mfn, unsigned int node)
{
    const struct page_info *pg = mfn_to_page(mfn);
    uint64_t ci = page_count_info(pg);

    return pgc_state(ci) == PAGE_STATE_FREE && (ci & PGC_NEED_SCRUB) &&
           pg->node == node;
}

/*
 * The next dirty free frame of node outside every chunk, from the cursor
 * on (wrapping around the node's span), looking at most at
 * SCRUB_SCAN_BUDGET frames; INVALID_MFN if none was met. A walk that meets
 * only dirty frames inside other harts' chunks does not count towards the
 * "counter is wrong" panic: those chunks may take a while (a hart can be
 * preempted under QEMU) and may leave their frames dirty.
 */
static mfn_t find_dirty(struct scrub_node *sn, unsigned int node)
{
    mfn_t m = sn->cursor;
    mfn_t span = sn->span_e - sn->span_s;
    bool busy = false;

    if (m < sn->span_s || m >= sn->span_e)
        m = sn->span_s;
    for (unsigned int n = 0; n < SCRUB_SCAN_BUDGET; n++) {
        if (frame_dirty_free(m, node)) {
            if (!in_a_chunk(sn, m))
                return m;
            busy = true;
        }
        if (++m == sn->span_e)
            m = sn->span_s;
    }
    sn->cursor = m;
    sn->scanned = busy ? 0 : sn->scanned + SCRUB_SCAN_BUDGET;
    if (sn->scanned > span + SCRUB_SCAN_BUDGET)
        mm_hook_panic("scrub_some: node %u counts %lu dirty free frames (%lu "
                      "of them being scrubbed) but a walk of its frames "
                      "[0x%lx, 0x%lx) found none",
                      node, sn->dirty, sn->inflight, sn->span_s, sn->span_e);
    return INVALID_MFN;
}

/* A free slot, or NULL when SCRUB_SLOTS harts are scrubbing the node. */
static struct scrub_chunk *free_slot(struct scrub_node *sn)
{
    for (unsigned int i = 0; i < SCRUB_SLOTS; i++)
        if (sn->chunk[i].s == sn->chunk[i].e)
            return &sn->chunk[i];
    return NULL;
}

/* Start a chunk at dirty frame s: its dirty free frames, up to a chunk. */
static void start_chunk(struct scrub_node *sn, struct scrub_chunk *c, mfn_t s,
                        unsigned int node)
{
    mfn_t e = MIN(s + SCRUB_CHUNK_PAGES, sn->span_e);

    c->mask = 0;
    for (mfn_t m = s; m < e; m++)
        if (frame_dirty_free(m, node) && !in_a_chunk(sn, m))
            c->mask |= UINT64_C(1) << (m - s);
    c->s = s;
    c->e = e;
    c->taken = false;
    sn->inflight += (unsigned long)__builtin_popcountll(c->mask);
    __atomic_store_n(&c->seq, ++sn->seq, __ATOMIC_RELEASE);
    __atomic_store_n(&c->writing, true, __ATOMIC_RELEASE);
    sn->cursor = e;
}

/* The chunk is zeroed: clear the flags it may still clear; free the slot. */
static void end_chunk(struct scrub_node *sn, struct scrub_chunk *c)
{
    unsigned long cleared = 0;

    for (mfn_t m = c->s; m < c->e && !c->taken; m++) {
        struct page_info *pg = mfn_to_page(m);
        uint64_t ci = page_count_info(pg);

        if (!(c->mask & (UINT64_C(1) << (m - c->s))) ||
            pgc_state(ci) != PAGE_STATE_FREE || !(ci & PGC_NEED_SCRUB))
            continue;
        WRITE_ONCE(pg->count_info, ci & ~PGC_NEED_SCRUB);
        cleared++;
    }
    ASSERT(sn->dirty >= cleared);
    sn->dirty -= cleared;
    sn->inflight -= (unsigned long)__builtin_popcountll(c->mask);
    sn->scanned = 0; /* its frames may be dirty again: walk anew */
    c->s = c->e = 0;
}

unsigned long scrub_some(unsigned int node)
{
    struct scrub_node *sn;
    struct scrub_chunk *c;
    mfn_t s;
    uint64_t mask;

    if (node >= MAX_NUMNODES || READ_ONCE(scrub_nodes[node].dirty) == 0)
        return 0;
    sn = &scrub_nodes[node];
    mm_hook_lock(node);
    c = free_slot(sn);
    s = c && sn->dirty > sn->inflight ? find_dirty(sn, node) : INVALID_MFN;
    if (s == INVALID_MFN) {
        mm_hook_unlock(node);
        return 0;
    }
    start_chunk(sn, c, s, node);
    mask = c->mask;
    mm_hook_unlock(node);

    for (unsigned int i = 0; i < SCRUB_CHUNK_PAGES; i++)
        if (mask & (UINT64_C(1) << i))
            zero_frame(s + i);
    __atomic_store_n(&c->writing, false, __ATOMIC_RELEASE);

    mm_hook_lock(node);
    end_chunk(sn, c);
    mm_hook_unlock(node);
    return (unsigned long)__builtin_popcountll(mask);
}

unsigned long scrub_all(void)
{
    unsigned long total = 0;

    for (unsigned int node = 0; node < MAX_NUMNODES; node++)
        while (scrub_dirty_pages(node))
            total += scrub_some(node);
    return total;
}
