/*
 * kernel/scrub_idle.c - who scrubs, and when: the idle harts.
 *
 * mm/scrub.c keeps the rule (a freed frame reads zero before its next
 * owner that wants clean memory gets it) and does the zeroing, one chunk
 * of SCRUB_CHUNK_PAGES frames per scrub_some() call, never holding the
 * node's lock while it writes. This file gives it harts to run on.
 *
 * A secondary hart with no work calls scrub_idle_step() each time round
 * its wait loop (kernel/smp.c), before it would sleep in wfi. While its
 * own node has dirty free frames - or, once its own is clean, a node with
 * no secondary hart of its own (a node without harts, or the boot hart's
 * node when the boot hart is its only one: nobody else would scrub it) -
 * it zeroes a
 * chunk and goes round again, so work given with smp_run_on() waits for
 * at most one chunk. With nothing dirty it sleeps as before.
 *
 * What wakes a sleeping hart is an IPI: new work, or scrub_idle_kick().
 * Boot kicks every hart once the heap holds its free memory
 * (scrub_idle_start). Nothing wakes a hart just because a frame was freed
 * - there is no timer interrupt yet - so frames freed while every hart
 * sleeps are zeroed at the next wake-up, or by the allocation that takes
 * them. (A kick that lands just after a hart found nothing to do and just
 * before it sleeps is lost the same way; the allocation still scrubs.)
 *
 * A hart that is not online, and the boot hart, never scrub in the
 * background; a machine with one hart scrubs only in its allocations
 * (and at boot, with scrub=on).
 */
#include <numbat/errno.h>
#include <numbat/string.h>

#include "../mm/scrub.h"
#include "../platform/sbi.h"
#include "board.h"
#include "printk.h"
#include "scrub_idle.h"
#include "smp.h"

static uint32_t boot_hartid = MAX_HARTS; /* never scrubs in the background */

/* True if a hart that scrubs in the background sits on node. */
static bool node_has_idle_hart(unsigned int node)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        const struct hart *h = smp_hart(id);

        if (h->online && h->node == node && id != boot_hartid)
            return true;
    }
    return false;
}

/* The node this hart should scrub now, or NUMA_NO_NODE. */
static unsigned int node_to_scrub(unsigned int own)
{
    if (scrub_dirty_pages(own))
        return own;
    for (unsigned int node = 0; node < board()->nr_nodes; node++)
        if (scrub_dirty_pages(node) && !node_has_idle_hart(node))
            return node;
    return NUMA_NO_NODE;
}

bool scrub_idle_step(const struct hart *h)
{
    unsigned int node = node_to_scrub(h->node);

    if (node == NUMA_NO_NODE)
        return false;
    scrub_some(node);
    return true;
}

void scrub_idle_kick(void)
{
    for (uint32_t id = 0; id < MAX_HARTS; id++) {
        const struct hart *h = smp_hart(id);

        if (id != smp_hartid() && h->online && !h->work)
            sbi_send_ipi_one(id);
    }
}

void scrub_idle_start(void)
{
    unsigned long dirty = scrub_total_dirty_pages();

    boot_hartid = smp_hartid();
    scrub_idle_kick();
    if (scrub_get_policy() != SCRUB_ON)
        return;
    scrub_all();
    printk("scrub: %lu free pages zeroed before boot went on (scrub=on)\n",
           dirty);
}

int scrub_idle_set_arg(const char *value, bool has_value, const char **why)
{
    static const enum scrub_policy policies[] = {SCRUB_IDLE, SCRUB_ON,
                                                 SCRUB_OFF};

    for (unsigned int i = 0; has_value && i < ARRAY_SIZE(policies); i++)
        if (strcmp(value, scrub_policy_name(policies[i])) == 0) {
            scrub_set_policy(policies[i]);
            return 0;
        }
    *why = "needs idle, on or off";
    return -EINVAL;
}
