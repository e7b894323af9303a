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
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labtool  # noqa: E402

TOP = labtool.TOP
sys.path.insert(0, os.path.join(TOP, 'tools'))
import numbat_run  # noqa: E402

EXIT_FULL, EXIT_PARTIAL, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3
BUILD_TIMEOUT = 120          # seconds for configure + ninja
TOTAL_TIMEOUT = 300          # seconds for one whole submission
OUTPUT_CAP = 256 * 1024      # bytes of output kept from one run
MAX_ARCHIVE_BYTES = 64 << 20   # unpacked size of a submission archive
MAX_ARCHIVE_FILES = 20000
INITRD_BYTES = 300 * 1024 + 123


# --- the report ---------------------------------------------------------------------

class TestResult:
    def __init__(self, name, max_score, hidden):
        self.name = name
        self.max_score = max_score
        self.score = 0
        self.hidden = hidden
        self.status = 'not run'     # passed, failed, skipped, not run
        self.output = ''            # why it failed: diagnostics, console, ...

    def visibility(self):
        return 'after_published' if self.hidden else 'visible'


class Grade:
    def __init__(self, lab, submission):
        self.lab = lab
        self.submission = submission
        self.tests = []             # TestResult, rubric order
        self.notes = []             # report-wide messages (missing files, build errors)
        self.grader_error = None    # text when the grader itself failed
        self.seconds = 0.0

    @property
    def score(self):
        return sum(t.score for t in self.tests)

    @property
    def max_score(self):
        return sum(t.max_score for t in self.tests)

    def exit_status(self):
        if self.grader_error:
            return EXIT_GRADER
        return EXIT_FULL if self.score >= self.max_score else EXIT_PARTIAL

    # Formats.
    def text(self):
        out = [f'Lab {self.lab}: {self.submission}']
        for n in self.notes:
            out.append('  ' + n.replace('\n', '\n  '))
        width = max([len(t.name) for t in self.tests] + [20])
        out.append('')
        out.append(f'  {"test".ljust(width)}  result    points')
        for t in self.tests:
            vis = '  (hidden)' if t.hidden else ''
            out.append(f'  {t.name.ljust(width)}  {t.status.ljust(8)}  '
                       f'{fmt(t.score)}/{fmt(t.max_score)}{vis}')
        out.append('')
        for t in self.tests:
            if t.status != 'passed' and t.output:
                out.append(f'--- {t.name}: {t.status}')
                out.append('  ' + t.output.rstrip().replace('\n', '\n  '))
                out.append('')
        if self.grader_error:
            out.append('GRADER ERROR (not your score; tell your TA):')
            out.append('  ' + self.grader_error.rstrip().replace('\n', '\n  '))
        out.append(f'Score: {fmt(self.score)}/{fmt(self.max_score)} '
                   f'({self.seconds:.1f} s)')
        return '\n'.join(out) + '\n'

    def gradescope(self):
        notes = '\n'.join(self.notes)
        if self.grader_error:
            notes += '\nGRADER ERROR (not your score; tell your TA):\n' + self.grader_error
        return {
            'score': self.score,
            'output': notes.strip() or f'Lab {self.lab}: {fmt(self.score)}/{fmt(self.max_score)}',
            'visibility': 'visible',
            'stdout_visibility': 'hidden',
            'execution_time': round(self.seconds, 1),
            'tests': [{'name': t.name, 'score': t.score, 'max_score': t.max_score,
                       'status': 'passed' if t.status == 'passed' else 'failed',
                       'output': t.output if t.status != 'passed' else '',
                       'visibility': t.visibility()} for t in self.tests],
        }

    def junit(self):
        suite = ET.Element('testsuite', name=f'lab.{self.lab}', tests=str(len(self.tests)),
                           failures=str(sum(t.status == 'failed' for t in self.tests)),
                           skipped=str(sum(t.status in ('skipped', 'not run') for t in self.tests)),
                           errors='1' if self.grader_error else '0',
                           time=f'{self.seconds:.2f}')
        props = ET.SubElement(suite, 'properties')
        for k, v in (('score', fmt(self.score)), ('max_score', fmt(self.max_score)),
                     ('submission', self.submission)):
            ET.SubElement(props, 'property', name=k, value=str(v))
        for t in self.tests:
            case = ET.SubElement(suite, 'testcase', classname=f'lab.{self.lab}', name=t.name)
            if t.status == 'failed':
                f = ET.SubElement(case, 'failure', message=f'0/{fmt(t.max_score)} points')
                f.text = clean_xml(t.output)
            elif t.status in ('skipped', 'not run'):
                ET.SubElement(case, 'skipped', message=clean_xml(t.output[:200]))
        if self.grader_error:
            e = ET.SubElement(suite, 'system-err')
            e.text = clean_xml(self.grader_error)
        if self.notes:
            o = ET.SubElement(suite, 'system-out')
            o.text = clean_xml('\n'.join(self.notes))
        return ET.tostring(suite, encoding='unicode')

    def summary(self):
        return {'lab': self.lab, 'submission': self.submission, 'score': self.score,
                'max_score': self.max_score, 'grader_error': self.grader_error or '',
                'seconds': round(self.seconds, 1),
                'tests': {t.name: t.score for t in self.tests}}


