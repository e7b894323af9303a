"""Hostile submissions (docs/labs.md, anti-cheating): each attack class the
grader defends against, as a submission of lab buddy. Every one must
score what it deserves (0 for a stub with a payload, full marks for the
reference with a daemon beside it), end with exit status 0 or 1 and no
grader error, leave no process behind, leave the pristine tree and this
repository unchanged, and let nothing of a hidden test's source reach an
output.

The sandbox tests grade with the API check off (grade(..., api=False)):
each layer is tested on its own, so that removing one (e.g.
--sandbox=off) turns its test red even while the other holds.

Run by tests/run.py as part of the `labs` group (`-k hostile`)."""

import bz2
import glob
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_labs import TOP, labtool, grade, reference_file, submission_with  # noqa: E402
from grader import sandbox  # noqa: E402
from grader.unpack import MAX_ARCHIVE_BYTES  # noqa: E402

RUN_CAP = 6
BUDDY_FILES = ['mm/buddy.c']
FREE_START = 'void buddy_free(struct node_heap *nh, mfn_t mfn, unsigned int order)\n{\n'
STUB_CALL = '    lab_not_implemented("buddy");\n'


# --- what every hostile grading must hold ----------------------------------------------

def hidden_lines():
    """Distinctive source lines of every lab's hidden tests."""
    out = set()
    for p in glob.glob(os.path.join(TOP, 'labs', '*', 'hidden', '*.c')):
        with open(p) as f:
            for line in f:
                s = line.strip()
                if len(s) >= 24 and s.endswith((';', '{')) and not s.startswith(('#', '/*', '*')):
                    out.add(s)
    return out


HIDDEN = hidden_lines()


def tree_digest(root, skip=()):
    """{rel: bytes} of a folder, without the paths in skip."""
    out = {}
    for r, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(r, f)
            rel = os.path.relpath(p, root)
            if rel not in skip and not os.path.islink(p):
                with open(p, 'rb') as fh:
                    out[rel] = fh.read()
    return out


def processes_with(marker):
    found = []
    for d in os.listdir('/proc'):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f'/proc/{d}/cmdline', 'rb') as f:
                    if marker.encode() in f.read():
                        found.append(int(d))
            except OSError:
                pass
    return found


def graded(t, submission, marker=None, expect=0, slot='hostile', **kw):
    """Grade submission (lab buddy), write its outputs, and check what every
    hostile grading must hold; returns (grade, out folder)."""
    kw.setdefault('run_cap', RUN_CAP)
    kw.setdefault('total_timeout', 120)
    if slot:
        kw.setdefault('slot', os.path.join(t.workdir, f'slot-{slot}'))
    repo_before = tree_digest(os.path.join(TOP, 'labs'))
    g = grade.grade('buddy', submission, **kw)
    out = os.path.join(t.workdir, 'out-' + os.path.basename(submission))
    grade.write_outputs(g, out)
    held(t, g, out, expect, repo_before, kw.get('slot'), marker)
    return g, out


def held(t, g, out, expect, repo_before, slot, marker):
    why = '\n' + g.text()
    t.check(not g.grader_error, f'grader error: {g.grader_error}' + why)
    t.check(g.exit_status() in (grade.EXIT_FULL, grade.EXIT_PARTIAL),
            f'exit status {g.exit_status()}' + why)
    want = g.max_score if expect == 'full' else expect
    t.check(g.score == want, f'scored {g.score}, deserves {want}' + why)
    if marker:
        time.sleep(2.5)         # a daemon's later writes would have happened by now
        left = processes_with(marker)
        t.check(not left, f'processes outlived the grader: {left}')
        for p in left:
            try:
                os.kill(p, 9)
            except OSError:
                pass
    with open(os.path.join(out, 'results.json'), errors='replace') as f:
        text = f.read()
    try:
        same = json.loads(text) == json.loads(json.dumps(g.gradescope()))
    except ValueError:
        same = False
    t.check(same, f'results.json changed after the grader wrote it: {text[:80]!r}')
    t.check(tree_digest(os.path.join(TOP, 'labs')) == repo_before,
            'the repository\'s labs/ folder changed during grading')
    if slot:
        tree = os.path.join(slot, 'tree')
        skip = set(BUDDY_FILES) | {os.path.relpath(p, tree) for p in
                                   glob.glob(os.path.join(tree, 'tests', 'host', 'test_hidden_*'))}
        mine = tree_digest(tree, skip)
        theirs = tree_digest(TOP)
        bad = sorted(rel for rel, data in mine.items() if theirs.get(rel) != data)
        t.check(not bad, f'the pristine tree changed: {bad[:5]}')
    text = g.text() + json.dumps(g.gradescope()) + g.junit()
    for f in os.listdir(out):
        with open(os.path.join(out, f), errors='replace') as fh:
            text += fh.read()
    leaked = [line for line in HIDDEN if line in text]
    t.check(not leaked, f'hidden test source in an output: {leaked[:3]}')


