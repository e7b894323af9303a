"""tools/memmap.py, the picture tool, as a command: on a dump the kernel
printed (one real 1node boot, with console noise around the dump lines),
from a file and from standard input, and on each kind of bad input, which
must give exit status 1 and one line naming the problem.

tests/qemu/test_monitor.py checks what the pictures contain (rects per
run, colours, legend, changes after an allocation); this file checks the
command around them.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMMAP = os.path.join(TOP, 'tools', 'memmap.py')


def memmap(args, stdin=''):
    p = subprocess.run([sys.executable, MEMMAP] + args, input=stdin, text=True,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def real_dump(t):
    r = t.boot(topology='1node', append='monitor="alloc 4; dump; halt"', timeout=30)
    t.require(r.status == 0 and 'dump: end node 0' in r.console,
              f'no complete dump from the kernel: {r.describe()}')
    return r.console


def test_memmap_command(t):
    console = real_dump(t)
    log = os.path.join(t.workdir, 'boot.log')
    with open(log, 'w') as f:
        f.write(console)
    out = os.path.join(t.workdir, 'pics')
    status, stdout, stderr = memmap([log, '-o', out])
    t.check(status == 0 and 'node 0' in stdout, f'memmap on a boot log: {status} {stderr}')
    svg = os.path.join(out, 'node0.svg')
    t.require(os.path.exists(svg), f'no {svg} written')
    ET.parse(svg)                       # must be well-formed XML
    status, _, stderr = memmap(['-', '-o', os.path.join(t.workdir, 'stdin')], console)
    t.check(status == 0 and os.path.exists(os.path.join(t.workdir, 'stdin', 'node0.svg')),
            f'memmap - (standard input) failed: {stderr}')
    twice = console + '\n' + console
    status, stdout, _ = memmap(['-', '-o', os.path.join(t.workdir, 'twice')], twice)
    t.check(status == 0 and sorted(os.listdir(os.path.join(t.workdir, 'twice')))
            == ['node0-1.svg', 'node0-2.svg'], f'two dumps of node 0: {stdout}')


def test_memmap_refuses_bad_input(t):
    good = ('noise\ndump: begin node 0 [0x80000, 0x80010) frames 16 format 1\n'
            'dump: zone 20 [0x80000, 0x80010)\n'
            'dump: run [0x80000, 0x80008) reserved\n'
            'dump: free [0x80008, 0x80010) order 3\n'
            'dump: end node 0 runs 2\nmore noise\n')
    status, _, err = memmap(['-', '-o', os.path.join(t.workdir, 'good')], good)
    t.check(status == 0, f'a small hand-written dump was refused: {err}')
    bad = {
        'no dump': ('just a boot log\n', 'no `dump: begin` line'),
        'cut off': (good.split('dump: end')[0], 'no `dump: end` line'),
        'gap': (good.replace('[0x80008, 0x80010) order', '[0x80009, 0x80010) order'),
                'does not follow'),
        'state': (good.replace(') reserved', ') purple'), "unknown state 'purple'"),
        'count': (good.replace('runs 2', 'runs 3'), 'with 3 runs'),
    }
    for what, (text, needle) in bad.items():
        status, _, err = memmap(['-', '-o', os.path.join(t.workdir, 'bad')], text)
        lines = err.strip().splitlines()
        t.check(status == 1 and len(lines) == 1 and needle in lines[0],
                f'{what}: want exit 1 and one line with {needle!r}, got {status} {lines}')
    status, _, err = memmap([os.path.join(t.workdir, 'nosuchfile'), '-o', t.workdir])
    t.check(status == 1 and 'cannot read' in err, f'a missing file: {status} {err}')
