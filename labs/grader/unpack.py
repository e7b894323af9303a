"""Getting a submission's files: a folder, a git repository or an archive
unpacked into a scratch folder with caps, and finding the lab's files in
it.

Nothing a submission carries runs here, and nothing it declares is
trusted:
- a git repository is read as blobs from HEAD in a fresh bare repository
  that holds only its objects and refs (no config, hooks, filters or
  alternates of its own), by git run with no system or global config and
  every folder marked safe (so files owned by another uid read fine);
  when the working copy of a lab file differs from HEAD, the working copy
  is what the student uploaded, and it is graded;
- a tar archive is read by our own header reader, 512-byte block by
  block, so a name or a size is checked before anything is read into
  memory: only regular files and folders are accepted (links, devices
  and FIFOs are skipped, any other type refuses the archive), names are
  at most MAX_NAME bytes per part and MAX_PATH in all, and every byte
  counts against MAX_ARCHIVE_BYTES as it is written;
- zip members are streamed against the same caps, whatever they declare;
- unpacking counts against the submission's time limit (the deadline).
"""

import bz2
import gzip
import lzma
import os
import shutil
import subprocess
import tempfile
import time
import zipfile

import labtool

MAX_ARCHIVE_BYTES = 64 << 20   # unpacked size of a submission archive
MAX_ARCHIVE_FILES = 20000
MAX_NAME = 255                 # bytes in one part of a member's name
MAX_PATH = 1024                # bytes in a member's whole name
MAX_META = 64 << 10            # bytes of a pax or GNU long-name header
MAX_GIT_BYTES = 256 << 20      # a git repository's objects and refs
GIT_TIMEOUT = 30               # seconds for the git commands of one submission
BLOCK = 512


class BadSubmission(Exception):
    """The submission cannot be read at all (a bad archive, no such path)."""


def unpack(submission, dest, working_tree=False, deadline=None, files=()):
    """Put the submission's files into dest; returns a description of what
    it was. working_tree: a folder as it is, even if it is a git
    repository. files: the lab's files (a git repository's HEAD is
    compared with its working copy for these)."""
    deadline = deadline or time.monotonic() + 300
    if os.path.isdir(submission) and working_tree:
        copy_lab_files(submission, dest, files)
        return 'this tree (working copy)'
    if os.path.isdir(submission):
        if os.path.isdir(os.path.join(submission, '.git')):
            return read_git(submission, dest, files, deadline)
        labtool.copy_tree(submission, dest, instructor=True)
        return 'folder'
    if not os.path.exists(submission):
        raise BadSubmission(f'{submission}: no such file or folder')
    name = os.path.basename(submission)
    if os.path.isfile(submission) and os.path.getsize(submission) == 0:
        raise BadSubmission(f'{name} is empty: not a readable archive')
    try:
        with open(submission, 'rb') as f:
            magic = f.read(6)
        if magic.startswith(b'PK'):
            with zipfile.ZipFile(submission) as z:
                extract_zip(z, dest, deadline)
            return 'zip archive'
        if name.lower().endswith(('.tar.gz', '.tgz', '.tar', '.tar.xz', '.tar.bz2', '.zip')):
            with open_tar_stream(submission, magic) as f:
                extract_tar(f, dest, deadline)
            return 'tar archive'
    except BadSubmission:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, lzma.LZMAError) as e:
        raise BadSubmission(f'{name} is not a readable archive: {e}')
    raise BadSubmission(f'{name}: not a folder, a git repository or an archive '
                        '(.tar.gz, .tgz, .tar.xz, .tar.bz2, .tar, .zip)')


def copy_lab_files(src, dest, files):
    for rel in files:
        p = os.path.join(src, rel)
        if os.path.isfile(p) and not os.path.islink(p):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copyfile(p, os.path.join(dest, rel))


# --- git ---------------------------------------------------------------------------

