"""Read KTAP version 1 (the Linux KUnit test format) from noisy text.

Both the host test binaries and the in-kernel tests print KTAP:

    KTAP version 1
    1..2
        KTAP version 1
        # Subtest: mm_heap
        1..2
        ok 1 alloc_free_roundtrip
            # heap.c:40: EXPECT_EQ(a, b): 3 != 4
        not ok 2 merge_buddies
    not ok 1 mm_heap

parse() turns that into a flat list of leaf test cases named
`suite.case` (a result line that closes a subtest is the suite's verdict,
not a case of its own). The reader is forgiving where it must be: any
indentation (only relative depth matters), console noise on other lines
(boot messages, OpenSBI's banner), `ok 1 - name` as well as `ok 1 name`,
and `# SKIP` / `# TODO` directives. It is strict where it matters: a plan
`1..N` that got fewer than N results means the run crashed or timed out,
and becomes a failing case saying so.

Standard library only.
"""

import dataclasses
import re

VERSION_RE = re.compile(r'^(\s*)KTAP version (\d+)\s*$')
PLAN_RE = re.compile(r'^(\s*)1\.\.(\d+)\s*$')
RESULT_RE = re.compile(r'^(\s*)(not ok|ok)\s+(\d+)\s*(-\s*)?(.*?)\s*$')
SUBTEST_RE = re.compile(r'^(\s*)#\s*Subtest:\s*(\S+)')
DIAG_RE = re.compile(r'^(\s*)#\s?(.*)$')
DIRECTIVE_RE = re.compile(r'\s+#\s*(SKIP|TODO)\b\s*(.*)$', re.I)
SUMMARY_RE = re.compile(r'(\d+) passed, (\d+) failed(?:, (\d+) skipped)?')


@dataclasses.dataclass
class Line:
    """One line of KTAP as read_line() sees it."""
    kind: str            # version, plan, result, subtest, diag or other
    indent: int          # width of its leading white space (tabs as 8)
    raw: str             # the line as printed, without its end
    ok: bool = False     # result: `ok` (not `not ok`)
    number: int = 0      # result: its number; plan: N of 1..N; version: the version
    name: str = ''       # result: the name before any ` #`; subtest: its name
    dash: bool = False   # result: written `ok 1 - name`
    directive: str = ''  # result: SKIP or TODO, upper case, or ''
    reason: str = ''     # result: the directive's text
    text: str = ''       # diag: the text after `# `


def read_line(raw):
    """Classify one line of KTAP: the one reader of the format, used by
    parse() below and by the grader's strict readers (labs/grader/results.py)."""
    raw = raw.rstrip('\r\n')
    m = VERSION_RE.match(raw)
    if m:
        return Line('version', _width(m.group(1)), raw, number=int(m.group(2)))
    m = PLAN_RE.match(raw)
    if m:
        return Line('plan', _width(m.group(1)), raw, number=int(m.group(2)))
    m = RESULT_RE.match(raw)
    if m:
        rest = m.group(5)
        d = DIRECTIVE_RE.search(rest)
        return Line('result', _width(m.group(1)), raw, ok=m.group(2) == 'ok',
                    number=int(m.group(3)), name=rest.split(' #')[0], dash=bool(m.group(4)),
                    directive=d.group(1).upper() if d else '', reason=d.group(2) if d else '')
    m = SUBTEST_RE.match(raw)
    if m:
        return Line('subtest', _width(m.group(1)), raw, name=m.group(2))
    m = DIAG_RE.match(raw)
    if m:
        return Line('diag', _width(m.group(1)), raw, text=m.group(2))
    return Line('other', _width(raw[:len(raw) - len(raw.lstrip())]), raw)


@dataclasses.dataclass
class Case:
    name: str            # suite.case (or just case at the top level)
    ok: bool             # passed (a skipped case is ok too)
    skipped: bool = False
    reason: str = ''     # the SKIP reason, or why a case counts as crashed
    diagnostics: list = dataclasses.field(default_factory=list)  # '# ' lines


