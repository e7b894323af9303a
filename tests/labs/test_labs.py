"""Self-tests of the labs (labs/, docs/labs.md): the reference tree scores
full marks on every lab; every handout builds, boots degraded and scores
zero on its own lab and full marks on the others; every mutant of the
reference solution (tests/labs/mutants/LAB/*.patch) scores below full;
bad submissions (no build, a hang, a panic, a trap loop, a flood, fake
KTAP, missing files, a bad archive) get the score they earn and a clear
report; the formats and batch mode work (tests/labs/test_gradescope.py
runs the Gradescope bundle and holds the format checks).

Run by tests/run.py as the `labs` group (`--only labs`)."""

import concurrent.futures
import glob
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'labs'))
import grade      # noqa: E402
import handout    # noqa: E402
import labtool    # noqa: E402
import numbat_run  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_gradescope  # noqa: E402  (the results.json and JUnit checks)

LABS = ['bootmem', 'buddy', 'numa', 'uninit', 'offline', 'smp']
# Labs whose stub boots a whole kernel (smp: eager init, nothing deferred):
# their handout must earn full marks on every other lab, not just the next.
EVERY_OTHER_LAB = {'smp'}
RUN_CAP = 6          # seconds per run in the self-tests (hangs end sooner)
# test_lab_smp's reference run holds a worker 0.5 s in each of its grow
# passes (about 2.5 s in all on a quiet machine): more room under load.
RUN_CAP_OF = {'smp': 10}
MUTANTS = os.path.join(TOP, 'tests', 'labs', 'mutants')


def graded(t, lab, submission=None, trusted=TOP, **kw):
    """grade.grade() with a short run cap, and (unless slot=None) one slot
    per test function, so that its gradings after the first rebuild only
    the changed files."""
    kw.setdefault('run_cap', RUN_CAP_OF.get(lab, RUN_CAP))
    kw.setdefault('slot', os.path.join(t.workdir, f'slot-{lab}-{abs(hash(trusted))}'))
    g = grade.grade(lab, submission, trusted=trusted, **kw)
    t.check(not g.grader_error, f'{lab}: grader error:\n{g.grader_error}')
    return g


def report(g):
    return '\n' + g.text()


def reference_file(lab_file):
    with open(os.path.join(TOP, lab_file)) as f:
        return f.read()


def submission_with(t, name, files):
    """A submission folder holding files {rel: text}."""
    d = os.path.join(t.workdir, name)
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), 'w') as f:
            f.write(text)
    os.makedirs(d, exist_ok=True)
    return d


def buddy_changed(old, new):
    """The reference mm/buddy.c with one change at the first `old` (the
    solution comes before its stub)."""
    text = reference_file('mm/buddy.c')
    assert old in text, f'mm/buddy.c no longer holds {old!r}'
    return {'mm/buddy.c': text.replace(old, new, 1)}


ALLOC_START = 'mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone, unsigned int order)\n{\n'


# --- the reference and the handouts ---------------------------------------------------

def _reference(t, lab):
    g = graded(t, lab)
    t.check(g.score == g.max_score and g.max_score > 0,
            f'the reference tree scores {g.score}/{g.max_score} on {lab}' + report(g))


