#!/usr/bin/env python3
"""Grade a Numbat lab submission (docs/labs.md says it all).

    labs/grade.py LAB [SUBMISSION]           one submission (default: this tree)
    labs/grade.py                            in a handout: its lab, this tree;
                                             in the reference tree: every lab
    labs/grade.py LAB --submissions DIR --jobs N --out OUT    a whole class
    labs/grade.py LAB --gradescope-bundle OUT.zip             Gradescope autograder

SUBMISSION is a folder, a git repository (its HEAD is graded) or an archive
(.tar.gz, .tgz, .tar, .zip). Only the lab's own files (labs/LAB/lab.json,
"files") are taken from it; they go onto a pristine copy of this tree in
which the lab's solution is replaced by its stub, so a file the submission
lacks is graded as the stub. Then the kernel and the host tests the rubric
names are built, the tests run with time limits (QEMU boots in parallel,
one boot per topology and test glob), and each test earns its points.

Exit status: 0 full marks, 1 graded below full marks, 2 bad command line
(e.g. no such lab), 3 the grader itself failed (a bug or a broken
installation: the message says which; it is never a student's score).

Standard library only.
"""

import argparse
import concurrent.futures
import csv
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labtool  # noqa: E402

TOP = labtool.TOP
sys.path.insert(0, os.path.join(TOP, 'tools'))
import numbat_run  # noqa: E402
from grader.apicheck import ApiCheckError, check_lab  # noqa: E402
from grader.bundle import gradescope_bundle  # noqa: E402,F401
from grader.proc import run_capped  # noqa: E402
from grader.report import (EXIT_FULL, EXIT_GRADER, EXIT_PARTIAL, EXIT_USAGE,  # noqa: E402,F401
                           Grade, TestResult, fmt, tail, write_outputs)
from grader.results import Structure, parse_host, parse_kernel  # noqa: E402,F401
from grader.runs import Context, GraderError, run_host_group, run_qemu_group  # noqa: E402
from grader.unpack import BadSubmission, find_lab_files, unpack  # noqa: E402

BUILD_TIMEOUT = 120          # seconds for configure + ninja
TOTAL_TIMEOUT = 300          # seconds for one whole submission


# --- building ----------------------------------------------------------------------------

def compiler_errors(output, tree):
    """The useful part of a failed build: each error with the lines around
    it, paths made relative, at most 40 lines."""
    text = output.replace(tree + '/', '')
    lines = text.split('\n')
    keep = []
    for i, line in enumerate(lines):
        if re.search(r'\berror\b|undefined reference|FAILED:', line) and 'ninja: build stopped' not in line:
            for j in range(max(0, i - 1), min(len(lines), i + 4)):
                if j not in keep and not lines[j].startswith('['):
                    keep.append(j)
    if not keep:
        return tail(text, 30)
    shown = [lines[j] for j in sorted(set(keep)) if not lines[j].startswith('FAILED:')
             and not lines[j].startswith('/usr/bin/') and 'riscv64-unknown-elf-gcc' not in lines[j][:40]]
    if len(shown) > 40:
        shown = shown[:40] + [f'... ({len(shown) - 40} more lines)']
    return '\n'.join(shown)


# --- one submission -------------------------------------------------------------------

