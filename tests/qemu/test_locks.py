"""The heap locks in the real kernel (docs/mm.md, "Locking").

crash=two-locks takes node 0's heap lock, then node 1's: the debug
kernel must panic, naming both nodes. The monitor's `locks` prints one
line per node lock (or one for the shared lock of heap_lock=shared), and
the counts must move with what the heap does: an allocation on node 1
counts on node 1's lock, `locks bench` on every lock it used. The shared
boot also runs the SMP stress suite (mm_smp) through the monitor's
`test`, so the stress passes with one lock as well as with many.
Nothing here is timed: the bench's pairs per second are only parsed.
"""

import re

LOCK_RE = re.compile(r'^locks: (node (\d+)|every node \(heap_lock=shared\)): (\d+) acquisitions, '
                     r'(\d+) spins, (\d+)\.(\d{3}) spins per acquisition$')
BENCH_RE = re.compile(r'^locks: bench order (\d+), (\d+) harts on (\d+) nodes, (\d+) pairs each, '
                      r'(node locks|one shared lock): (\d+) pairs/s, \d+\.\d{3} spins per '
                      r'acquisition, (\d+) failed$')
PANIC_RE = re.compile(r"PANIC on hart (\d+): mm_hook_lock: hart (\d+) takes node 1's heap lock "
                      r"while it holds node 0's: no path may hold two node locks")


def script(t, append, label):
    r = t.boot(label=label, topology='2node', append=append, timeout=60)
    t.require(not r.timed_out, f'{label}: the script did not power off: {r.describe()}')
    t.check('PANIC' not in r.console, f'{label}: the kernel panicked')
    out = []
    for line in r.console.splitlines():
        if line.startswith('numbat> '):
            out.append((line[len('numbat> '):].strip(), []))
        elif out:
            out[-1][1].append(line.strip())
    return r, out


def locks_table(t, lines, what):
    """{who: (acquisitions, spins)} from one `locks` output; who is the
    node number, or 'shared'."""
    table = {}
    for line in lines:
        m = LOCK_RE.match(line)
        if m:
            who = int(m.group(2)) if m.group(2) is not None else 'shared'
            acq, spins = int(m.group(3)), int(m.group(4))
            table[who] = (acq, spins)
            ratio = int(m.group(5)) + int(m.group(6)) / 1000
            t.check(abs(ratio - (spins / acq if acq else 0)) < 0.0015,
                    f'{what}: {line!r}: the ratio is not spins / acquisitions')
    t.check(table, f'{what}: no `locks: ...` line in {lines}')
    return table


def bench_line(t, lines, what):
    found = [BENCH_RE.match(l) for l in lines if BENCH_RE.match(l)]
    t.require(found, f'{what}: no `locks: bench ...` line in {lines}')
    return found[0]


def test_two_node_locks_panic_names_both_nodes(t):
    r = t.boot(topology='2node', append='crash=two-locks', timeout=30)
    t.require(r.status == 2, f'crash=two-locks should panic (exit 2): {r.describe()}')
    m = PANIC_RE.search(r.console)
    t.check(m and m.group(1) == m.group(2),
            'crash=two-locks: no panic line naming node 1 taken while node 0 is held: '
            + '; '.join(l for l in r.console.splitlines() if 'PANIC' in l))
    t.check(re.search(r'#\d+ 0x[0-9a-f]+ two_locks at kernel/crash\.c:\d+', r.console),
            'crash=two-locks: the backtrace does not reach two_locks')


def test_locks_count_per_node(t):
    cmds = ['locks', 'alloc 0 node 1 exact', 'locks', 'locks bench 0 2 500', 'locks',
            'locks bench 0 99', 'locks frob', 'halt']
    r, secs = script(t, 'heap_lock=bogus monitor="' + '; '.join(cmds) + '"', 'node locks')
    t.check("bootargs: heap_lock='bogus' ignored: needs node or shared; accepted: "
            "heap_lock=node" in r.console, 'heap_lock=bogus: no `bootargs:` line naming it')
    outs = [lines for cmd, lines in secs if cmd == 'locks']
    t.require(len(outs) == 3, f'expected three `locks` outputs, got {len(outs)}')
    before, after_alloc, after_bench = (locks_table(t, o, f'locks #{i}') for i, o in
                                        enumerate(outs))
    t.check(sorted(before) == [0, 1], f'`locks` on 2node should list nodes 0 and 1: {before}')
    if 1 in before and 1 in after_alloc:
        t.check(after_alloc[1][0] > before[1][0],
                f'`alloc 0 node 1 exact` did not count on node 1\'s lock: {before} -> '
                f'{after_alloc}')
    bench = [lines for cmd, lines in secs if cmd == 'locks bench 0 2 500']
    t.require(bench, 'no output for `locks bench 0 2 500`')
    m = bench_line(t, bench[0], 'locks bench 0 2 500')
    t.check(m.group(2, 3, 4, 5, 7) == ('2', '2', '500', 'node locks', '0'),
            f'`locks bench 0 2 500`: {m.group(0)!r}')
    total = lambda tab: sum(a for a, _ in tab.values())
    t.check(total(after_bench) - total(after_alloc) >= 2 * 2 * 500,
            f'2 harts x 500 pairs took the locks only '
            f'{total(after_bench) - total(after_alloc)} times (at least 2000)')
    for cmd, needle in (('locks bench 0 99', "bad hart count '99': at most"),
                        ('locks frob', 'locks: usage: locks, or locks bench')):
        lines = [l for c, o in secs if c == cmd for l in o if l]
        t.check(len(lines) == 1 and needle in lines[0],
                f'`{cmd}` should print one line with {needle!r}, got {lines}')


def test_one_shared_lock(t):
    cmds = ['locks', 'test mm_smp.*', 'locks', 'locks bench 0 2 500', 'check']
    r, secs = script(t, 'heap_lock=shared monitor="' + '; '.join(cmds) + '"', 'shared lock')
    t.check(r.status == 0, f'heap_lock=shared: the script failed: {r.describe()}')
    outs = [lines for cmd, lines in secs if cmd == 'locks']
    t.require(len(outs) == 2, f'expected two `locks` outputs, got {len(outs)}')
    before, after = (locks_table(t, o, f'shared locks #{i}') for i, o in enumerate(outs))
    t.check(list(before) == ['shared'],
            f'with heap_lock=shared `locks` should print one line for every node: {outs[0]}')
    test_out = [lines for cmd, lines in secs if cmd == 'test mm_smp.*']
    t.check(test_out and any("ended with status 0" in l for l in test_out[0]),
            'the SMP stress (mm_smp) did not pass with one shared lock')
    if 'shared' in before and 'shared' in after:
        t.check(after['shared'][0] > before['shared'][0],
                'the SMP stress did not count on the shared lock')
    bench = [lines for cmd, lines in secs if cmd == 'locks bench 0 2 500']
    t.require(bench, 'no output for `locks bench 0 2 500`')
    m = bench_line(t, bench[0], 'shared bench')
    t.check(m.group(5) == 'one shared lock', f'shared bench: {m.group(0)!r}')
