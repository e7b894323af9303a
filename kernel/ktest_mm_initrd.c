/*
 * kernel/ktest_mm_initrd.c - suite mm_initrd: docs/design.md's scenario 1.
 *
 * At boot the initrd's frames were in use but uninitialised; the
 * "application" read them and freed them (kernel/initrd.c). Now each of
 * them must be free, initialised exactly once, and merged with its
 * buddies (heap_check() checks that no free block has a free buddy it
 * should have merged with). Skipped when QEMU was given no -initrd, or
 * when boot kept the initrd (initrd=keep, a lab stub), saying which (the
 * monitor tests watch a kept initrd: tests/qemu/test_monitor_uninit.py).
 */
#include "../mm/frametable.h"
#include "../mm/heap.h"
#include "initrd.h"
#include "ktest.h"

/* Skip (with what really happened) unless boot freed the initrd. */
#define SKIP_UNLESS_FREED_AT_BOOT()                                            \
    do {                                                                       \
        if (initrd_info()->fate != INITRD_FREED)                               \
            KTEST_SKIP(initrd_fate_text(initrd_info()->fate));                 \
    } while (0)

static void initrd_frames_free(void)
{
    const struct initrd_info *in = initrd_info();
    unsigned long not_free = 0, inits_wrong = 0;

    SKIP_UNLESS_FREED_AT_BOOT();
    REQUIRE_TRUE(in->nr_freed > 0);
    for (mfn_t mfn = in->freed_s; mfn < in->freed_e; mfn++) {
        const struct page_info *pg = mfn_to_page(mfn);

        not_free += page_state(pg) != PAGE_STATE_FREE;
        inits_wrong += pg->nr_inits != 1;
    }
    EXPECT_EQ(not_free, 0u);
    EXPECT_EQ(inits_wrong, 0u);
}

static void initrd_frames_merged(void)
{
    SKIP_UNLESS_FREED_AT_BOOT();
    EXPECT_EQ(heap_check(), 0);
}

static const struct ktest_case mm_initrd_cases[] = {
    KTEST_CASE(initrd_frames_free),
    KTEST_CASE(initrd_frames_merged),
};
KTEST_SUITE_AFTER(mm_initrd, mm_initrd_cases, ktest_heap_after_case);
