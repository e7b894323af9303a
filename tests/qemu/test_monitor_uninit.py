"""Watching the uninitialised state at the monitor (docs/monitor.md): with
the boot argument initrd=keep the initrd stays in use and uninitialised
after boot; `release` frees it by hand, frame by frame if asked, through
free_heap_pages(); `page` says who reserved a frame and whether it still
holds it; `heapmap` and `dump` show uninitialised frames with their owner.
Also: a node id the machine does not have is refused by name, and the
initrd's in-kernel tests say why they skip when boot kept the initrd.

The initrd's place is QEMU's choice, so a first boot (a script of just
`halt`) reads it from the `initrd:` line, and the second boot's script
names its frames."""

import os
import re

import bootcheck
import memmap
from test_monitor import monitor_append, one_line, output_of, run_script, sections

KEPT_RE = re.compile(r'^initrd: \[0x([0-9a-f]+), 0x([0-9a-f]+)\) \d+ bytes, sum '
                     r'0x[0-9a-f]+, (\d+) pages kept in use, uninitialised')


def kept_initrd(t):
    """(path, first frame, frames) of an initrd kept by initrd=keep."""
    path = os.path.join(t.workdir, 'initrd.bin')
    bootcheck.make_initrd(path)
    r = t.boot(label='initrd=keep', append='initrd=keep monitor="halt"', initrd=path)
    lines = [KEPT_RE.match(l) for l in r.console.splitlines()]
    m = next((m for m in lines if m), None)
    t.require(m, 'no `initrd: ... pages kept in use, uninitialised` line with '
              'initrd=keep:\n' + '\n'.join(l for l in r.console.splitlines()
                                           if l.startswith('initrd')))
    first = int(m.group(1), 16) >> 12
    return path, first, int(m.group(3))


def page_says(t, secs, cmd, nth, *needles):
    lines = output_of(t, secs, cmd, nth)
    t.check(all(any(n in l for l in lines) for n in needles),
            f'`{cmd}` (#{nth + 1}) should say {needles}: {lines}')


def boot_kept(t, path, script):
    r = t.boot(label='initrd=keep', initrd=path, append='initrd=keep ' + monitor_append(script))
    t.require(not r.timed_out and 'PANIC' not in r.console, f'the script failed: {r.describe()}')
    return r, sections(r.console)


def test_release_initrd_frame_by_frame(t):
    path, first, frames = kept_initrd(t)
    f0, f1, last = f'{first:#x}', f'{first + 1:#x}', f'{first + frames - 1:#x}'
    r, secs = boot_kept(t, path, [f'page {f0}', 'heapmap', 'dump', f'release {f0} 1',
                                  f'page {f0}', f'page {f1}', 'release initrd',
                                  f'page {f1}', f'page {last}', 'check'])
    t.check(r.status == 0, f'a script of good commands should exit 0: {r.describe()}')
    page_says(t, secs, f'page {f0}', 0, 'state uninitialised', 'reserved by initrd',
              'uninitialised, still held', 'inits 0')
    body = ''.join(l.split(' ', 1)[1] for l in output_of(t, secs, 'heapmap')
                   if re.match(r'^0x[0-9a-f]+ ', l))
    t.check('i' in body and 'o' in body and 'k' in body,
            f'`heapmap` shows no initrd, OpenSBI or kernel cells: {body[:128]}')
    dumps = memmap.parse('\n'.join(output_of(t, secs, 'dump')))
    t.require(dumps, 'no dump')
    runs = [(s, e) for s, e, st, _ in dumps[0].runs
            if st == 'uninit' and dumps[0].owners.get(s) == 'initrd']
    t.check(runs == [(first, first + frames)],
            f'`dump` should show [{first:#x}, {first + frames:#x}) as uninit owner '
            f'initrd: {runs}')
    t.check(dumps[0].frames_owned('opensbi') > 0 and dumps[0].frames_owned('kernel') > 0
            and dumps[0].frames_owned('frametable') > 0,
            f'`dump` lacks OpenSBI, kernel or frame table owners: {dumps[0].owners}')
    rel = output_of(t, secs, f'release {f0} 1')
    t.check(any(f'free_heap_pages({f0}, 0)' in l and 'init_heap_pages' in l for l in rel)
            and any('1 frames freed' in l for l in rel),
            f'`release {f0} 1` should free one frame through free_heap_pages: {rel}')
    page_says(t, secs, f'page {f0}', 1, 'state free', 'since given to the heap', 'inits 1')
    page_says(t, secs, f'page {f1}', 0, 'state uninitialised', 'inits 0')
    whole = output_of(t, secs, 'release initrd')
    t.check(any(f'{frames - 1} frames freed ({frames} of the initrd' in l for l in whole),
            f'`release initrd` should free the other {frames - 1} frames: {whole}')
    page_says(t, secs, f'page {f1}', 1, 'state free', 'inits 1')
    page_says(t, secs, f'page {last}', 0, 'state free', 'inits 1')
    t.check(any('every heap rule holds' in l for l in output_of(t, secs, 'check')),
            'the heap rules do not hold after `release`')


