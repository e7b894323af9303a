#!/usr/bin/env python3
"""Numbat's benchmarks: what `ninja bench` runs.

1. Clean build time of the kernel: configure a scratch build folder (the
   default, debug configuration a student builds) and time `ninja -j2
   kernel` (target 2 s); then the same for a release build, for
   information and for the boot figures below.
2. Boot time: wall time from starting QEMU to the kernel's `Numbat ready`
   line, the median of --runs boots, on 1node (128 MiB, 1 hart; target
   0.15 s) and on big (16 GiB in 4 nodes, 8 harts; target 0.5 s), for the
   release kernel just built - the targets are about the kernel, not about
   -Og and ASSERTs - and, for information, for BUILD's own kernel. The
   baseline is QEMU + OpenSBI alone: the same machine booting a tiny
   payload that prints one line as soon as it runs (tools/baremetal.py),
   timed the same way, so the table also shows what the kernel adds. A big machine that boots slowly
   usually means init_heap_pages() touches the pages, not just page_info.
   Then deferred init (docs/mm.md): on 128 MiB, 1, 4, 16 and 32 GiB
   (guests above 8 GiB map their RAM with reserve=off) in 1, 2 and 4
   nodes with two harts per node, one boot each per kernel, booted with
   monitor="settle; halt": the time to `Numbat ready` against the
   baseline of the same machine, and the hand-over time that `settle`
   prints (the other harts handing the pending memory to the heap after
   boot). On the 4-node machines of 16 and 32 GiB the release kernel boots
   once more with deferred_init=one (one hart hands over every node), and
   the table prints how many times faster the parallel hand-over was.
3. Grading: `labs/grade.py LAB` on this (reference) tree for every lab,
   end to end (copy, build, every test, report), as a student's `ninja
   grade` runs it, with the sandbox and with --sandbox=off, and their
   ratio; target 5 s each on 2 cores, the sandbox adding at most 25%.
4. Allocation throughput in QEMU: the release kernel on 4 nodes with 8
   harts runs the monitor's `locks bench ORDER HARTS PAIRS` (order 0 and
   4; 1, 2, 4 and 8 harts spread over the nodes), once with one heap lock
   per node and once booted with heap_lock=shared; the table prints pairs
   per second for both and their ratio. The host's own version is the
   program bench_locks (item 5).
5. Live update (tests/bench/bench_lu.py): hand-over time and what each
   lu_pages= policy costs at boot and at the first free, on 1node and big.
6. Every BUILD/bench/* program (e.g. bench_mm, the heap on the host;
   bench_locks, allocation throughput with threads), with its own output.

Benchmarks report; they never fail because something was slow. The exit
status is 0 unless a benchmark could not run at all.

Usage: tests/bench/run.py --build BUILD [--runs N]
"""

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import baremetal    # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lu     # noqa: E402
import numbat_run   # noqa: E402

BOOT_TARGETS = {'1node': 0.15, 'big': 0.5}   # seconds to `Numbat ready`
BUILD_TARGET = 2.0                           # seconds for a clean -j2 kernel build
GRADE_TARGET = 5.0                           # seconds to grade one lab end to end
SANDBOX_COST = 0.25                          # what the sandbox may add to a grading
LOCK_BENCH = dict(topology='4node', smp=8, pairs=4000, orders=(0, 4),
                  harts=(1, 2, 4, 8))   # the QEMU throughput table
LOCK_BENCH_RE = re.compile(r'^locks: bench order (\d+), (\d+) harts on (\d+) nodes, \d+ pairs '
                           r'each, [a-z ]+: (\d+) pairs/s, (\d+\.\d+) spins per acquisition, '
                           r'(\d+) failed')
READY = 'Numbat ready'
BASE_READY = 'baseline payload ready'   # what the baseline payload prints


