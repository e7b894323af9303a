"""Live update (docs/liveupdate.md): hand-overs chained inside one QEMU run.

Each chain boots with ktest=lu.* lu_chain=3: the suite lu runs in the
first kernel (it prepares and keeps memory), and every kernel that passes
hands over to the next, alternating lu_pages= between uninit and inuse
(kernel/liveupdate.c, lu_after_tests). So one run is four kernels and
four KTAP reports, split here at each `Numbat: booting` line. The chains
cover 1, 2 and 4 nodes, with and without an initrd, and each policy after
one hand-over and after three (a chain starting with uninit checks inuse
at generations 1 and 3, and the other way round).

Two chains cross builds: the "old" kernel (configure.py's lu-images,
MAX_ORDER 20) hands over to today's, given to QEMU as the initrd in raw
form (build/numbat.bin), and today's to the old one.

The refusals boot one kernel each: `liveupdate break=KIND` at the prompt
(kernel/monitor_lu.c) writes a broken record on purpose, and the new
kernel must panic with the message that names the fault.
"""

import os
import re

import bootcheck
import ktap

BOOT_RE = re.compile(r'^Numbat: booting on hart', re.M)
PANIC_RE = re.compile(r'PANIC on hart \d+: (.*)')


def kernels(console):
    """The console cut into one piece per kernel that booted."""
    starts = [m.start() for m in BOOT_RE.finditer(console)]
    return [console[a:b] for a, b in zip(starts, starts[1:] + [len(console)])]


def ran(report, case):
    """True if suite lu's `case` ran (passed, not skipped) in this report."""
    return any(c.name == f'lu.{case}' and c.ok and not c.skipped
               for c in report.cases)


def image(t, name):
    path = os.path.join(t.build, name)
    t.require(os.path.exists(path), f'{path} is missing: build it with '
              f'`ninja -C {t.build} lu-images` (ninja check does)')
    return path


def chain(t, topology, first_policy, initrd=False, hand_overs=3, kernel=None,
          image_initrd=None, mem=None):
    """Boot a chain; image_initrd: the raw image the first kernel hands
    over to (kept as the initrd), kernel: the first kernel's ELF."""
    path, extra = None, ''
    if initrd:
        path = os.path.join(t.workdir, 'initrd.bin')
        bootcheck.make_initrd(path)
    if image_initrd:
        path, extra = image_initrd, ' initrd=keep'
    t.kernel, own = kernel or t.kernel, t.kernel
    try:
        r = t.boot(label=f'{topology} {first_policy}{" initrd" if path else ""}',
                   topology=topology, initrd=path, timeout=60, mem=mem,
                   append=f'ktest=lu.* lu_pages={first_policy} '
                          f'lu_chain={hand_overs}{extra}')
    finally:
        t.kernel = own
    t.check(r.status == 0, f'{topology}: the chain did not end with status 0: '
            f'{r.describe()}')
    pieces = kernels(r.console)
    t.require(len(pieces) == hand_overs + 1,
              f'{topology}: {len(pieces)} kernels booted, expected {hand_overs + 1}')
    reports = []
    for gen, piece in enumerate(pieces):
        report = ktap.parse(piece)
        t.check(report.complete and not report.failed,
                f'{topology} generation {gen}: '
                + '; '.join(ktap.failure_text(c) for c in report.failed)
                if report.failed else f'{topology} generation {gen}: incomplete')
        for c in report.cases:
            c.name = f'{topology}/gen{gen}/{c.name}'
        t.outcome.cases += report.cases
        for c in report.cases:
            c.name = c.name.split('/', 2)[2]
        reports.append(report)
        if gen:
            policy = 'inuse' if (first_policy == 'uninit') == (gen % 2 == 1) else 'uninit'
            t.check(f'policy {policy}' in piece,
                    f'{topology} generation {gen}: not booted with lu_pages={policy}')
    t.check(ran(reports[0], 'prepare'), f'{topology}: prepare did not run')
    for gen in range(1, hand_overs + 1):
        t.check(ran(reports[gen], 'inherited_intact'),
                f'{topology} generation {gen}: inherited_intact did not run')
    t.check(ran(reports[1], 'block_freed_merged'), f'{topology}: block_freed_merged did not run')
    t.check(ran(reports[hand_overs], 'last_of_chain'), f'{topology}: last_of_chain did not run')
    return reports


