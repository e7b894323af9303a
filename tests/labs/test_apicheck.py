"""Self-tests of the lab API check (labs/grader/apicheck.py, docs/labs.md
"The lab API"): every lab's reference and stub keep to the API their
lab.json lists, an honest solution with a debug print and a static helper
does too, and each way a lab file was seen to forge or escape its grading
gets its one-line reason: a call of mprotect, a constructor, a printf of
its own, dup2 and atexit, _exit, fork, a reference to ktest_* or the
harness, kernel code that writes text, calls SBI, reads the boot
arguments or powers off, inline assembly, a named or .init_array
section, an include outside the tree's headers.

The hostile files are compiled the way the build compiles the lab file
(its compile_commands.json entry, host with sanitizers and RISC-V), one
object each, in a scratch tree; one full grading shows the grader
scoring a rejected file 0.

Run by tests/run.py as part of the `labs` group (`-k apicheck`)."""

import json
import os
import shlex
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'labs'))
import grade      # noqa: E402
import labtool    # noqa: E402
from grader import apicheck  # noqa: E402

LABS = ['bootmem', 'buddy', 'numa', 'uninit', 'offline', 'smp']
HEADER_DIRS = ['include', 'mm', 'kernel', 'platform']   # what the scratch tree holds


# --- compiling one lab file as the build does ----------------------------------------------

def build_commands(t):
    for d in (t.build, TOP):
        p = os.path.join(d, 'compile_commands.json')
        if os.path.isfile(p):
            with open(p) as f:
                return json.load(f)
    t.require(False, f'no compile_commands.json for {t.build}: configure it first')


def scratch_tree(t, name):
    """A tree with the headers and sources a lab file can see (no build)."""
    tree = os.path.join(t.workdir, name, 'tree')
    for d in HEADER_DIRS:
        shutil.copytree(os.path.join(TOP, d), os.path.join(tree, d))
    return tree


def compiled(t, lab, name, files):
    """(tree, build) for apicheck.check_lab: a scratch tree with `files`
    ({rel: text}; the lab's other files stay the reference) and a build
    folder holding their host and kernel objects, compiled with the
    build's own flags."""
    tree = scratch_tree(t, name)
    build = os.path.join(t.workdir, name, 'build')
    for rel, text in files.items():
        with open(os.path.join(tree, rel), 'w') as f:
            f.write(text)
    entries = []
    for rel in labtool.load_rubric(lab, TOP)['files']:
        for kind in apicheck.BUILDS:
            e = apicheck.command_for(build_commands(t), rel, kind)
            top = e['directory']
            argv = []
            for a in shlex.split(e['command']):
                if a.startswith('-I') and (a[2:] == top or a[2:].startswith(top + '/')):
                    a = '-I' + tree + a[2 + len(top):]
                argv.append(os.path.join(tree, rel) if a == e['file'] else a)
            obj = os.path.join(build, apicheck.OBJ_DIRS[kind], os.path.splitext(rel)[0] + '.o')
            os.makedirs(os.path.dirname(obj), exist_ok=True)
            p = subprocess.run(argv + ['-o', obj], capture_output=True, text=True)
            t.require(p.returncode == 0, f'{name}: {rel} does not compile for {kind}:\n'
                      + p.stderr[-3000:])
            entries.append(dict(e, directory=tree, file=os.path.join(tree, rel), output=obj,
                                command=' '.join(shlex.quote(a) for a in argv)))
    with open(os.path.join(build, 'compile_commands.json'), 'w') as f:
        json.dump(entries, f)
    return tree, build


def stub_files(lab):
    return {rel: labtool.stub_text(open(os.path.join(TOP, rel)).read(), lab, rel)
            for rel in labtool.load_rubric(lab, TOP)['files']}


def reasons_for(t, lab, name, files, **kw):
    tree, build = compiled(t, lab, name, files, **kw)
    return apicheck.check_lab(labtool.load_rubric(lab, TOP), tree, build)


def expect(t, name, reasons, wanted):
    """Each wanted phrase is in some reason; every reason is one line."""
    text = '\n'.join(reasons)
    for w in wanted:
        t.check(w in text, f'{name}: no reason says {w!r}; the reasons were:\n{text or "(none)"}')
    for r in reasons:
        t.check('\n' not in r, f'{name}: a reason of more than one line: {r!r}')


# --- the payloads ----------------------------------------------------------------------------