def test_release_refusals(t):
    path, first, frames = kept_initrd(t)
    f0 = f'{first:#x}'
    r, secs = boot_kept(t, path, ['release initrd', 'release initrd', f'release {f0} 1',
                                  'release 0x80000 1', f'release {first + frames:#x} 1',
                                  f'release {f0} 0', 'page 0x80200', 'page 0x80000'])
    t.check(any('released already' in l for l in output_of(t, secs, 'release initrd', 1)),
            'a second `release initrd` does not say it is released already')
    one_line(t, secs, f'release {f0} 1', 'released already')
    one_line(t, secs, 'release 0x80000 1', 'held by opensbi')
    one_line(t, secs, f'release {first + frames:#x} 1', 'not held since boot')
    one_line(t, secs, f'release {f0} 0', 'NR must be 1 or more')
    page_says(t, secs, 'page 0x80200', 0, 'reserved by kernel', 'uninitialised, still held')
    page_says(t, secs, 'page 0x80000', 0, 'reserved by opensbi')
    t.check(r.status == 3, f'refused releases should make the script exit 3: '
            f'{r.describe()}')


def test_release_without_keep_is_refused(t):
    path = os.path.join(t.workdir, 'initrd.bin')
    bootcheck.make_initrd(path)
    r, secs = run_script(t, '1node', ['release initrd', 'release 0x80000 1'])
    one_line(t, secs, 'release initrd', 'no initrd')
    r = t.boot(label='initrd', initrd=path, append='monitor="release initrd"')
    one_line(t, sections(r.console), 'release initrd', 'freed at boot (boot with initrd=keep')
    t.check(r.status == 3, f'a refused release should exit 3: {r.describe()}')


def test_kept_initrd_tests_say_why(t):
    path = os.path.join(t.workdir, 'initrd.bin')
    bootcheck.make_initrd(path)
    r = t.boot(label='initrd=keep ktest', initrd=path, append='initrd=keep ktest=mm_initrd.*')
    report = t.ktap(r, prefix='initrd=keep/')
    skipped = [c for c in report.cases if c.skipped]
    t.check(skipped and all('initrd=keep' in c.reason and 'no initrd' not in c.reason
                            for c in skipped),
            f'the initrd tests should skip saying initrd=keep kept it: '
            f'{[(c.name, c.reason) for c in report.cases]}')


def test_node_that_does_not_exist(t):
    r, secs = run_script(t, '2node', ['alloc 0 node 5', 'heap node 2', 'alloc 0 node 1'])
    one_line(t, secs, 'alloc 0 node 5', 'node 5 does not exist: this machine has nodes 0 to 1')
    one_line(t, secs, 'heap node 2', 'node 2 does not exist')
    t.check(any('node 1' in l for l in output_of(t, secs, 'alloc 0 node 1')),
            'alloc 0 node 1 on 2node did not come from node 1')
