"""Offlining at the monitor (docs/monitor.md, docs/mm.md "Offlining"):
`offline MFN [broken]`, `online MFN` and `query MFN` through every state a
frame can be in, the refusals, and what `heap`, `heapmap` and `dump` (and
its picture) show of offlined and broken frames.

The session types at a terminal, since it frees and offlines frames that
`alloc` hands out. It boots 1node, a machine of one hart: no other hart
can zero a frame in the background there (docs/mm.md, "Scrubbing"), so a
frame freed by its owner stays "free (needs scrub)" until an allocation
takes it, and the test can read that state whatever the load on the
host."""

import re
import xml.etree.ElementTree as ET

import memmap
from test_monitor import ALLOC_RE, Session, output_of, run_script

QUERY_RE = re.compile(r'^(query|offline|online): frame 0x([0-9a-f]+) is (.+)$')
OUT_RE = re.compile(r'^heap: node (\d+): (\d+) offlined, (\d+) broken, (\d+) on their way out$')


def alloc(t, s, command):
    lines = s.type(command.encode() + b'\r')
    m = next((ALLOC_RE.match(l) for l in lines if ALLOC_RE.match(l)), None)
    t.require(m, f'`{command}` printed no `alloc: order ...` line: {lines}')
    return int(m.group(2), 16)


def says(t, s, command, state):
    """`command` prints exactly one line: `WORD: frame 0xMFN is STATE`."""
    lines = [l for l in s.type(command.encode() + b'\r')[1:] if l.strip()]
    m = QUERY_RE.match(lines[0]) if len(lines) == 1 else None
    mfn = int(command.split()[1], 16)
    t.check(m and m.group(1) == command.split()[0] and int(m.group(2), 16) == mfn
            and m.group(3) == state,
            f'`{command}` should print one line "... frame {mfn:#x} is {state}", got {lines}')


def refused(t, s, command, needle):
    lines = [l for l in s.type(command.encode() + b'\r')[1:] if l.strip()]
    t.check(len(lines) == 1 and needle in lines[0],
            f'`{command}` should be refused with one line naming {needle!r}, got {lines}')


def out_counts(t, s, node):
    lines = s.type(f'heap node {node}\r'.encode())
    m = next((OUT_RE.match(l) for l in lines if OUT_RE.match(l)), None)
    t.require(m, f'`heap node {node}` has no "N offlined, N broken, N on their way out" '
              f'line: {lines[:4]}')
    return tuple(int(x) for x in m.group(2, 3, 4))


def test_monitor_offline_states(t):
    s = Session(t, '1node')
    try:
        s.type(b'settle\r')
        t.check(out_counts(t, s, 0) == (0, 0, 0), 'node 0 starts with frames out of service')
        # In use, then freed by its owner: free, but not zeroed yet.
        a = alloc(t, s, 'alloc 0')
        says(t, s, f'query {a:#x}', 'inuse')
        s.type(f'free {a:#x} 0\r'.encode())
        says(t, s, f'query {a:#x}', 'free (needs scrub)')
        # The same frame again (the monitor must know it is live again).
        again = alloc(t, s, 'alloc 0')
        t.check(again == a, f'the heap should hand {a:#x} out again (LIFO order 0), '
                f'gave {again:#x}: the next check then proves nothing')
        freed = s.type(f'free {again:#x} 0\r'.encode())
        t.check(any(l.startswith(f'free: [{again:#x},') for l in freed),
                f'a frame allocated again after a free could not be freed: {freed}')

        # An in-use frame: offlining while its owner has it, offlined when freed.
        b = alloc(t, s, 'alloc 2')
        says(t, s, f'offline {b + 1:#x}', 'offlining')
        says(t, s, f'query {b + 1:#x}', 'offlining')
        says(t, s, f'query {b:#x}', 'inuse')
        t.check(out_counts(t, s, 0) == (0, 0, 1),
                f'node 0 after offlining an in-use frame: {out_counts(t, s, 0)}')
        freed = s.type(f'free {b:#x} 2\r'.encode())
        t.check(any('1 of its frames were marked to leave service' in l for l in freed),
                f'`free` of a block with an offlining frame should say it left service: {freed}')
        says(t, s, f'query {b + 1:#x}', 'offlined')
        says(t, s, f'query {b:#x}', 'free (needs scrub)')
        # A free frame: out at once; broken never comes back.
        says(t, s, f'offline {b + 2:#x} broken', 'broken')
        refused(t, s, f'online {b + 2:#x}', 'never comes back')
        says(t, s, f'query {b + 2:#x}', 'broken')
        t.check(out_counts(t, s, 0) == (1, 1, 0),
                f'node 0 with one offlined and one broken frame: {out_counts(t, s, 0)}')
        check_pictures(t, s, b)
        # Online: back through the free path, dirty (it held data once).
        says(t, s, f'online {b + 1:#x}', 'free (needs scrub)')
        t.check(out_counts(t, s, 0) == (0, 1, 0), f'node 0 after online: {out_counts(t, s, 0)}')

        # Uninitialised (the kernel image): marked, then the mark cancelled.
        says(t, s, 'query 0x80200', 'uninitialised')
        says(t, s, 'offline 0x80200', 'uninitialised (to be offlined)')
        says(t, s, 'query 0x80200', 'uninitialised (to be offlined)')
        says(t, s, 'online 0x80200', 'uninitialised')
        # Refusals: outside the table, the heap's own frames, bad words.
        refused(t, s, 'offline 0x10', 'outside the frame table')
        refused(t, s, 'query 0x10', 'outside the frame table')
        refused(t, s, f'offline {b:#x} gently', "'gently' is not 'broken'")
        refused(t, s, 'online', 'missing argument')
        meta = metadata_frame(t, s)
        if meta is not None:
            refused(t, s, f'offline {meta:#x}', "heap's own")
        check = s.type(b'check\r')
        t.check(any('every heap rule holds' in l for l in check),
                f'the heap rules do not hold after offlining: {check}')
    finally:
        s.close()


