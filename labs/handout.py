#!/usr/bin/env python3
"""Make a student handout of one lab.

    labs/handout.py LAB OUTDIR

OUTDIR gets a complete tree (no .git, no build folders, no hidden tests,
no grader self-tests or mutants) in which LAB's solution is replaced by
its stub; every other lab keeps its reference code, so labs can be done
in any order. The handout records its lab in labs/handout.json, so that
`ninja grade` there grades that lab. It builds and boots as it is: the
kernel reports `lab LAB: not implemented yet` and boots to its console.

Standard library only.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtool  # noqa: E402


def source_commit(top):
    try:
        r = subprocess.run(['git', '-C', top, 'rev-parse', 'HEAD'], capture_output=True,
                           text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 else ''
    except (OSError, subprocess.SubprocessError):
        return ''


def make(lab, out, top=labtool.TOP):
    """Write the handout of lab into out (which must not exist or be empty)."""
    rubric = labtool.load_rubric(lab, top, with_hidden=False)
    if labtool.handout_lab(top):
        raise labtool.LabError('this tree is already a handout; make handouts from the '
                               'reference tree')
    if os.path.exists(out) and os.listdir(out):
        raise labtool.LabError(f'{out} exists and is not empty')
    labtool.copy_tree(top, out, instructor=False)
    labtool.apply_stubs(out, lab, rubric['files'])
    with open(os.path.join(out, labtool.HANDOUT_FILE), 'w') as f:
        json.dump({'lab': lab, 'files': rubric['files'], 'from_commit': source_commit(top),
                   'made': datetime.datetime.now(datetime.timezone.utc)
                   .isoformat(timespec='seconds')}, f, indent=1)
        f.write('\n')
    return out


def main(argv):
    labs = labtool.lab_names()
    if len(argv) == 2 and argv[0] == '--all-into':
        for lab in labs:
            out = os.path.join(argv[1], lab)
            if labtool.handout_lab(out) == lab:     # an older handout: replace it
                shutil.rmtree(out)
            make(lab, out)
            print(f'handout: {lab} -> {os.path.join(argv[1], lab)}')
        return 0
    if len(argv) != 2:
        print('usage: labs/handout.py LAB OUTDIR   (labs: ' + ', '.join(labs) + ')\n'
              '       labs/handout.py --all-into DIR', file=sys.stderr)
        return 2
    lab, out = argv
    if lab not in labs:
        print(f'handout: no lab named {lab!r}; the labs are: {", ".join(labs)}',
              file=sys.stderr)
        return 2
    make(lab, out)
    print(f'handout: wrote the {lab} lab to {out}; students run ./configure.py, '
          f'ninja qemu, ninja grade')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except labtool.LabError as e:
        print(f'handout: {e}', file=sys.stderr)
        sys.exit(2)