def _handout(t, lab):
    out = os.path.join(t.workdir, 'handout')
    handout.make(lab, out)
    # What a student must not get: hidden tests, mutants, this lab's solution.
    t.check(not glob.glob(os.path.join(out, 'labs', '*', 'hidden')), 'hidden tests in the handout')
    t.check(not os.path.exists(os.path.join(out, 'tests', 'labs')), 'grader self-tests in the handout')
    t.check(not os.path.exists(os.path.join(out, '.git')), '.git in the handout')
    t.check(labtool.handout_lab(out) == lab, 'the handout does not record its lab')
    rubric = labtool.load_rubric(lab, TOP, with_hidden=False)
    for rel in rubric['files']:
        with open(os.path.join(out, rel)) as f:
            text = f.read()
        t.check(f'LAB {lab}:' not in text, f'{rel}: the handout still holds LAB {lab} markers')
    # Every other lab's files are the reference code, byte for byte.
    for other in LABS:
        if other == lab:
            continue
        for rel in labtool.load_rubric(other, TOP)['files']:
            t.check(reference_file(rel) == open(os.path.join(out, rel)).read(),
                    f'{rel} differs from the reference in the {lab} handout')
    # It grades itself to zero (its own pristine tree: the handout).
    g = graded(t, lab, trusted=out)
    t.check(g.score == 0 and g.max_score > 0,
            f'the {lab} handout scores {g.score}/{g.max_score} on its own lab' + report(g))
    # Graded as the instructor grades it (the reference tree, hidden tests
    # too), the handout's stub passes no rubric test at all.
    g = graded(t, lab, out)
    passing = [r.name + (' (hidden)' if r.hidden else '') for r in g.tests if r.score > 0]
    t.check(any(r.hidden for r in g.tests), f'the {lab} rubric has no hidden tests' + report(g))
    t.check(not passing, f'the {lab} stub passes {len(passing)} rubric tests:\n  '
            + '\n  '.join(passing) + report(g))
    # It boots to the console, degraded, saying so. (The slot's kernel is
    # the handout's own: the pristine tree of a handout is the handout.)
    kernel = os.path.join(t.workdir, f'slot-{lab}-{abs(hash(out))}', 'build', 'numbat.elf')
    t.require(os.path.isfile(kernel), f'no kernel built for the {lab} handout')
    boot = numbat_run.run(kernel, topology='2node', timeout=20,
                          watch='Numbat ready', stop_at_watch=True, workdir=t.workdir)
    t.runs.append((f'{lab} handout', boot))
    t.check(boot.watch_seconds is not None, f'the {lab} handout does not reach the console')
    t.check(f'lab {lab}: not implemented yet' in boot.console,
            f'the {lab} handout does not say that its lab is missing')
    # Graded against the reference tree, the handout's copy of another lab
    # (the reference code) earns full marks; a lab whose stub is a whole
    # kernel (EVERY_OTHER_LAB) is graded on every other lab.
    others = [LABS[(LABS.index(lab) + 1) % len(LABS)]]
    if lab in EVERY_OTHER_LAB:
        others = [o for o in LABS if o != lab]
    for other in others:
        g = graded(t, other, out)
        t.check(g.score == g.max_score,
                f'the {lab} handout scores {g.score}/{g.max_score} on lab {other}' + report(g))


def test_handout_bootmem(t):
    _handout(t, 'bootmem')


def test_handout_buddy(t):
    _handout(t, 'buddy')


def test_handout_numa(t):
    _handout(t, 'numa')


def test_handout_uninit(t):
    _handout(t, 'uninit')


def test_handout_offline(t):
    _handout(t, 'offline')


def test_handout_smp(t):
    _handout(t, 'smp')


# --- mutants ---------------------------------------------------------------------------

def mutant_header(path):
    """A mutant patch opens with `Mutant: what the bug is`, then optional
    `Expect-report: TEXT` lines (the grader's report must say TEXT, e.g. a
    stub's panic naming its function), then the diff."""
    what, expect = '', []
    with open(path) as f:
        for line in f:
            if line.startswith('Mutant:'):
                what = line[len('Mutant:'):].strip()
            elif line.startswith('Expect-report:'):
                expect.append(line[len('Expect-report:'):].strip())
            elif line.startswith('---'):
                break
    return what, expect


def _grade_mutant(t, lab, patch, slot, host_only=False):
    """Grade the reference with one mutant patch applied. Returns (name,
    what, expect, grade or None, why not graded)."""
    name = os.path.splitext(os.path.basename(patch))[0]
    what, expect = mutant_header(patch)
    files = labtool.load_rubric(lab, TOP)['files']
    sub = os.path.join(t.workdir, f'mutant-{name}')
    if not os.path.isfile(os.path.join(sub, '.patched')):  # (the second pass reuses it)
        submission_with(t, f'mutant-{name}', {rel: reference_file(rel) for rel in files})
        r = subprocess.run(['patch', '-p1', '-s', '-d', sub, '-i', patch], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            return (name, what, expect, None,
                    'the patch no longer applies: ' + (r.stdout + r.stderr).strip())
        open(os.path.join(sub, '.patched'), 'w').close()
    # A mutant is our own patch of the reference (trusted code): no sandbox,
    # and no API check, so that it is caught by the rubric's tests alone.
    g = grade.grade(lab, sub, trusted=TOP, run_cap=RUN_CAP_OF.get(lab, RUN_CAP), slot=slot,
                    sandbox_mode='off', api=False, kinds={'host'} if host_only else None)
    return name, what, expect, g, g.grader_error


def _grade_mutants(t, lab, patches, slots, host_only):
    """Grade the patches two at a time. host_only: grade with the
    rubric's host groups alone (no QEMU boot; the kernel is still built),
    a cheap first pass: a mutant that loses points there loses them in the
    whole rubric too."""
    def one(patch):
        slot = slots.get()
        try:
            return _grade_mutant(t, lab, patch, slot, host_only)
        finally:
            slots.put(slot)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, patches))


