#!/usr/bin/env python3
"""Run Numbat's tests: what `ninja check` (and `ninja fuzz`) runs.

Groups, each a set of independent items run in parallel:

  host  every BUILD/host/test_* binary (mm/ and the device-tree parser on
        the host, with sanitizers); each KTAP case counts as one test
  fuzz  every BUILD/fuzz/*_fuzz libFuzzer target, for --fuzz-seconds in
        total, on a scratch corpus seeded from BUILD/dtb/*.dtb
  qemu  the test_* functions of tests/qemu/test_*.py: boots under QEMU;
        the in-kernel KTAP cases of a `ktest=` boot count one by one
  gdb   the test_* functions of tests/gdb/test_*.py
  labs  the test_* functions of tests/labs/test_*.py: the grader, the
        handouts and the mutants of every lab (docs/labs.md)

Each item's result is printed as it finishes (`ok` or `FAIL`, with its
seconds); then, for every failure, the output that explains it (the failed
KTAP cases with their diagnostics, the last console lines, a symbolised
backtrace); then exactly one closing line, `N passed, N failed` (and
`, N skipped` when some were), and the exit status is 1 if anything failed.

A group whose binaries the build lacks fails with a message saying how to
build them: a missing test is never a pass.

In a lab handout (labs/handout.json, made by labs/handout.py) the tree is
the reference except the lab's own files, so a test that fails there fails
on the lab's code: it is reported as waiting for the lab (`lab buddy: N
tests wait for your solution; `ninja grade` scores them`), not as a
failure, and the closing line gains `, N wait for lab LAB`. A test that
could not run at all (a missing binary, a QEMU that does not start) still
fails. The labs group (the grader's self-tests) is the instructor's and
not in a handout: it is skipped with a line that says so. With -k, the
waiting tests' reasons are printed too. docs/testing.md has the details.

NUMBAT_CHECK_ARGS, when set, holds more arguments (e.g. `--only host`),
read before the command line's: the README tests use it to run a printed
`ninja check` inside a test without running the whole suite twice.

Usage: tests/run.py --build BUILD [--only GROUP[,GROUP]] [-k SUBSTRING]...
                    [--jobs N] [--fuzz-seconds S] [--list]
"""

import argparse
import concurrent.futures
import dataclasses
import glob
import importlib.util
import json
import os
import shlex
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import ktap          # noqa: E402
import numbat_run    # noqa: E402

GROUPS = ['host', 'fuzz', 'qemu', 'gdb', 'labs']
HOST_TIMEOUT = 600          # seconds one host test binary may take
TAIL_LINES = 25             # console lines shown for a failed boot


# --- what an item reports ------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    failures: list = dataclasses.field(default_factory=list)  # own checks that failed
    cases: list = dataclasses.field(default_factory=list)     # ktap.Case from its runs
    output: str = ''           # text shown when the item fails
    skipped: str = ''          # reason, when the item could not apply here
    tree_failure: bool = False  # could not run at all: never the lab's (handouts)
    own_checks: bool = True    # the item counts as one test besides its cases

    @property
    def ok(self):
        return not self.failures and all(c.ok for c in self.cases)


class Stop(Exception):
    """A test ends early (after t.require failed)."""


class SkipTest(Exception):
    """A test that cannot run on this machine; the message says why."""