def fmt(x):
    return str(int(x)) if float(x).is_integer() else f'{x:g}'


def clean_xml(text):
    return re.sub(r'[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd]', '?', text or '')


def tail(text, n):
    lines = text.rstrip('\n').split('\n')
    return '\n'.join(lines[-n:])


# --- getting the submission ---------------------------------------------------------

class BadSubmission(Exception):
    """The submission cannot be read at all (a bad archive, no such path)."""


def unpack(submission, dest, working_tree=False):
    """Put the submission's files into dest; returns a description of what
    it was. working_tree: a folder as it is, even if it is a git repository."""
    if os.path.isdir(submission) and working_tree:
        labtool.copy_tree(submission, dest, instructor=True)
        return 'this tree (working copy)'
    if os.path.isdir(submission):
        if os.path.isdir(os.path.join(submission, '.git')):
            r = subprocess.run(['git', '-C', submission, 'archive', '--format=tar', 'HEAD'],
                               capture_output=True, timeout=60)
            if r.returncode != 0:
                raise BadSubmission('a git repository whose HEAD cannot be read: ' +
                                    r.stderr.decode(errors='replace').strip()[-300:])
            extract_tar(io.BytesIO(r.stdout), dest)
            return 'git repository (HEAD)'
        labtool.copy_tree(submission, dest, instructor=True)
        return 'folder'
    if not os.path.exists(submission):
        raise BadSubmission(f'{submission}: no such file or folder')
    name = submission.lower()
    try:
        if name.endswith('.zip'):
            with zipfile.ZipFile(submission) as z:
                extract_zip(z, dest)
            return 'zip archive'
        if name.endswith(('.tar.gz', '.tgz', '.tar', '.tar.xz', '.tar.bz2')):
            with open(submission, 'rb') as f:
                extract_tar(f, dest)
            return 'tar archive'
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise BadSubmission(f'{os.path.basename(submission)} is not a readable archive: {e}')
    raise BadSubmission(f'{os.path.basename(submission)}: not a folder, a git repository '
                        'or an archive (.tar.gz, .tgz, .tar, .zip)')


def safe_member(name):
    parts = name.replace('\\', '/').split('/')
    return not (name.startswith('/') or '..' in parts or name == '')


def extract_tar(fileobj, dest):
    total = files = 0
    with tarfile.open(fileobj=fileobj, mode='r:*') as t:
        for m in t:
            if not m.isfile() or not safe_member(m.name):
                continue            # no links, devices or paths outside dest
            total += m.size
            files += 1
            if total > MAX_ARCHIVE_BYTES or files > MAX_ARCHIVE_FILES:
                raise ValueError(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB or '
                                 f'{MAX_ARCHIVE_FILES} files unpacked')
            out = os.path.join(dest, m.name)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with t.extractfile(m) as src, open(out, 'wb') as dst:
                shutil.copyfileobj(src, dst)


def extract_zip(z, dest):
    total = 0
    infos = [i for i in z.infolist() if not i.is_dir() and safe_member(i.filename)]
    if len(infos) > MAX_ARCHIVE_FILES:
        raise ValueError(f'more than {MAX_ARCHIVE_FILES} files')
    for i in infos:
        total += i.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise ValueError(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB unpacked')
        out = os.path.join(dest, i.filename)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(i) as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst)