GIT_ENV = {'GIT_CONFIG_NOSYSTEM': '1', 'GIT_CONFIG_GLOBAL': '/dev/null',
           'HOME': '/nonexistent', 'GIT_TERMINAL_PROMPT': '0', 'PATH': '/usr/bin:/bin',
           'GIT_NO_REPLACE_OBJECTS': '1', 'LANG': 'C'}


def read_git(submission, dest, files, deadline):
    """The lab's files of a repository: the working copy where it differs
    from HEAD (what the student uploaded), else HEAD's blobs."""
    with tempfile.TemporaryDirectory(prefix='numbat-git-') as bare:
        copy_git_data(os.path.join(submission, '.git'), bare)
        head = git_blobs(bare, files, deadline)
    work = {rel: read_regular(os.path.join(submission, rel)) for rel in files}
    differ = sorted(rel for rel in files if work[rel] is not None and work[rel] != head.get(rel))
    if differ:
        for rel in files:
            if work[rel] is not None:
                write_file(dest, rel, work[rel])
        return (f'git repository: the working copy graded ({", ".join(differ)} '
                'differs from HEAD)')
    if not head and any(work.values()):
        return 'git repository: the working copy graded'
    for rel, data in head.items():
        write_file(dest, rel, data)
    if not head:
        return 'git repository (HEAD has none of the lab\'s files)'
    same = all(work[rel] == head.get(rel) for rel in head)
    return 'git repository (HEAD' + (', the same as the working copy)' if same else ')')


def copy_git_data(gitdir, bare):
    """Only objects/ (without alternates), refs/, HEAD and packed-refs, as
    regular files: no config, hooks, info/attributes or links of theirs."""
    total = 0
    os.makedirs(os.path.join(bare, 'objects'), exist_ok=True)
    os.makedirs(os.path.join(bare, 'refs'), exist_ok=True)
    for top in ('objects', 'refs'):
        for root, dirs, fs in os.walk(os.path.join(gitdir, top)):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
            rel_root = os.path.relpath(root, gitdir)
            if rel_root == os.path.join('objects', 'info'):
                continue            # alternates would reach other repositories
            os.makedirs(os.path.join(bare, rel_root), exist_ok=True)
            for f in fs:
                s = os.path.join(root, f)
                if os.path.islink(s) or not os.path.isfile(s):
                    continue
                total += os.path.getsize(s)
                if total > MAX_GIT_BYTES:
                    raise BadSubmission(f'the git repository holds more than '
                                        f'{MAX_GIT_BYTES >> 20} MiB; upload the lab\'s files')
                shutil.copyfile(s, os.path.join(bare, rel_root, f))
    for f in ('HEAD', 'packed-refs'):
        s = os.path.join(gitdir, f)
        if os.path.isfile(s) and not os.path.islink(s) and os.path.getsize(s) < (16 << 20):
            shutil.copyfile(s, os.path.join(bare, f))
    with open(os.path.join(bare, 'config'), 'w') as f:
        f.write('[core]\n\tbare = true\n\trepositoryformatversion = 0\n')


def git(bare, args, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise BadSubmission('reading the git repository ran out of the time limit')
    try:
        r = subprocess.run(['git', '-c', 'safe.directory=*', '-c', 'core.hooksPath=/dev/null',
                            '-c', 'core.fsmonitor=false', '--git-dir', bare] + args,
                           capture_output=True, timeout=min(GIT_TIMEOUT, left),
                           env=GIT_ENV, stdin=subprocess.DEVNULL, cwd=bare)
    except subprocess.TimeoutExpired:
        raise BadSubmission('reading the git repository took too long')
    return r


def git_blobs(bare, files, deadline):
    """{rel: bytes} of the lab's files in HEAD, at their tree paths or under
    one top folder; {} when HEAD cannot be read."""
    r = git(bare, ['ls-tree', '-r', '-z', '--full-tree', 'HEAD'], deadline)
    if r.returncode != 0:
        return {}
    entries = {}
    for item in r.stdout.split(b'\0'):
        if b'\t' not in item:
            continue
        meta, path = item.split(b'\t', 1)
        mode, kind, sha = meta.split()
        if kind == b'blob' and mode in (b'100644', b'100755'):
            entries[path.decode('utf-8', 'replace')] = sha.decode()
    out = {}
    for rel in files:
        hits = [p for p in entries if p == rel or (p.endswith('/' + rel) and p.count('/') == rel.count('/') + 1)]
        if not hits:
            continue
        sha = entries[sorted(hits, key=len)[0]]
        size = git(bare, ['cat-file', '-s', sha], deadline)
        if size.returncode != 0 or int(size.stdout or 0) > MAX_ARCHIVE_BYTES:
            raise BadSubmission(f'{rel} in HEAD is larger than {MAX_ARCHIVE_BYTES >> 20} MiB '
                                'or unreadable: not accepted')
        b = git(bare, ['cat-file', 'blob', sha], deadline)
        if b.returncode == 0:
            out[rel] = b.stdout
    return out


def read_regular(p):
    if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) <= MAX_ARCHIVE_BYTES:
        with open(p, 'rb') as f:
            return f.read()
    return None