class T:
    """What a tests/qemu or tests/gdb test function gets: the build, a
    scratch folder, boots that remember their console, and checks that
    record a failure with a message and go on (require stops the test)."""

    def __init__(self, build, name, workdir):
        self.build = build
        self.kernel = os.path.join(build, 'numbat.elf')
        self.name = name
        self.workdir = workdir
        self.top = TOP
        self.outcome = Outcome()
        self.runs = []          # (label, numbat_run.Result) of every boot

    def boot(self, label='', **kw):
        """numbat_run.run() on this build's kernel; the console is kept for
        the failure report. A run that cannot start fails the test."""
        kw.setdefault('timeout', 30)
        kw.setdefault('workdir', self.workdir)
        try:
            r = numbat_run.run(self.kernel, **kw)
        except numbat_run.RunError as e:
            self.outcome.tree_failure = True
            self.require(False, f'cannot boot: {e}')
        self.runs.append((label or kw.get('topology', '1node'), r))
        return r

    def check(self, cond, message):
        """Record `message` as a failure unless cond holds; returns cond."""
        if not cond:
            self.outcome.failures.append(message)
        return bool(cond)

    def require(self, cond, message):
        if not self.check(cond, message):
            raise Stop()

    def skip(self, reason):
        raise SkipTest(reason)

    def ktap(self, result, prefix=''):
        """Count the KTAP cases of a kernel run as tests of their own."""
        report = ktap.parse(result.console)
        self.check(report.found, 'no KTAP output on the console')
        for c in report.cases:
            c.name = prefix + c.name
        self.outcome.cases += report.cases
        return report


@dataclasses.dataclass
class Item:
    group: str
    name: str
    run: object                 # callable(build, args) -> Outcome
    weight: int = 1             # rough cost, heavier items start first

    @property
    def full(self):
        return f'{self.group}/{self.name}'


def missing_item(group, name, message):
    def fail(build, args):
        return Outcome(failures=[message], tree_failure=True)
    return Item(group, name, fail)


def skipped_item(group, name, reason):
    return Item(group, name, lambda build, args: Outcome(skipped=reason))


def handout():
    """(lab, its files) when this tree is a lab handout, else (None, [])."""
    try:
        with open(os.path.join(TOP, 'labs', 'handout.json')) as f:
            made = json.load(f)
        return made['lab'], made.get('files', [])
    except (OSError, ValueError, KeyError, TypeError):
        return None, []


# --- host group -------------------------------------------------------------------------

def host_items(build):
    bins = sorted(p for p in glob.glob(os.path.join(build, 'host', 'test_*'))
                  if os.access(p, os.X_OK) and not p.endswith(('.d', '.o')))
    srcs = sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(TOP, 'tests/host/test_*.c')))
    items = []
    have = {os.path.basename(b) for b in bins}
    for name in srcs:
        if name not in have:
            items.append(missing_item('host', name,
                f'tests/host/{name}.c has no binary {build}/host/{name}: '
                f'run `ninja -C {build} host` (or `ninja check`, which builds it)'))
    if not srcs and not bins:
        items.append(missing_item('host', '(none)',
            f'no host test binaries in {build}/host: run `ninja -C {build} host`'))
    for b in bins:
        items.append(Item('host', os.path.basename(b), lambda build, args, b=b: run_host(b), 2))
    return items


def run_host(binary):
    name = os.path.basename(binary)
    try:
        p = subprocess.run([binary], capture_output=True, text=True, errors='replace',
                           timeout=HOST_TIMEOUT, stdin=subprocess.DEVNULL)
        out, status = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode('utf-8', 'replace') if isinstance(e.stdout, bytes) \
            else (e.stdout or '')
        status = None
    report = ktap.parse(out)
    o = Outcome(own_checks=False, output=tail(out, 40))
    for c in report.cases:
        c.name = f'{name}.{c.name}'
    o.cases = report.cases
    seed = re.search(r'--seed (\d+)', out)
    replay = f'replay: {binary} --seed {seed.group(1)}' if seed else ''
    if status is None:
        o.failures.append(f'{name} timed out after {HOST_TIMEOUT} s')
    elif status < 0:
        o.failures.append(f'{name} was killed by signal {-status} (a crash); the '
                          'cases after its last printed result never ran')
    elif not report.found:
        o.failures.append(f'{name} printed no KTAP (exit status {status})')
    elif status != 0 and all(c.ok for c in report.cases):
        o.failures.append(f'{name} exited with status {status} although every '
                          'case it printed passed (crash after the last case? '
                          'sanitizer report?)')
    if report.summary and report.found and not o.failures:
        passed, failed = report.summary[0], report.summary[1]
        if passed + failed != len([c for c in report.cases if c.name.find('(missing') < 0]):
            o.failures.append(f'{name}: closing line says {passed} passed, {failed} '
                              f'failed but {len(report.cases)} results were printed')
    if replay and not o.ok:
        o.output = replay + '\n' + o.output
    return o


