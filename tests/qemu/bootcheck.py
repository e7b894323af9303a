"""What a Numbat boot should print, worked out from what QEMU was given.

The QEMU boot tests (tests/qemu/test_*.py) boot a topology, then compare
the kernel's `machine:`, `bank:`, `harts:`, `distance:`, `reserved:`,
`heap:` and `smp:` lines (docs/boot-output.md) with the machine the runner
described to QEMU (tools/numbat_run.py TOPOLOGIES). expected() computes
that machine; parse() reads the console; compare() records every mismatch
through the test's check(), with both values in the message.

Not a test file itself (its name does not start with test_).
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import dtbgen       # noqa: E402
import numbat_run   # noqa: E402

DRAM_BASE = 0x80000000
MIB = 1 << 20
PAGE = 4096


def expected(topology, mem_mib=None, smp=None):
    """{'banks': [(node, base, end)], 'harts': {node: [ids]},
    'distance': {node: [row]}, 'nodes': n, 'ram_mib': m, 'nr_harts': h}
    for a topology, with its default size unless mem_mib/smp are given
    (as --mem/--smp would)."""
    t = numbat_run.TOPOLOGIES[topology]
    t = numbat_run.Topology(**{**vars(t), 'mem_mib': mem_mib or t.mem_mib,
                               'smp': smp or t.smp})
    banks, base = [], DRAM_BASE
    for node, mib in zip(t.mem_nodes, numbat_run.split(t.mem_mib, t.mem_nodes)):
        banks.append((node, base, base + mib * MIB))
        base += mib * MIB
    harts, first = {}, 0
    for node, n in zip(t.cpu_nodes, numbat_run.split(t.smp, t.cpu_nodes)):
        harts[node] = list(range(first, first + n))
        first += n
    dist = dict(t.distances)
    nodes = len(set(t.mem_nodes) | set(t.cpu_nodes))
    if t.staged == 'cpuless':
        # tools/dtbgen.py moves the top half of the last bank to a new node.
        node, b, e = banks.pop()
        half = ((e - b) // 2) & ~0x1fffff
        banks += [(node, b, b + half), (dtbgen.CPULESS_NODE, b + half, e)]
        dist = dict(dtbgen.CPULESS_DISTANCES)
        nodes = dtbgen.CPULESS_NODE + 1
    if t.staged == '8node':
        # tools/dtbgen.py gives the top half of node n's bank to node n + 4.
        split_banks = []
        for node, b, e in banks:
            half = ((e - b) // 2) & ~0x1fffff
            split_banks += [(node, b, b + half), (node + 4, b + half, e)]
        banks = split_banks
        dist = dtbgen.eightnode_distances()
        nodes = dtbgen.EIGHTNODE_NODES
    if t.staged == 'nohart0':
        # tools/dtbgen.py disables hart 0: the kernel never sees it.
        harts = {node: [h for h in ids if h != 0] for node, ids in harts.items()}
        harts = {node: ids for node, ids in harts.items() if ids}
    matrix = {a: [10 if a == b else dist.get((min(a, b), max(a, b)), 20)
                  for b in range(nodes)] for a in range(nodes)}
    return {'banks': banks, 'harts': harts, 'distance': matrix, 'nodes': nodes,
            'ram_mib': t.mem_mib, 'nr_harts': sum(map(len, harts.values()))}


def parse(console):
    """The boot lines of a console, as numbers."""
    got = {'banks': [], 'harts': {}, 'distance': {}, 'reserved': [], 'machine': None,
           'boot_hart': None, 'smp_up': None, 'heap_total': None, 'initrd': None,
           'bootargs': []}
    for line in console.splitlines():
        line = line.strip()
        m = re.match(r'Numbat: booting on hart (\d+)', line)
        if m:
            got['boot_hart'] = int(m.group(1))
        m = re.match(r'machine: (\d+) harts, (\d+) nodes, (\d+) MiB RAM in (\d+) banks', line)
        if m:
            got['machine'] = tuple(int(x) for x in m.groups())
        m = re.match(r'bank: node (\d+) \[(0x[0-9a-f]+), (0x[0-9a-f]+)\)', line)
        if m:
            got['banks'].append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16)))
        m = re.match(r'harts: node (\d+):((?: \d+)*)\s*$', line)
        if m:
            got['harts'][int(m.group(1))] = [int(x) for x in m.group(2).split()]
        m = re.match(r'distance: node (\d+):((?: \d+)*)\s*$', line)
        if m:
            got['distance'][int(m.group(1))] = [int(x) for x in m.group(2).split()]
        m = re.match(r'reserved: \[(0x[0-9a-f]+), (0x[0-9a-f]+)\)', line)
        if m:
            words = line.split(')', 1)[1].split()
            kind = words[2] if len(words) > 2 else ''
            got['reserved'].append((int(m.group(1), 16), int(m.group(2), 16), kind))
        m = re.match(r'heap: total (\d+) pages free', line)
        if m:
            got['heap_total'] = int(m.group(1))
        m = re.match(r'initrd: \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) (\d+) bytes, sum '
                     r'(0x[0-9a-f]+), (\d+) pages freed', line)
        if m:
            got['initrd'] = (int(m.group(1), 16), int(m.group(2), 16), int(m.group(3)),
                             int(m.group(4), 16), int(m.group(5)))
        m = re.match(r'smp: (\d+) harts up', line)
        if m:
            got['smp_up'] = int(m.group(1))
        if line.startswith('bootargs:'):
            got['bootargs'].append(line)
    return got


def compare(t, console, want):
    """Check every boot line against `want` (from expected())."""
    got = parse(console)
    t.require(got['machine'] is not None, 'no `machine:` line on the console')
    harts_total = sum(len(v) for v in want['harts'].values())
    t.check(got['machine'] == (harts_total, want['nodes'], want['ram_mib'],
                               len(want['banks'])),
            f'machine line says {got["machine"]} (harts, nodes, MiB, banks); QEMU was '
            f'given {(harts_total, want["nodes"], want["ram_mib"], len(want["banks"]))}')
    t.check(got['banks'] == want['banks'],
            f'bank lines {fmt_banks(got["banks"])} != given {fmt_banks(want["banks"])}')
    t.check(got['harts'] == want['harts'],
            f'harts lines {got["harts"]} != given {want["harts"]}')
    if want['nodes'] > 1:
        t.check(got['distance'] == want['distance'],
                f'distance lines {got["distance"]} != given {want["distance"]}')
    else:
        t.check(not got['distance'], f'one node, yet distance lines {got["distance"]}')
    all_harts = [h for v in want['harts'].values() for h in v]
    t.check(got['boot_hart'] in all_harts,
            f'booting on hart {got["boot_hart"]}, not one of the harts {all_harts}')
    t.check(got['smp_up'] == harts_total,
            f'smp line says {got["smp_up"]} harts up, QEMU was given {harts_total}')
    kinds = [k for _, _, k in got['reserved']]
    for kind in ('kernel', 'dtb'):
        t.check(kind in kinds, f'no `reserved: ... {kind}` line (got kinds {kinds})')
    starts = [s for s, _, _ in got['reserved']]
    t.check(starts == sorted(starts), f'reserved lines not in address order: '
            + ', '.join(hex(s) for s in starts))
    ram = sum(e - b for _, b, e in want['banks'])
    t.check(got['heap_total'] is not None and 0 < got['heap_total'] * PAGE <= ram,
            f'heap total {got["heap_total"]} pages is not between 1 page and the '
            f'RAM QEMU was given ({ram // PAGE} pages)')
    if got['heap_total'] is not None:
        reserved = sum(e - s for s, e, _ in got['reserved'])
        t.check(got['heap_total'] * PAGE <= ram - reserved + PAGE * len(got['reserved']),
                f'heap total {got["heap_total"]} pages is more than RAM minus the '
                f'reserved ranges ({(ram - reserved) // PAGE} pages)')
    return got


def fmt_banks(banks):
    return '[' + ', '.join(f'node {n} [{b:#x}, {e:#x})' for n, b, e in banks) + ']'


def make_initrd(path, size=300 * 1024 + 123, seed=7):
    """A file of `size` deterministic bytes; returns their 32-bit byte sum."""
    data, x = bytearray(), seed
    while len(data) < size:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        data += (x >> 24).to_bytes(5, 'little')
    data = bytes(data[:size])
    with open(path, 'wb') as f:
        f.write(data)
    return sum(data) & 0xffffffff
