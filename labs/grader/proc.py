"""Running one process for the grader: a time limit, a cap on its output,
and its whole process group gone when it ends."""

import os
import subprocess
import threading

OUTPUT_CAP = 256 * 1024      # bytes of output kept from one run


def run_capped(cmd, timeout, cwd=None, cap=OUTPUT_CAP, env=None):
    """Run cmd; (status, output, timed_out, capped). Output past cap bytes
    stops the process. The whole process group goes at the time limit."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    buf = bytearray()
    state = {'capped': False}
    fd = proc.stdout.fileno()

    def pump():
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:     # closed under us: a process outside the group holds it
                return
            if not chunk:
                return
            room = cap - len(buf)
            buf.extend(chunk[:max(room, 0)])
            if len(chunk) > room:
                state['capped'] = True
                kill_group(proc)
                return

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        kill_group(proc)
        proc.wait()
    reader.join(timeout=5)
    if not reader.is_alive():
        proc.stdout.close()     # else a leftover holds the pipe: let the reader end with it
    return proc.returncode, buf.decode('utf-8', 'replace'), timed_out, state['capped']


def kill_group(proc):
    try:
        os.killpg(proc.pid, 9)
    except OSError:
        pass
