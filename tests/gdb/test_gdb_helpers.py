"""The gdb helpers of tools/gdb/numbat.py against the kernel monitor.

One 2node boot under gdb: the monitor runs a script (two allocations, then
`heap`, `page`, `buddy` and `mem`) and ends with `halt`; gdb stops at
poweroff(), where the script has printed everything, and runs numbat-heap,
numbat-page, numbat-buddy and numbat-mem on the same, frozen, state. The
two must print the same lines: the monitor asks the kernel, gdb reads
memory through the kernel's symbols and types, so a disagreement is a bug
in one of them (a field read wrongly, a bit layout out of date).

Before that, still at the first instruction, numbat-heap must say that the
heap does not exist yet instead of printing garbage.

The frame `alloc 3 node 0` handed out is found by gdb itself, in the
console QEMU has written so far (a fixed script cannot name it: OpenSBI
picks the boot hart at random, and the heap differs a little between
boots), and numbat-page must call it inuse on node 0.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'qemu'))
import test_monitor  # noqa: E402  (its script and parsing helpers)
import gdbsession    # noqa: E402

ALLOCS = ['alloc 3 node 0', 'alloc 0 node 1']  # explicit: the boot hart is random


def run_under_gdb(t, script, gdb_commands):
    """(console, gdb output) of a 2node boot running `script`, with gdb
    running `gdb_commands` once the kernel reaches poweroff()."""
    console_path = os.path.join(t.workdir, 'console.txt')
    commands = ['echo ==early\\n', 'numbat-heap', 'break poweroff', 'continue']
    for i, c in enumerate(gdb_commands):
        commands += [f'echo ==#{i}\\n', c]
    # scrub=off: boot's frames start clean and the script frees nothing, so
    # the dirty counts `heap` prints cannot move (under scrub=idle the idle
    # harts scrub between the monitor's reading and gdb's).
    out = gdbsession.run(t, commands,
                         append=test_monitor.monitor_append(script) + ' scrub=off',
                         console_path=console_path)
    with open(console_path, encoding='utf-8', errors='replace') as f:
        console = f.read().replace('\r', '')
    return console, out


def gdb_sections(out, commands):
    """{command: [lines]} from the `==#i` markers echoed before each."""
    secs, cur = {}, None
    for line in out.splitlines():
        if line.startswith('=='):
            key = line[2:]
            cur = commands[int(key[1:])] if key.startswith('#') else key
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
    return secs


def same_lines(t, what, monitor, gdb, prefix):
    a = [l.rstrip() for l in monitor if l.lstrip().startswith(prefix)]
    b = [l.rstrip() for l in gdb if l.lstrip().startswith(prefix)]
    t.check(a and a == b, f'{what}: monitor and gdb disagree\n  monitor: {a}\n  gdb:     {b}')


def test_gdb_helpers_match_monitor(t):
    # Two offlined frames (mm/offline.c): one broken free frame of node 1,
    # one of OpenSBI's (uninitialised, marked): their states, flags and the
    # offline counts of `heap` must decode alike.
    offline = ['offline 0x88100 broken', 'offline 0x80010']
    script = ALLOCS + offline + ['heap', 'page 0x88000', 'page 0x80000', 'page 0x88100',
                                 'page 0x80010', 'buddy 1 20 3', 'mem', 'halt']
    console_path = os.path.join(t.workdir, 'console.txt')
    decode_alloc = ("python import re; gdb.execute('numbat-page ' + re.findall("
                    r"r'alloc: order 3 -> \[(0x[0-9a-f]+)', "
                    f"open({console_path!r}).read())[0])")
    pairs = [('heap', 'numbat-heap', 'heap:'),
             ('page 0x88000', 'numbat-page 0x88000', 'page:'),
             ('page 0x80000', 'numbat-page 0x80000', 'page:'),
             ('page 0x88100', 'numbat-page 0x88100', 'page:'),
             ('page 0x80010', 'numbat-page 0x80010', 'page:'),
             ('buddy 1 20 3', 'numbat-buddy 1 20 3', 'buddy:'),
             ('mem', 'numbat-mem', ('mem:', 'bank', 'reserved'))]
    commands = [g for _, g, _ in pairs] + [decode_alloc]
    console, out = run_under_gdb(t, script, commands)
    t.require('Breakpoint 1, poweroff' in out or 'Breakpoint 1,' in out,
              f'gdb never stopped at poweroff:\n{out[-1500:]}')
    early = gdb_sections(out, commands).get('early', [])
    t.check(any('heap does not exist yet' in l or 'frame table does not exist yet' in l
                for l in early),
            f'numbat-heap before boot should say there is no heap yet: {early}')
    mon = dict(test_monitor.sections(console))
    secs = gdb_sections(out, commands)
    for monitor_cmd, gdb_cmd, prefix in pairs:
        t.check(monitor_cmd in mon, f'the monitor never ran `{monitor_cmd}`')
        t.check(gdb_cmd in secs, f'gdb never ran `{gdb_cmd}`')
        same_lines(t, gdb_cmd, mon.get(monitor_cmd, []), secs.get(gdb_cmd, []), prefix)
    page = secs.get(decode_alloc, [])
    t.check(any('state inuse' in l for l in page) and any(', node 0,' in l for l in page),
            f'the frame `alloc 3 node 0` handed out should be inuse on node 0: {page}')
    bad = secs.get('numbat-page 0x88100', [])
    t.check(any('state broken' in l for l in bad) and any('flags broken' in l for l in bad),
            f'frame 0x88100, offlined broken, should decode as broken: {bad}')
    marked = secs.get('numbat-page 0x80010', [])
    t.check(any('offline_asked' in l for l in marked),
            f'frame 0x80010, marked while uninitialised, should show offline_asked: {marked}')
    orders = [l for l in secs.get('numbat-heap', []) if re.match(r'heap: node \d+ zone \d+ order', l)]
    t.check(len(orders) >= 5, f'numbat-heap listed only {len(orders)} order lines')
