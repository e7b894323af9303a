"""A grade and its formats: the text report, Gradescope's results.json,
JUnit XML, and the summary row of a gradebook.

results.json keeps hidden tests hidden until the instructor publishes the
grades: each hidden test has Gradescope's visibility `after_published`;
Gradescope hides a student's total while any test is not yet visible, and
the top-level visibility is `after_published` too whenever the lab has
hidden tests, so the total (`score`, every test's points, hidden ones
included) shows only once published. What a student must see at once (the
files found, a build failure and the compiler's errors) is the first test
entry, `submission`, worth 0 points and `visible`; the public tests are
`visible`. No hidden test's output goes anywhere but its own entry; a line
of a visible text that names a hidden test (its program, suite or case,
say a link error in its object) is withheld until publication; and a
grader error shows only as a line that says so (the details are in the
text report on standard output, which Gradescope shows instructors only).

junit.xml is valid against both Jenkins' junit-10.xsd and the windyroad
JUnit.xsd, which is the stricter: one <testsuite> with name, tests,
failures, errors, skipped, time, timestamp (UTC, no zone, as that schema
wants) and hostname; its children in the order properties, testcase*,
system-out, system-err (both always present); each testcase with name,
classname and time, and at most one of failure (message and type),
error (message and type, for a grader error) or skipped (message). Every
character XML 1.0 allows is kept, emoji included; only the others become
`?`."""

import datetime
import json
import os
import re
import socket
import xml.etree.ElementTree as ET

EXIT_FULL, EXIT_PARTIAL, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3


class TestResult:
    def __init__(self, name, max_score, hidden):
        self.name = name
        self.max_score = max_score
        self.score = 0
        self.hidden = hidden
        self.status = 'not run'     # passed, failed, skipped, not run
        self.output = ''            # why it failed: diagnostics, console, ...
        self.seconds = 0.0          # time of its own run, where the runner measured it

    def visibility(self):
        return 'after_published' if self.hidden else 'visible'


