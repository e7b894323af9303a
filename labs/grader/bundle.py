"""The Gradescope autograder bundle of one lab.

Gradescope unpacks the uploaded zip INTO /autograder/source, so the zip's
root is that folder: setup.sh and run_autograder at the top, beside the
lab's handout tree and that lab's hidden/ folder (never its reference
solution). Gradescope runs source/setup.sh once, as root, when it builds
the image; it copies run_autograder to /autograder/run_autograder and runs
that for every submission, with the student's files in
/autograder/submission, and reads /autograder/results/results.json.

setup.sh installs the packages of configure.py's --install-deps list (the
one list of them) that grading needs: all but clang and its runtime, which
build only the fuzz target (configure.py skips fuzzing without clang). The
names are the same on Debian 12, Ubuntu 22.04 and Ubuntu 24.04; the one
entry of the list that is not (libclang-rt-14-dev, absent from Ubuntu
22.04) is one of those left out. setup.sh then runs configure.py once, so
that a base image that lacks a tool fails when the image is built, with
configure.py's message, rather than on every submission."""

import os
import shutil
import sys
import tempfile
import zipfile

import labtool

SETUP_SH = '''#!/bin/bash
# Gradescope runs this once, as root, when it builds the autograder image
# (base image Ubuntu 22.04 or 24.04; Debian 12 works too). It installs the
# packages the grader needs and checks that configure.py finds every tool.
# NUMBAT_SETUP_DRY_RUN=1 prints the apt-get commands instead of running
# them (the self-test uses it); everything else runs as it would.
set -eu
cd "$(dirname "$0")"
packages="{packages}"
system=$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo 'an unknown system')
echo "setup.sh: $system; packages: $packages"
run() {{
    if [ "${{NUMBAT_SETUP_DRY_RUN:-}}" = 1 ]; then echo "setup.sh: dry run: $*"; else "$@"; fi
}}
export DEBIAN_FRONTEND=noninteractive
run apt-get update -q
if [ "${{NUMBAT_SETUP_DRY_RUN:-}}" != 1 ]; then
    unknown=
    for p in $packages; do apt-cache show "$p" >/dev/null 2>&1 || unknown="$unknown $p"; done
    if [ -n "$unknown" ]; then
        echo "setup.sh: $system has no package named:$unknown; choose the base image Ubuntu 22.04 or 24.04"
        exit 1
    fi
fi
run apt-get install -y -q --no-install-recommends $packages
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if ! python3 configure.py --builddir "$scratch/build" >"$scratch/log" 2>&1; then
    cat "$scratch/log"
    echo "setup.sh: configure.py cannot build here (its message is above)"
    exit 1
fi
echo "setup.sh: ready to grade lab {lab}"
'''

RUN_AUTOGRADER = '''#!/bin/sh
# Gradescope runs this for every submission, as /autograder/run_autograder
# (its copy of source/run_autograder). It grades the files uploaded to
# /autograder/submission into /autograder/results/results.json; the text
# report goes to standard output, which only instructors see.
# AUTOGRADER_ROOT (default /autograder) moves the whole layout: for the
# self-test, which stands a scratch folder in for /autograder.
root=${{AUTOGRADER_ROOT:-/autograder}}
cd "$root/source" || {{ echo "run_autograder: no $root/source (is the zip's root the tree?)"; exit 3; }}
mkdir -p "$root/results"
scratch=$(mktemp -d) || exit 3
trap 'rm -rf "$scratch"' EXIT
# One uploaded archive is graded as that archive. Anything else is graded as
# uploaded (what Gradescope's code view shows), through the grader's archive
# reader with its caps: a .git folder is left out, so that the upload and
# not its last commit is graded, whoever owns the files, and nothing of the
# student's git configuration ever runs.
set -- "$root"/submission/*
case "$#:$1" in
    1:*.zip|1:*.tar|1:*.tar.gz|1:*.tgz|1:*.tar.xz|1:*.tar.bz2) [ -f "$1" ] && upload=$1 ;;
esac
if [ -z "${{upload:-}}" ]; then
    upload=$scratch/upload.tar
    tar -C "$root/submission" --exclude=.git -cf "$upload" . ||
        echo "run_autograder: tar could not read every uploaded file; grading what it read"
fi
python3 labs/grade.py {lab} "$upload" --results-json "$root/results/results.json"
status=$?
# 0 and 1 are scores; anything else is a grader failure, and results.json says so.
[ $status -le 1 ] && exit 0
exit $status
'''


def grading_packages():
    """The Debian/Ubuntu packages setup.sh installs: configure.py's list
    without clang and its runtime (only the fuzz target needs them)."""
    sys.path.insert(0, labtool.TOP)
    import configure
    return [p for p in configure.APT_PACKAGES if not p.startswith(('clang', 'libclang'))]


def gradescope_bundle(lab, out_zip):
    """Write the autograder zip of lab to out_zip (see the top of this file)."""
    import handout
    with tempfile.TemporaryDirectory(prefix='numbat-bundle-') as tmp:
        tree = os.path.join(tmp, 'tree')
        handout.make(lab, tree)
        hidden = os.path.join(labtool.TOP, 'labs', lab, 'hidden')
        if os.path.isdir(hidden):
            shutil.copytree(hidden, os.path.join(tree, 'labs', lab, 'hidden'))
        scripts = {'setup.sh': SETUP_SH.format(lab=lab, packages=' '.join(grading_packages())),
                   'run_autograder': RUN_AUTOGRADER.format(lab=lab)}
        with zipfile.ZipFile(out_zip, 'w', zipfile.ZIP_DEFLATED) as z:
            for name, text in scripts.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16     # a regular file, executable
                z.writestr(info, text)
            for root, dirs, files in os.walk(tree):
                dirs.sort()
                for f in sorted(files):
                    p = os.path.join(root, f)
                    z.write(p, os.path.relpath(p, tree))    # keeps each file's mode
    return out_zip
