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

A first boot without gdb learns which frame `alloc 3` hands out (boots are
deterministic), so the second can decode that frame both ways.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import numbat_run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'qemu'))
import test_monitor  # noqa: E402  (its script and parsing helpers)

GDB_NAMES = ['gdb-multiarch', 'riscv64-elf-gdb', 'riscv64-unknown-elf-gdb']
TIMEOUT = 60
ALLOCS = ['alloc 3', 'alloc 0 node 1']


def listening(port):
    import socket
    with socket.socket() as s:
        try:
            s.bind(('', port))
        except OSError:
            return True
    return False


def learn_alloc(t):
    r, secs = test_monitor.run_script(t, '2node', ALLOCS, label='2node learn')
    m = test_monitor.ALLOC_RE.match((test_monitor.output_of(t, secs, 'alloc 3') or [''])[0])
    t.require(m, 'no `alloc:` line for alloc 3')
    return int(m.group(2), 16)


def run_under_gdb(t, script, gdb_commands):
    """(console, gdb output) of a 2node boot running `script`, with gdb
    running `gdb_commands` once the kernel reaches poweroff()."""
    gdb = next((shutil.which(n) for n in GDB_NAMES if shutil.which(n)), None)
    t.require(gdb, 'no RISC-V gdb found (sudo apt-get install gdb-multiarch)')
    port = numbat_run.free_port()
    console_path = os.path.join(t.workdir, 'console.txt')
    try:
        cmd = numbat_run.qemu_command(t.kernel, '2node', gdb_port=port,
                                      append=test_monitor.monitor_append(script),
                                      workdir=t.workdir)
    except numbat_run.RunError as e:
        t.require(False, f'cannot start QEMU: {e}')
    with open(console_path, 'wb') as console:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    out = ''
    try:
        deadline = time.monotonic() + 20
        while not listening(port) and qemu.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        t.require(qemu.poll() is None and listening(port),
                  f'QEMU is not listening for gdb on port {port}')
        args = [gdb, '--batch', '-nx', '-x', os.path.join(t.top, 'tools', 'gdbinit'),
                '-ex', f'target remote localhost:{port}',
                '-ex', 'echo ==early\\n', '-ex', 'numbat-heap',
                '-ex', 'break poweroff', '-ex', 'continue']
        for c in gdb_commands:
            args += ['-ex', f'echo =={c}\\n', '-ex', c]
        args += ['-ex', 'kill', t.kernel]
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        out = p.stdout      # one stream, so errors stay beside their command
    except subprocess.TimeoutExpired:
        t.check(False, f'gdb did not finish within {TIMEOUT} s')
    finally:
        try:
            os.killpg(qemu.pid, 9)
        except ProcessLookupError:
            pass
        qemu.wait()
    with open(console_path, encoding='utf-8', errors='replace') as f:
        console = f.read().replace('\r', '')
    return console, out


def gdb_sections(out):
    """{command: [lines]} from the `==command` markers echoed before each."""
    secs, cur = {}, None
    for line in out.splitlines():
        if line.startswith('=='):
            cur = line[2:]
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
    return secs


def same_lines(t, what, monitor, gdb, prefix):
    a = [l.rstrip() for l in monitor if l.lstrip().startswith(prefix)]
    b = [l.rstrip() for l in gdb if l.lstrip().startswith(prefix)]
    t.check(a and a == b, f'{what}: monitor and gdb disagree\n  monitor: {a}\n  gdb:     {b}')


def test_gdb_helpers_match_monitor(t):
    mfn = learn_alloc(t)
    script = ALLOCS + ['heap', f'page {mfn:#x}', 'page 0x88000', 'page 0x80000',
                       'buddy 1 20 3', 'mem', 'halt']
    pairs = [('heap', 'numbat-heap', 'heap:'),
             (f'page {mfn:#x}', f'numbat-page {mfn:#x}', 'page:'),
             ('page 0x88000', 'numbat-page 0x88000', 'page:'),
             ('page 0x80000', 'numbat-page 0x80000', 'page:'),
             ('buddy 1 20 3', 'numbat-buddy 1 20 3', 'buddy:'),
             ('mem', 'numbat-mem', ('mem:', 'bank', 'reserved'))]
    console, out = run_under_gdb(t, script, [g for _, g, _ in pairs])
    t.require('Breakpoint 1, poweroff' in out or 'Breakpoint 1,' in out,
              f'gdb never stopped at poweroff:\n{out[-1500:]}')
    early = gdb_sections(out).get('early', [])
    t.check(any('heap does not exist yet' in l or 'frame table does not exist yet' in l
                for l in early),
            f'numbat-heap before boot should say there is no heap yet: {early}')
    mon = dict(test_monitor.sections(console))
    secs = gdb_sections(out)
    for monitor_cmd, gdb_cmd, prefix in pairs:
        t.check(monitor_cmd in mon, f'the monitor never ran `{monitor_cmd}`')
        t.check(gdb_cmd in secs, f'gdb never ran `{gdb_cmd}`')
        same_lines(t, gdb_cmd, mon.get(monitor_cmd, []), secs.get(gdb_cmd, []), prefix)
    page = secs.get(f'numbat-page {mfn:#x}', [])
    t.check(any('state inuse' in l for l in page),
            f'the frame `alloc 3` handed out should be inuse in gdb: {page}')
    orders = [l for l in secs.get('numbat-heap', []) if re.match(r'heap: node \d+ zone \d+ order', l)]
    t.check(len(orders) >= 5, f'numbat-heap listed only {len(orders)} order lines')