# --- fuzz group ---------------------------------------------------------------------------

def fuzz_items(build, seconds):
    bins = sorted(p for p in glob.glob(os.path.join(build, 'fuzz', '*_fuzz'))
                  if os.access(p, os.X_OK))
    srcs = sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(TOP, 'tests/fuzz/*_fuzz.c')))
    items = []
    have = {os.path.basename(b) for b in bins}
    for name in srcs:
        if name not in have:
            items.append(missing_item('fuzz', name,
                f'tests/fuzz/{name}.c has no binary {build}/fuzz/{name}: install '
                'clang and libFuzzer (sudo apt-get install clang libclang-rt-14-dev), '
                f'rerun ./configure.py, then `ninja -C {build} host`'))
    if not srcs and not bins:
        items.append(missing_item('fuzz', '(none)', f'no fuzz targets in {build}/fuzz'))
    each = max(1, int(seconds / max(1, len(bins))))
    for b in bins:
        items.append(Item('fuzz', os.path.basename(b),
                          lambda build, args, b=b: run_fuzz(b, build, each), 10 + each))
    return items


def run_fuzz(binary, build, seconds):
    name = os.path.basename(binary)
    o = Outcome()
    seeds = os.path.join(build, 'dtb')
    with tempfile.TemporaryDirectory(prefix=f'numbat-{name}-') as work:
        corpus = os.path.join(work, 'corpus')
        os.makedirs(corpus)
        artifacts = os.path.join(build, 'fuzz', f'{name}-crashes') + os.sep
        os.makedirs(artifacts, exist_ok=True)
        cmd = [binary, f'-max_total_time={seconds}', '-timeout=5', '-rss_limit_mb=2048',
               '-print_final_stats=1', f'-artifact_prefix={artifacts}', corpus]
        if os.path.isdir(seeds) and os.listdir(seeds):
            cmd.append(seeds)
        else:
            o.failures.append(f'no seed corpus in {seeds}: run `ninja -C {build} host` '
                              '(it compiles tests/dts/*.dts there)')
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, errors='replace',
                               timeout=seconds + 120, stdin=subprocess.DEVNULL, cwd=work)
            out, status = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, status = '', None
    if status is None:
        o.failures.append(f'{name} did not stop within {seconds + 120} s')
    elif status != 0:
        crash = re.findall(r'Test unit written to (\S+)', out)
        o.failures.append(f'{name} found a failing input (exit status {status})'
                          + (f': {crash[-1]}' if crash else ''))
        if crash:
            o.output = (f'reproduce: {binary} {crash[-1]}\n')
    runs = re.search(r'stat::number_of_executed_units:\s*(\d+)', out)
    o.output += tail(out, 40) if not o.ok else (
        f'{runs.group(1)} inputs in {seconds} s' if runs else '')
    return o


# --- qemu and gdb groups: python test files -------------------------------------------------

