#!/usr/bin/env python3
"""Grade a Numbat lab submission (docs/labs.md says it all).

    labs/grade.py LAB [SUBMISSION]           one submission (default: this tree)
    labs/grade.py                            in a handout: its lab, this tree;
                                             in the reference tree: every lab
    labs/grade.py LAB --submissions DIR --jobs N --out OUT    a whole class
    labs/grade.py LAB --gradescope-bundle OUT.zip             Gradescope autograder

SUBMISSION is a folder, a git repository (HEAD, or the working copy where
it differs) or an archive (.tar.gz, .tgz, .tar.bz2, .tar.xz, .tar, .zip).
Only the lab's own files (labs/LAB/lab.json, "files") are taken from it;
they go onto a pristine copy of this tree in which the lab's solution is
replaced by its stub, so a file the submission lacks is graded as the
stub. Then the lab's objects are built (no hidden test in the tree yet),
checked against the lab's API, the rest the rubric needs is built with
the hidden tests, the tests run with time limits (QEMU boots in
parallel, one boot per topology and test glob), and each test earns its
points. Everything derived from the submission runs in the sandbox
(grader/sandbox.py; --sandbox=auto|require|off).

Exit status: 0 full marks, 1 graded below full marks, 2 bad command line
(e.g. no such lab), 3 the grader itself failed (a bug or a broken
installation: the message says which; it is never a student's score),
also --sandbox=require where bubblewrap cannot make its namespaces.

Standard library only.
"""

