#!/usr/bin/env python3
"""Boot Numbat under QEMU: the one place that knows how.

Everything that starts QEMU goes through here: `ninja qemu`, `ninja
qemu-gdb`, the QEMU boot tests, the grader and the benchmarks. It turns a
topology name into QEMU options, runs QEMU with a hard time limit and an
output cap, and hands back what the kernel printed and how it ended.

As a module:

    from numbat_run import run
    r = run('build/numbat.elf', topology='2node', append='ktest=*')
    r.status      # the kernel's exit status (docs/boot-output.md), or
                  # TIMEOUT_STATUS (124) when the time limit ran out
    r.console     # what the kernel printed, backtraces symbolised

As a command (what configure.py wires to `ninja qemu`):

    tools/numbat_run.py [--topology T] [--mem M] [--smp N] [--append ARGS]
                        [--initrd FILE] [--dtb FILE] [--timeout S]
                        [--interactive] [--gdb PORT] KERNEL [-- QEMU-ARGS]

The command prints the console and exits with the kernel's status, 124
when the time limit ran out, and 125 when the run could not start: no
QEMU, a QEMU that cannot run or refuses its options before the kernel's
first line (the message says why and what to do).

SIGTERM, SIGHUP or Ctrl-C end every QEMU the runner started before the
runner itself ends (128 + the signal's number, as a shell reports it).
As a backstop, each QEMU is also asked to die with the thread that
started it (Linux's parent-death signal), so not even a SIGKILL of the
runner leaves a QEMU spinning. A program that imports this module and
runs boots from its main thread calls end_qemus_on_signals() once.

Topologies (a node is a NUMA node; "harts" are RISC-V CPUs):

    1node    128 MiB, 1 hart
    2node    2 x 128 MiB, 4 harts (2 per node), distance 20
    4node    4 x 128 MiB, 4 harts (1 per node), ring distances 10/20/30
    memless  3 nodes; node 2 has a hart but no memory
    cpuless  2node's machine with a third node that has memory but no harts;
             QEMU 7.2 cannot build this with -numa, so we stage it: dump
             QEMU's own device tree, move half of node 1's RAM to node 2,
             and boot with -dtb (see tools/dtbgen.py)
    big      16 GiB in 4 nodes, 8 harts (for the benchmarks)
    sg2042   512 MiB in 4 nodes, 64 harts (16 per node), distances 15/25/30:
             the CPU layout of a Sophgo SG2042 (Milk-V Pioneer), MAX_HARTS
    nohart0  2node's machine with hart 0 "disabled" in the tree, as a board's
             monitor core is (JH7110, FU740): harts 1-3 (staged, tools/dtbgen.py)
    8node    768 MiB in 8 nodes, 4 harts on nodes 0-3; QEMU 7.2's virt takes at
             most 4 NUMA nodes, so we stage it like cpuless: each of 4 nodes
             gives the top half of its RAM to node N + 4 (tools/dtbgen.py)

Python standard library only.
"""

import argparse
import ctypes
import ctypes.util
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TIMEOUT_STATUS = 124        # like timeout(1): the time limit ran out
CANNOT_RUN_STATUS = 125     # the runner could not start the run
OUTPUT_CAP = 4 << 20        # bytes of console kept before QEMU is stopped
QEMU_MIN_VERSION = (7, 0)   # aia=aplic (needed for > 2 nodes) came in 7.0
CROSS_PREFIXES = ['riscv64-unknown-elf-', 'riscv64-linux-gnu-', 'riscv64-elf-']
LEAVE_HINT = 'numbat_run: QEMU owns this terminal now; leave with Ctrl-A then X.'


class RunError(Exception):
    """A run that could not start; the message says why and what to do."""


