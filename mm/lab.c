/*
 * mm/lab.c - the record of a lab stub having run (see mm/lab.h).
 *
 * One word, written once: the first stub wins, so the message names the
 * lab whose code the boot needed first. No lock: every stub that can run
 * writes a string constant, and a reader that races with the first write
 * sees NULL or that constant.
 */
#include "mm/hooks.h"
#include "mm/lab.h"

static const char *missing; /* the first lab whose stub ran, or NULL */
static bool heap_whole;     /* that stub leaves the heap whole */

void lab_not_implemented(const char *lab)
{
    if (READ_ONCE(missing) == NULL)
        WRITE_ONCE(missing, lab);
}

const char *lab_missing(void)
{
    return READ_ONCE(missing);
}

void lab_not_implemented_heap_whole(const char *lab)
{
    if (READ_ONCE(missing) == NULL) {
        WRITE_ONCE(heap_whole, true);
        WRITE_ONCE(missing, lab);
    }
}

bool lab_missing_breaks_heap(void)
{
    return READ_ONCE(missing) != NULL && !READ_ONCE(heap_whole);
}
