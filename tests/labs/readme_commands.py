"""The commands that README.md and labs/*/README.md print, and a driver
that runs them as printed (tests/labs/test_readme_commands.py).

The convention, written down in docs/testing.md ("README commands"):

- Only fenced blocks marked ```sh hold commands; a plain ``` block is
  sample output and is never run.
- Every other line of a ```sh block is one command, run by bash in the
  tree's top folder with HOME set to a scratch folder (so `~/x` is a
  scratch path); a line ending in `\\` goes on on the next line; a
  `# comment` after a command is fine; blank and `#` lines are skipped.
- A line starting with `(gdb) ` or `numbat> ` is typed into the command
  above it, at its prompt.
- A command that opens the kernel console (`ninja qemu`, `--interactive`)
  gets its typed lines, then `halt`; one that starts QEMU for gdb
  (`ninja qemu-gdb`) keeps running, in the background, while the next
  command (`ninja gdb`) runs; gdb gets its typed lines, then `delete` and
  `continue`, and `quit` once the kernel has halted.
- A command must end by itself with status 0. In a handout, status 1 is
  accepted when the output has a failed KTAP case (`not ok`): the lab's
  tests fail until the lab is done; and status 3 of a `monitor=` script
  (a command the kernel could not do, e.g. an `alloc` from the empty heap
  of a lab stub). A time limit (the runner's `timed out`,
  or ours) is always a failure.
"""

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'tools'))
import numbat_run  # noqa: E402

COMMAND_TIMEOUT = 400      # seconds one command may take (a first build under load)
PROMPT = 'numbat> '
GDB_READY = re.compile(r'waiting for gdb on port (\d+)')
# Status 1 in a handout is the lab's when a test or a heap check failed ...
LAB_NOT_DONE = r'^\s*not ok |broken rules|numbat_run: exit status 1 \('
# ... never when the command itself could not run as printed.
NOT_AS_WRITTEN = (r"ninja: error: [^\n]*|No such file or directory[^\n]*|command not found"
                  r"|unknown target[^\n]*")


@dataclasses.dataclass
class Command:
    text: str                # what bash runs
    line: int                # where it starts in the README (1-based)
    typed: list = dataclasses.field(default_factory=list)   # lines typed at its prompt

    @property
    def console(self):
        return bool(re.search(r'\bninja qemu\b(?!-)', self.text)) or '--interactive' in self.text

    @property
    def background(self):
        return bool(re.search(r'\bninja qemu-gdb\b', self.text))

    @property
    def gdb(self):
        return bool(re.search(r'\bninja gdb\b', self.text))


def commands(path):
    """The commands of every ```sh block of the Markdown file at path."""
    out, fence, in_sh, cont = [], False, False, None
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    for n, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith('```'):
            fence = not fence
            in_sh = fence and stripped[3:].strip() == 'sh'
            continue
        if not in_sh:
            continue
        if cont is not None:
            cont.text += '\n' + raw
            if not raw.rstrip().endswith('\\'):
                cont = None
            continue
        if not stripped or stripped.startswith('#'):
            continue
        m = re.match(r'(\(gdb\)|numbat>) (.*)', stripped)
        if m:
            if not out:
                raise ValueError(f'{path}:{n}: a typed line with no command above it')
            out[-1].typed.append(m.group(2))
            continue
        out.append(Command(raw, n))
        if stripped.endswith('\\'):
            cont = out[-1]
    return out