def stub_with(payload, call):
    """The buddy stub with C code before its functions and a call of it
    where the stub first says it is not implemented."""
    stub = labtool.stub_text(reference_file('mm/buddy.c'), 'buddy')
    head = stub.index('#include "mm/buddy.h"')
    stub = stub[:head] + payload + stub[head:]
    return stub.replace(STUB_CALL, f'    {call};\n' + STUB_CALL, 1)


def reference_with(payload, call):
    text = reference_file('mm/buddy.c')
    head = text.index('#include "mm/buddy.h"')
    text = text[:head] + payload + text[head:]
    return text.replace(FREE_START, FREE_START + f'    {call};\n', 1)


# --- escaping the run ---------------------------------------------------------------------

DAEMON = r'''
#ifndef __riscv
#include <stdio.h>
#include <unistd.h>
static void hostile_daemon(void)
{
    static int started;
    char cmd[2048];

    if (started++)
        return;
    snprintf(cmd, sizeof cmd, "MARK=%s; i=0; while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.2; "
             "echo forged > %s/results.json; echo x > %s/pwned; echo x > %s/labs/pwned-%s; "
             "done", "@MARK@", "@OUT@", "@TREE@", "@TOP@", "@MARK@");
    if (fork() == 0) {
        setsid();
        if (fork() == 0)
            execl("/bin/sh", "sh", "-c", cmd, (char *)0);
        _exit(0);
    }
}
#else
static void hostile_daemon(void) {}
#endif
'''


def test_hostile_daemon(t):
    """The reference plus a host-side daemon (fork, setsid) that keeps
    writing results.json, the pristine tree and the repository after its
    test ends: full marks, and the daemon is gone with its step."""
    mark = 'numbat-hostile-' + secrets.token_hex(6)
    sub = os.path.join(t.workdir, 'daemon')
    slot = os.path.join(t.workdir, 'slot-hostile')
    payload = (DAEMON.replace('@MARK@', mark).replace('@OUT@', os.path.join(t.workdir, 'out-daemon'))
               .replace('@TREE@', os.path.join(slot, 'tree')).replace('@TOP@', TOP))
    submission_with(t, 'daemon', {'mm/buddy.c': reference_with(payload, 'hostile_daemon()')})
    graded(t, sub, marker=mark, expect='full', api=False)
    t.check(not os.path.exists(os.path.join(slot, 'tree', 'pwned')), 'the daemon wrote the tree')


# --- hidden tests read ------------------------------------------------------------------------

