"""Reading the genuine test runners' output strictly: a host test binary's
KTAP (tests/host/lib/harness.c) and the kernel's ktest report
(kernel/ktest.c). Anything out of place is a Structure error, and the
whole run then scores nothing (docs/labs.md, anti-cheating).

The lines themselves are read by tools/ktap.py's read_line(), the one
reader of the format; what is here are the checks the grader adds on top:
exact indentation, numbering, order, names, the nonce."""

import re

from ktap import read_line


def result(line):
    """The line as a KTAP result, else None."""
    ln = read_line(line)
    return ln if ln.kind == 'result' else None


def skip_reason(ln):
    return ln.reason if ln.directive == 'SKIP' else None


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
        m = result(line)
        if line.strip() == plan and not seen_plan:
            seen_plan = True
            continue
        if m:
            if not seen_plan:
                raise Structure(f'a result before the plan: {line.strip()!r}')
            if m.indent or m.dash or i >= len(expected) or m.number != i + 1 or \
                    m.name != expected[i]:
                want = f'ok {i + 1} {expected[i]}' if i < len(expected) else 'no more results'
                raise Structure(f'expected {want!r}, got {line.strip()!r}')
            results[expected[i]] = (m.ok, skip_reason(m), diags)
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
        m = result(line)
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
        if m and m.indent == 4 and line.startswith('    ') and not m.dash and suite \
                and case_plan is not None:
            name = m.name
            case_no += 1
            if m.number != case_no or case_no > case_plan:
                raise Structure(f'in suite {suite}: expected result {case_no} of '
                                f'{case_plan}, got {s!r}')
            full = f'{suite}.{name}'
            if full in results:
                raise Structure(f'{full} reported twice')
            skip = skip_reason(m)
            ok = m.ok
            counts[0 if ok and skip is None else 2 if ok else 1] += 1
            results[full] = (ok, skip, diags)
            diags = []
            continue
        if m and not m.indent and not m.dash and suite:
            if m.name != suite or m.number != suites_done + 1 \
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