def write_file(dest, rel, data):
    os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
    with open(os.path.join(dest, rel), 'wb') as f:
        f.write(data)


# --- tar ----------------------------------------------------------------------------

def open_tar_stream(path, magic):
    """A file object of the uncompressed tar stream (by its magic bytes)."""
    if magic.startswith(b'\x1f\x8b'):
        return gzip.open(path, 'rb')
    if magic.startswith(b'BZh'):
        return bz2.open(path, 'rb')
    if magic.startswith(b'\xfd7zXZ'):
        return lzma.open(path, 'rb')
    return open(path, 'rb')


def safe_member(name):
    parts = name.replace('\\', '/').split('/')
    return not (name.startswith('/') or '..' in parts or name == '')


def check_name(name):
    raw = name.encode('utf-8', 'surrogateescape')
    if len(raw) > MAX_PATH or any(len(p) > MAX_NAME for p in raw.split(b'/')):
        raise BadSubmission(f'a member\'s name is longer than {MAX_NAME} bytes per part or '
                            f'{MAX_PATH} in all ({raw[:60]!r}...): not accepted')


def read_exact(f, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        check_deadline(deadline)
        chunk = f.read(min(n - len(buf), 1 << 16))
        if not chunk:
            raise BadSubmission('the tar archive ends in the middle of a member: '
                                'not a readable archive')
        buf += chunk
    return bytes(buf)


def check_deadline(deadline):
    if time.monotonic() > deadline:
        raise BadSubmission('unpacking the archive took longer than the submission\'s '
                            'time limit: not accepted')


def number(field):
    """A tar numeric field: octal text, or GNU base-256 (high bit set)."""
    if field and field[0] & 0x80:
        v = int.from_bytes(field[1:], 'big')
        return v
    text = field.split(b'\0', 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ValueError(f'a bad number in a tar header: {text[:20]!r}')


def parse_header(block):
    """(name, type, size) of a ustar/GNU header block; ValueError if its
    checksum is wrong."""
    want = number(block[148:156])
    got = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if want != got:
        raise ValueError('a tar header with a bad checksum')
    name = block[0:100].split(b'\0', 1)[0]
    if block[257:263] == b'ustar\0' and block[345:500].strip(b'\0'):     # POSIX prefix
        name = block[345:500].split(b'\0', 1)[0] + b'/' + name
    return name, block[156:157], number(block[124:136])


def pax_path(data):
    """The `path` record of a pax extended header, if any."""
    path, i = None, 0
    while i < len(data):
        sp = data.find(b' ', i)
        if sp < 0:
            break
        n = int(data[i:sp])
        rec = data[sp + 1:i + n - 1]
        if rec.startswith(b'path='):
            path = rec[5:]
        i += n
    return path


REGULAR, DIRECTORY = (b'0', b'\0', b'7'), b'5'
SKIPPED = (b'1', b'2', b'3', b'4', b'6')     # hard link, symlink, char, block, FIFO


def extract_tar(f, dest, deadline):
    """Our own tar reader (see the module comment)."""
    total = files = 0
    long_name = None
    while True:
        first = f.read(BLOCK)
        if not first:
            return              # the end, without the closing zero blocks
        block = first + read_exact(f, BLOCK - len(first), deadline)
        if block == bytes(BLOCK):
            return              # end of archive (a zero block)
        name, kind, size = parse_header(block)
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        if kind in (b'L', b'x', b'g'):
            if size > MAX_META:
                raise BadSubmission(f'a tar header of {size} bytes (a long name?): longer '
                                    f'than {MAX_META >> 10} KiB, not accepted')
            data = read_exact(f, padded, deadline)[:size]
            if kind == b'L':
                long_name = data.split(b'\0', 1)[0]
            elif kind == b'x':
                long_name = pax_path(data) or long_name
            continue
        if long_name is not None:
            name, long_name = long_name, None
        text = name.decode('utf-8', 'surrogateescape')
        check_name(text)
        if kind not in REGULAR + (DIRECTORY,) + SKIPPED:
            raise BadSubmission(f'member {text[:80]!r} has an unknown type '
                                f'{kind.decode("latin-1")!r}: not accepted (only files and '
                                'folders)')
        if kind in REGULAR:
            files += 1
            if total + size > MAX_ARCHIVE_BYTES or files > MAX_ARCHIVE_FILES:
                raise BadSubmission(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB or '
                                    f'{MAX_ARCHIVE_FILES} files unpacked: not accepted')
            total += size
        if kind not in REGULAR or not safe_member(text):
            skip(f, padded if kind in REGULAR else 0, deadline)
            continue            # no links, devices or paths outside dest
        out = os.path.join(dest, text)
        if os.path.isdir(out):
            raise BadSubmission(f'member {text[:80]!r} is both a folder and a file')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, 'wb') as dst:
            left = size
            while left:
                chunk = read_exact(f, min(left, 1 << 16), deadline)
                dst.write(chunk)
                left -= len(chunk)
        skip(f, padded - size, deadline)


def skip(f, n, deadline):
    while n > 0:
        check_deadline(deadline)
        chunk = f.read(min(n, 1 << 16))
        if not chunk:
            return
        n -= len(chunk)


# --- zip ----------------------------------------------------------------------------

def extract_zip(z, dest, deadline):
    infos = z.infolist()
    if len(infos) > MAX_ARCHIVE_FILES:
        raise BadSubmission(f'more than {MAX_ARCHIVE_FILES} files: not accepted')
    total = 0
    for i in infos:
        check_name(i.filename)
        mode = i.external_attr >> 16
        if i.is_dir() or not safe_member(i.filename) or (mode and (mode & 0o170000) not in (0, 0o100000)):
            continue            # folders, paths outside dest, links, devices
        out = os.path.join(dest, i.filename)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(i) as src, open(out, 'wb') as dst:
            while True:
                check_deadline(deadline)
                chunk = src.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise BadSubmission(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB unpacked: '
                                        'not accepted')
                dst.write(chunk)


def find_lab_files(root, files):
    """{rel: path in the submission} for each of the lab's files found.
    The files may sit at their tree paths, under one top folder (an archive
    of the repository folder), or flat (just `buddy.c`)."""
    found = {}
    candidates = [root] + sorted(os.path.join(root, d) for d in os.listdir(root)
                                 if os.path.isdir(os.path.join(root, d)))
    for base in candidates:
        for rel in files:
            p = os.path.join(base, rel)
            if rel not in found and os.path.isfile(p):
                found[rel] = p
    for rel in files:               # flat upload: the file name alone, if unique
        if rel in found:
            continue
        names = [p for base in candidates
                 for p in [os.path.join(base, os.path.basename(rel))] if os.path.isfile(p)]
        if len(names) == 1 and sum(os.path.basename(f) == os.path.basename(rel)
                                   for f in files) == 1:
            found[rel] = names[0]
    return found