def find_lab_files(root, files):
    """{rel: path in the submission} for each of the lab's files found.
    The files may sit at their tree paths, under one top folder (an archive
    of the repository folder), or flat (just `buddy.c`)."""
    found = {}
    candidates = [root] + sorted(os.path.join(root, d) for d in os.listdir(root)
                                 if os.path.isdir(os.path.join(root, d)))
    for base in candidates:
        for rel in files:
            p = os.path.join(base, rel)
            if rel not in found and os.path.isfile(p):
                found[rel] = p
    for rel in files:               # flat upload: the file name alone, if unique
        if rel in found:
            continue
        names = [p for base in candidates
                 for p in [os.path.join(base, os.path.basename(rel))] if os.path.isfile(p)]
        if len(names) == 1 and sum(os.path.basename(f) == os.path.basename(rel)
                                   for f in files) == 1:
            found[rel] = names[0]
    return found


# --- building ----------------------------------------------------------------------------

def run_capped(cmd, timeout, cwd=None, cap=OUTPUT_CAP, env=None):
    """Run cmd; (status, output, timed_out, capped). Output past cap bytes
    stops the process. The whole process group goes at the time limit."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    buf = bytearray()
    state = {'capped': False}

    def pump():
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
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
    proc.stdout.close()
    return proc.returncode, buf.decode('utf-8', 'replace'), timed_out, state['capped']


def kill_group(proc):
    try:
        os.killpg(proc.pid, 9)
    except OSError:
        pass


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


# --- running the tests --------------------------------------------------------------

RESULT_RE = re.compile(r'^(\s*)(not ok|ok)\s+(\d+)\s+(.*?)\s*$')
DIRECTIVE_RE = re.compile(r'\s+#\s*SKIP\b\s*(.*)$')


class Structure(Exception):
    """The output does not have the structure the genuine runner prints."""


def parse_host(output, expected, seed=None):
    """Strictly read a host test binary's KTAP: its version line once, its
    plan, then exactly the expected case names in order as `ok i NAME`,
    each case's `    # ` diagnostics before it. {name: (ok, skip, diags)};
    cases cut short are missing. Structure on anything out of place."""
    lines = output.split('\n')
    if sum(1 for l in lines if l.strip() == 'KTAP version 1') > 1:
        raise Structure('two KTAP headers in one run')
    try:
        start = [l.strip() for l in lines].index('KTAP version 1')
    except ValueError:
        return {}
    if seed is not None:
        # The nonce: the genuine harness echoes the seed the grader chose.
        want = f'# seed {seed} (replay with --seed {seed})'
        if start + 1 >= len(lines) or lines[start + 1].strip() != want:
            raise Structure(f'the KTAP header lacks the line {want!r}')
    plan = f'1..{len(expected)}'
    results, diags, i, seen_plan = {}, [], 0, False
    for line in lines[start + 1:]:
        m = RESULT_RE.match(line)
        if line.strip() == plan and not seen_plan:
            seen_plan = True
            continue
        if m:
            if not seen_plan:
                raise Structure(f'a result before the plan: {line.strip()!r}')
            if m.group(1) or i >= len(expected) or int(m.group(3)) != i + 1 or \
                    m.group(4).split(' #')[0] != expected[i]:
                want = f'ok {i + 1} {expected[i]}' if i < len(expected) else 'no more results'
                raise Structure(f'expected {want!r}, got {line.strip()!r}')
            skip = DIRECTIVE_RE.search(m.group(4))
            results[expected[i]] = (m.group(2) == 'ok', skip.group(1) if skip else None, diags)
            diags, i = [], i + 1
        elif line.startswith('    #') or line.startswith('#'):
            diags.append(line.strip())
        elif line.strip():
            diags.append(line.rstrip())     # printf noise from the code under test
    return results


def parse_kernel(console, nonce=None):
    """Strictly read the kernel's ktest KTAP (kernel/ktest.c): one report,
    plan = number of suites, with a nonce the `# ktest: nonce N` echo of
    the boot's ktest_nonce=N before the first suite, each suite a subtest
    whose cases are numbered 1..n in order, then the suite's own line, then
    `# ktest:` totals that agree; names unique. (Which cases a run must
    report is the rubric's business: a rubric case with no result earns
    nothing.) Returns ({suite.case: (ok, skip, diags)}, complete, totals)."""
    lines = console.split('\n')
    heads = [k for k, l in enumerate(lines) if l == 'KTAP version 1']
    if len(heads) > 1:
        raise Structure('two KTAP reports in one boot')
    if not heads:
        return {}, False, None
    results, suites_done, nr_suites = {}, 0, None
    suite, case_no, case_plan, diags = None, 0, None, []
    counts = [0, 0, 0]
    totals = None
    want_nonce = f'# ktest: nonce {nonce}' if nonce is not None else None
    nonce_seen = nonce is None
    for line in lines[heads[0] + 1:]:
        s = line.strip()
        m = RESULT_RE.match(line)
        if nr_suites is None:
            if re.fullmatch(r'1\.\.\d+', line):
                nr_suites = int(line[3:])
                continue
            if m:
                raise Structure(f'a result before the plan: {s!r}')
            continue
        if line == want_nonce and suites_done == 0 and suite is None:
            nonce_seen = True
            continue
        if line == '    KTAP version 1':
            if suite is not None:
                raise Structure(f'a subtest header inside suite {suite}')
            if not nonce_seen:
                raise Structure('the report does not echo this boot\'s nonce '
                                f'({want_nonce!r}) before its first suite')
            suite, case_no, case_plan, diags = '', 0, None, []
            continue
        sm = re.fullmatch(r'    # Subtest: (\S+)', line)
        if sm and suite == '':
            suite = sm.group(1)
            continue
        pm = re.fullmatch(r'    1\.\.(\d+)', line)
        if pm and suite and case_plan is None:
            case_plan = int(pm.group(1))
            continue
        if m and len(m.group(1)) == 4 and suite and case_plan is not None:
            name = m.group(4).split(' #')[0]
            case_no += 1
            if int(m.group(3)) != case_no or case_no > case_plan:
                raise Structure(f'in suite {suite}: expected result {case_no} of '
                                f'{case_plan}, got {s!r}')
            full = f'{suite}.{name}'
            if full in results:
                raise Structure(f'{full} reported twice')
            skip = DIRECTIVE_RE.search(m.group(4))
            ok = m.group(2) == 'ok'
            counts[0 if ok and not skip else 2 if ok else 1] += 1
            results[full] = (ok, skip.group(1) if skip else None, diags)
            diags = []
            continue
        if m and not m.group(1) and suite:
            if m.group(4).split(' #')[0] != suite or int(m.group(3)) != suites_done + 1 \
                    or case_no != case_plan:
                raise Structure(f'suite {suite} closed by {s!r} after {case_no} of '
                                f'{case_plan} results')
            suites_done += 1
            suite = None
            continue
        if m:
            raise Structure(f'a result line where none belongs: {s!r}')
        tm = re.fullmatch(r'# ktest: (\d+) passed, (\d+) failed, (\d+) skipped', line)
        if tm and suite is None:
            totals = tuple(int(x) for x in tm.groups())
            if totals != tuple(counts) or suites_done != nr_suites:
                raise Structure(f'the closing line {s!r} does not match the {suites_done} '
                                f'suites and {counts[0]}/{counts[1]}/{counts[2]} cases printed')
            break
        if suite is not None and s:
            diags.append(line.rstrip())
    return results, totals is not None, totals


def host_expected(binary, filters, timeout):
    """The cases the binary will run for these filters, in its order."""
    status, out, timed_out, _ = run_capped([binary, '--list'], timeout)
    if status != 0 or timed_out:
        raise Structure(f'{os.path.basename(binary)} --list failed (status {status})')
    names = [l.split(' (')[0] for l in out.split('\n') if l.strip()]
    return [n for n in names if any(f in n for f in filters)]


def describe_host_end(status, timed_out, capped, timeout):
    if capped:
        return f'output passed {OUTPUT_CAP >> 10} KiB and was cut off (a print loop?)'
    if timed_out:
        return f'timed out after {timeout} s and was killed (an endless loop?)'
    if status is not None and status < 0:
        return f'killed by signal {-status} (a crash)'
    return f'exit status {status}'


def run_host_group(ctx, group, results):
    binary = os.path.join(ctx.build, 'host', group['binary'])
    cases = [t['case'] for t in group['tests']]
    timeout = ctx.clamp(group.get('timeout', 30))
    if not os.path.isfile(binary):
        fail_group(group, results, f'the test program {group["binary"]} was not built')
        return
    try:
        expected = host_expected(binary, cases, min(timeout, 10))
        scratch = tempfile.mkdtemp(prefix='host-', dir=ctx.work)
        seed = random.SystemRandom().randrange(10**9, 10**10)
        status, out, timed_out, capped = run_capped([binary] + cases + ['--seed', str(seed)],
                                                    timeout, cwd=scratch)
        got = parse_host(out, expected, seed)
    except Structure as e:
        fail_group(group, results, structure_message(e, group['binary']))
        return
    end = describe_host_end(status, timed_out, capped, timeout)
    for t in group['tests']:
        r = results[labtool.test_name(group, t)]
        if t['case'] not in expected:
            r.status, r.output = 'failed', f'no test case {t["case"]} in {group["binary"]}'
            continue
        settle(r, got.get(t['case']), lambda: f'{group["binary"]} {end} before this case '
               f'finished.\nLast output:\n{tail(out, 25)}')


def ktest_append(group):
    """A fresh nonce for one boot, and the boot arguments that run the
    group's tests and ask the kernel to echo it."""
    nonce = random.SystemRandom().randrange(10**9, 10**10)
    return nonce, f'ktest={group["glob"]} ktest_nonce={nonce}'