def test_chain_1node(t):
    chain(t, '1node', 'uninit')


def test_chain_1node_initrd(t):
    chain(t, '1node', 'inuse', initrd=True)


def test_chain_2node(t):
    # Generation 1 is uninit: node 1, preserved whole, has no heap until
    # the first free (no initrd here: QEMU puts it on node 1, and freeing
    # it at boot would be that first free).
    reports = chain(t, '2node', 'inuse')
    t.check(ran(reports[1], 'whole_nodes'), '2node: whole_nodes did not run')


def test_chain_4node_initrd(t):
    # Generation 1 is inuse: nodes 2 and 3, preserved whole, get their
    # heaps at boot; one preserved range spans them.
    reports = chain(t, '4node', 'uninit', initrd=True)
    t.check(ran(reports[1], 'whole_nodes'), '4node: whole_nodes did not run')
    t.check(ran(reports[1], 'spanning_range'), '4node: spanning_range did not run')


def test_old_kernel_to_new(t):
    # The old build (MAX_ORDER 20) keeps an order-19 block (2 GiB: the
    # machine needs a 2 GiB-aligned 2 GiB of free RAM, hence 4200 MiB) and
    # hands over to today's kernel given as the initrd; today's kernel
    # (inuse, then uninit after one more hand-over to itself) frees it in
    # blocks of its own MAX_ORDER at the end.
    old = image(t, 'numbat-old.elf')
    chain(t, '1node', 'uninit', hand_overs=2, kernel=old,
          image_initrd=image(t, 'numbat.bin'), mem='4200M')
    console = t.runs[-1][1].console
    t.check('generation 1 from "numbat-old (MAX_ORDER 20)"' in console,
            'old -> new: generation 1 does not say it came from numbat-old')
    t.check('2 GiB preserved' in console,
            'old -> new: no 2 GiB preserved range (the order-19 block)')


def test_new_kernel_to_old(t):
    chain(t, '2node', 'inuse', hand_overs=2, image_initrd=image(t, 'numbat-old.bin'))
    console = t.runs[-1][1].console
    t.check('generation 1 from "numbat (MAX_ORDER 18)"' in console and
            'generation 2 from "numbat-old (MAX_ORDER 20)"' in console,
            'new -> old: the generations do not say who wrote each record')


def refused(t, brk, words):
    r = t.boot(label=f'break={brk}', topology='1node', timeout=30,
               append=f'monitor="alloc 2; liveupdate break={brk}"')
    t.check(r.status == 2, f'break={brk}: expected a panic (2): {r.describe()}')
    panics = PANIC_RE.findall(r.console)
    t.require(panics, f'break={brk}: no PANIC line')
    t.check(panics[0].startswith('lu_boot_intake: hand-over record'),
            f'break={brk}: panic not named lu_boot_intake: {panics[0]!r}')
    t.check(words in panics[0], f'break={brk}: {words!r} not in {panics[0]!r}')
    t.check(len(kernels(r.console)) == 2, f'break={brk}: not exactly one hand-over')


def test_corrupt_record_panics(t):
    refused(t, 'corrupt', 'corrupt: the checksum does not match')


def test_unknown_version_panics(t):
    refused(t, 'version', 'a record version this kernel does not know')


def test_overlapping_range_panics(t):
    refused(t, 'overlap', 'overlaps the kernel image')


def test_missing_record_panics(t):
    refused(t, 'missing', 'no record: the magic "NUMBATLU" is missing')