def check_pictures(t, s, b):
    """heapmap and dump show the offlined and the broken frame."""
    hm = s.type(b'heapmap node 0\r')
    t.check(any('x offlined' in l and '! broken' in l for l in hm),
            f'`heapmap` legend does not name offlined and broken: {hm[:4]}')
    rows = [l for l in hm if re.match(r'^0x[0-9a-f]+ ', l)]
    t.check(any('!' in l.split(' ', 1)[1] for l in rows),
            '`heapmap node 0` shows no broken cell')
    dumps = memmap.parse('\n'.join(s.type(b'dump node 0\r')))
    t.require(len(dumps) == 1, f'`dump node 0` gave {len(dumps)} dumps')
    runs = {(st, st_e - st_s): st_s for st_s, st_e, st, _ in dumps[0].runs}
    t.check(runs.get(('offlined', 1)) == b + 1 and runs.get(('broken', 1)) == b + 2,
            f'`dump node 0` should show frame {b + 1:#x} offlined and {b + 2:#x} broken: '
            f'{[r for r in dumps[0].runs if r[2] not in ("free", "inuse")]}')
    root = ET.fromstring(memmap.render(dumps[0]))
    fills = {e.get('class'): e.get('fill') for e in root.iter('{http://www.w3.org/2000/svg}rect')
             if e.get('data-run') is not None}
    for state in ('offlined', 'broken'):
        t.check(fills.get(f'run {state}') == memmap.STATES[state][0],
                f'the picture draws no {state} run in its colour: {fills}')


def metadata_frame(t, s):
    """A frame of node 0's own structures, from its dump (None if none)."""
    dumps = memmap.parse('\n'.join(s.type(b'dump node 0\r')))
    meta = [st for st, _, state, _ in dumps[0].runs if state == 'meta'] if dumps else []
    t.check(meta, 'node 0 dump shows no metadata run to offline')
    return meta[0] if meta else None


def test_monitor_badpages_whole_node(t):
    """badpages= over all of node 1: boot goes on, node 1 has no heap, and
    `heap` still says where its frames went (broken, or marked where boot
    allocated them); nothing is allocated from it."""
    r, secs = run_script(t, '2node', ['heap node 1', 'alloc 0 node 1 exact', 'check'],
                         append='badpages=0x88000-0x8ffff')
    heap = output_of(t, secs, 'heap node 1')
    t.check(heap and heap[0].startswith('heap: node 1: no heap'),
            f'node 1, all of it bad RAM, should have no heap: {heap}')
    m = next((OUT_RE.match(l) for l in heap if OUT_RE.match(l)), None)
    t.check(m and int(m.group(3)) + int(m.group(4)) == 0x8000 and int(m.group(3)) > 0x7000,
            f'`heap node 1` should count its 32768 frames broken or on their way out: {heap}')
    t.check(any('nothing fits' in l for l in output_of(t, secs, 'alloc 0 node 1 exact')),
            'an allocation from a node of bad RAM only should find nothing')
    t.check(any('every heap rule holds' in l for l in output_of(t, secs, 'check')),
            'the heap rules do not hold with a node of bad RAM')