@dataclasses.dataclass
class Result:
    console: str                 # kernel console text (stdout), symbolised
    status: int                  # QEMU's exit status = the kernel's, or 124
    timed_out: bool              # the time limit ran out and QEMU was killed
    command: list                # the QEMU command line that ran
    seconds: float = 0.0         # wall time from start to exit
    capped: bool = False         # console passed OUTPUT_CAP; QEMU was stopped
    qemu_errors: str = ''        # QEMU's own stderr (bad options, bad -dtb, ...)
    watch_seconds: float = None  # when `watch` first appeared, else None
    cap: int = OUTPUT_CAP        # the output cap this run had, in bytes

    @property
    def qemu_failed(self):
        """QEMU reported an error and the kernel never printed its first line."""
        return 'qemu-system' in self.qemu_errors and 'Numbat:' not in self.console

    def describe(self):
        """One line on how the run ended, for people."""
        if self.capped:
            return (f'console output passed {self.cap} bytes and was cut off '
                    f'(a print loop?); QEMU was stopped after {self.seconds:.1f} s')
        if self.timed_out:
            return f'timed out after {self.seconds:.1f} s (QEMU killed)'
        if self.status != 0 and self.qemu_failed:
            last = self.qemu_errors.strip().splitlines()[-1]
            return f'QEMU failed before the kernel ran (status {self.status}): {last}'
        what = {0: 'passed / halted', 1: 'in-kernel tests failed',
                2: 'kernel panic', 3: 'impossible boot request'}.get(
                    self.status, 'not a kernel status: QEMU itself failed?')
        return f'exit status {self.status} ({what}) after {self.seconds:.1f} s'


# --- topologies ------------------------------------------------------------------

@dataclasses.dataclass
class Topology:
    mem_mib: int        # total RAM
    smp: int            # harts
    mem_nodes: list     # node ids that get a memdev (equal shares of RAM)
    cpu_nodes: list     # node ids that get harts (equal shares, in order)
    distances: dict     # {(a, b): d} for a < b; {} for a single node
    aia: bool = False   # -machine virt,aia=aplic (QEMU needs it for > 2 nodes)
    staged: str = ''    # name of a dtbgen staging step, '' when -numa says it all


def ring(n):
    """Distances on a ring of n nodes: 20 to a neighbour, 30 further away."""
    return {(a, b): 20 if (b - a) in (1, n - 1) else 30
            for a in range(n) for b in range(a + 1, n)}


# Four nodes on a 2 x 2 grid, as on the SG2042: a neighbour across one
# link 15 or 25 away, the node diagonally opposite 30.
SG2042_DISTANCES = {(0, 1): 15, (0, 2): 25, (0, 3): 30, (1, 2): 30, (1, 3): 25,
                    (2, 3): 15}


def kernel_limit(name):
    """A limit of include/numbat/types.h (MAX_HARTS, MAX_NUMNODES), read from
    the header itself so that the runner and the kernel never disagree."""
    with open(os.path.join(TOP, 'include', 'numbat', 'types.h')) as f:
        m = re.search(rf'#define {name}\s+(\d+)', f.read())
    if not m:
        raise RunError(f'include/numbat/types.h defines no {name}')
    return int(m.group(1))


TOPOLOGIES = {
    '1node': Topology(128, 1, [0], [0], {}),
    '2node': Topology(256, 4, [0, 1], [0, 1], {(0, 1): 20}),
    '4node': Topology(512, 4, [0, 1, 2, 3], [0, 1, 2, 3], ring(4), aia=True),
    'memless': Topology(256, 4, [0, 1], [0, 1, 2],
                        {(0, 1): 20, (0, 2): 20, (1, 2): 20}, aia=True),
    'cpuless': Topology(256, 4, [0, 1], [0, 1], {(0, 1): 20}, staged='cpuless'),
    'big': Topology(16384, 8, [0, 1, 2, 3], [0, 1, 2, 3], ring(4), aia=True),
    'sg2042': Topology(512, 64, [0, 1, 2, 3], [0, 1, 2, 3], SG2042_DISTANCES, aia=True),
    'nohart0': Topology(256, 4, [0, 1], [0, 1], {(0, 1): 20}, staged='nohart0'),
    '8node': Topology(768, 4, [0, 1, 2, 3], [0, 1, 2, 3], ring(4), aia=True,
                      staged='8node'),
}


def parse_size_mib(text):
    """'128M' or '2G' -> MiB. RunError on anything else."""
    m = re.fullmatch(r'(\d+)([MG])', str(text).strip(), re.I)
    if not m or int(m.group(1)) == 0:
        raise RunError(f'--mem {text!r}: give a size such as 128M or 2G')
    return int(m.group(1)) * (1024 if m.group(2).upper() == 'G' else 1)


def get_topology(name):
    if name not in TOPOLOGIES:
        raise RunError(f'unknown topology {name!r}; valid topologies: '
                       + ', '.join(TOPOLOGIES))
    return TOPOLOGIES[name]


def split(total, parts):
    """Split `total` into len(parts) near-equal shares, the remainder first."""
    n = len(parts)
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


RESERVE_OFF_MIB = 8192   # larger guests: memory-backend-ram,reserve=off


