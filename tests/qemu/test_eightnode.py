"""Past QEMU 7.2's limit of 4 NUMA nodes on `virt` (docs/device-tree.md):
the staged `8node` topology (tools/dtbgen.py splits each of 4 nodes' RAM
in two) boots, the kernel sees all 8 nodes, their banks and distances,
allocates on a node without harts, and refuses node 8 by name."""

import bootcheck
from test_monitor import monitor_append, one_line, output_of, sections


def test_8node_boots_and_allocates(t):
    script = ['alloc 0 node 7 exact', 'alloc 0 node 8', 'check']
    r = t.boot(topology='8node', append=monitor_append(script), timeout=60)
    t.require(not r.timed_out and 'Numbat ready' in r.console,
              f'8node did not boot: {r.describe()}')
    bootcheck.compare(t, r.console, bootcheck.expected('8node'))
    secs = sections(r.console)
    t.check(any('node 7 zone' in l for l in output_of(t, secs, 'alloc 0 node 7 exact')),
            'alloc 0 node 7 exact did not come from node 7')
    one_line(t, secs, 'alloc 0 node 8', 'node 8 does not exist: this machine has nodes 0 to 7')
    t.check(any('every heap rule holds' in l for l in output_of(t, secs, 'check')),
            'the heap rules do not hold on 8node')
