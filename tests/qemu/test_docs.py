"""What the docs state about the tree, checked against the tree: Markdown
that renders as written, nothing that points outside the tree, functions
cited in the files that define them, counts and orders that match the
code, panic messages quoted as mm/ prints them.

Run by tests/run.py as part of the `qemu` group (one boot; the rest reads
files)."""

import os
import re

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP_DIRS = {'.git', '__pycache__', '.cache', 'images'}
# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile('|'.join([r'\.\./' + 'shared', 'shared/' + '(?:DESIGN|STYLE|reference)',
                               r'\b' + 'DESIGN' + r'\.md', r'\b' + 'STYLE' + r'\.md',
                               '/' + 'work/']))
CITED = re.compile(r'\b([a-z_][a-z0-9_]*) (?:\([^)]*\) )?at (?:\.\.\./)?'
                   r'((?:mm|kernel|platform|lib)/\w+\.[cS])\b')
GENERATED = {'compile_commands.json', 'build.ninja'}   # written by configure.py
NUMBER_WORDS = {'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6}


def tree_files(exts):
    for root, dirs, files in os.walk(TOP):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith('build')]
        for f in files:
            if f.endswith(exts) and f not in GENERATED:
                yield os.path.join(root, f)


def markdown_files():
    return sorted(tree_files(('.md',)))


def rel(path):
    return os.path.relpath(path, TOP)


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def test_markdown_fences_close(t):
    """Every ``` opens and closes, and no heading sits inside a code block
    (the sign of a missing opening fence: the rest renders as code)."""
    for path in markdown_files():
        fence = None
        for n, line in enumerate(read(path).splitlines(), 1):
            if line.strip().startswith('```'):
                fence = None if fence else n
            elif fence and re.match(r'#{1,4} [A-Z`]', line):
                t.check(False, f'{rel(path)}:{n}: the heading `{line}` is inside the code '
                               f'block opened at line {fence}: a fence is missing')
                break
        t.check(fence is None, f'{rel(path)}: the code block opened at line {fence} never closes')


def test_nothing_points_outside_the_tree(t):
    exts = ('.md', '.c', '.h', '.S', '.py', '.json', '.ld', '.dts', '.patch', 'gdbinit')
    for path in sorted(tree_files(exts)):
        for n, line in enumerate(read(path).splitlines(), 1):
            m = OUTSIDE.search(line)
            if m:
                t.check(False, f'{rel(path)}:{n}: `{m.group(0)}` points outside the tree; '
                               f'the design is docs/design.md, the Xen thread '
                               f'docs/xen-thread.md')
                break           # one line per file is enough


def defines(path, name):
    """True if the C file at path defines the function name (a line that
    starts a definition: not indented, `name(` on it, no `;` at its end)."""
    for line in read(path).splitlines():
        if line[:1] not in (' ', '\t', '#', '/', '*', '') and re.search(rf'\b{name}\(', line) \
                and not line.rstrip().endswith(';'):
            return True
    return False


def test_cited_functions_live_where_the_docs_say(t):
    """`FUNC ... at mm/FILE.c` in a doc (a backtrace or a gdb stop shown as
    an example) names the file that defines FUNC."""
    found = 0
    for path in markdown_files():
        for n, line in enumerate(read(path).splitlines(), 1):
            for name, src in CITED.findall(line):
                found += 1
                full = os.path.join(TOP, src)
                t.check(os.path.isfile(full) and defines(full, name),
                        f'{rel(path)}:{n}: says {name} is at {src}, but '
                        + (f'{src} does not define it' if os.path.isfile(full)
                           else f'{src} does not exist'))
    t.check(found > 0, 'no `FUNC at FILE` citation found in any doc (is the pattern stale?)')


def test_architecture_counts_the_shared_headers(t):
    text = read(os.path.join(TOP, 'docs', 'architecture.md'))
    m = re.search(r'`include/numbat/` holds the (\w+) headers', text)
    t.require(m, 'docs/architecture.md no longer says how many headers include/numbat holds')
    have = len([f for f in os.listdir(os.path.join(TOP, 'include', 'numbat')) if f.endswith('.h')])
    t.check(NUMBER_WORDS.get(m.group(1)) == have,
            f'docs/architecture.md says include/numbat holds {m.group(1)} headers; it holds {have}')


def panic_formats():
    """Every panic format string of mm/, as a regex of what it prints."""
    out = []
    for path in sorted(tree_files(('.c',))):
        if not rel(path).startswith('mm' + os.sep):
            continue
        for call in re.findall(r'mm_hook_panic\(((?:\s*"(?:[^"\\]|\\.)*")+)', read(path)):
            fmt = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', call))
            rx = re.escape(fmt)
            rx = re.sub(r'%l?[xu]', r'[0-9a-fx]+', rx)
            rx = rx.replace('%s', '.*?')
            out.append(rx)
    return out


def test_failure_doc_quotes_real_panics(t):
    """docs/failure.md's quoted panic is one mm/ prints, word for word."""
    text = read(os.path.join(TOP, 'docs', 'failure.md'))
    quotes = re.findall(r'`((?:free_heap_pages|init_heap_pages|alloc_heap_pages|'
                        r'alloc_boot_pages|bootmem_\w+): [^`]+)`', text)
    t.require(quotes, 'docs/failure.md quotes no mm/ panic (is the pattern stale?)')
    formats = panic_formats()
    t.require(formats, 'found no mm_hook_panic() format in mm/')
    for q in quotes:
        t.check(any(re.fullmatch(rx, q) for rx in formats),
                f'docs/failure.md quotes the panic `{q}`, which no mm_hook_panic() in mm/ prints')


def test_harts_start_before_the_heap(t):
    """docs/architecture.md: the other harts start before the boot
    allocator and the heap; the boot prints `smp:` before `heap:`."""
    text = read(os.path.join(TOP, 'docs', 'architecture.md'))
    harts = text.find('starts the other harts')
    bootmem = text.find('builds the boot allocator')
    t.check(0 <= harts < bootmem, 'docs/architecture.md\'s boot paragraph no longer says the '
                                  'other harts start before the boot allocator is built')
    r = t.boot('2node', topology='2node', watch='numbat> ', stop_at_watch=True)
    lines = r.console.splitlines()
    smp = next((i for i, l in enumerate(lines) if l.startswith('smp: ')), None)
    heap = next((i for i, l in enumerate(lines) if l.startswith('heap: ')), None)
    t.require(smp is not None and heap is not None, 'the 2node boot printed no smp: or heap: line')
    t.check(smp < heap, 'the 2node boot prints its heap before `smp: N harts up`: the docs say '
                        'the other harts start first')
