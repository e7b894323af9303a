"""The kernel monitor, driven by scripts: boot with monitor="CMD; CMD; ..."
and read what each command printed after its echoed `numbat> CMD` line.

A script powers off by itself with the first non-zero status a command
returned (docs/monitor.md), so each boot takes well under a second. One
boot runs a whole group of checks. Boots are deterministic (same kernel,
same machine, same script) except for one thing: OpenSBI picks the boot
hart at random, so on 2node the default node of `alloc` and a few frames
differ between boots. Scripts therefore name nodes, and the alloc/free
test, which must free the very frame `alloc` printed, types at a terminal
instead (class Session).

The `dump` output is checked with tools/memmap.py's parser: runs must
cover the node without gaps, and the free frames must add up to the
node's free count that `heap` prints.
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import memmap       # noqa: E402

VALUE_MAX = 127     # characters in one monitor="..." value (bootargs.h)
APPEND_MAX = 255    # characters in the whole command line (machine.h)
HEAP_ORDER_RE = re.compile(r'^heap: node (\d+) zone (\d+) order (\d+): (\d+) blocks$')
HEAP_ZONE_RE = re.compile(r'^heap: node (\d+) zone (\d+): (\d+) pages free')
ALLOC_RE = re.compile(r'^alloc: order (\d+) -> \[0x([0-9a-f]+), 0x([0-9a-f]+)\) '
                      r'node (\d+) zone (\d+)$')


def monitor_append(commands):
    """monitor="..." arguments for a list of commands, split so that each
    value stays within the kernel's limit."""
    values, cur = [], ''
    for c in commands:
        nxt = f'{cur}; {c}' if cur else c
        if len(nxt) > VALUE_MAX:
            values.append(cur)
            nxt = c
        cur = nxt
    values.append(cur)
    append = ' '.join(f'monitor="{v}"' for v in values)
    assert len(append) <= APPEND_MAX, f'script too long for one boot: {append}'
    return append


def run_script(t, topology, commands, label='', append=''):
    """Boot, run the commands, return (result, [(command, [lines])]);
    `append`: boot arguments before the script."""
    r = t.boot(label=label or topology, topology=topology,
               append=(append + ' ' if append else '') + monitor_append(commands), timeout=30)
    t.require(not r.timed_out, f'{topology}: the script did not power off: {r.describe()}')
    t.check('PANIC' not in r.console, f'{topology}: the monitor panicked')
    return r, sections(r.console)


def sections(console):
    """[(command, [lines it printed])] from the echoed prompts on."""
    out = []
    for line in console.splitlines():
        if line.startswith('numbat> '):
            out.append((line[len('numbat> '):].strip(), []))
        elif out:
            out[-1][1].append(line)
    for cmd, lines in out:        # the closing line belongs to no command
        if lines and lines[-1].startswith('monitor: script done'):
            lines.pop()
    return out


def output_of(t, secs, command, nth=0):
    found = [lines for cmd, lines in secs if cmd == command]
    t.require(len(found) > nth, f'no output for `{command}` (ran: {[c for c, _ in secs]})')
    return found[nth]


def heap_counts(lines):
    """({(node, zone, order): blocks}, {(node, zone): pages}) from `heap`."""
    orders, zones = {}, {}
    for line in lines:
        m = HEAP_ORDER_RE.match(line)
        if m:
            orders[tuple(map(int, m.group(1, 2, 3)))] = int(m.group(4))
        m = HEAP_ZONE_RE.match(line)
        if m:
            zones[tuple(map(int, m.group(1, 2)))] = int(m.group(3))
    return orders, zones


def one_line(t, secs, command, needle):
    """A refused command prints exactly one line, which names the problem."""
    lines = [l for l in output_of(t, secs, command) if l.strip()]
    t.check(len(lines) == 1 and needle in lines[0],
            f'`{command}` should print one line with {needle!r}, got {lines}')


# --- the read-only commands -------------------------------------------------------------

