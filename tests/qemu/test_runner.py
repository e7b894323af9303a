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


def cli(*args, env=None):
    p = subprocess.run([sys.executable, RUN_PY] + list(args), capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
    return p.returncode, p.stdout + p.stderr


def test_qemu_missing_or_old(t):
    # A PATH with no QEMU on it, then one whose QEMU says it is 6.2.
    empty = os.path.join(t.workdir, 'empty')
    os.makedirs(empty)
    status, out = cli(t.kernel, env=dict(os.environ, PATH=empty))
    t.check(status == 125 and 'qemu-system-riscv64 not found' in out
            and 'apt-get install' in out,
            f'no QEMU: status {status}, message {out.strip()!r}')
    old = os.path.join(t.workdir, 'old')
    os.makedirs(old)
    fake = os.path.join(old, 'qemu-system-riscv64')
    with open(fake, 'w') as f:
        f.write('#!/bin/sh\necho "QEMU emulator version 6.2.0"\n')
    os.chmod(fake, 0o755)
    status, out = cli(t.kernel, env=dict(os.environ, PATH=old + os.pathsep
                                         + os.environ.get('PATH', '')))
    t.check(status == 125 and 'too old' in out and '7.0' in out,
            f'QEMU 6.2: status {status}, message {out.strip()!r}')


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


def test_ktap_parser(t):
    """tools/ktap.py on hand-written reports: nesting at any indentation,
    console noise, SKIP, a failing case with its diagnostic, and a plan cut
    short (crashed)."""
    import ktap
    text = '\n'.join([
        'OpenSBI v1.1', 'ok 7 not ktap yet', 'KTAP version 1', '1..3',
        '\tKTAP version 1', '\t# Subtest: alpha', '\t1..2', '\tok 1 one',
        'smp: noise from another hart', '\t\t# alpha.c:9: EXPECT_EQ(a, b): 1 != 2',
        '\tnot ok 2 two', 'not ok 1 alpha',
        '  KTAP version 1', '  # Subtest: beta', '  1..1',
        '  ok 1 - three # SKIP no initrd', 'ok 2 beta # SKIP',
        '    KTAP version 1', '    # Subtest: gamma', '    1..2', '    ok 1 four',
    ])
    r = ktap.parse(text)
    got = [(c.name, c.ok, c.skipped) for c in r.cases]
    want = [('alpha.one', True, False), ('alpha.two', False, False),
            ('beta.three', True, True), ('gamma.four', True, False),
            ('gamma.(missing results)', False, False),
            ('(missing results)', False, False)]
    t.check(got == want, f'parsed {got}, expected {want}')
    two = [c for c in r.cases if c.name == 'alpha.two']
    t.check(two and any('1 != 2' in d for d in two[0].diagnostics),
            f'the diagnostic of alpha.two was lost: {two}')
    t.check(not r.complete, 'a report with missing results counts as complete')
    whole = ktap.parse('KTAP version 1\n1..1\nok 1 x\n# ktest: 1 passed, 0 failed, 0 skipped')
    t.check(whole.complete and whole.summary == (1, 0, 0) and len(whole.cases) == 1,
            f'a complete one-case report read as {whole}')
    t.check(not ktap.parse('no tests here\nok 1 x\n').found,
            'text without a KTAP version line was taken for KTAP')


def test_interactive_monitor(t):
    """`ninja qemu`: the runner tells how to leave, hands QEMU a terminal,
    the monitor answers, and `halt` ends QEMU with status 0."""
    import pty
    import select
    import signal
    import time
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, RUN_PY, '--interactive', t.kernel])
    seen = b''

    def wait_for(text, seconds):
        nonlocal seen
        end = time.monotonic() + seconds
        while text not in seen and time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    return False
        return text in seen

    try:
        t.check(wait_for(b'Ctrl-A then X', 10), 'no line saying how to leave QEMU')
        t.require(wait_for(b'numbat>', 30), 'no `numbat>` prompt:\n'
                  + seen.decode(errors='replace')[-800:])
        os.write(fd, b'halt\r')
        end = time.monotonic() + 20
        status = None
        while status is None and time.monotonic() < end:
            wait_for(b'\0', 0.2)          # keep the pty drained
            done, st = os.waitpid(pid, os.WNOHANG)
            status = os.waitstatus_to_exitcode(st) if done else None
        t.check(status == 0, f'`halt` should end QEMU with status 0, got {status}')
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
