"""tests/run.py in a lab handout (docs/testing.md, "In a lab handout"), on
a tiny tree of its own, so the rule is checked in a second: a failing
test is the lab's (`wait`, `N wait for lab LAB`, exit 0); a test that
cannot run still fails; the labs group is skipped with its reason; the
same tree without labs/handout.json fails as usual. The README tests
check the same on real handouts (test_readme_commands.py).

Run by tests/run.py as part of the `labs` group."""

import json
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE_TESTS = '''
def test_passes(t):
    t.check(True, 'never')


def test_fails_on_the_lab(t):
    t.check(False, 'the stub returned 0')
'''


def fake_tree(t, handout, missing_host=False):
    tree = os.path.join(t.workdir, 'handout' if handout else 'reference')
    for rel in ('tests/run.py', 'tools/ktap.py', 'tools/numbat_run.py', 'tools/dtbgen.py'):
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        shutil.copy(os.path.join(TOP, rel), os.path.join(tree, rel))
    os.makedirs(os.path.join(tree, 'tests', 'qemu'))
    with open(os.path.join(tree, 'tests', 'qemu', 'test_fake.py'), 'w') as f:
        f.write(FAKE_TESTS)
    os.makedirs(os.path.join(tree, 'tests', 'host'))
    if missing_host:   # a host test whose binary the build lacks
        open(os.path.join(tree, 'tests', 'host', 'test_gone.c'), 'w').close()
    os.makedirs(os.path.join(tree, 'labs'))
    if handout:
        with open(os.path.join(tree, 'labs', 'handout.json'), 'w') as f:
            json.dump({'lab': 'buddy', 'files': ['mm/buddy.c']}, f)
    os.makedirs(os.path.join(tree, 'build', 'host'))
    return tree


def run(t, tree, groups):
    env = dict(os.environ)
    env.pop('NUMBAT_CHECK_ARGS', None)
    p = subprocess.run([sys.executable, os.path.join(tree, 'tests', 'run.py'), '--build',
                        os.path.join(tree, 'build'), '--only', groups], capture_output=True,
                       text=True, timeout=120, env=env)
    return p.returncode, p.stdout + p.stderr


def test_a_handout_reports_its_labs_failures_as_waiting(t):
    tree = fake_tree(t, handout=True)
    status, out = run(t, tree, 'qemu,labs')
    t.check(status == 0, f'a handout whose only failure is the lab\'s exits {status}:\n{out}')
    t.check(re.search(r'^wait qemu/fake\.fails_on_the_lab ', out, re.M),
            f'the lab\'s failing test is not marked `wait`:\n{out}')
    t.check(re.search(r'^1 passed, 0 failed, 1 skipped, 1 wait for lab buddy$', out, re.M),
            f'the closing line is not `1 passed, 0 failed, 1 skipped, 1 wait for lab buddy`:\n{out}')
    t.check('lab buddy: 1 test waits for your solution (they fail on the code in mm/buddy.c now)'
            in out and '  qemu/fake.fails_on_the_lab' in out,
            f'the handout does not list the waiting test:\n{out}')
    t.check(re.search(r'^skip labs/\(instructor only\) .*not part of a handout', out, re.M),
            f'the labs group is not skipped with its reason:\n{out}')
    t.check('the stub returned 0' not in out,
            f'a waiting test\'s reasons are printed without -k:\n{out}')


def test_a_handout_still_fails_what_cannot_run(t):
    tree = fake_tree(t, handout=True, missing_host=True)
    status, out = run(t, tree, 'host,qemu')
    t.check(status == 1, f'a handout with a missing host binary exits {status}, not 1:\n{out}')
    t.check(re.search(r'^FAIL host/test_gone ', out, re.M) and
            re.search(r'^1 passed, 1 failed, 1 wait for lab buddy$', out, re.M),
            f'a missing binary in a handout is not a failure of the tree:\n{out}')


def test_the_reference_tree_fails_as_usual(t):
    tree = fake_tree(t, handout=False)
    status, out = run(t, tree, 'qemu')
    t.check(status == 1, f'the reference tree with a failing test exits {status}, not 1:\n{out}')
    t.check(re.search(r'^FAIL qemu/fake\.fails_on_the_lab ', out, re.M) and
            re.search(r'^1 passed, 1 failed$', out, re.M) and 'wait for lab' not in out,
            f'outside a handout a failure is not reported as one:\n{out}')
