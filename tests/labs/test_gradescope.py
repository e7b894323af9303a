"""Self-tests of the grader's outside formats: the Gradescope bundle run
the way Gradescope runs it, results.json's visibility, and JUnit XML that
both common JUnit schemas accept (docs/labs.md, Formats and Gradescope).

The bundle test stands a scratch folder in for /autograder. With
bubblewrap it is mounted at /autograder itself, in a mount namespace whose
every other folder is this machine's, read-only (only /tmp is a fresh
tmpfs); without bubblewrap (or where it cannot make namespaces) the
scripts get AUTOGRADER_ROOT=SCRATCH instead, and the test says so on
standard output. Then, as Gradescope does: the zip is unpacked INTO
source/, source/setup.sh runs once (with NUMBAT_SETUP_DRY_RUN=1: no
apt-get here; the package names are checked against this machine's dpkg
instead), run_autograder is copied to the top, and each submission is put
in submission/ and graded by run_autograder into results/results.json.

Run by tests/run.py as part of the `labs` group."""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'labs'))
import grade      # noqa: E402
import labtool    # noqa: E402
from grader import bundle  # noqa: E402
from grader.report import Grade, TestResult  # noqa: E402

LAB = 'buddy'
LAB_FILE = 'mm/buddy.c'
GRADE_TIMEOUT = 240      # seconds for one run_autograder (it grades in about 5)


# --- JUnit: the rules of two schemas ------------------------------------------------------

# This encodes, in our own code, the rules of the two JUnit schemas that CI
# tools use: Jenkins' junit-10.xsd and the windyroad JUnit.xsd. Where they
# differ it keeps the stricter (windyroad, except for <skipped>, which
# windyroad leaves open and Jenkins restricts). The schemas themselves are
# not on this machine (no Debian package ships either), so there is no
# xmllint run against them.
SUITE_ATTRS = {'name', 'tests', 'failures', 'errors', 'time', 'timestamp', 'hostname'}
SUITE_OPTIONAL = {'skipped'}
SUITE_CHILDREN = r'(properties )(testcase )*(system-out )(system-err )'
CASE_ATTRS = {'name', 'classname', 'time'}
RESULT_ATTRS = {'failure': ({'type'}, {'message'}), 'error': ({'type'}, {'message'}),
                'skipped': (set(), {'type', 'message'})}
DECIMAL = r'[0-9]+(\.[0-9]+)?'             # xs:decimal and Surefire's time, both
TIMESTAMP = r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'   # no zone, no fraction


def junit_problems(xml_text):
    """What makes xml_text invalid for either schema (or a consumer that
    counts): an empty list when it is valid."""
    try:
        suite = ET.fromstring(xml_text.encode('utf-8'))
    except ET.ParseError as e:
        return [f'not well-formed XML: {e}']
    p = []
    if suite.tag != 'testsuite':
        return [f'the root is <{suite.tag}>, not <testsuite>']
    attrs(p, suite, SUITE_ATTRS, SUITE_OPTIONAL)
    for a in ('tests', 'failures', 'errors', 'skipped'):
        if a in suite.attrib and not re.fullmatch(r'[0-9]+', suite.get(a)):
            p.append(f'testsuite {a}={suite.get(a)!r} is not a count')
    if 'time' in suite.attrib and not re.fullmatch(DECIMAL, suite.get('time')):
        p.append(f'testsuite time={suite.get("time")!r} is not a decimal')
    if 'timestamp' in suite.attrib and not re.fullmatch(TIMESTAMP, suite.get('timestamp')):
        p.append(f'testsuite timestamp={suite.get("timestamp")!r} is not YYYY-MM-DDTHH:MM:SS')
    for a in ('name', 'hostname'):
        if a in suite.attrib and not suite.get(a).strip():
            p.append(f'testsuite {a} is empty')
    order = ''.join(c.tag + ' ' for c in suite)
    if not re.fullmatch(SUITE_CHILDREN, order):
        p.append(f'testsuite children are [{order.strip()}], not properties, testcase*, '
                 'system-out, system-err')
    no_text(p, suite)
    for c in suite:
        {'properties': properties, 'testcase': testcase}.get(c.tag, text_only)(p, c)
    counts(p, suite)
    return p


def attrs(p, e, required, optional=()):
    have = set(e.attrib)
    for a in sorted(required - have):
        p.append(f'<{e.tag}> lacks {a}=')
    for a in sorted(have - required - set(optional)):
        p.append(f'<{e.tag}> has {a}=, which a schema does not allow')