def test_monitor_views_1node(t):
    r, secs = run_script(t, '1node', ['help', 'mem', 'nodes', 'heap', 'page 0x80000',
                                      'page 0x80200', 'buddy 0 20 14', 'heapmap',
                                      'check', 'dump'])
    t.check(r.status == 0, f'a script of good commands should exit 0: {r.describe()}')
    helps = output_of(t, secs, 'help')
    for name in ['mem', 'heap', 'page', 'alloc', 'free', 'nodes', 'heapmap', 'check',
                 'test', 'dump', 'halt']:
        t.check(any(l.split()[:1] == [name] for l in helps), f'`help` does not list {name}')
    t.check(all(len(l) <= 80 for l in helps), 'a `help` line is wider than 80 columns')
    mem = output_of(t, secs, 'mem')
    t.check(any(l.startswith('mem: node 0: 128 MiB RAM') for l in mem),
            f'`mem` does not say node 0 has 128 MiB: {mem[:3]}')
    t.check(any('bank' in l and '[0x80000000, 0x88000000)' in l for l in mem),
            f'`mem` does not show the bank: {mem}')
    t.check(any('reserved' in l and 'kernel' in l for l in mem),
            f'`mem` does not show the kernel reservation: {mem}')
    t.check(any(l.startswith('nodes: node 0: harts 0') for l in output_of(t, secs, 'nodes')),
            'no `nodes: node 0: harts 0` line')
    page0 = output_of(t, secs, 'page 0x80000')
    t.check(page0 and 'state uninitialised' in page0[0] and 'zone 20' in page0[0],
            f'MFN 0x80000 (OpenSBI) should be uninitialised in zone 20: {page0}')
    t.check(any('flags' in l for l in page0) and any('count_info 0x' in l for l in page0),
            f'`page` shows no flags or count_info: {page0}')
    orders, zones = heap_counts(output_of(t, secs, 'heap'))
    t.check(zones.get((0, 20), 0) > 30000, f'`heap` zone counts look wrong: {zones}')
    t.check(sum(b << o for (n, z, o), b in orders.items()) == sum(zones.values()),
            f'`heap`: blocks x 2^order {orders} do not add up to the pages {zones}')
    buddy = output_of(t, secs, 'buddy 0 20 14')
    t.check(any(f'{orders.get((0, 20, 14), 0)} blocks' in l for l in buddy),
            f'`buddy 0 20 14` disagrees with `heap` ({orders.get((0, 20, 14))}): {buddy}')
    check_heapmap(t, output_of(t, secs, 'heapmap'))
    t.check(any('every heap rule holds' in l for l in output_of(t, secs, 'check')),
            '`check` did not say the heap rules hold')
    check_dump(t, output_of(t, secs, 'dump'), zones)


def check_heapmap(t, lines):
    t.check(any('legend' in l and '. free' in l and '# inuse' in l for l in lines),
            f'`heapmap` shows no legend: {lines[:4]}')
    rows = [l for l in lines if re.match(r'^0x[0-9a-f]+ ', l)]
    t.check(len(rows) == 32, f'`heapmap` of 128 MiB should have 32 rows, has {len(rows)}')
    t.check(all(len(l) <= 80 for l in lines), '`heapmap` is wider than 80 columns')
    body = ''.join(l.split(' ', 1)[1] for l in rows)
    t.check('o' in body and 'k' in body and '.' in body and 'M' in body,
            f'`heapmap` lacks OpenSBI, kernel, free or metadata cells: {rows[:2]}')


def check_dump(t, lines, zones):
    try:
        dumps = memmap.parse('\n'.join(lines))
    except memmap.DumpError as e:
        t.check(False, f'`dump` output does not parse: {e}')
        return []
    t.require(dumps, f'`dump` printed no dump: {lines[:3]}')
    for d in dumps:
        free = d.frames_in('free')
        want = sum(p for (n, z), p in zones.items() if n == d.node)
        t.check(free == want, f'dump of node {d.node}: {free} free frames, `heap` says {want}')
        t.check(all(o is not None and e - s == 1 << o
                    for s, e, st, o in d.runs if st == 'free'),
                f'dump of node {d.node}: a free block is not 2^order frames')
    return dumps