def run_qemu_group(ctx, group, results):
    timeout = ctx.clamp(group.get('timeout', 30))
    initrd = None
    if group.get('initrd'):
        initrd = os.path.join(ctx.work, 'initrd.bin')
        if not os.path.exists(initrd):
            with open(initrd, 'wb') as f:
                f.write(bytes((i * 7 + 3) & 0xff for i in range(INITRD_BYTES)))
    nonce, append = ktest_append(group)
    try:
        r = numbat_run.run(ctx.kernel, topology=group['topology'], append=append,
                           mem=group.get('mem'), smp=group.get('smp'),
                           initrd=initrd, timeout=timeout, workdir=ctx.work,
                           output_cap=OUTPUT_CAP)
        if r.status == 2 and not r.capped:
            # A panic gets one more boot (a race can hit one boot and not the
            # next); the second boot's result counts, and the report says so.
            first = r
            nonce, append = ktest_append(group)
            r = numbat_run.run(ctx.kernel, topology=group['topology'], append=append,
                               mem=group.get('mem'), smp=group.get('smp'),
                               initrd=initrd, timeout=ctx.clamp(group.get('timeout', 30)),
                               workdir=ctx.work, output_cap=OUTPUT_CAP)
            if r.status != 2:
                r.console = (f'(the first boot panicked; this is the second)\n'
                             f'{boot_story(first)}\n--- second boot ---\n{r.console}')
    except numbat_run.RunError as e:
        raise GraderError(f'cannot boot QEMU: {e}')
    try:
        got, complete, _ = parse_kernel(r.console, nonce)
        if complete:
            any_fail = any(not ok for ok, _, _ in got.values())
            if r.status != (1 if any_fail else 0):
                raise Structure(f'the boot ended with {r.describe()} but its report says '
                                f'{"a case failed" if any_fail else "every case passed"}')
    except Structure as e:
        fail_group(group, results, structure_message(e, f'the {group["topology"]} boot'))
        return
    how = boot_story(r)
    for t in group['tests']:
        res = results[labtool.test_name(group, t)]
        settle(res, got.get(t['case']),
               lambda: f'no result: the boot ended first ({r.describe()}).\n{how}')