def no_text(p, e):
    if (e.text or '').strip() or any((c.tail or '').strip() for c in e):
        p.append(f'<{e.tag}> holds text; only elements may go there')


def text_only(p, e):
    attrs(p, e, set())
    if len(e):
        p.append(f'<{e.tag}> holds elements; only text may go there')


def properties(p, e):
    attrs(p, e, set())
    no_text(p, e)
    for c in e:
        if c.tag != 'property':
            p.append(f'<properties> holds <{c.tag}>')
            continue
        attrs(p, c, {'name', 'value'})
        if not c.get('name', '').strip():
            p.append('a <property> has an empty name')
        if len(c) or (c.text or '').strip():
            p.append('a <property> has content')


def testcase(p, e):
    attrs(p, e, CASE_ATTRS)
    if 'time' in e.attrib and not re.fullmatch(DECIMAL, e.get('time')):
        p.append(f'testcase time={e.get("time")!r} is not a decimal')
    no_text(p, e)
    if len(e) > 1:
        p.append(f'testcase {e.get("name")} has {len(e)} results; at most one')
    for c in e:
        if c.tag not in RESULT_ATTRS:
            p.append(f'testcase {e.get("name")} holds <{c.tag}>')
            continue
        required, optional = RESULT_ATTRS[c.tag]
        attrs(p, c, required, optional)
        if len(c):
            p.append(f'<{c.tag}> holds elements; only text may go there')


def counts(p, suite):
    cases = suite.findall('testcase')
    for a, n in (('tests', len(cases)),
                 ('failures', sum(c.find('failure') is not None for c in cases)),
                 ('errors', sum(c.find('error') is not None for c in cases)),
                 ('skipped', sum(c.find('skipped') is not None for c in cases))):
        if suite.get(a, str(n)) != str(n):
            p.append(f'testsuite {a}={suite.get(a)} but {n} testcases say so')


def sample_grade(grader_error=None):
    """A grade with every kind of result, hidden tests, an emoji and a
    control character in the diagnostics."""
    g = Grade(LAB, '/subs/alice 😀.zip')
    for name, hidden, status in (('host/test_buddy.split', False, 'passed'),
                                 ('host/test_buddy.merge', False, 'failed'),
                                 ('qemu/1node/mm_boot.order', False, 'skipped'),
                                 ('host/test_hidden_buddy.hidden_zones', True, 'failed'),
                                 ('host/test_hidden_buddy.hidden_mfn0', True, 'not run')):
        t = TestResult(name, 5, hidden)
        t.status = status
        t.score = 5 if status == 'passed' else 0
        if status != 'passed':
            t.output = f'# FAIL {name}: EXPECT_EQ(a, b) \U0001F525 \x01 <&>\nsecond line of {name}'
        g.tests.append(t)
    g.notes.append('Submission: folder; lab files found: mm/buddy.c')
    g.notes.append("BUILD FAILED (the build failed); every test scores 0. The compiler says:\n"
                   "mm/buddy.c:7: error: expected ';'\n"
                   "tests/host/test_hidden_buddy.c:73: undefined reference to `buddy_x'")
    g.tests[1].output += '\nprinted by the lab: test_hidden_buddy.c line 1'
    g.grader_error = grader_error
    return g


def test_junit_schemas(t):
    for g in (sample_grade(), sample_grade('Traceback: something broke \U0001F4A5')):
        xml = g.junit()
        problems = junit_problems(xml)
        t.check(not problems, 'junit.xml breaks a schema rule:\n  ' + '\n  '.join(problems)
                + '\n' + xml)
        t.check('\U0001F525' in ET.fromstring(xml).find('testcase/failure').text,
                'an emoji in a diagnostic did not survive in junit.xml')
        t.check('\x01' not in xml and '? <&>' in ET.fromstring(xml).find(
            'testcase/failure').text, 'a control character was not replaced by ?')
    # The checker itself: each of these breaks one rule and must be caught.
    good = sample_grade('boom').junit()
    for why, bad in (
            ('no timestamp', re.sub(r' timestamp="[^"]*"', '', good)),
            ('a timestamp with a zone', re.sub(r'(timestamp="[^"]*)"', r'\1Z"', good)),
            ('no hostname', re.sub(r' hostname="[^"]*"', '', good)),
            ('a testcase without time', good.replace('classname="lab.buddy" time=', 'classname="lab.buddy" x=', 1)),
            ('a failure without type', good.replace('<failure type="failed"', '<failure', 1)),
            ('system-err before system-out', re.sub(r'(<system-out>.*</system-out>)(<system-err>.*</system-err>)',
                                                    r'\2\1', good, flags=re.S)),
            ('no system-err', re.sub(r'<system-err>.*</system-err>', '', good, flags=re.S)),
            ('two results in one testcase', good.replace('</failure>', '</failure><skipped />', 1)),
            ('a wrong count', re.sub(r' failures="\d+"', ' failures="9"', good))):
        t.check(bad != good and junit_problems(bad), f'the JUnit checker accepts {why}')


