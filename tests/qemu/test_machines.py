"""Machines the size of real ones (docs/device-tree.md, "Limits").

sg2042: one boot of 64 harts in 4 nodes (MAX_HARTS) that runs every
in-kernel suite (`ktest=*`: the SMP and mm suites among them), whose
boot lines must match what QEMU was given, and match what
build/host/dtinfo prints for the very tree QEMU made (dtinfo and the
kernel share their printing code, platform/machine_print.c; this checks
that they also read the same machine out of a real QEMU tree).

nohart0: one boot of 2node's machine with hart 0 "disabled" in the tree
(as the JH7110's and the FU740's monitor core is) running every in-kernel
suite: no hart table may assume that hart 0 exists, and hart 0 must never
be started, listed or booted on.

8node: no boot (tests/qemu/test_eightnode.py boots it): dtinfo on the
staged 8-node tree (tools/dtbgen.py) must print the 8 nodes, their banks,
harts and distances that the runner describes.
"""

import os
import re
import subprocess

import bootcheck
from test_ktest import run_all

LINE_TAGS = ('machine:', 'bank:', 'harts:', 'distance:')


def dtinfo(t, dtb):
    """dtinfo's stdout for `dtb`; the test fails when it does not exit 0."""
    tool = os.path.join(t.build, 'host', 'dtinfo')
    t.require(os.access(tool, os.X_OK), f'no {tool}: run `ninja -C {t.build} host`')
    p = subprocess.run([tool, dtb], capture_output=True, text=True, timeout=60)
    t.require(p.returncode == 0, f'dtinfo {dtb}: status {p.returncode}: {p.stderr.strip()}')
    return p.stdout


def tagged(text):
    """The machine:, bank:, harts: and distance: lines of a console or of dtinfo."""
    return [l.strip() for l in text.splitlines() if l.strip().startswith(LINE_TAGS)]


def qemu_tree(t, topology):
    """The .dtb the kernel boots on for `topology`: QEMU's own, or the staged one."""
    machine = bootcheck.numbat_run.machine_args(topology)
    qemu = bootcheck.numbat_run.find_qemu()
    staged = bootcheck.numbat_run.get_topology(topology).staged
    if staged:
        return bootcheck.dtbgen.stage(staged, qemu, machine, t.workdir)
    dts = bootcheck.dtbgen.dump_qemu_dts(qemu, machine, t.workdir)
    return bootcheck.dtbgen.compile_dts(dts, t.workdir, f'{topology}-qemu')


def test_sg2042(t):
    run_all(t, 'sg2042', timeout=300)
    console = t.runs[-1][1].console
    bootcheck.compare(t, console, bootcheck.expected('sg2042'))
    got, want = tagged(console), tagged(dtinfo(t, qemu_tree(t, 'sg2042')))
    t.check(got == want, 'the boot lines and dtinfo on QEMU\'s tree differ:\n  boot:   '
            + '\n          '.join(got) + '\n  dtinfo: ' + '\n          '.join(want))


def test_nohart0(t):
    run_all(t, 'nohart0')
    console = t.runs[-1][1].console
    got = bootcheck.compare(t, console, bootcheck.expected('nohart0'))
    t.check(got['boot_hart'] != 0, 'booted on hart 0, which the tree disables')
    t.check(not re.search(r'\bhart 0\b', console.split('Numbat: booting', 1)[-1]),
            'the kernel mentions hart 0, which the tree disables')


def test_8node_dtinfo(t):
    lines = dtinfo(t, qemu_tree(t, '8node'))
    got, want = bootcheck.parse(lines), bootcheck.expected('8node')
    t.check(got['machine'] == (0 + sum(map(len, want['harts'].values())), want['nodes'],
                               want['ram_mib'], len(want['banks'])),
            f'dtinfo says {got["machine"]} (harts, nodes, MiB, banks) for 8node')
    t.check(got['banks'] == want['banks'], f'dtinfo banks {got["banks"]} != {want["banks"]}')
    t.check(got['harts'] == want['harts'], f'dtinfo harts {got["harts"]} != {want["harts"]}')
    t.check(got['distance'] == want['distance'],
            f'dtinfo distances {got["distance"]} != {want["distance"]}')