def leak_probe():
    """C that takes in, with .incbin, whatever hidden test source it can
    find (relative to the tree, the copy place, this repository), and
    prints it from the host tests."""
    paths = ['labs/buddy/hidden/test_hidden_buddy.c', '../labs/buddy/hidden/test_hidden_buddy.c',
             'tests/host/test_hidden_buddy.c', '../tests/host/test_hidden_buddy.c',
             os.path.join(TOP, 'labs', 'buddy', 'hidden', 'test_hidden_buddy.c')]
    out = ['#ifndef __riscv', '#include <stdio.h>']
    for i, p in enumerate(paths):
        out += [f'#if __has_include("{p}")',
                f'__asm__(".section .rodata\\n.global leak{i}\\nleak{i}: .incbin \\"{p}\\"\\n'
                f'.byte 0\\n.previous");',
                f'extern const char leak{i}[];',
                f'#define LEAK{i} leak{i}', '#else', f'#define LEAK{i} ""', '#endif']
    out += ['static void leak(void)', '{', '    static int done;', '    if (done++)',
            '        return;']
    out += [f'    printf("%s\\n", LEAK{i});' for i in range(len(paths))]
    out += ['}', '#else', 'static void leak(void) {}', '#endif', '']
    return '\n'.join(out)


def test_hostile_hidden_tests(t):
    """.incbin and #include of a hidden test: whatever path it tries, the
    lab's file is compiled where no hidden test is (a stub: 0, and
    nothing of the hidden source in any output)."""
    sub = submission_with(t, 'incbin', {'mm/buddy.c': stub_with(leak_probe(), 'leak()')})
    graded(t, sub, api=False)
    inc = submission_with(t, 'include', {'mm/buddy.c': stub_with(
        '#include "tests/host/test_hidden_buddy.c"\n', '(void)0')})
    g, _ = graded(t, inc, api=False)
    t.check('BUILD FAILED' in g.text(), 'an #include of the hidden test built' + '\n' + g.text())


# --- resource bombs ----------------------------------------------------------------------------

def test_hostile_compiler_memory(t):
    """#include "/dev/zero": the compiler's address-space limit ends it; 0."""
    sub = submission_with(t, 'devzero', {'mm/buddy.c': '#include "/dev/zero"\n'})
    g, _ = graded(t, sub, slot=None)
    t.check('BUILD FAILED' in g.text(), 'no build failure' + '\n' + g.text())


def tar_header(name, kind, size):
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(format=tarfile.GNU_FORMAT)[-512:]


_ZEROS = {}