def boot_story(r):
    """How a boot ended, for a case it never reported: the panic block
    (already symbolised), or the last console lines."""
    lines = r.console.rstrip('\n').split('\n')
    for k, l in enumerate(lines):
        if l.startswith('PANIC'):
            block = lines[max(0, k - 5):k + 45]
            return 'Console around the panic:\n' + '\n'.join(block)
    return 'Last console lines:\n' + tail(r.console, 20)


def structure_message(e, what):
    return (f'{what}: its output does not have the structure the test runner prints '
            f'({e}). Results printed by the code under test are not accepted, so '
            'every test of this run scores 0. Do not print lines that look like test '
            'results (`ok N ...`, `KTAP version 1`).')


def settle(res, got, why_missing):
    if got is None:
        res.status, res.output = 'failed', why_missing()
        return
    ok, skip, diags = got
    if ok and not skip:
        res.status, res.score = 'passed', res.max_score
    elif skip:
        res.status, res.output = 'skipped', f'skipped: {skip}'
    else:
        res.status = 'failed'
        res.output = '\n'.join(diags[-30:]) or '(the case failed without a diagnostic)'


def fail_group(group, results, message):
    for t in group['tests']:
        r = results[labtool.test_name(group, t)]
        r.status, r.output, r.score = 'failed', message, 0