# --- alloc and free, typed at a terminal ----------------------------------------------------

class Session:
    """The monitor through a terminal, as `ninja qemu` gives it: type a line,
    read what it printed up to the next prompt. Used where the next command
    depends on an answer (free the frame that alloc handed out): OpenSBI
    picks the boot hart at random, so a 2node heap differs a little from
    boot to boot and no fixed script could name the frame."""

    def __init__(self, t, topology, append=''):
        import pty
        self.t = t
        run_py = os.path.join(TOP, 'tools', 'numbat_run.py')
        extra = ['--append', append] if append else []
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(sys.executable, [sys.executable, run_py, '--interactive',
                                      '--topology', topology] + extra + [t.kernel])
        self.seen = b''
        t.require(self.wait_for(b'numbat> ', 0, 30), 'no `numbat>` prompt: '
                  + self.seen.decode(errors='replace')[-500:])

    def wait_for(self, text, start, seconds):
        import select
        import time
        end = time.monotonic() + seconds
        while text not in self.seen[start:] and time.monotonic() < end:
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    break
        return text in self.seen[start:]

    def type(self, keys, timeout=10):
        """Send keys (ending in CR), return the lines printed before the
        next prompt, the echoed line first."""
        start = len(self.seen)
        os.write(self.fd, keys)
        self.t.require(self.wait_for(b'numbat> ', start, timeout),
                       f'no prompt after {keys!r}: '
                       + self.seen[start:].decode(errors='replace')[-500:])
        text = self.seen[start:].decode(errors='replace').replace('\r', '')
        return text[:text.rindex('numbat> ')].splitlines()

    def close(self):
        import signal
        try:
            os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def alloc_free_roundtrip(t, topology, allocs):
    """alloc then free restores every count; wrong frees are refused.
    Returns [(mfn, order, node)] of the blocks allocated."""
    s = Session(t, topology)
    try:
        # An interactive console does not settle first (a script does):
        # wait until deferred init has handed everything over, or the
        # workers would grow the heap between the two counts.
        s.type(b'settle\r')
        before, _ = heap_counts(s.type(b'heap\r'))
        blocks = []
        for a in allocs:
            lines = s.type(a.encode() + b'\r')
            m = next((ALLOC_RE.match(l) for l in lines if ALLOC_RE.match(l)), None)
            t.require(m, f'{topology}: `{a}` printed no `alloc: order ...` line: {lines}')
            blocks.append((int(m.group(2), 16), int(m.group(1)), int(m.group(4))))
        m0, o0, _ = blocks[0]
        wrong = s.type(f'free {m0:#x} {o0 + 1}\r'.encode())
        t.check(any(f'allocated with order {o0}, not {o0 + 1}' in l for l in wrong),
                f'{topology}: a free with the wrong order was not refused: {wrong}')
        for m, o, _ in blocks:
            lines = s.type(f'free {m:#x} {o}\r'.encode())
            t.check(any(l.startswith(f'free: [{m:#x},') for l in lines),
                    f'{topology}: `free {m:#x} {o}` did not free: {lines}')
        again = s.type(f'free {m0:#x} {o0}\r'.encode())
        t.check(any('already freed' in l for l in again),
                f'{topology}: a second free was not refused as already freed: {again}')
        after, _ = heap_counts(s.type(b'heap\r'))
        t.check(before == after,
                f'{topology}: counts after alloc+free {after} != before {before}')
        # Line editing: "chekc", two backspaces, "ck" runs `check`.
        check = s.type(b'chekc\x7f\x7fck\r')
        t.check(any('every heap rule holds' in l for l in check),
                f'{topology}: the edited line did not run `check`: {check}')
    finally:
        s.close()
    return blocks