import argparse
import concurrent.futures
import csv
import datetime
import hashlib
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
from grader.sandbox import LIMITS_BUILD, Sandbox, SandboxError, reachable  # noqa: E402
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
          trusted=TOP, run_cap=None, slot=None, sandbox_mode='auto', api=True,
          kinds=None):
    """Grade one submission; never raises: a grader failure is recorded in
    the Grade (grader_error). run_cap: at most this many seconds per test
    run. slot: a folder kept between gradings (tree and build), so that the
    next grading rebuilds only what differs - only for trusted code
    (docs/labs.md). sandbox_mode: 'auto', 'require' or 'off' (sandbox.py).
    api=False skips the API check (the self-tests of the sandbox beneath it).
    kinds: grade only the rubric's groups of these kinds (e.g. {'host'}:
    the self-tests' cheap first pass over the mutants)."""
    start = time.monotonic()
    g = Grade(lab, submission or trusted)
    work = tempfile.mkdtemp(prefix=f'numbat-grade-{lab}-')
    box = None
    try:
        box = Sandbox(sandbox_mode)
        g.notes.append(box.describe())
        os.chmod(work, 0o711)           # steps reach their own folders only
        ctx = Context(work, os.path.join(work, 'tree'), start + total_timeout, run_cap, box)
        ctx.slot = slot
        ctx.api = api
        ctx.kinds = kinds
        _grade(g, lab, submission, jobs, ctx, trusted)
    except (GraderError, SandboxError) as e:
        g.grader_error = str(e)
    except Exception:
        g.grader_error = traceback.format_exc(limit=6)
    finally:
        if box:
            box.sweep()                 # nothing of the submission outlives its grading
        g.seconds = time.monotonic() - start
        if keep:
            g.notes.append(f'work folder kept: {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    return g


def _grade(g, lab, submission, jobs, ctx, trusted):
    rubric = labtool.load_rubric(lab, trusted)
    if ctx.kinds:
        rubric['groups'] = [gr for gr in rubric['groups'] if gr['kind'] in ctx.kinds]
    results = {}
    for group in rubric['groups']:
        for t in group['tests']:
            r = TestResult(labtool.test_name(group, t), t['points'], group['hidden'])
            results[r.name] = r
            g.tests.append(r)
    found = read_submission(g, rubric['files'], submission, ctx, trusted)
    if found is None:
        return
    pristine = make_tree(ctx, lab, rubric['files'], found, trusted)
    if not build_lab_objects(g, ctx, rubric):
        return
    if not api_check(g, ctx, rubric):
        return
    if not build_rest(g, ctx, rubric, lab, trusted):
        return
    run_groups(ctx, rubric, results, jobs)
    for r in g.tests:       # paths as the student knows them: mm/buddy.c:42
        for prefix in {pristine + '/', ctx.tree + '/'}:
            r.output = r.output.replace(prefix, '')


def fail_all(g, why):
    for r in g.tests:
        r.status, r.output, r.score = 'failed', why, 0


def read_submission(g, files, submission, ctx, trusted):
    """{rel: path} of the lab's files found in the submission, or None
    (the report says why) when it cannot be read."""
    sub_dir = os.path.join(ctx.work, 'submission')
    os.makedirs(sub_dir, mode=0o700)
    try:
        kind = unpack(submission or trusted, sub_dir, working_tree=submission is None,
                      deadline=ctx.deadline, files=files)
    except BadSubmission as e:
        g.notes.append(f'Cannot read the submission: {e}')
        fail_all(g, 'the submission could not be read')
        return None
    found = find_lab_files(sub_dir, files)
    g.notes.append(f'Submission: {kind}; lab files found: '
                   f'{", ".join(sorted(found)) or "none"}')
    missing = [rel for rel in files if rel not in found]
    if missing:
        g.notes.append(f'MISSING: {", ".join(missing)} (graded as the handout\'s stub)')
    return found


def make_tree(ctx, lab, files, found, trusted):
    """The pristine tree: the trusted tree without any hidden test or
    grader self-test, the lab's stubs in place, the submission's lab files
    over them. Returns the scratch tree's path (as reports name it)."""
    labtool.copy_tree(trusted, ctx.tree, instructor=False)
    if labtool.handout_lab(trusted) != lab:
        try:
            labtool.apply_stubs(ctx.tree, lab, files)
        except labtool.LabError as e:
            raise GraderError(f'the pristine tree: {e}')
    for rel in files:
        if rel in found:
            shutil.copyfile(found[rel], os.path.join(ctx.tree, rel))
    pristine = ctx.tree
    if getattr(ctx, 'slot', None):
        os.makedirs(ctx.slot, exist_ok=True)
        sync_tree(ctx.tree, os.path.join(ctx.slot, 'tree'))
        ctx.tree = os.path.join(ctx.slot, 'tree')
        ctx.build = os.path.join(ctx.slot, 'build')
        ctx.kernel = os.path.join(ctx.build, 'numbat.elf')
        reachable(ctx.tree)
    os.makedirs(ctx.build, exist_ok=True)
    ctx.sandbox.own(ctx.build)
    ctx.sandbox.readable(ctx.tree)
    return pristine


def build_step(ctx, cmd, seconds):
    """configure.py or ninja in the sandbox: the tree read-only, the build
    folder writable."""
    return ctx.sandbox.run(cmd, ctx.clamp(seconds, capped=False), ro=[ctx.tree],
                           rw=[ctx.build], limits=LIMITS_BUILD, cwd=ctx.tree)


def lab_objects(ctx, files):
    """The lab's own objects, host and RISC-V, as build.ninja names them."""
    with open(os.path.join(ctx.build, 'build.ninja')) as f:
        outputs = set(re.findall(r'^build (\S+?):', f.read(), re.M))
    objs = []
    for rel in files:
        stem = os.path.splitext(rel)[0]
        for kind in ('kernel-obj', 'host-obj'):
            if f'$builddir/{kind}/{stem}.o' in outputs:
                objs.append(os.path.join(ctx.build, kind, stem + '.o'))
    return objs


def build_lab_objects(g, ctx, rubric):
    """Phase 1: configure, and compile the lab's files - the only step that
    compiles submission code - in a tree with no hidden test in it."""
    if not os.path.isfile(os.path.join(ctx.build, 'build.ninja')):
        st, out, to, _ = build_step(ctx, [ctx.sandbox.python, os.path.join(ctx.tree, 'configure.py'),
                                          '--builddir', ctx.build], 60)
        if st != 0:
            raise GraderError('configure.py failed:\n' + tail(out, 20))
    ctx.lab_objs = lab_objects(ctx, rubric['files'])
    if not ctx.lab_objs:
        raise GraderError(f'build.ninja names no object of {", ".join(rubric["files"])}')
    st, out, to, _ = build_step(ctx, ['ninja', '-C', ctx.build] + ctx.lab_objs, BUILD_TIMEOUT)
    if st != 0:
        build_failed(g, ctx, out, to)
        return False
    ctx.lab_hashes = {p: file_hash(p) for p in ctx.lab_objs}
    return True


def build_failed(g, ctx, out, timed_out, hidden=()):
    why = 'the build timed out' if timed_out else 'the build failed'
    errs = compiler_errors(out, ctx.tree)
    if hidden:          # a hidden test's source never reaches a report
        errs = '\n'.join(l for l in errs.split('\n') if not re.match(r'\s*\d*\s*\|', l))
    g.notes.append(f'BUILD FAILED ({why}); every test scores 0. The compiler says:\n{errs}')
    fail_all(g, 'the submission did not build (see above)')


def api_check(g, ctx, rubric):
    """The lab's objects may use only the API lab.json lists (apicheck.py);
    a violation scores every test 0, the reason in the report."""
    if not getattr(ctx, 'api', True):
        return True

    def run(cmd, timeout):
        st, out, _, _ = ctx.sandbox.run(cmd, ctx.clamp(timeout, capped=False),
                                        ro=[ctx.tree, ctx.build], limits=LIMITS_BUILD,
                                        cwd=ctx.build)
        return st, out
    try:
        reasons = check_lab(rubric, ctx.tree, ctx.build, run)
    except ApiCheckError as e:          # the rubric or the build, not the student
        raise GraderError(f'the API check could not run: {e}')
    if reasons:
        g.notes.append('API CHECK FAILED: every test scores 0:\n'
                       + '\n'.join(f'- {r}' for r in reasons))
        fail_all(g, 'the lab\'s code uses what its API does not allow (see above): '
                 + reasons[0])
        return False
    return True


def build_rest(g, ctx, rubric, lab, trusted):
    """Phase 2: add the hidden tests and build the rest (pristine code only:
    no submission code is compiled or run here, and the lab's objects must
    come out of it unchanged)."""
    hidden = add_hidden_tests(ctx.tree, lab, trusted)
    targets = [ctx.kernel] + sorted({os.path.join(ctx.build, 'host', gr['binary'])
                                     for gr in rubric['groups'] if gr['kind'] == 'host'})
    st, out, to, _ = build_step(ctx, ['ninja', '-C', ctx.build] + targets, BUILD_TIMEOUT)
    changed = [p for p in ctx.lab_objs if file_hash(p) != ctx.lab_hashes[p]]
    if changed:
        raise GraderError('phase 2 of the build compiled the lab\'s files again ('
                          + ', '.join(os.path.relpath(p, ctx.build) for p in changed)
                          + '): the hidden tests would have been visible to them')
    if st != 0:
        build_failed(g, ctx, out, to, hidden)
        return False
    ctx.sandbox.seal(ctx.build)
    for p in hidden:                    # the runs do not need the sources
        ctx.sandbox.hide(p)
    return True


def run_groups(ctx, rubric, results, jobs):
    """Run the groups, in parallel: QEMU boots are single-threaded each."""
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
    ctx.sandbox.sweep()
    if errors:
        raise GraderError('\n'.join(errors))


def file_hash(path):
    """A file's time stamp and content hash (either changes if ninja
    compiled it again)."""
    with open(path, 'rb') as f:
        return os.stat(path).st_mtime_ns, hashlib.sha256(f.read()).hexdigest()


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


def add_hidden_tests(tree, lab, trusted):
    """Hidden tests of the lab go where the build finds them: test_*.c into
    tests/host/, ktest_*.c into kernel/ (with their time stamps, so that a
    slot does not rebuild them). Returns the paths it wrote."""
    hidden = os.path.join(trusted, 'labs', lab, 'hidden')
    out = []
    if not os.path.isdir(hidden):
        return out
    for f in sorted(os.listdir(hidden)):
        if f.startswith('test_') and f.endswith('.c'):
            out.append(os.path.join(tree, 'tests', 'host', f))
        elif f.startswith('ktest_') and f.endswith('.c'):
            out.append(os.path.join(tree, 'kernel', f))
        else:
            continue
        if os.path.exists(out[-1]):
            os.chmod(out[-1], 0o644)
        shutil.copy2(os.path.join(hidden, f), out[-1])
    return out


def batch(lab, folder, out_dir, jobs, total_timeout, sandbox_mode='auto', **grade_kw):
    """Grade every entry of folder (a sub-folder or an archive per student);
    grade_kw go to every grade() call."""
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
        g = grade(lab, os.path.join(folder, entry), jobs=2, total_timeout=total_timeout,
                  sandbox_mode=sandbox_mode, **grade_kw)
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
    p.add_argument('--sandbox', choices=('auto', 'require', 'off'), default='auto',
                   help='auto: bubblewrap, else the fallback (the report says which); '
                        'require: refuse to grade without bubblewrap (exit 3); '
                        'off: no sandbox, for trusted code only')
    p.add_argument('--no-api-check', action='store_true',
                   help='skip the lab API check: only for self-tests of the sandbox '
                        'beneath it, never for grading students')
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
    if args.sandbox == 'require':
        try:
            Sandbox('require')
        except SandboxError as e:
            print(f'grade: {e}', file=sys.stderr)
            return EXIT_GRADER
    if args.submissions:
        if not os.path.isdir(args.submissions):
            print(f'grade: {args.submissions}: not a folder', file=sys.stderr)
            return EXIT_USAGE
        return batch(args.lab, args.submissions, args.out or 'grades-' + args.lab,
                     args.jobs, args.timeout, args.sandbox)
    sub = os.path.abspath(args.submission) if args.submission else None
    g = grade(args.lab, sub, total_timeout=args.timeout, keep=args.keep,
              sandbox_mode=args.sandbox, api=not args.no_api_check)
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
