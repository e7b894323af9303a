"""The sandbox: where everything derived from a submission runs.

The compiler (configure.py and ninja), a host test binary and QEMU each
run as one *step*. A step sees only what it is given:

- bubblewrap (`bwrap`): new user, PID, network, IPC, UTS and mount
  namespaces; /usr, /etc and the /bin, /lib links read-only; the paths
  the step names, read-only or writable (the pristine tree, the build
  folder, one binary); a private /tmp and /dev; nothing else of the
  machine (not the grader's output folder, not the upload, not the real
  repository with its reference solutions and hidden tests, not another
  submission). When the step's first process ends, the kernel kills
  everything else in its PID namespace, so nothing it started outlives
  it, whatever it did with fork and setsid.
- the fallback, where bwrap cannot make namespaces (a container without
  the privilege): the same limits, its own session, a clean environment,
  and - when the grader is root - a uid of its own, so that a sweep can
  kill whatever that uid left and it cannot write the grader's files.
  It cannot hide files: the report says `Sandbox: fallback (...)`, and
  `--sandbox=require` refuses to grade there.
- off (`--sandbox=off`): trusted code only, as the self-tests' slots.

Every step gets limits (prlimit, inherited by what it starts): CPU
seconds, address space, file size, open files and processes. QEMU's
guest RAM is address space it reserves, so its limit grows with the
machine; AddressSanitizer reserves ~20 TiB of shadow, so a host test's
address space is left wide and its memory is held by ASan's own RSS
limit instead.

As root, a grading gets a private uid (and a gid of the same number)
from a range no account uses; the writable folders are handed to it.
"""

import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import time

from grader.proc import run_capped

BWRAP = 'bwrap'
UID_BASE, UID_SPAN = 1_900_000_000, 50_000_000   # private uids: no account there

GiB = 1 << 30
LIMITS_BUILD = {'as': 2 * GiB, 'cpu': 300, 'fsize': 256 << 20, 'nofile': 1024, 'nproc': 256}
LIMITS_HOST = {'as': 32 << 40, 'cpu': 120, 'fsize': 64 << 20, 'nofile': 256, 'nproc': 64}
LIMITS_QEMU = {'as': 4 * GiB, 'cpu': 300, 'fsize': 64 << 20, 'nofile': 1024, 'nproc': 256}
ASAN_OPTIONS = 'hard_rss_limit_mb=1024:allocator_may_return_null=1:detect_leaks=0'

MODES = ('auto', 'require', 'off')


class SandboxError(Exception):
    """The sandbox cannot be set up as asked (e.g. --sandbox=require here)."""


def qemu_limits(guest_mib):
    """QEMU's limits: its guest RAM plus room for itself (TCG's code buffer)."""
    return dict(LIMITS_QEMU, **{'as': (guest_mib << 20) + 4 * GiB})


_probe_cache = {}


def probe(uid):
    """None when bwrap can make its namespaces as this uid, else why not."""
    key = uid is not None
    if key in _probe_cache:
        return _probe_cache[key]
    why = None
    if not shutil.which(BWRAP):
        why = 'bwrap is not installed (apt-get install bubblewrap)'
    else:
        cmd = drop(uid) + [BWRAP] + NAMESPACES + system_binds() + ['--', '/usr/bin/true']
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                why = (r.stderr.strip().splitlines() or [f'status {r.returncode}'])[-1]
        except (OSError, subprocess.TimeoutExpired) as e:
            why = f'bwrap did not run: {e}'
    _probe_cache[key] = why
    return why


NAMESPACES = ['--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc',
              '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session',
              '--cap-drop', 'ALL']


def system_binds():
    """The toolchain, read-only: /usr, /etc, and /bin, /sbin, /lib* as the
    machine has them (links on a merged-/usr system, folders elsewhere).
    Steps keep the grader's PATH, but what it names outside these is not
    there: the grading machine's tools must be installed under /usr (the
    Debian packages of --install-deps are). /opt and the homes are left
    out on purpose: a course repository may live there."""
    args = ['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc']
    for d in ('/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'):
        if os.path.islink(d):
            args += ['--symlink', os.readlink(d), d]
        elif os.path.isdir(d):
            args += ['--ro-bind', d, d]
    return args + ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp']


def drop(uid):
    """The command prefix that runs what follows as uid (and gid uid)."""
    if uid is None:
        return []
    return ['setpriv', f'--reuid={uid}', f'--regid={uid}', '--clear-groups', '--']


def prlimit(limits):
    return ['prlimit', f'--as={limits["as"]}', f'--cpu={limits["cpu"]}',
            f'--fsize={limits["fsize"]}', f'--nofile={limits["nofile"]}',
            f'--nproc={limits["nproc"]}', '--core=0', '--']


def python_for_steps():
    """A Python every uid can run (the grader's own may live in a private
    home): the system's, else this one."""
    for p in ('/usr/bin/python3', '/bin/python3'):
        if os.access(p, os.X_OK):
            return p
    return sys.executable


