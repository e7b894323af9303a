"""Deferred initialisation in QEMU (docs/mm.md): `deferred_init=hold` shows
pending pages, grows a node on demand and settles; `deferred_init=off`
gives the same heap at once; suite `deferred` passes on one node with
a second hart (the 1node ktest boot has one hart, where boot inits
eagerly); a pending frame's frame-table section is not ready and reads
all zero, and `offline` of such a frame makes it ready first; with
`deferred_init=off` boot zeroes every section; `scrub=on` hands every
frame over at boot and zeroes it. Six short boots; the 2-
and 4-node KTAP runs of suite `deferred` are in test_ktest.py."""

import re

import bootcheck
from test_monitor import monitor_append, output_of, sections

PENDING_RE = re.compile(r'^deferred: node (\d+): (\d+) pages pending')
TOTAL_RE = re.compile(r'^heap: total (\d+) pages free')
NODE_RE = re.compile(r'^heap: node (\d+): (?:\d+ pages free|no heap).*?(?:, (\d+) pages pending)?$')
ALLOC_RE = re.compile(r'^alloc: order 0 -> \[0x[0-9a-f]+, 0x[0-9a-f]+\) node (\d+)')
SETTLE_RE = re.compile(r'^settle: (\d+) pages \(.*\) handed over in [\d.]+ ms$')
CHUNK = 4096    # DEFERRED_CHUNK_PAGES (mm/deferred.h)


def boot_script(t, label, append, commands):
    r = t.boot(label=label, topology='2node', timeout=60,
               append=f'{append} {monitor_append(commands)}')
    t.require(r.status == 0, f'{label}: {r.describe()}')
    return r, sections(r.console)


def total(t, lines, what):
    found = [int(m.group(1)) for m in map(TOTAL_RE.match, lines) if m]
    t.require(found, f'{what}: no `heap: total` line in {lines[-3:]}')
    return found[0]


def node_pending(lines):
    """{node: pending pages} from `heap` lines (nodes without: 0)."""
    out = {}
    for m in map(NODE_RE.match, lines):
        if m:
            out[int(m.group(1))] = int(m.group(2) or 0)
    return out


def test_hold_grows_on_demand_then_settles(t):
    # The boot hart's node (either: the firmware picks the boot hart) has
    # its eager part in the heap; the other has nothing but pending frames.
    r, secs = boot_script(t, 'hold', 'deferred_init=hold', [
        'heap', 'alloc 0 node 0 exact', 'heap node 0', 'alloc 0 node 1 exact',
        'heap node 1', 'settle', 'heap', 'check'])
    boot = bootcheck.parse(r.console)
    home = next((n for n, harts in boot['harts'].items() if boot['boot_hart'] in harts), None)
    t.require(home in (0, 1), f'no node for boot hart {boot["boot_hart"]}: {boot["harts"]}')
    at_boot = {int(m.group(1)): int(m.group(2))
               for m in map(PENDING_RE.match, r.console.splitlines()) if m}
    t.require(set(at_boot) == {0, 1}, f'boot printed pending lines for {at_boot}, '
              'want nodes 0 and 1')
    before = node_pending(output_of(t, secs, 'heap'))
    t.check(before == at_boot, f'`heap` shows pending {before}, boot printed {at_boot}')
    for node in (0, 1):
        cmd = f'alloc 0 node {node} exact'
        alloc = [m for m in map(ALLOC_RE.match, output_of(t, secs, cmd)) if m]
        t.check(alloc and alloc[0].group(1) == str(node),
                f'`{cmd}` did not come from node {node}: {output_of(t, secs, cmd)}')
        now = node_pending(output_of(t, secs, f'heap node {node}')).get(node, 0)
        if node == home:
            t.check(now == at_boot[node],
                    f'node {node} (the boot hart\'s, with free frames) should not grow '
                    f'for one frame: pending {at_boot[node]} -> {now}')
        else:
            t.check(0 < at_boot[node] - now <= CHUNK,
                    f'node {node} (no heap yet) should grow by one chunk (at most '
                    f'{CHUNK} pages) on demand: pending {at_boot[node]} -> {now}')
    settle = [m for m in map(SETTLE_RE.match, output_of(t, secs, 'settle')) if m]
    t.require(settle, f'no settle line: {output_of(t, secs, "settle")}')
    t.check(int(settle[0].group(1)) == sum(at_boot.values()),
            f'settle says {settle[0].group(1)} pages, boot deferred {sum(at_boot.values())}')
    after = output_of(t, secs, 'heap', 1)
    t.check(not any('pending' in line for line in after),
            f'`heap` after settle still shows pending pages: {after}')
    t.check(any('every heap rule holds' in line for line in output_of(t, secs, 'check')),
            '`check` after settle found broken rules')