USED = 'static __attribute__((used))'
# name: (code appended to the buddy stub, phrases the reasons must hold[,
# code put before the stub])
HOSTILE = {
    'mprotect_patch': (
        'extern int mprotect(void *addr, unsigned long len, int prot);\n'
        'extern void harness_fail(const char *file, int line, const char *fmt, ...);\n'
        f'{USED} void patch(void)\n{{\n'
        '    unsigned long page = (unsigned long)harness_fail & ~4095UL;\n'
        '    mprotect((void *)page, 8192, 7);\n'
        '    *(volatile unsigned char *)(void *)harness_fail = 0xc3;\n}\n',
        ['mm/buddy.c calls mprotect, which lab buddy may not use (allowed: see '
         'labs/buddy/lab.json "api")', 'refers to harness_fail']),
    'constructor': (
        'extern int open(const char *path, int flags);\n'
        'extern long read(int fd, void *buf, unsigned long n);\n'
        'extern void _exit(int status) __attribute__((noreturn));\n'
        'static char seen[256];\n'
        '__attribute__((constructor)) static void early(void)\n{\n'
        '    int fd = open("/proc/self/cmdline", 0);\n'
        '    if (read(fd, seen, sizeof seen) > 0)\n'
        '        _exit(0);\n}\n',
        ['src:uses the attribute constructor', 'has a .init_array section', 'calls open',
         'calls read', 'calls _exit']),
    # Priority 99 is ASan's: its table may hold only ASan's own constructor.
    'constructor_priority_99': (
        'extern void _exit(int status) __attribute__((noreturn));\n'
        'static void __attribute__((constructor(99))) early(void) { _exit(0); }\n',
        ['src:uses the attribute constructor', 'has a .init_array.00099 section']),
    'printf_redefined': (
        'int printf(const char *fmt, ...)\n{\n    (void)fmt;\n    return 0;\n}\n',
        ['mm/buddy.c defines printf, which is not one of lab buddy\'s own functions']),
    'dup2_atexit': (
        'extern int dup2(int a, int b);\nextern int atexit(void (*fn)(void));\n'
        'static void rewrite(void) {}\n'
        f'{USED} void grab(void)\n{{\n    dup2(3, 1);\n    atexit(rewrite);\n}}\n',
        ['calls dup2', 'calls atexit']),
    'fork': (
        'extern int fork(void);\nextern int setsid(void);\n'
        f'{USED} void daemon_(void)\n{{\n    if (fork() == 0)\n        setsid();\n}}\n',
        ['calls fork', 'calls setsid']),
    'ktest_text_write': (
        'extern void ktest_fail(const char *file, int line, const char *fmt, ...);\n'
        f'{USED} void patch(void)\n{{\n'
        '    *(volatile unsigned int *)(void *)ktest_fail = 0x00008067; /* ret */\n}\n',
        ['refers to ktest_fail']),
    'kernel_sbi_bootargs_poweroff': (
        'extern void sbi_shutdown(void);\nextern char bootargs[];\n'
        'extern void poweroff(unsigned int status);\n'
        f'{USED} void forge(void)\n{{\n    if (bootargs[0])\n        poweroff(0);\n'
        '    sbi_shutdown();\n}\n',
        ['calls sbi_shutdown', 'refers to bootargs', 'calls poweroff']),
    'inline_asm': (
        f'{USED} void f(void)\n{{\n    asm volatile("nop");\n}}\n'
        '__asm__(".globl numbat_fake\\nnumbat_fake:\\n");\n',
        ['src:uses inline assembly (asm)', 'src:uses inline assembly (__asm__)',
         'defines numbat_fake']),
    'init_array_section': (
        'static void early(void) {}\n'
        'static void (*const hook)(void) __attribute__((section(".init_array"), used)) = early;\n',
        ['src:uses the attribute section', 'has a .init_array section']),
    'named_section': (
        f'{USED} __attribute__((section(".numbat_sneaky"))) int sneaky = 1;\n',
        ['src:uses the attribute section', "puts code or data in section '.numbat_sneaky'"]),
    'std_attribute_constructor': (
        '[[gnu::constructor]] static void early(void) { lab_not_implemented("x"); }\n',
        ['src:uses the attribute constructor', '.init_array']),
    # Machine code in an array named like a lab function (the kernel runs
    # with paging off, so a call into .rodata would run it).
    'function_as_data': (
        '#undef buddy_alloc\n'
        'const unsigned char buddy_alloc[] = {0x13, 0, 0, 0, 0x67, 0x80, 0, 0};\n',
        ['defines buddy_alloc as data, not as a function'],
        '#define buddy_alloc buddy_alloc_renamed\n'),
    'public_helper': (
        'unsigned int helper_order(void)\n{\n    return 3;\n}\n',
        ['defines helper_order, which is not one of lab buddy\'s own functions: make it '
         'static']),
    'frame_address': (
        f'{USED} void **where(void)\n{{\n    return __builtin_frame_address(0);\n}}\n',
        ['src:uses __builtin_frame_address']),
    'sanitizer_name': (
        'extern void __asan_poison_memory_region(void const volatile *p, unsigned long n);\n'
        f'{USED} void hide(void)\n{{\n    static char b[8];\n'
        '    __asan_poison_memory_region(b, 8);\n}\n',
        ['src:names __asan_poison_memory_region', 'calls __asan_poison_memory_region']),
    'nested_trampoline': (
        f'{USED} int outer(int x)\n{{\n    int inner(int y) {{ return x + y; }}\n'
        '    int (*volatile p)(int) = inner;\n    return p(1);\n}\n',
        ['host:an executable stack']),
    'kernel_header': (
        '#include "kernel/bootargs.h"\n'
        f'{USED} int arg(void)\n{{\n    return bootargs.ktest_nonce[0];\n}}\n',
        ['src:mm/buddy.c includes kernel/bootargs.h: a lab file may include only headers of '
         'include/numbat/ and mm/', 'refers to bootargs']),
}