def median_boot(elf, topology, runs, watch):
    """(median seconds from starting QEMU to the line `watch`, list of
    problems) over `runs` boots."""
    times, problems = [], []
    for _ in range(runs):
        r = numbat_run.run(elf, topology=topology, timeout=60, watch=watch,
                           stop_at_watch=True)
        if r.watch_seconds is None:
            problems.append(f'no `{watch}` line: {r.describe()}')
            break
        times.append(r.watch_seconds)
    return (statistics.median(times) if times else None), problems


def verdict(value, target):
    if value is None:
        return 'not measured'
    return 'target met' if value <= target else f'MISSED by {value - target:.3f} s'


def boot_table(kernels, runs):
    """kernels: [(label, elf, counts_for_target)]."""
    print(f'\nBoot time from starting QEMU to `{READY}` (median of {runs} runs; '
          'baseline = QEMU + OpenSBI with a payload that prints one line at once)')
    print(f'  {"machine":8} {"kernel":9} {"Numbat":>9} {"baseline":>9} {"ratio":>6} '
          f'{"kernel adds":>12} {"target":>7}  verdict')
    ok = True
    with tempfile.TemporaryDirectory(prefix='numbat-bench-') as work:
        try:
            base_elf = baremetal.say_and_exit_elf(work, BASE_READY)
        except RuntimeError as e:
            print(f'  cannot build the baseline payload: {e}')
            base_elf = None
        for topo, target in BOOT_TARGETS.items():
            try:
                t_base, p0 = (median_boot(base_elf, topo, runs, BASE_READY) if base_elf
                              else (None, []))
            except numbat_run.RunError as e:
                print(f'  {topo:8} cannot boot the baseline: {e}')
                t_base, p0 = None, []
            for label, elf, counts in kernels:
                try:
                    t_kernel, p1 = median_boot(elf, topo, runs, READY)
                except numbat_run.RunError as e:
                    print(f'  {topo:8} {label:9} cannot boot: {e}')
                    ok = False
                    continue
                ratio = f'{t_kernel / t_base:.2f}' if t_kernel and t_base else '-'
                adds = f'{t_kernel - t_base:.3f} s' if t_kernel and t_base else '-'
                fmt = lambda v: f'{v:.3f} s' if v is not None else '-'
                print(f'  {topo:8} {label:9} {fmt(t_kernel):>9} {fmt(t_base):>9} '
                      f'{ratio:>6} {adds:>12} {target:>5.2f} s  '
                      + (verdict(t_kernel, target) if counts else '(information)'))
                for p in p0 + p1:
                    print(f'           problem: {p}')
                p0 = []
    return ok


def lock_bench_boot(elf, append):
    """{(order, harts): (pairs/s, spins per acquisition, nodes)} from one
    boot running every `locks bench`, and a list of problems."""
    b = LOCK_BENCH
    cmds = [f'locks bench {o} {h} {b["pairs"]}' for o in b['orders'] for h in b['harts']]
    half = len(cmds) // 2   # one monitor="..." value holds at most 127 characters
    script = ' '.join(f'monitor="{"; ".join(part)}"' for part in (cmds[:half], cmds[half:]))
    r = numbat_run.run(elf, topology=b['topology'], smp=b['smp'], timeout=300,
                       append=f'{append} {script}'.strip())
    got, problems = {}, []
    for line in r.console.splitlines():
        m = LOCK_BENCH_RE.match(line.strip())
        if m:
            order, harts, nodes, pps, spins, failed = m.groups()
            got[int(order), int(harts)] = (int(pps), float(spins), int(nodes))
            if int(failed):
                problems.append(f'{line.strip()}: allocations failed')
    if len(got) != len(cmds):
        problems.append(f'{len(got)} of {len(cmds)} `locks bench` lines: {r.describe()}')
    return got, problems