def machine_args(name, mem=None, smp=None):
    """QEMU options for a topology: -machine, -m, -smp and the -numa set."""
    t = get_topology(name)
    mem_mib = parse_size_mib(mem) if mem else t.mem_mib
    harts = t.smp if smp is None else int(smp)
    max_harts = kernel_limit('MAX_HARTS')
    if not 1 <= harts <= max_harts:
        raise RunError(f'--smp {harts}: Numbat supports 1 to {max_harts} harts '
                       '(MAX_HARTS in include/numbat/types.h)')
    if harts < len(t.cpu_nodes):
        raise RunError(f'--smp {harts}: topology {name} has {len(t.cpu_nodes)} '
                       f'nodes with harts, so it needs at least that many harts')
    if mem_mib < 16 * len(t.mem_nodes):
        raise RunError(f'--mem {mem}: topology {name} needs at least '
                       f'{16 * len(t.mem_nodes)}M (16M per memory node)')
    machine = 'virt,aia=aplic' if t.aia else 'virt'
    # Beyond RESERVE_OFF_MIB the RAM is mapped without reserving it
    # (reserve=off), so a 32 GiB guest boots on a host with less.
    reserve = ',reserve=off' if mem_mib > RESERVE_OFF_MIB else ''
    nodes = sorted(set(t.mem_nodes) | set(t.cpu_nodes))
    if len(nodes) == 1 and reserve:
        machine += ',memory-backend=m0'
    args = ['-machine', machine, '-m', f'{mem_mib}M', '-smp', str(harts)]
    if len(nodes) == 1:
        return args + (['-object', f'memory-backend-ram,id=m0,size={mem_mib}M{reserve}']
                       if reserve else [])
    mem_share = dict(zip(t.mem_nodes, split(mem_mib, t.mem_nodes)))
    cpu_share = dict(zip(t.cpu_nodes, split(harts, t.cpu_nodes)))
    first = 0
    for node in nodes:
        opt = f'node,nodeid={node}'
        if node in cpu_share:
            last = first + cpu_share[node] - 1
            opt += f',cpus={first}' + (f'-{last}' if last > first else '')
            first = last + 1
        if node in mem_share:
            args += ['-object', f'memory-backend-ram,id=m{node},'
                     f'size={mem_share[node]}M{reserve}']
            opt += f',memdev=m{node}'
        args += ['-numa', opt]
    for (a, b), d in sorted(t.distances.items()):
        args += ['-numa', f'dist,src={a},dst={b},val={d}']
    return args


# --- tools -------------------------------------------------------------------------

_qemu_checked = {}


def find_qemu():
    """Path of qemu-system-riscv64, checked to be new enough."""
    qemu = shutil.which('qemu-system-riscv64')
    if not qemu:
        raise RunError('qemu-system-riscv64 not found; install it: '
                       'sudo apt-get install qemu-system-misc opensbi')
    if qemu not in _qemu_checked:
        try:
            out = subprocess.run([qemu, '--version'], capture_output=True,
                                 text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RunError(f'{qemu} --version failed ({e}); is QEMU installed properly?')
        m = re.search(r'version (\d+)\.(\d+)', out)
        if not m or (int(m.group(1)), int(m.group(2))) < QEMU_MIN_VERSION:
            raise RunError(f'{qemu} is too old or unrecognised ({out.strip()[:60]!r}); '
                           f'Numbat needs QEMU {QEMU_MIN_VERSION[0]}.{QEMU_MIN_VERSION[1]} '
                           'or newer (Debian 12: qemu-system-misc)')
        _qemu_checked[qemu] = True
    return qemu


def find_cross_tool(tool):
    """A cross binutils tool (e.g. 'addr2line'), preferring the one beside the
    cross gcc; None when there is none."""
    for pre in CROSS_PREFIXES:
        gcc = shutil.which(pre + 'gcc')
        if gcc:
            beside = os.path.join(os.path.dirname(gcc), pre + tool)
            if os.access(beside, os.X_OK):
                return beside
    for pre in CROSS_PREFIXES:
        if shutil.which(pre + tool):
            return shutil.which(pre + tool)
    return None


def check_port_free(port):
    """RunError if TCP `port` cannot be listened on (QEMU's gdb stub would fail)."""
    if not 1 <= int(port) <= 65535:
        raise RunError(f'--gdb {port}: not a TCP port number')
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('', int(port)))
        except OSError:
            raise RunError(f'TCP port {port} is already in use (another QEMU waiting '
                           f'for gdb?). Stop it, or pick another port: '
                           f'./configure.py --gdb-port N (N from 1024 to 65535)')


