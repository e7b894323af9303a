"""The runner itself (tools/numbat_run.py), on tiny bare-metal payloads
(tools/baremetal.py) and on the kernel's ELF: exit statuses pass through,
a console flood is cut off, a hang is killed at the time limit, backtraces
are symbolised, and bad requests get clear messages with status 125."""

import os
import re
import socket
import subprocess
import sys

import baremetal
import numbat_run

RUN_PY = os.path.join(numbat_run.TOP, 'tools', 'numbat_run.py')


def boot_elf(t, elf, **kw):
    try:
        return numbat_run.run(elf, workdir=t.workdir, **kw)
    except numbat_run.RunError as e:
        t.require(False, f'cannot boot {elf}: {e}')


def test_exit_status_passes_through(t):
    for code in (0, 1, 2, 3):
        r = boot_elf(t, baremetal.exit_elf(t.workdir, code), timeout=20)
        t.check(r.status == code and not r.timed_out,
                f'payload powered off with {code}, runner says {r.describe()}')


def test_flood_is_capped(t):
    r = boot_elf(t, baremetal.flood_elf(t.workdir), timeout=30, output_cap=64 * 1024)
    t.check(r.capped and not r.timed_out, f'a console flood was not cut off: {r.describe()}')
    t.check(len(r.console) <= 64 * 1024, f'kept {len(r.console)} bytes, cap 65536')
    t.check(r.seconds < 20, f'stopping the flood took {r.seconds:.1f} s')


def test_hang_is_killed(t):
    elf = baremetal.build(t.workdir, 'hang', '1:\tj 1b')
    r = boot_elf(t, elf, timeout=2)
    t.check(r.timed_out and r.status == numbat_run.TIMEOUT_STATUS,
            f'a hang should end as timed out (124): {r.describe()}')
    t.check(r.seconds < 7, f'the 2 s limit took {r.seconds:.1f} s')


def test_symbolise_backtrace(t):
    nm = numbat_run.find_cross_tool('nm')
    t.require(nm and os.path.exists(t.kernel), 'needs the cross nm and the kernel ELF')
    syms = subprocess.run([nm, t.kernel], capture_output=True, text=True).stdout
    m = re.search(r'^([0-9a-f]+) T kernel_main$', syms, re.M)
    t.require(m, 'kernel_main not in the kernel symbol table')
    addr = int(m.group(1), 16) + 8
    text = (f'PANIC on hart 0: test\n  sepc 0x{addr:016x} stval 0x0\n'
            f'backtrace:\n  #0 0x{addr:016x}\n  #1 0x{addr + 4:016x}\n')
    out = numbat_run.symbolise(text, t.kernel)
    for frame in ('#0', '#1'):
        t.check(re.search(frame + r' 0x[0-9a-f]+ kernel_main at kernel/\S+\.c:\d+', out),
                f'frame {frame} not symbolised to kernel_main at kernel/FILE.c:LINE:\n{out}')
    t.check(re.search(r'sepc -> kernel_main at', out), f'sepc not symbolised:\n{out}')


def cli(*args):
    p = subprocess.run([sys.executable, RUN_PY] + list(args), capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def test_cli_messages(t):
    status, out = cli('--topology', 'moon', t.kernel)
    t.check(status == 125 and 'unknown topology' in out and '2node' in out,
            f'bad topology: status {status}, message {out.strip()!r}')
    status, out = cli(os.path.join(t.workdir, 'missing.elf'))
    t.check(status == 125 and 'run ninja first' in out,
            f'missing kernel: status {status}, message {out.strip()!r}')
    status, out = cli('--mem', '12X', t.kernel)
    t.check(status == 125 and '128M' in out, f'bad --mem: {status} {out.strip()!r}')
    with socket.socket() as s:
        s.bind(('', 0))
        s.listen()
        port = s.getsockname()[1]
        status, out = cli('--interactive', '--gdb', str(port), t.kernel)
    t.check(status == 125 and 'in use' in out and '--gdb-port' in out,
            f'gdb port in use: status {status}, message {out.strip()!r}')
    status, out = cli('--append', 'ktest=nomatch*', '--timeout', '20', t.kernel)
    t.check(status == 3, f'the CLI should exit with the kernel status 3, got {status}')