def _reference_and_mutants(t, lab):
    """Every mutant must score below full marks, graded as an instructor
    grades (hidden tests included). Two mutants are graded at once, each
    in a slot of its own that stays between gradings (only the mutated
    file is rebuilt); the host tests alone first, and only the mutants
    they miss with the QEMU boots too. The failure lists every survivor,
    one line each."""
    _reference(t, lab)
    patches = sorted(glob.glob(os.path.join(MUTANTS, lab, '*.patch')))
    t.check(len(patches) >= 3, f'{len(patches)} mutants of {lab}; at least 3 wanted')
    slots = queue.Queue()
    slots.put(os.path.join(t.workdir, f'slot-{lab}-{abs(hash(TOP))}'))  # the reference's
    slots.put(os.path.join(t.workdir, f'slot-{lab}-mutants'))
    first = _grade_mutants(t, lab, patches, slots, host_only=True)
    done = [d for d in first if d[3] is not None and not d[4] and d[3].score < d[3].max_score
            and all(text in d[3].text() for text in d[2])]
    rest = [p for p, d in zip(patches, first) if d not in done]
    done += _grade_mutants(t, lab, rest, slots, host_only=False)
    survivors, broken = [], []
    for name, what, expect, g, err in done:
        if g is None or err:
            broken.append(f'  {lab}/{name}: {err}')
            continue
        if not what:
            broken.append(f'  {lab}/{name}: no "Mutant: ..." line')
        if g.score >= g.max_score:
            survivors.append(f'  {lab}/{name}: {g.score}/{g.max_score}: {what}')
        for text in expect:
            if text not in g.text():
                broken.append(f'  {lab}/{name}: the report does not say {text!r}' + report(g))
    t.check(not broken, f'{len(broken)} of {len(patches)} mutants of {lab} could not be '
            'judged:\n' + '\n'.join(broken))
    t.check(not survivors, f'{len(survivors)} of {len(patches)} mutants of {lab} score full '
            'marks (no rubric test catches them):\n' + '\n'.join(survivors))


def test_reference_and_mutants_bootmem(t):
    _reference_and_mutants(t, 'bootmem')


def test_reference_and_mutants_buddy(t):
    _reference_and_mutants(t, 'buddy')


def test_reference_and_mutants_numa(t):
    _reference_and_mutants(t, 'numa')


def test_reference_and_mutants_uninit(t):
    _reference_and_mutants(t, 'uninit')


def test_reference_and_mutants_offline(t):
    _reference_and_mutants(t, 'offline')


def test_reference_and_mutants_smp(t):
    _reference_and_mutants(t, 'smp')


# --- bad submissions (lab buddy) -------------------------------------------------------

def _bad_does_not_compile(t):
    sub = submission_with(t, 'nocompile', buddy_changed(ALLOC_START, ALLOC_START + '    this is not C;\n'))
    g = graded(t, 'buddy', sub)
    t.check(g.score == 0, f'a submission that does not build scores {g.score}' + report(g))
    text = g.text()
    t.check('BUILD FAILED' in text and 'mm/buddy.c' in text and 'error' in text,
            'the report does not show the compiler error' + report(g))
    t.check(g.exit_status() == grade.EXIT_PARTIAL, f'exit status {g.exit_status()}')


def _bad_hangs(t):
    sub = submission_with(t, 'hang', buddy_changed(ALLOC_START, ALLOC_START + '    for (;;) {\n    }\n'))
    g = graded(t, 'buddy', sub)
    t.check(g.score < g.max_score / 2, f'a hanging buddy_alloc scores {g.score}' + report(g))
    t.check('timed out' in g.text(), 'the report does not say "timed out"' + report(g))


def _bad_panics(t):
    sub = submission_with(t, 'panic', buddy_changed(
        ALLOC_START, ALLOC_START + '    mm_hook_panic("buddy_alloc: student bug, order %u", order);\n'))
    g = graded(t, 'buddy', sub)
    text = g.text()
    t.check(g.score < g.max_score / 2, f'a panicking buddy_alloc scores {g.score}' + report(g))
    t.check('PANIC' in text and 'student bug' in text, 'the report does not show the panic' + report(g))
    t.check('buddy_alloc at ' in text and 'mm/buddy.c:' in text,
            'the panic backtrace is not symbolised' + report(g))