def lock_bench_table(elf, label):
    """Allocation throughput in QEMU, node locks against one shared lock."""
    b = LOCK_BENCH
    print(f'\nAllocation throughput in QEMU ({label} kernel, {b["topology"]}, {b["smp"]} harts; '
          f'`locks bench ORDER HARTS {b["pairs"]}`: alloc+free pairs per second of all '
          f'harts together, harts spread over the nodes; one boot per lock mode)')
    if not elf:
        print('  no kernel to run')
        return False
    try:
        per, p1 = lock_bench_boot(elf, '')
        one, p2 = lock_bench_boot(elf, 'heap_lock=shared')
    except numbat_run.RunError as e:
        print(f'  cannot boot: {e}')
        return False
    print(f'  {"order":5} {"harts":5} {"nodes":5} {"node locks/s":>13} {"one lock/s":>11} '
          f'{"ratio":>6} {"spins/acq":>10} {"(one lock)":>10}')
    for o in b['orders']:
        for h in b['harts']:
            a, s = per.get((o, h)), one.get((o, h))
            if not a or not s:
                print(f'  {o:<5} {h:<5} not measured')
                continue
            ratio = f'{a[0] / s[0]:5.2f}x' if s[0] else '-'
            print(f'  {o:<5} {h:<5} {a[2]:<5} {a[0]:>13} {s[0]:>11} {ratio:>6} '
                  f'{a[1]:>10.3f} {s[1]:>10.3f}')
    for p in p1 + p2:
        print(f'  problem: {p}')
    print('  ratio = pairs/s with node locks / with one shared lock (heap_lock=shared), '
          'measured in this run; QEMU\'s harts share the host\'s CPUs')
    return not (p1 + p2)
DEFERRED_SIZES = ['128M', '1G', '4G', '16G', '32G']
DEFERRED_NODES = {1: '1node', 2: '2node', 4: '4node'}   # nodes: topology
HARTS_PER_NODE = 2
RATIO_SIZES = ('16G', '32G')                 # 4 nodes: parallel vs one hart
# The debug build hands over about 16 times slower than the release build
# (about 4 us a frame: 16 s for 16 GiB); on these sizes its boots stop at
# `Numbat ready`, to keep the whole bench within a few minutes.
DEBUG_NO_WAIT = ('16G', '32G')
SETTLE_RE = re.compile(r'settle: (\d+) pages .* handed over in ([\d.]+) ms')


def settle_boot(elf, topology, mem, smp, append='', wait=True):
    """(seconds to `Numbat ready`, hand-over ms or None, problem or None) of
    one boot running monitor="settle; halt" (wait=False: stopped at
    `Numbat ready`)."""
    r = numbat_run.run(elf, topology=topology, mem=mem, smp=smp, timeout=90,
                       watch=READY, stop_at_watch=not wait,
                       append=(append + ' monitor="settle; halt"').strip())
    m = SETTLE_RE.search(r.console)
    if r.watch_seconds is None or r.status != 0:
        return r.watch_seconds, None, r.describe()
    return r.watch_seconds, float(m.group(2)) if m else None, None


def base_boot(base_elf, topology, mem, smp):
    r = numbat_run.run(base_elf, topology=topology, mem=mem, smp=smp, timeout=60,
                       watch=BASE_READY, stop_at_watch=True)
    return r.watch_seconds