def test_off_is_eager_and_the_same_heap(t):
    r, secs = boot_script(t, 'off', 'deferred_init=off', ['heap', 'settle'])
    t.check(not any(line.startswith('deferred:') for line in r.console.splitlines()),
            'deferred_init=off printed deferred: lines')
    heap = output_of(t, secs, 'heap')
    t.check(not any('pending' in line for line in heap), f'deferred_init=off: {heap}')
    t.check(any('nothing was deferred' in line for line in output_of(t, secs, 'settle')),
            f'settle with deferred_init=off: {output_of(t, secs, "settle")}')
    eager = total(t, heap, 'deferred_init=off heap')
    _, secs = boot_script(t, 'on', '', ['alloc 0 node 1 exact', 'settle', 'heap'])
    settled = total(t, output_of(t, secs, 'heap'), 'heap after settle')
    t.check(settled + 1 == eager,
            f'after settle (one page held by `alloc`) the heap holds {settled} pages; '
            f'eager init gives {eager}')


def test_ktest_one_node_two_harts(t):
    r = t.boot(label='1node-smp2', topology='1node', smp=2, append='ktest=deferred.*',
               timeout=60)
    report = t.ktap(r, prefix='1node-smp2/')
    t.check(r.status == 0, f'ktest=deferred.* on 1node --smp 2: {r.describe()}')
    t.check(report.complete, 'KTAP report incomplete (crashed or timed out)')
    skipped = [c.name for c in report.cases if c.skipped]
    t.check(skipped == ['1node-smp2/deferred.allocation_grows_its_node'],
            f'only the other-node case may skip on one node; skipped: {skipped}')


FRAMETABLE_RE = re.compile(r'^frametable: (\d+) sections of \d+ frames in (\d+) parts, each on '
                           r'its node: (\d+) zeroed at boot, (\d+) left to deferred init$')


def frametable_line(t, console, label):
    found = [m for m in map(FRAMETABLE_RE.match, console.splitlines()) if m]
    t.require(found, f'{label}: no `frametable:` boot line')
    return [int(g) for g in found[0].groups()]


def test_pending_section_reads_uninitialised_and_offline_readies_it(t):
    # 0x8c000: the middle of node 1 (2node, 256 MiB), pending under hold,
    # its frame-table section not ready: it reads all zero; `offline`
    # writes its entry, so it makes the section ready first (without that,
    # a store to the read-only zero section: a panic).
    pending = '0x8c000'
    r, secs = boot_script(t, 'hold offline', 'deferred_init=hold', [
        f'page {pending}', f'offline {pending}', 'settle', f'page {pending}', 'check'])
    sections_, parts, zeroed, waiting = frametable_line(t, r.console, 'hold')
    t.check(parts == 2 and zeroed + waiting == sections_ and waiting > 0,
            f'frametable line: {sections_} sections, {parts} parts, {zeroed} zeroed, '
            f'{waiting} waiting; want 2 parts and sections left to deferred init')
    before = output_of(t, secs, f'page {pending}')
    t.check(any('state uninitialised' in line for line in before) and
            any('count_info 0x0000000000000000' in line for line in before),
            f'a pending frame should read all zero: {before}')
    t.check(any('is uninitialised (to be offlined)' in line
                for line in output_of(t, secs, f'offline {pending}')),
            f'`offline` of a pending frame: {output_of(t, secs, f"offline {pending}")}')
    t.check(any('state offlined' in line for line in output_of(t, secs, f'page {pending}', 1)),
            f'after settle the frame should be offlined: {output_of(t, secs, f"page {pending}", 1)}')
    t.check(any('every heap rule holds' in line for line in output_of(t, secs, 'check')),
            '`check` after settle found broken rules')


def test_off_zeroes_every_section_at_boot(t):
    r, _ = boot_script(t, 'off frametable', 'deferred_init=off', ['heap'])
    sections_, _, zeroed, waiting = frametable_line(t, r.console, 'off')
    t.check(zeroed == sections_ and waiting == 0,
            f'deferred_init=off: {zeroed} of {sections_} sections zeroed, {waiting} left')


DIRTY_RE = re.compile(r'^heap: node (\d+): (\d+) of them dirty')
SCRUBBED_RE = re.compile(r'^scrub: (\d+) free pages zeroed before boot went on')


def test_scrub_on_zeroes_what_deferred_init_would_leave(t):
    # scrub=on promises every free frame zeroed before boot goes on: with
    # frames still pending they would come in dirty later, so boot hands
    # everything over at once and scrubs it all.
    r, secs = boot_script(t, 'scrub=on', 'scrub=on', ['heap', 'settle'])
    t.check(not any(PENDING_RE.match(l) for l in r.console.splitlines()),
            'scrub=on boot left frames pending for deferred init')
    t.check(any(l.startswith('deferred: off: scrub=on') for l in r.console.splitlines()),
            'scrub=on boot does not say why deferred init is off')
    heap = output_of(t, secs, 'heap')
    dirty = {int(m.group(1)): int(m.group(2)) for m in map(DIRTY_RE.match, heap) if m}
    t.check(set(dirty) == {0, 1} and not any(dirty.values()),
            f'after a scrub=on boot every node should have 0 dirty pages: {dirty}')
    zeroed = [int(m.group(1)) for m in map(SCRUBBED_RE.match, r.console.splitlines()) if m]
    t.check(zeroed and zeroed[0] == total(t, heap, 'scrub=on heap'),
            f'the scrub: line should count every free page ({total(t, heap, "heap")}): {zeroed}')
    t.check(any('nothing was deferred' in l for l in output_of(t, secs, 'settle')),
            f'settle after scrub=on: {output_of(t, secs, "settle")}')
