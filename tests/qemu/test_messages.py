"""Messages that explain themselves, read back from the console: a line
printed while an in-kernel test case runs is a KTAP diagnostic of that
case (`#` after the case's indentation), and the runner's own lines are
not prefixed, so tools/ktap.py still reads the report."""

import re

import ktap


def test_printk_inside_a_case_is_a_diagnostic(t):
    r = t.boot(append='ktest=kernel_printk.*', timeout=60)
    t.require(r.status == 0, f'ktest=kernel_printk.*: {r.describe()}')
    lines = r.console.split('\n')
    for text in ('printk: one line printed inside a case',
                 'printk: a line printed in two pieces'):
        t.check(f'        # {text}' in lines,
                f'{text!r} is not a `        # ` diagnostic line:\n'
                + '\n'.join(l for l in lines if 'printk:' in l))
    t.check(not any(re.match(r'\s*printk:', l) for l in lines),
            'a line printed inside a case came out without its `#`')
    report = ktap.parse(r.console)
    case = [c for c in report.cases if c.name == 'kernel_printk.output_during_a_case']
    t.require(case, f'no result for output_during_a_case: {[c.name for c in report.cases]}')
    t.check(case[0].ok and any('inside a case' in d for d in case[0].diagnostics),
            f'the case lost its diagnostics: {case[0]}')
    t.check(report.complete and all(c.ok for c in report.cases),
            f'the KTAP report no longer parses whole: {report.failed}')
    t.check(any(l.startswith('    ok 1 ') for l in lines) and
            any(l.startswith('    KTAP version 1') for l in lines),
            'the runner\'s own lines were prefixed too')