def _bad_trap_loop(t):
    sub = submission_with(t, 'traploop', buddy_changed(ALLOC_START, ALLOC_START + (
        '#ifdef __riscv\n'
        '    asm volatile("csrw stvec, %0" : : "r"(1UL)); /* traps jump to 0 */\n'
        '    *(volatile int *)8 = 0;\n'
        '#endif\n')))
    g = graded(t, 'buddy', sub, api=False)    # asm: beneath the API check
    qemu = [r for r in g.tests if r.name.startswith('qemu/')]
    t.check(any(r.score == 0 for r in qemu) and g.score < g.max_score,
            'a trap loop in the kernel loses no QEMU points' + report(g))
    t.check(any(r.score > 0 for r in g.tests if r.name.startswith('host/')),
            'the host tests (no trap loop there) earn nothing' + report(g))
    t.check('timed out' in g.text(), 'the report does not say the boot timed out' + report(g))


def _bad_floods(t):
    sub = submission_with(t, 'flood', buddy_changed(ALLOC_START, ALLOC_START + (
        '    for (;;)\n'
        '#ifdef __riscv\n'
        '        mm_hook_printk("flood flood flood flood flood flood flood\\n");\n'
        '#else\n'
        '        __builtin_printf("flood flood flood flood flood flood flood\\n");\n'
        '#endif\n')))
    g = graded(t, 'buddy', sub, api=False)    # printf: beneath the API check
    t.check(g.score < g.max_score / 2, f'a flooding buddy_alloc scores {g.score}' + report(g))
    t.check('cut off' in g.text(), 'the report does not say the output was cut off' + report(g))
    t.check(len(g.text()) < 200 * 1024, f'the report is {len(g.text())} bytes long')


def _bad_fake_ktap(t):
    # The stub (scores 0) plus fake results printed from the first free.
    stub = labtool.stub_text(reference_file('mm/buddy.c'), 'buddy')
    fake = ('KTAP version 1\\n1..1\\n    KTAP version 1\\n    # Subtest: mm_boot\\n    1..7\\n'
            + ''.join(f'    ok {i} c{i}\\n' for i in range(1, 8))
            + 'ok 1 mm_boot\\n# ktest: 7 passed, 0 failed, 0 skipped\\n')
    host_fake = ('KTAP version 1\\n1..9\\n' + ''.join(f'ok {i} x\\n' for i in range(1, 10)))
    hook = ('    static int printed;\n    if (!printed++) {\n'
            '#ifdef __riscv\n'
            f'        mm_hook_printk("{fake}");\n'
            '#else\n'
            f'        __builtin_printf("{host_fake}");\n'
            '#endif\n    }\n')
    marker = '    lab_not_implemented("buddy");\n'
    stub = stub.replace(marker, hook + marker, 1)
    sub = submission_with(t, 'fake', {'mm/buddy.c': stub})
    g = graded(t, 'buddy', sub, api=False)    # printf: beneath the API check
    t.check(g.score == 0, f'fake KTAP results score {g.score}' + report(g))
    t.check('structure' in g.text(), 'the report does not explain the rejected output' + report(g))


def test_kernel_report_needs_the_nonce(t):
    """A complete, well-formed kernel report counts only with the echo of
    the nonce its boot was given (ktest_nonce=N): a report made up in
    advance cannot know it."""
    def report_with(echo):
        return ('noise before\nKTAP version 1\n1..1\n' + echo
                + '    KTAP version 1\n    # Subtest: mm_boot\n    1..2\n'
                + '    ok 1 a\n    ok 2 b\nok 1 mm_boot\n'
                + '# ktest: 2 passed, 0 failed, 0 skipped\n')
    got, complete, _ = grade.parse_kernel(report_with('# ktest: nonce 4242424242\n'), 4242424242)
    t.check(complete and sorted(got) == ['mm_boot.a', 'mm_boot.b'],
            f'the genuine report was not accepted: {got}, complete={complete}')
    for echo, why in (('', 'no echo'), ('# ktest: nonce 1111111111\n', 'another nonce')):
        try:
            grade.parse_kernel(report_with(echo), 4242424242)
            t.check(False, f'a report with {why} was accepted')
        except grade.Structure as e:
            t.check('nonce' in str(e), f'the refusal does not mention the nonce: {e}')


def _bad_missing_file(t):
    sub = submission_with(t, 'empty', {'README.txt': 'I forgot my code\n'})
    g = graded(t, 'buddy', sub)
    t.check(g.score == 0, f'a submission without mm/buddy.c scores {g.score}' + report(g))
    t.check('MISSING: mm/buddy.c' in g.text(), 'the report does not name the missing file' + report(g))