def deferred_table(kernels):
    """Boot time and hand-over time of deferred init per machine size and
    node count (one boot each: see the module comment)."""
    print(f'\nDeferred init: `{READY}` and the hand-over `settle` reports (one boot '
          f'each, {HARTS_PER_NODE} harts per node; baseline = QEMU + OpenSBI alone)')
    print(f'  {"RAM":>5} {"nodes":>5} {"kernel":9} {"Numbat":>9} {"baseline":>9} '
          f'{"kernel adds":>12} {"hand-over":>11}')
    fmt = lambda v: f'{v:.3f} s' if v is not None else '-'
    ratios = []
    with tempfile.TemporaryDirectory(prefix='numbat-bench-') as work:
        try:
            base_elf = baremetal.say_and_exit_elf(work, BASE_READY)
        except RuntimeError as e:
            print(f'  cannot build the baseline payload: {e}')
            base_elf = None
        for mem in DEFERRED_SIZES:
            for nodes, topo in DEFERRED_NODES.items():
                smp = nodes * HARTS_PER_NODE
                try:
                    t_base = base_boot(base_elf, topo, mem, smp) if base_elf else None
                    for label, elf, _ in kernels:
                        wait = label == 'release' or mem not in DEBUG_NO_WAIT
                        t, ms, problem = settle_boot(elf, topo, mem, smp, wait=wait)
                        adds = f'{t - t_base:.3f} s' if t and t_base else '-'
                        hand = f'{ms:.1f} ms' if ms is not None else \
                            ('-' if wait else 'not waited')
                        print(f'  {mem:>5} {nodes:>5} {label:9} {fmt(t):>9} '
                              f'{fmt(t_base):>9} {adds:>12} {hand:>11}', flush=True)
                        if problem:
                            print(f'           problem: {problem}')
                        if label == 'release' and nodes == 4 and mem in RATIO_SIZES \
                                and ms:
                            _, one, _ = settle_boot(elf, topo, mem, smp,
                                                    'deferred_init=one')
                            ratios.append((mem, ms, one))
                except numbat_run.RunError as e:
                    print(f'  {mem:>5} {nodes:>5} cannot boot: {e}')
    for mem, par, one in ratios:
        if one:
            print(f'  hand-over of {mem} in 4 nodes, release: {one:.1f} ms by one '
                  f'hart, {par:.1f} ms by one hart per node: {one / par:.2f} times '
                  f'faster (at most the host\'s {os.cpu_count()} CPUs can run harts '
                  'at once)')
    return True


def clean_build(b, release):
    """Configure folder b (release or debug), time a clean `ninja -j2
    kernel` and print it; returns the kernel's path, or None."""
    ninja = shutil.which('ninja') or shutil.which('ninja-build')
    if not ninja:
        print('  ninja not found: sudo apt-get install ninja-build')
        return None
    p = subprocess.run([sys.executable, os.path.join(TOP, 'configure.py'), '--builddir', b]
                       + (['--release'] if release else []), capture_output=True, text=True)
    if p.returncode != 0:
        print('  configure.py failed:\n    ' + (p.stderr or p.stdout).strip()
              .replace('\n', '\n    '))
        return None
    t0 = time.monotonic()
    p = subprocess.run([ninja, '-C', b, '-j2', 'kernel'], capture_output=True,
                       text=True)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        print('  the build failed:\n    ' + p.stdout.strip()[-2000:]
              .replace('\n', '\n    '))
        return None
    objs = len(glob.glob(os.path.join(b, 'kernel-obj', '**', '*.o'), recursive=True))
    kind = 'release (-O2)' if release else 'debug (-Og), the default'
    print(f'  {kind:26} {secs:5.2f} s for {objs} objects, the link and the listing: '
          + (verdict(secs, BUILD_TARGET) if not release else '(information)'))
    return os.path.join(b, 'numbat.elf')


def grade_once(lab, sandbox):
    """(seconds, score line, exit status) of `labs/grade.py LAB --sandbox=S`."""
    with tempfile.TemporaryDirectory(prefix='numbat-bench-grade-') as out:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, os.path.join(TOP, 'labs', 'grade.py'), lab,
                            '--out', out, '--sandbox', sandbox], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=600)
        secs = time.monotonic() - t0
    score = [ln for ln in p.stdout.splitlines() if ln.startswith('Score:')]
    how = [ln.strip() for ln in p.stdout.splitlines() if ln.strip().startswith('Sandbox:')]
    return secs, (score[-1].split('(')[0].strip() if score else 'no score'), p.returncode, \
        (how[0] if how else '')