class GraderError(Exception):
    """Something the submission cannot have caused."""


class Context:
    def __init__(self, work, tree, deadline, run_cap=None):
        self.run_cap = run_cap
        self.work = work
        self.tree = tree
        self.build = os.path.join(work, 'build')
        self.kernel = os.path.join(self.build, 'numbat.elf')
        self.deadline = deadline

    def clamp(self, seconds, capped=True):
        if self.run_cap and capped:
            seconds = min(seconds, self.run_cap)
        return max(1.0, min(seconds, self.deadline - time.monotonic()))


# --- one submission -------------------------------------------------------------------

def grade(lab, submission=None, jobs=None, total_timeout=TOTAL_TIMEOUT, keep=None,
          trusted=TOP, run_cap=None, slot=None):
    """Grade one submission; never raises: a grader failure is recorded in
    the Grade (grader_error). run_cap: at most this many seconds per test
    run. slot: a folder kept between gradings (tree and build), so that the
    next grading rebuilds only what differs - only for trusted code, as a
    submission's host tests could change the folder (docs/labs.md)."""
    start = time.monotonic()
    g = Grade(lab, submission or trusted)
    work = tempfile.mkdtemp(prefix=f'numbat-grade-{lab}-')
    try:
        ctx = Context(work, os.path.join(work, 'tree'), start + total_timeout, run_cap)
        ctx.slot = slot
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


# --- outputs ----------------------------------------------------------------------------

def write_outputs(g, out_dir=None, results_json=None, junit=None):
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, 'report.txt'), 'w') as f:
            f.write(g.text())
        results_json = results_json or os.path.join(out_dir, 'results.json')
        junit = junit or os.path.join(out_dir, 'junit.xml')
    if results_json:
        os.makedirs(os.path.dirname(os.path.abspath(results_json)), exist_ok=True)
        with open(results_json, 'w') as f:
            json.dump(g.gradescope(), f, indent=1)
    if junit:
        with open(junit, 'w') as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + g.junit() + '\n')


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


# --- the Gradescope bundle -----------------------------------------------------------------

SETUP_SH = '''#!/bin/sh
# Gradescope runs this once when it builds the autograder image.
set -e
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages}
'''

RUN_AUTOGRADER = '''#!/bin/sh
# Gradescope runs this for every submission; the grader writes results.json.
cd /autograder/source
mkdir -p /autograder/results
python3 labs/grade.py {lab} /autograder/submission \\
    --results-json /autograder/results/results.json
status=$?
# 0 and 1 are scores; anything else is a grader failure, and results.json says so.
[ $status -le 1 ] && exit 0 || exit $status
'''


def gradescope_bundle(lab, out_zip):
    """A zip in Gradescope's layout: setup.sh, run_autograder and the
    source: this lab's handout plus its hidden tests (no reference code of
    this lab ever reaches the grading machine)."""
    sys.path.insert(0, HERE)
    import handout
    sys.path.insert(0, TOP)
    import configure
    with tempfile.TemporaryDirectory(prefix='numbat-bundle-') as tmp:
        src = os.path.join(tmp, 'source')
        handout.make(lab, src)
        hidden = os.path.join(TOP, 'labs', lab, 'hidden')
        if os.path.isdir(hidden):
            shutil.copytree(hidden, os.path.join(src, 'labs', lab, 'hidden'))
        with zipfile.ZipFile(out_zip, 'w', zipfile.ZIP_DEFLATED) as z:
            for name, text in (('setup.sh', SETUP_SH.format(
                    packages=' '.join(configure.APT_PACKAGES))),
                    ('run_autograder', RUN_AUTOGRADER.format(lab=lab))):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16     # executable
                z.writestr(info, text)
            for root, _, fs in os.walk(src):
                for f in fs:
                    p = os.path.join(root, f)
                    z.write(p, os.path.relpath(p, tmp))
    return out_zip


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