def marked_frame_in_kept_block(t, policy, state_after_boot):
    """The new kernel is told (badpages=, in liveupdate's BOOTARGS) that a
    frame of a kept block is bad RAM: the owner keeps the block intact,
    and its free parks the frame broken instead of freeing it."""
    from test_monitor import ALLOC_RE, Session
    s = Session(t, '1node')
    try:
        s.type(b'settle\r')
        got = [ALLOC_RE.match(l) for l in s.type(b'alloc 4\r')]
        m = next((g for g in got if g), None)
        t.require(m, f'`alloc 4` printed no block: {got}')
        block = int(m.group(2), 16)
        bad = block + 1
        for cmd in (f'fill {block:#x} 4 7', f'keep {block:#x} 4'):
            s.type(cmd.encode() + b'\r')
        s.type(f'liveupdate lu_pages={policy} badpages={bad:#x}\r'.encode(), timeout=30)
        q = s.type(f'query {bad:#x}\r'.encode())
        t.check(any(l == f'query: frame {bad:#x} is {state_after_boot}' for l in q),
                f'{policy}: the marked frame after the hand-over should be '
                f'{state_after_boot}: {q}')
        v = s.type(f'verify {block:#x} 4 7\r'.encode())
        t.check(any(l.endswith('holds pattern 7: intact') for l in v),
                f'{policy}: the kept block should still hold its pattern: {v}')
        s.type(f'free {block:#x} 4\r'.encode())
        q = s.type(f'query {bad:#x}\r'.encode())
        t.check(any(l == f'query: frame {bad:#x} is broken' for l in q),
                f'{policy}: the freed block should leave the bad frame broken: {q}')
        check = s.type(b'check\r')
        t.check(any('every heap rule holds' in l for l in check),
                f'{policy}: heap rules after freeing the block: {check}')
    finally:
        s.close()


def test_marked_frame_in_kept_block_inuse(t):
    marked_frame_in_kept_block(t, 'inuse', 'offlining (broken)')


def test_marked_frame_in_kept_block_uninit(t):
    marked_frame_in_kept_block(t, 'uninit', 'uninitialised (to be broken)')


def test_bad_ram_named_before_the_hand_over(t):
    """The record does not carry page states, so `liveupdate` names the bad
    RAM the new kernel would otherwise use, as the badpages= value that
    keeps it out. Handed over with that value, the new kernel has those
    frames broken and the first `liveupdate` said nothing; the new
    kernel's own `liveupdate` names the same frames again."""
    from test_monitor import ALLOC_RE, Session
    s = Session(t, '1node')

    def alloc(cmd):
        m = next((ALLOC_RE.match(l) for l in s.type(cmd.encode() + b'\r') if ALLOC_RE.match(l)),
                 None)
        t.require(m, f'`{cmd}` printed no block')
        return int(m.group(2), 16)

    def warnings(lines):
        return [l for l in lines if l.startswith('liveupdate: ') and 'bad RAM' in l]
    try:
        s.type(b'settle\r')
        a = alloc('alloc 0')                 # in use: offlining (broken)
        b = alloc('alloc 2')
        s.type(f'free {b:#x} 2\r'.encode())  # free: broken at once
        for cmd in (f'offline {a:#x} broken', f'offline {b:#x} broken',
                    f'offline {b + 1:#x} broken'):
            s.type(cmd.encode() + b'\r')
        ranges = sorted([(a, a), (b, b + 1)])
        want = ','.join(f'{x:#x}' if x == y else f'{x:#x}-{y:#x}' for x, y in ranges)
        out = s.type(f'liveupdate badpages={want}\r'.encode(), timeout=30)
        t.check(not warnings(out),
                f'`liveupdate badpages=...` should not warn: {warnings(out)}')
        t.require(any(l.startswith('Numbat ready') for l in out), 'no new kernel came up')
        for m in (a, b, b + 1):
            q = s.type(f'query {m:#x}\r'.encode())
            t.check(any(l == f'query: frame {m:#x} is broken' for l in q),
                    f'after the hand-over with badpages={want}, {m:#x} should be broken: {q}')
        out = s.type(b'liveupdate\r', timeout=30)
        warn = warnings(out)
        t.check(len(warn) == 1 and warn[0].startswith('liveupdate: 3 frames here are bad RAM')
                and warn[0].endswith(f'badpages={want}'),
                f'`liveupdate` should name the 3 bad frames as badpages={want}: {warn}')
        t.check(any(l.startswith('Numbat ready') for l in out), 'no second new kernel came up')
    finally:
        s.close()