def grading_table():
    """Time labs/grade.py LAB on this tree for every lab, with the sandbox
    (--sandbox=auto) and without (--sandbox=off), and their ratio; False
    when a grading could not run or did not give the reference full marks."""
    labs = sorted(os.path.basename(os.path.dirname(j)) for j in
                  glob.glob(os.path.join(TOP, 'labs', '*', 'lab.json')))
    print(f'\nGrading one lab end to end (`labs/grade.py LAB` on this tree: copy, build, '
          f'every test, report; target {GRADE_TARGET:.0f} s with the sandbox, which should '
          f'cost at most {SANDBOX_COST:.0%})')
    print(f'  {"lab":8} {"sandbox":>8} {"off":>8} {"ratio":>6}  score              verdict')
    ok = True
    kinds = set()
    for lab in labs:
        on, score, status, how = grade_once(lab, 'auto')
        off, _, status_off, _ = grade_once(lab, 'off')
        kinds.add(how)
        ratio = on / off if off else 0
        cost = 'sandbox cost met' if ratio <= 1 + SANDBOX_COST else \
            f'sandbox cost MISSED ({ratio - 1:.0%})'
        print(f'  {lab:8} {on:6.2f} s {off:6.2f} s {ratio:6.2f}  {score:18} '
              f'{verdict(on, GRADE_TARGET)}; {cost}')
        for st, what in ((status, 'with the sandbox'), (status_off, 'with --sandbox=off')):
            if st != 0:
                print(f'           problem: grade.py exited with status {st} {what} '
                      '(the reference tree should get full marks)')
                ok = False
    print('  ' + '; '.join(sorted(k for k in kinds if k)))
    return ok


def host_benches(build):
    progs = sorted(p for p in glob.glob(os.path.join(build, 'bench', '*'))
                   if os.access(p, os.X_OK) and os.path.isfile(p))
    if not progs:
        print(f'\nNo benchmark programs in {build}/bench: run `ninja -C {build} host`')
        return not glob.glob(os.path.join(TOP, 'tests', 'bench', '*.c'))
    ok = True
    for prog in progs:
        print(f'\n{os.path.basename(prog)}:', flush=True)
        try:
            p = subprocess.run([prog], capture_output=True, text=True, timeout=900,
                               stdin=subprocess.DEVNULL)
            print('  ' + (p.stdout + p.stderr).rstrip().replace('\n', '\n  '))
            if p.returncode != 0:
                print(f'  ({os.path.basename(prog)} exited with status {p.returncode})')
                ok = False
        except subprocess.TimeoutExpired:
            print('  did not finish within 900 s')
            ok = False
    return ok


def main(argv):
    p = argparse.ArgumentParser(description='Numbat benchmarks (ninja bench).')
    p.add_argument('--build', default=os.path.join(TOP, 'build'), help='build folder')
    p.add_argument('--runs', type=int, default=10, help='boots per median (default 10)')
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error('--runs must be at least 1')
    own = os.path.join(args.build, 'numbat.elf')
    if not os.path.exists(own):
        print(f'bench: {own} is missing: run ninja first', file=sys.stderr)
        return 2
    print(f'Clean build of the kernel (`ninja -j2 kernel` in a scratch folder; '
          f'target {BUILD_TARGET:.1f} s)')
    with tempfile.TemporaryDirectory(prefix='numbat-bench-build-') as b:
        debug_ok = clean_build(os.path.join(b, 'debug'), release=False) is not None
        release = clean_build(os.path.join(b, 'release'), release=True)
        kernels = ([('release', release, True)] if release else []) + \
                  [('this', own, release is None)]
        ok = boot_table(kernels, args.runs) and release is not None and debug_ok
        ok &= lock_bench_table(release or own, 'release' if release else 'this')
        ok &= deferred_table(kernels)
        ok &= bench_lu.table(release or own, 3)  # tests/bench/bench_lu.py
    ok &= grading_table()
    ok &= host_benches(args.build)
    return 0 if ok else 1


if __name__ == '__main__':
    # `timeout 50 ninja bench` sends SIGTERM: end the QEMU of a boot in
    # progress too (a 16 GiB machine would otherwise spin on).
    numbat_run.end_qemus_on_signals()
    sys.exit(main(sys.argv[1:]))