# --- results.json: what a student sees before grades are published ---------------------------

def visible_texts(res):
    """Every text of results.json a student sees before publication."""
    texts = [res.get('output', '')] if res.get('visibility') == 'visible' else []
    return texts + [x.get('output', '') + ' ' + x['name'] for x in res['tests']
                    if x.get('visibility') == 'visible']


def check_visibility(t, res, label):
    """The rules of docs/labs.md's Gradescope section, on one results.json."""
    tests = res['tests']
    hidden = [x for x in tests if x['visibility'] != 'visible']
    t.check(res['score'] == sum(x['score'] for x in tests),
            f'{label}: top-level score {res["score"]} is not the sum of the tests')
    t.check(res.get('stdout_visibility') == 'hidden', f'{label}: stdout is shown to students')
    t.check(all(x['visibility'] == 'after_published' for x in hidden),
            f'{label}: a test is neither visible nor after_published')
    t.check(res.get('visibility') == ('after_published' if hidden else 'visible'),
            f'{label}: top-level visibility {res.get("visibility")!r} with '
            f'{len(hidden)} hidden tests (the total would show hidden points)')
    t.check(tests and tests[0]['name'] == 'submission' and tests[0]['visibility'] == 'visible'
            and tests[0]['max_score'] == 0, f'{label}: no visible 0-point submission entry first')
    # Hidden tests live in test_hidden_LAB.c: their diagnostics name it, and
    # nothing a student sees may.
    shown = '\n'.join(visible_texts(res) + [res.get('output', '')])
    leaks = [line for line in shown.split('\n') if HIDDEN_MARK in line]
    t.check(not leaks, f'{label}: a hidden test shows in a field students see: {leaks[:3]}')


HIDDEN_MARK = 'test_hidden_'


def test_results_json_visibility(t):
    for g in (sample_grade(), sample_grade('Traceback: in tests/host/test_hidden_buddy.c')):
        res = json.loads(json.dumps(g.gradescope()))
        check_visibility(t, res, 'sample grade' + (' with a grader error' if g.grader_error else ''))
        t.check("mm/buddy.c:7: error: expected ';'" in res['tests'][0]['output']
                and res['tests'][0]['status'] == 'failed',
                'the build failure is not shown to students at once:\n' + res['tests'][0]['output'])
        if g.grader_error:
            t.check('GRADER ERROR' in res['output'] and 'Traceback' not in res['output'],
                    'a grader error is not said, or its details reach the students:\n'
                    + res['output'])
    # Without hidden tests everything is visible at once.
    g = sample_grade()
    g.tests = [x for x in g.tests if not x.hidden]
    res = g.gradescope()
    t.check(res['visibility'] == 'visible' and all(x['visibility'] == 'visible' for x in res['tests']),
            'a grade without hidden tests is not visible at once')


# --- the bundle, as Gradescope runs it ------------------------------------------------------

def reference_text():
    with open(os.path.join(TOP, LAB_FILE)) as f:
        return f.read()


def write(root, rel, text):
    os.makedirs(os.path.dirname(os.path.join(root, rel)) or root, exist_ok=True)
    with open(os.path.join(root, rel), 'w') as f:
        f.write(text)


def git(repo, *args):
    subprocess.run(['git', '-C', repo, '-c', 'user.name=s', '-c', 'user.email=s@x'] + list(args),
                   check=True, capture_output=True, timeout=30)