# name: (source that the compiler is never given, phrases the reasons must hold)
HOSTILE_SOURCES = {
    'dev_zero': ('#include "/dev/zero"\n', ['includes "/dev/zero": an absolute path']),
    'hidden_tests': ('#include "../labs/buddy/hidden/test_hidden_buddy.c"\n',
                     ['a path with ".."']),
    'dotdot_in_tree_path': ('#include <mm/../../../etc/passwd.h>\n', ['a path with ".."']),
    'computed_include': ('#define F "/dev/zero"\n#include F\n',
                         ['has #include F: name one header']),
    'digraph_splice_comment': ('%:inc\\\nlude /* x */ "/dev/zero"\n',
                               ['mm/buddy.c:1 includes "/dev/zero"']),
    'not_a_header': ('#include "mm/buddy.c"\n', ['not a header (.h)']),
    'has_include': ('#if __has_include("/etc/shadow.h")\n#endif\n', ['an absolute path']),
    'line_directive': ('#line 1 "mm/hooks.h"\n', ['has a #line directive']),
    'line_marker': ('# 1 "mm/hooks.h" 1\n', ['has a #line directive']),
    'raw_string': ('static const char *s = R"x(")x";\n', ['raw string literal']),
}

# Harmless code an honest student writes: a debug print, a static helper,
# a struct copy (memcpy), a file-scope static table.
HONEST = ('static unsigned int calls;\n'
          'struct pair { unsigned long a[64]; };\n'
          'static struct pair last;\n'
          'static void note(const struct pair *p)\n{\n'
          '    last = *p;\n    calls++;\n'
          '    mm_hook_printk("buddy: %u calls\\n", calls);\n}\n'
          f'{USED} void debug(void)\n{{\n    struct pair p = {{{{1, 2, 3}}}};\n'
          '    note(&p);\n}\n')


# --- the tests --------------------------------------------------------------------------------

def test_references_and_stubs(t):
    """Every lab's reference (this build's objects) and stub keep to the
    API; the stub defines exactly the lab's "defines"."""
    for lab in LABS:
        rubric = labtool.load_rubric(lab, TOP)
        got = apicheck.check_lab(rubric, TOP, t.build)
        t.check(got == [], f'the {lab} reference breaks its API:\n' + '\n'.join(got))
        got = reasons_for(t, lab, f'stub-{lab}', stub_files(lab))
        t.check(got == [], f'the {lab} stub breaks its API:\n' + '\n'.join(got))
        defined = set()
        for rel in rubric['files']:
            obj = os.path.join(t.workdir, f'stub-{lab}', 'build', 'host-obj',
                               os.path.splitext(rel)[0] + '.o')
            defined |= {s.name for s in apicheck.Elf(obj).symbols if s.shndx
                        and s.bind != apicheck.STB_LOCAL and not s.name.startswith('__')}
        t.check(defined == set(rubric['api']['defines']),
                f'labs/{lab}/lab.json "api" "defines" is {sorted(rubric["api"]["defines"])}, '
                f'the stub defines {sorted(defined)}')


def test_honest_solution(t):
    """A debug print, static helpers, a struct copy: accepted. So is inline
    assembly in a header of the tree (trusted) that the file includes,
    while the same line in the lab file itself is refused."""
    text = open(os.path.join(TOP, 'mm/buddy.c')).read() + HONEST
    fence = ('static inline void fence(void)\n{\n    __asm__ volatile("" ::: "memory");\n}\n')
    got = reasons_for(t, 'buddy', 'honest', {'mm/buddy.c': text})
    t.check(got == [], 'an honest buddy.c is refused:\n' + '\n'.join(got))
    with_header = '#include "mm/fence.h"\n' + text + f'{USED} void f(void)\n{{\n    fence();\n}}\n'
    got = reasons_for(t, 'buddy', 'tree-header', {'mm/fence.h': fence,
                                                  'mm/buddy.c': with_header})
    t.check(got == [], 'asm in a header of the tree is refused:\n' + '\n'.join(got))
    inline = text + fence
    got = reasons_for(t, 'buddy', 'own-asm', {'mm/buddy.c': inline})
    line = inline.count('\n', 0, inline.index('__asm__ volatile')) + 1
    expect(t, 'own-asm', got, [f'mm/buddy.c:{line} uses inline assembly (__asm__)'])


