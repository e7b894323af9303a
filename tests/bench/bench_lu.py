#!/usr/bin/env python3
"""Live update's benchmark (docs/liveupdate.md), part of `ninja bench`.

For 128 MiB (1node) and 16 GiB (big) and each policy (lu_pages=), boot
with ktest=bench_lu.* lu_chain=1: the first kernel keeps about three
quarters of the machine in whole blocks (suite bench_lu,
kernel/ktest_lu.c) and hands over; the second prints what its policy cost
at boot (lu_adopt) and what the first free of everything cost. Reported:

  hand-over  wall time from the old kernel's `liveupdate: generation 1:`
             line to the new kernel's `KTAP version 1` (its boot done: the
             point where it would print `Numbat ready` without ktest=)
  boot       microseconds the policy spent in the new kernel's boot
  free       microseconds the first free of every inherited frame took

The median of --runs runs. Timings depend on the machine; this never
fails because something was slow.

Usage: tests/bench/bench_lu.py --build BUILD [--runs N]
"""

import argparse
import os
import re
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tools'))
import numbat_run   # noqa: E402

START = 'liveupdate: generation 1:'
LINE_RE = re.compile(r'bench_lu: policy (\w+) pages (\d+) boot_us (\d+) first_free_us (\d+)')


def one_run(elf, topology, policy):
    """(hand-over seconds, pages, boot us, free us) or None, problem."""
    seen = {'text': '', 'start': None, 'ready': None}

    def on_output(chunk):
        seen['text'] += chunk
        now = time.monotonic()
        if seen['start'] is None and START in seen['text']:
            seen['start'] = now
        if (seen['start'] is not None and seen['ready'] is None and
                seen['text'].count('KTAP version 1') >= 3):   # the 2nd kernel's first
            seen['ready'] = now

    other = 'uninit' if policy == 'inuse' else 'inuse'   # the chain alternates
    r = numbat_run.run(elf, topology=topology, timeout=120, on_output=on_output,
                       append=f'ktest=bench_lu.* lu_chain=1 lu_pages={other}')
    m = LINE_RE.search(r.console)
    if r.status != 0 or not m or m.group(1) != policy or seen['ready'] is None:
        return None, r.describe()
    return (seen['ready'] - seen['start'], int(m.group(2)), int(m.group(3)),
            int(m.group(4))), None


def table(elf, runs):
    print('\nLive update: hand-over to the new kernel\'s boot done, and what each '
          f'policy costs (median of {runs} runs, {elf})')
    print(f'  {"machine":8} {"policy":7} {"pages kept":>10} {"hand-over":>10} '
          f'{"boot (policy)":>14} {"first free":>11}')
    ok = True
    for topology in ('1node', 'big'):
        for policy in ('uninit', 'inuse'):
            got, problem = [], None
            for _ in range(runs):
                res, problem = one_run(elf, topology, policy)
                if res:
                    got.append(res)
            if not got:
                print(f'  {topology:8} {policy:7} could not run: {problem}')
                ok = False
                continue
            med = [statistics.median(x[i] for x in got) for i in range(4)]
            print(f'  {topology:8} {policy:7} {int(med[1]):>10} {med[0]:>8.3f} s '
                  f'{med[2] / 1000:>11.1f} ms {med[3] / 1000:>8.1f} ms')
    return ok


def main(argv):
    p = argparse.ArgumentParser(description='Live update benchmark.')
    p.add_argument('--build', default=os.path.join(TOP, 'build'), help='build folder')
    p.add_argument('--runs', type=int, default=3, help='runs per median (default 3)')
    p.add_argument('--elf', help='the kernel to run (default BUILD/numbat.elf; '
                   'ninja bench passes its release build: a debug build poisons '
                   'every frame the inuse policy frees, 12 GiB on big)')
    args = p.parse_args(argv)
    elf = args.elf or os.path.join(args.build, 'numbat.elf')
    if not os.path.exists(elf):
        print(f'bench_lu: {elf} is missing: run ninja first', file=sys.stderr)
        return 2
    return 0 if table(elf, max(1, args.runs)) else 1


if __name__ == '__main__':
    numbat_run.end_qemus_on_signals()
    sys.exit(main(sys.argv[1:]))
