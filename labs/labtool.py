"""What the handout maker and the grader share: the labs, their rubrics,
the solution markers, and copying a tree.

A lab's solution sits in the files only that lab edits, between markers:

    /* LAB buddy: BEGIN SOLUTION */
    ... the reference code ...
    /* LAB buddy: END SOLUTION */
    /* LAB buddy: STUB
    ... what the handout has instead (it must build and boot) ...
    */

The STUB comment must follow its END SOLUTION line (blank lines between
are allowed) and may not contain a C comment of its own. stub_text()
swaps every solution for its stub and drops the markers, so a handout
reads like ordinary code with a few holes in it.

Standard library only.
"""

import fnmatch
import json
import os
import re
import shutil

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABS_DIR = os.path.join(TOP, 'labs')
HANDOUT_FILE = 'labs/handout.json'   # written into a handout: which lab it is

# What never goes into a handout or a pristine grading tree.
EXCLUDE_DIRS = {'.git', '__pycache__', '.cache'}
EXCLUDE_GLOBS = ['build', 'build-*', 'build.ninja', 'compile_commands.json',
                 '.ninja_*', '*.pyc', '*.orig', '*.rej', '*~']
# Instructor-only folders (relative paths): every lab's hidden tests and the
# grader's self-tests with their mutants (patches of the reference code).
INSTRUCTOR_ONLY = ['labs/*/hidden', 'tests/labs']


class LabError(Exception):
    """A bad lab name, rubric or marker; the message says what to fix."""


def lab_names(top=TOP):
    d = os.path.join(top, 'labs')
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d)
                  if os.path.isfile(os.path.join(d, n, 'lab.json')))


def load_rubric(lab, top=TOP, with_hidden=True):
    """The lab's rubric (labs/LAB/lab.json), plus labs/LAB/hidden/rubric.json
    when it exists and with_hidden. Groups get 'hidden': True/False."""
    names = lab_names(top)
    if lab not in names:
        raise LabError(f'no lab named {lab!r}; the labs are: {", ".join(names) or "(none)"}')
    path = os.path.join(top, 'labs', lab, 'lab.json')
    try:
        with open(path) as f:
            rubric = json.load(f)
    except (OSError, ValueError) as e:
        raise LabError(f'{path}: {e}')
    for g in rubric.get('groups', []):
        g.setdefault('hidden', False)
    hidden = os.path.join(top, 'labs', lab, 'hidden', 'rubric.json')
    if with_hidden and os.path.isfile(hidden):
        try:
            with open(hidden) as f:
                extra = json.load(f)
        except (OSError, ValueError) as e:
            raise LabError(f'{hidden}: {e}')
        for g in extra.get('groups', []):
            g['hidden'] = True
            rubric['groups'].append(g)
    check_rubric(rubric, lab)
    return rubric


def check_rubric(rubric, lab):
    if rubric.get('lab') != lab:
        raise LabError(f'labs/{lab}/lab.json: "lab" must be {lab!r}')
    if not rubric.get('files'):
        raise LabError(f'labs/{lab}/lab.json: "files" lists no file')
    seen = set()
    for g in rubric.get('groups', []):
        if g.get('kind') not in ('host', 'qemu'):
            raise LabError(f'labs/{lab}: group {g.get("id")!r}: kind must be host or qemu')
        for t in g.get('tests', []):
            name = test_name(g, t)
            if name in seen:
                raise LabError(f'labs/{lab}: test {name} is listed twice')
            seen.add(name)
            if not isinstance(t.get('points'), (int, float)) or t['points'] < 0:
                raise LabError(f'labs/{lab}: test {name}: points must be a number >= 0')


def test_name(group, test):
    if group['kind'] == 'host':
        return f'host/{group["binary"]}.{test["case"]}'
    return f'qemu/{group["topology"]}{"+initrd" if group.get("initrd") else ""}/{test["case"]}'


# --- markers -------------------------------------------------------------------------

def _marker_res(lab):
    q = re.escape(lab)
    begin = re.compile(r'^[ \t]*/\* LAB ' + q + r': BEGIN SOLUTION \*/[ \t]*\n', re.M)
    end = re.compile(r'^[ \t]*/\* LAB ' + q + r': END SOLUTION \*/[ \t]*\n', re.M)
    stub = re.compile(r'(?:[ \t]*\n)*[ \t]*/\* LAB ' + q + r': STUB[ \t]*\n(.*?)^[ \t]*\*/[ \t]*\n',
                      re.M | re.S)
    return begin, end, stub


def stub_text(text, lab, path='(file)'):
    """text with each of lab's solutions replaced by its stub. LabError if
    the markers are broken or there are none."""
    begin, end, stub = _marker_res(lab)
    out, pos, n = [], 0, 0
    while True:
        b = begin.search(text, pos)
        if not b:
            break
        e = end.search(text, b.end())
        if not e:
            raise LabError(f'{path}: LAB {lab}: BEGIN SOLUTION without END SOLUTION')
        s = stub.match(text, e.end())
        if not s:
            raise LabError(f'{path}: LAB {lab}: END SOLUTION not followed by a STUB comment')
        body = s.group(1)
        if '/*' in body or '*/' in body:
            raise LabError(f'{path}: LAB {lab}: a STUB may not hold a comment')
        out.append(text[pos:b.start()])
        out.append(body)
        pos = s.end()
        n += 1
    if n == 0:
        raise LabError(f'{path}: no LAB {lab} solution markers')
    out.append(text[pos:])
    return ''.join(out)


def strip_markers(text, lab):
    """The reference text without the markers and stubs (unused for now,
    kept for instructors who want a clean solution file)."""
    begin, end, stub = _marker_res(lab)
    text = stub.sub('', text)
    return end.sub('', begin.sub('', text))


# --- copying trees ---------------------------------------------------------------------

def _excluded(rel, name, instructor):
    if name in EXCLUDE_DIRS or any(fnmatch.fnmatch(name, g) for g in EXCLUDE_GLOBS):
        return True
    if not instructor and any(fnmatch.fnmatch(rel, g) for g in INSTRUCTOR_ONLY):
        return True
    return False


def copy_tree(src, dst, instructor=False):
    """Copy the source tree src to dst: no .git, no build folders, and
    (unless instructor) no hidden tests or grader self-tests. Symlinks are
    copied as links only inside the tree's own files (the repo has none)."""
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        keep = []
        for d in sorted(dirs):
            rel = os.path.normpath(os.path.join(rel_root, d))
            if not _excluded(rel, d, instructor) and not os.path.islink(os.path.join(root, d)):
                keep.append(d)
        dirs[:] = keep
        os.makedirs(os.path.join(dst, rel_root), exist_ok=True)
        for f in files:
            rel = os.path.normpath(os.path.join(rel_root, f))
            if _excluded(rel, f, instructor):
                continue
            s = os.path.join(root, f)
            if os.path.islink(s) or not os.path.isfile(s):
                continue
            shutil.copy2(s, os.path.join(dst, rel))


def apply_stubs(tree, lab, files):
    """Swap the lab's solutions for their stubs in tree (in place)."""
    for rel in files:
        p = os.path.join(tree, rel)
        with open(p, encoding='utf-8') as f:
            text = f.read()
        with open(p, 'w', encoding='utf-8') as f:
            f.write(stub_text(text, lab, rel))


def handout_lab(top):
    """The lab a handout tree was made for, or None in the reference tree."""
    p = os.path.join(top, HANDOUT_FILE)
    if not os.path.isfile(p):
        return None
    try:
        with open(p) as f:
            return json.load(f).get('lab')
    except (OSError, ValueError):
        return None
