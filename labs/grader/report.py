"""A grade and its formats: the text report, Gradescope's results.json,
JUnit XML, and the summary row of a gradebook."""

import json
import os
import re
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