def grade(lab, submission=None, jobs=None, total_timeout=TOTAL_TIMEOUT, keep=None,
          trusted=TOP, run_cap=None, slot=None, api=True):
    """Grade one submission; never raises: a grader failure is recorded in
    the Grade (grader_error). run_cap: at most this many seconds per test
    run. slot: a folder kept between gradings (tree and build), so that the
    next grading rebuilds only what differs - only for trusted code, as a
    submission's host tests could change the folder (docs/labs.md).
    api=False skips the API check (for self-tests of what lies beneath it)."""
    start = time.monotonic()
    g = Grade(lab, submission or trusted)
    work = tempfile.mkdtemp(prefix=f'numbat-grade-{lab}-')
    try:
        ctx = Context(work, os.path.join(work, 'tree'), start + total_timeout, run_cap)
        ctx.slot = slot
        ctx.api = api
        _grade(g, lab, submission, jobs, ctx, trusted)
    except GraderError as e:
        g.grader_error = str(e)
    except Exception:
        g.grader_error = traceback.format_exc(limit=6)
    finally:
        g.seconds = time.monotonic() - start
        if keep:
            g.notes.append(f'work folder kept: {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    return g


def _grade(g, lab, submission, jobs, ctx, trusted):
    rubric = labtool.load_rubric(lab, trusted)
    files = rubric['files']
    results = {}
    for group in rubric['groups']:
        for t in group['tests']:
            r = TestResult(labtool.test_name(group, t), t['points'], group['hidden'])
            results[r.name] = r
            g.tests.append(r)
    work = ctx.work
    # The submission's files.
    sub_dir = os.path.join(work, 'submission')
    os.makedirs(sub_dir)
    try:
        kind = unpack(submission or trusted, sub_dir, working_tree=submission is None)
    except BadSubmission as e:
        g.notes.append(f'Cannot read the submission: {e}')
        for r in g.tests:
            r.status, r.output = 'failed', 'the submission could not be read'
        return
    found = find_lab_files(sub_dir, files)

    # The pristine tree: this tree with the lab's stubs, hidden tests added.
    labtool.copy_tree(trusted, ctx.tree, instructor=True)
    if labtool.handout_lab(trusted) != lab:
        try:
            labtool.apply_stubs(ctx.tree, lab, files)
        except labtool.LabError as e:
            raise GraderError(f'the pristine tree: {e}')
    add_hidden_tests(ctx.tree, lab)
    for rel in files:
        if rel in found:
            shutil.copyfile(found[rel], os.path.join(ctx.tree, rel))
    missing = [rel for rel in files if rel not in found]
    g.notes.append(f'Submission: {kind}; lab files found: '
                   f'{", ".join(sorted(found)) or "none"}')
    if missing:
        g.notes.append(f'MISSING: {", ".join(missing)} (graded as the handout\'s stub)')

    pristine = ctx.tree
    if getattr(ctx, 'slot', None):
        sync_tree(ctx.tree, os.path.join(ctx.slot, 'tree'))
        ctx.tree = os.path.join(ctx.slot, 'tree')
        ctx.build = os.path.join(ctx.slot, 'build')
        ctx.kernel = os.path.join(ctx.build, 'numbat.elf')

    # Build what the rubric needs.
    targets = [ctx.kernel] + sorted({os.path.join(ctx.build, 'host', gr['binary'])
                                     for gr in rubric['groups'] if gr['kind'] == 'host'})
    if not os.path.isfile(os.path.join(ctx.build, 'build.ninja')):
        st, out, to, _ = run_capped([sys.executable, os.path.join(ctx.tree, 'configure.py'),
                                     '--builddir', ctx.build], ctx.clamp(60, capped=False),
                                    cwd=ctx.tree)
        if st != 0:
            raise GraderError('configure.py failed:\n' + tail(out, 20))
    st, out, to, _ = run_capped(['ninja', '-C', ctx.build] + targets,
                                ctx.clamp(BUILD_TIMEOUT, capped=False), cwd=ctx.tree)
    if st != 0:
        why = 'the build timed out' if to else 'the build failed'
        errs = compiler_errors(out, ctx.tree)
        g.notes.append(f'BUILD FAILED ({why}); every test scores 0. The compiler says:\n{errs}')
        for r in g.tests:
            r.status, r.output = 'failed', 'the submission did not build (see above)'
        return

    # The lab's files keep to their API (docs/labs.md), or nothing of theirs runs.
    try:
        reasons = check_lab(rubric, ctx.tree, ctx.build) if ctx.api else []
    except ApiCheckError as e:
        raise GraderError(f'the API check cannot run: {e}')
    if reasons:
        g.notes.append(f'API CHECK FAILED: every test scores 0; lab files may use only what '
                       f'labs/{lab}/lab.json "api" lists:\n'
                       + '\n'.join('  ' + r for r in reasons))
        for r in g.tests:
            r.status, r.output = 'failed', 'the lab files break their API (see above)'
        return

    # Run the groups, in parallel: QEMU boots are single-threaded each.
    runners = {'host': run_host_group, 'qemu': run_qemu_group}
    jobs = jobs or max(2, min(4, os.cpu_count() or 2))
    errors = []

    def one(group):
        try:
            runners[group['kind']](ctx, group, results)
        except GraderError as e:
            errors.append(str(e))
        except Exception:
            errors.append(traceback.format_exc(limit=6))

    order = sorted(rubric['groups'], key=lambda gr: gr['kind'] != 'qemu')
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, order))
    for r in g.tests:       # paths as the student knows them: mm/buddy.c:42
        for prefix in {pristine + '/', ctx.tree + '/'}:
            r.output = r.output.replace(prefix, '')
    if errors:
        raise GraderError('\n'.join(errors))


