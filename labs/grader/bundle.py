"""The Gradescope autograder bundle: setup.sh, run_autograder and the
handout of one lab with its hidden tests."""

import os
import shutil
import sys
import tempfile
import zipfile

import labtool


SETUP_SH = '''#!/bin/sh
# Gradescope runs this once when it builds the autograder image.
set -e
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages}
'''

RUN_AUTOGRADER = '''#!/bin/sh
# Gradescope runs this for every submission; the grader writes results.json.
cd /autograder/source
mkdir -p /autograder/results
python3 labs/grade.py {lab} /autograder/submission \\
    --results-json /autograder/results/results.json
status=$?
# 0 and 1 are scores; anything else is a grader failure, and results.json says so.
[ $status -le 1 ] && exit 0 || exit $status
'''


def gradescope_bundle(lab, out_zip):
    """A zip in Gradescope's layout: setup.sh, run_autograder and the
    source: this lab's handout plus its hidden tests (no reference code of
    this lab ever reaches the grading machine)."""
    import handout
    sys.path.insert(0, labtool.TOP)
    import configure
    with tempfile.TemporaryDirectory(prefix='numbat-bundle-') as tmp:
        src = os.path.join(tmp, 'source')
        handout.make(lab, src)
        hidden = os.path.join(labtool.TOP, 'labs', lab, 'hidden')
        if os.path.isdir(hidden):
            shutil.copytree(hidden, os.path.join(src, 'labs', lab, 'hidden'))
        with zipfile.ZipFile(out_zip, 'w', zipfile.ZIP_DEFLATED) as z:
            for name, text in (('setup.sh', SETUP_SH.format(
                    packages=' '.join(configure.APT_PACKAGES))),
                    ('run_autograder', RUN_AUTOGRADER.format(lab=lab))):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o100755 << 16     # executable
                z.writestr(info, text)
            for root, _, fs in os.walk(src):
                for f in fs:
                    p = os.path.join(root, f)
                    z.write(p, os.path.relpath(p, tmp))
    return out_zip