class Grade:
    def __init__(self, lab, submission):
        self.lab = lab
        self.submission = submission
        self.tests = []             # TestResult, rubric order
        self.notes = []             # report-wide messages (missing files, build errors)
        self.grader_error = None    # text when the grader itself failed
        self.seconds = 0.0          # wall time of the whole grading
        self.started = datetime.datetime.now(datetime.timezone.utc)    # when grading began

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
        """Gradescope's results.json (the top of this file says what shows when)."""
        hidden = any(t.hidden for t in self.tests)
        summary = self.student_summary()
        entries = [{'name': 'submission', 'score': 0, 'max_score': 0,
                    'status': 'failed' if self.submission_failed() else 'passed',
                    'output': summary, 'visibility': 'visible'}]
        for t in self.tests:
            output = t.output if t.status != 'passed' else ''
            entries.append({'name': t.name, 'score': t.score, 'max_score': t.max_score,
                            'status': 'passed' if t.status == 'passed' else 'failed',
                            'output': output if t.hidden else self.withhold_hidden(output),
                            'visibility': t.visibility()})
        return {
            'score': self.score,
            'output': summary,
            'visibility': 'after_published' if hidden else 'visible',
            'stdout_visibility': 'hidden',
            'execution_time': round(self.seconds, 1),
            'tests': entries,
        }

    def student_summary(self):
        """What a student sees before grades are published: the notes
        (files found, missing files, the build), the public points, and
        that hidden tests exist; never a hidden test's result."""
        public = [t for t in self.tests if not t.hidden]
        hidden = [t for t in self.tests if t.hidden]
        out = [self.withhold_hidden(n) for n in self.notes]
        out.append(f'Lab {self.lab}: the public tests earned '
                   f'{fmt(sum(t.score for t in public))}/{fmt(sum(t.max_score for t in public))} points.')
        if hidden:
            out.append(f'Hidden tests ({fmt(sum(t.max_score for t in hidden))} points) are graded '
                       'too; their results and your total show when your instructor publishes '
                       'the grades.')
        if self.grader_error:
            out.append('GRADER ERROR (not your score; tell your TA): the grader itself failed. '
                       'The details are in the autograder output your instructor sees.')
        return '\n'.join(out)

    def withhold_hidden(self, text):
        """text for students: a line that names a hidden test (its program,
        suite or case: say a link error in test_hidden_buddy.o in the build
        output) is withheld until the grades are published."""
        def words(t):
            return set(re.split(r'[/.]', t.name))
        public = set().union(*(words(t) for t in self.tests if not t.hidden))
        secret = {w for t in self.tests if t.hidden for w in words(t) if len(w) >= 8} - public
        return '\n'.join('(a line about a hidden test: shown when the grades are published)'
                         if any(w in line for w in secret) else line
                         for line in text.split('\n'))

    def submission_failed(self):
        """The submission entry is red when the grader could not grade what
        the student meant: an unreadable upload, missing files, no build."""
        return bool(self.grader_error) or any(
            n.startswith(('BUILD FAILED', 'Cannot read the submission', 'MISSING'))
            for n in self.notes)

    def junit(self):
        """JUnit XML for both common schemas (the top of this file)."""
        kinds = [junit_kind(t, self.grader_error) for t in self.tests]
        suite = ET.Element('testsuite', {
            'name': f'lab.{self.lab}', 'tests': str(len(self.tests)),
            'failures': str(kinds.count('failure')), 'errors': str(kinds.count('error')),
            'skipped': str(kinds.count('skipped')), 'time': f'{self.seconds:.3f}',
            'timestamp': self.started.strftime('%Y-%m-%dT%H:%M:%S'),
            'hostname': clean_xml(socket.gethostname()).strip() or 'localhost'})
        props = ET.SubElement(suite, 'properties')
        for k, v in (('score', fmt(self.score)), ('max_score', fmt(self.max_score)),
                     ('submission', self.submission)):
            ET.SubElement(props, 'property', name=k, value=clean_xml(str(v)))
        for t, kind in zip(self.tests, kinds):
            case = ET.SubElement(suite, 'testcase', name=clean_xml(t.name),
                                 classname=f'lab.{self.lab}', time=f'{t.seconds:.3f}')
            first = clean_xml(t.output.strip().split('\n')[0][:200])
            if kind == 'failure':
                f = ET.SubElement(case, 'failure', type='failed',
                                  message=f'0/{fmt(t.max_score)} points: {first}'.rstrip(': '))
                f.text = clean_xml(t.output)
            elif kind == 'error':
                ET.SubElement(case, 'error', type='grader-error',
                              message='not run: the grader failed (see system-err)')
            elif kind == 'skipped':
                ET.SubElement(case, 'skipped', message=first or t.status)
        ET.SubElement(suite, 'system-out').text = clean_xml('\n'.join(self.notes))
        ET.SubElement(suite, 'system-err').text = clean_xml(self.grader_error or '')
        return ET.tostring(suite, encoding='unicode')

    def summary(self):
        return {'lab': self.lab, 'submission': self.submission, 'score': self.score,
                'max_score': self.max_score, 'grader_error': self.grader_error or '',
                'seconds': round(self.seconds, 1),
                'tests': {t.name: t.score for t in self.tests}}


def fmt(x):
    return str(int(x)) if float(x).is_integer() else f'{x:g}'


def junit_kind(t, grader_error):
    """The JUnit element a test gets: None (passed), failure, error or skipped."""
    if t.status == 'passed':
        return None
    if t.status == 'failed':
        return 'failure'
    return 'error' if grader_error and t.status == 'not run' else 'skipped'


# Characters XML 1.0 allows (its production Char); everything else becomes ?.
XML_FORBIDDEN = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def clean_xml(text):
    return XML_FORBIDDEN.sub('?', text or '')


def tail(text, n):
    lines = text.rstrip('\n').split('\n')
    return '\n'.join(lines[-n:])


def write_outputs(g, out_dir=None, results_json=None, junit=None):
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, 'report.txt'), 'w', encoding='utf-8') as f:
            f.write(g.text())
        results_json = results_json or os.path.join(out_dir, 'results.json')
        junit = junit or os.path.join(out_dir, 'junit.xml')
    if results_json:
        os.makedirs(os.path.dirname(os.path.abspath(results_json)), exist_ok=True)
        with open(results_json, 'w', encoding='utf-8') as f:
            json.dump(g.gradescope(), f, indent=1)
    if junit:
        with open(junit, 'w', encoding='utf-8') as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + g.junit() + '\n')