def sync_tree(src, dst):
    """Make dst hold exactly src's files; a file whose content changed gets
    a new time stamp (so ninja rebuilds it), an unchanged one keeps its old
    one (so ninja does not)."""
    want = set()
    for root, _, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), src)
            want.add(rel)
            s, d = os.path.join(src, rel), os.path.join(dst, rel)
            if os.path.isfile(d):
                with open(s, 'rb') as a, open(d, 'rb') as b:
                    if a.read() == b.read():
                        continue
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copyfile(s, d)
    for root, _, files in os.walk(dst):
        for f in files:
            p = os.path.join(root, f)
            if os.path.relpath(p, dst) not in want:
                os.remove(p)


def add_hidden_tests(tree, lab):
    """Hidden tests of the lab go where the build finds them: test_*.c into
    tests/host/, ktest_*.c into kernel/."""
    hidden = os.path.join(tree, 'labs', lab, 'hidden')
    if not os.path.isdir(hidden):
        return
    for f in sorted(os.listdir(hidden)):
        if f.startswith('test_') and f.endswith('.c'):
            shutil.copyfile(os.path.join(hidden, f), os.path.join(tree, 'tests', 'host', f))
        elif f.startswith('ktest_') and f.endswith('.c'):
            shutil.copyfile(os.path.join(hidden, f), os.path.join(tree, 'kernel', f))


