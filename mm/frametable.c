/*
 * mm/frametable.c - the frame table: one struct page_info (mm/page.h) for
 * every frame from the lowest RAM frame to the highest, kept in sections
 * of FRAMETABLE_SECTION_PAGES (2^12) frames.
 *
 *     frames:    first                                             end
 *                | section 0 | section 1 | section 2 | section 3 |..|
 *     frametable[]:   |           |           |           |
 *                     v           v           v           v
 *                  node 0's    zero        zero       node 1's
 *                  memory      section     section    memory
 *                  (ready)     (read-only, shared:    (ready)
 *                               not ready yet)
 *
 * mfn_to_page() is a subtraction, one load of the section's pointer and
 * an index: frame mfn is entry (mfn - first) & mask of section
 * (mfn - first) >> 12. page_to_mfn() goes the other way through the runs
 * (sections whose memory lies back to back: about one per node).
 *
 * Why sections. On 16 GiB the table is 128 MiB, and zeroing it is most of
 * a large machine's boot if the boot hart does it. So each node's part is
 * carved from the top of that node's own memory
 * (frametable_carve_per_node(), called by kernel/mm_boot.c), and a section is
 * zeroed only when it is first needed: by the boot hart for what boot
 * touches, otherwise by the hart that first hands one of its frames to
 * the heap - a node's deferred-init worker, on that node, or an
 * allocation growing the node (mm/deferred.c).
 *
 * The rule: write an entry only in a *ready* section. A section that is
 * not ready points at frametable_zero_section, one all-zero block of
 * constants (read-only: .rodata in the kernel and on the host), so
 *   - reading any entry is always safe: a frame whose section is not
 *     ready reads all zero, that is uninitialised, and it is: every frame
 *     of such a section is pending (nobody has handed it to the heap);
 *   - writing one is a store page fault, which the kernel's trap handler
 *     turns into a panic naming this rule (kernel/trap.c).
 * frametable_make_ready() zeroes a section's own memory and then stores
 * its pointer with release ordering: a hart that loads the new pointer
 * sees zeroed memory behind it. Making ready is a claim on the section's
 * state (not ready -> zeroing -> ready, with a compare-and-swap), so two
 * harts that race for one section zero it once; the loser waits.
 *
 * Frames in a gap between two banks get the PGC_HOLE flag: mfn_valid() is
 * false for them, so the buddy allocator never merges across a hole and
 * never frees a hole. Their sections are made ready at boot.
 *
 * Invariant: after frametable_init() the table never moves or grows; a
 * section's pointer changes once, from the zero section to its memory.
 */
#include <numbat/compiler.h>

#include "mm/bootmem.h"
#include "mm/frametable.h"
#include "mm/hooks.h"

/* A section's state; only frametable_make_ready() moves it forwards. */
enum {
    SECTION_NOT_READY = 0, /* reads the zero section */
    SECTION_ZEROING,       /* a hart is zeroing its memory */
    SECTION_READY,         /* its own memory, zeroed and published */
    SECTION_MAY_WAIT,      /* boot only: all free, left to deferred init */
};

/* What every not-ready section reads: all zero, and read-only. */
const struct page_info
    frametable_zero_section[FRAMETABLE_SECTION_PAGES] __aligned(PAGE_SIZE);

struct page_info *frametable[FRAMETABLE_MAX_SECTIONS]; /* see frametable.h */
mfn_t frametable_first_mfn; /* lowest frame the table describes */
mfn_t frametable_end_mfn;   /* one past the highest */
struct frametable_run frametable_runs[FRAMETABLE_MAX_RUNS];
unsigned int frametable_nr_runs;

/* The memory parts carve_per_node() took, for frametable_part(). */
struct frametable_part {
    mfn_t mfn;         /* first frame of the part's memory */
    unsigned long nr;  /* frames it takes */
    unsigned int node; /* the node whose sections it holds */
};

static struct frametable_part parts[FRAMETABLE_MAX_RUNS];
static unsigned int nr_parts;