def test_bad_archive(t):
    bad = os.path.join(t.workdir, 'student.tar.gz')
    with open(bad, 'wb') as f:
        f.write(b'\x1f\x8b this is not a gzip stream' * 10)
    g = graded(t, 'buddy', bad)
    t.check(g.score == 0 and 'not a readable archive' in g.text(),
            f'a bad archive: {g.score}' + report(g))
    evil = os.path.join(t.workdir, 'evil.tar')
    with tarfile.open(evil, 'w') as tf:
        data = b'int x;\n'
        info = tarfile.TarInfo('../../escaped.c')
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    g = graded(t, 'buddy', evil)
    t.check(g.score == 0, f'an archive with ../ paths scores {g.score}')
    t.check(not os.path.exists(os.path.join(t.workdir, 'escaped.c')), 'a ../ path escaped')
    t.check(grade.main(['nosuchlab']) == grade.EXIT_USAGE, 'a bad lab name is not exit status 2')


def test_bad_build_panic_fake_missing(t):
    """Each of these bad submissions, graded one after the other (one slot)."""
    for check in (_bad_missing_file, _bad_does_not_compile, _bad_panics, _bad_fake_ktap):
        check(t)


def test_bad_hang_trap_flood(t):
    for check in (_bad_hangs, _bad_trap_loop, _bad_floods):
        check(t)


# --- archives, git, formats, batch, bundle ------------------------------------------------------

def test_formats_archives_and_batch(t):
    subs = os.path.join(t.workdir, 'class')
    os.makedirs(subs)
    # A zip of the reference file under a top folder, a git repository,
    # a tarball of the stub (a student who did nothing), a folder with a bug.
    with zipfile.ZipFile(os.path.join(subs, 'alice.zip'), 'w') as z:
        z.writestr('numbat-alice/mm/buddy.c', reference_file('mm/buddy.c'))
    # Bob committed the stub and finished the lab without committing: what
    # he uploaded (the working copy) is graded.
    stub = labtool.stub_text(reference_file('mm/buddy.c'), 'buddy')
    repo = submission_with(t, 'bob-repo', {'mm/buddy.c': stub})
    for cmd in (['init', '-q'], ['add', '.'],
                ['-c', 'user.name=b', '-c', 'user.email=b@x', 'commit', '-qm', 'lab']):
        subprocess.run(['git', '-C', repo] + cmd, check=True, capture_output=True)
    with open(os.path.join(repo, 'mm', 'buddy.c'), 'w') as f:
        f.write(reference_file('mm/buddy.c'))
    shutil.move(repo, os.path.join(subs, 'bob'))
    carol = submission_with(t, 'carol-src', {'mm/buddy.c': stub})
    with tarfile.open(os.path.join(subs, 'carol.tar.gz'), 'w:gz') as tf:
        tf.add(os.path.join(carol, 'mm'), 'mm')
    out = os.path.join(t.workdir, 'grades')
    status = grade.batch('buddy', subs, out, jobs=2, total_timeout=120)
    t.check(status == grade.EXIT_FULL, f'batch exit status {status}')
    with open(os.path.join(out, 'gradebook.json')) as f:
        book = {s['student']: s for s in json.load(f)['students']}
    t.check(set(book) == {'alice', 'bob', 'carol'}, f'gradebook students: {sorted(book)}')
    if set(book) == {'alice', 'bob', 'carol'}:
        full = book['alice']['max_score']
        t.check(book['alice']['score'] == full, f'alice (zip): {book["alice"]["score"]}/{full}')
        t.check(book['bob']['score'] == full, f'bob (git, working copy): {book["bob"]["score"]}/{full}')
        t.check(book['carol']['score'] == 0, f'carol (the stub): {book["carol"]["score"]}')
    with open(os.path.join(out, 'gradebook.csv')) as f:
        rows = f.read().splitlines()
    t.check(len(rows) == 4 and rows[0].startswith('student,score,max_score'),
            'gradebook.csv:\n' + '\n'.join(rows[:5]))
    with open(os.path.join(out, 'carol', 'results.json')) as f:
        res = json.load(f)
    t.check(res['score'] == 0 and all({'name', 'score', 'max_score', 'output', 'visibility'}
                                      <= set(x) for x in res['tests']),
            'results.json lacks Gradescope fields')
    test_gradescope.check_visibility(t, res, 'carol (the stub)')
    with open(os.path.join(out, 'carol', 'junit.xml'), encoding='utf-8') as f:
        xml = f.read()
    problems = test_gradescope.junit_problems(xml)
    t.check(not problems, 'junit.xml breaks a schema rule:\n  ' + '\n  '.join(problems))
    suite = ET.fromstring(xml)
    t.check(suite.get('failures') == str(len(suite.findall('testcase/failure'))) != '0',
            'junit.xml is not a failing testsuite')
    t.check(os.path.isfile(os.path.join(out, 'alice', 'report.txt')), 'no report.txt per student')