def batch(lab, folder, out_dir, jobs, total_timeout):
    """Grade every entry of folder (a sub-folder or an archive per student)."""
    entries = sorted(e for e in os.listdir(folder) if not e.startswith('.'))
    if not entries:
        print(f'grade: {folder} holds no submissions', file=sys.stderr)
        return EXIT_USAGE
    os.makedirs(out_dir, exist_ok=True)
    rows, lock, done = [], threading.Lock(), [0]
    start = time.monotonic()

    def student_id(entry):
        for ext in ('.tar.gz', '.tgz', '.tar.xz', '.tar.bz2', '.tar', '.zip'):
            if entry.lower().endswith(ext):
                return entry[:-len(ext)]
        return entry

    def one(entry):
        sid = student_id(entry)
        g = grade(lab, os.path.join(folder, entry), jobs=2, total_timeout=total_timeout)
        write_outputs(g, os.path.join(out_dir, sid))
        with lock:
            done[0] += 1
            rows.append((sid, g))
            flag = ' GRADER ERROR' if g.grader_error else ''
            print(f'[{done[0]}/{len(entries)}] {sid}: {fmt(g.score)}/{fmt(g.max_score)} '
                  f'({g.seconds:.1f} s){flag}', flush=True)

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(one, entries))
    rows.sort()
    names = [t.name for t in rows[0][1].tests] if rows else []
    with open(os.path.join(out_dir, 'gradebook.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['student', 'score', 'max_score', 'grader_error'] + names)
        for sid, g in rows:
            per = {t.name: fmt(t.score) for t in g.tests}
            w.writerow([sid, fmt(g.score), fmt(g.max_score),
                        (g.grader_error or '').strip().split('\n')[-1]] +
                       [per.get(n, '') for n in names])
    with open(os.path.join(out_dir, 'gradebook.json'), 'w') as f:
        json.dump({'lab': lab, 'graded': datetime.datetime.now(datetime.timezone.utc)
                   .isoformat(timespec='seconds'),
                   'students': [dict(g.summary(), student=sid) for sid, g in rows]}, f, indent=1)
    errs = sum(1 for _, g in rows if g.grader_error)
    print(f'grade: {len(rows)} submissions in {time.monotonic() - start:.0f} s; '
          f'gradebook: {os.path.join(out_dir, "gradebook.csv")} and gradebook.json'
          + (f'; {errs} GRADER ERRORS (see their report.txt)' if errs else ''))
    return EXIT_GRADER if errs else EXIT_FULL

# --- command line --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Grade a Numbat lab submission (see docs/labs.md).',
        epilog='Exit status: 0 full marks, 1 below full marks, 2 bad command line, '
               '3 grader error.')
    p.add_argument('lab', nargs='?', help='the lab (' + ', '.join(labtool.lab_names()) + ')')
    p.add_argument('submission', nargs='?',
                   help='folder, git repository or archive (default: this tree)')
    p.add_argument('--submissions', metavar='DIR', help='grade every entry of DIR (batch)')
    p.add_argument('--jobs', type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help='submissions graded at once in batch mode')
    p.add_argument('--out', metavar='DIR', help='write report.txt, results.json, junit.xml '
                   '(batch: one folder per student, and the gradebook)')
    p.add_argument('--results-json', metavar='FILE', help="Gradescope's results.json")
    p.add_argument('--junit', metavar='FILE', help='JUnit XML')
    p.add_argument('--gradescope-bundle', metavar='ZIP', help='write an autograder zip')
    p.add_argument('--timeout', type=float, default=TOTAL_TIMEOUT,
                   help=f'seconds for one whole submission (default {TOTAL_TIMEOUT})')
    p.add_argument('--keep', action='store_true', help='keep the work folder')
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    labs = labtool.lab_names()
    if args.lab is None:
        mine = labtool.handout_lab(TOP)
        if mine:
            args.lab = mine
        else:
            return grade_every_lab(labs)
    if args.lab not in labs:
        print(f'grade: no lab named {args.lab!r}; the labs are: {", ".join(labs)}',
              file=sys.stderr)
        return EXIT_USAGE
    if args.gradescope_bundle:
        gradescope_bundle(args.lab, args.gradescope_bundle)
        print(f'grade: wrote {args.gradescope_bundle}: upload it as the autograder '
              f'of lab {args.lab}')
        return EXIT_FULL
    if args.submissions:
        if not os.path.isdir(args.submissions):
            print(f'grade: {args.submissions}: not a folder', file=sys.stderr)
            return EXIT_USAGE
        return batch(args.lab, args.submissions, args.out or 'grades-' + args.lab,
                     args.jobs, args.timeout)
    sub = os.path.abspath(args.submission) if args.submission else None
    g = grade(args.lab, sub, total_timeout=args.timeout, keep=args.keep)
    sys.stdout.write(g.text())
    write_outputs(g, args.out, args.results_json, args.junit)
    return g.exit_status()


def grade_every_lab(labs):
    """The reference tree graded against itself: every lab at full marks."""
    worst = EXIT_FULL
    for lab in labs:
        g = grade(lab)
        print(f'{lab}: {fmt(g.score)}/{fmt(g.max_score)} ({g.seconds:.1f} s)'
              + (' GRADER ERROR' if g.grader_error else ''))
        if g.exit_status() != EXIT_FULL:
            sys.stdout.write(g.text())
        worst = max(worst, g.exit_status())
    print('usage: labs/grade.py LAB [SUBMISSION]  (see docs/labs.md)')
    return worst


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        numbat_run.kill_all()
        sys.exit(130)
    except SystemExit:
        raise
    except BaseException:
        print('GRADER ERROR (not a score):\n' + traceback.format_exc(), file=sys.stderr)
        sys.exit(EXIT_GRADER)
