"""Every command that README.md and labs/*/README.md print runs as
printed (the convention: tests/labs/readme_commands.py, docs/testing.md).

The top README runs in a fresh copy of the reference tree; each lab's
README runs in a fresh handout of that lab, as a student meets it, so
`./configure.py` must come first where it is needed. Inside a test, a
printed `ninja check` runs with NUMBAT_CHECK_ARGS narrowing it to the
host tests (in the reference copy only test_page; in a handout test_page,
the lab's own host tests and the labs group, which a handout skips):
the whole suite inside the suite would double `ninja check`'s time, and
the groups it leaves out run in the outer check on the same code. The
lab tests also check what `ninja check` says in a handout: it passes,
and names the tests that wait for the lab.

Run by tests/run.py as part of the `labs` group."""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'labs'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handout            # noqa: E402
import labtool            # noqa: E402
import readme_commands    # noqa: E402

# An inline `code` span that reads as a command a reader would type.
INLINE_COMMAND = re.compile(r'`((?:ninja|python3|\./configure\.py|build/host/|labs/\w+\.py|'
                            r'tools/\w+\.py)(?: [^`]*)?)`')


# Commands the prose names that no test runs as printed, each with the reason.
NOT_RUN = {
    'ninja fuzz': 'runs for ten minutes by design; `ninja check` runs the same '
                  'fuzzer for 20 s (tests/run.py --only fuzz)',
    'ninja bench': 'minutes of timing runs on a 16 GiB machine; figures, not checks',
    './configure.py --cross riscv64-linux-gnu-': 'needs a second cross compiler that '
                                                 'a course machine does not have',
    './configure.py --gdb-port 24242': 'troubleshooting only; changing the port '
                                       'mid-run would break the gdb commands after it',
}
PLACEHOLDER = re.compile(r'(?<![\w-])[A-Z][A-Z_]*\b')   # N, FILE, LAB: a word to fill in


def inline_commands(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    return sorted(set(INLINE_COMMAND.findall(text)))


def check_inline(t, path, rel, cmds):
    """A command named in the prose must be one of the tested commands
    (or part of one), so that nothing printed escapes the test."""
    tested = '\n'.join(c.text for c in cmds)
    for inline in inline_commands(path):
        if inline in NOT_RUN or PLACEHOLDER.search(inline):
            continue
        t.check(inline in tested,
                f'{rel}: `{inline}` is a command in the prose that no ```sh block '
                f'runs: put it in a ```sh block (docs/testing.md, "README commands")')


def run_readme(t, tree, readme, home, handout_tree, nested):
    cmds = readme_commands.commands(os.path.join(tree, readme))
    t.require(cmds, f'{readme} prints no ```sh command')
    check_inline(t, os.path.join(tree, readme), readme, cmds)
    s = readme_commands.Session(tree, home, handout=handout_tree,
                                env={'NUMBAT_CHECK_ARGS': nested})
    results = s.run_all(cmds)
    for f in readme_commands.failures_text(readme, results):
        t.check(False, f)
    return results


def output_of(results, pattern):
    return next((text for c, status, text, problem in results
                 if re.search(pattern, c.text)), None)


def test_top_readme(t):
    ref = os.path.join(t.workdir, 'numbat')
    labtool.copy_tree(TOP, ref, instructor=True)
    home = os.path.join(t.workdir, 'home')
    # What the TA's command names: a folder of submissions (one student).
    sub = os.path.join(home, 'subs', 'alice', 'mm')
    os.makedirs(sub)
    with open(os.path.join(TOP, 'mm', 'buddy.c')) as f, \
            open(os.path.join(sub, 'buddy.c'), 'w') as g:
        g.write(f.read())
    results = run_readme(t, ref, 'README.md', home, False, '--only host -k host/test_page')
    t.check(os.path.isfile(os.path.join(ref, 'pictures', 'node0.svg')),
            'the picture commands made no pictures/node0.svg')
    t.check(os.path.isfile(os.path.join(home, 'grades', 'gradebook.csv')),
            'the TA command wrote no ~/grades/gradebook.csv')


test_top_readme.weight = 60


def _lab_readme(t, lab):
    tree = os.path.join(t.workdir, f'numbat-{lab}')
    handout.make(lab, tree)
    home = os.path.join(t.workdir, 'home')
    os.makedirs(home)
    rubric = labtool.load_rubric(lab, TOP, with_hidden=False)
    hosts = {g['binary'] for g in rubric['groups'] if g['kind'] == 'host'}
    # The lab's own host tests (they wait for it), one that passes on the
    # stub, and the labs group's skip line: the rest of the host group runs
    # in the outer check on the same code.
    nested = ' '.join(['--only host,labs', '-k host/test_page', '-k labs/']
                      + [f'-k host/{b}' for b in sorted(hosts)])
    results = run_readme(t, tree, f'labs/{lab}/README.md', home, True, nested)
    check = output_of(results, r'\bninja check\b')
    t.require(check is not None, f'labs/{lab}/README.md does not print `ninja check`')
    # A fresh handout: the tree's tests pass, the lab's wait for it.
    t.check(re.search(r'^\d+ passed, 0 failed, .*\d+ wait for lab ' + lab + r'$', check, re.M),
            f'`ninja check` in a fresh {lab} handout does not end with '
            f'`N passed, 0 failed, ..., N wait for lab {lab}`:\n' + check[-1500:])
    t.check(f'lab {lab}: ' in check and re.search(r'tests? waits? for your solution', check),
            f'`ninja check` in the {lab} handout does not list the tests that wait for it')
    t.check('labs/(instructor only)' in check,
            f'`ninja check` in the {lab} handout does not say why the labs group is skipped')
    t.check(re.search(r'^ok +host/test_page\b', check, re.M),
            f'`ninja check` in the {lab} handout did not pass host/test_page:\n' + check[-1500:])
    for b in sorted(hosts):
        t.check(re.search(rf'^  host/{b}\b', check, re.M),
                f'`ninja check` in the {lab} handout does not name host/{b}, whose '
                f'rubric tests cannot pass on the stub, as waiting for the lab')


for _lab in labtool.lab_names():
    def _test(t, lab=_lab):
        _lab_readme(t, lab)
    _test.weight = 50
    globals()[f'test_lab_readme_{_lab}'] = _test
del _test, _lab