def submissions(t, where):
    """{name: (folder, expected score kind)} as students upload them."""
    ref = reference_text()
    stub = labtool.stub_text(ref, LAB)
    start = 'mfn_t buddy_alloc(struct node_heap *nh, unsigned int zone, unsigned int order)\n{\n'
    t.require(start in ref, f'{LAB_FILE} no longer holds buddy_alloc as this test knows it')
    subs = {'full': ({'buddy.c': ref}, 'full'),                  # the file alone, flat
            'stub': ({LAB_FILE: stub}, 'zero'),
            'nocompile': ({LAB_FILE: ref.replace(start, start + '    this is not C;\n', 1)}, 'zero')}
    out = {}
    for name, (files, want) in subs.items():
        d = os.path.join(where, name)
        for rel, text in files.items():
            write(d, rel, text)
        out[name] = (d, want)
    # A zip of a repository, unpacked by Gradescope: .git at its root, HEAD the
    # stub, the working copy the reference (graded as uploaded), and a smudge
    # filter that must never run. (one() gives its files another owner.)
    d = os.path.join(where, 'git')
    write(d, LAB_FILE, stub)
    write(d, '.gitattributes', '* filter=evil\n')
    subprocess.run(['git', 'init', '-q', d], check=True, capture_output=True, timeout=30)
    git(d, 'config', 'filter.evil.smudge', f'touch {SMUDGE_MARK}; cat')
    git(d, 'add', '.')
    git(d, 'commit', '-qm', 'stub')
    write(d, LAB_FILE, ref)
    out['git'] = (d, 'full')
    return out


SMUDGE_MARK = 'smudge-filter-ran'     # relative: git runs filters at the repository's top


def bwrap_usable():
    if not shutil.which('bwrap'):
        return False
    r = subprocess.run(['bwrap', '--ro-bind', '/', '/', 'true'], capture_output=True, timeout=30)
    return r.returncode == 0


def in_autograder(scratch, run, argv, env, use_bwrap, cwd):
    """Run argv as Gradescope would: scratch is /autograder, and a run's
    submission/ and results/ lie over it (so runs can go in parallel); cwd
    is given as ROOT/... Returns (status, output)."""
    env = dict(os.environ, TMPDIR='/tmp', **env)
    if use_bwrap:
        cmd = ['bwrap', '--die-with-parent', '--unshare-pid']
        for name in sorted(os.listdir('/')):
            p = '/' + name
            if name in ('proc', 'dev', 'tmp', 'autograder'):
                continue
            if os.path.islink(p):
                cmd += ['--symlink', os.readlink(p), p]
            elif os.path.isdir(p):
                cmd += ['--ro-bind', p, p]
        cmd += ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
                '--bind', scratch, '/autograder']
        if run:
            cmd += ['--bind', os.path.join(run, 'submission'), '/autograder/submission',
                    '--bind', os.path.join(run, 'results'), '/autograder/results']
        cmd += ['--chdir', cwd.replace('ROOT', '/autograder')] + argv
        where = None
    else:
        root = run or scratch       # a run holds links to scratch's source and script
        env['AUTOGRADER_ROOT'] = root
        cmd = [a.replace('/autograder', root) for a in argv]
        where = cwd.replace('ROOT', root)
    r = subprocess.run(cmd, env=env, cwd=where, capture_output=True, text=True,
                       timeout=GRADE_TIMEOUT)
    return r.returncode, r.stdout + r.stderr


def unpack_as_gradescope(t, zpath, scratch):
    """The zip INTO source/, file modes kept (as unzip does)."""
    src = os.path.join(scratch, 'source')
    os.makedirs(src)
    with zipfile.ZipFile(zpath) as z:
        for info in z.infolist():
            z.extract(info, src)
            mode = info.external_attr >> 16
            if mode & 0o777:
                os.chmod(os.path.join(src, info.filename), mode & 0o777)
    for d in ('submission', 'results'):
        os.makedirs(os.path.join(scratch, d))
    return src


def check_bundle_layout(t, zpath):
    with zipfile.ZipFile(zpath) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        lab_file = z.read(LAB_FILE).decode() if LAB_FILE in names else ''
    t.check(lab_file == labtool.stub_text(reference_text(), LAB),
            f"the bundle's {LAB_FILE} is not the handout's stub (the reference solution "
            'must never reach the grading machine)')
    t.check({'setup.sh', 'run_autograder', 'labs/grade.py', 'configure.py'} <= names,
            'the zip\'s root does not hold setup.sh, run_autograder and the tree: '
            + ', '.join(sorted(names)[:8]))
    t.check(not any(n.startswith('source/') for n in names), 'the tree is under source/ in the zip')
    t.check(all(modes.get(n, 0) & 0o111 for n in ('setup.sh', 'run_autograder')),
            'setup.sh or run_autograder is not executable')
    t.check(f'labs/{LAB}/hidden/test_hidden_{LAB}.c' in names, 'hidden tests not bundled')
    others = [n for n in names if '/hidden/' in n and not n.startswith(f'labs/{LAB}/')]
    t.check(not others, f"other labs' hidden tests bundled: {others[:3]}")


