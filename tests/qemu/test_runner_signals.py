"""How the runner (tools/numbat_run.py) ends: a SIGTERM to the runner, or
even a SIGKILL to a program that boots through it (tests/bench/run.py, the
grader), leaves no QEMU behind; and a QEMU that cannot start gives status
125 with a message, never 1 (which means "in-kernel tests failed").

A QEMU of the runner is found as a process whose parent is the runner and
whose command line names the kernel; it counts as gone once /proc no
longer lists it or lists it as a zombie."""

import os
import signal
import subprocess
import sys
import time

import numbat_run

RUN_PY = os.path.join(numbat_run.TOP, 'tools', 'numbat_run.py')
LIMIT = 30          # seconds any step below may take before the test gives up


def children_named(ppid, word):
    """Pids of live processes whose parent is ppid and whose command line
    contains word."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/stat') as f:
                stat = f.read().rsplit(')', 1)[1].split()
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue
        if int(stat[1]) == ppid and stat[0] != 'Z' and word in cmd:
            found.append(int(pid))
    return found


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def wait_until(cond, seconds=LIMIT):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(0.1)
    return cond()


def start_and_find_qemu(t, argv):
    """Start argv (reading its output), wait for a QEMU child booting the
    kernel; returns (proc, qemu pid)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    qemus = []
    wait_until(lambda: qemus.extend(children_named(proc.pid, 'qemu-system')) or qemus
               or proc.poll() is not None)
    if not qemus:
        proc.kill()
        out = proc.communicate()[0].decode(errors='replace')
        t.require(False, f'no QEMU child of {argv[:3]} appeared:\n{out[-800:]}')
    return proc, qemus[0]


def finish(proc):
    try:
        proc.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode


def test_sigterm_ends_qemu(t):
    """`timeout 50 ninja bench` sends SIGTERM: the runner must end its QEMU."""
    proc, qemu = start_and_find_qemu(
        t, [sys.executable, RUN_PY, '--timeout', '120', t.kernel])
    try:
        proc.send_signal(signal.SIGTERM)
        status = finish(proc)
        t.check(status == 128 + signal.SIGTERM,
                f'a runner sent SIGTERM should exit 143, got {status}')
        t.check(wait_until(lambda: not alive(qemu)),
                f'QEMU {qemu} still runs after its runner got SIGTERM')
    finally:
        if alive(qemu):
            os.kill(qemu, signal.SIGKILL)


DRIVER = """
import sys, threading
sys.path.insert(0, sys.argv[1])
import numbat_run
th = threading.Thread(target=numbat_run.run, args=(sys.argv[2],), kwargs={'timeout': 120})
th.start()
th.join()
"""


def test_killed_driver_ends_qemu(t):
    """A program that boots through numbat_run.run() from a worker thread
    (tests/run.py, tests/bench/run.py) and is killed outright, with no
    chance to clean up: its QEMU dies with it (the parent-death signal)."""
    proc, qemu = start_and_find_qemu(
        t, [sys.executable, '-c', DRIVER, os.path.dirname(RUN_PY), t.kernel])
    try:
        proc.send_signal(signal.SIGKILL)
        finish(proc)
        t.check(wait_until(lambda: not alive(qemu)),
                f'QEMU {qemu} still runs after the program that started it was killed')
    finally:
        if alive(qemu):
            os.kill(qemu, signal.SIGKILL)


def cli(args, env=None):
    p = subprocess.run([sys.executable, RUN_PY] + args, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL, env=env)
    return p.returncode, p.stdout + p.stderr


def test_qemu_cannot_start_is_125(t):
    """QEMU that says its version but cannot run the machine, one that is
    not a program at all, and a real QEMU given an option it refuses."""
    fake_dir = os.path.join(t.workdir, 'fake')
    os.makedirs(fake_dir)
    fake = os.path.join(fake_dir, 'qemu-system-riscv64')
    with open(fake, 'w') as f:
        f.write('#!/bin/sh\n[ "$1" = --version ] && { echo "QEMU emulator version 7.2.0"; '
                'exit 0; }\necho "qemu-system-riscv64: cannot start the machine" >&2\n'
                'exit 1\n')
    os.chmod(fake, 0o755)
    env = dict(os.environ, PATH=fake_dir + os.pathsep + os.environ.get('PATH', ''))
    status, out = cli([t.kernel], env=env)
    t.check(status == numbat_run.CANNOT_RUN_STATUS and 'could not start' in out
            and 'cannot start the machine' in out,
            f'a QEMU that fails at once: status {status} (want 125), output {out.strip()!r}')
    with open(fake, 'w') as f:
        f.write('#!/nonexistent/interpreter\n')
    status, out = cli([t.kernel], env=env)
    t.check(status == numbat_run.CANNOT_RUN_STATUS and 'qemu-system-riscv64' in out,
            f'a QEMU that cannot run: status {status} (want 125), output {out.strip()!r}')
    status, out = cli([t.kernel, '--', '-no-such-option'])
    t.check(status == numbat_run.CANNOT_RUN_STATUS and 'invalid option' in out
            and 'could not start' in out,
            f'a refused QEMU option: status {status} (want 125), output {out.strip()!r}')
