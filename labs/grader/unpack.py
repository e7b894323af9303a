"""Getting a submission's files: a folder, a git repository or an archive
unpacked into a scratch folder with caps, and finding the lab's files in
it."""

import io
import os
import shutil
import subprocess
import tarfile
import zipfile

import labtool

MAX_ARCHIVE_BYTES = 64 << 20   # unpacked size of a submission archive
MAX_ARCHIVE_FILES = 20000


class BadSubmission(Exception):
    """The submission cannot be read at all (a bad archive, no such path)."""


def unpack(submission, dest, working_tree=False):
    """Put the submission's files into dest; returns a description of what
    it was. working_tree: a folder as it is, even if it is a git repository."""
    if os.path.isdir(submission) and working_tree:
        labtool.copy_tree(submission, dest, instructor=True)
        return 'this tree (working copy)'
    if os.path.isdir(submission):
        if os.path.isdir(os.path.join(submission, '.git')):
            r = subprocess.run(['git', '-C', submission, 'archive', '--format=tar', 'HEAD'],
                               capture_output=True, timeout=60)
            if r.returncode != 0:
                raise BadSubmission('a git repository whose HEAD cannot be read: ' +
                                    r.stderr.decode(errors='replace').strip()[-300:])
            extract_tar(io.BytesIO(r.stdout), dest)
            return 'git repository (HEAD)'
        labtool.copy_tree(submission, dest, instructor=True)
        return 'folder'
    if not os.path.exists(submission):
        raise BadSubmission(f'{submission}: no such file or folder')
    name = submission.lower()
    try:
        if name.endswith('.zip'):
            with zipfile.ZipFile(submission) as z:
                extract_zip(z, dest)
            return 'zip archive'
        if name.endswith(('.tar.gz', '.tgz', '.tar', '.tar.xz', '.tar.bz2')):
            with open(submission, 'rb') as f:
                extract_tar(f, dest)
            return 'tar archive'
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise BadSubmission(f'{os.path.basename(submission)} is not a readable archive: {e}')
    raise BadSubmission(f'{os.path.basename(submission)}: not a folder, a git repository '
                        'or an archive (.tar.gz, .tgz, .tar, .zip)')


def safe_member(name):
    parts = name.replace('\\', '/').split('/')
    return not (name.startswith('/') or '..' in parts or name == '')


def extract_tar(fileobj, dest):
    total = files = 0
    with tarfile.open(fileobj=fileobj, mode='r:*') as t:
        for m in t:
            if not m.isfile() or not safe_member(m.name):
                continue            # no links, devices or paths outside dest
            total += m.size
            files += 1
            if total > MAX_ARCHIVE_BYTES or files > MAX_ARCHIVE_FILES:
                raise ValueError(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB or '
                                 f'{MAX_ARCHIVE_FILES} files unpacked')
            out = os.path.join(dest, m.name)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with t.extractfile(m) as src, open(out, 'wb') as dst:
                shutil.copyfileobj(src, dst)


def extract_zip(z, dest):
    total = 0
    infos = [i for i in z.infolist() if not i.is_dir() and safe_member(i.filename)]
    if len(infos) > MAX_ARCHIVE_FILES:
        raise ValueError(f'more than {MAX_ARCHIVE_FILES} files')
    for i in infos:
        total += i.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise ValueError(f'more than {MAX_ARCHIVE_BYTES >> 20} MiB unpacked')
        out = os.path.join(dest, i.filename)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(i) as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst)


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