def check_setup(t, status, out):
    t.require(status == 0, f'setup.sh failed ({status}):\n{out}')
    m = re.search(r'packages: (.*)', out)
    t.require(m, 'setup.sh does not say its packages:\n' + out)
    packages = m.group(1).split()
    want = {'gcc-riscv64-unknown-elf', 'opensbi', 'qemu-system-misc', 'device-tree-compiler',
            'ninja-build', 'bubblewrap', 'python3', 'git'}
    t.check(want <= set(packages), f'setup.sh does not install {sorted(want - set(packages))}')
    t.check(set(packages) == set(bundle.grading_packages()),
            "setup.sh's packages are not configure.py's list (less the fuzzing ones)")
    t.check('dry run: apt-get install' in out, 'setup.sh did not reach apt-get install:\n' + out)
    if shutil.which('dpkg-query'):    # every name is a real Debian package: it is installed here
        r = subprocess.run(['dpkg-query', '-W', '-f', '${Package} ${Status}\n'] + packages,
                           capture_output=True, text=True, timeout=30)
        ok = {l.split()[0] for l in r.stdout.splitlines() if l.endswith('installed')}
        t.check(set(packages) <= ok, f'not Debian packages installed here: {sorted(set(packages) - ok)}')


def check_result(t, name, want, status, out, results):
    t.check(status == 0, f'{name}: run_autograder exit status {status}:\n{out[-3000:]}')
    if not t.check(os.path.isfile(results), f'{name}: no results/results.json:\n{out[-3000:]}'):
        return
    with open(results) as f:
        res = json.load(f)
    graded = [x for x in res['tests'] if x['name'] != 'submission']
    full = sum(x['max_score'] for x in graded)
    expect = full if want == 'full' else 0
    t.check(full > 0 and res['score'] == expect,
            f'{name}: scored {res["score"]}/{full}, expected {expect}:\n{res["output"]}')
    t.check(any(x['visibility'] == 'after_published' for x in graded),
            f'{name}: no hidden test in results.json')
    check_visibility(t, res, name)
    if name == 'stub':
        t.check(any(HIDDEN_MARK in x['output'] for x in graded if x['visibility'] != 'visible'),
                f'stub: no hidden test output names {HIDDEN_MARK}{LAB}.c, so the leak check '
                'proves nothing')
    if name == 'nocompile':
        shown = res['tests'][0]['output']
        t.check('BUILD FAILED' in shown and 'buddy.c' in shown and 'error' in shown,
                'the compiler error is not in the visible submission entry:\n' + shown)


def test_bundle_as_gradescope_runs_it(t):
    zpath = grade.gradescope_bundle(LAB, os.path.join(t.workdir, f'autograder-{LAB}.zip'))
    check_bundle_layout(t, zpath)
    scratch = os.path.join(t.workdir, 'autograder')
    src = unpack_as_gradescope(t, zpath, scratch)
    use_bwrap = bwrap_usable()
    if not use_bwrap:
        print(f'{t.name}: no usable bubblewrap here: /autograder is AUTOGRADER_ROOT={scratch}')
    status, out = in_autograder(scratch, None, ['bash', './setup.sh'],
                                {'NUMBAT_SETUP_DRY_RUN': '1'}, use_bwrap, 'ROOT/source')
    check_setup(t, status, out)
    shutil.copy2(os.path.join(src, 'run_autograder'), os.path.join(scratch, 'run_autograder'))
    runs = os.path.join(t.workdir, 'runs')
    subs = submissions(t, os.path.join(t.workdir, 'uploads'))

    def one(item):
        name, (folder, want) = item
        run = os.path.join(runs, name)
        os.makedirs(os.path.join(run, 'results'))
        shutil.copytree(folder, os.path.join(run, 'submission'), symlinks=True)
        if name == 'git' and os.geteuid() == 0:     # uploaded files owned by someone else
            subprocess.run(['chown', '-R', '12345:12345', os.path.join(run, 'submission')],
                           check=True, timeout=30)
        if not use_bwrap:
            for f in ('source', 'run_autograder'):
                os.symlink(os.path.join(scratch, f), os.path.join(run, f))
        status, out = in_autograder(scratch, run, ['/autograder/run_autograder'], {},
                                    use_bwrap, 'ROOT')
        t.check(not os.path.exists(os.path.join(run, 'submission', SMUDGE_MARK)),
                f"{name}: the upload's git filter ran")
        return name, want, status, out, os.path.join(run, 'results', 'results.json')

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for name, want, status, out, results in pool.map(one, sorted(subs.items())):
            check_result(t, name, want, status, out, results)