class Sandbox:
    """One grading's sandbox. mode: 'auto' (bubblewrap, else the fallback),
    'require' (bubblewrap or SandboxError) or 'off'."""

    def __init__(self, mode='auto'):
        if mode not in MODES:
            raise SandboxError(f'--sandbox={mode}: choose one of {", ".join(MODES)}')
        self.uid = None
        if mode != 'off' and os.geteuid() == 0:
            self.uid = private_uid()
        self.kind, self.why = 'off', ''
        if mode != 'off':
            why = probe(self.uid)
            if why is None:
                self.kind = 'bubblewrap'
            elif mode == 'require':
                raise SandboxError(f'--sandbox=require: bubblewrap cannot make its '
                                   f'namespaces here ({why}); grade on a machine where it '
                                   'can, or use --sandbox=auto to accept the fallback')
            else:
                self.kind, self.why = 'fallback', why
        self.python = python_for_steps()

    def describe(self):
        if self.kind == 'bubblewrap':
            return 'Sandbox: bubblewrap'
        if self.kind == 'fallback':
            who = (f'a private uid {self.uid}' if self.uid is not None else
                   'the grader\'s own uid (not root: no private uid)')
            return f'Sandbox: fallback (no namespaces: {self.why}; {who}, limits, a sweep)'
        return 'Sandbox: off (trusted code only)'

    # --- folders ---------------------------------------------------------------

    def own(self, path):
        """Hand a folder (recursively) to the sandbox's uid: a step may write it."""
        if self.uid is None:
            return
        for root, dirs, files in os.walk(path):
            os.lchown(root, self.uid, self.uid)
            for f in files:
                os.lchown(os.path.join(root, f), self.uid, self.uid)

    def seal(self, path):
        """Take a folder back from the sandbox's uid: steps may read it (as
        its group), no longer change it (the fallback's defence of a
        built kernel against the host tests that run later)."""
        if self.uid is None:
            return
        for root, dirs, files in os.walk(path):
            for p in [root] + [os.path.join(root, f) for f in files]:
                if os.path.islink(p):
                    continue
                os.lchown(p, 0, self.uid)
                os.chmod(p, os.lstat(p).st_mode & 0o750)

    def hide(self, path):
        """A file the steps that follow must not read (a hidden test's
        source, once built): the grader's alone."""
        if self.uid is None:
            return
        os.chown(path, 0, 0)
        os.chmod(path, 0o600)

    def readable(self, path):
        """Let the sandbox's uid (only it, in the fallback) read a folder."""
        if self.uid is None:
            return
        os.chown(path, 0, self.uid)
        os.chmod(path, 0o750)

    # --- steps ------------------------------------------------------------------

    def prefix(self, ro=(), rw=(), limits=LIMITS_BUILD, cwd=None, env=None):
        """The command prefix of one step (see the module comment)."""
        env = dict(env or {})
        env.setdefault('PATH', os.environ.get('PATH') or '/usr/bin:/bin')
        env.setdefault('HOME', '/tmp')
        env.setdefault('TMPDIR', '/tmp')
        env.setdefault('LANG', 'C.UTF-8')
        envcmd = ['env', '-i'] + [f'{k}={v}' for k, v in sorted(env.items())]
        if self.kind == 'off':
            return envcmd
        if self.kind == 'fallback':
            return drop(self.uid) + prlimit(limits) + envcmd
        args = [BWRAP] + NAMESPACES + system_binds()
        for p in ro:
            args += ['--ro-bind', p, p]
        for p in rw:
            args += ['--bind', p, p]
        if cwd:
            args += ['--chdir', cwd]
        return drop(self.uid) + args + ['--'] + prlimit(limits) + envcmd

    def run(self, cmd, timeout, ro=(), rw=(), limits=LIMITS_BUILD, cwd=None, env=None):
        """Run one step; (status, output, timed_out, capped) as run_capped."""
        return run_capped(self.prefix(ro, rw, limits, cwd, env) + list(cmd), timeout, cwd=cwd)

    def sweep(self):
        """Kill whatever the private uid still runs (the fallback's only way
        to end a daemon; under bubblewrap a harmless extra). kill(-1) as
        that uid reaches every process of it at once, also a fork loop."""
        if self.uid is None:
            return
        for _ in range(5):
            if not processes_of(self.uid):
                return
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setresgid(self.uid, self.uid, self.uid)
                    os.setresuid(self.uid, self.uid, self.uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            time.sleep(0.05)


def private_uid():
    """A uid no account has, for one grading (random in a high range)."""
    rnd = random.SystemRandom()
    while True:
        uid = UID_BASE + rnd.randrange(UID_SPAN)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not processes_of(uid):
                return uid


def processes_of(uid):
    """Pids of the processes whose real uid is uid."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/status') as f:
                for line in f:
                    if line.startswith('Uid:'):
                        if int(line.split()[1]) == uid:
                            out.append(int(d))
                        break
        except OSError:
            pass
    return out


def reachable(path):
    """Give every folder above path the search bit for others, so that a
    step's uid can reach it (a bind source must be reachable)."""
    if os.geteuid() != 0:
        return
    p = os.path.dirname(os.path.abspath(path))
    while p not in ('/', ''):
        st = os.stat(p)
        if not st.st_mode & 0o001:
            os.chmod(p, (st.st_mode & 0o7777) | 0o001)
        p = os.path.dirname(p)