def test_monitor_alloc_free_1node(t):
    blocks = alloc_free_roundtrip(t, '1node', ['alloc 3', 'alloc 0', 'alloc 9 bits 32'])
    t.check(all(n == 0 for _, _, n in blocks), f'1node allocations off node 0: {blocks}')


def test_monitor_alloc_free_2node(t):
    blocks = alloc_free_roundtrip(t, '2node', ['alloc 3 node 0', 'alloc 0 node 1',
                                               'alloc 2 node 1 exact'])
    t.check([n for _, _, n in blocks] == [0, 1, 1],
            f'2node: blocks should come from nodes 0, 1, 1: {blocks}')


def test_monitor_refusals(t):
    """Every kind of bad input: one line, no panic, and the script's status
    says input was refused (3)."""
    bad = {
        'nosuch': "unknown command 'nosuch'",
        'page': 'missing argument',
        'page 0xzz': "bad MFN '0xzz'",
        'page 0x10': 'outside the frame table',
        'alloc 19': "bad order '19'",
        'alloc 0 node 5': 'node 5 does not exist: this machine has only node 0',
        'alloc 0 wibble': "unexpected 'wibble'",
        'free 0x80000 0': 'not a block the monitor allocated',
        'free 0x80000': 'missing argument',
        'heap node 9': 'node 9 does not exist',
        'buddy 0 64 0': "bad zone '64'",
        'heapmap node x': "bad node 'x'",
        'test a/b': "bad pattern 'a/b'",
    }
    r, secs = run_script(t, '1node', list(bad) + ['alloc 18 exact bits 20', 'check'])
    for cmd, needle in bad.items():
        one_line(t, secs, cmd, needle)
    nothing = output_of(t, secs, 'alloc 18 exact bits 20')
    t.check(nothing and 'nothing fits' in nothing[0],
            f'an impossible allocation should say nothing fits: {nothing}')
    t.check(any('every heap rule holds' in l for l in output_of(t, secs, 'check')),
            'the heap is broken after the refusals')
    t.check(r.status == 3, f'a script with refused input should exit 3: {r.describe()}')


def test_monitor_2node_views(t):
    r, secs = run_script(t, '2node', ['nodes', 'heapmap node 1', 'dump node 1',
                                      'heap node 1', 'alloc 1', 'halt', 'mem'])
    hart = re.search(r'booting on hart (\d+)', r.console)
    got = ALLOC_RE.match((output_of(t, secs, 'alloc 1') or [''])[0])
    t.check(hart and got and int(got.group(4)) == int(hart.group(1)) // 2,
            f'`alloc 1` should come from the boot hart\'s node (hart '
            f'{hart and hart.group(1)}; harts 0 1 are node 0, 2 3 node 1): '
            f'{got and got.group(0)}')
    nodes = output_of(t, secs, 'nodes')
    t.check(any('from node 0:' in l and l.split()[-2:] == ['10', '20'] for l in nodes),
            f'`nodes` distance row of node 0 should end 10 20: {nodes}')
    t.check(any(l.startswith('nodes: node 1: harts 2 3') for l in nodes),
            f'`nodes` should put harts 2 3 on node 1: {nodes}')
    hm = output_of(t, secs, 'heapmap node 1')
    t.check(hm and hm[0].startswith('heapmap: node 1 [0x88000, 0x90000)'),
            f'`heapmap node 1` title: {hm[:1]}')
    _, zones = heap_counts(output_of(t, secs, 'heap node 1'))
    dumps = check_dump(t, output_of(t, secs, 'dump node 1'), zones)
    t.check([d.node for d in dumps] == [1], f'`dump node 1` dumped nodes {[d.node for d in dumps]}')
    t.check(all(c != 'mem' for c, _ in secs), '`halt` did not end the script')
    t.check(r.status == 0, f'`halt` in a clean script should exit 0: {r.describe()}')


