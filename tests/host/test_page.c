/*
 * tests/host/test_page.c - struct page_info and its count_info word
 * (mm/page.h), and the frame table that holds them (mm/frametable.c).
 */
#include "tests/host/lib/harness.h"
#include "tests/host/lib/sim.h"

#include "mm/frametable.h"
#include "mm/page.h"

/* Expect: a page_info fits in 32 bytes (the frame table's cost is 0.8%). */
TEST(page_info_is_small)
{
    EXPECT(sizeof(struct page_info) <= 32, "%zu bytes",
           sizeof(struct page_info));
}

/* Expect: a transition rewrites the state only; flags and count survive. */
TEST(transition_keeps_flags_and_count)
{
    struct page_info pg = {.count_info = PGC_EXTRA | PGC_NODE_META | 7};

    page_set_state(&pg, PAGE_STATE_INUSE);
    EXPECT_EQ(page_state(&pg), PAGE_STATE_INUSE);
    page_set_state(&pg, PAGE_STATE_FREE);
    EXPECT_EQ(page_state(&pg), PAGE_STATE_FREE);
    EXPECT_EQ(pg.count_info & ~PGC_STATE_MASK, PGC_EXTRA | PGC_NODE_META | 7);
    page_clear_flags(&pg, PGC_NODE_META);
    EXPECT_EQ(pg.count_info & ~PGC_STATE_MASK, PGC_EXTRA | 7);
    EXPECT_EQ(page_state(&pg), PAGE_STATE_FREE);
}

/* Expect: zero is uninitialised; every state has a name; bad ones say so. */
TEST(state_names)
{
    struct page_info pg = {0};

    EXPECT(page_state_is(&pg, PAGE_STATE_UNINITIALISED),
           "zero is not uninitialised");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_UNINITIALISED), "uninitialised"),
           "name 0");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_INUSE), "inuse"), "inuse");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_FREE), "free"), "free");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_OFFLINING), "offlining"),
           "offlining");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_OFFLINED), "offlined"),
           "offlined");
    EXPECT(!strcmp(page_state_name(PAGE_STATE_BROKEN), "broken"), "broken");
    EXPECT(!strcmp(page_state_name(7), "state?"), "state 7");
}

static struct page_info table[64]; /* a frame table for frames [0x100, 0x140) */

/* frametable_init(), its memory, every section ready: the table in use. */
static void table_ready(void)
{
    frametable_init(0x100, 0x140);
    frametable_give_memory(0x100, 0x140, table);
    frametable_make_ready(0x100, 0x140);
}

/*
 *   frames [0x100 ..... 0x120)[hole 0x120, 0x128)[0x128 ..... 0x140)
 * Expect: making it ready zeroes the table; the hole is covered but not
 * valid; mfn_to_page and page_to_mfn are inverses.
 */
TEST(frametable_basics)
{
    memset(table, 0xff, sizeof(table));
    EXPECT_EQ(frametable_bytes(0x100, 0x140), sizeof(table));
    EXPECT_EQ(frametable_bytes(0x140, 0x100), 0);
    table_ready();
    EXPECT_EQ(table[17].count_info, 0);
    EXPECT_EQ(table[63].node, 0);
    frametable_mark_hole(0x120, 0x128);
    EXPECT(mfn_valid(0x11f) && !mfn_valid(0x120) && !mfn_valid(0x127) &&
               mfn_valid(0x128),
           "hole edges");
    EXPECT(frametable_covers(0x120) && !frametable_covers(0x140) &&
               !mfn_valid(0xff),
           "edges");
    EXPECT_EQ(page_to_mfn(mfn_to_page(0x133)), 0x133);
    EXPECT(mfn_to_page(0x101) == &table[1], "mfn_to_page");
}

/* Expect: bad frame-table calls panic with what went wrong. */
TEST(frametable_panics)
{
    table_ready();
    EXPECT_PANIC(frametable_mark_hole(0x130, 0x150),
                 "not inside the frame table");
    page_set_state(mfn_to_page(0x105), PAGE_STATE_INUSE);
    EXPECT_PANIC(frametable_mark_hole(0x104, 0x106),
                 "frame 0x105 is inuse, too late");
    EXPECT_PANIC(frametable_give_memory(0x100, 0x140, table),
                 "already have memory");
    EXPECT_PANIC(frametable_init(0x140, 0x140), "empty frame range");
}