def test_hostile_objects(t):
    """Each payload gets its reasons: a phrase marked src: from the source
    check, host: from the host object, any other from the host object and
    from the kernel object, each read on its own."""
    stub = stub_files('buddy')['mm/buddy.c']
    rubric = labtool.load_rubric('buddy', TOP)
    api = apicheck.lab_api(rubric)
    for name, (code, wanted, *before) in HOSTILE.items():
        text = ''.join(before) + stub + '\n' + code
        tree, build = compiled(t, 'buddy', name, {'mm/buddy.c': text})
        every = apicheck.check_lab(rubric, tree, build)
        expect(t, name, every, [w.split(':', 1)[1] if w[:4] in ('src:', 'host') else w
                                for w in wanted])
        for kind in apicheck.BUILDS:
            got = apicheck.check_object('mm/buddy.c', kind, api, build)
            expect(t, f'{name} ({kind} object)', got,
                   [w.split(':', 1)[1] if w.startswith('host:') else w for w in wanted
                    if not w.startswith('src:') and (kind == 'host' or
                                                     not w.startswith('host:'))])


def test_hostile_sources(t):
    """Sources with includes the compiler must never open, checked beside
    the stub's objects (compiled once): the source alone is refused, and
    the preprocessor never runs on it."""
    stub = stub_files('buddy')['mm/buddy.c']
    tree, build = compiled(t, 'buddy', 'sources', {'mm/buddy.c': stub})
    rubric = labtool.load_rubric('buddy', TOP)
    for name, (code, wanted) in HOSTILE_SOURCES.items():
        ran = []

        def run(cmd, timeout):
            ran.append(cmd)
            return apicheck.run_plain(cmd, timeout)

        with open(os.path.join(tree, 'mm/buddy.c'), 'w') as f:
            f.write(code + stub)
        expect(t, name, apicheck.check_lab(rubric, tree, build, run), wanted)
        t.check(not ran, f'{name}: the preprocessor ran on a source with a refused include')


def test_rubric_without_api(t):
    rubric = dict(labtool.load_rubric('buddy', TOP))
    del rubric['api']
    try:
        apicheck.check_lab(rubric, TOP, t.build)
        t.check(False, 'a rubric without "api" was accepted')
    except apicheck.ApiCheckError as e:
        t.check('labs/buddy/lab.json: no "api"' in str(e), f'unclear message: {e}')


def test_preprocessor_output(t):
    """The preprocessed text must come back whole: a run that cuts it off
    (a sandbox's output cap) or fails is a reason, never a pass."""
    rubric = labtool.load_rubric('buddy', TOP)

    def cut(cmd, timeout):
        status, out = apicheck.run_plain(cmd, timeout)
        return status, out[:len(out) // 2]

    expect(t, 'cut', apicheck.check_lab(rubric, TOP, t.build, cut), ['was cut off'])
    expect(t, 'fails', apicheck.check_lab(rubric, TOP, t.build, lambda cmd, timeout: (1, '')),
           ['mm/buddy.c could not be preprocessed for the host build (status 1)'])


def test_grading_rejects(t):
    """The grader runs the check after the build: a stub that redefines
    printf scores 0 with the reason in the report."""
    stub = stub_files('buddy')['mm/buddy.c']
    sub = os.path.join(t.workdir, 'sub', 'mm')
    os.makedirs(sub)
    with open(os.path.join(sub, 'buddy.c'), 'w') as f:
        f.write(stub + '\n' + HOSTILE['printf_redefined'][0])
    g = grade.grade('buddy', os.path.dirname(sub), run_cap=6)
    t.check(not g.grader_error, f'grader error:\n{g.grader_error}')
    text = g.text()
    t.check(g.score == 0 and g.max_score > 0, f'scored {g.score}/{g.max_score}\n{text}')
    t.check('API CHECK FAILED' in text and 'mm/buddy.c defines printf' in text,
            'the report does not say why:\n' + text)
    t.check(all(r.status == 'failed' for r in g.tests), 'a test was not failed:\n' + text)


test_grading_rejects.weight = 20
test_hostile_objects.weight = 10