class Proc:
    """A running command whose output is collected as it comes."""

    def __init__(self, cmd, cwd, env):
        self.p = subprocess.Popen(['bash', '-c', cmd], cwd=cwd, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return
            with self.lock:
                self.buf += chunk

    @property
    def text(self):
        with self.lock:
            return self.buf.decode('utf-8', 'replace').replace('\r', '')

    def wait_for(self, pred, timeout):
        """Until pred(text) holds or the process ends; True if pred held."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.text):
                return True
            if self.p.poll() is not None:
                self.reader.join(timeout=5)
                return pred(self.text)
            time.sleep(0.1)
        return False

    def type(self, line):
        try:
            self.p.stdin.write((line + '\n').encode())
            self.p.stdin.flush()
        except OSError:
            pass

    def finish(self, timeout):
        """The exit status, or None after killing it at the time limit."""
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self.reader.join(timeout=5)
        return self.p.returncode

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.wait()


class Session:
    """Runs one README's commands in order in one tree; results are
    (Command, status, output, problem) tuples, problem '' when it passed."""

    def __init__(self, top, home, handout=False, env=None):
        self.top, self.handout = top, handout
        # Its own gdb port (configure.py reads NUMBAT_GDB_PORT): the default,
        # one per user, is shared by every tree the same user configures.
        self.env = dict(os.environ, HOME=home, NUMBAT_GDB_PORT=str(numbat_run.free_port()), **(env or {}))
        self.times = []             # (seconds, command) of every command
        self.env.pop('NINJA_STATUS', None)
        self.results = []
        self.bg = None

    def run_all(self, cmds):
        try:
            for c in cmds:
                t0 = time.monotonic()
                self.results.append(self.run_one(c))
                self.times.append((time.monotonic() - t0, c.text.strip()))
                if os.environ.get('NUMBAT_README_VERBOSE'):
                    print(f'{self.times[-1][0]:6.1f}s {c.text.strip()}', file=sys.stderr)
        finally:
            if self.bg:
                self.bg[1].kill()
                self.results.append((self.bg[0], None, self.bg[1].text,
                                     'no gdb command followed it'))
        return self.results

    def run_one(self, c):
        if c.background:
            p = Proc(c.text, self.top, self.env)
            if p.wait_for(lambda t: GDB_READY.search(t), COMMAND_TIMEOUT):
                port = int(GDB_READY.search(p.text).group(1))
                p.wait_for(lambda t: numbat_run.port_in_use(port), 30)
            self.bg = (c, p)
            if p.p.poll() is not None:
                return self.verdict(c, p.p.returncode, p.text)
            return (c, None, p.text, '')      # judged when the gdb command is done
        if c.gdb:
            return self.run_gdb(c)
        p = Proc(c.text, self.top, self.env)
        if c.console:
            # One prompt per line typed: line n goes in once the n-th prompt
            # is out. (Counting the prompts seen after typing, instead, could
            # count the answer's own prompt already and then wait for ever.)
            for n, line in enumerate(c.typed + ['halt'], start=1):
                if not p.wait_for(lambda t: t.count(PROMPT) >= n, COMMAND_TIMEOUT):
                    break
                p.type(line)
        else:
            p.p.stdin.close()
        status = p.finish(COMMAND_TIMEOUT)
        return self.verdict(c, status, p.text)

    def run_gdb(self, c):
        if not self.bg:
            return (c, None, '', 'no `ninja qemu-gdb` runs before this gdb command')
        qc, q = self.bg
        g = Proc(c.text, self.top, self.env)
        for line in c.typed + ['delete', 'continue']:
            g.type(line)
        reached = q.wait_for(lambda t: PROMPT in t, 120)
        if reached:
            q.type('halt')
        qstatus = q.finish(60)
        g.type('quit')
        try:
            g.p.stdin.close()
        except OSError:
            pass
        gstatus = g.finish(60)
        self.bg = None
        # the qemu-gdb command's own verdict replaces its placeholder
        for i, r in enumerate(self.results):
            if r[0] is qc:
                self.results[i] = self.verdict(qc, qstatus, q.text)
        problem = ''
        for line in c.typed:
            m = re.match(r'break (\w+)', line)
            if m and not re.search(r'Breakpoint \d+, (0x\w+ in )?' + m.group(1) + r'\b', g.text):
                problem = f'gdb never stopped at {m.group(1)} (`{line}`)'
        if gstatus is None:
            problem = problem or 'gdb did not end'
        elif gstatus != 0:
            problem = problem or f'gdb exited with status {gstatus}'
        return (c, gstatus, g.text, problem)

    def verdict(self, c, status, text):
        problem = ''
        if status is None:
            problem = f'did not end within {COMMAND_TIMEOUT} s (killed)'
        elif 'timed out' in text and 'QEMU killed' in text:
            problem = "the runner's time limit ran out (a command that waits for input?)"
        elif re.search(NOT_AS_WRITTEN, text):
            problem = 'it does not work as written: ' + re.search(NOT_AS_WRITTEN, text).group(0)
        elif status == 1 and self.handout and re.search(LAB_NOT_DONE, text, re.M):
            problem = ''      # the lab's tests or checks fail until the lab is done
        elif status == 3 and self.handout and 'monitor=' in c.text and \
                'impossible boot request' in text:
            problem = ''      # a script's alloc from a stub's empty heap
        elif status != 0:
            problem = f'exit status {status}'
        if 'unknown command' in text:
            problem = problem or 'the console did not know a typed command'
        return (c, status, text, problem)


def failures_text(readme, results):
    """The failed commands of one README, with the end of their output."""
    out = []
    for c, status, text, problem in results:
        if problem:
            tail = '\n'.join(text.rstrip().splitlines()[-25:])
            out.append(f'{readme}:{c.line}: `{c.text.strip()}`: {problem}\n'
                       + '\n'.join('    | ' + l for l in tail.splitlines()))
    return out