def test_monitor_runs_tests(t):
    """`test` runs in-kernel tests and comes back to the prompt; the script
    ends with the test's status (3 when nothing matched)."""
    r, secs = run_script(t, '1node', ['test kernel_printk.*', 'heap'])
    t.ktap(r, prefix='monitor:')
    t.check(any('ended with status 0' in l for l in output_of(t, secs, 'test kernel_printk.*')),
            '`test kernel_printk.*` did not end with status 0')
    t.check(output_of(t, secs, 'heap'), 'no prompt came back after `test`')
    t.check(r.status == 0, f'passing tests should leave status 0: {r.describe()}')
    # Each `test` reports only its own cases: run the same suite twice (the
    # second summary must not count the first run's cases too), then nothing.
    r, secs = run_script(t, '1node', ['test kernel_printk.*', 'test kernel_printk.*',
                                      'test nomatch*'], label='1node twice, nomatch')
    sums = [l.strip() for l in r.console.splitlines()
            if re.match(r'\s*# ktest: \d+ passed', l)]
    t.check(len(sums) == 2 and sums[0] == sums[1],
            f'two runs of the same tests should report the same counts: {sums}')
    t.check(r.status == 3, f'`test nomatch*` should make the script exit 3: {r.describe()}')


def test_monitor_dump_pictures(t):
    """The picture tool on real dumps: one rect per run, the legend, the
    colours of known states, and a changed heap changes the picture."""
    import xml.etree.ElementTree as ET
    svgs = {}
    for label, script in (('before', ['dump']), ('after', ['alloc 3 node 0', 'alloc 0 node 1',
                                                           'dump'])):
        r, secs = run_script(t, '2node', script, label=f'2node {label}')
        dumps = memmap.parse(r.console)
        t.require(len(dumps) == 2, f'{label}: expected dumps of 2 nodes, got {len(dumps)}')
        for d in dumps:
            text = memmap.render(d)
            svgs[label, d.node] = text
            root = ET.fromstring(text)
            ns = '{http://www.w3.org/2000/svg}'
            rects = [e for e in root.iter(ns + 'rect') if e.get('data-run') is not None]
            t.check({int(e.get('data-run')) for e in rects} == set(range(len(d.runs))),
                    f'{label} node {d.node}: rects do not cover the {len(d.runs)} runs')
            for e in rects:
                # class="run STATE" or, for an uninitialised run, "run uninit OWNER"
                kind = e.get('class').split()[1:]
                want = (memmap.OWNERS[kind[1]][0] if len(kind) == 2
                        else memmap.STATES[kind[0]][0])
                t.check(e.get('fill') == want,
                        f'{label} node {d.node}: a {" ".join(kind)} rect is {e.get("fill")}')
            legend = [e for e in root.iter(ns + 'rect') if 'legend' in (e.get('class') or '')]
            owners = {o for o in memmap.OWNERS if d.frames_owned(o)}
            t.check(len(legend) == len(memmap.STATES) + len(owners),
                    f'{label} node {d.node}: legend has {len(legend)} swatches, not '
                    f'{len(memmap.STATES)} states + the owners {sorted(owners)}')
            t.check(f'Numbat node {d.node}' in text, f'{label} node {d.node}: no title')
        if label == 'after':
            t.check(any(st == 'inuse' for d in dumps for _, _, st, _ in d.runs),
                    'after two allocations no dump shows an inuse run')
    for node in (0, 1):
        t.check(svgs['before', node] != svgs['after', node],
                f'node {node}: the picture did not change after an allocation on it')


def test_monitor_bad_script_argument(t):
    """An empty monitor= is refused at boot with one `bootargs:` line, and
    the kernel goes on to the interactive prompt."""
    r = t.boot(topology='1node', append='monitor=""', watch='Numbat ready',
               stop_at_watch=True, timeout=30)
    lines = [l for l in r.console.splitlines() if l.startswith('bootargs:')]
    t.check(len(lines) == 1 and 'monitor=' in lines[0] and 'needs commands' in lines[0],
            f'monitor="" should give one bootargs line: {lines}')
    t.check(r.watch_seconds is not None, f'boot did not reach the prompt: {r.describe()}')