def py_items(group, build):
    items = []
    files = sorted(glob.glob(os.path.join(TOP, 'tests', group, 'test_*.py')))
    if not files and group == 'labs' and handout()[0]:
        return [skipped_item(group, '(instructor only)',
                             'the grader\'s self-tests need the reference solutions '
                             'and are not part of a handout')]
    if not files:
        return [missing_item(group, '(none)', f'no tests/{group}/test_*.py files')]
    sys.path.insert(0, os.path.join(TOP, 'tests', group))   # their helpers
    for path in files:
        modname = f'numbat_{group}_' + os.path.splitext(os.path.basename(path))[0]
        try:
            spec = importlib.util.spec_from_file_location(modname, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
        except Exception:
            items.append(missing_item(group, os.path.basename(path),
                                      'cannot load: ' + traceback.format_exc(limit=3)))
            continue
        stem = os.path.splitext(os.path.basename(path))[0][5:]
        for fname in sorted(vars(mod)):
            fn = getattr(mod, fname)
            if fname.startswith('test_') and callable(fn):
                weight = getattr(fn, 'weight', 5)
                items.append(Item(group, f'{stem}.{fname[5:]}',
                                  lambda build, args, fn=fn, n=f'{group}/{stem}.{fname[5:]}':
                                  run_py(fn, build, n), weight))
    return items


def run_py(fn, build, name):
    with tempfile.TemporaryDirectory(prefix='numbat-test-') as work:
        t = T(build, name, work)
        try:
            fn(t)
        except Stop:
            pass
        except SkipTest as e:
            t.outcome.skipped = str(e) or 'skipped'
        except Exception:
            t.outcome.failures.append('the test raised:\n' + traceback.format_exc(limit=4))
    o = t.outcome
    if not o.ok:
        o.output = '\n'.join(boot_report(label, r) for label, r in t.runs[-3:])
    return o


def boot_report(label, r):
    """What to show of a failed test's boot: how it ended, a panic block
    (symbolised by the runner), else the last console lines."""
    lines = [f'--- boot {label}: {r.describe()}',
             '    ' + ' '.join(r.command)]
    if r.qemu_errors.strip():
        lines += ['    qemu: ' + l for l in r.qemu_errors.strip().splitlines()[-5:]]
    console = r.console.splitlines()
    start = next((i for i, l in enumerate(console) if 'PANIC' in l), None)
    shown = console[start:start + 60] if start is not None else console[-TAIL_LINES:]
    lines += ['    | ' + l for l in shown]
    return '\n'.join(lines)


def tail(text, n):
    return '\n'.join(text.rstrip().splitlines()[-n:])


# --- the driver --------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description='Run Numbat\'s tests (ninja check).')
    p.add_argument('--build', default=os.path.join(TOP, 'build'),
                   help='the build folder (default: build)')
    p.add_argument('--only', action='append', default=[], metavar='GROUP',
                   help='run only these groups (' + ', '.join(GROUPS) + '); repeat or '
                        'separate with commas')
    p.add_argument('-k', dest='substrings', action='append', default=[], metavar='SUBSTRING',
                   help='run only the tests whose name (group/name) contains SUBSTRING; '
                        'repeat it for the tests that contain any of them')
    p.add_argument('--jobs', '-j', type=int, default=os.cpu_count() or 2,
                   help='tests run at the same time (default: the number of cores)')
    p.add_argument('--fuzz-seconds', type=float, default=20,
                   help='seconds of fuzzing in total, shared by the fuzz targets (default 20)')
    p.add_argument('--list', action='store_true', help='list the tests and exit')
    args = p.parse_args(shlex.split(os.environ.get('NUMBAT_CHECK_ARGS', '')) + list(argv))
    groups = [g for arg in args.only for g in arg.split(',') if g] or list(GROUPS)
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        p.error(f'unknown group {", ".join(bad)}; the groups are {", ".join(GROUPS)}')
    args.groups = groups
    if args.jobs < 1:
        p.error('--jobs must be at least 1')
    if args.fuzz_seconds <= 0:
        p.error('--fuzz-seconds must be more than 0')
    args.build = os.path.abspath(args.build)
    return args


def collect(args):
    items = []
    if 'host' in args.groups:
        items += host_items(args.build)
    if 'fuzz' in args.groups:
        items += fuzz_items(args.build, args.fuzz_seconds)
    for g in ('qemu', 'gdb', 'labs'):
        if g in args.groups:
            items += py_items(g, args.build)
    if args.substrings:
        items = [i for i in items if any(k in i.full for k in args.substrings)]
    return items


def main(argv):
    args = parse_args(argv)
    if not os.path.isdir(args.build):
        print(f'run.py: build folder {args.build} does not exist: run ./configure.py '
              'and ninja first', file=sys.stderr)
        return 2
    items = collect(args)
    if args.list:
        for i in items:
            print(i.full)
        return 0
    if not items:
        print(f'run.py: no test matches -k {" -k ".join(map(repr, args.substrings))} in groups '
              f'{", ".join(args.groups)} (see --list)', file=sys.stderr)
        print('0 passed, 1 failed')
        return 1
    if any(i.group in ('qemu', 'gdb') for i in items) and \
            not os.path.exists(os.path.join(args.build, 'numbat.elf')):
        print(f'run.py: {args.build}/numbat.elf is missing: run ninja first '
              '(the qemu and gdb tests boot it)', file=sys.stderr)
    lab = handout()[0]
    lock = threading.Lock()
    results = []
    start = time.monotonic()

    def one(item):
        t0 = time.monotonic()
        try:
            o = item.run(args.build, args)
        except Exception:
            o = Outcome(failures=['the runner raised:\n' + traceback.format_exc(limit=4)])
        secs = time.monotonic() - t0
        with lock:
            results.append((item, o, secs))
            word = 'skip' if o.skipped else ('ok' if o.ok else
                                             'wait' if lab and not o.tree_failure else 'FAIL')
            n = len(o.cases)
            extra = f', {n} cases' if n else ''
            print(f'{word:4} {item.full} ({secs:.1f}s{extra})'
                  + (f': {o.skipped}' if o.skipped else ''), flush=True)

    order = sorted(items, key=lambda i: -i.weight)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    try:
        list(pool.map(one, order))
    except KeyboardInterrupt:
        # Ctrl-C: start nothing more, stop the QEMUs that run now.
        pool.shutdown(wait=False, cancel_futures=True)
        numbat_run.kill_all()
        print(f'\ninterrupted: {len(results)} of {len(items)} tests finished', flush=True)
        return 130
    pool.shutdown()

    lab, lab_files = handout()
    passed = failed = skipped = 0
    reports, waiting = [], []     # failure texts; (item, n) waiting for the lab
    for item, o, secs in sorted(results, key=lambda r: r[0].full):
        if o.skipped:
            skipped += 1
            continue
        own_fail = bool(o.failures)
        for_lab = bool(lab) and not o.ok and not o.tree_failure
        bad = 0
        if o.own_checks or own_fail:
            passed += not own_fail
            bad += own_fail
        for c in o.cases:
            if c.skipped:
                skipped += 1
            elif c.ok:
                passed += 1
            else:
                bad += 1
        if for_lab:
            waiting.append((item, bad))
        else:
            failed += bad
        if not o.ok and (not for_lab or args.substrings):
            head = f'=== lab {lab}: {item.full} (waits for your solution)' if for_lab \
                else f'=== FAIL {item.full}'
            text = [head]
            text += ['  ' + f.replace('\n', '\n  ') for f in o.failures]
            text += ['  ' + ktap.failure_text(c).replace('\n', '\n  ')
                     for c in o.cases if not c.ok]
            if o.output:
                text.append(o.output)
            reports.append('\n'.join(text))
    if reports:
        print()
        print('\n\n'.join(reports))
        print()
    nwait = sum(n for _, n in waiting)
    if waiting:
        print(waiting_text(lab, lab_files, waiting, nwait))
    print(f'(all tests took {time.monotonic() - start:.0f} s)')
    line = f'{passed} passed, {failed} failed'
    if skipped:
        line += f', {skipped} skipped'
    if waiting:
        line += f', {nwait} wait for lab {lab}'
    print(line, flush=True)
    return 1 if failed else 0


def waiting_text(lab, lab_files, waiting, nwait):
    """What a handout says about the tests that fail on its lab's code."""
    files = ' and '.join(lab_files) or f'lab {lab}\'s files'
    tests = '1 test waits' if nwait == 1 else f'{nwait} tests wait'
    lines = [f'lab {lab}: {tests} for your solution (they fail on the code '
             f'in {files} now); `ninja grade` scores them:']
    for item, n in waiting:
        lines.append(f'  {item.full}' + (f' ({n} cases)' if n > 1 else ''))
    lines.append(f'  why one fails: python3 tests/run.py --build build -k NAME')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