def free_port():
    """A TCP port that is free right now (the kernel picks it for us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_in_use(port):
    """True once something (QEMU's gdb stub) holds the TCP port."""
    with socket.socket() as s:
        try:
            s.bind(('', port))
        except OSError:
            return True
    return False


# --- symbolising backtraces ----------------------------------------------------------

FRAME_RE = re.compile(r'^(\s*#(\d+)\s+)(0x[0-9a-fA-F]+)\s*$')
REG_RE = re.compile(r'\b(sepc|ra) (0x[0-9a-fA-F]+)')


def addr2line(elf, addrs):
    """{addr: 'func at file:line[ inlined into ...]'} for the addresses the
    cross addr2line knows; {} when there is no addr2line or no ELF."""
    tool = find_cross_tool('addr2line')
    if not tool or not addrs or not os.path.exists(elf):
        return {}
    try:
        out = subprocess.run([tool, '-e', elf, '-f', '-i', '-p', '-a']
                             + ['0x%x' % a for a in addrs],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found, cur = {}, None
    for line in out.splitlines():
        m = re.match(r'^0x([0-9a-fA-F]+): (.*)$', line)
        if m:
            cur = int(m.group(1), 16)
            found[cur] = [m.group(2)]
        elif cur is not None and line.strip().startswith('(inlined by)'):
            found[cur].append(line.strip()[len('(inlined by) '):])
    top = TOP.rstrip('/') + '/'
    return {a: ' inlined into '.join(p.replace(top, '') for p in parts)
            for a, parts in found.items() if not parts[0].startswith('??')}


def symbolise(text, elf, panic=None):
    """Rewrite `#N 0x...` backtrace lines to `#N 0x... func at file:line`, and
    follow each register line holding sepc/ra with where they point (when
    the text is a panic report: `panic`, by default 'PANIC' in text)."""
    if panic is None:
        panic = 'PANIC' in text
    lines = text.split('\n')
    wanted = []
    for line in lines:
        m = FRAME_RE.match(line)
        if m:
            # The kernel prints each frame's call site already (return
            # address - 2, kernel/panic.c), so look it up as printed.
            wanted.append(int(m.group(3), 16))
        if panic:
            for reg, val in REG_RE.findall(line):
                a = int(val, 16)
                wanted.append(a - 1 if reg == 'ra' and a else a)
    if not wanted:
        return text
    names = addr2line(elf, sorted(set(wanted)))
    out = []
    for line in lines:
        m = FRAME_RE.match(line)
        if m:
            a = int(m.group(3), 16)
            where = names.get(a)
            out.append(f'{m.group(1)}0x{a:x} {where}' if where else line)
            continue
        out.append(line)
        regs = REG_RE.findall(line) if panic else []
        for reg, val in regs:
            a = int(val, 16)
            where = names.get(a - 1 if reg == 'ra' and a else a)
            if where:
                indent = line[:len(line) - len(line.lstrip())]
                out.append(f'{indent}  {reg} -> {where}')
    return '\n'.join(out)


# --- running ---------------------------------------------------------------------------

def qemu_command(kernel, topology='1node', mem=None, smp=None, append='',
                 initrd=None, dtb=None, gdb_port=None, extra_args=(), workdir=None):
    """The QEMU command line for one boot (may stage a device tree in workdir)."""
    get_topology(topology)
    if not os.path.exists(kernel):
        raise RunError(f'kernel {kernel} does not exist: run ninja first')
    for what, path in (('--initrd', initrd), ('--dtb', dtb)):
        if path and not os.path.isfile(path):
            raise RunError(f'{what} {path}: no such file')
    qemu = find_qemu()
    cmd = [qemu] + machine_args(topology, mem, smp)
    cmd += ['-bios', 'default', '-nographic', '-kernel', kernel]
    t = get_topology(topology)
    if t.staged and not dtb:
        import dtbgen
        dtb = dtbgen.stage(t.staged, qemu, machine_args(topology, mem, smp),
                           workdir or cache_dir())
    if append:
        cmd += ['-append', append]
    if initrd:
        cmd += ['-initrd', initrd]
    if dtb:
        cmd += ['-dtb', dtb]
    if gdb_port is not None:
        check_port_free(gdb_port)
        cmd += ['-S', '-gdb', f'tcp::{gdb_port}']
    return cmd + list(extra_args)


_live = set()      # QEMU processes of runs in progress (for kill_all)
_live_lock = threading.RLock()   # re-entrant: a signal handler takes it too
_stopping = []     # non-empty once a signal asked this process to end


def kill_all():
    """Kill every QEMU this process started and still runs (on Ctrl-C)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)


def _end_on_signal(signum, frame):
    """SIGTERM/SIGHUP: start no new QEMU, kill the running ones, then leave
    with 128 + signum (a SystemExit, so `finally` blocks still run)."""
    _stopping.append(signum)
    kill_all()
    raise SystemExit(128 + signum)


def end_qemus_on_signals():
    """Make SIGTERM and SIGHUP end this process's QEMUs before it exits.
    Call it once, from the main thread (Python runs handlers there)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _end_on_signal)


def _parent_death_signal():
    """A preexec_fn that makes the child get SIGKILL when the thread that
    started it ends (prctl PR_SET_PDEATHSIG); None off Linux or without libc."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def arm():
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    return arm


_ARM_DEATH_SIGNAL = _parent_death_signal()


def cache_dir():
    """Where staged device trees are kept between runs: one folder per user."""
    uid = os.getuid() if hasattr(os, 'getuid') else 0
    return os.path.join(tempfile.gettempdir(), f'numbat-run-{uid}')


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(kernel, topology='1node', mem=None, smp=None, append='', initrd=None,
        dtb=None, timeout=30, gdb_port=None, extra_args=(), watch=None,
        stop_at_watch=False, on_output=None, workdir=None, output_cap=OUTPUT_CAP,
        wrap=None):
    """Boot `kernel` and return a Result. Never waits past `timeout` seconds:
    QEMU's whole process group is killed then. `watch` is a string whose
    first appearance on the console is timed (Result.watch_seconds); with
    `stop_at_watch` QEMU is stopped right there (status 0). `on_output` gets
    each chunk of console text as it arrives. Console text past
    `output_cap` bytes stops QEMU (Result.capped). `wrap`, when given, turns
    the QEMU command into the one to run (the grader's sandbox puts itself
    in front). RunError when the run cannot start."""
    cmd = qemu_command(kernel, topology, mem, smp, append, initrd, dtb, gdb_port,
                       extra_args, workdir)
    if wrap:
        cmd = wrap(cmd)
    start = time.monotonic()
    if _stopping:
        raise RunError('not starting QEMU: this process was asked to end '
                       f'(signal {_stopping[0]})')
    proc = None
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=_ARM_DEATH_SIGNAL)
        with _live_lock:
            _live.add(proc)
    except OSError as e:
        raise RunError(f'could not start {cmd[0]}: {e}; check that it is an '
                       'executable QEMU (which qemu-system-riscv64)')
    except BaseException:
        if proc is not None:
            _kill_group(proc)
        raise
    if _stopping:           # a signal came while QEMU was starting
        _kill_group(proc)
    state = {'out': bytearray(), 'capped': False, 'watch': None, 'stopped': False}
    errbuf = bytearray()
    watch_b = watch.encode() if watch else None

    def pump_stdout():
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return
            if len(state['out']) + len(chunk) > output_cap:
                state['out'] += chunk[:output_cap - len(state['out'])]
                state['capped'] = True
                _kill_group(proc)
                return
            state['out'] += chunk
            if on_output:
                try:
                    on_output(chunk.decode('utf-8', 'replace'))
                except Exception:       # e.g. a closed pipe: keep reading anyway
                    pass
            if watch_b and state['watch'] is None and watch_b in state['out']:
                state['watch'] = time.monotonic() - start
                if stop_at_watch:
                    state['stopped'] = True
                    _kill_group(proc)

    def pump_stderr():
        while True:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                return
            if len(errbuf) < 65536:
                errbuf.extend(chunk)

    readers = [threading.Thread(target=pump_stdout, daemon=True),
               threading.Thread(target=pump_stderr, daemon=True)]
    for r in readers:
        r.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        proc.wait()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        _kill_group(proc)   # anything QEMU left in its group goes too
        with _live_lock:
            _live.discard(proc)
    for r in readers:
        r.join(timeout=5)
    seconds = time.monotonic() - start
    status = proc.returncode
    if timed_out:
        status = TIMEOUT_STATUS
    elif state['stopped']:
        status = 0
    elif status is not None and status < 0:
        status = 128 - status   # killed by a signal, shell style
    # The UART driver sends CR LF; a CR anywhere is no use to a reader.
    console = state['out'].decode('utf-8', 'replace').replace('\r', '')
    if 'PANIC' in console:
        console = symbolise(console, kernel)
    return Result(console=console, status=status, timed_out=timed_out and not
                  state['capped'], command=cmd, seconds=seconds,
                  capped=state['capped'], cap=output_cap,
                  qemu_errors=errbuf.decode('utf-8', 'replace'),
                  watch_seconds=state['watch'])


# --- the command -------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Boot Numbat under QEMU and exit with the kernel\'s status '
                    '(124 on timeout, 125 when the run cannot start).',
        epilog='topologies: ' + ', '.join(TOPOLOGIES) + '. QEMU options after -- '
               'are passed on unchanged.')
    p.add_argument('kernel', help='the kernel ELF, e.g. build/numbat.elf')
    p.add_argument('--topology', default='1node', metavar='NAME',
                   help='machine shape: ' + ', '.join(TOPOLOGIES) + ' (default 1node)')
    p.add_argument('--mem', metavar='SIZE', help='total RAM, e.g. 512M or 2G')
    p.add_argument('--smp', type=int, metavar='N', help='number of harts')
    p.add_argument('--append', default='', metavar='ARGS',
                   help='kernel boot arguments, e.g. "ktest=mm_*"')
    p.add_argument('--initrd', metavar='FILE', help='load FILE as the initrd')
    p.add_argument('--dtb', metavar='FILE', help='boot with this device tree blob')
    p.add_argument('--timeout', type=float, default=30, metavar='S',
                   help='hard time limit in seconds for a non-interactive run (default 30)')
    p.add_argument('--interactive', action='store_true',
                   help='give QEMU the terminal (the monitor prompt); Ctrl-A X leaves')
    p.add_argument('--gdb', type=int, metavar='PORT',
                   help='wait for gdb on TCP PORT before the first instruction')
    p.add_argument('--print-command', action='store_true',
                   help='print the QEMU command line and exit')
    argv = list(argv)
    extra = []
    if '--' in argv:
        extra = argv[argv.index('--') + 1:]
        argv = argv[:argv.index('--')]
    args = p.parse_args(argv)
    if args.timeout <= 0:
        p.error('--timeout must be more than 0 seconds')
    args.extra = extra
    return args


def main(argv):
    args = parse_args(argv)
    try:
        if args.print_command or args.interactive:
            cmd = qemu_command(args.kernel, args.topology, args.mem, args.smp,
                               args.append, args.initrd, args.dtb, args.gdb, args.extra)
            if args.print_command:
                print(' '.join(cmd))
                return 0
            if args.gdb is not None:
                print(f'numbat_run: QEMU is waiting for gdb on port {args.gdb}: '
                      f'run `ninja gdb` in another terminal.', flush=True)
            print(LEAVE_HINT, flush=True)
            try:
                os.execv(cmd[0], cmd)
            except OSError as e:
                raise RunError(f'could not start {cmd[0]}: {e}; check that it is '
                               'an executable QEMU (which qemu-system-riscv64)')
        pending, in_panic = [''], [False]

        def show(chunk):
            # Print whole lines as they come, symbolising a panic's lines.
            pending[0] += chunk.replace('\r', '')
            *done, pending[0] = pending[0].split('\n')
            for line in done:
                in_panic[0] = in_panic[0] or 'PANIC' in line
                if in_panic[0]:
                    line = symbolise(line, args.kernel, panic=True)
                print(line, flush=True)

        r = run(args.kernel, args.topology, args.mem, args.smp, args.append,
                args.initrd, args.dtb, args.timeout, None, args.extra, on_output=show)
        if pending[0]:
            print(pending[0])
    except RunError as e:
        print(f'numbat_run: {e}', file=sys.stderr)
        return CANNOT_RUN_STATUS
    if r.qemu_errors.strip():
        sys.stderr.write(r.qemu_errors)
    if r.status != 0:
        print(f'numbat_run: {r.describe()}', file=sys.stderr)
    if r.status != 0 and r.qemu_failed:
        # QEMU's own status (1) would read as "in-kernel tests failed".
        print(f'numbat_run: the run could not start (exit status '
              f'{CANNOT_RUN_STATUS}); fix the QEMU options or files named above',
              file=sys.stderr)
        return CANNOT_RUN_STATUS
    return r.status


if __name__ == '__main__':
    end_qemus_on_signals()
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        kill_all()
        sys.exit(130)