static uint32_t
    section_state[FRAMETABLE_MAX_SECTIONS]; /* SECTION_*; 32 bits: RV64A has no
                                               byte CAS */
static unsigned long nr_sections;           /* sections of [first, end) */
static unsigned long nr_ready;              /* of them, SECTION_READY */

size_t frametable_bytes(mfn_t first, mfn_t end)
{
    if (first >= end)
        return 0;
    return (size_t)(end - first) * sizeof(struct page_info);
}

/* Section i's frames: [*s, *e). */
static void section_frames(unsigned long i, mfn_t *s, mfn_t *e)
{
    *s = frametable_first_mfn + (i << FRAMETABLE_SECTION_SHIFT);
    *e = MIN(*s + FRAMETABLE_SECTION_PAGES, frametable_end_mfn);
}

static unsigned long section_of(mfn_t mfn)
{
    return (mfn - frametable_first_mfn) >> FRAMETABLE_SECTION_SHIFT;
}

void frametable_init(mfn_t first, mfn_t end)
{
    if (first >= end)
        mm_hook_panic("frametable_init: empty frame range [0x%lx, 0x%lx)",
                      first, end);
    if ((end - first - 1) >> FRAMETABLE_SECTION_SHIFT >=
        FRAMETABLE_MAX_SECTIONS)
        mm_hook_panic("frametable_init: frames [0x%lx, 0x%lx) need more than "
                      "%u sections of %lu frames; raise "
                      "FRAMETABLE_MAX_SECTIONS in mm/frametable.h",
                      first, end, FRAMETABLE_MAX_SECTIONS,
                      FRAMETABLE_SECTION_PAGES);
    frametable_first_mfn = first;
    frametable_end_mfn = end;
    nr_sections = section_of(end - 1) + 1;
    nr_ready = 0;
    frametable_nr_runs = 0;
    nr_parts = 0;
    for (unsigned long i = 0; i < nr_sections; i++) {
        frametable[i] = (struct page_info *)frametable_zero_section;
        section_state[i] = SECTION_NOT_READY;
    }
}

/* The run holding frame mfn's memory, or NULL if it has none yet. */
static const struct frametable_run *run_of(mfn_t mfn)
{
    for (unsigned int i = 0; i < frametable_nr_runs; i++)
        if (mfn >= frametable_runs[i].first && mfn < frametable_runs[i].end)
            return &frametable_runs[i];
    return NULL;
}

static bool on_section_edge(mfn_t mfn)
{
    return mfn == frametable_end_mfn ||
           ((mfn - frametable_first_mfn) & (FRAMETABLE_SECTION_PAGES - 1)) == 0;
}

void frametable_give_memory(mfn_t s, mfn_t e, void *mem)
{
    struct frametable_run *last = NULL;
    uintptr_t base = (uintptr_t)mem;

    if (s >= e || s < frametable_first_mfn || e > frametable_end_mfn ||
        !on_section_edge(s) || !on_section_edge(e) || mem == NULL)
        mm_hook_panic("frametable_give_memory: [0x%lx, 0x%lx) is not a run "
                      "of whole sections of the table [0x%lx, 0x%lx), or no "
                      "memory (%p)",
                      s, e, frametable_first_mfn, frametable_end_mfn, mem);
    for (unsigned int i = 0; i < frametable_nr_runs; i++)
        if (s < frametable_runs[i].end && frametable_runs[i].first < e)
            mm_hook_panic("frametable_give_memory: frames [0x%lx, 0x%lx) "
                          "already have memory",
                          MAX(s, frametable_runs[i].first),
                          MIN(e, frametable_runs[i].end));
    if (frametable_nr_runs)
        last = &frametable_runs[frametable_nr_runs - 1];
    if (last && last->end == s &&
        last->base + frametable_bytes(last->first, last->end) == base) {
        last->end = e; /* back to back with the last part: one run */
        return;
    }
    if (frametable_nr_runs == FRAMETABLE_MAX_RUNS)
        mm_hook_panic("frametable_give_memory: more than %u separate parts "
                      "of the table; raise FRAMETABLE_MAX_RUNS in "
                      "mm/frametable.h",
                      FRAMETABLE_MAX_RUNS);
    frametable_runs[frametable_nr_runs++] =
        (struct frametable_run){.base = base, .first = s, .end = e};
}