def zeros_bz2(nbytes):
    """A bz2 file of nbytes of zeros, small: one compressed stream of 8 MiB
    of zeros, repeated (bz2 readers read stream after stream)."""
    chunk = 8 << 20
    if chunk not in _ZEROS:
        _ZEROS[chunk] = bz2.compress(bytes(chunk), 9)
    return _ZEROS[chunk] * (nbytes // chunk)


def many_files_tar(n):
    """A tar of n empty files, its headers made from one template."""
    head = bytearray(tar_header('f/00000', tarfile.REGTYPE, 0))
    out = bytearray()
    for i in range(n):
        h = bytearray(head)
        h[0:7] = f'f/{i:05d}'.encode()
        h[148:156] = b' ' * 8
        h[148:156] = b'%06o\0 ' % sum(h)
        out += h
    return bytes(out + bytes(1024))


def test_hostile_archives(t):
    """Archive bombs end at once with a clear reason (0, exit 1), and what
    held keeps holding (links, devices, FIFOs, ../ paths, zip bombs,
    20,000 files, corrupt and empty archives)."""
    bombs = {
        'zeros.tar.bz2': (bz2.compress(tar_header('mm/buddy.c', b'Z', 7900 << 20)) +
                          zeros_bz2(7900 << 20), 'unknown type'),
        'huge.tar.bz2': (bz2.compress(tar_header('mm/buddy.c', tarfile.REGTYPE, 7900 << 20)) +
                         zeros_bz2(7900 << 20), 'MiB'),
        'longname.tar.bz2': (bz2.compress(tar_header('././@LongLink', b'L', 2 << 30)) +
                             zeros_bz2(2 << 30), 'long name'),
        'empty.tar.gz': (b'', 'not a readable archive'),
    }
    z = io.BytesIO()
    with zipfile.ZipFile(z, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr('mm/buddy.c', bytes(MAX_ARCHIVE_BYTES + (1 << 20)))
    bombs['bomb.zip'] = (z.getvalue(), 'MiB')
    bombs['many.tar'] = (many_files_tar(20001), 'files')
    for name, (data, reason) in bombs.items():
        p = os.path.join(t.workdir, name)
        t.check(len(data) < 1 << 20 or name == 'many.tar', f'{name} is {len(data)} bytes')
        with open(p, 'wb') as f:
            f.write(data)
        g, _ = graded(t, p, slot=None, total_timeout=20)
        t.check(reason in g.text() and 'Cannot read the submission' in g.text(),
                f'{name}: no clear reason ({reason!r})\n' + g.text())
    # What held: only regular files are taken, never links or devices.
    evil = os.path.join(t.workdir, 'links.tar')
    with tarfile.open(evil, 'w') as tf:
        for kind, extra in ((tarfile.SYMTYPE, {'linkname': os.path.join(TOP, 'mm', 'buddy.c')}),
                            (tarfile.LNKTYPE, {'linkname': 'mm/buddy.c'}),
                            (tarfile.FIFOTYPE, {}), (tarfile.CHRTYPE, {'devmajor': 1, 'devminor': 3})):
            info = tarfile.TarInfo('mm/buddy.c')
            info.type = kind
            for k, v in extra.items():
                setattr(info, k, v)
            tf.addfile(info)
        data = b'int escaped;\n'
        for bad in ('../../escaped.c', '/tmp/escaped-numbat.c'):
            info = tarfile.TarInfo(bad)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    dest = os.path.join(t.workdir, 'links-out')
    os.makedirs(dest)
    kind = grade.unpack(evil, dest, deadline=time.monotonic() + 20, files=BUDDY_FILES)
    got = tree_digest(dest)
    t.check(kind == 'tar archive' and got == {}, f'links, devices or ../ paths unpacked: {sorted(got)}')
    t.check(not os.path.exists(os.path.join(t.workdir, 'escaped.c')), 'a ../ path escaped')


# --- submissions that run code as the grader ----------------------------------------------------

def git(repo, *args):
    subprocess.run(['git', '-C', repo, '-c', 'user.name=s', '-c', 'user.email=s@x'] + list(args),
                   check=True, capture_output=True, timeout=60)


def test_hostile_git(t):
    """A repository whose config sets smudge filters (one that takes the
    reference solution from this repository, one that sleeps), a hook, an
    fsmonitor command and alternates that reach this repository's objects:
    nothing of it runs and nothing of this repository is read (0).
    Then an honest repository owned by another uid: its HEAD is read
    (full marks); with a different working copy, the working copy is."""
    mark = 'numbat-hostile-' + secrets.token_hex(6)
    canary = os.path.join(t.workdir, 'filter-ran')
    repo = submission_with(t, 'evil-git', {'mm/buddy.c': labtool.stub_text(
        reference_file('mm/buddy.c'), 'buddy'), '.gitattributes': '*.c filter=steal\n*.h filter=slow\n'})
    git(repo, 'init', '-q')
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'lab')
    common = subprocess.run(['git', '-C', TOP, 'rev-parse', '--path-format=absolute',
                             '--git-common-dir'], capture_output=True, text=True).stdout.strip()
    head = subprocess.run(['git', '-C', TOP, 'rev-parse', 'HEAD'], capture_output=True,
                          text=True).stdout.strip()
    with open(os.path.join(repo, '.git', 'config'), 'a') as f:
        f.write(f'[filter "steal"]\n\tsmudge = "touch {canary}; cat {TOP}/mm/buddy.c; : {mark}"\n'
                f'[filter "slow"]\n\tsmudge = "sleep 30; touch {canary}; cat"\n'
                f'[core]\n\tfsmonitor = "touch {canary}; : {mark}"\n')
    hooks = os.path.join(repo, '.git', 'hooks')
    for hook in ('post-checkout', 'pre-auto-gc', 'reference-transaction'):
        with open(os.path.join(hooks, hook), 'w') as f:
            f.write(f'#!/bin/sh\ntouch {canary}\n')
        os.chmod(os.path.join(hooks, hook), 0o755)
    if common and head:
        # HEAD -> a commit of this repository, reachable only through alternates.
        os.makedirs(os.path.join(repo, '.git', 'objects', 'info'), exist_ok=True)
        with open(os.path.join(repo, '.git', 'objects', 'info', 'alternates'), 'w') as f:
            f.write(os.path.join(common, 'objects') + '\n')
        with open(os.path.join(repo, '.git', 'refs', 'heads', 'stolen'), 'w') as f:
            f.write(head + '\n')
        with open(os.path.join(repo, '.git', 'HEAD'), 'w') as f:
            f.write('ref: refs/heads/stolen\n')
    os.remove(os.path.join(repo, 'mm', 'buddy.c'))      # only HEAD has it
    g, _ = graded(t, repo, marker=mark, api=False)
    t.check(not os.path.exists(canary), 'a filter, hook or fsmonitor of the submission ran')
    # An honest repository owned by another uid, with a hook: HEAD read.
    honest = submission_with(t, 'honest-git', {'mm/buddy.c': reference_file('mm/buddy.c')})
    git(honest, 'init', '-q')
    git(honest, 'add', '.')
    git(honest, 'commit', '-qm', 'lab')
    shutil.move(os.path.join(honest, 'mm', 'buddy.c'), os.path.join(t.workdir, 'kept.c'))
    if os.geteuid() == 0:
        for r, ds, fs in os.walk(honest):
            for n in ds + fs + ['.']:
                os.lchown(os.path.join(r, n), 4242, 4242)
    g, _ = graded(t, honest, expect='full', api=False)
    t.check('HEAD' in g.text(), 'the report does not say HEAD was graded\n' + g.text())
    # The working copy differs from HEAD (the stub, uncommitted): it is graded.
    with open(os.path.join(honest, 'mm', 'buddy.c'), 'w') as f:
        f.write(labtool.stub_text(reference_file('mm/buddy.c'), 'buddy'))
    g, _ = graded(t, honest, api=False)
    t.check('working copy graded' in g.text() and 'mm/buddy.c' in g.text(),
            'the report does not say the working copy was graded\n' + g.text())


# --- a class with one hostile submission ----------------------------------------------------------

KILLER = r'''
#ifndef __riscv
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* For 30 s, kill every process whose working folder, or whose kernel,
   sits in a grading whose tree's mm/buddy.c carries the batch's token:
   the other students' gradings. */
static int kernel_folder(const char *pid, char *out, size_t len)
{
    char path[256], args[8192];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(args, 1, sizeof args - 1, f);
    fclose(f);
    args[n] = 0;
    for (size_t i = 0; i + 1 < n; i += strlen(args + i) + 1)
        if (!strcmp(args + i, "-kernel")) {
            snprintf(out, len, "%s", args + i + strlen(args + i) + 1);
            return 1;
        }
    return 0;
}

static int others(const char *pid)
{
    char path[256], cwd[4096], file[4200], buf[65536];
    ssize_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%s/cwd", pid);
    if (!kernel_folder(pid, cwd, sizeof cwd)) {
        n = readlink(path, cwd, sizeof cwd - 1);
        if (n <= 0)
            return 0;
        cwd[n] = 0;
    }
    for (int up = 0; up < 4; up++) {
        snprintf(file, sizeof file, "%s/tree/mm/buddy.c", cwd);
        if ((f = fopen(file, "r"))) {
            size_t got = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[got] = 0;
            if (strstr(buf, "@TOKEN@"))
                return 1;
        }
        char *slash = strrchr(cwd, '/');
        if (!slash || slash == cwd)
            break;
        *slash = 0;
    }
    return 0;
}

static void hostile_killer(void)
{
    static int started;

    if (started++ || fork())
        return;
    setsid();
    for (int round = 0; round < 600; round++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && others(e->d_name))
                kill(atoi(e->d_name), SIGKILL);
        if (d)
            closedir(d);
        usleep(50000);
    }
    _exit(0);
}
#else
static void hostile_killer(void) {}
#endif
'''


def test_hostile_batch(t):
    """A class of three graded at once: the reference, the stub and a
    submission whose daemon kills the other gradings' processes and
    rewrites their results. The honest ones keep their exact scores."""
    token = 'batch-honest-' + secrets.token_hex(6)
    subs = os.path.join(t.workdir, 'class')
    os.makedirs(subs)
    honest_ref = reference_file('mm/buddy.c') + f'/* {token} */\n'
    honest_stub = labtool.stub_text(reference_file('mm/buddy.c'), 'buddy') + f'/* {token} */\n'
    submission_with(t, 'class/alice', {'mm/buddy.c': honest_ref})
    submission_with(t, 'class/carol', {'mm/buddy.c': honest_stub})
    submission_with(t, 'class/mallory', {'mm/buddy.c': stub_with(
        # The token split in two literals: mallory's own source lacks it.
        KILLER.replace('@TOKEN@', token[:8] + '" "' + token[8:]), 'hostile_killer()')})
    out = os.path.join(t.workdir, 'grades')
    status = grade.batch('buddy', subs, out, jobs=3, total_timeout=120, run_cap=RUN_CAP,
                         api=False)
    t.check(status == grade.EXIT_FULL, f'batch exit status {status}')
    with open(os.path.join(out, 'gradebook.json')) as f:
        book = {s['student']: s for s in json.load(f)['students']}
    t.require(set(book) == {'alice', 'carol', 'mallory'}, f'students: {sorted(book)}')
    full = book['alice']['max_score']
    t.check(book['alice']['score'] == full and not book['alice']['grader_error'],
            f'alice (reference): {book["alice"]["score"]}/{full} {book["alice"]["grader_error"]}')
    t.check(book['carol']['score'] == 0 and not book['carol']['grader_error'],
            f'carol (stub): {book["carol"]["score"]} {book["carol"]["grader_error"]}')
    t.check(book['mallory']['score'] == 0, f'mallory: {book["mallory"]["score"]}')


# --- the fallback, where bubblewrap cannot make namespaces ---------------------------------------

DAEMON_C = r'''
#ifndef __riscv
#include <stdio.h>
#include <unistd.h>
/* A daemon that needs no fork once started (a process limit cannot end
   it): for a minute, rewrite results.json and write into the repository. */
static void hostile_daemon(void)
{
    static int started;

    if (started++ || fork())
        return;
    setsid();
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen("@OUT@/results.json", "w");
        if (f) {
            fputs("forged\n", f);
            fclose(f);
        }
        if ((f = fopen("@TOP@/labs/pwned-@MARK@", "w")))
            fclose(f);
        usleep(200000);
    }
    _exit(0);
}
#else
static void hostile_daemon(void) {}
#endif
'''


FAKE_BWRAP = '#!/bin/sh\necho "bwrap: No permissions to create a new namespace" >&2\nexit 1\n'


def test_hostile_fallback(t):
    """Where bwrap cannot make namespaces (a fake bwrap that fails, first
    on PATH): --sandbox=require refuses (exit 3, a clear message); the
    default grades in the fallback and says so, and as root its private
    uid and sweep still hold the daemon: full marks, nothing written,
    nothing left."""
    fake = os.path.join(t.workdir, 'fakebin')
    os.makedirs(fake)
    with open(os.path.join(fake, 'bwrap'), 'w') as f:
        f.write(FAKE_BWRAP)
    os.chmod(os.path.join(fake, 'bwrap'), 0o755)
    env = dict(os.environ, PATH=fake + ':' + os.environ.get('PATH', '/usr/bin:/bin'))
    mark = 'numbat-hostile-' + secrets.token_hex(6)
    out = os.path.join(t.workdir, 'out-fallback')
    payload = DAEMON_C.replace('@MARK@', mark).replace('@OUT@', out).replace('@TOP@', TOP)
    sub = submission_with(t, 'fallback', {'mm/buddy.c': reference_with(payload, 'hostile_daemon()')})
    cmd = [sys.executable, os.path.join(TOP, 'labs', 'grade.py'), 'buddy', sub]
    r = subprocess.run(cmd + ['--sandbox=require'], capture_output=True, text=True, env=env,
                       timeout=120)
    t.check(r.returncode == grade.EXIT_GRADER and 'bubblewrap cannot make its namespaces' in r.stderr,
            f'--sandbox=require without namespaces: status {r.returncode}\n{r.stderr}')
    if os.geteuid() != 0:
        t.skip('the fallback\'s private uid needs root')
    repo_before = tree_digest(os.path.join(TOP, 'labs'))
    # The payload uses what the lab API forbids (fork, setsid): the API
    # check is off, so that the test shows the fallback itself holds it.
    r = subprocess.run(cmd + ['--out', out, '--timeout', '200', '--no-api-check'],
                       capture_output=True,
                       text=True, env=env, timeout=400)
    t.check(r.returncode == grade.EXIT_FULL, f'status {r.returncode}\n{r.stdout}\n{r.stderr}')
    t.check('Sandbox: fallback (no namespaces: ' in r.stdout,
            'the report does not say the fallback was used\n' + r.stdout)
    time.sleep(2.5)
    uid = re.search(r'a private uid (\d+)', r.stdout)
    left = sandbox.processes_of(int(uid.group(1))) if uid else []
    t.check(uid and not left, f'processes of the private uid outlived the grader: {left}')
    for p in left:
        os.kill(p, 9)
    with open(os.path.join(out, 'results.json')) as f:
        text = f.read()
    t.check(text.lstrip().startswith('{') and '"score": 100' in text,
            f'results.json changed after the grader wrote it: {text[:80]!r}')
    t.check(tree_digest(os.path.join(TOP, 'labs')) == repo_before,
            'the repository\'s labs/ folder changed during grading')


# --- code that runs before the harness (the API check's job) -------------------------------------

FORGER = r'''
#ifndef __riscv
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* Before main(): read the seed and the filters the grader passed, ask
   the binary itself for its case list, print a consistent report of
   passes and leave before the real harness runs. */
__attribute__((constructor)) static void forge(void)
{
    static char args[8192], line[512], names[256][128];
    char *argv[64], cmd[600];
    int argc = 0, n = 0;
    size_t len;
    FILE *f = fopen("/proc/self/cmdline", "r");

    if (!f)
        return;
    len = fread(args, 1, sizeof args - 1, f);
    fclose(f);
    for (size_t i = 0; i < len && argc < 64; i += strlen(args + i) + 1)
        argv[argc++] = args + i;
    const char *seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list"))
            return;
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = argv[i + 1];
    }
    if (!seed)
        return;
    snprintf(cmd, sizeof cmd, "%s --list", argv[0]);
    FILE *p = popen(cmd, "r");
    while (p && n < 256 && fgets(line, sizeof line, p)) {
        char *end = strstr(line, " (");
        if (end)
            *end = 0;
        line[strcspn(line, "\n")] = 0;
        for (int i = 1; i < argc; i++) {
            if (argv[i][0] == '-' || !strcmp(argv[i - 1], "--seed"))
                continue;
            if (strstr(line, argv[i])) {
                snprintf(names[n++], sizeof names[0], "%s", line);
                break;
            }
        }
    }
    if (p)
        pclose(p);
    printf("KTAP version 1\n# seed %s (replay with --seed %s)\n1..%d\n", seed, seed, n);
    for (int i = 0; i < n; i++)
        printf("ok %d %s\n", i + 1, names[i]);
    fflush(stdout);
    _exit(0);
}
#endif
'''


def test_hostile_constructor_forges_report(t):
    """The stub plus a constructor that forges the host binaries' report
    from /proc/self/cmdline and the binary's own case list, then _exit(0):
    the API check rejects the file (0, the reason named)."""
    sub = submission_with(t, 'forger', {'mm/buddy.c': stub_with(FORGER, '(void)0')})
    g, _ = graded(t, sub)
    t.check('API CHECK FAILED' in g.text(), 'the API check did not reject it\n' + g.text())
