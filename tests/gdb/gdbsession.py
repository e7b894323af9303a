"""One gdb session against Numbat, the way `ninja qemu-gdb` + `ninja gdb`
make it: QEMU starts halted and waits for gdb on a free port, then
gdb-multiarch runs in batch mode with tools/gdbinit, attaches, runs the
commands it is given, and kills the machine. What the tests in
tests/gdb/test_*.py share."""

import os
import shutil
import subprocess
import time

import numbat_run

GDB_NAMES = ['gdb-multiarch', 'riscv64-elf-gdb', 'riscv64-unknown-elf-gdb']
TIMEOUT = 60          # seconds for the whole gdb run
LISTEN_TIMEOUT = 20   # seconds for QEMU to open its gdb port


def find_gdb(t):
    gdb = next((shutil.which(n) for n in GDB_NAMES if shutil.which(n)), None)
    t.require(gdb, 'no RISC-V gdb found (sudo apt-get install gdb-multiarch)')
    return gdb


def run(t, gdb_commands, topology='2node', append='', console_path=None):
    """Boot `topology` halted under gdb, run `gdb_commands` (each one -ex)
    and return gdb's output, stdout and stderr in one stream so that an
    error stays beside its command. QEMU's console goes to console_path
    when given. QEMU is killed in every case."""
    gdb = find_gdb(t)
    port = numbat_run.free_port()
    try:
        cmd = numbat_run.qemu_command(t.kernel, topology, gdb_port=port, append=append,
                                      workdir=t.workdir)
    except numbat_run.RunError as e:
        t.require(False, f'cannot start QEMU: {e}')
    console = open(console_path, 'wb') if console_path else subprocess.DEVNULL
    try:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    finally:
        if console_path:
            console.close()
    try:
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while not numbat_run.port_in_use(port) and qemu.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        t.require(qemu.poll() is None and numbat_run.port_in_use(port),
                  f'QEMU is not listening for gdb on port {port}')
        args = [gdb, '--batch', '-nx', '-x', os.path.join(t.top, 'tools', 'gdbinit'),
                '-ex', f'target remote localhost:{port}']
        for c in gdb_commands:
            args += ['-ex', c]
        args += ['-ex', 'kill', t.kernel]
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL).stdout
    except subprocess.TimeoutExpired:
        t.check(False, f'gdb did not finish within {TIMEOUT} s')
        return ''
    finally:
        try:
            os.killpg(qemu.pid, 9)
        except ProcessLookupError:
            pass
        qemu.wait()
