"""gdb against Numbat under QEMU, the way students use it: QEMU waits for
gdb (`--gdb PORT`, as `ninja qemu-gdb`), gdb-multiarch reads
tools/gdbinit (as `ninja gdb`), sets a breakpoint in a function every boot
reaches, continues, and prints a backtrace. The backtrace must show the
function and the boot function that called it (kernel_main), each with
file:line: that proves symbols, the gdb stub and frame unwinding work
together.
"""

import os
import re
import shutil
import socket
import subprocess
import time

import numbat_run

GDB_NAMES = ['gdb-multiarch', 'riscv64-elf-gdb', 'riscv64-unknown-elf-gdb']
TIMEOUT = 60


def listening(port):
    """True once something (QEMU's gdb stub) holds the port."""
    with socket.socket() as s:
        try:
            s.bind(('', port))
        except OSError:
            return True
    return False


def backtrace_at(t, function):
    gdb = next((shutil.which(n) for n in GDB_NAMES if shutil.which(n)), None)
    t.require(gdb, 'no RISC-V gdb found (sudo apt-get install gdb-multiarch)')
    port = numbat_run.free_port()
    try:
        cmd = numbat_run.qemu_command(t.kernel, '2node', gdb_port=port,
                                      workdir=t.workdir)
    except numbat_run.RunError as e:
        t.require(False, f'cannot start QEMU: {e}')
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not listening(port) and qemu.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        t.require(qemu.poll() is None and listening(port),
                  f'QEMU is not listening for gdb on port {port}')
        gdbinit = os.path.join(t.top, 'tools', 'gdbinit')
        p = subprocess.run([gdb, '--batch', '-nx', '-x', gdbinit,
                            '-ex', f'target remote localhost:{port}',
                            '-ex', f'break {function}', '-ex', 'continue',
                            '-ex', 'bt', '-ex', 'kill', t.kernel],
                           capture_output=True, text=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        out = ''
        t.check(False, f'gdb did not finish within {TIMEOUT} s')
    finally:
        try:
            os.killpg(qemu.pid, 9)
        except ProcessLookupError:
            pass
        qemu.wait()
    return out


def test_break_and_backtrace(t):
    out = backtrace_at(t, 'init_heap_pages')
    frames = [l for l in out.splitlines() if re.match(r'#\d+\s', l)]
    shown = '\n'.join(frames) or out[-1500:]
    t.check(frames and re.search(r'\binit_heap_pages\b.* at \S+\.c:\d+', frames[0]),
            f'frame #0 is not init_heap_pages with file:line:\n{shown}')
    t.check(any(re.search(r'\bkernel_main\b.* at \S*kernel/main\.c:\d+', f) for f in frames),
            f'the backtrace does not reach kernel_main (kernel/main.c:LINE):\n{shown}')
    t.check('Breakpoint 1,' in out, f'the breakpoint was never hit:\n{out[-1500:]}')
