/*
 * kernel/scrub_idle.h - the background scrubber: idle harts zero their
 * node's dirty free frames (kernel/scrub_idle.c; the work itself is
 * mm/scrub.c's).
 */
#ifndef KERNEL_SCRUB_IDLE_H
#define KERNEL_SCRUB_IDLE_H

#include <numbat/types.h>

struct hart;

/*
 * Called by an idle secondary hart before it sleeps (kernel/smp.c): zero
 * one chunk of dirty free frames of its node (or of a node without harts)
 * and return true, or return false when there is nothing to do and the
 * hart may sleep.
 */
bool scrub_idle_step(const struct hart *h);

/* Wake every idle secondary hart, so that it looks for dirty frames. */
void scrub_idle_kick(void);

/*
 * Once the heap holds boot's free memory: wake the idle harts, and under
 * scrub=on zero every free frame (this hart and the idle ones together)
 * before returning.
 */
void scrub_idle_start(void);

/* The scrub= boot argument (kernel/bootargs.c). */
#define SCRUB_ACCEPTED                                                         \
    "scrub=idle (init_heap_pages' frames zeroed by idle harts, the "           \
    "default), scrub=on (zeroed before boot goes on) or scrub=off (taken "     \
    "as already zero)"
int scrub_idle_set_arg(const char *value, bool has_value, const char **why);

#endif /* KERNEL_SCRUB_IDLE_H */
