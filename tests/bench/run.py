#!/usr/bin/env python3
"""Numbat's benchmarks: what `ninja bench` runs.

1. Boot time: wall time from starting QEMU to the kernel's `Numbat ready`
   line, the median of --runs boots, on 1node (128 MiB, 1 hart; target
   0.15 s) and on big (16 GiB in 4 nodes, 8 harts; target 0.5 s). The
   baseline is QEMU + OpenSBI alone: the same machine booting a tiny
   payload that prints one line as soon as it runs (tools/baremetal.py),
   timed the same way, so the table also shows what the kernel adds. A big machine that boots slowly
   usually means init_heap_pages() touches the pages, not just page_info.
2. Clean build time of the kernel: configure a scratch build folder and
   time `ninja -j2 kernel` (target 2 s).
3. Every BUILD/bench/* program (e.g. bench_mm, the heap on the host), with
   its own output.

Benchmarks report; they never fail because something was slow. The exit
status is 0 unless a benchmark could not run at all.

Usage: tests/bench/run.py --build BUILD [--runs N] [--no-build-time]
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import baremetal    # noqa: E402
import numbat_run   # noqa: E402

BOOT_TARGETS = {'1node': 0.15, 'big': 0.5}   # seconds to `Numbat ready`
BUILD_TARGET = 2.0                           # seconds for a clean -j2 kernel build
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


def boot_table(build, runs):
    kernel = os.path.join(build, 'numbat.elf')
    print(f'Boot time from starting QEMU to `{READY}` (median of {runs} runs; '
          'baseline = QEMU + OpenSBI with a payload that prints one line at once)')
    print(f'  {"machine":8} {"Numbat":>9} {"baseline":>9} {"ratio":>6} {"kernel adds":>12} '
          f'{"target":>7}  verdict')
    ok = True
    with tempfile.TemporaryDirectory(prefix='numbat-bench-') as work:
        try:
            base_elf = baremetal.say_and_exit_elf(work, BASE_READY)
        except RuntimeError as e:
            print(f'  cannot build the baseline payload: {e}')
            base_elf = None
        for topo, target in BOOT_TARGETS.items():
            try:
                t_kernel, p1 = median_boot(kernel, topo, runs, READY)
                t_base, p2 = (median_boot(base_elf, topo, runs, BASE_READY) if base_elf
                              else (None, []))
            except numbat_run.RunError as e:
                print(f'  {topo:8} cannot boot: {e}')
                ok = False
                continue
            ratio = f'{t_kernel / t_base:.2f}' if t_kernel and t_base else '-'
            adds = f'{t_kernel - t_base:.3f} s' if t_kernel and t_base else '-'
            fmt = lambda v: f'{v:.3f} s' if v is not None else '-'
            print(f'  {topo:8} {fmt(t_kernel):>9} {fmt(t_base):>9} {ratio:>6} {adds:>12} '
                  f'{target:>5.2f} s  {verdict(t_kernel, target)}')
            for p in p1 + p2:
                print(f'           problem: {p}')
    return ok


def build_time():
    print(f'\nClean build of the kernel (`ninja -j2 kernel` in a scratch folder; '
          f'target {BUILD_TARGET:.1f} s)')
    ninja = shutil.which('ninja') or shutil.which('ninja-build')
    if not ninja:
        print('  ninja not found: sudo apt-get install ninja-build')
        return False
    with tempfile.TemporaryDirectory(prefix='numbat-bench-build-') as b:
        p = subprocess.run([sys.executable, os.path.join(TOP, 'configure.py'),
                            '--builddir', b], capture_output=True, text=True)
        if p.returncode != 0:
            print('  configure.py failed:\n    ' + (p.stderr or p.stdout).strip()
                  .replace('\n', '\n    '))
            return False
        t0 = time.monotonic()
        p = subprocess.run([ninja, '-C', b, '-j2', 'kernel'], capture_output=True,
                           text=True)
        secs = time.monotonic() - t0
        if p.returncode != 0:
            print('  the build failed:\n    ' + p.stdout.strip()[-2000:]
                  .replace('\n', '\n    '))
            return False
        objs = len(glob.glob(os.path.join(b, 'kernel-obj', '**', '*.o'), recursive=True))
        print(f'  {secs:.2f} s for {objs} objects, the link and the listing: '
              f'{verdict(secs, BUILD_TARGET)}')
    return True


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
    p.add_argument('--no-build-time', action='store_true',
                   help='skip the clean build timing')
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error('--runs must be at least 1')
    if not os.path.exists(os.path.join(args.build, 'numbat.elf')):
        print(f'bench: {args.build}/numbat.elf is missing: run ninja first', file=sys.stderr)
        return 2
    ok = boot_table(args.build, args.runs)
    if not args.no_build_time:
        ok &= build_time()
    ok &= host_benches(args.build)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