@dataclasses.dataclass
class Report:
    cases: list                 # every leaf Case, in order
    found: bool                 # a KTAP version line was seen
    summary: tuple = None       # (passed, failed, skipped) from the closing line

    @property
    def failed(self):
        return [c for c in self.cases if not c.ok]

    @property
    def complete(self):
        return self.found and not any(c.reason.startswith('crashed') for c in self.cases)


class _Frame:
    def __init__(self, indent, name):
        self.indent = indent    # width of this level's indentation
        self.name = name        # subtest name ('' at the top)
        self.plan = None        # N from 1..N, None when no plan was printed
        self.results = 0        # result lines seen at this level
        self.leaves = 0         # leaf cases recorded under this frame


def _width(ws):
    return len(ws.expandtabs(8))


def parse(text):
    """A Report for every KTAP case in `text` (see the module comment)."""
    cases, stack, diags = [], [], []
    pending_name = ''
    found = False
    summary = None

    def path(extra):
        names = [f.name for f in stack if f.name] + [extra]
        return '.'.join(n for n in names if n)

    def close(frame):
        # A frame whose plan was not met: the run died inside it. Called
        # after the frame left the stack, so add its own name to the path.
        if frame.plan is not None and frame.results < frame.plan:
            where = '.'.join(n for n in (path(''), frame.name) if n)
            cases.append(Case(name=(where + '.' if where else '') + '(missing results)',
                              ok=False,
                              reason=f'crashed or timed out: {where or "top level"} '
                                     f'planned {frame.plan} results, got {frame.results}',
                              diagnostics=list(diags)))

    for raw in text.replace('\r', '').split('\n'):
        ln = read_line(raw)
        if ln.kind == 'version':
            found = True
            while stack and stack[-1].indent >= ln.indent and stack[-1].results == 0 \
                    and stack[-1].plan is None:
                stack.pop()   # a version line with nothing after it: restarted
            stack.append(_Frame(ln.indent, pending_name if stack else ''))
            pending_name = ''
            continue
        if not stack:
            s = SUMMARY_RE.search(raw)
            if s:
                summary = tuple(int(x or 0) for x in s.groups())
            continue
        if ln.kind == 'subtest':
            # "# Subtest: NAME" may follow its level's version line (name
            # that frame) or come before it (name the next frame).
            top = stack[-1]
            if len(stack) > 1 and top.indent == ln.indent and not top.name:
                top.name = ln.name
            else:
                pending_name = ln.name
            continue
        if ln.kind == 'plan':
            for f in reversed(stack):
                if f.indent <= ln.indent:
                    if f.plan is None:
                        f.plan = ln.number
                    break
            continue
        if ln.kind == 'result':
            closed = None
            while len(stack) > 1 and stack[-1].indent > ln.indent:
                closed = stack.pop()
                close(closed)
            frame = stack[-1]
            frame.results += 1
            name = RESULT_RE.match(raw).group(5)
            d = DIRECTIVE_RE.search(name)
            if d:
                name = name[:d.start()]
            skipped, reason = ln.directive == 'SKIP', ln.reason
            if closed is not None and closed.leaves > 0:
                # The suite's own verdict: its cases were counted already,
                # unless it failed with every case passing (a suite-level error).
                if not ln.ok and all(c.ok for c in cases[-closed.leaves:]):
                    cases.append(Case(path(name) + '.(suite)', False, False,
                                      'suite failed although its cases passed',
                                      list(diags)))
                    frame.leaves += 1
            else:
                cases.append(Case(path(name), ln.ok, skipped, reason, list(diags)))
                for f in stack:
                    f.leaves += 1
            diags = []
            continue
        s = SUMMARY_RE.search(raw)
        if s:
            summary = tuple(int(x or 0) for x in s.groups())
            continue
        if ln.kind == 'diag':
            diags.append(ln.text)
            if len(diags) > 50:
                del diags[0]
    while stack:
        close(stack.pop())
    return Report(cases=cases, found=found, summary=summary)


def failure_text(case):
    """A few lines on why a case failed, for the end-of-run report."""
    lines = [f'not ok {case.name}' + (f' ({case.reason})' if case.reason else '')]
    lines += ['    # ' + d for d in case.diagnostics if d.strip()]
    return '\n'.join(lines)