/* Section i's own memory; panics if it was never given any. */
static struct page_info *section_memory(unsigned long i)
{
    const struct frametable_run *r;
    mfn_t s, e;

    section_frames(i, &s, &e);
    r = run_of(s);
    if (!r)
        mm_hook_panic("frametable_make_ready: section %lu (frames [0x%lx, "
                      "0x%lx)) has no memory: frametable_give_memory() it "
                      "first",
                      i, s, e);
    return (struct page_info *)(r->base +
                                (s - r->first) * sizeof(struct page_info));
}

/*
 * Claim section i and make it ready, or wait for the hart that has. True
 * if this hart zeroed it.
 */
static bool ready_section(unsigned long i)
{
    uint32_t *st = &section_state[i];
    uint32_t expect = __atomic_load_n(st, __ATOMIC_ACQUIRE);
    struct page_info *mem;
    mfn_t s, e;

    while (expect != SECTION_READY) {
        if (expect == SECTION_ZEROING) { /* another hart has it: wait */
            expect = __atomic_load_n(st, __ATOMIC_ACQUIRE);
            continue;
        }
        if (__atomic_compare_exchange_n(st, &expect, SECTION_ZEROING, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
            break; /* ours: NOT_READY or MAY_WAIT -> ZEROING */
    }
    if (expect == SECTION_READY)
        return false;
    mem = section_memory(i);
    section_frames(i, &s, &e);
    __builtin_memset(mem, 0, frametable_bytes(s, e));
    __atomic_store_n(&frametable[i], mem, __ATOMIC_RELEASE);
    __atomic_fetch_add(&nr_ready, 1, __ATOMIC_RELAXED);
    __atomic_store_n(st, SECTION_READY, __ATOMIC_RELEASE);
    return true;
}

unsigned long frametable_make_ready(mfn_t s, mfn_t e)
{
    unsigned long zeroed = 0;

    if (s >= e)
        return 0;
    if (s < frametable_first_mfn || e > frametable_end_mfn)
        mm_hook_panic("frametable_make_ready: [0x%lx, 0x%lx) is not inside "
                      "the frame table [0x%lx, 0x%lx)",
                      s, e, frametable_first_mfn, frametable_end_mfn);
    for (unsigned long i = section_of(s); i <= section_of(e - 1); i++)
        zeroed += ready_section(i);
    return zeroed;
}

bool frametable_ready(mfn_t mfn)
{
    ASSERT(frametable_covers(mfn));
    return __atomic_load_n(&section_state[section_of(mfn)], __ATOMIC_ACQUIRE) ==
           SECTION_READY;
}

unsigned long frametable_nr_sections(void)
{
    return nr_sections;
}

unsigned long frametable_nr_ready(void)
{
    return __atomic_load_n(&nr_ready, __ATOMIC_RELAXED);
}

bool frametable_in_zero_section(uintptr_t va)
{
    uintptr_t z = (uintptr_t)frametable_zero_section;

    return va >= z && va < z + sizeof(frametable_zero_section);
}

/* ---- at boot: each node's part on its own memory ------------------------ */

/* The node of the first RAM frame of [s, e), or NUMA_NO_NODE: none. */
static unsigned int first_ram_node(mfn_t s, mfn_t e)
{
    for (mfn_t m = s; m < e; m++) {
        unsigned int node = mm_hook_mfn_to_node(m);

        if (node != NUMA_NO_NODE)
            return node;
    }
    return NUMA_NO_NODE;
}

/*
 * The node that owns section i: the node of its lowest RAM frame (so a
 * section that straddles two nodes lives on the lower one's memory); a
 * section with no RAM at all (inside a hole) goes with the one before it.
 */
static unsigned int section_owner(unsigned long i, unsigned int before)
{
    mfn_t s, e;
    unsigned int node;

    section_frames(i, &s, &e);
    node = first_ram_node(s, e);
    return node == NUMA_NO_NODE ? before : node;
}

/* Looking for the highest free run of `node` that holds `nr` frames. */
struct find_free {
    unsigned int node; /* wanted node */
    unsigned long nr;  /* frames wanted */
    mfn_t found;       /* first frame; INVALID_MFN until found */
};

/* The ranges come in ascending order: the last fit found is the highest. */
static void find_free_on_node(mfn_t s, mfn_t e, void *arg)
{
    struct find_free *f = arg;

    for (mfn_t run_end; s < e; s = run_end) {
        unsigned int node = mm_hook_mfn_to_node(s);

        run_end = mm_hook_node_run_end(s, e);
        if (node == f->node && run_end - s >= f->nr)
            f->found = run_end - f->nr;
    }
}

/*
 * nr frames of node's free memory, the highest that fit (the top of the
 * node, as the boot allocator's own allocations go: the low frames stay
 * for the eager part and the heap); else anywhere.
 */
static mfn_t carve_on_node(unsigned int node, unsigned long nr)
{
    struct find_free f = {.node = node, .nr = nr, .found = INVALID_MFN};

    bootmem_for_each_range(find_free_on_node, &f);
    if (f.found == INVALID_MFN) {
        mm_hook_printk("frametable: node %u has no %lu free frames in one "
                       "piece for its part of the table: it goes elsewhere\n",
                       node, nr);
        return alloc_boot_pages(nr, 1);
    }
    if (bootmem_reserve_range(f.found, f.found + nr) != 0)
        mm_hook_panic("frametable_carve_per_node: cannot take [0x%lx, 0x%lx) "
                      "of node %u from the boot allocator",
                      f.found, f.found + nr, node);
    return f.found;
}

/* Memory for sections [first, end), all owned by `node`. */
static void carve_part(unsigned long first, unsigned long end,
                       unsigned int node)
{
    mfn_t s, e, unused;
    unsigned long nr;
    mfn_t mfn;

    section_frames(first, &s, &unused);
    section_frames(end - 1, &unused, &e);
    nr = (frametable_bytes(s, e) + PAGE_SIZE - 1) / PAGE_SIZE;
    mfn = carve_on_node(node, nr);
    if (nr_parts == FRAMETABLE_MAX_RUNS)
        mm_hook_panic("frametable_carve_per_node: more than %u parts; raise "
                      "FRAMETABLE_MAX_RUNS in mm/frametable.h",
                      FRAMETABLE_MAX_RUNS);
    parts[nr_parts++] =
        (struct frametable_part){.mfn = mfn, .nr = nr, .node = node};
    frametable_give_memory(s, e, mm_hook_pa_to_va(mfn_to_pa(mfn)));
}

unsigned long frametable_carve_per_node(void)
{
    unsigned long first = 0, total = 0;
    unsigned int node = section_owner(0, NUMA_NO_NODE);

    nr_parts = 0;
    for (unsigned long i = 1; i <= nr_sections; i++) {
        unsigned int next = i < nr_sections ? section_owner(i, node) : node;

        if (i < nr_sections && next == node)
            continue;
        carve_part(first, i, node);
        total += parts[nr_parts - 1].nr;
        first = i;
        node = next;
    }
    return total;
}

unsigned long frametable_carve_one(void)
{
    unsigned long nr =
        (frametable_bytes(frametable_first_mfn, frametable_end_mfn) +
         PAGE_SIZE - 1) /
        PAGE_SIZE;
    mfn_t mfn = alloc_boot_pages(nr, 1);

    parts[0] = (struct frametable_part){
        .mfn = mfn, .nr = nr, .node = mm_hook_mfn_to_node(mfn)};
    nr_parts = 1;
    frametable_give_memory(frametable_first_mfn, frametable_end_mfn,
                           mm_hook_pa_to_va(mfn_to_pa(mfn)));
    return nr;
}

unsigned int frametable_nr_parts(void)
{
    return nr_parts;
}

bool frametable_part(unsigned int i, mfn_t *mfn, unsigned long *nr,
                     unsigned int *node)
{
    if (i >= nr_parts)
        return false;
    *mfn = parts[i].mfn;
    *nr = parts[i].nr;
    *node = parts[i].node;
    return true;
}

bool frametable_holds_frame(mfn_t mfn)
{
    for (unsigned int i = 0; i < nr_parts; i++)
        if (mfn >= parts[i].mfn && mfn < parts[i].mfn + parts[i].nr)
            return true;
    return false;
}

/* ---- at boot, with deferred init ---------------------------------------- */

/* Free range [s, e): its whole sections on one node may wait. */
static void may_wait_in(mfn_t s, mfn_t e, void *arg)
{
    (void)arg;
    for (unsigned long i = section_of(s); s < e && i <= section_of(e - 1);
         i++) {
        mfn_t ss, se;

        section_frames(i, &ss, &se);
        if (ss >= s && se <= e && mm_hook_node_run_end(ss, se) == se &&
            section_state[i] == SECTION_NOT_READY)
            section_state[i] = SECTION_MAY_WAIT;
    }
}

/* A range the boot allocator still holds goes to the heap now. */
static void must_not_wait(mfn_t s, mfn_t e, void *arg)
{
    (void)arg;
    for (unsigned long i = section_of(s); s < e && i <= section_of(e - 1); i++)
        if (section_state[i] == SECTION_MAY_WAIT)
            section_state[i] = SECTION_NOT_READY;
}

void frametable_boot_may_wait(void)
{
    bootmem_for_each_range(may_wait_in, NULL);
}

unsigned long frametable_boot_ready(unsigned long *waiting)
{
    unsigned long zeroed = 0;

    bootmem_for_each_range(must_not_wait, NULL);
    *waiting = 0;
    for (unsigned long i = 0; i < nr_sections; i++) {
        if (section_state[i] == SECTION_MAY_WAIT) {
            section_state[i] = SECTION_NOT_READY; /* deferred init's */
            (*waiting)++;
        } else {
            zeroed += ready_section(i);
        }
    }
    return zeroed;
}

void frametable_mark_hole(mfn_t s, mfn_t e)
{
    if (s > e || s < frametable_first_mfn || e > frametable_end_mfn)
        mm_hook_panic("frametable_mark_hole: [0x%lx, 0x%lx) is not inside "
                      "the frame table [0x%lx, 0x%lx)",
                      s, e, frametable_first_mfn, frametable_end_mfn);
    frametable_make_ready(s, e);
    for (mfn_t mfn = s; mfn < e; mfn++) {
        struct page_info *pg = mfn_to_page(mfn);

        if (!page_state_is(pg, PAGE_STATE_UNINITIALISED))
            mm_hook_panic("frametable_mark_hole: frame 0x%lx is %s, too late "
                          "to call it a hole",
                          mfn, page_state_name(page_state(pg)));
        page_set_flags(pg, PGC_HOLE);
    }
}

/* page_state_name() lives here because the table is what holds the states. */
const char *page_state_name(unsigned int state)
{
    static const char *const names[PAGE_NR_STATES] = {
        [PAGE_STATE_UNINITIALISED] = "uninitialised",
        [PAGE_STATE_INUSE] = "inuse",
        [PAGE_STATE_FREE] = "free",
        [PAGE_STATE_OFFLINING] = "offlining",
        [PAGE_STATE_OFFLINED] = "offlined",
        [PAGE_STATE_BROKEN] = "broken",
    };

    return state < PAGE_NR_STATES ? names[state] : "state?";
}
